"""WHENet: the Keras weights mapped onto timm's EfficientNet-B0 exactly.

The decisive check compares posebench's torch and onnxruntime paths with angles computed by the
authors' own Keras model (``scripts/whenet_reference.py``, TensorFlow, run once; its output is
``tests/data/whenet_keras_reference.json``) on the 40 real images of AFLW2000-sample, for all four
crop rules: crop boxes identical, angles within 1e-3 degrees.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO, shared_path
from posebench.errors import SampleFailure, WeightsError
from posebench.method import FaceInput, create_method
from whenet_fixtures import write_keras_h5

REFERENCE = REPO / "tests" / "data" / "whenet_keras_reference.json"
TOLERANCE_DEG = 1e-3


@pytest.fixture(scope="module")
def whenet_h5() -> Path:
    return shared_path("models", "whenet", "WHENet.h5")


@pytest.fixture(scope="module")
def methods(whenet_h5, tmp_path_factory):
    """Every engine on the real weights (ONNX export cached in a temporary data root); OpenVINO
    (f32) is in the dev extra, so the reference test below checks it against Keras too."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POSEBENCH_DATA", str(tmp_path_factory.mktemp("whenet-data")))
        return {e: create_method("whenet", {"weights": str(whenet_h5), "engine": e, "crop": "protocol"})
                for e in ("torch", "onnxruntime", "openvino")}


@pytest.fixture(scope="module")
def reference_faces():
    from posebench.datasets.aflw2000 import load_aflw2000
    from posebench.imageio import read_image

    ref = json.loads(REFERENCE.read_text())
    ds = load_aflw2000(shared_path("data", "AFLW2000-sample"), filter="none")
    samples = [s for s in ds.samples if s.image_path is not None]
    assert sorted(s.id for s in samples) == sorted(ref["images"])
    return ref, samples, {s.id: read_image(s.image_path) for s in samples}


def test_torch_and_onnx_match_the_authors_keras_model(methods, reference_faces, capsys):
    ref, samples, images = reference_faces
    for engine, m in methods.items():
        worst = 0.0
        for crop in ref["crops"]:  # every image with the default crop, the first 5 with the others
            some = samples if crop == "loose68" else samples[:5]
            faces = [FaceInput(images[s.id], s.image_size, tuple(ref["images"][s.id][crop]["box"]), id=s.id)
                     for s in some]
            got = np.array([[p.yaw, p.pitch, p.roll] for p in m.estimate_batch(faces)])
            want = np.array([ref["images"][s.id][crop]["angles"] for s in some])
            worst = max(worst, float(np.abs(got - want).max()))
        with capsys.disabled():
            print(f"\nWHENet {engine} vs Keras reference: {len(samples)} images (loose68) + 5 x 3 other crops, "
                  f"max |angle difference| = {worst:.2e} deg")
        assert worst < TOLERANCE_DEG, (engine, worst)


def test_crop_rules_give_the_reference_scripts_boxes(reference_faces):
    from posebench.methods.whenet.preprocess import crop_reference, sliced_box

    ref, samples, images = reference_faces
    for s in samples:
        h, w = images[s.id].shape[:2]
        for crop in ref["crops"]:
            box = sliced_box(crop_reference(crop, s.box, s.landmarks, s.points, w, h), w, h)
            assert list(box) == ref["images"][s.id][crop]["box"], (s.id, crop)


def test_protocol_crop_box_run_record_and_weights_digest(methods, reference_faces, whenet_h5):
    ref, samples, images = reference_faces
    s = samples[0]
    m = methods["torch"]
    face = FaceInput(images[s.id], s.image_size, s.box, s.landmarks, None, s.id, s.points)
    assert list(m.crop_box(face, images[s.id])) == ref["images"][s.id]["protocol"]["box"]
    assert m.identity()["options"]["crop"] == "protocol"
    assert m.weights_hash == "8f8bcf924447f7126666cf2c725a633ec2b9ae06afa4699064d3242a02401f59"


def test_decoding_puts_a_certain_bin_on_its_left_edge():
    from posebench.methods.whenet.nets import WHENetAngles

    class Fixed(torch.nn.Module):
        def forward(self, x):
            yaw, pr = torch.full((1, 120), -1e4), torch.full((1, 66), -1e4)
            yaw[0, 61] = pr[0, 33] = 0.0
            return yaw, pr, pr.clone()

    out = WHENetAngles(Fixed())(torch.zeros(1, 3, 224, 224))
    assert out.tolist() == [[3 * 61 - 180.0, 0.0, 0.0]]


# --- a Keras-layout file written from a seeded network: the mapping round trip and bad files ---


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    from posebench.methods.whenet.nets import WHENet

    torch.manual_seed(0)
    net = WHENet().eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("whenet-seeded") / "WHENet.h5"
    write_keras_h5(net, path)
    return net, path


def test_keras_layout_round_trip_is_exact(seeded):
    from posebench.methods.whenet.weights import load_whenet

    net, path = seeded
    loaded = load_whenet(path)
    want = net.state_dict()
    for k, v in loaded.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            assert torch.equal(v, want[k]), k


