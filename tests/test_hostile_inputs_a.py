"""Hostile inputs of issue 15's kinds 1, 2, 3, 4, 5, 6, 8 and 12, over every reader, every
method and the commands that read them (run, data verify, study).

Each case has a right outcome computed independently: a *recorded* per-sample failure (with its
reason), a *one-line* error, or a *right value* (the same prediction as an undamaged reference
input, a known pose). Every check is tallied by outcome; the last test prints the tally
(``tried / one-line errors / recorded failures / held with the right value / tracebacks /
wrong or stale``) and requires no traceback and no wrong or stale result. Run it with ``-s`` to
see the tally.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import zlib
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io as sio
from click.testing import CliRunner
from PIL import Image

from conftest import SHARED, shared_path
from posebench.cli import main
from posebench.errors import SampleFailure, WeightsError
from posebench.evaluation.runner import evaluate
from posebench.method import FaceInput, Method, create_method
from posebench.pose import Pose, euler_to_matrix
from posebench.registry import datasets
from posebench.registry import methods as registry

TALLY: Counter = Counter()
SRC = "image00002"  # a real AFLW2000 image (yaw inside the protocol) with its .mat
IMAGE_METHODS = sorted(e.name for e in registry.entries() if "image" in e.needs)


def tally(outcome: str, n: int = 1) -> None:
    TALLY[outcome] += n


def _random(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _png_header(w: int, h: int) -> bytes:
    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _jpeg_with_size(jpg: bytes, w: int, h: int) -> bytes:
    i = jpg.find(b"\xff\xc0")
    if i < 0:
        i = jpg.find(b"\xff\xc2")
    b = bytearray(jpg)
    b[i + 5:i + 7] = struct.pack(">H", h)
    b[i + 7:i + 9] = struct.pack(">H", w)
    return bytes(b)


def _encode(ext: str, bgr: np.ndarray, params=()) -> bytes:
    ok, enc = cv2.imencode(ext, bgr, list(params))
    assert ok
    return enc.tobytes()


def image_cases(src_jpg: bytes) -> dict[str, tuple[str, bytes | None, tuple[str, str]]]:
    """name -> (file extension, bytes, expected). Expected is ("same", reference case) or
    ("fail", text in the reason). Bytes None: a folder where the image should be."""
    bgr = cv2.imdecode(np.frombuffer(src_jpg, np.uint8), cv2.IMREAD_COLOR)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    sos = src_jpg.find(b"\xff\xda")
    garbled = bytearray(src_jpg)
    mid = (sos + len(src_jpg)) // 2
    garbled[mid:mid + 200] = _random(200, 1)
    png = _encode(".png", bgr)
    png_bad = bytearray(png)
    png_bad[len(png) // 2:len(png) // 2 + 64] = _random(64, 2)
    tif = _encode(".tiff", bgr)
    tif_bad = bytearray(tif)
    tif_bad[len(tif) // 2:len(tif) // 2 + 64] = _random(64, 3)
    la = io.BytesIO()
    Image.fromarray(np.dstack([gray, np.full_like(gray, 200)]), "LA").save(la, format="PNG")
    return {
        "jpg": (".jpg", src_jpg, ("same", "jpg")),
        "jpg_trailing_random": (".jpg", src_jpg + _random(64, 4), ("same", "jpg")),
        "jpg_trailing_zeros": (".jpg", src_jpg + bytes(64), ("same", "jpg")),
        "jpg_garbled_scan": (".jpg", bytes(garbled), ("fail", "corrupt")),
        "jpg_truncated": (".jpg", src_jpg[: len(src_jpg) // 2], ("fail", "truncated")),
        "jpg_no_end_marker": (".jpg", src_jpg[:-2], ("fail", "JPEG")),
        "jpg_header_40000": (".jpg", _jpeg_with_size(src_jpg, 40000, 40000), ("fail", "too large")),
        "png_header_60000": (".png", _png_header(60000, 60000), ("fail", "too large")),
        "png_header_40000": (".png", _png_header(40000, 40000), ("fail", "too large")),
        "png8": (".png", png, ("same", "jpg")),
        "png16_rgb": (".png", _encode(".png", bgr.astype(np.uint16) * 257), ("same", "jpg")),
        "png16_rgba": (".png", _encode(".png", np.dstack([bgr, np.full_like(gray, 255)]).astype(np.uint16) * 257),
                       ("same", "jpg")),
        "png8_gray": (".png", _encode(".png", gray), ("same", "png8_gray")),
        "png16_gray": (".png", _encode(".png", gray.astype(np.uint16) * 257), ("same", "png8_gray")),
        "png_gray_alpha": (".png", la.getvalue(), ("same", "png8_gray")),
        "tiff16": (".png", _encode(".tiff", bgr.astype(np.uint16) * 257), ("same", "jpg")),
        "tiff_float32": (".png", _encode(".tiff", bgr.astype(np.float32) / 255.0), ("fail", "data type")),
        "tiff_garbled": (".png", bytes(tif_bad), ("fail", "corrupt")),
        "png_truncated": (".png", png[: len(png) // 2], ("fail", "decode")),
        "png_garbled": (".png", bytes(png_bad), ("fail", "decode")),
        "empty": (".jpg", b"", ("fail", "empty")),
        "not_an_image": (".jpg", b"hello, world\n" * 40, ("fail", "decode")),
        "unreadable": (".jpg", src_jpg, ("fail", "Permission denied")),
        "folder": (".jpg", None, ("fail", "no image")),
    }


class MeanColour(Method):
    """A cheap image method for the reader sweep whose pose is a fingerprint of the exact pixels
    it receives (a CRC of the RGB array as yaw, the mean colours as pitch and roll): two samples
    get the same pose only when every pixel is the same."""

    name = "hostile-mean-colour"
    needs = frozenset({"image"})

    def estimate_one(self, face: FaceInput) -> Pose:
        img = face.image
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        crc = zlib.crc32(np.ascontiguousarray(img).tobytes() + repr(img.shape).encode())
        return Pose((crc % 36000) / 200.0, float(img[..., 1].mean()) / 4, float(img[..., 2].mean()) / 4)


def _write(path: Path, data: bytes | None) -> None:
    if data is None:
        path.mkdir()
    else:
        path.write_bytes(data)


@pytest.fixture(scope="module")
def cases():
    sample = SHARED / "data" / "AFLW2000-sample"
    if not sample.is_dir():
        pytest.skip(f"shared reference data not found: {sample}")
    return image_cases((sample / f"{SRC}.jpg").read_bytes()), sio.loadmat(str(sample / f"{SRC}.mat"))


#: The cases that reach a method (the rest fail when read, before any method runs: the reader
#: sweep covers them once for all methods).
METHOD_CASES = ("jpg", "jpg_trailing_random", "png16_rgb", "png8_gray", "png16_gray", "png_gray_alpha",
                "jpg_garbled_scan", "jpg_header_40000", "unreadable")


def build_tree(root: Path, reader: str, cases: dict, mat: dict) -> dict[str, str]:
    """One sample per case in ``reader``'s layout; returns case name -> sample id."""
    ids = {}
    for i, (name, (ext, data, _)) in enumerate(sorted(cases.items()), start=1):
        if reader == "aflw2000":
            stem = root / f"image{i:05d}"
            root.mkdir(exist_ok=True)
            sio.savemat(stem.with_suffix(".mat"), {k: v for k, v in mat.items() if not k.startswith("__")})
            _write(stem.with_suffix(ext), data)
            ids[name] = stem.name
        elif reader == "300w-lp":
            d = root / "IBUG"
            d.mkdir(parents=True, exist_ok=True)
            stem = d / f"IBUG_case_{i:03d}_1_0"
            m = {k: v for k, v in mat.items() if not k.startswith("__")}
            m["pt2d"] = mat["pt3d_68"][:2]
            sio.savemat(stem.with_suffix(".mat"), m)
            if ext == ".jpg":
                _write(stem.with_suffix(".jpg"), data)
            else:  # 300W-LP images are .jpg; content decides the decoder
                _write(stem.with_suffix(".jpg"), data)
            ids[name] = f"IBUG/{stem.name}"
        else:  # biwi
            d = root / "01"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"frame_{i:05d}_pose.txt").write_text("1 0 0\n0 1 0\n0 0 1\n\n0 0 1000\n")
            _write(d / f"frame_{i:05d}_rgb.png", data)
            ids[name] = f"01/frame_{i:05d}"
    return ids


