"""posebench's MTCNN port against facenet-pytorch's own output (scripts/mtcnn_reference.py ->
tests/data/mtcnn_reference.json): seeded weights in facenet-pytorch's .pt layout always, the real
weights when POSEBENCH_MTCNN_WEIGHTS names the folder holding the wheel's pnet.pt/rnet.pt/onet.pt."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from posebench.mtcnn import NET_FILES, ONet, PNet, RNet, detect_faces, load_nets

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((ROOT / "tests" / "data" / "mtcnn_reference.json").read_text())
SAMPLE = ROOT.parent / "shared" / "data" / "AFLW2000-sample"


def _script():
    spec = importlib.util.spec_from_file_location("mtcnn_reference", ROOT / "scripts" / "mtcnn_reference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _seeded(folder: Path) -> Path:
    shapes = {n: {k: tuple(v.shape) for k, v in net.state_dict().items()} for n, net in zip(NET_FILES, (PNet(), RNet(), ONet()))}
    for net, state in _script().seeded_state_dicts(shapes).items():
        torch.save(state, folder / f"{net}.pt")
    return folder


def _image(name: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(SAMPLE / name).convert("RGB"))


def _check(nets, label: str) -> None:
    dets = REFERENCE["weights"][label]["detections"]
    for name, ref in dets.items():
        got = detect_faces(_image(name), nets)
        assert len(got) == len(ref["boxes"]), name
        for box, prob, marks in zip(ref["boxes"], ref["probs"], ref["landmarks"]):
            # facenet-pytorch's detect() orders faces largest first, the port by score: match by box
            d = min(got, key=lambda g: float(np.abs(np.subtract(g.box, box)).sum()))
            assert np.abs(np.subtract(d.box, box)).max() < 1e-2, name
            assert abs(d.score - prob) < 1e-5, name
            assert np.abs(d.landmarks - np.asarray(marks)).max() < 1e-2, name


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="../shared/data/AFLW2000-sample absent")
def test_seeded_weights_give_facenet_pytorchs_boxes(tmp_path):
    folder = _seeded(tmp_path)
    sha = {n: hashlib.sha256((folder / f"{n}.pt").read_bytes()).hexdigest() for n in NET_FILES}
    assert sha == REFERENCE["weights"]["seeded"]["sha256"]  # the very files facenet-pytorch ran on
    assert sum(len(v["boxes"]) for v in REFERENCE["weights"]["seeded"]["detections"].values()) > 0
    _check(load_nets({n: folder / f"{n}.pt" for n in NET_FILES}), "seeded")


@pytest.mark.skipif(not os.environ.get("POSEBENCH_MTCNN_WEIGHTS"),
                    reason="POSEBENCH_MTCNN_WEIGHTS (folder of facenet-pytorch's pnet/rnet/onet.pt) not set")
def test_real_weights_give_facenet_pytorchs_boxes():
    folder = Path(os.environ["POSEBENCH_MTCNN_WEIGHTS"])
    _check(load_nets({n: folder / f"{n}.pt" for n in NET_FILES}), "real")


def test_detector_reads_its_files_and_fails_in_one_line(tmp_path):
    from posebench.detect import Mtcnn
    from posebench.errors import WeightsError

    assert Mtcnn.files({"model": str(tmp_path)}) == {n: tmp_path / f"{n}.pt" for n in NET_FILES}
    with pytest.raises(WeightsError):
        Mtcnn(model=str(tmp_path))
    for n in NET_FILES:
        (tmp_path / f"{n}.pt").write_bytes(b"not a state dict")
    with pytest.raises(WeightsError, match="not facenet-pytorch's pnet.pt"):
        Mtcnn(model=str(tmp_path))
    _seeded(tmp_path)
    found = Mtcnn(model=str(tmp_path)).detect(np.zeros((60, 80, 3), np.uint8))
    assert all(len(b) == 4 and 0 <= s <= 1 for b, s in found)
