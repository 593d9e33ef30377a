"""The batched landmark-to-pose path against the per-sample cv2.solvePnP reference."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posebench.datasets.synthetic import make_synthetic
from posebench.facemodel import default_face
from posebench.pnp import batch as bp
from posebench.pnp import opencv_replica as replica
from posebench.pose import FLIP_YZ, angle_between, euler_to_matrix
from posebench.studies.base import SUBSETS, landmark_data, study_face
from posebench.studies.jitter import unit_noise

GRID_SUBSETS = ("6", "12", "21", "68")
GRID_JITTER = (0.0, 2.0, 5.0, 10.0)


def _grid(data, face, subset, seed=0):
    idx = list(SUBSETS[subset])
    noise = unit_noise(seed, 0, data.uv.shape, "uniform")
    pts = np.concatenate([data.uv[:, idx] + j * noise[:, idx] for j in GRID_JITTER])
    sizes = np.concatenate([data.sizes] * len(GRID_JITTER))
    model = face[..., idx, :]
    if model.ndim == 3:
        model = np.concatenate([model] * len(GRID_JITTER))
    return pts, model, sizes


ENGINES = [pytest.param(e, marks=pytest.mark.skipif(
    e == "numba" and bp.default_engine() != "numba", reason="numba engine needs numba and OpenCV >= 5"))
    for e in bp.ENGINES]


def _assert_agree(pts, model, sizes, solver="iterative", focal=1.0, engine=None):
    a = bp.solve_batch(pts, model, sizes, solver, focal, engine=engine)
    b = bp.solve_loop(pts, model, sizes, solver, focal)
    assert np.array_equal(a.ok, b.ok)
    d = angle_between(a.R[a.ok], b.R[b.ok])
    assert d.max() < 0.1, f"{np.sum(d >= 0.1)} of {d.size} problems differ by up to {d.max():.2f} deg"
    return a


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("subset", GRID_SUBSETS)
@pytest.mark.parametrize("face", ["default", "exact"])
def test_agrees_with_cv2_on_synthetic_grid(subset, face, engine):
    data = landmark_data(make_synthetic(n=150, seed=4))
    model = study_face(face, data)
    a = _assert_agree(*_grid(data, model, subset), engine=engine)
    # the batched path really solves the problems; only fragile ones (mostly with 6 points,
    # the DLT's minimum) are handed to cv2
    assert a.fallback.mean() < {"6": 0.5, "12": 0.2, "21": 0.05, "68": 0.01}[subset]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("subset", GRID_SUBSETS)
def test_agrees_with_cv2_on_aflw2000_grid_with_ground_truth_face(subset, engine, aflw_labels, u_base):
    from posebench.datasets.aflw2000 import load_aflw2000

    data = landmark_data(load_aflw2000(aflw_labels).subset(300))
    for units in ("mm", "stored"):  # micrometres: ill-conditioned DLT -> cv2 fallback, still equal
        _assert_agree(*_grid(data, study_face(str(u_base), data, units), subset), engine=engine)


@pytest.mark.skipif(bp.default_engine() != "numba", reason="numba engine needs numba and OpenCV >= 5")
def test_compiled_and_vectorised_engines_take_the_same_steps(aflw_labels, u_base):
    """Same DLT, same LM rules: where both settle, the two engines agree to rounding."""
    from posebench.datasets.aflw2000 import load_aflw2000

    data = landmark_data(load_aflw2000(aflw_labels).subset(400))
    pts, model, sizes = _grid(data, study_face(str(u_base), data), "12")
    a = bp.solve_batch(pts, model, sizes, engine="numba", verify=False)
    b = bp.solve_batch(pts, model, sizes, engine="numpy", verify=False)
    av = bp.solve_batch(pts, model, sizes, engine="numba")
    bv = bp.solve_batch(pts, model, sizes, engine="numpy")
    assert np.array_equal(av.fallback, bv.fallback)
    settled = ~av.fallback
    assert settled.mean() > 0.95
    assert angle_between(a.R[settled], b.R[settled]).max() < 1e-3
    dt = np.linalg.norm(a.tvec[settled] - b.tvec[settled], axis=1)
    assert np.all(dt < 1e-5 * np.linalg.norm(b.tvec[settled], axis=1))


@pytest.mark.skipif(bp.default_engine() != "numba", reason="numba engine needs numba and OpenCV >= 5")
def test_compiled_log_map_matches_cv2_rodrigues_up_to_pi():
    from posebench.pnp import kernels as pnp_kernels

    rng = np.random.default_rng(8)
    axes = rng.normal(size=(40, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.concatenate([rng.uniform(0, np.pi, 30), np.pi - np.logspace(-12, -6, 5), np.full(5, np.pi)])
    out = np.empty(3)
    for rv in axes * angles[:, None]:
        R = cv2.Rodrigues(rv)[0]
        pnp_kernels._log_map(R, out)
        assert np.allclose(cv2.Rodrigues(out)[0], R, atol=1e-6), rv


@pytest.mark.parametrize("focal", [0.5, 2.0, 10.0])
def test_agrees_with_cv2_for_other_camera_guesses(focal):
    data = landmark_data(make_synthetic(n=100, seed=5))
    _assert_agree(*_grid(data, default_face(), "68"), focal=focal)


def test_levenberg_marquardt_matches_cv2_started_from_the_same_guess():
    """The LM part alone: cv2 with useExtrinsicGuess from the batched DLT initialisation."""
    data = landmark_data(make_synthetic(n=120, seed=6))
    idx = list(SUBSETS["21"])
    pts = data.uv[:, idx] + 3.0 * unit_noise(1, 0, data.uv.shape, "uniform")[:, idx]
    M = np.ascontiguousarray(np.broadcast_to(default_face()[idx], (len(pts), len(idx), 3)))
    f = np.full((len(pts), 2), 450.0)
    c = np.full((len(pts), 2), 225.0)
    r0, t0, _ = replica._dlt_init((pts - c[:, None]) / f[:, None], M)
    ref = bp.solve_loop(pts, M, data.sizes, rvec0=r0, tvec0=t0)
    if replica.OPENCV_LEVMARQ == 5:
        r, t, _, settled = replica._levenberg_marquardt_cv5(r0, t0, M, pts, f, c)
        tol = 1e-3  # same algorithm: rounding-level agreement
    else:
        r, t, iters = replica._levenberg_marquardt(r0, t0, M, pts, f, c)
        settled, tol = iters < replica.SETTLED_ITERATIONS, 0.1
    assert settled.mean() > 0.9
    d = angle_between(FLIP_YZ @ replica.rodrigues(r[settled]), ref.R[settled])
    assert d.max() < tol
    assert np.allclose(t[settled], ref.tvec[settled], rtol=1e-4, atol=1e-6)


def test_exact_landmarks_give_the_exact_pose():
    data = landmark_data(make_synthetic(n=200, seed=1))
    res = bp.solve_batch(data.uv, data.exact, data.sizes)
    truth = euler_to_matrix(data.truth[:, 0], data.truth[:, 1], data.truth[:, 2])
    assert angle_between(res.R, truth).max() < 1e-4  # degrees (arccos resolution ~1e-6)


def test_weak_perspective_is_exact_for_scaled_orthographic_views():
    rng = np.random.default_rng(0)
    face = default_face()
    ypr = rng.uniform([-80, -40, -40], [80, 40, 40], (50, 3))
    R = euler_to_matrix(ypr[:, 0], ypr[:, 1], ypr[:, 2])
    Rc = FLIP_YZ @ R  # camera frame, y down
    pts = 1.7 * np.einsum("bij,nj->bni", Rc[:, :2], face) + np.array([225.0, 225.0])
    res = bp.solve_batch(pts, face, (450, 450), "weak")
    assert angle_between(res.R, R).max() < 1e-4


def test_fewer_than_six_points_follow_cv2():
    """OpenCV's iterative DLT needs 6 points: the batched path hands 5-point problems to cv2,
    which refuses them; sqpnp solves them."""
    data = landmark_data(make_synthetic(n=20, seed=2))
    idx = list(SUBSETS["5"])
    it = bp.solve_batch(data.uv[:, idx], default_face()[idx], data.sizes, "iterative")
    assert it.fallback.all() and not it.ok.any()
    sq = bp.solve_batch(data.uv[:, idx], data.exact[:, idx], data.sizes, "sqpnp")
    assert sq.ok.all()


def test_rodrigues_matches_cv2():
    rng = np.random.default_rng(3)
    r = np.concatenate([rng.normal(size=(50, 3)), rng.normal(size=(5, 3)) * 1e-10, np.zeros((1, 3))])
    R = replica.rodrigues(r)
    for i in range(len(r)):
        assert np.allclose(R[i], cv2.Rodrigues(r[i])[0], atol=1e-12)
    back = replica.rotation_to_rvec_fast(R[:50])
    assert np.allclose(replica.rodrigues(back), R[:50], atol=1e-10)


def test_bad_input_is_reported():
    with pytest.raises(ValueError):
        bp.solve_batch(np.zeros((3, 6, 3)), default_face()[:6], (450, 450))
    with pytest.raises(ValueError):
        bp.solve_batch(np.zeros((3, 6, 2)), default_face()[:6], (450, 450), solver="nope")
    pts = np.full((2, 6, 2), np.nan)
    assert not bp.solve_batch(pts, default_face()[:6], (450, 450)).ok.any()


@pytest.mark.parametrize("engine", ENGINES)
def test_workers_give_identical_results(monkeypatch, engine):
    """Spreading problems over threads (numba) or processes (numpy) changes speed only, never a
    number."""
    import posebench.pnp.batch as bp
    from posebench.datasets.synthetic import make_synthetic

    ds = make_synthetic(n=300, seed=11)
    uv = np.stack([s.landmarks for s in ds]) + np.random.default_rng(0).normal(0, 3, (300, 68, 2))
    monkeypatch.setattr(bp, "MIN_PROBLEMS_PER_WORKER", 50)
    monkeypatch.setattr(bp, "KERNEL_CHUNK", 64)
    one = bp.solve_batch(uv, ds.samples[0].model_3d, (450, 450), workers=1, engine=engine)
    two = bp.solve_batch(uv, ds.samples[0].model_3d, (450, 450), workers=2, engine=engine)
    assert np.array_equal(one.ypr, two.ypr, equal_nan=True) and np.array_equal(one.fallback, two.fallback)


def test_engine_choice_from_the_environment(monkeypatch):
    from posebench.errors import UsageError

    monkeypatch.setenv("POSEBENCH_PNP_ENGINE", "numpy")
    assert bp.default_engine() == "numpy"
    monkeypatch.setenv("POSEBENCH_PNP_ENGINE", "fortran")
    with pytest.raises(UsageError, match="POSEBENCH_PNP_ENGINE"):
        bp.default_engine()
    with pytest.raises(ValueError, match="unknown engine"):
        bp.solve_batch(np.zeros((1, 6, 2)), default_face()[:6], (450, 450), engine="fortran")
