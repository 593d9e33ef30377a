"""Image methods (dlib, onnx-headpose/FSA-Net, fan) and face detection on real AFLW2000 images
from ../shared (skipped with a reason when absent) and on bad input.

FAN runs here only with weights the test writes itself (random, right architecture): those runs
check plumbing (shapes, geometry, failure handling), never accuracy.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io as sio
from click.testing import CliRunner
from test_crop import BAD_BOXES

from conftest import SHARED, shared_path
from image_damage import METHOD_CASES, SRC, build_tree, check_table, mark_unreadable
from method_fixtures import MADE_OPTIONS, make_method
from posebench.cli import main
from posebench.crop import landmark_box
from posebench.detect import choose_face, iou, make_detector
from posebench.errors import SampleFailure, UsageError, WeightsError
from posebench.evaluation.runner import evaluate
from posebench.imageio import read_image
from posebench.method import FaceInput, create_method
from posebench.metrics import angle_errors
from posebench.registry import datasets, methods
from posebench.registry import methods as registry

YUNET = SHARED / "models" / "yunet" / "yunet_n_dynamic.onnx"
FSANET = SHARED / "models" / "fsanet"


@functools.lru_cache(maxsize=1)
def _real_faces(root: str) -> tuple:
    from posebench.registry import datasets

    ds = datasets.create("aflw2000", data_dir=root)
    return tuple(FaceInput(read_image(s.image_path), s.image_size, s.box, s.landmarks, None, s.id, s.points)
                 for s in ds.samples if s.image_path is not None), tuple(s.pose.as_array() for s in ds.samples)


@pytest.fixture
def real_faces(aflw_sample):
    faces, poses = _real_faces(str(aflw_sample))
    return list(faces), np.array(poses)


def _write_fan_weights(torch_home: Path) -> Path:
    import torch
    from face_alignment.models import FAN

    from posebench.methods.fan import FAN_FILE

    torch.manual_seed(0)
    path = torch_home / "hub" / "checkpoints" / FAN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(FAN(4).state_dict(), path)
    return path


@pytest.fixture
def fan_plumbing_weights() -> Path:
    """PLUMBING ONLY: random FAN weights under $TORCH_HOME (predictions are meaningless)."""

    return _write_fan_weights(Path(os.environ["TORCH_HOME"]))


@pytest.fixture
def weights_for(request):
    """Call with a method name: writes the plumbing FAN weights first when it is ``fan``."""
    def prepare(name: str) -> None:
        if name == "fan":
            request.getfixturevalue("fan_plumbing_weights")
    return prepare


def make(name: str, **extra):
    """A registered image method with the options these tests need: its shared or test-made files
    (:func:`method_fixtures.make_method`), loaded (skip, with the reason, when its files are absent)."""
    if name == "onnx-headpose" and not FSANET.is_dir():
        pytest.skip(f"FSA-Net models not found: {FSANET}")
    extra = {**({"flip": "false"} if name == "fan" else {}), **extra}  # FAN: one pass, not two
    m = make_method(name, **{k: str(v) for k, v in extra.items()})
    try:
        if name not in ("dlib", "onnx-headpose", "fan"):  # may load its weights lazily
            m.estimate_batch([FaceInput(np.zeros((64, 64, 3), np.uint8), (64, 64), (8.0, 8.0, 56.0, 56.0))])
    except WeightsError as exc:
        pytest.skip(f"{name}: {exc}")
    return m


IMAGE_METHODS = sorted(e.name for e in registry.entries() if "image" in e.needs)


# -- face detection ---------------------------------------------------------------------------

def test_choose_face_prefers_overlap_with_protocol_box_else_largest():
    small, big = ((10, 10, 30, 30), 0.9), ((100, 100, 200, 200), 0.5)
    assert choose_face([small, big]) == (100, 100, 200, 200)
    assert choose_face([small, big], reference=(5, 5, 35, 35)) == (10, 10, 30, 30)
    assert choose_face([small, big], reference=(400, 400, 420, 420)) == (100, 100, 200, 200)  # no overlap
    with pytest.raises(SampleFailure, match="no face found"):
        choose_face([])
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)


@pytest.mark.parametrize("name", ["dlib-hog", "yunet", "dlib-cnn"])
def test_detectors_find_the_annotated_face(name, real_faces):
    faces, _ = real_faces
    if name == "yunet" and not YUNET.is_file():
        pytest.skip(f"YuNet model not found: {YUNET}")
    det = make_detector(name, str(YUNET) if name == "yunet" else None, upsample=0 if name == "dlib-cnn" else 1)
    subset = faces[:3] if name == "dlib-cnn" else faces[:12]
    hits = []
    for f in subset:
        try:
            box = choose_face(det.detect(f.image))
        except SampleFailure:
            continue
        # the detected face overlaps the face of the ground-truth landmarks
        hits.append(iou(box, landmark_box(f.landmarks)) > 0.3)
    assert len(hits) >= len(subset) // 2 and all(hits)


def test_blank_and_tiny_images_give_no_face():
    det = make_detector("dlib-hog")
    assert det.detect(np.full((200, 200, 3), 127, np.uint8)) == []
    with pytest.raises(SampleFailure, match="no face found"):
        det.detect(np.zeros((10, 10, 3), np.uint8))


def test_yunet_missing_model_is_a_one_line_weights_error(tmp_path):
    with pytest.raises(WeightsError, match="YuNet model not found") as exc:
        make_detector("yunet", str(tmp_path / "none.onnx"))
    assert "\n" not in str(exc.value)


def test_bad_box_option_is_a_usage_error():
    with pytest.raises(UsageError, match=r"box.*must be one of auto, gt, dlib-hog"):
        create_method("dlib", {"box": "no-such-detector"})


# -- dlib --------------------------------------------------------------------------------------

def test_dlib_landmarks_lie_near_the_ground_truth(real_faces):
    faces, _ = real_faces
    m = make("dlib")
    errs = []
    for f in faces[:10]:
        try:
            lm = m.landmarks(f.image, f.box)
        except SampleFailure:
            continue
        scale = np.linalg.norm(np.ptp(f.landmarks, axis=0))  # diagonal of the landmark box
        errs.append(np.linalg.norm(lm - f.landmarks, axis=1).mean() / scale)
    assert len(errs) >= 6
    assert np.median(errs) < 0.04  # measured about 0.018 of the face diagonal


def test_dlib_pose_on_real_images_and_worker_pool_gives_the_same_result(real_faces):
    faces, poses = real_faces
    sub, truth = faces[:12], poses[:12]
    one = make("dlib", solver="sqpnp").estimate_batch(sub)
    pool = make("dlib", solver="sqpnp", workers=2)
    try:
        two = pool.estimate_batch(sub)
    finally:
        pool.close()
    ok = [i for i, o in enumerate(one) if not isinstance(o, SampleFailure)]
    assert len(ok) >= 8
    assert [isinstance(o, SampleFailure) for o in one] == [isinstance(o, SampleFailure) for o in two]
    for i in ok:
        assert np.allclose(one[i].as_array(), two[i].as_array(), atol=1e-6)
    err = angle_errors(np.array([one[i].as_array() for i in ok]), truth[ok])
    assert np.median(err) < 10  # dlib + 68-point PnP: a few degrees on these near-frontal faces


def test_dlib_workers_option_does_not_change_the_cache_key():
    assert make("dlib", workers=1).identity() == make("dlib", workers=3).identity()


# -- onnx-headpose / FSA-Net --------------------------------------------------------------------

def _fsanet_mae(models: str, faces, poses) -> np.ndarray:
    out = make("onnx-headpose", models=models).estimate_batch(faces)
    assert not any(isinstance(o, SampleFailure) for o in out)
    return np.abs(np.array([o.as_array() for o in out]) - poses).mean(axis=0)


@pytest.mark.parametrize("models", ["1x1", "var", "1x1,var"])
def test_fsanet_mae_on_real_images(models, real_faces):
    faces, poses = real_faces
    mae = _fsanet_mae(models, faces, poses)
    # authors: 4.6-4.9 deg mean over all 1969 AFLW2000 images; these 37 are easier (measured
    # about 2.9 with the authors' crop). A wrong sign gives > 8 deg on the flipped angle.
    assert mae.mean() < 4.0 and mae.max() < 5.0


def test_fsanet_sign_convention_matters(real_faces, tmp_path):
    """Flipping one sign in the config must ruin that angle: the shipped signs are checked."""

    from posebench.methods.onnx_headpose import CONFIG_DIR

    faces, poses = real_faces
    cfg = json.loads((CONFIG_DIR / "fsanet.json").read_text())
    for k in range(3):
        bad = json.loads(json.dumps(cfg))
        bad["output"]["signs"][k] = -1
        p = tmp_path / f"bad{k}.json"
        p.write_text(json.dumps(bad))
        out = make("onnx-headpose", config=str(p), models="1x1").estimate_batch(faces[:20])
        mae = np.abs(np.array([o.as_array() for o in out]) - poses[:20]).mean(axis=0)
        assert mae[k] > 8


def test_fsanet_reproduces_its_authors_aflw2000_preprocessing(aflw_sample, real_faces):
    """FSA-Net's AFLW2000 script (shamangary/FSA-Net, data/type1/TYY_create_db_type1.py): tight
    box of the pt2d points with positive coordinates, corners as int, grown by 0.6 of the int
    size, int again, cut at 0 and at width-1/height-1, cv2.resize to 64 on the BGR image. Written
    out here independently; posebench's crop boxes and predictions must equal it. A face without
    points falls back to its 68 landmarks."""

    faces, _ = real_faces
    m = make("onnx-headpose")
    hidden = 0
    for f in faces:
        mat = sio.loadmat(str(aflw_sample / f"{f.id}.mat"))
        x, y = np.asarray(mat["pt2d"], float)[:2]
        vis = (x > 0) & (y > 0)
        hidden += int((~vis).sum())
        bgr = cv2.imread(str(aflw_sample / f"{f.id}.jpg"))
        H, W = bgr.shape[:2]
        x0, x1, y0, y1 = int(x[vis].min()), int(x[vis].max()), int(y[vis].min()), int(y[vis].max())
        w, h = x1 - x0, y1 - y0
        box = (max(int(x0 - 0.6 * w), 0), max(int(y0 - 0.6 * h), 0), min(int(x1 + 0.6 * w), W - 1),
               min(int(y1 + 0.6 * h), H - 1))
        assert tuple(m.crop_box(f, f.image)) == box
        patch = cv2.resize(bgr[box[1]:box[3], box[0]:box[2]], (64, 64))
        expect = ((patch.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)
        assert np.array_equal(m.preprocess(f), expect)
    assert hidden > 0  # the sample has invisible (-1) points, so the visibility rule is exercised
    f = faces[0]
    lm = f.landmarks
    no_points = FaceInput(f.image, f.image_size, f.box, f.landmarks, None, f.id)
    x0, y0, x1, y1 = (int(v) for v in (lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()))
    assert tuple(m.crop_box(no_points, f.image))[:2] == (max(int(x0 - 0.6 * (x1 - x0)), 0),
                                                         max(int(y0 - 0.6 * (y1 - y0)), 0))


def test_fsanet_batched_equals_one_face_at_a_time(real_faces):
    faces, _ = real_faces
    m = make("onnx-headpose")
    batched = np.array([o.as_array() for o in m.estimate_batch(faces[:6])])
    single = np.array([m.estimate_batch([f])[0].as_array() for f in faces[:6]])
    assert np.abs(batched - single).max() < 1e-3


def test_onnx_headpose_missing_model_and_bad_config(tmp_path):
    with pytest.raises(WeightsError, match="ONNX model not found"):
        create_method("onnx-headpose", {"model_dir": str(tmp_path)})
    with pytest.raises(UsageError, match="config not found"):
        create_method("onnx-headpose", {"config": "nonesuch"})
    bad = tmp_path / "bad.json"
    bad.write_text('{"input": {"size": [64, 64]}, "crop": {}, "output": {"order": ["yaw", "yaw", "roll"]}}')
    with pytest.raises(UsageError, match="bad onnx-headpose config"):
        create_method("onnx-headpose", {"config": str(bad)})


# -- fan ---------------------------------------------------------------------------------------

def test_fan_without_weights_says_which_file_to_place_where():
    with pytest.raises(WeightsError) as exc:
        create_method("fan", {})
    msg = str(exc.value)
    assert "\n" not in msg
    assert "2DFAN4-11f355bf06.pth.tar" in msg and "https://www.adrianbulat.com/downloads/python-fan/" in msg
    assert str(Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints") in msg


def test_fan_cli_error_is_one_line(aflw_sample):


    res = CliRunner().invoke(main, ["run", "--method", "fan", "--dataset", "aflw2000", "--data-dir", str(aflw_sample)])
    assert res.exit_code == 1
    assert res.output.strip().startswith("error: FAN weights not found") and len(res.output.strip().splitlines()) == 1


def test_fan_plumbing_end_to_end_with_test_made_weights(fan_plumbing_weights, aflw_sample, tmp_path):
    """PLUMBING, not a result: random weights; checks the run completes and records every sample."""
    from posebench.evaluation.runner import evaluate
    from posebench.registry import datasets

    m = create_method("fan", {"flip": "false"})
    ds = datasets.create("aflw2000", data_dir=str(aflw_sample)).subset(2)
    res = evaluate(m, ds, tmp_path / "results", progress=False)
    assert res.record["n_samples"] == 2
    assert res.record["n_evaluated"] + res.record["n_failed"] == 2
    assert Path(res.paths["record"]).is_file()
    lm = m.landmarks_batch([FaceInput(read_image(ds.samples[0].image_path), (450, 450), ds.samples[0].box)])[0]
    assert lm.shape == (68, 2) and np.isfinite(lm).all()


def test_fan_maps_heatmap_peaks_back_to_image_pixels(fan_plumbing_weights):
    """A network whose heatmaps peak at the centre must give landmarks at FAN's crop centre."""
    import torch

    m = create_method("fan", {"flip": "false"})

    class Peak(torch.nn.Module):
        def forward(self, x):
            hm = torch.zeros(x.shape[0], 68, 64, 64)
            hm[:, :, 32, 32] = 1.0
            return [hm]

    m.net = Peak()
    box = (100.0, 80.0, 300.0, 320.0)
    lm = m.landmarks_batch([FaceInput(np.zeros((450, 450, 3), np.uint8), (450, 450), box)])[0]
    center, scale = m._center_scale(box)
    # heatmap pixel 32 (1-based 33 -> 32.5 after the library's half-pixel shift) is the crop centre
    assert np.allclose(lm, center, atol=200 * scale / 64 + 1)
    assert np.allclose(lm[:, 0], lm[0, 0]) and np.allclose(lm[:, 1], lm[0, 1])