def test_missing_weights_name_the_download_command_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEBENCH_WEIGHTS", str(tmp_path / "w"))
    with pytest.raises(WeightsError) as exc:
        create_method("whenet", {})
    msg = str(exc.value)
    assert "posebench data download whenet" in msg and str(tmp_path / "w" / "whenet") in msg and "\n" not in msg


def test_weights_folder_is_used(seeded, tmp_path, monkeypatch):
    _, path = seeded
    (tmp_path / "w" / "whenet").mkdir(parents=True)
    shutil.copy(path, tmp_path / "w" / "whenet" / "WHENet.h5")
    monkeypatch.setenv("POSEBENCH_WEIGHTS", str(tmp_path / "w"))
    m = create_method("whenet", {"engine": "torch"})
    assert m.weights_path == tmp_path / "w" / "whenet" / "WHENet.h5"


@pytest.mark.parametrize("damage, expected", [
    ("truncate", "not a readable HDF5 file"),
    ("drop:roll_new", "no layer 'roll_new'"),
    ("drop:conv2d_5", "weighted backbone layers, expected"),
    ("reshape:batch_normalization_7", "batch_normalization_7 gives"),
    ("text", "not a readable HDF5 file"),
])
def test_bad_files_are_one_line_errors_naming_file_and_difference(seeded, tmp_path, damage, expected):
    from posebench.methods.whenet.weights import load_whenet

    net, good = seeded
    bad = tmp_path / "bad.h5"
    if damage == "truncate":
        bad.write_bytes(good.read_bytes()[: 1 << 20])
    elif damage == "text":
        bad.write_text("not weights\n")
    else:
        what, layer = damage.split(":")
        write_keras_h5(net, bad, **{what: layer})
    with pytest.raises(WeightsError) as exc:
        load_whenet(bad)
    msg = str(exc.value)
    assert expected in msg and "bad.h5" in msg and "\n" not in msg


def test_image_edge_cases(seeded):
    from posebench.methods.whenet.method import WHENetMethod

    _, path = seeded
    m = WHENetMethod(weights=str(path), engine="torch")
    rgb = np.random.default_rng(0).integers(0, 255, (120, 100, 3), dtype=np.uint8)
    box = (10.0, 10.0, 90.0, 110.0)
    base = m.estimate(rgb, box=box)
    gray = m.estimate(rgb[:, :, 0], box=box)  # converted like the other image methods
    rgba = m.estimate(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]), box=box)
    assert np.allclose(base.as_array() if hasattr(base, "as_array") else [base.yaw, base.pitch, base.roll],
                       [rgba.yaw, rgba.pitch, rgba.roll])
    assert np.isfinite([gray.yaw, gray.pitch, gray.roll]).all()
    tiny = m.estimate_batch([FaceInput(rgb[:3, :3], (3, 3), (0.0, 0.0, 3.0, 3.0))])[0]
    assert not isinstance(tiny, SampleFailure)  # a 3x3 crop is resized like any other
    outside = m.estimate_batch([FaceInput(rgb, (100, 120), (200.0, 200.0, 300.0, 300.0))])[0]
    assert isinstance(outside, SampleFailure)
    nobox = m.estimate_batch([FaceInput(rgb, (100, 120), None)])[0]
    assert isinstance(nobox, SampleFailure)


def test_engine_device_and_precision_are_recorded_and_checked(methods, whenet_h5, tmp_path):
    import onnxruntime as ort

    from posebench.errors import UsageError

    ov = methods["openvino"]
    assert ov.options["engine"] == "openvino" and ov.options["device"] == "cpu" and ov.options["precision"] == "fp32"
    assert ov.identity() != methods["onnxruntime"].identity()  # the engine is in the cache key
    bad = [({"engine": "openvino", "precision": "int8"}, "precision=int8 runs on engine=onnxruntime"),
           ({"int8_images": str(tmp_path)}, "int8_images is for precision=int8"),
           ({"precision": "int8"}, "precision=int8 needs int8_images=FOLDER"),
           ({"device": "tpu"}, "option device='tpu': must be one of cpu, cuda")]
    if not torch.cuda.is_available():
        bad.append(({"engine": "torch", "device": "cuda"}, "device=cuda: torch sees no CUDA device"))
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        bad.append(({"device": "cuda"}, "device=cuda: this onnxruntime has no CUDAExecutionProvider"))
    for opts, message in bad:
        with pytest.raises(UsageError, match=message):
            create_method("whenet", {"weights": str(whenet_h5), **opts})


def test_int8_is_refused_for_whenet_on_real_images(whenet_h5, tmp_path, monkeypatch):
    """The gate measures int8 against fp32 on the user's photos (here 2 real AFLW2000 images,
    linked, not copied) and refuses WHENet (issue 24: its int8 variants are 64-105 deg off)."""
    from posebench.errors import UsageError

    monkeypatch.setenv("POSEBENCH_DATA", str(tmp_path / "data"))
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("image00002.jpg", "image00008.jpg"):
        (photos / name).symlink_to(shared_path("data", "AFLW2000-sample", name))
    with pytest.raises(UsageError, match=r"precision=int8 refused for whenet: its int8 network is \S+ deg from fp32 .* 2 face"):
        create_method("whenet", {"weights": str(whenet_h5), "precision": "int8", "int8_images": str(photos)})
