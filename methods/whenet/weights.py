"""Finding WHENet's released weights and loading them, with h5py, into :class:`.nets.WHENet`.

The file (``WHENet.h5`` in Ascend-Research/HeadPoseEstimation-WHENet, 18,016,256 bytes) is a Keras
2.1.6 *weights-only* HDF5 file: a root attribute ``layer_names`` lists the model's layers in order,
and each layer's group lists its ``weight_names`` (no model config). 133 layers hold weights:
49 ``conv2d_K`` (kernel ``(kh, kw, in, out)``, plus a bias in the squeeze-and-excitation layers),
16 ``depthwise_conv2d_K`` (``(kh, kw, C, 1)``), 65 ``batch_normalization_K`` (gamma, beta,
moving mean, moving variance) and the dense heads ``yaw_new``, ``pitch_new``, ``roll_new``
(kernel ``(1280, bins)``, bias).

Mapping: timm's modules are walked in forward order (``conv_stem``, ``bn1``, each block's
convolutions and BatchNorms, ``conv_head``, ``bn2``) and paired with the Keras layers of the same
kind in the file's order, which for every kind is also the order of the ``_K`` suffixes (checked);
every tensor's shape is checked after transposing to PyTorch's layout. Any difference (missing or
extra layer, other kind, other shape) is a one-line :class:`WeightsError` naming the file and the
first difference.

A PyTorch state dict of this network (a ``posebench train --model whenet`` checkpoint, ``best.pt``)
loads too (:func:`load_whenet`); the file's SHA-256 is in the cache key either way.

Look-up: ``weights=PATH`` when given, else ``<weights folder>/whenet/WHENet.h5`` (the weights
folder is ``$POSEBENCH_WEIGHTS`` or ``<data root>/weights``), where ``posebench data download
whenet`` puts it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from posebench.errors import WeightsError
from posebench.fileio import existing_file

FILENAME = "WHENet.h5"
SUBDIR = "whenet"
SOURCE = "https://github.com/Ascend-Research/HeadPoseEstimation-WHENet"
HEADS = ("yaw_new", "pitch_new", "roll_new")  # Keras layer names -> WHENet.yaw/.pitch/.roll


def default_path() -> Path:
    from posebench.paths import weights_dir

    return weights_dir() / SUBDIR / FILENAME


def resolve_weights(weights: str | os.PathLike | None) -> Path:
    """The weights file to use; :class:`WeightsError` (one line) when it is not there."""
    if weights:
        return existing_file(weights, "WHENet weights file")
    p = default_path()
    if p.is_file():
        return p
    raise WeightsError(f"WHENet weights {FILENAME} not found in {p.parent}: run `posebench data download whenet` "
                       f"(from {SOURCE}), or give its path (-o weights=PATH)")


def _text(v) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def read_keras_layers(path: str | os.PathLike) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The weighted layers of a Keras weights-only HDF5 file, in the file's order:
    ``[(layer name, {weight kind: array})]`` with kinds such as ``kernel``, ``bias``,
    ``depthwise_kernel``, ``gamma``, ``beta``, ``moving_mean``, ``moving_variance``."""
    import h5py

    p = Path(path)
    try:
        fh = h5py.File(p, "r")
    except OSError as exc:
        raise WeightsError(f"{p} is not a readable HDF5 file (truncated or another format?): "
                           f"{str(exc).splitlines()[0][:160]}") from None
    out = []
    try:
        with fh:
            root = fh["model_weights"] if "model_weights" in fh else fh  # a full-model file keeps weights there
            if "layer_names" not in root.attrs:
                raise WeightsError(f"{p} is HDF5 but not a Keras weights file (no 'layer_names' attribute)")
            for name in (_text(n) for n in root.attrs["layer_names"]):
                group = root[name]
                weights = {}
                for wname in (_text(w) for w in group.attrs.get("weight_names", [])):
                    kind = wname.rsplit("/", 1)[-1].split(":")[0]
                    weights[kind] = np.asarray(group[wname], dtype=np.float32)
                if weights:
                    out.append((name, weights))
    except WeightsError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{p}: cannot read its layers (truncated or damaged file?): "
                           f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}") from None
    return out


def _kind(name: str, weights: dict[str, np.ndarray]) -> str:
    if "depthwise_kernel" in weights:
        return "depthwise"
    if "gamma" in weights or "moving_mean" in weights:
        return "batchnorm"
    if "kernel" in weights and weights["kernel"].ndim == 4:
        return "conv"
    if "kernel" in weights and weights["kernel"].ndim == 2:
        return "dense"
    return "other"


def torch_layers(net: nn.Module) -> list[tuple[str, str, nn.Module]]:
    """``(qualified name, kind, module)`` of WHENet's weighted layers in forward order."""
    out = []
    for name, m in net.backbone.named_modules():
        if isinstance(m, nn.Conv2d):
            kind = "depthwise" if m.groups > 1 and m.groups == m.in_channels else "conv"
            out.append((f"backbone.{name}", kind, m))
        elif isinstance(m, nn.BatchNorm2d):
            out.append((f"backbone.{name}", "batchnorm", m))
    return out


def _suffix(name: str) -> int:
    m = re.search(r"_(\d+)$", name)
    return int(m.group(1)) if m else 0


