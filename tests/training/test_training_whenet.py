"""WHENet training (``posebench train --model whenet``): bins and decoding against the method's
own decoding, the wrapped yaw loss on known values, the sample range rules, a tiny real training
whose loss falls, bit-exact resume, the checkpoint loading into the ``whenet`` method with the
training network's predictions, initialisation from the authors' WHENet.h5 and from a timm
ImageNet file, and the training bench."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from posebench.errors import UsageError, WeightsError
from posebench.methods.whenet import nets
from posebench.training.bins import HOPENET_BINS, head_bins, wrap_degrees
from posebench.training.loop import TrainConfig, train
from posebench.training.loss import multi_loss, regression_term, wrapped_difference
from training_fixtures import make_300wlp_tree

YAW, PITCH, ROLL = head_bins("whenet")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One torch thread: on a shared 2-core machine two threads of several test processes
    oversubscribe the cores and these small steps run ten times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def one_hot_logits(count: int, k: int) -> torch.Tensor:
    logits = torch.full((1, count), -60.0)
    logits[0, k] = 60.0
    return logits


@pytest.mark.parametrize("k", [0, 1, 59, 60, 118, 119])
def test_yaw_bin_k_decodes_as_the_method_and_the_authors(k):
    """A distribution wholly on yaw bin k decodes exactly as the ``whenet`` method decodes it
    (``WHENetAngles``, the path of both engines) and as the authors' ``get_angle`` formula."""

    class Fixed(torch.nn.Module):  # a network whose logits are given
        def forward(self, x):
            return (one_hot_logits(120, k), one_hot_logits(66, min(k, 65)), one_hot_logits(66, 65 - min(k, 65)))

    method_deg = nets.WHENetAngles(Fixed())(torch.zeros(1, 3, 8, 8))[0]
    train_deg = [h.expectation(lg)[0] for h, lg in zip(head_bins("whenet"), Fixed()(None))]
    for j in range(3):
        assert float(train_deg[j]) == float(method_deg[j])
    p = np.exp(one_hot_logits(120, k).numpy().astype(np.float64))
    authors = float((p / p.sum() * np.arange(120)).sum() * 3 - 180)  # WHENet.get_angle
    assert float(method_deg[0]) == pytest.approx(authors, abs=1e-4) == pytest.approx(-180 + 3 * k, abs=1e-4)
    # binning agrees with decoding: bin k holds its left edge and its centre, not the next edge
    assert YAW.index([-180 + 3 * k, -180 + 3 * k + 1.5])[0] == k
    assert YAW.index([-180 + 3 * k - 0.01])[0] == (k - 1) % 120


def test_yaw_bins_cover_the_circle_and_pitch_roll_are_hopenets():
    assert (YAW.count, YAW.low, YAW.width, YAW.wrap) == (nets.YAW_BINS, nets.YAW_MIN, nets.BIN_WIDTH, True) == (
        120, -180.0, 3.0, True)
    assert PITCH == ROLL == HOPENET_BINS[0]  # 66 bins from -99, the method's PR_BINS / PR_MIN
    assert (PITCH.count, PITCH.low) == (nets.PR_BINS, nets.PR_MIN)
    assert list(YAW.index([-180.0, 179.99, 180.0, -181.0, 540.0, 0.0])) == [0, 119, 0, 119, 0, 60]
    assert YAW.contains([-180, 180, 359.0]) and not YAW.contains([float("nan")])
    assert not PITCH.contains([99.0]) and PITCH.contains([-99.0, 98.9])
    assert list(wrap_degrees(np.array([180.0, -180.0, 190.0, -190.0]))) == [-180.0, -180.0, -170.0, 170.0]


