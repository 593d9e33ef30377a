"""AFLW reader on an ``aflw.sqlite`` written here in the official schema; the split list's
SHA-256 names the protocol; a method whose output equals the labels scores 0 degrees."""

from __future__ import annotations

import hashlib
import sqlite3

import numpy as np
import pytest
from PIL import Image

from posebench.datasets.aflw import load_aflw
from posebench.errors import DataError
from posebench.evaluation.runner import evaluate
from posebench.method import Method

FACES = [  # face_id, file_id, filepath, yaw, pitch, roll (radians)
    (10, 1, "0/image00002.jpg", 0.5, -0.2, 0.1),
    (11, 1, "0/image00002.jpg", -0.3, 0.1, -0.4),
    (12, 2, "2/image13.jpg", 2.0, 0.0, 0.0),  # 114.6 degrees: out of the +-99 range
    (13, 3, "3/image14.jpg", 0.0, 0.3, 0.2),
]


def write_aflw(root):
    (root / "flickr").mkdir(parents=True)
    con = sqlite3.connect(root / "aflw.sqlite")
    con.executescript("""
    CREATE TABLE FaceImages (image_id INTEGER PRIMARY KEY, db_id TEXT, file_id TEXT, filepath TEXT,
                             bw INTEGER, width INTEGER, height INTEGER);
    CREATE TABLE Faces (face_id INTEGER PRIMARY KEY, file_id TEXT, db_id TEXT);
    CREATE TABLE FacePose (face_id INTEGER, roll FLOAT, pitch FLOAT, yaw FLOAT, annot_type_id INTEGER);
    CREATE TABLE FaceRect (face_id INTEGER, x INTEGER, y INTEGER, w INTEGER, h INTEGER, annot_type_id INTEGER);
    """)
    seen = set()
    for face_id, file_id, path, yaw, pitch, roll in FACES:
        if file_id not in seen:
            seen.add(file_id)
            con.execute("INSERT INTO FaceImages VALUES (?,?,?,?,?,?,?)", (file_id, "flickr", str(file_id), path, 0, 64, 48))
            (root / "flickr" / path).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((48, 64, 3), file_id, np.uint8)).save(root / "flickr" / path)
        con.execute("INSERT INTO Faces VALUES (?,?,?)", (face_id, str(file_id), "flickr"))
        con.execute("INSERT INTO FacePose VALUES (?,?,?,?,1)", (face_id, roll, pitch, yaw))
        con.execute("INSERT INTO FaceRect VALUES (?,?,?,?,?,1)", (face_id, 5, 6, 20, 30))
    con.commit()
    con.close()
    return root


class Oracle(Method):
    """Answers each face's label (looked up by id): the known answer is 0 degrees."""

    name, needs = "oracle", frozenset({"image"})

    def __init__(self, truth):
        super().__init__()
        self.truth = truth

    def estimate_one(self, face):
        return self.truth[face.id]


def test_reader_official_schema(tmp_path):
    ds = load_aflw(write_aflw(tmp_path / "aflw"))
    assert [s.id for s in ds] == ["10", "11", "12", "13"] and ds.protocol == "aflw-all-v1"
    s = ds.samples[0]
    assert s.pose.as_array() == pytest.approx(np.degrees([0.5, -0.2, -0.1]))  # roll negated
    assert s.box == (5.0, 6.0, 25.0, 36.0) and s.image_size == (64, 48) and s.image_path.is_file()
    assert len(load_aflw(tmp_path / "aflw", filter="99")) == 3


def test_split_list_checksum_in_protocol(tmp_path):
    root = write_aflw(tmp_path / "aflw")
    lst = tmp_path / "aflw_test.txt"
    lst.write_text("# test faces\n13\n0/image00002\n")
    ds = load_aflw(root, split=str(lst))
    sha = hashlib.sha256(lst.read_bytes()).hexdigest()
    assert sorted(s.id for s in ds) == ["10", "11", "13"]
    assert ds.parameters["split_sha256"] == sha and ds.protocol == f"aflw-list{sha[:12]}-v1"
    lst.write_text("99\n")
    with pytest.raises(DataError, match="not in aflw.sqlite"):
        load_aflw(root, split=str(lst))


def test_labels_equal_output_score_zero(tmp_path):
    ds = load_aflw(write_aflw(tmp_path / "aflw"))
    res = evaluate(Oracle({s.id: s.pose for s in ds}), ds, tmp_path / "res", progress=False)
    assert res.record["n_failed"] == 0 and res.record["summary"]["mae"] == pytest.approx(0.0, abs=1e-9)


def test_not_a_database(tmp_path):
    (tmp_path / "aflw.sqlite").write_text("nope")
    with pytest.raises(DataError):
        load_aflw(tmp_path)
