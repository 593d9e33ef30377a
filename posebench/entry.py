"""The ``posebench`` console entry point: clean stops first, then the command line.

Ctrl-C (SIGINT) and SIGTERM are handled from the first statement on, before the heavy imports
(numpy, torch, click commands), so an interrupt at any moment ends with one line and exit status
130 (SIGINT) or 143 (SIGTERM), never a traceback: during a command the command says what was kept
(:mod:`posebench.cli`); before it starts, ``interrupted``; once it has finished (interpreter
shutdown), a second signal exits at once. An interrupt raised where Python cannot let it
propagate (an at-fork hook, a ``__del__``) is delivered again a moment later instead of being
printed and lost; should a SIGTERM still not reach a handler, the process ends after
:data:`TERM_GRACE` seconds with the line ``terminated`` and status 143. Pool workers die with this process
(:mod:`posebench.lifecycle`).
"""

from __future__ import annotations

import os
import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM, stopped like Ctrl-C (every ``except KeyboardInterrupt`` cleans up the same way)."""

    exit_code = 143


#: Seconds a SIGTERM may take to reach the command's handler before the process ends anyway.
TERM_GRACE = 5.0
_TERM_SEEN = threading.Event()  # a SIGTERM arrived
_TERM_HANDLED = threading.Event()  # ... and its Terminated reached a handler (acknowledge())


def acknowledge() -> None:
    """Called where an interrupt is handled: the stop is under way."""
    _TERM_HANDLED.set()


def _term_fallback() -> None:
    # Python drops an exception raised where it cannot propagate (an at-fork hook, a __del__):
    # a SIGTERM must still stop the process, so end it when the clean stop did not happen.
    if not _TERM_HANDLED.is_set():
        os.write(2, b"terminated\n")
        os._exit(143)


def _on_sigterm(signum, frame):
    if not _TERM_SEEN.is_set():
        _TERM_SEEN.set()
        timer = threading.Timer(TERM_GRACE, _term_fallback)
        timer.daemon = True
        timer.start()
    raise Terminated()


def _exit_now(signum, frame):
    os._exit(128 + signum)


def _unraisable(args) -> None:
    # An interrupt raised where Python cannot let it propagate (an at-fork hook, a __del__) would
    # be printed as "Exception ignored ... Traceback" and lost: deliver the signal again instead,
    # a moment later, when the handler runs where the stop can propagate.
    if isinstance(args.exc_value, KeyboardInterrupt):
        signum = signal.SIGTERM if isinstance(args.exc_value, Terminated) else signal.SIGINT
        timer = threading.Timer(0.05, os.kill, (os.getpid(), signum))
        timer.daemon = True
        timer.start()
        return
    sys.__unraisablehook__(args)


def install_handlers() -> None:
    """Ctrl-C raises KeyboardInterrupt (Python's default) and SIGTERM raises :class:`Terminated`;
    an interrupt Python would drop is delivered again (see :func:`_unraisable`)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)
    sys.unraisablehook = _unraisable


def _quit_on_signal() -> None:
    signal.signal(signal.SIGINT, _exit_now)
    signal.signal(signal.SIGTERM, _exit_now)


install_handlers()  # at import: the console script imports this module first


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
        acknowledge()
        print("interrupted", file=sys.stderr, flush=True)
        code = getattr(exc, "exit_code", 130)
    _quit_on_signal()  # shutting down: a signal now ends the process at once, quietly
    if _opened_process_group():
        _exit_skipping_teardown(code)
    sys.exit(code)


def _opened_process_group() -> bool:
    loop = sys.modules.get("posebench.training.loop")
    return bool(getattr(loop, "OPENED_PROCESS_GROUP", False))


def _exit_skipping_teardown(code: int | str | None) -> None:
    """End a torchrun rank without the interpreter's teardown, where torch's lingering process
    group threads can abort it (see ``posebench.training.loop.OPENED_PROCESS_GROUP``); every
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