def test_wrapped_yaw_loss_on_known_pairs():
    # a prediction of -179 for a label of 179 is a 2-degree error, whichever way round
    pred = torch.tensor([-179.0, 179.0, 10.0], requires_grad=True)
    target = torch.tensor([179.0, -179.0, -20.0])
    assert wrapped_difference(pred, target).tolist() == pytest.approx([2.0, -2.0, 30.0])
    term = regression_term(pred, target, wrap=True)
    assert float(term.detach()) == pytest.approx((4 + 4 + 900) / 3)
    term.backward()  # d/dpred of d^2 / 3 = 2d / 3: the first prediction is pushed down, past -180 to 179
    assert pred.grad.tolist() == pytest.approx([4 / 3, -4 / 3, 20.0])
    assert float(regression_term(pred, target, wrap=False).detach()) == pytest.approx((358 ** 2 * 2 + 900) / 3)
    # through the heads: yaw probability 2/3 on bin 0 (-180) and 1/3 on bin 1 (-177) decodes to -179
    yaw = torch.full((1, 120), -1e4)
    yaw[0, 0], yaw[0, 1] = float(np.log(2 / 3)), float(np.log(1 / 3))
    pitch, roll = one_hot_logits(66, 0), one_hot_logits(66, 65)  # decode to -99 and 96
    assert float(YAW.expectation(yaw)[0]) == pytest.approx(-179.0, abs=1e-4)
    bins = torch.tensor([[YAW.index([179.0])[0], 0, 65]])
    angles = torch.tensor([[179.0, 98.0, 96.0]])
    res = multi_loss((yaw, pitch, roll), bins, angles, alpha=0.5, heads=head_bins("whenet"))
    assert res.parts["mse_yaw"] == pytest.approx(4.0, abs=1e-3)  # wrapped: (2 degrees)^2, not 358^2
    assert res.parts["mse_pitch"] == pytest.approx(197.0 ** 2, rel=1e-5)  # pitch is not circular
    assert res.parts["mse_roll"] == pytest.approx(0.0, abs=1e-6)
    ce = sum(res.parts[f"ce_{a}"] for a in ("yaw", "pitch", "roll"))
    assert res.parts["ce_yaw"] == pytest.approx(float(torch.nn.functional.cross_entropy(yaw, bins[:, 0])), rel=1e-6)
    assert res.parts["loss"] == pytest.approx(ce + 0.5 * (4.0 + 197.0 ** 2), rel=1e-5)


def write_pose(mat: Path, yaw: float, pitch: float, roll: float) -> None:
    m = scipy.io.loadmat(mat)
    m["Pose_Para"][0, :3] = np.radians([pitch, yaw, roll])
    scipy.io.savemat(mat, {"Pose_Para": m["Pose_Para"], "pt2d": m["pt2d"]})


def test_sample_rules_keep_every_yaw_and_hopenets_pitch_roll(tmp_path):
    from posebench import create_dataset
    from posebench.training.augment import parse_augment
    from posebench.training.data import TrainSet, select_samples

    data = make_300wlp_tree(tmp_path / "data", n=4, size=40)
    write_pose(data / "AFW" / "AFW_0.mat", 151.0, 10.0, 5.0)  # wide yaw: WHENet only
    write_pose(data / "AFW" / "AFW_1.mat", 20.0, 120.0, 5.0)  # pitch beyond 99: neither
    write_pose(data / "AFW" / "AFW_2.mat", 190.0, 0.0, -98.0)  # yaw 190 is -170
    ds = create_dataset("300w-lp", {}, data_dir=str(data))
    if ds.excluded:  # pragma: no cover - the reader's protocol filter would hide what is tested here
        pytest.skip("the 300w-lp reader filters angles itself")
    hop = select_samples(ds, heads=HOPENET_BINS)
    whe = select_samples(ds, heads=head_bins("whenet"))
    assert dict(hop.skipped) == {"AFW/AFW_0": "angle outside [-99, 99)", "AFW/AFW_1": "angle outside [-99, 99)",
                                 "AFW/AFW_2": "angle outside [-99, 99)"}
    assert dict(whe.skipped) == {"AFW/AFW_1": "pitch outside [-99, 99)"}
    ts = TrainSet(whe.samples, 32, parse_augment("none,flip"), seed=0, heads=head_bins("whenet"), preprocess="whenet")
    seen = {}
    for epoch in range(8):  # flips are drawn per epoch: see both sides of the -180/+180 seam
        ts.set_epoch(epoch)
        for i, s in enumerate(ts.samples):
            x, bins, ypr, _, failed = ts[i]
            assert failed == -1 and x.shape == (3, 32, 32) and x.dtype == torch.float32
            seen.setdefault(s.id, set()).add((tuple(round(float(v), 3) for v in ypr), tuple(bins.tolist())))
    # yaw 190 is -170 (bin 3), flipped +170 (bin 116)
    assert seen["AFW/AFW_2"] == {((-170.0, 0.0, -98.0), (3, 33, 0)), ((170.0, 0.0, 98.0), (116, 33, 65))}
    assert seen["AFW/AFW_0"] == {((151.0, 10.0, 5.0), (110, 36, 34)), ((-151.0, 10.0, -5.0), (9, 36, 31))}


