"""A torch dataset of augmented face crops over any posebench dataset (training and validation
data come from the normal readers, e.g. ``300w-lp`` or ``aflw2000``).

Sample selection (:func:`select_samples`) lists what is skipped and why: no image file, an empty
or unreadable image header, no 68 landmarks / points for the crop box, unreadable labels (the
reader's ``invalid`` list), and angles outside the 66 bins (``-99 <= a < 99``, the paper's
+-99 degree range; the authors did this filtering outside their code, through the
``--filename_list`` of pre-filtered file names; posebench filters on the labels it reads).

Each item is ``(image, bins, angles, index, failed)``: a float32 (3, S, S) ImageNet-normalised
tensor (the original training transform: PIL bilinear resize of the shorter side to
``round(S * 240 / 224)`` (``Scale(240)`` at S = 224), a random S x S crop, ``ToTensor``,
``Normalize``), int64 (3,) bin indices, float32 (3,) degrees (yaw, pitch, roll), the index, and
the index of a sample whose image could not be decoded (-1 if none): such a sample is replaced by
the next readable one, so an epoch never stops on a corrupt file.
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
from .bins import angle_bins, in_bin_range

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


def select_samples(dataset: Dataset, check_images: bool = True) -> Selection:
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
        if not in_bin_range(s.pose.as_array()):
            sel.skipped.append((s.id, "angle outside [-99, 99)"))
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


class TrainSet(torch.utils.data.Dataset):
    """Augmented training crops of ``samples``; ``set_epoch`` before each epoch."""

    def __init__(self, samples: list[Sample], input_size: int, augment: Augment, seed: int = 0):
        self.samples = samples
        self.input_size = int(input_size)
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples)

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def load(self, index: int) -> tuple[torch.Tensor, np.ndarray]:
        s = self.samples[index]
        with Image.open(s.image_path) as im:
            image = np.asarray(im.convert("RGB"))
        pts = box_points(s)
        rng = self.rng(index)
        out = augment_face(image, landmark_box(pts), s.pose, self.augment, rng,
                           s.landmarks if s.landmarks is not None else None)
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
        # -99 flipped is +99, bin 66: clipped into the last bin (the original would fail there)
        bins = torch.from_numpy(np.clip(angle_bins(ypr), 0, 65))
        return x, bins, torch.tensor(ypr, dtype=torch.float32), index, failed
