"""Per-sample prediction cache: one append-only JSON-lines file per (method identity, dataset).

Each line is ``{"id", "pred": [yaw, pitch, roll] | null, "fail": reason | null, "sec"}``. Lines
are flushed and fsynced chunk by chunk, so a run killed half-way keeps what it finished; a
torn last line (killed mid-write) is ignored on reading. A damaged entry (not JSON, not UTF-8,
an id that is not a string, a prediction that is not three finite numbers, neither or both of
``pred`` and ``fail``, a bad ``sec``) is dropped with a one-line warning on stderr, so its sample
is computed again; it is never counted as a result. A cache path that is not a file (a folder)
is reported the same way and the run goes on without caching.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Iterable


def cache_key(parts: dict[str, Any]) -> str:
    """Stable 20-hex-char key of a JSON-serialisable description."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def valid_record(rec: object, width: int = 3) -> bool:
    """True for a well-formed cache entry: ``id`` a string; either ``pred`` ``width`` finite
    numbers (3 = yaw, pitch, roll; other caches store other vectors, e.g. 136 = 68 landmarks) and
    ``fail`` null, or ``pred`` null and ``fail`` a non-empty string; ``sec`` a finite number
    >= 0 (when present)."""
    if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
        return False
    pred, fail, sec = rec.get("pred"), rec.get("fail"), rec.get("sec", 0.0)
    if isinstance(sec, bool) or not isinstance(sec, (int, float)) or not math.isfinite(sec) or sec < 0:
        return False
    if pred is None:
        return isinstance(fail, str) and fail != ""
    return (fail is None and isinstance(pred, list) and len(pred) == width
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in pred))


def warn(message: str) -> None:
    """One line on stderr (never a traceback); in a torchrun job from process 0 only, which
    reads the same shared cache files as the others (:mod:`posebench.distributed`)."""
    from posebench.distributed import current

    if current().main:
        print(f"warning: {message}", file=sys.stderr, flush=True)


class PredictionCache:
    """The cache file ``path``; each valid ``pred`` holds ``width`` numbers (see :func:`valid_record`)."""

    def __init__(self, path: Path, width: int = 3):
        self.path = Path(path)
        self.width = int(width)
        self.usable = True

    def load(self) -> dict[str, dict]:
        """Valid records already stored, by sample id (later lines win); damaged ones are
        dropped with a one-line warning (see the module doc)."""
        out: dict[str, dict] = {}
        if self.path.exists() and not self.path.is_file():
            warn(f"prediction cache {self.path} is not a file; this run is not cached")
            self.usable = False
            return out
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return out
        except OSError as exc:
            warn(f"cannot read prediction cache {self.path} ({exc.strerror or exc}); this run is not cached")
            self.usable = False
            return out
        lines = data.split(b"\n")
        lines = lines[:-1]  # the part after the last newline is empty or a torn final line
        damaged = 0
        for raw in lines:
            try:
                rec = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
            except (UnicodeDecodeError, ValueError, RecursionError):
                rec = None
            if valid_record(rec, self.width):
                out[rec["id"]] = rec
            elif raw.strip():
                damaged += 1
        if damaged:
            warn(f"dropped {damaged} damaged line(s) of the prediction cache {self.path}; "
                 "those samples are computed again")
        return out

    def append(self, records: Iterable[dict]) -> None:
        """Append ``records`` as lines, flushed and fsynced. Several processes may append to one
        file (the ranks of a sharded run, :mod:`posebench.distributed`): each append holds an
        exclusive ``flock`` on the file while it drops a torn last line and writes its lines, so
        lines of two processes never interleave and no process cuts another's line as torn."""
        data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode("utf-8")
        if not data or not self.usable:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            _lock(fd)
            _repair_tail(fd)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the lock


def _lock(fd: int) -> None:
    """An exclusive advisory lock on the open file ``fd`` until it is closed (none where the
    platform has no ``fcntl``: one process per cache file there)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover  (not POSIX)
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def _repair_tail(fd: int) -> None:
    """Drop a torn last line of the open file ``fd`` so that appended records start on a fresh line."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    data = os.pread(fd, size, 0)
    os.ftruncate(fd, data.rfind(b"\n") + 1)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a valid prediction")
