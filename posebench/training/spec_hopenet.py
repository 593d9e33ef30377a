"""The Hopenet family: ``hopenet`` (ResNet50 + three 66-bin heads), ``hopenet-alexnet``,
``resnet50-regression`` (the paper's baseline, MSE on (N, 3) degrees) and ``tiny-hopenet`` (a few
small convolutions with Hopenet's heads, for tests only: no method reads it). The networks are the
``hopenet`` method's own (:mod:`posebench.methods.hopenet.nets`); groups and BatchNorm modes as the
authors' scripts (:mod:`posebench.training.models`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from .loss import LossParts, multi_loss, regression_loss
from .models import load_state, refuse_keras, three_groups
from .spec import Targets, TrainSpec, register

TORCHVISION_HINT = {"hopenet": "torchvision's resnet50-*.pth", "resnet50-regression": "torchvision's resnet50-*.pth",
                    "hopenet-alexnet": "torchvision's alexnet-*.pth"}


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


class HopenetSpec(TrainSpec):
    models = ("hopenet", "hopenet-alexnet", "resnet50-regression", "tiny-hopenet")
    preprocess = "hopenet"

    def build(self, model: str) -> nn.Module:
        """ResNet trunks get an adaptive average pool in place of the original fixed 7x7 one, so
        that any input size trains; at 224 px both average the same 7x7 map and the state dict
        is unchanged (pools have no parameters)."""
        if model == "tiny-hopenet":
            return TinyHopenet()
        from posebench.methods.hopenet import nets

        net = nets.ARCHS[model]()
        if hasattr(net, "avgpool"):
            net.avgpool = nn.AdaptiveAvgPool2d(1)
        return net

    def param_groups(self, net: nn.Module, model: str, lr: float) -> list[dict[str, Any]]:
        if model == "hopenet-alexnet":
            stem = list(net.features[0:3].parameters())
            trunk = list(net.features[3:].parameters()) + list(net.classifier.parameters())
        else:
            stem_mods = [net.conv1, net.bn1] + ([net.fc_finetune] if hasattr(net, "fc_finetune") else [])
            stem = [p for m in stem_mods for p in m.parameters()]
            layers = [getattr(net, f"layer{i}") for i in (1, 2, 3, 4) if hasattr(net, f"layer{i}")]
            trunk = [p for m in layers for p in m.parameters()]
        heads = [p for n in ("fc_yaw", "fc_pitch", "fc_roll", "fc_angles") if hasattr(net, n) for p in getattr(net, n).parameters()]
        return three_groups(net, stem, trunk, heads, lr)

    def from_scratch(self, model: str) -> str:
        return ("FROM SCRATCH: no --init given, every weight randomly initialised (the paper starts from ImageNet; "
                "with --bn original the in-block BatchNorms keep their initial statistics, consider --bn train)")

    def initialise(self, net: nn.Module, model: str, path: Path) -> str:
        """A torchvision ImageNet file (``resnet50-*.pth``, ``alexnet-owt-*.pth``: matching tensors
        copied, the ImageNet classifier left out, the heads random) or a checkpoint of this very
        network (an official Hopenet ``.pkl``, a posebench ``best.pt``: loaded strictly)."""
        from posebench.methods.hopenet.weights import read_state_dict

        refuse_keras(path)
        return load_state(net, model, read_state_dict(path), path, TORCHVISION_HINT.get(model, "an ImageNet file"))

    def loss(self, model: str, output: Any, targets: Targets) -> LossParts:
        """Multi-loss over the bins of binned networks, MSE on degrees for the regression baseline."""
        if model == "resnet50-regression":
            return regression_loss(output, targets.angles)
        return multi_loss(output, targets.bins, targets.angles, targets.alpha, targets.heads)

    def validation_method(self, model: str) -> str | None:
        return None if model == "tiny-hopenet" else model


register(HopenetSpec())