def test_fan_points_option():
    from posebench.landmarks import FAN_12_POINTS
    from posebench.methods.fan import fan_points

    assert len(FAN_12_POINTS) == 12 and len(set(FAN_12_POINTS)) == 12
    assert fan_points("68") is None and list(fan_points("12")) == list(FAN_12_POINTS)
    with pytest.raises(UsageError):
        fan_points("1,2")


# -- bad input, every registered image method -------------------------------------------------

def _face_image(real_faces) -> FaceInput:
    faces, _ = real_faces
    return faces[0]


@pytest.mark.parametrize("name", IMAGE_METHODS)
def test_no_face_found_on_a_blank_image(name, weights_for):
    weights_for(name)
    if name not in ("dlib", "onnx-headpose", "fan"):
        pytest.skip(f"{name} has no detector option")
    if name == "onnx-headpose" and not FSANET.is_dir():
        pytest.skip(f"FSA-Net models not found: {FSANET}")
    m = make(name, box="dlib-hog")
    out = m.estimate_batch([FaceInput(np.full((240, 240, 3), 90, np.uint8), (240, 240), (20, 20, 200, 200))])
    assert isinstance(out[0], SampleFailure) and out[0].reason == "no face found"


@pytest.mark.parametrize("name", IMAGE_METHODS)
def test_grayscale_and_rgba_images_are_converted(name, real_faces, weights_for):
    weights_for(name)
    m = make(name)
    f = _face_image(real_faces)
    gray = np.ascontiguousarray(f.image.mean(axis=2).astype(np.uint8))
    rgba = np.dstack([f.image, np.full(f.image.shape[:2], 255, np.uint8)])
    res = m.estimate_batch([FaceInput(img, f.image_size, f.box, f.landmarks) for img in (f.image, gray, rgba)])
    if name == "fan":  # plumbing weights: only check that every input was handled without a crash
        assert len(res) == 3
        return
    assert all(not isinstance(r, SampleFailure) for r in res), res
    assert np.allclose(res[0].as_array(), res[2].as_array(), atol=1e-6)  # alpha is dropped
    if name in MADE_OPTIONS:  # seeded weights: a grey face is no nearer the colour face's pose than any other input
        return
    assert np.abs(res[0].as_array() - res[1].as_array()).max() < 10  # grey: same face, close pose


