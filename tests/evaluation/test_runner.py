"""Runner and cache: resume after interruption, batch-size independence, per-sample failures."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
import scipy.io as sio

import posebench
from conftest import shared_path
from posebench.datasets.aflw2000 import load_aflw2000
from posebench.datasets.synthetic import make_synthetic
from posebench.errors import SampleFailure, UsageError
from posebench.evaluation.cache import PredictionCache
from posebench.evaluation.runner import evaluate
from posebench.method import FaceInput, Method, create_method
from posebench.pose import Pose


class CountingGT(Method):
    """gt-landmarks (sqpnp) that counts calls and can be told to die after some faces."""

    name = "gt-landmarks"
    needs = frozenset({"landmarks"})
    runtime_options = Method.runtime_options | {"die_after"}  # a test hook, not a setting

    def __init__(self, die_after: int | None = None, batch_size: int = 10):
        self.inner = create_method("gt-landmarks", {"solver": "sqpnp"})
        super().__init__(**self.inner.options)
        self.calls = 0
        self.die_after = die_after
        self.batch_size = batch_size

    @property
    def weights_hash(self):
        return self.inner.weights_hash

    def estimate_one(self, face: FaceInput) -> Pose:
        if self.die_after is not None and self.calls >= self.die_after:
            raise KeyboardInterrupt
        self.calls += 1
        return self.inner.estimate_one(face)


def test_interrupted_run_resumes_where_it_stopped(tmp_path):
    ds = make_synthetic(n=50, seed=3)
    with pytest.raises(KeyboardInterrupt):
        evaluate(CountingGT(die_after=25, batch_size=10), ds, tmp_path, progress=False)
    assert not (tmp_path / "runs").exists()  # nothing half-written: the run record comes at the end
    cached = PredictionCache(next((tmp_path / "cache").glob("*.jsonl"))).load()
    assert len(cached) == 20  # two whole chunks were written, the third died
    m = CountingGT()
    res = evaluate(m, ds, tmp_path, progress=False)
    assert m.calls == 30 and res.record.from_cache == 20 and res.record.n_evaluated == 50
    again = CountingGT()
    res2 = evaluate(again, ds, tmp_path, progress=False)
    assert again.calls == 0 and res2.record.from_cache == 50
    assert res2.record.summary == res.record.summary
    # the same numbers as a run that never stopped
    fresh = evaluate(CountingGT(), ds, tmp_path / "fresh", progress=False)
    assert fresh.record.summary == res.record.summary


def test_results_do_not_depend_on_batch_size(tmp_path):
    ds = make_synthetic(n=40, seed=4)
    a = evaluate(CountingGT(batch_size=1), ds, tmp_path / "a", progress=False)
    b = evaluate(CountingGT(batch_size=64), ds, tmp_path / "b", progress=False)
    cols = ["id", "pred_yaw", "pred_pitch", "pred_roll", "err_mean"]
    pd.testing.assert_frame_equal(a.samples[cols], b.samples[cols])


def test_cache_ignores_a_torn_last_line_and_repairs_it(tmp_path):
    c = PredictionCache(tmp_path / "c.jsonl")
    c.append([{"id": "a", "pred": [1, 2, 3], "fail": None, "sec": 0.1}])
    with open(c.path, "a") as fh:
        fh.write('{"id": "b", "pred": [1, 2')
    assert list(c.load()) == ["a"]
    c.append([{"id": "c", "pred": None, "fail": "x", "sec": 0.0}])
    assert list(c.load()) == ["a", "c"]


class MeanColour(Method):
    """A toy image method: reads the image; yaw = mean red value (to check images arrive RGB)."""

    name = "mean-colour"
    needs = frozenset({"image"})

    def estimate_one(self, face: FaceInput) -> Pose:
        img = face.image
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        if min(img.shape[:2]) < 16:
            raise SampleFailure("image too small")
        return Pose(float(img[..., 0].mean()), float(img[..., 2].mean()), 0.0)


def _aflw_fixture(root, n=6):
    root.mkdir()
    for i in range(1, n + 1):
        sio.savemat(str(root / f"image{i:05d}.mat"), {
            "Pose_Para": np.array([[0.0, 0.0, 0.0, 0, 0, 0, 1]], np.float32),
            "pt3d_68": np.tile(np.array([[200.0], [200.0], [0.0]], np.float32), (1, 68)) + np.arange(68, dtype=np.float32),
            "pt2d": np.array([[150, 300], [150, 300]], np.float32).repeat(1, axis=1),
        })
    return root


def test_image_faults_are_recorded_per_sample(tmp_path):
    root = _aflw_fixture(tmp_path / "aflw")
    red = np.zeros((60, 60, 3), np.uint8)
    red[..., 2] = 200  # BGR on disk: pure red
    cv2.imwrite(str(root / "image00001.jpg"), red)
    cv2.imwrite(str(root / "image00002.png"), cv2.cvtColor(red, cv2.COLOR_BGR2GRAY))  # grayscale
    cv2.imwrite(str(root / "image00003.png"), np.dstack([red, np.full((60, 60), 255, np.uint8)]))  # RGBA
    good = (root / "image00001.jpg").read_bytes()
    (root / "image00004.jpg").write_bytes(good[: len(good) // 2])  # truncated
    (root / "image00005.jpg").write_bytes(b"\xff\xd8garbage\xff\xd9")  # corrupt
    cv2.imwrite(str(root / "image00006.png"), red[:10, :10])  # 10x10
    res = evaluate(MeanColour(), load_aflw2000(root), tmp_path / "res", progress=False)
    t = res.samples.set_index("id")
    # (stored angles are wrapped to (-180, 180]: 200 is stored as -160)
    assert t.loc["image00001", "pred_yaw"] % 360 == pytest.approx(200, abs=3)  # red arrived in channel 0
    assert t.loc["image00002", "failure"] == "" and t.loc["image00003", "pred_yaw"] % 360 == pytest.approx(200, abs=1)
    assert "truncated" in t.loc["image00004", "failure"]
    assert "corrupt" in t.loc["image00005", "failure"]
    assert t.loc["image00006", "failure"] == "image too small"
    assert res.record.n_failed == 3 and res.record.n_evaluated == 3


def test_labels_only_samples_are_reported_for_image_methods(tmp_path, aflw_labels):
    """An image method on labels-only data evaluates nothing: one error naming the reason, and no
    all-NaN run stored for the leaderboard (issue 25)."""
    from posebench.errors import DataError

    ds = load_aflw2000(aflw_labels).subset(5)
    with pytest.raises(DataError, match=r"no sample of aflw2000 could be evaluated by mean-colour \(no image file for "
                                        r"this sample \(labels-only data\) x5\): no run stored"):
        evaluate(MeanColour(), ds, tmp_path, progress=False)
    assert not (tmp_path / "runs").exists()


def test_a_run_with_some_samples_evaluated_is_stored_with_its_failures(tmp_path, aflw_labels):
    sample = shared_path("data", "AFLW2000-sample")
    import shutil

    root = tmp_path / "mixed"
    root.mkdir()
    for stem in ("image00002", "image00004"):
        shutil.copy(sample / f"{stem}.jpg", root)
        shutil.copy(sample / f"{stem}.mat", root)
    shutil.copy(sample / "image00006.mat", root)  # a label without its image
    res = evaluate(MeanColour(), load_aflw2000(root), tmp_path / "r", progress=False)
    assert res.record.n_evaluated == 2 and res.record.failures == {"no image file for this sample (labels-only data)": 1}
    assert res.record.samples_without_image == 1


def test_duplicate_sample_ids_are_refused_before_anything_runs(tmp_path):
    from posebench.errors import DataError

    ds = make_synthetic(n=3, seed=0)
    ds.samples.append(ds.samples[0])
    m = create_method("gt-landmarks", {})
    with pytest.raises(DataError, match="two samples with id 'synth000000'.*ids must be unique"):
        evaluate(m, ds, tmp_path, progress=False)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("limit", [-2, 0, 1.5, True, "3"])
def test_limit_out_of_domain_is_refused(tmp_path, limit):
    import posebench
    from posebench.errors import UsageError

    with pytest.raises(UsageError, match="limit must be a whole number >= 1"):
        posebench.evaluate("gt-landmarks", "synthetic", tmp_path, dataset_options={"n": 5}, limit=limit)
    assert not (tmp_path / "runs").exists()
    assert posebench.evaluate("gt-landmarks", "synthetic", tmp_path, dataset_options={"n": 5}, limit=3).record.n_samples == 3


def test_invalid_labels_count_as_failures(tmp_path):
    root = _aflw_fixture(tmp_path / "aflw", n=2)
    sio.savemat(str(root / "image00003.mat"), {"pt2d": np.zeros((2, 21))})
    res = evaluate(create_method("gt-landmarks", {}), load_aflw2000(root), tmp_path / "r", progress=False)
    assert res.record.n_samples == 3 and res.record.failures["label: image00003.mat: no Pose_Para field"] == 1
    rec = json.loads(res.paths["record"].read_text())
    assert rec["environment"]["packages"]["numpy"] and rec["options"]["solver"] == "auto" and rec["label"] == "gt-landmarks"
    assert rec["setup"] == "weak-perspective: scaled-orthographic fit" and rec["behind_camera"] == 0


def test_a_nameless_hand_built_method_is_refused(tmp_path):
    from posebench.method import Method
    from posebench.pose import Pose

    class Nameless(Method):
        needs = frozenset({"landmarks"})

        def estimate_one(self, face):
            return Pose(0.0, 0.0, 0.0)

    with pytest.raises(UsageError, match="has no usable name"):
        posebench.evaluate(Nameless(), posebench.create_dataset("synthetic", n=3), results_dir=tmp_path)
