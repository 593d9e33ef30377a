"""``afw-yaw`` (paper Figure 7, Section 4.3): yaw accuracy on AFW at the 15 and 30 degree
thresholds.

Each method runs through the cached runner on the ``afw`` dataset; its yaw is snapped to the
nearest multiple of 15 degrees (``15 * floor(yaw / 15 + 0.5)``: ties go up; the paper
"constrains" its networks to 15-degree outputs) and a face counts as correct when
``|snapped yaw - label| <= threshold`` (the paper: "lower or equal"). Errors are wrapped to
(-180, 180]. Accuracy is given over all faces (a failure counts as wrong: ``acc15``, ``acc30``)
and over the faces the method handled (``acc15_handled``, ``acc30_handled``), with the raw
(unsnapped) yaw MAE.

The paper's Figure 7 gives its numbers only as bars; they are not in its text, so posebench
lists the methods it shows (:data:`FIGURE_7_METHODS`) as "paper figure only" without numbers
rather than guessing values off a picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posebench.datasets.base import Dataset
from posebench.metrics import wrap_degrees
from posebench.registry import register_study

from .base import parse_list, save_figure
from .image_base import ImageStudy, build_methods, method_label, per_face, split_method_options

#: The methods of Figure 7 (Multi-Loss ResNet50 and AlexNet trained on AFLW, and the cited
#: [21] All-In-One, [20] HyperFace, [14] KEPLER, [36] Zhu & Ramanan's tree model).
FIGURE_7_METHODS = ("Multi-Loss ResNet50 (AFLW)", "Multi-Loss AlexNet (AFLW)", "All-In-One [21]",
                    "HyperFace [20]", "KEPLER [14]", "Zhu & Ramanan [36]")
STEP = 15.0


def snap_yaw(yaw: np.ndarray, step: float = STEP) -> np.ndarray:
    """Nearest multiple of ``step`` degrees (ties go up)."""
    return step * np.floor(np.asarray(yaw, float) / step + 0.5)


def yaw_accuracy(pred_yaw: np.ndarray, true_yaw: np.ndarray, threshold: float) -> np.ndarray:
    """Per face: snapped prediction within ``threshold`` of the label (NaN prediction -> False)."""
    err = np.abs(wrap_degrees(snap_yaw(pred_yaw) - np.asarray(true_yaw, float)))
    return np.where(np.isfinite(err), err <= threshold + 1e-9, False)


@register_study("afw-yaw", "Figure 7: AFW yaw accuracy at 15/30 degrees, yaw snapped to 15-degree steps "
                "(runs methods through the cached runner)", paper={"figure": 7})
class AfwYawStudy(ImageStudy):
    name = "afw-yaw"
    figure = "Figure 7"
    example_options = {"methods": "gt-landmarks"}

    def __init__(self, methods: str = "onnx-headpose,dlib,whenet,hopenet", thresholds: str = "15,30",
                 **method_options: Any):
        self.thresholds = parse_list(thresholds, "thresholds", float, ge=0, le=180)  # |yaw error| in degrees
        self.specs = split_method_options(methods, method_options)
        super().__init__()

    def run(self, dataset: Dataset) -> pd.DataFrame:
        from posebench.evaluation.runner import evaluate

        rows: list[dict[str, Any]] = []
        for s in build_methods(self.specs, dataset=dataset):
            if s.skipped:
                rows.append({"method": s.name, "label": method_label(s), "kind": "skipped", "skipped": s.skipped})
                continue
            res = evaluate(s.method, dataset, self.results_dir, progress=self.progress)
            t = per_face(res.samples)
            t = t[np.isfinite(t["true_yaw"])]
            ok = t["failure"] == ""
            row: dict[str, Any] = {"method": s.name, "label": method_label(s), "kind": "reproduced", "skipped": "",
                                   "options": ",".join(f"{k}={v}" for k, v in sorted(s.options.items())),
                                   "n": len(t), "n_failed": int((~ok).sum()),
                                   "mae_yaw": float(np.abs(wrap_degrees(t.loc[ok, "pred_yaw"] - t.loc[ok, "true_yaw"])).mean()),
                                   "run": Path(res.paths["record"]).name}
            for thr in self.thresholds:
                hit = yaw_accuracy(t["pred_yaw"].to_numpy(), t["true_yaw"].to_numpy(), thr)
                row[f"acc{thr:g}"] = 100.0 * float(hit.mean()) if len(t) else float("nan")
                row[f"acc{thr:g}_handled"] = 100.0 * float(hit[ok.to_numpy()].mean()) if ok.any() else float("nan")
            rows.append(row)
            if hasattr(s.method, "close"):
                s.method.close()
        for name in FIGURE_7_METHODS:
            rows.append({"method": name, "label": name, "kind": "paper figure only", "skipped": "",
                         "note": "Figure 7 shows bars only; values are not in the paper's text"})
        return pd.DataFrame(rows)

    def summary(self, table: pd.DataFrame) -> str:
        rep = table[table["kind"] == "reproduced"]
        cols = ["method", "n", "n_failed"] + [c for c in rep.columns if c.startswith("acc")] + ["mae_yaw"]
        rep = rep[cols].astype({"n": int, "n_failed": int})
        out = rep.to_string(index=False, float_format=lambda v: f"{v:.1f}") if len(rep) else "(no method ran)"
        for _, r in table[table["kind"] == "skipped"].iterrows():
            out += f"\nskipped {r['method']}: {r['skipped']}"
        out += "\npaper figure only (bars, no numbers in the text): " + ", ".join(FIGURE_7_METHODS)
        return out

    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rep = table[table["kind"] == "reproduced"]
        accs = [c for c in rep.columns if c.startswith("acc") and not c.endswith("_handled")]
        fig, ax = plt.subplots(figsize=(7, 4))
        width = 0.8 / max(1, len(accs))
        x = np.arange(len(rep))
        for k, col in enumerate(accs):
            bars = ax.bar(x + (k - (len(accs) - 1) / 2) * width, rep[col], width, label=f"error <= {col[3:]} deg")
            ax.bar_label(bars, fmt="%.1f", fontsize=8)
        ax.set_xticks(x)
        ax.set_xticklabels(rep["method"], rotation=15)
        ax.set_ylim(0, 105)
        ax.set_ylabel("yaw accuracy (%), failures count as wrong")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=len(accs), fontsize=8, frameon=False)
        ax.grid(axis="y", alpha=0.3)
        n = int(rep["n"].max()) if len(rep) else 0
        ax.set_title(title or f"AFW yaw accuracy, yaw snapped to 15 deg (Figure 7), {n} faces", fontsize=10, pad=22)
        fig.tight_layout()
        out = save_figure(fig, stem)
        plt.close(fig)
        return out