@pytest.mark.parametrize("name", IMAGE_METHODS)
def test_tiny_image_is_a_recorded_failure_or_a_pose(name, weights_for):
    weights_for(name)
    m = make(name)
    tiny = np.full((10, 10, 3), 128, np.uint8)
    for box in (None, (0.0, 0.0, 10.0, 10.0)):
        out = m.estimate_batch([FaceInput(tiny, (10, 10), box, None)])
        assert len(out) == 1
        assert isinstance(out[0], SampleFailure) or np.isfinite(out[0].as_array()).all()


@pytest.mark.parametrize("name", IMAGE_METHODS)
def test_truncated_jpeg_is_recorded_by_the_runner(name, aflw_sample, tmp_path, weights_for):
    weights_for(name)
    from posebench.evaluation.runner import evaluate
    from posebench.registry import datasets

    src = sorted(aflw_sample.glob("image*.jpg"))[0]
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(src.with_suffix(".mat"), data / src.with_suffix(".mat").name)
    (data / src.name).write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    good = aflw_sample / "image00013.jpg"  # an intact, near-frontal sample (every detector finds it): a run with none evaluated is not stored
    shutil.copy(good, data / good.name)
    shutil.copy(good.with_suffix(".mat"), data / good.with_suffix(".mat").name)
    m = make(name)
    res = evaluate(m, datasets.create("aflw2000", data_dir=str(data)), tmp_path / "results", progress=False)
    assert res.record["n_failed"] == 1 and res.record["n_evaluated"] == 1
    assert any("truncated" in k and src.name in k for k in res.record["failures"])


