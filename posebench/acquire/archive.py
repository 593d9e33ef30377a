"""Safe extraction of zip and tar archives.

Every member is checked before anything is written: a name that is absolute or climbs out
with ``..``, a symlink or hard link whose target lies outside the folder, and device or FIFO
members make the whole archive refused (:class:`UnsafeArchiveError`). Extraction goes into a
fresh temporary folder next to the destination, so an interrupt never leaves a half-written
dataset in place; the caller renames the result into place (:mod:`posebench.acquire.layout`).
"""

from __future__ import annotations

import os
import posixpath
import re
import secrets
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

from tqdm import tqdm

from posebench.errors import DataError


class UnsafeArchiveError(DataError):
    """An archive member would be written (or point) outside the extraction folder."""


def _inside(name: str) -> bool:
    """True when a relative POSIX path stays inside its root after normalisation."""
    norm = posixpath.normpath(name)
    return not (norm == ".." or norm.startswith("../"))


#: Deepest member path and longest member name accepted (the datasets nest a few folders; a
#: thousands-deep path is an attack on the extractor, not data).
MAX_DEPTH = 64
MAX_NAME = 1024


def check_member_name(name: str, archive: str) -> None:
    n = name.replace("\\", "/")
    if len(n) > MAX_NAME or n.count("/") >= MAX_DEPTH:
        raise UnsafeArchiveError(f"{archive}: refused member {name[:60]!r}... (a path {n.count('/') + 1} folders deep, "
                                 f"{len(n)} characters; at most {MAX_DEPTH} and {MAX_NAME} are accepted)")
    if n.startswith("/") or (len(n) > 1 and n[1] == ":") or not n.strip("/"):
        raise UnsafeArchiveError(f"{archive}: refused member {name!r} (absolute path)")
    if ".." in n.split("/"):  # refused even when it would normalise back inside
        raise UnsafeArchiveError(f"{archive}: refused member {name!r} ('..' escapes the target folder)")


def check_link(name: str, target: str, archive: str, hard: bool) -> None:
    """Refuse a link member whose target resolves outside the extraction folder."""
    t = target.replace("\\", "/")
    base = "" if hard else posixpath.dirname(name.replace("\\", "/"))
    if t.startswith("/") or not _inside(posixpath.join(base, t)):
        kind = "hard link" if hard else "symlink"
        raise UnsafeArchiveError(f"{archive}: refused {kind} {name!r} -> {target!r} (points outside the target folder)")


def archive_kind(path: Path) -> str:
    """``zip`` or ``tar`` (any compression tarfile reads); DataError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"archive not found: {path}")
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except OSError:
        pass
    raise DataError(f"{path.name}: not a zip or tar archive")


def _check_zip(zf: zipfile.ZipFile, label: str) -> list[zipfile.ZipInfo]:
    members = zf.infolist()
    for info in members:
        check_member_name(info.filename, label)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            check_link(info.filename, zf.read(info).decode("utf-8", "replace"), label, hard=False)
    return members


def _check_tar(tf: tarfile.TarFile, label: str) -> list[tarfile.TarInfo]:
    members = tf.getmembers()
    for m in members:
        check_member_name(m.name, label)
        if m.issym():
            check_link(m.name, m.linkname, label, hard=False)
        elif m.islnk():
            check_link(m.name, m.linkname, label, hard=True)
        elif not (m.isfile() or m.isdir()):
            raise UnsafeArchiveError(f"{label}: refused member {m.name!r} (device, FIFO or other special file)")
    return members


def safe_extract(archive: Path, workdir: Path, progress: bool = True) -> Path:
    """Extract ``archive`` into a new temporary folder inside ``workdir`` and return that folder.

    Nothing is written when any member is unsafe. On any error the temporary folder is removed.
    """
    archive = Path(archive)
    kind = archive_kind(archive)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    clean_leftovers(workdir)
    tmp = workdir / f".extract-{archive.name}-{_token()}"
    label = archive.name
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                members = _check_zip(zf, label)
                tmp.mkdir()
                for info in tqdm(members, desc=f"extract {label}", unit="file", disable=not progress):
                    if stat.S_ISLNK(info.external_attr >> 16):
                        continue  # links inside zips are not recreated (none of the datasets uses them)
                    zf.extract(info, tmp)
        else:
            with tarfile.open(archive) as tf:
                members = _check_tar(tf, label)
                tmp.mkdir()
                for m in tqdm(members, desc=f"extract {label}", unit="file", disable=not progress):
                    tf.extract(m, tmp, filter="data")
    except (UnsafeArchiveError, DataError):
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, RecursionError, ValueError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"{label}: cannot extract ({type(exc).__name__}: {exc})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


#: Names of the temporary entries posebench makes next to data (``.extract-ARCHIVE-PID-HEX``
#: here, ``.copy-NAME-PID`` and ``.NAME.old-PID`` while installing, ``.NAME.tmpPID`` while writing a
#: file atomically); the PID says which process owns one.
LEFTOVER = re.compile(r"^\.(?:extract-.+-(\d+)-[0-9a-f]{6}|copy-.+-(\d+)|.+\.old-(\d+)|.+\.tmp(\d+))$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def clean_leftovers(folder: Path) -> list[Path]:
    """Remove the temporary entries (see :data:`LEFTOVER`) that processes which no longer run
    left in ``folder`` (a killed extraction, copy or write); returns what was removed. Entries
    of running processes are left alone."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for p in entries:
        m = LEFTOVER.match(p.name)
        if not m or _alive(int(next(g for g in m.groups() if g))):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def _token() -> str:
    return f"{os.getpid()}-{secrets.token_hex(3)}"
