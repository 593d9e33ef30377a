"""Landmark-to-pose: 2D landmarks + 3D face model + camera guess -> canonical pose.

All solvers go through ``cv2.solvePnP`` with zero distortion. The camera guess is a pinhole with
focal length ``focal_scale * image width`` (pixels) and principal point at the image centre, as in
the paper's set-up (focal = image width). The 3D model is in the y-up model frame
(see :mod:`posebench.pose`); the rotation OpenCV returns is converted back with ``F = diag(1,-1,-1)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from posebench.errors import SampleFailure
from posebench.pose import Pose, camera_to_model, pose_from_matrix

SOLVERS = {
    "iterative": cv2.SOLVEPNP_ITERATIVE,
    "sqpnp": cv2.SOLVEPNP_SQPNP,
    "epnp": cv2.SOLVEPNP_EPNP,
}
#: Every solver name :func:`solve_pnp` takes: OpenCV's, plus ``weak`` (scaled orthographic).
SOLVER_NAMES = tuple(SOLVERS) + ("weak",)


#: What :func:`solve_pnp_guarded` does with a perspective solution that puts a landmark at depth
#: <= 0 (the face behind the camera) or that is not finite: ``weak`` = replace it by the
#: weak-perspective fit (which has no depth, so it cannot flip), ``fail`` = a recorded
#: :class:`SampleFailure`, ``off`` = return it as it is (the paper's set-up; still flagged).
GUARDS = ("weak", "fail", "off")


@dataclass(frozen=True)
class PnPResult:
    """One solution. ``min_depth``: smallest depth (camera z, model units) of the model points
    under this solution, ``nan`` for the weak fit (no depth); ``solver``: the solver that produced
    it; ``behind_camera``: the *requested* solver's solution put the face behind the camera
    (``min_depth <= 0``), whether or not it was replaced; ``note``: what the guard did, or ''."""

    pose: Pose
    R: np.ndarray  # rotation applied to the y-up model (canonical)
    tvec: np.ndarray  # translation in the OpenCV camera frame (model units)
    min_depth: float = float("nan")
    solver: str = ""
    behind_camera: bool = False
    note: str = ""


def camera_matrix(image_size: tuple[int, int], focal_scale: float = 1.0) -> np.ndarray:
    """Pinhole intrinsics for an image of ``(width, height)`` pixels: f = focal_scale * width."""
    w, h = image_size
    f = focal_scale * float(w)
    return np.array([[f, 0.0, w / 2.0], [0.0, f, h / 2.0], [0.0, 0.0, 1.0]])


def check_landmarks(points_2d: np.ndarray, image_size: tuple[int, int] | None = None, n: int | None = None) -> np.ndarray:
    """Validate 2D landmarks (N x 2, pixels); raise :class:`SampleFailure` with the reason."""
    p = np.asarray(points_2d, dtype=float)
    if p.ndim != 2 or p.shape[1] != 2 or (n is not None and p.shape[0] != n):
        raise SampleFailure(f"landmarks must be Nx2{'' if n is None else f' with N={n}'}, got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise SampleFailure("landmarks contain NaN or inf")
    if image_size is not None:
        w, h = image_size
        margin = 0.5 * max(w, h)
        if np.any(p < -margin) or np.any(p[:, 0] > w + margin) or np.any(p[:, 1] > h + margin):
            raise SampleFailure("landmarks lie far outside the image")
    return p


def weak_rotation(uv: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Scaled-orthographic fit: image = s * R[:2] @ X + b (image y down). Returns the OpenCV
    camera-frame rotation (B x 3 x 3)."""
    Mc = M - M.mean(axis=1, keepdims=True)
    uc = uv - uv.mean(axis=1, keepdims=True)
    # least-squares affine rows: A (2x3) minimising |A Mc^T - uc^T|
    G = np.einsum("bni,bnj->bij", Mc, Mc)
    H = np.einsum("bni,bnj->bij", uc, Mc)  # B x 2 x 3
    A = np.linalg.solve(G, np.swapaxes(H, -1, -2))  # B x 3 x 2
    A = np.swapaxes(A, -1, -2)  # B x 2 x 3
    # nearest pair of orthonormal rows (times a scale): polar decomposition of A
    U, _, Vt = np.linalg.svd(A, full_matrices=False)
    P = U @ Vt  # B x 2 x 3, orthonormal rows
    r3 = np.cross(P[:, 0], P[:, 1])
    return np.concatenate([P, r3[:, None, :]], axis=1)


