"""FSA-Net's BIWI subset (posebench.datasets.biwi_fsa): the authors' rules of
shamangary/FSA-Net data/TYY_create_db_biwi.py on a scripted fixture whose kept frames and crops
are worked out by hand in the comments."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posebench.datasets.biwi import load_biwi
from posebench.datasets.biwi_fsa import fsa_crop, fsa_select, mtcnn_box
from posebench.detect import Detector
from posebench.errors import UsageError
from posebench.evaluation.runner import evaluate
from posebench.method import Method
from posebench.pose import euler_to_matrix
from posebench.registry import Entry, detectors

SIZE = (640, 480)
A = (300.0, 200.0, 400.0, 320.0)  # crop: x 300-40, y 200-48, 400+40, 320+48 -> (260, 152, 441, 369)
CROP_A = (260.0, 152.0, 441.0, 369.0)
FLOAT = (300.7, 200.9, 400.2, 320.5)  # mtcnn: (300, 200, w 99, h 119) -> (260, 152, 439, 367)
CROP_FLOAT = (260.0, 152.0, 439.0, 367.0)
# (recording, frame) -> detections; the frame's expected crop (None: dropped) and why
SCRIPT = {
    ("01", 0): ([(A, 0.99)], CROP_A),                                   # first frame: kept
    ("01", 1): ([(A, 0.99), ((10, 10, 60, 70), 0.95)], CROP_A),         # corner nearest (2W/3, 2H/3) wins
    ("01", 2): ([], None),                                               # no detection: dropped
    ("01", 3): ([(A, 0.5)], CROP_A),                                     # none > 0.90: the last crop, kept
    ("01", 4): ([((420, 200, 520, 320), 0.99)], None),                   # xw1 380, jump 120 >= 80: dropped
    ("01", 5): ([(A, 0.8)], None),                                       # stale crop of frame 4: still a jump
    ("01", 6): ([((320, 200, 420, 320), 0.99)], (280.0, 152.0, 461.0, 369.0)),  # jump 20 from 260: kept
    ("01", 7): ([(FLOAT, 0.91)], CROP_FLOAT),                            # whole-pixel box as mtcnn reports it
    ("01", 8): ([(A, 0.90)], CROP_FLOAT),                                # exactly 0.90 is not > 0.90: stale
    ("02", 0): ([(A, 0.5)], CROP_FLOAT),                                 # first frame: the previous recording's crop
    ("02", 1): ([((600, 420, 660, 490), 0.99)], None),                   # (576, 392, 640, 480) clipped; jump: dropped
}
KEYS = sorted(SCRIPT)


class Scripted(Detector):
    """Returns SCRIPT's detections for the frame whose index is written in pixel (0, 0)."""

    name = "scripted"

    def detect(self, image):
        return SCRIPT[KEYS[int(image[0, 0, 0])]][0]


def write_frames(root):
    rng = np.random.default_rng(5)
    for k, (rec, frame) in enumerate(KEYS):
        d = root / rec
        d.mkdir(parents=True, exist_ok=True)
        R = euler_to_matrix(*rng.uniform(-40, 40, 3))
        rows = [" ".join(f"{v:.9f}" for v in row) for row in R]
        (d / f"frame_{frame:05d}_pose.txt").write_text("\n".join(rows) + "\n\n0 0 900\n")
        img = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
        img[0, 0] = k
        cv2.imwrite(str(d / f"frame_{frame:05d}_rgb.png"), img)
    return root


@pytest.fixture
def scripted(monkeypatch):
    detectors.names()
    monkeypatch.setitem(detectors._entries, "scripted", Entry("scripted", Scripted, "test", frozenset()))


def test_crop_rule_known_answers():
    assert mtcnn_box(FLOAT) == (300, 200, 99, 119)
    assert fsa_crop(A, SIZE) == CROP_A and fsa_crop(FLOAT, SIZE) == CROP_FLOAT
    assert fsa_crop((600, 420, 660, 490), SIZE) == (576.0, 392.0, 640.0, 480.0)  # clipped to W-1, H-1
    assert fsa_crop((-10, -5, 90, 95), SIZE) == (0.0, 0.0, 131.0, 136.0)  # x2 90 + 40, y2 95 + 40, half-open


def test_select_follows_the_authors_rules():
    recs = [[(SIZE, SCRIPT[k][0]) for k in KEYS if k[0] == r] for r in ("01", "02")]
    got = [c for rec in fsa_select(recs) for c in rec]
    assert [c and c[1] for c in got] == [SCRIPT[k][1] for k in KEYS]
    assert got[0][0] == A and got[7][0] == (300.0, 200.0, 399.0, 319.0) and got[8] == got[7]
    assert fsa_select([[(SIZE, [(A, 0.5)])]]) == [[None]]  # no confident crop yet: dropped


def test_protocol_keeps_the_subset_with_its_crop(tmp_path, scripted):
    root = write_frames(tmp_path / "b")
    every = load_biwi(root)
    fsa = load_biwi(root, protocol="fsa-mtcnn", detector="scripted")
    want = {f"{r}/frame_{f:05d}": c for (r, f), (_, c) in SCRIPT.items() if c is not None}
    assert fsa.protocol == "biwi-fsa-scripted-v1" and fsa.parameters["detector"] == "scripted"
    assert {s.id: tuple(s.meta["fsa_crop"]) for s in fsa} == want and len(fsa) == 7 and fsa.excluded == 4
    assert all(fsa_crop(s.box, SIZE) == tuple(s.meta["fsa_crop"]) for s in fsa)  # the box the crop came from
    truth = {s.id: s.pose for s in every}
    assert all(s.pose == truth[s.id] for s in fsa)  # the labels are protocol 1's
    assert every.protocol == "biwi-v1" and all(s.box is None for s in every)
    assert fsa.fingerprint() != every.subset(None).fingerprint()


def test_unknown_detector_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="face detector must be one of"):
        load_biwi(write_frames(tmp_path / "b"), protocol="fsa-mtcnn", detector="nope")


class Oracle(Method):
    name, needs = "oracle", frozenset()

    def __init__(self, truth):
        super().__init__()
        self.truth = truth

    def estimate_one(self, face):
        return self.truth[face.id]


@pytest.mark.parametrize("euler", ["ypr", "pyr"])
def test_label_equal_output_scores_zero_on_the_subset(tmp_path, scripted, euler):
    ds = load_biwi(write_frames(tmp_path / "b"), protocol="fsa-mtcnn", detector="scripted", euler=euler)
    run = evaluate(Oracle({s.id: s.pose for s in ds}), ds, tmp_path / "res", progress=False).record
    assert run.protocol == "biwi-fsa-scripted-v1" + ("+pyr" if euler == "pyr" else "")
    assert run.n_evaluated == 7 and run.excluded_by_protocol == 4 and run.summary.mae < 1e-9
