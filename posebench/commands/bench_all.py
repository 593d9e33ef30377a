"""``posebench bench all``: every bench, one table (CSV and markdown) in ``--out``.

Runs, in order, ``bench methods`` (every registered method against its plain loop),
``bench engines`` (engines and the int8 gate of WHENet and FSA-Net), ``bench whenet``,
``bench hopenet``, ``bench pnp``, ``bench dlib-boxes``, ``bench authors`` (only with
``--authors-python``), ``bench lowres`` and ``bench run`` (whole commands cold against the plain
script: only where the plain script is found), and ``bench gpu``'s availability line; each with
its own interleaved repeats and baselines (see each command's help). A bench that cannot run
here (weights or data absent) is one row saying why, and the others still run. The rows go to
``OUT/bench.csv`` and ``OUT/bench.md`` (the command, date, machine and the load before each
bench in the header), each written whole through a temporary file at the end.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

from posebench.commands.bench import bench
from posebench.commands.bench_table import Row, format_rows, load, write_table
from posebench.commands.common import count
from posebench.errors import PosebenchError

BENCHES = ("methods", "engines", "whenet", "hopenet", "pnp", "dlib-boxes", "authors", "lowres", "run", "gpu")


def _gpu_rows() -> list[Row]:
    from posebench.commands.bench_gpu import gpu_status

    torch_ok, ort_ok, text = gpu_status()
    if torch_ok or ort_ok:
        return [Row("gpu", "gpu", note=f"{text}: run `posebench bench gpu` for the GPU table")]
    return [Row("gpu", "gpu", note=f"no GPU here ({text})")]


@bench.command("all")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="AFLW2000 folder with images (default: <data root>/aflw2000).")
@click.option("-o", "--option", "options", multiple=True, metavar="METHOD.KEY=VALUE",
              help="A method's option for `bench methods` (repeatable), e.g. -o 3ddfa-v2.weights=PATH.")
@click.option("--fsanet-dir", type=click.Path(path_type=Path), default=None,
              help="FSA-Net ONNX folder (default: <weights folder>/fsanet).")
@click.option("--whenet-weights", type=click.Path(path_type=Path), default=None,
              help="WHENet.h5 (default: <weights folder>/whenet/WHENet.h5).")
@click.option("--yunet-model", type=click.Path(path_type=Path), default=None,
              help="YuNet ONNX for dlib-boxes (default: <weights folder>/yunet/yunet_n_dynamic.onnx).")
@click.option("--plain-script", type=click.Path(path_type=Path), default=Path("scripts") / "plain_lowres.py",
              show_default=True, help="The plain baseline script of lowres and run.")
@click.option("--before", type=click.Path(path_type=Path), default=None,
              help="A folder with another installed posebench, timed too in lowres and run.")
@click.option("--authors-python", type=click.Path(dir_okay=False), default=None,
              help="Python of the MediaPipe authors' environment (bench authors -m mediapipe; skipped without).")
@click.option("--repeats", type=count(3), default=3, show_default=True,
              help="Interleaved repeats of every bench (>= 3).")
@click.option("--limit", type=count(1), default=None, help="Use only the first N images (in-process benches).")
@click.option("--skip", multiple=True, type=click.Choice(BENCHES), help="Leave out a bench (repeatable).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results") / "bench",
              show_default=True, help="Folder for bench.csv and bench.md.")
def bench_all(data_dir, options, fsanet_dir, whenet_weights, yunet_model, plain_script, before, authors_python,
              repeats, limit, skip, out) -> None:
    """Run every bench (methods, engines, whenet, hopenet, pnp, dlib-boxes, authors, lowres, run, gpu)
    and write one table to OUT/bench.csv and OUT/bench.md."""
    from tqdm.auto import tqdm

    from posebench.acquire.defaults import default_dir
    from posebench.commands.common import parse_kv, show_progress
    from posebench.detect import default_yunet_path
    from posebench.fileio import writable_folder
    from posebench.paths import weights_dir

    writable_folder(Path(out), "--out folder")  # fails now, in one line, not after the benches
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    command = "posebench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["bench"] else \
        "posebench bench all"
    data = Path(data_dir or default_dir("aflw2000"))
    fsanet = Path(fsanet_dir or weights_dir() / "fsanet")
    whenet = Path(whenet_weights or weights_dir() / "whenet" / "WHENet.h5")
    yunet = Path(yunet_model or default_yunet_path())
    per = parse_kv(options)
    per.setdefault("onnx-headpose.model_dir", str(fsanet))
    per.setdefault("whenet.weights", str(whenet))

    def methods() -> list[Row]:
        from posebench.commands.bench_methods import _faces, _split_options, methods_rows, runnable_methods

        return methods_rows(_faces(data, limit), runnable_methods(), _split_options(per), repeats)

    def engines() -> list[Row]:
        from posebench.commands.bench_engines import engines_rows

        return engines_rows(data, str(whenet), str(fsanet), 32, repeats, 0, limit, True, ["whenet", "fsanet"])

    def whenet_bench() -> list[Row]:
        from posebench.commands.bench_whenet import whenet_rows

        return whenet_rows(data, whenet, 32, repeats, 0, limit)[0]

    def hopenet() -> list[Row]:
        from posebench.commands.bench_hopenet import hopenet_rows

        return hopenet_rows(data, None, 16, ("onnxruntime", "torch"), repeats, 0, limit)[0]

    def pnp() -> list[Row]:
        from posebench.commands.bench_pnp import pnp_rows
        from posebench.pnp.batch import default_engine, warm_up
        from posebench.registry import datasets

        engine = default_engine()
        warm_up(engine)
        return pnp_rows(datasets.create("aflw2000", {}, data_dir=str(data)).subset(limit), {}, engine, repeats, False)

    def boxes() -> list[Row]:
        from posebench.commands.bench_boxes import boxes_rows

        return boxes_rows(data, yunet, repeats, limit)

    def authors() -> list[Row]:
        from posebench.commands.bench_authors import authors_rows

        if not authors_python:
            return [Row("authors", "mediapipe", note="skipped: no --authors-python (the authors' environment)")]
        opts = {k.split(".", 1)[1]: v for k, v in per.items() if k.startswith("mediapipe.")}
        return authors_rows("mediapipe", authors_python, None, data, opts, repeats, limit)[0]

    def cold(which: str) -> Callable[[], list[Row]]:
        def go() -> list[Row]:
            from posebench.commands.bench_cold import RUN_METHODS, inputs_from, lowres_rows, run_rows

            inputs = inputs_from(data, fsanet, whenet, plain_script, before)
            echo = (lambda line: None) if not show_progress() else (lambda line: click.echo(line, err=True))
            if which == "lowres":
                return lowres_rows(inputs, repeats, echo)[0]
            return run_rows(inputs, RUN_METHODS, repeats, echo)[0]
        return go

    plan: dict[str, Callable[[], list[Row]]] = {
        "methods": methods, "engines": engines, "whenet": whenet_bench, "hopenet": hopenet, "pnp": pnp,
        "dlib-boxes": boxes, "authors": authors, "lowres": cold("lowres"), "run": cold("run"), "gpu": _gpu_rows}
    rows: list[Row] = []
    loads: list[str] = []
    todo = [k for k in plan if k not in skip]
    for name in tqdm(todo, desc="bench all", unit="bench", disable=not show_progress(), leave=False):
        loads.append(f"{name} {load()}")
        click.echo(f"bench {name}: load {load()}")
        try:
            got = plan[name]()
        except (PosebenchError, ImportError, OSError) as exc:
            got = [Row(name, name, note=f"skipped: {exc}")]
        rows += got
    loads.append(f"end {load()}")
    click.echo(format_rows(rows))
    for path in write_table(rows, out, "bench", command, started, loads):
        click.echo(f"wrote {path}")


COMMANDS: list = []  # a subcommand of `bench`
