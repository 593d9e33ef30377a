"""Low-resolution degradation (paper Section 4.5, Figure 8) as a versioned dataset option.

``--dataset-option downsample=F`` (a declared option of every built-in dataset, checked by the
registry against :data:`DOWNSAMPLE_DOMAIN`; ``posebench run`` and ``posebench study``) makes
every image of the dataset ``F`` times coarser: the image is shrunk to
``(max(1, w // F), max(1, h // F))`` pixels (integer division, i.e. rounded down, as the authors'
Python 2 ``img.size[0] / ds`` in ``AFLW2000_ds``, deep-head-pose ``code/datasets.py``) and
enlarged back to exactly ``(w, h)``, both with nearest-neighbour interpolation. Nearest
neighbour follows PIL's ``Image.NEAREST`` (the authors' library) pixel for pixel: output pixel
``i`` of a resize from ``n`` to ``m`` pixels takes source pixel ``floor((i + 0.5) * n / m)``,
accumulated as PIL accumulates it (a test compares with PIL pixel for pixel). Because the
image comes back at its original size, labels, landmarks and boxes stay valid unchanged.

Difference from the authors' script: ``AFLW2000_ds`` degrades the loose face *crop*; posebench
degrades the whole image, so that detector-based methods (dlib) see the degraded face too.
AFLW2000-3D images are 450x450 around one face, so the face loses the same factor of
resolution either way (x15: a 30x30 image).

The option changes the dataset's protocol (``<protocol>+ds<F>-v1``) and parameters, so cached
predictions are never shared between factors. ``downsample=1`` leaves the dataset untouched.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from posebench.datasets.base import Dataset, Sample
from posebench.errors import UsageError
from posebench.options import Domain

VERSION = "v1"
META_KEY = "downsample"
#: Largest factor accepted (a 450-pixel image is 1 pixel at x450; beyond that nothing changes).
MAX_FACTOR = 10_000
#: Domain of the ``downsample`` option that every built-in image dataset declares.
DOWNSAMPLE_DOMAIN = Domain(ge=1, le=MAX_FACTOR)


def nearest_indices(n_src: int, n_dst: int) -> np.ndarray:
    """Source index of each of ``n_dst`` output pixels, as PIL's NEAREST resize computes it:
    ``floor((i + 0.5) * n_src / n_dst)``, with the position accumulated in double precision by
    repeated addition of the step (Pillow ``Geometry.c``, ``ImagingScaleAffine``), so that exact
    ties round as PIL rounds them."""
    step = float(n_src) / float(n_dst)
    pos = np.cumsum(np.concatenate([[step * 0.5], np.full(n_dst - 1, step)]))  # sequential adds
    return np.clip(pos.astype(np.int64), 0, n_src - 1)


def resize_nearest(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an H x W (x C) array to ``size = (w, h)``."""
    h0, w0 = image.shape[:2]
    w, h = int(size[0]), int(size[1])
    return image[nearest_indices(h0, h)[:, None], nearest_indices(w0, w)[None, :]]


def downsampled_size(width: int, height: int, factor: int) -> tuple[int, int]:
    """``(max(1, width // factor), max(1, height // factor))``."""
    return max(1, int(width) // int(factor)), max(1, int(height) // int(factor))


def downsample_image(image: np.ndarray, factor: int) -> np.ndarray:
    """Shrink by ``factor`` and enlarge back to the original size, nearest neighbour both ways.
    ``image``: H x W x C uint8 (any dtype works); returns the same shape and dtype."""
    factor = int(factor)
    if factor == 1:
        return image
    h, w = image.shape[:2]
    small = resize_nearest(image, downsampled_size(w, h, factor))
    return np.ascontiguousarray(resize_nearest(small, (w, h)))


def parse_factor(value) -> int:
    try:
        f = int(str(value))
    except ValueError:
        raise UsageError(f"downsample must be a whole number >= 1, got {value!r}") from None
    if f < 1 or f > MAX_FACTOR:
        raise UsageError(f"downsample must be a whole number in [1, {MAX_FACTOR}], got {value!r}")
    return f


def with_downsample(dataset: Dataset, factor: int | str) -> Dataset:
    """The same dataset whose images are read degraded by ``factor`` (see the module doc)."""
    f = parse_factor(factor)
    if f == 1:
        return dataset
    samples = [dataclasses.replace(s, meta={**s.meta, META_KEY: f}) for s in dataset.samples]
    return Dataset(dataset.name, f"{dataset.protocol}+ds{f}-{VERSION}", samples, dataset.root,
                   {**dataset.parameters, META_KEY: f}, dataset.excluded, list(dataset.invalid))


def sample_image(sample: Sample) -> np.ndarray:
    """Read a sample's image (RGB uint8) with the dataset's degradation applied."""
    from posebench.imageio import read_image

    image = read_image(sample.image_path)
    f = int(sample.meta.get(META_KEY, 1))
    return downsample_image(image, f) if f > 1 else image
