"""``onnx-headpose``: any ONNX network that regresses (yaw, pitch, roll) from a face crop.

A small JSON config describes the network (``config=fsanet`` loads the shipped
``fsanet.json``; ``config=PATH`` any other):

* ``models`` (name -> file name), ``default_models``, ``weights_subdir`` (files are looked up in
  ``model_dir=`` or ``$POSEBENCH_WEIGHTS/<weights_subdir>``), ``source`` (where to get them);
* ``input``: ``name``, ``layout`` (``NCHW``|``NHWC``), ``size`` ``[w, h]``, ``colour``
  (``RGB``|``BGR``), ``scale``, ``mean``, ``std`` (tensor = (pixel * scale - mean) / std, per
  channel in the model's colour order), ``interpolation`` (``linear``|``area``|``cubic``);
* ``crop``: ``reference`` = which box the crop is relative to under ``box=gt``: ``points``
  (tight box of the dataset's own sparse annotation with invisible points dropped: AFLW2000's
  visible ``pt2d`` points, as FSA-Net's AFLW2000 script crops; where a sample has none, as
  ``landmarks``), ``landmarks`` (tight box of the 68 ground-truth 2D landmarks; where a sample
  has none, as ``box``) or ``box``
  (the protocol's box); ``margin`` = growth on each side as a fraction of the box size;
  ``pad`` = ``clip`` (cut the enlarged box at the image border) or ``zero`` (pad with black);
  ``integer`` (default false) = FSA-Net's integer box arithmetic (:func:`integer_crop_box`);
* ``output``: ``name``, ``order`` of the three angles, ``units`` (``degrees``|``radians``) and
  ``signs`` (multiplied after reordering) that turn the output into posebench's canonical
  AFLW2000-3D convention (:mod:`posebench.pose`).

``models=1x1,var`` (names from the config or paths, comma separated) runs each model and averages
their canonical angles. ``box=auto`` (default) crops as ``box=gt`` where the sample has a
protocol box (or annotated points), and around the default detector's face otherwise (a bare
photo); ``box=dlib-hog|dlib-cnn|yunet`` crops around a detected face always (margin applied to
the detector box). Inference is batched; a model exported with a fixed batch
size of 1 is given a dynamic batch dimension in memory (its outputs are checked against per-face
runs by the tests).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from posebench.crop import Box, check_box, crop_box, enlarge_box, landmark_box
from posebench.detect import BOX_MODES
from posebench.engines import DEVICES, ONNX_ENGINES, PRECISIONS, check_choice
from posebench.errors import SampleFailure, UsageError, WeightsError
from posebench.fileio import existing_file
from posebench.method import Estimate, FaceInput, Method, prepare_each
from posebench.options import Domain
from posebench.pose import Pose
from posebench.registry import register_method

CONFIG_DIR = Path(__file__).resolve().parent
ANGLES = ("yaw", "pitch", "roll")
INTERPOLATION = {"linear": 1, "area": 3, "cubic": 2}  # cv2.INTER_* values


def load_config(spec: str) -> dict[str, Any]:
    """A shipped config by name (``fsanet``) or a JSON file path; validated."""
    path = CONFIG_DIR / f"{spec}.json" if "/" not in spec and not spec.endswith(".json") else Path(spec)
    if not path.is_file():
        shipped = sorted(p.stem for p in CONFIG_DIR.glob("*.json"))
        raise UsageError(f"onnx-headpose config not found: {spec!r} (shipped: {', '.join(shipped)}; or a .json path)")
    try:
        cfg = json.loads(path.read_bytes().decode("utf-8"))
        inp, crop, out = cfg["input"], cfg["crop"], cfg["output"]
        if sorted(out["order"]) != sorted(ANGLES) or len(out.get("signs", [1, 1, 1])) != 3:
            raise ValueError("output.order must name yaw, pitch, roll once each; signs has 3 entries")
        if out.get("units", "degrees") not in ("degrees", "radians"):
            raise ValueError("output.units must be degrees or radians")
        if inp.get("layout", "NCHW") not in ("NCHW", "NHWC") or inp.get("colour", "RGB") not in ("RGB", "BGR"):
            raise ValueError("input.layout must be NCHW|NHWC and input.colour RGB|BGR")
        if crop.get("integer", False) not in (True, False) or (crop.get("integer") and crop.get("pad", "clip") != "clip"):
            raise ValueError("crop.integer must be true or false, and true needs crop.pad clip")
        if crop.get("reference", "box") not in REFERENCES or crop.get("pad", "clip") not in ("clip", "zero"):
            raise ValueError(f"crop.reference must be {'|'.join(REFERENCES)} and crop.pad clip|zero")
        if len(inp["size"]) != 2 or inp.get("interpolation", "linear") not in INTERPOLATION:
            raise ValueError("input.size must be [w, h]; interpolation linear|area|cubic")
    except (KeyError, TypeError, ValueError, json.JSONDecodeError, AttributeError, OSError) as exc:
        raise UsageError(f"bad onnx-headpose config {path}: {exc}") from None
    cfg["_path"] = str(path)
    return cfg


def resolve_models(cfg: dict[str, Any], models: str, model_dir: str) -> list[Path]:
    """Model files for ``models`` (comma-separated config names or paths)."""
    from posebench.paths import weights_dir

    names = [m.strip() for m in (models or ",".join(cfg.get("default_models", []))).split(",") if m.strip()]
    if not names:
        raise UsageError("no models given (models=NAME[,NAME] or paths)")
    folder = Path(model_dir) if model_dir else weights_dir() / cfg.get("weights_subdir", cfg.get("name", "onnx"))
    out = []
    for n in names:
        known = ", ".join(cfg.get("models", {})) or "none"
        out.append(existing_file(folder / cfg["models"][n] if n in cfg.get("models", {}) else Path(n), "ONNX model",
                                 hint=f" (config models: {known}; pass model_dir=FOLDER or a path; "
                                      f"official files: {cfg.get('source', 'see the config')})"))
    return out


#: Version of :func:`_dynamic_batch`'s output, in its cache file's name.
DYNAMIC_FORMAT = 1


def _model_bytes(path: Path) -> bytes:
    """The ONNX model at ``path`` as bytes, with a dynamic batch dimension where it was exported
    with batch 1; :class:`WeightsError` for a file that is not an ONNX model. The rewritten model
    is kept in ``<data root>/cache/onnx/`` by the file's content digest (:mod:`posebench.onnxcache`):
    a later run reads it back instead of importing the ``onnx`` package (a second or more of every
    cold run) -- the same bytes either way."""
    from posebench.fileio import file_digest
    from posebench.onnxcache import cached_bytes
    from posebench.paths import data_root

    try:
        digest = file_digest(path)
    except OSError as exc:
        raise WeightsError(f"cannot read ONNX model {path}: {exc.strerror or exc}") from None
    cache = data_root() / "cache" / "onnx" / f"{path.stem}-{digest[:20]}-dynbatch-v{DYNAMIC_FORMAT}.onnx"
    return cached_bytes(lambda: _dynamic_batch(path), cache)


def _dynamic_batch(path: Path) -> bytes:
    """:func:`_model_bytes` made with the ``onnx`` package."""
    import onnx

    try:
        model = onnx.load(str(path))
    except OSError as exc:
        raise WeightsError(f"cannot read ONNX model {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - protobuf's decode errors have no common base
        raise WeightsError(f"{path} is not an ONNX model ({type(exc).__name__}); expected a head-pose "
                           "network exported to ONNX") from None
    dims = [v.type.tensor_type.shape.dim for v in list(model.graph.input) + list(model.graph.output)]
    if any(d and d[0].HasField("dim_value") and d[0].dim_value == 1 for d in dims):
        for d in dims:  # exported with batch 1: let the batch dimension vary
            if d:
                d[0].dim_param = "batch"
        del model.graph.value_info[:]
    return model.SerializeToString()


def _session(model: bytes, path: Path, threads: int, engine: str = "onnxruntime", device: str = "cpu"):
    from posebench.engines import make_session

    try:
        return make_session(model, engine, threads, device)
    except (UsageError, WeightsError) as exc:
        if isinstance(exc, UsageError):
            raise
        raise WeightsError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - onnxruntime's errors have no common base
        raise WeightsError(f"{path}: onnxruntime cannot load this model ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200] if lines else ''}"


#: What ``crop.reference`` may name (see the module docstring).
REFERENCES = ("points", "landmarks", "box")


def visible_points_box(points: np.ndarray) -> Box:
    """Tight box of the annotated points that are visible, by FSA-Net's AFLW2000 rule: keep the
    points whose x > 0, or those whose y > 0 if fewer points pass that test (AFLW stores an
    invisible point as -1, -1). Pixels, ``(x0, y0, x1, y1)``."""
    p = np.asarray(points, float).reshape(-1, 2)
    keep_x, keep_y = p[:, 0] > 0, p[:, 1] > 0
    keep = keep_y if keep_x.sum() > keep_y.sum() else keep_x
    if not keep.any():
        raise SampleFailure("no visible annotated points for the crop box")
    return landmark_box(p[keep])


def integer_crop_box(ref: Box, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """FSA-Net's integer box arithmetic (its AFLW2000 script): the reference corners truncated to
    integers, grown by ``margin`` times the integer width/height, truncated again, and cut at
    ``0`` and at the last pixel column/row (``width - 1``, ``height - 1``; with the exclusive
    slice end that last column/row is never part of the crop)."""
    x0, y0, x1, y1 = (int(v) for v in ref)
    w, h = x1 - x0, y1 - y0
    return (max(int(x0 - margin * w), 0), max(int(y0 - margin * h), 0),
            min(int(x1 + margin * w), width - 1), min(int(y1 + margin * h), height - 1))

@register_method(
    "onnx-headpose",
    "ONNX head-pose regressor from a JSON config (shipped: fsanet = FSA-Net, 1x1/var models, averaged by default)",
    domains={"threads": Domain(ge=0, le=1024), "box": Domain(choices=BOX_MODES), "engine": Domain(choices=ONNX_ENGINES),
             "device": Domain(choices=DEVICES), "precision": Domain(choices=PRECISIONS)},
)
class OnnxHeadPose(Method):
    name = "onnx-headpose"
    needs = frozenset({"image", "weights"})
    version = "2"
    batch_size = 64
    #: ``model_dir`` and ``int8_images`` only say where files are; their bytes are in the file digests.
    runtime_options = Method.runtime_options | {"model_dir", "int8_images"}

    def __init__(self, config: str = "fsanet", models: str = "", model_dir: str = "", box: str = "auto",
                 detector_model: str = "", threads: int = 0, engine: str = "onnxruntime", device: str = "cpu",
                 precision: str = "fp32", int8_images: str = ""):
        super().__init__()
        self.cfg = load_config(config)
        self.box, self.detector_model = box, detector_model
        self.faces = self.use_face_source(box, detector_model)
        self.paths = resolve_models(self.cfg, models, model_dir)
        self.reads("config", self.cfg["_path"])
        for i, p in enumerate(self.paths):
            self.reads(f"model{i}", p)
        names = [m.strip() for m in (models or ",".join(self.cfg.get("default_models", []))).split(",") if m.strip()]
        n_threads = int(threads) or min(4, os.cpu_count() or 1)
        check_choice("precision", precision, PRECISIONS)
        self.engine_name, self.device, self.precision = engine, device, precision
        models_fp32 = [_model_bytes(p) for p in self.paths]
        self.sessions = [_session(m, p, n_threads, engine, device) for m, p in zip(models_fp32, self.paths)]
        inp, out = self.cfg["input"], self.cfg["output"]
        self.in_name = inp.get("name") or self.sessions[0].get_inputs()[0].name
        self.out_name = out.get("name") or self.sessions[0].get_outputs()[0].name
        self.order = [list(out["order"]).index(a) for a in ANGLES]
        self.signs = np.asarray(out.get("signs", [1, 1, 1]), float)
        self.to_deg = 180.0 / np.pi if out.get("units", "degrees") == "radians" else 1.0
        self._check_models()
        self._models_label = ",".join(n if n in self.cfg.get("models", {}) else Path(n).stem for n in names)
        self._config_label = self.cfg.get("name", Path(config).stem)
        self.int8_error: float | None = None  # int8's largest difference from fp32 (deg)
        if precision == "int8":
            self._use_int8(models_fp32, int8_images, n_threads)
        elif int8_images:
            raise UsageError("int8_images is for precision=int8")

    def _use_int8(self, models_fp32: list[bytes], folder: str, threads: int) -> None:
        """Quantize each model on the faces of ``folder`` (:func:`posebench.engines.quantize_int8`)
        and keep the int8 sessions only if :func:`posebench.engines.int8_gate` admits them there;
        every image read is in the cache key."""
        from posebench.engines import calibration_faces, int8_gate, quantize_int8

        if not folder:
            raise UsageError("precision=int8 needs int8_images=FOLDER: your own photos, to calibrate and check int8 against fp32")
        tensors = []
        for i, (path, face) in enumerate(calibration_faces(folder)):
            self.reads(f"int8_image{i}", path)
            try:
                tensors.append(self.preprocess(face))
            except SampleFailure:
                continue
        batches = [np.stack(tensors[i:i + 8]).astype(np.float32) for i in range(0, len(tensors), 8)]
        fp32 = self.predict
        int8_sessions = [_session(quantize_int8(m, self.in_name, batches), p, threads, self.engine_name, self.device)
                         for m, p in zip(models_fp32, self.paths)]
        fp32_sessions = self.sessions

        def int8(batch: np.ndarray) -> np.ndarray:
            self.sessions = int8_sessions
            try:
                return self.predict(batch)
            finally:
                self.sessions = fp32_sessions

        self.int8_error = int8_gate(fp32, int8, batches, f"{self.name} ({self._config_label})")
        self.sessions = int8_sessions

    def record_options(self, values: dict[str, Any], defaults: dict[str, Any] | None = None) -> None:
        """As :meth:`Method.record_options`; ``models`` and ``config`` are recorded by their
        config names (the files' contents are in the file digests)."""
        super().record_options(values, defaults)
        self.options["models"] = self._models_label
        self.options["config"] = self._config_label

    def _check_models(self) -> None:
        """Run each model once on a blank input of the config's size: a file that is another
        network (other input size, layout or names, fewer than 3 outputs) is a one-line
        :class:`WeightsError` naming it now, not a failure in the middle of a run."""
        inp = self.cfg["input"]
        w, h = (int(v) for v in inp["size"])
        shape = (1, 3, h, w) if inp.get("layout", "NCHW") == "NCHW" else (1, h, w, 3)
        for path, s in zip(self.paths, self.sessions):
            try:
                out = np.asarray(s.run([self.out_name], {self.in_name: np.zeros(shape, np.float32)})[0])
            except Exception as exc:  # noqa: BLE001
                raise WeightsError(f"{path} does not fit the {self.cfg.get('name', 'onnx-headpose')} config "
                                   f"(input {self.in_name!r} {list(shape)}, output {self.out_name!r}): "
                                   f"{_first_line(exc)}") from None
            if out.size < 3 or out.shape[0] != 1:
                raise WeightsError(f"{path}: output {self.out_name!r} has shape {list(out.shape)}; expected "
                                   "(yaw, pitch, roll) per face, as the config describes")

    # -- preprocessing -----------------------------------------------------------------------
    def crop_box(self, face: FaceInput, image: np.ndarray) -> Box:
        """The crop box in pixels: the reference box (see the module doc) enlarged by ``crop.margin``
        (with ``crop.integer``, in FSA-Net's integer arithmetic and already cut at the image)."""
        return self.crop_box_and_source(face, image)[0]

    def crop_box_and_source(self, face: FaceInput, image: np.ndarray) -> tuple[Box, str]:
        """:meth:`crop_box` and where its face came from (``""`` = protocol, else a detector)."""
        crop = self.cfg["crop"]
        reference = crop.get("reference", "box")
        protocol = self.box in ("gt", "auto") and not face.box_source
        source = ""
        if protocol and reference == "points" and face.points is not None:
            ref = visible_points_box(face.points)
        elif protocol and reference in ("points", "landmarks") and face.landmarks is not None:
            ref = landmark_box(face.landmarks)
        else:
            ref, source = self.faces.find(image, face.box, face.box_source)
        ref = check_box(ref, (image.shape[1], image.shape[0]), f"{reference} reference box")
        margin = float(crop.get("margin", 0.0))
        if crop.get("integer", False):
            return integer_crop_box(ref, margin, image.shape[1], image.shape[0]), source
        return enlarge_box(ref, margin), source

    def preprocess(self, face: FaceInput) -> np.ndarray:
        """One face -> the network's input tensor (without the batch dimension)."""
        return self._preprocess(face)[0]

    def _preprocess(self, face: FaceInput) -> tuple[np.ndarray, str]:
        import cv2

        img = face.rgb()
        h, w = img.shape[:2]
        (x0, y0, x1, y1), source = self.crop_box_and_source(face, img)
        x0, y0, x1, y1 = check_box((x0, y0, x1, y1), (w, h), "crop box")
        if self.cfg["crop"].get("pad", "clip") == "clip":
            x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)
            if x1 - x0 < 2 or y1 - y0 < 2:
                raise SampleFailure("face crop lies outside the image")
            patch = img[y0:y1, x0:x1]
        else:
            patch = crop_box(img, (x0, y0, x1, y1))
        inp = self.cfg["input"]
        size = tuple(int(v) for v in inp["size"])
        # resize the (strided) crop view first, then reorder channels on the small patch: same
        # pixels as reordering first (the resize works per channel), without copying the big crop
        patch = cv2.resize(patch, size, interpolation=INTERPOLATION[inp.get("interpolation", "linear")])
        if inp.get("colour", "RGB") == "BGR":
            patch = patch[:, :, ::-1]
        x = (patch.astype(np.float32) * float(inp.get("scale", 1.0)) - np.asarray(inp.get("mean", 0.0), np.float32)) \
            / np.asarray(inp.get("std", 1.0), np.float32)
        return (x.transpose(2, 0, 1) if inp.get("layout", "NCHW") == "NCHW" else x), source

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Canonical (yaw, pitch, roll) degrees, N x 3, averaged over the models."""
        outs = []
        for s in self.sessions:
            raw = np.asarray(s.run([self.out_name], {self.in_name: batch})[0], float).reshape(len(batch), -1)[:, :3]
            outs.append(raw[:, self.order] * self.to_deg * self.signs)
        return np.mean(outs, axis=0)

    def estimate_batch(self, faces: Sequence[FaceInput]) -> list[Pose | SampleFailure]:
        out, prepared, where = prepare_each(faces, self._preprocess)
        if prepared:
            pred = self.predict(np.ascontiguousarray(np.stack([t for t, _ in prepared]), dtype=np.float32))
            for i, (_, source), (yaw, pitch, roll) in zip(where, prepared, pred):
                pose = Pose(float(yaw), float(pitch), float(roll))
                out[i] = Estimate.of(pose, detector=source) if source else pose
        return out
