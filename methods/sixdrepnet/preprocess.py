"""6DRepNet's test-time input, as the authors' code computes it (thohemp/6DRepNet ``test.py``,
``datasets.AFLW2000``, ``demo.py``; 6DRepNet360 ``test.py`` is the same).

Protocol box (AFLW2000: Hopenet's loose ``pt2d`` crop, k = 0.2, which posebench's ``aflw2000``
protocol box already is, :func:`posebench.crop.loose_box_hopenet`): PIL ``crop`` (corners
truncated to ints, zero outside the image; :func:`posebench.crop.crop_box`), torchvision
``Resize(256)`` (shorter side 256, PIL bilinear), ``CenterCrop(224)``, ``ToTensor`` and ImageNet
``Normalize`` (:func:`posebench.methods.hopenet.preprocess.to_batch`, bit-identical float32).

Detected box (``demo.py``): x widened by ``int(0.2 * box height)`` and y by ``int(0.2 * box
width)`` on each side, corners ``int()``, clipped to the image (numpy slicing), then
``Resize(224)`` and ``CenterCrop(224)``.

Images are RGB uint8 HxWx3; boxes ``(x0, y0, x1, y1)`` pixels.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from posebench.crop import Box, crop_box

from .nets import INPUT_SIZE

TEST_RESIZE = 256  # test.py: Resize(256), CenterCrop(224)
DEMO_RESIZE = 224  # demo.py / regressor.py: Resize(224), CenterCrop(224)


def demo_box(box: Box, width: int, height: int) -> Box:
    """``demo.py``'s crop around a detected face, clipped to the ``width`` x ``height`` image."""
    x0, y0, x1, y1 = (int(v) for v in box[:4])
    bw, bh = abs(x1 - x0), abs(y1 - y0)
    x0, y0 = max(0, x0 - int(0.2 * bh)), max(0, y0 - int(0.2 * bw))
    x1, y1 = min(width, x1 + int(0.2 * bh)), min(height, y1 + int(0.2 * bw))
    return float(x0), float(y0), float(x1), float(y1)


def resize_center_crop(crop: np.ndarray, resize: int = TEST_RESIZE, size: int = INPUT_SIZE) -> np.ndarray:
    """torchvision ``Resize(resize)`` (PIL bilinear; shorter side -> ``resize``, the longer
    ``int(resize * long / short)``) then ``CenterCrop(size)`` (offsets ``int(round((s - size) / 2))``)."""
    h, w = crop.shape[:2]
    ow, oh = (resize, int(resize * h / w)) if w <= h else (int(resize * w / h), resize)
    pil = Image.fromarray(np.ascontiguousarray(crop), "RGB")
    if (ow, oh) != (w, h):
        pil = pil.resize((ow, oh), Image.BILINEAR)
    top, left = int(round((oh - size) / 2.0)), int(round((ow - size) / 2.0))
    return np.asarray(pil)[top : top + size, left : left + size]


def face_crop(image: np.ndarray, box: Box, resize: int = TEST_RESIZE) -> np.ndarray:
    """The 224x224 RGB uint8 network input of the face in ``box``."""
    return resize_center_crop(crop_box(image, box), resize)
