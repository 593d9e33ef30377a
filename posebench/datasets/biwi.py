"""BIWI Kinect Head Pose database: ``<root>/<subject>/frame_XXXXX_rgb.png + frame_XXXXX_pose.txt``.

A pose file holds the 3x3 head rotation (three rows) and then the head centre (mm). BIWI's
rotation ``R_b`` maps head-model coordinates to the Kinect camera frame; its axes differ from the
canonical y-up model frame by ``F = diag(1, -1, -1)``, so the canonical rotation is
``F @ R_b @ F``. This gives exactly the angles of Hopenet's BIWI loader
(yaw and roll negated from a ZYX decomposition of ``R_b.T``). BIWI has no landmarks and no face
box: image methods need a detector (protocol ``biwi-v1``: all frames, no filter). Protocols 1 and 2
of the paper (Tables 2, 3): :mod:`posebench.datasets.biwi_split`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posebench.datasets.base import Dataset, Sample, image_size_of
from posebench.datasets.biwi_split import PROTOCOLS
from posebench.datasets.degrade import DOWNSAMPLE_DOMAIN, with_downsample
from posebench.errors import DataError, SampleFailure
from posebench.options import Domain
from posebench.pose import FLIP_YZ, Pose, pose_from_matrix
from posebench.registry import register_dataset

IMAGE_SIZE = (640, 480)


def read_biwi_pose(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(R_b 3x3, head centre 3) from a ``frame_XXXXX_pose.txt``."""
    try:
        rows = [[float(v) for v in line.split()] for line in path.read_text().splitlines() if line.strip()]
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise SampleFailure(f"{path.name}: unreadable pose file ({type(exc).__name__})") from None
    if len(rows) < 4 or any(len(r) != 3 for r in rows[:4]):
        raise SampleFailure(f"{path.name}: expected 3 rotation rows and a centre row of 3 numbers")
    a = np.array(rows[:4], dtype=float)
    if not np.all(np.isfinite(a)):
        raise SampleFailure(f"{path.name}: non-finite values")
    R, t = a[:3], a[3]
    if np.abs(R @ R.T - np.eye(3)).max() > 1e-3:
        raise SampleFailure(f"{path.name}: rotation is not orthonormal")
    if np.linalg.det(R) < 0:
        raise SampleFailure(f"{path.name}: rotation is a reflection (determinant -1), not a head pose")
    return R, t


def biwi_to_canonical(R_b: np.ndarray) -> Pose:
    """BIWI head rotation -> canonical pose (degrees)."""
    return pose_from_matrix(FLIP_YZ @ np.asarray(R_b, float) @ FLIP_YZ)


def load_biwi(data_dir: str | Path, protocol: str = "p1", seed: int = 0, test_fraction: float = 0.3,
              groups: str = "") -> Dataset:
    """Read a BIWI folder under protocol ``p1`` (all frames) or ``p2-test``/``p2-train`` (a seeded
    split of the recordings; :mod:`posebench.datasets.biwi_split`)."""
    from posebench.datasets.biwi_split import parse_groups, split_units
    from posebench.errors import UsageError

    if protocol not in PROTOCOLS:
        raise UsageError(f"BIWI protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    files = sorted(root.glob("*/frame_*_pose.txt"))
    if not files:
        raise DataError(f"no <subject>/frame_XXXXX_pose.txt files in {root}")
    samples, invalid = [], []
    for f in files:
        sid = f"{f.parent.name}/{f.name[: -len('_pose.txt')]}"
        try:
            R, t = read_biwi_pose(f)
        except SampleFailure as exc:
            invalid.append((sid, exc.reason))
            continue
        img = f.with_name(f.name.replace("_pose.txt", "_rgb.png"))
        img = img if img.is_file() else None
        samples.append(
            Sample(
                id=sid,
                pose=biwi_to_canonical(R),
                image_size=image_size_of(img, IMAGE_SIZE) if img else IMAGE_SIZE,
                image_path=img,
                meta={"subject": f.parent.name, "head_centre_mm": t.tolist()},
            )
        )
    if protocol == "p1":
        return Dataset("biwi", "biwi-v1", samples, root, {}, 0, invalid)
    folders = sorted({s.meta["subject"] for s in samples})
    units = parse_groups(groups, folders)
    train, test = split_units(units, seed, float(test_fraction))
    part = test if protocol == "p2-test" else train
    keep = [s for s in samples if s.meta["subject"] in part]
    settings = {"protocol": protocol, "seed": int(seed), "test_fraction": float(test_fraction),
                "groups": str(groups), "train_subjects": train, "test_subjects": test}
    name = f"biwi-{protocol}-s{int(seed)}-v1"
    return Dataset("biwi", name, keep, root, settings, len(samples) - len(keep),
                   [iv for iv in invalid if iv[0].split("/")[0] in part])


@register_dataset("biwi", "BIWI Kinect head pose: <subject>/frame_XXXXX_rgb.png + _pose.txt; no landmarks, no box; "
                  "protocol=p1 (all frames) | p2-test | p2-train (seeded 70/30 split of recordings)",
                  domains={"protocol": Domain(choices=PROTOCOLS), "seed": Domain(ge=0), "test_fraction": Domain(gt=0, lt=1),
                           "downsample": DOWNSAMPLE_DOMAIN})
def biwi(data_dir: str | Path | None = None, protocol: str = "p1", seed: int = 0, test_fraction: float = 0.3,
         groups: str = "", downsample: int = 1) -> Dataset:
    if data_dir is None:
        from posebench.acquire.defaults import default_dir

        data_dir = default_dir("biwi")
    return with_downsample(load_biwi(data_dir, protocol=protocol, seed=seed, test_fraction=test_fraction, groups=groups),
                           downsample)
