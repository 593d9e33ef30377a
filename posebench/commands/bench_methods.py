"""``posebench bench methods``: milliseconds per face of each image method on real images.

Every method runs on the same decoded images (decoding is not timed) through ``estimate_batch``
in chunks of the method's ``batch_size``. Where a method has a fast path, its baseline runs in the
same call and the ratio is printed: ``dlib`` in process (``workers=1``) against a process pool
(``workers=N``; the pool is started before timing and its start-up time printed separately), and
``onnx-headpose`` one face per call against batched calls. Methods whose weights are absent are
skipped with the reason.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from posebench import create_dataset
from posebench.commands.bench import bench
from posebench.commands.common import count, show_progress
from posebench.errors import DataError, PosebenchError, SampleFailure
from posebench.limits import MAX_REPEATS, MAX_WORKERS


@dataclass
class Timing:
    label: str
    faces: int
    failed: int
    ms_per_face: float
    note: str = ""


def _faces(data_dir: Path, limit: int | None):
    from posebench.imageio import read_image
    from posebench.method import FaceInput

    ds = create_dataset("aflw2000", data_dir=str(data_dir)).subset(limit)
    faces = []
    for s in ds.samples:
        if s.image_path is None:
            continue
        try:
            img = read_image(s.image_path)
        except SampleFailure:
            continue
        faces.append(FaceInput.from_sample(s, img, exact=False))
    if not faces:
        raise DataError(f"no readable images in {data_dir}")
    return faces


def time_method(method, faces, repeat: int, batch_size: int | None = None) -> tuple[float, int]:
    """Median over ``repeat`` passes of ms per face, and the failures of the last pass."""
    step = max(1, int(batch_size or method.batch_size))
    runs, failed = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = []
        for i in range(0, len(faces), step):
            out.extend(method.estimate_batch(faces[i : i + step]))
        runs.append((time.perf_counter() - t0) * 1000.0 / len(faces))
        failed = sum(isinstance(o, SampleFailure) for o in out)
    return statistics.median(runs), failed


def _create(name: str, options: dict[str, Any]):
    from posebench.method import create_method

    return create_method(name, {k: str(v) for k, v in options.items()})


@bench.command("methods")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="AFLW2000 folder with images (default: <data root>/aflw2000, as `posebench run`).")
@click.option("--fsanet-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with the FSA-Net ONNX files (default: <weights folder>/fsanet; skipped when absent).")
@click.option("--workers", type=count(0, MAX_WORKERS), default=0, show_default=True,
              help="Processes for dlib's fast path (0 = one per CPU core).")
@click.option("--repeat", type=count(1, MAX_REPEATS), default=3, show_default=True, help="Timed passes (median).")
@click.option("--limit", type=count(1), default=None, help="Use only the first N images.")
@click.option("--only", multiple=True, type=click.Choice(["dlib", "onnx-headpose", "fan", "hopenet"]),
              help="Benchmark only these methods (repeatable).")
def bench_methods(data_dir, fsanet_dir, workers, repeat, limit, only) -> None:
    """Milliseconds per face of dlib, onnx-headpose (FSA-Net), fan and hopenet on real AFLW2000 images,
    with baseline-vs-fast-path ratios measured in the same run."""
    from tqdm.auto import tqdm

    from posebench.acquire.defaults import default_dir
    from posebench.paths import weights_dir
    from posebench.registry import methods as registry

    data_dir = data_dir or default_dir("aflw2000")
    fsanet_dir = fsanet_dir or weights_dir() / "fsanet"
    faces = _faces(data_dir, limit)
    n_workers = workers or (os.cpu_count() or 1)
    wanted = set(only) or {"dlib", "onnx-headpose", "fan", "hopenet"}
    click.echo(f"{len(faces)} faces from {data_dir}; {os.cpu_count()} CPU cores; median of {repeat} passes")
    rows: list[Timing] = []
    ratios: list[str] = []
    skipped: list[str] = []
    plan = [m for m in ("dlib", "onnx-headpose", "fan", "hopenet") if m in wanted]
    for name in tqdm(plan, desc="bench methods", unit="method", disable=not show_progress(), leave=False):
        try:
            if name == "dlib":
                base = _create("dlib", {"workers": 1})
                fast = _create("dlib", {"workers": n_workers})
                t0 = time.perf_counter()
                fast.estimate_batch(faces[: 2 * n_workers])  # start the pool (not timed)
                start = time.perf_counter() - t0
                b, fb = time_method(base, faces, repeat)
                f, ff = time_method(fast, faces, repeat)
                fast.close()
                rows += [Timing("dlib (workers=1)", len(faces), fb, b),
                         Timing(f"dlib (workers={n_workers})", len(faces), ff, f, f"pool start {start:.2f} s")]
                ratios.append(f"dlib: workers={n_workers} vs workers=1: {b / f:.2f}x faster")
            elif name == "onnx-headpose":
                if not fsanet_dir.is_dir():
                    raise DataError(f"FSA-Net folder not found: {fsanet_dir} (place the ONNX files there or "
                                    "pass --fsanet-dir)")
                m = _create("onnx-headpose", {"model_dir": str(fsanet_dir)})
                m.estimate_batch(faces[:2])  # warm-up
                one, f1 = time_method(m, faces, repeat, batch_size=1)
                bat, fbat = time_method(m, faces, repeat)
                rows += [Timing("onnx-headpose fsanet 1x1+var (batch 1)", len(faces), f1, one),
                         Timing(f"onnx-headpose fsanet 1x1+var (batch {m.batch_size})", len(faces), fbat, bat)]
                for single in ("1x1", "var"):
                    s = _create("onnx-headpose", {"model_dir": str(fsanet_dir), "models": single})
                    s.estimate_batch(faces[:2])
                    t, fs = time_method(s, faces, repeat)
                    rows.append(Timing(f"onnx-headpose fsanet {single} (batch {s.batch_size})", len(faces), fs, t))
                ratios.append(f"onnx-headpose: batch {m.batch_size} vs batch 1: {one / bat:.2f}x faster")
            elif name == "fan":
                m = _create("fan", {})
                m.estimate_batch(faces[:1])
                t, fl = time_method(m, faces, 1)
                rows.append(Timing("fan (12 points, flip)", len(faces), fl, t, "1 pass"))
            elif name == "hopenet":
                if "hopenet" not in registry.names():
                    raise DataError("method 'hopenet' is not registered in this install")
                m = _create("hopenet", {})
                m.estimate_batch(faces[:2])
                t, fl = time_method(m, faces, repeat)
                rows.append(Timing(f"hopenet (batch {m.batch_size})", len(faces), fl, t))
        except PosebenchError as exc:
            skipped.append(f"{name}: skipped ({exc})")
    width = max([len(r.label) for r in rows] + [6])
    click.echo(f"{'method':<{width}}  {'faces':>5}  {'failed':>6}  {'ms/face':>9}  note")
    for r in rows:
        click.echo(f"{r.label:<{width}}  {r.faces:>5}  {r.failed:>6}  {r.ms_per_face:>9.2f}  {r.note}")
    for line in ratios + skipped:
        click.echo(line)


COMMANDS: list = []
