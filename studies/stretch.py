"""``stretch`` (paper Figure 5): the 3D mean face stretched in width (x) and, separately, in
height (y) about its centroid, by -``max_stretch`` .. +``max_stretch`` (0.4 = +-40%), with the
ground-truth 2D landmarks. Stretch 0 is the unstretched face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from posebench.datasets.base import Dataset
from posebench.errors import UsageError
from posebench.facemodel import stretch_face
from posebench.options import Domain
from posebench.registry import register_study

from .base import (
    ANGLE_STYLE,
    CONDITION_COLUMNS,
    LANDMARK_DOMAINS,
    SUBSETS,
    LandmarkData,
    Study,
    error_row,
    landmark_data,
    options_line,
    parse_subsets,
    save_figure,
    solve,
    study_face,
)

OPTION_COLUMNS = ("solver", "focal", "face", "face_units", "backend")
AXES = {"width": 0, "height": 1}


def stretch(face: np.ndarray, axis: str, amount: float) -> np.ndarray:
    """Scale one model axis (``width`` = x, ``height`` = y) by ``1 + amount`` about the face's
    centroid; works on 68 x 3 or B x 68 x 3. ``amount == 0`` returns the face unchanged, bit for
    bit (:func:`posebench.facemodel.stretch_face`)."""
    if axis not in AXES:
        raise ValueError(f"axis must be one of {', '.join(AXES)}, got {axis!r}")
    return stretch_face(face, width=amount if axis == "width" else 0.0, height=amount if axis == "height" else 0.0)


@register_study("stretch", "Figure 5: MAE against stretching the 3D mean face in width and height (+-40%)",
                paper={"figure": 5},
                domains={**LANDMARK_DOMAINS,
                         "max_stretch": Domain(ge=0, lt=1), "step": Domain(gt=0)})
class StretchStudy(Study):
    name = "stretch"
    figure = "Figure 5"
    example_options = {"max_stretch": 0.2, "backend": "cv2"}
    summary_keys = CONDITION_COLUMNS

    def __init__(self, max_stretch: float = 0.4, step: float = 0.1, points: str = "68", solver: str = "iterative",
                 focal: float = 1.0, face: str = "default", face_units: str = "mm", backend: str = "batched"):
        if not (0 <= max_stretch < 1 and step > 0):
            raise UsageError("stretch: need 0 <= max_stretch < 1 and step > 0")
        if max_stretch / step > 10_000:
            raise UsageError(f"option step={step!r}: max_stretch / step gives more than 10000 stretch levels")
        super().__init__()
        self.subset = parse_subsets(points)[0]
        n = int(round(max_stretch / step))
        self.levels = np.round(np.arange(-n, n + 1) * float(step), 6)
        self.face_spec = face

    def work(self, data: LandmarkData) -> int:
        return len(AXES) * len(self.levels) * len(data.ids)

    def run(self, dataset: Dataset) -> pd.DataFrame:
        s = self._options
        data = landmark_data(dataset)
        face = study_face(self.face_spec, data, s["face_units"])
        idx = list(SUBSETS[self.subset])
        rows = []
        for axis in AXES:
            for a in self.levels:
                model = stretch(face, axis, float(a))[..., idx, :]
                res = solve(data.uv[:, idx], model, data.sizes, s["solver"], s["focal"], s["backend"], self.on_progress)
                rows.append({"axis": axis, "stretch": float(a), "stretch_pct": float(round(100 * a, 6)),
                             "n_points": len(idx), **error_row(res, data.truth)})
        return self.with_options(pd.DataFrame(rows), OPTION_COLUMNS)

    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.0), sharey=True)
        for ax, axis in zip(axes, AXES):
            t = table[table["axis"] == axis].sort_values("stretch_pct")
            for col, (label, color, marker) in ANGLE_STYLE.items():
                ax.plot(t["stretch_pct"], t[col], marker=marker, ms=4, color=color, label=label,
                        lw=2.2 if col == "mae" else 1.5)
            ax.axvline(0, color="grey", lw=0.8, ls=":")
            ax.set_xlabel(f"mean-face {axis} stretch (%)")
            ax.grid(alpha=0.3)
            ax.set_title(f"stretched in {axis}", fontsize=10)
        axes[0].set_ylabel("mean absolute error (degrees)")
        axes[0].set_ylim(bottom=0)
        axes[1].legend(title="angle", loc="center left", bbox_to_anchor=(1.02, 0.5))
        fig.suptitle(title or "Pose error against mean-face stretch (Figure 5)\n" + options_line(table), fontsize=10, y=1.05)
        out = save_figure(fig, stem)
        plt.close(fig)
        return out
