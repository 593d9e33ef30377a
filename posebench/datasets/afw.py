"""AFW (Zhu & Ramanan, CVPR 2012: "Face detection, pose estimation, and landmark localization in
the wild"): 205 images, 468 faces, coarse yaw labels in steps of 15 degrees (paper Section 4.3,
Figure 7).

Official release format: a folder of ``<name>.jpg`` images plus ``anno.mat`` holding the
variable ``anno``, a cell array with one row per image:

* ``anno{i,1}``: the image file name (``'1004109301.jpg'``);
* ``anno{i,2}``: a cell with one face box per face, each ``[x1 y1; x2 y2]`` (pixels, 1-based
  MATLAB coordinates, kept as stored);
* ``anno{i,3}``: a cell with one pose per face, each ``[yaw pitch roll]`` in degrees;
* ``anno{i,4}``: a cell with one 6 x 2 array of landmarks per face (eye centres, nose tip,
  mouth corners and centre; unused here).

Sign: AFW's yaw is the opposite of posebench's (AFLW2000-3D) yaw: the Hopenet authors evaluate
with ``-yaw`` (natanielruiz/deep-head-pose issue #9), which posebench does at the edge. AFW has
no meaningful pitch or roll labels (benchmarks report yaw only), so the samples carry NaN there
(``aflw``-style angle errors are NaN; the ``afw-yaw`` study reads yaw alone).

Protocol ``afw-hopenet-v1``: every face; ``Sample.box`` is the Hopenet authors' AFW loose crop of
the face box (``code/datasets.py``, class ``AFW``: k = 0.32; x1 -= 0.8 k w; y1 -= 2 k h; then
x2 += 0.8 k w' and y2 += k h' with w', h' measured after the first two moves, as their code
does); the tight box is in ``meta["face_box"]``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from posebench.acquire.source import Report, Source, best_folder, check_images
from posebench.datasets.base import Dataset, Sample, image_size_of
from posebench.datasets.degrade import DOWNSAMPLE_DOMAIN, with_downsample
from posebench.errors import DataError
from posebench.pose import Pose
from posebench.registry import register_dataset

ANNO_FILE = "anno.mat"
K = 0.32
IMAGES, FACES = 205, 468  # published (Zhu & Ramanan 2012)
PAGE = "https://www.ics.uci.edu/~xzhu/face/"


def hopenet_afw_box(x1: float, y1: float, x2: float, y2: float, k: float = K) -> tuple[float, float, float, float]:
    """The authors' loose AFW crop (sequential updates, exactly as their loader)."""
    x1 -= 0.8 * k * abs(x2 - x1)
    y1 -= 2 * k * abs(y2 - y1)
    x2 += 0.8 * k * abs(x2 - x1)
    y2 += 1 * k * abs(y2 - y1)
    return (x1, y1, x2, y2)


def _cells(value) -> list:
    """A MATLAB cell (numpy object array, any shape) -> flat list of its entries."""
    arr = np.asarray(value, dtype=object)
    return [v for v in arr.ravel()]


def _name(value) -> str:
    v = value
    while isinstance(v, np.ndarray) and v.dtype == object and v.size == 1:
        v = v.ravel()[0]
    if isinstance(v, np.ndarray):
        v = "".join(v.ravel().tolist()) if v.dtype.kind == "U" else v.ravel()[0]
    return str(v)


def _image_name(value, path: Path, row: int) -> str:
    """Row ``row``'s (1-based) image file name: text that names a file; else :class:`DataError`
    naming the file and the row (the images cannot be matched to their labels without it)."""
    v = value
    while isinstance(v, np.ndarray) and v.dtype == object and v.size == 1:
        v = v.ravel()[0]
    if not (isinstance(v, str) or (isinstance(v, np.ndarray) and v.dtype.kind == "U")):
        raise DataError(f"{path}: row {row}: the image name (anno{{{row},1}}) is not text "
                        f"({type(v).__name__}{f' of {v.dtype}' if isinstance(v, np.ndarray) else ''})")
    name = _name(v).strip()
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise DataError(f"{path}: row {row}: the image name (anno{{{row},1}}) {name!r} is not a file name")
    return name


def _numbers(value, size: int, what: str) -> np.ndarray | str:
    """``value`` as ``size`` finite-or-NaN floats, or the reason it is not (a face label that
    cannot be read is that face's recorded failure, not the whole dataset's)."""
    try:
        a = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        return f"{what} is not numbers ({np.asarray(value).dtype})"
    if a.size < size:
        return f"{what} has {a.size} numbers, not {size}"
    return a


