"""File I/O shared by every part of posebench: atomic writes (never a half-written file), output
folders checked before work starts, and content digests for cache keys.

File names are kept byte for byte: a folder whose name is not valid UTF-8 reaches Python as
str with surrogate escapes (PEP 383), and text written here encodes those back to the original
bytes (``surrogateescape``), so a name stored in a table or record is the name on disk."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (one we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


def temporary_name(path: Path) -> Path:
    """The hidden name ``path`` is written under before its rename into place,
    ``.<name>.tmp<pid>``; the ones a killed writer (SIGKILL, power loss) left for the same file
    are removed first (their process no longer runs), so a later write of the file cleans them
    (a killed training left ``.latest.pt.tmp<pid>`` of its last checkpoint for good)."""
    path = Path(path)
    prefix = f".{path.name}.tmp"
    try:
        siblings = [p for p in path.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        siblings = []
    for p in siblings:
        pid = p.name[len(prefix):]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            try:
                p.unlink()
            except OSError:
                pass
    return path.with_name(f"{prefix}{os.getpid()}")


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` via a temporary file and a rename:
    never a half-written file; the temporary files a killed writer of ``path`` left are removed
    (:func:`temporary_name`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
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


#: Format of the digest index file (:class:`DigestIndex`); another format is ignored and rewritten.
INDEX_FORMAT = 1
_BLOCK = 1 << 20


def _sha256(path: str, progress: bool = False) -> str:
    """SHA-256 (full hex) of the file's bytes, read in 1 MiB blocks (a byte progress bar on
    stderr when ``progress``). Raises ``OSError`` when it cannot be read."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        if not progress:
            for block in iter(lambda: fh.read(_BLOCK), b""):
                h.update(block)
            return h.hexdigest()
        from tqdm import tqdm

        with tqdm(total=os.fstat(fh.fileno()).st_size, unit="B", unit_scale=True, desc=f"sha256 {Path(path).name}",
                  leave=False) as bar:
            for block in iter(lambda: fh.read(_BLOCK), b""):
                h.update(block)
                bar.update(len(block))
    return h.hexdigest()


class DigestIndex:
    """SHA-256 digests of files by absolute path, each valid while the file's stat tuple
    ``(size, mtime_ns, ctime_ns, inode, device)`` is unchanged: any write to a file changes its
    ``ctime`` (which, unlike ``mtime``, ``touch`` or ``cp -p`` cannot set back), so changed
    content is always hashed again, and an unchanged file is never read twice.

    ``path`` is the JSON file that keeps the index between runs (None: this process only); a
    damaged or unreadable one is ignored (everything is hashed) and rewritten by :meth:`save`.
    :func:`file_digest` uses the one shared index (:func:`digest_index`).
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else None
        self.entries: dict[str, list] = {}
        self.hashed = 0  # files read and hashed by this index (the rest came from the index)
        self.bytes_hashed = 0
        self._dirty = False
        self._lock = threading.Lock()
        if self.path is not None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(data, dict) and data.get("format") == INDEX_FORMAT and isinstance(data.get("files"), dict):
                    self.entries = {k: v for k, v in data["files"].items()
                                    if isinstance(v, list) and len(v) == 6 and isinstance(v[5], str)}
            except (OSError, ValueError):
                self.entries = {}

    def digest(self, file: str | os.PathLike, progress: bool = False) -> str:
        """SHA-256 (full hex) of ``file``'s bytes, from the index when its stat tuple is
        unchanged. Raises ``OSError`` when the file cannot be read."""
        p = os.path.abspath(os.fspath(file))
        st = os.stat(p)
        key = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]
        entry = self.entries.get(p)
        if entry is not None and entry[:5] == key:
            return entry[5]
        d = _sha256(p, progress)
        with self._lock:
            self.entries[p] = key + [d]
            self.hashed += 1
            self.bytes_hashed += st.st_size
            self._dirty = True
        return d

    def save(self) -> None:
        """Write the index (atomically) if anything was added; a failure to write is ignored
        (the index is only a shortcut)."""
        if self.path is None or not self._dirty:
            return
        with self._lock:
            try:
                write_atomic(self.path, json.dumps({"format": INDEX_FORMAT, "files": self.entries}, separators=(",", ":")))
                self._dirty = False
            except OSError:
                pass


_INDEXES: dict[Path, DigestIndex] = {}
_INDEXES_LOCK = threading.Lock()


def digest_index() -> DigestIndex:
    """The one persistent digest index, ``<data root>/cache/file-digests.json`` (see
    :mod:`posebench.paths`), loaded once per process (per data root)."""
    from posebench.paths import data_root

    path = data_root() / "cache" / "file-digests.json"
    with _INDEXES_LOCK:
        index = _INDEXES.get(path)
        if index is None:
            index = _INDEXES[path] = DigestIndex(path)
    return index


def file_digest(path: str | os.PathLike, progress: bool = False) -> str:
    """SHA-256 (full hex) of a file's bytes: the one file digest of posebench. A cache key records
    it (truncated there) for every file a prediction depends on (weights, detector, predictor,
    face model, config) and every dataset image; a download is checked with it against its
    published SHA-256.

    Remembered in the shared :func:`digest_index` (by path and stat tuple, across runs), so a
    large file is hashed once and a file replaced in place (same name, other bytes) is hashed
    again. ``progress``: a byte progress bar while hashing. Raises ``OSError`` when the file
    cannot be read."""
    index = digest_index()
    digest = index.digest(path, progress)
    index.save()
    return digest
