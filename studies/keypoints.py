"""``keypoints`` (paper Figure 3): MAE per angle against the number of ground-truth landmarks
used, with a fixed mean face. Subsets: :data:`studies.base.SUBSETS`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from posebench.datasets.base import Dataset
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


@register_study("keypoints", "Figure 3: MAE against the number of ground-truth landmarks used", paper={"figure": 3},
                domains=LANDMARK_DOMAINS)
class KeypointsStudy(Study):
    name = "keypoints"
    figure = "Figure 3"
    example_options = {"subsets": "6,68", "backend": "cv2"}
    summary_keys = CONDITION_COLUMNS

    def __init__(self, subsets: str = "6,12,21,68", solver: str = "iterative", focal: float = 1.0,
                 face: str = "default", face_units: str = "mm", backend: str = "batched"):
        super().__init__()
        self.subsets = parse_subsets(subsets)
        self.face_spec = face

    def work(self, data: LandmarkData) -> int:
        return len(self.subsets) * len(data.ids)

    def run(self, dataset: Dataset) -> pd.DataFrame:
        s = self._options
        data = landmark_data(dataset)
        face = study_face(self.face_spec, data, s["face_units"])
        rows = []
        for name in self.subsets:
            idx = list(SUBSETS[name])
            res = solve(data.uv[:, idx], face[..., idx, :], data.sizes, s["solver"], s["focal"], s["backend"], self.on_progress)
            rows.append({"subset": name, "n_points": len(idx), **error_row(res, data.truth),
                         "n_cv2_fallback": int(res.fallback.sum())})
        return self.with_options(pd.DataFrame(rows), OPTION_COLUMNS)

    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        t = table.sort_values("n_points")
        fig, ax = plt.subplots(figsize=(6.0, 4.0))
        for col, (label, color, marker) in ANGLE_STYLE.items():
            ax.plot(t["n_points"], t[col], marker=marker, color=color, label=label,
                    lw=2.2 if col == "mae" else 1.5)
        ax.set_xscale("log")
        ax.set_xticks(t["n_points"].tolist())
        ax.set_xticklabels([str(n) for n in t["n_points"]])
        ax.minorticks_off()
        ax.set_xlabel("number of ground-truth landmarks used (log scale)")
        ax.set_ylabel("mean absolute error (degrees)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(title="angle", loc="center left", bbox_to_anchor=(1.02, 0.5))
        ax.set_title(title or "Pose error against number of landmarks (Figure 3)\n" + options_line(table), fontsize=10)
        out = save_figure(fig, stem)
        plt.close(fig)
        return out
