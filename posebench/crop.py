"""Face boxes and crops. Boxes are ``(x_min, y_min, x_max, y_max)`` in image pixels.

Every box a method crops or hands to a landmark predictor goes through :func:`check_box` (one
validation for every method), and every set of annotated 2D points through :func:`check_points`
(labels when a dataset is read, landmarks when a method fits them): what fails becomes a
recorded per-sample failure, never a traceback, an absurd allocation or a pose from nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from posebench.errors import SampleFailure

Box = tuple[float, float, float, float]

#: A box side may be at most this many times the image's longer side (a loose crop of a face at
#: the border grows past the image; thousands of image sizes are a broken label, not a face).
MAX_BOX_SCALE = 4.0
#: Annotated points may lie at most this many image sizes outside the image (AFLW2000-3D's
#: ``pt3d_68`` reaches about 0.25 image sizes past its border for faces cut by the frame).
MAX_POINT_MARGIN = 1.0


def _fmt(values) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"


def check_box(box: Any, image_size: tuple[int, int], what: str = "face box") -> Box:
    """``box`` as 4 floats when it is usable on an image of ``image_size`` = ``(width, height)``.

    Usable: four finite numbers, non-empty once the corners are truncated to integers as PIL's
    ``Image.crop`` does, overlapping the image, and no side longer than :data:`MAX_BOX_SCALE`
    times the image's longer side. Raises :class:`SampleFailure` naming the problem otherwise."""
    try:
        values = tuple(float(v) for v in np.asarray(box, dtype=float).ravel())
    except (TypeError, ValueError):
        raise SampleFailure(f"{what} is not 4 numbers: {box!r:.80}") from None
    if len(values) != 4:
        raise SampleFailure(f"{what} has {len(values)} values, expected 4 (x_min, y_min, x_max, y_max)")
    if not all(np.isfinite(values)):
        raise SampleFailure(f"{what} {_fmt(values)} has non-finite values")
    x0, y0, x1, y1 = (int(v) for v in values)
    if x1 <= x0 or y1 <= y0:
        raise SampleFailure(f"empty {what} {_fmt(values)}")
    w, h = int(image_size[0]), int(image_size[1])
    if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
        raise SampleFailure(f"{what} {_fmt(values)} lies outside the {w}x{h} image")
    limit = MAX_BOX_SCALE * max(w, h, 1)
    if x1 - x0 > limit or y1 - y0 > limit:
        raise SampleFailure(f"{what} {_fmt(values)} is more than {MAX_BOX_SCALE:g} times the {w}x{h} image")
    return values  # type: ignore[return-value]


def check_points(points: Any, image_size: tuple[int, int], what: str = "landmarks",
                 invisible: float | None = None) -> np.ndarray:
    """``points`` (N x 2 pixels) as a float array when they can locate a face on an image of
    ``image_size`` = ``(width, height)``: finite, within :data:`MAX_POINT_MARGIN` image sizes of
    the image, and spread over a positive width and height. ``invisible`` is the marker value of
    points that are not annotated (AFLW's -1): such points are exempt from the spread check and
    at least one point must be visible. Raises :class:`SampleFailure` naming ``what`` otherwise."""
    p = np.asarray(points, dtype=float)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) == 0:
        raise SampleFailure(f"{what} have shape {p.shape}, expected N x 2 with N >= 1")
    if not np.all(np.isfinite(p)):
        raise SampleFailure(f"{what} hold non-finite values (NaN or inf)")
    w, h = float(image_size[0]), float(image_size[1])
    lo = -MAX_POINT_MARGIN * np.array([w, h])
    hi = (1 + MAX_POINT_MARGIN) * np.array([w, h])
    if np.any(p < lo) or np.any(p > hi):
        worst = p[np.argmax(np.max(np.maximum(lo - p, p - hi), axis=1))]
        raise SampleFailure(f"{what} reach {_fmt(worst)}, more than {MAX_POINT_MARGIN:g} image size outside "
                            f"the {int(w)}x{int(h)} image")
    seen = p if invisible is None else p[~np.all(p == invisible, axis=1)]
    if len(seen) == 0:
        raise SampleFailure(f"{what}: every point is marked invisible ({invisible:g})")
    if invisible is None and (np.ptp(seen[:, 0]) <= 0 or np.ptp(seen[:, 1]) <= 0):
        raise SampleFailure(f"{what} span no area (all points on one line or one point)")
    return p


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
    outside the image are filled with zeros (black), as PIL does. :class:`SampleFailure` for a box
    :func:`check_box` refuses (so a broken box never allocates a giant crop)."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (int(v) for v in check_box(box, (w, h), "crop box"))
    out = np.zeros((y1 - y0, x1 - x0) + image.shape[2:], dtype=image.dtype)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out
