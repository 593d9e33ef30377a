"""The table every ``posebench bench`` subcommand fills: one :class:`Row` per timed path, each
path's time as a multiple of its baseline's time measured in the same run (interleaved repeats).

A ratio here is always ``median time of the path / median time of its baseline`` (both from the
measured columns, :func:`finish`), printed as ``"0.43x the baseline's time"``: below 1 the path is
faster, above 1 slower -- a form that cannot be misread as a speed-up. Peak memory ratios are the
same (``peak of the path / peak of the baseline``). :func:`write_table` writes the rows as CSV
and markdown (with the command, date, machine and load) without leaving a half-written file.
"""

from __future__ import annotations

import csv
import io
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

COLUMNS = ("bench", "case", "baseline", "unit", "n", "repeats", "min", "median", "ratio", "peak_mb",
           "peak_ratio", "max_diff_deg", "note")
"""The columns of the CSV (and, in this order, of the markdown table)."""


@dataclass
class Row:
    """One timed path. ``min``/``median`` in ``unit`` (``ms/face``, ``ms/image``, ``s``) over the
    ``repeats`` interleaved passes; ``baseline``: the ``case`` of the row it is compared with (in the
    same ``bench``; empty for a baseline itself or a row with none); ``ratio``/``peak_ratio`` are
    filled by :func:`finish`; ``max_diff_deg``: the largest angle difference (degrees) from the
    reference path, NaN where not checked; ``peak_mb``: peak resident memory of the process tree."""

    bench: str
    case: str
    baseline: str = ""
    unit: str = ""
    n: int = 0
    repeats: int = 0
    min: float = math.nan
    median: float = math.nan
    ratio: float = math.nan
    peak_mb: float = math.nan
    peak_ratio: float = math.nan
    max_diff_deg: float = math.nan
    note: str = ""
    samples: list[float] = field(default_factory=list, repr=False)

    @classmethod
    def timed(cls, bench: str, case: str, seconds: Sequence[float], per: int = 1, unit: str = "ms/face",
              baseline: str = "", **kw) -> Row:
        """A row from the passes' wall times in seconds; ``per``: faces (or images) per pass, the
        times then given in milliseconds per face; ``unit="s"`` keeps seconds per pass."""
        scale = 1.0 if unit == "s" else 1e3 / max(1, per)
        vals = [float(s) * scale for s in seconds]
        return cls(bench, case, baseline, unit, 0 if unit == "s" else per, len(vals), min(vals) if vals else math.nan,
                   statistics.median(vals) if vals else math.nan, samples=vals, **kw)


def finish(rows: list[Row]) -> list[Row]:
    """Fill every row's ``ratio`` (its median / its baseline's median) and ``peak_ratio`` from the
    measured columns of the baseline row (same ``bench``, ``case == row.baseline``). Raises
    ``KeyError`` naming a baseline that is not among the rows."""
    by = {(r.bench, r.case): r for r in rows}
    for r in rows:
        if not r.baseline:
            continue
        b = by[(r.bench, r.baseline)]
        r.ratio = r.median / b.median if b.median else math.nan
        r.peak_ratio = r.peak_mb / b.peak_mb if b.peak_mb else math.nan
    return rows


def ratio_text(ratio: float, what: str = "time") -> str:
    """``"0.43x the baseline's time"`` (``what``: ``time`` or ``peak memory``); ``""`` for NaN."""
    return "" if math.isnan(ratio) else f"{ratio:.2f}x the baseline's {what}"


def load() -> str:
    """The 1, 5 and 15 minute load averages and the CPU count, e.g. ``"1.52 0.98 0.40 (2 CPUs)"``."""
    try:
        avg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        avg = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    return f"{avg} ({os.cpu_count()} CPUs)"


def interleave(paths: dict[str, Callable[[], object]], repeats: int, progress: Callable[[], None] | None = None
               ) -> tuple[dict[str, list[float]], dict[str, list[object]]]:
    """Run every path once per round, ``repeats`` rounds, in the order given (so each sees the same
    load). Returns ``(seconds per path per round, what each call returned)``."""
    times: dict[str, list[float]] = {k: [] for k in paths}
    outs: dict[str, list[object]] = {k: [] for k in paths}
    for _ in range(repeats):
        for name, fn in paths.items():
            t0 = time.perf_counter()
            outs[name].append(fn())
            times[name].append(time.perf_counter() - t0)
            if progress is not None:
                progress()
    return times, outs


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.3g}" if abs(value) < 1e-2 and value != 0 else f"{value:.2f}"
    return str(value)


def format_rows(rows: list[Row]) -> str:
    """The rows as aligned text for the terminal, ratios written as ``Nx the baseline's time``."""
    head = ["bench", "case", "n", "min", "median", "unit", "time vs baseline", "peak MB", "peak vs baseline",
            "max |d| deg", "note"]
    table = [[r.bench, r.case, str(r.n or ""), _fmt(r.min), _fmt(r.median), r.unit,
              ratio_text(r.ratio) + (f" ({r.baseline})" if r.baseline else ""), _fmt(r.peak_mb),
              ratio_text(r.peak_ratio, "peak"), _fmt(r.max_diff_deg), r.note] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *table)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in [head, *table]]
    return "\n".join(lines)


def to_csv(rows: list[Row]) -> str:
    """The rows as CSV with the :data:`COLUMNS` header (floats in full precision, NaN as empty)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        d = asdict(r)
        w.writerow(["" if isinstance(d[c], float) and math.isnan(d[c]) else d[c] for c in COLUMNS])
    return buf.getvalue()


def to_markdown(rows: list[Row], command: str, started: str, loads: Sequence[str]) -> str:
    """The rows as a markdown table under a header naming the command, date, machine and load."""
    out = ["# posebench bench", "", f"- command: `{command}`", f"- date (UTC): {started}",
           f"- machine: {platform.node()}, {platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or '?'}, "
           f"Python {platform.python_version()}",
           f"- load average (1, 5, 15 min) during the run: {'; '.join(loads)}",
           "- ratio: the path's median time / its baseline's median time, both measured in the same run with "
           "interleaved repeats (below 1: faster than the baseline); peak: peak resident memory of the process "
           "tree, the same ratio", "",
           "| bench | case | baseline | n | repeats | min | median | unit | time vs baseline | peak MB | "
           "peak vs baseline | max \\|d\\| deg | note |",
           "|---|---|---|---:|---:|---:|---:|---|---|---:|---|---:|---|"]
    for r in rows:
        cells = [r.bench, r.case, r.baseline, str(r.n or ""), str(r.repeats or ""), _fmt(r.min), _fmt(r.median), r.unit,
                 ratio_text(r.ratio), _fmt(r.peak_mb), ratio_text(r.peak_ratio, "peak memory"), _fmt(r.max_diff_deg),
                 r.note]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


def write_table(rows: list[Row], out_dir: Path, name: str, command: str, started: str, loads: Sequence[str]) -> list[Path]:
    """Write ``out_dir/name.csv`` and ``out_dir/name.md``, each through a temporary file renamed
    into place (an interrupt leaves the previous files whole). Returns the two paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, text in ((".csv", to_csv(rows)), (".md", to_markdown(rows, command, started, loads))):
        path = out_dir / f"{name}{suffix}"
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)
        written.append(path)
    return written
