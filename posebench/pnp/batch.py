"""Batched landmark-to-pose: many PnP problems at once.

``solve_batch(points_2d, model_3d, image_sizes, solver, focal_scale)`` solves ``B`` problems of
``N`` correspondences each (``points_2d``: B x N x 2 pixels, y down; ``model_3d``: N x 3 or
B x N x 3, y-up model frame, any unit) with the camera guess of :mod:`posebench.pnp` (focal =
``focal_scale`` x image width, principal point at the centre, no distortion) and returns the
canonical rotation and ``[yaw, pitch, roll]`` in degrees per problem.

Solvers:

* ``iterative`` -- a re-implementation of OpenCV's ``SOLVEPNP_ITERATIVE`` for
  non-planar models: the same DLT initialisation (on the *un-centred* model points, which is why
  the result depends on where the model's origin sits), then the same Levenberg-Marquardt
  refinement of (Rodrigues vector, translation) on pixel residuals, at most 20 steps. OpenCV 5
  runs ``cv::LevMarq`` (lambda 1e-4 scaling the clamped diagonal, step-quality updates, geodesic
  acceleration; :func:`_levenberg_marquardt_cv5`), OpenCV 3/4 the classic ``CvLevMarq``
  (:func:`_levenberg_marquardt`); the one matching the installed OpenCV is used
  (:data:`OPENCV_LEVMARQ`). Because it starts where OpenCV starts and takes the same steps, it
  lands in the same local minimum, flipped ones included, so agreement is checked against
  OpenCV's *own* result, not against the true pose (``tests/test_batch_pnp.py``; with OpenCV 5
  the median difference is about 1e-6 degrees). The few problems whose end point is decided by
  rounding (an ill-conditioned DLT, e.g. a face in micrometres with 6-12 points; an LM run
  that hits the iteration limit without converging) and those OpenCV initialises differently
  (planar models, fewer than 6 points) are re-solved by ``cv2.solvePnP`` one by one, on threads
  (``verify=True``, the default; ``BatchResult.fallback`` marks them).
  Two engines run it (:data:`ENGINES`): ``numba`` (default with OpenCV 5) compiles the
  algorithm one problem at a time (:mod:`posebench.pnp.kernels`) and spreads the problems over
  threads; ``numpy`` runs all problems in lock-step as array operations over processes (no
  compiler; also the only engine for OpenCV 4's classic LM). Both take the same steps.
* ``weak`` -- closed-form scaled orthographic (weak perspective) camera: a least-squares affine
  camera, orthonormalised by SVD. No focal length is needed (``focal_scale`` is ignored).
* ``sqpnp``, ``epnp`` -- no batched version: ``cv2.solvePnP`` per problem (the reference path).

``solve_loop`` is the reference: ``cv2.solvePnP`` per problem for any OpenCV solver.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

from posebench.errors import UsageError
from posebench.pnp.single import SOLVER_NAMES, SOLVERS, camera_matrix, weak_rotation
from posebench.pose import FLIP_YZ, matrix_to_euler

FLT_EPSILON = float(np.finfo(np.float32).eps)
MAX_ITER = 20  # OpenCV's iteration limit for SOLVEPNP_ITERATIVE
#: Which Levenberg-Marquardt OpenCV's SOLVEPNP_ITERATIVE runs: 5 = ``cv::LevMarq`` (OpenCV 5,
#: geodesic acceleration), 4 = the classic ``CvLevMarq`` (OpenCV 3/4).
OPENCV_LEVMARQ = 5 if int(cv2.__version__.split(".")[0]) >= 5 else 4
#: Below this conditioning of the DLT system the initial guess is decided by rounding error
#: (e.g. a face in micrometres with 6-12 points): OpenCV's SVD and LAPACK then disagree, so
#: such problems go to cv2.
MIN_DLT_CONDITIONING = 1e-11
#: OpenCV 4 only (classic LM, whose replica here differs in tolerances): problems still moving
#: after this many iterations are re-solved by cv2 (on the AFLW2000 jitter grid every
#: disagreement > 0.1 deg had taken 13 or more iterations).
SETTLED_ITERATIONS = 13
#: Below this many problems per worker a call stays in this process (a pool round trip costs more).
MIN_PROBLEMS_PER_WORKER = 512
BATCHED_SOLVERS = ("iterative", "weak")
#: Engines of the batched iterative solver: ``numba`` compiles one problem at a time and runs
#: the problems on threads (:mod:`posebench.pnp.kernels`, OpenCV 5 only); ``numpy`` runs them in
#: lock-step as array operations, spread over processes.
ENGINES = ("numba", "numpy")
#: Problems per call of the compiled kernel (the progress bar moves once per call).
KERNEL_CHUNK = 16384
ALL_SOLVERS = SOLVER_NAMES  # the same names as posebench.pnp.single (kept for importers)


@dataclass
class BatchResult:
    """Per-problem results. ``R``: B x 3 x 3 canonical rotations (applied to the y-up model);
    ``ypr``: B x 3 degrees (NaN where ``ok`` is False); ``rvec``/``tvec``: OpenCV camera frame
    (``tvec`` NaN for ``weak``); ``ok``: solver succeeded; ``fallback``: solved by cv2 one by one."""

    R: np.ndarray
    ypr: np.ndarray
    rvec: np.ndarray
    tvec: np.ndarray
    ok: np.ndarray
    fallback: np.ndarray


# ----------------------------------------------------------------------------- helpers


def _skew(v: np.ndarray) -> np.ndarray:
    """B x 3 -> B x 3 x 3 cross-product matrices."""
    z = np.zeros(v.shape[:-1])
    x, y, w = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([np.stack([z, -w, y], -1), np.stack([w, z, -x], -1), np.stack([-y, x, z], -1)], -2)


def rodrigues(r: np.ndarray) -> np.ndarray:
    """Rotation vectors (B x 3, radians) -> rotation matrices (B x 3 x 3)."""
    th2 = np.einsum("bi,bi->b", r, r)
    th = np.sqrt(th2)
    small = th < 1e-8
    ths = np.where(small, 1.0, th)
    s = np.where(small, 1.0 - th2 / 6.0, np.sin(ths) / ths)  # sin(t)/t
    c = np.where(small, 0.5 - th2 / 24.0, (1.0 - np.cos(ths)) / ths**2)  # (1-cos t)/t^2
    x, y, z = r[:, 0], r[:, 1], r[:, 2]
    R = np.empty(r.shape[:1] + (3, 3))
    R[:, 0, 0] = 1.0 - c * (y * y + z * z)
    R[:, 1, 1] = 1.0 - c * (x * x + z * z)
    R[:, 2, 2] = 1.0 - c * (x * x + y * y)
    cxy, cxz, cyz = c * x * y, c * x * z, c * y * z
    R[:, 0, 1] = cxy - s * z
    R[:, 1, 0] = cxy + s * z
    R[:, 0, 2] = cxz + s * y
    R[:, 2, 0] = cxz - s * y
    R[:, 1, 2] = cyz - s * x
    R[:, 2, 1] = cyz + s * x
    return R


def rotation_to_rvec(R: np.ndarray) -> np.ndarray:
    """Rotation matrices (B x 3 x 3) -> rotation vectors (B x 3), via cv2.Rodrigues semantics."""
    out = np.empty(R.shape[:-2] + (3,))
    for i in range(R.shape[0]):
        out[i] = cv2.Rodrigues(np.ascontiguousarray(R[i]))[0].ravel()
    return out


def _left_jacobian(r: np.ndarray) -> np.ndarray:
    """SO(3) left Jacobian (B x 3 x 3): exp(r + d) = exp(J(r) d) exp(r) to first order."""
    th2 = np.sum(r * r, axis=-1)
    th = np.sqrt(th2)
    small = th < 1e-6
    ths = np.where(small, 1.0, th)
    a = np.where(small, 0.5 - th2 / 24.0, (1.0 - np.cos(ths)) / ths**2)
    b = np.where(small, 1.0 / 6.0 - th2 / 120.0, (ths - np.sin(ths)) / ths**3)
    K = _skew(r)
    return np.eye(3) + a[:, None, None] * K + b[:, None, None] * (K @ K)


def _residuals(
    p: np.ndarray, M: tuple[np.ndarray, np.ndarray, np.ndarray], obs: np.ndarray, f: np.ndarray,
    c: np.ndarray, want_jac: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Reprojection residuals of parameters ``p = (rvec, tvec)`` (B x 6) for model points given
    as three B x N coordinate planes ``M``, against observed pixels ``obs`` laid out as B x 2N
    (all u, then all v): returns ``e`` (B x 2N, projected - observed) and, if asked, the
    transposed Jacobian ``Jt`` (B x 6 x 2N), d e / d p (rotation part through the SO(3) left
    Jacobian of the Rodrigues vector)."""
    Mx, My, Mz = M
    B, N = Mx.shape
    R = rodrigues(p[:, :3])
    Rc = [[R[:, j, k, None] for k in range(3)] for j in range(3)]
    Qx = Rc[0][0] * Mx + Rc[0][1] * My + Rc[0][2] * Mz
    Qy = Rc[1][0] * Mx + Rc[1][1] * My + Rc[1][2] * Mz
    Qz = Rc[2][0] * Mx + Rc[2][1] * My + Rc[2][2] * Mz
    iz = 1.0 / (Qz + p[:, 5, None])
    x = (Qx + p[:, 3, None]) * iz
    y = (Qy + p[:, 4, None]) * iz
    fx, fy = f[:, 0, None], f[:, 1, None]
    e = np.empty((B, 2 * N))
    e[:, :N] = fx * x + c[:, 0, None] - obs[:, :N]
    e[:, N:] = fy * y + c[:, 1, None] - obs[:, N:]
    if not want_jac:
        return e, None
    fiz, giz = fx * iz, fy * iz
    # d(uv)/d(omega) for a left perturbation exp([omega]x) R: dP/domega = -[Q]x
    Jt = np.empty((B, 6, 2 * N))
    Jt[:, 0, :N] = -fiz * x * Qy
    Jt[:, 1, :N] = fiz * (Qz + x * Qx)
    Jt[:, 2, :N] = -fiz * Qy
    Jt[:, 0, N:] = -giz * (Qz + y * Qy)
    Jt[:, 1, N:] = giz * y * Qx
    Jt[:, 2, N:] = giz * Qx
    Jt[:, 3, :N] = fiz
    Jt[:, 3, N:] = 0.0
    Jt[:, 4, :N] = 0.0
    Jt[:, 4, N:] = giz
    Jt[:, 5, :N] = -fiz * x
    Jt[:, 5, N:] = -giz * y
    return e, Jt


