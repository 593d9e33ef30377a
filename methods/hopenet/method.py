"""The ``hopenet``, ``hopenet-alexnet`` and ``resnet50-regression`` estimators.

Input: the RGB image and the protocol's face box (for AFLW2000, Hopenet's own loose crop), which
is cropped and preprocessed exactly as the authors' evaluation (:mod:`.preprocess`); faces are
run in batches of ``batch_size`` (:mod:`.engine`). Without a protocol box (a bare photo, a
dataset without boxes; ``box=auto``, the default) or with ``box=dlib-hog|dlib-cnn|yunet``, a
detector finds the face and its box is enlarged as the authors' video demo does
(``test_on_video_dlib.py``: x by half the box width on each side, y by 3/4 of its height above
and 1/4 below; :func:`detector_crop_box`). Output: (yaw, pitch, roll) in degrees, in the
AFLW2000-3D convention the networks were trained in (300W-LP labels), so no conversion is applied.

Options: ``box``, ``detector_model`` (see :mod:`posebench.detect`), ``weights`` (path to a checkpoint;
default ``<weights folder>/<file of variant>``),
``variant`` (``alpha1`` | ``alpha2`` | ``robust_alpha1`` for ``hopenet``), ``batch_size``,
``threads`` (torch/onnxruntime threads; 0 = all cores of this process), ``engine``
(``onnxruntime``, the default and fastest on CPU, | ``torch``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from posebench.crop import check_box
from posebench.errors import SampleFailure, UsageError
from posebench.fileio import file_digest
from posebench.method import Estimate, FaceInput, Method, prepare_each
from posebench.pose import Pose

from . import NEEDS, nets
from .engine import ENGINES, cpu_threads, make_engine, onnx_cache_path
from .preprocess import face_crop, to_batch
from .weights import VARIANTS, default_variant, load_into, read_state_dict, resolve_weights


def detector_crop_box(box, width: int, height: int):
    """The authors' crop around a *detected* face (deep-head-pose ``test_on_video_dlib.py``):
    x_min -= 2w/4, x_max += 2w/4, y_min -= 3h/4, y_max += h/4, then cut at the image."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = abs(x1 - x0), abs(y1 - y0)
    x0, x1, y0, y1 = x0 - 2 * w / 4, x1 + 2 * w / 4, y0 - 3 * h / 4, y1 + h / 4
    return max(x0, 0.0), max(y0, 0.0), min(float(width), x1), min(float(height), y1)


def load_network(arch: str, weights: str | Path | None = None, variant: str = "") -> tuple[torch.nn.Module, Path]:
    """Network ``arch`` with its checkpoint loaded (see :func:`.weights.resolve_weights`)."""
    path = resolve_weights(arch, weights, variant or default_variant(arch))
    net = nets.build(arch)
    load_into(net, read_state_dict(path), path)  # the check of weights.check_checkpoint
    return net.eval(), path


class HopenetBase(Method):
    """Shared implementation; subclasses fix ``arch``/``name``."""

    arch = "hopenet"
    needs = NEEDS
    version = "2"

    def __init__(self, weights: str = "", variant: str = "", batch_size: int = 16, threads: int = 0,
                 engine: str = "onnxruntime", box: str = "auto", detector_model: str = ""):
        variant = variant or default_variant(self.arch)
        if variant not in VARIANTS[self.arch]:
            raise UsageError(f"variant must be one of {', '.join(VARIANTS[self.arch])} for {self.name}, got {variant!r}")
        if engine not in ENGINES:
            raise UsageError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        super().__init__()
        self.box, self.detector_model = box, detector_model
        self.faces = self.use_face_source(box, detector_model)
        self.net, self.weights_path = load_network(self.arch, weights or None, variant)
        self.reads("weights", self.weights_path)
        self.threads = int(threads) if threads and threads > 0 else cpu_threads()
        torch.set_num_threads(self.threads)
        self._hash: str | None = None
        cache = onnx_cache_path(self.arch, self.weights_hash) if engine == "onnxruntime" else None
        self.engine = make_engine(engine, self.net, self.threads, cache)
        self.batch_size = int(batch_size)

    @property
    def weights_hash(self) -> str:
        if self._hash is None:
            self._hash = file_digest(self.weights_path)
        return self._hash

    def prepare(self, face: FaceInput) -> np.ndarray:
        """The 224x224 RGB uint8 network input of one face; :class:`SampleFailure` if impossible."""
        return self._prepare(face)[0]

    def _prepare(self, face: FaceInput) -> tuple[np.ndarray, str]:
        image = face.rgb()
        h, w = image.shape[:2]
        box, source = self.faces.find(image, face.box, face.box_source)
        if source:
            box = detector_crop_box(box, w, h)
        return face_crop(image, check_box(box, (w, h))), source

    def estimate_batch(self, faces: Sequence[FaceInput]) -> list[Pose | SampleFailure]:
        out, prepared, where = prepare_each(faces, self._prepare)
        crops = [c for c, _ in prepared]
        for start in range(0, len(crops), self.batch_size):
            chunk = crops[start : start + self.batch_size]
            angles = self.engine(to_batch(chunk, self.engine.channels_last))
            for k, (j, ypr) in enumerate(zip(where[start : start + self.batch_size], angles)):
                pose = Pose(float(ypr[0]), float(ypr[1]), float(ypr[2]))
                source = prepared[start + k][1]
                out[j] = Estimate.of(pose, detector=source) if source else pose
        return out


class HopenetMethod(HopenetBase):
    name = "hopenet"
    arch = "hopenet"


class HopenetAlexNetMethod(HopenetBase):
    name = "hopenet-alexnet"
    arch = "hopenet-alexnet"


class ResNet50RegressionMethod(HopenetBase):
    name = "resnet50-regression"
    arch = "resnet50-regression"
