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


def _damage_anno(root, row: int, column: int, value) -> None:
    """Replace cell ``anno{row, column}`` (0-based here) of ``root``'s anno.mat (scipy writes it
    as MATLAB does)."""
    import scipy.io as sio

    anno = sio.loadmat(root / "anno.mat")["anno"]
    anno[row, column] = value
    sio.savemat(root / "anno.mat", {"anno": anno})


GOOD = {1: np.array([[41.0, 30.0], [101.0, 90.0]]), 2: np.array([[0.0, 0.0, 0.0]])}


def _cell(*values):
    c = np.empty((1, len(values)), dtype=object)
    for j, v in enumerate(values):
        c[0, j] = v
    return c


@pytest.mark.parametrize("column, value, reason", [
    (1, np.array([[1.0, 2.0, 3.0]]), "anno row 2 box 1 has 3 numbers, not 4"),
    (1, np.array(["abc"]), "anno row 2 box 1 is not numbers (<U3)"),
    (2, np.array(["left"]), "anno row 2 pose 1 is not numbers (<U4)"),
    (2, np.array([[30.0]]), "anno row 2 pose 1 has 1 numbers, not 3"),
    (1, np.array([[np.inf, 0.0], [1.0, 1.0]]), "face box is not finite"),
])
def test_a_damaged_face_label_is_that_faces_recorded_failure(tmp_path, column, value, reason):
    """One unreadable box or pose in anno.mat (a box of 3 numbers, text): that face is a recorded
    failure naming the row; the other faces are read (the whole dataset used to be refused with
    an unexpected ValueError naming neither the file nor the row)."""
    from posebench.registry import datasets

    root = write_afw(tmp_path / "afw")
    _damage_anno(root, 1, column, _cell(value, GOOD[column]))  # image 1001.jpg's first of two faces
    ds = datasets.create("afw", {}, data_dir=str(root))
    assert [s.id for s in ds] == ["1000_1", "1001_2", "1002_1", "1003_1"]
    assert ds.invalid == [("1001_1", reason)]


@pytest.mark.parametrize("column, value, why", [
    (0, np.array([[1.0, 2.0]]), "row 1: the image name (anno{1,1}) is not text (ndarray of float64)"),
    (0, np.array(["../x.jpg"]), "row 1: the image name (anno{1,1}) '../x.jpg' is not a file name"),
    (2, np.empty((1, 0), dtype=object), "row 1 (1000.jpg) has 1 boxes but 0 poses"),
])
def test_a_damaged_row_is_one_line_naming_the_file_and_row(tmp_path, column, value, why):
    from cli_fixtures import one_line_error, run_cli

    root = write_afw(tmp_path / "afw")
    _damage_anno(root, 0, column, value)
    line = one_line_error(run_cli("run", "-m", "gt-landmarks", "-d", "afw", "--data-dir", str(root),
                                  "--results-dir", str(tmp_path / "res")), 1)
    assert f"{root / 'anno.mat'}: {why}" in line and "unexpected" not in line
    assert not (tmp_path / "res" / "runs").exists()
