"""``posebench study``, ``posebench plot``, ``posebench studies`` and ``posebench bench pnp``.

A study run writes ``<results>/tables/<study>-<dataset>.csv`` (tidy table, settings and seed as
columns) and a ``.json`` record next to it (settings, dataset fingerprint, timing, versions);
``posebench plot`` draws that table to ``<results>/figures/<study>-<dataset>.png`` and ``.pdf``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import pandas as pd

from posebench.fileio import shown, writable_folder, write_atomic
from posebench.errors import DataError, UsageError
from posebench.method import bind_options
from posebench.registry import studies
from posebench.commands.bench import bench
from posebench.commands.common import load_dataset, parse_kv, results_option, show_progress


def create_study(name: str, options: dict[str, str]):
    entry = studies.get(name)
    kwargs = bind_options(entry.factory, options, f"study {name!r}")
    return entry.factory(**kwargs)


def stem_name(name: str, dataset: str, tag: str = "") -> str:
    if tag and not tag.replace("-", "").replace("_", "").isalnum():
        raise UsageError(f"--tag may hold letters, digits, '-' and '_' only, got {tag!r}")
    return f"{name}-{dataset}" + (f"-{tag}" if tag else "")


def table_paths(results_dir: Path, name: str, dataset: str, tag: str = "") -> tuple[Path, Path]:
    stem = Path(results_dir) / "tables" / stem_name(name, dataset, tag)
    return stem.with_suffix(".csv"), stem.with_suffix(".json")


def run_study(study, dataset, progress: bool) -> tuple[pd.DataFrame, float]:
    """Run with a tqdm bar over PnP problems; returns (table, seconds)."""
    from tqdm import tqdm

    from posebench.studies.base import landmark_data

    total = study.work(landmark_data(dataset))
    _compile_pnp_kernel(study)
    t0 = time.perf_counter()
    with tqdm(total=total, unit="pose", disable=not progress, desc=study.name, smoothing=0.1) as bar:
        table = study.run(dataset, progress=bar.update)
    return table, time.perf_counter() - t0


def _compile_pnp_kernel(study) -> None:
    """Compile the batched PnP kernel before timing when a study needs it and numba has not
    cached it yet (the first use after installing), saying so instead of stalling the bar."""
    settings = study.settings()
    if settings.get("solver", "iterative") != "iterative" or not str(settings.get("backend", "")).startswith("batched"):
        return
    from posebench.pnp.batch import default_engine, kernel_cached, warm_up

    if default_engine() == "numba" and kernel_cached() is False:
        click.echo("compiling the batched PnP kernel (first use after installing; numba caches it) ...", err=True)
        click.echo(f"compiled in {warm_up('numba'):.1f} s", err=True)


def _summary(name: str, table: pd.DataFrame) -> str:
    keys = [c for c in ("subset", "n_points", "jitter_px", "axis", "stretch_pct", "solver", "camera", "origin", "units")
            if c in table.columns]
    if name == "jitter":
        keys = [k for k in keys if k != "subset"]
        t = table.groupby(["n_points", "jitter_px"], as_index=False)[["mae_yaw", "mae_pitch", "mae_roll", "mae", "frac_over_30"]].mean()
    elif name == "keypoints":
        t = table[[k for k in keys if k != "subset"] + ["mae_yaw", "mae_pitch", "mae_roll", "mae", "frac_over_30"]]
    else:
        t = table[[k for k in keys if k != "n_points"] + ["mae_yaw", "mae_pitch", "mae_roll", "mae", "frac_over_30"]]
    return t.to_string(index=False, float_format=lambda v: f"{v:.3f}")


@click.command("study")
@click.argument("name")
@click.option("--dataset", "-d", "dataset_name", default="synthetic", show_default=True,
              help="Dataset with ground-truth 2D landmarks (see `posebench datasets`).")
@click.option("--data-dir", type=click.Path(), default=None, help="Dataset folder (e.g. ../shared/data/AFLW2000-labels).")
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
    """Run a landmark-to-pose study and store its table under <results-dir>/tables/.

    Studies: keypoints (paper Figure 3), jitter (Figure 4), stretch (Figure 5), solver (solver x
    camera guess x model origin). Angles in degrees; errors are MAE over the samples."""
    from posebench import __version__
    from posebench.cli import on_interrupt
    from posebench.evaluation.environment import environment

    study = create_study(name, parse_kv(options))
    csv_path, json_path = table_paths(results_dir, name, dataset_name, tag)
    writable_folder(csv_path.parent, "tables folder")
    if do_plot:
        writable_folder(Path(results_dir) / "figures", "figures folder")
    on_interrupt(f"the study's table was not written ({shown(csv_path)}); studies do not resume: "
                 "run the same command again to redo it")
    dataset = load_dataset(dataset_name, data_dir, parse_kv(dataset_options, "--dataset-option")).subset(limit)
    table, seconds = run_study(study, dataset, show_progress())
    write_atomic(csv_path, table.to_csv(index=False, float_format="%.6g"))
    record: dict[str, Any] = {
        "study": name, "tag": tag, "settings": study.settings(), "dataset": dataset_name, "protocol": dataset.protocol,
        "dataset_settings": dataset.settings, "fingerprint": dataset.fingerprint(), "n_samples": len(dataset),
        "seconds": round(seconds, 3), "posebench": __version__, "environment": environment(),
    }
    if study.settings().get("backend", "").startswith("batched"):
        from posebench.pnp.batch import default_engine, default_workers

        record["pnp_engine"] = {"engine": default_engine(), "workers": default_workers()}
    write_atomic(json_path, json.dumps(record, indent=2, default=str) + "\n")
    click.echo(f"{name} on {dataset_name} ({len(dataset)} samples), {seconds:.2f} s")
    click.echo(_summary(name, table))
    click.echo(f"table: {csv_path}")
    if do_plot:
        for p in draw(name, dataset_name, results_dir, tag=tag):
            click.echo(f"figure: {p}")


def draw(name: str, dataset_name: str, results_dir: Path, title: str = "", tag: str = "") -> list[Path]:
    csv_path, json_path = table_paths(results_dir, name, dataset_name, tag)
    if not csv_path.is_file():
        raise DataError(f"no table {csv_path}: run `posebench study {name} --dataset {dataset_name}` first")
    try:
        table = pd.read_csv(csv_path)
        settings = json.loads(json_path.read_text())["settings"] if json_path.is_file() else {}
    except (ValueError, OSError, KeyError) as exc:
        raise DataError(f"cannot read {csv_path}: {exc}") from None
    entry = studies.get(name)
    import inspect

    accepted = set(inspect.signature(entry.factory).parameters)
    study = create_study(name, {k: str(v) for k, v in settings.items() if k in accepted and k != "face"})
    stem = Path(results_dir) / "figures" / stem_name(name, dataset_name, tag)
    writable_folder(stem.parent, "figures folder")
    return study.plot(table, stem, title)


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
    for p in draw(name, dataset_name, results_dir, title, tag):
        click.echo(f"figure: {p}")


@click.command("studies")
def studies_cmd() -> None:
    """List the registered studies and their options (with defaults)."""
    import inspect

    for e in studies.entries():
        click.echo(f"{e.name:<10} {e.description}")
        sig = inspect.signature(e.factory)
        opts = ", ".join(f"{n}={p.default}" for n, p in sig.parameters.items())
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

    opts = parse_kv(options)
    if "backend" in opts:
        raise UsageError("bench pnp sets backend itself; drop --option backend=...")
    dataset = load_dataset(dataset_name, data_dir).subset(limit)
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
