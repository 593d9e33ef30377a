"""Wall time and peak memory of a command and every process it starts (``posebench bench lowres``
and ``bench run`` time whole programs, worker processes included).

Peak memory is the largest *sum* of resident set sizes over the process tree (the command and all
its descendants, read from ``/proc/<pid>/stat`` and ``/proc/<pid>/status`` every ``interval``
seconds), not the largest single process: a pipelined run whose workers each hold 200 MB counts
them all (``getrusage``'s ``ru_maxrss``, GNU time's ``%M``, gives the largest single process
only). Sampling can miss a peak shorter than ``interval``. Linux only (``/proc``); elsewhere the peak is NaN.
"""

from __future__ import annotations

import math
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from posebench.errors import DataError


@dataclass
class Measured:
    """One run of a command: ``wall_s`` seconds, ``peak_mb`` the process tree's largest RSS sum
    (MB = 2**20 bytes), and its standard output."""

    wall_s: float
    peak_mb: float
    stdout: str


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tree_rss_mb(pid: int) -> float:
    """The summed resident memory (MB) of ``pid`` and all its descendants now; 0 when gone."""
    kids = _children()
    todo, total = [pid], 0
    while todo:
        p = todo.pop()
        todo.extend(kids.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total / 1024


def run_measured(cmd: list[str], env: dict[str, str] | None = None, interval: float = 0.02,
                 timeout: float | None = None) -> Measured:
    """Run ``cmd`` to the end (stdout kept, stderr kept for the error), sampling its process tree's
    memory. Raises :class:`DataError` with the last stderr line when it exits non-zero."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0]
    done = threading.Event()
    linux = Path("/proc/self/stat").exists()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_mb(proc.pid))
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    if linux:
        sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        done.set()
    wall = time.perf_counter() - t0
    if linux:
        sampler.join()
    if proc.returncode != 0:
        last = [x for x in err.strip().splitlines() if x.strip()]
        raise DataError(f"{' '.join(cmd[:3])} ... exited {proc.returncode}: {last[-1] if last else 'no output'}")
    return Measured(wall, peak[0] if linux else math.nan, out)
