"""File I/O shared by every part of posebench: atomic writes (never a half-written file) and
content digests for cache keys."""

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
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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
