"""``box-jitter`` (issue 23; beyond the paper, which measured only landmark-to-pose fragility,
Figures 3-5): pose error of every image method, learned and landmark, when its face box is
shifted or scaled by controlled amounts (:mod:`posebench.datasets.boxjitter`: seeded shift of
``level`` box sizes in a random direction per face, or the box grown / shrunk by ``level``).

Each method takes its face from the (perturbed) protocol annotations. A method whose default
face source is ``auto`` (the image networks: FSA-Net, WHENet, 3DDFA_V2) keeps it: it crops by its
own rule from the sample's box, landmarks or points, all moved alike, so its unperturbed
condition is its plain default run. A method whose default is its own detector (``dlib``:
``dlib-hog``; ``mediapipe``: its BlazeFace), which would never see the perturbation, runs with
``box=gt``: the protocol box (for AFLW2000 Hopenet's loose box, not the box its landmark model
was trained on, so its unperturbed error is not its default run's). ``-o METHOD.box=...``
overrides either. Landmark methods solve with ``solver=sqpnp``
(:data:`studies.image_base.STUDY_DEFAULTS`). A method that reads no image (``gt-landmarks``) runs
on the unperturbed faces: a flat reference line. Every (method, perturbation) is one
:func:`posebench.evaluation.runner.evaluate` call (cached per sample, resumable; a re-run is
served from the cache).

The table (column ``row``) holds three kinds of rows:

* ``condition`` per (method, axis, level): ``mae`` (and per angle) over the faces the method
  handled, ``n_failed`` / ``fail_rate``, ``mae_penalty`` (every face, a failure counted at
  ``penalty`` degrees per angle), ``mae_common`` over the faces every method handled there, and
  ``delta``/``delta_lo``/``delta_hi``: the mean per-face change of error against the unperturbed
  run on the faces handled in both, with its paired-bootstrap 95% interval
  (:func:`posebench.evaluation.compare.paired_bootstrap`, seed 0);
* ``stability`` per (method, axis): ``slope`` = least-squares slope of ``mae`` against level, in
  degrees per 0.1 (10% of the box); ``double_at`` = the level at which ``mae`` first reaches twice
  the unperturbed ``mae``, linearly interpolated between levels (NaN: not within the levels run);
* ``pair`` per (axis, level, method A, method B): ``delta`` = mean of ``err_A - err_B`` on the
  faces both handled (``n_common``), with its paired-bootstrap interval.
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

from .base import parse_list, save_figure
from .image_base import ImageStudy, build_methods, evaluate_faces, method_label, penalised_mae, split_method_options

DEFAULT_METHODS = "dlib,onnx-headpose,whenet,3ddfa-v2,mediapipe,gt-landmarks"
COLOURS = {"onnx-headpose": "tab:blue", "whenet": "tab:purple", "3ddfa-v2": "tab:brown", "mediapipe": "tab:cyan",
           "dlib": "tab:orange", "fan": "tab:green", "hopenet": "tab:red", "gt-landmarks": "0.4"}
SHORT = {"shift": "sh", "grow": "gr", "shrink": "sk"}
AXIS_TITLES = {"shift": "box shifted (fraction of box size)", "grow": "box grown (fraction)",
               "shrink": "box shrunk (fraction)"}


def slope_per_tenth(levels: np.ndarray, mae: np.ndarray) -> float:
    """Least-squares slope of ``mae`` (degrees) against ``levels`` (fractions), per 0.1."""
    ok = np.isfinite(mae)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(levels[ok], mae[ok], 1)[0] * 0.1)


def doubling_level(levels: np.ndarray, mae: np.ndarray) -> float:
    """The level where ``mae`` first reaches twice its value at level 0 (``levels`` ascending,
    starting at 0), linearly interpolated; NaN when it never does within ``levels``."""
    if len(levels) < 2 or levels[0] != 0 or not np.isfinite(mae[0]):
        return float("nan")
    target = 2.0 * mae[0]
    for i in range(1, len(levels)):
        if np.isfinite(mae[i]) and mae[i] >= target:
            lo, hi = mae[i - 1], mae[i]
            return float(levels[i - 1] + (levels[i] - levels[i - 1]) * (target - lo) / (hi - lo))
    return float("nan")


@register_study("box-jitter", "MAE and failures of each image method against a shifted / grown / shrunk face "
                "box (seeded; runs methods through the cached runner; -o methods=..., -o METHOD.KEY=VALUE)",
                domains={"penalty": Domain(ge=0, le=180), "seed": Domain(ge=0)})
class BoxJitterStudy(ImageStudy):
    name = "box-jitter"
    figure = "issue 23"
    example_options = {"methods": "gt-landmarks", "shifts": "0.1", "scales": "0.1"}

    def __init__(self, methods: str = DEFAULT_METHODS, shifts: str = "0.05,0.1,0.2,0.3,0.4",
                 scales: str = "0.1,0.2,0.3", seed: int = 0, penalty: float = 90.0, **method_options: Any):
        from posebench.datasets.boxjitter import check_perturbation

        self.shifts = sorted(set(parse_list(shifts, "shifts", float)) - {0.0})
        self.scales = sorted(set(parse_list(scales, "scales", float)) - {0.0})
        for lv in self.shifts:
            check_perturbation("shift", lv)
        for lv in self.scales:
            check_perturbation("shrink", lv)
        from posebench.registry import methods as registry

        self.specs = split_method_options(methods, method_options)
        for s in self.specs:  # a method that would run its own detector takes the (perturbed) protocol box
            default = registry.defaults(s.name).get("box") if s.name in registry.names() else None
            if default not in (None, "auto", "gt") and f"{s.name}.box" not in method_options:
                s.options["box"] = "gt"
        super().__init__()
        self.penalty = float(penalty)
        self.seed = int(seed)

    def conditions(self) -> list[tuple[str, float]]:
        """``(axis, level)`` in the order run: the unperturbed faces, then each axis's levels."""
        return [("none", 0.0)] + [("shift", v) for v in self.shifts] + [
            (a, v) for a in ("grow", "shrink") for v in self.scales]

    def work_items(self, dataset: Dataset) -> int:
        return len(self.conditions()) * len(self.specs) * len(dataset)

    def run(self, dataset: Dataset) -> pd.DataFrame:
        from posebench.datasets.boxjitter import with_box_jitter
        from posebench.evaluation.compare import paired_bootstrap

        specs = build_methods(self.specs, dataset=dataset)
        running = [s for s in specs if not s.skipped]
        tables: dict[tuple[str, str, float], pd.DataFrame] = {}
        runs: dict[tuple[str, str, float], Any] = {}
        for axis, level in self.conditions():
            ds = dataset if axis == "none" else with_box_jitter(dataset, axis, level, self.seed)
            for s in running:
                reads = "image" in s.method.needs
                res = evaluate_faces(s.method, ds if reads else dataset, self.results_dir, self.progress)
                tables[s.name, axis, level] = res.samples
                runs[s.name, axis, level] = res
                self.advance(len(ds))
        rows: list[dict[str, Any]] = []
        opts = {s.name: ",".join(f"{k}={v}" for k, v in sorted(s.options.items())) for s in running}
        for axis, level in self.conditions():
            handled = {s.name: set(tables[s.name, axis, level].index[tables[s.name, axis, level]["failure"] == ""])
                       for s in running}
            common = sorted(set.intersection(*handled.values())) if handled else []
            for s in running:
                t, res, t0 = tables[s.name, axis, level], runs[s.name, axis, level], tables[s.name, "none", 0.0]
                ok = t[t["failure"] == ""]
                both = sorted(handled[s.name] & set(t0.index[t0["failure"] == ""]))
                d = paired_bootstrap(t.loc[both, "err_mean"].to_numpy(float), t0.loc[both, "err_mean"].to_numpy(float))
                rows.append({
                    "row": "condition", "method": s.name, "label": method_label(s), "axis": axis, "level": level,
                    "n": len(t), "n_evaluated": len(ok), "n_failed": int((t["failure"] != "").sum()),
                    "fail_rate": float((t["failure"] != "").mean()),
                    "mae_yaw": float(ok["err_yaw"].mean()), "mae_pitch": float(ok["err_pitch"].mean()),
                    "mae_roll": float(ok["err_roll"].mean()), "mae": float(ok["err_mean"].mean()),
                    "mae_penalty": penalised_mae(t, self.penalty),
                    "n_common": len(common),
                    "mae_common": float(t.loc[common, "err_mean"].mean()) if common else float("nan"),
                    "delta": d.mean_diff, "delta_lo": d.lo, "delta_hi": d.hi,
                    "reads_image": "image" in s.method.needs, "options": opts[s.name], "protocol": res.protocol,
                    "run": res.run, "seconds_per_face": res.seconds_per_face, "from_cache": res.from_cache, "skipped": "",
                })
            for a, b in combinations([s for s in running if "image" in s.method.needs], 2):
                ta, tb = tables[a.name, axis, level], tables[b.name, axis, level]
                shared = sorted(handled[a.name] & handled[b.name])
                c = paired_bootstrap(ta.loc[shared, "err_mean"].to_numpy(float), tb.loc[shared, "err_mean"].to_numpy(float))
                rows.append({"row": "pair", "method": a.name, "label": method_label(a), "method_b": b.name,
                             "label_b": method_label(b), "axis": axis, "level": level,
                             "n_common": c.n, "delta": c.mean_diff, "delta_lo": c.lo, "delta_hi": c.hi, "skipped": ""})
        cond = pd.DataFrame([r for r in rows if r["row"] == "condition"])
        for s in running:
            m0 = cond[(cond["method"] == s.name) & (cond["axis"] == "none")]
            for axis, levels in (("shift", self.shifts), ("grow", self.scales), ("shrink", self.scales)):
                if not levels:
                    continue
                m = cond[(cond["method"] == s.name) & (cond["axis"] == axis)].sort_values("level")
                lv = np.concatenate([[0.0], m["level"].to_numpy(float)])
                mae = np.concatenate([m0["mae"].to_numpy(float), m["mae"].to_numpy(float)])
                fr = np.concatenate([m0["fail_rate"].to_numpy(float), m["fail_rate"].to_numpy(float)])
                rows.append({"row": "stability", "method": s.name, "label": method_label(s), "axis": axis, "level": float(lv[-1]),
                             "mae": float(mae[-1]), "fail_rate": float(fr[-1]), "mae0": float(mae[0]),
                             "slope": slope_per_tenth(lv, mae), "double_at": doubling_level(lv, mae),
                             "n": int(m0["n"].iloc[0]), "reads_image": "image" in s.method.needs,
                             "options": opts[s.name], "skipped": ""})
        for s in specs:
            if s.skipped:
                rows.append({"row": "condition", "method": s.name, "label": method_label(s), "axis": "none", "level": 0.0,
                             "skipped": s.skipped})
            elif hasattr(s.method, "close"):
                s.method.close()
        table = pd.DataFrame(rows)
        table["seed"] = self.seed
        table["penalty"] = self.penalty
        return table

    def summary(self, table: pd.DataFrame) -> str:
        sk = table["skipped"].astype(object).fillna("")
        cond = table[(table["row"] == "condition") & (sk == "")]
        parts = []
        for col, what in (("mae", "MAE (deg) on the faces each method handled"), ("n_failed", "failures")):
            p = cond.pivot_table(index="method", columns=["axis", "level"], values=col, sort=False)
            p.columns = ["0" if a == "none" else f"{SHORT[a]}{lv:g}" for a, lv in p.columns]
            parts.append(f"{what} (sh = shift, gr = grow, sk = shrink, by fraction of the box):\n"
                         + p.to_string(float_format=lambda v: f"{v:.2f}" if col == "mae" else f"{v:.0f}"))
        st = table[(table["row"] == "stability") & (sk == "")]
        if len(st):
            parts.append("stability (slope: deg per 0.1 of the box; double_at: level where MAE doubles, nan = not reached):\n"
                         + st[["method", "axis", "mae0", "mae", "level", "fail_rate", "slope", "double_at", "n"]]
                         .to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        pr = table[(table["row"] == "pair") & (table["axis"] == "none")]
        if len(pr):
            parts.append("unperturbed, A minus B on shared faces (95% paired bootstrap):\n" + "\n".join(
                f"  {r['method']} - {r['method_b']}: {r['delta']:+.2f} [{r['delta_lo']:+.2f}, {r['delta_hi']:+.2f}] "
                f"(n={int(r['n_common'])})" for _, r in pr.iterrows()))
        for _, r in table[(table["row"] == "condition") & (sk != "")].iterrows():
            parts.append(f"skipped {r['method']}: {r['skipped']}")
        return "\n".join(parts)

    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        sk = table["skipped"].astype(object).fillna("")
        cond = table[(table["row"] == "condition") & (sk == "")]
        axes_run = [a for a in ("shift", "grow", "shrink") if (cond["axis"] == a).any()]
        fig, grid = plt.subplots(2, max(1, len(axes_run)), figsize=(4.2 * max(1, len(axes_run)), 7.0),
                                 squeeze=False, sharey="row")
        for j, axis in enumerate(axes_run):
            ax, axf = grid[0, j], grid[1, j]
            for name, t in cond.groupby("method", sort=False):
                t = pd.concat([t[t["axis"] == "none"], t[t["axis"] == axis].sort_values("level")])
                ref = not bool(t["reads_image"].iloc[0])
                style = dict(color=COLOURS.get(name), ls="--" if ref else "-", marker="o", lw=1.8, ms=4)
                ax.plot(t["level"], t["mae"], label=name + (" (reads no box)" if ref else ""), **style)
                axf.plot(t["level"], 100.0 * t["fail_rate"], **style)
            ax.set_title(AXIS_TITLES[axis], fontsize=10)
            axf.set_xlabel(AXIS_TITLES[axis])
            for a in (ax, axf):
                a.grid(alpha=0.3)
                a.set_ylim(bottom=0)
        grid[0, 0].set_ylabel("MAE on faces handled (degrees)")
        grid[1, 0].set_ylabel("faces with no pose (%)")
        grid[0, -1].legend(fontsize=8, loc="upper left")
        n = int(cond["n"].max()) if len(cond) else 0
        skipped = sorted(set(table.loc[(table["row"] == "condition") & (sk != ""), "method"]))
        seed = int(table["seed"].iloc[0]) if len(table) else 0
        fig.suptitle(title or (f"Pose error against a perturbed face box ({n} faces, seed {seed}; "
                               "shift: random direction per face)" + (f"; skipped: {', '.join(skipped)}" if skipped else "")),
                     fontsize=10)
        fig.tight_layout()
        out = save_figure(fig, stem)
        plt.close(fig)
        return out
