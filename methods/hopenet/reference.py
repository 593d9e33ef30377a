"""A faithful re-implementation of the authors' AFLW2000 test loop (``code/test_hopenet.py``),
used as the baseline of ``posebench bench hopenet`` and as an independent check in the tests.

Per image, as the original: PIL ``Image.open(...).convert('RGB')``, PIL crop of the loose box at
int-truncated corners, torchvision ``Resize(224)`` / ``CenterCrop(224)`` / ``ToTensor`` /
``Normalize(ImageNet)``, a batch of one through the unmodified network (NCHW, BatchNorm as
separate layers), then per head ``exp(x) / sum(exp(x))`` (their ``softmax_temperature`` with
temperature 1) and ``sum(p * idx) * 3 - 99`` degrees.

``grad=True`` reproduces the original exactly (it ran the model without ``no_grad``/``volatile``,
so autograd recorded every forward pass); ``grad=False`` is a stronger baseline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from posebench.crop import Box

from .preprocess import MEAN, STD


def original_transform():
    from torchvision import transforms

    return transforms.Compose([
        transforms.Resize(224), transforms.CenterCrop(224), transforms.ToTensor(),
        transforms.Normalize(mean=list(MEAN), std=list(STD)),
    ])


def softmax_temperature(x: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    e = torch.exp(x / temperature)
    return e / e.sum(1, keepdim=True)


def angles_from_output(out, binned: bool = True) -> np.ndarray:
    """(yaw, pitch, roll) degrees of one forward pass, the original way."""
    if not binned:
        return out.detach()[0].double().numpy()
    idx = torch.arange(66, dtype=out[0].dtype)
    return np.array([float((softmax_temperature(o.detach(), 1) * idx).sum(1)[0] * 3 - 99) for o in out])


def pil_crop(image, box: Box):
    """PIL crop at int-truncated corners, as the original (``img.crop((int(x_min), ...))``)."""
    return image.crop(tuple(int(v) for v in box))


@dataclass
class LoopResult:
    angles: np.ndarray  # (N, 3) degrees
    seconds: float


def original_loop(net: nn.Module, paths: Sequence[Path], boxes: Sequence[Box], grad: bool = True,
                  dtype: torch.dtype = torch.float32) -> LoopResult:
    """Run the original evaluation loop over image files; returns angles and wall seconds
    (image decoding included). ``dtype=torch.float64`` runs a float64 copy of the network (the
    rounding-free answer against which float32 paths can be judged)."""
    from PIL import Image

    tf = original_transform()
    binned = getattr(net, "binned", True)
    if dtype != torch.float32:
        import copy

        net = copy.deepcopy(net).to(dtype)
    out = np.zeros((len(paths), 3))
    t0 = time.perf_counter()
    with torch.set_grad_enabled(grad):
        for i, (path, box) in enumerate(zip(paths, boxes)):
            img = Image.open(path).convert("RGB")
            x = tf(pil_crop(img, box)).unsqueeze(0).to(dtype)
            out[i] = angles_from_output(net(x), binned)
    return LoopResult(out, time.perf_counter() - t0)


def original_predict_arrays(net: nn.Module, images: Sequence[np.ndarray], boxes: Sequence[Box]) -> np.ndarray:
    """The original per-image pipeline on RGB uint8 arrays (for tests): (N, 3) degrees."""
    from PIL import Image

    tf = original_transform()
    binned = getattr(net, "binned", True)
    out = np.zeros((len(images), 3))
    with torch.no_grad():
        for i, (img, box) in enumerate(zip(images, boxes)):
            x = tf(pil_crop(Image.fromarray(img, "RGB"), box)).unsqueeze(0)
            out[i] = angles_from_output(net(x), binned)
    return out
