"""AFW reader (official ``anno.mat`` cell array, written here by scipy) and the ``afw-yaw`` study
(Figure 7) with known answers: a method whose output equals the labels scores 100%."""

from __future__ import annotations

import numpy as np
import pytest

from data_fixtures import write_afw
from posebench.datasets.afw import hopenet_afw_box, load_afw
from posebench.errors import DataError
from posebench.method import Method
from posebench.pose import Pose
from posebench.registry import Entry, methods
from posebench.studies.afw_yaw import snap_yaw, yaw_accuracy
from posebench.studies.run import create_study


class PixelYaw(Method):
    name = "pixel-yaw"
    needs = frozenset({"image"})

    def __init__(self, offset: float = 0.0):
        super().__init__(offset=float(offset))
        self.offset = float(offset)

    def estimate_one(self, face):
        return Pose(float(np.median(face.image)) - 100.0 + self.offset, 0.0, 0.0)


@pytest.fixture
def pixel_yaw(monkeypatch):
    methods.names()  # load the built-ins first
    monkeypatch.setitem(methods._entries, "pixel-yaw",
                        Entry("pixel-yaw", lambda offset=0.0: PixelYaw(offset), "test", frozenset({"image"})))


def test_reader_official_format(tmp_path):
    ds = load_afw(write_afw(tmp_path / "afw"))
    assert len(ds) == 5 and ds.protocol == "afw-hopenet-v1"
    s = {x.id: x for x in ds}
    assert set(s) == {"1000_1", "1001_1", "1001_2", "1002_1", "1003_1"}
    assert s["1001_1"].pose.yaw == 45.0 and np.isnan(s["1001_1"].pose.pitch)  # AFW yaw sign flipped
    assert s["1000_1"].image_size == (160, 120)
    assert s["1001_2"].meta["face_box"] == [41.0, 30.0, 101.0, 90.0]
    assert s["1000_1"].box == pytest.approx(hopenet_afw_box(40, 30, 100, 90))


def test_authors_loose_box_is_sequential():
    x1, y1, x2, y2 = hopenet_afw_box(0, 0, 100, 100)
    assert (x1, y1) == pytest.approx((-25.6, -64.0))
    assert x2 == pytest.approx(100 + 0.8 * 0.32 * 125.6) and y2 == pytest.approx(100 + 0.32 * 164.0)


def test_missing_anno_is_a_data_error(tmp_path):
    with pytest.raises(DataError):
        load_afw(tmp_path)


def test_snap_and_threshold_rules():
    assert list(snap_yaw(np.array([7.4, 7.5, -7.5, -7.6, 22.0]))) == [0.0, 15.0, 0.0, -15.0, 15.0]
    hit = yaw_accuracy(np.array([14.0, 23.0, np.nan, 179.0]), np.array([0.0, 0.0, 0.0, -165.0]), 15.0)
    assert list(hit) == [True, False, False, True]  # 179 -> 180, wrapped error to -165 is 15


def test_labels_equal_output_score_100(tmp_path, pixel_yaw):
    ds = load_afw(write_afw(tmp_path / "afw"))
    study = create_study("afw-yaw", {"methods": "pixel-yaw,whenet"})
    study.set_context(tmp_path / "res", False)
    t = study.run(ds)
    r = t[t["kind"] == "reproduced"].iloc[0]
    assert r["acc15"] == 100.0 and r["acc30"] == 100.0 and r["mae_yaw"] < 2.0 and r["n"] == 5
    assert "WHENet weights" in t.loc[t["method"] == "whenet", "skipped"].iloc[0]  # absent here: stated
    assert (t["kind"] == "paper figure only").sum() == 6
    assert "100.0" in study.summary(t) and "skipped whenet" in study.summary(t)
    assert all(p.stat().st_size > 0 for p in study.plot(t, tmp_path / "fig" / "afw"))


def test_offset_25_snaps_to_30_fails_at_15_passes_at_30(tmp_path, pixel_yaw):
    ds = load_afw(write_afw(tmp_path / "afw"))
    study = create_study("afw-yaw", {"methods": "pixel-yaw", "pixel-yaw.offset": "25"})
    study.set_context(tmp_path / "res", False)
    r = study.run(ds).iloc[0]
    assert r["acc15"] == 0.0 and r["acc30"] == 100.0
