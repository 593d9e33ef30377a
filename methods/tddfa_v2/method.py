"""The ``3ddfa-v2`` estimator: 3DDFA_V2's released regressors (:mod:`.weights`), the authors'
preprocessing and pose (:mod:`.preprocess`).

The ROI (option ``roi``, the recorded set-up): ``landmarks`` -- the authors' ROI from the face's 68
landmarks (their AFLW2000-3D benchmark); ``box`` -- their ROI from a face box (their demos, with a
FaceBoxes detection), the box coming from option ``box`` as for the other image networks
(``auto``: the sample's protocol box, else the default face detector; ``gt``; or a detector);
``auto`` (default) -- the landmark ROI when the face has 68 landmarks and ``box=auto``, else the
box ROI (a bare photo: the detector's box). Faces run in batches through the ``onnxruntime``
engine (default; the network exported to ONNX, cached by weights hash) or the ``torch`` engine
(the network as loaded, ``inference_mode``). Output: (yaw, pitch, roll) degrees, AFLW2000-3D
convention (the rotation of the regressed camera, no conversion needed).
"""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from posebench.errors import SampleFailure, UsageError
from posebench.fileio import file_digest
from posebench.method import Estimate, FaceInput, Method, prepare_each

from . import ENGINES, NEEDS, ROIS
from .nets import INPUT_SIZE, NUM_PARAMS
from .preprocess import denormalise, network_input, pose_of, roi_from_box, roi_from_landmarks, to_batch
from .weights import load_tddfa, read_param_stats, resolve_param_stats, resolve_weights

OPSET = 17


def export_onnx_bytes(net: torch.nn.Module, opset: int = OPSET) -> bytes:
    """ONNX model of the regressor: input ``image`` [N, 3, 120, 120] float32 (normalised BGR),
    output ``params`` [N, 62] (normalised 3DMM parameters)."""
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(copy.deepcopy(net).eval(), torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE), buf, input_names=["image"],
                          output_names=["params"], dynamic_axes={"image": {0: "batch"}, "params": {0: "batch"}},
                          opset_version=opset, dynamo=False)
    return buf.getvalue()


class TorchEngine:
    def __init__(self, net: torch.nn.Module):
        self.net = net.eval()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.net(torch.from_numpy(x)).numpy()


class OnnxEngine:
    """onnxruntime's CPU provider on the exported regressor, the export cached (with its SHA-256)
    under ``<data root>/cache/onnx/`` as Hopenet's (:mod:`posebench.methods.hopenet.engine`)."""

    def __init__(self, net: torch.nn.Module, threads: int, cache: Path | None):
        from posebench.methods.hopenet.engine import cached_session

        self.session = cached_session(lambda: export_onnx_bytes(net), threads, cache)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(["params"], {"image": np.ascontiguousarray(x)})[0]


def onnx_cache_path(arch: str, weights_hash: str) -> Path | None:
    from posebench.methods.hopenet.engine import onnx_cache_path as hopenet_cache

    p = hopenet_cache(f"3ddfa-v2-{arch}", weights_hash)
    return None if p is None else p.with_name(p.name.replace(".onnx", "-in120.onnx"))


class TDDFAV2Method(Method):
    """3DDFA_V2 with the authors' weights. Options: ``weights`` (``mb05_120x120.pth``,
    ``mb1_120x120.pth`` or ``resnet22.pth``; default ``<weights folder>/3ddfa_v2/mb05_120x120.pth``),
    ``param_stats`` (``param_mean_std_62d_120x120.pkl``; default beside the weights, else in the
    weights folder), ``roi`` (``auto`` | ``landmarks`` | ``box``), ``engine`` (``onnxruntime`` |
    ``torch``), ``batch_size``, ``threads`` (0 = all cores of this process), ``box`` and
    ``detector_model`` (where a box ROI's face box comes from, as for ``whenet``)."""

    name = "3ddfa-v2"
    needs = NEEDS
    version = "1"

    def __init__(self, weights: str = "", param_stats: str = "", roi: str = "auto", engine: str = "onnxruntime",
                 batch_size: int = 64, threads: int = 0, box: str = "auto", detector_model: str = ""):
        from posebench.methods.hopenet.engine import cpu_threads

        if roi not in ROIS:
            raise UsageError(f"roi must be one of {', '.join(ROIS)}, got {roi!r}")
        if engine not in ENGINES:
            raise UsageError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        super().__init__()
        self.box, self.detector_model = box, detector_model
        self.faces = self.use_face_source(box, detector_model)
        self.weights_path = resolve_weights(weights or None)
        self.param_path = resolve_param_stats(param_stats or None, self.weights_path)
        self.reads("weights", self.weights_path)
        self.reads("param_mean_std", self.param_path)
        self._hash = file_digest(self.weights_path)
        self.mean, self.std = read_param_stats(self.param_path)
        self.net, self.arch = load_tddfa(self.weights_path)
        self.threads = int(threads) if threads and threads > 0 else cpu_threads()
        torch.set_num_threads(self.threads)
        self.engine = (TorchEngine(self.net) if engine == "torch"
                       else OnnxEngine(self.net, self.threads, onnx_cache_path(self.arch, self._hash)))
        self.roi, self.batch_size = roi, int(batch_size)

    @property
    def weights_hash(self) -> str:
        return self._hash

    def describe(self) -> str:
        """Which ROI rule and face box, e.g. ``landmark ROI (the face's 68 landmarks; else box ROI of
        the sample's box, a detector on a bare photo)``."""
        where = {"auto": "the sample's box, a detector on a bare photo", "gt": "the sample's box"}.get(
            self.box, f"the {self.box} detector box")
        if self.roi == "landmarks":
            return "landmark ROI (the face's 68 landmarks)"
        if self.roi == "box" or self.box != "auto":
            return f"box ROI of {where}"
        return f"landmark ROI (the face's 68 landmarks; else box ROI of {where})"

    def roi_of(self, face: FaceInput, image: np.ndarray) -> tuple[list[float], str]:
        """The ROI of this face and the detector that found it (``""``: the sample's landmarks or box)."""
        lm = face.landmarks
        has68 = lm is not None and np.shape(lm) == (68, 2) and bool(np.all(np.isfinite(lm)))
        if self.roi == "landmarks" or (self.roi == "auto" and self.box == "auto" and has68 and not face.box_source):
            if not has68:
                raise SampleFailure("roi=landmarks needs the face's 68 landmarks")
            return roi_from_landmarks(lm), ""
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