@pytest.fixture
def unreadable(monkeypatch):
    """Simulate a mode-000 file (tests run as root, which reads anything): opening any path whose
    name marks it unreadable raises PermissionError, in every module that opens image files."""
    import builtins

    real_open = builtins.open
    marked: set[str] = set()

    def fake_open(file, *args, **kwargs):
        if isinstance(file, (str, Path)) and str(Path(file).resolve()) in marked:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    import posebench.fileio
    import posebench.imageio

    monkeypatch.setattr(posebench.imageio, "open", fake_open, raising=False)
    monkeypatch.setattr(posebench.fileio, "open", fake_open, raising=False)
    return marked


def _mark_unreadable(marked: set[str], root: Path, ids: dict[str, str], reader: str) -> None:
    for p in root.rglob("*"):
        if p.is_file() and p.suffix in (".jpg", ".png") and _case_of(p, ids, reader) == "unreadable":
            marked.add(str(p.resolve()))


def _case_of(p: Path, ids: dict[str, str], reader: str) -> str | None:
    sid = {"aflw2000": p.stem, "300w-lp": f"IBUG/{p.stem}",
           "biwi": f"{p.parent.name}/{p.name[:-len('_rgb.png')]}"}[reader]
    return next((c for c, i in ids.items() if i == sid), None)


