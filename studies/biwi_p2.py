"""``biwi-p2`` (paper Table 3, BIWI protocol 2): each method on the test part of several seeded
70/30 splits of the BIWI recordings, and the average over the splits.

The splits are :mod:`posebench.datasets.biwi_split` (``seeds=0,1,2``, ``test_fraction``,
``groups``); each table row holds its seed and the train and test folder lists, so every number
can be re-drawn. Protocol 2 trains one model per split: a method option may contain ``{seed}``,
replaced per split (``-o hopenet.weights=ckpt/biwi-split{seed}.pkl``). A model trained on
other data (e.g. 300W-LP) can be run too; it is then protocol 1 restricted to the test folders,
which the ``note`` column says.

On a dataset other than a BIWI folder the same split is made of its samples' recordings: a
sample's recording is the first folder of its id (``01/frame_00003`` -> ``01``), or the sample
itself when its id has none (so the study runs on any dataset, e.g. the embedded synthetic one).
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
    MethodSpec,
    build_methods,
    method_label,
    per_face,
    split_method_options,
)


@register_study("biwi-p2", "Table 3: BIWI protocol 2, seeded 70/30 splits of the recordings, MAE averaged "
                "(subject lists in the table; {seed} in a method option = per-split weights)", paper={"table": 3},
                domains={"test_fraction": Domain(gt=0, lt=1)})
class BiwiSplitsStudy(ImageStudy):
    name = "biwi-p2"
    figure = "Table 3"
    example_options = {"methods": "gt-landmarks", "seeds": "0,1"}

    def __init__(self, methods: str = "onnx-headpose", seeds: str = "0,1,2", test_fraction: float = 0.3,
                 groups: str = "", **method_options: Any):
        self.seeds = parse_list(seeds, "seeds", int, ge=0, le=2 ** 32 - 1)  # numpy's seed range
        self.specs = split_method_options(methods, method_options)
        self.test_fraction, self.groups = float(test_fraction), groups
        super().__init__()

    def run(self, dataset: Dataset) -> pd.DataFrame:
        from posebench.evaluation.runner import evaluate

        rows: list[dict[str, Any]] = []
        per_split_weights = {s.name: any("{seed}" in v for v in s.options.values()) for s in self.specs}
        for seed in self.seeds:
            ds = self.test_part(dataset, seed)
            per_split = [MethodSpec(s.name, {k: v.replace("{seed}", str(seed)) for k, v in s.options.items()})
                         for s in self.specs]
            for s in build_methods(per_split, dataset=ds):
                base = {"method": s.name, "label": method_label(s), "seed": seed, "test_subjects": " ".join(ds.parameters["test_subjects"]),
                        "train_subjects": " ".join(ds.parameters["train_subjects"])}
                if s.skipped:
                    rows.append({**base, "skipped": s.skipped})
                    continue
                res = evaluate(s.method, ds, self.results_dir, progress=self.progress)
                t = per_face(res.samples)
                ok = t[t["failure"] == ""]
                rows.append({**base, "skipped": "", "options": ",".join(f"{k}={v}" for k, v in sorted(s.options.items())),
                             "n": len(t), "n_failed": int(len(t) - len(ok)),
                             "mae_yaw": float(ok["err_yaw"].mean()), "mae_pitch": float(ok["err_pitch"].mean()),
                             "mae_roll": float(ok["err_roll"].mean()), "mae": float(ok["err_mean"].mean()),
                             "note": "" if per_split_weights[s.name] else "one model for every split (not trained per split)",
                             "run": Path(res.paths["record"]).name})
                if hasattr(s.method, "close"):
                    s.method.close()
        table = pd.DataFrame(rows)
        ran = table[table["skipped"] == ""] if len(table) else table
        if len(ran):
            mean = ran.groupby("method", as_index=False)[["mae_yaw", "mae_pitch", "mae_roll", "mae"]].mean()
            mean["seed"] = "mean"
            mean["skipped"] = ""
            mean["sum_of_errors"] = mean[["mae_yaw", "mae_pitch", "mae_roll"]].sum(axis=1)
            table = pd.concat([table, mean], ignore_index=True)
        return table

    def test_part(self, dataset: Dataset, seed: int) -> Dataset:
        """The test part of split ``seed``: a BIWI folder re-read under ``p2-test`` (its
        degradation kept), any other dataset split by its samples' recordings (module doc)."""
        if dataset.name == "biwi" and dataset.root is not None:
            from posebench.datasets.biwi import load_biwi
            from posebench.datasets.degrade import META_KEY, with_downsample

            ds = load_biwi(dataset.root, protocol="p2-test", seed=seed, test_fraction=self.test_fraction,
                           groups=self.groups)
            return with_downsample(ds, int(dataset.parameters.get(META_KEY, 1)))
        from posebench.datasets.biwi_split import parse_groups, split_units

        recording = {s.id: s.id.split("/")[0] if "/" in s.id else s.id for s in dataset.samples}
        folders = sorted(set(recording.values()))
        train, test = split_units(parse_groups(self.groups, folders), seed, self.test_fraction)
        keep = set(test)
        parameters = {**dataset.parameters, "protocol": "p2-test", "seed": int(seed), "test_fraction": self.test_fraction,
                    "groups": self.groups, "test_subjects": test, "train_subjects": train}
        return Dataset(dataset.name, f"{dataset.protocol}+p2-test-s{int(seed)}-v1",
                       [s for s in dataset.samples if recording[s.id] in keep], dataset.root, parameters)

    def summary(self, table: pd.DataFrame) -> str:
        ran = table[table["skipped"].astype(object).fillna("") == ""]
        cols = [c for c in ("method", "seed", "n", "n_failed", "mae_yaw", "mae_pitch", "mae_roll", "mae",
                            "sum_of_errors", "test_subjects") if c in ran]
        out = ran[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="")
        for _, r in table[table["skipped"].astype(object).fillna("") != ""].drop_duplicates("method").iterrows():
            out += f"\nskipped {r['method']}: {r['skipped']}"
        return out

    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        """Bars: MAE per angle of each method, averaged over the splits (the table's ``mean``
        rows; paper Table 3 reports these numbers), each split's MAE as a dot."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from .base import ANGLE_STYLE

        ran = table[table["skipped"].astype(object).fillna("") == ""]
        mean = ran[ran["seed"].astype(str) == "mean"]
        splits = ran[ran["seed"].astype(str) != "mean"]
        names = list(mean["method"])
        fig, ax = plt.subplots(figsize=(1.8 + 1.6 * max(1, len(names)), 4.0))
        width = 0.2
        for k, (col, (label, color, _)) in enumerate(ANGLE_STYLE.items()):
            x = [i + (k - 1.5) * width for i in range(len(names))]
            ax.bar(x, mean[col], width, color=color, label=label, alpha=0.8)
            for i, name in enumerate(names):
                ys = splits.loc[splits["method"] == name, col]
                ax.plot([x[i]] * len(ys), ys, "k.", ms=4)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names)
        ax.set_ylabel("mean absolute error (degrees)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(title="angle (dots: each split)", loc="center left", bbox_to_anchor=(1.02, 0.5))
        n_splits = splits["seed"].nunique()
        ax.set_title(title or f"Protocol 2 (Table 3): mean over {n_splits} seeded splits", fontsize=10)
        out = save_figure(fig, stem)
        plt.close(fig)
        return out
