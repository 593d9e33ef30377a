"""The ``box-jitter`` study and its perturbed datasets: moved boxes by known amounts (every crop
reference moved alike), the unperturbed condition is the plain run (same cache), and the toy
method's closed-form errors come back (tests/box_fixtures.py)."""

from __future__ import annotations

import numpy as np
import pytest
from box_fixtures import BOX, C, W, toy  # noqa: F401  (fixture)

from posebench.datasets.boxjitter import perturb_sample, shift_direction, with_box_jitter
from posebench.errors import UsageError
from posebench.evaluation.runner import evaluate
from posebench.registry import methods
from posebench.studies.box_jitter import doubling_level, slope_per_tenth
from posebench.studies.run import create_study


def test_shift_moves_box_landmarks_and_visible_points_alike(toy):  # noqa: F811
    s = toy.samples[0]
    t = shift_direction(s.id, 0)
    p = perturb_sample(s, "shift", 0.25, 0)
    off = np.array([0.25 * W * np.cos(t), 0.25 * W * np.sin(t)])
    assert np.allclose(np.array(p.box) - np.array(BOX), np.tile(off, 2))
    assert np.allclose(p.landmarks - s.landmarks, off)
    assert np.allclose(p.points[:5] - s.points[:5], off) and np.array_equal(p.points[5], [-1.0, -1.0])
    assert p.pose == s.pose and p.image_path == s.image_path
    # the same face has the same direction at every level, and in any subset of the dataset
    q = perturb_sample(s, "shift", 0.5, 0)
    assert np.allclose(np.array(q.box) - np.array(BOX), np.tile(2 * off, 2))
    assert shift_direction(s.id, 1) != t


@pytest.mark.parametrize("axis,factor", [("grow", 1.2), ("shrink", 0.8)])
def test_scale_about_the_box_centre(toy, axis, factor):  # noqa: F811
    s = toy.samples[1]
    p = perturb_sample(s, axis, 0.2)
    x0, y0, x1, y1 = p.box
    assert np.isclose(x1 - x0, factor * W) and np.isclose((x0 + x1) / 2, C) and np.isclose((y0 + y1) / 2, C)
    assert np.allclose(p.landmarks - C, factor * (s.landmarks - C))


def test_versioned_protocol_and_fingerprint(toy):  # noqa: F811
    assert with_box_jitter(toy, "shift", 0.0) is toy
    ds = with_box_jitter(toy, "shift", 0.1, seed=2)
    assert ds.protocol == "toy-v1+box-shift0.1-s2-v1" and ds.fingerprint() != toy.fingerprint()
    assert with_box_jitter(toy, "shift", 0.1, seed=3).fingerprint() != ds.fingerprint()
    for bad in (("twist", 0.1), ("shift", -0.1), ("shrink", 1.0)):
        with pytest.raises(UsageError):
            with_box_jitter(toy, *bad)


def test_slope_and_doubling_known_answers():
    lv = np.array([0.0, 0.1, 0.2, 0.4])
    assert np.isclose(slope_per_tenth(lv, 2 + 30 * lv), 3.0)
    assert np.isclose(doubling_level(lv, 2 + 30 * lv), 2 / 30)
    assert np.isnan(doubling_level(lv, np.array([2.0, 2.1, 2.2, 2.3])))


def test_study_closed_form_errors_failures_pairs_and_cache(toy, tmp_path):  # noqa: F811
    res = tmp_path / "results"
    plain = evaluate(methods.create("box-echo", {"box": "gt"}), toy, res, progress=False)
    study = create_study("box-jitter", {"methods": "box-echo,box-echo-b", "shifts": "0.1,0.2", "scales": "0.1,0.3"})
    study.set_context(res, False)
    table = study.run(toy)
    cond = table[table["row"] == "condition"].set_index(["method", "axis", "level"])
    # the unperturbed condition is the plain run: the same cache, the same errors
    r0 = cond.loc[("box-echo", "none", 0.0)]
    assert r0["from_cache"] == len(toy) and np.isclose(r0["mae"], plain.record.summary.mae) and r0["mae"] == 0
    assert np.isclose(cond.loc[("box-echo-b", "none", 0.0), "mae"], 1.0)  # bias 3 on yaw, /3
    for lv in (0.1, 0.2):
        want = np.mean([100 * lv * (abs(np.cos(t)) + abs(np.sin(t))) / 3
                        for t in (shift_direction(s.id, 0) for s in toy.samples)])
        assert np.isclose(cond.loc[("box-echo", "shift", lv), "mae"], want)
    assert np.isclose(cond.loc[("box-echo", "grow", 0.3), "mae"], 10.0)  # roll 30 / 3
    assert np.isclose(cond.loc[("box-echo", "shrink", 0.1), "mae"], 10 / 3)
    sk = cond.loc[("box-echo", "shrink", 0.3)]  # a 28-pixel box: every face fails
    assert sk["n_failed"] == len(toy) and sk["fail_rate"] == 1.0 and sk["mae_penalty"] == 90.0
    d = cond.loc[("box-echo", "grow", 0.3)]
    assert np.isclose(d["delta"], 10.0) and np.isclose(d["delta_lo"], 10.0) and np.isclose(d["delta_hi"], 10.0)
    st = table[table["row"] == "stability"].set_index(["method", "axis"])
    assert np.isclose(st.loc[("box-echo-b", "grow"), "slope"], 100 * 0.1 / 3)
    assert np.isclose(st.loc[("box-echo-b", "grow"), "double_at"], 0.03)  # (3 + 100 k) / 3 = 2 at k = 0.03
    pairs = table[table["row"] == "pair"]
    ok = pairs[pairs["n_common"] > 0]
    assert len(pairs) == 7 and np.allclose(ok["delta"], -1.0) and np.allclose(ok["delta_lo"], -1.0)
    assert pairs.loc[pairs["axis"] == "shrink"].set_index("level").loc[0.3, "n_common"] == 0
    # the re-run is served from the cache
    again = study.run(toy)
    c2 = again[again["row"] == "condition"]
    assert (c2["from_cache"] == len(toy)).all()
    assert np.allclose(c2["mae"].to_numpy(float), table[table["row"] == "condition"]["mae"].to_numpy(float),
                       equal_nan=True)
    assert "stability" in study.summary(table)
    import json  # every row names its method by the run label (the leaderboard's)

    ran = table[(table["row"] == "condition") & (table["run"].astype(object).fillna("") != "")]
    assert len(ran) and all(r["label"] == json.loads((res / "runs" / r["run"]).read_text())["label"] for _, r in ran.iterrows())
    assert table["label"].notna().all() and pairs["label_b"].notna().all()
    from posebench.evaluation.leaderboard import render

    md = render(res, paper=False)  # the conditions are the study's table, not leaderboard sections
    assert "toy-v1+box-" not in md and "runs on moved face boxes" in md and "toy-v1 " in md.replace("|", " ")


def test_a_detector_method_gets_the_protocol_box_unless_told(toy):  # noqa: F811
    s = create_study("box-jitter", {"methods": "box-echo,onnx-headpose,gt-landmarks", "shifts": "0.1"})
    assert s.specs[0].options["box"] == "gt"  # its default (no-face) would ignore the moved box
    assert "box" not in s.specs[1].options and "box" not in s.specs[2].options  # auto: its own crop rule
    s = create_study("box-jitter", {"methods": "box-echo", "shifts": "0.1", "box-echo.box": "shifted-box"})
    assert s.specs[0].options["box"] == "shifted-box"
    with pytest.raises(UsageError):
        create_study("box-jitter", {"methods": "box-echo", "shifts": "0.1,-1"})
