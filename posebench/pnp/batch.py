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
  acceleration), OpenCV 3/4 the classic ``CvLevMarq``, both replicated in
  :mod:`posebench.pnp.opencv_replica`; the one matching the installed OpenCV is used
  (:data:`OPENCV_LEVMARQ`). Because it starts where OpenCV starts and takes the same steps, it
  lands in the same local minimum, flipped ones included, so agreement is checked against
  OpenCV's *own* result, not against the true pose (``tests/pnp/test_batch_pnp.py``; with OpenCV 5
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
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from posebench.errors import UsageError
from posebench.pnp.opencv_replica import (
    MAX_ITER,
    MIN_DLT_CONDITIONING,
    OPENCV_LEVMARQ,
    _iterative,
    _planar_or_small,
    rodrigues,
)
from posebench.pnp.single import SOLVER_NAMES, SOLVERS, camera_matrix, weak_rotation
from posebench.pose import FLIP_YZ, matrix_to_euler

MIN_PROBLEMS_PER_WORKER = 512
BATCHED_SOLVERS = ("iterative", "weak")
#: Engines of the batched iterative solver: ``numba`` compiles one problem at a time and runs
#: the problems on threads (:mod:`posebench.pnp.kernels`, OpenCV 5 only); ``numpy`` runs them in
#: lock-step as array operations, spread over processes.
ENGINES = ("numba", "numpy")
#: Problems per call of the compiled kernel (the progress bar moves once per call).
KERNEL_CHUNK = 16384


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
        from posebench.lifecycle import die_with_parent, worker_pool

        _POOL = (workers, worker_pool(workers, ctx, die_with_parent, (os.getpid(),)))
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
        raise ValueError(f"unknown solver {solver!r}; choose from {', '.join(SOLVER_NAMES)}")
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
    if solver not in SOLVER_NAMES:
        raise ValueError(f"unknown solver {solver!r}; choose from {', '.join(SOLVER_NAMES)}")
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
        return _solve_weak(uv, M, finite, chunk or 8192, progress)
    f, c = _intrinsics(sizes, focal_scale)
    rv = np.full((B, 3), np.nan)
    tv = np.full((B, 3), np.nan)
    special = _planar_or_small(M) | ~finite
    fallback = special & finite  # updated below with unsettled problems
    batch = np.flatnonzero(~special)
    if chunk is None:  # about 2^18 landmarks per chunk: few numpy calls, arrays still in cache
        chunk = max(512, (1 << 18) // max(1, uv.shape[1]))
    workers = default_workers() if workers is None else max(1, int(workers))
    engine_run = _ITERATIVE_ENGINES[engine]
    for idx, (r, t, unsettled) in engine_run(uv, M, f, c, batch, chunk, workers, verify):
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


def _solve_weak(uv: np.ndarray, M: np.ndarray, finite: np.ndarray, chunk: int,
                progress: Callable[[int], None] | None) -> BatchResult:
    """The ``weak`` solver over all problems, in chunks (closed form, no engine)."""
    B = uv.shape[0]
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


IterativeChunks = Iterator[tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]]


def _iterative_numba(uv, M, f, c, batch: np.ndarray, chunk: int, workers: int, verify: bool) -> IterativeChunks:
    """The compiled engine: one kernel call per :data:`KERNEL_CHUNK` problems, spread over
    ``workers`` threads. Yields ``(indices, (rvec, tvec, unsettled))``."""
    pieces = [batch[s : s + KERNEL_CHUNK] for s in range(0, batch.size, KERNEL_CHUNK)]
    shared = M[:1] if M.strides[0] == 0 else None
    return ((idx, _iterative_compiled(uv[idx], M[idx] if shared is None else shared, f[idx], c[idx], workers))
            for idx in pieces)


def _iterative_numpy(uv, M, f, c, batch: np.ndarray, chunk: int, workers: int, verify: bool) -> IterativeChunks:
    """The numpy engine: chunks of problems in lock-step, over processes when there are enough
    problems (the same results up to rounding, faster). Yields ``(indices, (rvec, tvec, unsettled))``."""
    if min(workers, batch.size // MIN_PROBLEMS_PER_WORKER) > 1:
        workers = min(workers, batch.size // MIN_PROBLEMS_PER_WORKER)
        pieces = np.array_split(batch, max(workers, -(-batch.size // chunk)))
        jobs = [_pool(workers).submit(_iterative_job, uv[idx], M[idx], f[idx], c[idx], verify) for idx in pieces]
        return zip(pieces, (job.result() for job in jobs))
    pieces = [batch[s : s + chunk] for s in range(0, batch.size, chunk)]
    return ((idx, _iterative_job(uv[idx], M[idx], f[idx], c[idx], verify)) for idx in pieces)


#: One function per engine of the batched ``iterative`` solver (keys: :data:`ENGINES`).
_ITERATIVE_ENGINES = {"numba": _iterative_numba, "numpy": _iterative_numpy}
