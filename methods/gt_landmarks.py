"""``gt-landmarks``: the dataset's 68 ground-truth 2D landmarks -> pose through ``cv2.solvePnP``.

The paper's "Ground truth landmarks" row (Table 1). Options:

* ``setup``: ``best`` (default: weak-perspective fit, which cannot flip behind the camera) or
  ``paper`` (the paper's exact set-up: OpenCV's iterative solver, focal = image width, no guard);
  see :mod:`posebench.methods.landmark_pose`;
* ``solver``: ``auto`` (the set-up's), ``weak``, ``iterative``, ``sqpnp`` or ``epnp``;
* ``guard``: ``auto`` (the set-up's), ``weak``, ``fail`` or ``off`` (behind-camera solutions);
* ``focal``: focal length as a multiple of the image width (default 1.0);
* ``face``: ``default`` (posebench's own mean face), ``exact`` (the sample's own 3D face, where
  the dataset has one, e.g. ``synthetic``), or a path to a 68x3 face file such as ``u_base.txt``;
* ``points``: comma-separated 0-based landmark indices to use (default: all 68).
"""

from __future__ import annotations

import numpy as np

from posebench.errors import SampleFailure, UsageError
from posebench.method import FaceInput, Method
from posebench.pose import Pose
from posebench.registry import register_method

from .landmark_pose import LandmarkPose


def parse_points(points: str | None) -> np.ndarray | None:
    if points in (None, "", "all"):
        return None
    try:
        idx = np.array([int(v) for v in str(points).split(",")], dtype=int)
    except ValueError:
        raise UsageError(f"points must be comma-separated indices 0..67, got {points!r}") from None
    if idx.size < 4 or idx.min() < 0 or idx.max() > 67 or len(set(idx.tolist())) != idx.size:
        raise UsageError("points must be at least 4 distinct indices in 0..67")
    return idx


class GTLandmarks(Method):
    name = "gt-landmarks"
    needs = frozenset({"landmarks"})
    batch_size = 256

    def __init__(self, setup: str = "best", solver: str = "auto", guard: str = "auto", focal: float = 1.0,
                 face: str = "default", points: str = "all"):
        self.fit = LandmarkPose(face=face, solver=solver, focal=focal, indices=parse_points(points), setup=setup,
                                guard=guard)
        super().__init__(setup=setup, solver=solver, guard=guard, focal=float(focal), face=self.fit.face_label,
                         points=points)

    def setup(self) -> str:
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


@register_method(
    "gt-landmarks",
    "ground-truth 68 2D landmarks + 3D mean face -> cv2.solvePnP (paper Table 1 'Ground truth landmarks')",
    needs=("landmarks",),
)
def gt_landmarks(setup: str = "best", solver: str = "auto", guard: str = "auto", focal: float = 1.0,
                 face: str = "default", points: str = "all") -> GTLandmarks:
    return GTLandmarks(setup=setup, solver=solver, guard=guard, focal=focal, face=face, points=points)
