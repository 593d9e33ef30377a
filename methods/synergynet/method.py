"""The ``synergynet`` estimator: SynergyNet's released checkpoint (:mod:`.weights`), the authors'
crop, normalisation and pose (:mod:`.preprocess`).

The face box comes from option ``box`` as for the other image networks (``auto``: the sample's
protocol box, else the default face detector on a bare photo; ``gt``; or a detector); the authors'
demo takes FaceBoxes' box, so a bare photo's crop differs from theirs by the detector only. Faces
run in batches through the ``onnxruntime`` engine (default; the network exported to ONNX, cached by
weights hash) or the ``torch`` engine (the network as loaded, ``inference_mode``): 3DDFA_V2's
engines (:mod:`posebench.methods.tddfa_v2.method`; same input size and output). Output: (yaw, pitch,
roll) degrees, AFLW2000-3D convention (the rotation of the regressed camera).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from posebench.errors import UsageError
from posebench.fileio import file_digest
from posebench.method import Estimate, FaceInput, Method, prepare_each

from . import ENGINES, NEEDS
from .nets import NUM_PARAMS
from .preprocess import denormalise, network_input, pose_of, roi_from_box, to_batch
from .weights import load_synergynet, resolve_weights


def onnx_cache_path(weights_hash: str) -> Path | None:
    from posebench.methods.hopenet.engine import onnx_cache_path as hopenet_cache

    p = hopenet_cache("synergynet", weights_hash)
    return None if p is None else p.with_name(p.name.replace(".onnx", "-in120.onnx"))


class SynergyNetMethod(Method):
    """SynergyNet with the authors' checkpoint. Options: ``weights`` (``best.pth.tar``; default
    ``<weights folder>/synergynet/best.pth.tar``), ``engine`` (``onnxruntime`` | ``torch``),
    ``batch_size``, ``threads`` (0 = all cores of this process), ``box`` and ``detector_model``
    (where the face box comes from, as for ``whenet``)."""

    name = "synergynet"
    needs = NEEDS
    version = "1"

    def __init__(self, weights: str = "", engine: str = "onnxruntime", batch_size: int = 64, threads: int = 0,
                 box: str = "auto", detector_model: str = ""):
        from posebench.methods.hopenet.engine import cpu_threads
        from posebench.methods.tddfa_v2.method import OnnxEngine, TorchEngine

        if engine not in ENGINES:
            raise UsageError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        super().__init__()
        self.box, self.detector_model = box, detector_model
        self.faces = self.use_face_source(box, detector_model)
        self.weights_path = resolve_weights(weights or None)
        self.reads("weights", self.weights_path)
        self._hash = file_digest(self.weights_path)
        self.net, self.mean, self.std = load_synergynet(self.weights_path)
        self.threads = int(threads) if threads and threads > 0 else cpu_threads()
        torch.set_num_threads(self.threads)
        self.engine = (TorchEngine(self.net) if engine == "torch"
                       else OnnxEngine(self.net, self.threads, onnx_cache_path(self._hash)))
        self.batch_size = int(batch_size)

    @property
    def weights_hash(self) -> str:
        return self._hash

    def describe(self) -> str:
        """Where the face box comes from, e.g. ``authors' crop (1.2x box height square) of the
        sample's box, a detector on a bare photo``."""
        where = {"auto": "the sample's box, a detector on a bare photo", "gt": "the sample's box"}.get(
            self.box, f"the {self.box} detector box")
        return f"authors' crop (square of 1.2x the box height) of {where}"

    def roi_of(self, face: FaceInput, image: np.ndarray) -> tuple[list[float], str]:
        """The square ROI of this face and the detector that found its box (``""``: the sample's)."""
        box, source = self.faces.find(image, face.box, face.box_source)
        return roi_from_box(box), source

    def _prepare(self, face: FaceInput) -> tuple[np.ndarray, str]:
        image = face.rgb()
        roi, source = self.roi_of(face, image)
        return network_input(image, roi), source

    def params(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 62) de-normalised 3DMM parameters (float32) of 120x120 RGB uint8 crops."""
        out = np.asarray(self.engine(to_batch(crops)), np.float32).reshape(-1, NUM_PARAMS)
        return denormalise(out, self.mean, self.std)

    def estimate_batch(self, faces: Sequence[FaceInput]) -> list:
        out, prepared, where = prepare_each(faces, self._prepare)
        for start in range(0, len(prepared), self.batch_size):
            chunk = prepared[start : start + self.batch_size]
            for j, (_, source), param in zip(where[start : start + self.batch_size], chunk, self.params([c for c, _ in chunk])):
                pose = pose_of(param)
                out[j] = Estimate.of(pose, detector=source) if source else pose
        return out