def check_table(table, ids: dict[str, str], cases: dict, where: str, tol: float = 1e-4) -> None:
    t = table.set_index("id")
    preds = {c: t.loc[i, ["pred_yaw", "pred_pitch", "pred_roll"]].to_numpy(float) for c, i in ids.items()}
    wrong = []
    for name, (_, _, (kind, arg)) in cases.items():
        fail = str(t.loc[ids[name], "failure"])
        if kind == "fail":
            if fail and arg.lower() in fail.lower():
                tally("recorded failure")
            else:
                tally("wrong or stale")
                wrong.append(f"{name}: expected a failure with {arg!r}, got {fail!r} / {preds[name]}")
        else:
            ref = preds[arg]
            if fail == "" and np.all(np.isfinite(ref)) and np.allclose(preds[name], ref, atol=tol):
                tally("right value")
            elif fail and fail == str(t.loc[ids[arg], "failure"]):
                tally("right value")  # the method fails on the reference image too, with the same reason
            else:
                tally("wrong or stale")
                wrong.append(f"{name}: expected {ref} like {arg}, got {preds[name]} / {fail!r}")
    assert not wrong, f"{where}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("reader", ["aflw2000", "300w-lp", "biwi"])
def test_damaged_images_in_every_reader(reader, cases, tmp_path, unreadable):
    cs, mat = cases
    root = tmp_path / reader
    ids = build_tree(root, reader, cs, mat)
    _mark_unreadable(unreadable, root, ids, reader)
    try:
        ds = datasets.create(reader, data_dir=str(root))
        res = evaluate(MeanColour(), ds, tmp_path / "res", progress=False)
    except Exception:
        tally("traceback")
        raise
    check_table(res.samples, ids, cs, reader, tol=1e-9)
    assert sum(b["n"] for b in res.record["by_yaw_bin"].values()) == res.record["n_evaluated"]


