"""``posebench bench dlib-boxes`` at tiny size: the three paths, ratios against HOG from the
measured columns, the MAE notes."""

from __future__ import annotations

import pytest

from cli_fixtures import one_line_error, run_cli
from conftest import SHARED
from posebench.commands.bench_boxes import BASELINE, boxes_rows, mae
from posebench.errors import SampleFailure
from posebench.pose import Pose

SAMPLE = SHARED / "data" / "AFLW2000-sample"
YUNET = SHARED / "models" / "yunet" / "yunet_n_dynamic.onnx"


def test_mae_wraps_and_skips_failures():
    got = mae([Pose(179.0, 0.0, 3.0), SampleFailure("no face")], [Pose(-179.0, 0.0, 0.0), Pose(0.0, 0.0, 0.0)])
    assert got[0] == pytest.approx((2.0 + 0.0 + 3.0) / 3) and got[1] is None


def test_calibrated_yunet_against_hog():
    if not (SAMPLE.is_dir() and YUNET.is_file()):
        pytest.skip(f"sample images / YuNet not in {SHARED}")
    rows = boxes_rows(SAMPLE, YUNET, 1, 2)
    assert [r.case for r in rows] == [BASELINE, "dlib, box=yunet calibrated", "dlib, box=yunet raw"]
    hog = rows[0]
    for r in rows[1:]:
        assert r.baseline == BASELINE and r.ratio == pytest.approx(r.median / hog.median)
    assert all(r.unit == "ms/image" and r.n == 2 and "MAE " in r.note and "all three find" in r.note for r in rows)


def test_missing_yunet_is_one_line(tmp_path):
    if not SAMPLE.is_dir():
        pytest.skip(f"sample images not in {SHARED}")
    err = one_line_error(run_cli("bench", "dlib-boxes", "--data-dir", str(SAMPLE), "--yunet-model", str(tmp_path / "x.onnx")))
    assert "YuNet model not found" in err