#: Options these tests add to a method's made ones: the protocol box where the method would
#: otherwise detect (the arrays below hold no detectable face), the torch engine for the Hopenet
#: family (its input is compared without running a network).
_ARRAY_TEST_OPTIONS = {"fan": {"box": "gt"}, "dlib": {"box": "gt"}, "hopenet": {"engine": "torch"},
                       "hopenet-alexnet": {"engine": "torch"}, "resnet50-regression": {"engine": "torch"}}


def _make_method(name: str, tmp_path: Path):
    return make(name, **_ARRAY_TEST_OPTIONS.get(name, {}))


#: Image methods fast enough to run over every damaged file here; the networks (Hopenet family,
#: FAN) receive exactly the same arrays from the runner (the reader sweep pins them bit for bit)
#: and are run on arrays of every depth and layout below.
FAST_IMAGE_METHODS = [m for m in IMAGE_METHODS if m in ("dlib", "onnx-headpose")]


HEAVY = ("fan", "hopenet", "hopenet-alexnet", "resnet50-regression")


@pytest.mark.parametrize("name", FAST_IMAGE_METHODS)
def test_damaged_images_through_every_image_method(name, damaged_images, tmp_path, unreadable):
    cs, mat = damaged_images
    cs = {k: v for k, v in cs.items() if k in METHOD_CASES}
    root = tmp_path / "aflw"
    ids = build_tree(root, "aflw2000", cs, mat)
    mark_unreadable(unreadable, root, ids, "aflw2000")
    m = _make_method(name, tmp_path)
    res = evaluate(m, datasets.create("aflw2000", data_dir=str(root)), tmp_path / "res", progress=False)
    check_table(res.samples, ids, cs, name)


