"""The ``posebench`` console entry point: clean stops first, then the command line.

Ctrl-C (SIGINT) and SIGTERM are handled from the first statement on, before the heavy imports
(numpy, torch, click commands), so an interrupt at any moment ends with one line and exit status
130 (SIGINT) or 143 (SIGTERM), never a traceback: during a command the command says what was kept
(:mod:`posebench.cli`); before it starts, ``interrupted``; once it has finished (interpreter
shutdown), a second signal exits at once. Pool workers die with this process
(:mod:`posebench.lifecycle`).
"""

from __future__ import annotations

import os
import signal
import sys


class Terminated(KeyboardInterrupt):
    """SIGTERM, stopped like Ctrl-C (every ``except KeyboardInterrupt`` cleans up the same way)."""

    exit_code = 143


def _on_sigterm(signum, frame):
    raise Terminated()


def _exit_now(signum, frame):
    os._exit(128 + signum)


def install_handlers() -> None:
    """Ctrl-C raises KeyboardInterrupt (Python's default) and SIGTERM raises :class:`Terminated`."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)


def _quit_on_signal() -> None:
    signal.signal(signal.SIGINT, _exit_now)
    signal.signal(signal.SIGTERM, _exit_now)


def main() -> None:
    install_handlers()
    for stream in (sys.stdout, sys.stderr):  # file names are printed byte for byte (PEP 383)
        try:
            stream.reconfigure(errors="surrogateescape")
        except (AttributeError, ValueError):
            pass
    code: int | str | None = 0
    try:
        from posebench.cli import main as cli

        cli(prog_name="posebench")
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt as exc:
        _quit_on_signal()
        print("interrupted", file=sys.stderr, flush=True)
        code = getattr(exc, "exit_code", 130)
    _quit_on_signal()  # shutting down: a signal now ends the process at once, quietly
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
