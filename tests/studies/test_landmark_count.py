"""``landmark-count`` (Figure 6): a detector that returns the ground-truth landmarks must give the
ground-truth curve exactly; failures are counted and excluded from the ground-truth rows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from posebench.datasets.base import Dataset
from posebench.datasets.synthetic import make_synthetic
from posebench.errors import SampleFailure, UsageError
from posebench.studies.run import create_study


class TruthDetector:
    """Stands in for dlib: returns each sample's ground-truth landmarks, fails on one sample."""

    name = "dlib"
    needs = frozenset({"image"})

    def __init__(self, truth: dict[str, np.ndarray], fail_id: str):
        self.truth, self.fail_id, self.calls = truth, fail_id, 0

    def identity(self):
        return {"method": "truth-detector"}

    def landmarks(self, image, box=None):
        self.calls += 1
        key = int(image[0, 0, 0])
        sid = f"s{key}"
        if sid == self.fail_id:
            raise SampleFailure("no face found")
        return self.truth[sid]


@pytest.fixture
def imaged(tmp_path):
    synth = make_synthetic(n=8, seed=5)
    samples = []
    for k, s in enumerate(synth.samples):
        p = tmp_path / f"s{k}.png"
        Image.fromarray(np.full((8, 8, 3), k, np.uint8)).save(p)
        samples.append(dataclasses.replace(s, id=f"s{k}", image_path=p))
    return Dataset("toy", "toy-v1", samples)


def test_truth_detector_reproduces_ground_truth_curve(imaged, tmp_path, monkeypatch):
    import posebench.studies.landmark_count as lc

    det = TruthDetector({s.id: s.landmarks for s in imaged}, fail_id="s3")

    def fake_build(specs, require_one=True):
        specs[0].method = det
        return specs

    monkeypatch.setattr(lc, "build_methods", fake_build)
    study = create_study("landmark-count", {"detectors": "dlib", "subsets": "6,68"})
    study.set_context(tmp_path / "res", False)
    t = study.run(imaged).set_index(["source", "n_points"])
    for n in (6, 68):
        d, g = t.loc[("dlib", n)], t.loc[("ground truth", n)]
        assert d["mae"] == pytest.approx(g["mae"], abs=1e-9)
        assert d["n"] == 7 and d["n_failed"] == 1 and g["n"] == 7
        assert t.loc[("ground truth (all faces)", n)]["n"] == 8
    calls = det.calls
    study.run(imaged)  # detected landmarks come from the cache
    assert det.calls == calls


def test_only_landmark_detectors():
    with pytest.raises(UsageError):
        create_study("landmark-count", {"detectors": "onnx-headpose"})


def test_mediapipe_landmarks_are_its_68_point_correspondence(tmp_path, monkeypatch):
    """MediaPipe as an estimated-landmark source: the study's 68 points of each face are exactly
    ``landmarks68_of`` (its 468 points at ``map68.json``) of the method's own face choice, and a
    face its detector misses is a counted failure."""
    from conftest import SHARED

    models, images = SHARED / "models" / "mediapipe", SHARED / "data" / "AFLW2000-sample"
    if not (models / "face_landmark.tflite").is_file() or not images.is_dir():
        pytest.skip(f"MediaPipe models / sample images not in {SHARED}")
    pytest.importorskip("ai_edge_litert", reason="LiteRT (ai-edge-litert) is not installed")
    import posebench.studies.landmark_count as lc
    from posebench.datasets.degrade import sample_image
    from posebench.method import create_method
    from posebench.registry import datasets

    monkeypatch.setenv("POSEBENCH_DATA", str(tmp_path / "data"))
    opts = {"model": str(models / "face_landmark.tflite"), "detector_model": str(models / "face_detection_short_range.tflite")}
    full = datasets.create("aflw2000", data_dir=str(images))
    # image00006 has two faces (the detection overlapping the protocol box is the sample's);
    # image00074 is a profile MediaPipe's detector misses
    keep = [s for s in full if s.id in ("image00006", "image00008", "image00074")]
    ds = Dataset(full.name, full.protocol, keep)
    method = create_method("mediapipe", opts)
    got = lc.detected_landmarks(method, ds, tmp_path / "res", progress=False)
    for s in keep:
        try:
            want = method.landmarks68_of(sample_image(s), s.box)
        except SampleFailure as exc:
            assert got[s.id] == exc.reason
            continue
        assert want.shape == (68, 2)
        np.testing.assert_allclose(got[s.id], want, atol=1e-9)
    assert sum(isinstance(v, str) for v in got.values()) >= 1
