"""SynergyNet: the authors' checkpoint layout, crop, normalisation and pose, exactly.

``scripts/synergynet_reference.py`` ran the authors' own code (choyingw/SynergyNet 9de11e2) with a
seeded checkpoint in their layout on the 37 in-protocol images of AFLW2000-sample; its outputs are
``tests/data/synergynet_reference.json``. Here the same tensors are written in that layout without
the authors' code (:mod:`synergynet_fixtures`), and posebench's ``synergynet`` must give the same
ROIs, the same crops and network inputs byte for byte, and angles within 1e-3 deg (both engines).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from synergynet_fixtures import REFERENCE, write_seeded_checkpoint

from conftest import shared_path
from posebench.errors import WeightsError
from posebench.method import FaceInput, create_method

TOLERANCE_DEG = 1e-3


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return write_seeded_checkpoint(tmp_path_factory.mktemp("synergynet") / "best.pth.tar")


@pytest.fixture(scope="module")
def reference():
    from posebench.datasets.aflw2000 import load_aflw2000
    from posebench.imageio import read_image

    ref = json.loads(REFERENCE.read_text())
    ds = load_aflw2000(shared_path("data", "AFLW2000-sample"), filter="none")
    samples = [s for s in ds.samples if s.id in ref["images"]]
    assert len(samples) == len(ref["images"]) == 37
    return ref, samples, {s.id: read_image(s.image_path) for s in samples}


def test_both_engines_give_the_authors_angles(seeded, reference, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("POSEBENCH_DATA", str(tmp_path / "data"))  # the ONNX export's cache
    ref, samples, images = reference
    want = np.array([ref["images"][s.id]["angles"] for s in samples])
    for engine in ("torch", "onnxruntime"):
        m = create_method("synergynet", {"weights": str(seeded), "engine": engine})
        faces = [FaceInput(images[s.id], s.image_size, s.box, s.landmarks, id=s.id) for s in samples]
        got = np.array([p.as_array() for p in m.estimate_batch(faces)])
        worst = float(np.abs(got - want).max())
        with capsys.disabled():
            print(f"\nSynergyNet {engine} vs the authors' code: 37 images, max |angle difference| = {worst:.2e} deg")
        assert worst < TOLERANCE_DEG, (engine, worst)
    assert np.abs(want).max() > 20  # the seeded poses are not all frontal: the comparison can fail


def test_roi_crop_and_network_input_are_the_authors_arrays(seeded, reference):
    from posebench.methods.synergynet.preprocess import network_input, roi_from_box, rotation_of, to_batch

    ref, samples, images = reference
    for s in samples:
        r = ref["images"][s.id]
        roi = roi_from_box(s.box)  # posebench's aflw2000 protocol box; the script computed it on its own
        assert roi == pytest.approx(r["roi"], abs=1e-9), s.id
        crop = network_input(images[s.id], roi)
        assert hashlib.sha256(np.ascontiguousarray(crop[..., ::-1]).tobytes()).hexdigest() == r["crop_sha256"], s.id
        assert hashlib.sha256(to_batch([crop]).tobytes()).hexdigest() == r["input_sha256"], s.id
    m = create_method("synergynet", {"weights": str(seeded), "engine": "torch"})
    s = samples[0]
    param = m.params([network_input(images[s.id], roi_from_box(s.box))])[0]
    assert param.dtype == np.float32 and param.shape == (62,)
    # float32 kernels differ between CPUs: 1.4e-5 relative on one of 62 parameters seen on another machine
    assert param == pytest.approx(np.array(ref["images"][s.id]["param"]) * m.std + m.mean, rel=1e-4, abs=1e-4)
    assert rotation_of(param) == pytest.approx(np.array(ref["images"][s.id]["R"]), abs=1e-5)


def test_checkpoint_statistics_are_read_from_the_file(seeded):
    from posebench.methods.synergynet.weights import load_synergynet

    _, mean, std = load_synergynet(seeded)
    stats = shared_path("data", "face-model")
    assert np.array_equal(mean, np.loadtxt(stats / "param_mean.txt", dtype=np.float32)[:62])
    assert np.array_equal(std, np.loadtxt(stats / "param_std.txt", dtype=np.float32)[:62])


def test_wrong_or_missing_files_are_one_line_errors(seeded, tmp_path, monkeypatch):
    monkeypatch.setenv("POSEBENCH_WEIGHTS", str(tmp_path / "none"))
    with pytest.raises(WeightsError, match="posebench data prepare synergynet"):
        create_method("synergynet", {})
    state = torch.load(seeded, weights_only=True)["state_dict"]
    for drop, message in (("module.I2P.backbone.classifier_ori.1.weight", "no tensor"), ("module.param_std", "param_std")):
        bad = tmp_path / f"bad-{drop.rsplit('.', 2)[-2]}.pth.tar"
        torch.save({"epoch": 0, "state_dict": {k: v for k, v in state.items() if k != drop}}, bad)
        with pytest.raises(WeightsError, match=message) as exc:
            create_method("synergynet", {"weights": str(bad), "engine": "torch"})
        assert "\n" not in str(exc.value)


def test_describe_names_the_crop_and_the_box(seeded):
    m = create_method("synergynet", {"weights": str(seeded), "engine": "torch"})
    assert m.describe() == "authors' crop (square of 1.2x the box height) of the sample's box, a detector on a bare photo"
    assert set(m.identity()["files"]) == {"weights"}


def test_export_writes_an_onnx_model_that_gives_the_authors_angles(seeded, reference, tmp_path):
    """``posebench export synergynet``: onnxruntime on the written file, fed the authors' network
    input of two images, gives their rotations."""
    import onnxruntime as ort
    from click.testing import CliRunner

    from posebench.cli import main
    from posebench.methods.synergynet.preprocess import network_input, roi_from_box, rotation_of, to_batch

    out = tmp_path / "synergynet.onnx"
    res = CliRunner().invoke(main, ["export", "synergynet", "--weights", str(seeded), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "max rotation difference" in res.output and out.is_file()
    ref, samples, images = reference
    x = to_batch([network_input(images[s.id], roi_from_box(s.box)) for s in samples[:2]])
    params = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(["params"], {"image": x})[0]
    for s, p in zip(samples[:2], params):
        assert rotation_of(p) == pytest.approx(np.array(ref["images"][s.id]["R"]), abs=1e-5)


def test_prepare_installs_the_checkpoint_after_loading_it_and_refuses_another_file(seeded, tmp_path, monkeypatch):
    """``posebench data prepare synergynet --from FILE``: the catalogue's check loads the backbone and
    the statistics; a state dict of another network is refused and nothing is installed."""
    import os
    from pathlib import Path

    from click.testing import CliRunner

    from posebench.cli import main

    dest = Path(os.environ["POSEBENCH_WEIGHTS"]) / "synergynet" / "best.pth.tar"
    wrong = tmp_path / "best.pth.tar"
    torch.save({"epoch": 0, "state_dict": {"module.conv1.weight": torch.zeros(8, 3, 3, 3)}}, wrong)
    res = CliRunner().invoke(main, ["data", "prepare", "synergynet", "--from", str(wrong)])
    assert res.exit_code == 1 and "not a SynergyNet checkpoint" in res.output and not dest.exists()
    res = CliRunner().invoke(main, ["data", "prepare", "synergynet", "--from", str(seeded)])
    assert res.exit_code == 0, res.output
    assert "318 tensors and the 62 parameter statistics" in res.output and dest.read_bytes() == seeded.read_bytes()
    assert create_method("synergynet", {"engine": "torch"}).weights_path == dest  # the default look-up finds it