def _inputs(points_2d: np.ndarray, model_3d: np.ndarray, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Checked landmarks (N x 2) and model points (N x 3, float64); SampleFailure otherwise."""
    img = check_landmarks(points_2d, image_size)
    obj = np.ascontiguousarray(model_3d, dtype=np.float64).reshape(-1, 3)
    if obj.shape[0] != img.shape[0]:
        raise SampleFailure(f"{img.shape[0]} landmarks for {obj.shape[0]} model points")
    if obj.shape[0] < 4:
        raise SampleFailure("need at least 4 landmarks")
    return img, obj


def solve_pnp(
    points_2d: np.ndarray,
    model_3d: np.ndarray,
    image_size: tuple[int, int],
    solver: str = "iterative",
    focal_scale: float = 1.0,
) -> PnPResult:
    """Pose of ``model_3d`` (N x 3, y-up) seen at ``points_2d`` (N x 2, pixels, y down).

    ``solver`` is ``iterative`` (OpenCV's DLT/homography init + Levenberg-Marquardt, the paper's
    choice), ``sqpnp``, ``epnp``, or ``weak``: a closed-form weak-perspective (scaled
    orthographic) fit that needs no focal length (``tvec`` is then NaN; see
    :func:`weak_rotation`). Raises :class:`SampleFailure` when the solver fails.
    """
    if solver not in SOLVER_NAMES:
        raise ValueError(f"unknown solver {solver!r}; choose from {', '.join(SOLVER_NAMES)}")
    img, obj = _inputs(points_2d, model_3d, image_size)
    if solver == "weak":
        try:
            with np.errstate(all="ignore"):
                R_cv = weak_rotation(img[None], obj[None])[0]
        except np.linalg.LinAlgError:
            R_cv = np.full((3, 3), np.nan)
        if not np.all(np.isfinite(R_cv)):
            raise SampleFailure("weak-perspective fit failed (degenerate landmarks)")
        R = camera_to_model(R_cv)
        return PnPResult(pose_from_matrix(R), R, np.full(3, np.nan), solver="weak")
    K = camera_matrix(image_size, focal_scale)
    try:
        ok, rvec, tvec = cv2.solvePnP(obj, np.ascontiguousarray(img).reshape(-1, 1, 2), K, None, flags=SOLVERS[solver])
    except cv2.error as exc:
        raise SampleFailure(f"solvePnP({solver}) failed: {str(exc).strip().splitlines()[-1]}") from None
    if not ok or not np.all(np.isfinite(rvec)) or not np.all(np.isfinite(tvec)):
        raise SampleFailure(f"solvePnP({solver}) found no solution")
    R_cv, _ = cv2.Rodrigues(rvec)
    R = camera_to_model(R_cv)
    min_depth = float(((R_cv @ obj.T)[2] + float(tvec.ravel()[2])).min())
    pose = pose_from_matrix(R)
    if not pose.is_finite():
        raise SampleFailure(f"solvePnP({solver}) gave a non-finite rotation")
    return PnPResult(pose, R, tvec.ravel(), min_depth, solver, behind_camera=not min_depth > 0)


def solve_pnp_guarded(
    points_2d: np.ndarray,
    model_3d: np.ndarray,
    image_size: tuple[int, int],
    solver: str = "weak",
    focal_scale: float = 1.0,
    guard: str = "weak",
) -> PnPResult:
    """:func:`solve_pnp`, never returning a behind-the-camera or failed perspective solution
    unless ``guard="off"``.

    A perspective solver (``iterative``, ``sqpnp``, ``epnp``) can return a rotation whose
    solution puts the face behind the camera (some model point at depth <= 0): it reprojects
    the landmarks about as well as the right one (a mirror solution; OpenCV's iterative solver
    lands there on nearly affine views, see ``scripts/flip_check.py``). ``guard`` (one of
    :data:`GUARDS`) decides what happens then, and when the solver fails or is not finite:
    ``weak`` replaces the solution by the weak-perspective fit (``note`` says so),
    ``fail`` raises :class:`SampleFailure`, ``off`` returns the behind-camera solution (and
    re-raises a failure). ``behind_camera`` on the result tells whether the requested solver's
    own solution was behind the camera. The weak solver has no depth and is returned as is.
    """
    if guard not in GUARDS:
        raise ValueError(f"unknown guard {guard!r}; choose from {', '.join(GUARDS)}")
    if solver == "weak":
        return solve_pnp(points_2d, model_3d, image_size, "weak", focal_scale)
    _inputs(points_2d, model_3d, image_size)  # bad input is a failure whatever the guard
    try:
        res = solve_pnp(points_2d, model_3d, image_size, solver, focal_scale)
    except SampleFailure:
        if guard != "weak":
            raise
        weak = solve_pnp(points_2d, model_3d, image_size, "weak", focal_scale)
        return replace(weak, note=f"{solver} failed -> weak")
    if not res.behind_camera or guard == "off":
        return res
    if guard == "fail":
        raise SampleFailure(f"solvePnP({solver}) put the face behind the camera (depth <= 0)")
    weak = solve_pnp(points_2d, model_3d, image_size, "weak", focal_scale)
    return replace(weak, behind_camera=True, note=f"{solver} behind camera -> weak")


def project(model_3d: np.ndarray, R: np.ndarray, t_cv: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Project a y-up model rotated by canonical ``R`` and translated by ``t_cv`` (camera frame)."""
    from posebench.pose import model_to_camera

    Xc = (model_to_camera(R) @ np.asarray(model_3d, float).T).T + np.asarray(t_cv, float).reshape(1, 3)
    uvw = (K @ Xc.T).T
    return uvw[:, :2] / uvw[:, 2:3]
