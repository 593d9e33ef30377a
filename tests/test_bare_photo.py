"""A bare photo in, a pose out: every image method finds the face itself (``estimate(image)``
without a box, ``estimate_faces``), the default detector, the YuNet catalogue entry, quiet
OpenCV, and the benches' defaults. Real AFLW2000 images from ../shared (skipped when absent);
networks without real weights here run on weights the tests make (plumbing only)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED
from posebench.datasets.base import Dataset, Sample
from posebench.errors import SampleFailure
from posebench.imageio import read_image
from posebench.method import Estimate, create_method
from posebench.metrics import angle_errors
from posebench.registry import methods as registry

YUNET = SHARED / "models" / "yunet" / "yunet_n_dynamic.onnx"
FSANET = SHARED / "models" / "fsanet"
WHENET = SHARED / "models" / "whenet" / "WHENet.h5"
TDDFA = SHARED / "models" / "3ddfa_v2" / "mb05_120x120.pth"
MEDIAPIPE = SHARED / "models" / "mediapipe"
IMAGE_METHODS = sorted(e.name for e in registry.entries() if "image" in e.needs)


def _photo(aflw_sample: Path, name: str = "image00002") -> np.ndarray:
    return read_image(aflw_sample / f"{name}.jpg")


def _with_yunet(monkeypatch) -> None:
    """Install the shared YuNet file *in place* (a link) where posebench looks for it."""
    if not YUNET.is_file():
        pytest.skip(f"YuNet model not found: {YUNET}")
    target = Path(os.environ["POSEBENCH_WEIGHTS"]) / "yunet" / "yunet_n_dynamic.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(YUNET)


def _method(name: str, tmp_path: Path):
    """A registered image method, with test-made weights where real ones are absent here."""
    if name == "onnx-headpose":
        if not FSANET.is_dir():
            pytest.skip(f"FSA-Net models not found: {FSANET}")
        return create_method(name, {"model_dir": str(FSANET)})
    if name == "whenet":
        if not WHENET.is_file():
            pytest.skip(f"WHENet weights not found: {WHENET}")
        return create_method(name, {"weights": str(WHENET)})
    if name == "3ddfa-v2":
        if not TDDFA.is_file():
            pytest.skip(f"3DDFA_V2 weights not found: {TDDFA}")
        return create_method(name, {"weights": str(TDDFA)})
    if name == "mediapipe":
        if not (MEDIAPIPE / "face_landmark.tflite").is_file():
            pytest.skip(f"MediaPipe models not found: {MEDIAPIPE}")
        pytest.importorskip("ai_edge_litert", reason="LiteRT (ai-edge-litert) not installed")
        return create_method(name, {"model": str(MEDIAPIPE / "face_landmark.tflite"),
                                    "detector_model": str(MEDIAPIPE / "face_detection_short_range.tflite")})
    if name == "fan":
        import torch
        from face_alignment.models import FAN

        from posebench.methods.fan import FAN_FILE

        torch.manual_seed(0)
        path = tmp_path / FAN_FILE
        torch.save(FAN(4).state_dict(), path)
        return create_method(name, {"weights": str(path), "flip": "false"})
    if name in ("hopenet", "hopenet-alexnet", "resnet50-regression"):
        import torch

        from posebench.methods.hopenet import nets

        path = tmp_path / f"{name}_seeded.pkl"
        torch.save(nets.seeded_weights(name, seed=0), path)
        return create_method(name, {"weights": str(path), "engine": "torch"})
    from method_fixtures import MADE_OPTIONS  # methods whose test-made weights the contract tests share
    from posebench.errors import WeightsError

    try:
        return create_method(name, MADE_OPTIONS[name]() if name in MADE_OPTIONS else {})
    except WeightsError as exc:  # as the contract tests: a method whose weights are not here and not made
        pytest.skip(f"{name}: weights absent here: {str(exc).splitlines()[0]}")


@pytest.mark.parametrize("name", IMAGE_METHODS)
def test_every_image_method_takes_a_bare_photo(name, aflw_sample, tmp_path):
    m = _method(name, tmp_path)
    pose = m.estimate(_photo(aflw_sample))
    assert isinstance(pose, Estimate) and pose.is_finite()
    assert pose.info["detector"] in ("dlib-hog", "yunet", "dlib-cnn", "mediapipe", "img2pose")  # img2pose: its own detections


@pytest.mark.parametrize("name", ["dlib", "onnx-headpose", "whenet", "3ddfa-v2", "mediapipe"])
def test_bare_photos_score_like_the_run(name, aflw_sample, tmp_path, monkeypatch):
    """On the 37 in-protocol sample images, without any box: dlib (HOG, its own detector) and
    FSA-Net and WHENet (default detector = YuNet when installed) stay within the runs' bound (< 6 deg)."""
    from posebench.registry import datasets

    if name in ("onnx-headpose", "whenet", "3ddfa-v2"):
        _with_yunet(monkeypatch)
    m = _method(name, tmp_path)
    ds = datasets.create("aflw2000", data_dir=str(aflw_sample))
    preds, truth = [], []
    for s in ds.samples:
        try:
            p = m.estimate(read_image(s.image_path))
        except SampleFailure as exc:
            assert exc.reason == "no face found"
            continue
        preds.append(p.as_array())
        truth.append(s.pose.as_array())
    assert len(ds.samples) == 37 and len(preds) >= 30
    assert angle_errors(np.array(preds), np.array(truth)).mean() < 6.0


