"""Landmark-to-pose: synthetic faces with exact landmarks recover their pose."""

from __future__ import annotations

import numpy as np
import pytest

from posebench.datasets.synthetic import make_synthetic
from posebench.errors import SampleFailure, UsageError
from posebench.facemodel import default_face, load_face, stretch_face
from posebench.method import FaceInput, create_method
from posebench.metrics import angle_errors
from posebench.pnp import camera_matrix, project, solve_pnp
from posebench.pose import Pose
from posebench.registry import methods


@pytest.mark.parametrize("solver", ["iterative", "sqpnp", "epnp"])
def test_exact_landmarks_and_exact_face_recover_pose(solver):
    ds = make_synthetic(n=200, seed=1, yaw="-85,85")
    m = create_method("gt-landmarks", {"face": "exact", "solver": solver})
    pred = np.array([m.estimate(landmarks=s.landmarks, image_size=s.image_size, model_3d=s.model_3d).as_array()
                     for s in ds])
    err = angle_errors(pred, [s.pose.as_array() for s in ds])
    assert err.max() < 0.5


def test_mean_face_without_shape_variation_is_exact():
    ds = make_synthetic(n=100, seed=2, shape_scale=0.0)
    m = create_method("gt-landmarks", {"solver": "sqpnp"})
    pred = np.array([m.estimate(landmarks=s.landmarks, image_size=s.image_size).as_array() for s in ds])
    assert angle_errors(pred, [s.pose.as_array() for s in ds]).max() < 0.5


def test_focal_length_matters_when_guessed_wrong():
    face = default_face()
    pose = Pose(40, 15, -10)
    K = camera_matrix((450, 450), 1.0)
    pts = project(face, pose.matrix(), np.array([0, 0, 450.0]), K)
    good = solve_pnp(pts, face, (450, 450), "sqpnp", 1.0).pose
    assert np.abs(good.as_array() - pose.as_array()).max() < 1e-4
    bad = solve_pnp(pts, face, (450, 450), "sqpnp", 0.5).pose
    assert np.abs(bad.as_array() - pose.as_array()).max() > 0.5


def test_points_subset_and_u_base_file(u_base):
    face = load_face(u_base)
    assert face.shape == (68, 3)
    m = create_method("gt-landmarks", {"face": str(u_base), "points": "36,45,30,48,54,8", "solver": "sqpnp"})
    assert m.options["face"] == "u_base.txt" and m.idx.tolist() == [36, 45, 30, 48, 54, 8]
    pose = Pose(-20, 10, 5)
    pts = project(face, pose.matrix(), np.array([0, 0, 600.0]), camera_matrix((450, 450)))  # mm: faces load in mm
    assert m.estimate(landmarks=pts, image_size=(450, 450)).as_array() == pytest.approx(pose.as_array(), abs=1e-3)


def test_stretch_zero_is_identity_and_scales_about_centroid():
    f = default_face()
    assert np.array_equal(stretch_face(f, 0, 0), f)
    s = stretch_face(f, 0.4, 0)
    assert np.ptp(s[:, 0]) == pytest.approx(1.4 * np.ptp(f[:, 0]))
    assert np.ptp(s[:, 1]) == pytest.approx(np.ptp(f[:, 1]))


@pytest.mark.parametrize("landmarks, reason", [
    (np.full((68, 2), np.nan), "NaN"),
    (np.full((68, 2), 5000.0), "outside"),
    (np.zeros((5, 2)), "68x2"),
])
def test_bad_landmarks_fail_with_a_reason(landmarks, reason):
    m = create_method("gt-landmarks", {})
    with pytest.raises(SampleFailure, match=reason):
        m.estimate(landmarks=landmarks, image_size=(450, 450))


def test_unknown_option_and_bad_values_are_usage_errors():
    with pytest.raises(UsageError, match="unknown option 'solvr'.*valid options: face, focal, guard, points, setup, solver"):
        create_method("gt-landmarks", {"solvr": "sqpnp"})
    with pytest.raises(UsageError, match="focal"):
        create_method("gt-landmarks", {"focal": "wide"})
    with pytest.raises(UsageError, match="solver"):
        create_method("gt-landmarks", {"solver": "magic"})
    with pytest.raises(UsageError, match="unknown method 'nope'; available: .*gt-landmarks"):
        create_method("nope", {})


def test_weak_perspective_solver_far_camera_and_real_labels(aflw_labels):
    """`weak` needs no focal length: exact for a distant camera; about 1 degree on AFLW2000-3D,
    whose landmarks come from a weak-perspective fit (the solver study's headline number)."""
    face = default_face()
    pose = Pose(35, -20, 12)
    pts = project(face, pose.matrix(), np.array([0, 0, 1e7]), camera_matrix((450, 450), 20000.0))
    weak = create_method("gt-landmarks", {"solver": "weak"})
    assert weak.estimate(landmarks=pts, image_size=(450, 450)).as_array() == pytest.approx(pose.as_array(), abs=1e-3)
    from posebench.datasets.aflw2000 import load_aflw2000

    ds = load_aflw2000(aflw_labels).subset(300)
    pred = np.array([weak.estimate(landmarks=s.landmarks, image_size=s.image_size).as_array() for s in ds])
    err = angle_errors(pred, [s.pose.as_array() for s in ds])
    assert err.mean() < 2.0 and (err.max(axis=1) > 30).sum() == 0


