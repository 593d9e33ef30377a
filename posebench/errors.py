"""Exceptions that posebench reports as one-line messages (never tracebacks)."""

from __future__ import annotations


class PosebenchError(Exception):
    """A user-facing error: the CLI prints ``error: <message>`` and exits with ``exit_code``."""

    exit_code = 1


class UsageError(PosebenchError):
    """Bad command-line input: unknown name, unknown option key, bad value (exit code 2)."""

    exit_code = 2


class DataError(PosebenchError):
    """A missing or unreadable data folder or file."""


class WeightsError(PosebenchError):
    """Model weights missing or unusable."""


class PluginError(PosebenchError):
    """A plugin could not be loaded or created: its module does not import, its class is not
    there, or its factory raised something other than a posebench error (the message names the
    plugin and the original error; ``POSEBENCH_DEBUG=1`` makes the CLI show the traceback)."""


class SampleFailure(Exception):
    """One sample could not be handled (no face, bad landmarks, unreadable image).

    Recorded in the results with its reason and counted; never stops a run.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def did_you_mean(name: str, names: list[str] | tuple[str, ...]) -> str:
    """``"did you mean 'X'? "`` for the registered name nearest a mistyped ``name`` (difflib's
    ratio >= 0.6, case ignored), else ``""``."""
    import difflib

    lowered = {n.lower(): n for n in names}
    close = difflib.get_close_matches(str(name).lower(), list(lowered), n=1, cutoff=0.6)
    return f"did you mean {lowered[close[0]]!r}? " if close else ""
