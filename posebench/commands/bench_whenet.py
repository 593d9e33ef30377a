"""``posebench bench whenet``: WHENet's engines against a plain per-image loop, same run.

All paths start from the same decoded AFLW2000 sample images and the same crop rule, and end with
angles in degrees; each is timed for ``--rounds`` rounds after one untimed warm-up, rounds
alternating between paths (interleaved). The baseline is the authors' way of running the
network, per face:
crop, ``cv2.resize``, float64 normalisation, a batch of one through the unmodified network (NCHW,
BatchNorm as separate layers) under ``torch.no_grad``, numpy softmax expectation
(:func:`plain_loop`). Each path's time is given as a multiple of the baseline's (ratio of
medians); every path's largest angle difference from the baseline is printed. (The default
engine's own plain baseline, a bare onnxruntime session, is in ``posebench bench methods``.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import click

from posebench import create_dataset
from posebench.commands.bench import bench
from posebench.commands.bench_table import Row, finish, format_rows, load
from posebench.commands.common import count, show_progress
from posebench.errors import DataError

TOLERANCE_DEG = 1e-3


def plain_loop(net, faces, crop_box) -> np.ndarray:  # noqa: F821
    """The per-image baseline: (N, 3) degrees, one face at a time (see the module doc)."""
    import numpy as np
    import torch

    from posebench.methods.whenet.preprocess import MEAN, STD, face_crop

    out = np.zeros((len(faces), 3))
    with torch.no_grad():
        for i, face in enumerate(faces):
            img = face_crop(face.image, crop_box(face, face.image))[None]
            x = torch.from_numpy(((img / 255 - np.asarray(MEAN)) / np.asarray(STD)).astype(np.float32))
            logits = [o.numpy().astype(np.float64) for o in net(x.permute(0, 3, 1, 2).contiguous())]
            ang = []
            for lg, lo in zip(logits, (-180.0, -99.0, -99.0)):
                p = np.exp(lg - lg.max(axis=1, keepdims=True))
                p /= p.sum(axis=1, keepdims=True)
                ang.append(float((p * np.arange(lg.shape[1])).sum() * 3 + lo))
            out[i] = ang
    return out


def whenet_rows(data_dir: Path | None, weights: Path | None, batch_size: int, rounds: int, threads: int,
                limit: int | None) -> tuple[list[Row], list[str]]:
    """The rows of ``bench whenet`` (module doc) and its notes."""
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    from posebench.acquire.defaults import default_dir
    from posebench.imageio import read_image
    from posebench.method import FaceInput, create_method
    from posebench.methods.hopenet.engine import TorchEngine, cpu_threads
    from posebench.methods.whenet.nets import WHENetAngles, fold_batchnorm

    data_dir = data_dir or default_dir("aflw2000")
    samples = [s for s in create_dataset("aflw2000", data_dir=str(data_dir)).samples if s.image_path is not None]
    if limit:
        samples = samples[:limit]
    if not samples:
        raise DataError(f"no images in {data_dir}")
    faces = [FaceInput.from_sample(s, read_image(s.image_path), exact=False) for s in samples]
    n_threads = threads or cpu_threads()
    opts = {"threads": str(n_threads)}
    if weights is not None:
        opts["weights"] = str(weights)
    methods = {e: create_method("whenet", {**opts, "engine": e}) for e in ("torch", "onnxruntime")}
    torch.set_num_threads(n_threads)
    net = methods["torch"].net
    nchw = methods["torch"]
    nchw_engine = TorchEngine(WHENetAngles(fold_batchnorm(net)), channels_last=False, fold_bn=False)

    def batched(method, bs: int, engine=None) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            crops = [method.prepare(f) for f in faces]
            eng = engine or method.engine
            from posebench.methods.whenet.preprocess import to_batch

            return np.concatenate([eng(to_batch(crops[i : i + bs], eng.channels_last)) for i in range(0, len(crops), bs)])
        return run

    batch_size = min(batch_size, len(faces))  # the label says the batch that actually runs
    paths: dict[str, Callable[[], np.ndarray]] = {
        "plain per-image loop (batch 1, NCHW, BN layers)": lambda: plain_loop(net, faces, nchw.crop_box),
        "torch, batch 1 (BN folded, channels-last)": batched(methods["torch"], 1),
        f"torch, batch {batch_size} (BN folded, NCHW)": batched(nchw, batch_size, nchw_engine),
        f"torch, batch {batch_size} (BN folded, channels-last)": batched(methods["torch"], batch_size),
        "onnxruntime, batch 1": batched(methods["onnxruntime"], 1),
        f"onnxruntime, batch {batch_size}": batched(methods["onnxruntime"], batch_size),
    }
    times: dict[str, list[float]] = {k: [] for k in paths}
    angles: dict[str, np.ndarray] = {}
    for name, fn in paths.items():  # warm-up (not timed)
        angles[name] = fn()
    with tqdm(total=rounds * len(paths), desc="bench whenet", unit="pass", disable=not show_progress(), leave=False) as bar:
        for _ in range(rounds):
            for name, fn in paths.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
                bar.update(1)
    n = len(faces)
    base = next(iter(paths))
    rows = [Row.timed("whenet", name, ts, per=n, baseline="" if name == base else base,
                      max_diff_deg=float(np.abs(angles[name] - angles[base]).max()), note="crop, resize, normalise, network")
            for name, ts in times.items()]
    worst = max(r.max_diff_deg for r in rows)
    verdict = "OK" if worst <= TOLERANCE_DEG else "EXCEEDS"
    lines = [f"posebench bench whenet: {n} faces from {data_dir} (crop loose68), {rounds} interleaved rounds; "
             f"torch {torch.__version__}, {n_threads} threads",
             f"largest angle difference from the plain loop: {worst:.1e} deg ({verdict}: tolerance {TOLERANCE_DEG:g} deg)"]
    return finish(rows), lines


@bench.command("whenet")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="AFLW2000-3D folder with images (.jpg next to .mat); default: <data root>/aflw2000 "
                   "(`posebench data download aflw2000`).")
@click.option("--weights", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="WHENet.h5; default: <weights folder>/whenet/WHENet.h5.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(2, 512),
              help="Faces per forward pass of the batched paths.")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 50), help="Timed rounds per path.")
@click.option("--threads", default=0, show_default="all cores", type=click.IntRange(0, 1024), help="torch/onnxruntime threads.")
@click.option("--limit", type=count(1), default=None, help="Use only the first N faces.")
def bench_whenet(data_dir: Path | None, weights: Path | None, batch_size: int, rounds: int, threads: int, limit: int | None) -> None:
    """Time WHENet (ms/face) at batch 1 and batch --batch-size, torch (channels-last or not) and
    onnxruntime, against a plain per-image loop measured in the same run; check the angles agree."""
    rows, lines = whenet_rows(data_dir, weights, batch_size, rounds, threads, limit)
    click.echo(lines[0])
    click.echo(f"load after: {load()}")
    click.echo(format_rows(rows))
    click.echo(lines[1])

COMMANDS: list = []  # attaches to the `bench` group
