"""``posebench methods`` and ``posebench datasets``: what is registered and what it needs."""

from __future__ import annotations

import click

from posebench.registry import datasets, methods


def _table(entries) -> None:
    width = max((len(e.name) for e in entries), default=4)
    for e in entries:
        needs = ", ".join(sorted(e.needs)) or "-"
        click.echo(f"{e.name:<{width}}  needs: {needs:<24}  {e.description}")


@click.command("methods")
def methods_cmd() -> None:
    """List estimator plugins and what each needs (image, landmarks, box, weights)."""
    _table(methods.entries())


@click.command("datasets")
def datasets_cmd() -> None:
    """List dataset readers and what their samples provide."""
    _table(datasets.entries())


COMMANDS = [methods_cmd, datasets_cmd]
