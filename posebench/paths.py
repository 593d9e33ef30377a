"""Where posebench looks for data and weights when no path is given.

* data root: ``$POSEBENCH_DATA``, else ``$XDG_DATA_HOME/posebench`` (``~/.local/share/posebench``);
  dataset NAME lives in ``<data root>/<NAME>``;
* weights folder: ``$POSEBENCH_WEIGHTS``, else ``<data root>/weights``.
"""

from __future__ import annotations

import os
from pathlib import Path

from posebench.errors import UsageError


def data_root() -> Path:
    env = os.environ.get("POSEBENCH_DATA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "posebench"


def weights_dir() -> Path:
    env = os.environ.get("POSEBENCH_WEIGHTS")
    return Path(env).expanduser() if env else data_root() / "weights"


def fill_hint(name: str) -> str:
    """The ``posebench data`` command that fills ``name`` (a catalogue entry), in words."""
    from posebench.acquire.catalogue import SOURCES

    src = SOURCES.get(name)
    if src is None:
        return "see `posebench data list`"
    if src.downloadable:
        return f"run `posebench data download {name}`"
    return f"run `posebench data prepare {name} --from FILE` (`posebench data list` says where to get it)"


def default_dir(name: str, option: str = "--data-dir") -> Path:
    """``<data root>/<name>``; a one-line usage error naming the ``posebench data`` command that
    fills it when absent."""
    p = data_root() / name
    if not p.is_dir():
        raise UsageError(f"no {option} given and {p} does not exist: {fill_hint(name)}, set POSEBENCH_DATA, "
                         f"or pass {option}")
    return p


def default_weights(subdir: str, option: str) -> Path:
    """``<weights dir>/<subdir>``; a one-line usage error naming the command that fills it."""
    p = weights_dir() / subdir
    if not p.is_dir():
        raise UsageError(f"no {option} given and {p} does not exist: {fill_hint(subdir)}, set POSEBENCH_WEIGHTS, "
                         f"or pass {option}")
    return p
