"""Shared pieces of the studies that run *methods on images* through the normal runner
(``lowres``, Figure 8; ``afw-yaw``, Figure 7) rather than solving PnP on stored landmarks.

Methods are named with ``methods=a,b,c``; options of one method are passed as
``-o METHOD.KEY=VALUE`` (e.g. ``-o onnx-headpose.model_dir=/path``). Each (method, dataset
variant) is one :func:`posebench.evaluation.runner.evaluate` call, so predictions are cached
per sample and an interrupted study resumes. A method that cannot be built here (weights
absent, not registered) is skipped with its reason, which the table and the record keep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posebench.errors import DataError, PosebenchError, UsageError

from .base import Study, parse_list

#: what a method needs that is absent here, by name (the known peers' install hints)
KNOWN_ABSENT = {
    "whenet": "not registered in this install (WHENet is ported on its own branch)",
}


@dataclass
class MethodSpec:
    """One method of a study: its name, its options and, once tried, the built method or why not."""

    name: str
    options: dict[str, str] = field(default_factory=dict)
    method: Any = None
    skipped: str = ""


#: Study defaults for landmark-to-pose methods: SQPnP, a globally optimal perspective solver
#: (guarded against behind-camera solutions like every landmark set-up), so the image studies keep
#: the paper's perspective camera. The methods' registered default is ``setup=weak-perspective`` (weak
#: perspective); the paper's exact set-up is one option away: ``-o dlib.setup=paper``. The table's
#: ``options`` column records what ran.
STUDY_DEFAULTS: dict[str, dict[str, str]] = {
    "dlib": {"solver": "sqpnp"},
    "fan": {"solver": "sqpnp"},
    "gt-landmarks": {"solver": "sqpnp"},
}


def split_method_options(names: str, extra: dict[str, Any]) -> list[MethodSpec]:
    """``methods=a,b`` plus ``{"a.key": value}`` -> one :class:`MethodSpec` per method, starting
    from :data:`STUDY_DEFAULTS` (the user's options win)."""
    specs = [MethodSpec(n, dict(STUDY_DEFAULTS.get(n, {}))) for n in parse_list(names, "methods")]
    by_name = {s.name: s for s in specs}
    for key, value in extra.items():
        method, dot, opt = key.partition(".")
        if not dot or not opt:
            raise UsageError(f"unknown study option {key!r}; per-method options are METHOD.KEY=VALUE")
        if method not in by_name:
            raise UsageError(f"option {key!r} names method {method!r}, which is not in methods={names}")
        by_name[method].options[opt] = str(value)
    from posebench.registry import methods

    for s in specs:  # check each registered method's options now (names, types, domains), not mid-study
        if s.name in methods.names():
            methods.bind(s.name, s.options)
    return specs


def build_methods(specs: list[MethodSpec], require_one: bool = True, dataset: Any = None) -> list[MethodSpec]:
    """Create each method; a method that cannot be created here is marked skipped with the
    one-line reason (missing weights, unknown name), never silently dropped. When every method
    is skipped and ``require_one`` (a study with nothing else to run), :class:`DataError` lists
    each reason, before any work: nothing is run and no table is stored (an empty table used to
    replace the stored one, with exit 0). With ``dataset``, a built method that reads images on
    a dataset without any is a :class:`UsageError`, also before any work
    (:func:`posebench.evaluation.runner.check_images_for`; an all-failed table used to be stored)."""
    from posebench.evaluation.runner import check_images_for
    from posebench.registry import methods

    for s in specs:
        if s.name not in methods.names():
            s.skipped = KNOWN_ABSENT.get(s.name, f"unknown method {s.name!r} (see `posebench methods`)")
            continue
        try:
            s.method = methods.create(s.name, s.options)
        except UsageError:
            raise
        except (PosebenchError, ImportError, OSError) as exc:
            s.skipped = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if dataset is not None:
        for s in specs:
            if s.method is not None:
                check_images_for(s.method, dataset)
    if require_one and specs and all(s.skipped for s in specs):
        raise DataError("no method of the study can run, nothing was stored: "
                        + "; ".join(f"{s.name}: {s.skipped}" for s in specs))
    return specs


@dataclass
class StudyRun:
    """One (method, dataset) evaluation of a study: the per-sample table (see :func:`per_face`)
    and, when some face was answered, the stored run's file name, timing and cache count. A run
    whose every face failed stores no run record (:func:`posebench.evaluation.runner.evaluate`
    raises); its failures are read back from the cache (``run`` empty, timing None)."""

    samples: pd.DataFrame
    protocol: str
    run: str = ""
    seconds_per_face: float | None = None
    from_cache: int = 0


def evaluate_faces(method: Any, dataset: Any, results_dir: Path, progress: bool) -> StudyRun:
    """:func:`posebench.evaluation.runner.evaluate`, keeping an all-failed run as its failures
    (a detector that finds no face, a box shrunk too far: a result of the study, not an error)."""
    from posebench.evaluation.runner import cached_samples, evaluate

    before = cached_samples(method, dataset, results_dir)
    try:
        res = evaluate(method, dataset, results_dir, progress=progress)
    except DataError:
        table = cached_samples(method, dataset, results_dir)
        if table is None:
            raise
        return StudyRun(per_face(table), dataset.protocol, from_cache=0 if before is None else len(table))
    return StudyRun(per_face(res.samples), res.record.protocol, Path(res.paths["record"]).name,
                    res.record.seconds_per_sample, res.record.from_cache)


def method_label(spec: MethodSpec) -> str:
    """The run label of a study's method, as the leaderboard shows it (``Method.label()``: its name
    and the options that differ from their defaults, e.g. ``dlib (solver=sqpnp)``); the bare name
    for a method that could not be built here."""
    return spec.method.label() if spec.method is not None else spec.name


def per_face(samples: pd.DataFrame) -> pd.DataFrame:
    """The runner's per-sample table indexed by id: errors, truth, failure."""
    t = samples.copy()
    t["failure"] = t["failure"].fillna("").astype(str)
    return t.set_index("id")


def penalised_mae(t: pd.DataFrame, penalty: float) -> float:
    """Mean error with each failed face counted at ``penalty`` degrees on every angle."""
    err = t["err_mean"].to_numpy(float).copy()
    err[(t["failure"] != "").to_numpy()] = penalty
    return float(np.mean(err)) if err.size else float("nan")


def frontal_mae(t: pd.DataFrame) -> float:
    """Mean error with each failed face answered as "no pose" = the frontal pose (0, 0, 0):
    its error is the wrapped |true angle| per angle (what a caller falling back to "looking
    straight at the camera" gets)."""
    from posebench.metrics import angle_errors

    truth = t[["true_yaw", "true_pitch", "true_roll"]].to_numpy(float)
    pred = t[["pred_yaw", "pred_pitch", "pred_roll"]].to_numpy(float).copy()
    failed = (t["failure"] != "").to_numpy()
    pred[failed] = 0.0
    ok = np.all(np.isfinite(truth), axis=1)
    e = angle_errors(pred[ok], truth[ok]).mean(axis=1)
    return float(np.mean(e)) if e.size else float("nan")


class ImageStudy(Study):
    """A study that evaluates methods on images through the runner (needs a results folder)."""

    kind = "images"

    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:  # pragma: no cover
        raise NotImplementedError
