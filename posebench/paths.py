"""Where posebench looks for data and weights when no path is given.

* data root: ``$POSEBENCH_DATA``, else ``$XDG_DATA_HOME/posebench`` (``~/.local/share/posebench``);
  dataset NAME lives in ``<data root>/<NAME>``;
* weights folder: ``$POSEBENCH_WEIGHTS``, else ``<data root>/weights``;
* results folder (runs, the prediction cache, tables): ``$POSEBENCH_RESULTS``, else
  ``./posebench-results``.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_root() -> Path:
    env = os.environ.get("POSEBENCH_DATA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "posebench"


def weights_dir() -> Path:
    env = os.environ.get("POSEBENCH_WEIGHTS")
    return Path(env).expanduser() if env else data_root() / "weights"


def results_root() -> Path:
    """The results folder when none is given: ``$POSEBENCH_RESULTS``, else ``./posebench-results``."""
    return Path(os.environ.get("POSEBENCH_RESULTS", "posebench-results"))
