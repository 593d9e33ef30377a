"""Default dataset and weights folders, with the ``posebench data`` command that fills a missing
one (built on :mod:`posebench.paths` and the catalogue)."""

from __future__ import annotations

from pathlib import Path

from posebench.errors import UsageError
from posebench.paths import data_root, weights_dir


def fill_hint(name: str, kind: str | None = None) -> str:
    """The ``posebench data`` command that fills ``name`` (a catalogue entry of ``kind``
    ``dataset`` or ``weights``, or either when ``None``), in words."""
    from posebench.acquire.catalogue import sources

    src = sources().get(name)
    if src is None or (kind is not None and src.kind != kind):
        return "see `posebench data list`"
    if src.downloadable:
        return f"run `posebench data download {name}`"
    return f"run `posebench data prepare {name} --from FILE` (`posebench data list` says where to get it)"


def default_dir(name: str, option: str = "--data-dir") -> Path:
    """``<data root>/<name>``; a one-line usage error naming the ``posebench data`` command that
    fills it when absent."""
    p = data_root() / name
    if not p.is_dir():
        raise UsageError(f"no {option} given and {p} does not exist: {fill_hint(name, 'dataset')}, set POSEBENCH_DATA, "
                         f"or pass {option}")
    return p


def default_weights(subdir: str, option: str) -> Path:
    """``<weights dir>/<subdir>``; a one-line usage error naming the command that fills it."""
    p = weights_dir() / subdir
    if not p.is_dir():
        raise UsageError(f"no {option} given and {p} does not exist: {fill_hint(subdir, 'weights')}, set POSEBENCH_WEIGHTS, "
                         f"or pass {option}")
    return p
