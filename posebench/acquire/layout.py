"""Arrange an extracted archive as the dataset readers expect, and move it into place.

Archives wrap the data in varying top folders (``AFLW2000/``, ``300W_LP/``, ``hpdb/``,
``kinect_head_pose_db/hpdb/`` ...). Each layout finds the folder the reader wants:

* ``aflw2000``: the folder holding the ``imageXXXXX.mat`` files (flat, with the ``.jpg``);
* ``300w-lp``: the folder whose subfolders (AFW, HELEN, IBUG, LFPW, ``*_Flip``) hold ``.mat``;
* ``biwi``: the folder whose subject folders hold ``frame_XXXXX_pose.txt``;
* ``as-is``: the single top folder of the archive, or the archive root.

:func:`install` renames the found folder to ``<root>/<name>`` (same file system, so the rename
is atomic); an existing copy is replaced only with ``force``.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

from posebench.errors import DataError, UsageError


def _best(counts: Counter, what: str) -> Path:
    if not counts:
        raise DataError(f"the archive has no {what}; is it the right file?")
    best, _ = max(counts.items(), key=lambda kv: (kv[1], -len(kv[0].parts)))
    return best


def find_aflw2000(extracted: Path) -> Path:
    counts = Counter(p.parent for p in extracted.rglob("image*.mat"))
    return _best(counts, "imageXXXXX.mat label files")


def find_300w_lp(extracted: Path) -> Path:
    from posebench.datasets.w300lp import SUBSETS

    counts: Counter = Counter()
    for p in extracted.rglob("*.mat"):
        rel = p.relative_to(extracted).parts
        if len(rel) < 2 or p.parent.name not in SUBSETS or "landmarks" in rel:
            continue  # only the official subset folders hold labels (not Code/, landmarks/)
        counts[p.parent.parent] += 1
    return _best(counts, "<subset>/<name>.mat label files")


def find_biwi(extracted: Path) -> Path:
    counts = Counter(p.parent.parent for p in extracted.rglob("frame_*_pose.txt"))
    return _best(counts, "<subject>/frame_XXXXX_pose.txt files")


def find_as_is(extracted: Path) -> Path:
    entries = [p for p in extracted.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return extracted


FINDERS = {"aflw2000": find_aflw2000, "300w-lp": find_300w_lp, "biwi": find_biwi, "as-is": find_as_is}


def find_dataset_folder(layout: str, extracted: Path) -> Path:
    """The folder inside ``extracted`` that the reader of ``layout`` should be pointed at."""
    try:
        finder = FINDERS[layout]
    except KeyError:
        raise DataError(f"no layout rule {layout!r}") from None
    return finder(Path(extracted))


def install(folder: Path, dest: Path, force: bool = False) -> Path:
    """Move ``folder`` to ``dest`` atomically; replace an existing ``dest`` only when ``force``."""
    folder, dest = Path(folder), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if dest.exists() or dest.is_symlink():
        if not force:
            raise UsageError(f"{dest} already exists (pass --force to replace it)")
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    try:
        os.replace(folder, dest)
    except OSError:
        if old is not None:
            os.replace(old, dest)
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    return dest
