"""``lowres`` (paper Figure 8, Section 4.5): pose error of each method on images downsampled
x1, x5, x10, x15 and upsampled back with nearest neighbour (:mod:`posebench.datasets.degrade`:
sizes rounded down, ``max(1, w // F)``; PIL's NEAREST pixel for pixel).

Every selected method runs on every factor through the normal runner (cached per sample,
resumable; :func:`posebench.evaluation.runner.evaluate_many`: each image is read and degraded
once per factor for all methods); the factor is the dataset option ``downsample=F`` (also usable with ``posebench
run --dataset-option downsample=F``). Per (method, factor) the table has:

* ``mae`` (and per angle) over the faces *that method* handled, with ``n_failed``;
* ``mae_common`` over the faces *every* running method handled at that factor (``n_common``),
  so a method that fails on hard faces does not look better by being scored on fewer;
* ``mae_nopose``: every face scored, a failure answered as "no pose" = the frontal pose
  (0, 0, 0), i.e. error = |true angle| (the default fallback of a caller);
* ``mae_penalty``: every face scored, a failure counted at ``penalty`` degrees per angle
  (default 90: worse than any sane guess inside the +-99 degree protocol).

Landmark methods run with ``solver=sqpnp`` unless told otherwise
(:data:`studies.image_base.STUDY_DEFAULTS`; ``-o dlib.setup=paper`` is the paper's set-up).
Methods whose weights are absent (``hopenet``, ``fan``) or that are not registered are skipped
with the reason in the table. Note that
``gt-landmarks`` reads no image: it is a resolution-independent reference line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from posebench.datasets.base import Dataset
from posebench.options import Domain
from posebench.registry import register_study

from .base import parse_list, save_figure
from .image_base import (
    ImageStudy,
    build_methods,
    frontal_mae,
    method_label,
    penalised_mae,
    per_face,
    split_method_options,
)

DEFAULT_METHODS = "dlib,onnx-headpose,whenet,gt-landmarks,3ddfa-v2,mediapipe,fan,hopenet"
COLOURS = {"hopenet": "tab:red", "onnx-headpose": "tab:blue", "whenet": "tab:purple", "fan": "tab:green",
           "dlib": "tab:orange", "gt-landmarks": "0.4", "3ddfa-v2": "tab:brown", "mediapipe": "tab:cyan"}


@register_study("lowres", "Figure 8: MAE and failures of each method on images downsampled x1/x5/x10/x15 "
                "(runs methods through the cached runner; -o methods=..., -o METHOD.KEY=VALUE)", paper={"figure": 8},
                domains={"penalty": Domain(ge=0, le=180)})
class LowresStudy(ImageStudy):
    name = "lowres"
    figure = "Figure 8"
    example_options = {"methods": "gt-landmarks", "factors": "1,5"}

    def __init__(self, methods: str = DEFAULT_METHODS, factors: str = "1,5,10,15", penalty: float = 90.0,
                 **method_options: Any):
        self.factors = parse_list(factors, "factors", int)
        if min(self.factors) < 1:
            from posebench.errors import UsageError

            raise UsageError(f"factors must be whole numbers >= 1, got {factors!r}")
        self.specs = split_method_options(methods, method_options)
        super().__init__()
        self.penalty = float(penalty)

    def run(self, dataset: Dataset) -> pd.DataFrame:
        from posebench.datasets.degrade import with_downsample
        from posebench.evaluation.runner import evaluate_many

        specs = build_methods(self.specs, dataset=dataset)
        rows: list[dict[str, Any]] = []
        running = [s for s in specs if not s.skipped]
        for f in self.factors:
            ds = with_downsample(dataset, f)
            tables: dict[str, pd.DataFrame] = {}
            records: dict[str, Any] = {}
            # each image read and degraded once for every method (the runner's shared stream)
            results = (evaluate_many([s.method for s in running], ds, self.results_dir, progress=self.progress)
                       if running else [])
            for s, res in zip(running, results):
                tables[s.name] = per_face(res.samples)
                records[s.name] = res
                self.advance(len(ds))
            common = None
            for t in tables.values():
                ok = set(t.index[t["failure"] == ""])
                common = ok if common is None else common & ok
            common = common or set()
            for s in specs:
                if s.skipped:
                    rows.append({"method": s.name, "label": method_label(s), "factor": f, "skipped": s.skipped})
                    continue
                t, res = tables[s.name], records[s.name]
                ok = t[t["failure"] == ""]
                c = t.loc[sorted(common)] if common else t.iloc[:0]
                rows.append({
                    "method": s.name, "label": res.record.label, "factor": f, "skipped": "",
                    "n": len(t), "n_evaluated": len(ok), "n_failed": int((t["failure"] != "").sum()),
                    "mae_yaw": float(ok["err_yaw"].mean()), "mae_pitch": float(ok["err_pitch"].mean()),
                    "mae_roll": float(ok["err_roll"].mean()), "mae": float(ok["err_mean"].mean()),
                    "n_common": len(c), "mae_common": float(c["err_mean"].mean()) if len(c) else float("nan"),
                    "mae_nopose": frontal_mae(t), "mae_penalty": penalised_mae(t, self.penalty),
                    "penalty": self.penalty, "reads_image": "image" in s.method.needs,
                    "options": ",".join(f"{k}={v}" for k, v in sorted(s.options.items())),
                    "protocol": ds.protocol, "run": Path(res.paths["record"]).name,
                    "seconds_per_face": res.record.seconds_per_sample,
                    "from_cache": res.record.from_cache,
                })
        for s in specs:
            if s.method is not None and hasattr(s.method, "close"):
                s.method.close()
        return pd.DataFrame(rows)

    def work_items(self, dataset: Dataset) -> int:
        return len(self.factors) * len(self.specs) * len(dataset)

    def summary(self, table: pd.DataFrame) -> str:
        ran = table[table["skipped"].astype(object).fillna("") == ""]
        def fmt(v: float) -> str:
            return f"{v:.2f}"

        parts = []
        for col, what in (("mae", "MAE (deg) on the faces each method handled"),
                          ("n_failed", "failures (faces with no pose)"),
                          ("mae_common", "MAE on the faces every method handled at that factor"),
                          ("mae_nopose", "MAE on all faces, a failure = frontal pose (0,0,0)"),
                          ("mae_penalty", f"MAE on all faces, a failure = {self.penalty:g} deg per angle")):
            p = ran.pivot(index="method", columns="factor", values=col)
            p.columns = [f"x{c}" for c in p.columns]
            if col == "n_failed":
                p = p.astype(int)
            parts.append(f"{what}:\n" + p.to_string(float_format=fmt))
        if "n_common" in ran:
            nc = ran.groupby("factor")["n_common"].first()
            parts.append("faces every method handled: " + ", ".join(f"x{k}: {int(v)}" for k, v in nc.items()))
        if "label" in ran:
            labels = ran.drop_duplicates("method")
            parts.append("runs: " + "; ".join(f"{m} = {lab}" for m, lab in zip(labels["method"], labels["label"]) if m != lab))
        skipped = table[table["skipped"].astype(object).fillna("") != ""].drop_duplicates("method")
        for _, r in skipped.iterrows():
            parts.append(f"skipped {r['method']}: {r['skipped']}")
        return "\n".join(parts)

    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ran = table[table["skipped"].astype(object).fillna("") == ""]
        fig, (ax, axf) = plt.subplots(1, 2, figsize=(10.5, 4.2), gridspec_kw={"width_ratios": [3, 2]})
        for name, t in ran.groupby("method", sort=False):
            t = t.sort_values("factor")
            colour = COLOURS.get(name, None)
            ref = not bool(t["reads_image"].iloc[0])
            label = name + (" (reads no image)" if ref else "")
            line, = ax.plot(t["factor"], t["mae"], marker="o", color=colour, ls="--" if ref else "-", lw=2, label=label)
            if t["n_failed"].any():
                for fx, fy, ne, nn in zip(t["factor"], t["mae"], t["n_evaluated"], t["n"]):
                    ax.annotate(f"{int(ne)}/{int(nn)}", (fx, fy), textcoords="offset points", xytext=(0, -13),
                                ha="center", fontsize=7, color=line.get_color())
                ax.plot(t["factor"], t["mae_nopose"], marker=".", color=line.get_color(), ls=":", lw=1.2,
                        label=f"{name}, failures = frontal pose")
            axf.plot(t["factor"], 100.0 * t["n_failed"] / t["n"], marker="o", color=line.get_color(),
                     ls="--" if ref else "-", label=name)
        factors = sorted(ran["factor"].unique())
        for a in (ax, axf):
            a.set_xticks(factors)
            a.set_xticklabels([f"x{f}" for f in factors])
            a.set_xlabel("downsampling factor (nearest neighbour down and up)")
            a.grid(alpha=0.3)
            a.set_ylim(bottom=0)
        ax.set_ylabel("mean absolute error (degrees)")
        ax.text(0.99, 0.02, "solid: faces each method handled (k/n shown)\ndotted: every face, a failure = frontal pose",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="0.3")
        axf.set_ylabel("faces with no pose (%)")
        axf.set_title("failures", fontsize=10)
        ax.legend(fontsize=8, loc="upper left")
        n = int(ran["n"].max()) if len(ran) else 0
        skipped = sorted(set(table.loc[table["skipped"].astype(object).fillna("") != "", "method"]))
        sub = f"{n} faces" + (f"; skipped: {', '.join(skipped)}" if skipped else "")
        ax.set_title(title or f"Error against downsampling (Figure 8)\n{sub}", fontsize=10)
        fig.tight_layout()
        out = save_figure(fig, stem)
        plt.close(fig)
        return out
