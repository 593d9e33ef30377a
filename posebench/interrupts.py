"""Clean stops on Ctrl-C (SIGINT) and SIGTERM, for the console entry point and the commands.

:func:`install_handlers` makes Ctrl-C raise :class:`KeyboardInterrupt` (Python's default) and
SIGTERM raise :class:`Terminated` (a ``KeyboardInterrupt``, so every ``except KeyboardInterrupt``
cleans up the same way); where the interrupt is handled, :func:`acknowledge` says the stop is under
way. A SIGTERM that does not reach a handler within :data:`TERM_GRACE` seconds ends the process
with the line ``terminated`` and status 143. Standard library only: :mod:`posebench.entry`
imports this before anything heavy.
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


def quit_on_signal() -> None:
    """From now on (shutting down) a Ctrl-C or SIGTERM ends the process at once, quietly."""
    signal.signal(signal.SIGINT, _exit_now)
    signal.signal(signal.SIGTERM, _exit_now)