def test_set_ups_and_the_behind_camera_guard_on_real_labels(aflw_labels, tmp_path):
    """The paper's set-up returns OpenCV iterative's behind-the-camera solutions and the run record
    counts them; the default never returns one; an explicit iterative solver is guarded (the weak
    fit replaces exactly those solutions, or they become recorded failures with guard=fail)."""
    from posebench.datasets.aflw2000 import load_aflw2000
    from posebench.evaluation.runner import evaluate

    ds = load_aflw2000(aflw_labels).subset(300)

    def run(**opts):
        return evaluate(create_method("gt-landmarks", opts), ds, tmp_path / "r", progress=False).record

    paper, best = run(setup="paper"), run()
    guarded, failing = run(solver="iterative"), run(solver="iterative", guard="fail")
    assert paper["setup"] == "paper: iterative, focal 1 x width, no guard"
    assert best["setup"] == "weak-perspective: scaled-orthographic fit"
    n = paper["behind_camera"]
    assert n > 10 and paper["n_evaluated"] == 300
    assert best["behind_camera"] == 0 and best["summary"]["mae"] < 2.0 < paper["summary"]["mae"]
    assert guarded["behind_camera"] == 0 and guarded["behind_camera_replaced"] == n
    assert guarded["pnp"]["iterative behind camera -> weak"] == n
    assert guarded["summary"]["mae"] < paper["summary"]["mae"] / 2
    assert failing["n_failed"] == n and failing["behind_camera"] == 0


def test_guard_keeps_a_sound_solution_and_rejects_unknown_guards():
    from posebench.pnp import solve_pnp_guarded

    face = default_face()
    pose = Pose(30, -10, 5)
    pts = project(face, pose.matrix(), np.array([0, 0, 2000.0]), camera_matrix((450, 450)))
    res = solve_pnp_guarded(pts, face, (450, 450), "sqpnp", guard="weak")
    assert not res.behind_camera and res.min_depth > 0 and res.note == "" and res.solver == "sqpnp"
    assert res.pose.as_array() == pytest.approx(pose.as_array(), abs=1e-3)
    with pytest.raises(ValueError, match="guard"):
        solve_pnp_guarded(pts, face, (450, 450), "sqpnp", guard="maybe")


def test_mean_face_has_the_basel_origin(u_base):
    """posebench's mean face and u_base.txt share the origin convention: a similarity fit of
    u_base (mm) onto the mean face needs (almost) no translation."""
    u = load_face(u_base) * 1e-3
    f = default_face()
    mu, mf = u.mean(0), f.mean(0)
    a, b = u - mu, f - mf
    U, S, Vt = np.linalg.svd(b.T @ a)
    R = U @ Vt
    s = S.sum() / (a**2).sum()
    t = mf - s * R @ mu
    assert np.linalg.norm(t) < 1.0 and np.linalg.norm(mf) > 80.0


@pytest.mark.parametrize("name, lm", [
    ("nan", np.full((68, 2), np.nan)), ("inf", np.full((68, 2), np.inf)), ("1e8", np.full((68, 2), 1e8)),
    ("all-minus-1", -np.ones((68, 2))), ("one-point", np.full((68, 2), 50.0)), ("2x0", np.zeros((0, 2))),
])
def test_broken_landmarks_are_a_sample_failure_of_the_batch(name, lm):
    m = methods.create("gt-landmarks", {})
    out = m.estimate_batch([FaceInput(None, (450, 450), landmarks=lm)])
    assert isinstance(out[0], SampleFailure), out


def test_the_default_set_up_is_named_weak_perspective_and_best_is_its_alias():
    """The default set-up is called by what it is; the old name ``best`` still works and is keyed,
    labelled and described exactly as ``weak-perspective`` (no second run, no ``setup=best``
    label), for every landmark method's registry entry and for the class called directly."""
    from posebench.commands.info import _domain
    from posebench.registry import methods

    default, alias, named = (create_method("gt-landmarks", o) for o in ({}, {"setup": "best"}, {"setup": "weak-perspective"}))
    assert default.describe() == "weak-perspective: scaled-orthographic fit"
    assert default.identity() == alias.identity() == named.identity()
    assert default.label() == alias.label() == named.label() == "gt-landmarks"
    assert alias.options["setup"] == "weak-perspective"
    for name in ("gt-landmarks", "dlib", "fan", "mediapipe"):
        assert methods.bind(name, {"setup": "best"})["setup"] == "weak-perspective", name
        assert "(best = weak-perspective)" in _domain(methods.get(name).domains["setup"]), name
    from posebench.methods.gt_landmarks import GTLandmarks

    assert GTLandmarks(setup="best").describe() == default.describe()
    with pytest.raises(UsageError, match=r"must be one of weak-perspective, paper \(best = weak-perspective\) "
                                         r"\(did you mean 'weak-perspective'\?\)"):
        create_method("gt-landmarks", {"setup": "bets"})  # near the old name: the new one is suggested
