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


def default_dir(name: str) -> Path:
    """``<data root>/<name>``; a usage error saying how to fix it when absent."""
    p = data_root() / name
    if not p.is_dir():
        raise UsageError(f"no --data-dir given and {p} does not exist (set POSEBENCH_DATA or pass --data-dir)")
    return p
