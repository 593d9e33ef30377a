"""Dataset samples and the dataset container shared by all readers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from posebench.crop import Box

if TYPE_CHECKING:
    from posebench.fileio import DigestIndex
from posebench.pose import Pose

#: The :attr:`Dataset.parameters` key naming the Euler reading a dataset is scored in.
EULER_KEY = "euler"


@dataclass
class Sample:
    """One face with its ground truth.

    ``pose`` is canonical (degrees). ``landmarks`` are 68 2D points (pixels, y down) or None;
    ``box`` is the protocol's face box (pixels) or None (then a detector must find the face);
    ``image_path`` is None for labels-only data; ``image_size`` is ``(width, height)``.
    ``model_3d`` is the sample's exact 68-point face (y-up model frame) where known (synthetic).
    ``points`` is the dataset's own sparse 2D annotation as stored (pixels, N x 2; AFLW2000's
    ``pt2d``: 21 AFLW points, invisible ones at -1; 300W-LP's: 68), where it has one.
    """

    id: str
    pose: Pose
    image_size: tuple[int, int]
    image_path: Path | None = None
    landmarks: np.ndarray | None = None
    box: Box | None = None
    model_3d: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    points: np.ndarray | None = None


@dataclass
class Dataset:
    """A named, protocol-versioned list of samples.

    ``protocol`` names the exact evaluation rules (filtering, crop) and changes whenever they
    change, so cached predictions are never reused across protocols. ``parameters`` are what the
    loader was asked for (split, filter, seed, downsample ...), JSON values; they enter
    :meth:`fingerprint` and are stored as the run record's ``dataset_settings``. One of them is
    read by the scorer: ``parameters[EULER_KEY]`` (``"ypr"`` when absent) is the Euler reading in
    which truth and prediction are compared (:func:`posebench.pose.euler_reading`; BIWI's
    ``euler`` option).
    """

    name: str
    protocol: str
    samples: list[Sample]
    root: Path | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    excluded: int = 0  # samples dropped by the protocol's filter
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (id, reason) of unusable labels

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def subset(self, limit: int | None) -> "Dataset":
        """The first ``limit`` samples (None: all). ``limit`` must be a whole number >= 1
        (:class:`UsageError`: a negative one used to drop samples from the end, 0 to keep none)."""
        import numbers

        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1):
            from posebench.errors import UsageError

            raise UsageError(f"limit must be a whole number >= 1 (or None for all samples), got {limit!r}")
        if limit is None or limit >= len(self.samples):
            return self
        return Dataset(
            self.name, self.protocol, self.samples[:limit], self.root, dict(self.parameters), self.excluded, []
        )

    @property
    def n_with_images(self) -> int:
        return sum(s.image_path is not None for s in self.samples)

    def fingerprint(self, digests: "DigestIndex | None" = None) -> str:
        """Content hash (16 hex chars) of everything a method may read: every sample's id, pose,
        landmarks, box, sparse points, exact 3D face and image size (exact float bytes), and the
        SHA-256 of every image file's *bytes* (an image replaced by other content of the same
        name and size changes it). ``digests`` remembers image digests
        (:class:`posebench.fileio.DigestIndex`); without one, the shared index of
        :func:`posebench.fileio.file_digest` (kept across runs, saved here). An image that cannot
        be read enters as its error (the sample then fails when read)."""
        from posebench.fileio import digest_index

        index = digests if digests is not None else digest_index()
        h = hashlib.sha256()
        h.update(f"{self.name}|{self.protocol}|{sorted(self.parameters.items())}".encode())
        for s in self.samples:
            h.update(b"\x00id:" + s.id.encode())
            h.update(np.asarray(s.pose.as_array(), np.float64).tobytes())
            h.update(repr(tuple(int(v) for v in s.image_size)).encode())
            for tag, arr in (("lm", s.landmarks), ("box", s.box), ("pts", s.points), ("m3d", s.model_3d)):
                if arr is not None:
                    a = np.ascontiguousarray(arr, np.float64)
                    h.update(f"{tag}{a.shape}".encode() + a.tobytes())
            if s.image_path is not None:
                try:
                    h.update(b"img:" + index.digest(s.image_path).encode())
                except OSError as exc:
                    h.update(f"img-unreadable:{exc.errno}".encode())
        if digests is None:
            index.save()
        return h.hexdigest()[:16]


#: The paper's angle filter (Section 4.1: "we discard images with angles outside of this range"):
#: Hopenet's 66 bins of 3 degrees cover [-99, +99), so AFLW2000-3D's protocol keeps the faces with
#: every angle within +-99 degrees (1969 of 2000); 300W-LP and AFLW offer it as ``filter=99``.
RANGE_LIMIT = 99.0


def within_range(pose: Pose, limit: float = RANGE_LIMIT) -> bool:
    """All three angles within +-limit degrees."""
    return bool(np.all(np.abs(pose.as_array()) <= limit))


def parse_float_range(value: str | Sequence[float], name: str) -> tuple[float, float]:
    """``"-90,90"`` or ``"90"`` (symmetric) -> ``(-90.0, 90.0)``."""
    from posebench.errors import UsageError

    if isinstance(value, (tuple, list)):
        lo, hi = float(value[0]), float(value[1])
    else:
        try:
            parts = [float(v) for v in str(value).split(",")]
        except ValueError:
            raise UsageError(f"{name} must be 'LO,HI' or 'MAX' in degrees, got {value!r}") from None
        if len(parts) == 1:
            lo, hi = -abs(parts[0]), abs(parts[0])
        elif len(parts) == 2:
            lo, hi = parts
        else:
            raise UsageError(f"{name} must be 'LO,HI' or 'MAX' in degrees, got {value!r}")
    if not (np.isfinite(lo) and np.isfinite(hi)) or max(abs(lo), abs(hi)) > 180.0:
        raise UsageError(f"option {name}={value!r}: angles must be finite and within +-180 degrees")
    if lo > hi:
        raise UsageError(f"{name}: low {lo} is above high {hi}")
    return lo, hi


def image_size_of(path: Path, default: tuple[int, int]) -> tuple[int, int]:
    """Image (width, height) from its header without decoding; ``default`` when unreadable."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return im.size
    except Exception:
        return default


def find_image(label_path: Path, exts: Sequence[str] = (".jpg", ".png", ".jpeg")) -> Path | None:
    for ext in exts:
        p = label_path.with_suffix(ext)
        if p.is_file():
            return p
    return None
