"""What the model families share: BatchNorm modes, the three optimizer groups, loading ``--init``.

The per-family parts (networks, which parameters form each group, which files ``--init`` reads)
are in the specs (:mod:`.spec`, one ``spec_<family>`` module each); :func:`build`,
:func:`param_groups` and :func:`initialise` here ask the spec of ``model``.

The Hopenet family, from the authors' training scripts (``train_hopenet.py``,
``train_resnet50_regression.py``, ``train_alexnet.py``), reproduced here:

* Adam over three parameter groups: the stem at learning rate 0 (ResNet: ``conv1``, ``bn1`` and,
  for Hopenet, the unused ``fc_finetune``; AlexNet: ``features[0:3]``, i.e. its first
  convolution), the trunk at the base rate (ResNet ``layer1``-``layer4``; AlexNet ``features[3:]``
  and ``classifier``), the heads at 5x the base rate (``fc_yaw``/``fc_pitch``/``fc_roll``;
  ``fc_angles`` for the regression baseline). Adam's defaults otherwise (betas 0.9/0.999, eps
  1e-8, no weight decay); the rate is constant (no scheduler).
* BatchNorm: while building those groups the original calls ``.eval()`` on every sub-module of
  ``layer1``-``layer4`` whose name contains ``bn`` (``0.bn1``, ``0.bn2``, ``0.bn3``, ...) and
  never calls ``.train()`` again. So the 48 in-block BatchNorms use and keep their ImageNet
  running statistics (their scale and shift are still trained), while the stem's ``bn1`` (its
  name inside itself is empty) and the four ``downsample.1`` BatchNorms stay in training mode:
  batch statistics, running statistics updated. :func:`set_train_mode` reproduces exactly this
  (``bn=original``); ``bn=train`` (all in training mode) and ``bn=frozen`` (all in eval mode) are
  options, recorded in the checkpoint.

WHENet (``whenet``: :class:`posebench.methods.whenet.nets.WHENet`, the method's own network; its
training code is not public, so the following are posebench's choices, see ``docs/training.md``):
Hopenet's three groups mapped onto EfficientNet-B0 (stem ``backbone.conv_stem`` + ``backbone.bn1``
at rate 0, the rest of the backbone at the base rate, the heads ``yaw``/``pitch``/``roll`` at 5x);
every BatchNorm in training mode under ``bn=original`` (Keras' ``fit`` default: the authors trained
in Keras) with Keras' BatchNorm momentum 0.99, i.e. PyTorch ``momentum=0.01``.

A ``tiny-hopenet`` network (a few small convolutions and the three 66-bin heads) exists for tests
and quick checks only; it is not one of the paper's networks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import torch
from torch import nn

from posebench.errors import WeightsError
from posebench.fileio import existing_file

from .batchnorm import BN_MODES, frozen_bn_names, set_train_mode  # noqa: F401 - the families' BatchNorm modes, here too


def build(model: str) -> nn.Module:
    """A fresh network of ``model`` (random init), built by its spec."""
    from .spec import spec_for

    return spec_for(model).build(model)


def param_groups(net: nn.Module, model: str, lr: float) -> list[dict[str, Any]]:
    """The original's three Adam groups of ``model``: (stem, rate 0), (trunk, ``lr``), (heads, ``5 * lr``)."""
    from .spec import spec_for

    return spec_for(model).param_groups(net, model, lr)


def three_groups(net: nn.Module, stem: list, trunk: list, heads: list, lr: float) -> list[dict[str, Any]]:
    """Adam groups (stem, rate 0), (trunk, ``lr``), (heads, ``5 * lr``); every parameter of ``net``
    must be in one (RuntimeError naming the first ones left out otherwise)."""
    groups = [{"params": stem, "lr": 0.0, "name": "stem"}, {"params": trunk, "lr": lr, "name": "trunk"},
              {"params": heads, "lr": 5.0 * lr, "name": "heads"}]
    covered = {id(p) for g in groups for p in g["params"]}
    missing = [n for n, p in net.named_parameters() if id(p) not in covered]
    if missing:  # pragma: no cover - a new architecture must say where each parameter goes
        raise RuntimeError(f"parameters in no optimizer group: {missing[:3]}")
    return groups


def initialise(net: nn.Module, model: str, init: str | Path | None) -> str:
    """Load the starting weights through the spec of ``model``; returns a one-line description
    for the log. ``init`` None: from scratch (PyTorch's default random init). Raises
    :class:`posebench.errors.WeightsError` for a file that does not fit."""
    from .spec import spec_for

    spec = spec_for(model)
    if not init:
        return spec.from_scratch(model)
    return spec.initialise(net, model, existing_file(init, "--init file"))


def load_state(net: nn.Module, model: str, state: dict[str, torch.Tensor], path: Path, hint: str) -> str:
    """Load a state dict read from ``path``: strictly when it holds every tensor of ``net`` (a
    checkpoint of this network: fine-tuning), else every tensor whose name and shape match (an
    ImageNet file, as the original ``load_filtered_state_dict``; the rest stay random).
    ``hint`` names the expected files in the error when nothing fits."""
    from posebench.methods.hopenet.weights import load_into

    own = net.state_dict()
    if all(k in state for k in own if not k.endswith("num_batches_tracked")):
        load_into(net, state, path)
        return f"fine-tuning from {path.name}: all {len(own)} tensors loaded"
    fits = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    if not fits:
        raise WeightsError(f"--init {path.name}: no tensor fits {model} (expected {hint} or a {model} checkpoint)")
    counted = [k for k in own if not k.endswith("num_batches_tracked")]
    if len([k for k in fits if not k.endswith("num_batches_tracked")]) * 2 < len(counted):
        # an ImageNet backbone is most of the network's tensors; a few that fit by chance are
        # another model's checkpoint (it used to be accepted as "ImageNet init ... 3 of 17 tensors")
        raise WeightsError(f"--init {path.name}: only {len(fits)} of {len(counted)} tensors of {model} fit: it is "
                           f"neither {hint} nor a {model} checkpoint (another model's?)")
    merged = dict(own)
    merged.update(fits)
    net.load_state_dict(merged)
    left = sorted({k.rsplit('.', 1)[0] for k in own if k not in fits and not k.endswith("num_batches_tracked")})
    return (f"ImageNet init from {path.name}: {len(fits)} of {len(own)} tensors loaded; "
            f"left random: {', '.join(left[:6])}{' ...' if len(left) > 6 else ''}")


def refuse_keras(path: Path) -> None:
    """WeightsError for an HDF5 (Keras) ``--init`` given to a model that does not read one."""
    from posebench.methods.whenet.weights import KERAS_SUFFIXES, is_hdf5

    if is_hdf5(path) or path.suffix.lower() in KERAS_SUFFIXES:
        raise WeightsError(f"--init {path.name} is an HDF5 (Keras) file: only --model whenet reads one (WHENet.h5)")


def trainable(groups: Iterable[dict]) -> int:
    return sum(p.numel() for g in groups if g["lr"] > 0 for p in g["params"])
