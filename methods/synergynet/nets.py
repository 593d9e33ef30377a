"""SynergyNet's image-to-parameter network (choyingw/SynergyNet at 9de11e2,
``backbone_nets/mobilenetv2_backbone.py``), laid out so that the authors' checkpoint loads by name.

The backbone is torchvision's MobileNetV2 ``features`` (the authors' file is a copy of
torchvision's: same blocks, same parameter names ``features.N...``, width 1.0, last channel
1280), then a global average pool and three heads ``classifier_ori`` (12: the 3x4 camera,
row-major), ``classifier_shape`` (40) and ``classifier_exp`` (10), each ``Dropout(0.2), Linear``,
concatenated in that order: (N, 62) normalised 3DMM parameters.

Input: (N, 3, 120, 120) float32, **BGR** channel order, ``(pixel - 127.5) / 128``
(:mod:`.preprocess`). The checkpoint's ``I2P.backbone.`` prefix is removed by :mod:`.weights`.
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_SIZE = 120
NUM_PARAMS = 62
HEADS = (("classifier_ori", 12), ("classifier_shape", 40), ("classifier_exp", 10))


class SynergyBackbone(nn.Module):
    """MobileNetV2 + the three 3DMM heads: (N, 3, 120, 120) -> (N, 62)."""

    def __init__(self):
        super().__init__()
        from torchvision.models import mobilenet_v2

        self.features = mobilenet_v2(weights=None).features
        last = 1280
        for name, n in HEADS:
            setattr(self, name, nn.Sequential(nn.Dropout(0.2), nn.Linear(last, n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1).reshape(x.shape[0], -1)
        return torch.cat([getattr(self, name)(x) for name, _ in HEADS], dim=1)


class DenormalisedParams(nn.Module):
    """``net(x) * std + mean``: the de-normalised 62 parameters (what ``posebench export synergynet``
    writes)."""

    def __init__(self, net: nn.Module, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).reshape(1, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) * self.std + self.mean
