"""Head pose on video: per-frame estimates, the drawn overlay, and a CSV of per-frame angles.

Frames are read and written with OpenCV (``cv2.VideoCapture`` / ``cv2.VideoWriter``; a file or
a camera index). Each frame: the face detector runs (:mod:`posebench.visual.faces`, largest
face), frames are collected into batches and the method estimates a whole batch at once
(``Method.estimate_batch``; a batching method such as ``onnx-headpose`` runs one network call per
batch), the pose is drawn (:func:`posebench.visual.draw.draw_pose`) and written out.

Temporal smoothing is off by default. ``smooth=a`` (0 <= a < 1) is an exponential moving average
of each angle, ``s_t = s_{t-1} + (1 - a) * wrap(p_t - s_{t-1})`` with differences wrapped to
(-180, 180]; it restarts after a frame without a pose. The CSV holds the raw and the drawn
(smoothed) angles.

A frame without a face (or a failed estimate) is written with its reason on it and becomes a CSV
row with empty angles and the reason in ``failure``. The video and CSV are written to hidden
temporary files and renamed at the end, also after Ctrl-C (:class:`KeyboardInterrupt`), so the
output is always a finished, playable file holding the frames done so far.
"""

from __future__ import annotations

import csv
import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posebench.errors import DataError, SampleFailure, UsageError
from posebench.fileio import existing_file
from posebench.method import Method
from posebench.metrics import wrap_degrees
from posebench.pose import Pose

#: FourCC used for each output container unless ``codec=`` is given.
CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID"}
CSV_COLUMNS = ["frame", "time_s", "x_min", "y_min", "x_max", "y_max", "yaw", "pitch", "roll",
               "raw_yaw", "raw_pitch", "raw_roll", "failure"]


def _quiet(fn):
    """Run ``fn`` with OpenCV's and FFmpeg's own messages silenced (their backends print several
    lines to stderr for a file they cannot open; posebench reports one line instead)."""
    import sys

    import cv2

    old = None
    try:
        old = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:  # pragma: no cover - builds without the logging module
        pass
    saved = None
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:  # pragma: no cover - no real stderr descriptor
        saved = None
    try:
        return fn()
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
        if old is not None:
            cv2.utils.logging.setLogLevel(old)


def _check_frame_size(cap, what: str) -> None:
    """Refuse (:class:`DataError`, the capture released) frames the container declares larger than
    the image readers' bound (:func:`posebench.imageio.max_pixels`), before one is decoded."""
    import cv2

    from posebench.imageio import max_pixels

    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
    limit = max_pixels()
    if w * h > limit:
        cap.release()
        raise DataError(f"cannot read {what}: frames of {w}x{h} pixels (limit {limit:,}; POSEBENCH_MAX_IMAGE_PIXELS)")


def open_source(source: str | Path | int):
    """``(capture, first frame)`` for a file or a camera index, checked: it opens and yields a
    frame. The first frame is read here and handed back (never re-read by seeking: a raw MJPEG
    stream or a pipe cannot seek, and a failed rewind would drop it). Raises :class:`UsageError`
    for a negative camera index and :class:`DataError` naming the file (or camera)."""
    import cv2

    if isinstance(source, int):
        if source < 0:  # OpenCV's "any camera" index, which crashes some backends
            raise UsageError(f"--camera must be a camera index 0, 1, ..., got {source}")
        cap = _quiet(lambda: cv2.VideoCapture(source))
        if not cap.isOpened():
            raise DataError(f"cannot open camera {source}")
        _check_frame_size(cap, f"camera {source}")
        ok, first = cap.read()
        if not ok:
            cap.release()
            raise DataError(f"camera {source} gives no frame")
        return cap, first
    p = existing_file(source, "video", DataError)
    cap = _quiet(lambda: cv2.VideoCapture(str(p)))
    if not cap.isOpened():
        raise DataError(f"cannot read video {p}: OpenCV cannot open it (not a video, or no codec for it)")
    _check_frame_size(cap, f"video {p}")
    ok, first = cap.read()
    if not ok:
        cap.release()
        raise DataError(f"cannot read video {p}: no frame could be decoded")
    return cap, first


def check_written(path: Path, frames: int) -> None:
    """Check that the video file ``path`` opens and holds ``frames`` frames, read back by OpenCV
    (a write that failed half-way, e.g. on a full disk, leaves a file OpenCV's writer never
    reported). Raises :class:`DataError` naming the file."""
    import cv2

    cap = _quiet(lambda: cv2.VideoCapture(str(path)))
    try:
        got = 0
        if cap.isOpened():
            while got < frames and cap.grab():
                got += 1
    finally:
        cap.release()
    if got < frames:
        raise DataError(f"the video could not be written completely ({got} of {frames} frames read back; "
                        "disk full?): nothing was kept")


