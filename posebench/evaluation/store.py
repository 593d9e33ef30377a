"""The stored runs of a results folder: find them by key, remove them.

A run is ``<results>/runs/<method>__<dataset>__<key>.json`` with its per-sample ``.csv``; its
predictions are in ``<results>/cache/<method>__<dataset>__<key>.jsonl`` and its worst-case gallery,
if made, in ``<results>/galleries/<method>__<dataset>__<key>/``. ``posebench runs list`` and
``posebench runs rm`` use these functions.
"""

from __future__ import annotations

from pathlib import Path

from posebench.errors import UsageError
from posebench.evaluation.leaderboard import load_runs
from posebench.evaluation.record import RunRecord

#: Fewest characters of a run key accepted as its prefix.
MIN_PREFIX = 4


def find_run(results_dir: Path, ref: str) -> tuple[RunRecord, Path]:
    """The stored run named by ``ref``: its file stem (``method__dataset__key``), its full key,
    or a prefix (``runs list`` shows the first 8) or suffix (the leaderboard's run column shows
    the last 8) of its key of at least :data:`MIN_PREFIX` characters. :class:`UsageError` (one
    line) when none or several match."""
    runs = load_runs(results_dir)
    exact = [rp for rp in runs if rp[1].stem == ref or rp[0].key == ref]
    if len(exact) == 1:
        return exact[0]
    if len(ref) < MIN_PREFIX and not exact:
        raise UsageError(f"run key prefix {ref!r} is too short: give at least {MIN_PREFIX} characters (`posebench runs list`)")
    found = exact or [rp for rp in runs if rp[0].key.startswith(ref) or rp[0].key.endswith(ref)]
    if not found:
        raise UsageError(f"no stored run {ref!r} in {Path(results_dir) / 'runs'} (`posebench runs list` shows them)")
    if len(found) > 1:
        raise UsageError(f"{ref!r} names {len(found)} runs ({', '.join(p.stem for _, p in found[:5])}); give more of the key")
    return found[0]


def run_files(results_dir: Path, record_path: Path, cache: bool = False) -> list[Path]:
    """The files and folders of one run that exist: record, per-sample table, gallery folder, and
    with ``cache`` its prediction cache."""
    stem = Path(record_path).stem
    root = Path(results_dir)
    paths = [Path(record_path), Path(record_path).with_suffix(".csv"), root / "galleries" / stem]
    if cache:
        paths.append(root / "cache" / f"{stem}.jsonl")
    return [p for p in paths if p.exists()]


#: The files ``posebench gallery`` writes in ``<results>/galleries/<run>/`` (the only ones
#: :func:`remove_run` deletes there).
GALLERY_FILES = ("worst.png", "index.html")


def remove_run(results_dir: Path, record_path: Path, cache: bool = False) -> list[Path]:
    """Delete one run's files (:func:`run_files`), the record last (a run interrupted half-way
    through is still listed, and removed by the next call); returns what was removed. Of its
    gallery folder only the files the gallery wrote (:data:`GALLERY_FILES`) go, then the folder
    if that leaves it empty: a file of the user's in it stays (it was deleted with the folder),
    and a gallery folder that is a link is unlinked, never followed (it raised an unexpected
    OSError from ``rmtree``)."""
    paths = run_files(results_dir, record_path, cache)
    removed = []
    for p in sorted(paths, key=lambda q: q.suffix == ".json"):
        if p.is_symlink():
            p.unlink()
        elif p.is_dir():
            for name in GALLERY_FILES:
                f = p / name
                if f.is_file() or f.is_symlink():
                    f.unlink()
            try:
                p.rmdir()
            except OSError:  # it holds files posebench did not write: kept
                continue
        else:
            p.unlink()
        removed.append(p)
    return removed
