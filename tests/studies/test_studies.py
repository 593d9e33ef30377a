"""Landmark-to-pose studies on the embedded synthetic dataset (known answers, no shared data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cli_fixtures import run_cli
from posebench.cli import main
from posebench.datasets.synthetic import make_synthetic
from posebench.errors import UsageError
from posebench.registry import studies
from posebench.studies.base import SUBSETS
from posebench.studies.run import create_study


@pytest.fixture(scope="module")
def synth():
    return make_synthetic(n=120, seed=11)


def test_studies_are_registered():
    assert {"keypoints", "jitter", "stretch", "solver"} <= set(studies.names())


def test_subsets_are_valid_68_point_indices():
    for name, idx in SUBSETS.items():
        assert len(idx) == int(name) and len(set(idx)) == len(idx)
        assert min(idx) >= 0 and max(idx) <= 67


def test_exact_face_and_landmarks_give_near_zero_error(synth):
    t = create_study("keypoints", {"face": "exact"}).run(synth)
    assert list(t["n_points"]) == [6, 12, 21, 68]
    assert (t["mae"] < 1e-4).all() and (t["n_failed"] == 0).all()


def test_zero_jitter_is_exact_and_error_grows_with_jitter(synth):
    t = create_study("jitter", {"face": "exact", "repeats": "3", "max_jitter": "8", "step": "2"}).run(synth)
    m = t.groupby(["n_points", "jitter_px"])["mae"].mean().unstack()
    assert (m[0.0] < 1e-4).all()
    for n, row in m.iterrows():
        assert row[2.0] > 0.05, n
        assert row[8.0] > row[4.0] > row[2.0] > row[0.0], (n, row.to_dict())
    # with noisy landmarks more points are more robust (paper, Figure 4)
    assert m.loc[68, 8.0] < m.loc[6, 8.0]


def test_jitter_is_reproducible_from_its_seed(synth):
    opts = {"face": "exact", "repeats": "2", "max_jitter": "4", "step": "2", "subsets": "6,68"}
    a = create_study("jitter", {**opts, "seed": "3"}).run(synth)
    b = create_study("jitter", {**opts, "seed": "3"}).run(synth)
    c = create_study("jitter", {**opts, "seed": "4"}).run(synth)
    pd.testing.assert_frame_equal(a, b)
    assert (a["seed"] == 3).all()
    assert not np.allclose(a.loc[a.jitter_px > 0, "mae"], c.loc[c.jitter_px > 0, "mae"])


def test_stretch_zero_equals_the_unstretched_baseline(synth):
    s = create_study("stretch", {"max_stretch": "0.2", "step": "0.1"}).run(synth)
    k = create_study("keypoints", {"subsets": "68"}).run(synth)
    base = k.iloc[0]
    for axis in ("width", "height"):
        row = s[(s.axis == axis) & (s.stretch == 0.0)].iloc[0]
        for col in ("mae_yaw", "mae_pitch", "mae_roll", "mae"):
            assert row[col] == base[col]
    assert sorted(s["stretch_pct"].unique()) == [-20.0, -10.0, 0.0, 10.0, 20.0]
    # stretching the exact face hurts
    e = create_study("stretch", {"face": "exact", "max_stretch": "0.4", "step": "0.2"}).run(synth)
    for axis in ("width", "height"):
        t = e[e.axis == axis].set_index("stretch")["mae"]
        assert t[0.0] < 1e-4 and t[0.4] > t[0.2] > t[0.0] and t[-0.4] > t[-0.2] > t[0.0]


def test_batched_and_cv2_backends_give_the_same_table(synth):
    opts = {"repeats": "1", "max_jitter": "4", "step": "2"}
    a = create_study("jitter", {**opts, "backend": "batched"}).run(synth)
    b = create_study("jitter", {**opts, "backend": "cv2"}).run(synth)
    cols = ["mae_yaw", "mae_pitch", "mae_roll", "mae"]
    assert np.abs(a[cols].to_numpy() - b[cols].to_numpy()).max() < 1e-3
    assert (a["frac_over_30"] == b["frac_over_30"]).all()


def test_solver_study_grid_and_exact_answers(synth):
    t = create_study("solver", {"face": "exact", "focals": "1,2", "origins": "stored,centroid", "units": "mm"}).run(synth)
    assert len(t) == 2 * (3 * 2 + 1)  # origins x (3 perspective solvers x 2 focals + weak)
    exact = t[(t.focal == 1.0) & (t.solver.isin(["iterative", "sqpnp"]))]
    assert (exact["mae"] < 1e-3).all()  # the synthetic camera has focal = 1 x width
    wrong_focal = t[(t.focal == 2.0) & (t.solver == "sqpnp")]
    assert (wrong_focal["mae"] > 0.1).all()


def test_bad_options_are_one_line_errors():
    with pytest.raises(UsageError):
        create_study("keypoints", {"subsets": "6,7"})
    with pytest.raises(UsageError):
        create_study("jitter", {"noise": "pink"})
    with pytest.raises(UsageError):
        create_study("keypoints", {"colour": "red"})
    r = CliRunner().invoke(main, ["study", "nope"])
    assert r.exit_code == 2 and "unknown study" in r.output and "Traceback" not in r.output


def test_cli_study_and_plot_write_table_and_figures(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["study", "keypoints", "--dataset-option", "n=40", "-o", "face=exact",
                             "--results-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    csv = tmp_path / "tables" / "keypoints-synthetic.csv"
    t = pd.read_csv(csv)
    assert {"n_points", "mae_yaw", "mae", "solver", "face"} <= set(t.columns)
    assert (tmp_path / "tables" / "keypoints-synthetic.json").is_file()
    r = runner.invoke(main, ["plot", "keypoints", "--results-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    for ext in ("png", "pdf"):
        assert (tmp_path / "figures" / f"keypoints-synthetic.{ext}").stat().st_size > 1000
    r = runner.invoke(main, ["plot", "jitter", "--results-dir", str(tmp_path)])
    assert r.exit_code != 0 and "posebench study jitter" in r.output


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_bench_pnp_prints_a_ratio(engine):

    from posebench.pnp.batch import default_engine

    if engine == "numba" and default_engine() != "numba":
        pytest.skip("numba engine needs numba and OpenCV >= 5")
    r = CliRunner().invoke(main, ["bench", "pnp", "--limit", "30", "-o", "repeats=1", "-o", "max_jitter=2",
                                  "--engine", engine, "--repeats", "1"])
    assert r.exit_code == 0, r.output
    assert f"engine: {engine}" in r.output and "load " in r.output
    assert "x the baseline's time (cv2 loop)" in r.output and "faster" not in r.output
    from posebench.commands.bench_pnp import pnp_rows
    from posebench.registry import datasets

    rows = pnp_rows(datasets.create("synthetic", {}).subset(30), {"repeats": "1", "max_jitter": "2"}, engine, 1, False)
    by = {r.case: r for r in rows}
    cv2_loop = by.pop("cv2 loop")
    assert cv2_loop.max_diff_deg == 0 and cv2_loop.unit == "s"
    for label, row in by.items():  # ratios from the measured columns; the checked paths agree with cv2
        assert row.baseline == "cv2 loop" and row.ratio == pytest.approx(row.median / cv2_loop.median)
        if "unverified" not in label:
            assert row.max_diff_deg < 0.01, row


def test_first_use_compile_is_announced_not_a_silent_stall(monkeypatch, tmp_path):
    import posebench.pnp.batch as bp

    calls = []
    monkeypatch.setattr(bp, "default_engine", lambda: "numba")
    monkeypatch.setattr(bp, "kernel_cached", lambda: False)
    monkeypatch.setattr(bp, "warm_up", lambda engine=None: calls.append(engine) or 0.5)
    r = CliRunner().invoke(main, ["study", "keypoints", "--dataset-option", "n=20", "--results-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "compiling the batched PnP kernel" in r.output and calls == ["numba"]
    calls.clear()
    r = CliRunner().invoke(main, ["study", "keypoints", "--dataset-option", "n=20", "-o", "solver=weak",
                                  "--results-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "compiling" not in r.output and calls == []


def test_one_broken_study_does_not_hide_the_others(faulty_plugin):
    res = run_cli("studies")
    assert res.exit_code == 0, res.output
    assert "broken-lazy" in res.output and "cannot be loaded" in res.output and "jitter" in res.output


def test_plot_rebuilds_none_as_none_and_makes_the_figures_folder(faulty_plugin):
    out = str(faulty_plugin / "r")
    res = run_cli("study", "sweep", "--dataset-option", "n=5", "--results-dir", out)
    assert res.exit_code == 0, res.output
    assert (faulty_plugin / "r" / "tables" / "sweep-synthetic.csv").is_file()  # named by the registered name
    res = run_cli("plot", "sweep", "--results-dir", out)
    assert res.exit_code == 0, res.output
    assert (faulty_plugin / "r" / "figures" / "sweep-synthetic.png").is_file()
