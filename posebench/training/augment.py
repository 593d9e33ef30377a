"""Training-time augmentation of the paper (Sections 3.4-3.5, 4.5) and the authors' ``code/datasets.py``.

Per sample, in the original order (``Pose_300W_LP`` / ``Pose_300W_LP_random_ds``):

1. loose crop around the 68-point landmark box with a random margin ``k ~ U[0.2, 0.4)``:
   ``x_min -= 0.6k*w; y_min -= 2k*h; x_max += 0.6k*w'; y_max += 0.6k*h'`` (sequential updates,
   :func:`posebench.datasets.w300lp.loose_box_300wlp`), corners truncated to ints, zero padding
   outside the image (PIL ``crop``);
2. optionally a low-resolution scheme: downsample by an integer factor ``f`` with nearest
   neighbour to ``(w // f, h // f)`` and upsample back to ``(w, h)`` with nearest neighbour.
   Schemes (Section 4.5): ``x10`` (always 10), ``1-10`` (a random integer 1..10), ``paper5``
   (one of 1, 6, 11, 16, 21, as the paper says), ``code4`` (one of 1, 6, 11, 16: what the
   authors' ``Pose_300W_LP_random_ds`` actually draws, ``1 + randint(0, 4) * 5``);
3. horizontal flip with probability 0.5: yaw and roll change sign, pitch is kept, the 68
   landmarks are mirrored (``x -> w - 1 - x`` in pixel-index coordinates) and re-indexed with
   :data:`MIRROR_68` so that index ``i`` still names the same facial point;
4. PIL ``ImageFilter.BLUR`` with probability 0.05.

All randomness comes from the ``numpy.random.Generator`` passed in, so a sample's augmentation
is a function of (seed, epoch, index) only: identical across worker counts, ranks and resumes.
Images are RGB uint8 HxWx3 numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from posebench.crop import Box, crop_box
from posebench.errors import UsageError
from posebench.pose import Pose

#: Mirror permutation of the iBUG 68-point markup: the point at index ``i`` of a mirrored face
#: is the mirror image of point ``MIRROR_68[i]`` of the original (jaw 0-16 reversed, brows
#: 17-21 <-> 26-22, nose bridge kept, nostrils 31-35 reversed, eyes 36-41 <-> 45-42/47-46,
#: outer lips 48-54 reversed and 55-59 reversed, inner lips 60-64 reversed and 65-67 reversed).
MIRROR_68: tuple[int, ...] = (
    tuple(range(16, -1, -1))
    + tuple(range(26, 16, -1))
    + (27, 28, 29, 30)
    + (35, 34, 33, 32, 31)
    + (45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40)
    + (54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55)
    + (64, 63, 62, 61, 60, 67, 66, 65)
)

LOWRES_SCHEMES: dict[str, tuple[int, ...]] = {
    "none": (1,),
    "x10": (10,),
    "1-10": tuple(range(1, 11)),
    "paper5": (1, 6, 11, 16, 21),
    "code4": (1, 6, 11, 16),
}

MARGIN_RANGE = (0.2, 0.4)
FLIP_PROB = 0.5
BLUR_PROB = 0.05


@dataclass(frozen=True)
class Augment:
    """Which augmentations are on. ``margin``: (low, high) of the random loose-crop ``k`` (equal
    values fix it); ``lowres``: a key of :data:`LOWRES_SCHEMES`."""

    margin: tuple[float, float] = MARGIN_RANGE
    flip: bool = True
    blur: bool = True
    lowres: str = "none"

    def describe(self) -> str:
        parts = [f"margin={self.margin[0]:g}-{self.margin[1]:g}" if self.margin[0] != self.margin[1]
                 else f"margin={self.margin[0]:g}"]
        parts += ["flip"] if self.flip else []
        parts += ["blur"] if self.blur else []
        parts += [f"lowres={self.lowres}"] if self.lowres != "none" else []
        return ",".join(parts)


def parse_augment(spec: str) -> Augment:
    """``paper`` (default: random margin, flip, blur), ``none`` (margin fixed at 0.3, nothing
    else), or a comma list of ``margin=LO-HI|K``, ``flip``, ``blur``, ``lowres=SCHEME`` (a list
    starting from nothing), e.g. ``paper,lowres=1-10`` adds a scheme to the paper's set."""
    spec = (spec or "paper").strip()
    aug = Augment(margin=(0.3, 0.3), flip=False, blur=False)
    for item in [s.strip() for s in spec.split(",") if s.strip()]:
        key, _, value = item.partition("=")
        if key == "paper":
            aug = Augment(lowres=aug.lowres)
        elif key == "none":
            aug = Augment(margin=(0.3, 0.3), flip=False, blur=False)
        elif key == "flip":
            aug = Augment(aug.margin, True, aug.blur, aug.lowres)
        elif key == "blur":
            aug = Augment(aug.margin, aug.flip, True, aug.lowres)
        elif key == "lowres":
            if value not in LOWRES_SCHEMES:
                raise UsageError(f"--augment lowres must be one of {', '.join(LOWRES_SCHEMES)}, got {value!r}")
            aug = Augment(aug.margin, aug.flip, aug.blur, value)
        elif key == "margin":
            try:
                lo, _, hi = value.partition("-")
                margin = (float(lo), float(hi or lo))
            except ValueError:
                raise UsageError(f"--augment margin must be LO-HI or K, got {value!r}") from None
            if not 0 <= margin[0] <= margin[1]:
                raise UsageError(f"--augment margin: need 0 <= LO <= HI, got {value!r}")
            aug = Augment(margin, aug.flip, aug.blur, aug.lowres)
        else:
            raise UsageError(f"--augment: unknown item {item!r} (paper, none, margin=LO-HI, flip, blur, lowres=SCHEME)")
    return aug


