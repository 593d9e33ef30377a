"""``yaw-bins``: per-|yaw|-bin MAE, failures and paired-bootstrap verdicts, on tables whose
answers are known, and end to end through the cached runner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posebench.evaluation.compare import paired_bootstrap
from posebench.studies.run import create_study


def _table(yaws, errs, failed=()):
    ids = [f"s{k}" for k in range(len(yaws))]
    return pd.DataFrame({"true_yaw": yaws, "err_mean": errs,
                         "failure": ["no face found" if k in failed else "" for k in range(len(yaws))]}, index=ids)


def test_bins_failures_and_verdicts_are_the_known_answers():
    yaws = [5, -10, 20, 25, 40, -45, 50, 70, -80, 85]
    a = _table(yaws, [1, 1, 1, 1, 2, 2, 2, 30, 30, 30], failed=(9,))   # a landmarker: fine frontal, fails wide
    b = _table(yaws, [3, 3, 3, 3, 2, 2, 2, 5, 5, 5])                  # a network: even
    study = create_study("yaw-bins", {"methods": "gt-landmarks", "n_boot": "500", "min_pairs": "2"})
    rows = pd.DataFrame(study._rows({"a": a, "b": b}, {"a": "a", "b": "b"}))
    m = rows[rows["kind"] == "method"].set_index(["method", "bin"])
    assert list(m.loc["a"].index) == ["[0,30)", "[30,60)", "[60,90]"]
    assert m.loc[("a", "[0,30)"), "n"] == 4 and m.loc[("a", "[0,30)"), "mae"] == 1.0
    assert m.loc[("a", "[60,90]"), "n_failed"] == 1 and m.loc[("a", "[60,90]"), "mae"] == 30.0
    assert m.loc[("a", "[60,90]"), "mae_penalty"] == pytest.approx((30 + 30 + 90) / 3)
    p = rows[rows["kind"] == "pair"].set_index("bin")
    assert p.loc["[0,30)", "verdict"] == "a beats b" and p.loc["[0,30)", "mean_diff"] == -2.0
    assert p.loc["[30,60)", "verdict"] == "no clear difference"
    assert p.loc["[60,90]", "verdict"] == "b beats a"
    assert (p.loc["[60,90]", "n"], p.loc["[60,90]", "n_only_a"], p.loc["[60,90]", "n_only_b"]) == (2, 0, 1)
    want = paired_bootstrap(np.array([30.0, 30.0]), np.array([5.0, 5.0]), n_boot=500, seed=0)
    assert (p.loc["[60,90]", "lo"], p.loc["[60,90]", "hi"]) == (want.lo, want.hi)
    default = create_study("yaw-bins", {"methods": "gt-landmarks", "n_boot": "500"})
    p = pd.DataFrame(default._rows({"a": a, "b": b}, {"a": "a", "b": "b"})).query("kind == 'pair'").set_index("bin")
    assert p.loc["[60,90]", "verdict"] == "too few faces (n < 5)" and p.loc["[0,30)", "n"] == 4


def test_runs_through_the_cached_runner(tmp_path):
    from posebench.datasets.synthetic import make_synthetic

    ds = make_synthetic(n=40, seed=2)
    study = create_study("yaw-bins", {"methods": "gt-landmarks"})
    study.set_context(tmp_path / "res", False)
    t = study.run(ds)
    m = t[t["kind"] == "method"]
    assert int(m["n"].sum()) == 40 and (m["n_failed"] == 0).all()
    assert list((tmp_path / "res" / "runs").glob("gt-landmarks__synthetic__*.json"))
    again = study.run(ds)
    pd.testing.assert_frame_equal(t, again)
    assert "faces per bin" in study.summary(t)