def whenet_cfg(data: Path, **kw) -> TrainConfig:
    base = dict(model="whenet", dataset="300w-lp", data_dir=str(data), epochs=6, batch_size=4, lr=1e-3, input_size=64,
                workers=0, log_every=1, augment="none", plot=False)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def whenet_run(tmp_path_factory):
    """6 steps of a real (random-init) WHENet on 4 fixed images at 64 px: the whole set in every batch."""
    tmp = tmp_path_factory.mktemp("whenet-train")
    data = make_300wlp_tree(tmp / "data", n=4, size=48)
    with pytest.MonkeyPatch.context() as mp:  # as conftest's per-test isolation: nothing outside tmp
        for var in ("POSEBENCH_DATA", "POSEBENCH_WEIGHTS", "POSEBENCH_RESULTS", "TORCH_HOME"):
            mp.setenv(var, str(tmp / var.lower()))
        res = train(whenet_cfg(data), tmp / "a", echo=lambda _m: None)
    return tmp, data, res


def test_tiny_whenet_training_loss_falls(whenet_run):
    tmp, _, res = whenet_run
    assert res.global_step == 6
    log = [json.loads(x) for x in (tmp / "a" / "log.jsonl").read_text().splitlines()]
    start = next(r for r in log if r["event"] == "start")
    assert start["config"]["model"] == "whenet" and "FROM SCRATCH" in start["init"]
    steps = [r for r in log if r["event"] == "step"]
    losses = [r["loss"] for r in steps]
    assert len(losses) == 6 and all(np.isfinite(losses))
    assert max(losses[-2:]) < 0.25 * losses[0], losses  # the same 4 images every step: the loss must fall
    assert {"ce_yaw", "mse_yaw", "ce_pitch", "mse_roll"} <= set(steps[0])


def test_whenet_resume_is_bit_for_bit_and_checks_the_model(whenet_run):
    tmp, data, straight = whenet_run
    half = train(whenet_cfg(data, max_steps=3), tmp / "b", echo=lambda _m: None)
    assert half.global_step == 3
    resumed = train(whenet_cfg(data), tmp / "b", resume=tmp / "b" / "last.pt", echo=lambda _m: None)
    assert resumed.global_step == 6
    a = torch.load(straight.last, weights_only=True)["model"]
    b = torch.load(resumed.last, weights_only=True)["model"]
    assert a.keys() == b.keys() and any("running_mean" in k for k in a)  # BatchNorm statistics included
    for k in a:
        assert torch.equal(a[k], b[k]), k
    with pytest.raises(UsageError, match=r"is a whenet checkpoint, not hopenet"):
        train(whenet_cfg(data, model="hopenet"), tmp / "b", resume=tmp / "b" / "last.pt", echo=lambda _m: None)
    with pytest.raises(UsageError, match=r"bn 'original' -> 'frozen'"):
        train(whenet_cfg(data, bn="frozen"), tmp / "b", resume=tmp / "b" / "last.pt", echo=lambda _m: None)


