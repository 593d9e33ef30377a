"""Issue 15, kind 12: content decides. An input replaced by other content of the same name and
byte size (and even the same mtime) gives fresh predictions, never the cached ones."""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import pytest

from posebench.content import DigestIndex
from posebench.datasets.aflw2000 import load_aflw2000
from posebench.datasets.synthetic import make_synthetic
from posebench.imageio import read_image

FSANET_DIR = "models/fsanet"


def _same_size_png(path, rgb):
    ok, enc = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 0])
    assert ok
    path.write_bytes(enc.tobytes())


def _swap_keep_stat(path, rgb):
    """Replace the image's content with ``rgb`` at the same byte size and mtime."""
    st = path.stat()
    _same_size_png(path, rgb)
    assert path.stat().st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.fixture
def two_images(tmp_path, aflw_sample):
    data = tmp_path / "data"
    data.mkdir()
    srcs = sorted(aflw_sample.glob("image*.jpg"))[:2]
    for s in srcs:
        shutil.copy(s.with_suffix(".mat"), data / s.with_suffix(".mat").name)
        _same_size_png(data / (s.stem + ".png"), read_image(s))
    return data, srcs


def test_fingerprint_follows_image_bytes_not_names_and_sizes(two_images, tmp_path):
    data, srcs = two_images
    idx = DigestIndex(tmp_path / "digests.json")
    before = load_aflw2000(data).fingerprint(idx)
    idx.save()
    # unchanged files come from the index: nothing is read again
    warm = DigestIndex(tmp_path / "digests.json")
    assert load_aflw2000(data).fingerprint(warm) == before and warm.hashed == 0
    img = data / (srcs[0].stem + ".png")
    _swap_keep_stat(img, read_image(img)[:, ::-1])
    again = DigestIndex(tmp_path / "digests.json")
    assert load_aflw2000(data).fingerprint(again) != before and again.hashed == 1
    assert load_aflw2000(data).fingerprint() == load_aflw2000(data).fingerprint(again)


def test_damaged_digest_index_is_ignored(two_images, tmp_path):
    data, _ = two_images
    fp = load_aflw2000(data).fingerprint()
    for junk in (b"\xff\xfe not json", b"[]", b'{"format": 1, "files": {"x": "y"}}'):
        p = tmp_path / "idx.json"
        p.write_bytes(junk)
        assert load_aflw2000(data).fingerprint(DigestIndex(p)) == fp
    d = tmp_path / "idx-dir"
    d.mkdir()
    assert load_aflw2000(data).fingerprint(DigestIndex(d)) == fp


def test_fingerprint_covers_every_field_a_method_reads():
    a = make_synthetic(n=5, seed=1)
    fp = a.fingerprint()
    a.samples[2].model_3d = a.samples[2].model_3d + 1e-9  # exact face (face=exact reads it)
    assert a.fingerprint() != fp
    b = make_synthetic(n=5, seed=1)
    b.samples[0].points = np.zeros((21, 2))  # sparse points (FSA-Net's crop reads them)
    assert b.fingerprint() != fp
    c = make_synthetic(n=5, seed=1)
    c.samples[0].image_size = (451, 450)
    assert c.fingerprint() != fp


def test_replaced_image_is_predicted_afresh_not_from_the_cache(two_images, tmp_path):
    """The issue's case: MAE from the cache must equal the fresh MAE after a same-size swap."""
    from conftest import shared_path
    from posebench.evaluation.runner import evaluate
    from posebench.method import create_method

    model_dir = shared_path(*FSANET_DIR.split("/"))
    data, srcs = two_images
    m = create_method("onnx-headpose", {"model_dir": str(model_dir)})
    first = evaluate(m, load_aflw2000(data), tmp_path / "res", progress=False)
    img = data / (srcs[0].stem + ".png")
    _swap_keep_stat(img, read_image(img)[:, ::-1])
    again = evaluate(m, load_aflw2000(data), tmp_path / "res", progress=False)
    fresh = evaluate(m, load_aflw2000(data), tmp_path / "fresh", progress=False)
    assert again.record["from_cache"] == 0
    assert again.record["summary"]["mae"] == pytest.approx(fresh.record["summary"]["mae"], abs=1e-9)
    assert again.record["summary"]["mae"] != pytest.approx(first.record["summary"]["mae"], abs=1e-3)
