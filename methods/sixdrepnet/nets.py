"""6DRepNet's networks, with the authors' module names so that their checkpoints load unchanged.

``SixDRepNet`` (Hempel et al., ICIP 2022; ``sixdrepnet/model.py`` and ``backbone/repvgg.py`` of
thohemp/6DRepNet, PyPI ``sixdrepnet`` 0.1.6): a RepVGG-B1g2 body (stages ``layer0`` .. ``layer4``:
1, 4, 6, 16, 1 blocks of 64, 128, 256, 512, 2048 channels, every even-numbered block from 2 to 26
grouped by 2), global average pooling and ``linear_reg`` (2048 -> 6). A block is either in
training form (``rbr_dense`` 3x3 conv + BN, ``rbr_1x1`` 1x1 conv + BN, ``rbr_identity`` BN where
in == out and stride 1, summed, then ReLU) or in the re-parameterised deploy form (``rbr_reparam``,
one 3x3 conv with bias, then ReLU): :func:`reparameterise` turns the first into the second as the
authors' ``switch_to_deploy`` (RepVGG, Ding et al., CVPR 2021, Sec. 3.3). timm has RepVGG blocks,
but no B1g2 and another key layout (``conv_kxk``/``conv_1x1``/``identity``), so this is a small
port of the authors' block.

``SixDRepNet360`` (Hempel et al., IEEE TIP 2024; ``sixdrepnet360/test.py`` of thohemp/6DRepNet360):
a torchvision ResNet-50 body (``conv1`` .. ``layer4``, 7x7 average pooling of the 224 input) and
``linear_reg`` (2048 -> 6).

Both map the 6 outputs to a rotation matrix by Gram-Schmidt (:func:`rotation_from_6d`, the
authors' ``compute_rotation_matrix_from_ortho6d``; Zhou et al., CVPR 2019): input [N, 3, 224, 224]
float32 (RGB, ImageNet-normalised), output [N, 3, 3] whose columns are the normalised x, y, z axes.
That matrix is ``Rz(roll) Ry(yaw) Rx(pitch)`` of the 300W-LP labels (the authors' ``get_R``), i.e.
the transpose of posebench's model rotation (see :mod:`.preprocess`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

INPUT_SIZE = 224
#: RepVGG-B1g2: blocks per stage 1..4, width multipliers, and the grouped layers (``g2_map``).
B1G2_BLOCKS = (4, 6, 16, 1)
B1G2_WIDTH = (2, 2, 2, 4)
GROUPED_LAYERS = frozenset(range(2, 27, 2))


def conv_bn(cin: int, cout: int, kernel: int, stride: int, padding: int, groups: int = 1) -> nn.Sequential:
    seq = nn.Sequential()
    seq.add_module("conv", nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False))
    seq.add_module("bn", nn.BatchNorm2d(cout))
    return seq


class RepVGGBlock(nn.Module):
    """The authors' ``RepVGGBlock`` (3x3, padding 1, no SE): training form or deploy form."""

    def __init__(self, cin: int, cout: int, stride: int = 1, groups: int = 1, deploy: bool = False):
        super().__init__()
        self.cin, self.cout, self.stride, self.groups = cin, cout, stride, groups
        self.nonlinearity = nn.ReLU()
        if deploy:
            self.rbr_reparam = nn.Conv2d(cin, cout, 3, stride, 1, groups=groups, bias=True)
        else:
            self.rbr_identity = nn.BatchNorm2d(cin) if cin == cout and stride == 1 else None
            self.rbr_dense = conv_bn(cin, cout, 3, stride, 1, groups)
            self.rbr_1x1 = conv_bn(cin, cout, 1, stride, 0, groups)

    @property
    def deploy(self) -> bool:
        return hasattr(self, "rbr_reparam")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deploy:
            return self.nonlinearity(self.rbr_reparam(x))
        out = self.rbr_dense(x) + self.rbr_1x1(x)
        if self.rbr_identity is not None:
            out = out + self.rbr_identity(x)
        return self.nonlinearity(out)

    def _fuse(self, branch: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor] | tuple[int, int]:
        """``_fuse_bn_tensor``: the 3x3 kernel and bias of one eval-mode branch."""
        if branch is None:
            return 0, 0
        if isinstance(branch, nn.Sequential):
            kernel, bn = branch.conv.weight, branch.bn
            if kernel.shape[-1] == 1:
                kernel = nn.functional.pad(kernel, [1, 1, 1, 1])
        else:
            bn = branch
            per_group = self.cin // self.groups
            kernel = torch.zeros((self.cin, per_group, 3, 3), dtype=bn.weight.dtype)
            for i in range(self.cin):
                kernel[i, i % per_group, 1, 1] = 1
        std = (bn.running_var + bn.eps).sqrt()
        t = (bn.weight / std).reshape(-1, 1, 1, 1)
        return kernel * t, bn.bias - bn.running_mean * bn.weight / std

    def switch_to_deploy(self) -> None:
        """Replace the three branches by their equivalent 3x3 convolution (the authors' order of
        float32 operations: kernels and biases of dense + 1x1 + identity summed)."""
        if self.deploy:
            return
        with torch.no_grad():
            parts = [self._fuse(b) for b in (self.rbr_dense, self.rbr_1x1, self.rbr_identity)]
            kernel = parts[0][0] + parts[1][0] + parts[2][0]
            bias = parts[0][1] + parts[1][1] + parts[2][1]
            conv = nn.Conv2d(self.cin, self.cout, 3, self.stride, 1, groups=self.groups, bias=True)
            conv.weight.copy_(kernel)
            conv.bias.copy_(bias)
        del self.rbr_dense, self.rbr_1x1, self.rbr_identity
        self.rbr_reparam = conv


