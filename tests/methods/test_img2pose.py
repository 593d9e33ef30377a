"""img2pose: the authors' checkpoint layout, preprocessing, raw outputs, protocol-face rule and
pose, exactly.

``scripts/img2pose_reference.py`` ran the authors' own code (vitoralbiero/img2pose fd5473e) with a
seeded checkpoint in their layout on the 37 in-protocol images of AFLW2000-sample; its outputs are
``tests/data/img2pose_reference.json``. Here the same files are written without the authors' code
(:mod:`img2pose_fixtures`), and posebench's ``img2pose`` must give the same input arrays byte for
byte, the same detections (boxes, scores, 6 DoF), the same chosen detection and angles within 1e-3 deg.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from img2pose_fixtures import REFERENCE, write_seeded_files

from conftest import shared_path
from posebench.errors import SampleFailure, WeightsError
from posebench.method import FaceInput, create_method

TOLERANCE_DEG = 1e-3


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return write_seeded_files(tmp_path_factory.mktemp("img2pose"))


@pytest.fixture(scope="module")
def method(seeded):
    return create_method("img2pose", dict(seeded))


@pytest.fixture(scope="module")
def reference():
    from posebench.datasets.aflw2000 import load_aflw2000
    from posebench.imageio import read_image

    ref = json.loads(REFERENCE.read_text())
    ds = load_aflw2000(shared_path("data", "AFLW2000-sample"), filter="none")
    samples = [s for s in ds.samples if s.id in ref["images"]]
    assert len(samples) == len(ref["images"]) == 37
    return ref, samples, {s.id: read_image(s.image_path) for s in samples}


def test_inputs_detections_choice_and_angles_are_the_authors(method, reference, capsys):
    from posebench.methods.img2pose.method import to_tensor

    ref, samples, images = reference
    worst = {"boxes": 0.0, "scores": 0.0, "dofs": 0.0, "angles": 0.0, "convert_to_aflw": 0.0}
    for s in samples:
        r = ref["images"][s.id]
        x = to_tensor(images[s.id])
        assert hashlib.sha256(x.numpy().tobytes()).hexdigest() == r["tensor_sha256"], s.id
        batch = method.net.normalised([x])
        assert list(batch.tensors.shape) == r["batch_shape"] and list(batch.image_sizes[0]) == r["image_size"], s.id
        assert hashlib.sha256(batch.tensors.numpy().tobytes()).hexdigest() == r["batch_sha256"], s.id
        det = method.detect(images[s.id])
        assert det.boxes.shape == (len(r["boxes"]), 4), s.id
        for k in ("boxes", "scores", "dofs"):
            worst[k] = max(worst[k], float(np.abs(getattr(det, k) - np.array(r[k])).max()))
        face = FaceInput.from_sample(s, images[s.id])
        assert method.choose(face, det) == r["chosen"], s.id
        got = method.estimate_batch([face])[0].as_array()
        for k in ("angles", "convert_to_aflw"):
            worst[k] = max(worst[k], float(np.abs(got - np.array(r[k])).max()))
    with capsys.disabled():
        print(f"\nimg2pose vs the authors' code, 37 images: max |box diff| {worst['boxes']:.2e} px, |score diff| "
              f"{worst['scores']:.2e}, |DoF diff| {worst['dofs']:.2e}, |angle diff| {worst['angles']:.2e} deg "
              f"(vs their convert_to_aflw {worst['convert_to_aflw']:.2e} deg)")
    assert worst["boxes"] < 1e-2 and worst["scores"] < 1e-5 and worst["dofs"] < 1e-4
    assert worst["angles"] < TOLERANCE_DEG and worst["convert_to_aflw"] < TOLERANCE_DEG
    all_angles = np.array([ref["images"][s.id]["angles"] for s in samples])
    assert np.ptp(all_angles[:, 0]) > 20  # the seeded poses spread: the comparison can fail


def test_the_rotation_is_converted_through_the_matrix():
    """``F R F`` read by posebench equals the notebooks' ``convert_to_aflw`` (xyz Euler of R.T,
    yaw and roll negated) on random rotations inside +-80 deg."""
    from scipy.spatial.transform import Rotation

    from posebench.methods.img2pose.postprocess import rotation_of
    from posebench.pose import pose_from_matrix

    rng = np.random.default_rng(0)
    for _ in range(200):
        rv = Rotation.from_euler("xyz", rng.uniform(-80, 80, 3), degrees=True).as_rotvec()
        a = Rotation.from_matrix(Rotation.from_rotvec(rv).as_matrix().T).as_euler("xyz", degrees=True)
        want = np.array([-a[1], a[0], -a[2]])  # yaw, pitch, roll
        assert pose_from_matrix(rotation_of(rv)).as_array() == pytest.approx(want, abs=1e-9)


def test_biwi_rule_and_no_face(method, reference):
    from posebench.methods.img2pose.postprocess import Detections

    det = Detections(np.array([[0, 0, 10, 10], [40, 40, 60, 60], [45, 45, 55, 55]], np.float32),
                     np.array([0.95, 0.92, 0.5], np.float32), np.zeros((3, 6), np.float32))
    face = FaceInput(np.zeros((100, 100, 3), np.uint8), (100, 100))
    assert method.choose(face, det) == 1  # above 0.9 and nearest the centre; the 0.5 one is not counted
    det.scores[:2] = 0.1
    assert method.choose(face, det) == 0  # none above 0.9: the first
    empty = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 6), np.float32))
    assert method.choose(face, empty) == -1
    out = method.estimate_batch([FaceInput(np.full((64, 64, 3), 255, np.uint8), (64, 64)), FaceInput(None, (64, 64))])
    assert all(isinstance(o, (SampleFailure,)) or hasattr(o, "yaw") for o in out) and isinstance(out[1], SampleFailure)


def test_describe_names_the_rule_and_the_licence(method):
    d = method.describe()
    assert "AFLW2000 rule" in d and "CC BY-NC 4.0" in d
    assert set(method.identity()["files"]) == {"weights", "pose_mean", "pose_stddev", "points"}


def test_wrong_or_missing_files_are_one_line_errors(seeded, tmp_path, monkeypatch):
    monkeypatch.setenv("POSEBENCH_WEIGHTS", str(tmp_path / "none"))
    with pytest.raises(WeightsError, match="posebench data download img2pose-300wlp"):
        create_method("img2pose", {})
    state = torch.load(seeded["weights"], weights_only=True)["fpn_model"]
    bad = tmp_path / "bad.pth"
    torch.save({"fpn_model": {k: v for k, v in state.items() if "cls_score.weight" not in k}}, bad)
    with pytest.raises(WeightsError, match="no tensor") as exc:
        create_method("img2pose", {**seeded, "weights": str(bad)})
    assert "\n" not in str(exc.value)
    np.save(tmp_path / "mean.npy", np.zeros(5))
    with pytest.raises(WeightsError, match="shape"):
        create_method("img2pose", {**seeded, "pose_mean": str(tmp_path / "mean.npy")})


def test_newer_torchvision_names_and_a_bare_state_dict_load_the_same(seeded, tmp_path):
    from posebench.methods.img2pose.weights import read_checkpoint

    a = read_checkpoint(seeded["weights"])
    bare = tmp_path / "bare.pth"
    torch.save(a, bare)  # no 'fpn_model', no 'module.', current names
    b = read_checkpoint(bare)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert "backbone.fpn.inner_blocks.0.0.weight" in a and "rpn.head.conv.0.0.weight" in a


def test_export_refuses_in_one_line(seeded, tmp_path):
    from click.testing import CliRunner

    from posebench.cli import main

    res = CliRunner().invoke(main, ["export", "img2pose", "--weights", seeded["weights"], "--out", str(tmp_path / "x.onnx")])
    assert res.exit_code != 0 and "img2pose" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "x.onnx").exists()


def test_other_bytes_in_any_file_it_reads_change_the_cache_key(seeded):
    from pathlib import Path

    from posebench.datasets.synthetic import make_synthetic
    from posebench.evaluation.runner import run_key

    m = create_method("img2pose", dict(seeded))
    ds = make_synthetic(n=2)
    k0 = run_key(m, ds)
    for label in ("weights", "pose_mean", "pose_stddev", "points"):
        path = Path(seeded[label])
        size = path.stat().st_size
        with open(path, "ab") as fh:
            fh.write(b"\0")
        try:
            changed = run_key(m, ds)
        finally:
            with open(path, "r+b") as fh:
                fh.truncate(size)
        assert changed != k0, label
        assert run_key(m, ds) == k0, label


def test_prepare_checks_the_files_and_refuses_others(seeded, tmp_path):
    """``posebench data prepare``: the checkpoint's check loads every tensor; the reference points
    must be the published file (its SHA-256), so the test's stand-in is refused and nothing installed."""
    import os
    from pathlib import Path

    from click.testing import CliRunner

    from posebench.cli import main

    dest = Path(os.environ["POSEBENCH_WEIGHTS"]) / "img2pose"
    wrong = tmp_path / "img2pose_v1_ft_300w_lp.pth"
    torch.save({"fpn_model": {"module.conv1.weight": torch.zeros(8, 3, 3, 3)}}, wrong)
    res = CliRunner().invoke(main, ["data", "prepare", "img2pose-300wlp", "--from", str(wrong)])
    assert res.exit_code == 1 and "not an img2pose" in res.output and not (dest / wrong.name).exists()
    res = CliRunner().invoke(main, ["data", "prepare", "img2pose-reference-points", "--from", seeded["points"]])
    assert res.exit_code == 1 and "expected the published" in res.output
    assert not (dest / "reference_3d_68_points_trans.npy").exists()
    res = CliRunner().invoke(main, ["data", "prepare", "img2pose-pose-mean", "--from", seeded["pose_mean"]])
    assert res.exit_code == 0 and "shape (6,)" in res.output
