"""Time ``posebench study lowres`` (cold: a fresh results folder each time) against
scripts/plain_lowres.py, interleaved, and print each path's min/median wall time and peak memory
(``/usr/bin/time``'s maximum resident set size) with the load before each repeat.

    python scripts/lowres_vs_plain.py --repeats 3 [--base /tmp/base]   # --base: another posebench
                                                                    # tree on PYTHONPATH ("before")
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SHARED = Path(os.environ.get("POSEBENCH_SHARED", "../shared"))


def study_cmd(results: Path) -> list[str]:
    # the console script, not ``python -m`` (which would put this checkout's posebench/ first)
    return [str(Path(sys.executable).parent / "posebench"), "study", "lowres", "--dataset", "aflw2000",
            "--data-dir", str(SHARED / "data/AFLW2000-sample"),
            "-o", "methods=dlib,onnx-headpose,whenet,gt-landmarks",
            "-o", f"onnx-headpose.model_dir={SHARED / 'models/fsanet'}",
            "-o", f"whenet.weights={SHARED / 'models/whenet/WHENet.h5'}", "--results-dir", str(results)]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one command, from /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%e %M", *cmd], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall, kb = tf.read().split()[-2:]
    return float(wall), float(kb) / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--base", default="", help="a 'before' posebench package folder to time too (PYTHONPATH)")
    ap.add_argument("--whenet-onnx", required=True)
    ap.add_argument("--only", default="", help="comma-separated subset of plain,posebench,before")
    a = ap.parse_args()
    plain = [sys.executable, "scripts/plain_lowres.py", "--data-dir", str(SHARED / "data/AFLW2000-sample"),
             "--fsanet-dir", str(SHARED / "models/fsanet"), "--whenet-onnx", a.whenet_onnx]
    paths = {"plain": None, "posebench": ""}
    if a.base:
        paths["before"] = a.base
    if a.only:
        paths = {k: v for k, v in paths.items() if k in a.only.split(",")}
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in paths}
    for r in range(a.repeats):
        for name, pypath in paths.items():
            load = Path("/proc/loadavg").read_text().split()[:3]
            env = dict(os.environ)
            if pypath:
                env["PYTHONPATH"] = pypath
            with tempfile.TemporaryDirectory() as d:
                cmd = plain if pypath is None else study_cmd(Path(d) / "results")
                w, m = timed(cmd, env)
                shutil.rmtree(d, ignore_errors=True)
            times[name].append((w, m))
            print(f"repeat {r + 1} {name:9s} {w:7.2f} s {m:7.0f} MB  load {' '.join(load)}", flush=True)
    base = statistics.median(w for w, _ in times["plain"])
    base_m = statistics.median(m for _, m in times["plain"])
    for name, ts in times.items():
        med, mem = statistics.median(w for w, _ in ts), statistics.median(m for _, m in ts)
        print(f"{name:9s} min {min(w for w, _ in ts):7.2f} s median {med:7.2f} s ({base / med:.2f}x the plain "
              f"script's speed)  peak {mem:6.0f} MB ({mem / base_m:.2f}x the plain script's)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