@pytest.mark.parametrize("name", IMAGE_METHODS)
def test_arrays_of_every_depth_and_layout_through_every_image_method(name, damaged_images, tmp_path):
    """The public estimate() path: 16-bit arrays give the 8-bit prediction; depths and layouts
    with no faithful 8-bit reading are refused (SampleFailure), never guessed."""
    from posebench.imageio import decode_image

    cs, mat = damaged_images
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
            assert same_input
        good, pairs = {}, ()
    bad = {"float32_unit": rgb.astype(np.float32) / 255, "float64": rgb.astype(np.float64), "int16": rgb.astype(np.int16),
           "bool": rgb > 128, "uint32": rgb.astype(np.uint32), "five_channels": np.dstack([rgb, rgb[..., :2]]),
           "empty": np.zeros((0, 0, 3), np.uint8), "one_dimensional": rgb.ravel()}
    out = m.estimate_batch([face(a) for a in [*good.values(), *bad.values()]])
    res = dict(zip([*good, *bad], out))

    def same(a, b):
        if isinstance(a, SampleFailure) or isinstance(b, SampleFailure):
            return isinstance(a, SampleFailure) and isinstance(b, SampleFailure) and a.reason == b.reason
        return np.allclose(a.as_array(), b.as_array(), atol=1e-4)

    wrong = []
    for k, ref in pairs:
        ok = same(res[k], res[ref])
        if not ok:
            wrong.append(f"{k}: {res[k]} vs {ref}: {res[ref]}")
    for k in bad:
        ok = isinstance(res[k], SampleFailure)
        if not ok:
            wrong.append(f"{k}: a prediction from an image posebench cannot read faithfully: {res[k]}")
    assert not wrong, "\n".join(wrong)


