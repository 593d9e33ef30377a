"""Issue 15, kinds 3 and 8: images decoded exactly as the reference loaders do; 16-bit scaled as
round(v / 257); decoder-reported corruption, oversized headers, depths with no faithful 8-bit
reading and I/O errors are recorded failures."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from posebench.errors import SampleFailure
from posebench.imageio import decode_image, read_image, to_rgb


def test_pixels_equal_pils_convert_rgb_on_the_real_images(aflw_sample):
    files = sorted(aflw_sample.glob("*.jpg"))
    assert len(files) == 40
    for f in files:
        assert np.array_equal(read_image(f), np.asarray(Image.open(f).convert("RGB")))


def test_16_bit_is_value_over_257_rounded():
    v = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    got = to_rgb(v)[..., 0].astype(int).ravel()
    want = np.floor(np.arange(65536) / 257 + 0.5).astype(int)  # no exact halves: 257 is odd
    assert np.array_equal(got, want)
    assert (got == 255).mean() < 0.003  # the old clip made 99.6% of this gradient 255
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    ok, png = cv2.imencode(".png", (rgb[..., ::-1].astype(np.uint16) * 257))
    assert np.array_equal(decode_image(png.tobytes()), rgb)


@pytest.mark.parametrize("arr", [np.zeros((8, 8, 3), np.float32), np.ones((8, 8), np.float64) * 0.5,
                                 np.zeros((8, 8, 3), np.int16), np.zeros((8, 8, 3), bool),
                                 np.zeros((8, 8, 3), np.uint32), np.zeros((8, 8, 5), np.uint8),
                                 np.zeros((0, 8, 3), np.uint8)])
def test_depths_and_layouts_without_a_faithful_reading_are_refused(arr):
    with pytest.raises(SampleFailure):
        to_rgb(arr)


def test_jpeg_corruption_is_what_the_decoder_reports(aflw_sample):
    src = (aflw_sample / "image00002.jpg").read_bytes()
    ref = read_image(aflw_sample / "image00002.jpg")
    assert np.array_equal(decode_image(src + bytes(64)), ref)  # trailing bytes: valid
    assert np.array_equal(decode_image(src + b"\xff\xd9" + bytes(range(62))), ref)
    bad = bytearray(src)
    mid = (src.find(b"\xff\xda") + len(src)) // 2
    bad[mid:mid + 200] = np.random.default_rng(1).integers(0, 256, 200, dtype=np.uint8).tobytes()
    assert bad[-2:] == b"\xff\xd9"
    with pytest.raises(SampleFailure, match="Corrupt JPEG data"):
        decode_image(bytes(bad), "x.jpg")
    with pytest.raises(SampleFailure, match="truncated"):
        decode_image(src[:-500], "x.jpg")


def _png_header(w: int, h: int) -> bytes:
    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [40000, 60000, 13500, 13000, 8193])
def test_pixel_count_is_bounded_before_decoding(side):
    """A header above 2**26 pixels is refused before decoding; 13000x13000 (169 Mpx, under PIL's
    178,956,970 that was the bound) made `posebench draw` use 8.2 GB."""
    with pytest.raises(SampleFailure, match="too large"):
        decode_image(_png_header(side, side), "big.png")


def test_bound_is_configurable(monkeypatch):
    import posebench.imageio as io_

    monkeypatch.setattr(io_, "MAX_PIXELS", 100)
    with pytest.raises(SampleFailure, match="too large"):
        decode_image(_png_header(11, 10), "small.png")


def test_bound_from_the_environment_is_read_at_decode_and_checked(monkeypatch, tmp_path):
    """``POSEBENCH_MAX_IMAGE_PIXELS=abc`` was an import-time traceback; now one line when used."""
    import subprocess
    import sys

    from posebench.errors import UsageError

    monkeypatch.setenv("POSEBENCH_MAX_IMAGE_PIXELS", "100")
    with pytest.raises(SampleFailure, match="limit 100;"):
        decode_image(_png_header(11, 10), "small.png")
    for bad in ("abc", "0", "-5", ""):
        monkeypatch.setenv("POSEBENCH_MAX_IMAGE_PIXELS", bad)
        with pytest.raises(UsageError, match="POSEBENCH_MAX_IMAGE_PIXELS must be a whole number of pixels >= 1"):
            decode_image(_png_header(11, 10), "small.png")
    monkeypatch.setenv("POSEBENCH_MAX_IMAGE_PIXELS", "abc")
    r = subprocess.run([sys.executable, "-c", "import posebench.imageio"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_io_errors_are_sample_failures(tmp_path, monkeypatch):
    import builtins

    import posebench.imageio as io_

    p = tmp_path / "a.jpg"
    p.write_bytes(b"\xff\xd8\xff\xd9")
    real = builtins.open

    def deny(file, *a, **k):
        if str(file) == str(p):
            raise PermissionError(13, "Permission denied", str(file))
        return real(file, *a, **k)

    monkeypatch.setattr(io_, "open", deny, raising=False)
    with pytest.raises(SampleFailure, match="Permission denied"):
        read_image(p)
    (tmp_path / "dir.jpg").mkdir()
    with pytest.raises(SampleFailure, match="not a regular file"):
        read_image(tmp_path / "dir.jpg")
    import os

    os.mkfifo(tmp_path / "fifo.jpg")
    with pytest.raises(SampleFailure, match="not a regular file"):  # never blocks on a FIFO
        read_image(tmp_path / "fifo.jpg")


def test_the_bound_lets_a_61_megapixel_photo_through():
    from posebench.imageio import MAX_PIXELS

    assert 9504 * 6336 <= MAX_PIXELS < 8193 * 8193
