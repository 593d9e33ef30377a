"""Worst-case gallery of a stored run: the N samples with the largest error, ground truth and
prediction drawn side by side, as a PNG contact sheet and an HTML page.

A run is found in ``<results>/runs/`` by its key (the 20-hex cache key, a unique prefix of it,
or the file stem ``method__dataset__key``), or by method and dataset name (the newest such run).
Its samples are re-read from the dataset folder the run record names (``--data-dir`` overrides
it, e.g. on another machine); samples without an image file (labels-only data) are drawn on a
grey canvas with their ground-truth landmarks. Output: ``<results>/galleries/<run stem>/``
(``worst.png``, ``index.html``).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from posebench.crop import landmark_box
from posebench.datasets.base import Sample
from posebench.errors import DataError, SampleFailure, UsageError
from posebench.evaluation.record import RecordError, RunRecord, read_record
from posebench.fileio import write_atomic
from posebench.pose import Pose
from posebench.visual.draw import draw_pose, encode_image, square_crop, to_crop

#: Per-sample error columns a gallery can rank by (see :func:`posebench.metrics.per_sample_errors`).
RANK_BY = ("err_mean", "geodesic", "err_yaw", "err_pitch", "err_roll")
TILE = 180  # pixels per panel
CAPTION_H = 58


@dataclass(frozen=True)
class StoredRun:
    """A typed run record (:class:`~posebench.evaluation.record.RunRecord`) and the file it was
    read from (its per-sample CSV sits beside it; its stem names the gallery folder)."""

    record: RunRecord
    path: Path

    @property
    def stem(self) -> str:
        return Path(self.path).stem


def load_run_record(path: Path) -> StoredRun:
    """Read and check one run record; :class:`DataError` (one line) when it is damaged."""
    try:
        return StoredRun(read_record(path), Path(path))
    except RecordError as exc:
        raise DataError(f"unreadable run record {path}: {exc}") from None


def find_run(results_dir: Path, key: str | None = None, method: str | None = None,
             dataset: str | None = None) -> tuple[StoredRun, str]:
    """The run record (with its path) for ``key`` or for ``method`` + ``dataset``, and a note
    saying which run was chosen when several matched. Raises :class:`UsageError` naming the
    folder when none matches."""
    runs_dir = Path(results_dir) / "runs"
    files = sorted(runs_dir.glob("*.json"))
    if key:
        hits = [p for p in files if p.stem == key or p.stem.rsplit("__", 1)[-1].startswith(key)]
        if not hits:
            raise UsageError(f"no run with key {key!r} in {runs_dir}")
        if len(hits) > 1:
            raise UsageError(f"run key {key!r} is ambiguous in {runs_dir}: {', '.join(p.stem for p in hits)}")
        return load_run_record(hits[0]), ""
    if not (method and dataset):
        raise UsageError("give a RUN_KEY, or --method and --dataset")
    recs = [load_run_record(p) for p in files if p.stem.startswith(f"{method}__{dataset}__")]
    if not recs:
        raise UsageError(f"no run of method {method!r} on dataset {dataset!r} in {runs_dir}")
    recs.sort(key=lambda r: r.record.created)
    note = "" if len(recs) == 1 else (f"{len(recs)} runs of {method} on {dataset}; using the newest, "
                                      f"{recs[-1].stem} (pass its RUN_KEY to choose another)")
    return recs[-1], note


def run_samples(run: StoredRun) -> pd.DataFrame:
    """The run's per-sample table beside its record, checked against it
    (:func:`posebench.evaluation.sampletable.read_sample_table`: one line naming the file when it
    is missing or damaged, or when its row count is not the record's ``n_samples``)."""
    from posebench.evaluation.sampletable import read_sample_table

    return read_sample_table(Path(run.path).with_suffix(".csv"), n_rows=run.record.n_samples)


def dataset_of(run: StoredRun, data_dir: str | Path | None = None, results_dir: Path | None = None):
    """The run's dataset, re-read from ``data_dir`` or the folder its record names (a relative
    folder is tried from the current directory, then from the results folder's parent, where
    ``posebench run --results-dir results`` was run)."""
    from posebench.registry import datasets

    rec = run.record
    root = data_dir or rec.data_root or None
    if root and not data_dir and not Path(root).exists() and not Path(root).is_absolute() and results_dir:
        beside = Path(results_dir).resolve().parent / root
        root = str(beside) if beside.exists() else root
    if root and not Path(root).exists():
        raise DataError(f"dataset folder of run {run.stem} not found: {root} (pass --data-dir)")
    settings = dict(rec.dataset_settings or {})
    tried: list[str] = []
    # the stored settings as options (as stored, then as text), then none (a split's subject lists
    # are settings, not options): each kept only if its content is the run's
    candidates = [settings, {k: str(v) for k, v in settings.items()}, {}]
    last: DataError | None = None
    for options in candidates:
        try:
            ds = datasets.create(rec.dataset, options, data_dir=str(root) if root else None)
        except UsageError as exc:
            tried.append(str(exc))
            continue
        try:
            return check_same_dataset(run, ds)
        except DataError as exc:
            last = exc
    raise last or DataError(f"cannot re-create the dataset of run {run.stem}: {tried[-1] if tried else 'no options'}")


def check_same_dataset(run: StoredRun, ds):
    """``ds`` cut to the run's samples (a run made with ``--limit`` holds the first N), when its
    content fingerprint is the run's; else :class:`DataError`: a gallery never draws other faces
    beside a run's errors (a synthetic run's ``n``/``seed`` re-created as the defaults did)."""
    rec = run.record
    table = run_samples(run)  # a damaged table is one line here, never a guessed sample count
    n = int((~table["failure"].str.startswith("label: ")).sum())
    if 0 < n < len(ds):
        ds = ds.subset(n)
    got = ds.fingerprint()
    if got != rec.fingerprint:
        raise DataError(f"cannot re-create the dataset of run {run.stem}: {rec.dataset} with settings "
                        f"{rec.dataset_settings or {}} from {rec.data_root or 'its generator'} now has fingerprint {got}, "
                        f"the run's is {rec.fingerprint} (other samples or images; pass --data-dir with the run's data)")
    return ds


@dataclass
class GalleryItem:
    sample: Sample
    row: pd.Series


def _base_image(sample: Sample) -> tuple[np.ndarray, bool]:
    from posebench.imageio import read_image

    if sample.image_path is not None:
        try:
            return read_image(sample.image_path), True
        except SampleFailure:
            pass
    w, h = sample.image_size
    return np.full((int(h), int(w), 3), 96, np.uint8), False


def _region(sample: Sample):
    if sample.landmarks is not None and np.isfinite(sample.landmarks).all():
        return landmark_box(sample.landmarks)
    if sample.box is not None:
        return sample.box
    w, h = sample.image_size
    return (0.0, 0.0, float(w), float(h))


def _caption(panel_w: int, lines: list[str]) -> np.ndarray:
    import cv2

    strip = np.full((CAPTION_H, panel_w, 3), 255, np.uint8)
    for i, t in enumerate(lines):
        cv2.putText(strip, t, (4, 16 + 18 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def pair_tile(sample: Sample, row: pd.Series, size: int = TILE) -> np.ndarray:
    """Ground truth (left) and prediction (right) of one sample, with a caption of errors."""
    image, _ = _base_image(sample)
    region = _region(sample)
    patch, tf = square_crop(image, region, size=size)
    lm = to_crop(sample.landmarks, tf) if sample.landmarks is not None else None
    center = to_crop(np.array([[(region[0] + region[2]) / 2, (region[1] + region[3]) / 2]]), tf)[0]
    length = 0.5 * max(region[2] - region[0], region[3] - region[1]) * tf[2]
    truth = Pose(float(row["true_yaw"]), float(row["true_pitch"]), float(row["true_roll"]))
    pred = Pose(float(row["pred_yaw"]), float(row["pred_pitch"]), float(row["pred_roll"]))
    left = draw_pose(patch, truth, landmarks=lm, center=center, length=length, text=[], thickness=2)
    right = draw_pose(patch, pred, center=center, length=length, text=[], thickness=2)
    _label(left, "truth")
    _label(right, "prediction")
    caption = _caption(2 * size, [
        f"{sample.id}  err {row['err_mean']:.1f} (geo {row['geodesic']:.1f})",
        f"true {truth.yaw:+.0f}/{truth.pitch:+.0f}/{truth.roll:+.0f}  pred {pred.yaw:+.0f}/{pred.pitch:+.0f}/{pred.roll:+.0f}",
        f"err y/p/r {row['err_yaw']:.1f}/{row['err_pitch']:.1f}/{row['err_roll']:.1f}",
    ])
    return np.vstack([np.hstack([left, right]), caption])


def tile_or_failure(sample: Sample, row: pd.Series, size: int = TILE) -> tuple[np.ndarray, str]:
    """``(tile, "")`` from :func:`pair_tile`, or, when that tile cannot be drawn (a damaged row
    of the run's CSV, a sample whose image size or landmarks cannot be cropped), a grey tile of
    the same size captioned with the reason and that reason: one bad tile is a failed tile, not
    a failed gallery (it used to stop the whole gallery)."""
    try:
        return pair_tile(sample, row, size), ""
    except Exception as exc:  # noqa: BLE001  (whatever stops one tile: shown on it, the others are drawn)
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        tile = np.full((size, 2 * size, 3), 96, np.uint8)
        caption = _caption(2 * size, [f"{sample.id}: tile not drawn", reason[:40], reason[40:80]])
        return np.vstack([tile, caption]), reason


def _label(img: np.ndarray, text: str) -> None:
    import cv2

    cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)


def contact_sheet(tiles: list[np.ndarray], cols: int = 3, gap: int = 6) -> np.ndarray:
    """Tiles (same size) in a grid of ``cols`` columns on a white background."""
    if not tiles:
        return np.full((40, 400, 3), 255, np.uint8)
    th, tw = tiles[0].shape[:2]
    cols = max(1, min(cols, len(tiles)))
    rows = -(-len(tiles) // cols)
    sheet = np.full((rows * (th + gap) + gap, cols * (tw + gap) + gap, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = gap + r * (th + gap), gap + c * (tw + gap)
        sheet[y : y + th, x : x + tw] = t
    return sheet


def gallery_dir(results_dir: Path, run: StoredRun) -> Path:
    return Path(results_dir) / "galleries" / run.stem


def make_gallery(run: StoredRun, results_dir: Path, worst: int = 12, by: str = "err_mean",
                 data_dir: str | Path | None = None, cols: int = 3) -> dict:
    """Write the gallery of ``run``'s ``worst`` samples ranked by ``by``; returns a summary
    (``dir``, ``sheet``, ``html``, ``ids`` shown, ``n_failed``)."""
    record = run.record
    if by not in RANK_BY:
        raise UsageError(f"--by must be one of {', '.join(RANK_BY)}, got {by!r}")
    table = run_samples(run)
    failed = table[table["failure"].fillna("") != ""]
    ok = table[table["failure"].fillna("") == ""].sort_values(by, ascending=False).head(worst)
    dataset = dataset_of(run, data_dir, results_dir)
    fingerprint_differs = dataset.fingerprint() != record.fingerprint
    samples = {s.id: s for s in dataset.samples}
    missing = [i for i in ok["id"] if i not in samples]
    if missing:
        raise DataError(f"samples of run {run.stem} not in its dataset folder: {', '.join(missing[:5])}")
    drawn = [tile_or_failure(samples[row["id"]], row) for _, row in ok.iterrows()]
    tiles = [t for t, _ in drawn]
    bad_tiles = {i: why for i, (_, why) in zip(ok["id"], drawn) if why}
    out = gallery_dir(results_dir, run)
    sheet = out / "worst.png"
    write_atomic(sheet, encode_image(contact_sheet(tiles, cols), ".png"))
    page = out / "index.html"
    write_atomic(page, _html(run, record.label, ok, failed, by, any(
        samples[i].image_path is None for i in ok["id"])))
    warnings = [f"the dataset folder {dataset.root} differs from the one the run used (fingerprint "
                f"{dataset.fingerprint()} vs {record.fingerprint})"] if fingerprint_differs else []
    warnings += [f"tile of sample {i} not drawn: {why}" for i, why in bad_tiles.items()]
    return {"dir": out, "sheet": sheet, "html": page, "ids": list(ok["id"]), "n_failed": int(len(failed)),
            "bad_tiles": bad_tiles, "warning": "; ".join(warnings)}


def _html(run: StoredRun, label: str, ok: pd.DataFrame, failed: pd.DataFrame, by: str, no_images: bool) -> str:
    e = html.escape
    record, s = run.record, run.record.summary
    rows = "".join(
        f"<tr><td>{e(str(r['id']))}</td><td>{r['true_yaw']:.1f} / {r['true_pitch']:.1f} / {r['true_roll']:.1f}</td>"
        f"<td>{r['pred_yaw']:.1f} / {r['pred_pitch']:.1f} / {r['pred_roll']:.1f}</td>"
        f"<td>{r['err_yaw']:.2f}</td><td>{r['err_pitch']:.2f}</td><td>{r['err_roll']:.2f}</td>"
        f"<td>{r['err_mean']:.2f}</td><td>{r['geodesic']:.2f}</td></tr>" for _, r in ok.iterrows())
    fails = "".join(f"<tr><td>{e(str(r['id']))}</td><td>{e(str(r['failure']))}</td></tr>"
                    for _, r in failed.head(100).iterrows())
    method_json = e(json.dumps({"method": record.method, "label": record.label, "method_version": record.method_version,
                                "options": record.options, "weights": record.weights, "files": record.files},
                               indent=1, default=str))
    canvas = ("<p>No image files in this run's dataset (labels only): faces are drawn on a grey canvas "
              "with their ground-truth landmarks.</p>" if no_images else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(label)} on {e(record.dataset)}: worst samples</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}td:first-child{{text-align:left}}
img{{max-width:100%}}</style></head><body>
<h1>{e(label)} on {e(record.dataset)} ({e(record.protocol)})</h1>
<p>Run <code>{e(run.stem)}</code>: {record.n_evaluated} evaluated, {record.n_failed} failed;
MAE {s.mae:.2f}&deg; (yaw {s.mae_yaw:.2f}, pitch {s.mae_pitch:.2f}, roll {s.mae_roll:.2f}), geodesic {s.geodesic:.2f}&deg;.</p>
<h2>The {len(ok)} samples with the largest {e(by)}</h2>
<p>Left: ground truth, right: prediction. Axes as in the paper's Figure 1: blue towards the front of the face,
green downward, red to the side. Angles yaw / pitch / roll in degrees (AFLW2000-3D convention).</p>{canvas}
<p><img src="worst.png" alt="worst samples"></p>
<table><tr><th>id</th><th>true y/p/r</th><th>predicted y/p/r</th><th>err yaw</th><th>err pitch</th><th>err roll</th>
<th>err mean</th><th>geodesic</th></tr>{rows}</table>
<h2>Failed samples ({len(failed)})</h2>
{('<table><tr><th>id</th><th>reason</th></tr>' + fails + '</table>') if len(failed) else '<p>None.</p>'}
<h2>Method</h2><pre>{method_json}</pre>
<p>Made by <code>posebench gallery {e(record.key)}</code>.</p>
</body></html>
"""
