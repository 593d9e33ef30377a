"""3DDFA_V2's regressors (Guo et al., "Towards Fast, Accurate and Stable 3D Dense Face Alignment",
ECCV 2020), laid out as in the authors' repository (cleardusk/3DDFA_V2 at commit 1b6c676) so that
their released state dicts load by name, unchanged.

* :class:`MobileNet`: ``models/mobilenet_v1.py`` (MobileNet-V1, width ``widen_factor`` 0.5 for
  ``mb05_120x120.pth`` or 1.0 for ``mb1_120x120.pth``): ``conv1``/``bn1``/ReLU, thirteen
  depthwise-separable blocks ``dw2_1`` ... ``dw6`` (3x3 depthwise conv, BatchNorm, ReLU, 1x1 conv,
  BatchNorm, ReLU), global average pool, ``fc`` -> 62 values. Channel counts are
  ``int(c * widen_factor)`` as in the authors' ``DepthWiseBlock``.
* :class:`ResNet22`: ``models/resnet.py`` ``resnet22`` (BasicBlocks ``[3, 4, 3]``, 5x5 stem, a 1x1
  ``conv_param`` -> 62 channels, then the average pool).

Input: (N, 3, 120, 120) float32, **BGR** channel order, ``(pixel - 127.5) / 128``
(:mod:`.preprocess`). Output: (N, 62) normalised 3DMM parameters (12 pose = a 3x4 affine camera
row-major, 40 shape, 10 expression); de-normalised by ``p * std + mean`` (:mod:`.weights`).
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_SIZE = 120
NUM_PARAMS = 62


class DepthWiseBlock(nn.Module):
    """The authors' ``DepthWiseBlock`` (ReLU variant; the released models use no PReLU)."""

    def __init__(self, inplanes: float, planes: float, stride: int = 1):
        super().__init__()
        inplanes, planes = int(inplanes), int(planes)
        self.conv_dw = nn.Conv2d(inplanes, inplanes, kernel_size=3, padding=1, stride=stride, groups=inplanes, bias=False)
        self.bn_dw = nn.BatchNorm2d(inplanes)
        self.conv_sep = nn.Conv2d(inplanes, planes, kernel_size=1, stride=1, padding=0, bias=False)
        self.bn_sep = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn_dw(self.conv_dw(x)))
        return self.relu(self.bn_sep(self.conv_sep(x)))


#: (name, input channels, output channels, stride) of the blocks, before ``widen_factor``.
BLOCKS = (("dw2_1", 32, 64, 1), ("dw2_2", 64, 128, 2), ("dw3_1", 128, 128, 1), ("dw3_2", 128, 256, 2),
          ("dw4_1", 256, 256, 1), ("dw4_2", 256, 512, 2), ("dw5_1", 512, 512, 1), ("dw5_2", 512, 512, 1),
          ("dw5_3", 512, 512, 1), ("dw5_4", 512, 512, 1), ("dw5_5", 512, 512, 1), ("dw5_6", 512, 1024, 2),
          ("dw6", 1024, 1024, 1))


class MobileNet(nn.Module):
    """MobileNet-V1 of ``models/mobilenet_v1.py``: (N, 3, 120, 120) -> (N, 62)."""

    def __init__(self, widen_factor: float = 1.0, num_classes: int = NUM_PARAMS):
        super().__init__()
        self.widen_factor = widen_factor
        self.conv1 = nn.Conv2d(3, int(32 * widen_factor), kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(int(32 * widen_factor))
        self.relu = nn.ReLU(inplace=True)
        for name, cin, cout, stride in BLOCKS:
            setattr(self, name, DepthWiseBlock(cin * widen_factor, cout * widen_factor, stride))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(int(1024 * widen_factor), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        for name, *_ in BLOCKS:
            x = getattr(self, name)(x)
        return self.fc(self.avgpool(x).flatten(1))


class BasicBlock(nn.Module):
    """ResNet basic block of ``models/resnet.py``."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + residual)


class ResNet22(nn.Module):
    """``resnet22`` of ``models/resnet.py``: (N, 3, 120, 120) -> (N, 62)."""

    def __init__(self, layers: tuple[int, int, int] = (3, 4, 3), num_classes: int = NUM_PARAMS):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 32, kernel_size=5, stride=2, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu2 = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(128, layers[0], 2)
        self.layer2 = self._make_layer(256, layers[1], 2)
        self.layer3 = self._make_layer(512, layers[2], 2)
        self.conv_param = nn.Conv2d(512, num_classes, 1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.avgpool(self.conv_param(x)).flatten(1)


#: Architecture names (as in the authors' configs) -> constructor.
ARCHS = {"mobilenet05": lambda: MobileNet(0.5), "mobilenet1": lambda: MobileNet(1.0), "resnet22": ResNet22}
