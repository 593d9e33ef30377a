"""``posebench bench pnp``: the jitter study (Figure 4) timed with the batched PnP solver against
the per-sample ``cv2.solvePnP`` loop, in one run."""

from __future__ import annotations

import click

from posebench.commands.bench import bench
from posebench.commands.bench_table import Row, finish, format_rows, interleave, load
from posebench.commands.common import count, parse_kv, show_progress
from posebench.errors import UsageError
from posebench.registry import datasets


def pnp_rows(dataset, opts: dict[str, str], engine: str, repeats: int, progress_bar: bool,
             echo=None) -> list[Row]:
    """The jitter study on ``dataset`` with each backend (module doc), ``repeats`` interleaved rounds:
    rows of seconds per study (baseline: the cv2 loop), ``max_diff_deg`` = the largest |MAE
    difference| of the backend's table from the cv2 table (degrees)."""
    import os

    from posebench.pnp.batch import default_workers
    from posebench.studies.run import create_study, run_study

    if "backend" in opts:
        raise UsageError("bench pnp sets backend itself; drop --option backend=...")
    cores = default_workers()
    unit, one_unit = ("threads", "thread") if engine == "numba" else ("processes", "process")
    one = f"batched, 1 {one_unit}"
    runs = {f"batched, {cores} {unit}": ("batched", cores), one: ("batched", 1), "cv2 loop": ("cv2", 1),
            f"batched-unverified, {cores} {unit}": ("batched-unverified", cores)}
    tables: dict[str, object] = {}
    saved = {k: os.environ.get(k) for k in ("POSEBENCH_WORKERS", "POSEBENCH_PNP_ENGINE")}

    def path(label: str):
        backend, workers = runs[label]

        def go():
            os.environ["POSEBENCH_WORKERS"] = str(workers)
            study = create_study("jitter", {**opts, "backend": backend})
            tables[label], _ = run_study(study, dataset, progress_bar)
            return study.work(_data(dataset))
        return go

    try:
        os.environ["POSEBENCH_PNP_ENGINE"] = engine
        times, outs = interleave({k: path(k) for k in runs}, repeats)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    cols = ["mae_yaw", "mae_pitch", "mae_roll", "mae"]
    rows = []
    for label in runs:
        t = tables[label]
        diff = float((t[cols] - tables["cv2 loop"][cols]).abs().to_numpy().max())
        fb = int(t["n_cv2_fallback"].sum()) if "n_cv2_fallback" in t else 0
        rows.append(Row.timed("pnp", label, times[label], unit="s", baseline="" if label == "cv2 loop" else "cv2 loop",
                              max_diff_deg=diff,
                              note=f"jitter study, {len(dataset)} samples, {len(t)} conditions, {outs[label][-1]:,} poses"
                                   + (f"; {fb} re-solved by cv2" if fb and label != "cv2 loop" else "")
                                   + "; max |d|: largest |MAE difference| from the cv2 table"))
    return finish(rows)


@bench.command("pnp")
@click.option("--dataset", "-d", "dataset_name", default="synthetic", show_default=True, help="Dataset with landmarks.")
@click.option("--data-dir", type=click.Path(), default=None, help="Dataset folder.")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
              help="Jitter-study option (repeatable), e.g. repeats=2 face=PATH.")
@click.option("--limit", type=count(1), default=None, help="Use only the first N samples.")
@click.option("--engine", type=click.Choice(["numba", "numpy"]), default=None,  # batch_pnp.ENGINES
              help="Batched engine (default: numba where installed with OpenCV >= 5, else numpy).")
@click.option("--repeats", type=count(1), default=3, show_default=True,
              help="Interleaved rounds of every backend (median and min).")
def bench_pnp(dataset_name, data_dir, options, limit, engine, repeats) -> None:
    """Time the jitter study (Figure 4) with the batched solver (on all cores, then on one), the
    per-sample cv2.solvePnP loop and the batched solver without cv2 fallback, interleaved rounds;
    print the times, each as a multiple of the cv2 loop's, and how far the tables differ from the
    cv2 one. The batched engine is compiled before timing (numba caches it on disk; the first run
    of a fresh install compiles for some seconds)."""
    from posebench.pnp.batch import default_engine, warm_up

    opts = parse_kv(options)
    if "backend" in opts:
        raise UsageError("bench pnp sets backend itself; drop --option backend=...")
    dataset = datasets.create(dataset_name, {}, data_dir=data_dir).subset(limit)
    engine = engine or default_engine()
    click.echo(f"engine: {engine}; compile/start: {warm_up(engine):.2f} s (not timed below); load {load()}")
    rows = pnp_rows(dataset, opts, engine, repeats, show_progress())
    click.echo(format_rows(rows))
    click.echo(f"load after: {load()}")


def _data(dataset):
    from posebench.studies.base import landmark_data

    return landmark_data(dataset)


COMMANDS: list = []  # attaches to the `bench` group
