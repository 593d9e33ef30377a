"""The ``posebench`` console entry point: clean stops first, then the command line.

Ctrl-C (SIGINT) and SIGTERM are handled from the first statement on, before the heavy imports
(numpy, torch, click commands), so an interrupt at any moment ends with one line and exit status
130 (SIGINT) or 143 (SIGTERM), never a traceback: during a command the command says what was kept
(:mod:`posebench.cli`); before it starts, ``interrupted``; once it has finished (interpreter
shutdown), a second signal exits at once. An interrupt raised where Python cannot let it
propagate (an at-fork hook, a ``__del__``) is delivered again a moment later instead of being
printed and lost; should a SIGTERM still not reach a handler, the process ends after
:data:`posebench.interrupts.TERM_GRACE` seconds with the line ``terminated`` and status 143
(the handlers live in :mod:`posebench.interrupts`, which the commands share). Pool workers die
with this process (:mod:`posebench.lifecycle`).
"""

from __future__ import annotations

import os
import sys

from posebench.interrupts import acknowledge, install_handlers, quit_on_signal

install_handlers()  # at import: the console script imports this module first


def main() -> None:
    install_handlers()
    code: int | str | None = 0
    try:  # an interrupt from here on is one line, the streams' set-up included
        for stream in (sys.stdout, sys.stderr):  # file names are printed byte for byte (PEP 383)
            try:
                stream.reconfigure(errors="surrogateescape")
            except (AttributeError, ValueError):
                pass
        from posebench.cli import main as cli

        cli(prog_name="posebench")
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt as exc:
        quit_on_signal()
        acknowledge()
        print("interrupted", file=sys.stderr, flush=True)
        code = getattr(exc, "exit_code", 130)
    quit_on_signal()  # shutting down: a signal now ends the process at once, quietly
    _stop_worker_pools()
    if _opened_process_group():
        _exit_skipping_teardown(code)
    sys.exit(code)


def _stop_worker_pools() -> None:
    """End the workers of every pool the command started, so an interrupted run does not wait for
    their queued work at interpreter shutdown (:func:`posebench.lifecycle.stop_pools`)."""
    lifecycle = sys.modules.get("posebench.lifecycle")
    if lifecycle is not None:
        lifecycle.stop_pools()


def _opened_process_group() -> bool:
    shared = sys.modules.get("posebench.distributed")  # training and sharded evaluation both set it
    return bool(getattr(shared, "OPENED_PROCESS_GROUP", False))


def _exit_skipping_teardown(code: int | str | None) -> None:
    """End a torchrun rank without the interpreter's teardown, where torch's lingering process
    group threads can abort it (see ``posebench.distributed.OPENED_PROCESS_GROUP``); every
    file is already written atomically, and the output is flushed here."""
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0 if code is None else int(code))


if __name__ == "__main__":  # pragma: no cover
    main()