def draw_margin(aug: Augment, rng: np.random.Generator) -> float:
    lo, hi = aug.margin
    return lo if lo == hi else float(rng.random() * (hi - lo) + lo)


def draw_lowres_factor(scheme: str, rng: np.random.Generator) -> int:
    """The down/up-sampling factor of one sample under ``scheme`` (1 = unchanged)."""
    factors = LOWRES_SCHEMES[scheme]
    return factors[0] if len(factors) == 1 else int(factors[int(rng.integers(len(factors)))])


def down_up(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour downsample to ``(w // factor, h // factor)`` (at least 1 px) and back."""
    if factor <= 1:
        return image
    h, w = image.shape[:2]
    pil = Image.fromarray(np.ascontiguousarray(image))
    small = pil.resize((max(1, w // factor), max(1, h // factor)), Image.NEAREST)
    return np.asarray(small.resize((w, h), Image.NEAREST))


def mirror_landmarks(points: np.ndarray, width: int) -> np.ndarray:
    """68 x 2 pixel landmarks of the horizontally flipped image (``width`` px wide)."""
    p = np.asarray(points, dtype=np.float64).reshape(68, 2)[list(MIRROR_68)].copy()
    p[:, 0] = (width - 1) - p[:, 0]
    return p


def flip(image: np.ndarray, pose: Pose, landmarks: np.ndarray | None = None
         ) -> tuple[np.ndarray, Pose, np.ndarray | None]:
    """Mirror left-right: image, ``Pose(-yaw, pitch, -roll)`` and (optionally) the landmarks."""
    out = np.ascontiguousarray(image[:, ::-1])
    marks = None if landmarks is None else mirror_landmarks(landmarks, image.shape[1])
    return out, Pose(-pose.yaw, pose.pitch, -pose.roll), marks


def blur(image: np.ndarray) -> np.ndarray:
    """PIL's ``ImageFilter.BLUR`` (the original's blur augmentation)."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(image)).filter(ImageFilter.BLUR))


@dataclass
class Augmented:
    image: np.ndarray  # the face crop, RGB uint8
    pose: Pose
    landmarks: np.ndarray | None  # 68 x 2 in crop pixels, or None
    margin: float
    factor: int
    flipped: bool
    blurred: bool


def augment_face(image: np.ndarray, box: Box, pose: Pose, aug: Augment, rng: np.random.Generator,
                 landmarks: np.ndarray | None = None) -> Augmented:
    """Crop and augment one face; ``box`` is the tight landmark box (pixels)."""
    from posebench.datasets.w300lp import loose_box_300wlp

    k = draw_margin(aug, rng)
    loose = loose_box_300wlp(box, k)
    crop = crop_box(image, loose)
    marks = None
    if landmarks is not None and np.shape(landmarks) == (68, 2):
        marks = np.asarray(landmarks, np.float64) - np.array([int(loose[0]), int(loose[1])], np.float64)
    factor = draw_lowres_factor(aug.lowres, rng) if aug.lowres != "none" else 1
    crop = down_up(crop, factor)
    flipped = bool(aug.flip and rng.random() < FLIP_PROB)
    if flipped:
        crop, pose, marks = flip(crop, pose, marks)
    blurred = bool(aug.blur and rng.random() < BLUR_PROB)
    if blurred:
        crop = blur(crop)
    return Augmented(crop, pose, marks, k, factor, flipped, blurred)
