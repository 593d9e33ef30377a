"""``posebench bench dlib-boxes``: dlib's 68-point pipeline fed by YuNet boxes calibrated to HOG's
geometry (:mod:`posebench.boxcal`) against dlib's own HOG detector (issue 24, acceptance 2).

Three paths on the same decoded AFLW2000 images (decoding not timed), each finding its own face
(the protocol box is withheld), one image per call: ``box=dlib-hog`` (the baseline),
``box=yunet`` with ``calibration=auto`` and with ``calibration=none`` (the raw YuNet box). Passes
interleaved, ``--repeats`` of them; ms per image (min, median) and the ratio of medians against
HOG; the MAE (mean of yaw, pitch, roll absolute wrapped errors, degrees) over the faces each finds,
and over the faces all three find (the issue's goal: calibrated YuNet at most 0.2 deg above HOG
there, at most 1/3 of its time).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from posebench.commands.bench import bench
from posebench.commands.bench_table import Row, finish, format_rows, interleave, load
from posebench.commands.common import count
from posebench.errors import DataError

BASELINE = "dlib, box=dlib-hog"


def mae(poses: list, truths: list) -> list[float | None]:
    """Per face: mean absolute wrapped error of (yaw, pitch, roll) in degrees; None for a failure."""
    from posebench.errors import SampleFailure

    out: list[float | None] = []
    for p, t in zip(poses, truths):
        if isinstance(p, SampleFailure) or p is None:
            out.append(None)
            continue
        d = [abs((a - b + 180.0) % 360.0 - 180.0) for a, b in ((p.yaw, t.yaw), (p.pitch, t.pitch), (p.roll, t.roll))]
        out.append(sum(d) / 3.0)
    return out


def boxes_rows(data_dir: Path, yunet: Path, repeats: int, limit: int | None,
               progress: Callable[[], None] | None = None) -> list[Row]:
    """The three paths' rows (see the module doc); ``note`` holds the MAEs and faces found."""
    from posebench import create_dataset
    from posebench.imageio import read_image
    from posebench.method import FaceInput, create_method

    if not yunet.is_file():
        raise DataError(f"YuNet model not found: {yunet} (posebench data download yunet, or pass --yunet-model)")
    ds = create_dataset("aflw2000", data_dir=str(data_dir)).subset(limit)
    samples = [s for s in ds.samples if s.image_path is not None]
    if not samples:
        raise DataError(f"no images in {data_dir}")
    images = [read_image(s.image_path) for s in samples]
    faces = [FaceInput(im, (im.shape[1], im.shape[0]), id=s.id) for im, s in zip(images, samples)]
    truths = [s.pose for s in samples]
    methods = {BASELINE: create_method("dlib", {"box": "dlib-hog"}),
               "dlib, box=yunet calibrated": create_method("dlib", {"box": "yunet", "detector_model": str(yunet)}),
               "dlib, box=yunet raw": create_method("dlib", {"box": "yunet", "detector_model": str(yunet),
                                                              "calibration": "none"})}
    for m in methods.values():
        m.estimate_batch(faces[:1])  # warm-up: models loaded

    def path(m) -> Callable[[], list]:
        return lambda: [m.estimate_batch([f])[0] for f in faces]

    times, outs = interleave({k: path(m) for k, m in methods.items()}, repeats, progress)
    errs = {k: mae(v[-1], truths) for k, v in outs.items()}
    common = [i for i in range(len(faces)) if all(e[i] is not None for e in errs.values())]
    rows = []
    for k, e in errs.items():
        found = [x for x in e if x is not None]
        both = [e[i] for i in common]
        note = (f"MAE {sum(found) / max(1, len(found)):.2f} deg on the {len(found)} of {len(faces)} faces it finds; "
                f"{sum(both) / max(1, len(both)):.2f} deg on the {len(both)} all three find")
        rows.append(Row.timed("dlib-boxes", k, times[k], per=len(faces), unit="ms/image",
                              baseline="" if k == BASELINE else BASELINE, note=note))
    return finish(rows)


@bench.command("dlib-boxes")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="AFLW2000 folder with images (default: <data root>/aflw2000).")
@click.option("--yunet-model", type=click.Path(path_type=Path), default=None,
              help="YuNet ONNX (default: <weights folder>/yunet/yunet_n_dynamic.onnx).")
@click.option("--repeats", type=count(1), default=3, show_default=True, help="Interleaved passes per path.")
@click.option("--limit", type=count(1), default=None, help="Use only the first N images.")
def bench_dlib_boxes(data_dir, yunet_model, repeats, limit) -> None:
    """dlib with calibrated YuNet boxes (and raw ones) against dlib's HOG: ms/image and MAE, interleaved."""
    from tqdm.auto import tqdm

    from posebench.acquire.defaults import default_dir
    from posebench.commands.common import show_progress
    from posebench.detect import default_yunet_path

    click.echo(f"posebench bench dlib-boxes: load {load()}")
    with tqdm(total=3 * repeats, desc="bench dlib-boxes", unit="pass", disable=not show_progress(), leave=False) as bar:
        rows = boxes_rows(Path(data_dir or default_dir("aflw2000")), Path(yunet_model or default_yunet_path()),
                          repeats, limit, lambda: bar.update(1))
    click.echo(format_rows(rows))
    click.echo(f"load after: {load()}")


COMMANDS: list = []  # a subcommand of `bench`
