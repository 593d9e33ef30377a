"""Finding and reading 6DRepNet's published checkpoints, and seeded stand-ins in their layout.

Layouts the authors' files have (their ``test.py``/``demo.py`` read both): a plain state dict
(``6DRepNet_300W_LP_AFLW2000.pth`` that ``regressor.py`` downloads; the 6DRepNet360 files), or a
training snapshot ``{'epoch', 'model_state_dict', 'optimizer_state_dict'}`` (``train.py``; the
weights under ``model_state_dict``). A ``module.`` prefix on every key (``nn.DataParallel``) is
removed. Read with ``torch.load(weights_only=True)`` (only tensors and plain containers), on the CPU.

The form is read off the keys: ``rbr_reparam`` -> 6DRepNet deploy form, ``rbr_dense`` -> 6DRepNet
training form (re-parameterised after loading, as the authors' ``convert.py``: the same function,
faster), ``conv1.weight`` + ``layer4`` Bottlenecks -> 6DRepNet360 (ResNet-50). Every tensor of
the network must be in the file with its shape, else a one-line :class:`WeightsError` (the
authors' strict ``load_state_dict``).

Look-up: ``weights=PATH``, else ``<weights folder>/6drepnet/<published file name>`` (the weights
folder is ``$POSEBENCH_WEIGHTS`` or ``<data root>/weights``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from posebench.errors import WeightsError
from posebench.fileio import existing_file

from . import WEIGHT_FILES

SUBDIR = "6drepnet"
#: The published file each registered name reads by default, and where it is published.
FILES = WEIGHT_FILES
CATALOGUE = {"6drepnet": "6drepnet-300wlp", "6drepnet360": "6drepnet360-full-rotation"}
SOURCES = {"6drepnet": "https://github.com/thohemp/6DRepNet", "6drepnet360": "https://github.com/thohemp/6DRepNet360"}


def resolve_weights(name: str, weights: str | os.PathLike | None) -> Path:
    """The checkpoint of method ``name``; :class:`WeightsError` (one line) when it is not there."""
    if weights:
        return existing_file(weights, f"{name} weights file")
    from posebench.paths import weights_dir

    p = weights_dir() / SUBDIR / FILES[name]
    if p.is_file():
        return p
    raise WeightsError(f"{name} weights {FILES[name]} not found in {p.parent}: run `posebench data download {CATALOGUE[name]}` "
                       f"(from {SOURCES[name]}), or give its path (-o weights=PATH)")


def read_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The network's tensors of one of the authors' files (see the module docstring)."""
    from posebench.methods.hopenet.weights import _torch_load

    p = Path(path)
    obj = _torch_load(p)
    if isinstance(obj, Mapping) and isinstance(obj.get("model_state_dict"), Mapping):
        obj = obj["model_state_dict"]
    elif isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{p.name}: not a 6DRepNet checkpoint (a state dict, or a snapshot with 'model_state_dict')")
    state = {str(k): v for k, v in obj.items()}
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def form_of(state: Mapping[str, torch.Tensor]) -> str:
    """``deploy`` | ``train`` (6DRepNet, RepVGG-B1g2) | ``resnet50`` (6DRepNet360) from the keys."""
    if "layer0.rbr_reparam.weight" in state:
        return "deploy"
    if "layer0.rbr_dense.conv.weight" in state:
        return "train"
    if "conv1.weight" in state and "layer4.2.conv3.weight" in state:
        return "resnet50"
    raise WeightsError("not a 6DRepNet (RepVGG-B1g2, training or deploy form) or 6DRepNet360 (ResNet-50) state dict")


def build(form: str) -> nn.Module:
    """The network of one form, random weights, eval mode."""
    from .nets import SixDRepNet, SixDRepNet360

    return (SixDRepNet360() if form == "resnet50" else SixDRepNet(deploy=form == "deploy")).eval()


def load_network(path: str | os.PathLike) -> tuple[nn.Module, str]:
    """The network of ``path`` in eval mode (a training-form file re-parameterised) and the file's form."""
    from .nets import reparameterise

    p = Path(path)
    state = read_checkpoint(p)
    try:
        form = form_of(state)
    except WeightsError as exc:
        raise WeightsError(f"{p.name}: {exc}") from None
    net = build(form)
    wanted = net.state_dict()
    for key, tensor in wanted.items():
        if key not in state:
            raise WeightsError(f"{p.name} does not fit 6DRepNet ({form} form): no tensor {key!r}")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise WeightsError(f"{p.name} does not fit 6DRepNet ({form} form): {key} has shape "
                               f"{tuple(state[key].shape)}, expected {tuple(tensor.shape)}")
    extra = sorted(set(state) - set(wanted))
    if extra:
        raise WeightsError(f"{p.name} has tensors 6DRepNet ({form} form) does not: {', '.join(extra[:3])}")
    net.load_state_dict({k: state[k] for k in wanted})
    return (reparameterise(net) if form == "train" else net).eval(), form


def seeded_state_dict(shapes: list[tuple[str, tuple[int, ...]]], seed: int) -> dict[str, torch.Tensor]:
    """A reproducible random state dict over ``(key, shape)`` pairs in the given order, for tests
    and the reference script (which repeats this rule over the authors' model's keys; its
    predictions mean nothing). numpy's PCG64 ``default_rng(seed)``, drawn key by key: 4-D conv
    weights He-normal (std sqrt(2 / fan_in)); 2-D weights normal(0, sqrt(1 / fan_in));
    ``running_var`` uniform [0.5, 1.5); ``running_mean`` and every bias normal(0, 0.1); other 1-D
    weights (BN scales) uniform [0.4, 0.6); ``num_batches_tracked`` 0. float32."""
    rng = np.random.default_rng(seed)
    out: dict[str, torch.Tensor] = {}
    for key, shape in shapes:
        shape = tuple(int(s) for s in shape)
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(0, dtype=torch.int64)
            continue
        if key.endswith("running_var"):
            a = rng.uniform(0.5, 1.5, shape)
        elif key.endswith("running_mean") or key.endswith("bias"):
            a = rng.normal(0.0, 0.1, shape)
        elif len(shape) == 4:
            a = rng.normal(0.0, np.sqrt(2.0 / (shape[1] * shape[2] * shape[3])), shape)
        elif len(shape) == 2:
            a = rng.normal(0.0, np.sqrt(1.0 / shape[1]), shape)
        else:
            a = rng.uniform(0.4, 0.6, shape)
        out[key] = torch.from_numpy(a.astype(np.float32))
    return out


def seeded_for(form: str, seed: int) -> dict[str, torch.Tensor]:
    """:func:`seeded_state_dict` over the keys of the network of ``form`` (the authors' key order)."""
    return seeded_state_dict([(k, tuple(v.shape)) for k, v in build(form).state_dict().items()], seed)


def state_digest(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over the keys, shapes and float32/int64 bytes of a state dict, in key order."""
    h = hashlib.sha256()
    for k, v in state.items():
        h.update(f"{k}{tuple(v.shape)}".encode())
        h.update(np.ascontiguousarray(v.detach().cpu().numpy()).tobytes())
    return h.hexdigest()
