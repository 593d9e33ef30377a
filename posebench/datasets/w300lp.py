"""300W-LP: the official tree ``<root>/<subset>/<name>.jpg + <name>.mat`` (2x68 ``pt2d``).

**Samples** are the label files of the official subset folders only: AFW, HELEN, IBUG, LFPW
and their flipped copies AFW_Flip, HELEN_Flip, IBUG_Flip, LFPW_Flip (:data:`SUBSETS`). Every
other ``.mat`` under the root -- the release's ``Code/`` (e.g. ``Code/ModelGeneration/model_info.mat``),
``landmarks/``, anything a user added -- is not a sample and is ignored silently. ``--data-dir``
may also name one subset folder itself.

**Ground-truth landmarks.** The image ``.mat``'s ``pt2d`` is the 2D annotation (on the jaw:
the visible contour), not the projection of the fitted 3D face. The release's
``landmarks/<subset>/<name>_pts.mat`` holds ``pts_3d`` (68x2 pixels): the 3D-consistent
landmarks (the fitted face's 68 vertices projected), which is what a 3D mean face fits. With
``landmarks=auto`` (default) the reader uses ``pts_3d`` where that file exists and ``pt2d``
elsewhere (the release has no ``landmarks/*_Flip`` folders, so flipped samples keep ``pt2d``);
``landmarks=pt2d`` always uses ``pt2d`` (the earlier behaviour). Each sample's ``meta["landmarks"]``
and the dataset parameters (``landmark_sources``: counts) say which was used. On the IBUG sample
the two differ by up to 49 px on the jaw and a weak-perspective fit of the Basel mean face
gives yaw -41.8 from points rebuilt from the 3DMM parameters vs -28.0 from ``pt2d`` (label
-44.0): ``docs/inputs.md``. An unusable ``_pts.mat`` is a recorded label failure naming it.

Protocol ``300w-lp-v2``: no angle filter by default (``filter=99`` keeps |angle| <= 99 as
Hopenet's training did); the face box is Hopenet's training crop at its mid margin k = 0.3
around ``pt2d`` (as the original, whatever the landmarks):
x -= 0.6k*w, y_min -= 2k*h, x_max += 0.6k*w', y_max += 0.6k*h' (sequential, as in the original).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from posebench.acquire.source import Report, Source, best_folder, check_images, spread
from posebench.crop import Box, landmark_box
from posebench.datasets.base import RANGE_LIMIT, Dataset, Sample, find_image, image_size_of, within_range
from posebench.datasets.degrade import DOWNSAMPLE_DOMAIN, with_downsample
from posebench.datasets.matfile import landmarks68, pose_of, read_mat, sparse_points
from posebench.errors import DataError, SampleFailure, UsageError
from posebench.options import Domain
from posebench.registry import register_dataset

IMAGE_SIZE = (450, 450)
BASE_SUBSETS = ("AFW", "HELEN", "IBUG", "LFPW")
#: The official subset folders: the label files in them are the dataset's samples.
SUBSETS = BASE_SUBSETS + tuple(f"{b}_Flip" for b in BASE_SUBSETS)
#: Published faces per subset (each also in ``<subset>_Flip``): 61,225 in all, 122,450 with flips.
SUBSET_SIZES = {"AFW": 5207, "HELEN": 37676, "IBUG": 1786, "LFPW": 16556}
VERIFY_SAMPLE = 200  # labels parsed by :func:`verify` (parsing 122,450 would be slow)
PAGE = "http://www.cbsr.ia.ac.cn/users/xiangyuzhu/projects/3DDFA/Database/300W-LP/main.htm"
LANDMARK_SOURCES = ("auto", "pt2d")


def label_files(root: Path, wanted: set[str] | None = None) -> list[Path]:
    """The official label files under ``root`` (a 300W-LP root, or one subset folder itself):
    ``<subset>/<name>.mat`` for the subsets in :data:`SUBSETS` (and in ``wanted``, if given)."""
    if root.name in SUBSETS and not any((root / s).is_dir() for s in SUBSETS):
        folders = [root]
    else:
        folders = [root / s for s in SUBSETS if (root / s).is_dir()]
    return sorted(p for d in folders if wanted is None or d.name in wanted
                  for p in d.glob("*.mat") if p.is_file())


def pts_file(label: Path) -> Path:
    """``<root>/landmarks/<subset>/<name>_pts.mat`` of a label file ``<root>/<subset>/<name>.mat``."""
    return label.parent.parent / "landmarks" / label.parent.name / f"{label.stem}_pts.mat"


def read_pts_3d(path: Path) -> np.ndarray:
    """``pts_3d`` (68x2 pixels, or stored 2x68) of a ``_pts.mat``; :class:`SampleFailure` naming
    the file and the field when unusable."""
    import scipy.io as sio

    try:
        m = sio.loadmat(str(path))
    except Exception as exc:  # noqa: BLE001  (any unreadable file is a per-sample failure)
        raise SampleFailure(f"{path.name}: unreadable .mat ({type(exc).__name__})") from None
    if "pts_3d" not in m:
        raise SampleFailure(f"{path.name}: no pts_3d field")
    try:
        a = np.asarray(m["pts_3d"], dtype=float)
    except (TypeError, ValueError):
        raise SampleFailure(f"{path.name}: pts_3d is not numeric") from None
    if a.shape == (2, 68):
        a = a.T
    if a.shape != (68, 2):
        raise SampleFailure(f"{path.name}: pts_3d has shape {a.shape}, expected 68x2")
    if not np.all(np.isfinite(a)):
        raise SampleFailure(f"{path.name}: pts_3d has NaN or inf")
    return a.copy()


def loose_box_300wlp(box: Box, k: float = 0.3) -> Box:
    """Hopenet's 300W-LP training crop with a fixed ``k`` (the original draws k in [0.2, 0.4])."""
    x0, y0, x1, y1 = box
    x0 -= 0.6 * k * abs(x1 - x0)
    y0 -= 2 * k * abs(y1 - y0)
    x1 += 0.6 * k * abs(x1 - x0)
    y1 += 0.6 * k * abs(y1 - y0)
    return (x0, y0, x1, y1)


