"""Shared pieces of the landmark-to-pose studies (paper Section 4.2 and beyond).

A study turns a dataset with ground-truth 2D landmarks into a tidy :class:`pandas.DataFrame`
(one row per condition, MAE in degrees per angle) and draws it. Landmark indices are 0-based in
the 68-point iBUG 300-W markup (0-16 jaw, 17-26 brows, 27-35 nose, 36-47 eyes, 48-67 mouth;
image-left before image-right).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from posebench.datasets.base import Dataset
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


def parse_list(value: str | list | tuple, what: str, cast: Callable[[str], Any] = str) -> list:
    """``"a,b,c"`` -> ``[cast(a), cast(b), cast(c)]`` with a one-line error on bad input."""
    items = value if isinstance(value, (list, tuple)) else [v.strip() for v in str(value).split(",") if v.strip()]
    try:
        out = [cast(v) for v in items]
    except ValueError:
        raise UsageError(f"{what}: cannot read {value!r}") from None
    if any(isinstance(v, float) and not (np.isfinite(v) and abs(v) <= 1e6) for v in out):
        raise UsageError(f"option {what}={value!r}: values must be finite numbers")
    if not out:
        raise UsageError(f"{what}: empty list")
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
    ``units``: ``mm`` rescales a loaded face about the origin so that its RMS radius matches
    posebench's face (u_base.txt is in micrometres, which leaves OpenCV's DLT initialisation
    numerically ill-conditioned for small point sets); ``stored`` keeps the file's units.
    Rotation is scale-invariant; only the solver's numerics change.
    """
    if units not in ("mm", "stored"):
        raise UsageError(f"face_units must be 'mm' or 'stored', got {units!r}")
    if spec == "exact":
        if data.exact is None:
            raise UsageError("face=exact needs a dataset with each sample's 3D face (e.g. synthetic)")
        return data.exact
    face = resolve_face(spec)
    if units == "mm":
        face = face * (rms_radius(default_face()) / rms_radius(face))
    return face


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


class Study(ABC):
    """A named experiment: ``run(dataset) -> table``, ``plot(table, path_stem) -> files``."""

    name: str = ""
    figure: str = ""  # e.g. "Figure 3" of the paper, or "" when beyond the paper
    #: Options that make this study cheap to run in the contract tests (tests/test_contracts.py).
    example_options: dict[str, Any] = {}

    def __init__(self, **settings: Any):
        self._settings = dict(settings)

    def settings(self) -> dict[str, Any]:
        return dict(self._settings)

    def work(self, data: LandmarkData) -> int:
        """Number of PnP problems :meth:`run` will solve (for the progress bar)."""
        return 0

    @abstractmethod
    def run(self, dataset: Dataset, progress: Callable[[int], None] | None = None) -> pd.DataFrame:
        """The tidy table of results (one row per condition; settings as constant columns)."""

    @abstractmethod
    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        """Draw ``table`` to ``stem``.png and ``stem``.pdf; return the files written."""

    #: Columns that name a condition; :meth:`summary` shows them (those in the table) first.
    summary_keys: tuple[str, ...] = ()

    def summary(self, table: pd.DataFrame) -> str:
        """A short text table for the terminal. The default: the condition columns
        (:attr:`summary_keys`, or else every non-numeric column that varies) and the error
        columns the table has (``mae_*``, ``frac_over_30``), floats to 3 decimals."""
        keys = [k for k in self.summary_keys if k in table.columns]
        if not keys:
            keys = [c for c in table.columns if table[c].dtype == object and table[c].nunique() > 1]
        errs = [c for c in ERROR_COLUMNS if c in table.columns]
        cols = keys + [c for c in errs if c not in keys]
        shown = table[cols] if cols else table
        return shown.to_string(index=False, float_format=lambda v: f"{v:.3f}")

    def with_settings(self, table: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
        for k in keys:
            table[k] = self._settings[k]
        return table


ANGLE_STYLE = {
    "mae_yaw": ("yaw", "tab:blue", "o"),
    "mae_pitch": ("pitch", "tab:orange", "s"),
    "mae_roll": ("roll", "tab:green", "^"),
    "mae": ("mean of the three", "black", "D"),
}


def settings_line(table: pd.DataFrame) -> str:
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
