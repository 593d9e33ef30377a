"""Hopenet's test-time preprocessing, reproduced exactly (Ruiz et al.'s AFLW2000 evaluation).

1. crop the face box, truncating the corners to ints, zero-padded outside the image (PIL ``crop``);
2. resize so that the shorter side is 224 px, the longer ``int(224 * long / short)``, with PIL's
   bilinear filter (torchvision ``Resize(224)`` on a PIL image; PIL antialiases when shrinking,
   which OpenCV's ``INTER_LINEAR`` does not, so PIL is kept for this step);
3. centre crop 224x224 with torchvision's offsets ``int(round((size - 224) / 2))``;
4. ``ToTensor`` (divide by 255) and ImageNet ``Normalize``, done here for a whole batch at once with
   the same float32 operations, so every value is bit-identical to torchvision's.

Images are RGB uint8 HxWx3 numpy arrays; boxes ``(x_min, y_min, x_max, y_max)`` in pixels.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image

from posebench.crop import Box, crop_box

from .nets import INPUT_SIZE

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def resized_size(width: int, height: int, size: int = INPUT_SIZE) -> tuple[int, int]:
    """(width, height) after torchvision's ``Resize(size)``: shorter side -> ``size``."""
    if width <= height:
        return size, int(size * height / width)
    return int(size * width / height), size


def face_crop(image: np.ndarray, box: Box, size: int = INPUT_SIZE) -> np.ndarray:
    """The network's input pixels for one face: RGB uint8 ``size`` x ``size`` x 3."""
    crop = crop_box(image, box)
    h, w = crop.shape[:2]
    ow, oh = resized_size(w, h, size)
    pil = Image.fromarray(np.ascontiguousarray(crop), "RGB")
    if (ow, oh) != (w, h):
        pil = pil.resize((ow, oh), Image.BILINEAR)
    top = int(round((oh - size) / 2.0))
    left = int(round((ow - size) / 2.0))
    out = np.asarray(pil)[top : top + size, left : left + size]
    return out


def to_batch(crops: Sequence[np.ndarray], channels_last: bool = True) -> torch.Tensor:
    """(N, 3, H, W) float32 normalised batch from uint8 HxWx3 crops (torchvision's arithmetic).

    With ``channels_last`` the result keeps the NHWC memory layout of the crops (no copy)."""
    nhwc = torch.from_numpy(np.stack(crops))
    x = nhwc.permute(0, 3, 1, 2)
    if not channels_last:
        x = x.contiguous()
    x = x.to(torch.float32).div(255)
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    x = x.sub(mean).div(std)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x.contiguous()
