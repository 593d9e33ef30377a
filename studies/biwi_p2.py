"""``biwi-p2`` (paper Table 3, BIWI protocol 2): each method on the test part of several seeded
70/30 splits of the BIWI recordings, and the average over the splits.

The splits are :mod:`posebench.datasets.biwi_split` (``seeds=0,1,2``, ``test_fraction``,
``groups``); each table row holds its seed and the train and test folder lists, so every number
can be re-drawn. Protocol 2 trains one model per split: a method option may contain ``{seed}``,
replaced per split (``-o hopenet.weights=ckpt/biwi-split{seed}.pkl``). A model trained on
other data (e.g. 300W-LP) can be run too; it is then protocol 1 restricted to the test folders,
which the ``note`` column says.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from posebench.datasets.base import Dataset
from posebench.errors import UsageError
from posebench.registry import register_study

from .base import parse_list
from .image_base import (
    ImageStudy,
    MethodSpec,
    build_methods,
    per_face,
    split_method_options,
)


class BiwiSplitsStudy(ImageStudy):
    name = "biwi-p2"
    figure = "Table 3"

    def __init__(self, methods: str = "onnx-headpose", seeds: str = "0,1,2", test_fraction: float = 0.3,
                 groups: str = "", **method_options: Any):
        self.seeds = parse_list(seeds, "seeds", int)
        self.specs = split_method_options(methods, method_options)
        self.test_fraction, self.groups = float(test_fraction), groups
        super().__init__(methods=methods, seeds=seeds, test_fraction=float(test_fraction), groups=groups,
                         **method_options)

    def run(self, dataset: Dataset, progress: Callable[[int], None] | None = None) -> pd.DataFrame:
        from posebench.datasets.biwi import load_biwi
        from posebench.evaluation.runner import evaluate

        if dataset.name != "biwi" or dataset.root is None:
            raise UsageError("biwi-p2 runs on the biwi dataset (--dataset biwi --data-dir BIWI_FOLDER)")
        rows: list[dict[str, Any]] = []
        per_split_weights = {s.name: any("{seed}" in v for v in s.options.values()) for s in self.specs}
        for seed in self.seeds:
            ds = load_biwi(dataset.root, protocol="p2-test", seed=seed, test_fraction=self.test_fraction,
                           groups=self.groups)
            per_split = [MethodSpec(s.name, {k: v.replace("{seed}", str(seed)) for k, v in s.options.items()})
                         for s in self.specs]
            for s in build_methods(per_split):
                base = {"method": s.name, "seed": seed, "test_subjects": " ".join(ds.settings["test_subjects"]),
                        "train_subjects": " ".join(ds.settings["train_subjects"])}
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

    def summary(self, table: pd.DataFrame) -> str:
        ran = table[table["skipped"].fillna("") == ""]
        cols = [c for c in ("method", "seed", "n", "n_failed", "mae_yaw", "mae_pitch", "mae_roll", "mae",
                            "sum_of_errors", "test_subjects") if c in ran]
        out = ran[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="")
        for _, r in table[table["skipped"].fillna("") != ""].drop_duplicates("method").iterrows():
            out += f"\nskipped {r['method']}: {r['skipped']}"
        return out

    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        from posebench.errors import DataError

        raise DataError("biwi-p2 is a table (paper Table 3); it has no figure")


@register_study("biwi-p2", "Table 3: BIWI protocol 2, seeded 70/30 splits of the recordings, MAE averaged "
                "(subject lists in the table; {seed} in a method option = per-split weights)", paper={"table": 3})
def biwi_p2(methods: str = "onnx-headpose", seeds: str = "0,1,2", test_fraction: float = 0.3, groups: str = "",
            **method_options: Any) -> BiwiSplitsStudy:
    return BiwiSplitsStudy(methods, seeds, test_fraction, groups, **method_options)
