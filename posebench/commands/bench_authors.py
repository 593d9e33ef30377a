"""``posebench bench authors``: posebench's port of a method against its authors' own pipeline,
milliseconds per image, interleaved in one run.

The authors' pipeline runs in *their* environment (``--authors-python``: the Python of the
throw-away environment the reference script of ``scripts/`` builds), as a child process that
loads it once (``posebench/authors/*_timing.py``); then passes alternate -- one of posebench's
(``estimate_batch`` on the same decoded images, one image per call), one of the authors' --
``--repeat`` times each, so both see the same load. Printed: min and median per side,
posebench's time as a multiple of the authors' (ratio of medians: below 1 is faster), the load
average before and after. Methods: ``mediapipe`` (the ``mediapipe`` package's
``FaceMesh.process``: landmarks only, where posebench's side also computes the pose) and ``3ddfa-v2`` (the authors'
``TDDFA_ONNX`` steps with their ONNX conversion and landmark ROI; ``--authors-src`` is their
repository).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import click

from posebench.commands.bench import bench
from posebench.commands.bench_table import Row, finish, format_rows
from posebench.commands.common import count
from posebench.errors import DataError, UsageError
from posebench.limits import MAX_REPEATS

TIMING = Path(__file__).resolve().parents[1] / "authors"
METHODS = ("mediapipe", "3ddfa-v2")


def machine() -> str:
    """The CPU model (``/proc/cpuinfo``), the cores and the platform, for a result file's header."""
    import platform

    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores; {platform.system()} {platform.machine()}, Python {platform.python_version()}"


def command_line(method: str, authors_python: str, authors_src: str | None, data_dir: Path, options: tuple[str, ...],
                 repeat: int, limit: int | None) -> str:
    """The ``posebench bench authors`` command that these arguments make (for a result file)."""
    import shlex

    args = ["posebench", "bench", "authors", "-m", method, "--authors-python", str(authors_python)]
    if authors_src:
        args += ["--authors-src", str(authors_src)]
    args += ["--data-dir", str(data_dir)]
    for o in options:
        args += ["-o", o]
    args += ["--repeat", str(repeat)] + (["--limit", str(limit)] if limit else [])
    return shlex.join(args)


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def authors_command(method: str, python: str, src: str | None, paths: list[Path], options: dict[str, str]) -> list[str]:
    """The child process's command line for ``method`` (see ``posebench/authors``)."""
    files = [str(p) for p in paths]
    if method == "mediapipe":
        return [python, str(TIMING / "mediapipe_timing.py"), *files]
    if not src:
        raise UsageError("3ddfa-v2 needs --authors-src (a checkout of cleardusk/3DDFA_V2)")
    weights = options.get("weights")
    if not weights:
        raise UsageError("3ddfa-v2 needs -o weights=PATH (the authors' .pth, the same file for both sides)")
    stats = options.get("param_stats") or str(Path(weights).parent / "param_mean_std_62d_120x120.pkl")
    return [python, str(TIMING / "tddfa_v2_timing.py"), "--src", src, "--weights", weights, "--param-stats", stats, *files]