def _normal_equations(p: np.ndarray, e: np.ndarray, Jt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """JtJ and Jt e with respect to (rvec, tvec), from the left-perturbation Jacobian
    (only the rotation rows/columns change: multiplied by the SO(3) left Jacobian)."""
    A = Jt @ np.swapaxes(Jt, 1, 2)
    g = (Jt @ e[..., None])[..., 0]
    Jl = _left_jacobian(p[:, :3])
    JlT = np.swapaxes(Jl, 1, 2)
    A[:, :3, :3] = JlT @ A[:, :3, :3] @ Jl
    A[:, :3, 3:] = JlT @ A[:, :3, 3:]
    A[:, 3:, :3] = np.swapaxes(A[:, :3, 3:], 1, 2)
    g[:, :3] = (JlT @ g[:, :3, None])[..., 0]
    return A, g


# ----------------------------------------------------------------------------- iterative


def _dlt_init(xn: np.ndarray, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's non-planar DLT initialisation. xn: B x N x 2 normalised image points; M: B x N x 3
    model points as given (not centred). Returns (rvec, tvec) B x 3 and the conditioning of the
    DLT (second-smallest over largest eigenvalue of L^T L, B)."""
    B, N, _ = M.shape
    # L^T L from its 4x4 blocks: with m = (X, Y, Z, 1) and P = m m^T per point,
    # [[sum P, 0, -sum x P], [0, sum P, -sum y P], [-sum x P, -sum y P, sum (x^2 + y^2) P]]
    m = np.concatenate([M, np.ones((B, N, 1))], axis=2)
    x, y = xn[..., 0], xn[..., 1]
    W = np.stack([np.ones_like(x), x, y, x * x + y * y], axis=1)  # B x 4 x N
    if B > 1 and np.array_equal(M[0], M[-1]) and np.all(M == M[:1]):
        P = (m[0, :, :, None] * m[0, :, None, :]).reshape(N, 16)  # one shared model: a GEMM
        S = (W @ P).reshape(B, 4, 4, 4)
    else:
        P = (m[:, :, :, None] * m[:, :, None, :]).reshape(B, N, 16)
        S = (W @ P).reshape(B, 4, 4, 4)
    S0, Sx, Sy, Sw = S[:, 0], S[:, 1], S[:, 2], S[:, 3]
    LL = np.zeros((B, 12, 12))
    LL[:, 0:4, 0:4] = S0
    LL[:, 4:8, 4:8] = S0
    LL[:, 0:4, 8:12] = -Sx
    LL[:, 8:12, 0:4] = -Sx
    LL[:, 4:8, 8:12] = -Sy
    LL[:, 8:12, 4:8] = -Sy
    LL[:, 8:12, 8:12] = Sw
    w, V = np.linalg.eigh(LL)
    v = V[:, :, 0]  # eigenvector of the smallest eigenvalue (= the last right singular vector OpenCV takes)
    RRt = v.reshape(B, 3, 4)
    RR, tt = RRt[:, :, :3], RRt[:, :, 3]
    sign = np.where(np.linalg.det(RR) < 0, -1.0, 1.0)
    RR, tt = RR * sign[:, None, None], tt * sign[:, None]
    sc = np.linalg.norm(RR.reshape(B, 9), axis=1)
    U, _, Vt = np.linalg.svd(RR)
    R = U @ Vt
    t = tt * (np.sqrt(3.0) / sc)[:, None]
    conditioning = w[:, 1] / np.maximum(w[:, -1], 1e-300)
    return rotation_to_rvec_fast(R), t, conditioning


def rotation_to_rvec_fast(R: np.ndarray) -> np.ndarray:
    """Vectorised log map, rotation matrices (B x 3 x 3) -> rotation vectors (B x 3), radians.

    Same result as ``cv2.Rodrigues`` (angle in [0, pi]); near pi the axis is taken from the
    diagonal, as OpenCV does."""
    tr = np.trace(R, axis1=-2, axis2=-1)
    c = np.clip((tr - 1.0) / 2.0, -1.0, 1.0)
    w = np.stack([R[:, 2, 1] - R[:, 1, 2], R[:, 0, 2] - R[:, 2, 0], R[:, 1, 0] - R[:, 0, 1]], -1) / 2.0
    s = np.linalg.norm(w, axis=-1)
    theta = np.arctan2(s, c)
    out = np.where((s > 1e-5)[:, None], w * (theta / np.where(s > 1e-5, s, 1.0))[:, None], w)
    near_pi = (s <= 1e-5) & (c < 0)
    if np.any(near_pi):
        out[near_pi] = rotation_to_rvec(R[near_pi])
    return out


def _levenberg_marquardt(
    r: np.ndarray, t: np.ndarray, M: np.ndarray, uv: np.ndarray, f: np.ndarray, c: np.ndarray,
    max_iter: int = MAX_ITER,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV's CvLevMarq loop as used by SOLVEPNP_ITERATIVE, run for all problems in lock-step
    (each keeps its own lambda, iteration count and stop flag). Returns rvec, tvec and the
    number of accepted iterations per problem.

    Finished problems stay in the working arrays (masked out) until a quarter of them are done;
    then the working arrays are compacted, so most rounds copy nothing."""
    B, N, _ = M.shape
    obs = np.concatenate([uv[..., 0], uv[..., 1]], axis=1)
    Mw = tuple(np.ascontiguousarray(M[..., k]) for k in range(3))
    out_p = np.concatenate([r, t], axis=1)
    out_iters = np.zeros(B, dtype=int)
    pos = np.arange(B)
    cur = out_p.copy()
    e, Jt = _residuals(cur, Mw, obs, f, c, True)
    JtJ, JtE = _normal_equations(cur, e, Jt)
    prev_err = np.linalg.norm(e, axis=1)
    prev_p = cur.copy()
    lam = np.full(B, -3, dtype=int)
    iters = np.zeros(B, dtype=int)
    done = np.zeros(B, dtype=bool)
    eye = np.eye(6)
    for _ in range(40 * MAX_ITER):
        n_done = int(done.sum())
        if n_done == done.size:
            break
        if n_done and n_done * 4 >= done.size:  # compact the working set
            out_p[pos[done]] = cur[done]
            out_iters[pos[done]] = iters[done]
            k = ~done
            pos, cur, prev_p, prev_err, lam, iters = pos[k], cur[k], prev_p[k], prev_err[k], lam[k], iters[k]
            JtJ, JtE, obs, f, c = JtJ[k], JtE[k], obs[k], f[k], c[k]
            Mw = tuple(m[k] for m in Mw)
            done = done[k]
        # diag(JtJ) *= 1 + lambda; off-diagonal entries unchanged
        A = JtJ + eye * (JtJ * eye) * (10.0 ** lam.astype(float))[:, None, None]
        try:
            step = np.linalg.solve(A, JtE[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.stack([np.linalg.lstsq(a, g, rcond=None)[0] for a, g in zip(A, JtE)])
        cand = prev_p - step
        ec, Jc = _residuals(cand, Mw, obs, f, c, True)
        err = np.linalg.norm(ec, axis=1)
        live = ~done
        worse = err > prev_err
        retry = live & worse & (lam + 1 <= 16)
        acc = live & ~retry
        lam = np.where(retry, lam + 1, lam)
        lam = np.where(acc, np.maximum(np.where(worse, lam + 1, lam) - 1, -16), lam)
        iters = iters + acc
        rel = np.linalg.norm(cand - prev_p, axis=1) / np.maximum(np.linalg.norm(prev_p, axis=1), 1e-300)
        stop = acc & ((iters >= max_iter) | (rel < FLT_EPSILON))
        cur[acc] = cand[acc]
        done |= stop
        go = acc & ~stop
        if go.any():
            prev_err[go] = err[go]
            prev_p[go] = cand[go]
            nJtJ, nJtE = _normal_equations(cand, ec, Jc)
            JtJ[go], JtE[go] = nJtJ[go], nJtE[go]
    out_p[pos] = cur
    out_iters[pos] = iters
    return out_p[:, :3], out_p[:, 3:], out_iters


def _levenberg_marquardt_cv5(
    r: np.ndarray, t: np.ndarray, M: np.ndarray, uv: np.ndarray, f: np.ndarray, c: np.ndarray,
    max_iter: int = MAX_ITER,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV 5's ``cv::LevMarq`` as ``findExtrinsicCameraParams2`` configures it (dense, 20
    iterations counting rejected steps, geodesic acceleration), for all problems in lock-step.

    Per problem: energy E = |residuals|^2 (pixels); lambda starts at 1e-4 and scales
    ``diag(JtJ)`` (clamped to [1e-6, 1e32]); a rejected step multiplies lambda by an up-factor
    that starts at 2 and doubles on each further rejection; an accepted one multiplies it by
    ``max(1/3, 1 - (2 q - 1)^3)`` with q the ratio of actual to predicted energy decrease.
    Geodesic acceleration adds half the second-order correction when its relative size is
    below 1. Stops after 20 steps or when the gradient (inf-norm), the squared step norm or the
    relative energy decrease falls below 1e-6. Returns rvec, tvec, the number of steps taken
    and whether the run stopped by convergence (``found``)."""
    B, N, _ = M.shape
    obs = np.concatenate([uv[..., 0], uv[..., 1]], axis=1)
    Mw = tuple(np.ascontiguousarray(M[..., k]) for k in range(3))
    out_p = np.concatenate([r, t], axis=1)
    out_iters = np.zeros(B, dtype=int)
    out_found = np.zeros(B, dtype=bool)
    pos = np.arange(B)
    cur = out_p.copy()
    e, Jt = _residuals(cur, Mw, obs, f, c, True)
    JtJ, JtE = _normal_equations(cur, e, Jt)
    Jl = _left_jacobian(cur[:, :3])
    energy = np.einsum("bk,bk->b", e, e)
    lam = np.full(B, 1e-4)
    up = np.full(B, 2.0)
    iters = np.zeros(B, dtype=int)
    found = np.zeros(B, dtype=bool)
    done = ~np.isfinite(energy)
    h = 1e-4
    idx6 = np.arange(6)
    for _ in range(4 * max_iter + 4):
        n_done = int(done.sum())
        if n_done == done.size:
            break
        if n_done and n_done * 4 >= done.size:  # compact the working set
            out_p[pos[done]] = cur[done]
            out_iters[pos[done]] = iters[done]
            out_found[pos[done]] = found[done]
            k = ~done
            pos, cur, energy, lam, up, iters, found = pos[k], cur[k], energy[k], lam[k], up[k], iters[k], found[k]
            JtJ, JtE, Jt, Jl, obs, f, c = JtJ[k], JtE[k], Jt[k], Jl[k], obs[k], f[k], c[k]
            Mw = tuple(m[k] for m in Mw)
            done = done[k]
        live = ~done
        diag = JtJ[:, idx6, idx6]
        grad_max = np.abs(JtE).max(axis=1)
        lm_diag = np.clip(diag * lam[:, None], 1e-6, 1e32)
        A = JtJ.copy()
        A[:, idx6, idx6] = diag + lm_diag
        x = -np.linalg.solve(A, JtE[..., None])[..., 0]
        jac_change = -0.5 * np.sum(x * (JtE - lm_diag * x), axis=1)
        x_norm = np.sum(x * x, axis=1)
        # geodesic acceleration: second directional derivative along x, J kept at the current point
        ev, _ = _residuals(cur + h * x, Mw, obs, f, c, False)
        jtbv = (Jt @ ev[..., None])[..., 0]
        jtbv[:, :3] = (np.swapaxes(Jl, 1, 2) @ jtbv[:, :3, None])[..., 0]
        jtrvv = (jtbv + JtE * (h - 1.0) + lm_diag * x * h) / (h * h)
        xgeo = -np.linalg.solve(A, jtrvv[..., None])[..., 0]
        trunc = np.sqrt(np.sum(xgeo * xgeo, axis=1) / np.sum(x * x, axis=1))
        x = np.where((trunc < 1.0)[:, None], x + 0.5 * xgeo, x)
        probe = cur + x
        ep, Jp = _residuals(probe, Mw, obs, f, c, True)
        e_new = np.einsum("bk,bk->b", ep, ep)
        bad = live & ~(np.isfinite(e_new) & (e_new >= 0))
        change = energy - e_new
        quality = change / jac_change
        rej = live & ~bad & (change < 0)
        acc = live & ~bad & ~rej
        lam = np.where(rej, lam * up, lam)
        up = np.where(rej, up * 2.0, up)
        shrink = np.maximum(1.0 / 3.0, 1.0 - (2.0 * quality - 1.0) ** 3)
        lam = np.where(acc, lam * shrink, lam)
        up = np.where(acc, 2.0, up)
        conv = acc & ((grad_max < 1e-6) | (x_norm < 1e-6) | (change / e_new < 1e-6))
        found |= conv
        cur[acc] = probe[acc]
        energy = np.where(acc, e_new, energy)
        iters = iters + live
        stop = bad | conv | (live & ((iters >= max_iter) | (lam >= 1e32)))
        done |= stop
        go = acc & ~stop
        if go.any():
            nJtJ, nJtE = _normal_equations(probe, ep, Jp)
            JtJ[go], JtE[go], Jt[go] = nJtJ[go], nJtE[go], Jp[go]
            Jl[go] = _left_jacobian(probe[go, :3])
    out_p[pos] = cur
    out_iters[pos] = iters
    out_found[pos] = found
    return out_p[:, :3], out_p[:, 3:], out_iters, out_found


def _planar_or_small(M: np.ndarray) -> np.ndarray:
    """Problems OpenCV would not initialise with the non-planar DLT (B,) bool."""
    B, N, _ = M.shape
    if N < 6:
        return np.ones(B, dtype=bool)
    if B > 1 and M.strides[0] == 0:  # one model broadcast to every problem
        return np.broadcast_to(_planar_or_small(M[:1]), (B,))
    Mc = M - M.mean(axis=1, keepdims=True)
    w = np.linalg.eigvalsh(np.einsum("bni,bnj->bij", Mc, Mc))  # ascending
    return w[:, 0] / np.maximum(w[:, 1], 1e-300) < 1e-3


def _iterative(
    uv: np.ndarray, M: np.ndarray, f: np.ndarray, c: np.ndarray, verify: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched SOLVEPNP_ITERATIVE. Returns rvec, tvec and a B-vector flagging the problems whose
    result is not reproducible from OpenCV's algorithm alone; :func:`solve_batch` re-solves
    those with cv2: an ill-conditioned DLT (:data:`MIN_DLT_CONDITIONING`), and

    * OpenCV >= 5 (``cv::LevMarq``): runs that stop at the iteration limit without converging
      (chaotic trajectories, where rounding decides the end point);
    * OpenCV 4 (``CvLevMarq``): runs still moving after :data:`SETTLED_ITERATIONS` iterations,
      or ending with the face behind the camera."""
    xn = (uv - c[:, None, :]) / f[:, None, :]
    r0, t0, cond = _dlt_init(xn, M)
    ill = cond < MIN_DLT_CONDITIONING
    if OPENCV_LEVMARQ == 5:
        r, t, _, found = _levenberg_marquardt_cv5(r0, t0, M, uv, f, c)
        return r, t, ill | ~found
    # with verify, a problem reaching SETTLED_ITERATIONS goes to cv2 anyway: stop it there
    r, t, iters = _levenberg_marquardt(r0, t0, M, uv, f, c, SETTLED_ITERATIONS if verify else MAX_ITER)
    behind = ~(t[:, 2] > 0)
    return r, t, ill | (iters >= SETTLED_ITERATIONS) | behind


# ----------------------------------------------------------------------------- public API


def default_workers() -> int:
    """Processes for batched solving: ``$POSEBENCH_WORKERS``, else every core."""
    env = os.environ.get("POSEBENCH_WORKERS", "").strip()
    try:
        return max(1, int(env)) if env else max(1, os.cpu_count() or 1)
    except ValueError:
        return 1


_POOL: tuple[int, ProcessPoolExecutor] | None = None


def _pool(workers: int) -> ProcessPoolExecutor:
    """A process pool kept for the life of the process (forked on Linux: no re-import cost)."""
    global _POOL
    if _POOL is None or _POOL[0] != workers:
        if _POOL is not None:
            _POOL[1].shutdown(cancel_futures=True)
        ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        from posebench.lifecycle import die_with_parent

        _POOL = (workers, ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=die_with_parent,
                                              initargs=(os.getpid(),)))
    return _POOL[1]


def _iterative_job(uv, M, f, c, verify):
    with np.errstate(all="ignore"):
        return _iterative(uv, np.ascontiguousarray(M), f, c, verify)


def default_engine() -> str:
    """``$POSEBENCH_PNP_ENGINE`` if set, else ``numba`` where it is installed and OpenCV runs
    cv::LevMarq (OpenCV >= 5), else ``numpy``."""
    env = os.environ.get("POSEBENCH_PNP_ENGINE", "").strip()
    if env:
        if env not in ENGINES:
            raise UsageError(f"POSEBENCH_PNP_ENGINE must be one of {', '.join(ENGINES)}, got {env!r}")
        return env
    if OPENCV_LEVMARQ == 5 and importlib.util.find_spec("numba") is not None:
        return "numba"
    return "numpy"


def warm_up(engine: str | None = None) -> float:
    """Compile the ``numba`` kernel (or start the ``numpy`` engine's process pool) on a tiny
    problem set; returns the seconds it took."""
    import time

    from posebench.facemodel import default_face

    t0 = time.perf_counter()
    face = default_face()
    rv = np.array([0.1, 0.3, 0.05])
    K = camera_matrix((450, 450))
    uv = cv2.projectPoints(face, rv, np.array([0.0, 0.0, 600.0]), K, None)[0].reshape(1, -1, 2)
    uv = np.repeat(uv, 2 * MIN_PROBLEMS_PER_WORKER * default_workers(), axis=0)
    solve_batch(uv, face, (450, 450), engine=engine, verify=False)
    return time.perf_counter() - t0


def kernel_cached() -> bool | None:
    """Whether numba holds a compiled copy of the kernel on disk (None: cannot tell)."""
    try:
        from posebench.pnp import kernels as pnp_kernels

        return os.path.exists(pnp_kernels.iterative_cv5._cache._cache_file._index_path)  # numba internals
    except Exception:  # noqa: BLE001 - any numba layout change just means "cannot tell"
        return None


def _iterative_compiled(
    uv: np.ndarray, M: np.ndarray, f: np.ndarray, c: np.ndarray, threads: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_iterative` through the compiled kernel (OpenCV 5's LM) on ``threads`` threads.
    ``M`` is B x N x 3, or 1 x N x 3 for one model shared by all problems."""
    import numba

    from posebench.pnp import kernels as pnp_kernels

    B = uv.shape[0]
    out = np.empty((B, 6))
    unsettled = np.zeros(B, dtype=bool)
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    pnp_kernels.iterative_cv5(np.ascontiguousarray(uv), np.ascontiguousarray(M), np.ascontiguousarray(f),
                              np.ascontiguousarray(c), MAX_ITER, MIN_DLT_CONDITIONING, out, unsettled)
    return out[:, :3], out[:, 3:], unsettled


def _loop_threaded(uv, M, sizes, solver, focal_scale, threads: int) -> BatchResult:
    """:func:`solve_loop` split over threads (cv2.solvePnP releases the GIL)."""
    n = max(1, min(threads, uv.shape[0] // 64))
    if n == 1:
        return solve_loop(uv, M, sizes, solver, focal_scale)
    pieces = np.array_split(np.arange(uv.shape[0]), n)
    with ThreadPoolExecutor(n) as ex:
        parts = list(ex.map(lambda idx: solve_loop(uv[idx], M[idx], sizes[idx], solver, focal_scale), pieces))
    rv = np.concatenate([p.rvec for p in parts])
    tv = np.concatenate([p.tvec for p in parts])
    ok = np.concatenate([p.ok for p in parts])
    return _finish(rv, tv, ok, np.ones(uv.shape[0], dtype=bool))


def _intrinsics(image_sizes: np.ndarray, focal_scale: float) -> tuple[np.ndarray, np.ndarray]:
    w = image_sizes[:, 0].astype(float)
    h = image_sizes[:, 1].astype(float)
    f = np.stack([focal_scale * w, focal_scale * w], -1)
    c = np.stack([w / 2.0, h / 2.0], -1)
    return f, c


def _broadcast(points_2d, model_3d, image_sizes):
    uv = np.ascontiguousarray(points_2d, dtype=float)
    if uv.ndim != 3 or uv.shape[-1] != 2:
        raise ValueError(f"points_2d must be B x N x 2, got {uv.shape}")
    B, N = uv.shape[:2]
    M = np.asarray(model_3d, dtype=float)
    if M.ndim == 2:
        M = np.broadcast_to(M, (B,) + M.shape)
    if M.shape != (B, N, 3):
        raise ValueError(f"model_3d must be N x 3 or B x N x 3 matching points_2d {uv.shape}, got {M.shape}")
    sizes = np.asarray(image_sizes, dtype=float)
    if sizes.ndim == 1:
        sizes = np.broadcast_to(sizes, (B, 2))
    if M.strides[0] != 0:
        M = np.ascontiguousarray(M)  # a shared model stays a broadcast view (stride 0)
    return uv, M, sizes


def solve_loop(
    points_2d: np.ndarray,
    model_3d: np.ndarray,
    image_sizes: Sequence[int] | np.ndarray,
    solver: str = "iterative",
    focal_scale: float = 1.0,
    rvec0: np.ndarray | None = None,
    tvec0: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """Reference path: ``cv2.solvePnP`` once per problem (same inputs/outputs as
    :func:`solve_batch`). With ``rvec0``/``tvec0`` (B x 3) the iterative solver starts from that
    guess (``useExtrinsicGuess``)."""
    if solver == "weak":
        return solve_batch(points_2d, model_3d, image_sizes, "weak", focal_scale)
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose from {', '.join(ALL_SOLVERS)}")
    uv, M, sizes = _broadcast(points_2d, model_3d, image_sizes)
    B = uv.shape[0]
    uv = uv.reshape(B, -1, 1, 2)  # one contiguous N x 1 x 2 block per problem, as cv2 wants
    rv = np.full((B, 3), np.nan)
    tv = np.full((B, 3), np.nan)
    ok = np.zeros(B, dtype=bool)
    flag = SOLVERS[solver]
    K_cache: dict[tuple[float, float], np.ndarray] = {}
    for i in range(B):
        key = (sizes[i, 0], sizes[i, 1])
        K = K_cache.get(key)
        if K is None:
            K = K_cache[key] = camera_matrix((sizes[i, 0], sizes[i, 1]), focal_scale)
        try:
            if rvec0 is not None:
                res, r, t = cv2.solvePnP(M[i], uv[i], K, None, rvec0[i].reshape(3, 1).copy(),
                                         tvec0[i].reshape(3, 1).copy(), True, flag)
            else:
                res, r, t = cv2.solvePnP(M[i], uv[i], K, None, flags=flag)
        except cv2.error:
            res = False
        if res and np.all(np.isfinite(r)) and np.all(np.isfinite(t)):
            rv[i], tv[i], ok[i] = r.ravel(), t.ravel(), True
        if progress is not None and (i + 1) % 1000 == 0:
            progress(1000)
    if progress is not None:
        progress(B % 1000)
    return _finish(rv, tv, ok, np.ones(B, dtype=bool))


def _finish(rv: np.ndarray, tv: np.ndarray, ok: np.ndarray, fallback: np.ndarray, R_cv: np.ndarray | None = None) -> BatchResult:
    if R_cv is None:
        R_cv = rodrigues(np.where(ok[:, None], rv, 0.0))
    R = FLIP_YZ @ R_cv
    ypr = matrix_to_euler(R)
    ypr[~ok] = np.nan
    return BatchResult(R, ypr, rv, tv, ok, fallback)


def solve_batch(
    points_2d: np.ndarray,
    model_3d: np.ndarray,
    image_sizes: Sequence[int] | np.ndarray,
    solver: str = "iterative",
    focal_scale: float = 1.0,
    chunk: int | None = None,
    progress: Callable[[int], None] | None = None,
    verify: bool = True,
    workers: int | None = None,
    engine: str | None = None,
) -> BatchResult:
    """Solve B PnP problems at once (see module docstring). ``image_sizes``: ``(w, h)`` or B x 2
    pixels. ``workers``: threads (``numba`` engine) or processes (``numpy`` engine) for the
    iterative solver (default :func:`default_workers`, ``$POSEBENCH_WORKERS`` or all cores;
    results agree up to floating-point rounding). ``engine``: one of :data:`ENGINES` (default
    :func:`default_engine`). ``progress(k)`` is called with the number of problems just
    finished. With ``verify`` (default) the iterative problems that the batched path cannot
    reproduce reliably (an ill-conditioned DLT, or an LM run that did not converge) are
    re-solved by ``cv2.solvePnP``; ``BatchResult.fallback`` marks them."""
    if solver not in ALL_SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose from {', '.join(ALL_SOLVERS)}")
    engine = default_engine() if engine is None else engine
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if engine == "numba" and OPENCV_LEVMARQ != 5:
        raise ValueError("the numba engine replicates OpenCV 5's LevMarq; this OpenCV needs engine='numpy'")
    if solver not in BATCHED_SOLVERS:
        return solve_loop(points_2d, model_3d, image_sizes, solver, focal_scale, progress=progress)
    uv, M, sizes = _broadcast(points_2d, model_3d, image_sizes)
    B = uv.shape[0]
    finite = np.all(np.isfinite(uv.reshape(B, -1)), axis=1) & np.all(np.isfinite(M.reshape(B, -1)), axis=1)
    if solver == "weak":
        chunk = chunk or 8192
        R_cv = np.full((B, 3, 3), np.nan)
        for s in range(0, B, chunk):
            sl = slice(s, min(B, s + chunk))
            ok = finite[sl]
            R_cv[sl][ok] = weak_rotation(uv[sl][ok], M[sl][ok])
            if progress is not None:
                progress(sl.stop - sl.start)
        good = finite & np.all(np.isfinite(R_cv.reshape(B, 9)), axis=1)
        R_cv[~good] = np.eye(3)
        return _finish(np.full((B, 3), np.nan), np.full((B, 3), np.nan), good, np.zeros(B, dtype=bool), R_cv)
    f, c = _intrinsics(sizes, focal_scale)
    rv = np.full((B, 3), np.nan)
    tv = np.full((B, 3), np.nan)
    special = _planar_or_small(M) | ~finite
    fallback = special & finite  # updated below with unsettled problems
    batch = np.flatnonzero(~special)
    if chunk is None:  # about 2^18 landmarks per chunk: few numpy calls, arrays still in cache
        chunk = max(512, (1 << 18) // max(1, uv.shape[1]))
    workers = default_workers() if workers is None else max(1, int(workers))
    if engine == "numba":  # one kernel call per chunk, each spread over the threads
        pieces = [batch[s : s + KERNEL_CHUNK] for s in range(0, batch.size, KERNEL_CHUNK)]
        shared = M[:1] if M.strides[0] == 0 else None
        results = ((idx, _iterative_compiled(uv[idx], M[idx] if shared is None else shared, f[idx], c[idx], workers))
                   for idx in pieces)
    elif min(workers, batch.size // MIN_PROBLEMS_PER_WORKER) > 1:
        # spread the chunks over processes: the same results up to rounding, faster
        workers = min(workers, batch.size // MIN_PROBLEMS_PER_WORKER)
        pieces = np.array_split(batch, max(workers, -(-batch.size // chunk)))
        jobs = [_pool(workers).submit(_iterative_job, uv[idx], M[idx], f[idx], c[idx], verify) for idx in pieces]
        results = zip(pieces, (job.result() for job in jobs))
    else:
        pieces = [batch[s : s + chunk] for s in range(0, batch.size, chunk)]
        results = ((idx, _iterative_job(uv[idx], M[idx], f[idx], c[idx], verify)) for idx in pieces)
    for idx, (r, t, unsettled) in results:
        rv[idx], tv[idx] = r, t
        if verify:
            fallback[idx[unsettled]] = True
        if progress is not None:
            progress(int(idx.size - (unsettled.sum() if verify else 0)))
    fb = np.flatnonzero(fallback)
    if fb.size:
        res = _loop_threaded(uv[fb], M[fb], sizes[fb], solver, focal_scale, workers)
        rv[fb], tv[fb] = res.rvec, res.tvec
        if progress is not None:
            progress(fb.size)
    ok = np.all(np.isfinite(rv), axis=1) & np.all(np.isfinite(tv), axis=1)
    return _finish(rv, tv, ok, fallback)
