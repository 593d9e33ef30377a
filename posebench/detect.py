"""Face detection for image methods: where in the image is the face?

A method's ``box`` option decides it:

* ``auto`` (the default of the image networks): the protocol's box when the sample has one
  (as ``gt``), else the face the default detector finds (:func:`default_detector`: YuNet when
  its model file is installed by ``posebench data download yunet``, else dlib's HOG, which
  ``pip install posebench`` brings). A bare photo (``Method.estimate(image)`` without a box)
  and a dataset without protocol boxes both take this path.
* ``gt``: the protocol's box (``Sample.box``; for AFLW2000 Hopenet's loose crop around the
  ground-truth points, the paper's setting for the networks). No detector runs; a sample
  without a protocol box is a recorded failure.
* ``dlib-hog``: dlib's HOG + linear SVM frontal face detector (``upsample`` pyramid levels).
* ``dlib-cnn``: dlib's MMOD CNN detector; weights ``mmod_human_face_detector.dat`` from the
  ``face-recognition-models`` package (or ``detector_model=PATH``).
* ``yunet``: OpenCV's YuNet (``cv2.FaceDetectorYN``) from an ONNX file (``detector_model=PATH``,
  default ``$POSEBENCH_WEIGHTS/yunet/yunet_n_dynamic.onnx``).
* ``mediapipe``: MediaPipe's short-range BlazeFace (:mod:`posebench.blazeface`, on LiteRT, the
  optional extra ``posebench[mediapipe]``), default ``$POSEBENCH_WEIGHTS/mediapipe/face_detection_short_range.tflite``.
* ``mtcnn``: MTCNN as facenet-pytorch runs it (:mod:`posebench.mtcnn`), from facenet-pytorch's
  ``pnet.pt``/``rnet.pt``/``onet.pt`` (``detector_model=FOLDER``, default ``$POSEBENCH_WEIGHTS/mtcnn``).

Detectors are plugins of the :data:`detectors` registry (:mod:`posebench.registry`, entry-point
group ``posebench.detectors``): a class registered under its name whose keyword parameters are its
options (with domains), with ``detect(image) -> [(box, score)]`` and two declarations the
framework reads: ``files(options)`` (the model files it reads, digested into every cache key
through :mod:`posebench.facesource`) and ``reference_scale`` (its boxes' calibration: the box
``width + height`` that FAN's crop scale 1 stands for; face-alignment's 195 for dlib-like boxes).
Its score threshold is its ``score`` option where it has one. A new detector registers in one file
and then works with every image method (``-o box=NAME``).

When a detector finds several faces, :func:`choose_face` keeps the one overlapping the protocol's
box best (highest IoU) when the sample has a box and some detection overlaps it, else the
largest. No detection -> :class:`SampleFailure` ``"no face found"`` (counted per method).
:func:`find_face` returns the box with its source (``""`` = protocol box, else the detector's
name), which methods record and use to crop as the box's source requires.

OpenCV's DNN engine logs warnings of its own (``[ WARN:0@...] ... setPreferableTarget``) when
YuNet is created and run; posebench silences OpenCV's log below errors around those calls
(:func:`quiet_opencv`), restoring the caller's level after.

Images are RGB uint8 HxWx3 inside posebench; they are converted to BGR at the OpenCV call.
Boxes are ``(x_min, y_min, x_max, y_max)`` in image pixels.
"""

from __future__ import annotations

import contextlib
import importlib.util
import threading
from pathlib import Path
from typing import Any, ClassVar, Mapping, Protocol, Sequence

import numpy as np

from posebench.crop import Box, check_box
from posebench.errors import SampleFailure, UsageError, WeightsError, did_you_mean
from posebench.fileio import existing_file
from posebench.imageio import rgb_to_bgr, to_rgb
from posebench.options import Domain
from posebench.registry import detectors, register_detector

#: The box modes that are not detectors: the protocol's box where there is one (``auto``: else the
#: default detector), or always the protocol's box (``gt``).
PROTOCOL_MODES = ("auto", "gt")
#: face-alignment's reference scale for its own (dlib-like) detector boxes: a detector that
#: declares no calibration is taken to box faces as dlib does.
DEFAULT_REFERENCE_SCALE = 195.0
#: The detectors posebench registers itself (listed first, in this order, in messages).
BUILTIN_DETECTORS = ("dlib-hog", "dlib-cnn", "yunet", "mediapipe", "mtcnn")


