"""Ground truth range checks (posebench.labels.check_labels), applied by the registry to every
dataset it creates: a non-finite angle is a recorded per-sample failure, labels in the wrong
unit are one line."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import scipy.io as sio
from PIL import Image

from cli_fixtures import one_line_error, run_cli
from data_fixtures import make_aflw2000_folder
from posebench.errors import DataError
from posebench.evaluation.runner import evaluate
from posebench.method import Method
from posebench.registry import datasets


def _aflw(root, yaws):
    """An aflw.sqlite in the official schema, one face per yaw (radians) on one 64x48 image."""
    (root / "flickr" / "0").mkdir(parents=True)
    Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(root / "flickr" / "0" / "a.jpg")
    con = sqlite3.connect(root / "aflw.sqlite")
    con.executescript("""
    CREATE TABLE FaceImages (image_id INTEGER PRIMARY KEY, db_id TEXT, file_id TEXT, filepath TEXT,
                             bw INTEGER, width INTEGER, height INTEGER);
    CREATE TABLE Faces (face_id INTEGER PRIMARY KEY, file_id TEXT, db_id TEXT);
    CREATE TABLE FacePose (face_id INTEGER, roll FLOAT, pitch FLOAT, yaw FLOAT, annot_type_id INTEGER);
    CREATE TABLE FaceRect (face_id INTEGER, x INTEGER, y INTEGER, w INTEGER, h INTEGER, annot_type_id INTEGER);
    """)
    con.execute("INSERT INTO FaceImages VALUES (1, 'flickr', '1', '0/a.jpg', 0, 64, 48)")
    for i, yaw in enumerate(yaws):
        con.execute("INSERT INTO Faces VALUES (?, '1', 'flickr')", (10 + i,))
        con.execute("INSERT INTO FacePose VALUES (?, 0.1, -0.2, ?, 1)", (10 + i, yaw))
        con.execute("INSERT INTO FaceRect VALUES (?, 5, 6, 20, 30, 1)", (10 + i,))
    con.commit()
    con.close()
    return root


class Frontal(Method):
    name, needs = "frontal", frozenset({"image"})

    def estimate_one(self, face):
        from posebench.pose import Pose

        return Pose(0.0, 0.0, 0.0)


def test_a_non_finite_label_is_a_recorded_failure_not_an_evaluated_sample(tmp_path):
    """An AFLW face with yaw = +inf counted as evaluated (its error inf entered nothing visible);
    it is now a per-sample failure the run records and counts."""
    ds = datasets.create("aflw", data_dir=str(_aflw(tmp_path / "aflw", [0.5, float("inf"), float("nan"), -0.3])))
    assert [s.id for s in ds] == ["10", "13"]
    assert [(sid, why.split(" (")[0]) for sid, why in ds.invalid] == [("11", "non-finite label"), ("12", "non-finite label")]
    assert "yaw=inf" in ds.invalid[0][1]
    res = evaluate(Frontal(), ds, tmp_path / "res", progress=False)
    assert res.record["n_evaluated"] == 2 and res.record["n_failed"] == 2
    assert np.isfinite(res.record["summary"]["mae"])


def test_an_angle_no_sample_labels_is_not_a_failure_but_nan_in_a_labelled_one_is():
    """AFW labels yaw alone (pitch and roll NaN in every sample, by design): every face is kept.
    A NaN yaw beside them (an angle the dataset does label) is that face's recorded failure.
    (The check first refused every AFW face as a non-finite label.)"""
    from posebench.datasets.base import Dataset, Sample
    from posebench.labels import check_labels
    from posebench.pose import Pose

    nan = float("nan")
    afw = Dataset("afw-like", "t-v1", [Sample(f"s{i}", Pose(y, nan, nan), (64, 64)) for i, y in enumerate([10.0, -20.0, nan, 30.0])])
    check_labels(afw)
    assert [s.id for s in afw.samples] == ["s0", "s1", "s3"]
    assert [sid for sid, _ in afw.invalid] == ["s2"]
    full = Dataset("full", "t-v1", [Sample("a", Pose(1.0, 2.0, 3.0), (64, 64)), Sample("b", Pose(1.0, nan, 3.0), (64, 64))])
    check_labels(full)
    assert [s.id for s in full.samples] == ["a"] and full.invalid[0][0] == "b"


def test_labels_in_degrees_where_radians_belong_are_one_line(tmp_path):
    """AFLW2000 files whose Pose_Para hold degrees (the format has radians) read as 573-2865
    degree truths and were stored as a valid run with filter=none; now one line, nothing stored."""
    folder = tmp_path / "aflw2000"
    make_aflw2000_folder(folder)
    for mat in sorted(folder.glob("*.mat")):
        m = sio.loadmat(mat)
        m["Pose_Para"][0, :3] = np.degrees(m["Pose_Para"][0, :3])
        sio.savemat(mat, {k: v for k, v in m.items() if not k.startswith("__")})
    with pytest.raises(DataError, match=r"5 of 5 labels have an angle beyond \+-180 degrees: the labels are in the wrong unit"):
        datasets.create("aflw2000", {"filter": "none"}, data_dir=str(folder))
    r = run_cli("run", "-m", "gt-landmarks", "-d", "aflw2000", "--data-dir", str(folder), "--dataset-option", "filter=none",
                "--results-dir", str(tmp_path / "res"))
    assert "wrong unit" in one_line_error(r, 1)
    assert not (tmp_path / "res" / "runs").exists() or not any((tmp_path / "res" / "runs").iterdir())


def test_a_few_official_out_of_range_labels_are_kept_for_the_protocol_to_filter(aflw_labels):
    """9 of AFLW2000-3D's 2000 official labels reach 351-972 degrees: kept (the +-99 filter drops
    them), not taken for a unit mix-up."""
    ds = datasets.create("aflw2000", {"filter": "none"}, data_dir=str(aflw_labels))
    assert len(ds) == 2000 and ds.invalid == []
    assert sum(np.max(np.abs(s.pose.as_array())) > 180 for s in ds) == 9
