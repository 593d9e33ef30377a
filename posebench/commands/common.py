"""Shared CLI plumbing: ``key=value`` options, dataset loading, results folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from posebench.datasets.base import Dataset
from posebench.errors import UsageError

DEFAULT_RESULTS = "posebench-results"


def parse_kv(pairs: tuple[str, ...], what: str = "--option") -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} expects key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def results_dir_default() -> str:
    return os.environ.get("POSEBENCH_RESULTS", DEFAULT_RESULTS)


def load_dataset(name: str, data_dir: str | None, options: dict[str, Any] | None = None) -> Dataset:
    """Kept for old importers: ``posebench.registry.datasets.create(name, options, data_dir=...)``."""
    from posebench.registry import datasets

    return datasets.create(name, options, data_dir=data_dir)


def check_results_dir(results_dir: Path) -> None:
    """Fail now, in one line, when runs and the prediction cache cannot be written under
    ``results_dir``; say what an interrupt keeps."""
    from posebench.cli import on_interrupt
    from posebench.fileio import writable_folder

    for sub in ("runs", "cache"):
        writable_folder(Path(results_dir) / sub, f"results folder ({sub})")
    on_interrupt("finished samples are cached; run the same command again to resume")


def show_progress() -> bool:
    return sys.stderr.isatty()


results_option = click.option(
    "--results-dir", type=click.Path(file_okay=False, path_type=Path), default=results_dir_default,
    show_default="$POSEBENCH_RESULTS or ./posebench-results",
    help="Folder for runs, the prediction cache and the leaderboard.",
)
