"""Shared CLI plumbing: ``key=value`` options, the results folder option, what an interrupt kept."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from posebench.errors import UsageError

if TYPE_CHECKING:
    from posebench.distributed import Group
from posebench.paths import results_root


def parse_kv(pairs: tuple[str, ...], what: str = "--option") -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} expects key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


#: Key in ``click.Context.meta`` (shared by the whole command chain) of what a command says
#: when it is interrupted; see :func:`on_interrupt`.
INTERRUPT_NOTE = "posebench.interrupt_note"


def on_interrupt(note: str) -> None:
    """Set what the running command prints after ``interrupted:`` on Ctrl-C/SIGTERM: what it
    kept and how to go on (true for that command; the default says only that it stopped)."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[INTERRUPT_NOTE] = note


def check_results_dir(results_dir: Path) -> None:
    """Fail now, in one line, when runs and the prediction cache cannot be written under
    ``results_dir``; say what an interrupt keeps."""
    from posebench.fileio import writable_folder

    for sub in ("runs", "cache"):
        writable_folder(Path(results_dir) / sub, f"results folder ({sub})")
    on_interrupt("finished samples are cached; run the same command again to resume")


results_option = click.option(
    "--results-dir", type=click.Path(file_okay=False, path_type=Path), default=results_root,
    show_default="$POSEBENCH_RESULTS or ./posebench-results",
    help="Folder for runs, the prediction cache and the leaderboard.",
)


@contextmanager
def job() -> Iterator["Group"]:
    """This command's place in a ``torchrun`` job (:func:`posebench.distributed.group`; the one
    process otherwise). The block runs on every rank; at its end the ranks meet once more, so an
    error on any rank (rank 0's writing included) ends every rank with one line and a non-zero
    exit (:class:`posebench.distributed.ShardError` on the others); the process group is closed
    on every way out."""
    from posebench import distributed

    group = distributed.group()
    try:
        with group.together("the end of the command"):
            yield group
    finally:
        distributed.close()


def show_progress() -> bool:
    """Progress bars on an interactive stderr, on one process of a torchrun job only (rank 0)."""
    from posebench import distributed

    return sys.stderr.isatty() and distributed.current().main