def _faces(img, boxes=BAD_BOXES, landmarks=None, points=None):
    return [FaceInput(img, (img.shape[1], img.shape[0]), box=b if len(b) == 4 else None, landmarks=landmarks,
                      points=points, id=k) for k, b in boxes.items()]


def test_every_image_method_refuses_a_broken_box_per_sample():
    """dlib (box=gt), hopenet's prepare, onnx-headpose (FSA-Net integer crop, where the models are
    shared) and FAN's box step all refuse a broken box per sample."""
    from posebench.detect import locate_face
    from posebench.facesource import FaceSource
    from posebench.methods.hopenet.method import HopenetBase

    img = np.full((120, 160, 3), 90, np.uint8)
    hopenet = object.__new__(HopenetBase)  # its box step only: no network needed
    hopenet.box, hopenet.detector_model = "gt", ""
    hopenet.faces = FaceSource("gt")
    dlib = methods.create("dlib", {"box": "gt"})
    out = dlib.estimate_batch(_faces(img))
    assert all(isinstance(o, SampleFailure) for o in out), out
    for face in _faces(img):
        with pytest.raises(SampleFailure):
            hopenet.prepare(face)
        with pytest.raises(SampleFailure):  # FAN's (and every detector user's) box step
            locate_face(img, "gt", None, face.box)
    fsanet = SHARED / "models" / "fsanet"
    if fsanet.is_dir():
        onnx = methods.create("onnx-headpose", {"model_dir": str(fsanet), "threads": "1"})
        bad_points = {"nan": np.full((21, 2), np.nan), "1e8": np.full((21, 2), 1e8), "all-minus-1": -np.ones((21, 2)),
                      "inf": np.full((21, 2), np.inf)}
        faces = _faces(img) + [FaceInput(img, (160, 120), box=(10, 10, 90, 90), points=p, id=k)
                               for k, p in bad_points.items()]
        out = onnx.estimate_batch(faces)
        assert all(isinstance(o, SampleFailure) for o in out), out