def partial_pattern(path: Path, video: bool) -> str:
    """The regular expression (``pid`` group: the writing process) of the hidden partial file of
    output ``path``: ``.<stem>.partial<pid><suffix>`` for the video, ``.<name>.partial<pid>`` for the CSV."""
    import re

    path = Path(path)
    if video:
        return re.escape(f".{path.stem}.partial") + r"(?P<pid>\d+)" + re.escape(path.suffix)
    return re.escape(f".{path.name}.partial") + r"(?P<pid>\d+)"


def open_writer(path: Path, fps: float, size: tuple[int, int], codec: str | None = None):
    """``(writer, temporary path)`` for ``path`` (the temporary file is renamed by :func:`finish`).
    Raises :class:`UsageError` for an unknown container and :class:`DataError` naming the file
    when OpenCV cannot write it with that codec."""
    import cv2

    path = Path(path)
    suffix = path.suffix.lower()
    if codec is None:
        if suffix not in CODECS:
            raise UsageError(f"cannot tell the video format of {path.name}: use one of {', '.join(CODECS)} "
                             "(or --codec FOURCC)")
        codec = CODECS[suffix]
    if len(codec) != 4:
        raise UsageError(f"--codec must be a four-character code such as mp4v or MJPG, got {codec!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{os.getpid()}{path.suffix}")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*codec), float(fps), size)
    if not writer.isOpened():
        writer.release()
        if tmp.exists():
            tmp.unlink()
        raise DataError(f"OpenCV cannot write {path.name} with codec {codec} (try .mp4 with mp4v or .avi with MJPG)")
    return writer, tmp


def _discard(writer, csv_fh, *tmps: Path | None) -> None:
    """Close what is open and remove the temporary files (an error: nothing half-written is kept)."""
    for closer in (writer.release if writer is not None else None, csv_fh.close if csv_fh is not None else None):
        if closer is not None:
            try:
                closer()
            except OSError:
                pass
    for tmp in tmps:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def check_video_outputs(source: str | Path | int, out: Path, csv_path: Path | None = None,
                        overwrite: bool = False) -> None:
    """The output rule of ``posebench video`` (:func:`posebench.outputs.check_outputs`): ``out``
    and ``csv_path`` are neither the source nor one file, exist only with ``overwrite``, and the
    video is not given a ``.csv`` name (nor the CSV a video's); then the hidden partial files a
    killed run left for them are removed. Raises :class:`UsageError`."""
    from posebench.outputs import check_outputs, remove_stale_partials

    outputs = {"--out": Path(out)} | ({"--csv": Path(csv_path)} if csv_path is not None else {})
    check_outputs(outputs, {} if isinstance(source, int) else {"source video": Path(source)}, overwrite)
    if Path(out).suffix.lower() == ".csv" or (csv_path is not None and Path(csv_path).suffix.lower() in CODECS):
        raise UsageError(f"--out is the video and --csv the table: got --out {Path(out).name}"
                         f"{'' if csv_path is None else f' and --csv {Path(csv_path).name}'}")
    for what, path in outputs.items():  # left by a killed run
        remove_stale_partials(path.parent, partial_pattern(path, what == "--out"))


class Smoother:
    """Exponential moving average of (yaw, pitch, roll) with wrapped differences (see module doc)."""

    def __init__(self, alpha: float):
        if not 0.0 <= alpha < 1.0:
            raise UsageError(f"--smooth must be in [0, 1) (0 = off), got {alpha}")
        self.alpha = float(alpha)
        self.state: np.ndarray | None = None

    def __call__(self, pose: Pose | None) -> Pose | None:
        if pose is None:
            self.state = None
            return None
        p = pose.as_array()
        if self.alpha == 0.0 or self.state is None:
            self.state = p
        else:
            self.state = wrap_degrees(self.state + (1.0 - self.alpha) * wrap_degrees(p - self.state))
        return Pose.from_array(self.state)


