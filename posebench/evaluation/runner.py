"""Evaluate a method on a dataset: cached per-sample predictions, then per-sample errors and summary.

The cache key covers the method's identity (:meth:`posebench.method.Method.identity`: name, version,
options, face source, file digests), the dataset's
content fingerprint and its protocol, so any change re-runs exactly what it must. Failures (no
face, bad landmarks, unreadable image, missing image, unusable label) are recorded per sample
with their reason and counted; they never stop the run.

What a method says about how it got each pose (:class:`posebench.method.Estimate` ``info``) is
kept per sample and counted in the record: ``detectors`` (which detector found the face, or
``protocol box``), ``pnp`` (what the landmark-to-pose guard did), ``behind_camera`` (evaluated
poses that come from a solution with the face behind the camera: 0 unless the set-up has no
guard) and ``behind_camera_replaced`` (such solutions the guard replaced).

Sharded (a ``torchrun`` job the command joined, :func:`posebench.distributed.group`): every
process reads the caches, evaluates its share of each method's to-do list (:func:`shard_todo`:
whole batches dealt in turn) into the shared cache files, the processes meet, every one reads the
merged caches and scores them, and process 0 alone writes the runs (mmpose's ``dist_test``
pattern). The predictions, key and record are one process's; the record adds ``processes`` and
``shards``. An error on any process ends every process at the next meeting (docs/sharding.md).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posebench.datasets.base import EULER_KEY, Dataset, Sample
from posebench.distributed import Group, current
from posebench.errors import DataError, SampleFailure, UsageError
from posebench.evaluation.cache import PredictionCache, cache_key
from posebench.evaluation.environment import environment
from posebench.evaluation.record import RunRecord, write_record
from posebench.fileio import write_atomic
from posebench.method import FaceInput, Method, info_of
from posebench.metrics import Summary, angle_errors, nearest_equivalent, per_sample_errors, summarize, summarize_by_yaw_bin
from posebench.pose import euler_reading

#: Per-sample information kept from a method's :class:`~posebench.method.Estimate`.
INFO_KEYS = ("detector", "pnp", "behind_camera")


@dataclass
class RunResult:
    """A finished evaluation: its :class:`RunRecord`, per-sample table and stored files."""

    record: RunRecord
    samples: pd.DataFrame
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def summary(self) -> Summary:
        """The summary over the evaluated samples (degrees)."""
        return self.record.summary

    def summary_json(self) -> dict[str, Any]:
        """The flat object ``posebench run --json`` prints."""
        r, s = self.record, self.record.summary
        return {
            "method": r.method, "setup": r.setup, "options": r.options, "dataset": r.dataset, "protocol": r.protocol,
            "n_samples": r.n_samples, "n_evaluated": r.n_evaluated, "n_failed": r.n_failed,
            "mae_yaw": s.mae_yaw, "mae_pitch": s.mae_pitch, "mae_roll": s.mae_roll, "mae": s.mae,
            "mae_ci95": list(s.mae_ci95), "geodesic": s.geodesic, "maev": s.maev,
            "seconds_per_sample": r.seconds_per_sample, "from_cache": r.from_cache, "failures": r.failures,
            "behind_camera": r.behind_camera, "behind_camera_replaced": r.behind_camera_replaced,
            "pnp": r.pnp, "detectors": r.detectors, "processes": r.processes,
            "run_file": str(self.paths.get("record", "")),
        }


def run_key(method: Method, dataset: Dataset, fingerprint: str | None = None) -> str:
    fp = fingerprint or dataset.fingerprint()
    return cache_key({"method": method.identity(), "dataset": fp, "protocol": dataset.protocol})


def check_images_for(method: Method, dataset: Dataset) -> None:
    """Refuse, before any work, a method that reads images on a dataset with none: every sample
    labels-only (``image_path`` None, e.g. the AFLW2000 labels without their ``.jpg``). Such a run
    could only record one failure per sample, so it is a :class:`UsageError` naming the method,
    the dataset and its folder. A dataset where only some samples lack their image runs: those
    samples are recorded failures. Called by ``posebench run`` and the image studies."""
    if "image" in method.needs and dataset.samples and all(s.image_path is None for s in dataset.samples):
        raise UsageError(f"method {method.name!r} reads images, and {dataset.name} at {dataset.root or 'its folder'} has "
                         "labels only (no image beside any label): give the folder with the images")


def evaluate(
    method: Method,
    dataset: Dataset,
    results_dir: Path,
    progress: bool = True,
    pipelined: bool = True,
) -> RunResult:
    """Run ``method`` over ``dataset`` (resuming from the cache), store and return the result.

    Both must carry a plugin name (letters, digits, ``._+-``): it names the cache and run files.
    The registry gives every plugin it creates its registered name; an object built by hand
    keeps its class's ``name``. :class:`UsageError` when there is none. ``pipelined`` decodes
    images in a background thread ahead of inference (:mod:`posebench.evaluation.pipeline`);
    ``False`` decodes in this thread. Either gives the same cache lines (timings aside).
    """
    return evaluate_many([method], dataset, results_dir, progress=progress, pipelined=pipelined)[0]


#: How a sharded run splits a method's work (recorded in its run: ``RunRecord.shards``).
SHARD_RULE = "the samples not yet cached, in dataset order, cut in chunks of batch_size; chunk j to process j mod world"


def shard_todo(todo: Sequence[str], step: int, group: Group) -> list[str]:
    """This process's share of ``todo`` (sample ids not yet cached, in dataset order): the list
    cut in chunks of ``step`` (the method's ``batch_size``), chunk ``j`` to rank ``j mod world``
    (:data:`SHARD_RULE`). Every chunk is one that a single process would cut, so each batch the
    method sees, and therefore each prediction, is the same as one process makes; one process
    keeps the whole list."""
    if not group.sharded:
        return list(todo)
    return [sid for j in range(group.rank, -(-len(todo) // step), group.world) for sid in todo[j * step:(j + 1) * step]]


class _Pending:
    """One method's state in :func:`evaluate_many`: its cache, this process's share of what is
    left (:func:`shard_todo`), and the chunk it is filling (``step`` = its ``batch_size``: the
    chunks are its to-do list cut in ``step``s, in dataset order, as a run of that method alone
    cuts them)."""

    def __init__(self, method: Method, dataset: Dataset, fingerprint: str, results_dir: Path, group: Group):
        self.method = method
        self.key = run_key(method, dataset, fingerprint)
        self.cache = PredictionCache(results_dir / "cache" / f"{method.name}__{dataset.name}__{self.key}.jsonl")
        self.done = self.cache.load()
        self.n_cached = sum(1 for s in dataset.samples if s.id in self.done)
        self.step = max(1, int(method.batch_size))
        self.todo = set(shard_todo([s.id for s in dataset.samples if s.id not in self.done], self.step, group))
        self.reads_image = "image" in method.needs
        self.chunk: list[tuple[Sample, np.ndarray | SampleFailure | None, float]] = []
        self.left = len(self.todo)
        self.mine = self.left  # samples this process evaluates
        self.shares = [self.mine]  # samples each process evaluated (rank order), once merged

    def flush(self) -> int:
        """Estimate the filled chunk, append its cache lines; the number of samples done."""
        n = len(self.chunk)
        if n:
            records = _run_chunk(self.method, self.chunk)
            self.cache.append(records)
            self.done.update({r["id"]: r for r in records})
            self.left -= n
            self.chunk = []
        return n


def evaluate_many(
    methods: Sequence[Method],
    dataset: Dataset,
    results_dir: Path,
    progress: bool = True,
    pipelined: bool = True,
) -> list[RunResult]:
    """:func:`evaluate` for several methods at once, reading each image once for all of them
    (in a background thread when ``pipelined``) and holding a decoded image only until every
    method that needs it has its chunk done. Each method gets the chunks, cache file and run
    record that :func:`evaluate` of it alone gives. Returns one :class:`RunResult` per method, in
    order; raises as :func:`evaluate` does (a method with no usable name, duplicate ids, no
    samples; :class:`DataError` for a method that evaluated nothing, after every method ran)."""
    from posebench.apitypes import expect
    from posebench.registry import valid_name

    for m in methods:
        expect(m, Method, "method", "a posebench Method (posebench.create_method)")
    expect(dataset, Dataset, "dataset", "a posebench Dataset (posebench.create_dataset)")
    for what, obj in [("method", m) for m in methods] + [("dataset", dataset)]:
        name = getattr(obj, "name", "")
        if not valid_name(name):
            raise UsageError(f"{what} {type(obj).__name__} has no usable name ({name!r}): set `name` on the class "
                             f"(letters, digits, ._+-) or create it with posebench.create_{what}")
    check_ids(dataset)
    if not dataset.samples:
        raise DataError(f"dataset {dataset.name} has no samples to evaluate: no run stored")
    results_dir = Path(results_dir)
    group = current()
    with group.together("reading the caches"):
        fingerprint = dataset.fingerprint()  # every sample and image's bytes (the shared digest index): once per run
        # every rank reads the caches before any rank appends: the same to-do lists, split alike
        pending = [_Pending(m, dataset, fingerprint, results_dir, group) for m in methods]
    walls = [0.0] * len(pending)
    with group.together("evaluating the shards"):
        _evaluate_pending(pending, dataset, methods, walls, progress and group.main, pipelined)
    if group.sharded:  # every rank's lines are in the shared caches now: each rank reads them all
        with group.together("merging the shards"):
            shares = group.gather([p.mine for p in pending], "merging the shards")
            for p in pending:
                p.done = p.cache.load()
        for i, p in enumerate(pending):
            p.shares = [share[i] for share in shares]
    with group.together("scoring"):
        return [_finish(p, dataset, fingerprint, wall, results_dir, group) for p, wall in zip(pending, walls)]


def _evaluate_pending(pending: list[_Pending], dataset: Dataset, methods: Sequence[Method], walls: list[float],
                      progress: bool, pipelined: bool) -> None:
    """Evaluate every pending method's to-do samples (this process's share), reading each image
    once for all of them; ``walls[i]`` gets method ``i``'s seconds of estimation."""
    from .pipeline import sample_stream

    work = [s for s in dataset.samples if any(s.id in p.todo for p in pending)]
    if not work:
        return
    from tqdm.auto import tqdm

    desc = f"{methods[0].name if len(methods) == 1 else f'{len(methods)} methods'} on {dataset.name}"
    total = sum(p.n_cached + p.left for p in pending)
    bar = tqdm(total=total, initial=sum(p.n_cached for p in pending), unit="face",
               desc=desc, disable=not progress, leave=False, dynamic_ncols=True)

    def needs_image(s: Sample) -> bool:
        return any(p.reads_image and s.id in p.todo for p in pending)

    stream = sample_stream(work, needs_image, threaded=pipelined)
    try:
        for sample, image, sec in stream:
            for i, p in enumerate(pending):
                if sample.id not in p.todo:
                    continue
                p.chunk.append((sample, image if p.reads_image else None, sec if p.reads_image else 0.0))
                if len(p.chunk) == p.step or len(p.chunk) == p.left:
                    t0 = time.perf_counter()
                    bar.update(p.flush())
                    walls[i] += time.perf_counter() - t0
    finally:
        stream.close()
        bar.close()


