"""AFLW (Koestinger et al., ICCVW 2011: "Annotated Facial Landmarks in the Wild"), paper Table 4.

Official release format: ``aflw.sqlite`` beside the ``flickr/`` image folder. Tables read here:

* ``Faces(face_id, file_id)``; ``FaceImages(file_id, filepath, width, height)`` with
  ``filepath`` relative to ``flickr/`` (e.g. ``0/image00002.jpg``);
* ``FacePose(face_id, roll, pitch, yaw)`` in radians (AFLW's pose came from fitting a mean 3D
  face to the annotated landmarks); ``FaceRect(face_id, x, y, w, h)`` in pixels.

Convention: canonical ``(yaw, pitch, roll) = degrees(yaw, pitch, -roll)``, the Hopenet authors'
AFLW loader (``code/datasets.py``, class ``AFLW``: "Fix the roll in AFLW": roll negated; their
per-face text files hold AFLW's radians; the script that wrote them is not public).

The test split (Table 4): the authors' loader says "test: 1,966" faces, but their file lists are
not in their repository (natanielruiz/deep-head-pose at f7bbb99 has no list; the maintainer sent
lists by e-mail, issue #1). posebench therefore takes the list as data: ``split=PATH``, a text
file with one entry per line, a ``face_id`` or an image ``filepath`` (all faces of that image);
its SHA-256 goes into the protocol name (``aflw-list<sha12>-v1``) and the dataset parameters,
so every number names the exact list it was computed on. ``split=all`` (default) keeps every
face. ``filter=99`` drops faces with any angle beyond +-99 degrees (Hopenet's bin range).
``Sample.box`` is AFLW's ``FaceRect``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np

from posebench.acquire.source import Report, Source, best_folder, check_images
from posebench.datasets.base import RANGE_LIMIT, Dataset, Sample, within_range
from posebench.datasets.degrade import DOWNSAMPLE_DOMAIN, with_downsample
from posebench.errors import DataError, UsageError
from posebench.options import Domain
from posebench.pose import Pose
from posebench.registry import register_dataset

SQLITE = "aflw.sqlite"
PAGE = "https://www.tugraz.at/institute/icg/research/team-bischof/lrs/downloads/aflw/"
QUERY = """
SELECT f.face_id, i.filepath, i.width, i.height, p.yaw, p.pitch, p.roll, r.x, r.y, r.w, r.h
FROM Faces f
JOIN FaceImages i ON i.file_id = f.file_id
JOIN FacePose p ON p.face_id = f.face_id
LEFT JOIN FaceRect r ON r.face_id = f.face_id
ORDER BY f.face_id
"""


def find_sqlite(root: Path) -> Path:
    for p in (root / SQLITE, root / "data" / SQLITE):
        if p.is_file():
            return p
    raise DataError(f"no {SQLITE} in {root} (AFLW: aflw.sqlite beside the flickr/ folder)")


def read_split(path: str | Path) -> tuple[list[str], str]:
    """Entries of a split list (blank lines and ``#`` comments skipped) and the file's SHA-256."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"AFLW split list not found: {p}")
    data = p.read_bytes()
    lines = [ln.strip() for ln in data.decode("utf-8", "replace").splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")], hashlib.sha256(data).hexdigest()


def canonical_aflw(yaw: float, pitch: float, roll: float) -> Pose:
    """AFLW radians -> canonical degrees (roll negated, as the Hopenet authors' loader). An empty
    (NULL) angle, as SQLite stores a NaN, is NaN (the label is then a recorded per-sample failure,
    :func:`posebench.labels.check_labels`; it was a TypeError refusing the whole dataset)."""
    def deg(v) -> float:
        return float("nan") if v is None else float(np.degrees(float(v)))

    return Pose(deg(yaw), deg(pitch), -deg(roll))


def load_aflw(data_dir: str | Path, split: str = "all", filter: str = "none") -> Dataset:
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    if str(filter) not in ("99", "none"):
        raise UsageError(f"filter must be '99' or 'none', got {filter!r}")
    db = find_sqlite(root)
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = con.execute(QUERY).fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise DataError(f"{db}: not a readable AFLW database ({exc})") from None
    wanted: set[str] | None = None
    parameters: dict = {"split": "all", "filter": str(filter)}
    protocol = "aflw-all-v1"
    if split != "all":
        entries, sha = read_split(split)
        wanted = set(entries)
        parameters = {"split": Path(split).name, "split_sha256": sha, "split_entries": len(entries), "filter": str(filter)}
        protocol = f"aflw-list{sha[:12]}-v1"
    if str(filter) == "99":
        protocol += "-f99"
    samples, excluded = [], 0
    matched: set[str] = set()
    for face_id, filepath, w, h, yaw, pitch, roll, x, y, bw, bh in rows:
        keys = {str(face_id), filepath, str(Path(filepath).with_suffix(""))}
        if wanted is not None:
            hit = keys & wanted
            if not hit:
                continue
            matched |= hit
        pose = canonical_aflw(yaw, pitch, roll)
        if str(filter) == "99" and not within_range(pose, RANGE_LIMIT):
            excluded += 1
            continue
        img = root / "flickr" / filepath
        box = None if x is None else (float(x), float(y), float(x) + float(bw), float(y) + float(bh))
        samples.append(Sample(id=str(face_id), pose=pose, image_size=(int(w), int(h)),
                              image_path=img if img.is_file() else None, box=box,
                              meta={"filepath": filepath}))
    if wanted is not None and wanted - matched:
        missing = sorted(wanted - matched)
        raise DataError(f"{len(missing)} entries of the split list are not in {db.name}, e.g. {missing[:3]}")
    return Dataset("aflw", protocol, samples, root, parameters, excluded, [])


def find_folder(extracted: Path) -> Path:
    """The folder of an extracted archive holding ``aflw.sqlite`` (beside ``flickr/``)."""
    return best_folder({p.parent: 1 for p in extracted.rglob(SQLITE)}, f"{SQLITE} database")


def verify(report: Report) -> None:
    """The database read by the reader (every face with a pose), faces whose image is present
    under ``flickr/``, a few images decoded. AFLW's published size is about 25k faces; the
    count is reported, not judged."""
    try:
        ds = load_aflw(report.path)
    except DataError as exc:
        report.problems.append(str(exc))
        return
    with_image = [s.image_path for s in ds.samples if s.image_path is not None]
    boxed = sum(s.box is not None for s in ds.samples)
    report.counts.update(labels=len(ds), images=len(with_image))
    report.facts.append(f"{SQLITE}: {len(ds)} faces with a pose, {boxed} with a FaceRect, {len(with_image)} with "
                        "their image under flickr/")
    if not ds.samples:
        report.problems.append(f"{SQLITE} holds no face with a pose")
    missing = [f"flickr/{s.meta['filepath']}: image missing" for s in ds.samples if s.image_path is None]
    report.problem_list(missing, "faces without an image")
    check_images(report, sorted(set(with_image)))


SOURCE = Source(
    name="aflw",
    kind="dataset",
    title="AFLW: Annotated Facial Landmarks in the Wild, ~25k faces (Koestinger et al., 2011)",
    homepage=PAGE,
    filename="aflw.tar.gz",
    url_note="registration required (signed licence agreement); no direct link",
    licence="research use only, after registration with TU Graz",
    checksum_note=f"size and checksum unknown: checked by structure ({SQLITE} read, images under flickr/)",
    manual=(f"Register at {PAGE} and download the archive they send you, then run "
            "`posebench data prepare aflw --from FILE`."),
    find_folder=find_folder,
    verify=verify,
)


@register_dataset("aflw", "AFLW (official aflw.sqlite + flickr/); split=PATH for a test list (SHA-256 recorded)",
                  needs=("box",), domains={"filter": Domain(choices=("99", "none")), "downsample": DOWNSAMPLE_DOMAIN},
                  source=SOURCE)
def aflw(data_dir: str | Path | None = None, split: str = "all", filter: str = "none",
         downsample: int = 1) -> Dataset:
    if data_dir is None:
        from posebench.acquire.defaults import default_dir

        data_dir = default_dir("aflw")
    return with_downsample(load_aflw(data_dir, split=split, filter=filter), downsample)
