"""``alpha`` (paper Table 5): the weight of the regression loss. Trains one network per alpha
(``posebench train`` with the paper's recipe) and the ResNet50 regression-only baseline, then
evaluates each ``best.pt`` on the study's dataset through its method (the numbers of
``posebench run``), next to the paper's row. On a GPU with 300W-LP and 25 epochs this is the
paper's experiment; with ``limit``/``max_steps``/``input_size`` it is a quick check only.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from posebench.datasets.base import Dataset
from posebench.errors import UsageError
from posebench.registry import register_study

from .base import Study, parse_list, save_figure

#: Table 5 of the paper: (model, alpha) -> (yaw, pitch, roll, mean) MAE on AFLW2000 (degrees).
PAPER_TABLE5: dict[tuple[str, float | None], tuple[float, float, float, float]] = {
    ("resnet50-regression", None): (13.110, 6.726, 5.799, 8.545),
    ("hopenet", 4.0): (7.087, 6.870, 5.621, 6.526),
    ("hopenet", 2.0): (6.470, 6.559, 5.436, 6.155),
    ("hopenet", 1.0): (6.920, 6.637, 5.674, 6.410),
    ("hopenet", 0.1): (10.270, 6.867, 5.420, 7.519),
    ("hopenet", 0.01): (11.410, 6.847, 5.836, 8.031),
    ("hopenet", 0.0): (11.628, 7.119, 5.966, 8.238),
    ("hopenet-alexnet", 1.0): (27.650, 8.543, 8.954, 15.049),
    ("hopenet-alexnet", 0.1): (30.110, 9.548, 9.273, 16.310),
    ("hopenet-alexnet", 0.01): (25.090, 8.442, 8.287, 13.940),
    ("hopenet-alexnet", 0.0): (24.469, 8.350, 8.353, 13.724),
}


class AlphaStudy(Study):
    #: it trains models: refused under torchrun (posebench.studies.run.run_and_store)
    torchrun = False
    name = "alpha"
    figure = "Table 5"
    summary_keys = ("model", "alpha")
    #: where the runs are kept and how many loader processes read the images: no result depends on them
    runtime_options = frozenset({"runs", "workers"})

    def __init__(self, train_data: str = "", train_dataset: str = "300w-lp", model: str = "hopenet",
                 alphas: str = "4,2,1,0.1,0.01,0", regression: bool = True, epochs: int = 25, batch_size: int = 128,
                 lr: float = 1e-5, init: str = "", regression_init: str = "", augment: str = "paper",
                 input_size: int = 224, limit: int = 0, max_steps: int = 0, workers: int = 2, seed: int = 0,
                 engine: str = "onnxruntime", runs: str = ""):
        if model not in ("hopenet", "hopenet-alexnet"):
            raise UsageError(f"alpha: model must be hopenet or hopenet-alexnet, got {model!r}")
        super().__init__()
        self.alpha_values = parse_list(alphas, "alphas", float)
        self.train_data = train_data
        self.init = init
        self.regression_init = regression_init or init
        self.workers = workers
        self.runs = runs
        self.recipe = {"train_dataset": train_dataset, "epochs": epochs, "batch_size": batch_size, "lr": lr,
                       "augment": augment, "input_size": input_size, "seed": seed, "limit": limit,
                       "max_steps": max_steps, "engine": engine}
        self.regression, self.model = regression, model
        for model_name, a in self.jobs():  # every option in its domain before any network is trained
            _check(self.config(model_name, a))

    def runs_dir(self) -> Path:
        """Where the trained networks go: ``runs`` when given, else ``<results-dir>/training/alpha``
        (the study's own results folder, set by :meth:`set_context`; it used to be
        ``./posebench-results`` whatever ``--results-dir`` said)."""
        return Path(self.runs) if self.runs else Path(self.results_dir) / "training" / "alpha"

    def config(self, model: str, alpha: float | None):
        """The training config of one job (``alpha`` None: the regression-only baseline)."""
        from posebench.training.loop import TrainConfig

        s = self.recipe
        return TrainConfig(model=model, dataset=s["train_dataset"], data_dir=self.train_data or None,
                           alpha=alpha if alpha is not None else 0.0, epochs=int(s["epochs"]),
                           batch_size=int(s["batch_size"]), lr=float(s["lr"]),
                           init=(self.regression_init if alpha is None else self.init) or None,
                           augment=s["augment"], input_size=int(s["input_size"]), seed=int(s["seed"]),
                           limit=int(s["limit"]) or None, max_steps=int(s["max_steps"]) or None,
                           workers=int(self.workers), val_engine=s["engine"])

    def job_dir(self, model: str, alpha: float | None) -> Path:
        """``<runs_dir>/<model>-alpha<a>-<digest>``: the digest covers every training option but the
        loader's worker count (and the training folder by its resolved path), so a rerun of the same
        study resumes its own interrupted run, while another epoch count, data folder or recipe
        trains in its own folder (one folder per tag made ``epochs=1`` return a finished 25-epoch
        run, and a study with other data fail on the first one's checkpoint)."""
        import hashlib
        import json
        from dataclasses import asdict

        d = asdict(self.config(model, alpha))
        d.pop("workers")
        for key in ("data_dir", "init"):
            d[key] = str(Path(d[key]).resolve()) if d[key] else None
        digest = hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:10]
        tag = f"{model}-alpha{alpha:g}" if alpha is not None else model
        return self.runs_dir() / f"{tag}-{digest}"

    def jobs(self) -> list[tuple[str, float | None]]:
        out: list[tuple[str, float | None]] = [(self.model, a) for a in self.alpha_values]
        return out + ([("resnet50-regression", None)] if self.regression else [])

    def run(self, dataset: Dataset) -> pd.DataFrame:
        from posebench.training.loop import train, validate

        s = self._options
        rows = []
        for model, alpha in self.jobs():
            out = self.job_dir(model, alpha)
            cfg = self.config(model, alpha)
            last = out / "last.pt"
            res = train(cfg, out, resume=last if last.is_file() else None, echo=lambda _m: None)
            m = validate(cfg, res.best, dataset, out / "evaluation")
            paper = PAPER_TABLE5.get((model, alpha))
            rows.append({"model": model, "alpha": alpha, "mae_yaw": m["mae_yaw"], "mae_pitch": m["mae_pitch"],
                         "mae_roll": m["mae_roll"], "mae": m["mae"], "n_test": m["n_evaluated"],
                         "steps": res.global_step,
                         "paper_yaw": paper[0] if paper else None, "paper_pitch": paper[1] if paper else None,
                         "paper_roll": paper[2] if paper else None, "paper_mae": paper[3] if paper else None,
                         "weights": str(res.best)})
            self.advance(1)
        table = pd.DataFrame(rows)
        for k in ("epochs", "input_size", "augment", "limit", "max_steps", "train_dataset"):
            table[k] = s[k]
        return table

    def summary(self, table: pd.DataFrame) -> str:
        cols = [c for c in ("model", "alpha", "mae_yaw", "mae_pitch", "mae_roll", "mae", "paper_mae", "steps")
                if c in table.columns]
        return table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}")

    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        labels = [f"{m}\nalpha {a:g}" if pd.notna(a) else m for m, a in zip(table["model"], table["alpha"])]
        x = range(len(table))
        fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(table)), 4))
        ax.bar([i - 0.2 for i in x], table["mae"], width=0.4, label="posebench")
        ax.bar([i + 0.2 for i in x], table["paper_mae"].fillna(0), width=0.4, label="paper Table 5")
        ax.set_xticks(list(x), labels, fontsize=7)
        ax.set_ylabel("mean MAE (degrees)")
        ax.set_title(title or "Regression-loss weight alpha (paper Table 5)")
        ax.legend()
        return save_figure(fig, stem)