def load_300w_lp(data_dir: str | Path, filter: str = "none", subsets: str | None = None,
                 landmarks: str = "auto") -> Dataset:
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    if str(filter) not in ("99", "none"):
        raise UsageError(f"filter must be '99' or 'none', got {filter!r}")
    if landmarks not in LANDMARK_SOURCES:
        raise UsageError(f"landmarks must be one of {', '.join(LANDMARK_SOURCES)}, got {landmarks!r}")
    wanted = None if not subsets else {s.strip() for s in str(subsets).split(",")}
    if wanted is not None and not wanted <= set(SUBSETS):
        raise UsageError(f"unknown 300W-LP subset(s) {sorted(wanted - set(SUBSETS))}; choose from {', '.join(SUBSETS)}")
    files = label_files(root, wanted)
    if not files:
        raise DataError(f"no 300W-LP label files under {root} (expected <subset>/<name>.mat with subset one of "
                        f"{', '.join(SUBSETS)})")
    samples, invalid, excluded = [], [], 0
    sources = {"pts_3d": 0, "pt2d": 0}
    for f in files:
        sid = f"{f.parent.name}/{f.stem}"
        try:
            m = read_mat(f, IMAGE_SIZE)  # labels are defined on the release's 450x450 images
            pose = pose_of(m)
        except SampleFailure as exc:
            invalid.append((sid, exc.reason))
            continue
        if str(filter) == "99" and not within_range(pose, RANGE_LIMIT):
            excluded += 1
            continue
        img = find_image(f, (".jpg", ".png"))
        pts = sparse_points(m)
        box = loose_box_300wlp(landmark_box(pts)) if pts is not None else None
        lm, source = (landmarks68(m, f.name) if pts is None or len(pts) != 68 else pts), "pt2d"
        if landmarks == "auto" and pts_file(f).is_file():
            try:
                lm, source = read_pts_3d(pts_file(f)), "pts_3d"
            except SampleFailure as exc:
                invalid.append((sid, exc.reason))
                continue
        sources[source] += lm is not None
        samples.append(
            Sample(
                id=sid,
                pose=pose,
                image_size=image_size_of(img, IMAGE_SIZE) if img else IMAGE_SIZE,
                image_path=img,
                landmarks=lm,
                box=box,
                meta={"subset": f.parent.name, "landmarks": source if lm is not None else "none"},
                points=pts,
            )
        )
    parameters = {"filter": str(filter), "subsets": subsets or "all", "landmarks": landmarks,
                "landmark_sources": sources}
    return Dataset("300w-lp", "300w-lp-v2" + ("-f99" if str(filter) == "99" else ""), samples, root,
                   parameters, excluded, invalid)