class _Names(Sequence):
    """A live tuple of names: the registered detectors (after ``head``), looked up on each use,
    so a detector registered by a plugin is a valid ``box=`` value of every method."""

    def __init__(self, head: tuple[str, ...] = ()):
        self._head = head

    def _names(self) -> tuple[str, ...]:
        names = detectors.names()
        return self._head + tuple(n for n in BUILTIN_DETECTORS if n in names) + tuple(
            n for n in names if n not in BUILTIN_DETECTORS)

    def __getitem__(self, i):
        return self._names()[i]

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return repr(self._names())


#: Every value of a method's ``box`` option: ``auto``, ``gt`` and every registered detector.
BOX_MODES: Sequence[str] = _Names(PROTOCOL_MODES)
#: Every registered detector name (built-ins: ``dlib-cnn``, ``dlib-hog``, ``yunet``).
DETECTORS: Sequence[str] = _Names()
NO_FACE = "no face found"
MIN_SIDE = 16  # pixels; smaller images cannot hold a face any detector here finds


class FaceDetector(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> list[tuple[Box, float]]:
        """All faces in an RGB uint8 image as ``(box, score)``."""
        ...


class Detector:
    """Optional base of detector plugins: the declarations the framework reads, with defaults.

    ``reference_scale``: the calibration of this detector's boxes (see the module doc);
    ``files(options)``: ``{label: path}`` of the model files the detector reads with these bound
    options (their bytes go into the cache key of every method that uses it); none by default."""

    name: ClassVar[str] = ""
    reference_scale: ClassVar[float] = DEFAULT_REFERENCE_SCALE

    @classmethod
    def files(cls, options: Mapping[str, Any]) -> dict[str, Path]:
        return {}

    def detect(self, image: np.ndarray) -> list[tuple[Box, float]]:  # pragma: no cover - overridden
        raise NotImplementedError


def face_recognition_models_file(name: str) -> Path:
    """A file shipped by the ``face-recognition-models`` package (dlib's detector/predictors)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"{name} not found: install face-recognition-models (pip install face-recognition-models)")
    p = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not p.is_file():
        raise WeightsError(f"{name} not found in {p.parent} (reinstall face-recognition-models)")
    return p


def default_yunet_path() -> Path:
    from posebench.paths import weights_dir

    return weights_dir() / "yunet" / "yunet_n_dynamic.onnx"


def _prepare(image: np.ndarray) -> np.ndarray:
    img = to_rgb(image)
    if min(img.shape[:2]) < MIN_SIDE:
        raise SampleFailure(f"{NO_FACE} (image {img.shape[1]}x{img.shape[0]} is too small)")
    return img


@contextlib.contextmanager
def quiet_opencv():
    """Within the block, OpenCV logs errors only (its DNN engine warns on every YuNet start)."""
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:  # pragma: no cover - OpenCV without the logging module
        yield
        return
    old = logging.getLogLevel()
    logging.setLogLevel(min(old, logging.LOG_LEVEL_ERROR))
    try:
        yield
    finally:
        logging.setLogLevel(old)


@register_detector("dlib-hog", "dlib's HOG + linear SVM frontal face detector (built into dlib)",
                   domains={"upsample": Domain(ge=0, le=4)})
class DlibHog(Detector):
    """dlib's HOG frontal face detector; ``upsample`` doubles the image that many times first;
    ``score``: dlib's ``adjust_threshold`` (detections scoring below it are dropped)."""

    name = "dlib-hog"

    def __init__(self, upsample: int = 1, score: float = 0.0):
        import dlib

        self.upsample, self.score = int(upsample), float(score)
        self._det = dlib.get_frontal_face_detector()

    def detect(self, image: np.ndarray) -> list[tuple[Box, float]]:
        img = _prepare(image)
        rects, scores, _ = self._det.run(img, self.upsample, self.score)
        return [((r.left(), r.top(), r.right() + 1, r.bottom() + 1), float(s)) for r, s in zip(rects, scores)]


@register_detector("dlib-cnn", "dlib's MMOD CNN face detector (mmod_human_face_detector.dat, or model=PATH)",
                   domains={"upsample": Domain(ge=0, le=4)})
class DlibCnn(Detector):
    """dlib's MMOD CNN face detector (slow on CPU, finds more profile faces than HOG); its score
    threshold is the one built into the model file (dlib's MMOD keeps detections above 0)."""

    name = "dlib-cnn"

    @classmethod
    def files(cls, options: Mapping[str, Any]) -> dict[str, Path]:
        return {"model": Path(options.get("model") or face_recognition_models_file("mmod_human_face_detector.dat"))}

    def __init__(self, upsample: int = 1, model: str = ""):
        import dlib

        path = existing_file(self.files({"model": model})["model"], "dlib CNN detector weights")
        self.upsample = int(upsample)
        try:
            self._det = dlib.cnn_face_detection_model_v1(str(path))
        except RuntimeError as exc:
            raise WeightsError(f"{path} is not a dlib MMOD CNN face detector (such as "
                               f"mmod_human_face_detector.dat): {str(exc).strip().splitlines()[0][:160]}") from None

    def detect(self, image: np.ndarray) -> list[tuple[Box, float]]:
        img = _prepare(image)
        out = self._det(img, self.upsample)
        return [((d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1), float(d.confidence)) for d in out]


@register_detector("yunet", "OpenCV's YuNet (cv2.FaceDetectorYN) from an ONNX file (model=PATH, default: the weights folder's)",
                   domains={"score": Domain(ge=0, le=1), "nms": Domain(ge=0, le=1), "top_k": Domain(ge=1, le=100000)})
class YuNet(Detector):
    """OpenCV's YuNet (``cv2.FaceDetectorYN``); one detector object per thread (it keeps state).
    ``score``: its score threshold; ``nms``: its non-maximum-suppression IoU; ``top_k``: candidates
    kept before NMS. Its boxes are tighter than dlib's: FAN's reference scale 165."""

    name = "yunet"
    reference_scale = 165.0

    @classmethod
    def files(cls, options: Mapping[str, Any]) -> dict[str, Path]:
        return {"model": Path(options.get("model") or default_yunet_path())}

    def __init__(self, model: str = "", score: float = 0.6, nms: float = 0.3, top_k: int = 5000):
        path = existing_file(self.files({"model": model})["model"], "YuNet model",
                             hint=" (pass detector_model=PATH, e.g. face_detection_yunet_2023mar.onnx "
                                  "from https://github.com/opencv/opencv_zoo/tree/main/models/face_detection_yunet)")
        self.path, self.score, self.nms, self.top_k = path, float(score), float(nms), int(top_k)
        self._local = threading.local()
        try:  # a file that is not YuNet fails here, in one line, not on every image
            with quiet_opencv():
                self._detector((64, 64)).detect(np.zeros((64, 64, 3), np.uint8))
        except Exception as exc:  # noqa: BLE001 - cv2.error and friends
            self._local = threading.local()
            raise WeightsError(f"{path} is not a YuNet face detector ONNX model (cv2.FaceDetectorYN refused it: "
                               f"{_cv2_reason(exc)})") from None

    def _detector(self, size: tuple[int, int]):
        import cv2

        det = getattr(self._local, "det", None)
        if det is None:
            try:
                det = cv2.FaceDetectorYN.create(str(self.path), "", size, self.score, self.nms, self.top_k)
            except cv2.error as exc:
                raise WeightsError(f"cannot load YuNet model {self.path}: {str(exc).strip().splitlines()[-1]}") from None
            self._local.det = det
        det.setInputSize(size)
        return det

    def detect(self, image: np.ndarray) -> list[tuple[Box, float]]:
        img = _prepare(image)
        h, w = img.shape[:2]
        with quiet_opencv():
            _, rows = self._detector((w, h)).detect(rgb_to_bgr(img))
        if rows is None:
            return []
        return [((float(r[0]), float(r[1]), float(r[0] + r[2]), float(r[1] + r[3])), float(r[14])) for r in rows]


def default_mediapipe_detector_path() -> Path:
    from posebench.paths import weights_dir

    return weights_dir() / "mediapipe" / "face_detection_short_range.tflite"


@register_detector("mediapipe", "MediaPipe's short-range face detector (BlazeFace, face_detection_short_range.tflite; needs LiteRT)",
                   domains={"score": Domain(ge=0, le=1)})
class MediaPipeFace(Detector):
    """MediaPipe's short-range face detector exactly as its Face Mesh graph runs it
    (:mod:`posebench.blazeface`, on LiteRT: ``pip install 'posebench[mediapipe]'``); ``score``: its
    minimum score (the graph's 0.5). Tuned for faces within about 2 m of a phone camera; it finds
    few profiles beyond 60° yaw. :meth:`detections` keeps MediaPipe's six keypoints, which the
    ``mediapipe`` method uses for its rotated ROI. Its boxes are tight (eyebrows to chin)."""

    name = "mediapipe"
    reference_scale = 165.0

    @classmethod
    def files(cls, options: Mapping[str, Any]) -> dict[str, Path]:
        return {"model": Path(options.get("model") or default_mediapipe_detector_path())}

    def __init__(self, model: str = "", score: float = 0.5):
        from posebench.blazeface import BlazeFace

        path = existing_file(self.files({"model": model})["model"], "MediaPipe face detector model",
                             hint=" (run `posebench data download mediapipe-face-detector`, or pass detector_model=PATH)")
        self.path, self.score = path, float(score)
        self._net = BlazeFace(path, min_score=self.score)

    def detections(self, image: np.ndarray):
        """Every :class:`posebench.blazeface.Detection` of an RGB image, MediaPipe's order (best first)."""
        return self._net.detections(_prepare(image))

    def detect(self, image: np.ndarray) -> list[tuple[Box, float]]:
        img = _prepare(image)
        h, w = img.shape[:2]
        return [(d.pixel_box(w, h), d.score) for d in self._net.detections(img)]


def default_mtcnn_dir() -> Path:
    from posebench.paths import weights_dir

    return weights_dir() / "mtcnn"


@register_detector("mtcnn", "MTCNN (P-/R-/O-Net) as facenet-pytorch runs it, from its pnet.pt/rnet.pt/onet.pt "
                   "(model=FOLDER, default: the weights folder's mtcnn/)",
                   domains={"min_face_size": Domain(ge=1, le=10000), "score": Domain(ge=0, le=1),
                            "factor": Domain(gt=0, lt=1)})
class Mtcnn(Detector):
    """MTCNN exactly as facenet-pytorch 2.6.0's ``MTCNN(keep_all=True).detect`` finds faces
    (:mod:`posebench.mtcnn`; checked against it by scripts/mtcnn_reference.py). ``model``: the folder
    holding facenet-pytorch's ``pnet.pt``, ``rnet.pt``, ``onet.pt`` (MIT; default
    ``$POSEBENCH_WEIGHTS/mtcnn``); ``min_face_size`` px, ``factor`` (pyramid step) and ``score``
    (O-Net's threshold; P-/R-Net keep facenet-pytorch's 0.6/0.7) default to facenet-pytorch's values.
    Its boxes are squared about the face (forehead to chin); FAN's reference scale is left at dlib's."""

    name = "mtcnn"

    @classmethod
    def files(cls, options: Mapping[str, Any]) -> dict[str, Path]:
        from posebench.mtcnn import NET_FILES

        folder = Path(options.get("model") or default_mtcnn_dir())
        return {net: folder / f"{net}.pt" for net in NET_FILES}

    def __init__(self, model: str = "", min_face_size: int = 20, score: float = 0.7, factor: float = 0.709):
        from posebench.mtcnn import load_nets

        paths = {k: existing_file(p, f"MTCNN {k}.pt", hint=" (run `posebench data download mtcnn-pnet mtcnn-rnet "
                                  "mtcnn-onet`, or pass detector_model=FOLDER with facenet-pytorch's data/*.pt)")
                 for k, p in self.files({"model": model}).items()}
        self.min_face_size, self.score, self.factor = int(min_face_size), float(score), float(factor)
        self._nets = load_nets(paths)

    def detect(self, image: np.ndarray) -> list[tuple[Box, float]]:
        from posebench.mtcnn import THRESHOLDS, detect_faces

        found = detect_faces(_prepare(image), self._nets, self.min_face_size,
                             (THRESHOLDS[0], THRESHOLDS[1], self.score), self.factor)
        return [(d.box, d.score) for d in found]


def _cv2_reason(exc: BaseException) -> str:
    """The reason in an OpenCV error message (``... error: (-2:...) REASON in function ...``)."""
    text = " ".join(str(exc).split())
    text = text.split(" error: ", 1)[-1]
    return text.split(" in function ", 1)[0][:200]


def default_detector_name(model: str | None = None) -> str:
    """The detector the default rule picks for bare photos (``box=auto``): ``yunet`` when
    ``model`` is given or YuNet's model file is installed (``<weights dir>/yunet/yunet_n_dynamic.onnx``,
    ``posebench data download yunet``), else ``dlib-hog`` (offline, shipped with dlib)."""
    return "yunet" if model or default_yunet_path().is_file() else "dlib-hog"


def default_detector(model: str | None = None) -> FaceDetector:
    """The detector for bare photos (:func:`default_detector_name`; dlib's HOG with ``upsample=1``)."""
    name = default_detector_name(model)
    return detectors.create(name, {"model": model or ""} if name == "yunet" else {"upsample": 1})


def detector_options(name: str, model: str | None = None, upsample: int | None = None) -> dict[str, Any]:
    """The options given to detector ``name`` for a method's ``detector_model`` (the detector's
    ``model``) and ``upsample``: only those the detector declares."""
    declared = detectors.defaults(name)
    given = {"model": model or "", "upsample": upsample}
    return {k: v for k, v in given.items() if k in declared and v is not None}


def make_detector(name: str, model: str | None = None, upsample: int = 1) -> FaceDetector:
    """A detector by name (``auto``: :func:`default_detector`, or any registered detector);
    ``model`` overrides its file, ``upsample`` its pyramid levels (where it has them).
    :class:`UsageError` for an unknown name."""
    if name == "auto":
        return default_detector(model)
    check_box_mode(name, detectors_only=True)
    return detectors.create(name, detector_options(name, model, upsample))


def check_box_mode(box: str, detectors_only: bool = False) -> str:
    """``box`` itself when it is a box mode (``auto``, ``gt`` or a registered detector; with
    ``detectors_only``, a detector); else a one-line :class:`UsageError` listing them."""
    allowed = DETECTORS if detectors_only else BOX_MODES
    if box not in allowed:
        what = "face detector" if detectors_only else "box"
        raise UsageError(f"{what} must be one of {', '.join(allowed)}, got {box!r}"
                         + (f" ({did_you_mean(box, list(allowed)).strip()})" if did_you_mean(box, list(allowed)) else ""))
    return box


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def choose_face(found: list[tuple[Box, float]], reference: Box | None = None) -> Box:
    """One face among detections: best IoU with ``reference`` (when given and overlapping),
    otherwise the largest box. Raises ``SampleFailure("no face found")`` when ``found`` is empty."""
    if not found:
        raise SampleFailure(NO_FACE)
    boxes = [tuple(float(v) for v in b) for b, _ in found]
    if reference is not None:
        overlaps = [iou(b, reference) for b in boxes]
        if max(overlaps) > 0:
            return boxes[int(np.argmax(overlaps))]
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
    return boxes[int(np.argmax(areas))]


def sorted_by_area(found: list[tuple[Box, float]]) -> list[Box]:
    """Detected boxes, largest first (ties: the detector's order)."""
    boxes = [tuple(float(v) for v in b) for b, _ in found]
    return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))


