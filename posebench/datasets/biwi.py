"""BIWI Kinect Head Pose database: ``<root>/<subject>/frame_XXXXX_rgb.png + frame_XXXXX_pose.txt``.

A pose file holds the 3x3 head rotation (three rows) and then the head centre (mm). BIWI's
rotation ``R_b`` maps head-model coordinates to the Kinect camera frame; its axes differ from the
canonical y-up model frame by ``F = diag(1, -1, -1)``, so the canonical rotation is
``F @ R_b @ F``. This gives exactly the angles of Hopenet's BIWI loader
(yaw and roll negated from a ZYX decomposition of ``R_b.T``). BIWI has no landmarks and no face
box: image methods need a detector (protocol ``biwi-v1``: all frames, no filter). Protocols 1 and 2
of the paper (Tables 2, 3): :mod:`posebench.datasets.biwi_split`. The variants papers score, each
named in the protocol (docs/biwi.md): FSA-Net's detected subset (``protocol=fsa-mtcnn``,
:mod:`posebench.datasets.biwi_fsa`), a user's frame list (``protocol=frames``, HeadPose+'s
layout), the Euler reading of the scores (``euler=pyr``, :func:`posebench.pose.euler_reading`)
and the labels in the RGB camera's frame (``calibration=rgb``, each recording's ``rgb.cal``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import numpy as np

from posebench.acquire.source import Report, Source, best_folder, check_images, spread
from posebench.crop import Box
from posebench.datasets.base import EULER_KEY, Dataset, Sample, image_size_of
from posebench.datasets.biwi_split import CALIBRATIONS, PROTOCOLS
from posebench.datasets.degrade import DOWNSAMPLE_DOMAIN, with_downsample
from posebench.errors import DataError, SampleFailure
from posebench.options import Domain
from posebench.pose import EULER_ORDERS, FLIP_YZ, Pose, pose_from_matrix
from posebench.registry import register_dataset

IMAGE_SIZE = (640, 480)
SEQUENCES = 24  # published: 24 recordings (20 people, some recorded twice)
VERIFY_SAMPLE = 200  # pose files parsed by :func:`verify`


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


def read_biwi_calibration(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(R 3x3, t 3 mm) of a recording's ``rgb.cal``: BIWI's official layout is the 3x3 RGB
    intrinsics, 4 distortion terms, the 3x3 rotation and the translation (mm) of the RGB camera
    with respect to the depth camera, then the image size. :class:`DataError` naming the file
    when it is missing or not in that layout."""
    try:
        rows = [[float(v) for v in line.split()] for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        raise DataError(f"calibration=rgb needs {path.parent.name}/{path.name} (part of BIWI's archive): not found") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path.parent.name}/{path.name}: unreadable calibration ({type(exc).__name__})") from None
    if len(rows) < 8 or [len(r) for r in rows[:8]] != [3, 3, 3, 4, 3, 3, 3, 3]:
        raise DataError(f"{path.parent.name}/{path.name}: expected 3 intrinsics rows, 4 distortion terms, "
                        "3 rotation rows and a translation row")
    R, t = np.array(rows[4:7]), np.array(rows[7])
    if np.abs(R @ R.T - np.eye(3)).max() > 1e-3 or np.linalg.det(R) < 0:
        raise DataError(f"{path.parent.name}/{path.name}: the extrinsic rotation is not a rotation")
    return R, t


def biwi_to_canonical(R_b: np.ndarray, R_rgb: np.ndarray | None = None) -> Pose:
    """BIWI head rotation -> canonical pose (degrees). ``R_rgb`` (a recording's ``rgb.cal``
    rotation, :func:`read_biwi_calibration`) first carries the depth-camera rotation into the RGB
    camera's frame, ``R_rgb @ R_b`` (the calibration HeadPose+ applies for Biwi+)."""
    R = np.asarray(R_b, float) if R_rgb is None else np.asarray(R_rgb, float) @ np.asarray(R_b, float)
    return pose_from_matrix(FLIP_YZ @ R @ FLIP_YZ)


