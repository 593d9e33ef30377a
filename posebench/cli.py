"""The ``posebench`` command line (click). Subcommands live in :mod:`posebench.commands`."""

from __future__ import annotations

import importlib
import sys

import click

from posebench import __version__
from posebench.errors import PosebenchError

# Each module defines click commands/groups and a ``COMMANDS`` list of them.
COMMAND_MODULES = [
    "posebench.commands.info",
    "posebench.commands.run",
    "posebench.commands.bench",
    "posebench.commands.data",
    "posebench.commands.bench_methods",
    "posebench.commands.export",
    "posebench.commands.bench_hopenet",
    "posebench.commands.bench_whenet",
    "posebench.commands.study",
    "posebench.commands.train",
    "posebench.commands.visual",
]


class PosebenchGroup(click.Group):
    """Turns posebench's own errors into one-line messages (no traceback)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PosebenchError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted: finished samples are cached; run the same command again to resume", err=True)
            ctx.exit(130)


@click.group(cls=PosebenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="posebench")
def main() -> None:
    """Benchmark head pose estimators: learned networks against landmark-to-pose pipelines.

    Angles are degrees in the AFLW2000-3D convention (yaw, pitch, roll). Start with
    `posebench demo`, then `posebench run --help`.
    """


for _name in COMMAND_MODULES:
    for _cmd in importlib.import_module(_name).COMMANDS:
        main.add_command(_cmd)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
