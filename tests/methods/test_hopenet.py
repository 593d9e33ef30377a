"""Hopenet: checkpoint compatibility, safe loading, predictions against an independent computation,
ONNX export, real images (plumbing: test-made weights) and bad input."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from click.testing import CliRunner
from PIL import Image
from torchvision import transforms

from posebench.cli import main
from posebench.errors import SampleFailure, WeightsError
from posebench.method import FaceInput, create_method
from posebench.methods.hopenet import nets
from posebench.methods.hopenet.reference import original_loop
from posebench.methods.hopenet.weights import read_state_dict
from posebench.paths import weights_dir
from posebench.registry import datasets

torch.set_num_threads(min(2, os.cpu_count() or 1))

ORIGINAL_TF = transforms.Compose([
    transforms.Resize(224), transforms.CenterCrop(224), transforms.ToTensor(),
    transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
])


def torchvision_trunk_state(seed: int) -> dict[str, torch.Tensor]:
    """torchvision's own ResNet50 (random, seeded) without its classifier: the backbone keys and
    shapes the original Hopenet inherits from torchvision. No num_batches_tracked: the official
    checkpoints predate them (PyTorch < 0.4.1)."""
    torch.manual_seed(seed)
    tv = torchvision.models.resnet50()
    with torch.no_grad():  # tame the residual stream so that float32 stays comfortable
        for name, m in tv.named_modules():
            if isinstance(m, torch.nn.BatchNorm2d) and name.endswith("bn3"):
                m.weight.mul_(0.2)
    return {k: v.clone() for k, v in tv.state_dict().items() if not k.startswith("fc.") and "num_batches" not in k}


def original_layout_checkpoint(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict in the layout of hopenet_alpha1.pkl, built without posebench's network code."""
    state = torchvision_trunk_state(seed)
    g = torch.Generator().manual_seed(seed + 1)
    for head in ("fc_yaw", "fc_pitch", "fc_roll"):
        state[f"{head}.weight"] = torch.randn((66, 2048), generator=g) * 0.5
        state[f"{head}.bias"] = torch.randn((66,), generator=g) * 0.1
    state["fc_finetune.weight"] = torch.randn((3, 2051), generator=g) * 0.01
    state["fc_finetune.bias"] = torch.zeros(3)
    return state


def independent_angles(state: dict[str, torch.Tensor], images: list[np.ndarray], boxes) -> np.ndarray:
    """(yaw, pitch, roll) the original way, with torchvision's ResNet50 as the trunk and numpy
    float64 for the heads, softmax and expectation."""
    tv = torchvision.models.resnet50()
    tv.fc = torch.nn.Identity()
    tv.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc_")}, strict=False)
    tv.eval()
    out = []
    for img, box in zip(images, boxes):
        pil = Image.fromarray(img).convert("RGB").crop(tuple(int(v) for v in box))
        with torch.no_grad():
            feat = tv(ORIGINAL_TF(pil).unsqueeze(0))[0].double().numpy()
        ypr = []
        for head in ("fc_yaw", "fc_pitch", "fc_roll"):
            z = state[f"{head}.weight"].double().numpy() @ feat + state[f"{head}.bias"].double().numpy()
            p = np.exp(z - z.max())
            p /= p.sum()
            ypr.append(float((p * np.arange(66)).sum() * 3 - 99))
        out.append(ypr)
    return np.array(out)


@pytest.fixture(scope="module")
def seeded_pkl(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("hopenet-weights") / "hopenet_seeded.pkl"
    torch.save(nets.seeded_weights("hopenet", seed=0), p)
    return p


# --- layout -------------------------------------------------------------------------------

def _shapes(state) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in state.items()}


