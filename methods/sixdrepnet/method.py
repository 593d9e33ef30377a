"""The ``6drepnet`` and ``6drepnet360`` estimators: the authors' networks (:mod:`.nets`) from
their published files (:mod:`.weights`), their test-time input (:mod:`.preprocess`).

Per face: the protocol box (``box=auto``; AFLW2000: Hopenet's loose crop, as the authors'
``test.py``) -> ``Resize(256)`` + ``CenterCrop(224)``; a detected box (a bare photo, or
``box=<detector>``) -> the authors' ``demo.py`` crop -> ``Resize(224)`` + ``CenterCrop(224)``.
The network gives a rotation matrix ``M = Rz(roll) Ry(yaw) Rx(pitch)`` (300W-LP labels, the
authors' ``get_R``), so posebench's model rotation is ``M.T`` and the pose is
:func:`posebench.pose.pose_from_matrix` of it, in float64 (no Euler sign is flipped).
Engines: ``onnxruntime`` (default; the network exported to ONNX, cached by weights hash) or
``torch`` (``inference_mode``). Output: (yaw, pitch, roll) degrees, AFLW2000-3D convention.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from posebench.crop import check_box
from posebench.errors import UsageError
from posebench.fileio import file_digest
from posebench.method import Estimate, FaceInput, Method, prepare_each
from posebench.pose import pose_from_matrix

from . import ENGINES, NEEDS
from .nets import INPUT_SIZE
from .preprocess import DEMO_RESIZE, TEST_RESIZE, demo_box, face_crop
from .weights import load_network, resolve_weights

OPSET = 17


def export_onnx_bytes(net: torch.nn.Module, opset: int = OPSET) -> bytes:
    """ONNX of the network: input ``image`` [N, 3, 224, 224] float32 (normalised RGB), output
    ``rotation`` [N, 3, 3] (the authors' matrix)."""
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(copy.deepcopy(net).eval(), torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE), buf, input_names=["image"],
                          output_names=["rotation"], dynamic_axes={"image": {0: "batch"}, "rotation": {0: "batch"}},
                          opset_version=opset, dynamo=False)
    return buf.getvalue()


class TorchEngine:
    def __init__(self, net: torch.nn.Module):
        self.net = net.eval()

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return self.net(x).double().numpy()


class OnnxEngine:
    """onnxruntime's CPU provider on the exported network, cached under ``<data root>/cache/onnx/``
    (:func:`posebench.methods.hopenet.engine.cached_session`)."""

    def __init__(self, net: torch.nn.Module, threads: int, cache: Path | None):
        from posebench.methods.hopenet.engine import cached_session

        self.session = cached_session(lambda: export_onnx_bytes(net), threads, cache)

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        return self.session.run(["rotation"], {"image": np.ascontiguousarray(x.numpy())})[0].astype(np.float64)


def onnx_cache_path(name: str, weights_hash: str) -> Path | None:
    from posebench.methods.hopenet.engine import onnx_cache_path as hopenet_cache

    p = hopenet_cache(name, weights_hash)
    return None if p is None else p.with_name(p.name.replace(".onnx", "-rotation.onnx"))


class SixDRepNetMethod(Method):
    """6DRepNet (RepVGG-B1g2) with the authors' weights. Options: ``weights`` (a deploy-form
    ``.pth``, a training snapshot, or ``module.``-prefixed; default ``<weights
    folder>/6drepnet/6DRepNet_300W_LP_AFLW2000.pth``), ``engine`` (``onnxruntime`` | ``torch``),
    ``batch_size``, ``threads`` (0 = all cores of this process), ``box`` and ``detector_model``
    (where the face box comes from, as for ``hopenet``). :class:`~posebench.errors.WeightsError`
    for a missing or unfit file, :class:`~posebench.errors.UsageError` for a bad option."""

    name = "6drepnet"
    needs = NEEDS
    version = "1"
    licence = "MIT (thohemp/6DRepNet)"

    def __init__(self, weights: str = "", engine: str = "onnxruntime", batch_size: int = 32, threads: int = 0,
                 box: str = "auto", detector_model: str = ""):
        from posebench.methods.hopenet.engine import cpu_threads

        if engine not in ENGINES:
            raise UsageError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        super().__init__()
        self.box, self.detector_model = box, detector_model
        self.faces = self.use_face_source(box, detector_model)
        self.weights_path = resolve_weights(self.name, weights or None)
        self.reads("weights", self.weights_path)
        self._hash = file_digest(self.weights_path)
        self.net, self.form = load_network(self.weights_path)
        self.threads = int(threads) if threads and threads > 0 else cpu_threads()
        torch.set_num_threads(self.threads)
        self.engine = (TorchEngine(self.net) if engine == "torch"
                       else OnnxEngine(self.net, self.threads, onnx_cache_path(f"{self.name}-{self.form}", self._hash)))
        self.batch_size = int(batch_size)

    @property
    def weights_hash(self) -> str:
        return self._hash

    def describe(self) -> str:
        """The crop rule, e.g. ``protocol box, Resize(256)+CenterCrop(224) (test.py); ...``."""
        return ("protocol box, Resize(256)+CenterCrop(224) (the authors' test.py); detected box: demo.py crop, "
                f"Resize(224)+CenterCrop(224); licence {self.licence}")

    def prepare(self, face: FaceInput) -> np.ndarray:
        """The 224x224 RGB uint8 network input of one face; :class:`SampleFailure` if impossible."""
        return self._prepare(face)[0]

    def _prepare(self, face: FaceInput) -> tuple[np.ndarray, str]:
        image = face.rgb()
        h, w = image.shape[:2]
        box, source = self.faces.find(image, face.box, face.box_source)
        if source:
            return face_crop(image, check_box(demo_box(box, w, h), (w, h)), DEMO_RESIZE), source
        return face_crop(image, check_box(box, (w, h)), TEST_RESIZE), source

    def rotations(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 3, 3) float64: the network's matrices of 224x224 RGB uint8 crops."""
        from posebench.methods.hopenet.preprocess import to_batch

        return np.asarray(self.engine(to_batch(crops, channels_last=False)), np.float64).reshape(-1, 3, 3)

    def estimate_batch(self, faces: Sequence[FaceInput]) -> list:
        out, prepared, where = prepare_each(faces, self._prepare)
        for start in range(0, len(prepared), self.batch_size):
            chunk = prepared[start : start + self.batch_size]
            for j, (_, source), m in zip(where[start : start + self.batch_size], chunk, self.rotations([c for c, _ in chunk])):
                pose = pose_from_matrix(m.T)
                out[j] = Estimate.of(pose, detector=source) if source else pose
        return out


class SixDRepNet360Method(SixDRepNetMethod):
    """6DRepNet360 (ResNet-50, full-range yaw) with the authors' weights; options as ``6drepnet``,
    default ``<weights folder>/6drepnet/6DRepNet360_Full-Rotation_300W_LP+Panoptic.pth``."""

    name = "6drepnet360"
    licence = "MIT (thohemp/6DRepNet360)"
