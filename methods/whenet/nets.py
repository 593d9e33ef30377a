"""WHENet (Zhou & Gregson, BMVC 2020) in PyTorch, laid out so that the authors' Keras weights map
onto it layer for layer (:mod:`.weights`).

Architecture (the authors' ``whenet.py``): EfficientNet-B0 without its classifier, as built by the
``efficientnet`` Keras package 0.0.4 (TensorFlow "same" padding, BatchNorm epsilon 1e-3, swish,
squeeze-and-excitation), a global average pool and three dense heads without activation:
``yaw_new`` 1280 -> 120 bins, ``pitch_new`` and ``roll_new`` 1280 -> 66 bins, 3 degrees each.
timm's ``tf_efficientnet_b0`` is the same graph (its ``Conv2dSame`` pads as TensorFlow does and its
BatchNorm uses epsilon 1e-3); it is built with ``pretrained=False`` (nothing is downloaded).

Decoding (the authors' ``WHENet.get_angle``): per head the softmax expectation of the bin index
``i``; yaw = 3 E[i] - 180, pitch = 3 E[i] - 99, roll = 3 E[i] - 99 degrees. As in Hopenet, this maps
the expectation onto the bins' *left* edges (bin ``i`` covers [3i - 180, 3i - 177) for yaw), so a
face whose probability sits entirely in one bin is reported 1.5 degrees below that bin's centre;
posebench keeps this exactly, since it is how the network was trained and published.

Angles are (yaw, pitch, roll) degrees in the AFLW2000-3D / 300W-LP convention (posebench's
canonical one; the network was trained on 300W-LP labels, and the sign check on AFLW2000 is in
``docs/whenet.md``): no conversion is applied.
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_SIZE = 224
BIN_WIDTH = 3.0  # degrees
YAW_BINS, YAW_MIN = 120, -180.0  # left edge of yaw bin 0
PR_BINS, PR_MIN = 66, -99.0  # pitch/roll
FEATURES = 1280


def backbone() -> nn.Module:
    """timm's ``tf_efficientnet_b0`` without classifier or pool (random weights, no download)."""
    import timm

    return timm.create_model("tf_efficientnet_b0", pretrained=False, num_classes=0, global_pool="")


class WHENet(nn.Module):
    """EfficientNet-B0 + global average pool + three heads; ``forward`` returns the (yaw, pitch,
    roll) logits, shapes (N, 120), (N, 66), (N, 66)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = backbone()
        self.yaw = nn.Linear(FEATURES, YAW_BINS)
        self.pitch = nn.Linear(FEATURES, PR_BINS)
        self.roll = nn.Linear(FEATURES, PR_BINS)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.forward_features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f = self.features(x)
        return self.yaw(f), self.pitch(f), self.roll(f)


def bin_expectation(logits: torch.Tensor, angle_min: float) -> torch.Tensor:
    """Degrees from (N, B) logits: ``3 * sum(softmax * bin index) + angle_min``."""
    idx = torch.arange(logits.shape[1], dtype=logits.dtype, device=logits.device)
    return (torch.softmax(logits, dim=1) * idx).sum(dim=1) * BIN_WIDTH + angle_min


class WHENetAngles(nn.Module):
    """Wraps :class:`WHENet` so that ``forward`` returns (N, 3) degrees (yaw, pitch, roll).

    ``binned = False`` tells posebench's engines (shared with Hopenet) that the output is already
    in degrees."""

    binned = False

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        yaw, pitch, roll = self.net(x)
        return torch.stack([bin_expectation(yaw, YAW_MIN), bin_expectation(pitch, PR_MIN),
                            bin_expectation(roll, PR_MIN)], dim=1)


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """Fold each eval-mode BatchNorm of timm's EfficientNet into the convolution before it
    (``conv_stem``/``bn1``, ``conv_head``/``bn2`` and, in every block, the convolution that each
    ``bnK`` follows); the BatchNorm's activation is kept. Changes only float32 rounding.
    Returns a new module; ``net`` is not modified."""
    import copy

    from timm.layers import BatchNormAct2d
    from torch.nn.utils.fusion import fuse_conv_bn_weights

    net = copy.deepcopy(net).eval()
    pairs = {"conv_stem": "bn1", "conv_head": "bn2"}
    block_pairs = {  # timm DepthwiseSeparableConv / InvertedResidual: conv -> the BN after it
        "DepthwiseSeparableConv": {"conv_dw": "bn1", "conv_pw": "bn2"},
        "InvertedResidual": {"conv_pw": "bn1", "conv_dw": "bn2", "conv_pwl": "bn3"},
    }
    for parent in net.modules():
        table = block_pairs.get(type(parent).__name__) or (pairs if hasattr(parent, "conv_stem") else None)
        if not table:
            continue
        for conv_name, bn_name in table.items():
            conv, bn = getattr(parent, conv_name), getattr(parent, bn_name)
            if not isinstance(bn, BatchNormAct2d):
                raise TypeError(f"{type(parent).__name__}.{bn_name} is {type(bn).__name__}, expected BatchNormAct2d")
            w, b = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps,
                                        bn.weight, bn.bias)
            conv.weight, conv.bias = w, b
            setattr(parent, bn_name, nn.Sequential(bn.drop, bn.act))
    return net