def _make_method(name: str, tmp_path: Path):
    opts: dict[str, str] = {}
    if name == "onnx-headpose":
        d = SHARED / "models" / "fsanet"
        if not d.is_dir():
            pytest.skip(f"FSA-Net models not found: {d}")
        opts = {"model_dir": str(d)}
    elif name == "fan":
        import os

        import torch
        from face_alignment.models import FAN

        from posebench.methods.fan import FAN_FILE

        torch.manual_seed(0)
        path = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints" / FAN_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(FAN(4).state_dict(), path)  # plumbing weights: predictions mean nothing
        opts = {"flip": "false", "box": "gt"}
    elif name == "dlib":
        opts = {"box": "gt"}
    elif name == "mediapipe":
        d = SHARED / "models" / "mediapipe"
        opts = {"model": str(d / "face_landmark.tflite"), "detector_model": str(d / "face_detection_short_range.tflite")}
    else:  # the Hopenet family: seeded weights of the right architecture (plumbing)
        import torch

        from posebench.methods.hopenet import nets

        arch = {"hopenet": "hopenet", "hopenet-alexnet": "hopenet-alexnet",
                "resnet50-regression": "resnet50-regression"}.get(name)
        if arch is None:
            pytest.skip(f"no weights recipe for third-party method {name}")
        w = tmp_path / f"{name}.pkl"
        torch.save(nets.seeded_weights(arch, seed=0), w)
        opts = {"weights": str(w), "engine": "torch"}
    try:
        return create_method(name, opts)
    except WeightsError as exc:
        pytest.skip(f"{name}: {exc}")


#: Image methods fast enough to run over every damaged file here; the networks (Hopenet family,
#: FAN) receive exactly the same arrays from the runner (the reader sweep pins them bit for bit)
#: and are run on arrays of every depth and layout below.
FAST_IMAGE_METHODS = [m for m in IMAGE_METHODS if m in ("dlib", "onnx-headpose")]
HEAVY = ("fan", "hopenet", "hopenet-alexnet", "resnet50-regression")


@pytest.mark.parametrize("name", FAST_IMAGE_METHODS)
def test_damaged_images_through_every_image_method(name, cases, tmp_path, unreadable):
    cs, mat = cases
    cs = {k: v for k, v in cs.items() if k in METHOD_CASES}
    root = tmp_path / "aflw"
    ids = build_tree(root, "aflw2000", cs, mat)
    _mark_unreadable(unreadable, root, ids, "aflw2000")
    m = _make_method(name, tmp_path)
    try:
        res = evaluate(m, datasets.create("aflw2000", data_dir=str(root)), tmp_path / "res", progress=False)
    except Exception:
        tally("traceback")
        raise
    check_table(res.samples, ids, cs, name)


