"""posebench: benchmark head pose estimators (Hopenet vs landmark-to-pose) on common protocols.

Angles are degrees everywhere; see :mod:`posebench.pose` for the rotation convention.

The library in five calls::

    import posebench
    posebench.list_methods()                       # ['dlib', 'fan', 'gt-landmarks', ...]
    m = posebench.create_method("gt-landmarks", solver="sqpnp")
    ds = posebench.create_dataset("synthetic", n=200)
    r = posebench.evaluate(m, ds)                  # or evaluate("gt-landmarks", "synthetic")
    print(r.summary.mae)
"""

from __future__ import annotations

__version__ = "0.1.0"

import os  # noqa: E402

# OpenMP threads wait passively (GNU libgomp, which torch loads, reads this when it loads: so
# before torch is imported). With the default active wait, torch's threads spin after each torch
# operation and take the cores an onnxruntime session next to them needs (issue 24: +50% on 2
# cores; a batch-1 path 23.9 -> 8.3 ms/face with it). A value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Nothing but posebench.errors is imported here: the console script imports this package before
# posebench.entry installs its signal handlers, and pathlib + typing cost ~20 ms of that window at
# start (a Ctrl-C in it was a traceback). TYPE_CHECKING as typing.TYPE_CHECKING, without importing it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

from posebench.errors import PosebenchError, SampleFailure  # noqa: E402


def list_methods() -> list[str]:
    """Names of every registered method (built-in and plugins)."""
    from posebench.registry import methods

    return methods.names()


def list_datasets() -> list[str]:
    """Names of every registered dataset reader."""
    from posebench.registry import datasets

    return datasets.names()


def list_studies() -> list[str]:
    """Names of every registered study."""
    from posebench.registry import studies

    return studies.names()


def create_method(name: str, options: dict[str, Any] | None = None, **kwargs: Any):
    """A registered method with its options (a dict and/or keywords; strings are coerced and every
    value checked against its domain): the same path as ``posebench run -m NAME -o KEY=VALUE``."""
    from posebench.apitypes import expect, options_arg
    from posebench.registry import methods

    expect(name, str, "method name", "a registered method's name (str)")
    return methods.create(name, {**options_arg(options), **kwargs})


def create_dataset(name: str, options: dict[str, Any] | None = None, data_dir: str | Path | None = None,
                   **kwargs: Any):
    """A registered dataset (``data_dir``: its folder; default ``<data root>/<name>``)."""
    from posebench.apitypes import expect, options_arg, path_arg
    from posebench.registry import datasets

    expect(name, str, "dataset name", "a registered dataset's name (str)")
    return datasets.create(name, {**options_arg(options), **kwargs}, data_dir=path_arg(data_dir, "data_dir"))


def create_study(name: str, options: dict[str, Any] | None = None, **kwargs: Any):
    """A registered study with its options."""
    from posebench.apitypes import expect, options_arg
    from posebench.registry import studies

    expect(name, str, "study name", "a registered study's name (str)")
    return studies.create(name, {**options_arg(options), **kwargs})


def evaluate(method, dataset, results_dir: str | Path | None = None, progress: bool = False,
             method_options: dict[str, Any] | None = None, dataset_options: dict[str, Any] | None = None,
             data_dir: str | Path | None = None, limit: int | None = None):
    """Evaluate ``method`` (a name or a Method) on ``dataset`` (a name or a Dataset), with the
    prediction cache and run record of ``posebench run``; returns a
    :class:`~posebench.evaluation.runner.RunResult` (``.summary``, ``.samples``, ``.record``).
    ``results_dir`` defaults to ``$POSEBENCH_RESULTS`` or ``./posebench-results``. A wrong
    type (a number for ``dataset``, a list for ``method_options``) is a :class:`TypeError`
    naming the argument; a bad value (an unknown name, ``limit=0``) a :class:`PosebenchError`."""
    from posebench.apitypes import expect, path_arg
    from posebench.datasets.base import Dataset
    from posebench.evaluation.runner import evaluate as run
    from posebench.method import Method
    from posebench.paths import results_root

    expect(method, (str, Method), "method", "a registered method's name or a posebench Method")
    expect(dataset, (str, Dataset), "dataset", "a registered dataset's name or a posebench Dataset")
    path_arg(results_dir, "results_dir")
    if isinstance(method, str):
        method = create_method(method, method_options)
    if isinstance(dataset, str):
        dataset = create_dataset(dataset, dataset_options, data_dir=data_dir)
    dataset = dataset.subset(limit)
    from pathlib import Path

    return run(method, dataset, Path(results_dir or results_root()), progress=progress)


def predict(paths, method, *, faces: str = "all", matrix: bool = False, results_dir: str | Path | None = None,
            cache: bool = True, progress: bool = False, method_options: dict[str, Any] | None = None,
            max_frames: int | None = None):
    """Head poses of every face in image files, folders (recursive), glob patterns and videos:
    a :class:`pandas.DataFrame`, one row per face and method (file, frame, face, box, detector,
    score, yaw/pitch/roll in degrees, failure; ``matrix=True`` adds the rotation). ``method``: a
    name, a Method or a list of them. Cached per file content like ``evaluate``; the same as
    ``posebench predict``. See :func:`posebench.inference.predict`."""
    from posebench.inference import predict as run

    return run(paths, method, faces=faces, matrix=matrix, results_dir=results_dir, cache=cache, progress=progress,
               method_options=method_options, max_frames=max_frames)


__all__ = ["Pose", "PosebenchError", "SampleFailure", "__version__", "create_dataset", "create_method",
           "create_study", "evaluate", "list_datasets", "list_methods", "list_studies", "predict"]


def __getattr__(name: str):
    # ``posebench.Pose`` without importing numpy at ``import posebench``: the command line
    # installs its Ctrl-C handling first, then imports the heavy parts.
    if name == "Pose":
        from posebench.pose import Pose

        return Pose
    raise AttributeError(f"module 'posebench' has no attribute {name!r}")
