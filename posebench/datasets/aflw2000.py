"""AFLW2000-3D: a folder of ``imageXXXXX.mat`` (+ optional ``imageXXXXX.jpg``).

Protocol ``aflw2000-hopenet-v1`` (the paper's): samples with any of yaw/pitch/roll outside
+-99 degrees are dropped (1969 of 2000 remain). Ground-truth landmarks are ``pt3d_68[:2]``.
The face box is Hopenet's loose test crop (:func:`posebench.crop.loose_box_hopenet`, k = 0.2)
around the 21 AFLW points ``pt2d``. Invisible AFLW points are stored as -1; Hopenet's original
code did not remove them, so a sample with an invisible point gets a box reaching x = -1 or
y = -1 (the crop is then zero-padded, as PIL does). ``crop=visible`` drops those points instead
(protocol ``aflw2000-visible-v1``). Images missing from the folder leave ``image_path = None``;
AFLW2000-3D images are all 450x450, which is assumed for labels-only samples.

The module is the dataset's whole story: the reader, its :data:`SOURCE` (3DDFA's archive), the
archive's folder rule (:func:`find_folder`) and the check of a local copy (:func:`verify`, with
the published counts :data:`LABELS` and :data:`IN_PROTOCOL`), registered together.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from posebench.acquire.source import IMAGE_SAMPLE, Report, Source, best_folder, check_images
from posebench.crop import landmark_box, loose_box_hopenet
from posebench.datasets.base import RANGE_LIMIT, Dataset, Sample, find_image, image_size_of, within_range
from posebench.datasets.degrade import DOWNSAMPLE_DOMAIN, with_downsample
from posebench.datasets.matfile import landmarks68, pose_of, read_mat, sparse_points
from posebench.errors import DataError, SampleFailure, UsageError
from posebench.options import Domain
from posebench.registry import register_dataset

IMAGE_SIZE = (450, 450)
LABELS = 2000  # published: 2000 faces, each an imageXXXXX.mat + imageXXXXX.jpg
IN_PROTOCOL = 1969  # of them with every angle within +-RANGE_LIMIT (the paper's test set)
THREEDDFA_PAGE = "http://www.cbsr.ia.ac.cn/users/xiangyuzhu/projects/3DDFA/main.htm"


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


def find_folder(extracted: Path) -> Path:
    """The folder of an extracted archive holding the ``imageXXXXX.mat`` files (flat, with the ``.jpg``)."""
    return best_folder(Counter(p.parent for p in extracted.rglob("image*.mat")), "imageXXXXX.mat label files")


def verify(report: Report) -> None:
    """Counts (2000 labels, 1969 in the +-99 protocol), every label parsed (pose, ``pt3d_68`` and
    ``pt2d`` shapes), labels and images paired, a few images decoded."""
    root = report.path
    mats = sorted(root.glob("image*.mat"))
    jpgs = sorted(root.glob("image*.jpg"))
    report.counts.update(labels=len(mats), images=len(jpgs))
    mat_stems = {p.stem for p in mats}
    jpg_stems = {p.stem for p in jpgs}
    if len(mats) != LABELS:
        report.problems.append(f"expected {LABELS} imageXXXXX.mat label files, found {len(mats)}")
    report.problem_list([f"{p.name}: no {p.stem}.mat label file" for p in jpgs if p.stem not in mat_stems],
                        "images without a .mat")
    if jpgs:
        report.problem_list([f"{p.name}: no {p.stem}.jpg image" for p in mats if p.stem not in jpg_stems],
                            "labels without a .jpg")
    bad, in_protocol, parsed = [], 0, 0
    for f in mats:
        try:
            m = read_mat(f, IMAGE_SIZE)
            pose = pose_of(m)
        except SampleFailure as exc:
            bad.append(exc.reason)
            continue
        parsed += 1
        pt3d = np.asarray(m.get("pt3d_68", np.empty(0)))
        pt2d = np.asarray(m.get("pt2d", np.empty(0)))
        if pt3d.shape != (3, 68):
            bad.append(f"{f.name}: pt3d_68 has shape {pt3d.shape}, expected (3, 68)")
        elif pt2d.shape != (2, 21):
            bad.append(f"{f.name}: pt2d has shape {pt2d.shape}, expected (2, 21)")
        in_protocol += within_range(pose, RANGE_LIMIT)
    report.problem_list(bad, "unusable label files")
    report.counts.update(parsed=parsed, in_protocol=in_protocol)
    report.facts.append(f"{len(mats)} labels (imageXXXXX.mat), {parsed} parse with Pose_Para")
    report.facts.append(f"{in_protocol} in protocol (every angle within +-{RANGE_LIMIT:g} deg; expected "
                        f"{IN_PROTOCOL} of {LABELS})")
    if len(mats) == LABELS and parsed == LABELS and in_protocol != IN_PROTOCOL:
        report.problems.append(f"{in_protocol} labels within +-{RANGE_LIMIT:g} deg, expected {IN_PROTOCOL}")
    if jpgs:
        report.facts.append(f"{len(jpgs)} images (imageXXXXX.jpg); {min(IMAGE_SAMPLE, len(jpgs))} decoded")
        check_images(report, jpgs)
    else:
        report.facts.append("0 images (labels only: landmark methods run, image methods need the .jpg files)")


SOURCE = Source(
    name="aflw2000",
    kind="dataset",
    title="AFLW2000-3D: 2000 AFLW faces with fitted 3DMM pose and 68 3D landmarks (Zhu et al., CVPR 2016)",
    homepage=THREEDDFA_PAGE,
    filename="AFLW2000-3D.zip",
    url="http://www.cbsr.ia.ac.cn/users/xiangyuzhu/projects/3DDFA/Database/AFLW2000-3D.zip",
    url_note="direct link on the 3DDFA project page (plain http); not checked from here",
    licence="research use only (AFLW images; annotations by the 3DDFA authors)",
    checksum_note=f"size and checksum unknown: checked by structure ({LABELS} .mat + {LABELS} .jpg, "
                  f"{IN_PROTOCOL} in the +-99 deg protocol)",
    manual=f"If the link is down: get AFLW2000-3D.zip from {THREEDDFA_PAGE}, then "
           "`posebench data prepare aflw2000 --from AFLW2000-3D.zip`.",
    find_folder=find_folder,
    verify=verify,
)


@register_dataset(
    "aflw2000",
    "AFLW2000-3D folder of imageXXXXX.mat (+ .jpg); paper protocol drops |angle| > 99 deg (1969/2000)",
    needs=("landmarks", "box"),
    domains={"crop": Domain(choices=("hopenet", "visible")), "filter": Domain(choices=("99", "none")),
             "downsample": DOWNSAMPLE_DOMAIN},
    source=SOURCE,
)
def aflw2000(data_dir: str | Path | None = None, crop: str = "hopenet", filter: str = "99",
              downsample: int = 1) -> Dataset:
    if data_dir is None:
        from posebench.acquire.defaults import default_dir

        data_dir = default_dir("aflw2000")
    return with_downsample(load_aflw2000(data_dir, crop=crop, filter=filter), downsample)
