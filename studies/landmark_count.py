"""``landmark-count`` (paper Figure 6): pose error from *estimated* 2D landmarks (``dlib``;
``mediapipe``: MediaPipe Face Mesh's 468 points read at the measured 68-point correspondence of
``methods/mediapipe/map68.json``; ``fan`` where its weights are present) against the landmark subset used, next to the same subsets of the
ground-truth landmarks (the Figure 3 curve) on the same faces.

Each landmark detector runs once per image (detected 68 points cached per sample under
``<results>/cache/``, keyed by the detector's identity and the dataset's fingerprint, so a
re-run or another subset list costs no detection); each subset of :data:`studies.base.SUBSETS`
is then solved for all faces with the study's solver and 3D face. Rows per (source, subset):
MAE per angle over the faces the detector handled (``n``), detector failures (``n_failed``).
The ground-truth rows use exactly the faces *every* detector handled, so the curves compare
like with like; ``gt-all`` rows use every face.

Defaults: ``solver=sqpnp`` (globally optimal; OpenCV's ``iterative``, the paper's, is an option
and lands on flipped solutions for many faces), posebench's mean face (``face=PATH`` for
``u_base.txt``), focal length = image width.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posebench.datasets.base import Dataset
from posebench.errors import DataError
from posebench.registry import register_study

from .base import (
    LANDMARK_DOMAINS,
    SUBSETS,
    error_row,
    landmark_data,
    parse_subsets,
    save_figure,
    solve,
    study_face,
)
from .image_base import ImageStudy, build_methods, split_method_options

DETECTOR_METHODS = ("dlib", "mediapipe", "fan")
STYLE = {"dlib": ("tab:orange", "o", "-"), "fan": ("tab:green", "s", "-"), "mediapipe": ("tab:cyan", "^", "-"),
         "ground truth": ("black", "D", "--"), "ground truth (all faces)": ("0.6", "D", ":")}


def detected_landmarks(method, dataset: Dataset, results_dir: Path, progress: bool) -> dict[str, np.ndarray | str]:
    """68 x 2 landmarks (pixels) per sample id, or the failure reason; cached per sample. In a
    torchrun job (:mod:`posebench.distributed`) each process detects every ``world``-th image not
    yet cached (one image at a time, so the split changes no result) and all read the merged cache."""
    from posebench.datasets.degrade import sample_image
    from posebench.errors import SampleFailure
    from posebench.evaluation.cache import PredictionCache, cache_key

    key = cache_key({"landmarks": method.identity(), "dataset": dataset.fingerprint(), "protocol": dataset.protocol})
    cache = PredictionCache(Path(results_dir) / "cache" / f"landmarks-{method.name}__{dataset.name}__{key}.jsonl",
                            width=68 * 2)
    from posebench.distributed import current

    group = current()  # a torchrun job: each process detects its share, then every one reads all
    with group.together("reading the landmark cache"):
        done = cache.load()
    todo = [s for s in dataset if s.id not in done and s.image_path is not None][group.rank::group.world]
    from tqdm.auto import tqdm

    with group.together("detecting landmarks"), tqdm(
            total=len(todo), unit="face", desc=f"{method.name} landmarks", disable=not progress or not todo,
            leave=False) as bar:
        for s in todo:
            try:
                lm = _landmarks_of(method, s, sample_image(s))
                rec = {"id": s.id, "pred": np.asarray(lm, float).reshape(-1).tolist(), "fail": None}
            except SampleFailure as exc:
                rec = {"id": s.id, "pred": None, "fail": exc.reason}
            cache.append([rec])
            done[s.id] = rec
            bar.update(1)
    if group.sharded:
        done = cache.load()
    out: dict[str, np.ndarray | str] = {}
    for s in dataset:
        rec = done.get(s.id)
        if rec is None:
            out[s.id] = "no image file for this sample"
        elif rec["pred"] is None:
            out[s.id] = rec["fail"]
        else:
            out[s.id] = np.asarray(rec["pred"], float).reshape(68, 2)
    return out


def _landmarks_of(method, sample, image: np.ndarray) -> np.ndarray:
    """68 x 2 landmarks of one image through the method's own landmark step."""
    from posebench.errors import SampleFailure
    from posebench.method import FaceInput

    if hasattr(method, "landmarks_batch"):  # fan
        face = FaceInput(image, sample.image_size, sample.box, None, None, sample.id, sample.points)
        out = method.landmarks_batch([face])[0]
        if isinstance(out, SampleFailure):
            raise out
        return np.asarray(out, float)
    if hasattr(method, "landmarks68_of"):  # mediapipe: its 468 points at the 68-point correspondence
        return np.asarray(method.landmarks68_of(image, sample.box), float)
    return np.asarray(method.landmarks(image, sample.box), float)  # dlib


@register_study("landmark-count", "Figure 6: MAE from estimated landmarks (dlib, mediapipe, fan) per landmark subset, "
                "beside the ground-truth-landmark curve on the same faces", paper={"figure": 6}, domains=LANDMARK_DOMAINS)
