"""``posebench run``, ``posebench leaderboard`` and ``posebench demo``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from posebench.commands.common import check_results_dir, count, job, parse_kv, results_option, show_progress
from posebench.evaluation.leaderboard import write_leaderboard
from posebench.evaluation.runner import RunResult, check_images_for, evaluate
from posebench.fileio import writable_folder
from posebench.registry import datasets, methods


def _print_table(res: RunResult) -> None:
    j = res.summary_json()
    opts = ", ".join(f"{k}={v}" for k, v in sorted(j["options"].items()))
    click.echo(f"{j['method']} ({opts}) on {j['dataset']} [{j['protocol']}]")
    click.echo(f"  set-up: {j['setup']}")
    click.echo(f"  evaluated {j['n_evaluated']} of {j['n_samples']}, failed {j['n_failed']}"
               f" ({j['from_cache']} from cache)")
    click.echo(f"  MAE yaw {j['mae_yaw']:.3f}  pitch {j['mae_pitch']:.3f}  roll {j['mae_roll']:.3f}  "
               f"mean {j['mae']:.3f}  [95% CI {j['mae_ci95'][0]:.3f}-{j['mae_ci95'][1]:.3f}]")
    spp = j["seconds_per_sample"]
    click.echo(f"  geodesic {j['geodesic']:.3f}  MAEV {j['maev']:.3f}  "
               f"{'-' if spp is None else f'{1000 * spp:.2f}'} ms/sample")
    if j["behind_camera"] or j["behind_camera_replaced"]:
        click.echo(f"  behind the camera: {j['behind_camera']} scored as they are, "
                   f"{j['behind_camera_replaced']} replaced by the guard")
    if j["processes"] > 1:
        click.echo(f"  evaluated by {j['processes']} processes (torchrun)")
    if j["detectors"]:
        click.echo("  face boxes: " + ", ".join(f"{k} x{v}" for k, v in j["detectors"].items()))
    for reason, n in list(j["failures"].items())[:5]:
        click.echo(f"  failed x{n}: {reason}")
    click.echo(f"  stored: {j['run_file']}")


@click.command("run")
@click.option("--method", "-m", "method_name", required=True, help="Method name (see `posebench methods`).")
@click.option("--dataset", "-d", "dataset_name", required=True, help="Dataset name (see `posebench datasets`).")
@click.option("--data-dir", type=click.Path(), default=None,
              help="Dataset folder (default: <data root>/<dataset>, data root = $POSEBENCH_DATA).")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE", help="Method option (repeatable).")
@click.option("--dataset-option", "dataset_options", multiple=True, metavar="KEY=VALUE",
              help="Dataset option (repeatable), e.g. n=1000 seed=3 for synthetic.")
@click.option("--limit", type=count(1), default=None, help="Evaluate only the first N samples.")
@results_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout instead of a table.")
def run_cmd(method_name, dataset_name, data_dir, options, dataset_options, limit, results_dir, as_json) -> None:
    """Evaluate one method on one dataset, with per-sample caching (an interrupted run resumes).

    Under `torchrun --nproc-per-node N $(which posebench) run ...` each process evaluates its
    share of the samples into the shared cache and process 0 alone scores and writes the run
    (the same record as one process; docs/sharding.md)."""
    check_results_dir(results_dir)
    method = methods.create(method_name, parse_kv(options))
    dataset = datasets.create(dataset_name, parse_kv(dataset_options, "--dataset-option"), data_dir=data_dir)
    dataset = dataset.subset(limit)
    check_images_for(method, dataset)
    with job() as group:
        t0 = time.perf_counter()
        res = evaluate(method, dataset, results_dir, progress=show_progress())
        res.record.wall_seconds_this_call = round(time.perf_counter() - t0, 3)
        if not group.main:  # rank 0 alone reports
            return
        if as_json:
            out = res.summary_json()
            out["wall_seconds"] = res.record.wall_seconds_this_call
            click.echo(json.dumps(out))
        else:
            _print_table(res)
            click.echo(f"  took {res.record.wall_seconds_this_call:.2f} s")


@click.command("leaderboard")
@results_option
@click.option("--out", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: <results-dir>/leaderboard.md, .csv or .json).")
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "json"]), default="md", show_default=True,
              help="Markdown tables, or one row per run as CSV or JSON.")
@click.option("--dataset", "-d", "dataset", default=None, help="Only runs on this dataset (name).")
@click.option("--method", "-m", "method", default=None, help="Only runs of this method (name).")
@click.option("--paper", is_flag=True, help="Append the paper's Tables 1-5, reported and reproduced (markdown).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file (the default file is always replaced).")
def leaderboard_cmd(results_dir: Path, output: Path | None, fmt: str, dataset: str | None, method: str | None,
                    paper: bool, overwrite: bool) -> None:
    """Write and print the leaderboard of the runs stored in the results folder (one row per run;
    runs that can only have made the same predictions, such as one weights file by its default
    path and by -o weights=, are one row). --out is never a file the leaderboard reads (a run's
    record or per-sample table, a study table) and replaces an existing file only with --overwrite."""
    if output is not None:
        from posebench.outputs import check_outputs

        stored = [p for sub in ("runs", "tables") for p in sorted((Path(results_dir) / sub).glob("*"))
                  if p.suffix in (".json", ".csv")]
        check_outputs({"--out": output}, {f"stored {p.parent.name}/{p.name}": p for p in stored}, overwrite)
    writable_folder(Path(output).parent if output else results_dir, "leaderboard folder")
    text, path = write_leaderboard(results_dir, output, fmt=fmt, dataset=dataset, method=method, paper=paper)
    click.echo(text)
    click.echo(f"\n(written to {path})", err=True)


DEMO_RUNS = [
    {},  # setup=weak-perspective: scaled-orthographic fit
    {"solver": "sqpnp"},
    {"setup": "paper"},  # the paper's: OpenCV iterative, focal = width, no guard
    {"setup": "paper", "face": "exact"},
]


@click.command("demo")
@results_option
@click.option("-n", "n", type=count(1), default=500, show_default=True, help="Synthetic faces.")
def demo_cmd(results_dir: Path, n: int) -> None:
    """The offline main job: ground-truth-landmark pipelines on the embedded synthetic dataset,
    then the leaderboard. Needs no download."""
    check_results_dir(results_dir)
    dataset = datasets.create("synthetic", {"n": n})
    for opts in DEMO_RUNS:
        res = evaluate(methods.create("gt-landmarks", opts), dataset, results_dir, progress=show_progress())
        _print_table(res)
    text, path = write_leaderboard(results_dir, paper=False)
    click.echo("")
    click.echo(text)
    from posebench.methods.landmark_pose import SETUP_WHY

    click.echo(f"\nWhy: {SETUP_WHY}.")
    click.echo(f"\n(written to {path})", err=True)


COMMANDS = [run_cmd, leaderboard_cmd, demo_cmd]
