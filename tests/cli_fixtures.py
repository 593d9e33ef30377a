"""Checks on what a command printed (click's CliRunner results)."""

from __future__ import annotations

from click.testing import CliRunner, Result

from posebench.cli import main


def run_cli(*args: str) -> Result:
    """``posebench ARGS`` in-process, its exceptions caught into the result (as a user sees them)."""
    return CliRunner().invoke(main, list(args))


def one_line_error(res, code: int | None = None) -> str:
    """The single error line of a CliRunner result (no traceback)."""
    text = res.output
    assert "Traceback" not in text and not isinstance(res.exception, (AssertionError, TypeError, ValueError,
                                                                        AttributeError, KeyError, IndexError))
    errors = [ln for ln in text.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, text
    assert res.exit_code == (code if code is not None else res.exit_code) and res.exit_code != 0, text
    return errors[0]
