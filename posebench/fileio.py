"""File I/O shared by every part of posebench: atomic writes (never a half-written file), output
folders checked before work starts, and content digests for cache keys.

File names are kept byte for byte: a folder whose name is not valid UTF-8 reaches Python as
str with surrogate escapes (PEP 383), and text written here encodes those back to the original
bytes (``surrogateescape``), so a name stored in a table or record is the name on disk."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` via a temporary file and a rename:
    never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with tmp.open("wb") as fh:
            fh.write(data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def shown(path: str | os.PathLike) -> str:
    """A path for a message: undecodable bytes of its name as ``\\xNN`` (one line, never an
    encoding error on a strict terminal)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def writable_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Check, before any work starts, that files can be written in folder ``path`` (or that it
    can be created: its nearest existing ancestor is a folder that accepts a file). Nothing is
    left behind. :class:`posebench.errors.DataError` (one line, naming the folder and the reason)
    when it is a file, lies under a file, or is read-only."""
    from posebench.errors import DataError

    p = Path(path)
    probe_in = p
    while not probe_in.exists():
        if probe_in.is_symlink():
            raise DataError(f"{what} {shown(p)}: {shown(probe_in)} is a broken link")
        if probe_in.parent == probe_in:
            break
        probe_in = probe_in.parent
    if probe_in.exists() and not probe_in.is_dir():
        if probe_in == p:
            raise DataError(f"{what} {shown(p)} is a file, not a folder")
        raise DataError(f"cannot create {what} {shown(p)}: {shown(probe_in)} is a file, not a folder")
    probe = probe_in / f".write-test.tmp{os.getpid()}"
    try:
        probe.write_bytes(b"")
    except OSError as exc:
        raise DataError(f"cannot write in {what} {shown(p)}: {exc.strerror or exc}"
                        + ("" if probe_in == p else f" ({shown(probe_in)})")) from None
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return p


def existing_file(path: str | os.PathLike, what: str, error: type[Exception] | None = None, hint: str = "") -> Path:
    """``path`` (``~`` expanded) when it is a file; otherwise ``error`` (default
    :class:`posebench.errors.WeightsError`) in one line: ``<what> not found: <path><hint>`` (say
    where the file comes from in ``hint``), or, for a folder, that it is one and which files it
    holds (a run folder given where its ``best.pt`` was meant), or a broken link."""
    from posebench.errors import WeightsError

    error = error or WeightsError
    p = Path(path).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        try:
            inside = sorted(x.name for x in p.iterdir() if x.is_file() and not x.name.startswith("."))
        except OSError:
            inside = []
        holds = (f"; it holds {', '.join(inside[:6])}{', ...' if len(inside) > 6 else ''}" if inside
                 else "; it holds no file")
        raise error(f"{what} {shown(p)} is a folder, not a file: give the file's path{holds}")
    if p.is_symlink():
        raise error(f"{what} {shown(p)} is a broken link{hint}")
    raise error(f"{what} not found: {shown(p)}{hint}")


@functools.lru_cache(maxsize=1024)
def _digest(path: str, size: int, mtime_ns: int, inode: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes: what a cache key records for every file a prediction
    depends on (weights, detector, predictor, face model, config).

    Memoised per process on ``(path, size, mtime_ns, inode)``, so a file read by every sample is
    hashed once; a file replaced in place (same name, other bytes) is hashed again.
    Raises ``OSError`` when the file cannot be read."""
    st = os.stat(path)
    return _digest(os.fspath(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
