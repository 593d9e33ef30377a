"""``gt-landmarks``: the dataset's 68 ground-truth 2D landmarks -> pose through ``cv2.solvePnP``.

The paper's "Ground truth landmarks" row (Table 1): OpenCV's iterative (Levenberg-Marquardt)
solver, focal length = image width, principal point at the centre, zero distortion, with a
68-point mean face. Options:

* ``solver``: ``iterative`` (default, the paper's), ``sqpnp``, ``epnp`` or ``weak`` (weak
  perspective: no focal length; the best fit for AFLW2000-3D, whose labels were made that way);
* ``focal``: focal length as a multiple of the image width (default 1.0);
* ``face``: ``default`` (posebench's own mean face), ``exact`` (the sample's own 3D face, where
  the dataset has one, e.g. ``synthetic``), or a path to a 68x3 face file such as ``u_base.txt``;
* ``points``: a subset name of :data:`posebench.landmarks.SUBSETS` (``12`` = the paper's FAN 12)
  or comma-separated 0-based landmark indices to use (default: all 68).
"""

from __future__ import annotations

import numpy as np

from posebench.errors import SampleFailure
from posebench.landmarks import parse_points  # noqa: F401  (old import path)
from posebench.method import FaceInput, Method
from posebench.options import Domain
from posebench.pnp import SOLVER_NAMES
from posebench.pose import Pose
from posebench.registry import register_method

from .landmark_pose import LandmarkPose


@register_method(
    "gt-landmarks",
    "ground-truth 68 2D landmarks + 3D mean face -> cv2.solvePnP (paper Table 1 'Ground truth landmarks')",
    domains={"solver": Domain(choices=SOLVER_NAMES), "focal": Domain(gt=0)},
)
class GTLandmarks(Method):
    name = "gt-landmarks"
    needs = frozenset({"landmarks"})
    version = "2"
    batch_size = 256

    def __init__(self, solver: str = "iterative", focal: float = 1.0, face: str = "default", points: str = "all"):
        super().__init__()
        self.fit = LandmarkPose(face=face, solver=solver, focal=focal, indices=parse_points(points))

    @property
    def idx(self) -> np.ndarray | None:
        return self.fit.indices

    @property
    def weights_hash(self) -> str | None:
        return self.fit.model_hash

    def estimate_one(self, face: FaceInput) -> Pose:
        if face.landmarks is None:
            raise SampleFailure("no ground-truth landmarks for this sample")
        return self.fit.pose(face.landmarks, face.image_size, exact=face.model_3d)


#: The factory name of earlier releases (the class is registered itself).
gt_landmarks = GTLandmarks
