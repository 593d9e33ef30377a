"""Where datasets live when no ``--data-dir`` is given.

The data root is ``$POSEBENCH_DATA`` or, by default, ``~/.local/share/posebench`` (XDG data
home); a dataset NAME is looked for in ``<root>/<NAME>``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UsageError


def data_root() -> Path:
    env = os.environ.get("POSEBENCH_DATA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "posebench"


def default_dir(name: str) -> Path:
    p = data_root() / name
    if not p.is_dir():
        raise UsageError(f"no --data-dir given and {p} does not exist (set POSEBENCH_DATA or pass --data-dir)")
    return p