def cached_samples(method: Method, dataset: Dataset, results_dir: Path) -> pd.DataFrame | None:
    """The per-sample table (:func:`results_table`) of ``method`` on ``dataset`` read from the
    cache alone, or None unless every sample is cached. Reads what :func:`evaluate` cached even
    when it stored no run (every sample failed: :class:`DataError`), so a study can score an
    all-failed condition."""
    key = run_key(method, dataset, dataset.fingerprint())
    done = PredictionCache(Path(results_dir) / "cache" / f"{method.name}__{dataset.name}__{key}.jsonl").load()
    if any(s.id not in done for s in dataset.samples):
        return None
    return results_table(dataset, done)


def _run_chunk(method: Method, chunk: list[tuple[Sample, np.ndarray | SampleFailure | None, float]]) -> list[dict]:
    """Cache lines of one chunk: ``(sample, decoded image or its read failure or None, seconds
    the decode took)`` each."""
    records: list[dict | None] = [None] * len(chunk)
    faces, where = [], []
    t_load = 0.0
    for j, (s, image, sec) in enumerate(chunk):
        t_load += sec
        if isinstance(image, SampleFailure):
            records[j] = {"id": s.id, "pred": None, "fail": image.reason, "sec": 0.0}
            continue
        faces.append(FaceInput.from_sample(s, image))
        where.append(j)
    outs: list = []
    if faces:
        t1 = time.perf_counter()
        try:
            outs = method.estimate_batch(faces)
        except SampleFailure as exc:  # a batch-level failure applies to every face in it
            outs = [exc] * len(faces)
        t_est = time.perf_counter() - t1
        per = (t_est + t_load) / len(faces)
        for j, out in zip(where, outs):
            sid = chunk[j][0].id
            if isinstance(out, SampleFailure):
                records[j] = {"id": sid, "pred": None, "fail": out.reason, "sec": per}
            elif not out.is_finite():
                records[j] = {"id": sid, "pred": None, "fail": "non-finite prediction", "sec": per}
            else:
                records[j] = {"id": sid, "pred": [float(v) for v in out.as_array()], "fail": None, "sec": per}
                info = {k: v for k, v in info_of(out).items() if k in INFO_KEYS}
                if info:
                    records[j]["info"] = info
    return [r for r in records if r is not None]


