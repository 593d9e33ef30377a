"""Landmark-to-pose: 2D landmarks + 3D face model + camera guess -> canonical pose.

All solvers go through ``cv2.solvePnP`` with zero distortion. The camera guess is a pinhole with
focal length ``focal_scale * image width`` (pixels) and principal point at the image centre, as in
the paper's set-up (focal = image width). The 3D model is in the y-up model frame
(see :mod:`posebench.pose`); the rotation OpenCV returns is converted back with ``F = diag(1,-1,-1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class PnPResult:
    pose: Pose
    R: np.ndarray  # rotation applied to the y-up model (canonical)
    tvec: np.ndarray  # translation in the OpenCV camera frame (model units)


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
    img = check_landmarks(points_2d, image_size)
    obj = np.ascontiguousarray(model_3d, dtype=np.float64).reshape(-1, 3)
    if obj.shape[0] != img.shape[0]:
        raise SampleFailure(f"{img.shape[0]} landmarks for {obj.shape[0]} model points")
    if obj.shape[0] < 4:
        raise SampleFailure("need at least 4 landmarks")
    if solver == "weak":
        try:
            with np.errstate(all="ignore"):
                R_cv = weak_rotation(img[None], obj[None])[0]
        except np.linalg.LinAlgError:
            R_cv = np.full((3, 3), np.nan)
        if not np.all(np.isfinite(R_cv)):
            raise SampleFailure("weak-perspective fit failed (degenerate landmarks)")
        R = camera_to_model(R_cv)
        return PnPResult(pose_from_matrix(R), R, np.full(3, np.nan))
    K = camera_matrix(image_size, focal_scale)
    try:
        ok, rvec, tvec = cv2.solvePnP(obj, np.ascontiguousarray(img).reshape(-1, 1, 2), K, None, flags=SOLVERS[solver])
    except cv2.error as exc:
        raise SampleFailure(f"solvePnP({solver}) failed: {str(exc).strip().splitlines()[-1]}") from None
    if not ok or not np.all(np.isfinite(rvec)):
        raise SampleFailure(f"solvePnP({solver}) found no solution")
    R_cv, _ = cv2.Rodrigues(rvec)
    R = camera_to_model(R_cv)
    return PnPResult(pose_from_matrix(R), R, tvec.ravel())


def project(model_3d: np.ndarray, R: np.ndarray, t_cv: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Project a y-up model rotated by canonical ``R`` and translated by ``t_cv`` (camera frame)."""
    from posebench.pose import model_to_camera

    Xc = (model_to_camera(R) @ np.asarray(model_3d, float).T).T + np.asarray(t_cv, float).reshape(1, 3)
    uvw = (K @ Xc.T).T
    return uvw[:, :2] / uvw[:, 2:3]