@dataclass
class VideoSummary:
    frames: int = 0
    failed: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    failures: dict[str, int] = field(default_factory=dict)
    out: Path | None = None
    csv: Path | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def process_video(
    source: str | Path | int,
    method: Method,
    out: Path,
    csv_path: Path | None = None,
    *,
    smooth: float = 0.0,
    batch: int | None = None,
    detector: str | None = None,
    detector_model: str | None = None,
    codec: str | None = None,
    max_frames: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> VideoSummary:
    """Estimate, draw and write every frame of ``source`` (see the module doc); returns counts
    and timing (``fps`` = frames per second of the whole loop: read, detect, estimate, draw, write).

    ``out`` and ``csv_path`` must differ from the source and from each other (compared by
    resolved path and inode) and must not exist unless ``overwrite``
    (:func:`posebench.outputs.check_outputs`; :class:`UsageError` before anything is read). On an
    error (a full disk) neither output is kept and no partial file is left (:class:`DataError`)."""
    import cv2

    from posebench.visual.draw import draw_pose
    from posebench.visual.faces import FaceFinder, check_method_takes_images, estimate

    check_method_takes_images(method, have_labels=False)
    smoother = Smoother(smooth)
    check_video_outputs(source, out, csv_path, overwrite)
    cap, first = open_source(source)
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    fps = fps if 0 < fps < 1000 else 30.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if not isinstance(source, int) else 0
    if max_frames:
        total = min(total, max_frames) if total else max_frames
    finder = FaceFinder(method, detector, detector_model, use_labels=False)
    step = int(batch) if batch else (1 if isinstance(source, int) else max(1, min(int(method.batch_size), 16)))
    summary = VideoSummary(out=Path(out), csv=Path(csv_path) if csv_path else None)
    writer = tmp_video = None
    csv_fh = tmp_csv = None
    from tqdm.auto import tqdm

    bar = tqdm(total=total or None, unit="frame", desc=f"{method.name} video", disable=not progress,
               dynamic_ncols=True, leave=False)
    t0 = time.perf_counter()
    try:
        if csv_path is not None:
            csv_path = Path(csv_path)
            csv_path.parent.mkdir(parents=True, exist_ok=True)
            tmp_csv = csv_path.with_name(f".{csv_path.name}.partial{os.getpid()}")
            csv_fh = tmp_csv.open("w", newline="", encoding="utf-8")
            csv.writer(csv_fh).writerow(CSV_COLUMNS)
        index = 0
        done = False
        while not done:
            frames = []
            while len(frames) < step and not (max_frames and index + len(frames) >= max_frames):
                if first is not None:
                    ok, bgr, first = True, first, None
                else:
                    ok, bgr = cap.read()
                if not ok:
                    done = True
                    break
                frames.append(bgr)
            if max_frames and index + len(frames) >= max_frames:
                done = True
            if not frames:
                break
            if writer is None:
                h, w = frames[0].shape[:2]
                writer, tmp_video = open_writer(Path(out), fps, (w, h), codec)
            rgb = [np.ascontiguousarray(f[:, :, ::-1]) for f in frames]
            faces, where, results = [], [], [None] * len(rgb)
            for j, img in enumerate(rgb):
                try:
                    face, _ = finder.face(img)
                    faces.append(face)
                    where.append(j)
                except SampleFailure as exc:
                    results[j] = (None, exc.reason)
            for j, face, pose in zip(where, faces, estimate(method, faces) if faces else []):
                results[j] = (face, pose.reason) if isinstance(pose, SampleFailure) else (face, pose)
            rows = []
            for j, img in enumerate(rgb):
                face, res = results[j] if results[j] is not None else (None, "no face")
                raw = res if isinstance(res, Pose) else None
                shown = smoother(raw)
                box = face.box if face is not None else None
                drawn = draw_pose(img, shown, box=box, note=None if raw else f"{method.name}: {res}",
                                  text=None if shown is None else [
                                      method.name, f"yaw {shown.yaw:+.1f}", f"pitch {shown.pitch:+.1f}",
                                      f"roll {shown.roll:+.1f}"])
                writer.write(np.ascontiguousarray(drawn[:, :, ::-1]))
                fail = "" if raw else str(res)
                if fail:
                    summary.failed += 1
                    summary.failures[fail] = summary.failures.get(fail, 0) + 1
                rows.append([index + j, f"{(index + j) / fps:.4f}",
                             *(("",) * 4 if box is None else (f"{v:.1f}" for v in box)),
                             *(("",) * 3 if shown is None else (f"{v:.3f}" for v in shown.as_array())),
                             *(("",) * 3 if raw is None else (f"{v:.3f}" for v in raw.as_array())), fail])
            if csv_fh is not None:
                buf = io.StringIO()
                csv.writer(buf).writerows(rows)
                csv_fh.write(buf.getvalue())
                csv_fh.flush()
            index += len(frames)
            summary.frames = index
            bar.update(len(frames))
    except KeyboardInterrupt:
        summary.interrupted = True
    except BaseException as exc:
        _discard(writer, csv_fh, tmp_video, tmp_csv)
        bar.close()
        cap.release()
        if isinstance(exc, OSError):
            raise DataError(f"cannot write {tmp_csv.name if tmp_csv else out}: {exc.strerror or exc} "
                            "(nothing was kept)") from None
        raise
    summary.seconds = time.perf_counter() - t0
    bar.close()
    cap.release()
    try:
        if writer is not None:
            writer.release()
            writer = None
            check_written(tmp_video, summary.frames)
        if csv_fh is not None:
            csv_fh.close()
            csv_fh = None
    except (OSError, DataError) as exc:
        _discard(writer, csv_fh, tmp_video, tmp_csv)
        why = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
        raise DataError(f"cannot write {out}{f' and {csv_path}' if csv_path else ''}: {why}") from None
    if tmp_video is not None:
        os.replace(tmp_video, out)
    if tmp_csv is not None:
        os.replace(tmp_csv, csv_path)
    if summary.frames == 0 and not summary.interrupted:
        raise DataError(f"no frames read from {source}")
    return summary
