"""``gt-landmarks``: the dataset's 68 ground-truth 2D landmarks -> pose through ``cv2.solvePnP``.

The paper's "Ground truth landmarks" row (Table 1). Options:

* ``setup``: ``weak-perspective`` (default; old name ``best``: weak-perspective fit, which cannot flip behind the camera) or
  ``paper`` (the paper's exact set-up: OpenCV's iterative solver, focal = image width, no guard);
  see :mod:`posebench.methods.landmark_pose`;
* ``solver``: ``auto`` (the set-up's), ``weak``, ``iterative``, ``sqpnp`` or ``epnp``;
* ``guard``: ``auto`` (the set-up's), ``weak``, ``fail`` or ``off`` (behind-camera solutions);
* ``focal``: focal length as a multiple of the image width (default 1.0);
* ``face``: ``default`` (posebench's own mean face), ``exact`` (the sample's own 3D face, where
  the dataset has one, e.g. ``synthetic``), or a path to a 68x3 face file such as ``u_base.txt``;
* ``points``: a subset name of :data:`posebench.landmarks.SUBSETS` (``12`` = the paper's FAN 12)
  or comma-separated 0-based landmark indices to use (default: all 68).
"""

from __future__ import annotations

import numpy as np

from posebench.errors import SampleFailure
from posebench.landmarks import parse_points
from posebench.method import FaceInput, Method
from posebench.pose import Pose
from posebench.registry import register_method

from .landmark_pose import LANDMARK_DOMAINS, LandmarkPose


@register_method(
    "gt-landmarks",
    "ground-truth 68 2D landmarks + 3D mean face -> cv2.solvePnP (paper Table 1 'Ground truth landmarks')",
    domains=LANDMARK_DOMAINS,
)
class GTLandmarks(Method):
    name = "gt-landmarks"
    needs = frozenset({"landmarks"})
    version = "2"
    batch_size = 256

    def __init__(self, setup: str = "weak-perspective", solver: str = "auto", guard: str = "auto", focal: float = 1.0,
                 face: str = "default", points: str = "all"):
        super().__init__()
        self.fit = LandmarkPose(face=face, solver=solver, focal=focal, indices=parse_points(points), setup=setup,
                                guard=guard)

    def describe(self) -> str:
        return self.fit.describe()

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
