"""``posebench predict``: every face's pose in your own images, folders and videos, as a table."""

from __future__ import annotations

import os
from pathlib import Path

import click

from posebench.commands.common import count, on_interrupt, parse_kv, results_option, show_progress
from posebench.limits import MAX_CAMERA


def split_options(names: list[str], pairs: dict[str, str]) -> dict[str, dict[str, str]]:
    """``-o KEY=VALUE`` for every method, ``-o METHOD.KEY=VALUE`` for one: the options of each
    method in ``names``. :class:`UsageError` for ``METHOD.`` naming a method not given."""
    from posebench.errors import UsageError

    out: dict[str, dict[str, str]] = {n: {} for n in names}
    for key, value in pairs.items():
        head, dot, rest = key.partition(".")
        if dot and head in out:
            out[head][rest] = value
        elif dot and len(names) > 1 and rest and head not in out:
            raise UsageError(f"option {key!r} names method {head!r}, which is not among -m {', '.join(names)}")
        else:
            for n in names:
                out[n][key] = value
    return out


def _draw_targets(sources, draw_dir: Path, method_names: list[str], table: Path | None = None,
                  overwrite: bool = False) -> dict[tuple[str, str], Path]:
    """``{(source name, method): drawn image path}``: each image's path below the inputs' common
    folder, as ``<stem>-<method>.jpg`` (``<name>-<method>.jpg`` where two stems would meet).
    The output rule (:func:`posebench.outputs.check_outputs`): :class:`UsageError` when a target
    would be one of the inputs or the ``--out`` table (by path or inode), or (without
    ``overwrite``) exists already: a user's ``photo-whenet.jpg`` is not replaced."""
    from posebench.fileio import shown

    images = [s for s in sources if s.kind == "image"]
    if not images:
        return {}
    parents = [os.path.dirname(os.path.abspath(s.path)) for s in images]
    common = os.path.commonpath(parents)
    rel = {s.name: Path(os.path.relpath(os.path.abspath(s.path), common)) for s in images}
    stems: dict[Path, int] = {}
    for r in rel.values():
        stems[r.with_suffix("")] = stems.get(r.with_suffix(""), 0) + 1
    out = {}
    for s in images:
        r = rel[s.name]
        base = r.with_suffix("") if stems[r.with_suffix("")] == 1 else r
        for m in method_names:
            out[(s.name, m)] = draw_dir / base.parent / f"{base.name}-{m}.jpg"
    from posebench.outputs import check_outputs

    inputs = {f"input {shown(s.path)}": s.path for s in sources if s.path is not None}
    if table is not None:
        inputs["--out table"] = table
    check_outputs({f"--draw image {shown(t)}": t for t in out.values()}, inputs, overwrite)
    return out


@click.command("predict")
@click.argument("paths", nargs=-1, type=str, metavar="PATH...")
@click.option("--method", "-m", "method_names", multiple=True, required=True,
              help="Image method (repeatable: rows of each; see `posebench methods`).")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
              help="Method option (repeatable); with several methods METHOD.KEY=VALUE sets one method's.")
@click.option("--faces", type=click.Choice(["all", "largest"]), default="all", show_default=True,
              help="Every face the method's detector finds, or the largest only.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Table to write (.csv, .jsonl or .parquet; written when complete). Default: CSV on stdout.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default=None,
              help="Table format (default: from --out's suffix; csv on stdout).")
@click.option("--matrix", is_flag=True, help="Add the rotation matrix (r00..r22, applied to the y-up face model).")
@click.option("--draw", "draw_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the drawn images (<stem>-<method>.jpg, every face; images only).")
@click.option("--camera", "cameras", type=count(0, MAX_CAMERA), multiple=True, metavar="INDEX",
              help="Also read this camera (live; with --max-frames, or Ctrl-C ends the capture).")
