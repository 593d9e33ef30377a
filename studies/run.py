"""Running a study as a library: create, run, store, draw (``posebench study``/``plot`` are thin
wrappers around these).

A stored study is ``<results>/tables/<study>-<dataset>[-<tag>].csv`` (the tidy table, options
and seed as columns) and a ``.json`` record beside it (study options as recorded by
:class:`~posebench.studies.base.Study`, digests of the files they name, dataset, fingerprint,
timing, versions); its figure is ``<results>/figures/<same stem>.png`` and ``.pdf``.

Example::

    from posebench.studies.run import run_and_store, draw
    table, paths = run_and_store("keypoints", "synthetic", "results", dataset_options={"n": 100})
    draw("keypoints", "synthetic", "results")
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from posebench.distributed import current
from posebench.errors import DataError, UsageError
from posebench.fileio import writable_folder, write_atomic
from posebench.registry import datasets, studies


def create_study(name: str, options: Mapping[str, Any] | None = None):
    """A registered study with its options bound, coerced and checked (``studies.create``)."""
    return studies.create(name, options)


def stem_name(name: str, dataset: str, tag: str = "") -> str:
    """``NAME-DATASET[-TAG]``; :class:`UsageError` on a tag with other than letters, digits, - and _."""
    if tag and not tag.replace("-", "").replace("_", "").isalnum():
        raise UsageError(f"--tag may hold letters, digits, '-' and '_' only, got {tag!r}")
    return f"{name}-{dataset}" + (f"-{tag}" if tag else "")


def table_paths(results_dir: Path, name: str, dataset: str, tag: str = "") -> tuple[Path, Path]:
    """The table (``.csv``) and record (``.json``) paths of a stored study."""
    stem = Path(results_dir) / "tables" / stem_name(name, dataset, tag)
    return stem.with_suffix(".csv"), stem.with_suffix(".json")


def run_study(study, dataset, progress: bool, notify: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, float]:
    """Run with a tqdm bar over the study's PnP problems; returns ``(table, seconds)``.
    The study's ``run(dataset)`` is called with the dataset alone; the bar reaches it as
    ``study.on_progress`` (:class:`~posebench.studies.base.Study`). ``notify`` receives one-line
    notices (e.g. a first-use kernel compile). :class:`PluginError` (before any work) for a
    ``run`` that cannot be called so."""
    from tqdm import tqdm

    from posebench.studies.base import landmark_data

    check_run_signature(study, dataset)
    if getattr(study, "kind", "landmarks") == "images":  # runs methods through the cached runner (own bars)
        t0 = time.perf_counter()
        table = study.run(dataset)
        return _table_of(study, table), time.perf_counter() - t0
    try:
        total = study.work(landmark_data(dataset))
    except DataError:
        total = 0  # a study that does not use ground-truth landmarks
    compile_pnp_kernel(study, notify)
    t0 = time.perf_counter()
    with tqdm(total=total or None, unit="pose", disable=not progress, desc=study.name, smoothing=0.1) as bar:
        study.on_progress = bar.update
        try:
            table = study.run(dataset)
        finally:
            study.on_progress = None
    return _table_of(study, table), time.perf_counter() - t0


def check_run_signature(study, dataset) -> None:
    """:class:`PluginError` naming the study when its ``run`` cannot be called as ``run(dataset)``
    (the only signature the runner uses: :data:`posebench.studies.base.RUN_SIGNATURE`)."""
    import inspect

    from posebench.errors import PluginError
    from posebench.studies.base import run_signature_problem

    try:
        inspect.signature(study.run).bind(dataset)
    except TypeError:
        raise PluginError(f"study {study.name!r}: {run_signature_problem(study)}") from None
    except ValueError:  # no readable signature: let the call itself tell
        pass


def _table_of(study, table) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise UsageError(f"study {study.name!r} returned {type(table).__name__}, not a pandas DataFrame")
    return table


def compile_pnp_kernel(study, notify: Callable[[str], None] | None = None) -> None:
    """Compile the batched PnP kernel before timing when a study needs it and numba has not
    cached it yet (the first use after installing), saying so through ``notify``."""
    options = study.options()
    if options.get("solver", "iterative") != "iterative" or not str(options.get("backend", "")).startswith("batched"):
        return
    from posebench.pnp.batch import default_engine, kernel_cached, warm_up

    if default_engine() == "numba" and kernel_cached() is False:
        say = notify or (lambda _m: None)
        say("compiling the batched PnP kernel (first use after installing; numba caches it) ...")
        say(f"compiled in {warm_up('numba'):.1f} s")


def store(study, table: pd.DataFrame, dataset, dataset_name: str, seconds: float, results_dir: Path,
          tag: str = "", processes: int = 1) -> tuple[Path, Path]:
    """Write the table and its record atomically; returns ``(csv, json)`` paths. ``processes``:
    how many processes of a torchrun job made the table (1 without one; recorded)."""
    from posebench import __version__
    from posebench.evaluation.environment import environment

    csv_path, json_path = table_paths(results_dir, study.name, dataset_name, tag)
    record: dict[str, Any] = {
        "study": study.name, "tag": tag, "settings": study.options(), "dataset": dataset_name,
        "protocol": dataset.protocol, "dataset_settings": dataset.parameters, "fingerprint": dataset.fingerprint(),
        "n_samples": len(dataset), "seconds": round(seconds, 3), "processes": int(processes), "posebench": __version__,
        "environment": environment(),
    }
    files = study.file_digests() if hasattr(study, "file_digests") else {}
    if files:  # the bytes of every file an option names (face=u_base.txt ...)
        record["files"] = files
    if str(study.options().get("backend", "")).startswith("batched"):
        from posebench.pnp.batch import default_engine, default_workers

        record["pnp_engine"] = {"engine": default_engine(), "workers": default_workers()}
    from posebench.evaluation.studytable import table_digest

    data = table.to_csv(index=False, float_format="%.6g").encode("utf-8", "surrogateescape")
    record["table_sha256"] = table_digest(data)  # readers refuse a table that is not these bytes
    from posebench.outputs import folder_lock

    with folder_lock(csv_path.parent, "tables folder", wait=True):  # the pair is one study's, never two
        write_atomic(csv_path, data)
        write_atomic(json_path, json.dumps(record, indent=2, default=str) + "\n")
    return csv_path, json_path


def run_and_store(name: str, dataset_name: str, results_dir: Path, options: Mapping[str, Any] | None = None,
                  dataset_options: Mapping[str, Any] | None = None, data_dir: str | None = None,
                  limit: int | None = None, tag: str = "", progress: bool = False,
                  notify: Callable[[str], None] | None = None):
    """Create study ``name`` and dataset ``dataset_name``, run, store. Returns
    ``(study, dataset, table, seconds, (csv, json))``; :class:`DataError` (one line, before any work)
    when the tables folder cannot be written. In a torchrun job (:func:`posebench.distributed.group`
    opened by the command) an image study runs on every process, its evaluations sharded by the
    runner, and process 0 alone stores the table; a label study runs on process 0 alone (the
    others return an empty table)."""
    study = create_study(name, options)
    csv_path, _ = table_paths(results_dir, name, dataset_name, tag)  # checks the tag before the work
    writable_folder(csv_path.parent, "tables folder")  # ... and that the table can be written
    dataset = datasets.create(dataset_name, dataset_options, data_dir=data_dir).subset(limit)
    if hasattr(study, "set_context"):  # where the runner caches, whether to draw bars
        study.set_context(results_dir, progress)
    group = current()
    if group.sharded and not getattr(study, "torchrun", True):
        raise UsageError(f"study {name} cannot run under torchrun (it trains models): run it as one process")
    if group.sharded and not group.main and getattr(study, "kind", "landmarks") != "images":
        # a label study reads no image and evaluates through no runner: process 0 solves it alone
        # (the others wait for it at the job's end, posebench.commands.common.job)
        return study, dataset, pd.DataFrame(), 0.0, table_paths(results_dir, name, dataset_name, tag)
    table, seconds = run_study(study, dataset, progress, notify)
    if len(table) == 0:  # never replace a stored table with an empty one
        raise DataError(f"study {name} on {dataset_name} produced no rows: nothing was stored")
    if not group.main:  # every rank made the table from the merged caches; rank 0 alone writes it
        return study, dataset, table, seconds, table_paths(results_dir, name, dataset_name, tag)
    paths = store(study, table, dataset, dataset_name, seconds, results_dir, tag, processes=group.world)
    return study, dataset, table, seconds, paths


def draw(name: str, dataset_name: str, results_dir: Path, title: str = "", tag: str = "") -> list[Path]:
    """Draw a stored table to ``<results>/figures/<stem>.png`` and ``.pdf`` with the study's
    own :meth:`~posebench.studies.base.Study.plot`, re-created from the options stored in its record (``settings``)."""
    csv_path, json_path = table_paths(results_dir, name, dataset_name, tag)
    if not csv_path.is_file():
        raise DataError(f"no table {csv_path}: run `posebench study {name} --dataset {dataset_name}` first")
    from posebench.evaluation.studytable import read_study_record, read_study_table

    record = read_study_record(json_path) if json_path.is_file() else {}
    table = read_study_table(csv_path, record)
    options = record.get("settings") or {}
    if not isinstance(options, dict):
        raise DataError(f"damaged study record {json_path}: 'settings' is not an object")
    from posebench.options import option_parameters

    accepted = set(option_parameters(studies.get(name).factory))
    # a path option (face) may not exist here; the figure is drawn from the table alone
    # stored values as they were (None stays None); anything but a scalar goes back as text
    study = create_study(name, {k: (v if v is None or isinstance(v, (bool, int, float, str)) else str(v))
                                for k, v in options.items() if k in accepted and k != "face"})
    stem = Path(results_dir) / "figures" / stem_name(name, dataset_name, tag)
    writable_folder(stem.parent, "figures folder")
    stem.parent.mkdir(parents=True, exist_ok=True)  # a plugin's plot may save straight to f"{stem}.png"
    try:
        return study.plot(table, stem, title)
    except (KeyError, ValueError, TypeError, IndexError) as exc:  # a column missing or of text: the table's fault
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
        raise DataError(f"study table {csv_path} cannot be drawn by {name}'s plot ({why}): a damaged or edited "
                        "table? run the study again") from None