def find_face(image: np.ndarray, box_mode: str, detector, protocol_box: Box | None,
              box_source: str = "") -> tuple[Box, str]:
    """The face box for one image under ``box_mode`` (see the module doc) and its source:
    ``""`` for the protocol's box, else the name of the detector that found it.

    ``detector`` is a detector or a callable returning one (built on first need, so ``auto``
    builds none when every sample has a protocol box). A ``box_source`` naming a detector means
    ``protocol_box`` already is that detector's detection: it is returned as is. Every box is
    validated by :func:`posebench.crop.check_box` (empty, non-finite, off the image or absurdly
    large is a :class:`SampleFailure`, never a pose predicted from nothing)."""
    size = (int(image.shape[1]), int(image.shape[0]))
    if box_source and protocol_box is not None:
        return check_box(protocol_box, size, f"{box_source} face box"), box_source
    if box_mode == "gt" or (box_mode == "auto" and protocol_box is not None):
        if protocol_box is None:
            raise SampleFailure("box=gt but the sample has no protocol box (use box=auto or a detector: "
                                "box=dlib-hog|yunet)")
        return check_box(protocol_box, size, "protocol face box"), ""
    det = detector() if callable(detector) and not hasattr(detector, "detect") else detector
    if det is None:  # pragma: no cover - programming error
        raise ValueError(f"box={box_mode} needs a detector")
    reference = None
    if protocol_box is not None:
        try:
            reference = check_box(protocol_box, size, "protocol face box")
        except SampleFailure:
            reference = None  # a broken protocol box only loses its say in choosing among faces
    return check_box(choose_face(det.detect(image), reference), size, f"{det.name} face box"), det.name


def locate_face(image: np.ndarray, box_mode: str, detector: FaceDetector | None, protocol_box: Box | None) -> Box:
    """The face box for one image under ``box_mode`` (see :func:`find_face`, without the source)."""
    return find_face(image, box_mode, detector, protocol_box)[0]
