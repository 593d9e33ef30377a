"""``posebench runs list`` and ``posebench runs rm``: see and prune the stored runs."""

from __future__ import annotations

import click

from posebench.commands.common import results_option


@click.group("runs")
def runs_group() -> None:
    """List or remove the runs stored in a results folder (the leaderboard's rows)."""


@runs_group.command("list")
@results_option
@click.option("--dataset", "-d", "dataset", default=None, help="Only runs on this dataset (name).")
@click.option("--method", "-m", "method", default=None, help="Only runs of this method (name).")
def runs_list(results_dir, dataset, method) -> None:
    """One line per stored run: key (first 8 of 20), dataset, data folder, samples, MAE, label,
    created (UTC)."""
    from posebench.evaluation.leaderboard import load_runs

    runs = [(r, p) for r, p in load_runs(results_dir)
            if (dataset is None or r.dataset == dataset) and (method is None or r.method == method)]
    for r, p in sorted(runs, key=lambda rp: (rp[0].dataset, rp[0].created)):
        mae = r.summary.mae
        data = r.data_root.rstrip("/").split("/")[-1] if r.data_root else "embedded"
        click.echo(f"{r.key[:8]}  {r.dataset:<9} {data:<18} {r.n_evaluated:>5}/{r.n_samples:<5} "
                   f"MAE {'   –  ' if mae != mae else f'{mae:6.2f}'}  {r.label}  [{r.protocol}]  {r.created}")
    click.echo(f"{len(runs)} runs in {results_dir / 'runs'}", err=True)


@runs_group.command("rm")
@click.argument("runs", nargs=-1, required=True, metavar="KEY...")
@results_option
@click.option("--cache", is_flag=True, help="Also remove the runs' prediction caches (a re-run then computes again).")
def runs_rm(runs, results_dir, cache) -> None:
    """Remove stored runs by key (its first or last 4+ characters: `runs list` shows the first 8,
    the leaderboard's run column the last 8) or file stem:
    the record, the per-sample table and the gallery (and with --cache the predictions). Every key
    is checked before anything is removed. `posebench leaderboard` then rewrites the table."""
    from posebench.evaluation.store import find_run, remove_run

    found = {}
    for ref in runs:
        rec, path = find_run(results_dir, ref)
        found[path] = rec
    for path, rec in found.items():
        removed = remove_run(results_dir, path, cache)
        click.echo(f"removed {rec.key[:8]} {rec.label} on {rec.dataset}: {', '.join(p.name for p in removed)}")


COMMANDS = [runs_group]