def read_frame_list(path: str | Path) -> tuple[str, dict[str, Box | None]]:
    """(SHA-256 of the file, ``{sample id: box or None}``) of a frame list in HeadPose+'s ``.npz``
    layout (kuhnkeF/headposeplus ``data/Biwi_*.npz``: ``images`` = ``"01/frame_00003_rgb.png"``
    ..., optional ``bbox`` = N x 4 ``(x, y, w, h)`` pixels). HeadPose+ is AGPL-3.0: posebench
    ships none of its files and reads only a user's own copy. :class:`DataError` (one line) for
    a missing or unreadable file or a file without ``images``."""
    import hashlib

    p = Path(path)
    try:
        data = p.read_bytes()
        with np.load(p, allow_pickle=False) as z:
            images = [str(v) for v in np.atleast_1d(z["images"])]
            boxes = np.asarray(z["bbox"], float) if "bbox" in z.files else None
    except FileNotFoundError:
        raise DataError(f"frame list not found: {p}") from None
    except KeyError:
        raise DataError(f"{p.name}: no 'images' array (expected HeadPose+'s Biwi_*.npz layout)") from None
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{p.name}: not a readable .npz frame list ({type(exc).__name__})") from None
    if boxes is not None and boxes.shape != (len(images), 4):
        raise DataError(f"{p.name}: 'bbox' has shape {boxes.shape}, expected ({len(images)}, 4)")
    ids = [im[: -len("_rgb.png")] if im.endswith("_rgb.png") else im for im in images]
    out: dict[str, Box | None] = {}
    for k, sid in enumerate(ids):
        b = None if boxes is None else boxes[k]
        out[sid] = None if b is None else (float(b[0]), float(b[1]), float(b[0] + b[2]), float(b[1] + b[3]))
    return hashlib.sha256(data).hexdigest(), out


def _variant_suffix(euler: str, calibration: str) -> str:
    """The protocol-name suffix of the non-default Euler reading and calibration."""
    return (f"+cal-{calibration}" if calibration != "none" else "") + (f"+{euler}" if euler != "ypr" else "")