def test_hopenet_keys_and_shapes_match_original_checkpoint_layout():
    expected = _shapes(torchvision_trunk_state(0))
    expected.update({"fc_yaw.weight": (66, 2048), "fc_yaw.bias": (66,), "fc_pitch.weight": (66, 2048),
                     "fc_pitch.bias": (66,), "fc_roll.weight": (66, 2048), "fc_roll.bias": (66,),
                     "fc_finetune.weight": (3, 2051), "fc_finetune.bias": (3,)})
    got = {k: s for k, s in _shapes(nets.Hopenet().state_dict()).items() if "num_batches" not in k}
    assert got == expected
    assert len(got) == 265 + 8  # 265 tensors in torchvision's ResNet50 trunk (no fc, no counters)


def test_alexnet_and_regression_layouts():
    tv = {k: s for k, s in _shapes(torchvision.models.alexnet().state_dict()).items() if not k.startswith("classifier.6")}
    tv.update({f"{h}.{p}": ((66, 4096) if p == "weight" else (66,)) for h in ("fc_yaw", "fc_pitch", "fc_roll") for p in ("weight", "bias")})
    assert _shapes(nets.HopenetAlexNet().state_dict()) == tv
    assert {"classifier.1.weight", "classifier.4.weight", "features.10.weight"} <= set(tv)
    reg = _shapes(nets.ResNet50Regression().state_dict())
    assert reg["fc_angles.weight"] == (3, 2048) and not any(k.startswith("fc_yaw") for k in reg)


# --- preprocessing -----------------------------------------------------------------------

@pytest.mark.parametrize("size", [(224, 224), (225, 300), (301, 229), (57, 91), (450, 449)])
def test_preprocessing_is_bit_identical_to_torchvision_on_pil(size):
    from posebench.methods.hopenet.preprocess import face_crop, to_batch

    w, h = size
    img = np.random.default_rng(w * h).integers(0, 256, (h + 20, w + 30, 3), dtype=np.uint8)
    box = (12.9, 7.2, 12.9 + w, 7.2 + h)  # corners truncate to ints, as PIL's crop
    want = ORIGINAL_TF(Image.fromarray(img).crop((12, 7, 12 + w, 7 + h)))
    for channels_last in (True, False):
        got = to_batch([face_crop(img, box)], channels_last=channels_last)[0]
        assert torch.equal(got, want)


# --- loading ------------------------------------------------------------------------------

def test_original_layout_pickle_loads_from_weights_folder_and_predicts_like_the_original():
    state = original_layout_checkpoint(seed=3)
    folder = weights_dir()
    folder.mkdir(parents=True)
    # The official files are old-style (non-zip) pickles of a plain state dict.
    torch.save(state, folder / "hopenet_alpha1.pkl", _use_new_zipfile_serialization=False)
    method = create_method("hopenet", {"batch_size": "2", "engine": "torch"})  # found through the weights folder
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (260, 300, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (200, 180), dtype=np.uint8)
    rgba = rng.integers(0, 256, (150, 160, 4), dtype=np.uint8)
    boxes = [(-20.7, 10.2, 210.9, 275.5), (30.0, 20.0, 150.0, 190.0), (5.0, 5.0, 140.0, 120.0)]
    faces = [FaceInput(img, (img.shape[1], img.shape[0]), box) for img, box in zip((rgb, gray, rgba), boxes)]
    got = np.array([p.as_array() for p in method.estimate_batch(faces)])
    want = independent_angles(state, [rgb, np.repeat(gray[:, :, None], 3, 2), rgba[:, :, :3]], boxes)
    assert np.abs(want).max() > 1.0  # the heads are not degenerate
    np.testing.assert_allclose(got, want, atol=2e-3)
    assert method.weights_hash == hashlib.sha256((folder / "hopenet_alpha1.pkl").read_bytes()).hexdigest()


def test_dataparallel_prefix_and_safetensors_absent_message(tmp_path):
    state = {"module." + k: v for k, v in original_layout_checkpoint(1).items()}
    p = tmp_path / "dp.pth"
    torch.save(state, p)
    assert set(read_state_dict(p)) == set(original_layout_checkpoint(1))


