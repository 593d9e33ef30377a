"""The three networks of Ruiz et al. (2018), laid out so that the authors' checkpoints load unchanged.

* ``hopenet``: torchvision ResNet50 (``conv1``, ``bn1``, ``layer1``..``layer4``; Bottleneck blocks
  with the stride on the 3x3 convolution, as torchvision's), a 7x7 average pool, and three fully
  connected heads ``fc_yaw``, ``fc_pitch``, ``fc_roll`` (2048 -> 66 bins). The checkpoints also
  carry ``fc_finetune`` (Linear(2048 + 3, 3), weight shape (3, 2051)), a layer left over from
  earlier experiments that the forward pass never uses; it is kept so the keys match exactly.
* ``hopenet-alexnet``: torchvision AlexNet's ``features`` (indices 0, 3, 6, 8, 10 hold weights) and
  the first two fully connected layers of its ``classifier`` (indices 1 and 4, after dropout), then
  the same three 66-bin heads on the 4096-d output.
* ``resnet50-regression``: the paper's regression baseline: the same ResNet50 trunk and a single
  ``fc_angles`` Linear(2048, 3) that regresses (yaw, pitch, roll) in degrees directly.

Bins: 66 bins of 3 degrees covering [-99, +99); an angle is the expectation of the bin index under
the softmax of a head, ``3 * sum(softmax(logits) * [0..65]) - 99`` degrees (Section 3.2).

Angles are (yaw, pitch, roll) in degrees in the AFLW2000-3D / 300W-LP convention (the networks were
trained on 300W-LP with its ``Pose_Para`` angles), i.e. posebench's canonical convention: no
conversion is applied.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet

NUM_BINS = 66
BIN_WIDTH = 3.0  # degrees
ANGLE_MIN = -99.0  # degrees, left edge of bin 0
INPUT_SIZE = 224
RESNET50_LAYERS = [3, 4, 6, 3]


class _ResNet50Trunk(ResNet):
    """torchvision ResNet50 without its ImageNet classifier, with the 7x7 average pool of the
    original code (identical to the adaptive pool for 224x224 inputs)."""

    def __init__(self) -> None:
        super().__init__(Bottleneck, RESNET50_LAYERS)
        del self.fc
        self.avgpool = nn.AvgPool2d(7)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


class Hopenet(_ResNet50Trunk):
    """ResNet50 + three 66-bin heads; ``forward`` returns the (yaw, pitch, roll) logits."""

    binned = True

    def __init__(self, num_bins: int = NUM_BINS) -> None:
        super().__init__()
        width = 512 * Bottleneck.expansion
        self.fc_yaw = nn.Linear(width, num_bins)
        self.fc_pitch = nn.Linear(width, num_bins)
        self.fc_roll = nn.Linear(width, num_bins)
        self.fc_finetune = nn.Linear(width + 3, 3)  # vestigial: in the checkpoints, unused

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f = self.features(x)
        return self.fc_yaw(f), self.fc_pitch(f), self.fc_roll(f)


class ResNet50Regression(_ResNet50Trunk):
    """ResNet50 + ``fc_angles`` (2048 -> 3); ``forward`` returns (N, 3) degrees (yaw, pitch, roll)."""

    binned = False

    def __init__(self) -> None:
        super().__init__()
        self.fc_angles = nn.Linear(512 * Bottleneck.expansion, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_angles(self.features(x))


class HopenetAlexNet(nn.Module):
    """AlexNet trunk (torchvision layout, no adaptive pool: 224 input -> 256x6x6) + three 66-bin heads."""

    binned = True

    def __init__(self, num_bins: int = NUM_BINS) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
        )
        self.fc_yaw = nn.Linear(4096, num_bins)
        self.fc_pitch = nn.Linear(4096, num_bins)
        self.fc_roll = nn.Linear(4096, num_bins)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f = self.classifier(torch.flatten(self.features(x), 1))
        return self.fc_yaw(f), self.fc_pitch(f), self.fc_roll(f)


ARCHS: dict[str, Callable[[], nn.Module]] = {
    "hopenet": Hopenet,
    "hopenet-alexnet": HopenetAlexNet,
    "resnet50-regression": ResNet50Regression,
}


def build(arch: str) -> nn.Module:
    """A fresh network of architecture ``arch`` (one of :data:`ARCHS`), in eval mode."""
    return ARCHS[arch]().eval()


def bin_expectation(logits: torch.Tensor) -> torch.Tensor:
    """Degrees from (N, 66) logits: ``3 * sum(softmax * bin index) - 99``."""
    idx = torch.arange(logits.shape[1], dtype=logits.dtype, device=logits.device)
    return (torch.softmax(logits, dim=1) * idx).sum(dim=1) * BIN_WIDTH + ANGLE_MIN


class Degrees(nn.Module):
    """Wraps any of the networks so that ``forward`` returns (N, 3) degrees (yaw, pitch, roll)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if not getattr(self.net, "binned", True):
            return out
        return torch.stack([bin_expectation(o) for o in out], dim=1)


