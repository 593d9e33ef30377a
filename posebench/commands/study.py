"""``posebench study``, ``posebench plot``, ``posebench studies`` and ``posebench bench pnp``.

A study run writes ``<results>/tables/<study>-<dataset>.csv`` (tidy table, settings and seed as
columns) and a ``.json`` record next to it (settings, dataset fingerprint, timing, versions);
``posebench plot`` draws that table to ``<results>/figures/<study>-<dataset>.png`` and ``.pdf``.
"""

from __future__ import annotations

from pathlib import Path

import click

from posebench.commands.bench import bench
from posebench.commands.common import parse_kv, results_option, show_progress
from posebench.errors import UsageError
from posebench.registry import datasets, studies


def _notify(message: str) -> None:
    click.echo(message, err=True)


@click.command("study")
@click.argument("name")
@click.option("--dataset", "-d", "dataset_name", default="synthetic", show_default=True,
              help="Dataset with ground-truth 2D landmarks (see `posebench datasets`).")
@click.option("--data-dir", type=click.Path(), default=None, help="Dataset folder (default: <data root>/DATASET, as `posebench run`).")
@click.option("--dataset-option", "dataset_options", multiple=True, metavar="KEY=VALUE",
              help="Dataset option (repeatable), e.g. n=1000 for synthetic.")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
              help="Study option (repeatable), e.g. face=PATH, solver=sqpnp, seed=3 (see `posebench studies`).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use only the first N samples.")
@click.option("--plot/--no-plot", "do_plot", default=False, help="Also draw the figure (same as `posebench plot`).")
@click.option("--tag", default="", help="Suffix for the stored table/figure names, to keep variants apart "
              "(e.g. --tag sqpnp -> NAME-DATASET-sqpnp.csv).")
@results_option
def study_cmd(name, dataset_name, data_dir, dataset_options, options, limit, do_plot, tag, results_dir) -> None:
    """Run a registered study (built-in or a plugin's) and store its table under <results-dir>/tables/.

    Landmark studies: keypoints (paper Figure 3), jitter (Figure 4), stretch (Figure 5), solver
    (solver x camera guess x model origin), landmark-count (Figure 6). Image studies, run through
    the cached runner (-o methods=a,b; -o METHOD.KEY=VALUE for a method's option): lowres
    (Figure 8), afw-yaw (Figure 7), biwi-p2 (Table 3). `posebench studies` lists all. Angles in
    degrees; errors are MAE over the samples."""
    from posebench.cli import on_interrupt
    from posebench.fileio import shown, writable_folder
    from posebench.studies.run import draw, run_and_store, table_paths

    csv_path, _ = table_paths(results_dir, name, dataset_name, tag)
    if do_plot:  # the tables folder is checked by run_and_store, before the work
        writable_folder(Path(results_dir) / "figures", "figures folder")
    on_interrupt(f"the study's table was not written ({shown(csv_path)}); studies do not resume: "
                 "run the same command again to redo it")
    study, dataset, table, seconds, (csv_path, _) = run_and_store(
        name, dataset_name, results_dir, parse_kv(options), parse_kv(dataset_options, "--dataset-option"),
        data_dir, limit, tag, show_progress(), _notify)
    click.echo(f"{name} on {dataset_name} ({len(dataset)} samples), {seconds:.2f} s")
    click.echo(study.summary(table))
    click.echo(f"table: {csv_path}")
    if do_plot:
        for p in draw(name, dataset_name, results_dir, tag=tag):
            click.echo(f"figure: {p}")


@click.command("plot")
@click.argument("name")
@click.option("--dataset", "-d", "dataset_name", default="synthetic", show_default=True,
              help="Which stored table to draw: <results-dir>/tables/NAME-DATASET.csv.")
@click.option("--title", default="", help="Figure title (default: the study's).")
@click.option("--tag", default="", help="Suffix for the stored table/figure names, to keep variants apart "
              "(e.g. --tag sqpnp -> NAME-DATASET-sqpnp.csv).")
@results_option
def plot_cmd(name, dataset_name, title, tag, results_dir) -> None:
    """Draw a stored study table to <results-dir>/figures/NAME-DATASET[-TAG].png and .pdf."""
    from posebench.studies.run import draw

    for p in draw(name, dataset_name, results_dir, title, tag):
        click.echo(f"figure: {p}")


@click.command("studies")
def studies_cmd() -> None:
    """List the registered studies and their options (with defaults)."""
    import inspect

    for e in studies.entries():
        click.echo(f"{e.name:<10} {e.description}")
        opts = ", ".join(f"{n}={v}" for n, v in studies.defaults(e.name).items())
        if any(p.kind == p.VAR_KEYWORD for p in inspect.signature(e.factory).parameters.values()):
            opts += ", METHOD.KEY=VALUE"  # per-method options of the image studies
        click.echo(f"{'':<10} options: {opts}")


@bench.command("pnp")
@click.option("--dataset", "-d", "dataset_name", default="synthetic", show_default=True, help="Dataset with landmarks.")
@click.option("--data-dir", type=click.Path(), default=None, help="Dataset folder.")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
              help="Jitter-study option (repeatable), e.g. repeats=2 face=PATH.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use only the first N samples.")
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


COMMANDS = [study_cmd, plot_cmd, studies_cmd]


def __getattr__(name: str):
    """Old import paths (``from posebench.commands.study import create_study``): the study
    runner now lives in :mod:`posebench.studies.run`."""
    if name in ("create_study", "draw", "run_study", "table_paths", "stem_name"):
        from posebench.studies import run

        return getattr(run, name)
    raise AttributeError(name)
