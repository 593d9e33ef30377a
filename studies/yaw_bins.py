"""``yaw-bins``: where a landmark-to-pose method wins and where it fails, per |yaw| bin -- the
paper's argument (Section 1: landmark-to-pose "is at a disadvantage" on hard poses) measured per
pose range with paired intervals instead of one overall MAE.

Every selected method runs once through the cached runner (the same runs as ``posebench run``;
a run ``lowres`` or ``run`` made before is served from the cache). The faces are split by
|true yaw| into :data:`posebench.metrics.YAW_BINS` (``[0,30)``, ``[30,60)``, ``[60,90]``, ...).
The table has two kinds of rows (column ``kind``):

* ``method``: per (method, bin): ``n`` faces in the bin, ``n_failed`` (no pose), ``mae`` over the
  faces it handled, ``mae_penalty`` with every failure counted at ``penalty`` degrees per angle;
* ``pair``: per (method ``a``, method ``b``, bin): on the faces *both* handled (``n``), the mean
  per-face difference ``err_a - err_b`` (degrees; per-face mean of the three wrapped angle
  errors) with its seeded paired-bootstrap 95% interval (:func:`posebench.evaluation.compare.paired_bootstrap`,
  ``n_boot`` resamples, ``seed``) and the verdict ("a beats b" when the whole interval is below
  zero, "b beats a" when above, else "no clear difference"; with fewer than ``min_pairs`` faces
  no verdict is given: an interval resampled from one or two faces is no interval). ``n_only_a`` / ``n_only_b``: faces
  of the bin only one of them handled, the failures a handled-faces comparison hides.

Landmark methods run with ``solver=sqpnp`` unless told otherwise, as in ``lowres``
(:data:`studies.image_base.STUDY_DEFAULTS`). With a few dozen faces per bin the intervals are
wide: read "no clear difference" as "not shown here", not as "equal".
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posebench.datasets.base import Dataset
from posebench.options import Domain
from posebench.registry import register_study

from .base import save_figure
from .image_base import ImageStudy, build_methods, method_label, per_face, split_method_options

DEFAULT_METHODS = "dlib,mediapipe,gt-landmarks,onnx-headpose,whenet,3ddfa-v2,hopenet,fan"


@register_study("yaw-bins", "Per |yaw| bin: each method's MAE and failures, and paired-bootstrap verdicts between "
                "every two methods on the faces both handled (-o methods=..., -o METHOD.KEY=VALUE)",
                domains={"penalty": Domain(ge=0, le=180), "n_boot": Domain(ge=100, le=100000), "seed": Domain(ge=0),
                         "min_pairs": Domain(ge=2)})
class YawBinsStudy(ImageStudy):
    name = "yaw-bins"
    figure = "beyond the paper"
    example_options = {"methods": "gt-landmarks"}

    def __init__(self, methods: str = DEFAULT_METHODS, penalty: float = 90.0, n_boot: int = 2000, seed: int = 0,
                 min_pairs: int = 5, **method_options: Any):
        self.specs = split_method_options(methods, method_options)
        super().__init__()
        self.penalty, self.n_boot, self.seed, self.min_pairs = float(penalty), int(n_boot), int(seed), int(min_pairs)

    def work_items(self, dataset: Dataset) -> int:
        return len(self.specs) * len(dataset)

    def run(self, dataset: Dataset) -> pd.DataFrame:
        from posebench.evaluation.runner import evaluate

        specs = build_methods(self.specs, dataset=dataset)
        tables: dict[str, pd.DataFrame] = {}
        labels: dict[str, str] = {}
        rows: list[dict[str, Any]] = []
        for s in specs:
            if s.skipped:
                rows.append({"kind": "method", "method": s.name, "label": method_label(s), "skipped": s.skipped})
                continue
            res = evaluate(s.method, dataset, self.results_dir, progress=self.progress)
            tables[s.name], labels[s.name] = per_face(res.samples), res.record.label
            self.advance(len(dataset))
            if hasattr(s.method, "close"):
                s.method.close()
        rows.extend(self._rows(tables, labels))
        return pd.DataFrame(rows)

    def _rows(self, tables: dict[str, pd.DataFrame], labels: dict[str, str]) -> list[dict[str, Any]]:
        from posebench.evaluation.compare import paired_bootstrap
        from posebench.metrics import yaw_bin_masks

        if not tables:
            return []
        ids = sorted(set.intersection(*(set(t.index) for t in tables.values())))
        first = next(iter(tables.values())).loc[ids]
        masks = {b: m for b, m in yaw_bin_masks(first["true_yaw"].to_numpy(float)).items() if m.any()}
        err = {k: t.loc[ids, "err_mean"].to_numpy(float) for k, t in tables.items()}
        ok = {k: (t.loc[ids, "failure"] == "").to_numpy() & np.isfinite(err[k]) for k, t in tables.items()}
        rows: list[dict[str, Any]] = []
        for name in tables:
            for b, m in masks.items():
                e = np.where(ok[name], err[name], self.penalty)[m]
                rows.append({"kind": "method", "method": name, "label": labels[name], "bin": b, "n": int(m.sum()),
                             "n_failed": int((~ok[name][m]).sum()),
                             "mae": float(err[name][m & ok[name]].mean()) if (m & ok[name]).any() else float("nan"),
                             "mae_penalty": float(e.mean()), "penalty": self.penalty, "skipped": ""})
        for a, b in combinations(tables, 2):
            for bn, m in masks.items():
                both = m & ok[a] & ok[b]
                cmp = paired_bootstrap(err[a][both], err[b][both], n_boot=self.n_boot, seed=self.seed)
                rows.append({"kind": "pair", "method": a, "other": b, "bin": bn, "n": cmp.n,
                             "n_only_a": int((m & ok[a] & ~ok[b]).sum()), "n_only_b": int((m & ok[b] & ~ok[a]).sum()),
                             "mean_diff": cmp.mean_diff, "lo": cmp.lo, "hi": cmp.hi,
                             "verdict": cmp.verdict(a, b) if cmp.n >= self.min_pairs
                             else f"too few faces (n < {self.min_pairs})",
                             "n_boot": self.n_boot, "seed": self.seed, "skipped": ""})
        return rows

    def summary(self, table: pd.DataFrame) -> str:
        parts = []
        m = table[(table["kind"] == "method") & (table["skipped"].astype(object).fillna("") == "")]
        if len(m):
            for col, what in (("mae", "MAE (deg) on the faces each method handled, per |yaw| bin"),
                              ("n_failed", "failures (faces with no pose)"),
                              ("mae_penalty", "MAE on all faces, a failure = "
                                              f"{float(m['penalty'].iloc[0]):g} deg per angle")):
                p = m.pivot(index="method", columns="bin", values=col)
                p = p[list(dict.fromkeys(m["bin"]))]
                if col == "n_failed":
                    p = p.astype(int)
                parts.append(f"{what}:\n" + p.to_string(float_format=lambda v: f"{v:.2f}"))
            n = m.drop_duplicates("bin")
            parts.append("faces per bin: " + ", ".join(f"{b}: {int(k)}" for b, k in zip(n["bin"], n["n"])))
        pr = table[table["kind"] == "pair"]
        few = pr["verdict"].astype(str).str.startswith("too few") if len(pr) else pd.Series(dtype=bool)
        if few.any():
            parts.append(f"{int(few.sum())} pairs of a bin with too few faces both handled are in the table, not shown")
        pr = pr[~few]
        if len(pr):
            shown = pr[["bin", "method", "other", "n", "mean_diff", "lo", "hi", "n_only_a", "n_only_b", "verdict"]]
            shown = shown.astype({"n": int, "n_only_a": int, "n_only_b": int})
            parts.append("paired differences (a - b, deg) on the faces both handled, 95% paired-bootstrap interval:\n"
                         + shown.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        for _, r in table[table["skipped"].astype(object).fillna("") != ""].iterrows():
            parts.append(f"skipped {r['method']}: {r['skipped']}")
        return "\n".join(parts)

    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        m = table[(table["kind"] == "method") & (table["skipped"].astype(object).fillna("") == "")]
        bins = list(dict.fromkeys(m["bin"]))
        names = list(dict.fromkeys(m["method"]))
        fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(bins) * max(1, len(names)) / 3), 4.2))
        width = 0.8 / max(1, len(names))
        for k, name in enumerate(names):
            t = m[m["method"] == name].set_index("bin").reindex(bins)
            x = np.arange(len(bins)) + (k - (len(names) - 1) / 2) * width
            bars = ax.bar(x, t["mae"], width, label=name)
            for xi, r in zip(x, t.itertuples()):
                if np.isfinite(r.mae):
                    ax.annotate(f"{int(r.n) - int(r.n_failed)}/{int(r.n)}", (xi, r.mae), textcoords="offset points",
                                xytext=(0, 2), ha="center", fontsize=6, color=bars.patches[0].get_facecolor())
        ax.set_xticks(np.arange(len(bins)))
        ax.set_xticklabels([f"|yaw| {b}" for b in bins])
        ax.set_ylabel("MAE on the faces handled (degrees)")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8, ncol=2)
        ax.set_title(title or "Error per |yaw| bin (k/n: faces handled of the bin's faces)", fontsize=10)
        fig.tight_layout()
        out = save_figure(fig, stem)
        plt.close(fig)
        return out
