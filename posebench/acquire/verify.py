"""Check a local copy of a dataset or weight file: counts, parsable annotations, protocol counts.

:func:`verify_source` returns a :class:`Report`: ``facts`` (what was found, one line each) and
``problems`` (one line each; empty means the copy looks complete). Expected counts are the
published ones: AFLW2000-3D has 2000 faces of which 1969 have every angle within +-99 deg
(the paper's protocol); 300W-LP has 61,225 faces (AFW 5,207, HELEN 37,676, IBUG 1,786,
LFPW 16,556) plus as many flipped copies; BIWI has 24 sequences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posebench.acquire.catalogue import Source
from posebench.errors import SampleFailure

AFLW2000_LABELS = 2000
AFLW2000_IN_PROTOCOL = 1969
W300LP_SUBSETS = {"AFW": 5207, "HELEN": 37676, "IBUG": 1786, "LFPW": 16556}
BIWI_SEQUENCES = 24
MAX_LISTED = 20  # problems of one kind listed individually before summarising
SAMPLE = 200  # annotations parsed per dataset where parsing all would be slow
IMAGE_SAMPLE = 5


@dataclass
class Report:
    name: str
    path: Path
    facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem_list(self, lines: list[str], what: str) -> None:
        """Add up to MAX_LISTED lines, then one summary line for the rest."""
        self.problems.extend(lines[:MAX_LISTED])
        if len(lines) > MAX_LISTED:
            self.problems.append(f"... and {len(lines) - MAX_LISTED} more {what}")


def spread(items: list, n: int) -> list:
    """``n`` items evenly spread over the list (all of them when shorter)."""
    if len(items) <= n:
        return list(items)
    idx = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in idx]


def _check_images(report: Report, images: list[Path]) -> None:
    from posebench.imageio import read_image

    for p in spread(images, IMAGE_SAMPLE):
        try:
            read_image(p)
        except SampleFailure as exc:
            report.problems.append(f"{p.name}: {exc.reason}")


def verify_aflw2000(report: Report) -> None:
    from posebench.datasets.aflw2000 import IMAGE_SIZE
    from posebench.datasets.base import within_range
    from posebench.datasets.matfile import pose_of, read_mat

    root = report.path
    mats = sorted(root.glob("image*.mat"))
    jpgs = sorted(root.glob("image*.jpg"))
    report.counts.update(labels=len(mats), images=len(jpgs))
    mat_stems = {p.stem for p in mats}
    jpg_stems = {p.stem for p in jpgs}
    if len(mats) != AFLW2000_LABELS:
        report.problems.append(f"expected {AFLW2000_LABELS} imageXXXXX.mat label files, found {len(mats)}")
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
        in_protocol += within_range(pose, 99.0)
    report.problem_list(bad, "unusable label files")
    report.counts.update(parsed=parsed, in_protocol=in_protocol)
    report.facts.append(f"{len(mats)} labels (imageXXXXX.mat), {parsed} parse with Pose_Para")
    report.facts.append(f"{in_protocol} in protocol (every angle within +-99 deg; expected "
                        f"{AFLW2000_IN_PROTOCOL} of {AFLW2000_LABELS})")
    if len(mats) == AFLW2000_LABELS and parsed == AFLW2000_LABELS and in_protocol != AFLW2000_IN_PROTOCOL:
        report.problems.append(f"{in_protocol} labels within +-99 deg, expected {AFLW2000_IN_PROTOCOL}")
    if jpgs:
        report.facts.append(f"{len(jpgs)} images (imageXXXXX.jpg); {min(IMAGE_SAMPLE, len(jpgs))} decoded")
        _check_images(report, jpgs)
    else:
        report.facts.append("0 images (labels only: landmark methods run, image methods need the .jpg files)")


def verify_300w_lp(report: Report) -> None:
    """Counts per official subset folder (the release's ``Code/`` and other support files are
    not labels and are not mentioned), images, a sample of parsed labels, and the
    ``landmarks/<subset>/<name>_pts.mat`` files the reader uses for ground-truth landmarks."""
    from posebench.datasets.aflw2000 import IMAGE_SIZE
    from posebench.datasets.matfile import pose_of, read_mat
    from posebench.datasets.w300lp import label_files, pts_file, read_pts_3d

    root = report.path
    mats = label_files(root)
    by_subset: dict[str, list[Path]] = {}
    for p in mats:
        by_subset.setdefault(p.parent.name, []).append(p)
    report.counts.update(labels=len(mats))
    for base, n in W300LP_SUBSETS.items():
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
    sample = spread(mats, SAMPLE)
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
    _check_images(report, jpgs)


def verify_biwi(report: Report) -> None:
    from posebench.datasets.biwi import read_biwi_pose

    root = report.path
    poses = sorted(root.glob("*/frame_*_pose.txt"))
    subjects = sorted({p.parent.name for p in poses})
    report.counts.update(sequences=len(subjects), labels=len(poses))
    if len(subjects) != BIWI_SEQUENCES:
        report.problems.append(f"{len(subjects)} sequence folders with pose files, expected {BIWI_SEQUENCES}")
    rgb = [p.with_name(p.name.replace("_pose.txt", "_rgb.png")) for p in poses]
    missing = [f"{p.parent.name}/{p.name}: no {p.name.replace('_pose.txt', '_rgb.png')}"
               for p, r in zip(poses, rgb) if not r.is_file()]
    report.problem_list(missing, "frames without an image")
    bad = []
    sample = spread(poses, SAMPLE)
    for f in sample:
        try:
            read_biwi_pose(f)
        except SampleFailure as exc:
            bad.append(f"{f.parent.name}/{exc.reason}")
    report.problem_list(bad, "unusable pose files")
    report.counts.update(images=len(poses) - len(missing))
    report.facts.append(f"{len(subjects)} sequences, {len(poses)} pose files, {len(poses) - len(missing)} with "
                        f"an rgb image; {len(sample) - len(bad)} of a sample of {len(sample)} pose files parse")
    _check_images(report, [r for r in rgb if r.is_file()])


def verify_unread(report: Report) -> None:
    """Datasets without a reader: count files by extension."""
    files = [p for p in report.path.rglob("*") if p.is_file()]
    by_ext: dict[str, int] = {}
    for p in files:
        by_ext[p.suffix.lower() or "(none)"] = by_ext.get(p.suffix.lower() or "(none)", 0) + 1
    report.counts.update(files=len(files))
    top = ", ".join(f"{n} {ext}" for ext, n in sorted(by_ext.items(), key=lambda kv: -kv[1])[:6])
    report.facts.append(f"{len(files)} files ({top or 'none'}); posebench has no reader for this dataset yet")
    if not files:
        report.problems.append("the folder is empty")


def verify_weights(report: Report) -> None:
    """The check loading makes (:func:`posebench.methods.hopenet.weights.check_checkpoint`):
    ``torch.load(weights_only=True)`` (never runs pickled code), then every tensor name and shape
    of the Hopenet network, no more and no fewer; what ``verify`` calls ok, ``run`` loads."""
    from posebench.errors import WeightsError
    from posebench.methods.hopenet.weights import check_checkpoint

    path = report.path
    report.facts.append(f"{path.name}: {path.stat().st_size} bytes")
    try:
        state = check_checkpoint(path, "hopenet")
    except WeightsError as exc:
        report.problems.append(str(exc))
        return
    report.counts.update(tensors=len(state))
    report.facts.append(f"{len(state)} tensors, loadable with weights_only=True; they fit the hopenet network exactly")


def verify_whenet_h5(report: Report) -> None:
    """Read the Keras file with h5py and map every layer onto WHENet (names, order, shapes)."""
    from posebench.errors import WeightsError
    from posebench.methods.whenet.nets import WHENet
    from posebench.methods.whenet.weights import keras_to_state_dict, read_keras_layers

    path = report.path
    report.facts.append(f"{path.name}: {path.stat().st_size} bytes")
    try:
        layers = read_keras_layers(path)
        state = keras_to_state_dict(layers, WHENet().eval(), str(path))
    except WeightsError as exc:
        report.problems.append(str(exc))
        return
    report.counts.update(layers=len(layers), tensors=len(state))
    report.facts.append(f"{len(layers)} Keras layers with weights, mapped onto {len(state)} WHENet tensors")


#: How a weight file of a catalogue ``layout`` is checked.
WEIGHT_VERIFIERS: dict[str, Callable[[Report], None]] = {
    "weights": verify_weights,
    "whenet-h5": verify_whenet_h5,
}

def verify_onnx(report: Report, sha256: str | None = None) -> None:
    """An ONNX model file (e.g. YuNet): the published SHA-256 where known, and that it parses."""
    from posebench.acquire.download import sha256_of

    path = report.path
    report.facts.append(f"{path.name}: {path.stat().st_size} bytes")
    if sha256 is not None:
        digest = sha256_of(path)
        if digest != sha256.lower():
            report.problems.append(f"{path.name}: SHA-256 {digest[:16]}..., expected {sha256[:16]}...")
            return
        report.facts.append("SHA-256 matches the catalogue")
    try:
        import onnx

        onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001  (any parse failure is a problem to report)
        report.problems.append(f"{path.name}: not a readable ONNX model ({type(exc).__name__})")


def verify_weights_source(source, report: Report) -> None:
    """The check for a weights entry of the catalogue: ONNX files by :func:`verify_onnx`, the rest
    by their layout's verifier in :data:`WEIGHT_VERIFIERS` (PyTorch checkpoints: :func:`verify_weights`)."""
    if source.layout == "onnx":
        verify_onnx(report, source.sha256)
    else:
        WEIGHT_VERIFIERS.get(source.layout, verify_weights)(report)


