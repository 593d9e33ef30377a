"""Networks to train, their initialisation, the original optimizer groups and BatchNorm modes.

Facts from the authors' training scripts (``train_hopenet.py``, ``train_resnet50_regression.py``,
``train_alexnet.py``), reproduced here:

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
from typing import Iterable

import torch
from torch import nn

from posebench.errors import UsageError, WeightsError
from posebench.fileio import existing_file

MODELS = ("hopenet", "hopenet-alexnet", "resnet50-regression", "whenet", "tiny-hopenet")
#: PyTorch BatchNorm momentum of WHENet in training: Keras' ``BatchNormalization(momentum=0.99)``
#: default (also the ``efficientnet`` package's ``batch_norm_momentum``) keeps 0.99 of the running
#: statistics per step, PyTorch's ``momentum`` is the complement.
WHENET_BN_MOMENTUM = 0.01
BN_MODES = ("original", "train", "frozen")


class TinyHopenet(nn.Module):
    """Test-size stand-in with Hopenet's interface: (yaw, pitch, roll) logits over 66 bins."""

    binned = True

    def __init__(self, num_bins: int = 66) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.layer1 = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.2)  # draws from torch's generator, as AlexNet's: resume must restore it
        self.fc_yaw = nn.Linear(16, num_bins)
        self.fc_pitch = nn.Linear(16, num_bins)
        self.fc_roll = nn.Linear(16, num_bins)

    def forward(self, x):
        f = self.drop(torch.flatten(self.pool(torch.relu(self.layer1(torch.relu(self.bn1(self.conv1(x)))))), 1))
        return self.fc_yaw(f), self.fc_pitch(f), self.fc_roll(f)


def build(model: str) -> nn.Module:
    """A fresh network (random init). ResNet trunks get an adaptive average pool in place of the
    original fixed 7x7 one, so that any input size trains; at 224 px both average the same 7x7
    map and the state dict is unchanged (pools have no parameters)."""
    if model not in MODELS:
        raise UsageError(f"--model must be one of {', '.join(MODELS)}, got {model!r}")
    if model == "tiny-hopenet":
        return TinyHopenet()
    if model == "whenet":
        from posebench.methods.whenet.nets import WHENet

        net = WHENet()
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = WHENET_BN_MOMENTUM
        return net
    from posebench.methods.hopenet import nets

    net = nets.ARCHS[model]()
    if hasattr(net, "avgpool"):
        net.avgpool = nn.AdaptiveAvgPool2d(1)
    return net


def param_groups(net: nn.Module, model: str, lr: float) -> list[dict]:
    """The original's three Adam groups: (stem, rate 0), (trunk, ``lr``), (heads, ``5 * lr``)."""
    if model == "hopenet-alexnet":
        stem = list(net.features[0:3].parameters())
        trunk = list(net.features[3:].parameters()) + list(net.classifier.parameters())
    elif model == "whenet":
        bb = net.backbone
        stem = list(bb.conv_stem.parameters()) + list(bb.bn1.parameters())
        trunk = [p for n, m in bb.named_children() if n not in ("conv_stem", "bn1") for p in m.parameters()]
    else:
        stem_mods = [net.conv1, net.bn1] + ([net.fc_finetune] if hasattr(net, "fc_finetune") else [])
        stem = [p for m in stem_mods for p in m.parameters()]
        layers = [getattr(net, f"layer{i}") for i in (1, 2, 3, 4) if hasattr(net, f"layer{i}")]
        trunk = [p for m in layers for p in m.parameters()]
    head_names = ("yaw", "pitch", "roll") if model == "whenet" else ("fc_yaw", "fc_pitch", "fc_roll", "fc_angles")
    heads = [p for n in head_names if hasattr(net, n) for p in getattr(net, n).parameters()]
    groups = [{"params": stem, "lr": 0.0, "name": "stem"}, {"params": trunk, "lr": lr, "name": "trunk"},
              {"params": heads, "lr": 5.0 * lr, "name": "heads"}]
    covered = {id(p) for g in groups for p in g["params"]}
    missing = [n for n, p in net.named_parameters() if id(p) not in covered]
    if missing:  # pragma: no cover - a new architecture must say where each parameter goes
        raise RuntimeError(f"parameters in no optimizer group: {missing[:3]}")
    return groups


def frozen_bn_names(net: nn.Module) -> list[str]:
    """Names of the BatchNorms the original put in eval mode (inside ``layer1``-``layer4``, with
    ``bn`` in their name relative to the layer)."""
    out = []
    for i in (1, 2, 3, 4):
        layer = getattr(net, f"layer{i}", None)
        if layer is None:
            continue
        for name, m in layer.named_modules():
            if "bn" in name and isinstance(m, nn.modules.batchnorm._BatchNorm):
                out.append(f"layer{i}.{name}")
    return out