@pytest.mark.parametrize("name", IMAGE_METHODS)
def test_arrays_of_every_depth_and_layout_through_every_image_method(name, cases, tmp_path):
    """The public estimate() path: 16-bit arrays give the 8-bit prediction; depths and layouts
    with no faithful 8-bit reading are refused (SampleFailure), never guessed."""
    from posebench.imageio import decode_image

    cs, mat = cases
    rgb = decode_image(cs["jpg"][1])
    gray = rgb[..., 0] // 3 + rgb[..., 1] // 3 + rgb[..., 2] // 3
    m = _make_method(name, tmp_path)
    from posebench.datasets.aflw2000 import load_aflw2000

    s = next(x for x in load_aflw2000(shared_path("data", "AFLW2000-sample")) if x.id == SRC)
    box = s.box

    def face(img):
        return FaceInput(img, (450, 450), box, s.landmarks, None, SRC, s.points)

    good = {"rgb8": rgb, "rgb16": rgb.astype(np.uint16) * 257, "gray8": np.ascontiguousarray(gray),
            "gray16": gray.astype(np.uint16) * 257, "gray_alpha8": np.dstack([gray, gray])}
    pairs = (("rgb16", "rgb8"), ("gray16", "gray8"), ("gray_alpha8", "gray8"))
    if name in HEAVY:
        # slow networks: no forward pass here. The Hopenet family's network input of a 16-bit
        # array must equal the 8-bit one's bit for bit (then so must the prediction); FAN converts
        # with the same to_rgb before anything else. Refused arrays never reach a network.
        if hasattr(m, "prepare"):
            same_input = np.array_equal(m.prepare(face(good["rgb16"])), m.prepare(face(good["rgb8"])))
            tally("right value" if same_input else "wrong or stale")
            assert same_input
        good, pairs = {}, ()
    bad = {"float32_unit": rgb.astype(np.float32) / 255, "float64": rgb.astype(np.float64), "int16": rgb.astype(np.int16),
           "bool": rgb > 128, "uint32": rgb.astype(np.uint32), "five_channels": np.dstack([rgb, rgb[..., :2]]),
           "empty": np.zeros((0, 0, 3), np.uint8), "one_dimensional": rgb.ravel()}
    try:
        out = m.estimate_batch([face(a) for a in [*good.values(), *bad.values()]])
    except Exception:
        tally("traceback")
        raise
    res = dict(zip([*good, *bad], out))

    def same(a, b):
        if isinstance(a, SampleFailure) or isinstance(b, SampleFailure):
            return isinstance(a, SampleFailure) and isinstance(b, SampleFailure) and a.reason == b.reason
        return np.allclose(a.as_array(), b.as_array(), atol=1e-4)

    wrong = []
    for k, ref in pairs:
        ok = same(res[k], res[ref])
        tally("right value" if ok else "wrong or stale")
        if not ok:
            wrong.append(f"{k}: {res[k]} vs {ref}: {res[ref]}")
    for k in bad:
        ok = isinstance(res[k], SampleFailure)
        tally("recorded failure" if ok else "wrong or stale")
        if not ok:
            wrong.append(f"{k}: a prediction from an image posebench cannot read faithfully: {res[k]}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("reader", ["aflw2000", "300w-lp", "biwi"])
def test_data_verify_names_every_damaged_image(reader, cases, tmp_path, unreadable, monkeypatch):
    import posebench.acquire.source as source

    cs, mat = cases
    root = tmp_path / reader
    ids = build_tree(root, reader, cs, mat)
    _mark_unreadable(unreadable, root, ids, reader)
    monkeypatch.setattr(source, "IMAGE_SAMPLE", 1000)  # decode every image, not a spread of 5
    res = CliRunner().invoke(main, ["data", "verify", reader, "--root", str(root)])
    if res.exception and not isinstance(res.exception, SystemExit):
        tally("traceback")
        raise res.exception
    assert res.exit_code == 1 and res.output.strip().splitlines()[-1].startswith("error:")
    tally("one-line error")
    problems = [line for line in res.output.splitlines() if line.startswith("problem:")]
    for name, (_, data, (kind, _)) in cs.items():
        if kind != "fail" or data is None:
            continue
        stem = Path(ids[name]).name
        hit = any(stem in line for line in problems)
        tally("recorded failure" if hit else "wrong or stale")
        assert hit, f"{name} ({stem}) not reported by verify: {problems}"
    for name, (ext, _, (kind, _)) in cs.items():
        if kind == "same":
            file = {"aflw2000": Path(ids[name]).name + ext, "300w-lp": Path(ids[name]).name + ".jpg",
                    "biwi": Path(ids[name]).name + "_rgb.png"}[reader]
            assert not any(f"{file}:" in line for line in problems), (name, problems)


# -- kind 1: two Euler triples (every solver, the runner and the studies' batched scoring) --------
def _ortho_mat(path: Path, face: np.ndarray, ypr) -> None:
    R = euler_to_matrix(*ypr)
    c = face - face.mean(axis=0)
    X = (R @ c.T).T * (150.0 / np.abs(c).max())
    pt3d = np.stack([225 + X[:, 0], 225 - X[:, 1], X[:, 2]])
    pose = np.array([np.radians(ypr[1]), np.radians(ypr[0]), np.radians(ypr[2]), 0, 0, 0, 1.0])[None]
    sio.savemat(path, {"Pose_Para": pose, "pt3d_68": pt3d, "pt2d": pt3d[:2, :21]})


YAWS = (-99.0, -95.0, -91.0, -90.0, -89.0, 85.0, 90.0, 91.0, 95.0, 99.0)


def test_yaw_beyond_90_is_scored_right_by_run_for_every_solver(tmp_path, u_base):
    from posebench.facemodel import load_face

    face = load_face(u_base)
    root = tmp_path / "aflw"
    root.mkdir()
    for i, yaw in enumerate(YAWS, start=1):
        for j, (p, r) in enumerate(((10.0, 5.0), (-30.0, 20.0), (60.0, -45.0))):
            _ortho_mat(root / f"image{100 * j + i:05d}.mat", face, (yaw, p, r))
    out = CliRunner().invoke(main, ["run", "-m", "gt-landmarks", "-d", "aflw2000", "--data-dir", str(root), "-o",
                                    "solver=weak", "-o", f"face={u_base}", "--results-dir", str(tmp_path / "r"),
                                    "--json"])
    if out.exception and not isinstance(out.exception, SystemExit):
        tally("traceback")
        raise out.exception
    j = json.loads(out.output.strip().splitlines()[-1])
    rec = json.loads(Path(j["run_file"]).read_text())
    ok = j["n_evaluated"] == 3 * len(YAWS) and j["mae"] < 1e-5
    ok &= sum(b["n"] for b in rec["by_yaw_bin"].values()) == j["n_evaluated"]
    tally("right value" if ok else "wrong or stale")
    assert ok, j


@pytest.mark.parametrize("solver", ["iterative", "sqpnp", "epnp"])
def test_synthetic_beyond_90_with_every_perspective_solver(solver, tmp_path):
    out = CliRunner().invoke(main, ["run", "-m", "gt-landmarks", "-d", "synthetic", "--dataset-option", "yaw=85,99",
                                    "--dataset-option", "n=60", "--dataset-option", "seed=5", "-o", "face=exact",
                                    "-o", f"solver={solver}", "--results-dir", str(tmp_path), "--json"])
    if out.exception and not isinstance(out.exception, SystemExit):
        tally("traceback")
        raise out.exception
    j = json.loads(out.output.strip().splitlines()[-1])
    ok = j["n_evaluated"] == 60 and j["mae"] < 1e-3
    tally("right value" if ok else "wrong or stale")
    assert ok, j


def test_study_tables_score_beyond_90_right(tmp_path):
    res = CliRunner().invoke(main, ["study", "keypoints", "--dataset-option", "yaw=88,99", "--dataset-option", "n=50",
                                    "-o", "face=exact", "-o", "subsets=68", "--results-dir", str(tmp_path)])
    if res.exception and not isinstance(res.exception, SystemExit):
        tally("traceback")
        raise res.exception
    import pandas as pd

    t = pd.read_csv(tmp_path / "tables" / "keypoints-synthetic.csv")
    ok = bool((t["mae"] < 1e-3).all())
    tally("right value" if ok else "wrong or stale")
    assert ok, t


# -- kind 4: a face file in other units, formats or scales ---------------------------------------
@pytest.mark.parametrize("method", ["gt-landmarks", "dlib"])
def test_face_file_units_never_change_a_prediction(method, tmp_path, u_base, aflw_sample):
    from posebench.facemodel import read_face_file

    raw = read_face_file(u_base)
    files = {}
    scales = (("um", 1.0), ("mm", 1e-3), ("m", 1e-6), ("inch", 1e-3 / 25.4), ("big", 1e4))
    for name, scale in scales if method == "gt-landmarks" else scales[:1] + scales[2:3]:
        p = tmp_path / f"face-{name}.txt"
        np.savetxt(p, (raw * scale).ravel())
        files[name] = p
    if method == "gt-landmarks":
        np.save(tmp_path / "face.npy", raw * 1e-3)
        np.savez(tmp_path / "face.npz", mean=raw * 1e-3)
        files["npy"], files["npz"] = tmp_path / "face.npy", tmp_path / "face.npz"
    ds = datasets.create("aflw2000", data_dir=str(aflw_sample)).subset(4 if method == "dlib" else 37)
    from posebench.imageio import read_image

    faces = [FaceInput(read_image(s.image_path) if method == "dlib" else None, s.image_size, s.box, s.landmarks,
                       None, s.id, s.points) for s in ds]
    preds = {}
    for name, p in files.items():
        opts = {"face": str(p), "points": "36,39,42,45,30,31,33,35,48,54,51,57"} if method == "gt-landmarks" \
            else {"face": str(p), "box": "gt"}
        out = create_method(method, opts).estimate_batch(faces)
        preds[name] = np.array([o.as_array() if isinstance(o, Pose) else [np.nan] * 3 for o in out])
    for name, a in preds.items():
        ok = np.array_equal(a, preds["um"], equal_nan=True)
        tally("right value" if ok else "wrong or stale")
        assert ok, name


# -- kind 5: support files in a 300W-LP tree ------------------------------------------------------
def test_300w_lp_support_files_are_not_samples(tmp_path):
    src = shared_path("data", "300W_LP-sample", "IBUG")
    root = tmp_path / "300W_LP"
    name = "IBUG_image_008_1_0"
    for sub in ("IBUG", "IBUG_Flip", "LFPW"):
        (root / sub).mkdir(parents=True)
        for ext in (".mat", ".jpg"):
            shutil.copy(src / f"{name}{ext}", root / sub / f"{name}{ext}")
    support = [root / "Code" / "ModelGeneration" / "model_info.mat", root / "Code" / "Model_Exp.mat",
               root / "landmarks" / "HELEN" / "HELEN_1_pts.mat", root / "top.mat", root / "IBUG_extra" / "x.mat",
               root / "Code" / "IBUG" / "deep.mat"]
    for p in support:
        p.parent.mkdir(parents=True, exist_ok=True)
        sio.savemat(p, {"pts_3d": np.zeros((68, 2)), "other": np.ones(3)})
    ds = datasets.create("300w-lp", data_dir=str(root))
    ok = len(ds) == 3 and ds.invalid == []
    tally("right value" if ok else "wrong or stale")
    assert ok, (len(ds), ds.invalid)
    res = CliRunner().invoke(main, ["data", "verify", "300w-lp", "--root", str(root)])
    assert res.exception is None or isinstance(res.exception, SystemExit)
    silent = not any(s in res.output for s in ("model_info", "Model_Exp", "top.mat", "IBUG_extra", "deep.mat"))
    tally("right value" if silent else "wrong or stale")
    assert silent, res.output


# -- kind 12: content changed behind the same name, size and mtime, in every reader -----------------
@pytest.mark.parametrize("reader", ["aflw2000", "300w-lp", "biwi"])
def test_same_size_replacement_is_never_served_from_the_cache(reader, cases, tmp_path):
    import os

    cs, mat = cases
    small = {"png8": cs["png8"], "png8_gray": cs["png8_gray"]}
    root = tmp_path / reader
    ids = build_tree(root, reader, small, mat)
    first = evaluate(MeanColour(), datasets.create(reader, data_dir=str(root)), tmp_path / "res", progress=False)
    target = next(p for p in root.rglob("*") if p.is_file() and p.suffix in (".jpg", ".png")
                  and _case_of(p, ids, reader) == "png8")
    st = target.stat()
    img = cv2.imdecode(np.frombuffer(target.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    new = _encode(".png", 255 - img, [cv2.IMWRITE_PNG_COMPRESSION, 0])
    old = _encode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 0])
    target.write_bytes(old)  # same-size encodings of two different images
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    evaluate(MeanColour(), datasets.create(reader, data_dir=str(root)), tmp_path / "res", progress=False)
    st = target.stat()
    target.write_bytes(new)
    assert target.stat().st_size == st.st_size
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = evaluate(MeanColour(), datasets.create(reader, data_dir=str(root)), tmp_path / "res", progress=False)
    fresh = evaluate(MeanColour(), datasets.create(reader, data_dir=str(root)), tmp_path / "fresh", progress=False)
    a = again.samples.set_index("id").loc[ids["png8"], "pred_yaw"]
    f = fresh.samples.set_index("id").loc[ids["png8"], "pred_yaw"]
    ok = again.record["from_cache"] == 0 and a == pytest.approx(f) and first.record["key"] != again.record["key"]
    tally("right value" if ok else "wrong or stale")
    assert ok, (again.record["from_cache"], a, f)


def test_zz_tally():
    """The counts for the issue's note (run the whole module; -s prints them)."""
    tried = sum(TALLY.values())
    line = (f"hostile inputs (kinds 1-6, 8, 12): tried {tried} / one-line errors {TALLY['one-line error']} / "
            f"recorded failures {TALLY['recorded failure']} / held with the right value {TALLY['right value']} / "
            f"tracebacks {TALLY['traceback']} / wrong or stale {TALLY['wrong or stale']}")
    print("\n" + line)
    assert TALLY["traceback"] == 0 and TALLY["wrong or stale"] == 0
