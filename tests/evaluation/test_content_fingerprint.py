"""Issue 15, kind 12: content decides. An input replaced by other content of the same name and
byte size (and even the same mtime) gives fresh predictions, never the cached ones."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from posebench.datasets.aflw2000 import load_aflw2000
from posebench.datasets.synthetic import make_synthetic
from posebench.fileio import DigestIndex
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


# -- one file digest, one persistent index ------------------------------------------------------

def _rewrite_in_place_keep_mtime(path, data: bytes) -> None:
    """Other bytes of the same size in the same file (same inode), its mtime set back."""
    st = path.stat()
    assert len(data) == st.st_size
    with open(path, "r+b") as fh:
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (st.st_ino, st.st_mtime_ns)


def test_file_digest_is_the_full_sha256_kept_in_the_one_index_under_the_data_root(tmp_path):
    import hashlib
    import json

    from posebench.fileio import digest_index, file_digest

    f = tmp_path / "weights.bin"
    f.write_bytes(b"a" * 4096)
    want = hashlib.sha256(b"a" * 4096).hexdigest()
    assert file_digest(f) == want
    index_file = Path(os.environ["POSEBENCH_DATA"]) / "cache" / "file-digests.json"
    assert digest_index().path == index_file
    assert json.loads(index_file.read_text())["files"][str(f.resolve())][5] == want
    fresh = DigestIndex(index_file)  # the next process: answered from the index, nothing read
    assert fresh.digest(f) == want and fresh.hashed == 0


def test_a_file_rewritten_in_place_with_its_mtime_set_back_is_hashed_again(tmp_path):
    """The digest memo used to key on (path, size, mtime, inode) (and Hopenet's weights cache on
    path, mtime, size): such a rewrite was answered with the old digest, and so the old key."""
    import hashlib

    from posebench.fileio import file_digest

    f = tmp_path / "detector.onnx"
    f.write_bytes(b"a" * 4096)
    first = file_digest(f)
    _rewrite_in_place_keep_mtime(f, b"b" * 4096)
    assert file_digest(f) == hashlib.sha256(b"b" * 4096).hexdigest() != first


def test_downloads_weights_and_dataset_images_share_the_one_digest(tmp_path, two_images):
    import hashlib

    from posebench.acquire.download import ChecksumError, check_file
    from posebench.fileio import digest_index, file_digest

    f = tmp_path / "model.onnx"
    f.write_bytes(b"onnx" * 100)
    check_file(f, None, hashlib.sha256(b"onnx" * 100).hexdigest().upper(), remove_bad=False)  # published, full hex
    assert str(f.resolve()) in digest_index().entries  # checked once: a later cache key reads it from the index
    with pytest.raises(ChecksumError):
        check_file(f, None, "0" * 64, remove_bad=False)
    data, _ = two_images
    load_aflw2000(data).fingerprint()  # no index given: the shared one
    img = sorted(data.glob("*.png"))[0]
    assert digest_index().entries[str(img.resolve())][5] == file_digest(img) == hashlib.sha256(img.read_bytes()).hexdigest()
