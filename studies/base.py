"""Shared pieces of the landmark-to-pose studies (paper Section 4.2 and beyond).

A study turns a dataset with ground-truth 2D landmarks into a tidy :class:`pandas.DataFrame`
(one row per condition, MAE in degrees per angle) and draws it. Landmark indices are 0-based in
the 68-point iBUG 300-W markup (0-16 jaw, 17-26 brows, 27-35 nose, 36-47 eyes, 48-67 mouth;
image-left before image-right).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from posebench.datasets.base import Dataset
from posebench.declared import DeclaresOptions, recorded_value
from posebench.errors import DataError, UsageError
from posebench.facemodel import default_face, face_label, resolve_face  # noqa: F401  (face_label re-exported)
from posebench.landmarks import SUBSETS, parse_subsets  # noqa: F401  (re-exported for the studies)
from posebench.metrics import angle_errors
from posebench.options import Domain
from posebench.pnp import SOLVER_NAMES
from posebench.pnp.batch import BatchResult, solve_batch, solve_loop

BACKENDS = ("batched", "cv2", "batched-unverified")
#: Option domains shared by the landmark studies (checked by the registry, see posebench.options).
LANDMARK_DOMAINS = {
    "focal": Domain(gt=0),
    "solver": Domain(choices=SOLVER_NAMES),
    "backend": Domain(choices=BACKENDS),
    "face_units": Domain(choices=("mm", "stored")),
}
#: The error columns of :func:`error_row`, in the order summaries show them.
ERROR_COLUMNS = ("mae_yaw", "mae_pitch", "mae_roll", "mae", "frac_over_30")
#: Condition columns of the built-in studies, in the order summaries show them.
CONDITION_COLUMNS = ("subset", "n_points", "jitter_px", "axis", "stretch_pct", "solver", "camera", "origin", "units")
OVER = 30.0  # degrees: a sample with any angle error above this counts as a flipped solution


def parse_list(value: str | list | tuple, what: str, cast: Callable[[str], Any] = str,
               ge: float | None = None, le: float | None = None) -> list:
    """``"a,b,c"`` -> ``[cast(a), cast(b), cast(c)]`` with a one-line error on bad input; ``ge``/``le``
    bound every value (inclusive) when given."""
    items = value if isinstance(value, (list, tuple)) else [v.strip() for v in str(value).split(",") if v.strip()]
    try:
        out = [cast(v) for v in items]
    except ValueError:
        raise UsageError(f"{what}: cannot read {value!r}") from None
    if any(isinstance(v, float) and not (np.isfinite(v) and abs(v) <= 1e6) for v in out):
        raise UsageError(f"option {what}={value!r}: values must be finite numbers")
    if not out:
        raise UsageError(f"{what}: empty list")
    bad = [v for v in out if (ge is not None and v < ge) or (le is not None and v > le)]
    if bad:
        span = f"in {ge:g} .. {le:g}" if ge is not None and le is not None else (f">= {ge:g}" if ge is not None else f"<= {le:g}")
        raise UsageError(f"option {what}={value!r}: values must be {span}, got {bad[0]!r}")
    return out


@dataclass
class LandmarkData:
    """Arrays of a dataset's usable samples: ``uv`` B x 68 x 2 pixels, ``truth`` B x 3 degrees
    (yaw, pitch, roll), ``sizes`` B x 2 (w, h), ``exact`` B x 68 x 3 or None."""

    ids: list[str]
    uv: np.ndarray
    truth: np.ndarray
    sizes: np.ndarray
    exact: np.ndarray | None
    skipped: int


def landmark_data(dataset: Dataset) -> LandmarkData:
    """Collect the samples with 68 finite landmarks (others are counted in ``skipped``)."""
    keep = [s for s in dataset if s.landmarks is not None and np.shape(s.landmarks) == (68, 2)
            and np.all(np.isfinite(s.landmarks))]
    if not keep:
        raise DataError(f"dataset {dataset.name!r} has no samples with 68 ground-truth landmarks")
    exact = None
    if all(s.model_3d is not None for s in keep):
        exact = np.stack([np.asarray(s.model_3d, float) for s in keep])
    return LandmarkData(
        ids=[s.id for s in keep],
        uv=np.stack([np.asarray(s.landmarks, float) for s in keep]),
        truth=np.stack([s.pose.as_array() for s in keep]),
        sizes=np.array([s.image_size for s in keep], dtype=float),
        exact=exact,
        skipped=len(dataset) - len(keep),
    )


def rms_radius(face: np.ndarray) -> float:
    f = np.asarray(face, float).reshape(-1, 68, 3)
    return float(np.sqrt(np.mean(np.sum((f - f.mean(axis=1, keepdims=True)) ** 2, axis=-1))))


def study_face(spec: str, data: LandmarkData, units: str = "mm") -> np.ndarray:
    """The 3D face(s) for a study: 68 x 3, or B x 68 x 3 for ``exact``.

    ``spec``: ``default`` (posebench's mean face, mm), ``exact`` (each sample's own face, where
    the dataset has one) or a path (e.g. the paper's ground-truth mean face ``u_base.txt``).
    ``units``: ``mm`` is the face exactly as ``posebench run`` and every other command loads it
    (:func:`posebench.facemodel.load_face`: rescaled to posebench's face size, so a file's units
    never change a pose); ``stored`` keeps the file's own units (u_base.txt: micrometres), only
    to show how OpenCV's DLT initialisation depends on the scale of the model.
    """
    if units not in ("mm", "stored"):
        raise UsageError(f"face_units must be 'mm' or 'stored', got {units!r}")
    if spec == "exact":
        if data.exact is None:
            raise UsageError("face=exact needs a dataset with each sample's 3D face (e.g. synthetic)")
        return data.exact
    return resolve_face(spec, "stored" if units == "stored" else "normalised")


def solve(
    points: np.ndarray,
    model: np.ndarray,
    sizes: np.ndarray,
    solver: str,
    focal: float,
    backend: str,
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """Landmarks (B x N x 2) + model (N x 3 or B x N x 3) -> poses, through the batched path
    (``batched``: fragile problems re-solved by cv2, so it agrees with the reference;
    ``batched-unverified``: never calls cv2 for ``iterative``) or the per-sample cv2 reference."""
    if solver not in SOLVER_NAMES:
        raise UsageError(f"solver must be one of {', '.join(SOLVER_NAMES)}, got {solver!r}")
    if backend == "cv2":
        return solve_loop(points, model, sizes, solver, focal, progress=progress)
    if backend in ("batched", "batched-unverified"):
        return solve_batch(points, model, sizes, solver, focal, progress=progress, verify=backend == "batched")
    raise UsageError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


def error_row(result: BatchResult, truth: np.ndarray) -> dict[str, float]:
    """MAE per angle and their mean (degrees), fraction of flipped samples, counts."""
    ok = result.ok & np.all(np.isfinite(result.ypr), axis=1)
    e = angle_errors(result.ypr[ok], truth[ok])
    if e.size == 0:
        nan = float("nan")
        return {"mae_yaw": nan, "mae_pitch": nan, "mae_roll": nan, "mae": nan, "frac_over_30": nan,
                "n": 0, "n_failed": int((~ok).sum())}
    m = e.mean(axis=0)
    return {
        "mae_yaw": float(m[0]),
        "mae_pitch": float(m[1]),
        "mae_roll": float(m[2]),
        "mae": float(m.mean()),
        "frac_over_30": float(np.mean(e.max(axis=1) > OVER)),
        "n": int(ok.sum()),
        "n_failed": int((~ok).sum()),
    }


#: Result columns (what a study measured) wherever they appear; see :func:`is_result_column`.
RESULT_COLUMNS = (*ERROR_COLUMNS, "n", "n_failed", "n_evaluated", "n_common", "n_cv2_fallback",
                  "seconds", "seconds_per_face", "from_cache")
#: A column whose name starts with one of these holds a result (``mae_common``, ``err_yaw``, ...).
RESULT_PREFIXES = ("mae", "err_", "frac_")
#: What the runner calls, and the only ``run`` signature a study may have (the contract test checks it).
RUN_SIGNATURE = "run(self, dataset) -> DataFrame"


def is_result_column(name: str, extra: tuple[str, ...] = ()) -> bool:
    """Whether a table column holds a result rather than a condition: it is one of
    :data:`RESULT_COLUMNS` or ``extra`` (a study's :attr:`Study.result_columns`), or its name
    starts with one of :data:`RESULT_PREFIXES`. Every other column is a condition: what the
    study varied (``subset``, ``jitter_px``, ``factor``) or held fixed (``solver``, ``face``)."""
    return name in RESULT_COLUMNS or name in extra or str(name).startswith(RESULT_PREFIXES)


class Study(DeclaresOptions, ABC):
    """A named experiment: ``run(dataset) -> table``, ``plot(table, stem) -> files``.

    Options are declared once, as the keyword parameters of the class's ``__init__`` (as for
    :class:`posebench.method.Method`, :mod:`posebench.declared`): the framework records each one
    with its value in :meth:`options` (the stored record's ``settings``), except those in
    :attr:`runtime_options`; an option naming an existing file is recorded by the file's name and
    its content digest goes into :meth:`file_digests` (the record's ``files``). ``**kwargs`` of
    ``__init__`` (the image studies' ``METHOD.KEY=VALUE``) are recorded too.

    ``run`` takes the dataset only (:data:`RUN_SIGNATURE`); what the runner provides besides is
    set on the study before it runs: :attr:`results_dir` (where caches and runs go),
    :attr:`progress` (whether to draw progress bars) and :attr:`on_progress` (the runner's
    progress bar over :meth:`work` units; :meth:`advance` counts on it).
    """

    _options_base = True
    records_extra_options = True
    name: str = ""
    figure: str = ""  # e.g. "Figure 3" of the paper, or "" when beyond the paper
    #: Options that make this study cheap to run in the contract tests (tests/test_contracts.py).
    example_options: dict[str, Any] = {}
    #: Options that never change a result (kept out of the record).
    runtime_options: frozenset[str] = frozenset()
    #: This study's own result columns beyond :data:`RESULT_COLUMNS` (see :func:`is_result_column`).
    result_columns: tuple[str, ...] = ()
    #: Condition columns :meth:`summary` shows first, in this order (the other conditions follow).
    summary_keys: tuple[str, ...] = ()
    #: Set by the runner (:func:`posebench.studies.run.run_and_store`) before :meth:`run`.
    results_dir: Path = Path("posebench-results")
    progress: bool = False
    on_progress: Callable[[int], None] | None = None

    def __init__(self, **options: Any):
        """``options``: options recorded as given (a study may also pass them itself)."""
        self._options = {**self.__dict__.get("_options", {}), **options}

    def record_options(self, values: dict[str, Any], defaults: dict[str, Any] | None = None) -> None:
        """Record the declared options ``values`` (called by the framework after creation):
        as :meth:`posebench.method.Method.record_options` (:func:`posebench.declared.recorded_value`)."""
        opts = dict(self.__dict__.get("_options", {}))
        files = dict(self.__dict__.get("_files", {}))
        for key, value in values.items():
            if key in self.runtime_options:
                opts.pop(key, None)
                continue
            opts[key], path = recorded_value(value, (defaults or {}).get(key))
            if path is not None:
                files[f"option:{key}"] = path
        self.__dict__["_options"] = opts
        self.__dict__["_files"] = files

    def options(self) -> dict[str, Any]:
        """The recorded options: ``{option: value}``, a file option by the file's name (stored as
        the table record's ``settings``; the file's bytes are in :meth:`file_digests`)."""
        return dict(self.__dict__.get("_options", {}))

    def reads(self, label: str, path: str | Path) -> None:
        """Declare a file the results depend on that no option names; its digest is recorded."""
        self.__dict__.setdefault("_files", {})[label] = Path(path)

    def file_digests(self) -> dict[str, str]:
        """``{label: SHA-256 (first 16 hex)}`` of every file the study reads (``option:KEY``
        for a file named by an option)."""
        from posebench.fileio import file_digest

        return {k: file_digest(p)[:16] for k, p in sorted(self.__dict__.get("_files", {}).items())}

    def set_context(self, results_dir: Path, progress: bool, on_progress: Callable[[int], None] | None = None) -> None:
        """What the runner provides besides the dataset (see the class docstring)."""
        self.results_dir, self.progress, self.on_progress = Path(results_dir), bool(progress), on_progress

    def advance(self, n: int) -> None:
        """Count ``n`` finished :meth:`work` units on the runner's progress bar (none: no-op)."""
        if self.on_progress is not None:
            self.on_progress(n)

    def work(self, data: LandmarkData) -> int:
        """Number of PnP problems :meth:`run` will solve (for the progress bar)."""
        return 0

    @abstractmethod
    def run(self, dataset: Dataset) -> pd.DataFrame:
        """The tidy table of results (one row per condition; options as constant columns)."""

    @abstractmethod
    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        """Draw ``table`` to ``stem``.png and ``stem``.pdf; return the files written."""

    def condition_columns(self, table: pd.DataFrame) -> list[str]:
        """The table's condition columns (every column that is not a result,
        :func:`is_result_column`): :attr:`summary_keys` first, then in table order."""
        conds = [c for c in table.columns if not is_result_column(c, self.result_columns)]
        return [k for k in self.summary_keys if k in conds] + [c for c in conds if c not in self.summary_keys]

    def summary(self, table: pd.DataFrame) -> str:
        """A short text table for the terminal. The default keeps every condition column
        (:meth:`condition_columns`, numeric or not): those that vary label the rows, those that
        are the same in every row are one line above the table (``solver: iterative, ...``);
        then every result column; floats to 3 decimals."""
        conds = self.condition_columns(table)
        varying = [c for c in conds if table[c].astype(str).nunique() > 1]
        fixed = [c for c in conds if c not in varying]
        results = [c for c in table.columns if c not in conds]
        shown = table[varying + results] if varying + results else table
        text = shown.to_string(index=False, float_format=lambda v: f"{v:.3f}")
        if fixed and len(table):
            text = ", ".join(f"{c}: {_shown_value(table[c].iloc[0])}" for c in fixed) + "\n" + text
        return text

    def with_options(self, table: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
        for k in keys:
            table[k] = self._options[k]
        return table


def _shown_value(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) and not float(v).is_integer() else str(v)


def run_signature_problem(study: Any) -> str:
    """``""`` when a study's (class or object) ``run`` is :data:`RUN_SIGNATURE`, else the
    one-line reason (the contract test asserts it is empty for every registered study)."""
    cls = study if isinstance(study, type) else type(study)
    run = getattr(cls, "run", None)
    if not callable(run):
        return f"{cls.__name__} has no run method; a study defines {RUN_SIGNATURE}"
    try:
        params = list(inspect.signature(run).parameters.values())
    except (TypeError, ValueError):
        return f"{cls.__name__}.run has no readable signature; a study defines {RUN_SIGNATURE}"
    rest = params[1:]
    ok = len(rest) == 1 and rest[0].kind in (rest[0].POSITIONAL_ONLY, rest[0].POSITIONAL_OR_KEYWORD)
    if ok:
        return ""
    return (f"{cls.__name__}.run{inspect.signature(run)}: a study defines {RUN_SIGNATURE}; the runner sets "
            "results_dir, progress and on_progress on the study (see posebench.studies.base.Study)")


ANGLE_STYLE = {
    "mae_yaw": ("yaw", "tab:blue", "o"),
    "mae_pitch": ("pitch", "tab:orange", "s"),
    "mae_roll": ("roll", "tab:green", "^"),
    "mae": ("mean of the three", "black", "D"),
}


def options_line(table: pd.DataFrame) -> str:
    """"face: u_base.txt, solver: iterative, focal 1 x width" from a table's setting columns."""
    parts = []
    if "face" in table:
        parts.append(f"face: {table['face'].iloc[0]}")
    if "solver" in table and table["solver"].nunique() == 1 and table["solver"].iloc[0] != "weak":
        parts.append(f"solver: {table['solver'].iloc[0]}")
    weak = "solver" in table and set(table["solver"]) == {"weak"}
    if weak:
        parts.append("weak perspective camera (no focal length)")
    elif "focal" in table and table["focal"].nunique() == 1:
        parts.append(f"focal {table['focal'].iloc[0]:g} x image width")
    return ", ".join(parts)


def save_figure(fig, stem: Path) -> list[Path]:
    """Write ``stem``.png (150 dpi) and ``stem``.pdf atomically (rendered in memory, then
    :func:`posebench.fileio.write_atomic`)."""
    import io

    from posebench.fileio import write_atomic

    stem = Path(stem)
    out = []
    for ext in ("png", "pdf"):
        path = stem.with_suffix(f".{ext}")
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=150, bbox_inches="tight")
        write_atomic(path, buf.getvalue())
        out.append(path)
    return out
