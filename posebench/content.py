"""Content digests of dataset files, remembered across runs by a stat index.

A dataset's fingerprint (:meth:`posebench.datasets.base.Dataset.fingerprint`) must change when
any file a prediction reads changes, whatever its name and size: it hashes every image's bytes
(SHA-256). Hashing a large dataset on every run costs seconds to minutes (measured in
``docs/data.md``), so a :class:`DigestIndex` stored under the results folder remembers each
file's digest with its ``(size, mtime_ns, ctime_ns, inode, device)``; a file whose stat tuple is
unchanged is not read again, and any write to a file changes its ``ctime`` (which, unlike
``mtime``, cannot be set back by ``touch`` or ``cp -p``), so changed content is always hashed
again. A damaged or unreadable index is ignored (everything is hashed) and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

INDEX_FORMAT = 1


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes. Raises ``OSError`` when it cannot be read."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class DigestIndex:
    """Digests of files by path, valid while their stat tuple is unchanged.

    ``path`` is the JSON file that keeps the index between runs (None: this process only).
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else None
        self.entries: dict[str, list] = {}
        self.hashed = 0  # files read and hashed by this index (the rest came from the index)
        self.bytes_hashed = 0
        self._dirty = False
        if self.path is not None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(data, dict) and data.get("format") == INDEX_FORMAT and isinstance(data.get("files"), dict):
                    self.entries = {k: v for k, v in data["files"].items()
                                    if isinstance(v, list) and len(v) == 6 and isinstance(v[5], str)}
            except (OSError, ValueError):
                self.entries = {}

    def digest(self, file: str | os.PathLike) -> str:
        """SHA-256 of ``file``'s bytes (from the index when its stat tuple is unchanged).
        Raises ``OSError`` when the file cannot be read."""
        p = os.path.abspath(os.fspath(file))
        st = os.stat(p)
        key = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]
        entry = self.entries.get(p)
        if entry is not None and entry[:5] == key:
            return entry[5]
        d = sha256_file(p)
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
        from posebench.fileio import write_atomic

        try:
            write_atomic(self.path, json.dumps({"format": INDEX_FORMAT, "files": self.entries}, separators=(",", ":")))
            self._dirty = False
        except OSError:
            pass
