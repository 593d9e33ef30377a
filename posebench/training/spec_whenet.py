"""WHENet (``whenet``): the method's own network (:class:`posebench.methods.whenet.nets.WHENet`,
EfficientNet-B0 + 120 circular yaw bins + 66 pitch/roll bins), trained with the wrapped yaw loss on
the method's own input preprocessing. Its training code is not public: groups, BatchNorm momentum
and loss details are posebench's choices (``docs/training.md``, and :mod:`posebench.training.models`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from .bins import Bins, whenet_bins
from .loss import LossParts, multi_loss
from .models import load_state, three_groups
from .spec import Targets, TrainSpec, register

#: PyTorch BatchNorm momentum of WHENet in training: Keras' ``BatchNormalization(momentum=0.99)``
#: default (also the ``efficientnet`` package's ``batch_norm_momentum``) keeps 0.99 of the running
#: statistics per step, PyTorch's ``momentum`` is the complement.
WHENET_BN_MOMENTUM = 0.01
#: The method's input size (px): a run at another ``--input-size`` is validated at this one.
METHOD_INPUT = 224
HINT = "timm's ImageNet tf_efficientnet_b0 state dict, or WHENet.h5"


def _add_prefix(state: dict, own: dict, prefix: str) -> dict:
    """``state`` with ``prefix`` put before each key that names a tensor of ``own`` only so
    (timm's ``conv_stem.weight`` -> WHENet's ``backbone.conv_stem.weight``)."""
    return {(prefix + k if k not in own and prefix + k in own else k): v for k, v in state.items()}


class WHENetSpec(TrainSpec):
    models = ("whenet",)
    preprocess = "whenet"

    def heads(self, model: str) -> tuple[Bins, Bins, Bins]:
        return whenet_bins()

    def build(self, model: str) -> nn.Module:
        from posebench.methods.whenet.nets import WHENet

        net = WHENet()
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = WHENET_BN_MOMENTUM
        return net

    def param_groups(self, net: nn.Module, model: str, lr: float) -> list[dict[str, Any]]:
        """Hopenet's three groups on EfficientNet-B0: stem ``backbone.conv_stem`` + ``backbone.bn1``,
        the rest of the backbone, the heads ``yaw``/``pitch``/``roll``."""
        bb = net.backbone
        stem = list(bb.conv_stem.parameters()) + list(bb.bn1.parameters())
        trunk = [p for n, m in bb.named_children() if n not in ("conv_stem", "bn1") for p in m.parameters()]
        heads = [p for n in ("yaw", "pitch", "roll") for p in getattr(net, n).parameters()]
        return three_groups(net, stem, trunk, heads, lr)

    def from_scratch(self, model: str) -> str:
        return ("FROM SCRATCH: no --init given, every weight randomly initialised (the authors' code builds its "
                "backbone with the efficientnet package's default, ImageNet, weights; give --init WHENet.h5 to "
                "fine-tune, or timm's ImageNet tf_efficientnet_b0 weights)")

    def initialise(self, net: nn.Module, model: str, path: Path) -> str:
        """The authors' Keras ``WHENet.h5`` (every tensor mapped and checked: fine-tuning), a
        posebench WHENet checkpoint (strict), or timm's ImageNet ``tf_efficientnet_b0`` state dict
        (``conv_stem.weight``, ...: its tensors go to ``backbone.*``, the heads stay random)."""
        from posebench.methods.hopenet.weights import load_into, read_state_dict
        from posebench.methods.whenet.weights import KERAS_SUFFIXES, is_hdf5, keras_to_state_dict, read_keras_layers

        own = net.state_dict()
        if is_hdf5(path) or path.suffix.lower() in KERAS_SUFFIXES:
            load_into(net, keras_to_state_dict(read_keras_layers(path), net, str(path)), path)
            return f"fine-tuning from {path.name} (the authors' Keras weights): all {len(own)} tensors loaded"
        return load_state(net, model, _add_prefix(read_state_dict(path), own, "backbone."), path, HINT)

    def loss(self, model: str, output: Any, targets: Targets) -> LossParts:
        """Multi-loss with WHENet's heads: the yaw regression term wraps around the circle."""
        return multi_loss(output, targets.bins, targets.angles, targets.alpha, targets.heads)

    def notes(self, model: str, input_size: int) -> list[str]:
        if input_size == METHOD_INPUT:
            return []
        return [f"  note: the whenet method reads {METHOD_INPUT} px crops; validation and `posebench run` of this run's weights "
                f"use {METHOD_INPUT} px, not the {input_size} px trained here"]


register(WHENetSpec())