class LandmarkCountStudy(ImageStudy):
    name = "landmark-count"
    figure = "Figure 6"
    example_options = {"detectors": "dlib", "subsets": "6,68", "backend": "cv2"}

    def __init__(self, detectors: str = "dlib,mediapipe,fan", subsets: str = "6,12,21,68", solver: str = "sqpnp",
                 focal: float = 1.0, face: str = "default", face_units: str = "mm", backend: str = "batched",
                 **method_options: Any):
        self.subsets = parse_subsets(subsets)
        self.specs = split_method_options(detectors, method_options)
        bad = [s.name for s in self.specs if s.name not in DETECTOR_METHODS]
        if bad:
            from posebench.errors import UsageError

            raise UsageError(f"landmark-count detectors must be among {', '.join(DETECTOR_METHODS)}, got {bad}")
        for s in self.specs:
            s.options.pop("solver", None)  # the study solves; the method's own solver is unused
        self.face_spec = face
        super().__init__()

    def run(self, dataset: Dataset) -> pd.DataFrame:
        st = self._options
        data = landmark_data(dataset)
        face = study_face(self.face_spec, data, st["face_units"])
        specs = build_methods(self.specs, require_one=False)  # the labels' landmarks run anyway
        found: dict[str, dict[str, np.ndarray | str]] = {}
        for s in specs:
            if not s.skipped:
                found[s.name] = detected_landmarks(s.method, dataset, self.results_dir, self.progress)
        if not found and not any(s.skipped for s in specs):
            raise DataError("no landmark detector to run")
        ids = data.ids
        handled = {name: np.array([isinstance(found[name].get(i), np.ndarray) for i in ids]) for name in found}
        common = np.all(np.stack(list(handled.values())), axis=0) if handled else np.ones(len(ids), bool)
        rows: list[dict[str, Any]] = []

        def add(source: str, uv: np.ndarray, mask: np.ndarray, n_failed: int) -> None:
            for sub in self.subsets:
                idx = list(SUBSETS[sub])
                if mask.any():
                    res = solve(uv[mask][:, idx], face[..., idx, :] if face.ndim == 2 else face[mask][:, idx],
                                data.sizes[mask], st["solver"], st["focal"], st["backend"])
                    row = error_row(res, data.truth[mask])
                    row["n_failed"] += n_failed
                else:
                    nan = float("nan")
                    row = {"mae_yaw": nan, "mae_pitch": nan, "mae_roll": nan, "mae": nan, "frac_over_30": nan,
                           "n": 0, "n_failed": n_failed}
                rows.append({"source": source, "subset": sub, "n_points": len(idx), **row, "skipped": ""})

        for name in found:
            uv = np.stack([found[name][i] if handled[name][k] else np.full((68, 2), np.nan) for k, i in enumerate(ids)])
            add(name, uv, handled[name], int((~handled[name]).sum()))
        add("ground truth", data.uv, common, 0)
        add("ground truth (all faces)", data.uv, np.ones(len(ids), bool), 0)
        for s in specs:
            if s.skipped:
                rows.append({"source": s.name, "subset": "", "n_points": np.nan, "skipped": s.skipped})
        table = pd.DataFrame(rows)
        for k in ("solver", "focal", "face", "face_units"):
            table[k] = st[k]
        return table

    def summary(self, table: pd.DataFrame) -> str:
        ran = table[table["skipped"].astype(object).fillna("") == ""]
        cols = ["source", "n_points", "mae_yaw", "mae_pitch", "mae_roll", "mae", "frac_over_30", "n", "n_failed"]
        ran = ran[cols].astype({"n_points": int, "n": int, "n_failed": int})
        out = ran.to_string(index=False, float_format=lambda v: f"{v:.3f}")
        for _, r in table[table["skipped"].astype(object).fillna("") != ""].iterrows():
            out += f"\nskipped {r['source']}: {r['skipped']}"
        return out

    def plot(self, table: pd.DataFrame, stem: Path, title: str = "") -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ran = table[table["skipped"].astype(object).fillna("") == ""]
        angles = [("mae", "mean of the three"), ("mae_yaw", "yaw"), ("mae_pitch", "pitch"), ("mae_roll", "roll")]
        fig, axes = plt.subplots(1, 4, figsize=(13, 3.6), sharex=True)
        for ax, (col, what) in zip(axes, angles):
            for source, t in ran.groupby("source", sort=False):
                t = t.sort_values("n_points")
                colour, marker, ls = STYLE.get(source, (None, "o", "-"))
                n = int(t["n"].iloc[0])
                ax.plot(t["n_points"], t[col], color=colour, marker=marker, ls=ls, lw=1.8, label=f"{source} (n={n})")
            ax.set_xscale("log")
            pts = sorted(ran["n_points"].dropna().unique())
            ax.set_xticks(pts)
            ax.set_xticklabels([str(int(p)) for p in pts])
            ax.minorticks_off()
            ax.set_title(what, fontsize=10)
            ax.set_xlabel("landmarks used")
            ax.grid(alpha=0.3)
            ax.set_ylim(bottom=0)
        axes[0].set_ylabel("mean absolute error (degrees)")
        axes[-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
        r0 = ran.iloc[0]
        skipped = sorted(set(table.loc[table["skipped"].astype(object).fillna("") != "", "source"]))
        fig.suptitle(title or ("Pose error from estimated landmarks against landmark count (Figure 6)\n"
                               f"solver {r0['solver']}, face {r0['face']}, focal {r0['focal']:g} x width"
                               + (f"; skipped: {', '.join(skipped)}" if skipped else "")), fontsize=10)
        fig.tight_layout()
        out = save_figure(fig, stem)
        plt.close(fig)
        return out
