"""Find the dataset folder inside an extracted archive, and move it into place.

Archives wrap the data in varying top folders (``AFLW2000/``, ``300W_LP/``, ``hpdb/``,
``kinect_head_pose_db/hpdb/`` ...). Each dataset's :class:`~posebench.acquire.source.Source`
carries its own ``find_folder`` rule, declared beside its reader (e.g.
:func:`posebench.datasets.aflw2000.find_folder`: the folder holding the ``imageXXXXX.mat`` files);
a source without one takes the archive's single top folder, or the archive root
(:func:`~posebench.acquire.source.find_as_is`).

:func:`install` renames the found folder to ``<root>/<name>`` (same file system, so the rename
is atomic); an existing copy is replaced only with ``force``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from posebench.acquire.source import Source, find_as_is
from posebench.errors import DataError, PosebenchError, UsageError


def find_dataset_folder(source: Source, extracted: Path) -> Path:
    """The folder inside ``extracted`` that ``source``'s reader should be pointed at.

    The source's rule must name ``extracted`` itself or a folder inside it (a plugin's rule that
    points anywhere else, or at a file, is refused: nothing outside what was extracted or given
    is ever moved or copied; links *inside* a folder given to ``prepare --from`` are followed, their
    targets copied, as a self-contained copy needs); a rule that raises is a one-line
    :class:`DataError`.
    """
    extracted = Path(extracted).resolve()  # a folder given through a link is that folder
    try:
        found = (source.find_folder or find_as_is)(extracted)
    except PosebenchError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001  (a plugin's rule failing is reported in one line)
        raise DataError(f"the folder rule of {source.name} failed: {type(exc).__name__}: {exc}") from exc
    try:
        found = Path(found)
        inside = found.resolve().is_relative_to(extracted)  # extracted itself included
    except (TypeError, OSError, RuntimeError):
        inside = False
    if not inside:
        raise DataError(f"the folder rule of {source.name} returned {found!r}, which is not inside {extracted}: "
                        "refused (a rule must name a folder of what was extracted or given)")
    if found.is_symlink() or not found.is_dir():
        raise DataError(f"the folder rule of {source.name} returned {found}, which is not a folder")
    return found


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