def set_train_mode(net: nn.Module, bn: str = "original") -> None:
    """Training mode with the BatchNorm handling ``bn`` (see the module docstring)."""
    if bn not in BN_MODES:
        raise UsageError(f"--bn must be one of {', '.join(BN_MODES)}, got {bn!r}")
    net.train()
    if bn == "train":
        return
    modules = dict(net.named_modules())
    names = frozen_bn_names(net) if bn == "original" else [
        n for n, m in modules.items() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for n in names:
        modules[n].eval()


TORCHVISION_HINT = {"hopenet": "torchvision's resnet50-*.pth", "resnet50-regression": "torchvision's resnet50-*.pth",
                    "hopenet-alexnet": "torchvision's alexnet-*.pth",
                    "whenet": "timm's ImageNet tf_efficientnet_b0 state dict, or WHENet.h5"}


def _add_prefix(state: dict, own: dict, prefix: str) -> dict:
    """``state`` with ``prefix`` put before each key that names a tensor of ``own`` only so
    (timm's ``conv_stem.weight`` -> WHENet's ``backbone.conv_stem.weight``)."""
    return {(prefix + k if k not in own and prefix + k in own else k): v for k, v in state.items()}


def initialise(net: nn.Module, model: str, init: str | Path | None) -> str:
    """Load the starting weights; returns a one-line description for the log.

    ``init``: None (from scratch: PyTorch's default random init); a torchvision ImageNet file
    (``resnet50-19c8e357.pth``/``resnet50-0676ba61.pth``, ``alexnet-owt-*.pth``: every tensor whose
    name and shape match is copied, the ImageNet classifier is left out, the new heads stay random,
    as the original ``load_filtered_state_dict``); or a checkpoint of this very network (an official
    Hopenet ``.pkl``, a posebench ``best.pt``/``last.pt``): loaded strictly, for fine-tuning.

    WHENet also takes the authors' Keras ``WHENet.h5`` (read by
    :func:`posebench.methods.whenet.weights.keras_to_state_dict`, every tensor mapped and
    checked: fine-tuning), and an ImageNet ``tf_efficientnet_b0`` state dict as timm names it
    (``conv_stem.weight``, ``blocks.0.0...``; ``.pth``/``.bin``/``.safetensors``): its tensors go
    to ``backbone.*``, timm's ``classifier`` is left out, the three heads stay random."""
    if not init:
        if model == "whenet":
            return ("FROM SCRATCH: no --init given, every weight randomly initialised (the authors' code builds its "
                    "backbone with the efficientnet package's default, ImageNet, weights; give --init WHENet.h5 to "
                    "fine-tune, or timm's ImageNet tf_efficientnet_b0 weights)")
        return ("FROM SCRATCH: no --init given, every weight randomly initialised (the paper starts from ImageNet; "
                "with --bn original the in-block BatchNorms keep their initial statistics, consider --bn train)")
    from posebench.methods.hopenet.weights import load_into, read_state_dict

    path = existing_file(init, "--init file")
    own = net.state_dict()
    from posebench.methods.whenet.weights import KERAS_SUFFIXES, is_hdf5

    if is_hdf5(path) or path.suffix.lower() in KERAS_SUFFIXES:
        if model != "whenet":
            raise WeightsError(f"--init {path.name} is an HDF5 (Keras) file: only --model whenet reads one (WHENet.h5)")
        from posebench.methods.whenet.weights import keras_to_state_dict, read_keras_layers

        load_into(net, keras_to_state_dict(read_keras_layers(path), net, str(path)), path)
        return f"fine-tuning from {path.name} (the authors' Keras weights): all {len(own)} tensors loaded"
    state = read_state_dict(path)
    if model == "whenet":
        state = _add_prefix(state, own, "backbone.")
    if all(k in state for k in own if not k.endswith("num_batches_tracked")):
        load_into(net, state, path)
        return f"fine-tuning from {path.name}: all {len(own)} tensors loaded"
    fits = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    if not fits:
        raise WeightsError(f"--init {path.name}: no tensor fits {model} (expected "
                           f"{TORCHVISION_HINT.get(model, 'an ImageNet file')} or a {model} checkpoint)")
    merged = dict(own)
    merged.update(fits)
    net.load_state_dict(merged)
    left = sorted({k.rsplit('.', 1)[0] for k in own if k not in fits and not k.endswith("num_batches_tracked")})
    return (f"ImageNet init from {path.name}: {len(fits)} of {len(own)} tensors loaded; "
            f"left random: {', '.join(left[:6])}{' ...' if len(left) > 6 else ''}")


def trainable(groups: Iterable[dict]) -> int:
    return sum(p.numel() for g in groups if g["lr"] > 0 for p in g["params"])
