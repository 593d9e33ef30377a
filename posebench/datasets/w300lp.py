"""300W-LP: the official tree ``<root>/<subset>/<name>.jpg + <name>.mat`` (2x68 ``pt2d``).

Subsets are AFW, HELEN, IBUG, LFPW and their ``_Flip`` copies; any folder of jpg+mat pairs
under the root is read (the ``landmarks/`` folder is ignored). Protocol ``300w-lp-v1``: no
angle filter by default (``filter=99`` keeps |angle| <= 99 as Hopenet's training did); the face
box is Hopenet's training crop at its mid margin k = 0.3 around ``pt2d``:
x -= 0.6k*w, y_min -= 2k*h, x_max += 0.6k*w', y_max += 0.6k*h' (sequential, as in the original).
"""

from __future__ import annotations

from pathlib import Path

from posebench.crop import Box, landmark_box
from posebench.datasets.base import Dataset, Sample, find_image, image_size_of, within_range
from posebench.datasets.matfile import landmarks68, pose_of, read_mat, sparse_points
from posebench.errors import DataError, SampleFailure, UsageError
from posebench.options import Domain
from posebench.registry import register_dataset

IMAGE_SIZE = (450, 450)


def loose_box_300wlp(box: Box, k: float = 0.3) -> Box:
    """Hopenet's 300W-LP training crop with a fixed ``k`` (the original draws k in [0.2, 0.4])."""
    x0, y0, x1, y1 = box
    x0 -= 0.6 * k * abs(x1 - x0)
    y0 -= 2 * k * abs(y1 - y0)
    x1 += 0.6 * k * abs(x1 - x0)
    y1 += 0.6 * k * abs(y1 - y0)
    return (x0, y0, x1, y1)


def load_300w_lp(data_dir: str | Path, filter: str = "none", subsets: str | None = None) -> Dataset:
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    if str(filter) not in ("99", "none"):
        raise UsageError(f"filter must be '99' or 'none', got {filter!r}")
    wanted = None if not subsets else {s.strip() for s in str(subsets).split(",")}
    files = sorted(
        p for p in root.rglob("*.mat")
        if "landmarks" not in p.relative_to(root).parts and (wanted is None or p.parent.name in wanted)
    )
    if not files:
        raise DataError(f"no 300W-LP .mat label files under {root}")
    samples, invalid, excluded = [], [], 0
    for f in files:
        sid = str(f.relative_to(root).with_suffix(""))
        try:
            m = read_mat(f, IMAGE_SIZE)  # labels are defined on the release's 450x450 images
            pose = pose_of(m)
        except SampleFailure as exc:
            invalid.append((sid, exc.reason))
            continue
        if str(filter) == "99" and not within_range(pose, 99.0):
            excluded += 1
            continue
        img = find_image(f, (".jpg", ".png"))
        pts = sparse_points(m)
        box = loose_box_300wlp(landmark_box(pts)) if pts is not None else None
        samples.append(
            Sample(
                id=sid,
                pose=pose,
                image_size=image_size_of(img, IMAGE_SIZE) if img else IMAGE_SIZE,
                image_path=img,
                landmarks=landmarks68(m, f.name) if pts is None or len(pts) != 68 else pts,
                box=box,
                meta={"subset": f.parent.name},
                points=pts,
            )
        )
    return Dataset("300w-lp", "300w-lp-v1" + ("-f99" if str(filter) == "99" else ""), samples, root,
                   {"filter": str(filter), "subsets": subsets or "all"}, excluded, invalid)


@register_dataset("300w-lp", "300W-LP tree of <subset>/<name>.jpg + .mat (2x68 pt2d); training/test source",
                  needs=("landmarks", "box"), domains={"filter": Domain(choices=("99", "none"))})
def w300lp(data_dir: str | Path | None = None, filter: str = "none", subsets: str = "") -> Dataset:
    if data_dir is None:
        from posebench.paths import default_dir

        data_dir = default_dir("300w-lp")
    return load_300w_lp(data_dir, filter=filter, subsets=subsets or None)
