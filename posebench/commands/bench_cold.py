"""``posebench bench lowres`` and ``posebench bench run``: whole posebench commands, cold, against
the plain script a researcher would write (issue 24, acceptance 1).

Each timed path is a fresh process: ``posebench study lowres`` (dlib, FSA-Net, WHENet and
gt-landmarks, factors 1/5/10/15) or ``posebench run -m METHOD``, each into a new results folder
and a new posebench data root (no prediction or file-digest cache: *cold*; only the ONNX files
derived once per weights file -- WHENet's export, which the plain script also reads, and FSA-Net's
batch-dynamic copies -- are linked in from the untimed warm-up: one-off install costs), against
``scripts/plain_lowres.py`` (``cv2.imread`` once per image, the same models in a loop; with
``--factors 1 --methods METHOD`` the plain loop of one method). With ``--before DIR`` (a folder
holding another installed ``posebench``, put first on ``PYTHONPATH``, e.g. made by ``pip install
--no-deps --target DIR <checkout of main>``) that version runs too. Every path runs once untimed
(file cache, ONNX export), then ``--repeats`` rounds, paths interleaved within each round; the
load is printed before every round. Wall time and the peak memory of each process *tree*
(:mod:`posebench.commands.bench_procs`) are reported with min/median and ratios of medians against
the plain script; ``bench run`` also gives each run's time as a multiple of the network-only time
(the seconds the plain script spends inside onnxruntime, median over its rounds).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from posebench.commands.bench import bench
from posebench.commands.bench_procs import Measured, run_measured
from posebench.commands.bench_table import Row, finish, format_rows, load
from posebench.commands.common import count
from posebench.errors import DataError, UsageError

PLAIN_SCRIPT = Path("scripts") / "plain_lowres.py"
"""The plain script, relative to the root of a posebench checkout (the working folder);
``--plain-script`` elsewhere."""
LOWRES_METHODS = "dlib,onnx-headpose,whenet,gt-landmarks"
RUN_METHODS = ("onnx-headpose", "whenet")
_NET = re.compile(r"network-only ([0-9.]+) s")


def posebench_command() -> list[str]:
    """How to start this environment's posebench: the console script beside the interpreter (a
    ``python -m`` would put the working folder first on ``sys.path``)."""
    script = Path(sys.executable).with_name("posebench")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "posebench"]


class Inputs:
    """The files every path reads, checked before any work (one-line errors)."""

    def __init__(self, data_dir: Path, fsanet_dir: Path, whenet_weights: Path, plain_script: Path,
                 before: Path | None) -> None:
        for what, p, is_dir in (("data folder", data_dir, True), ("FSA-Net folder", fsanet_dir, True),
                                ("WHENet weights", whenet_weights, False), ("plain script", plain_script, False)):
            if not (p.is_dir() if is_dir else p.is_file()):
                hint = " (run from a posebench checkout or pass --plain-script)" if what == "plain script" else ""
                raise DataError(f"{what} not found: {p}{hint}")
        if before is not None and not (before / "posebench" / "__init__.py").is_file():
            raise UsageError(f"--before {before}: no posebench package in it (make it with "
                             f"pip install --no-deps --target {before} <checkout>)")
        self.data_dir, self.fsanet_dir, self.whenet_weights = data_dir, fsanet_dir, whenet_weights
        self.plain_script, self.before = plain_script, before


class Sandbox:
    """Temporary posebench data roots and results folders: one warm root holding the ONNX export
    (made by the untimed warm-up), and a fresh root per timed run with the export linked in."""

    def __init__(self) -> None:
        from posebench.paths import weights_dir

        self.tmp = Path(tempfile.mkdtemp(prefix="posebench-bench-"))
        self.warm = self.tmp / "warm"
        self.weights = str(weights_dir())
        self.n = 0

    def env(self, fresh: bool, pythonpath: Path | None) -> tuple[dict[str, str], Path]:
        """The environment and results folder of one run (fresh: a new data root)."""
        self.n += 1
        root = self.warm
        if fresh:
            root = self.tmp / f"root{self.n}"
            onnx = self.warm / "cache" / "onnx"
            if onnx.is_dir():
                shutil.copytree(onnx, root / "cache" / "onnx", copy_function=os.link)
        env = {**os.environ, "POSEBENCH_DATA": str(root), "POSEBENCH_WEIGHTS": self.weights}
        if pythonpath is not None:  # else this process's PYTHONPATH, if any: the same posebench
            env["PYTHONPATH"] = str(pythonpath)
        return env, self.tmp / f"results{self.n}"

    def whenet_onnx(self) -> Path:
        found = sorted((self.warm / "cache" / "onnx").glob("whenet-*.onnx"))
        if not found:
            raise DataError("posebench's warm-up run left no WHENet ONNX export for the plain script")
        return found[-1]

    def face_file(self) -> Path:
        """posebench's default face as the plain script's text file (micrometres, x y z interleaved)."""
        import numpy as np

        from posebench.facemodel import default_face

        path = self.tmp / "face.txt"
        if not path.is_file():
            np.savetxt(path, (np.asarray(default_face(), float) * 1e3).reshape(-1))
        return path

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _versions(inputs: Inputs) -> dict[str, Path | None]:
    out: dict[str, Path | None] = {"this posebench": None}
    if inputs.before is not None:
        out["before"] = inputs.before
    return out


def measure_cold(bench_name: str, commands: dict[str, Callable[[dict[str, str], Path], list[str]]],
                 plain: Callable[[Sandbox], list[str]], box: Sandbox, repeats: int, echo: Callable[[str], None],
                 pythonpaths: dict[str, Path | None]) -> tuple[list[Row], list[str], list[float]]:
    """Warm up, then ``repeats`` interleaved rounds of the plain script and every posebench command.
    Returns (rows with wall seconds and peak MB, the loads printed, the plain script's network-only s)."""
    for name, make in commands.items():  # warm-up: file cache, ONNX export into the warm root
        env, res = box.env(False, pythonpaths[name])
        run_measured(make(env, res), env)
    env, _ = box.env(False, None)
    run_measured(plain(box), env)
    walls: dict[str, list[float]] = {"plain script": [], **{k: [] for k in commands}}
    peaks: dict[str, list[float]] = {k: [] for k in walls}
    net: list[float] = []
    loads = []
    for r in range(repeats):
        loads.append(load())
        echo(f"{bench_name} round {r + 1}/{repeats}: load {loads[-1]}")
        for name in walls:
            env, res = box.env(True, pythonpaths.get(name))
            m: Measured = run_measured(plain(box) if name == "plain script" else commands[name](env, res), env)
            walls[name].append(m.wall_s)
            peaks[name].append(m.peak_mb)
            if name == "plain script":
                hit = _NET.search(m.stdout)
                if hit:
                    net.append(float(hit.group(1)))
            echo(f"  {name}: {m.wall_s:.2f} s, peak {m.peak_mb:.0f} MB")
    plain_walls = walls["plain script"]

    def note(name: str) -> str:
        if name == "plain script":
            return "cold process, wall time"
        per_round = ", ".join(f"{w / p:.2f}x" for w, p in zip(walls[name], plain_walls))
        return f"cold process, wall time; each round against that round's plain script: {per_round}"

    rows = [Row.timed(bench_name, name, ws, unit="s", baseline="" if name == "plain script" else "plain script",
                      peak_mb=statistics.median(peaks[name]), note=note(name))
            for name, ws in walls.items()]
    return rows, loads, net


def lowres_rows(inputs: Inputs, repeats: int, echo: Callable[[str], None]) -> tuple[list[Row], list[str]]:
    """The lowres study cold against the plain script (rows of :func:`measure_cold`)."""
    d, f, w = inputs.data_dir, inputs.fsanet_dir, inputs.whenet_weights
    box = Sandbox()
    try:
        def study(env: dict[str, str], res: Path) -> list[str]:
            return [*posebench_command(), "study", "lowres", "--dataset", "aflw2000", "--data-dir", str(d),
                    "-o", f"methods={LOWRES_METHODS}", "-o", f"onnx-headpose.model_dir={f}", "-o", f"whenet.weights={w}",
                    "--results-dir", str(res)]

        def plain(b: Sandbox) -> list[str]:
            return [sys.executable, str(inputs.plain_script), "--data-dir", str(d), "--fsanet-dir", str(f),
                    "--whenet-onnx", str(b.whenet_onnx()), "--face-model", str(b.face_file())]

        versions = _versions(inputs)
        commands = {f"study lowres ({k})": study for k in versions}
        paths = {f"study lowres ({k})": v for k, v in versions.items()}
        rows, loads, _ = measure_cold("lowres", commands, plain, box, repeats, echo, paths)
        return finish(rows), loads
    finally:
        box.close()


def run_rows(inputs: Inputs, methods: tuple[str, ...], repeats: int, echo: Callable[[str], None]
             ) -> tuple[list[Row], list[str]]:
    """``posebench run -m METHOD`` cold per method against the plain loop of that method, and each
    path's wall time as a multiple of the network-only time (a row ``network only``)."""
    d, f, w = inputs.data_dir, inputs.fsanet_dir, inputs.whenet_weights
    opts = {"onnx-headpose": ["-o", f"model_dir={f}"], "whenet": ["-o", f"weights={w}"]}
    rows: list[Row] = []
    loads: list[str] = []
    for method in methods:
        if method not in opts:
            raise UsageError(f"bench run times {', '.join(RUN_METHODS)}, not {method!r}")
        box = Sandbox()
        try:
            def run(env: dict[str, str], res: Path, method=method) -> list[str]:
                return [*posebench_command(), "run", "-m", method, "-d", "aflw2000", "--data-dir", str(d),
                        *opts[method], "--results-dir", str(res)]

            def plain(b: Sandbox, method=method) -> list[str]:
                onnx = ["--whenet-onnx", str(b.whenet_onnx())] if method == "whenet" else []
                return [sys.executable, str(inputs.plain_script), "--data-dir", str(d), "--fsanet-dir", str(f),
                        *onnx, "--face-model", str(b.face_file()), "--factors", "1", "--methods", method]

            versions = _versions(inputs)
            commands = {f"run {method} ({k})": run for k in versions}
            paths = {f"run {method} ({k})": v for k, v in versions.items()}
            got, lds, net = measure_cold(f"run {method}", commands, plain, box, repeats, echo, paths)
        finally:
            box.close()
        loads += lds
        got = finish(got)
        if net:
            base = Row.timed(f"run {method}", "network only", net, unit="s",
                             note="seconds inside onnxruntime's run in the plain script (batch 1)")
            rows += [*got, base]
            for r in got:
                extra = Row(r.bench, f"{r.case} vs network only", "network only", "s", 0, r.repeats, r.min, r.median,
                            note="the same wall times, against the network-only time")
                rows.append(extra)
        else:
            rows += got
    return finish(rows), loads


def _common(f):
    f = click.option("--data-dir", type=click.Path(path_type=Path), default=None,
                     help="AFLW2000 folder with images (default: <data root>/aflw2000).")(f)
    f = click.option("--fsanet-dir", type=click.Path(path_type=Path), default=None,
                     help="FSA-Net ONNX folder (default: <weights folder>/fsanet).")(f)
    f = click.option("--whenet-weights", type=click.Path(path_type=Path), default=None,
                     help="WHENet.h5 (default: <weights folder>/whenet/WHENet.h5).")(f)
    f = click.option("--plain-script", type=click.Path(path_type=Path), default=PLAIN_SCRIPT, show_default=True,
                     help="The plain baseline script (scripts/plain_lowres.py of a posebench checkout).")(f)
    f = click.option("--before", type=click.Path(path_type=Path), default=None,
                     help="A folder with another installed posebench (pip install --no-deps --target DIR CHECKOUT) "
                          "timed too, as 'before'.")(f)
    f = click.option("--repeats", type=count(1), default=3, show_default=True,
                     help="Timed rounds (interleaved; median and min).")(f)
    return f


def inputs_from(data_dir: Path | None, fsanet_dir: Path | None, whenet_weights: Path | None, plain_script: Path,
                before: Path | None) -> Inputs:
    """The defaults filled in (as ``posebench run`` finds its data and weights), checked."""
    from posebench.acquire.defaults import default_dir
    from posebench.paths import weights_dir

    return Inputs(Path(data_dir or default_dir("aflw2000")), Path(fsanet_dir or weights_dir() / "fsanet"),
                  Path(whenet_weights or weights_dir() / "whenet" / "WHENet.h5"), Path(plain_script),
                  Path(before).resolve() if before else None)


@bench.command("lowres")
@_common
def bench_lowres(data_dir, fsanet_dir, whenet_weights, plain_script, before, repeats) -> None:
    """Time `posebench study lowres` cold (dlib, FSA-Net, WHENet, gt-landmarks x 4 factors) against
    the plain script, interleaved: wall time, peak memory of the process tree, ratios of medians."""
    inputs = inputs_from(data_dir, fsanet_dir, whenet_weights, plain_script, before)
    rows, _ = lowres_rows(inputs, repeats, click.echo)
    click.echo(format_rows(rows))
    click.echo(f"load after: {load()}")


@bench.command("run")
@_common
@click.option("-m", "--method", "methods", multiple=True, type=click.Choice(RUN_METHODS),
              help="Methods to time (repeatable; default: both).")
def bench_run(data_dir, fsanet_dir, whenet_weights, plain_script, before, repeats, methods) -> None:
    """Time `posebench run -m METHOD` cold (FSA-Net, WHENet) against the plain per-image loop,
    interleaved, and against the network-only time: wall, peak memory, ratios of medians."""
    inputs = inputs_from(data_dir, fsanet_dir, whenet_weights, plain_script, before)
    rows, _ = run_rows(inputs, tuple(methods) or RUN_METHODS, repeats, click.echo)
    click.echo(format_rows(rows))
    click.echo(f"load after: {load()}")


COMMANDS: list = []  # subcommands of `bench`