def _check(cfg) -> None:
    """:func:`posebench.training.loop.check_config`, its message naming the study's option
    (``epochs=0`` is refused before any work, as ``posebench train --epochs 0`` is)."""
    import re

    from posebench.training.loop import check_config

    try:
        check_config(cfg)
    except UsageError as exc:
        raise UsageError("alpha: option " + re.sub(r"--([a-z-]+)", lambda m: m.group(1).replace("-", "_"),
                                                   str(exc), count=1)) from None


@register_study("alpha", "Table 5: train one network per regression weight alpha (+ regression baseline), "
                "evaluate each; needs train_data=300W-LP folder (GPU scale)")
def alpha(train_data: str = "", train_dataset: str = "300w-lp", model: str = "hopenet", alphas: str = "4,2,1,0.1,0.01,0",
          regression: bool = True, epochs: int = 25, batch_size: int = 128, lr: float = 1e-5, init: str = "",
          regression_init: str = "", augment: str = "paper", input_size: int = 224, limit: int = 0, max_steps: int = 0,
          workers: int = 2, seed: int = 0, engine: str = "onnxruntime", runs: str = "") -> AlphaStudy:
    return AlphaStudy(train_data, train_dataset, model, alphas, regression, epochs, batch_size, lr, init,
                      regression_init, augment, input_size, limit, max_steps, workers, seed, engine, runs)


alpha.example_options = None  # no cheap synthetic run: it trains networks on images (tests/training/test_training.py)
