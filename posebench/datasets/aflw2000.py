"""AFLW2000-3D: a folder of ``imageXXXXX.mat`` (+ optional ``imageXXXXX.jpg``).

Protocol ``aflw2000-hopenet-v1`` (the paper's): samples with any of yaw/pitch/roll outside
+-99 degrees are dropped (1969 of 2000 remain). Ground-truth landmarks are ``pt3d_68[:2]``.
The face box is Hopenet's loose test crop (:func:`posebench.crop.loose_box_hopenet`, k = 0.2)
around the 21 AFLW points ``pt2d``. Invisible AFLW points are stored as -1; Hopenet's original
code did not remove them, so a sample with an invisible point gets a box reaching x = -1 or
y = -1 (the crop is then zero-padded, as PIL does). ``crop=visible`` drops those points instead
(protocol ``aflw2000-visible-v1``). Images missing from the folder leave ``image_path = None``;
AFLW2000-3D images are all 450x450, which is assumed for labels-only samples.
"""

from __future__ import annotations

from pathlib import Path

from posebench.crop import landmark_box, loose_box_hopenet
from posebench.datasets.base import Dataset, Sample, find_image, image_size_of, within_range
from posebench.datasets.degrade import DOWNSAMPLE_DOMAIN, with_downsample
from posebench.datasets.matfile import landmarks68, pose_of, read_mat, sparse_points
from posebench.errors import DataError, SampleFailure, UsageError
from posebench.options import Domain
from posebench.registry import register_dataset

IMAGE_SIZE = (450, 450)
RANGE_LIMIT = 99.0


def label_files(root: Path) -> list[Path]:
    if not root.exists():
        raise DataError(f"data folder not found: {root}")
    if not root.is_dir():
        raise DataError(f"not a folder: {root}")
    files = sorted(root.glob("image*.mat"))
    if not files:
        raise DataError(f"no imageXXXXX.mat label files in {root}")
    return files


def load_aflw2000(data_dir: str | Path, crop: str = "hopenet", filter: str = "99") -> Dataset:
    """Read an AFLW2000-3D folder. ``filter``: ``99`` (paper protocol) or ``none`` (all 2000)."""
    if crop not in ("hopenet", "visible"):
        raise UsageError(f"crop must be 'hopenet' or 'visible', got {crop!r}")
    if str(filter) not in ("99", "none"):
        raise UsageError(f"filter must be '99' or 'none', got {filter!r}")
    root = Path(data_dir)
    samples: list[Sample] = []
    invalid: list[tuple[str, str]] = []
    excluded = 0
    for f in label_files(root):
        try:
            m = read_mat(f, IMAGE_SIZE)  # labels are defined on the release's 450x450 images
            pose = pose_of(m)
        except SampleFailure as exc:
            invalid.append((f.stem, exc.reason))
            continue
        if str(filter) == "99" and not within_range(pose, RANGE_LIMIT):
            excluded += 1
            continue
        img = find_image(f, (".jpg", ".png"))
        pts = sparse_points(m)
        box = None
        if pts is not None:
            try:
                box = loose_box_hopenet(landmark_box(pts, visible_only=(crop == "visible")))
            except ValueError:
                box = None
        samples.append(
            Sample(
                id=f.stem,
                pose=pose,
                image_size=image_size_of(img, IMAGE_SIZE) if img else IMAGE_SIZE,
                image_path=img,
                landmarks=landmarks68(m, f.name),
                box=box,
                points=pts,
            )
        )
    protocol = f"aflw2000-{crop}-v1" + ("" if str(filter) == "99" else "-all")
    return Dataset("aflw2000", protocol, samples, root, {"crop": crop, "filter": str(filter)}, excluded, invalid)


@register_dataset(
    "aflw2000",
    "AFLW2000-3D folder of imageXXXXX.mat (+ .jpg); paper protocol drops |angle| > 99 deg (1969/2000)",
    needs=("landmarks", "box"),
    domains={"crop": Domain(choices=("hopenet", "visible")), "filter": Domain(choices=("99", "none")),
             "downsample": DOWNSAMPLE_DOMAIN},
)
def aflw2000(data_dir: str | Path | None = None, crop: str = "hopenet", filter: str = "99",
              downsample: int = 1) -> Dataset:
    if data_dir is None:
        from posebench.acquire.defaults import default_dir

        data_dir = default_dir("aflw2000")
    return with_downsample(load_aflw2000(data_dir, crop=crop, filter=filter), downsample)
