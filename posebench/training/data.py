"""A torch dataset of augmented face crops over any posebench dataset (training and validation
data come from the normal readers, e.g. ``300w-lp`` or ``aflw2000``).

Sample selection (:func:`select_samples`) lists what is skipped and why: no image file, an empty
or unreadable image header, no 68 landmarks / points for the crop box, unreadable labels (the
reader's ``invalid`` list), and angles outside the network's bins: for Hopenet the 66 bins
(``-99 <= a < 99``, the paper's +-99 degree range; the authors did this filtering outside their
code, through the ``--filename_list`` of pre-filtered file names; posebench filters on the labels
it reads); for WHENet pitch and roll likewise, while yaw is circular (any finite yaw is wrapped
into ``[-180, 180)`` and kept: the yaw head covers the whole circle).

Each item is ``(image, bins, angles, index, failed)``: a float32 (3, S, S) ImageNet-normalised
tensor (the original training transform: PIL bilinear resize of the shorter side to
``round(S * 240 / 224)`` (``Scale(240)`` at S = 224), a random S x S crop, ``ToTensor``,
``Normalize``), int64 (3,) bin indices, float32 (3,) degrees (yaw, pitch, roll), the index, and
the index of a sample whose image could not be decoded (-1 if none): such a sample is replaced by
the next readable one, so an epoch never stops on a corrupt file.

WHENet (``preprocess="whenet"``) takes its own input instead of Hopenet's transform, after the
same augmentation: the augmented crop resized to S x S with ``cv2.resize`` (bilinear, the aspect
ratio not kept) and ``/ 255`` + ImageNet mean/std in float64 then float32, exactly the method's
:func:`posebench.methods.whenet.preprocess.face_crop` and ``to_batch`` (S = 224 by default, the
method's input size); no random crop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from posebench.crop import landmark_box
from posebench.datasets.base import Dataset, Sample

from .augment import Augment, augment_face
from .bins import HOPENET_BINS, Bins
from .loss import ANGLES

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


@dataclass
class Selection:
    samples: list[Sample]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (sample id, reason)

    def summary(self) -> str:
        from collections import Counter

        counts = Counter(reason.split(":")[0] for _, reason in self.skipped)
        what = ", ".join(f"{n} {r}" for r, n in counts.most_common())
        return f"{len(self.samples)} samples used, {len(self.skipped)} skipped" + (f" ({what})" if what else "")


def box_points(s: Sample) -> np.ndarray | None:
    """The points whose tight box the loose crop grows: 68 landmarks, else the visible sparse points."""
    if s.landmarks is not None and np.shape(s.landmarks) == (68, 2) and np.all(np.isfinite(s.landmarks)):
        return np.asarray(s.landmarks, np.float64)
    if s.points is not None:
        p = np.asarray(s.points, np.float64).reshape(-1, 2)
        p = p[(p[:, 0] >= 0) & (p[:, 1] >= 0) & np.all(np.isfinite(p), axis=1)]
        return p if len(p) >= 2 else None
    return None


def out_of_range(pose: np.ndarray, heads: tuple[Bins, Bins, Bins]) -> str:
    """``""`` when every angle of (yaw, pitch, roll) ``pose`` has a bin of its head, else the
    reason, e.g. ``angle outside [-99, 99)`` (Hopenet) or ``pitch outside [-99, 99)``."""
    bad = [name for name, b, a in zip(ANGLES, heads, pose) if not b.contains([a])]
    if not bad:
        return ""
    ranges = {heads[ANGLES.index(n)].describe() for n in bad}
    what = "angle" if heads == HOPENET_BINS else "/".join(bad)
    return f"{what} outside {', '.join(sorted(ranges))}"


def select_samples(dataset: Dataset, check_images: bool = True,
                   heads: tuple[Bins, Bins, Bins] = HOPENET_BINS) -> Selection:
    sel = Selection([], [(sid, f"unreadable labels: {why}") for sid, why in dataset.invalid])
    for s in dataset.samples:
        if s.image_path is None or not Path(s.image_path).is_file():
            sel.skipped.append((s.id, "missing image"))
            continue
        if check_images:
            try:
                with Image.open(s.image_path) as im:
                    im.size  # noqa: B018  (header only)
            except Exception as exc:
                sel.skipped.append((s.id, f"corrupt image: {type(exc).__name__}"))
                continue
        if box_points(s) is None:
            sel.skipped.append((s.id, "no landmarks for the crop box"))
            continue
        why = out_of_range(s.pose.as_array(), heads)
        if why:
            sel.skipped.append((s.id, why))
            continue
        sel.samples.append(s)
    return sel


def to_tensor(crop: np.ndarray) -> torch.Tensor:
    """(3, H, W) float32 from RGB uint8 HxWx3: /255 then ImageNet mean/std (torchvision's arithmetic)."""
    x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).to(torch.float32).div(255)
    return x.sub(torch.from_numpy(MEAN).view(3, 1, 1)).div(torch.from_numpy(STD).view(3, 1, 1))


