"""Finding and safely loading Hopenet checkpoints (their digest: :func:`posebench.fileio.file_digest`).

The official files (``hopenet_alpha1.pkl``, ``hopenet_alpha2.pkl``, ``hopenet_robust_alpha1.pkl``)
are PyTorch pickles of a plain state dict. They are read with ``torch.load(...,
weights_only=True)``, which only rebuilds tensors and containers and refuses any other object, so a
malicious pickle cannot run code. ``.safetensors`` files are read too when the ``safetensors``
package is installed.

Look-up: ``weights=PATH`` when given, else ``<weights folder>/<file>`` where the weights folder is
:func:`posebench.paths.weights_dir` (``$POSEBENCH_WEIGHTS`` or ``<data root>/weights``) and
``<file>`` is :data:`DEFAULT_FILES` for the architecture and variant.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from posebench.errors import WeightsError
from posebench.fileio import existing_file
from posebench.paths import weights_dir

OFFICIAL_SOURCE = "https://github.com/natanielruiz/deep-head-pose (README, 'Pre-trained models': Google Drive links)"

# (architecture, variant) -> file name looked for in the weights folder.
DEFAULT_FILES: dict[tuple[str, str], str] = {
    ("hopenet", "alpha1"): "hopenet_alpha1.pkl",
    ("hopenet", "alpha2"): "hopenet_alpha2.pkl",
    ("hopenet", "robust_alpha1"): "hopenet_robust_alpha1.pkl",
    # The authors published no checkpoint for these two; train your own with their
    # code/train_alexnet.py or code/train_resnet50_regression.py and place it here.
    ("hopenet-alexnet", "default"): "hopenet_alexnet.pkl",
    ("resnet50-regression", "default"): "resnet50_regression.pkl",
}
VARIANTS: dict[str, tuple[str, ...]] = {}
for _arch, _variant in DEFAULT_FILES:
    VARIANTS.setdefault(_arch, ())
    VARIANTS[_arch] += (_variant,)


def default_variant(arch: str) -> str:
    return VARIANTS[arch][0]


def resolve_weights(arch: str, weights: str | os.PathLike | None, variant: str) -> Path:
    """The checkpoint file to use; :class:`WeightsError` (one line) when it is not there."""
    if weights:
        return existing_file(weights, "weights file")
    name = DEFAULT_FILES.get((arch, variant))
    if name is None:
        raise WeightsError(f"unknown variant {variant!r} for {arch}; choose one of {', '.join(VARIANTS[arch])}")
    folder = weights_dir()
    p = folder / name
    if p.is_file():
        return p
    if arch == "hopenet":
        where = f"download the official file from {OFFICIAL_SOURCE}"
    else:
        where = (f"the authors published no {arch} checkpoint: train one with their code "
                 "(https://github.com/natanielruiz/deep-head-pose)")
    raise WeightsError(f"{arch} weights {name} not found in {folder} ($POSEBENCH_WEIGHTS); "
                       f"{where} and place it there, or give its path (--option weights=PATH)")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file (.pkl/.pth/.pt via ``weights_only`` unpickling, or .safetensors).

    posebench training checkpoints (``posebench train``'s ``best.pt``/``last.pt``) give their
    ``model`` entry.

    A ``module.`` prefix (``nn.DataParallel``) is removed. :class:`WeightsError` when the file holds
    anything but tensors in (nested) dicts, or cannot be read."""
    p = Path(path)
    if p.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise WeightsError(f"{p.name}: reading .safetensors needs the 'safetensors' package (pip install safetensors)") from None
        try:
            obj: object = load_file(str(p), device="cpu")
        except Exception as exc:
            raise WeightsError(f"cannot read {p}: {_one_line(exc)}") from None
    else:
        obj = _torch_load(p)
    if isinstance(obj, Mapping) and "posebench_checkpoint" in obj and isinstance(obj.get("model"), Mapping):
        obj = obj["model"]  # a posebench training checkpoint (best.pt, last.pt): its network weights
    elif isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{p}: not a state dict of tensors (type {type(obj).__name__})")
    state = {str(k): v for k, v in obj.items()}
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _torch_load(p: Path) -> object:
    try:
        return torch.load(str(p), map_location="cpu", weights_only=True)
    except UnicodeDecodeError:  # a Python 2 era pickle
        try:
            return torch.load(str(p), map_location="cpu", weights_only=True, encoding="latin1")
        except Exception as exc:
            raise WeightsError(f"cannot read {p}: {_one_line(exc)}") from None
    except OSError as exc:
        raise WeightsError(f"cannot read {p}: {exc.strerror or exc}") from None
    except Exception as exc:
        text = str(exc)
        if "GLOBAL" in text or "Unsupported global" in text or "Unsupported class" in text:
            what = next((ln.strip() for ln in text.splitlines() if "GLOBAL" in ln or "Unsupported" in ln), "")
            raise WeightsError(f"{p} holds Python objects other than tensors and was refused "
                               f"(only plain state dicts are loaded, weights_only=True): {what[:160]}") from None
        if "Weights only load failed" in text:
            raise WeightsError(f"cannot read {p}: not a PyTorch state dict (corrupt or another format)") from None
        raise WeightsError(f"cannot read {p}: not a PyTorch state dict ({_one_line(exc)})") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def load_into(net: nn.Module, state: Mapping[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Copy ``state`` into ``net`` requiring exactly its parameter names and shapes.

    BatchNorm ``num_batches_tracked`` counters (absent from checkpoints written by PyTorch < 0.4.1,
    such as the official ones) are not required."""
    expected = net.state_dict()
    state = dict(state)
    for key in expected:
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = expected[key]
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (first: {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (first: {unexpected[0]})")
        if wrong:
            parts.append(f"{len(wrong)} shape mismatches (first: {wrong[0]})")
        raise WeightsError(f"{Path(source).name} does not fit {type(net).__name__}: " + "; ".join(parts))
    net.load_state_dict(state, strict=True)


def check_checkpoint(path: str | os.PathLike, arch: str = "hopenet") -> dict[str, torch.Tensor]:
    """The tensors of ``path`` when they load into network ``arch`` exactly (names and shapes):
    the one check that ``posebench run``, ``posebench export`` and ``posebench data verify``
    make. :class:`WeightsError` (one line, naming the file) otherwise."""
    from . import nets

    state = read_state_dict(path)
    load_into(nets.build(arch), state, path)
    return state