VERIFIERS: dict[str, Callable[[Report], None]] = {
    "aflw2000": verify_aflw2000,
    "300w-lp": verify_300w_lp,
    "biwi": verify_biwi,
    "weights": verify_weights,
}


def resolve_location(source: Source, root: Path | None) -> Path:
    """The folder (or weight file) to check.

    Without ``root``: the installed location (``<data root>/<name>`` or ``<weights dir>/<file>``).
    With ``root``: ``<root>/<name>`` when that exists, else ``root`` itself, so both a data root
    and the dataset folder itself (e.g. a folder of AFLW2000 ``.mat`` files) are accepted.
    """
    if root is None:
        return source.install_path()
    root = Path(root).expanduser()
    inner = root / source.target
    if inner.exists():
        return inner
    if source.kind == "weights" and (root / source.filename).is_file():  # the folder holding the file
        return root / source.filename
    return root


def verify_source(source: Source, root: Path | None = None) -> Report:
    """Check the local copy of ``source``; problems come back in the report, never raised."""
    path = resolve_location(source, root)
    report = Report(source.name, path)
    if not path.exists():
        report.problems.append(f"{path} does not exist (see `posebench data list` for how to get {source.name})")
        return report
    if source.kind == "weights":
        if not path.is_file():
            report.problems.append(f"{path} is not a file (expected {source.target})")
            return report
        verify_weights_source(source, report)
        return report
    if not path.is_dir():
        report.problems.append(f"{path} is not a folder")
        return report
    VERIFIERS.get(source.layout if source.reader else "", verify_unread)(report)
    return report
