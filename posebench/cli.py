"""The ``posebench`` command line (click). Subcommands live in :mod:`posebench.commands`."""

from __future__ import annotations

import os
import sys
import warnings

import click

from posebench import __version__
from posebench.commands import (
    bench,
    bench_all,
    bench_authors,
    bench_boxes,
    bench_cold,
    bench_engines,
    bench_gpu,
    bench_hopenet,
    bench_methods,
    bench_pnp,
    bench_whenet,
    data,
    export,
    info,
    predict,
    run,
    runs,
    study,
    train,
    visual,
)
from posebench.commands.common import INTERRUPT_NOTE
from posebench.errors import PosebenchError
from posebench.interrupts import acknowledge

# Each module defines click commands/groups and a ``COMMANDS`` list of them (imported by name, so
# scripts/check_import_cycles.py sees these imports), in the order ``posebench --help`` lists them.
COMMAND_MODULES = [info, run, predict, runs, bench, data, bench_methods, bench_authors, export, bench_hopenet, bench_whenet,
                   bench_pnp, bench_engines, bench_gpu, bench_cold, bench_boxes, bench_all, study, train, visual]


def one_line(text: object) -> str:
    """A message on one line (lines joined with '; ')."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


_show_warning = warnings.showwarning


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """posebench's own warnings (``posebench: ...``: a plugin skipped, a name taken) as one
    ``warning:`` line on stderr; everything else as Python shows it."""
    text = str(message)
    if text.startswith("posebench: "):
        click.echo(f"warning: {one_line(text[len('posebench: '):])}", err=True)
    else:
        _show_warning(message, category, filename, lineno, file, line)


def _plugin_frame(exc: BaseException) -> str:
    """``file:line`` of the innermost frame of ``exc``'s traceback (where it was raised)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return ""
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"


class PosebenchGroup(click.Group):
    """Turns posebench's own errors, file-system errors and interrupts into one-line messages
    (no traceback; ``POSEBENCH_DEBUG=1`` shows the traceback of posebench's own errors too)."""

    def invoke(self, ctx: click.Context):
        for stream in (sys.stdout, sys.stderr):  # file names are printed byte for byte (PEP 383)
            try:
                stream.reconfigure(errors="surrogateescape")
            except (AttributeError, ValueError, OSError):
                pass
        warnings.showwarning = _one_line_warning
        try:
            return super().invoke(ctx)
        except PosebenchError as exc:
            if os.environ.get("POSEBENCH_DEBUG"):
                raise
            click.echo(f"error: {one_line(exc)}", err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:  # an output or input location the checks did not foresee
            from posebench.fileio import shown

            where = f": {shown(exc.filename)}" if exc.filename else ""
            click.echo(f"error: {one_line(exc.strerror or exc)}{where}", err=True)
            ctx.exit(1)
        except click.exceptions.BadParameter as exc:  # an option value outside its domain: one line, like ours
            click.echo(f"error: {one_line(exc.format_message())}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click's other usage errors and exits print themselves
        except Exception as exc:  # a bug, ours or a plugin's: one line, the traceback on request
            if os.environ.get("POSEBENCH_DEBUG"):
                raise
            where = _plugin_frame(exc)
            click.echo(f"error: unexpected {type(exc).__name__}: {one_line(exc) or '(no message)'}"
                       + (f" in {where}" if where else "") + " (POSEBENCH_DEBUG=1 shows the traceback)", err=True)
            ctx.exit(1)
        except KeyboardInterrupt as exc:
            acknowledge()
            note = ctx.meta.get(INTERRUPT_NOTE, "stopped before finishing")
            click.echo(f"interrupted: {note}", err=True)
            ctx.exit(getattr(exc, "exit_code", 130))


@click.group(cls=PosebenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="posebench")
def main() -> None:
    """Benchmark head pose estimators: learned networks against landmark-to-pose pipelines.

    Angles are degrees in the AFLW2000-3D convention (yaw, pitch, roll). Start with
    `posebench demo`, then `posebench run --help`.
    """


for _module in COMMAND_MODULES:
    for _cmd in _module.COMMANDS:
        main.add_command(_cmd)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