def seeded_weights(arch: str, seed: int = 0, spread_bins: float = 1.5, shift: float = 20.0) -> dict[str, torch.Tensor]:
    """A reproducible random state dict for ``arch``, for tests and benchmarks without the
    official files (its predictions mean nothing).

    Convolutions get He-normal weights and BatchNorm layers perturbed statistics (the last one of
    each residual block a small scale, which keeps the activations bounded). The binned heads are
    built like a trained network's: a quadratic bias makes each softmax a bump about
    ``spread_bins`` bins wide, and a random feature direction (norm ``shift``) moves its centre
    from image to image, plus small noise. Fully random heads would instead spread the probability
    over distant bins, which no trained Hopenet does and which magnifies float32 rounding in the
    expectation about twentyfold. Regression heads output about 30 degrees."""
    gen = torch.Generator().manual_seed(seed)
    net = ARCHS[arch]().eval()

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=gen)

    with torch.no_grad():
        for name, m in net.named_modules():
            if isinstance(m, nn.BatchNorm2d):
                scale = 0.2 if name.endswith("bn3") or name.endswith("downsample.1") else 1.0
                m.weight.copy_(scale * (1.0 + 0.1 * randn(*m.weight.shape)))
                m.bias.copy_(0.1 * randn(*m.bias.shape))
                m.running_mean.copy_(0.05 * randn(*m.running_mean.shape))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
            elif isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(randn(*m.weight.shape) * (2.0 / m.weight[0].numel()) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(0.05 * randn(*m.bias.shape))
        # Probe inputs with image-like statistics: smooth random fields (8x8 noise, upsampled).
        coarse = torch.randn((8, 3, 8, 8), generator=gen)
        probe = nn.functional.interpolate(coarse, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        if not net.binned:
            out = net(probe)
            net.fc_angles.weight.mul_(30.0 / float(out.std()))
            return {k: v.detach().clone() for k, v in net.state_dict().items()}
        feats = (net.features(probe) if isinstance(net, _ResNet50Trunk)
                 else net.classifier(torch.flatten(net.features(probe), 1)))
        idx = torch.arange(NUM_BINS, dtype=torch.float32)
        curvature = 1.0 / (2.0 * spread_bins**2)
        for head in ("fc_yaw", "fc_pitch", "fc_roll"):
            layer: nn.Linear = getattr(net, head)
            rms = float(feats.pow(2).mean().sqrt())
            direction = randn(feats.shape[1]) * (0.15 * shift / (rms * feats.shape[1] ** 0.5))
            base = float(feats.mean(0) @ direction)
            centre = float(NUM_BINS / 2 + 8.0 * torch.randn((), generator=gen))
            # logit_i = -c (i - centre)^2 + (i - centre) * direction . (f - mean f) + noise:
            # a bump near ``centre`` that the features shift, with logits of a few units.
            offset = idx - centre
            layer.weight.copy_(offset[:, None] * direction[None, :] + 0.002 * randn(NUM_BINS, feats.shape[1]))
            layer.bias.copy_(-curvature * offset**2 - offset * base)
    return {k: v.detach().clone() for k, v in net.state_dict().items()}