def find_folder(extracted: Path) -> Path:
    """The folder of an extracted archive whose subset folders (AFW, HELEN, IBUG, LFPW, ``*_Flip``)
    hold the ``.mat`` labels (the release's ``Code/`` and ``landmarks/`` are not label folders)."""
    counts: Counter = Counter()
    for p in extracted.rglob("*.mat"):
        rel = p.relative_to(extracted).parts
        if len(rel) < 2 or p.parent.name not in SUBSETS or "landmarks" in rel:
            continue
        counts[p.parent.parent] += 1
    return best_folder(counts, "<subset>/<name>.mat label files")


def verify(report: Report) -> None:
    """Counts per official subset folder against :data:`SUBSET_SIZES` (support files such as the
    release's ``Code/`` are not mentioned), labels and images paired, a sample of labels parsed,
    and the ``landmarks/<subset>/<name>_pts.mat`` files the reader uses for ground-truth landmarks."""
    root = report.path
    mats = label_files(root)
    by_subset: dict[str, list[Path]] = {}
    for p in mats:
        by_subset.setdefault(p.parent.name, []).append(p)
    report.counts.update(labels=len(mats))
    for base, n in SUBSET_SIZES.items():
        for sub in (base, f"{base}_Flip"):
            found = len(by_subset.get(sub, []))
            report.facts.append(f"{sub}: {found} labels (expected {n})")
            if found != n:
                report.problems.append(f"{sub}: {found} .mat label files, expected {n}")
    no_image = [f"{p.relative_to(root)}: no .jpg image" for p in mats if not p.with_suffix(".jpg").is_file()]
    report.problem_list(no_image, "labels without an image")
    folders = {p.parent for p in mats}
    jpgs = sorted(p for d in folders for p in d.glob("*.jpg"))
    report.counts.update(images=len(jpgs))
    report.problem_list([f"{p.relative_to(root)}: no .mat label file" for p in jpgs
                         if not p.with_suffix(".mat").is_file()], "images without a .mat")
    bad = []
    sample = spread(mats, VERIFY_SAMPLE)
    for f in sample:
        try:
            pose_of(m := read_mat(f, IMAGE_SIZE))
        except SampleFailure as exc:
            bad.append(exc.reason)
            continue
        pt2d = np.asarray(m.get("pt2d", np.empty(0)))
        if pt2d.shape != (2, 68):
            bad.append(f"{f.relative_to(root)}: pt2d has shape {pt2d.shape}, expected (2, 68)")
        if pts_file(f).is_file():
            try:
                read_pts_3d(pts_file(f))
            except SampleFailure as exc:
                bad.append(f"landmarks/{f.parent.name}/{exc.reason}")
    report.problem_list(bad, "unusable label files")
    with_pts = sum(pts_file(f).is_file() for f in mats)
    report.counts.update(landmarks_pts_3d=with_pts)
    report.facts.append(f"{len(mats)} labels in all, {len(jpgs)} images; {len(sample) - len(bad)} of a sample "
                        f"of {len(sample)} labels parse")
    report.facts.append(f"{with_pts} labels have landmarks/<subset>/<name>_pts.mat (pts_3d: used as ground-truth "
                        f"landmarks); the other {len(mats) - with_pts} use pt2d")
    check_images(report, jpgs)


SOURCE = Source(
    name="300w-lp",
    kind="dataset",
    title="300W-LP: 61,225 synthesised large-pose faces from 300W, plus flips (Zhu et al., CVPR 2016)",
    homepage=PAGE,
    filename="300W-LP.zip",
    url_note="the project page links the archive on Google Drive and Baidu Yun (browser needed)",
    licence="research use only (derived from 300W: AFW, HELEN, IBUG, LFPW)",
    checksum_note="size and checksum unknown: checked by structure (subset folders of .jpg + .mat)",
    manual=(f"Open {PAGE}, follow its Google Drive or Baidu Yun link to the 300W-LP archive, then run "
            "`posebench data prepare 300w-lp --from 300W-LP.zip`."),
    find_folder=find_folder,
    verify=verify,
)


@register_dataset("300w-lp", "300W-LP tree of <subset>/<name>.jpg + .mat (2x68 pt2d); training/test source",
                  needs=("landmarks", "box"), domains={"filter": Domain(choices=("99", "none")),
                                                       "landmarks": Domain(choices=LANDMARK_SOURCES),
                                                       "downsample": DOWNSAMPLE_DOMAIN},
                  source=SOURCE)
def w300lp(data_dir: str | Path | None = None, filter: str = "none", subsets: str = "",
           landmarks: str = "auto", downsample: int = 1) -> Dataset:
    if data_dir is None:
        from posebench.acquire.defaults import default_dir

        data_dir = default_dir("300w-lp")
    return with_downsample(load_300w_lp(data_dir, filter=filter, subsets=subsets or None, landmarks=landmarks), downsample)