def test_fsanet_openvino_f32_agrees_with_onnxruntime(real_faces):
    faces, _ = real_faces
    ort_m, ov_m = make("onnx-headpose"), make("onnx-headpose", engine="openvino")
    assert ov_m.options["engine"] == "openvino" and ov_m.identity() != ort_m.identity()
    a = np.array([o.as_array() for o in ort_m.estimate_batch(faces)])
    b = np.array([o.as_array() for o in ov_m.estimate_batch(faces)])
    assert np.abs(a).max() > 10 and np.abs(a - b).max() < 1e-3  # bf16 would be tenths of a degree off


def test_fsanet_int8_gate_reports_what_it_measured(real_faces, aflw_sample, tmp_path):
    """precision=int8 is admitted only within the gate's tolerance of fp32 on the user's photos
    (4 real images, linked): either the refusal's number exceeds it, or the admitted int8
    network's measured largest difference equals what the gate reported."""
    import re

    from posebench.engines import INT8_TOLERANCE_DEG, calibration_faces
    from posebench.errors import UsageError

    photos = tmp_path / "photos"
    photos.mkdir()
    for p in sorted(Path(aflw_sample).glob("*.jpg"))[:4]:
        (photos / p.name).symlink_to(p)
    try:
        q = make("onnx-headpose", precision="int8", int8_images=str(photos))
    except UsageError as exc:
        found = re.search(r"its int8 network is (\S+) deg from fp32", str(exc))
        assert found and float(found.group(1)) > INT8_TOLERANCE_DEG
        return
    fp32 = make("onnx-headpose")
    x = np.stack([fp32.preprocess(f) for _, f in calibration_faces(photos)]).astype(np.float32)
    worst = float(np.abs((q.predict(x) - fp32.predict(x) + 180) % 360 - 180).max())
    assert 0 < worst <= INT8_TOLERANCE_DEG and worst == pytest.approx(q.int8_error, abs=1e-9)
    assert any(k.startswith("int8_image") for k in q._file_table())  # the photos' bytes are in the cache key


def test_dlib_calibrated_yunet_boxes_match_hog_on_the_held_out_split(aflw_sample):
    """scripts/fit_box_calibration.py fits on the even positions of the sorted sample images; on
    the odd positions (held out), dlib with calibrated YuNet boxes is at most 0.2 deg above dlib
    with HOG boxes on the faces both find (issue 24's goal; measured 2.32 against 2.54)."""
    from posebench.datasets.aflw2000 import load_aflw2000
    from posebench.imageio import read_image

    yunet = SHARED / "models" / "yunet" / "yunet_n_dynamic.onnx"
    if not yunet.is_file():
        pytest.skip(f"YuNet model not found: {yunet}")
    samples = sorted((s for s in load_aflw2000(aflw_sample, filter="none").samples if s.image_path is not None),
                     key=lambda s: s.image_path.name)[1::2]
    faces = [FaceInput.from_sample(s, read_image(s.image_path), exact=False) for s in samples]
    truth = np.array([[s.pose.yaw, s.pose.pitch, s.pose.roll] for s in samples])
    runs = {k: make("dlib", **o).estimate_batch(faces) for k, o in
            {"hog": {}, "cal": {"box": "yunet", "detector_model": yunet}, "raw": {"box": "yunet", "detector_model": yunet,
                                                                                   "calibration": "none"}}.items()}
    ok = [i for i in range(len(faces)) if not any(isinstance(r[i], SampleFailure) for r in runs.values())]
    assert len(ok) >= 10
    mae = {k: float(angle_errors(np.array([r[i].as_array() for i in ok]), truth[ok]).mean()) for k, r in runs.items()}
    assert mae["cal"] <= mae["hog"] + 0.2, mae
    assert mae["cal"] != mae["raw"]  # the calibration moved the boxes


def test_dlib_calibration_is_in_the_cache_key():
    from posebench.boxcal import CALIBRATION_FILE

    auto, none = make("dlib"), make("dlib", calibration="none")
    assert "box_calibration" in auto._file_table() and "box_calibration" not in none._file_table()
    assert auto._files["box_calibration"] == CALIBRATION_FILE
    assert auto.identity() != none.identity()
