"""``posebench bench engines``: each network's engines side by side (agreement and speed), and
its int8 gate.

For WHENet and FSA-Net (``onnx-headpose``), the faces of the AFLW2000 images are prepared once
(the method's own crop and normalisation), then every engine runs the same inputs at batch 1 and
at ``--batch-size``: rounds interleaved across engines, median and best ms/face, each engine's
speed as a ratio of medians against onnxruntime at the same batch size, measured in the same run;
the machine's load is printed before and after. Agreement: every engine's largest wrapped angle
difference from the reference engine (WHENet: torch, the ported network itself; FSA-Net:
onnxruntime, the authors' ONNX files). With ``--int8`` each method is also asked for
``precision=int8`` calibrated and checked on the same images: the gate's refusal is printed
(WHENet), or the admitted int8 network is timed too.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import click

from posebench.commands.bench import bench
from posebench.commands.common import count
from posebench.errors import DataError, UsageError


def _paths(method: str, opts: dict, engines: tuple[str, ...], faces, batch: int) -> dict[str, Callable]:
    """``engine name -> (run the prepared faces at batch b -> (N, 3) degrees)``."""
    import numpy as np

    from posebench.method import create_method
    from posebench.methods.whenet.preprocess import to_batch

    out = {}
    for engine in engines:
        m = create_method(method, {**opts, "engine": engine})
        if method == "whenet":
            crops = [m.prepare(f) for f in faces]

            def run(b: int, m=m, crops=crops) -> np.ndarray:
                return np.concatenate([m.engine(to_batch(crops[i:i + b], m.engine.channels_last)) for i in range(0, len(crops), b)])
        else:
            x = np.stack([m.preprocess(f) for f in faces]).astype(np.float32)

            def run(b: int, m=m, x=x) -> np.ndarray:
                return np.concatenate([m.predict(np.ascontiguousarray(x[i:i + b])) for i in range(0, len(x), b)])
        out[engine] = run
    return out


@bench.command("engines")
@click.option("--data-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="AFLW2000-3D folder with images (.jpg next to .mat); default: <data root>/aflw2000.")
@click.option("--whenet-weights", type=click.Path(dir_okay=False, exists=True), default=None,
              help="WHENet.h5; default: <weights folder>/whenet/WHENet.h5.")
@click.option("--fsanet-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Folder with the FSA-Net ONNX files; default: <weights folder>/fsanet.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(2, 512), help="The batched paths' batch size.")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(3, 50), help="Timed rounds per path (>= 3).")
@click.option("--threads", default=0, show_default="all cores", type=click.IntRange(0, 1024), help="Engine threads.")
@click.option("--limit", type=count(1), default=None, help="Use only the first N faces.")
@click.option("--int8/--no-int8", default=True, show_default=True, help="Also ask each method for precision=int8 (its gate decides).")
@click.option("--methods", default="whenet,fsanet", show_default=True, help="Comma-separated: whenet, fsanet.")
def bench_engines(data_dir: Path | None, whenet_weights: str | None, fsanet_dir: str | None, batch_size: int, rounds: int,
                  threads: int, limit: int | None, int8: bool, methods: str) -> None:
    """Time each engine of WHENet (torch, onnxruntime, openvino f32) and FSA-Net (onnxruntime,
    openvino f32), interleaved, against onnxruntime in the same run; print each engine's largest
    angle difference from the reference engine, and what the int8 gate decides."""
    import numpy as np
    from tqdm.auto import tqdm

    from posebench import create_dataset
    from posebench.acquire.defaults import default_dir
    from posebench.commands.common import show_progress
    from posebench.engines import angle_error
    from posebench.imageio import read_image
    from posebench.method import FaceInput, create_method
    from posebench.methods.hopenet.engine import cpu_threads

    chosen = [m.strip() for m in methods.split(",") if m.strip()]
    if not chosen or set(chosen) - {"whenet", "fsanet"}:
        raise UsageError(f"--methods must name whenet and/or fsanet, got {methods!r}")
    data_dir = data_dir or default_dir("aflw2000")
    samples = [s for s in create_dataset("aflw2000", data_dir=str(data_dir)).samples if s.image_path is not None][:limit]
    if not samples:
        raise DataError(f"no images in {data_dir}")
    faces = [FaceInput.from_sample(s, read_image(s.image_path), exact=False) for s in samples]
    n, n_threads = len(faces), threads or cpu_threads()
    batch = min(batch_size, n)
    setups = {"whenet": ("whenet", {"weights": whenet_weights} if whenet_weights else {}, ("torch", "onnxruntime", "openvino"), "torch"),
              "fsanet": ("onnx-headpose", {"model_dir": fsanet_dir} if fsanet_dir else {}, ("onnxruntime", "openvino"), "onnxruntime")}
    load_before = os.getloadavg()[0]
    click.echo(f"posebench bench engines: {n} faces from {data_dir}, batch 1 and {batch}, {rounds} interleaved rounds, {n_threads} threads")
    rows = []
    for key in chosen:
        method, opts, engines, ref = setups[key]
        opts = {**{k: str(v) for k, v in opts.items()}, "threads": str(n_threads)}
        paths = _paths(method, opts, engines, faces, batch)
        gate = ""
        if int8:
            try:
                q = create_method(method, {**opts, "engine": "onnxruntime", "precision": "int8", "int8_images": str(data_dir)})
                gate = f"admitted: {q.int8_error:.3g} deg max from fp32"
                paths["onnxruntime int8"] = _paths(method, {**opts, "precision": "int8", "int8_images": str(data_dir)},
                                                   ("onnxruntime",), faces, batch)["onnxruntime"]
            except UsageError as exc:
                gate = str(exc)
        angles = {name: fn(batch) for name, fn in paths.items()}  # warm-up, and the agreement check
        times: dict[tuple[str, int], list[float]] = {(name, b): [] for name in paths for b in (1, batch)}
        with tqdm(total=rounds * len(times), desc=f"bench engines {key}", unit="pass", disable=not show_progress(), leave=False) as bar:
            for _ in range(rounds):
                for (name, b) in times:
                    t0 = time.perf_counter()
                    paths[name](b)
                    times[(name, b)].append(time.perf_counter() - t0)
                    bar.update(1)
        for (name, b), ts in times.items():
            med, best = statistics.median(ts) / n * 1e3, min(ts) / n * 1e3
            base = statistics.median(times[("onnxruntime", b)]) / n * 1e3
            diff = float(angle_error(angles[name], angles[ref]).max())
            rows.append((key, name, b, med, best, base / med, diff, ref))
        if gate:
            rows.append((key, "int8 gate", 0, np.nan, np.nan, np.nan, np.nan, gate))
    load_after = os.getloadavg()[0]
    click.echo(f"machine load average: {load_before:.2f} before, {load_after:.2f} after ({os.cpu_count()} CPUs)")
    click.echo(f"{'method':7s} {'engine':18s} {'batch':>5s} {'ms/face':>8s} {'best':>7s} {'vs onnxruntime':>15s} {'max |d| deg':>12s}  reference")
    for key, name, b, med, best, ratio, diff, ref in rows:
        if b == 0:
            click.echo(f"{key:7s} {name:18s} {ref}")
            continue
        click.echo(f"{key:7s} {name:18s} {b:5d} {med:8.2f} {best:7.2f} {ratio:14.2f}x {diff:12.1e}  {ref}")
    click.echo("ms/face: network only (inputs prepared once), median and best round; vs onnxruntime: ratio of medians at the same batch")


COMMANDS: list = []  # attaches to the `bench` group