def keras_to_state_dict(layers: list[tuple[str, dict[str, np.ndarray]]], net: nn.Module, source: str) -> dict[str, torch.Tensor]:
    """Map the Keras layers onto ``net`` (a :class:`.nets.WHENet`); every name/order/shape is
    checked, :class:`WeightsError` naming ``source`` and the first difference otherwise."""
    name = Path(source).name
    by_name = dict(layers)
    missing_heads = [h for h in HEADS if h not in by_name]
    if missing_heads:
        raise WeightsError(f"{name} is not WHENet's weights file: no layer {missing_heads[0]!r} "
                           f"(found {len(layers)} weighted layers, last {layers[-1][0] if layers else 'none'!r})")
    trunk = [(n, w) for n, w in layers if n not in HEADS]
    wanted = torch_layers(net)
    if len(trunk) != len(wanted):
        raise WeightsError(f"{name} does not fit WHENet (EfficientNet-B0): {len(trunk)} weighted backbone layers, "
                           f"expected {len(wanted)}")
    for kind in ("conv", "depthwise", "batchnorm"):  # file order == creation order (_K) within each kind
        order = [_suffix(n) for n, w in trunk if _kind(n, w) == kind]
        if order != sorted(order):
            raise WeightsError(f"{name}: {kind} layers are not in creation order; not a file written by WHENet's model")
    state: dict[str, torch.Tensor] = {}

    def put(key: str, arr: np.ndarray, expected: torch.Tensor, layer: str) -> None:
        if tuple(arr.shape) != tuple(expected.shape):
            raise WeightsError(f"{name} does not fit WHENet: layer {layer} gives {key} shape {tuple(arr.shape)}, "
                               f"expected {tuple(expected.shape)}")
        state[key] = torch.from_numpy(np.ascontiguousarray(arr))

    for (kname, w), (tname, tkind, module) in zip(trunk, wanted):
        kkind = _kind(kname, w)
        if kkind != tkind:
            raise WeightsError(f"{name} does not fit WHENet: layer {kname} is a {kkind} layer where {tname} "
                               f"expects a {tkind} layer")
        if tkind == "conv":
            put(f"{tname}.weight", w["kernel"].transpose(3, 2, 0, 1), module.weight, kname)
            if module.bias is not None or "bias" in w:
                if module.bias is None or "bias" not in w:
                    raise WeightsError(f"{name} does not fit WHENet: layer {kname} "
                                       f"{'has' if 'bias' in w else 'lacks'} a bias, {tname} does not agree")
                put(f"{tname}.bias", w["bias"], module.bias, kname)
        elif tkind == "depthwise":
            put(f"{tname}.weight", w["depthwise_kernel"].transpose(2, 3, 0, 1), module.weight, kname)
        else:
            for kk, tk in (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"),
                           ("moving_variance", "running_var")):
                if kk not in w:
                    raise WeightsError(f"{name} does not fit WHENet: batch-norm layer {kname} has no {kk}")
                put(f"{tname}.{tk}", w[kk], getattr(module, tk), kname)
    for kname, attr in zip(HEADS, ("yaw", "pitch", "roll")):
        w, lin = by_name[kname], getattr(net, attr)
        if "kernel" not in w or "bias" not in w:
            raise WeightsError(f"{name} does not fit WHENet: dense layer {kname} lacks a kernel or bias")
        put(f"{attr}.weight", w["kernel"].T, lin.weight, kname)
        put(f"{attr}.bias", w["bias"], lin.bias, kname)
    expected = {k for k in net.state_dict() if not k.endswith("num_batches_tracked")}
    left = sorted(expected - set(state))
    if left:  # pragma: no cover - the walk above covers every parameter of WHENet
        raise WeightsError(f"{name}: no value for {len(left)} WHENet tensors (first: {left[0]})")
    return state


HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")  # read as Keras weights even when damaged (a clear HDF5 error)


def is_hdf5(path: str | os.PathLike) -> bool:
    """True when ``path`` starts with the HDF5 signature (a Keras weights file)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == HDF5_MAGIC
    except OSError as exc:
        raise WeightsError(f"cannot read {path}: {exc.strerror or exc}") from None


def load_whenet(path: str | os.PathLike) -> nn.Module:
    """A :class:`.nets.WHENet` in eval mode with the weights of ``path``: the authors' Keras file
    (HDF5, or a name ending ``.h5``; mapped by :func:`keras_to_state_dict`), or a PyTorch state dict of this network, such
    as a ``posebench train --model whenet`` checkpoint (``best.pt``, ``latest.pt``, ``last.pt``:
    its ``model`` entry, read with ``weights_only=True``), loaded strictly (every name and shape)."""
    from .nets import WHENet

    net = WHENet().eval()
    if not (is_hdf5(path) or Path(path).suffix.lower() in KERAS_SUFFIXES):
        from posebench.methods.hopenet.weights import load_into, read_state_dict

        try:
            load_into(net, read_state_dict(path), path)
        except WeightsError as exc:
            raise WeightsError(f"{exc} (WHENet reads the authors' WHENet.h5 or a checkpoint of "
                               "`posebench train --model whenet`)") from None
        return net
    state = keras_to_state_dict(read_keras_layers(path), net, str(path))
    missing, unexpected = net.load_state_dict(state, strict=False)
    bad = [k for k in missing if not k.endswith("num_batches_tracked")] + list(unexpected)
    if bad:  # pragma: no cover - guarded by keras_to_state_dict
        raise WeightsError(f"{Path(path).name}: state dict mismatch ({bad[0]})")
    return net