def load_biwi(data_dir: str | Path, protocol: str = "p1", seed: int = 0, test_fraction: float = 0.3,
              groups: str = "", euler: str = "ypr", calibration: str = "none", detector: str = "mtcnn",
              frames: str = "") -> Dataset:
    """Read a BIWI folder under one protocol (:mod:`posebench.datasets.biwi_split`): ``p1`` (all
    frames), ``fsa-mtcnn`` (FSA-Net's subset and crop found with ``detector``,
    :mod:`posebench.datasets.biwi_fsa`) or ``p2-test``/``p2-train`` (a seeded split of the
    recordings). ``euler`` (``ypr`` | ``pyr``) is the Euler reading the run is scored in
    (:func:`posebench.pose.euler_reading`); ``calibration`` (``none`` | ``rgb``) carries the
    labels into the RGB camera's frame. A non-default variant is named in the protocol name
    (``+cal-rgb``, ``+pyr``) and in the parameters. ``frames`` (protocol ``frames``) is a user's
    frame list in HeadPose+'s layout (:func:`read_frame_list`): its frames, with its boxes as the
    protocol boxes. :class:`UsageError` for an unknown value,
    :class:`DataError` for a missing folder, file or detector weights."""
    from posebench.datasets.biwi_split import parse_groups, split_units
    from posebench.errors import UsageError

    for what, value, allowed in (("protocol", protocol, PROTOCOLS), ("euler", euler, EULER_ORDERS),
                                 ("calibration", calibration, CALIBRATIONS)):
        if value not in allowed:
            raise UsageError(f"BIWI {what} must be one of {', '.join(allowed)}, got {value!r}")
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    files = sorted(root.glob("*/frame_*_pose.txt"))
    if not files:
        raise DataError(f"no <subject>/frame_XXXXX_pose.txt files in {root}")
    cal: dict[str, np.ndarray | None] = {}
    samples, invalid = [], []
    for f in files:
        sid = f"{f.parent.name}/{f.name[: -len('_pose.txt')]}"
        if f.parent.name not in cal:
            cal[f.parent.name] = read_biwi_calibration(f.parent / "rgb.cal")[0] if calibration == "rgb" else None
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
                pose=biwi_to_canonical(R, cal[f.parent.name]),
                image_size=image_size_of(img, IMAGE_SIZE) if img else IMAGE_SIZE,
                image_path=img,
                meta={"subject": f.parent.name, "head_centre_mm": t.tolist()},
            )
        )
    variant = {k: v for k, v in (("calibration", calibration), (EULER_KEY, euler))
               if v != {"calibration": "none", EULER_KEY: "ypr"}[k]}
    suffix = _variant_suffix(euler, calibration)
    if protocol == "p1":
        return Dataset("biwi", f"biwi-v1{suffix}", samples, root, variant, 0, invalid)
    if protocol == "frames":
        if not frames:
            raise UsageError("BIWI protocol=frames needs frames=PATH (a frame list such as HeadPose+'s Biwi_FSA-Net.npz)")
        digest, listed = read_frame_list(frames)
        have = {s.id for s in samples} | {sid for sid, _ in invalid}
        missing = [sid for sid in listed if sid not in have]
        if missing:
            raise DataError(f"{Path(frames).name} lists {len(missing)} frame(s) not in {root} (first: {missing[0]})")
        keep = [dataclasses.replace(s, box=listed[s.id]) for s in samples if s.id in listed]
        parameters = {"protocol": protocol, "frames_sha256": digest, **variant}
        return Dataset("biwi", f"biwi-frames-{digest[:12]}-v1{suffix}", keep, root, parameters,
                       len(samples) - len(keep), [iv for iv in invalid if iv[0] in listed])
    if protocol == "fsa-mtcnn":
        from posebench.datasets.biwi_fsa import VERSION, fsa_subset

        keep = fsa_subset(samples, detector)
        parameters = {"protocol": protocol, "detector": detector, **variant}
        return Dataset("biwi", f"biwi-fsa-{detector}-{VERSION}{suffix}", keep, root, parameters,
                       len(samples) - len(keep), invalid)
    folders = sorted({s.meta["subject"] for s in samples})
    units = parse_groups(groups, folders)
    train, test = split_units(units, seed, float(test_fraction))
    part = test if protocol == "p2-test" else train
    keep = [s for s in samples if s.meta["subject"] in part]
    parameters = {"protocol": protocol, "seed": int(seed), "test_fraction": float(test_fraction),
                  "groups": str(groups), "train_subjects": train, "test_subjects": test, **variant}
    name = f"biwi-{protocol}-s{int(seed)}-v1{suffix}"
    return Dataset("biwi", name, keep, root, parameters, len(samples) - len(keep),
                   [iv for iv in invalid if iv[0].split("/")[0] in part])


def find_folder(extracted: Path) -> Path:
    """The folder of an extracted archive whose subject folders hold ``frame_XXXXX_pose.txt``
    (``hpdb/`` in the original archive, ``kinect_head_pose_db/hpdb/`` in some mirrors)."""
    return best_folder(Counter(p.parent.parent for p in extracted.rglob("frame_*_pose.txt")),
                       "<subject>/frame_XXXXX_pose.txt files")


