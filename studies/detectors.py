"""``detectors`` (issue 23): one image method, each registered face detector in turn (the
:data:`posebench.registry.detectors` registry in its order: ``dlib-hog``, ``dlib-cnn``, ``yunet``,
``mediapipe`` and any plugin's), so "the detector dominates" is a measured table.

The method runs with ``box=<detector>`` (its face is that detector's detection, chosen as
:func:`posebench.detect.choose_face` chooses, and cropped by the method's detector-box rule);
with ``reference=true`` (default) a first row runs it on the protocol box (``box=gt``) as the
reference. Detector options are given as ``-o detector.NAME.model=PATH`` (its model file, the
method's ``detector_model``) and ``-o detector.NAME.upsample=N``; the method's own options as
``-o METHOD.KEY=VALUE``. A detector that cannot be built here (model file or runtime absent) is
skipped with its one-line reason. Every run goes through the cached runner.

Rows per detector: ``n``, ``n_found`` (faces the detector found: no ``no face found`` failure),
``n_failed`` (every failure), ``mae_found`` (over the faces answered), ``mae_common`` (over the
faces every detector row answered), ``mae_nopose`` (every face, a failure answered as the frontal
pose), ``mae_penalty`` (every face, a failure at ``penalty`` degrees per angle), ``ms_per_face``
(the runner's mean time per answered face, detection included, from the run that computed it),
and ``delta``/``delta_lo``/``delta_hi`` against the reference row on the faces both answered
(paired bootstrap, :func:`posebench.evaluation.compare.paired_bootstrap`, seed 0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posebench.datasets.base import Dataset
from posebench.errors import UsageError
from posebench.options import Domain
from posebench.registry import register_study

from .base import parse_list, save_figure
from .image_base import (
    ImageStudy,
    MethodSpec,
    build_methods,
    evaluate_faces,
    frontal_mae,
    method_label,
    penalised_mae,
    split_method_options,
)

REFERENCE = "gt"
DETECTOR_KEYS = {"model": "detector_model", "upsample": "upsample"}


def detector_names(value: str) -> list[str]:
    """``all`` -> every registered detector (registry order); else the listed ones, checked."""
    from posebench.detect import DETECTORS

    if value == "all":
        return list(DETECTORS)
    names = parse_list(value, "detectors")
    bad = [n for n in names if n not in DETECTORS]
    if bad:
        raise UsageError(f"detectors: unknown {', '.join(bad)}; registered: {', '.join(DETECTORS)}")
    return names


@register_study("detectors", "one method on each registered face detector: faces found, MAE on the faces "
                "found and on all faces, ms per face (-o method=NAME, -o METHOD.KEY=VALUE, -o detector.NAME.model=PATH)",
                domains={"penalty": Domain(ge=0, le=180)})
class DetectorsStudy(ImageStudy):
    name = "detectors"
    figure = "issue 23"
    example_options = {"method": "dlib", "detectors": "dlib-hog", "reference": True}

    def __init__(self, method: str = "onnx-headpose", detectors: str = "all", reference: bool = True,
                 penalty: float = 90.0, **options: Any):
        det_opts: dict[str, dict[str, str]] = {}
        method_opts: dict[str, Any] = {}
        for key, value in options.items():
            if key.startswith("detector."):
                _, det, opt = (key.split(".", 2) + ["", ""])[:3]
                if opt not in DETECTOR_KEYS:
                    raise UsageError(f"option {key!r}: a detector option is detector.NAME.model or detector.NAME.upsample")
                det_opts.setdefault(det, {})[DETECTOR_KEYS[opt]] = str(value)
            else:
                method_opts[key] = value
        self.method_name = method
        self.base = split_method_options(method, method_opts)[0]
        self.base.options.pop("box", None)
        self.base.options.pop("detector_model", None)
        self.detectors = ([REFERENCE] if reference else []) + detector_names(detectors)
        unknown = sorted(set(det_opts) - set(self.detectors))
        if unknown:
            raise UsageError(f"detector options name {', '.join(unknown)}, which the study does not run")
        self.det_opts = det_opts
        super().__init__()
        self.penalty = float(penalty)

    def specs(self) -> list[tuple[str, MethodSpec]]:
        """``(detector, spec)`` per row: the method with ``box`` set to the detector."""
        from posebench.registry import methods

        declared = methods.defaults(self.method_name) if self.method_name in methods.names() else {}
        out = []
        for det in self.detectors:
            opts = {**self.base.options, "box": det}
            for k, v in self.det_opts.get(det, {}).items():
                if k in declared:
                    opts[k] = v
            out.append((det, MethodSpec(self.method_name, opts)))
        return out

    def work_items(self, dataset: Dataset) -> int:
        return len(self.detectors) * len(dataset)

    def run(self, dataset: Dataset) -> pd.DataFrame:
        from posebench.detect import NO_FACE
        from posebench.evaluation.compare import paired_bootstrap
        from posebench.registry import methods

        pairs = self.specs()
        if self.method_name in methods.names() and "box" not in methods.defaults(self.method_name):
            raise UsageError(f"method {self.method_name!r} has no box option: it uses no face detector")
        build_methods([s for _, s in pairs], dataset=dataset)
        tables: dict[str, pd.DataFrame] = {}
        runs: dict[str, Any] = {}
        for det, s in pairs:
            if s.skipped:
                continue
            res = evaluate_faces(s.method, dataset, self.results_dir, self.progress)
            tables[det], runs[det] = res.samples, res
            self.advance(len(dataset))
            if hasattr(s.method, "close"):
                s.method.close()
        answered = {d: set(t.index[t["failure"] == ""]) for d, t in tables.items()}
        common = sorted(set.intersection(*answered.values())) if answered else []
        ref = tables.get(REFERENCE)
        rows: list[dict[str, Any]] = []
        for det, s in pairs:
            if s.skipped:
                rows.append({"detector": det, "method": s.name, "label": method_label(s), "skipped": s.skipped})
                continue
            t, res = tables[det], runs[det]
            ok = t[t["failure"] == ""]
            row = {"detector": det, "method": s.name, "label": method_label(s), "n": len(t), "n_found": int((t["failure"] != NO_FACE).sum()),
                   "n_failed": int((t["failure"] != "").sum()), "mae_yaw": float(ok["err_yaw"].mean()),
                   "mae_pitch": float(ok["err_pitch"].mean()), "mae_roll": float(ok["err_roll"].mean()),
                   "mae_found": float(ok["err_mean"].mean()), "n_common": len(common),
                   "mae_common": float(t.loc[common, "err_mean"].mean()) if common else float("nan"),
                   "mae_nopose": frontal_mae(t), "mae_penalty": penalised_mae(t, self.penalty),
                   "ms_per_face": (1000.0 * res.seconds_per_face if res.seconds_per_face is not None else float("nan")),
                   "from_cache": res.from_cache, "penalty": self.penalty,
                   "options": ",".join(f"{k}={v}" for k, v in sorted(s.options.items())),
                   "run": res.run, "skipped": ""}
            if ref is not None and det != REFERENCE:
                both = sorted(answered[det] & answered[REFERENCE])
                c = paired_bootstrap(t.loc[both, "err_mean"].to_numpy(float), ref.loc[both, "err_mean"].to_numpy(float))
                row.update({"n_vs_gt": c.n, "delta": c.mean_diff, "delta_lo": c.lo, "delta_hi": c.hi})
            rows.append(row)
        return pd.DataFrame(rows)

    def summary(self, table: pd.DataFrame) -> str:
        sk = table["skipped"].astype(object).fillna("")
        ran = table[sk == ""]
        cols = [c for c in ("detector", "n", "n_found", "n_failed", "mae_found", "mae_common", "mae_nopose",
                            "mae_penalty", "ms_per_face", "delta", "delta_lo", "delta_hi") if c in ran]
        out = (f"{table['method'].iloc[0]} on each face detector (gt = the protocol box; delta: minus gt on the "
               "faces both answered, 95% paired bootstrap):\n"
               + ran[cols].to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep=""))
        for _, r in table[sk != ""].iterrows():
            out += f"\nskipped {r['detector']}: {r['skipped']}"
        return out

    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        sk = table["skipped"].astype(object).fillna("")
        ran = table[sk == ""].reset_index(drop=True)
        fig, (ax, axn) = plt.subplots(1, 2, figsize=(10.0, 4.0))  # no timing: a re-made figure is byte-identical
        x = np.arange(len(ran))
        wd = 0.27
        for k, (col, what, colour) in enumerate((("mae_found", "faces found", "tab:blue"),
                                                 ("mae_common", "faces every row found", "tab:green"),
                                                 ("mae_nopose", "all faces, failure = frontal", "tab:red"))):
            ax.bar(x + (k - 1) * wd, ran[col], wd, label=what, color=colour)
        ax.set_ylabel("mean absolute error (degrees)")
        ax.legend(fontsize=8)
        axn.bar(x, ran["n_found"], color="0.5", label="found")
        axn.bar(x, ran["n"] - ran["n_failed"], color="tab:blue", width=0.5, label="answered")
        axn.set_ylabel("faces")
        axn.legend(fontsize=8)
        for a in (ax, axn):
            a.set_xticks(x)
            a.set_xticklabels(ran["detector"], rotation=20, fontsize=8)
            a.grid(alpha=0.3, axis="y")
        skipped = sorted(table.loc[sk != "", "detector"])
        n = int(ran["n"].max()) if len(ran) else 0
        fig.suptitle(title or (f"{table['method'].iloc[0]} on each face detector ({n} faces; gt = protocol box)"
                               + (f"; skipped: {', '.join(skipped)}" if skipped else "")), fontsize=10)
        fig.tight_layout()
        out = save_figure(fig, stem)
        plt.close(fig)
        return out