def read_anno(path: Path) -> list[tuple[str, list[np.ndarray | str], list[np.ndarray | str]]]:
    """``[(image name, [2x2 boxes], [3 poses in degrees])]`` from an AFW ``anno.mat``. A face's
    box or pose that cannot be read is the reason (``str``, naming the row) in its place;
    a damaged file, a row without a readable image name, or a row whose box and pose counts
    differ is a :class:`DataError` naming the file and the row."""
    import scipy.io as sio

    try:
        m = sio.loadmat(str(path))
    except Exception as exc:
        raise DataError(f"{path}: unreadable .mat ({type(exc).__name__})") from None
    if "anno" not in m:
        raise DataError(f"{path}: no variable 'anno' (the AFW annotation cell array)")
    anno = np.asarray(m["anno"], dtype=object)
    if anno.ndim != 2 or anno.shape[1] < 3:
        raise DataError(f"{path}: 'anno' should be an N x 4 cell array, got shape {anno.shape}")
    out = []
    for i, row in enumerate(anno, start=1):
        name = _image_name(row[0], path, i)
        boxes: list[np.ndarray | str] = []
        for j, b in enumerate(_cells(row[1]), start=1):
            a = _numbers(b, 4, f"anno row {i} box {j}")
            boxes.append(a if isinstance(a, str) else a[:4].reshape(2, 2) if a.size == 4
                         else f"anno row {i} box {j} has {a.size} numbers, not 4")
        poses = [_numbers(p, 3, f"anno row {i} pose {j}") for j, p in enumerate(_cells(row[2]), start=1)]
        poses = [p if isinstance(p, str) else p[:3] for p in poses]
        if len(boxes) != len(poses):
            raise DataError(f"{path}: row {i} ({name}) has {len(boxes)} boxes but {len(poses)} poses")
        out.append((name, boxes, poses))
    return out


def load_afw(data_dir: str | Path) -> Dataset:
    root = Path(data_dir)
    anno = root / ANNO_FILE
    if not anno.is_file():
        raise DataError(f"no {ANNO_FILE} in {root} (AFW: images and anno.mat in one folder)")
    samples: list[Sample] = []
    invalid: list[tuple[str, str]] = []
    for name, boxes, poses in read_anno(anno):
        img = root / name
        img = img if img.is_file() else None
        size = image_size_of(img, (0, 0)) if img else (0, 0)
        for j, (b, p) in enumerate(zip(boxes, poses)):
            sid = f"{Path(name).stem}_{j + 1}"
            if isinstance(b, str) or isinstance(p, str):
                invalid.append((sid, b if isinstance(b, str) else p))
                continue
            if not np.isfinite(b).all():
                invalid.append((sid, "face box is not finite"))
                continue
            if p.size < 1 or not np.isfinite(p[0]):
                invalid.append((sid, "no finite yaw label"))
                continue
            (x1, y1), (x2, y2) = b
            samples.append(Sample(
                id=sid,
                pose=Pose(-float(p[0]), float("nan"), float("nan")),
                image_size=size,
                image_path=img,
                box=hopenet_afw_box(x1, y1, x2, y2),
                meta={"face_box": [float(x1), float(y1), float(x2), float(y2)], "afw_pose": p.tolist()},
            ))
    if not samples and not invalid:
        raise DataError(f"{anno}: no faces")
    return Dataset("afw", "afw-hopenet-v1", samples, root, {}, 0, invalid)


def find_folder(extracted: Path) -> Path:
    """The folder of an extracted archive holding ``anno.mat`` (the images lie beside it)."""
    return best_folder(Counter(p.parent for p in extracted.rglob(ANNO_FILE)), f"{ANNO_FILE} annotation file")


def verify(report: Report) -> None:
    """``anno.mat`` parsed by the reader: images and faces against the published 205 and 468, each
    annotated image present, a few decoded."""
    root = report.path
    try:
        rows = read_anno(root / ANNO_FILE) if (root / ANNO_FILE).is_file() else None
    except DataError as exc:
        report.problems.append(str(exc))
        return
    if rows is None:
        report.problems.append(f"no {ANNO_FILE} in {root}")
        return
    faces = sum(len(boxes) for _, boxes, _ in rows)
    present = [root / name for name, _, _ in rows if (root / name).is_file()]
    report.counts.update(images=len(present), labels=faces)
    report.facts.append(f"{ANNO_FILE}: {len(rows)} images, {faces} faces (published: {IMAGES} and {FACES}); "
                        f"{len(present)} images present")
    if (len(rows), faces) != (IMAGES, FACES):
        report.problems.append(f"{ANNO_FILE} lists {len(rows)} images with {faces} faces, expected {IMAGES} "
                               f"with {FACES}")
    report.problem_list([f"{name}: image missing" for name, _, _ in rows if not (root / name).is_file()],
                        "missing images")
    report.problem_list([f"{name}: {x}" for name, boxes, poses in rows for x in boxes + poses if isinstance(x, str)],
                        "unreadable face labels")
    check_images(report, present)


SOURCE = Source(
    name="afw",
    kind="dataset",
    title="AFW: Annotated Faces in the Wild, 205 Flickr images (Zhu & Ramanan, CVPR 2012)",
    homepage=PAGE,
    filename="AFW.zip",
    url=f"{PAGE}AFW.zip",
    url_note="linked from the Zhu & Ramanan project page; not checked from here",
    licence="research use (Flickr images; see the project page)",
    checksum_note=f"size and checksum unknown: checked by structure ({ANNO_FILE}: {IMAGES} images, {FACES} faces)",
    manual=f"If the link is down: get AFW.zip from {PAGE}, then `posebench data prepare afw --from AFW.zip`.",
    find_folder=find_folder,
    verify=verify,
)


@register_dataset("afw", "AFW (468 faces, yaw only, 15-degree steps): images + official anno.mat", needs=("box",),
                  domains={"downsample": DOWNSAMPLE_DOMAIN}, source=SOURCE)
def afw(data_dir: str | Path | None = None, downsample: int = 1) -> Dataset:
    if data_dir is None:
        from posebench.acquire.defaults import default_dir

        data_dir = default_dir("afw")
    return with_downsample(load_afw(data_dir), downsample)
