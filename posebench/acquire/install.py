"""Get a catalogue source into place: download (or take a user's file), verify, extract, arrange.

Datasets end up in ``<root>/<name>`` (``root`` defaults to the data root), weights in
``<weights dir>/<file>``. Archives are downloaded to ``<root>/.downloads/`` (resumable) and
extracted into a temporary folder inside ``root`` that is renamed into place only when complete.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from posebench.acquire.archive import clean_leftovers, safe_extract
from posebench.acquire.download import UnreachableError, check_file, fetch
from posebench.acquire.layout import find_dataset_folder, install
from posebench.acquire.source import Report, Source
from posebench.acquire.verify import verify_weights
from posebench.errors import DataError, PosebenchError, UsageError, WeightsError
from posebench.fileio import temporary_name
from posebench.paths import data_root, weights_dir


class ManualStepRequired(PosebenchError):
    """The source needs a registration or a browser; the message says what to run afterwards."""


def target_root(source: Source, root: Path | None) -> Path:
    """The folder that receives ``source``: ``root``, else the data root or the weights folder."""
    if root is not None:
        return Path(root).expanduser()
    return weights_dir() if source.kind == "weights" else data_root()


def _check_weights_file(path: Path, source: Source) -> Report:
    report = Report(source.name, Path(path))
    (source.verify or verify_weights)(report)
    if report.problems:
        raise WeightsError(report.problems[0])
    return report


def _copy_into_place(src: Path, dest: Path, force: bool) -> Path:
    """Copy one file to ``dest`` through a temporary name (never a half-written weight file)."""
    if dest.exists() and not force:
        raise UsageError(f"{dest} already exists (pass --force to replace it)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(dest)  # a killed copy's partial of this file is removed first
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def check_links_inside(folder: Path, label: str) -> None:
    """Refuse (:class:`~posebench.acquire.archive.UnsafeArchiveError`) a dataset folder holding a
    link whose target, followed, leaves that folder: the bound is the dataset folder that is
    installed, not the archive's extraction root (a link to a sibling folder of the archive was
    installed, and ``--from FOLDER`` copied what it pointed at)."""
    from posebench.acquire.archive import UnsafeArchiveError
    from posebench.outputs import is_inside

    folder = Path(folder)
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink() and not is_inside(p, folder):
                raise UnsafeArchiveError(f"{label}: refused link {p.relative_to(folder).as_posix()!r} -> "
                                         f"{os.readlink(p)!r} (points outside the dataset folder {folder.name})")


def install_archive(source: Source, archive: Path, root: Path, force: bool, progress: bool) -> Path:
    """Extract ``archive`` safely, find the dataset folder in it and move it to ``<root>/<name>``."""
    dest = root / source.target
    if dest.exists() and not force:
        raise UsageError(f"{dest} already exists (pass --force to replace it)")
    tmp = safe_extract(archive, root, progress=progress)
    try:
        folder = find_dataset_folder(source, tmp)
        check_links_inside(folder, archive.name)
        install(folder, dest, force=force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def install_folder(source: Source, folder: Path, root: Path, force: bool) -> Path:
    """Copy an already-extracted folder (arranged by the source's layout) to ``<root>/<name>``."""
    dest = root / source.target
    if dest.exists() and not force:
        raise UsageError(f"{dest} already exists (pass --force to replace it)")
    found = find_dataset_folder(source, folder)
    check_links_inside(found, str(folder))
    if found.resolve() == dest.resolve():
        return dest
    tmp = root / f".copy-{source.target}-{os.getpid()}"
    try:
        shutil.copytree(found, tmp, symlinks=False)
        install(tmp, dest, force=force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def offline_route(source: Source) -> str:
    """What to do without a network: fetch the file elsewhere, then ``posebench data prepare``."""
    return (f"offline? get {source.filename} from {source.origin} on a machine that is online, then run "
            f"`posebench data prepare {source.name} --from {source.filename}`")


def fetch_published(source: Source, dest: Path, *, url: str | None = None, retries: int = 3,
                    progress: bool = True) -> Path:
    """Download ``source``'s published file to ``dest`` by its route (:attr:`Source.route`): a
    direct link through :func:`~posebench.acquire.download.fetch`, Google Drive through
    :func:`~posebench.acquire.remote.fetch_gdrive` (gdown), the Hugging Face hub through
    :func:`~posebench.acquire.remote.fetch_hf` (huggingface_hub); ``url`` (a mirror) overrides
    the route. The published size/SHA-256 apply whatever the route. A server that cannot be
    reached raises :class:`UnreachableError` naming the ``posebench data prepare`` route."""
    from posebench.acquire.remote import RefusedError, fetch_gdrive, fetch_hf

    try:
        if url is not None or source.route == "url":
            return fetch(url or str(source.url), dest, size=source.size, sha256=source.sha256, retries=retries,
                         progress=progress)
        if source.route == "gdrive":
            return fetch_gdrive(str(source.gdrive_id), dest, size=source.size, sha256=source.sha256, retries=retries,
                                progress=progress)
        if source.route == "hf":
            return fetch_hf(str(source.hf_repo), str(source.hf_filename), dest, revision=source.hf_revision,
                            size=source.size, sha256=source.sha256, progress=progress)
    except UnreachableError as exc:
        raise UnreachableError(f"{exc}; {offline_route(source)}") from None
    except RefusedError as exc:
        raise RefusedError(f"{exc}. {source.manual or offline_route(source)}") from None
    raise ManualStepRequired(f"{source.name} cannot be downloaded automatically; follow the steps above, "
                             f"then run `posebench data prepare {source.name} --from FILE`")


def download(source: Source, root: Path | None = None, *, url: str | None = None, force: bool = False,
             keep_archive: bool = False, progress: bool = True, retries: int = 3) -> Path:
    """Download (:func:`fetch_published`), verify and install ``source``; ``url`` overrides the
    catalogue's route (a mirror).

    The published size/checksum (where known) apply to whatever ``url`` serves.
    """
    root = target_root(source, root)
    clean_leftovers(root)
    clean_leftovers(root / ".downloads")
    dest = root / source.target
    if url is None and not source.downloadable:
        raise ManualStepRequired(f"{source.name} cannot be downloaded automatically; follow the steps above, "
                                 f"then run `posebench data prepare {source.name} --from FILE`")
    if dest.exists() and not force:
        raise UsageError(f"{dest} already exists (check it with `posebench data verify {source.name}`, "
                         "or pass --force to download again)")
    if source.kind == "weights":
        part_dir = root / ".downloads"
        got = fetch_published(source, part_dir / source.filename, url=url, retries=retries, progress=progress)
        try:
            _check_weights_file(got, source)
        except WeightsError:
            got.unlink(missing_ok=True)
            raise
        _copy_into_place(got, dest, force)
        got.unlink(missing_ok=True)
        return dest
    archive = fetch_published(source, root / ".downloads" / source.filename, url=url, retries=retries, progress=progress)
    try:
        out = install_archive(source, archive, root, force, progress)
    except KeyboardInterrupt as exc:  # the download itself was complete: keep it for `prepare --from`
        exc.posebench_archive = archive  # type: ignore[attr-defined]  (read by `posebench data download`)
        raise
    except BaseException:
        if source.sha256 is None:  # unverified bytes that failed: never reused
            archive.unlink(missing_ok=True)
        raise
    if not keep_archive:
        archive.unlink(missing_ok=True)
    return out


def _named_for_another(source: Source, given: Path) -> Source | None:
    """The other weights source whose official file name ``given`` carries (when it is not
    ``source``'s own), else None."""
    from posebench.acquire.catalogue import WEIGHTS

    if given.name == source.filename:
        return None
    for other in WEIGHTS.values():
        if other.name != source.name and other.filename == given.name:
            return other
    return None


def prepare(source: Source, given: Path, root: Path | None = None, *, force: bool = False,
            progress: bool = True) -> Path:
    """Install ``source`` from a file (or extracted folder) the user downloaded themselves.

    The user's file is never modified or deleted. The published size/checksum are checked when
    the file has the official file name (mirrors repackage archives; those are checked by
    structure afterwards).
    """
    given = Path(given).expanduser()
    if not given.exists():
        raise DataError(f"--from: {given} does not exist")
    root = target_root(source, root)
    clean_leftovers(root)
    if source.kind == "weights":
        if not given.is_file():
            raise UsageError(f"--from: {given} is not a file (expected {source.filename})")
        other = _named_for_another(source, given)
        if other is not None:  # hopenet_alpha1.pkl given for hopenet-alpha2: installed under the paper's name
            raise UsageError(f"--from {given.name} is the file name of {other.name} ({other.title}), not of "
                             f"{source.name} ({source.filename}): prepare {other.name} with it, or rename a file that "
                             f"is {source.name}'s (nothing was installed)")
        if given.name == source.filename and (source.size is not None or source.sha256 is not None):
            check_file(given, source.size, source.sha256, progress=progress, remove_bad=False)
        _check_weights_file(given, source)
        return _copy_into_place(given, root / source.target, force)
    if given.is_dir():
        return install_folder(source, given, root, force)
    if given.name == source.filename and (source.size is not None or source.sha256 is not None):
        check_file(given, source.size, source.sha256, progress=progress, remove_bad=False)
    return install_archive(source, given, root, force, progress)
