"""The runner's input pipeline (posebench.evaluation.pipeline) and evaluate_many: the same cache
lines and run tables as the sequential path, each image decoded once for all methods, a read
failure recorded as before, the decoding thread stopped when the consumer stops."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pandas as pd
import pytest

import posebench.imageio
from image_damage import MeanColour
from posebench.datasets.aflw2000 import load_aflw2000
from posebench.datasets.degrade import with_downsample
from posebench.evaluation.pipeline import sample_stream
from posebench.evaluation.runner import evaluate, evaluate_many
from posebench.method import FaceInput, Method, create_method
from posebench.pose import Pose


class Grey(Method):
    """A second image method (mean grey level of a 40-pixel patch as yaw) with its own batch size,
    so that the two methods cut the dataset into different chunks."""

    name = "grey-patch"
    needs = frozenset({"image"})
    batch_size = 3

    def estimate_one(self, face: FaceInput) -> Pose:
        return Pose(float(face.image[100:140, 100:140].mean()) / 3, 1.0, 2.0)


def _dataset(aflw_sample, tmp_path, n=9):
    root = tmp_path / "data"
    root.mkdir()
    for jpg in sorted(aflw_sample.glob("*.jpg"))[:n]:
        shutil.copy(jpg, root / jpg.name)
        shutil.copy(jpg.with_suffix(".mat"), root / jpg.with_suffix(".mat").name)
    first = sorted(root.glob("*.jpg"))[1]
    first.write_bytes(first.read_bytes()[:3000])  # truncated: a recorded failure
    return with_downsample(load_aflw2000(root, filter="none"), 5)


def _lines(results, method, dataset):
    (path,) = (results / "cache").glob(f"{method}__{dataset}__*.jsonl")
    out = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    for r in out:
        r.pop("sec")
    return out


def _methods():
    gt = create_method("gt-landmarks", {"solver": "sqpnp"})
    gt.batch_size = 4
    colour = MeanColour()
    colour.batch_size = 2
    return [colour, Grey(), gt]


def test_pipelined_many_gives_the_sequential_records(aflw_sample, tmp_path):
    ds = _dataset(aflw_sample, tmp_path)
    many = evaluate_many(_methods(), ds, tmp_path / "many", progress=False)
    for m, res in zip(_methods(), many):
        alone = evaluate(m, ds, tmp_path / f"alone-{m.name}", progress=False, pipelined=False)
        assert _lines(tmp_path / "many", m.name, ds.name) == _lines(tmp_path / f"alone-{m.name}", m.name, ds.name)
        cols = [c for c in alone.samples.columns if c != "seconds"]
        pd.testing.assert_frame_equal(res.samples[cols], alone.samples[cols])
        assert res.record.key == alone.record.key and res.record.summary == alone.record.summary
    fails = many[0].samples.set_index("id")["failure"]
    assert (fails != "").sum() == 1 and "JPEG" in fails[fails != ""].iloc[0]


def test_partly_cached_methods_resume_with_the_same_lines(aflw_sample, tmp_path):
    ds = _dataset(aflw_sample, tmp_path)
    colour, grey, gt = _methods()
    evaluate(grey, ds.subset(4), tmp_path / "r", progress=False)  # another dataset: another key
    evaluate_many([colour], ds, tmp_path / "r", progress=False)
    lines = _lines(tmp_path / "r", colour.name, ds.name)
    cache = next((tmp_path / "r" / "cache").glob(f"{colour.name}__{ds.name}__*.jsonl"))
    cache.write_text("\n".join(cache.read_text().splitlines()[:5]) + "\n")  # interrupted after 5 faces
    res = evaluate_many([colour, grey, gt], ds, tmp_path / "r", progress=False)
    assert res[0].record.from_cache == 5 and res[1].record.from_cache == 0
    assert _lines(tmp_path / "r", colour.name, ds.name) == lines


def test_each_image_is_decoded_once_for_all_methods(aflw_sample, tmp_path, monkeypatch):
    ds = _dataset(aflw_sample, tmp_path, n=5)
    reads: list[str] = []
    real = posebench.imageio.read_image

    def counting(path):
        reads.append(str(path))
        return real(path)

    monkeypatch.setattr(posebench.imageio, "read_image", counting)
    evaluate_many(_methods(), ds, tmp_path / "r", progress=False)
    assert sorted(reads) == sorted(str(s.image_path) for s in ds.samples)  # once each, not once per method
    reads.clear()
    evaluate_many(_methods(), ds, tmp_path / "r", progress=False)  # all cached: nothing decoded
    assert reads == []


def test_stream_keeps_order_and_stops_its_thread(aflw_sample, tmp_path):
    ds = _dataset(aflw_sample, tmp_path, n=6)
    seq = [(s.id, img) for s, img, _ in sample_stream(ds.samples, lambda s: True, threaded=False)]
    thr = [(s.id, img) for s, img, _ in sample_stream(ds.samples, lambda s: True, depth=2)]
    assert [i for i, _ in seq] == [i for i, _ in thr] == [s.id for s in ds.samples]
    for (_, a), (_, b) in zip(seq, thr):
        if isinstance(a, np.ndarray):
            assert not a.flags.writeable and np.array_equal(a, b)
        else:
            assert a.reason == b.reason
    stream = sample_stream(ds.samples, lambda s: True, depth=1)
    next(stream)
    stream.close()  # the consumer stops early: the decoding thread ends
    assert not any(t.name == "posebench-decode" for t in threading.enumerate())


def test_a_consumer_error_stops_the_stream(aflw_sample, tmp_path):
    ds = _dataset(aflw_sample, tmp_path, n=4)

    class Boom(Grey):
        def estimate_one(self, face):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        evaluate_many([Boom()], ds, tmp_path / "r", progress=False)
    assert not any(t.name == "posebench-decode" for t in threading.enumerate())