class _Payload:
    """Unpickling this would create a directory: a stand-in for arbitrary code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


def test_weights_only_refuses_a_pickle_that_carries_objects(tmp_path):
    marker = tmp_path / "code-ran"
    p = tmp_path / "evil.pkl"
    torch.save({"fc_yaw.weight": torch.zeros(66, 2048), "payload": _Payload(marker)}, p)
    with pytest.raises(WeightsError, match="refused.*os.makedirs"):
        create_method("hopenet", {"weights": str(p)})
    assert not marker.exists()
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(WeightsError, match="not a PyTorch state dict"):
        create_method("hopenet", {"weights": str(junk)})


def test_missing_weights_is_one_line_naming_file_folder_and_source():
    with pytest.raises(WeightsError) as exc:
        create_method("hopenet", {"variant": "robust_alpha1"})
    msg = str(exc.value)
    assert "\n" not in msg
    assert "hopenet_robust_alpha1.pkl" in msg and str(weights_dir()) in msg and "natanielruiz/deep-head-pose" in msg
    res = CliRunner().invoke(main, ["run", "--method", "hopenet", "--dataset", "synthetic"])
    assert res.exit_code == 1
    assert res.output.strip().count("\n") == 0 and res.output.startswith("error: hopenet weights hopenet_alpha1.pkl")
    with pytest.raises(WeightsError, match="published no hopenet-alexnet checkpoint"):
        create_method("hopenet-alexnet", {})


def test_wrong_layout_is_reported_in_one_line(tmp_path):
    state = original_layout_checkpoint(0)
    state["fc_yaw.weight"] = torch.zeros(62, 2048)
    del state["fc_finetune.bias"]
    p = tmp_path / "bad.pkl"
    torch.save(state, p)
    with pytest.raises(WeightsError) as exc:
        create_method("hopenet", {"weights": str(p)})
    msg = str(exc.value)
    assert "\n" not in msg and "fc_finetune.bias" in msg and "fc_yaw.weight (62, 2048) != (66, 2048)" in msg


def test_weights_hash_is_cached_on_disk_and_keys_the_run(tmp_path, seeded_pkl):
    from posebench.fileio import file_digest

    digest = file_digest(seeded_pkl)
    assert digest == hashlib.sha256(seeded_pkl.read_bytes()).hexdigest()
    cache = Path(os.environ["POSEBENCH_DATA"]) / "cache" / "file-digests.json"  # the one digest index
    assert digest in cache.read_text()
    other = tmp_path / "other.pkl"
    torch.save(nets.seeded_weights("hopenet", seed=1), other)
    a = create_method("hopenet", {"weights": str(seeded_pkl), "engine": "torch"}).identity()
    b = create_method("hopenet", {"weights": str(other), "engine": "torch"}).identity()
    # the weights file's digest is keyed once, in files (not repeated as "weights")
    assert a["files"] == {"weights": digest[:16]} and a["weights"] is None and b["files"] != a["files"]


# --- variants -----------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["hopenet-alexnet", "resnet50-regression"])
def test_variants_match_the_original_pipeline(tmp_path, arch):
    state = nets.seeded_weights(arch, seed=2)
    p = tmp_path / f"{arch}.pkl"
    torch.save(state, p)
    method = create_method(arch, {"weights": str(p), "engine": "torch"})
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (240, 220, 3), dtype=np.uint8)
    box = (10.0, 15.0, 200.0, 230.0)
    net = nets.build(arch)
    net.load_state_dict(state)
    with torch.no_grad():
        out = net(ORIGINAL_TF(Image.fromarray(img).crop((10, 15, 200, 230))).unsqueeze(0))
    if arch == "resnet50-regression":
        want = out[0].double().numpy()
    else:
        want = np.array([float((torch.softmax(o.double(), 1)[0] * torch.arange(66)).sum() * 3 - 99) for o in out])
    got = method.estimate(img, box=box).as_array()
    np.testing.assert_allclose(got, want, atol=2e-3)
    assert np.abs(want).max() > 1.0


# --- ONNX ---------------------------------------------------------------------------------

def test_onnx_export_matches_torch(tmp_path, seeded_pkl):
    import onnxruntime as ort

    out = tmp_path / "hopenet.onnx"
    res = CliRunner().invoke(main, ["export", "hopenet", "--weights", str(seeded_pkl), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "max |angle difference|" in res.output
    net = nets.build("hopenet")
    net.load_state_dict(nets.seeded_weights("hopenet", seed=0))
    x = torch.randn((3, 3, 224, 224), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        want = nets.Degrees(net)(x).double().numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(["angles"], {"image": x.numpy()})[0]
    assert np.abs(want).max() > 1.0
    assert np.abs(got - want).max() < 1e-3


def test_onnxruntime_engine_agrees_with_torch_and_reuses_its_cached_export(seeded_pkl, monkeypatch):
    from posebench.methods.hopenet import engine

    rng = np.random.default_rng(4)
    faces = [FaceInput(rng.integers(0, 256, (200, 230, 3), dtype=np.uint8), (230, 200), (20.0, 10.0, 190.0, 195.0))
             for _ in range(3)]
    fast = create_method("hopenet", {"weights": str(seeded_pkl), "batch_size": "2"})  # default engine
    assert fast.identity()["options"]["engine"] == "onnxruntime"
    cached = list((Path(os.environ["POSEBENCH_DATA"]) / "cache" / "onnx").glob("hopenet-*.onnx"))
    assert len(cached) == 1 and fast.weights_hash[:20] in cached[0].name
    torch_m = create_method("hopenet", {"weights": str(seeded_pkl), "engine": "torch"})
    a = np.array([p.as_array() for p in fast.estimate_batch(faces)])
    b = np.array([p.as_array() for p in torch_m.estimate_batch(faces)])
    assert np.abs(a - b).max() < 1e-3

    def no_export(*args, **kwargs):
        raise AssertionError("exported again instead of using the cache")

    monkeypatch.setattr(engine, "export_onnx_bytes", no_export)
    again = create_method("hopenet", {"weights": str(seeded_pkl)})
    np.testing.assert_array_equal(np.array([p.as_array() for p in again.estimate_batch(faces)]), a)


# --- real images (plumbing: test-made weights, the angles mean nothing) ---------------------

def test_plumbing_on_real_images_matches_the_original_loop(aflw_sample, seeded_pkl, tmp_path):
    from posebench.evaluation.runner import evaluate

    ds = datasets.create("aflw2000", data_dir=str(aflw_sample)).subset(4)
    method = create_method("hopenet", {"weights": str(seeded_pkl), "batch_size": "3", "engine": "torch"})
    res = evaluate(method, ds, tmp_path / "results", progress=False)
    assert res.record["n_failed"] == 0 and res.record["n_evaluated"] == 4
    pred = res.samples[["pred_yaw", "pred_pitch", "pred_roll"]].to_numpy()
    ref = original_loop(method.net, [s.image_path for s in ds.samples], [s.box for s in ds.samples], grad=False)
    assert np.abs(pred - ref.angles).max() < 1e-3


# --- bad input ----------------------------------------------------------------------------

def test_tiny_image_is_handled_like_the_original(seeded_pkl):
    method = create_method("hopenet", {"weights": str(seeded_pkl), "engine": "torch"})
    img = np.random.default_rng(2).integers(0, 256, (10, 10, 3), dtype=np.uint8)
    got = method.estimate(img, box=(0, 0, 10, 10)).as_array()
    from posebench.methods.hopenet.reference import original_predict_arrays

    want = original_predict_arrays(method.net, [img], [(0, 0, 10, 10)])[0]
    assert np.abs(got - want).max() < 1e-3


def test_unusable_boxes_are_sample_failures(seeded_pkl):
    method = create_method("hopenet", {"weights": str(seeded_pkl), "engine": "torch"})
    img = np.zeros((50, 60, 3), np.uint8)
    out = method.estimate_batch([FaceInput(img, (60, 50), None), FaceInput(img, (60, 50), (70, 5, 90, 30)),
                                 FaceInput(img, (60, 50), (20, 20, 20, 40))])
    assert [type(o) for o in out] == [SampleFailure] * 3
    assert out[0].reason == "no face found" and "outside" in out[1].reason and "empty" in out[2].reason


def test_truncated_jpeg_is_recorded_by_the_runner(aflw_sample, seeded_pkl, tmp_path):
    from posebench.evaluation.runner import evaluate

    folder = tmp_path / "aflw"
    folder.mkdir()
    ids = sorted(p.stem for p in aflw_sample.glob("image*.jpg"))[:2]
    for i in ids:
        shutil.copy(aflw_sample / f"{i}.mat", folder)
    shutil.copy(aflw_sample / f"{ids[0]}.jpg", folder)
    data = (aflw_sample / f"{ids[1]}.jpg").read_bytes()
    (folder / f"{ids[1]}.jpg").write_bytes(data[: len(data) // 2])
    ds = datasets.create("aflw2000", data_dir=str(folder), filter="none")
    res = evaluate(create_method("hopenet", {"weights": str(seeded_pkl), "engine": "torch"}), ds, tmp_path / "results", progress=False)
    rows = res.samples.set_index("id")
    assert rows.loc[ids[0], "failure"] == ""
    assert "truncated" in rows.loc[ids[1], "failure"]
    assert res.record["n_failed"] == 1


def _tiny_binned_net():
    import torch
    from torch import nn

    class Tiny(nn.Module):
        binned = True

        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.pool = nn.AdaptiveAvgPool2d(4)
            self.fc = nn.ModuleList([nn.Linear(48, 66) for _ in range(3)])

        def forward(self, x):
            f = self.pool(x).flatten(1)
            return [fc(f) for fc in self.fc]

    return Tiny().eval()


@pytest.mark.parametrize("damage", ["truncated", "text", "flipped-byte", "other-network", "folder"])
def test_damaged_onnx_export_cache_is_rebuilt(tmp_path, damage):
    import torch

    from posebench.methods.hopenet.engine import OnnxEngine

    net, x = _tiny_binned_net(), torch.rand(2, 3, 224, 224)
    cache = tmp_path / "cache" / "onnx" / "tiny.onnx"
    ref = OnnxEngine(net, 1, cache)(x)
    good = cache.read_bytes()
    if damage == "truncated":
        cache.write_bytes(good[: len(good) // 2])
    elif damage == "text":
        cache.write_text("not onnx")
    elif damage == "flipped-byte":  # still parses: only the digest tells
        b = bytearray(good)
        b[-40] ^= 0xFF
        cache.write_bytes(bytes(b))
    elif damage == "other-network":
        other = _tiny_binned_net()
        with torch.no_grad():
            for p in other.parameters():
                p.add_(1.0)
        OnnxEngine(other, 1, tmp_path / "o.onnx")
        cache.write_bytes((tmp_path / "o.onnx").read_bytes())
    else:
        cache.unlink()
        cache.mkdir()
    got = OnnxEngine(net, 1, cache)(x)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    if damage != "folder":
        assert cache.read_bytes() == good  # rebuilt in place


def test_verify_and_run_share_one_checkpoint_check(tmp_path):
    import torch

    from posebench.methods.hopenet import nets
    from posebench.methods.hopenet.method import load_network

    state = {k: v for k, v in nets.build("hopenet").state_dict().items() if not k.endswith("num_batches_tracked")}
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "hopenet_alpha1.pkl"
    torch.save(state, path)
    res = CliRunner().invoke(main, ["data", "verify", "hopenet-alpha1", "--root", str(tmp_path)])
    assert res.exit_code == 1 and "1 unexpected keys (first: extra.weight)" in res.output, res.output
    with pytest.raises(WeightsError, match="1 unexpected keys"):
        load_network("hopenet", path)
