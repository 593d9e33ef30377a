"""Shared tail of the landmark pipelines (``dlib``, ``fan``): detected 2D landmarks -> pose.

Wraps :func:`posebench.pnp.solve_pnp` with the options every landmark method offers:
``face`` (``default`` = posebench's 68-point mean face, ``exact`` = the sample's own 3D face where
the dataset has one, or a path such as ``u_base.txt``), ``solver`` (``iterative`` = the paper's,
``sqpnp``, ``epnp``, ``weak``), ``focal`` (focal length as a multiple of the image width) and a
subset of the 68 landmark indices. Used by ``gt-landmarks``, ``dlib`` and ``fan``.
"""

from __future__ import annotations

import hashlib

import numpy as np

from posebench.crop import check_points
from posebench.errors import SampleFailure, UsageError
from posebench.facemodel import face_label, resolve_face
from posebench.pnp import SOLVER_NAMES, solve_pnp
from posebench.pose import Pose


class LandmarkPose:
    """Fit a 3D face model to 2D landmarks (68 x 2 pixels, iBUG 68 order) with ``cv2.solvePnP``."""

    def __init__(self, face: str = "default", solver: str = "iterative", focal: float = 1.0,
                 indices: np.ndarray | None = None):
        if solver not in SOLVER_NAMES:
            raise UsageError(f"solver must be one of {', '.join(SOLVER_NAMES)}, got {solver!r}")
        if not focal > 0:
            raise UsageError(f"focal must be positive, got {focal}")
        self.model = None if face == "exact" else resolve_face(face)
        self.face_label = face_label(face)
        self.solver, self.focal = solver, float(focal)
        self.indices = None if indices is None else np.asarray(indices, int)

    @property
    def model_hash(self) -> str | None:
        if self.model is None:
            return None
        return hashlib.sha256(np.asarray(self.model, float).round(6).tobytes()).hexdigest()[:16]

    def pose(self, landmarks: np.ndarray, image_size: tuple[int, int], exact: np.ndarray | None = None) -> Pose:
        """Canonical pose (degrees) from 68 landmarks; ``exact`` is the sample's own 3D face,
        used with ``face=exact``. Raises SampleFailure when PnP fails."""
        model = self.model if self.model is not None else exact
        if model is None:
            raise SampleFailure("face=exact but the dataset has no exact 3D face for this sample")
        pts, model = np.asarray(landmarks, float), np.asarray(model, float)
        if pts.shape != (68, 2):
            raise SampleFailure(f"expected 68x2 landmarks, got {pts.shape}")
        check_points(pts if self.indices is None else pts[self.indices], image_size)
        if self.indices is not None:
            pts, model = pts[self.indices], model[self.indices]
        return solve_pnp(pts, model, image_size, self.solver, self.focal).pose
