"""``posebench bench hopenet``: posebench's Hopenet against the authors' evaluation loop.

Both run in the same process on the same faces (the AFLW2000 sample images, cropped by the
protocol's loose box), from the image file to the angles, after one untimed warm-up each. Rounds
alternate between the paths; the median and the best round are printed, and each path's time as
a multiple of the original loop's (ratio of medians, :mod:`posebench.commands.bench_table`). The
baseline is :func:`posebench.methods.hopenet.reference.original_loop`: batch 1, PIL
transforms, per-image softmax, autograd recording as in the original script; it is also timed
under ``torch.no_grad`` (a stronger baseline than the original).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click

from posebench import create_dataset
from posebench.commands.bench import bench
from posebench.commands.bench_table import Row, finish, format_rows, load
from posebench.commands.common import count, show_progress
from posebench.errors import DataError

TOLERANCE_DEG = 1e-4


def hopenet_rows(data_dir: Path, weights: Path | None, batch_size: int, engines: tuple[str, ...], rounds: int,
                  threads: int, limit: int | None) -> tuple[list[Row], list[str]]:
    """The rows of ``bench hopenet`` (module doc) and its notes (weights used, rounding floor, verdict)."""
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    from posebench.acquire.defaults import default_dir
    from posebench.imageio import read_image
    from posebench.method import FaceInput, create_method
    from posebench.methods.hopenet import nets
    from posebench.methods.hopenet.engine import cpu_threads
    from posebench.methods.hopenet.reference import original_loop
    from posebench.methods.hopenet.weights import DEFAULT_FILES
    from posebench.paths import weights_dir

    dataset = create_dataset("aflw2000", data_dir=str(data_dir or default_dir("aflw2000")))
    samples = [s for s in dataset.samples if s.image_path is not None and s.box is not None]
    samples = [s for s in samples if _readable(s.image_path)]  # damaged images are not timed
    if limit:
        samples = samples[:limit]
    if not samples:
        raise DataError(f"no images with face boxes in {data_dir}")
    paths = [s.image_path for s in samples]
    boxes = [s.box for s in samples]
    n_threads = threads or cpu_threads()
    torch.set_num_threads(n_threads)

    with tempfile.TemporaryDirectory(prefix="posebench-bench-") as tmp:
        official = weights_dir() / DEFAULT_FILES[("hopenet", "alpha1")]
        if weights is None and official.is_file():
            weights = official
        if weights is None:
            weights = Path(tmp) / "hopenet_seeded_random.pkl"
            torch.save(nets.seeded_weights("hopenet", seed=0), weights)
            kind = "SEEDED RANDOM weights (no official file found): timings are valid, angles mean nothing"
        else:
            kind = f"weights {weights}"
        methods = {e: create_method("hopenet", {"weights": str(weights), "batch_size": batch_size,
                                                "threads": n_threads, "engine": e}) for e in engines}
        net = next(iter(methods.values())).net  # the unmodified network, for the baseline

        def run_posebench(method) -> tuple[np.ndarray, float]:
            t0 = time.perf_counter()
            faces = [FaceInput.from_sample(s, read_image(s.image_path), exact=False) for s in samples]
            poses = method.estimate_batch(faces)
            dt = time.perf_counter() - t0
            return np.array([p.as_array() for p in poses]), dt

        paths_to_time = {"original loop (as written: autograd on)": lambda: _as_pair(original_loop(net, paths, boxes, grad=True)),
                         "original loop + no_grad": lambda: _as_pair(original_loop(net, paths, boxes, grad=False))}
        for e, m in methods.items():
            paths_to_time[f"posebench {e} engine, batch {batch_size}"] = (lambda m=m: run_posebench(m))

        for fn in paths_to_time.values():  # warm-up (allocators, oneDNN primitive caches)
            fn()
        times: dict[str, list[float]] = {k: [] for k in paths_to_time}
        angles: dict[str, np.ndarray] = {}
        with tqdm(total=rounds * len(paths_to_time), desc="bench hopenet", unit="pass", disable=not show_progress(),
                  leave=False) as bar:
            for _ in range(rounds):  # interleaved: every path once per round
                for name, fn in paths_to_time.items():
                    a, dt = fn()
                    times[name].append(dt)
                    angles[name] = a
                    bar.update(1)
        exact = original_loop(net, paths, boxes, grad=False, dtype=torch.float64).angles

    n = len(samples)
    base_name = next(iter(paths_to_time))
    ref = angles[base_name]
    lines = [f"posebench bench hopenet: {n} faces from {data_dir} (AFLW2000 loose-box crops), "
             f"{rounds} rounds; torch {torch.__version__}, {n_threads} threads; {kind}"]
    rows = [Row.timed("hopenet", name, ts, per=n, baseline="" if name == base_name else base_name,
                      max_diff_deg=float(np.abs(angles[name] - ref).max()),
                      note="image file to angles" + ("; SEEDED weights" if "SEEDED" in kind else ""))
            for name, ts in times.items()]
    worst = max(r.max_diff_deg for r in rows if r.case != base_name)
    floor = float(np.abs(ref - exact).max())
    lines.append(f"float32 rounding floor: the original loop differs from the same network in float64 by up to {floor:.1e} deg")
    verdict = "OK" if worst <= TOLERANCE_DEG else "EXCEEDS"
    lines.append(f"largest angle difference from the original loop: {worst:.1e} deg ({verdict}: tolerance {TOLERANCE_DEG:g} deg)")
    return finish(rows), lines


@bench.command("hopenet")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="AFLW2000-3D folder with images (.jpg next to .mat). Default: <data root>/aflw2000, "
                   "as `posebench run`.")
@click.option("--weights", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Hopenet checkpoint. Default: the official alpha1 file in the weights folder if present, "
                   "else seeded random weights (timings valid, angles meaningless).")
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(1, 512), help="Faces per forward pass.")
@click.option("--engine", "engines", multiple=True, type=click.Choice(["torch", "onnxruntime"]), default=("onnxruntime", "torch"),
              show_default=True, help="posebench engine(s) to time (repeat the option for both).")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 50), help="Timed rounds per path (median and best reported).")
@click.option("--threads", default=0, show_default="all cores", type=click.IntRange(0, 1024), help="torch threads for every path.")
@click.option("--limit", type=count(1), default=None, help="Use only the first N faces.")
def bench_hopenet(data_dir: Path, weights: Path | None, batch_size: int, engines: tuple[str, ...], rounds: int,
                  threads: int, limit: int | None) -> None:
    """Time Hopenet (ms/face) against a faithful re-implementation of the original evaluation loop
    on the real AFLW2000 sample images, and check that the angles agree to 1e-4 degrees."""
    rows, lines = hopenet_rows(data_dir, weights, batch_size, engines, rounds, threads, limit)
    click.echo(lines[0])
    click.echo(f"load after: {load()}")
    click.echo(format_rows(rows))
    for line in lines[1:]:
        click.echo(line)


def _as_pair(result) -> tuple:
    return result.angles, result.seconds


COMMANDS: list = []  # attaches to the `bench` group


def _readable(path) -> bool:
    from posebench.errors import SampleFailure
    from posebench.imageio import read_image

    try:
        read_image(path)
    except SampleFailure:
        return False
    return True