def check_ids(dataset: Dataset) -> None:
    """Refuse a dataset whose sample ids are not unique (:class:`DataError` naming them and their
    files): predictions are cached and joined by id, so two samples with one id would be stored
    with one another's prediction."""
    seen: dict[str, Sample] = {}
    for s in dataset.samples:
        if s.id in seen:
            first = seen[s.id]
            where = " and ".join(str(x.image_path) for x in (first, s) if x.image_path is not None)
            raise DataError(f"dataset {dataset.name} has two samples with id {s.id!r}"
                            f"{f' ({where})' if where else ''}: ids must be unique (nothing was run)")
        seen[s.id] = s


def _finish(p: _Pending, dataset: Dataset, fingerprint: str, wall: float, results_dir: Path, group: Group) -> RunResult:
    """Score one method's merged cache lines; only rank 0 (the one process of an unsharded
    run) writes the run's files, every rank returns the same result."""
    table = results_table(dataset, p.done)
    record = build_record(p.method, dataset, p.key, fingerprint, table, p.n_cached, wall)
    if group.sharded:
        record.processes = group.world
        record.shards = {"rule": SHARD_RULE, "chunk": p.step, "samples_per_process": list(p.shares)}
    if record.n_evaluated == 0:  # an all-failed run is no result: never stored as one (cache kept)
        why = "; ".join(f"{k} x{v}" for k, v in list(record.failures.items())[:3])
        raise DataError(f"no sample of {dataset.name} could be evaluated by {p.method.name} ({why}): no run stored")
    return write_run(record, table, results_dir, write=group.main)


