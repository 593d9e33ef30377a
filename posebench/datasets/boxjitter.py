"""Face-box perturbation (the ``box-jitter`` study, issue 23) as a versioned dataset variant.

One perturbation is an ``axis`` and a ``level`` (a fraction, >= 0), applied to each face as one
similarity transform about the centre ``c`` of its protocol box (width ``w``, height ``h``):

* ``shift``: the box moves by ``level * (w cos t, h sin t)`` pixels, ``t`` drawn per face,
  uniform in [0, 2 pi), from ``numpy.random.default_rng([seed, crc32(id)])`` (the same face gets
  the same direction at every level and in any subset of the dataset: common random numbers);
* ``grow`` / ``shrink``: the box is scaled by ``1 + level`` / ``1 - level`` about ``c``
  (deterministic; ``shrink`` needs ``level < 1``).

Every geometric reference a method may crop from moves with the box by the *same* transform: the
protocol box, the 68 ground-truth landmarks and the dataset's sparse points (AFLW2000's ``pt2d``;
a point stored as invisible, any coordinate < 0, stays as stored). Each method's own crop rule
(FSA-Net's visible-point box, WHENet's loose 68-point box, 3DDFA_V2's ROI, a detector-box margin)
is a box spanned by these references, so it moves and scales exactly as the protocol box does,
whichever reference the method uses. Pose labels and images are unchanged. A sample without a
protocol box is left as it is.

The variant's protocol is ``<protocol>+box-<axis><level>-s<seed>-v1`` and the boxes enter the
dataset fingerprint, so cached predictions are never shared between perturbations. ``level=0``
returns the dataset itself (the plain run, the same cache).
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np

from posebench.datasets.base import Dataset, Sample
from posebench.errors import UsageError

VERSION = "v1"
AXES = ("shift", "grow", "shrink")
#: Marker of a box-perturbed protocol (leaderboards show no paper value beside such a run).
PROTOCOL_MARK = "+box-"


def check_perturbation(axis: str, level: float) -> tuple[str, float]:
    """``(axis, level)`` when usable; :class:`UsageError` in one line otherwise."""
    if axis not in AXES:
        raise UsageError(f"box perturbation axis must be one of {', '.join(AXES)}, got {axis!r}")
    level = float(level)
    if not np.isfinite(level) or level < 0 or level > 10:
        raise UsageError(f"box perturbation level must be a fraction in [0, 10], got {level!r}")
    if axis == "shrink" and level >= 1:
        raise UsageError(f"shrink level must be below 1 (a box shrunk by {level:g} has no size)")
    return axis, level


def shift_direction(sample_id: str, seed: int) -> float:
    """The shift direction (radians, [0, 2 pi)) of one face: seeded by the seed and the id."""
    rng = np.random.default_rng([int(seed), zlib.crc32(sample_id.encode())])
    return float(rng.uniform(0.0, 2.0 * np.pi))


def transform(box, axis: str, level: float, angle: float = 0.0) -> tuple[np.ndarray, float]:
    """``(offset, scale)`` of the similarity ``p -> c + offset + scale (p - c)`` for a box
    ``(x_min, y_min, x_max, y_max)`` (pixels), with ``c`` its centre; see the module doc."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    if axis == "shift":
        return np.array([level * w * np.cos(angle), level * h * np.sin(angle)]), 1.0
    return np.zeros(2), (1.0 + level) if axis == "grow" else (1.0 - level)


def perturb_sample(sample: Sample, axis: str, level: float, seed: int = 0) -> Sample:
    """The sample with its box, landmarks and visible sparse points moved (see the module doc)."""
    if sample.box is None:
        return sample
    angle = shift_direction(sample.id, seed) if axis == "shift" else 0.0
    offset, scale = transform(sample.box, axis, level, angle)
    x0, y0, x1, y1 = (float(v) for v in sample.box)
    c = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0])

    def move(p: np.ndarray | None, keep_invisible: bool) -> np.ndarray | None:
        if p is None:
            return None
        a = np.asarray(p, float)
        out = c + offset + scale * (a - c)
        if keep_invisible:
            out = np.where(np.any(a < 0, axis=-1, keepdims=True), a, out)
        return out

    corners = move(np.array([[x0, y0], [x1, y1]]), False)
    box = (float(corners[0, 0]), float(corners[0, 1]), float(corners[1, 0]), float(corners[1, 1]))
    return dataclasses.replace(sample, box=box, landmarks=move(sample.landmarks, False),
                               points=move(sample.points, True))


def with_box_jitter(dataset: Dataset, axis: str, level: float, seed: int = 0) -> Dataset:
    """The same dataset with every protocol box perturbed by ``axis``/``level`` (module doc)."""
    axis, level = check_perturbation(axis, level)
    if level == 0:
        return dataset
    samples = [perturb_sample(s, axis, level, seed) for s in dataset.samples]
    tag = f"{axis}{level:g}-s{int(seed)}"
    return Dataset(dataset.name, f"{dataset.protocol}{PROTOCOL_MARK}{tag}-{VERSION}", samples, dataset.root,
                   {**dataset.parameters, "box_jitter": tag}, dataset.excluded, list(dataset.invalid))
