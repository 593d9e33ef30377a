"""Compiled per-problem kernels for :mod:`posebench.pnp.batch` (numba, parallel over problems).

The same algorithms as the vectorised numpy functions of :mod:`posebench.pnp.batch`, written
one problem at a time so that each problem's points stay in registers and cache and no
``B x N`` temporaries are made: OpenCV's non-planar DLT initialisation followed by OpenCV 5's
``cv::LevMarq`` (see :func:`posebench.pnp.opencv_replica._levenberg_marquardt_cv5` for the rules), and
the OpenCV Rodrigues log map. Units as there: pixels for image points (y down), any unit for
the model, radians for rotation vectors.

Compiled on first use and cached on disk by numba (``cache=True``); ``prange`` spreads the
problems over numba's threads (:func:`numba.set_num_threads`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

H_GEODESIC = 1e-4  # cv::LevMarq's finite-difference step for geodesic acceleration
LAMBDA0 = 1e-4


@njit(cache=True, inline="always", error_model="numpy")
def _rodrigues(r0: float, r1: float, r2: float, R: np.ndarray) -> None:
    """Rotation vector (radians) -> R (3 x 3, filled in place); as ``posebench.pnp.opencv_replica.rodrigues``."""
    th2 = r0 * r0 + r1 * r1 + r2 * r2
    th = math.sqrt(th2)
    if th < 1e-8:
        s = 1.0 - th2 / 6.0
        c = 0.5 - th2 / 24.0
    else:
        s = math.sin(th) / th
        c = (1.0 - math.cos(th)) / th**2
    R[0, 0] = 1.0 - c * (r1 * r1 + r2 * r2)
    R[1, 1] = 1.0 - c * (r0 * r0 + r2 * r2)
    R[2, 2] = 1.0 - c * (r0 * r0 + r1 * r1)
    cxy, cxz, cyz = c * r0 * r1, c * r0 * r2, c * r1 * r2
    R[0, 1] = cxy - s * r2
    R[1, 0] = cxy + s * r2
    R[0, 2] = cxz + s * r1
    R[2, 0] = cxz - s * r1
    R[1, 2] = cyz - s * r0
    R[2, 1] = cyz + s * r0


@njit(cache=True, inline="always", error_model="numpy")
def _left_jacobian(r0: float, r1: float, r2: float, J: np.ndarray) -> None:
    """SO(3) left Jacobian of a rotation vector, into J (3 x 3); as ``posebench.pnp.opencv_replica._left_jacobian``."""
    th2 = r0 * r0 + r1 * r1 + r2 * r2
    th = math.sqrt(th2)
    if th < 1e-6:
        a = 0.5 - th2 / 24.0
        b = 1.0 / 6.0 - th2 / 120.0
    else:
        a = (1.0 - math.cos(th)) / th**2
        b = (th - math.sin(th)) / th**3
    # K = skew(r); K @ K = r r^T - th2 I
    J[0, 0] = 1.0 + b * (r0 * r0 - th2)
    J[1, 1] = 1.0 + b * (r1 * r1 - th2)
    J[2, 2] = 1.0 + b * (r2 * r2 - th2)
    J[0, 1] = -a * r2 + b * r0 * r1
    J[1, 0] = a * r2 + b * r0 * r1
    J[0, 2] = a * r1 + b * r0 * r2
    J[2, 0] = -a * r1 + b * r0 * r2
    J[1, 2] = -a * r0 + b * r1 * r2
    J[2, 1] = a * r0 + b * r1 * r2


@njit(cache=True, error_model="numpy")
def _project(p, M, uv, f0, f1, c0, c1, R, e, Jt, want_jac) -> float:
    """Residuals (projected - observed; e[:N] in u, e[N:] in v) at ``p = (rvec, tvec)`` and, if
    ``want_jac``, the left-perturbation Jacobian transposed (Jt, 6 x 2N). Returns |e|^2."""
    N = M.shape[0]
    _rodrigues(p[0], p[1], p[2], R)
    energy = 0.0
    for j in range(N):
        X, Y, Z = M[j, 0], M[j, 1], M[j, 2]
        qx = R[0, 0] * X + R[0, 1] * Y + R[0, 2] * Z
        qy = R[1, 0] * X + R[1, 1] * Y + R[1, 2] * Z
        qz = R[2, 0] * X + R[2, 1] * Y + R[2, 2] * Z
        iz = 1.0 / (qz + p[5])
        x = (qx + p[3]) * iz
        y = (qy + p[4]) * iz
        eu = f0 * x + c0 - uv[j, 0]
        ev = f1 * y + c1 - uv[j, 1]
        e[j] = eu
        e[N + j] = ev
        energy += eu * eu + ev * ev
        if want_jac:
            fiz = f0 * iz
            giz = f1 * iz
            Jt[0, j] = -fiz * x * qy
            Jt[1, j] = fiz * (qz + x * qx)
            Jt[2, j] = -fiz * qy
            Jt[3, j] = fiz
            Jt[4, j] = 0.0
            Jt[5, j] = -fiz * x
            Jt[0, N + j] = -giz * (qz + y * qy)
            Jt[1, N + j] = giz * y * qx
            Jt[2, N + j] = giz * qx
            Jt[3, N + j] = 0.0
            Jt[4, N + j] = giz
            Jt[5, N + j] = -giz * y
    return energy


@njit(cache=True, error_model="numpy")
def _jt_times(Jt, v, Jl, out) -> None:
    """out = Jt v (6), with the rotation part mapped by Jl^T to the Rodrigues parameters."""
    n = Jt.shape[1]
    tmp = np.zeros(6)
    for k in range(6):
        s = 0.0
        for j in range(n):
            s += Jt[k, j] * v[j]
        tmp[k] = s
    for k in range(3):
        out[k] = Jl[0, k] * tmp[0] + Jl[1, k] * tmp[1] + Jl[2, k] * tmp[2]
    for k in range(3, 6):
        out[k] = tmp[k]


@njit(cache=True, error_model="numpy")
def _normal_equations(Jt, e, Jl, A, g) -> None:
    """A = Jt Jt^T and g = Jt e in the (rvec, tvec) parameters (rotation rows/columns by Jl)."""
    n = Jt.shape[1]
    B = np.empty((6, 6))
    for a in range(6):
        for b in range(a, 6):
            s = 0.0
            for j in range(n):
                s += Jt[a, j] * Jt[b, j]
            B[a, b] = s
            B[b, a] = s
    _jt_times(Jt, e, Jl, g)
    # A[:3,:3] = Jl^T B[:3,:3] Jl; A[:3,3:] = Jl^T B[:3,3:]
    T = np.empty((3, 3))
    for a in range(3):
        for b in range(3):
            T[a, b] = B[a, 0] * Jl[0, b] + B[a, 1] * Jl[1, b] + B[a, 2] * Jl[2, b]
    for a in range(3):
        for b in range(3):
            A[a, b] = Jl[0, a] * T[0, b] + Jl[1, a] * T[1, b] + Jl[2, a] * T[2, b]
        for b in range(3, 6):
            v = Jl[0, a] * B[0, b] + Jl[1, a] * B[1, b] + Jl[2, a] * B[2, b]
            A[a, b] = v
            A[b, a] = v
    for a in range(3, 6):
        for b in range(3, 6):
            A[a, b] = B[a, b]


@njit(cache=True, error_model="numpy")
def _solve6(A, b, x, W) -> bool:
    """x = A^-1 b by Gaussian elimination with partial pivoting (A untouched; W: 6 x 7 work)."""
    n = 6
    for i in range(n):
        for j in range(n):
            W[i, j] = A[i, j]
        W[i, n] = b[i]
    for k in range(n):
        piv = k
        big = abs(W[k, k])
        for i in range(k + 1, n):
            if abs(W[i, k]) > big:
                big = abs(W[i, k])
                piv = i
        if big == 0.0 or not math.isfinite(big):
            return False
        if piv != k:
            for j in range(n + 1):
                W[k, j], W[piv, j] = W[piv, j], W[k, j]
        for i in range(k + 1, n):
            m = W[i, k] / W[k, k]
            if m != 0.0:
                for j in range(k, n + 1):
                    W[i, j] -= m * W[k, j]
    for i in range(n - 1, -1, -1):
        s = W[i, n]
        for j in range(i + 1, n):
            s -= W[i, j] * x[j]
        x[i] = s / W[i, i]
    return True


@njit(cache=True, error_model="numpy")
def _levmarq_cv5(p, M, uv, f0, f1, c0, c1, max_iter) -> bool:
    """cv::LevMarq (OpenCV 5) on one problem, refining ``p`` (6) in place. True when it stopped
    by convergence (not by the iteration limit, a non-finite energy or a huge lambda)."""
    N = M.shape[0]
    R = np.empty((3, 3))
    e = np.empty(2 * N)
    Jt = np.empty((6, 2 * N))  # at the current point
    Jn = np.empty((6, 2 * N))  # at the probe
    Jl = np.empty((3, 3))
    JtJ = np.empty((6, 6))
    JtE = np.empty(6)
    A = np.empty((6, 6))
    W = np.empty((6, 7))
    lm_diag = np.empty(6)
    x = np.empty(6)
    xgeo = np.empty(6)
    rhs = np.empty(6)
    jtbv = np.empty(6)
    q = np.empty(6)
    h = H_GEODESIC
    energy = _project(p, M, uv, f0, f1, c0, c1, R, e, Jt, True)
    if not math.isfinite(energy):
        return False
    _left_jacobian(p[0], p[1], p[2], Jl)
    _normal_equations(Jt, e, Jl, JtJ, JtE)
    lam = LAMBDA0
    up = 2.0
    iters = 0
    while True:
        grad_max = 0.0
        for k in range(6):
            grad_max = max(grad_max, abs(JtE[k]))
        for a in range(6):
            for b in range(6):
                A[a, b] = JtJ[a, b]
            d = min(max(JtJ[a, a] * lam, 1e-6), 1e32)
            lm_diag[a] = d
            A[a, a] = JtJ[a, a] + d
        if not _solve6(A, JtE, x, W):
            return False
        jac_change = 0.0
        x_norm = 0.0
        for k in range(6):
            x[k] = -x[k]
            jac_change += x[k] * (JtE[k] - lm_diag[k] * x[k])
            x_norm += x[k] * x[k]
        jac_change *= -0.5
        # geodesic acceleration: second directional derivative along x (J at the current point)
        for k in range(6):
            q[k] = p[k] + h * x[k]
        _project(q, M, uv, f0, f1, c0, c1, R, e, Jt, False)
        _jt_times(Jt, e, Jl, jtbv)
        for k in range(6):
            rhs[k] = (jtbv[k] + JtE[k] * (h - 1.0) + lm_diag[k] * x[k] * h) / (h * h)
        if not _solve6(A, rhs, xgeo, W):
            return False
        gn = 0.0
        for k in range(6):
            gn += xgeo[k] * xgeo[k]
        if math.sqrt(gn / x_norm) < 1.0:  # xgeo = -A^-1 rhs; x += xgeo / 2
            for k in range(6):
                x[k] -= 0.5 * xgeo[k]
        for k in range(6):
            q[k] = p[k] + x[k]
        e_new = _project(q, M, uv, f0, f1, c0, c1, R, e, Jn, True)
        iters += 1
        if not (math.isfinite(e_new) and e_new >= 0.0):
            return False
        change = energy - e_new
        if change < 0.0:  # rejected step
            lam *= up
            up *= 2.0
        else:
            quality = change / jac_change
            lam *= max(1.0 / 3.0, 1.0 - (2.0 * quality - 1.0) ** 3)
            up = 2.0
            for k in range(6):
                p[k] = q[k]
            energy = e_new
            Jt, Jn = Jn, Jt
            if grad_max < 1e-6 or x_norm < 1e-6 or change / e_new < 1e-6:
                return True
        if iters >= max_iter or lam >= 1e32:
            return False
        if change >= 0.0:  # e holds the residuals at the new point
            _left_jacobian(p[0], p[1], p[2], Jl)
            _normal_equations(Jt, e, Jl, JtJ, JtE)


@njit(cache=True, error_model="numpy")
def _log_map(R, out) -> None:
    """Rotation matrix -> rotation vector (angle in [0, pi]), as ``cv2.Rodrigues``."""
    c = min(max((R[0, 0] + R[1, 1] + R[2, 2] - 1.0) / 2.0, -1.0), 1.0)
    w0 = (R[2, 1] - R[1, 2]) / 2.0
    w1 = (R[0, 2] - R[2, 0]) / 2.0
    w2 = (R[1, 0] - R[0, 1]) / 2.0
    s = math.sqrt(w0 * w0 + w1 * w1 + w2 * w2)
    if s > 1e-5:
        k = math.atan2(s, c) / s
        out[0], out[1], out[2] = w0 * k, w1 * k, w2 * k
    elif c >= 0.0:
        out[0], out[1], out[2] = w0, w1, w2
    else:  # angle near pi: axis from the diagonal (OpenCV's branch)
        rx = math.sqrt(max((R[0, 0] + 1.0) * 0.5, 0.0))
        ry = math.sqrt(max((R[1, 1] + 1.0) * 0.5, 0.0)) * (-1.0 if R[0, 1] < 0 else 1.0)
        rz = math.sqrt(max((R[2, 2] + 1.0) * 0.5, 0.0)) * (-1.0 if R[0, 2] < 0 else 1.0)
        if abs(rx) < abs(ry) and abs(rx) < abs(rz) and (R[1, 2] > 0) != (ry * rz > 0):
            rz = -rz
        theta = math.atan2(s, c)
        n = math.sqrt(rx * rx + ry * ry + rz * rz)
        out[0], out[1], out[2] = rx * theta / n, ry * theta / n, rz * theta / n


@njit(cache=True, error_model="numpy")
def _dlt(M, uv, f0, f1, c0, c1, p) -> float:
    """OpenCV's non-planar DLT initialisation on the un-centred model points: fills p[:3]
    (rvec) and p[3:] (tvec); returns the conditioning (second-smallest over largest
    eigenvalue of L^T L)."""
    N = M.shape[0]
    S = np.zeros((4, 4, 4))  # weights (1, x, y, x^2 + y^2) x m m^T, m = (X, Y, Z, 1)
    m = np.empty(4)
    for j in range(N):
        x = (uv[j, 0] - c0) / f0
        y = (uv[j, 1] - c1) / f1
        m[0], m[1], m[2], m[3] = M[j, 0], M[j, 1], M[j, 2], 1.0
        w2 = x * x + y * y
        for a in range(4):
            for b in range(4):
                P = m[a] * m[b]
                S[0, a, b] += P
                S[1, a, b] += x * P
                S[2, a, b] += y * P
                S[3, a, b] += w2 * P
    LL = np.zeros((12, 12))
    for a in range(4):
        for b in range(4):
            LL[a, b] = S[0, a, b]
            LL[4 + a, 4 + b] = S[0, a, b]
            LL[a, 8 + b] = -S[1, a, b]
            LL[8 + a, b] = -S[1, a, b]
            LL[4 + a, 8 + b] = -S[2, a, b]
            LL[8 + a, 4 + b] = -S[2, a, b]
            LL[8 + a, 8 + b] = S[3, a, b]
    if not np.all(np.isfinite(LL)):  # numba's LAPACK wrappers raise on NaN: let cv2 decide
        p[:] = np.nan
        return 0.0
    w, V = np.linalg.eigh(LL)
    RR = np.empty((3, 3))
    tt = np.empty(3)
    for r in range(3):
        for k in range(3):
            RR[r, k] = V[4 * r + k, 0]
        tt[r] = V[4 * r + 3, 0]
    det = (RR[0, 0] * (RR[1, 1] * RR[2, 2] - RR[1, 2] * RR[2, 1])
           - RR[0, 1] * (RR[1, 0] * RR[2, 2] - RR[1, 2] * RR[2, 0])
           + RR[0, 2] * (RR[1, 0] * RR[2, 1] - RR[1, 1] * RR[2, 0]))
    sign = -1.0 if det < 0 else 1.0
    sc = 0.0
    for r in range(3):
        for k in range(3):
            RR[r, k] *= sign
            sc += RR[r, k] * RR[r, k]
        tt[r] *= sign
    sc = math.sqrt(sc)
    if not np.all(np.isfinite(RR)):
        p[:] = np.nan
        return 0.0
    U, _, Vt = np.linalg.svd(RR)
    Rm = U @ Vt
    _log_map(Rm, p)
    for r in range(3):
        p[3 + r] = tt[r] * (math.sqrt(3.0) / sc)
    return w[1] / max(w[11], 1e-300)


@njit(cache=True, parallel=True, error_model="numpy")
def iterative_cv5(uv, M, f, c, max_iter, min_conditioning, out_p, unsettled) -> None:
    """SOLVEPNP_ITERATIVE (OpenCV 5) for B problems. ``uv``: B x N x 2 pixels; ``M``: B x N x 3;
    ``f``, ``c``: B x 2; ``M`` may be 1 x N x 3 (one model for all problems). Writes (rvec, tvec) to ``out_p`` (B x 6) and flags in ``unsettled`` the
    problems whose end point OpenCV's algorithm does not decide reliably (an ill-conditioned DLT,
    or an LM run that did not converge)."""
    B = uv.shape[0]
    shared = M.shape[0] == 1
    for i in prange(B):
        Mi = M[0] if shared else M[i]
        p = np.empty(6)
        cond = _dlt(Mi, uv[i], f[i, 0], f[i, 1], c[i, 0], c[i, 1], p)
        found = _levmarq_cv5(p, Mi, uv[i], f[i, 0], f[i, 1], c[i, 0], c[i, 1], max_iter)
        for k in range(6):
            out_p[i, k] = p[k]
        unsettled[i] = (not found) or not (cond >= min_conditioning)
