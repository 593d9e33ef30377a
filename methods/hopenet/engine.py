"""Fast batched inference for the Hopenet networks: a network in, (N, 3) degrees out.

``onnxruntime`` engine (the default; the fastest on CPU): the network exported to ONNX (cached
under ``<data root>/cache/onnx/`` by weights hash) and run by onnxruntime's CPU provider.
``torch`` engine: BatchNorm folded into the preceding convolutions, channels-last memory layout,
``torch.inference_mode``, batches of faces. Both change only the order of float32
operations: their angles agree with the unmodified network to about 1e-5 degrees (see
``posebench bench hopenet``, which prints the largest difference on real images).
"""

from __future__ import annotations

import copy
import io
import os
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import nn

from posebench.errors import UsageError
from posebench.onnxcache import read_cached as read_cached_export
from posebench.onnxcache import write_cached as write_cached_export

from .nets import INPUT_SIZE, Degrees

ENGINES = ("torch", "onnxruntime")


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """Fold every eval-mode BatchNorm2d that directly follows a Conv2d (ResNet's ``convK``/``bnK``
    pairs and ``downsample`` Sequentials) into that convolution; returns a new module."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    net = copy.deepcopy(net).eval()
    for parent in list(net.modules()):
        children = dict(parent.named_children())
        for name, child in children.items():
            if isinstance(child, nn.Conv2d) and name.startswith("conv"):
                bn_name = "bn" + name[len("conv"):]
                bn = children.get(bn_name)
                if isinstance(bn, nn.BatchNorm2d):
                    setattr(parent, name, fuse_conv_bn_eval(child, bn))
                    setattr(parent, bn_name, nn.Identity())
        if isinstance(parent, nn.Sequential):
            mods = list(parent)
            for i in range(len(mods) - 1):
                if isinstance(mods[i], nn.Conv2d) and isinstance(mods[i + 1], nn.BatchNorm2d):
                    parent[i] = fuse_conv_bn_eval(mods[i], mods[i + 1])
                    parent[i + 1] = nn.Identity()
    return net


def cpu_threads() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class TorchEngine:
    """The network folded and channels-last under ``inference_mode`` on ``device`` (``cpu`` |
    ``cuda``; :func:`posebench.engines.torch_device` refuses ``cuda`` without a CUDA device):
    called on a CPU (N, 3, H, W) batch, returns (N, 3) float64 degrees on the CPU."""

    def __init__(self, net: nn.Module, channels_last: bool = True, fold_bn: bool = True, device: str = "cpu"):
        from posebench.engines import torch_device

        self.device = torch_device(device)
        model = fold_batchnorm(net) if fold_bn else copy.deepcopy(net).eval()
        model = model.to(self.device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = Degrees(model).eval()
        self.channels_last = channels_last

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            if self.device.type != "cpu":
                x = x.to(self.device, non_blocking=True)
            return self.model(x).double().cpu().numpy()


OPSET = 17
EXPORT_FORMAT = 1  # bump when Degrees/export change, to invalidate cached exports


def export_onnx_bytes(net: nn.Module, opset: int = OPSET) -> bytes:
    """ONNX model of ``Degrees(net)``: input ``image`` [N, 3, 224, 224] float32 (normalised RGB),
    output ``angles`` [N, 3] degrees (yaw, pitch, roll)."""
    import warnings

    model = Degrees(copy.deepcopy(net).eval()).eval()
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE), buf, input_names=["image"],
                          output_names=["angles"], dynamic_axes={"image": {0: "batch"}, "angles": {0: "batch"}},
                          opset_version=opset, dynamo=False)
    return buf.getvalue()


#: Set (by :func:`no_export_cache`) while exports must not be stored: weights that no later run
#: will load again (a training's per-epoch validation) would leave one file per epoch behind.
_NO_EXPORT_CACHE: ContextVar[bool] = ContextVar("posebench_no_export_cache", default=False)


@contextmanager
def no_export_cache() -> Iterator[None]:
    """Within this block :func:`onnx_cache_path` is ``None``: exports are made in memory and never
    written (used by training's validation, whose weights change every epoch: a cached export
    of them could never be reused and cost 231 MB per epoch for hopenet-alexnet)."""
    token = _NO_EXPORT_CACHE.set(True)
    try:
        yield
    finally:
        _NO_EXPORT_CACHE.reset(token)


def onnx_cache_path(arch: str, weights_hash: str) -> Path | None:
    """Where the exported model of these weights is kept: ``<data root>/cache/onnx/``; ``None``
    inside :func:`no_export_cache` (the export is then not stored)."""
    from posebench.paths import data_root

    if _NO_EXPORT_CACHE.get():
        return None
    return data_root() / "cache" / "onnx" / f"{arch}-{weights_hash[:20]}-v{EXPORT_FORMAT}-opset{OPSET}-torch{torch.__version__.split('+')[0]}.onnx"


def cached_session(export, threads: int, cache: Path | None = None):
    """An onnxruntime CPU session (``threads`` intra-op threads, one inter-op, errors-only log) of
    the model ``export()`` returns as ONNX bytes. With ``cache`` the export is stored there with
    its SHA-256 (:func:`write_cached_export`) and reused by later runs with the same weights; a
    cached file that is damaged, replaced or refused by onnxruntime is exported again and
    overwritten. Shared by every method that exports its torch network (Hopenet, WHENet, 3DDFA_V2)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    model = read_cached_export(cache) if cache is not None else None
    if model is not None:
        try:
            return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 - any refusal of a cached file: rebuild it
            pass
    model = export()
    if cache is not None:
        write_cached_export(cache, model)
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


class OnnxEngine:
    """onnxruntime on the exported network (:func:`cached_session`: the export, a few seconds,
    cached by weights hash when ``cache`` is given)."""

    def __init__(self, net: nn.Module, threads: int, cache: Path | None = None):
        self.session = cached_session(lambda: export_onnx_bytes(net), threads, cache)
        self.channels_last = False

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        arr = np.ascontiguousarray(x.numpy())
        return self.session.run(["angles"], {"image": arr})[0].astype(np.float64)


def make_engine(name: str, net: nn.Module, threads: int, cache: Path | None = None):
    """``torch`` or ``onnxruntime`` engine for ``net``; ``cache``: file for the ONNX export."""
    if name == "torch":
        return TorchEngine(net)
    if name == "onnxruntime":
        return OnnxEngine(net, threads, cache)
    raise UsageError(f"engine must be one of {', '.join(ENGINES)}, got {name!r}")