def resize_random_crop(crop: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """PIL bilinear resize of the shorter side to ``round(size * 240 / 224)``, then a random
    ``size`` x ``size`` crop (torchvision ``Scale(240)`` + ``RandomCrop(224)`` at size 224)."""
    scale = int(round(size * 240 / 224))
    h, w = crop.shape[:2]
    ow, oh = (scale, int(scale * h / w)) if w <= h else (int(scale * w / h), scale)
    pil = Image.fromarray(np.ascontiguousarray(crop))
    if (ow, oh) != (w, h):
        pil = pil.resize((ow, oh), Image.BILINEAR)
    arr = np.asarray(pil)
    top = int(rng.integers(0, oh - size + 1))
    left = int(rng.integers(0, ow - size + 1))
    return arr[top : top + size, left : left + size]


PREPROCESS = ("hopenet", "whenet")


def whenet_input(crop: np.ndarray, size: int) -> torch.Tensor:
    """(3, S, S) float32: WHENet's own resize and normalisation of an RGB uint8 face crop (the
    method's ``face_crop`` over the whole crop, then ``to_batch``)."""
    from posebench.methods.whenet.preprocess import face_crop, to_batch

    h, w = crop.shape[:2]
    return to_batch([face_crop(crop, (0, 0, w, h), size)], channels_last=False)[0]


class TrainSet(torch.utils.data.Dataset):
    """Augmented training crops of ``samples``; ``set_epoch`` before each epoch. ``heads``: the
    network's (yaw, pitch, roll) bins; ``preprocess``: ``hopenet`` (Scale + RandomCrop +
    Normalize) or ``whenet`` (the method's resize and normalisation)."""

    def __init__(self, samples: list[Sample], input_size: int, augment: Augment, seed: int = 0,
                 heads: tuple[Bins, Bins, Bins] = HOPENET_BINS, preprocess: str = "hopenet"):
        if preprocess not in PREPROCESS:
            raise ValueError(f"preprocess must be one of {PREPROCESS}, got {preprocess!r}")
        self.samples = samples
        self.input_size = int(input_size)
        self.augment = augment
        self.seed = int(seed)
        self.heads = heads
        self.preprocess = preprocess
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples)

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def load(self, index: int) -> tuple[torch.Tensor, np.ndarray]:
        from posebench.imageio import read_image

        s = self.samples[index]
        image = read_image(s.image_path)  # the one reader of evaluation too (16-bit PNGs scaled, not clipped)
        pts = box_points(s)
        rng = self.rng(index)
        out = augment_face(image, landmark_box(pts), s.pose, self.augment, rng,
                           s.landmarks if s.landmarks is not None else None)
        if self.preprocess == "whenet":
            return whenet_input(out.image, self.input_size), out.pose.as_array()
        crop = resize_random_crop(out.image, self.input_size, rng)
        return to_tensor(crop), out.pose.as_array()

    def __getitem__(self, index: int):
        failed = -1
        for attempt in range(len(self.samples)):
            j = (index + attempt) % len(self.samples)
            try:
                x, ypr = self.load(j)
                break
            except Exception:
                if failed < 0:
                    failed = index
        else:  # pragma: no cover - every image unreadable
            raise RuntimeError("no readable image in the training set")
        ypr = np.asarray(ypr, dtype=np.float64).copy()
        for j, b in enumerate(self.heads):
            if b.wrap:  # a circular angle's label in its bins' range: a flipped -180 is -180, not +180
                ypr[j] = np.mod(ypr[j] - b.low, 360.0) + b.low
        # -99 flipped is +99, bin 66: clipped into the last bin (the original would fail there)
        bins = torch.from_numpy(np.array([np.clip(b.index([a])[0], 0, b.count - 1) for b, a in zip(self.heads, ypr)]))
        return x, bins, torch.tensor(ypr, dtype=torch.float32), index, failed
