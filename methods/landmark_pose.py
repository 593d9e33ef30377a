"""Shared tail of the landmark pipelines (``gt-landmarks``, ``dlib``, ``fan``, and any later
landmark method): 2D landmarks -> pose.

Options every landmark method offers (declared by each factory, interpreted here):

* ``setup``: ``weak-perspective`` (default; ``best``, its old name, is still accepted and
  recorded as ``weak-perspective``) or ``paper``, a preset of the three options below;
* ``solver``: ``auto`` (the set-up's), ``weak``, ``iterative``, ``sqpnp``, ``epnp``;
* ``guard``: ``auto`` (the set-up's), ``weak``, ``fail``, ``off``: what happens to a perspective
  solution with the face behind the camera or a failed solve
  (:func:`posebench.pnp.solve_pnp_guarded`);
* ``focal``: focal length as a multiple of the image width (perspective solvers only);
* ``face``: ``default`` (posebench's 68-point mean face), ``exact`` (the sample's own 3D face,
  where the dataset has one) or a face file such as ``u_base.txt``.

The set-ups (:data:`SETUPS`, measured and argued in ``docs/methods.md``):

* ``weak-perspective``: weak-perspective (scaled orthographic) fit, which needs no focal length and has no
  depth, so it cannot put the face behind the camera. A photo's focal length is unknown; a
  perspective solver with the focal = width guess pays for the wrong guess, and OpenCV's
  iterative solver also lands in mirror solutions behind the camera. If a perspective solver is
  chosen explicitly, the guard replaces a behind-camera or failed solution by the weak fit.
* ``paper``: the paper's exact set-up (Ruiz et al. 2018, Section 4.2): ``cv2.solvePnP``
  iterative, focal = image width, principal point at the centre, no guard (behind-camera
  solutions are returned and counted in the run record).

Every set-up is named in the run record (``Method.describe()``) and the leaderboard.
"""

from __future__ import annotations

import hashlib

import numpy as np

from posebench.crop import check_points
from posebench.errors import SampleFailure, UsageError
from posebench.facemodel import face_label, resolve_face
from posebench.method import Estimate
from posebench.options import Domain
from posebench.pnp import GUARDS, SOLVER_NAMES, solve_pnp_guarded

#: Presets: set-up name -> (solver, guard). ``focal`` and ``face`` keep their own defaults.
SETUPS: dict[str, dict[str, str]] = {
    "weak-perspective": {"solver": "weak", "guard": "weak"},
    "paper": {"solver": "iterative", "guard": "off"},
}
#: The default set-up's name.
DEFAULT_SETUP = "weak-perspective"
#: Old set-up names still accepted: old name -> name (records, labels and keys carry the name).
SETUP_ALIASES: dict[str, str] = {"best": DEFAULT_SETUP}
#: The ``setup`` option's domain (the choices, and :data:`SETUP_ALIASES` turned into their names).
SETUP_DOMAIN = Domain(choices=tuple(SETUPS), aliases=tuple(SETUP_ALIASES.items()))
#: Why the default set-up wins on real labels and loses on the synthetic camera, in one line
#: (``posebench demo`` prints it; the argument and its numbers: ``docs/methods.md``).
SETUP_WHY = ("weak-perspective (the default) ranks below the perspective set-ups here because the synthetic faces are "
             "projected by an exact pinhole camera (focal = width) that the perspective solvers assume; on real "
             "AFLW2000-3D labels, fitted with a weak-perspective camera, with an unknown focal length, it is the most "
             "accurate (1969 labels: docs/methods.md)")
#: Option domains shared by the landmark methods (``setup``, ``solver``, ``guard``, ``focal``).
LANDMARK_DOMAINS = {"setup": SETUP_DOMAIN, "solver": Domain(choices=("auto", *SOLVER_NAMES)),
                    "guard": Domain(choices=("auto", *GUARDS)), "focal": Domain(gt=0)}


class LandmarkPose:
    """Fit a 3D face model to 2D landmarks (68 x 2 pixels, iBUG 68 order).

    ``setup`` picks ``solver``/``guard`` where they are ``auto``; explicit values override it
    (the set-up is then named ``custom``, unless the values equal a preset's)."""

    def __init__(self, face: str = "default", solver: str = "auto", focal: float = 1.0,
                 indices: np.ndarray | None = None, setup: str = DEFAULT_SETUP, guard: str = "auto"):
        setup = SETUP_ALIASES.get(setup, setup)
        if setup not in SETUPS:
            raise UsageError(f"setup must be one of {', '.join(SETUPS)}, got {setup!r}")
        solver = SETUPS[setup]["solver"] if solver in ("auto", "", None) else solver
        guard = SETUPS[setup]["guard"] if guard in ("auto", "", None) else guard
        if solver not in SOLVER_NAMES:
            raise UsageError(f"solver must be one of auto, {', '.join(SOLVER_NAMES)}, got {solver!r}")
        if guard not in GUARDS:
            raise UsageError(f"guard must be one of auto, {', '.join(GUARDS)}, got {guard!r}")
        if not focal > 0:
            raise UsageError(f"focal must be positive, got {focal}")
        self.model = None if face == "exact" else resolve_face(face)
        self.face_label = face_label(face)
        self.solver, self.guard, self.focal = solver, guard, float(focal)
        self.indices = None if indices is None else np.asarray(indices, int)
        self.setup_name = next((n for n, p in SETUPS.items()
                                if p == {"solver": solver, "guard": guard} and focal == 1.0), "custom")

    def describe(self) -> str:
        """The set-up in words, e.g. ``weak-perspective: scaled-orthographic fit`` or
        ``paper: iterative, focal 1 x width, no guard``."""
        if self.solver == "weak":
            how = "scaled-orthographic fit"
        else:
            guard = {"off": "no guard", "weak": "behind camera -> weak", "fail": "behind camera -> failure"}[self.guard]
            how = f"{self.solver}, focal {self.focal:g} x width, {guard}"
        return f"{self.setup_name}: {how}"

    @property
    def model_hash(self) -> str | None:
        if self.model is None:
            return None
        return hashlib.sha256(np.asarray(self.model, float).round(6).tobytes()).hexdigest()[:16]

    def pose(self, landmarks: np.ndarray, image_size: tuple[int, int], exact: np.ndarray | None = None) -> Estimate:
        """Canonical pose (degrees) from 68 landmarks; ``exact`` is the sample's own 3D face,
        used with ``face=exact``. ``info``: ``pnp`` (``ok`` or what the guard did) and
        ``behind_camera``. Raises SampleFailure when PnP fails (and the guard does not help)."""
        model = self.model if self.model is not None else exact
        if model is None:
            raise SampleFailure("face=exact but the dataset has no exact 3D face for this sample")
        pts, model = np.asarray(landmarks, float), np.asarray(model, float)
        if pts.shape != (68, 2):
            raise SampleFailure(f"expected 68x2 landmarks, got {pts.shape}")
        check_points(pts if self.indices is None else pts[self.indices], image_size)
        if self.indices is not None:
            pts, model = pts[self.indices], model[self.indices]
        res = solve_pnp_guarded(pts, model, image_size, self.solver, self.focal, self.guard)
        return Estimate.of(res.pose, pnp=res.note or "ok", behind_camera=bool(res.behind_camera))
