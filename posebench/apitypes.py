"""Type checks of the Python API's arguments: a wrong type is one :class:`TypeError` naming the
argument, what it takes and what it got (never an ``AttributeError`` from deep inside, such as
``'int' object has no attribute 'subset'`` from ``posebench.evaluate(m, 123)``).

Values of the right type but out of their domain stay :class:`posebench.errors.UsageError`
(the CLI's one-line error), as the registry's option checks raise them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any


def got(value: Any) -> str:
    """``"int 123"``: the type and a short repr of ``value``, for a message."""
    text = " ".join(repr(value).split())  # one line (an array's repr has several)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def expect(value: Any, types: type | tuple[type, ...], what: str, takes: str) -> Any:
    """``value`` when it is an instance of ``types``, else :class:`TypeError`:
    ``"<what> must be <takes>, got <type> <repr>"``."""
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise TypeError(f"{what} must be {takes}, got {got(value)}")
    if not isinstance(value, types):
        raise TypeError(f"{what} must be {takes}, got {got(value)}")
    return value


def options_arg(options: Any, what: str = "options") -> dict[str, Any]:
    """``options`` (None or a mapping of option names to values) as a dict; :class:`TypeError`
    for anything else (a list, a string)."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(f"{what} must be a dict of option names to values (or None), got {got(options)}")
    for key in options:
        if not isinstance(key, str):
            raise TypeError(f"{what}: option names are strings, got {got(key)}")
    return dict(options)


def path_arg(value: Any, what: str, optional: bool = True) -> Any:
    """``value`` when it is a path (``str`` or :class:`os.PathLike`; None when ``optional``),
    else :class:`TypeError`."""
    if value is None and optional:
        return None
    return expect(value, (str, os.PathLike), what, "a path (str or pathlib.Path)" + (" or None" if optional else ""))


def paths_arg(value: Any, what: str = "paths") -> list:
    """One path or an iterable of paths as a list; :class:`TypeError` for anything else."""
    if isinstance(value, (str, os.PathLike)):
        return [value]
    if not isinstance(value, Iterable) or isinstance(value, (bytes, Mapping)):
        raise TypeError(f"{what} must be a path or a list of paths (files, folders, glob patterns), got {got(value)}")
    items = list(value)
    for item in items:
        expect(item, (str, os.PathLike), f"each of {what}", "a path (str or pathlib.Path)")
    return items
