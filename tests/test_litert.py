"""posebench.litert without LiteRT: the integer warp maps of ``warp_perspective_u8`` (OpenCV 4.10's
fixed-point ``warpPerspective``), computed with broadcast row and column products, are bit for bit
those of the per-pixel formula (each destination pixel's ``inv(M) @ (x, y, 1)`` in double, times
``32 / W``, rounded half to even, clamped), on affine, perspective, near-affine and degenerate
matrices."""

from __future__ import annotations

import numpy as np
import pytest

from posebench.litert import _warp_maps


def per_pixel_maps(matrix: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The maps as OpenCV 4.10's warp forms them, one pixel at a time in numpy's full grids."""
    inv = np.linalg.inv(matrix)
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    X0 = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    Y0 = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    if inv[2, 0] == 0.0 and inv[2, 1] == 0.0 and inv[2, 2] == 1.0:
        X0, Y0 = X0 * 32, Y0 * 32
    else:
        W0 = inv[2, 0] * xs + inv[2, 1] * ys + inv[2, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(W0 != 0, 32 / np.where(W0 != 0, W0, 1.0), 0.0)
        X0, Y0 = X0 * scale, Y0 * scale
    lo, hi = np.iinfo(np.int32).min, np.iinfo(np.int32).max
    X, Y = (np.clip(np.rint(v), lo, hi).astype(np.int64) for v in (X0, Y0))
    alpha = ((Y & 31) << 5 | (X & 31)).astype(np.uint16)
    xy = np.stack([np.clip(X >> 5, -32768, 32767), np.clip(Y >> 5, -32768, 32767)], axis=-1).astype(np.int16)
    return xy, alpha


def _matrices():
    rng = np.random.default_rng(7)
    for _ in range(40):
        t = np.eye(3)
        t[:2, 2] = rng.normal(0, 50, 2)
        yield "shift", t
        a = np.eye(3)
        a[:2] = rng.normal(0, 2, (2, 3))
        yield "affine", a
        yield "near-affine", np.eye(3) + rng.normal(0, 1e-9, (3, 3))  # getPerspectiveTransform of a rotated rect
        yield "perspective", rng.normal(0, 1, (3, 3))
    yield "huge", np.diag([1e-8, 1e-8, 1.0])  # source points far beyond int16 and int32
    yield "horizon", np.linalg.inv(np.array([[1, 0, 0], [0, 1, 0], [-0.01, 0, 1.0]]))  # W = 0 on a column


@pytest.mark.parametrize("kind,matrix", list(_matrices()))
def test_warp_maps_are_the_per_pixel_formula(kind, matrix):
    size = (57, 43) if kind != "horizon" else (192, 192)
    xy, alpha = _warp_maps.__wrapped__(np.ascontiguousarray(matrix, np.float64).tobytes(), *size)
    want_xy, want_alpha = per_pixel_maps(matrix, *size)
    assert xy.dtype == np.int16 and xy.shape == (size[1], size[0], 2) and alpha.dtype == np.uint16
    assert np.array_equal(xy, want_xy) and np.array_equal(alpha, want_alpha), kind
    assert not xy.flags.writeable and not alpha.flags.writeable
