"""``solver`` (beyond the paper): the same ground-truth landmarks and mean face through every
solver (OpenCV ``iterative`` -- the paper's --, ``sqpnp``, ``epnp``, and posebench's closed-form
weak perspective ``weak``), several camera guesses (focal = 0.5x, 1x, 2x, 10x the image width,
principal point at the centre) and several placements of the 3D model's origin:

* ``stored``: the face file's own origin (u_base: the BFM origin; posebench's face: its centroid);
* ``centroid``: the face centred at its centroid;
* ``behind100``: centred, then moved 100 mm towards the viewer, so the origin sits 100 mm behind
  the face (roughly the centre of the head).

A rotation does not depend on any of these choices; a solver that lands in a local minimum does.
``units``: ``mm`` (face rescaled to posebench's face size) and/or ``stored`` (the file's units,
micrometres for u_base). The paper's Table 1 "Ground truth landmarks" is MAE 8.651."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from posebench.datasets.base import Dataset
from posebench.errors import UsageError
from posebench.evaluation.paper import paper_values
from posebench.facemodel import default_face
from posebench.options import Domain
from posebench.registry import register_study

from .base import (
    BACKENDS,
    CONDITION_COLUMNS,
    SUBSETS,
    LandmarkData,
    Study,
    error_row,
    landmark_data,
    parse_list,
    parse_subsets,
    rms_radius,
    save_figure,
    solve,
    study_face,
)

ORIGINS = ("stored", "centroid", "behind100")
SOLVER_STYLE = {"iterative": ("tab:red", "o"), "sqpnp": ("tab:blue", "s"), "epnp": ("tab:green", "^"),
                "weak": ("black", None)}


def place_origin(face: np.ndarray, origin: str, units_per_mm: float) -> np.ndarray:
    f = np.asarray(face, float)
    if origin == "stored":
        return f
    c = f - f.mean(axis=-2, keepdims=True)
    if origin == "centroid":
        return c
    if origin == "behind100":
        return c + np.array([0.0, 0.0, 100.0 * units_per_mm])
    raise UsageError(f"origin must be one of {', '.join(ORIGINS)}, got {origin!r}")


@register_study("solver", "beyond the paper: solver x camera guess x model origin on ground-truth landmarks",
                domains={"backend": Domain(choices=BACKENDS)})
class SolverStudy(Study):
    name = "solver"
    figure = ""
    example_options = {"solvers": "sqpnp,weak", "focals": "1", "origins": "centroid", "units": "mm", "backend": "cv2"}
    summary_keys = CONDITION_COLUMNS

    def __init__(self, solvers: str = "iterative,sqpnp,epnp,weak", focals: str = "0.5,1,2,10",
                 origins: str = "stored,centroid,behind100", units: str = "mm,stored", points: str = "68",
                 face: str = "default", backend: str = "batched"):
        super().__init__()
        self.solvers = parse_list(solvers, "solvers")
        self.focals = parse_list(focals, "focals", float)
        self.origins = parse_list(origins, "origins")
        self.units = parse_list(units, "units")
        bad = [o for o in self.origins if o not in ORIGINS]
        if bad:
            raise UsageError(f"unknown origin(s) {bad}; choose from {', '.join(ORIGINS)}")
        if any(f <= 0 for f in self.focals):
            raise UsageError("focals must be positive multiples of the image width")
        self.subset = parse_subsets(points)[0]
        self.face_spec = face

    def _grid(self) -> list[tuple[str, float]]:
        return [(s, f) for s in self.solvers for f in ([float("nan")] if s == "weak" else self.focals)]

    def work(self, data: LandmarkData) -> int:
        return len(self._grid()) * len(self.origins) * len(self.units) * len(data.ids)

    def run(self, dataset: Dataset) -> pd.DataFrame:
        s = self._options
        data = landmark_data(dataset)
        idx = list(SUBSETS[self.subset])
        rows = []
        for units in self.units:
            face = study_face(self.face_spec, data, units)
            per_mm = rms_radius(face) / rms_radius(default_face())
            for origin in self.origins:
                model = place_origin(face, origin, per_mm)[..., idx, :]
                for solver, focal in self._grid():
                    res = solve(data.uv[:, idx], model, data.sizes, solver, 1.0 if solver == "weak" else focal,
                                s["backend"], self.on_progress)
                    camera = "weak perspective" if solver == "weak" else f"f = {focal:g} x width"
                    rows.append({"solver": solver, "focal": focal, "camera": camera, "origin": origin, "units": units,
                                 "n_points": len(idx), **error_row(res, data.truth),
                                 "n_cv2_fallback": int(res.fallback.sum())})
        table = pd.DataFrame(rows)
        table["face"] = s["face"]
        table["backend"] = s["backend"]
        return table

    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        units = table["units"].iloc[0]
        t = table[table["units"] == units]
        origins = list(dict.fromkeys(t["origin"]))
        fig, axes = plt.subplots(2, len(origins), figsize=(4.2 * len(origins), 6.8), sharex=True, sharey="row",
                                 squeeze=False)
        paper = paper_values("gt-landmarks", "aflw2000")
        for j, origin in enumerate(origins):
            to = t[t["origin"] == origin]
            for row, (col, scale, ylabel) in enumerate((("mae", 1.0, "mean absolute error (degrees)"),
                                                        ("frac_over_30", 100.0, "samples with an angle error > 30° (%)"))):
                ax = axes[row][j]
                for solver, g in to.groupby("solver", sort=False):
                    color, marker = SOLVER_STYLE.get(solver, ("grey", "x"))
                    if solver == "weak":
                        ax.axhline(scale * g[col].iloc[0], color=color, ls="--", lw=1.5, label="weak perspective (no focal)")
                    else:
                        g = g.sort_values("focal")
                        ax.plot(g["focal"], scale * g[col], marker=marker, color=color, label=f"{solver}")
                if row == 0 and paper:
                    ax.axhline(paper[0][1][3], color="grey", ls=":", lw=1.5, label="paper Table 1 (8.651)")
                ax.set_xscale("log")
                ticks = sorted(to["focal"].dropna().unique())
                ax.set_xticks(ticks)
                ax.set_xticklabels([f"{v:g}" for v in ticks])
                ax.minorticks_off()
                ax.grid(alpha=0.3)
                if row == 0:
                    ax.set_title(f"model origin: {origin}", fontsize=10)
                if row == 1:
                    ax.set_xlabel("focal length guess (x image width)")
                if j == 0:
                    ax.set_ylabel(ylabel)
        for row in axes:  # rows share y; set the floor only once every panel is drawn
            row[0].set_ylim(bottom=0)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, bbox_to_anchor=(0.5, -0.04))
        fig.suptitle(title or f"Ground-truth landmarks: solver, camera guess and model origin (face units: {units})",
                     fontsize=10)
        out = save_figure(fig, stem)
        plt.close(fig)
        return out
