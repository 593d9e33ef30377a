"""Face boxes and crops. Boxes are ``(x_min, y_min, x_max, y_max)`` in image pixels."""

from __future__ import annotations

import numpy as np

Box = tuple[float, float, float, float]


def landmark_box(points_2d: np.ndarray, visible_only: bool = False) -> Box:
    """Tight box around 2D points (N x 2).

    ``visible_only`` drops points with a negative coordinate (AFLW stores invisible points as -1).
    """
    p = np.asarray(points_2d, float).reshape(-1, 2)
    if visible_only:
        p = p[(p[:, 0] >= 0) & (p[:, 1] >= 0)]
    if len(p) == 0:
        raise ValueError("no points for a box")
    return (float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max()))


def loose_box_hopenet(box: Box, k: float = 0.20) -> Box:
    """Hopenet's AFLW2000 test crop, reproduced exactly (including its sequential updates).

    From the tight landmark box: x_min -= 2k*w; y_min -= 2k*h; then x_max += 2k*(x_max - x_min)
    and y_max += 0.6k*(y_max - y_min), where the second pair uses the already-moved minima.
    With k = 0.2 the box grows by 0.4w left, 0.4*1.4w = 0.56w right, 0.4h up, 0.12*1.4h = 0.168h down.
    """
    x0, y0, x1, y1 = box
    x0 -= 2 * k * abs(x1 - x0)
    y0 -= 2 * k * abs(y1 - y0)
    x1 += 2 * k * abs(x1 - x0)
    y1 += 0.6 * k * abs(y1 - y0)
    return (x0, y0, x1, y1)


def enlarge_box(box: Box, margin: float) -> Box:
    """Grow a box by ``margin`` times its width/height on each side (FSA-Net uses 0.6)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return (x0 - margin * w, y0 - margin * h, x1 + margin * w, y1 + margin * h)


def crop_box(image: np.ndarray, box: Box) -> np.ndarray:
    """Crop ``image`` (HxWxC) to ``box`` truncated to ints as PIL's ``Image.crop`` does; parts
    outside the image are filled with zeros (black), as PIL does."""
    x0, y0, x1, y1 = (int(v) for v in box)
    h, w = image.shape[:2]
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"empty crop box {box}")
    out = np.zeros((y1 - y0, x1 - x0) + image.shape[2:], dtype=image.dtype)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out
