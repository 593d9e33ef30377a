"""Evaluate a method on a dataset: cached per-sample predictions, then per-sample errors and summary.

The cache key covers the method's settings (name, version, options, weights hash), the dataset's
content fingerprint and its protocol, so any change re-runs exactly what it must. Failures (no
face, bad landmarks, unreadable image, missing image, unusable label) are recorded per sample
with their reason and counted; they never stop the run.

What a method says about how it got each pose (:class:`posebench.method.Estimate` ``info``) is
kept per sample and counted in the record: ``detectors`` (which detector found the face, or
``protocol box``), ``pnp`` (what the landmark-to-pose guard did), ``behind_camera`` (evaluated
poses that come from a solution with the face behind the camera: 0 unless the set-up has no
guard) and ``behind_camera_replaced`` (such solutions the guard replaced).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posebench.evaluation.cache import PredictionCache, cache_key
from posebench.fileio import write_atomic
from posebench.datasets.base import Dataset, Sample
from posebench.evaluation.environment import environment
from posebench.errors import SampleFailure
from posebench.imageio import read_image
from posebench.method import FaceInput, Method, info_of
from posebench.metrics import per_sample_errors, summarize, summarize_by_yaw_bin

RUN_FORMAT = 1
#: Per-sample information kept from a method's :class:`~posebench.method.Estimate`.
INFO_KEYS = ("detector", "pnp", "behind_camera")


@dataclass
class RunResult:
    """A finished evaluation: its settings, per-sample table and summary."""

    record: dict[str, Any]
    samples: pd.DataFrame
    paths: dict[str, Path] = field(default_factory=dict)

    def summary_json(self) -> dict[str, Any]:
        r = self.record
        s = r["summary"]
        return {
            "method": r["method"]["method"],
            "setup": r["method"].get("setup", ""),
            "options": r["method"]["options"],
            "dataset": r["dataset"]["name"],
            "protocol": r["dataset"]["protocol"],
            "n_samples": r["n_samples"],
            "n_evaluated": r["n_evaluated"],
            "n_failed": r["n_failed"],
            "mae_yaw": s["mae_yaw"],
            "mae_pitch": s["mae_pitch"],
            "mae_roll": s["mae_roll"],
            "mae": s["mae"],
            "mae_ci95": s["mae_ci95"],
            "geodesic": s["geodesic"],
            "maev": s["maev"],
            "seconds_per_sample": r["seconds_per_sample"],
            "from_cache": r["from_cache"],
            "failures": r["failures"],
            "behind_camera": r.get("behind_camera", 0),
            "behind_camera_replaced": r.get("behind_camera_replaced", 0),
            "pnp": r.get("pnp", {}),
            "detectors": r.get("detectors", {}),
            "run_file": str(self.paths.get("record", "")),
        }


def _face_input(sample: Sample, method: Method) -> FaceInput:
    image = None
    if "image" in method.needs:
        if sample.image_path is None:
            raise SampleFailure("no image file for this sample (labels-only data)")
        image = read_image(sample.image_path)
    return FaceInput(image, sample.image_size, sample.box, sample.landmarks, sample.model_3d, sample.id, sample.points)


def run_key(method: Method, dataset: Dataset, fingerprint: str | None = None) -> str:
    fp = fingerprint or dataset.fingerprint()
    return cache_key({"method": method.settings(), "dataset": fp, "protocol": dataset.protocol})


def evaluate(
    method: Method,
    dataset: Dataset,
    results_dir: Path,
    progress: bool = True,
) -> RunResult:
    """Run ``method`` over ``dataset`` (resuming from the cache), store and return the result."""
    results_dir = Path(results_dir)
    fingerprint = dataset.fingerprint()  # hashes every sample: once per run
    key = run_key(method, dataset, fingerprint)
    cache = PredictionCache(results_dir / "cache" / f"{method.name}__{dataset.name}__{key}.jsonl")
    done = cache.load()
    n_cached = sum(1 for s in dataset.samples if s.id in done)
    todo = [s for s in dataset.samples if s.id not in done]
    t_start = time.perf_counter()
    if todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(dataset.samples), initial=n_cached, unit="face", desc=f"{method.name} on {dataset.name}",
                   disable=not progress, leave=False, dynamic_ncols=True)
        step = max(1, int(method.batch_size))
        try:
            for i in range(0, len(todo), step):
                chunk = todo[i : i + step]
                records = _run_chunk(method, chunk)
                cache.append(records)
                done.update({r["id"]: r for r in records})
                bar.update(len(chunk))
        finally:
            bar.close()
    wall = time.perf_counter() - t_start
    return _finish(method, dataset, key, fingerprint, done, n_cached, wall, results_dir)


def _run_chunk(method: Method, chunk: list[Sample]) -> list[dict]:
    records: list[dict | None] = [None] * len(chunk)
    faces, where = [], []
    t0 = time.perf_counter()
    for j, s in enumerate(chunk):
        try:
            faces.append(_face_input(s, method))
            where.append(j)
        except SampleFailure as exc:
            records[j] = {"id": s.id, "pred": None, "fail": exc.reason, "sec": 0.0}
    t_load = time.perf_counter() - t0
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
            if isinstance(out, SampleFailure):
                records[j] = {"id": chunk[j].id, "pred": None, "fail": out.reason, "sec": per}
            elif not out.is_finite():
                records[j] = {"id": chunk[j].id, "pred": None, "fail": "non-finite prediction", "sec": per}
            else:
                records[j] = {"id": chunk[j].id, "pred": [float(v) for v in out.as_array()], "fail": None, "sec": per}
                info = {k: v for k, v in info_of(out).items() if k in INFO_KEYS}
                if info:
                    records[j]["info"] = info
    return [r for r in records if r is not None]


def _finish(method, dataset, key, fingerprint, done, n_cached, wall, results_dir) -> RunResult:
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
        errs = per_sample_errors(table[["pred_yaw", "pred_pitch", "pred_roll"]].to_numpy(),
                                 table[["true_yaw", "true_pitch", "true_roll"]].to_numpy())
        table = pd.concat([table, errs], axis=1)
    ok = table[table["failure"] == ""] if len(table) else table
    summary = summarize(ok)
    bins = summarize_by_yaw_bin(ok, ok["true_yaw"].to_numpy()) if len(ok) else {}
    fails = Counter(table.loc[table["failure"] != "", "failure"]) if len(table) else Counter()
    n_img_missing = sum(1 for s in dataset.samples if s.image_path is None)
    behind = ok["behind_camera"].astype(bool) if len(ok) else pd.Series([], dtype=bool)
    replaced = behind & ok["pnp"].str.contains("->", regex=False) if len(ok) else behind
    pnp = Counter(ok.loc[ok["pnp"] != "", "pnp"]) if len(ok) else Counter()
    detectors = Counter(ok["detector"].replace("", "protocol box")) if len(ok) and "image" in method.needs else Counter()
    record = {
        "format": RUN_FORMAT,
        "key": key,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "method": method.settings(),
        "needs": sorted(method.needs),
        "dataset": {"name": dataset.name, "protocol": dataset.protocol, "root": str(dataset.root or ""),
                    "fingerprint": fingerprint, "settings": dataset.settings,
                    "excluded_by_protocol": dataset.excluded, "samples_without_image": n_img_missing},
        "n_samples": int(len(table)),
        "n_evaluated": int(summary.n),
        "n_failed": int(len(table) - summary.n),
        "failures": dict(fails.most_common()),
        "behind_camera": int((behind & ~replaced).sum()),
        "behind_camera_replaced": int(replaced.sum()),
        "pnp": dict(pnp.most_common()),
        "detectors": dict(detectors.most_common()),
        "summary": summary.as_dict(),
        "by_yaw_bin": {k: v.as_dict() for k, v in bins.items()},
        "seconds_per_sample": float(ok["seconds"].mean()) if len(ok) else None,
        "from_cache": int(n_cached),
        "wall_seconds_this_call": round(wall, 3),
        "environment": environment(),
    }
    runs = Path(results_dir) / "runs"
    stem = f"{method.name}__{dataset.name}__{key}"
    paths = {"record": runs / f"{stem}.json", "samples": runs / f"{stem}.csv"}
    write_atomic(paths["samples"], table.to_csv(index=False))
    write_atomic(paths["record"], json.dumps(record, indent=2, default=str) + "\n")
    return RunResult(record, table, paths)
