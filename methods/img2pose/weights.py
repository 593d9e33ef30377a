"""Finding and reading img2pose's published files (vitoralbiero/img2pose; CC BY-NC 4.0).

- The checkpoint (``img2pose_v1_ft_300w_lp.pth``, the 300W-LP fine-tuned model their AFLW2000 and
  BIWI notebooks load; ``img2pose_v1.pth``, the WIDER FACE model): ``model_loader.save_model``'s
  ``{'fpn_model': state_dict}`` (``'optimizer'`` beside it in full snapshots, not read), the state
  dict of the wrapped model, every key prefixed ``module.`` (``DataParallel`` / ``DistributedDataParallel``
  / their CPU ``WrappedModel``), in torchvision 0.8's names (their pin): ``backbone.fpn.inner_blocks.N.weight``,
  ``rpn.head.conv.weight``. Newer torchvision names (``inner_blocks.N.0.weight``, ``rpn.head.conv.0.0.weight``)
  and a bare state dict (py-feat's ``model.safetensors`` on the Hugging Face hub, keys without
  ``module.``) load too. Read with ``torch.load(weights_only=True)``
  (:func:`posebench.methods.hopenet.weights.read_state_dict`). Unlike a non-strict load, every
  tensor of :class:`.nets.Img2PoseNet` must be there with its shape, and nothing else may be,
  else a one-line :class:`WeightsError`.
- ``WIDER_train_pose_mean_v1.npy`` / ``WIDER_train_pose_stddev_v1.npy``: the 6 DoF statistics the
  network's outputs are de-normalised with (their Model Zoo archive beside the checkpoint);
  ``reference_3d_68_points_trans.npy``: the (68, 3) 3D reference points the boxes are projected
  from (their repository's ``pose_references/``). Read with ``np.load(allow_pickle=False)``.

Look-up: each option's path, else ``<weights folder>/img2pose/<published name>`` (the weights
folder is ``$POSEBENCH_WEIGHTS`` or ``<data root>/weights``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from posebench.errors import WeightsError
from posebench.fileio import existing_file

SUBDIR = "img2pose"
SOURCE = "https://github.com/vitoralbiero/img2pose"
#: option -> (published file name, catalogue entry)
FILES = {"weights": ("img2pose_v1_ft_300w_lp.pth", "img2pose-300wlp"),
         "pose_mean": ("WIDER_train_pose_mean_v1.npy", "img2pose-pose-mean"),
         "pose_stddev": ("WIDER_train_pose_stddev_v1.npy", "img2pose-pose-stddev"),
         "points": ("reference_3d_68_points_trans.npy", "img2pose-reference-points")}
_OLD_NAMES = [(re.compile(r"^(backbone\.fpn\.(?:inner|layer)_blocks\.\d+)\.(weight|bias)$"), r"\1.0.\2"),
              (re.compile(r"^(rpn\.head\.conv)\.(weight|bias)$"), r"\1.0.0.\2")]


def resolve(option: str, value: str | os.PathLike | None) -> Path:
    """The file of ``option`` (``weights``, ``pose_mean``, ``pose_stddev``, ``points``); a one-line
    :class:`WeightsError` naming the download when it is not there."""
    name, entry = FILES[option]
    if value:
        return existing_file(value, f"img2pose {option} file")
    from posebench.paths import weights_dir

    p = weights_dir() / SUBDIR / name
    if p.is_file():
        return p
    raise WeightsError(f"img2pose {option} file {name} not found in {p.parent}: run `posebench data download {entry}` "
                       f"(from {SOURCE}), or give its path (-o {option}=PATH)")


def torchvision_names(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors under current torchvision's module names (``module.`` removed)."""
    out = {}
    for key, v in state.items():
        k = key[len("module."):] if key.startswith("module.") else key
        for pattern, repl in _OLD_NAMES:
            k = pattern.sub(repl, k)
        out[k] = v
    return out


def read_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The network's tensors of one of the authors' files, under current torchvision's names."""
    from posebench.methods.hopenet.weights import _torch_load

    p = Path(path)
    if p.suffix == ".safetensors":
        from posebench.methods.hopenet.weights import read_state_dict

        obj: object = read_state_dict(p)
    else:
        obj = _torch_load(p)
        if isinstance(obj, Mapping) and isinstance(obj.get("fpn_model"), Mapping):
            obj = obj["fpn_model"]
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{p.name}: not an img2pose checkpoint (a dict with 'fpn_model', the authors' layout, or a state dict)")
    return torchvision_names({str(k): v for k, v in obj.items()})


def load_network(path: str | os.PathLike, **sizes: int):
    """:class:`.nets.Img2PoseNet` (``sizes``: its ``min_size``, ``max_size``, RPN counts) with the
    weights of ``path``, eval mode."""
    from .nets import Img2PoseNet

    p = Path(path)
    state = read_checkpoint(p)
    net = Img2PoseNet(**sizes)
    wanted = net.state_dict()
    for key, tensor in wanted.items():
        if key not in state:
            raise WeightsError(f"{p.name} is not an img2pose (ResNet-18 FPN) checkpoint: no tensor {key!r}")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise WeightsError(f"{p.name} does not fit img2pose (ResNet-18 FPN): {key} has shape "
                               f"{tuple(state[key].shape)}, expected {tuple(tensor.shape)}")
    extra = sorted(set(state) - set(wanted))
    if extra:
        raise WeightsError(f"{p.name} has tensors img2pose (ResNet-18 FPN) does not: {', '.join(extra[:3])}")
    net.load_state_dict({k: state[k] for k in wanted})
    return net.eval()


def read_array(path: str | os.PathLike, shape: tuple[int, ...], what: str) -> np.ndarray:
    """A finite float ``.npy`` array of ``shape`` (its own dtype kept: the authors' arithmetic
    promotes with it); :class:`WeightsError` otherwise."""
    p = Path(path)
    try:
        a = np.load(p, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001  (numpy's errors vary: one line)
        raise WeightsError(f"cannot read {p.name} as a .npy array ({type(exc).__name__}): img2pose {what}") from None
    if a.dtype.kind != "f" or a.shape != shape or not np.all(np.isfinite(a)):
        raise WeightsError(f"{p.name}: img2pose {what} must be a finite float array of shape {shape}, "
                           f"got {a.dtype} {a.shape}")
    return a


def read_statistics(mean_path: str | os.PathLike, std_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(pose_mean, pose_stddev)``, 6 each (rx, ry, rz, tx, ty, tz)."""
    mean = read_array(mean_path, (6,), "pose mean (6 DoF)")
    std = read_array(std_path, (6,), "pose standard deviation (6 DoF)")
    if not np.all(std > 0):
        raise WeightsError(f"{Path(std_path).name}: img2pose pose standard deviation has values <= 0")
    return mean, std


def read_points(path: str | os.PathLike) -> np.ndarray:
    """The (68, 3) 3D reference points."""
    return read_array(path, (68, 3), "3D reference points (68 x 3)")