def test_checkpoint_loads_into_the_whenet_method_with_the_training_networks_predictions(whenet_run):
    from PIL import Image

    from posebench import create_dataset
    from posebench.fileio import file_digest
    from posebench.method import FaceInput, create_method
    from posebench.methods.whenet.preprocess import to_batch
    from posebench.training.models import build

    _, data, res = whenet_run
    best = res.best
    method = create_method("whenet", {"weights": str(best), "engine": "torch", "threads": 1})
    # the checkpoint's digest is in the cache key, once (in files)
    assert method.identity()["files"]["weights"] == file_digest(best)[:16] and method.identity()["weights"] is None
    ds = create_dataset("300w-lp", {}, data_dir=str(data))
    faces = [FaceInput.from_sample(s, np.asarray(Image.open(s.image_path).convert("RGB"))) for s in ds.samples]
    got = np.array([[p.yaw, p.pitch, p.roll] for p in method.estimate_batch(faces)])
    net = build("whenet")
    net.load_state_dict(torch.load(best, weights_only=True)["model"])
    net.eval()
    crops = [method.prepare(f) for f in faces]  # the method's 224 px crops, fed to the training network
    with torch.no_grad():
        want = nets.WHENetAngles(net)(to_batch(crops, channels_last=False)).numpy()
    assert np.abs(got - want).max() < 1e-3, np.abs(got - want).max()
    trained = torch.load(best, weights_only=True)["model"]
    assert all(torch.equal(v, trained[k]) for k, v in method.net.state_dict().items())  # the trained weights, all
    fresh = create_method("whenet", {"weights": str(res.last), "engine": "torch", "threads": 1})  # last.pt (resumable) loads too
    assert np.allclose([[p.yaw, p.pitch, p.roll] for p in fresh.estimate_batch(faces)], got, atol=1e-6)


def test_method_refuses_another_networks_checkpoint(tmp_path):
    from posebench.methods.whenet.weights import load_whenet
    from posebench.training import checkpoint as ckpt
    from posebench.training.models import build

    bad = tmp_path / "best.pt"
    ckpt.save(bad, {"posebench_checkpoint": 1, "arch": "tiny-hopenet", "model": build("tiny-hopenet").state_dict(),
                    "config": {}})
    with pytest.raises(WeightsError, match=r"best.pt does not fit WHENet: .*missing keys.*posebench train --model whenet"):
        load_whenet(bad)


def test_init_from_the_authors_h5_is_the_released_model():
    from conftest import shared_path
    from posebench.methods.whenet.weights import load_whenet
    from posebench.training.models import build, initialise

    h5 = shared_path("models", "whenet", "WHENet.h5")
    net = build("whenet")
    msg = initialise(net, "whenet", h5)
    assert msg.startswith("fine-tuning from WHENet.h5 (the authors' Keras weights): all ")
    released = load_whenet(h5)
    own, ref = net.state_dict(), released.state_dict()
    assert own.keys() == ref.keys()
    for k in ref:
        assert torch.equal(own[k], ref[k]), k
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(nets.WHENetAngles(net.eval())(x), nets.WHENetAngles(released)(x))
    with pytest.raises(WeightsError, match=r"HDF5 \(Keras\) file: only --model whenet"):
        initialise(build("tiny-hopenet"), "tiny-hopenet", h5)


def test_init_from_a_timm_imagenet_state_dict_fills_the_backbone(tmp_path):
    import timm

    from posebench.training.models import build, initialise, param_groups

    torch.manual_seed(1)
    imagenet = timm.create_model("tf_efficientnet_b0", pretrained=False).state_dict()  # timm's names, 1000 classes
    f = tmp_path / "tf_efficientnet_b0.pth"
    torch.save(imagenet, f)
    net = build("whenet")
    heads_before = net.yaw.weight.clone()
    msg = initialise(net, "whenet", f)
    assert msg.startswith("ImageNet init from tf_efficientnet_b0.pth:") and msg.endswith("left random: pitch, roll, yaw")
    own = net.state_dict()
    backbone = [k for k in own if k.startswith("backbone.")]
    for k in backbone:
        assert torch.equal(own[k], imagenet[k[len("backbone."):]]), k
    assert torch.equal(net.yaw.weight, heads_before)  # the heads stay as built
    groups = param_groups(net, "whenet", 1e-5)
    assert [g["lr"] for g in groups] == [0.0, 1e-5, 5e-5]
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in (net.backbone.conv_stem.weight, net.backbone.bn1.weight,
                                                                     net.backbone.bn1.bias)}
    assert {id(p) for p in groups[2]["params"]} == {id(p) for m in (net.yaw, net.pitch, net.roll) for p in m.parameters()}
    bn = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert bn and all(m.momentum == 0.01 for m in bn)  # Keras' momentum 0.99


