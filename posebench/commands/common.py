"""Shared CLI plumbing: ``key=value`` options, the results folder option, what an interrupt kept."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from posebench.errors import UsageError
from posebench.limits import MAX_INT
from posebench.paths import results_root

if TYPE_CHECKING:
    from posebench.distributed import Group


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
def count(lo: int = 1, hi: int = MAX_INT) -> click.IntRange:
    """The click type of a whole-number option: ``lo`` .. ``hi`` inclusive, both bounds always
    given (:mod:`posebench.limits`; ``tests/commands/test_cli.py`` checks every option of every
    command has them)."""
    return click.IntRange(min=lo, max=hi)


class Finite(click.FloatRange):
    """A float option between two bounds that refuses NaN and infinities (click's ``FloatRange``
    lets NaN through: every comparison with it is false)."""

    name = "finite float"

    def convert(self, value, param, ctx):
        rv = click.types.FloatParamType.convert(self, value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(rv, param, ctx)


def finite(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> Finite:
    """The click type of a float option: finite, in ``lo`` .. ``hi`` (``lo_open``/``hi_open``:
    that bound excluded)."""
    return Finite(min=lo, max=hi, min_open=lo_open, max_open=hi_open)
