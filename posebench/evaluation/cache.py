"""Per-sample prediction cache: one append-only JSON-lines file per (method settings, dataset).

Each line is ``{"id", "pred": [yaw, pitch, roll] | null, "fail": reason | null, "sec"}``. Lines
are flushed and fsynced chunk by chunk, so a run killed half-way keeps what it finished; a
torn last line (killed mid-write) is ignored on reading.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable


def cache_key(parts: dict[str, Any]) -> str:
    """Stable 20-hex-char key of a JSON-serialisable description."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class PredictionCache:
    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self) -> dict[str, dict]:
        """Records already stored, by sample id (later lines win)."""
        out: dict[str, dict] = {}
        if not self.path.is_file():
            return out
        with self.path.open("r", encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break  # torn final line from an interrupted write
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict) and "id" in rec:
                    out[rec["id"]] = rec
        return out

    def append(self, records: Iterable[dict]) -> None:
        lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_tail()
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(lines)
            fh.flush()
            os.fsync(fh.fileno())

    def _repair_tail(self) -> None:
        """Drop a torn last line so that appended records start on a fresh line."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) == b"\n":
                return
            fh.seek(0)
            data = fh.read()
            cut = data.rfind(b"\n") + 1
            fh.truncate(cut)
