"""The ``detectors`` study: one method on each registered detector, with closed-form answers from
the toy method and two test detectors (tests/box_fixtures.py): a box 0.1 of its size to the right
of the protocol box (+10 deg of yaw), and one that finds nothing."""

from __future__ import annotations

import numpy as np
import pytest
from box_fixtures import toy  # noqa: F401  (fixture)

from posebench.detect import DETECTORS
from posebench.errors import UsageError
from posebench.studies.detectors import detector_names
from posebench.studies.run import create_study


def test_all_is_the_registry_in_order(toy):  # noqa: F811
    names = detector_names("all")
    assert names == list(DETECTORS) and set(names) >= {"dlib-hog", "shifted-box", "no-face"}
    with pytest.raises(UsageError):
        detector_names("dlib-hog,nope")


def test_known_answers_per_detector(toy, tmp_path):  # noqa: F811
    study = create_study("detectors", {"method": "box-echo-b", "detectors": "shifted-box,no-face"})
    study.set_context(tmp_path / "results", False)
    table = study.run(toy).set_index("detector")
    assert list(table.index) == ["gt", "shifted-box", "no-face"]
    gt, sh, nf = table.loc["gt"], table.loc["shifted-box"], table.loc["no-face"]
    assert gt["n_found"] == sh["n_found"] == 6 and nf["n_found"] == 0 and nf["n_failed"] == 6
    assert np.isclose(gt["mae_found"], 1.0) and np.isclose(sh["mae_found"], 13 / 3)  # yaw 3 (+10) / 3
    assert np.isnan(nf["mae_found"]) and nf["mae_nopose"] == 0.0 and nf["mae_penalty"] == 90.0
    assert np.isclose(sh["delta"], 10 / 3) and np.isclose(sh["delta_lo"], 10 / 3) and sh["n_vs_gt"] == 6
    assert table["n_common"].iloc[0] == 0  # no face answered on every row
    assert "box=shifted-box" in sh["options"] and sh["ms_per_face"] >= 0 and sh["run"].endswith(".json")
    assert np.isnan(nf["ms_per_face"]) and nf["run"] == ""  # all failed: no run stored, failures kept
    again = study.run(toy).set_index("detector")
    assert (again["from_cache"] == 6).all() and np.isclose(again.loc["shifted-box", "mae_found"], 13 / 3)
    assert "shifted-box" in study.summary(table.reset_index())
    # each row names its run by the run's label, as the leaderboard does (the all-failed row too)
    import json

    for det in ("gt", "shifted-box"):
        rec = json.loads((tmp_path / "results" / "runs" / table.loc[det, "run"]).read_text())
        assert table.loc[det, "label"] == rec["label"], det
    assert table.loc["shifted-box", "label"] == "box-echo-b (box=shifted-box)"
    assert table.loc["no-face", "label"] == "box-echo-b"  # box=no-face is this toy method's default


def test_detector_options_and_a_method_without_a_box(toy):  # noqa: F811
    with pytest.raises(UsageError):
        create_study("detectors", {"method": "box-echo", "detectors": "no-face", "detector.no-face.size": "3"})
    with pytest.raises(UsageError):
        create_study("detectors", {"method": "box-echo", "detectors": "no-face", "detector.yunet.model": "x"})
    s = create_study("detectors", {"method": "box-echo", "detectors": "no-face", "reference": False})
    assert [d for d, _ in s.specs()] == ["no-face"]
