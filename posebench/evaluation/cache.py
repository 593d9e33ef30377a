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
    """One line on stderr (never a traceback)."""
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
        """Append ``records`` as lines, fsynced. Concurrent writers of one cache file (two runs
        of one method on one dataset into one results folder) take turns: the file is held
        with an exclusive ``flock`` while its torn tail is dropped and the lines are written, so
        one writer never cuts a line another is writing."""
        import fcntl

        lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        if not lines or not self.usable:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # released when the file closes
            self._repair_tail(fh)
            fh.write(lines.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())

    @staticmethod
    def _repair_tail(fh) -> None:
        """Drop a torn last line of the open (locked) file ``fh`` so that appended records start
        on a fresh line."""
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        fh.seek(0)
        data = fh.read()
        fh.truncate(data.rfind(b"\n") + 1)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a valid prediction")