def test_bench_train_times_whenet_against_its_plain_loop():
    from posebench.training.bench import bench_models

    lines = list(bench_models(["whenet"], input_size=64, batch=2, iters=1, warmup=0))  # (32 px is a slow path on CPU)
    rows = [ln for ln in lines if ln.strip().startswith("whenet")]
    assert [r.split()[1] for r in rows][:2] == ["plain", "channels-last"]
    assert rows[0].rstrip().endswith("1.00x plain")
    assert all(float(r.split()[2]) > 0 for r in rows)


def _state_digest(state: dict) -> str:
    import hashlib

    h = hashlib.sha256()
    for k, v in state.items():
        h.update(k.encode())
        h.update(v.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def test_resume_with_validation_is_bit_for_bit(tmp_path, aflw_sample):
    """1 epoch + ``--resume`` to 2 with ``--val-dataset`` ends as 2 epochs straight: the same
    weights and the same generator states in ``last.pt``. Validation builds the method (its random
    init draws torch's generator), so the state a checkpoint carries is taken after validation;
    taken before it (posebench <= this fix), the resumed run's generator differed from the
    straight run's, and a network with dropout (hopenet-alexnet) ended with other weights."""
    data = make_300wlp_tree(tmp_path / "data", n=2, size=48)
    val = dict(val_dataset="aflw2000", val_dir=str(aflw_sample), val_limit=1, val_engine="torch")
    straight = train(whenet_cfg(data, epochs=2, batch_size=2, **val), tmp_path / "a", echo=lambda _m: None)
    train(whenet_cfg(data, epochs=1, batch_size=2, **val), tmp_path / "b", echo=lambda _m: None)
    resumed = train(whenet_cfg(data, epochs=2, batch_size=2, **val), tmp_path / "b", resume=tmp_path / "b" / "last.pt",
                    echo=lambda _m: None)
    assert straight.global_step == resumed.global_step == 2 and "val" in resumed.history[-1]
    a, b = (torch.load(r.last, weights_only=True) for r in (straight, resumed))
    assert _state_digest(a["model"]) == _state_digest(b["model"])
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])  # validation drew from it in both runs
    assert a["rng"]["python"] == b["rng"]["python"] and torch.equal(a["rng"]["numpy"][1], b["rng"]["numpy"][1])


def test_validation_leaves_no_onnx_export_in_the_data_root(tmp_path, aflw_sample):
    """Each epoch's validation (onnxruntime engine, the default) exports that epoch's weights; the
    export is made in memory and never stored: before, ``<data root>/cache/onnx/`` gained one file
    per epoch that no run could load again (231 MB each for hopenet-alexnet). A method built
    outside training still caches its export there."""
    from posebench.method import create_method
    from posebench.paths import data_root

    data = make_300wlp_tree(tmp_path / "data", n=2, size=48)
    val = dict(val_dataset="aflw2000", val_dir=str(aflw_sample), val_limit=1, val_engine="onnxruntime")
    res = train(whenet_cfg(data, epochs=2, batch_size=2, **val), tmp_path / "a", echo=lambda _m: None)
    assert [r["val"]["n_evaluated"] for r in res.history if r.get("event") == "epoch"] == [1, 1]
    exports = data_root() / "cache" / "onnx"
    assert not exports.exists() or not any(exports.iterdir())
    create_method("whenet", {"weights": str(res.best)})  # the same weights as a run's: stored for reuse
    assert [p.suffix for p in sorted(exports.iterdir())] == [".onnx", ".sha256"]
