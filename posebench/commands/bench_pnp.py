"""``posebench bench pnp``: the jitter study (Figure 4) timed with the batched PnP solver against
the per-sample ``cv2.solvePnP`` loop, in one run."""

from __future__ import annotations

import click

from posebench.commands.bench import bench
from posebench.commands.common import count, parse_kv, show_progress
from posebench.errors import UsageError
from posebench.registry import datasets


@bench.command("pnp")
@click.option("--dataset", "-d", "dataset_name", default="synthetic", show_default=True, help="Dataset with landmarks.")
@click.option("--data-dir", type=click.Path(), default=None, help="Dataset folder.")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
              help="Jitter-study option (repeatable), e.g. repeats=2 face=PATH.")
@click.option("--limit", type=count(1), default=None, help="Use only the first N samples.")
@click.option("--engine", type=click.Choice(["numba", "numpy"]), default=None,  # batch_pnp.ENGINES
              help="Batched engine (default: numba where installed with OpenCV >= 5, else numpy).")
def bench_pnp(dataset_name, data_dir, options, limit, engine) -> None:
    """Time the jitter study (Figure 4) with the batched solver (on all cores, then on one), the
    per-sample cv2.solvePnP loop and the batched solver without cv2 fallback, in one run; print
    the times, the ratios and how far the tables differ from the cv2 one. The batched engine is
    compiled before timing (numba caches it on disk; the first run of a fresh install compiles
    for some seconds)."""
    import os

    from posebench.pnp.batch import default_engine, default_workers, warm_up
    from posebench.studies.run import create_study, run_study

    opts = parse_kv(options)
    if "backend" in opts:
        raise UsageError("bench pnp sets backend itself; drop --option backend=...")
    dataset = datasets.create(dataset_name, {}, data_dir=data_dir).subset(limit)
    cores = default_workers()
    engine = engine or default_engine()
    unit, one_unit = ("threads", "thread") if engine == "numba" else ("processes", "process")
    click.echo(f"engine: {engine}; compile/start: {warm_up(engine):.2f} s (not timed below)")
    times, tables = {}, {}
    one = f"batched, 1 {one_unit}"
    runs = [("batched", "batched", cores), (one, "batched", 1), ("cv2", "cv2", 1),
            ("batched-unverified", "batched-unverified", cores)]
    saved = {k: os.environ.get(k) for k in ("POSEBENCH_WORKERS", "POSEBENCH_PNP_ENGINE")}
    try:
        os.environ["POSEBENCH_PNP_ENGINE"] = engine
        for label, backend, workers in runs:
            os.environ["POSEBENCH_WORKERS"] = str(workers)
            study = create_study("jitter", {**opts, "backend": backend})
            tables[label], times[label] = run_study(study, dataset, show_progress())
            click.echo(f"{label:>18}: {times[label]:8.2f} s  ({study.work(_data(dataset)) / times[label]:,.0f} poses/s)"
                       + (f"  [{workers} {unit}]" if workers > 1 else ""))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    click.echo(f"ratio: {times['cv2'] / times['batched']:.2f}x faster (cv2 loop / batched on {cores} {unit}), "
               f"{times['cv2'] / times[one]:.2f}x on one, on {len(dataset)} samples, "
               f"{len(tables['cv2'])} conditions")
    cols = ["mae_yaw", "mae_pitch", "mae_roll", "mae"]
    for backend in ("batched", one, "batched-unverified"):
        diff = (tables[backend][cols] - tables["cv2"][cols]).abs().to_numpy().max()
        fb = int(tables[backend]["n_cv2_fallback"].sum()) if "n_cv2_fallback" in tables[backend] else 0
        click.echo(f"max |MAE difference| {backend} vs cv2: {diff:.2e} degrees"
                   + (f" ({fb} of {study.work(_data(dataset))} problems re-solved by cv2)" if fb else ""))


def _data(dataset):
    from posebench.studies.base import landmark_data

    return landmark_data(dataset)


COMMANDS: list = []  # attaches to the `bench` group
