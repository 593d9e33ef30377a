"""``posebench bench``: speed benchmarks. Each subcommand times a fast path against its
baseline in the same run and prints the ratio; subcommands attach to :data:`bench`."""

from __future__ import annotations

import click


@click.group("bench")
def bench() -> None:
    """Speed benchmarks (each prints a ratio against a baseline measured in the same run)."""


COMMANDS = [bench]