def results_table(dataset: Dataset, done: dict[str, dict]) -> pd.DataFrame:
    """One row per sample (and per unusable label): truth, prediction, failure, seconds and the
    per-sample errors; ``done`` maps sample id -> cache entry (``pred``, ``fail``, ``sec``).
    A dataset scored in another Euler reading (``parameters["euler"]``, e.g. BIWI's ``pyr``) has
    its truth and prediction columns and per-angle errors in that reading."""
    rows = []
    for s in dataset.samples:
        rec = done[s.id]
        pred = rec["pred"] if rec["pred"] is not None else [np.nan] * 3
        info = rec.get("info") or {}
        rows.append({"id": s.id, "true_yaw": s.pose.yaw, "true_pitch": s.pose.pitch, "true_roll": s.pose.roll,
                     "pred_yaw": pred[0], "pred_pitch": pred[1], "pred_roll": pred[2],
                     "failure": rec["fail"] or "", "seconds": rec["sec"],
                     "detector": info.get("detector", ""), "pnp": info.get("pnp", ""),
                     "behind_camera": bool(info.get("behind_camera", False))})
    for sid, reason in dataset.invalid:
        rows.append({"id": sid, "true_yaw": np.nan, "true_pitch": np.nan, "true_roll": np.nan,
                     "pred_yaw": np.nan, "pred_pitch": np.nan, "pred_roll": np.nan,
                     "failure": f"label: {reason}", "seconds": 0.0, "detector": "", "pnp": "", "behind_camera": False})
    table = pd.DataFrame(rows)
    if len(table):
        pred_cols, true_cols = ["pred_yaw", "pred_pitch", "pred_roll"], ["true_yaw", "true_pitch", "true_roll"]
        # the predicted rotation written as its Euler triple nearest the label: the one scored
        # (posebench.metrics: two triples of one rotation are the same answer)
        table[pred_cols] = nearest_equivalent(table[pred_cols].to_numpy(), table[true_cols].to_numpy())
        errs = per_sample_errors(table[pred_cols].to_numpy(), table[true_cols].to_numpy())
        order = str(dataset.parameters.get(EULER_KEY, "ypr"))
        if order != "ypr":
            # the dataset's Euler reading (posebench.pose.euler_reading; BIWI's ``euler`` option):
            # truth and prediction both read in it, through the rotation matrix; the per-angle
            # errors are the reading's, the rotation errors (geodesic, MAEV) do not depend on it
            for cols in (pred_cols, true_cols):
                table[cols] = euler_reading(table[cols].to_numpy(), order)
            table[pred_cols] = nearest_equivalent(table[pred_cols].to_numpy(), table[true_cols].to_numpy())
            e = angle_errors(table[pred_cols].to_numpy(), table[true_cols].to_numpy())
            errs[["err_yaw", "err_pitch", "err_roll"]] = e
            errs["err_mean"] = e.mean(axis=1)
        table = pd.concat([table, errs], axis=1)
    return table


