"""``gt-landmarks``: the dataset's 68 ground-truth 2D landmarks -> pose through ``cv2.solvePnP``.

The paper's "Ground truth landmarks" row (Table 1): OpenCV's iterative (Levenberg-Marquardt)
solver, focal length = image width, principal point at the centre, zero distortion, with a
68-point mean face. Options:

* ``solver``: ``iterative`` (default, the paper's), ``sqpnp`` or ``epnp``;
* ``focal``: focal length as a multiple of the image width (default 1.0);
* ``face``: ``default`` (posebench's own mean face), ``exact`` (the sample's own 3D face, where
  the dataset has one, e.g. ``synthetic``), or a path to a 68x3 face file such as ``u_base.txt``;
* ``points``: comma-separated 0-based landmark indices to use (default: all 68).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posebench.errors import SampleFailure, UsageError
from posebench.facemodel import resolve_face
from posebench.method import FaceInput, Method
from posebench.pnp import SOLVERS, solve_pnp
from posebench.pose import Pose
from posebench.registry import register_method


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

    def __init__(self, solver: str = "iterative", focal: float = 1.0, face: str = "default", points: str = "all"):
        if solver not in SOLVERS:
            raise UsageError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
        if not focal > 0:
            raise UsageError(f"focal must be positive, got {focal}")
        self.exact = face == "exact"
        self.model = None if self.exact else resolve_face(face)
        face_label = face if face in ("default", "exact") else Path(face).name
        super().__init__(solver=solver, focal=float(focal), face=face_label, points=points)
        self.idx = parse_points(points)
        self.solver = solver
        self.focal = float(focal)

    @property
    def weights_hash(self) -> str | None:
        import hashlib

        return None if self.model is None else hashlib.sha256(self.model.round(6).tobytes()).hexdigest()[:16]

    def estimate_one(self, face: FaceInput) -> Pose:
        if face.landmarks is None:
            raise SampleFailure("no ground-truth landmarks for this sample")
        model = face.model_3d if self.exact else self.model
        if model is None:
            raise SampleFailure("face=exact but the dataset has no exact 3D face for this sample")
        pts = np.asarray(face.landmarks, float)
        if pts.shape != (68, 2):
            raise SampleFailure(f"expected 68x2 landmarks, got {pts.shape}")
        if self.idx is not None:
            pts, model = pts[self.idx], np.asarray(model)[self.idx]
        return solve_pnp(pts, model, face.image_size, self.solver, self.focal).pose


@register_method(
    "gt-landmarks",
    "ground-truth 68 2D landmarks + 3D mean face -> cv2.solvePnP (paper Table 1 'Ground truth landmarks')",
    needs=("landmarks",),
)
def gt_landmarks(solver: str = "iterative", focal: float = 1.0, face: str = "default", points: str = "all") -> GTLandmarks:
    return GTLandmarks(solver=solver, focal=focal, face=face, points=points)