def verify(report: Report) -> None:
    """Sequence folders (24), pose files with their RGB frame, a sample of pose files parsed
    (:func:`read_biwi_pose`'s checks: orthonormal, not a reflection), a few images decoded."""
    root = report.path
    poses = sorted(root.glob("*/frame_*_pose.txt"))
    subjects = sorted({p.parent.name for p in poses})
    report.counts.update(sequences=len(subjects), labels=len(poses))
    if len(subjects) != SEQUENCES:
        report.problems.append(f"{len(subjects)} sequence folders with pose files, expected {SEQUENCES}")
    rgb = [p.with_name(p.name.replace("_pose.txt", "_rgb.png")) for p in poses]
    missing = [f"{p.parent.name}/{p.name}: no {p.name.replace('_pose.txt', '_rgb.png')}"
               for p, r in zip(poses, rgb) if not r.is_file()]
    report.problem_list(missing, "frames without an image")
    bad = []
    sample = spread(poses, VERIFY_SAMPLE)
    for f in sample:
        try:
            read_biwi_pose(f)
        except SampleFailure as exc:
            bad.append(f"{f.parent.name}/{exc.reason}")
    report.problem_list(bad, "unusable pose files")
    report.counts.update(images=len(poses) - len(missing))
    report.facts.append(f"{len(subjects)} sequences, {len(poses)} pose files, {len(poses) - len(missing)} with "
                        f"an rgb image; {len(sample) - len(bad)} of a sample of {len(sample)} pose files parse")
    check_images(report, [r for r in rgb if r.is_file()])


SOURCE = Source(
    name="biwi",
    kind="dataset",
    title="BIWI Kinect Head Pose: 24 Kinect sequences of 20 people, ~15k RGB-D frames (Fanelli et al., IJCV 2013)",
    homepage="https://icu.ee.ethz.ch/research/datsets.html",
    filename="kinect_head_pose_db.tgz",
    url_note=("the original archive was https://data.vision.ee.ethz.ch/cvl/gfanelli/kinect_head_pose_db.tgz; "
              "availability uncertain, the page asks for a non-commercial use agreement; a copy is commonly "
              "found on Kaggle (kmader/biwi-kinect-head-pose-database)"),
    licence="non-commercial use such as university research and education",
    size=6014398431,
    sha256="d8fc0fee11b6b865b18b292de7c21dd2181492bd770c4fe13821e8dc630f5549",
    checksum_note=("size and SHA-256 of the original kinect_head_pose_db.tgz as recorded by the Hugging Face "
                   "`datasets` loader; mirrors repackage it, so other files are checked by structure"),
    manual=(
        "Request the database at https://icu.ee.ethz.ch/research/datsets.html (non-commercial agreement) or use "
        "the Kaggle copy (kaggle.com/datasets/kmader/biwi-kinect-head-pose-database, needs a Kaggle login); "
        "then run `posebench data prepare biwi --from kinect_head_pose_db.tgz` (a .zip from a mirror also works)."
    ),
    find_folder=find_folder,
    verify=verify,
)


@register_dataset("biwi", "BIWI Kinect head pose: <subject>/frame_XXXXX_rgb.png + _pose.txt; no landmarks, no box; "
                  "protocol=p1 (all frames) | fsa-mtcnn (FSA-Net's detected subset and crop) | frames (a user's frame list, "
                  "frames=PATH) | p2-test | p2-train "
                  "(seeded 70/30 split of recordings); euler=ypr|pyr (scoring reading); calibration=none|rgb; "
                  "see docs/biwi.md",
                  domains={"protocol": Domain(choices=PROTOCOLS), "seed": Domain(ge=0), "test_fraction": Domain(gt=0, lt=1),
                           "euler": Domain(choices=EULER_ORDERS), "calibration": Domain(choices=CALIBRATIONS),
                           "downsample": DOWNSAMPLE_DOMAIN},
                  source=SOURCE)
def biwi(data_dir: str | Path | None = None, protocol: str = "p1", seed: int = 0, test_fraction: float = 0.3,
         groups: str = "", euler: str = "ypr", calibration: str = "none", detector: str = "mtcnn",
         frames: str = "", downsample: int = 1) -> Dataset:
    if data_dir is None:
        from posebench.acquire.defaults import default_dir

        data_dir = default_dir("biwi")
    return with_downsample(load_biwi(data_dir, protocol=protocol, seed=seed, test_fraction=test_fraction, groups=groups,
                                     euler=euler, calibration=calibration, detector=detector, frames=frames),
                           downsample)