def rotation_from_6d(x: torch.Tensor) -> torch.Tensor:
    """(N, 6) -> (N, 3, 3) rotation matrices, ``compute_rotation_matrix_from_ortho6d``: x = the
    first 3 normalised, z = x cross the last 3 normalised, y = z cross x; columns (x, y, z).
    Norms are floored at 1e-8 as the authors' ``normalize_vector``."""
    def unit(v: torch.Tensor) -> torch.Tensor:
        return v / torch.clamp(torch.sqrt(v.pow(2).sum(1)), min=1e-8).view(-1, 1)

    xa = unit(x[:, 0:3])
    z = unit(torch.cross(xa, x[:, 3:6], dim=1))
    y = torch.cross(z, xa, dim=1)
    return torch.stack((xa, y, z), dim=2)


class SixDRepNet(nn.Module):
    """RepVGG-B1g2 + 6D head (the authors' ``SixDRepNet(backbone_name='RepVGG-B1g2')``);
    ``deploy`` picks the block form the state dict has."""

    def __init__(self, deploy: bool = False):
        super().__init__()
        planes = min(64, int(64 * B1G2_WIDTH[0]))
        self.layer0 = RepVGGBlock(3, planes, stride=2, deploy=deploy)
        index = 1
        stages = []
        for blocks, width, base in zip(B1G2_BLOCKS, B1G2_WIDTH, (64, 128, 256, 512)):
            out = int(base * width)
            seq = []
            for b in range(blocks):
                seq.append(RepVGGBlock(planes, out, stride=2 if b == 0 else 1,
                                       groups=2 if index in GROUPED_LAYERS else 1, deploy=deploy))
                planes, index = out, index + 1
            stages.append(nn.Sequential(*seq))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.linear_reg = nn.Linear(planes, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in (self.layer0, self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
        return rotation_from_6d(self.linear_reg(torch.flatten(self.gap(x), 1)))


class SixDRepNet360(nn.Module):
    """ResNet-50 + 6D head (the authors' ``SixDRepNet360(Bottleneck, [3, 4, 6, 3])``)."""

    def __init__(self):
        super().__init__()
        from torchvision.models.resnet import Bottleneck, ResNet

        body = ResNet(Bottleneck, [3, 4, 6, 3])
        self.conv1, self.bn1, self.relu, self.maxpool = body.conv1, body.bn1, body.relu, body.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = body.layer1, body.layer2, body.layer3, body.layer4
        self.avgpool = nn.AvgPool2d(7)
        self.linear_reg = nn.Linear(2048, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return rotation_from_6d(self.linear_reg(self.avgpool(x).view(x.shape[0], -1)))


def reparameterise(net: nn.Module) -> nn.Module:
    """Every training-form RepVGG block of ``net`` switched to its deploy form, in place."""
    for m in net.modules():
        if isinstance(m, RepVGGBlock):
            m.switch_to_deploy()
    return net


class Angles(nn.Module):
    """Wraps a 6DRepNet so that ``forward`` gives (N, 3) degrees (yaw, pitch, roll) in posebench's
    convention: ``M`` = the network's matrix = ``Rz(roll) Ry(yaw) Rx(pitch)``; yaw = asin(-M20),
    pitch = atan2(M21, M22), roll = atan2(M10, M00) (:func:`posebench.pose.matrix_to_euler` of
    ``M.T``). For ``posebench export``; the method converts the matrix in float64 numpy instead."""

    binned = False

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.net(x)
        yaw = torch.asin(torch.clamp(-m[:, 2, 0], -1.0, 1.0))
        pitch = torch.atan2(m[:, 2, 1], m[:, 2, 2])
        roll = torch.atan2(m[:, 1, 0], m[:, 0, 0])
        # ``* 180/pi``, not torch.rad2deg: ONNX has no rad2deg operator (the export failed on it)
        return torch.stack((yaw, pitch, roll), dim=1) * (180.0 / math.pi)
