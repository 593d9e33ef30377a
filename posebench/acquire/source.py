"""What a downloadable thing is (:class:`Source`) and what checking a local copy of it says
(:class:`Report`).

A dataset module declares its :class:`Source` -- where the official copy lives, its licence,
published size and SHA-256 where known, how to find the dataset folder inside an extracted
archive (``find_folder``) and how to check a copy (``verify``) -- beside its reader, and passes it
to :func:`posebench.registry.register_dataset`; ``posebench data`` then lists, downloads, prepares
and verifies it, built-in or third-party alike. Weight files are listed in
:mod:`posebench.acquire.catalogue`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAX_LISTED = 20  # problems of one kind listed individually before summarising
IMAGE_SAMPLE = 5  # images decoded per dataset by :func:`check_images`


@dataclass
class Report:
    """The outcome of checking one local copy.

    ``facts``: what was found, one line each; ``problems``: one line each, empty when the copy
    looks complete; ``counts``: named counts (``labels``, ``images``, ...) for programs.
    """

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


#: ``find_folder(extracted) -> folder``: the folder inside an extracted archive (or a folder the
#: user gives) that the reader should be pointed at; raises :class:`~posebench.errors.DataError`
#: when there is none.
FolderFinder = Callable[[Path], Path]
#: ``verify(report)``: checks the copy at ``report.path``, adding facts and problems (never raises
#: for a bad copy).
Verifier = Callable[[Report], None]


@dataclass(frozen=True)
class Source:
    """One downloadable thing: a dataset or a weight file.

    ``kind``: ``dataset`` or ``weights``. ``url``: a direct link posebench downloads from
    (``None`` when a registration or a browser is needed: then ``manual`` says what to do).
    ``size`` / ``sha256``: of the published file, *only where actually known* (``None`` =
    unknown: the copy is then checked by its structure). ``target``: where it installs, relative
    to the data root (datasets: the dataset's registered name, so ``posebench run -d NAME`` finds
    it without ``--data-dir``) or the weights folder. ``find_folder`` / ``verify``: see
    :data:`FolderFinder` / :data:`Verifier` (``None``: the archive's single top folder, and a
    count of files by extension). ``reader``: the registered dataset that reads it (filled in by
    the registry for a source registered with a dataset).

    Where the file is published, at most one of (the route ``posebench data download`` takes):

    - ``url``: a direct HTTP(S) link (GitHub raw or release files, the authors' server), fetched by
      posebench's resumable downloader (:func:`posebench.acquire.download.fetch`);
    - ``gdrive_id``: a Google Drive file id (the ``id=`` of ``drive.google.com/open?id=...`` or the
      ``/file/d/<id>/`` of a share link), fetched through ``gdown`` (its confirm page for large
      files, its resumable ``.part`` file);
    - ``hf_repo`` (``owner/name`` of a Hugging Face model repository) with ``hf_filename`` (the
      path inside it; default ``filename``) and ``hf_revision`` (a commit, tag or branch; default
      the repository's ``main``; a 40-hex commit pins the bytes), fetched through
      ``huggingface_hub``.

    ``None`` of them: a manual step (``manual`` says which).

    ``used_by``: the registered methods (or face detectors) that read this file with their
    defaults or as a documented option, by name, a face detector as ``detector:NAME``
    (``posebench methods NAME`` lists the files of NAME).
    """

    name: str
    kind: str
    title: str
    homepage: str
    filename: str
    licence: str
    target: str = ""
    url: str | None = None
    url_note: str = ""
    size: int | None = None
    sha256: str | None = None
    checksum_note: str = ""
    manual: str = ""
    find_folder: FolderFinder | None = field(default=None, compare=False)
    verify: Verifier | None = field(default=None, compare=False)
    reader: str | None = None
    gdrive_id: str | None = None
    hf_repo: str | None = None
    hf_filename: str | None = None
    hf_revision: str | None = None
    used_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("dataset", "weights"):
            raise ValueError(f"source {self.name!r}: kind must be 'dataset' or 'weights', got {self.kind!r}")
        if not self.target:
            object.__setattr__(self, "target", self.name)
        routes = [k for k in ("url", "gdrive_id", "hf_repo") if getattr(self, k) is not None]
        if len(routes) > 1:
            raise ValueError(f"source {self.name!r}: give one of url, gdrive_id, hf_repo, not {' and '.join(routes)}")
        if self.hf_repo is None and (self.hf_filename is not None or self.hf_revision is not None):
            raise ValueError(f"source {self.name!r}: hf_filename and hf_revision need hf_repo")
        if self.gdrive_id is not None and not re.fullmatch(r"[-\w]{10,}", self.gdrive_id):
            raise ValueError(f"source {self.name!r}: gdrive_id {self.gdrive_id!r} is not a Google Drive file id")
        if self.hf_repo is not None:
            if not re.fullmatch(r"[\w.-]+/[\w.-]+", self.hf_repo):
                raise ValueError(f"source {self.name!r}: hf_repo {self.hf_repo!r} is not 'owner/name'")
            if self.hf_filename is None:
                object.__setattr__(self, "hf_filename", self.filename)

    @property
    def route(self) -> str | None:
        """How ``posebench data download`` gets it: ``url``, ``gdrive``, ``hf``, or ``None`` (manual)."""
        if self.url is not None:
            return "url"
        if self.gdrive_id is not None:
            return "gdrive"
        if self.hf_repo is not None:
            return "hf"
        return None

    @property
    def downloadable(self) -> bool:
        return self.route is not None

    @property
    def origin(self) -> str:
        """Where the published file is, as a link a person can open (the homepage for a manual step)."""
        if self.route == "url":
            return str(self.url)
        if self.route == "gdrive":
            return f"https://drive.google.com/file/d/{self.gdrive_id}"
        if self.route == "hf":
            return f"https://huggingface.co/{self.hf_repo}/blob/{self.hf_revision or 'main'}/{self.hf_filename}"
        return self.homepage

    def install_path(self, root: Path | None = None) -> Path:
        """Where this source lives: ``<data root>/<target>`` or ``<weights dir>/<target>``."""
        from posebench.paths import data_root, weights_dir

        if root is not None:
            return Path(root) / self.target
        return (weights_dir() if self.kind == "weights" else data_root()) / self.target


def spread(items: list, n: int) -> list:
    """``n`` items evenly spread over the list (all of them when shorter)."""
    if len(items) <= n:
        return list(items)
    idx = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in idx]


def check_images(report: Report, images: list[Path], n: int | None = None) -> None:
    """Decode ``n`` images (default :data:`IMAGE_SAMPLE`) spread over ``images``; each that fails
    is a problem naming its reason."""
    from posebench.errors import SampleFailure
    from posebench.imageio import read_image

    for p in spread(images, IMAGE_SAMPLE if n is None else n):
        try:
            read_image(p)
        except SampleFailure as exc:
            report.problems.append(f"{p.name}: {exc.reason}")


def best_folder(counts: dict[Path, int], what: str) -> Path:
    """The folder with the most hits (the shallowest on a tie); :class:`DataError` when none."""
    from posebench.errors import DataError

    if not counts:
        raise DataError(f"found no {what} in it; is it the right archive or folder?")
    best, _ = max(counts.items(), key=lambda kv: (kv[1], -len(kv[0].parts)))
    return best


def find_as_is(extracted: Path) -> Path:
    """The archive's single top folder, or the archive root when it has several entries."""
    entries = [p for p in Path(extracted).iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return Path(extracted)


def verify_unread(report: Report) -> None:
    """For a source without a verifier: count files by extension."""
    files = [p for p in report.path.rglob("*") if p.is_file()]
    by_ext: dict[str, int] = {}
    for p in files:
        by_ext[p.suffix.lower() or "(none)"] = by_ext.get(p.suffix.lower() or "(none)", 0) + 1
    report.counts.update(files=len(files))
    top = ", ".join(f"{n} {ext}" for ext, n in sorted(by_ext.items(), key=lambda kv: -kv[1])[:6])
    report.facts.append(f"{len(files)} files ({top or 'none'}); no verifier for this dataset")
    if not files:
        report.problems.append("the folder is empty")
