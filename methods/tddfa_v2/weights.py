"""Finding and reading 3DDFA_V2's released files: the regressor's state dict and the
``param_mean_std`` pickle.

Weights (``mb05_120x120.pth``, ``mb1_120x120.pth``, ``resnet22.pth`` of cleardusk/3DDFA_V2): a dict
``{'epoch', 'state_dict'}`` whose keys start with ``module.`` (``nn.DataParallel``), read with
``torch.load(weights_only=True)`` (:func:`posebench.methods.hopenet.weights.read_state_dict`), the
prefix removed. As the authors' ``load_model``: a key ``fc_param.*`` fills ``fc.*``; keys the
network does not have are ignored. Unlike it, every tensor of the network must be in the file,
with its shape (the authors silently keep random values): else a one-line :class:`WeightsError`.
The architecture is read off the file: ``conv_param.weight`` -> ResNet-22, else MobileNet-V1 with
the width given by ``conv1.weight`` (16 output channels -> 0.5, 32 -> 1.0).

``param_mean_std_62d_120x120.pkl``: a pickle of ``{'mean': float32[62], 'std': float32[62]}``.
A pickle can run code when loaded, so it is read by :class:`ArrayUnpickler`, which resolves only
the names numpy's array pickles use (``numpy.core.multiarray._reconstruct`` or its numpy-2 name,
``numpy.ndarray``, ``numpy.dtype``) and refuses every other one with a :class:`WeightsError`; the
result must be exactly those two finite float arrays of 62.

Look-up: ``weights=PATH``, else ``<weights folder>/3ddfa_v2/mb05_120x120.pth`` (the weights folder
is ``$POSEBENCH_WEIGHTS`` or ``<data root>/weights``; ``posebench data download 3ddfa-v2-mb05``
puts it there). The pickle: ``param_stats=PATH``, else the file of that name beside the weights,
else ``<weights folder>/3ddfa_v2/param_mean_std_62d_120x120.pkl``.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from posebench.errors import WeightsError
from posebench.fileio import existing_file

from .nets import ARCHS, NUM_PARAMS

SUBDIR = "3ddfa_v2"
FILENAME = "mb05_120x120.pth"
PARAM_FILENAME = "param_mean_std_62d_120x120.pkl"
SOURCE = "https://github.com/cleardusk/3DDFA_V2"


def default_dir() -> Path:
    from posebench.paths import weights_dir

    return weights_dir() / SUBDIR


def resolve_weights(weights: str | os.PathLike | None) -> Path:
    """The regressor's weights file; :class:`WeightsError` (one line) when it is not there."""
    if weights:
        return existing_file(weights, "3DDFA_V2 weights file")
    p = default_dir() / FILENAME
    if p.is_file():
        return p
    raise WeightsError(f"3DDFA_V2 weights {FILENAME} not found in {p.parent}: run `posebench data download 3ddfa-v2-mb05` "
                       f"(from {SOURCE}), or give its path (-o weights=PATH)")


def resolve_param_stats(param_stats: str | os.PathLike | None, weights: Path) -> Path:
    """The ``param_mean_std`` pickle: ``param_stats``, else beside ``weights``, else the weights folder's."""
    if param_stats:
        return existing_file(param_stats, "3DDFA_V2 param_mean_std file")
    for p in (Path(weights).parent / PARAM_FILENAME, default_dir() / PARAM_FILENAME):
        if p.is_file():
            return p
    raise WeightsError(f"3DDFA_V2 {PARAM_FILENAME} not found beside {Path(weights).name} or in {default_dir()}: run "
                       f"`posebench data download 3ddfa-v2-param-stats` (from {SOURCE}), or give its path (-o param_stats=PATH)")


class ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays in plain containers and nothing else: :meth:`find_class` resolves
    only the names of :data:`ALLOWED` (numpy's array reconstruction), any other global -- the way
    a malicious pickle runs code -- is a :class:`WeightsError`."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise WeightsError(f"refusing to unpickle {module}.{name}: a param_mean_std file holds only numpy arrays")
        if name == "_reconstruct":
            core = getattr(np, "_core", None) or np.core  # numpy 2 keeps it in numpy._core, numpy 1 in numpy.core
            return core.multiarray._reconstruct
        return getattr(np, name)


def read_param_stats(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)``, float32 arrays of 62, from the authors' pickle through :class:`ArrayUnpickler`;
    :class:`WeightsError` (one line) for anything else."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise WeightsError(f"cannot read {p}: {exc.strerror or exc}") from None
    try:
        obj = ArrayUnpickler(io.BytesIO(data)).load()
    except WeightsError as exc:
        raise WeightsError(f"{p.name}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - truncated or not a pickle: one line
        raise WeightsError(f"{p.name} is not a readable param_mean_std pickle: {type(exc).__name__}: {str(exc)[:120]}") from None
    if not isinstance(obj, dict) or set(obj) != {"mean", "std"}:
        keys = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise WeightsError(f"{p.name}: expected a dict with 'mean' and 'std', got {keys}")
    out = []
    for key in ("mean", "std"):
        a = obj[key]
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f" or a.size != NUM_PARAMS or not np.all(np.isfinite(a)):
            what = f"{a.dtype} array of {a.size}" if isinstance(a, np.ndarray) else type(a).__name__
            raise WeightsError(f"{p.name}: '{key}' must be {NUM_PARAMS} finite floats, got {what}")
        out.append(a.reshape(NUM_PARAMS))
    if not np.all(out[1] > 0):
        raise WeightsError(f"{p.name}: 'std' has values <= 0")
    return out[0], out[1]


def arch_of(state: dict[str, torch.Tensor]) -> str:
    """``mobilenet05`` | ``mobilenet1`` | ``resnet22`` from the file's tensors."""
    if "conv_param.weight" in state:
        return "resnet22"
    stem = state.get("conv1.weight")
    if stem is not None and stem.ndim == 4 and stem.shape[0] in (16, 32):
        return "mobilenet05" if stem.shape[0] == 16 else "mobilenet1"
    raise WeightsError("not a 3DDFA_V2 MobileNet-V1 (width 0.5 or 1.0) or ResNet-22 state dict "
                       f"(conv1.weight {tuple(stem.shape) if stem is not None else 'absent'})")


def load_tddfa(path: str | os.PathLike) -> tuple[nn.Module, str]:
    """The regressor in eval mode with the weights of ``path``, and its architecture name."""
    from posebench.methods.hopenet.weights import read_state_dict

    p = Path(path)
    state = read_state_dict(p)
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    for k in [k for k in state if k.startswith("fc_param.")]:  # the authors' load_model renames these
        state[k.replace("fc_param.", "fc.")] = state.pop(k)
    try:
        arch = arch_of(state)
    except WeightsError as exc:
        raise WeightsError(f"{p.name}: {exc}") from None
    net = ARCHS[arch]().eval()
    wanted = net.state_dict()
    for key, tensor in wanted.items():
        if key not in state:
            raise WeightsError(f"{p.name} does not fit 3DDFA_V2 {arch}: no tensor {key!r}")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise WeightsError(f"{p.name} does not fit 3DDFA_V2 {arch}: {key} has shape {tuple(state[key].shape)}, "
                               f"expected {tuple(tensor.shape)}")
    net.load_state_dict({k: state[k] for k in wanted})
    return net, arch