class AuthorsPipeline:
    """The authors' pipeline in its own process: :meth:`run_pass` times one pass over the images."""

    def __init__(self, cmd: list[str]):
        self.log = tempfile.TemporaryFile("w+")  # the child's stderr (a pipe nobody reads could fill and block it)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, env={**os.environ, "PYTHONNOUSERSITE": "1"})
        line = "?"
        while line and line.strip() != "ready":  # the authors' code may print on stdout first
            line = self.proc.stdout.readline()
        if not line:
            self.close()
            self.log.seek(0)
            err = self.log.read().strip().splitlines()
            raise DataError(f"the authors' pipeline did not start ({' '.join(cmd[:2])}): "
                            f"{err[-1] if err else 'no output'}")

    def run_pass(self) -> dict:
        self.proc.stdin.write("pass\n")
        self.proc.stdin.flush()
        line = " "
        while line and not line.startswith("{"):
            line = self.proc.stdout.readline()
        if not line:
            raise DataError("the authors' pipeline stopped during a pass")
        return json.loads(line)

    def close(self) -> None:
        """End the child (stdin closed: it leaves its loop; killed if it does not within 10 s)."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def posebench_pass(method, faces) -> tuple[float, int, float]:
    """ms per image of one pass of ``method.estimate_batch`` one face per call, the faces with a
    pose, and the process's CPU ms per image (``time.process_time``: this process's threads)."""
    from posebench.errors import SampleFailure

    t, c = time.perf_counter(), time.process_time()
    out = [method.estimate_batch([f])[0] for f in faces]
    cpu = (time.process_time() - c) * 1e3 / len(faces)
    return (time.perf_counter() - t) * 1e3 / len(faces), sum(not isinstance(o, SampleFailure) for o in out), cpu


def authors_rows(method_name: str, authors_python: str, authors_src: str | None, data_dir: Path,
                 opts: dict[str, str], repeats: int, limit: int | None) -> tuple[list[Row], list[str]]:
    """posebench's side and the authors' (the baseline), ``repeats`` interleaved passes each."""
    from posebench.commands.bench_methods import _faces
    from posebench.method import create_method

    faces = _faces(data_dir, limit)
    paths = [Path(data_dir) / f"{f.id}.jpg" for f in faces]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"{len(missing)} images are not .jpg files beside their .mat (e.g. {missing[0].name})")
    method = create_method(method_name, opts)
    posebench_pass(method, faces[:2])  # warm-up
    theirs = AuthorsPipeline(authors_command(method_name, authors_python, authors_src, paths, opts))
    load0 = _load()
    mine, their, info, found, mine_cpu, their_cpu = [], [], {}, 0, [], []
    try:
        for _ in range(repeats):
            ms, found, cpu = posebench_pass(method, faces)
            mine.append(ms)
            mine_cpu.append(cpu)
            info = theirs.run_pass()
            their.append(info["ms_per_image"])
            if isinstance(info.get("cpu_ms_per_image"), (int, float)):
                their_cpu.append(float(info["cpu_ms_per_image"]))
    finally:
        theirs.close()
    base = f"authors' pipeline ({info.get('version', '?')})"
    rows = [Row(f"authors {method_name}", base, "", "ms/image", len(faces), repeats, min(their), statistics.median(their),
                note=f"{info.get('found')} of {info.get('images')} found"),
            Row(f"authors {method_name}", f"posebench {method.label()}", base, "ms/image", len(faces), repeats, min(mine),
                statistics.median(mine), note=f"{found} of {len(faces)} with a pose; one image per call")]
    if len(their_cpu) == len(mine_cpu):  # process CPU time: less moved than wall time by other jobs on the machine
        rows += [Row(f"authors {method_name} (CPU)", base, "", "CPU ms/image", len(faces), repeats, min(their_cpu),
                     statistics.median(their_cpu), note="the authors' process, time.process_time"),
                 Row(f"authors {method_name} (CPU)", f"posebench {method.label()}", base, "CPU ms/image", len(faces),
                     repeats, min(mine_cpu), statistics.median(mine_cpu), note="posebench's process, time.process_time")]
    lines = [f"{method_name} on {len(faces)} images of {data_dir}, {repeats} interleaved passes each; "
             f"load {load0} before, {_load()} after; {os.cpu_count()} CPU cores"]
    return finish(rows), lines


@bench.command("authors")
@click.option("-m", "--method", "method_name", required=True, type=click.Choice(METHODS), help="The method to compare.")
@click.option("--authors-python", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Python of the environment holding the authors' code (see the method's reference script).")
@click.option("--authors-src", type=click.Path(exists=True, file_okay=False), default=None,
              help="The authors' repository checkout (3ddfa-v2).")
@click.option("--data-dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="AFLW2000-style folder of images with their .mat files.")
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE", help="posebench method option (repeatable).")
@click.option("--repeat", type=count(1, MAX_REPEATS), default=5, show_default=True, help="Passes per side (interleaved).")
@click.option("--limit", type=count(1), default=None, help="Use only the first N images.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the table to this file (with the command, date and machine), e.g. results/bench/authors-mediapipe.txt.")
def bench_authors(method_name, authors_python, authors_src, data_dir, options, repeat, limit, out) -> None:
    """posebench's method against its authors' own pipeline on the same images, interleaved passes."""
    from datetime import datetime, timezone

    from posebench.commands.common import parse_kv
    from posebench.fileio import writable_folder, write_atomic

    if out is not None:
        writable_folder(out.resolve().parent, "folder of --out")  # checked before any work
    rows, lines = authors_rows(method_name, authors_python, authors_src, data_dir, parse_kv(options), repeat, limit)
    text = lines[0] + "\n" + format_rows(rows)
    click.echo(text)
    if out is not None:
        head = [f"# {command_line(method_name, authors_python, authors_src, data_dir, options, repeat, limit)}",
                f"# {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; {machine()}"]
        write_atomic(out, "\n".join(head) + "\n" + text.rstrip("\n") + "\n")
        click.echo(f"wrote {out}", err=True)


COMMANDS: list = []  # a subcommand of `bench`, registered by the decorator
