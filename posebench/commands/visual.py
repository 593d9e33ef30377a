"""``posebench draw``, ``posebench gallery``, ``posebench report`` and ``posebench video``."""

from __future__ import annotations

from pathlib import Path

import click

from posebench.commands.common import count, finite, parse_kv, results_option, show_progress
from posebench.detect import BUILTIN_DETECTORS
from posebench.limits import MAX_BATCH_SIZE, MAX_CAMERA

detector_options = [
    click.option("--detector", default=None, metavar="NAME",
                 help=f"Face detector for images without a label beside them ({', '.join(BUILTIN_DETECTORS)} "
                      "or any registered detector). Default: the method's face source, as in the API and "
                      "`posebench predict` (its -o box=...; box=auto: YuNet where installed, else dlib-hog)."),
    click.option("--detector-model", type=click.Path(dir_okay=False), default=None,
                 help="Detector file (YuNet ONNX, dlib CNN weights)."),
]


def _with(options):
    def deco(f):
        for opt in reversed(options):
            f = opt(f)
        return f
    return deco


@click.command("draw")
@click.option("--method", "-m", "method_name", required=True, help="Method name (see `posebench methods`).")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE", help="Method option (repeatable).")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the drawn images (<stem>-<method>.jpg).")
@_with(detector_options)
@click.option("--no-labels", is_flag=True, help="Ignore .mat labels beside the images (always detect).")
@click.option("--overwrite", is_flag=True, help="Replace existing drawn images in --out.")
def draw_cmd(method_name, options, images, out_dir, detector, detector_model, no_labels, overwrite) -> None:
    """Draw each image's face box, landmarks (where the method has them), pose axes (blue: front
    of the face, green: down, red: side; paper Figure 1) and angles.

    An image with an AFLW2000-style NAME.mat beside it uses that label's box and landmarks (and
    the label's angles are written too); other images use the detector's largest face.
    """
    from posebench.method import create_method
    from posebench.visual.draw import draw_images, drawn_targets

    drawn_targets(method_name, list(images), out_dir, overwrite)  # before the method loads
    method = create_method(method_name, parse_kv(options))
    for line in draw_images(method, list(images), out_dir, detector=detector, detector_model=detector_model,
                            use_labels=not no_labels, overwrite=overwrite):
        click.echo(line)



@click.command("gallery")
@click.argument("run_key", required=False)
@click.option("--method", "-m", "method_name", default=None, help="Method name (with --dataset): its newest run.")
@click.option("--dataset", "-d", "dataset_name", default=None, help="Dataset name (with --method).")
@click.option("--worst", "-n", type=count(1), default=12, show_default=True, help="Samples shown.")
@click.option("--by", type=click.Choice(["err_mean", "geodesic", "err_yaw", "err_pitch", "err_roll"]),
              default="err_mean", show_default=True, help="Per-sample error to rank by.")
@click.option("--data-dir", type=click.Path(), default=None, help="Dataset folder (default: the one the run record names).")
@results_option
def gallery_cmd(run_key, method_name, dataset_name, worst, by, data_dir, results_dir) -> None:
    """Contact sheet (PNG) and HTML page of a run's worst samples, ground truth and prediction side
    by side, written to <results-dir>/galleries/<run>/ and linked from the leaderboard."""
    from posebench.visual.gallery import find_run, make_gallery

    run, note = find_run(results_dir, run_key, method_name, dataset_name)
    if note:
        click.echo(note, err=True)
    out = make_gallery(run, results_dir, worst, by, data_dir)
    if out["warning"]:
        click.echo(f"warning: {out['warning']}", err=True)
    click.echo(f"{run.stem}: {len(out['ids'])} worst by {by} ({', '.join(out['ids'][:5])}"
               f"{', ...' if len(out['ids']) > 5 else ''}); {out['n_failed']} failed samples listed")
    click.echo(f"  {out['sheet']}\n  {out['html']}")





@click.command("report")
@results_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Report folder (default: <results-dir>/report).")
def report_cmd(results_dir, out_dir) -> None:
    """Write a self-contained HTML report of a results folder: the leaderboard, each study's table
    and figure, each run's options and per-|yaw|-bin errors, and the galleries."""
    from posebench.visual.report import make_report

    info = make_report(results_dir, out_dir)
    click.echo(f"report of {info['runs']} runs, {info['studies']} studies, {info['galleries']} galleries: {info['index']}")



@click.command("video")
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.option("--method", "-m", "method_name", required=True, help="Method name (see `posebench methods`).")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE", help="Method option (repeatable).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output video with the drawn poses (.mp4, .avi, .mkv, ...).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV of per-frame results: frame, time_s, box, yaw, pitch, roll (drawn), raw angles, failure.")
@click.option("--smooth", type=finite(0, 1, hi_open=True), default=0.0, show_default=True,
              help="Temporal smoothing: weight of the previous estimate in an exponential moving average, "
                   "0 <= a < 1 (0 = off).")
@click.option("--camera", type=count(0, MAX_CAMERA), default=None, help="Read from this camera index instead of a file (live; Ctrl-C stops).")
@click.option("--batch", type=count(1, MAX_BATCH_SIZE), default=None,
              help="Frames per estimate call (default: min(method batch size, 16); 1 for a camera).")
@click.option("--codec", default=None, help="FourCC of the output (default from the extension: mp4v for .mp4, MJPG for .avi).")
@click.option("--max-frames", type=count(1), default=None, help="Stop after this many frames.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out / --csv file.")
@_with(detector_options)
def video_cmd(source, method_name, options, out, csv_path, smooth, camera, batch, codec, max_frames, overwrite,
              detector, detector_model) -> None:
    """Estimate the head pose in every frame of a video (or a camera), draw it, and write the
    video and a per-frame CSV. Prints frames per second. Ctrl-C keeps the frames done so far."""
    from posebench.errors import UsageError
    from posebench.method import create_method
    from posebench.visual.video import check_video_outputs, process_video

    if (source is None) == (camera is None):
        raise UsageError("give either a video file or --camera INDEX")
    check_video_outputs(camera if camera is not None else source, out, csv_path, overwrite)  # before the method loads
    method = create_method(method_name, parse_kv(options))
    s = process_video(camera if camera is not None else source, method, out, csv_path, smooth=smooth, batch=batch,
                      detector=detector, detector_model=detector_model, codec=codec, max_frames=max_frames,
                      progress=show_progress(), overwrite=overwrite)
    fails = "; ".join(f"{k} x{v}" for k, v in s.failures.items())
    click.echo(f"{s.frames} frames in {s.seconds:.2f} s: {s.fps:.1f} fps ({s.failed} without a pose"
               f"{': ' + fails if fails else ''})")
    click.echo(f"  video: {out}" + (f"\n  csv: {csv_path}" if csv_path else ""))
    if s.interrupted:
        click.echo(f"interrupted: {out} holds the {s.frames} frames done", err=True)
        raise SystemExit(130)
COMMANDS = [draw_cmd, gallery_cmd, report_cmd, video_cmd]
