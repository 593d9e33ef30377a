"""The ``whenet`` estimator: the authors' released Keras weights in PyTorch (:mod:`.weights`), or
weights trained by ``posebench train --model whenet`` (``-o weights=OUT/best.pt``).

Input: the RGB image and a face box or landmarks; the crop follows option ``crop`` (default
``loose68``, see :mod:`.preprocess`). A bare photo (no landmarks, no box) goes to the face detector
(``box=auto``: :func:`posebench.detect.default_detector`; or the detector ``box`` names), and the
detection is grown by the same rule as the 68-landmark box: a face detector's box spans brows to
chin like the landmarks' tight box (:func:`detector_reference`). Faces run in batches of ``batch_size`` through the
``onnxruntime`` engine (default; the network exported to ONNX, cached by weights hash) or the
``torch`` engine (BatchNorm folded, channels-last, ``inference_mode``); both are Hopenet's engines
(:mod:`posebench.methods.hopenet.engine`). Output: (yaw, pitch, roll) degrees in the AFLW2000-3D
convention (WHENet was trained on 300W-LP labels; no conversion).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from posebench.errors import SampleFailure, UsageError
from posebench.fileio import file_digest
from posebench.method import Estimate, FaceInput, Method, prepare_each
from posebench.pose import Pose

from . import NEEDS
from .nets import WHENetAngles, fold_batchnorm
from .preprocess import CROPS, crop_reference, detector_reference, face_crop, sliced_box, to_batch
from .weights import load_whenet, resolve_weights

ENGINES = ("torch", "onnxruntime", "openvino")


def load_network(weights: str | Path | None = None) -> tuple[torch.nn.Module, Path]:
    """WHENet with the weights of ``weights`` (default: the weights folder's ``whenet/WHENet.h5``)."""
    path = resolve_weights(weights)
    return load_whenet(path), path


def cached_export(export, cache: Path | None) -> bytes:
    """The ONNX bytes ``export()`` makes, reused from ``cache`` when its SHA-256 matches (the
    cache of :func:`posebench.methods.hopenet.engine.cached_session`, :mod:`posebench.onnxcache`)."""
    from posebench.onnxcache import cached_bytes

    return cached_bytes(export, cache)


def make_engine(name: str, net: torch.nn.Module, threads: int, weights_hash: str, device: str = "cpu"):
    """``torch``, ``onnxruntime`` or ``openvino`` (f32) engine on ``device`` returning (N, 3)
    degrees (:mod:`posebench.engines`)."""
    from posebench.engines import SessionEngine, make_session
    from posebench.methods.hopenet.engine import OnnxEngine, TorchEngine, export_onnx_bytes, onnx_cache_path

    if name == "torch":
        return TorchEngine(WHENetAngles(fold_batchnorm(net)), fold_bn=False, device=device)
    if name == "onnxruntime" and device == "cpu":
        return OnnxEngine(WHENetAngles(net), threads, onnx_cache_path("whenet", weights_hash))
    if name in ("onnxruntime", "openvino"):
        model = cached_export(lambda: export_onnx_bytes(WHENetAngles(net)), onnx_cache_path("whenet", weights_hash))
        return SessionEngine(make_session(model, name, threads, device), "image", "angles")
    raise UsageError(f"engine must be one of {', '.join(ENGINES)}, got {name!r}")


def int8_engine(net: torch.nn.Module, threads: int, weights_hash: str, batches: Sequence[np.ndarray]):
    """WHENet's onnxruntime int8 engine (:func:`posebench.engines.quantize_int8`) calibrated on
    ``batches`` of normalised (N, 3, 224, 224) inputs."""
    from posebench.engines import SessionEngine, make_session, quantize_int8
    from posebench.methods.hopenet.engine import export_onnx_bytes, onnx_cache_path

    model = cached_export(lambda: export_onnx_bytes(WHENetAngles(net)), onnx_cache_path("whenet", weights_hash))
    return SessionEngine(make_session(quantize_int8(model, "image", batches), "onnxruntime", threads), "image", "angles")


class WHENetMethod(Method):
    """WHENet with the authors' weights. Options: ``weights`` (path to the authors' ``WHENet.h5``,
    or a ``posebench train --model whenet`` checkpoint such as ``best.pt``; default
    ``<weights folder>/whenet/WHENet.h5``), ``crop`` (``loose68`` | ``visible`` | ``demo`` |
    ``protocol``), ``batch_size``, ``threads`` (0 = all cores of this process), ``engine``
    (``onnxruntime`` | ``torch``), ``box`` (``auto``: the sample's landmarks or protocol box, else
    the default face detector; ``gt``; or a detector ``dlib-hog`` | ``dlib-cnn`` | ``yunet``),
    ``detector_model`` (YuNet file). Registered lazily (:class:`posebench.lazy.LazyClass`): the
    options are these keyword parameters, declared once."""

    name = "whenet"
    needs = NEEDS
    version = "1"

    #: ``int8_images`` only says where the calibration photos are; their bytes are in the file digests.
    runtime_options = Method.runtime_options | {"int8_images"}

    def __init__(self, weights: str = "", crop: str = "loose68", batch_size: int = 32, threads: int = 0,
                 engine: str = "onnxruntime", box: str = "auto", detector_model: str = "", device: str = "cpu",
                 precision: str = "fp32", int8_images: str = ""):
        if crop not in CROPS:
            raise UsageError(f"crop must be one of {', '.join(CROPS)}, got {crop!r}")
        if engine not in ENGINES:
            raise UsageError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        from posebench.engines import DEVICES, PRECISIONS, check_choice
        from posebench.methods.hopenet.engine import cpu_threads

        check_choice("device", device, DEVICES)
        check_choice("precision", precision, PRECISIONS)
        if precision == "int8" and engine != "onnxruntime":
            raise UsageError("precision=int8 runs on engine=onnxruntime")

        super().__init__()
        self.box, self.detector_model = box, detector_model
        self.faces = self.use_face_source(box, detector_model)
        self.weights_path = resolve_weights(weights or None)
        self.reads("weights", self.weights_path)
        self._hash = file_digest(self.weights_path)
        self.net = load_whenet(self.weights_path)
        self.threads = int(threads) if threads and threads > 0 else cpu_threads()
        torch.set_num_threads(self.threads)
        self.engine = make_engine(engine, self.net, self.threads, self._hash, device)
        self.crop = crop
        self.batch_size = int(batch_size)
        self.int8_error: float | None = None  # int8's largest difference from fp32 (deg), once admitted
        if precision == "int8":
            self._use_int8(int8_images)
        elif int8_images:
            raise UsageError("int8_images is for precision=int8")

    def _use_int8(self, folder: str) -> None:
        """Calibrate int8 on the faces of ``folder`` and keep it only if
        :func:`posebench.engines.int8_gate` finds it within tolerance of fp32 there (it refuses
        WHENet's released weights); every image read is in the cache key."""
        from posebench.engines import calibration_faces, int8_gate

        if not folder:
            raise UsageError("precision=int8 needs int8_images=FOLDER: your own photos, to calibrate and check int8 against fp32")
        crops = []
        for i, (path, face) in enumerate(calibration_faces(folder)):
            self.reads(f"int8_image{i}", path)
            try:
                crops.append(self.prepare(face))
            except SampleFailure:
                continue
        batches = [to_batch(crops[i:i + 8], False) for i in range(0, len(crops), 8)]
        if not batches:
            raise UsageError(f"int8_images: no face found in {folder}")
        fp32 = self.engine
        int8 = int8_engine(self.net, self.threads, self._hash, [b.numpy() for b in batches])
        self.int8_error = int8_gate(fp32, int8, batches, "whenet")
        self.engine = int8

    @property
    def weights_hash(self) -> str:
        return self._hash

    def describe(self) -> str:
        """The crop rule and where the face comes from, e.g. ``loose68 crop (sample's landmarks or
        box; detector on a bare photo)`` or ``loose68 crop of the yunet detector box``."""
        if self.box in ("auto", "gt"):
            where = "sample's landmarks or box" + ("; detector on a bare photo" if self.box == "auto" else "")
            return f"{self.crop} crop ({where})"
        return f"{self.crop} crop of the {self.box} detector box"

    def crop_box(self, face: FaceInput, image: np.ndarray) -> tuple[int, int, int, int]:
        """The integer box sliced out of ``image`` for this face."""
        return self._crop_box(face, image)[0]

    def _crop_box(self, face: FaceInput, image: np.ndarray) -> tuple[tuple[int, int, int, int], str]:
        """:meth:`crop_box` and the detector that found the face (``""``: the sample's own
        landmarks or box)."""
        h, w = image.shape[:2]
        bare = face.box is None and face.landmarks is None and face.points is None
        if self.box != "gt" and (self.box != "auto" or bare or face.box_source):
            box, source = self.faces.find(image, face.box, face.box_source)
            return sliced_box(detector_reference(self.crop, box, w, h), w, h), source
        ref = crop_reference(self.crop, face.box, face.landmarks, face.points, w, h)
        return sliced_box(ref, w, h), ""

    def prepare(self, face: FaceInput) -> np.ndarray:
        """The 224x224 RGB uint8 network input of one face; :class:`SampleFailure` if impossible."""
        return self._prepare(face)[0]

    def _prepare(self, face: FaceInput) -> tuple[np.ndarray, str]:
        image = face.rgb()
        box, source = self._crop_box(face, image)
        return face_crop(image, box), source

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 3) degrees for 224x224 RGB uint8 crops."""
        return self.engine(to_batch(crops, self.engine.channels_last))

    def estimate_batch(self, faces: Sequence[FaceInput]) -> list[Pose | SampleFailure]:
        out, prepared, where = prepare_each(faces, self._prepare)
        for start in range(0, len(prepared), self.batch_size):
            chunk = prepared[start : start + self.batch_size]
            angles = self.predict([c for c, _ in chunk])
            for j, (_, source), ypr in zip(where[start : start + self.batch_size], chunk, angles):
                pose = Pose(float(ypr[0]), float(ypr[1]), float(ypr[2]))
                out[j] = Estimate.of(pose, detector=source) if source else pose
        return out
