"""posebench.boxcal: the stored calibration (provenance, values) and the box map's known answers."""

from __future__ import annotations

import json

import pytest

from posebench.boxcal import CALIBRATION_FILE, _load, calibrate, calibration
from posebench.errors import DataError


def test_stored_yunet_to_hog_calibration_has_its_provenance():
    cal = calibration("yunet", "dlib-hog")
    assert cal is not None and cal["n_faces"] >= 5
    assert "scripts/fit_box_calibration.py" in cal["procedure"] and "held out" in cal["fit"]
    assert 0.5 < cal["sw"] < 2 and 0.5 < cal["sh"] < 2 and abs(cal["dx"]) < 0.5 and abs(cal["dy"]) < 0.5
    assert calibration("dlib-hog", "dlib-hog") is None  # HOG needs none


def test_calibrate_known_answer():
    cal = {"dx": 0.1, "dy": -0.2, "sw": 1.5, "sh": 0.5}
    # box 100 x 40 centred at (150, 70) -> centre (160, 62), size 150 x 20
    assert calibrate((100, 50, 200, 90), cal) == pytest.approx((85, 52, 235, 72))
    assert calibrate((1, 2, 3, 4), None) == (1, 2, 3, 4)


def test_a_bad_calibration_file_is_one_line(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"calibrations": {"yunet": {"dlib-hog": {"dx": 0, "dy": 0, "sw": -1, "sh": 1}}}}))
    with pytest.raises(DataError, match="bad box calibration file .*sw, sh > 0"):
        _load(str(bad))
    assert CALIBRATION_FILE.is_file()
