"""``posebench bench engines``: each network's engines side by side (agreement and speed), and
its int8 gate.

For WHENet and FSA-Net (``onnx-headpose``), the faces of the AFLW2000 images are prepared once
(the method's own crop and normalisation), then every engine runs the same inputs at batch 1 and
at ``--batch-size``: rounds interleaved across engines, median and best ms/face, each engine's
speed as a ratio of medians against onnxruntime at the same batch size, measured in the same run;
the machine's load is printed before and after. Ratios are ``Nx the baseline's time``. Agreement: every engine's largest wrapped angle
difference from the reference engine (WHENet: torch, the ported network itself; FSA-Net:
onnxruntime, the authors' ONNX files). With ``--int8`` each method is also asked for
``precision=int8`` calibrated and checked on the same images: the gate's refusal is printed
(WHENet), or the admitted int8 network is timed too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from posebench.commands.bench import bench
from posebench.commands.bench_table import Row, finish, format_rows, interleave, load
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


def engines_rows(data_dir: Path, whenet_weights: str | None, fsanet_dir: str | None, batch_size: int, rounds: int,
                 threads: int, limit: int | None, int8: bool, chosen: list[str],
                 progress: Callable[[], None] | None = None) -> list[Row]:
    """The rows of ``bench engines`` (module doc): per method, engine and batch size, ms/face
    against onnxruntime at the same batch, the largest angle difference from the reference engine;
    a row ``int8 gate`` with what the gate decided."""
    from posebench import create_dataset
    from posebench.engines import angle_error
    from posebench.imageio import read_image
    from posebench.method import FaceInput, create_method
    from posebench.methods.hopenet.engine import cpu_threads

    samples = [s for s in create_dataset("aflw2000", data_dir=str(data_dir)).samples if s.image_path is not None][:limit]
    if not samples:
        raise DataError(f"no images in {data_dir}")
    faces = [FaceInput.from_sample(s, read_image(s.image_path), exact=False) for s in samples]
    n, n_threads = len(faces), threads or cpu_threads()
    batch = min(batch_size, n)
    setups = {"whenet": ("whenet", {"weights": whenet_weights} if whenet_weights else {}, ("torch", "onnxruntime", "openvino"), "torch"),
              "fsanet": ("onnx-headpose", {"model_dir": fsanet_dir} if fsanet_dir else {}, ("onnxruntime", "openvino"), "onnxruntime")}
    rows: list[Row] = []
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
                gate = f"refused: {exc}"
        angles = {name: fn(batch) for name, fn in paths.items()}  # warm-up, and the agreement check
        calls = {f"{name} batch {b}": (lambda fn=fn, b=b: fn(b)) for name, fn in paths.items() for b in (1, batch)}
        times, _ = interleave(calls, rounds, progress)
        for name in paths:
            for b in (1, batch):
                case = f"{name} batch {b}"
                rows.append(Row.timed(f"engines {key}", case, times[case], per=n,
                                      baseline="" if name == "onnxruntime" else f"onnxruntime batch {b}",
                                      max_diff_deg=float(angle_error(angles[name], angles[ref]).max()),
                                      note=f"network only; {n_threads} threads; max |d| from {ref}"))
        if gate:
            rows.append(Row(f"engines {key}", "int8 gate", note=gate))
    return finish(rows)


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
    from tqdm.auto import tqdm

    from posebench.acquire.defaults import default_dir
    from posebench.commands.common import show_progress

    chosen = [m.strip() for m in methods.split(",") if m.strip()]
    if not chosen or set(chosen) - {"whenet", "fsanet"}:
        raise UsageError(f"--methods must name whenet and/or fsanet, got {methods!r}")
    data_dir = data_dir or default_dir("aflw2000")
    click.echo(f"posebench bench engines: faces from {data_dir}, batch 1 and {batch_size}, {rounds} interleaved rounds; "
               f"load {load()}")
    with tqdm(desc="bench engines", unit="pass", disable=not show_progress(), leave=False) as bar:
        rows = engines_rows(data_dir, whenet_weights, fsanet_dir, batch_size, rounds, threads, limit, int8, chosen,
                            lambda: bar.update(1))
    click.echo(format_rows(rows))
    click.echo(f"load after: {load()}")
    click.echo("ms/face: network only (inputs prepared once); time vs baseline: ratio of medians against onnxruntime "
               "at the same batch size")


COMMANDS: list = []  # attaches to the `bench` group
