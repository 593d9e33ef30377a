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

A ``tiny-hopenet`` network (a few small convolutions and the three 66-bin heads) exists for tests
and quick checks only; it is not one of the paper's networks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import torch
from torch import nn

from posebench.errors import UsageError, WeightsError

MODELS = ("hopenet", "hopenet-alexnet", "resnet50-regression", "tiny-hopenet")
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
    else:
        stem_mods = [net.conv1, net.bn1] + ([net.fc_finetune] if hasattr(net, "fc_finetune") else [])
        stem = [p for m in stem_mods for p in m.parameters()]
        layers = [getattr(net, f"layer{i}") for i in (1, 2, 3, 4) if hasattr(net, f"layer{i}")]
        trunk = [p for m in layers for p in m.parameters()]
    heads = [p for n in ("fc_yaw", "fc_pitch", "fc_roll", "fc_angles") if hasattr(net, n)
             for p in getattr(net, n).parameters()]
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


TORCHVISION_HINT = {"hopenet": "resnet50-*.pth", "resnet50-regression": "resnet50-*.pth",
                    "hopenet-alexnet": "alexnet-*.pth"}


def initialise(net: nn.Module, model: str, init: str | Path | None) -> str:
    """Load the starting weights; returns a one-line description for the log.

    ``init``: None (from scratch: PyTorch's default random init); a torchvision ImageNet file
    (``resnet50-19c8e357.pth``/``resnet50-0676ba61.pth``, ``alexnet-owt-*.pth``: every tensor whose
    name and shape match is copied, the ImageNet classifier is left out, the new heads stay random,
    as the original ``load_filtered_state_dict``); or a checkpoint of this very network (an official
    Hopenet ``.pkl``, a posebench ``best.pt``/``last.pt``): loaded strictly, for fine-tuning."""
    if not init:
        return ("FROM SCRATCH: no --init given, every weight randomly initialised (the paper starts from ImageNet; "
                "with --bn original the in-block BatchNorms keep their initial statistics, consider --bn train)")
    from posebench.methods.hopenet.weights import load_into, read_state_dict

    path = Path(init).expanduser()
    if not path.is_file():
        raise WeightsError(f"--init file not found: {path}")
    state = read_state_dict(path)
    own = net.state_dict()
    if all(k in state for k in own if not k.endswith("num_batches_tracked")):
        load_into(net, state, path)
        return f"fine-tuning from {path.name}: all {len(own)} tensors loaded"
    fits = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    if not fits:
        raise WeightsError(f"--init {path.name}: no tensor fits {model} (expected torchvision's "
                           f"{TORCHVISION_HINT.get(model, 'ImageNet')} or a {model} checkpoint)")
    merged = dict(own)
    merged.update(fits)
    net.load_state_dict(merged)
    left = sorted({k.rsplit('.', 1)[0] for k in own if k not in fits and not k.endswith("num_batches_tracked")})
    return (f"ImageNet init from {path.name}: {len(fits)} of {len(own)} tensors loaded; "
            f"left random: {', '.join(left[:6])}{' ...' if len(left) > 6 else ''}")


def trainable(groups: Iterable[dict]) -> int:
    return sum(p.numel() for g in groups if g["lr"] > 0 for p in g["params"])
