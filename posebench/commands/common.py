"""Shared CLI plumbing: ``key=value`` options, dataset loading, results folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from posebench.datasets.base import Dataset
from posebench.errors import UsageError
from posebench.method import bind_options

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
    from posebench.registry import datasets

    from posebench.datasets.degrade import META_KEY, with_downsample

    entry = datasets.get(name)
    options = dict(options or {})
    factor = options.pop(META_KEY, None)  # an option of every dataset (posebench.datasets.degrade)
    kwargs = bind_options(entry.factory, options, f"dataset {name!r}")
    dataset = entry.factory(data_dir=data_dir, **kwargs)
    return dataset if factor is None else with_downsample(dataset, factor)


def show_progress() -> bool:
    return sys.stderr.isatty()


results_option = click.option(
    "--results-dir", type=click.Path(file_okay=False, path_type=Path), default=results_dir_default,
    show_default="$POSEBENCH_RESULTS or ./posebench-results",
    help="Folder for runs, the prediction cache and the leaderboard.",
)