@pytest.mark.parametrize("name", ["dlib", "onnx-headpose"])
def test_estimate_faces_on_two_real_faces_side_by_side(name, aflw_sample, tmp_path, monkeypatch):
    if name == "onnx-headpose":
        _with_yunet(monkeypatch)
    m = _method(name, tmp_path)
    left, right = _photo(aflw_sample, "image00002"), _photo(aflw_sample, "image00008")
    both = np.concatenate([left, right], axis=1)
    w = left.shape[1]
    # The single-face answer of each face: the same canvas with the other photo blacked out (the
    # crops of FSA-Net reach past a 450 px photo's border, so a face's own photo alone would
    # give its crop other pixels at the edge than the canvas does).
    alone = [both.copy(), both.copy()]
    alone[0][:, w:] = 0
    alone[1][:, :w] = 0
    single = [m.estimate(img) for img in alone]
    faces = m.estimate_faces(both)
    assert len(faces) == 2
    by_x = sorted(faces, key=lambda bp: bp[0][0])
    assert by_x[0][0][2] <= w <= by_x[1][0][0]  # one face on each side
    for (box, pose), ref in zip(by_x, single):
        assert np.abs(angle_errors(pose.as_array()[None], ref.as_array()[None])).max() < 1.0


def test_largest_face_is_chosen(aflw_sample):
    m = create_method("dlib", {})
    big = _photo(aflw_sample, "image00002")
    small = big[::2, ::2]
    canvas = np.zeros((450, 450 + 225, 3), np.uint8)
    canvas[:, :450] = big
    canvas[:225, 450:] = small
    pose = m.estimate(canvas)
    assert pose.as_array() == pytest.approx(m.estimate(big).as_array(), abs=1.0)


def test_default_detector_is_hog_offline_and_yunet_when_installed(monkeypatch):
    from posebench.detect import default_detector

    assert default_detector().name == "dlib-hog"
    _with_yunet(monkeypatch)
    assert default_detector().name == "yunet"


def test_run_without_protocol_boxes_detects_and_records_the_detector(aflw_sample, tmp_path):
    from posebench.evaluation.runner import evaluate
    from posebench.registry import datasets

    if not FSANET.is_dir():
        pytest.skip(f"FSA-Net models not found: {FSANET}")
    src = datasets.create("aflw2000", data_dir=str(aflw_sample)).subset(4)
    blank = tmp_path / "blank.png"
    import cv2

    cv2.imwrite(str(blank), np.full((120, 120, 3), 90, np.uint8))
    samples = [Sample(id=s.id, pose=s.pose, image_size=s.image_size, image_path=s.image_path) for s in src.samples]
    samples.append(Sample(id="blank", pose=src.samples[0].pose, image_size=(120, 120), image_path=blank))
    ds = Dataset("photos", "none", samples, tmp_path, {})
    res = evaluate(_method("onnx-headpose", tmp_path), ds, tmp_path / "results", progress=False)
    found = res.record["detectors"].get("dlib-hog", 0)
    assert set(res.record["detectors"]) == {"dlib-hog"} and found >= 3
    assert res.record["failures"] == {"no face found": 5 - found}
    ok = res.samples["failure"] == ""
    assert set(res.samples.loc[ok, "detector"]) == {"dlib-hog"}
    assert res.samples.set_index("id").loc["blank", "failure"] == "no face found"


def test_yunet_logs_nothing_on_the_terminal(capfd, aflw_sample):
    from posebench.detect import YuNet

    if not YUNET.is_file():
        pytest.skip(f"YuNet model not found: {YUNET}")
    found = YuNet(YUNET).detect(_photo(aflw_sample))
    assert len(found) >= 1
    err = capfd.readouterr().err
    assert "WARN" not in err and "setPreferableTarget" not in err


def test_yunet_catalogue_entry_verifies_its_checksum(tmp_path):
    from click.testing import CliRunner

    from posebench.cli import main

    if not YUNET.is_file():
        pytest.skip(f"YuNet model not found: {YUNET}")
    root = tmp_path / "w"
    res = CliRunner().invoke(main, ["data", "prepare", "yunet", "--from", str(YUNET), "--root", str(root)])
    assert res.exit_code == 0, res.output
    assert (root / "yunet" / "yunet_n_dynamic.onnx").read_bytes() == YUNET.read_bytes()
    bad = tmp_path / "yunet_n_dynamic.onnx"
    bad.write_bytes(YUNET.read_bytes()[:-1] + b"x")
    res = CliRunner().invoke(main, ["data", "prepare", "yunet", "--from", str(bad), "--root", str(tmp_path / "v")])
    assert res.exit_code != 0 and "SHA-256" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("bench", [["bench", "methods"], ["bench", "hopenet"], ["bench", "whenet"]])
def test_benches_default_to_the_data_root_and_name_the_data_command(bench, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from posebench.cli import main

    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, bench)
    assert res.exit_code != 0
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "posebench data download aflw2000" in lines[0], res.output
    assert "shared" not in lines[0]