@click.option("--max-frames", type=count(1), default=None, help="Frames read per video or camera.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the prediction cache.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out table or --draw images.")
@results_option
def predict_cmd(paths, method_names, options, faces, out, fmt, matrix, draw_dir, cameras, max_frames, no_cache,
                overwrite, results_dir) -> None:
    """Head pose of every face in images, folders (searched recursively), glob patterns and
    videos: one row per face and method (file, frame, face, n_faces, box, detector, score,
    yaw/pitch/roll in degrees, failure).

    Each method finds faces with its own face source (-o box=...; by default YuNet where
    `posebench data download yunet` installed it, else dlib's HOG; `dlib` keeps its authors'
    HOG). No labels are read. Predictions are cached per file content: a re-run is served from
    the cache and an interrupted run resumes. Examples:

    \b
      posebench predict photos/ -m whenet --out poses.csv
      posebench predict 'shots/**/*.jpg' clip.mp4 -m whenet -m onnx-headpose \\
          -o onnx-headpose.model_dir=DIR --out poses.jsonl
    """
    from posebench.errors import UsageError
    from posebench.fileio import shown, write_atomic
    from posebench.inference import PredictStats, check_image_method, check_output, expand_inputs, predict, table_bytes, table_format
    from posebench.registry import methods

    if not paths and not cameras:
        raise UsageError("give image or video files, folders or glob patterns (or --camera INDEX)")
    names = list(dict.fromkeys(method_names))
    for n in names:  # an unknown name or a label method: one line, before any option is read
        methods.get(n)
    per = split_options(names, parse_kv(options))
    sources = expand_inputs(list(paths), cameras)
    if out is not None:  # the output rule, before any method loads
        check_output(out, sources, overwrite=overwrite)
    fmt = table_format(out, fmt)
    targets = {}
    if draw_dir is not None:
        from posebench.fileio import writable_folder

        writable_folder(draw_dir, "--draw folder")
        targets = _draw_targets(sources, draw_dir, names, out, overwrite)
    made = [methods.create(n, per[n]) for n in names]
    for m in made:
        check_image_method(m)
    if not no_cache:
        from posebench.fileio import writable_folder

        writable_folder(Path(results_dir) / "cache", "results folder (cache)")
    on_image = _drawer(targets) if draw_dir is not None else None
    on_interrupt("finished images and frames are cached; run the same command again to resume "
                 "(no table was written)")
    stats = PredictStats()
    table = predict(list(paths), made, faces=faces, matrix=matrix, cameras=cameras, max_frames=max_frames,
                    results_dir=results_dir, cache=not no_cache, progress=show_progress(), on_image=on_image,
                    stats=stats)
    data = table_bytes(table, fmt)
    if out is None:
        click.echo(data.decode("utf-8", "surrogateescape"), nl=False)
    else:
        write_atomic(out, data)
    seen = stats.images + stats.frames
    click.echo(f"{len(table)} rows: {stats.faces} faces with a pose, {stats.failed} rows without "
               f"({stats.images} images, {stats.frames} video frames, {len(made)} method{'s' * (len(made) > 1)}) "
               f"in {stats.seconds:.2f} s; {stats.from_cache} of {seen * len(made)} images/frames from the cache",
               err=True)
    if out is not None:
        click.echo(f"  table: {shown(out)}", err=True)
    if targets:
        click.echo(f"  drawn: {shown(draw_dir)} ({sum(1 for t in targets.values() if t.exists())} images)", err=True)


def _drawer(targets):
    """An ``on_image`` callback for :func:`posebench.inference.predict` that draws every face of
    an image (box, axes, angles; failures noted) and writes it atomically to its target."""
    from posebench.fileio import write_atomic
    from posebench.pose import Pose
    from posebench.visual.draw import draw_pose, encode_image

    def draw(method, source, frame, image, records) -> None:
        target = targets.get((source.name, method.name))
        if target is None or source.kind != "image":
            return
        out = image
        legend = [method.label()]
        for i, rec in enumerate(records or []):
            box = rec.get("box")
            if rec.get("pred") is None:
                out = draw_pose(out, None, box=box, text=[f"#{i}"] if box else None)
                legend.append(f"#{i} failed: {rec.get('fail')}" if box else f"failed: {rec.get('fail')}")
                continue
            p = Pose.from_array(rec["pred"])
            out = draw_pose(out, p, box=box, text=[f"#{i}"])  # the face's number beside it ...
            legend.append(f"#{i} yaw {p.yaw:+.1f} pitch {p.pitch:+.1f} roll {p.roll:+.1f}")
        out = draw_pose(out, None, face=(0, 0, 0, 0), text=legend)  # ... its angles in one block, top left
        write_atomic(target, encode_image(out, ".jpg"))

    return draw


COMMANDS = [predict_cmd]
