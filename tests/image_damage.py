"""Damaged and unusual image files, each with its right outcome, laid out in every reader's tree.

:func:`image_cases` makes, from one real AFLW2000 jpg, files that are damaged (truncated, garbled,
a header claiming 40000 px), in other depths and layouts (16-bit, grey, grey+alpha, TIFF) or not
images at all; each has its expected outcome, computed independently: ``("same", case)``, the
prediction of an undamaged reference case, or ``("fail", words)``, a recorded per-sample failure
whose reason holds ``words``. :class:`MeanColour` is a cheap image method whose pose fingerprints
the exact pixels it receives. The fixtures ``damaged_images`` (the cases and the source ``.mat``)
and ``unreadable`` (a set of paths that open with PermissionError) are registered for every test
by ``tests/conftest.py``.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io as sio
from PIL import Image

from conftest import SHARED
from posebench.method import FaceInput, Method
from posebench.pose import Pose

SRC = "image00002"  # a real AFLW2000 image (yaw inside the protocol) with its .mat


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


def encode(ext: str, bgr: np.ndarray, params=()) -> bytes:
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
    png = encode(".png", bgr)
    png_bad = bytearray(png)
    png_bad[len(png) // 2:len(png) // 2 + 64] = _random(64, 2)
    tif = encode(".tiff", bgr)
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
        # a marker no JPEG has, inside the scan: libjpeg-turbo's strict decode says "Unsupported marker
        # type 0xf0", OpenCV decodes it with a warning (it was read as a valid image)
        "jpg_unsupported_marker": (".jpg", src_jpg[:sos + 2000] + b"\xff\xf0\x00\x04\x00\x00" + src_jpg[sos + 2000:],
                                   ("fail", "Unsupported marker")),
        "jpg_reserved_sof_in_scan": (".jpg", src_jpg[:sos + 2000] + b"\xff\xc8\x00\x04\x00\x00" + src_jpg[sos + 2000:],
                                     ("fail", "Unsupported JPEG process")),
        "jpg_no_end_marker": (".jpg", src_jpg[:-2], ("fail", "JPEG")),
        "jpg_header_40000": (".jpg", _jpeg_with_size(src_jpg, 40000, 40000), ("fail", "too large")),
        "png_header_60000": (".png", _png_header(60000, 60000), ("fail", "too large")),
        "png_header_40000": (".png", _png_header(40000, 40000), ("fail", "too large")),
        "png8": (".png", png, ("same", "jpg")),
        "png16_rgb": (".png", encode(".png", bgr.astype(np.uint16) * 257), ("same", "jpg")),
        "png16_rgba": (".png", encode(".png", np.dstack([bgr, np.full_like(gray, 255)]).astype(np.uint16) * 257),
                       ("same", "jpg")),
        "png8_gray": (".png", encode(".png", gray), ("same", "png8_gray")),
        "png16_gray": (".png", encode(".png", gray.astype(np.uint16) * 257), ("same", "png8_gray")),
        "png_gray_alpha": (".png", la.getvalue(), ("same", "png8_gray")),
        "tiff16": (".png", encode(".tiff", bgr.astype(np.uint16) * 257), ("same", "jpg")),
        "tiff_float32": (".png", encode(".tiff", bgr.astype(np.float32) / 255.0), ("fail", "data type")),
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

    name = "pixel-fingerprint"
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
def damaged_images():
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


def mark_unreadable(marked: set[str], root: Path, ids: dict[str, str], reader: str) -> None:
    for p in root.rglob("*"):
        if p.is_file() and p.suffix in (".jpg", ".png") and case_of(p, ids, reader) == "unreadable":
            marked.add(str(p.resolve()))


def case_of(p: Path, ids: dict[str, str], reader: str) -> str | None:
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
            if not (fail and arg.lower() in fail.lower()):
                wrong.append(f"{name}: expected a failure with {arg!r}, got {fail!r} / {preds[name]}")
        else:
            ref = preds[arg]
            same = fail == "" and np.all(np.isfinite(ref)) and np.allclose(preds[name], ref, atol=tol)
            same_failure = fail and fail == str(t.loc[ids[arg], "failure"])  # it fails on the reference image too
            if not (same or same_failure):
                wrong.append(f"{name}: expected {ref} like {arg}, got {preds[name]} / {fail!r}")
    assert not wrong, f"{where}:\n" + "\n".join(wrong)
