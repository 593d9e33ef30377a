"""Image input at the edges: files and arrays in, RGB uint8 HxWx3 numpy arrays inside posebench."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from posebench.errors import SampleFailure


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 HxWx3. Grayscale is replicated, alpha is dropped.

    Raises :class:`SampleFailure` for a missing, unreadable, truncated or tiny image.
    """
    p = Path(path)
    if not p.is_file():
        raise SampleFailure(f"image not found: {p.name}")
    data = np.fromfile(str(p), dtype=np.uint8)
    if data.size == 0:
        raise SampleFailure(f"empty image file: {p.name}")
    if p.suffix.lower() in (".jpg", ".jpeg") and not (data[-2:] == np.array([0xFF, 0xD9], np.uint8)).all():
        # OpenCV silently decodes a truncated JPEG with a grey bottom: refuse it instead.
        raise SampleFailure(f"truncated JPEG (no end marker): {p.name}")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise SampleFailure(f"cannot decode image: {p.name}")
    return to_rgb(img, bgr=True)


def to_rgb(img: np.ndarray, bgr: bool = False) -> np.ndarray:
    """Any HxW, HxWx1, HxWx3 or HxWx4 array -> RGB uint8 HxWx3 (``bgr=True`` for cv2 input)."""
    a = np.asarray(img)
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating) and a.size and a.max() <= 1.0:
            a = a * 255.0
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    elif not (a.ndim == 3 and a.shape[2] == 3):
        raise SampleFailure(f"unsupported image shape {a.shape}")
    if bgr:
        a = a[:, :, ::-1]
    return np.ascontiguousarray(a)


def rgb_to_bgr(img: np.ndarray) -> np.ndarray:
    """RGB -> BGR copy for OpenCV calls."""
    return np.ascontiguousarray(img[:, :, ::-1])