def summarise(table: pd.DataFrame) -> tuple[Summary, dict[str, Summary], Counter]:
    """Summary over the evaluated rows, summaries per |yaw| bin, and failure reason counts."""
    ok = table[table["failure"] == ""] if len(table) else table
    summary = summarize(ok)
    bins = summarize_by_yaw_bin(ok, ok["true_yaw"].to_numpy()) if len(ok) else {}
    bins = {label: s for label, s in bins.items() if s.n}  # an empty bin says nothing (and NaN != NaN)
    fails = Counter(table.loc[table["failure"] != "", "failure"]) if len(table) else Counter()
    return summary, bins, fails


def build_record(method: Method, dataset: Dataset, key: str, fingerprint: str, table: pd.DataFrame,
                 n_cached: int, wall: float) -> RunRecord:
    """The :class:`RunRecord` of a finished table (``table`` from :func:`results_table`)."""
    summary, bins, fails = summarise(table)
    ok = table[table["failure"] == ""] if len(table) else table
    behind = ok["behind_camera"].astype(bool) if len(ok) else pd.Series([], dtype=bool)
    replaced = behind & ok["pnp"].str.contains("->", regex=False) if len(ok) else behind
    pnp = Counter(ok.loc[ok["pnp"] != "", "pnp"]) if len(ok) else Counter()
    detectors = Counter(ok["detector"].replace("", "protocol box")) if len(ok) and "image" in method.needs else Counter()
    identity = method.identity()
    return RunRecord(
        key=key,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        method=method.name, label=method.label(), method_version=str(method.version),
        options=dict(identity["options"]), weights=identity["weights"], files=dict(identity.get("files", {})),
        needs=sorted(method.needs),
        dataset=dataset.name, protocol=dataset.protocol, data_root=str(dataset.root or ""), fingerprint=fingerprint,
        dataset_settings=dict(dataset.parameters), excluded_by_protocol=int(dataset.excluded),
        samples_without_image=sum(1 for s in dataset.samples if s.image_path is None),
        n_samples=int(len(table)), n_evaluated=int(summary.n), n_failed=int(len(table) - summary.n),
        failures=dict(fails.most_common()), summary=summary, by_yaw_bin=bins,
        seconds_per_sample=float(ok["seconds"].mean()) if len(ok) else None,
        from_cache=int(n_cached), wall_seconds_this_call=round(wall, 3),
        setup=str(identity.get("setup") or ""),
        behind_camera=int((behind & ~replaced).sum()), behind_camera_replaced=int(replaced.sum()),
        pnp={str(k): int(v) for k, v in pnp.most_common()},
        detectors={str(k): int(v) for k, v in detectors.most_common()},
        environment=environment(),
    )


def write_run(record: RunRecord, table: pd.DataFrame, results_dir: Path, write: bool = True) -> RunResult:
    """Store ``runs/<method>__<dataset>__<key>.csv`` and ``.json`` (each atomically; the pair
    under the runs folder's lock, :func:`posebench.outputs.folder_lock` waiting its turn, so two
    runs of one key never leave one's table beside the other's record); ``write=False`` (the other
    ranks of a sharded run) returns the same result with the paths rank 0 writes."""
    from posebench.outputs import folder_lock

    runs = Path(results_dir) / "runs"
    stem = f"{record.method}__{record.dataset}__{record.key}"
    paths = {"record": runs / f"{stem}.json", "samples": runs / f"{stem}.csv"}
    if write:
        data = table.to_csv(index=False)
        with folder_lock(runs, "runs folder", wait=True):
            write_atomic(paths["samples"], data)
            write_record(record, paths["record"])
    return RunResult(record, table, paths)
