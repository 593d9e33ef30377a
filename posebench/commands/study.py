"""``posebench study``, ``posebench plot`` and ``posebench studies``.

A study run writes ``<results>/tables/<study>-<dataset>.csv`` (tidy table, options and seed as
columns) and a ``.json`` record next to it (options, dataset fingerprint, timing, versions);
``posebench plot`` draws that table to ``<results>/figures/<study>-<dataset>.png`` and ``.pdf``.
"""

from __future__ import annotations

from pathlib import Path

import click

from posebench.commands.common import count, job, parse_kv, results_option, show_progress
from posebench.registry import studies


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
@click.option("--limit", type=count(1), default=None, help="Use only the first N samples.")
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
    degrees; errors are MAE over the samples. Under `torchrun` the image studies' evaluations
    are sharded over the processes and process 0 alone writes the table (docs/sharding.md)."""
    from posebench.commands.common import on_interrupt
    from posebench.fileio import shown, writable_folder
    from posebench.studies.run import draw, run_and_store, table_paths

    csv_path, _ = table_paths(results_dir, name, dataset_name, tag)
    if do_plot:  # the tables folder is checked by run_and_store, before the work
        writable_folder(Path(results_dir) / "figures", "figures folder")
    on_interrupt(f"the study's table was not written ({shown(csv_path)}); studies do not resume: "
                 "run the same command again to redo it")
    with job() as group:
        study, dataset, table, seconds, (csv_path, _) = run_and_store(
            name, dataset_name, results_dir, parse_kv(options), parse_kv(dataset_options, "--dataset-option"),
            data_dir, limit, tag, show_progress(), _notify if group.main else None)
    if not group.main:  # rank 0 alone reports and draws
        return
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

    from posebench.errors import PosebenchError

    for e in studies.entries():
        click.echo(f"{e.name:<10} {e.description}")
        try:
            opts = ", ".join(f"{n}={v}" for n, v in studies.defaults(e.name).items())
            if any(p.kind == p.VAR_KEYWORD for p in inspect.signature(e.factory).parameters.values()):
                opts += ", METHOD.KEY=VALUE"  # per-method options of the image studies
        except PosebenchError as exc:  # a broken plugin: said on its line, the others still listed
            opts = f"(cannot be loaded: {exc})"
        click.echo(f"{'':<10} options: {opts}")


COMMANDS = [study_cmd, plot_cmd, studies_cmd]
