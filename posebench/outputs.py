"""The one rule for every output path of posebench.

- An output is never the same file as an input, nor as another output of the same command:
  paths are compared resolved (links followed) and, where both exist, by device and inode (a
  hard link is the same file): :func:`check_outputs`.
- A user's file is never replaced without ``--overwrite`` (:func:`check_outputs`).
- posebench deletes only what it wrote: a folder it owns (a report) carries a marker file that
  lists the files it wrote there (:func:`read_owned`, :func:`write_owned`).
- One writer at a time per results folder and per training ``--out``: :func:`folder_lock`
  (an advisory ``flock`` on ``<folder>/.posebench.lock``, released when the process ends, however
  it ends).
- Hidden partial files of a process that no longer runs are removed by the next writer
  (:func:`remove_stale_partials`).

Every refusal is one line (:class:`posebench.errors.UsageError` or
:class:`posebench.errors.DataError`) naming the paths, raised before any work starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Iterator, Mapping

from posebench.errors import DataError, UsageError
from posebench.fileio import pid_alive, shown, write_atomic

LOCK_NAME = ".posebench.lock"


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name one file: equal resolved paths, or (both existing) the same
    device and inode."""
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    try:
        if pa.resolve() == pb.resolve():
            return True
    except (OSError, RuntimeError):  # a link loop: compare what can be compared
        pass
    try:
        return os.path.samefile(pa, pb)
    except OSError:
        return False


def check_outputs(outputs: Mapping[str, str | os.PathLike], inputs: Mapping[str, str | os.PathLike] | None = None,
                  overwrite: bool = False) -> None:
    """Refuse, before any work starts, an output that is an input or another output, or (without
    ``overwrite``) one that exists already. ``outputs`` and ``inputs`` map what each path is for
    (as the message should name it, e.g. ``"--csv"``) to the path. Raises :class:`UsageError`."""
    inputs = dict(inputs or {})
    outs = list(outputs.items())
    for i, (what, path) in enumerate(outs):
        for in_what, in_path in inputs.items():
            if same_file(path, in_path):
                raise UsageError(f"{what} {shown(path)} is the {in_what} itself: choose another output path "
                                 "(nothing was written)")
        for other_what, other in outs[:i]:
            if same_file(path, other):
                raise UsageError(f"{what} and {other_what} are one file ({shown(path)}): give them different paths "
                                 "(nothing was written)")
        p = Path(path)
        if p.is_dir():
            raise UsageError(f"{what} {shown(path)} is a folder, not a file")
        if not overwrite and (p.exists() or p.is_symlink()):
            raise UsageError(f"{what} {shown(path)} exists already: give --overwrite to replace it, or another path "
                             "(nothing was written)")


def unique_targets(targets: Mapping[str | os.PathLike, str | os.PathLike], what: str = "output") -> None:
    """Refuse two inputs that would be written to one output (``targets``: input -> its output),
    e.g. ``a/face.jpg`` and ``b/face.jpg`` both drawn to ``out/face-m.jpg``. Raises :class:`UsageError`."""
    seen: dict[str, str | os.PathLike] = {}
    for src, dst in targets.items():
        key = os.path.normcase(os.path.abspath(os.fspath(dst)))
        if key in seen:
            raise UsageError(f"{shown(seen[key])} and {shown(src)} would both be written to {what} {shown(dst)}: "
                             "give them separately, with different output folders (nothing was written)")
        seen[key] = src


def read_owned(folder: Path, marker: str) -> list[str] | None:
    """The files (relative paths) posebench wrote in ``folder`` as recorded in its ``marker`` file,
    or None when the folder carries no (readable) marker: then posebench does not own it."""
    try:
        data = json.loads((Path(folder) / marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return files


def write_owned(folder: Path, marker: str, files: list[str], made_by: str) -> None:
    """Record (atomically) the files posebench wrote in ``folder`` (relative paths) in ``marker``."""
    write_atomic(Path(folder) / marker, json.dumps({"made_by": made_by, "files": sorted(set(files))}, indent=1))


def remove_owned(folder: Path, files: list[str], keep: set[str]) -> None:
    """Remove the listed files (relative to ``folder``, never outside it) that are not in ``keep``,
    and the folders they leave empty. A name leading outside ``folder`` is ignored."""
    root = Path(folder).resolve()
    for rel in files:
        if rel in keep:
            continue
        p = Path(folder) / rel
        try:
            if root not in p.parent.resolve().parents and p.parent.resolve() != root:
                continue
            if p.is_symlink() or p.is_file():
                p.unlink()
        except OSError:
            continue
        parent = p.parent
        while parent.resolve() != root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


def is_inside(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """True when ``path``, links followed, lies in folder ``root`` (links followed)."""
    try:
        p, r = Path(path).resolve(), Path(root).resolve()
    except (OSError, RuntimeError):
        return False
    return p == r or r in p.parents


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "results folder", wait: bool = False) -> Iterator[Path]:
    """Hold the writer's lock of ``folder`` (created if needed) while the block runs. A second
    process asking for it gets :class:`DataError` at once: one line naming the folder and the
    process holding it; with ``wait`` it waits for its turn instead (for short writes that
    must not interleave, such as a run's per-sample table and its record). The lock ends with
    the process, whatever ends it (``flock``)."""
    import fcntl

    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DataError(f"cannot lock {what} {shown(folder)}: {exc.strerror or exc}") from None
    held = False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            except OSError:
                holder = ""
            raise DataError(f"another posebench process{f' (pid {holder})' if holder.isdigit() else ''} is writing "
                            f"to {what} {shown(folder)}: wait for it to end (nothing was changed)") from None
        held = True
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        if held and created:  # a folder this lock made and nothing else wrote in goes again (a refused run
            try:              # leaves nothing); else the lock file stays (removing it races another process)
                if [x.name for x in folder.iterdir()] == [LOCK_NAME]:
                    path.unlink()
                    folder.rmdir()
            except OSError:
                pass
        os.close(fd)  # releases the lock


def _alive(pid: int) -> bool:
    return pid_alive(pid)


def remove_stale_partials(folder: str | os.PathLike, pattern: str) -> list[Path]:
    """Remove the hidden partial files in ``folder`` whose name matches ``pattern`` (a regular
    expression with a ``pid`` group) and whose writing process no longer runs; returns them."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    rx = re.compile(pattern)
    for p in folder.iterdir():
        m = rx.fullmatch(p.name)
        if m and int(m.group("pid")) != os.getpid() and not _alive(int(m.group("pid"))):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed
