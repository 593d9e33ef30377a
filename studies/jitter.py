"""``jitter`` (paper Figure 4): ground-truth landmarks moved by independent random noise in x and
y per landmark, 0 to ``max_jitter`` pixels, for several keypoint subsets, repeated with fixed
seeds. ``noise=uniform``: each coordinate moves by U(-J, J) pixels; ``noise=gaussian``: by
N(0, J^2). Repeat ``k`` draws its unit noise from ``numpy.random.default_rng([seed, k])`` once
and scales it by each level J (common random numbers: the curves are smooth and every subset
sees the same noise on its points)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from posebench.datasets.base import Dataset
from posebench.errors import UsageError
from posebench.options import Domain
from posebench.registry import register_study

from .base import (
    ERROR_COLUMNS,
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

OPTION_COLUMNS = ("noise", "solver", "focal", "face", "face_units", "backend")
SUBSET_COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]


def unit_noise(seed: int, repeat: int, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """The unit-amplitude noise of one repeat (pixels per pixel of jitter)."""
    rng = np.random.default_rng([int(seed), int(repeat)])
    if kind == "uniform":
        return rng.uniform(-1.0, 1.0, shape)
    if kind == "gaussian":
        return rng.standard_normal(shape)
    raise UsageError(f"noise must be 'uniform' or 'gaussian', got {kind!r}")


def confidence_band(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a Student-t confidence interval of the mean over repeats."""
    from scipy import stats

    v = np.asarray(values, float)
    m = float(v.mean())
    if v.size < 2:
        return m, m, m
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return m, m - half, m + half


@register_study("jitter", "Figure 4: MAE against random landmark jitter (0-10 px) for several keypoint subsets",
                paper={"figure": 4},
                domains={**LANDMARK_DOMAINS,
                         "max_jitter": Domain(ge=0, le=1000), "step": Domain(gt=0), "repeats": Domain(ge=1, le=1000),
                         "seed": Domain(ge=0), "noise": Domain(choices=("uniform", "gaussian"))})
class JitterStudy(Study):
    name = "jitter"
    figure = "Figure 4"
    example_options = {"subsets": "6,68", "max_jitter": 2.0, "repeats": 1, "backend": "cv2"}

    def summary(self, table: pd.DataFrame) -> str:
        """Mean over subsets per (number of points, jitter level)."""
        t = table.groupby(["n_points", "jitter_px"], as_index=False)[list(ERROR_COLUMNS)].mean()
        return t.to_string(index=False, float_format=lambda v: f"{v:.3f}")

    def __init__(self, subsets: str = "6,12,21,68", max_jitter: float = 10.0, step: float = 1.0, repeats: int = 5,
                 seed: int = 0, noise: str = "uniform", solver: str = "iterative", focal: float = 1.0,
                 face: str = "default", face_units: str = "mm", backend: str = "batched"):
        if not (max_jitter >= 0 and step > 0 and int(repeats) >= 1):
            raise UsageError("jitter: need max_jitter >= 0, step > 0, repeats >= 1")
        if float(max_jitter) / float(step) > 10_000:
            raise UsageError(f"option step={step!r}: max_jitter / step gives more than 10000 jitter levels")
        if noise not in ("uniform", "gaussian"):
            raise UsageError(f"noise must be 'uniform' or 'gaussian', got {noise!r}")
        super().__init__()
        self.subsets = parse_subsets(subsets)
        self.levels = np.round(np.arange(0.0, float(max_jitter) + 1e-9, float(step)), 6)
        self.face_spec = face

    def work(self, data: LandmarkData) -> int:
        return len(self.subsets) * len(self.levels) * self._options["repeats"] * len(data.ids)

    def run(self, dataset: Dataset) -> pd.DataFrame:
        s = self._options
        data = landmark_data(dataset)
        face = study_face(self.face_spec, data, s["face_units"])
        B = len(data.ids)
        noises = [unit_noise(s["seed"], k, data.uv.shape, s["noise"]) for k in range(s["repeats"])]
        rows = []
        for name in self.subsets:
            idx = list(SUBSETS[name])
            # every (level, repeat) of this subset in one batch: L*R*B problems
            pts = np.concatenate([data.uv[:, idx] + J * noises[k][:, idx]
                                  for J in self.levels for k in range(s["repeats"])])
            model = face[..., idx, :]
            if model.ndim == 3:
                model = np.concatenate([model] * (len(self.levels) * s["repeats"]))
            sizes = np.concatenate([data.sizes] * (len(self.levels) * s["repeats"]))
            res = solve(pts, model, sizes, s["solver"], s["focal"], s["backend"], self.on_progress)
            j = 0
            for J in self.levels:
                for k in range(s["repeats"]):
                    part = _slice(res, slice(j * B, (j + 1) * B))
                    rows.append({"subset": name, "n_points": len(idx), "jitter_px": float(J), "repeat": k,
                                 "seed": s["seed"], **error_row(part, data.truth),
                                 "n_cv2_fallback": int(part.fallback.sum())})
                    j += 1
        return self.with_options(pd.DataFrame(rows), OPTION_COLUMNS)

    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.0, 4.0))
        order = sorted(table["n_points"].unique())
        for i, n in enumerate(order):
            t = table[table["n_points"] == n]
            stats = [confidence_band(g["mae"].to_numpy()) for _, g in t.groupby("jitter_px")]
            x = sorted(t["jitter_px"].unique())
            m, lo, hi = (np.array(v) for v in zip(*stats))
            color = SUBSET_COLORS[i % len(SUBSET_COLORS)]
            ax.plot(x, m, marker="o", ms=3.5, color=color, label=f"{n} landmarks")
            ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
        reps = int(table["repeat"].nunique())
        noise = table["noise"].iloc[0] if "noise" in table else "uniform"
        ax.set_xlabel("landmark jitter (pixels, " + ("U(-J, J) per coordinate)" if noise == "uniform" else "Gaussian sigma)"))
        ax.set_ylabel("MAE, mean of yaw, pitch, roll (degrees)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(title=f"mean, 95% CI\nover {reps} seeds", loc="center left", bbox_to_anchor=(1.02, 0.5))
        ax.set_title(title or "Pose error against landmark jitter (Figure 4)\n" + options_line(table), fontsize=10)
        out = save_figure(fig, stem)
        plt.close(fig)
        return out


def _slice(res, sl: slice):
    from posebench.pnp.batch import BatchResult

    return BatchResult(res.R[sl], res.ypr[sl], res.rvec[sl], res.tvec[sl], res.ok[sl], res.fallback[sl])
