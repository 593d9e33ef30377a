"""Poses of your own photos and videos: every face of every image or frame, one table row each.

:func:`predict` (``posebench.predict`` and ``posebench predict``) takes image files, folders
(searched recursively for :data:`IMAGE_SUFFIXES` and :data:`VIDEO_SUFFIXES`), glob patterns,
video files and camera indices, runs each method's own face source on every image or frame
(:meth:`posebench.method.Method.face_detector`: the method's ``box=`` detector, by default YuNet
where ``posebench data download yunet`` installed it, else dlib's HOG; ``dlib`` keeps its
authors' dlib HOG detector), and returns one row per face and method (columns:
:data:`COLUMNS`). No labels are read: a ``.mat`` beside an image is ignored.

* Faces: ``faces="all"`` estimates every detection, largest first (``face`` 0 is the largest);
  ``"largest"`` only the largest. An image or frame without a face is one row with empty angles
  and ``failure`` "no face found" (``face`` -1, ``n_faces`` 0); an unreadable image is one row
  with its reason.
* Units and conventions: boxes ``x_min, y_min, x_max, y_max`` in image pixels; ``yaw``,
  ``pitch``, ``roll`` in degrees in posebench's (AFLW2000-3D) convention; with ``matrix=True``
  also ``r00 .. r22``, the rotation applied to the y-up face model (:meth:`posebench.pose.Pose.matrix`).
  ``frame`` is 0 for an image, the frame index for a video or camera; ``score`` the detector's.
* Cache: predictions are kept per method, per file content (SHA-256 of its bytes, through
  :func:`posebench.fileio.file_digest`) and per frame in ``<results>/cache/predict/`` (JSON
  lines, :class:`posebench.evaluation.cache.PredictionCache`), keyed by the method's settings
  (options, file digests, face source and its detector's file) and the ``faces`` mode. A re-run
  is served from the cache; an interrupted one resumes. A camera is never cached.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posebench.errors import DataError, SampleFailure, UsageError
from posebench.facesource import bare_photo_source
from posebench.method import FaceInput, Method

#: Image file suffixes a folder is searched for (lower case).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: Video file suffixes (a file with one of these is read frame by frame with OpenCV).
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")
#: Columns of the table, in order (``r00 .. r22`` follow ``roll`` with ``matrix=True``).
COLUMNS = ["method", "file", "frame", "face", "n_faces", "x_min", "y_min", "x_max", "y_max", "detector", "score",
           "yaw", "pitch", "roll", "failure"]
MATRIX_COLUMNS = [f"r{i}{j}" for i in range(3) for j in range(3)]
#: Bump when the cached records of :func:`predict` change meaning.
PREDICT_VERSION = "1"
FACES_MODES = ("all", "largest")


@dataclass(frozen=True)
class Source:
    """One input: an image file, a video file or a camera (``path`` None, ``camera`` its index).
    ``name`` is how it is shown in the table (the path as found)."""

    kind: str  # "image" | "video" | "camera"
    name: str
    path: Path | None = None
    camera: int | None = None


def _kind(path: Path) -> str:
    return "video" if path.suffix.lower() in VIDEO_SUFFIXES else "image"


def _in_folder(folder: Path) -> list[Path]:
    found = [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES and p.is_file()]
    return sorted(found, key=lambda p: str(p))


def expand_inputs(paths: Sequence[str | os.PathLike], cameras: Sequence[int] = ()) -> list[Source]:
    """The inputs named by ``paths`` (files, folders searched recursively, glob patterns) and
    camera indices ``cameras``, each file once, in the given order (a folder's files sorted).

    A file is a video when its suffix is one of :data:`VIDEO_SUFFIXES`, else an image (a file
    named explicitly is tried whatever its suffix; one that is no image becomes a failure row).
    Raises :class:`UsageError` (one line) for a path that does not exist, a pattern that matches
    nothing, a folder without images or videos, or no input at all."""
    out: list[Source] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            out.append(Source(_kind(p), str(p), p))

    for raw in paths:
        text = os.fspath(raw)
        p = Path(text).expanduser()
        if p.is_dir():
            files = _in_folder(p)
            if not files:
                raise UsageError(f"no images or videos in folder {text} (looked for {', '.join(IMAGE_SUFFIXES + VIDEO_SUFFIXES)})")
            for f in files:
                add(f)
        elif p.exists():
            add(p)
        elif glob.has_magic(text):
            matches = sorted(glob.glob(os.path.expanduser(text), recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file()]
            for m in matches:
                if Path(m).is_dir():
                    files.extend(_in_folder(Path(m)))
            if not files:
                raise UsageError(f"no file matches {text}")
            for f in files:
                add(f)
        else:
            raise UsageError(f"no such file or folder: {text}")
    for index in cameras:
        out.append(Source("camera", f"camera:{int(index)}", None, int(index)))
    if not out:
        raise UsageError("no input: give image or video files, folders, glob patterns or a camera index")
    return out


def check_image_method(method: Method) -> None:
    """A one-line :class:`UsageError` when ``method`` does not read images (a landmark method
    needs labels, which :func:`predict` does not read)."""
    if "image" not in method.needs:
        raise UsageError(f"method {method.name!r} does not read images (it needs {', '.join(sorted(method.needs)) or 'nothing'}): "
                         "predict runs image methods; evaluate label-based methods with `posebench run`")


def prediction_key(method: Method, faces: str) -> str:
    """The cache key of :func:`predict`'s records for ``method``: its settings (options, every
    file's digest, its face source), the detector :func:`posebench.facesource.bare_photo_source` uses with its files'
    digests, and the ``faces`` mode."""
    from posebench.evaluation.cache import cache_key
    from posebench.fileio import file_digest

    source = bare_photo_source(method)
    files = {label: file_digest(p)[:16] for label, p in sorted(source.files().items())}
    return cache_key({"method": method.identity(), "detector": source.identity(), "detector_files": files,
                      "faces": faces, "predict": PREDICT_VERSION})


def _valid_face_record(rec: dict) -> bool:
    n, box, score = rec.get("n"), rec.get("box"), rec.get("score")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        return False
    if box is not None and not (isinstance(box, list) and len(box) == 4
                                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in box)):
        return False
    return score is None or (isinstance(score, (int, float)) and not isinstance(score, bool))


def _cached_frame(done: dict[str, dict], prefix: str) -> list[dict] | None:
    """The stored records of one image/frame (``prefix`` = ``<digest>/<frame>``), or None."""
    first = done.get(f"{prefix}/0")
    if first is None or not _valid_face_record(first):
        return None
    recs = [first]
    for i in range(1, first["n"]):
        rec = done.get(f"{prefix}/{i}")
        if rec is None or not _valid_face_record(rec):
            return None
        recs.append(rec)
    return recs


@dataclass
class PredictStats:
    """What one :func:`predict` call did: files, frames, faces, failures, cache use, seconds."""

    images: int = 0
    videos: int = 0
    frames: int = 0
    faces: int = 0
    failed: int = 0
    from_cache: int = 0  # images/frames served from the cache (per method)
    computed: int = 0  # images/frames computed now (per method)
    seconds: float = 0.0
    interrupted: bool = False
    cache_files: list[Path] = field(default_factory=list)


@dataclass
class _Pending:
    """One image or frame on its way through detection and the method."""

    source: Source
    frame: int
    prefix: str | None  # cache id prefix; None = not cached (camera, unreadable file)
    image: np.ndarray | None
    boxes: list[tuple[tuple[float, float, float, float], float]] = field(default_factory=list)
    failure: str = ""
    records: list[dict] | None = None  # filled when done


def _detect(pending: _Pending, detector, faces: str) -> None:
    from posebench.detect import NO_FACE

    try:
        found = detector.detect(pending.image)
    except SampleFailure as exc:
        pending.failure = exc.reason
        return
    found = sorted(((tuple(float(v) for v in b), float(s)) for b, s in found),
                   key=lambda bs: -(bs[0][2] - bs[0][0]) * (bs[0][3] - bs[0][1]))
    if not found:
        pending.failure = NO_FACE
    pending.boxes = found[:1] if faces == "largest" else found


def _finish_batch(method: Method, batch: list[_Pending], detector_name: str) -> None:
    """Estimate every face of ``batch`` in one ``estimate_batch`` call and fill ``records``."""
    from posebench.visual.faces import estimate

    inputs, where = [], []
    for k, item in enumerate(batch):
        if item.failure:
            continue
        size = (int(item.image.shape[1]), int(item.image.shape[0]))
        for box, _ in item.boxes:
            inputs.append(FaceInput(item.image, size, box, box_source=detector_name, id=item.source.name))
            where.append(k)
    t0 = time.perf_counter()
    outs = estimate(method, inputs) if inputs else []
    per = (time.perf_counter() - t0) / max(1, len(inputs))
    it = iter(outs)
    for item in batch:
        if item.failure:
            item.records = [{"pred": None, "fail": item.failure, "sec": 0.0, "n": 0, "box": None, "score": None}]
            continue
        recs = []
        for box, score in item.boxes:
            out = next(it)
            rec = {"n": len(item.boxes), "box": [float(v) for v in box], "score": score, "sec": per}
            if isinstance(out, SampleFailure):
                rec.update(pred=None, fail=out.reason or "failed")
            else:
                rec.update(pred=[float(v) for v in out.as_array()], fail=None)
            recs.append(rec)
        item.records = recs


def _rows(method_label: str, item: _Pending, detector_name: str, matrix: bool) -> list[dict]:
    from posebench.pose import Pose

    rows = []
    for i, rec in enumerate(item.records or []):
        box = rec.get("box")
        face = -1 if rec.get("n", 0) == 0 else i
        pred = rec.get("pred")
        row = {"method": method_label, "file": item.source.name, "frame": item.frame, "face": face,
               "n_faces": int(rec.get("n", 0)),
               "x_min": box[0] if box else np.nan, "y_min": box[1] if box else np.nan,
               "x_max": box[2] if box else np.nan, "y_max": box[3] if box else np.nan,
               "detector": detector_name if box else "", "score": rec.get("score") if rec.get("score") is not None else np.nan,
               "yaw": pred[0] if pred else np.nan, "pitch": pred[1] if pred else np.nan,
               "roll": pred[2] if pred else np.nan, "failure": rec.get("fail") or ""}
        if matrix:
            R = Pose.from_array(pred).matrix() if pred else np.full((3, 3), np.nan)
            row.update({c: float(R.flat[k]) for k, c in enumerate(MATRIX_COLUMNS)})
        rows.append(row)
    return rows


def _frames(source: Source, max_frames: int | None) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, RGB frame)`` of a video file or camera (OpenCV; BGR converted here)."""
    from posebench.visual.video import open_source

    cap, first = open_source(source.camera if source.kind == "camera" else source.path)
    try:
        index = 0
        while max_frames is None or index < max_frames:
            if index == 0 and first is not None:  # the frame open_source read to probe the stream
                ok, bgr = True, first
            else:
                ok, bgr = cap.read()
            if not ok:
                break
            yield index, np.ascontiguousarray(bgr[:, :, ::-1])
            index += 1
    finally:
        cap.release()


def _work(sources: list[Source], stats: PredictStats, max_frames: int | None,
          need_image: bool) -> Iterator[_Pending]:
    """Every image and frame as a :class:`_Pending` (images decoded only when ``need_image``
    says so for their cache prefix)."""
    from posebench.fileio import file_digest
    from posebench.imageio import read_image

    for src in sources:
        if src.kind == "image":
            stats.images += 1
            try:
                prefix = f"{file_digest(src.path)}/0"
            except OSError:
                prefix = None
            item = _Pending(src, 0, prefix, None)
            if prefix is None or need_image(prefix):
                try:
                    item.image = read_image(src.path)
                except SampleFailure as exc:
                    item.failure = exc.reason
            yield item
            continue
        stats.videos += src.kind == "video"
        digest = None
        if src.kind == "video":
            try:
                digest = file_digest(src.path)
            except OSError as exc:
                raise DataError(f"cannot read video {src.name}: {exc.strerror or exc}") from None
        for index, rgb in _frames(src, max_frames):
            stats.frames += 1
            yield _Pending(src, index, None if digest is None else f"{digest}/{index}", rgb)


def predict(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    method: Method | str | Sequence[Method | str],
    *,
    faces: str = "all",
    matrix: bool = False,
    cameras: Sequence[int] = (),
    max_frames: int | None = None,
    results_dir: str | os.PathLike | None = None,
    cache: bool = True,
    progress: bool = False,
    method_options: dict[str, Any] | None = None,
    on_image=None,
    stats: PredictStats | None = None,
):
    """Head poses of every face in images, folders, glob patterns, videos (and ``cameras``),
    as a :class:`pandas.DataFrame` with one row per face and method (see the module doc for the
    columns, units and conventions).

    ``method``: a name (created with ``method_options``), a :class:`Method`, or a list of them
    (rows of every method, method by method). ``faces``: ``all`` or ``largest``. ``max_frames``:
    frames read per video or camera (None: all; give it for a camera, or stop it with Ctrl-C).
    ``results_dir``: where the cache lives (default ``$POSEBENCH_RESULTS`` or
    ``./posebench-results``); ``cache=False`` neither reads nor writes it. ``on_image(method,
    source, frame, image, records)``: called for every decoded image or frame once its faces are
    done (``posebench predict --draw`` draws with it). ``stats``: a :class:`PredictStats` to fill.

    Raises :class:`UsageError` for a bad ``faces``, a method that does not read images, or
    inputs that do not exist (before any work); per-image problems are rows with a ``failure``.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from posebench.evaluation.cache import PredictionCache
    from posebench.paths import results_root

    if faces not in FACES_MODES:
        raise UsageError(f"faces must be one of {', '.join(FACES_MODES)}, got {faces!r}")
    from posebench.apitypes import expect, got, paths_arg

    paths = paths_arg(paths)
    if isinstance(method, (str, Method)):
        named = [method]
    elif isinstance(method, (list, tuple)):
        named = list(method)
    else:
        raise TypeError(f"method must be a method's name, a posebench Method or a list of them, got {got(method)}")
    for m in named:
        expect(m, (str, Method), "each method", "a method's name or a posebench Method")
    if not named:
        raise UsageError("no method given")
    from posebench.registry import methods as registry

    made = [registry.create(m, method_options) if isinstance(m, str) else m for m in named]
    for m in made:
        check_image_method(m)
    sources = expand_inputs(list(paths), cameras)
    stats = stats if stats is not None else PredictStats()
    root = Path(results_dir) if results_dir is not None else results_root()
    t0 = time.perf_counter()
    rows: list[dict] = []
    try:
        for m in made:
            source = bare_photo_source(m)
            label = m.label()
            store = None
            done: dict[str, dict] = {}
            if cache:
                store = PredictionCache(root / "cache" / "predict" / f"{m.name}__{prediction_key(m, faces)}.jsonl")
                done = store.load()
                stats.cache_files.append(store.path)
            detector = None
            detector_name = source.detector_name
            counts = PredictStats()

            def need_image(prefix: str, done=done) -> bool:
                return on_image is not None or _cached_frame(done, prefix) is None

            bar = tqdm(total=len([s for s in sources if s.kind == "image"]) or None, unit="image",
                       desc=f"{m.name} predict", disable=not progress, leave=False, dynamic_ncols=True)
            step = max(1, int(getattr(m, "batch_size", 1) or 1))
            batch: list[_Pending] = []
            order: list[_Pending] = []

            def flush(batch=batch, order=order, m=m, store=store, done=done, label=label) -> None:
                if batch:
                    _finish_batch(m, batch, detector_name)
                    new = []
                    for item in batch:
                        if item.prefix is not None:
                            for i, rec in enumerate(item.records):
                                rec = {"id": f"{item.prefix}/{i}", **rec}
                                new.append(rec)
                                done[rec["id"]] = rec
                    if store is not None and new:
                        store.append(new)
                    batch.clear()
                for item in order:
                    rows.extend(_rows(label, item, detector_name, matrix))
                    if on_image is not None and item.image is not None:
                        on_image(m, item.source, item.frame, item.image, item.records)
                    item.image = None
                order.clear()

            for item in _work(sources, counts, max_frames, need_image):
                cached = _cached_frame(done, item.prefix) if item.prefix is not None and store is not None else None
                if cached is not None:
                    item.records = cached
                    counts.from_cache += 1
                    if not batch:  # nothing waits before it: it goes out now, in order
                        rows.extend(_rows(label, item, detector_name, matrix))
                        if on_image is not None and item.image is not None:
                            on_image(m, item.source, item.frame, item.image, item.records)
                    else:
                        order.append(item)
                else:
                    counts.computed += 1
                    if not item.failure:
                        if detector is None:
                            detector = source.detector()
                            detector_name = detector.name
                        _detect(item, detector, faces)
                    batch.append(item)
                    order.append(item)
                    if len(batch) >= step or sum(len(b.boxes) for b in batch) >= step:
                        flush()
                if item.source.kind == "image":
                    bar.update(1)
            flush()
            bar.close()
            stats.images, stats.videos, stats.frames = counts.images, counts.videos, counts.frames
            stats.from_cache += counts.from_cache
            stats.computed += counts.computed
    except KeyboardInterrupt:
        stats.interrupted = True
        raise
    finally:
        stats.seconds = time.perf_counter() - t0
    columns = COLUMNS[:14] + (MATRIX_COLUMNS if matrix else []) + COLUMNS[14:]
    table = pd.DataFrame(rows, columns=columns)
    ok = table["failure"] == ""
    stats.faces = int(ok.sum())
    stats.failed = int((~ok).sum())
    return table


#: Table formats :func:`write_table` writes, by file suffix.
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


def table_format(out: str | os.PathLike | None, fmt: str | None = None) -> str:
    """The format of ``out``: ``fmt`` when given (``csv``, ``jsonl``, ``parquet``), else from its
    suffix (:data:`FORMATS`; no ``out``: ``csv``). :class:`UsageError` for an unknown suffix, and
    for Parquet without pyarrow (checked before any work)."""
    if fmt is None:
        if out is None:
            fmt = "csv"
        else:
            suffix = Path(out).suffix.lower()
            if suffix not in FORMATS:
                raise UsageError(f"cannot tell the table format of {Path(out).name}: use a file ending in "
                                 f"{', '.join(FORMATS)} or --format csv|jsonl|parquet")
            fmt = FORMATS[suffix]
    if fmt not in ("csv", "jsonl", "parquet"):
        raise UsageError(f"format must be csv, jsonl or parquet, got {fmt!r}")
    if fmt == "parquet":
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise UsageError("Parquet needs pyarrow (pip install pyarrow); or write .csv or .jsonl")
    return fmt


def table_bytes(table, fmt: str) -> bytes:
    """``table`` encoded as ``fmt`` (CSV with a header; JSON lines, one object per row with
    missing values as null; Parquet)."""
    if fmt == "csv":
        return table.to_csv(index=False, float_format="%.4f").encode("utf-8", "surrogateescape")
    if fmt == "jsonl":
        text = table.to_json(orient="records", lines=True, double_precision=6)
        return (text if text.endswith("\n") or not text else text + "\n").encode("utf-8", "surrogateescape")
    import io

    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    return buf.getvalue()


def check_output(out: str | os.PathLike, sources: Sequence[Source], what: str = "--out",
                 overwrite: bool = False) -> Path:
    """``out`` when a table may be written there: not a folder, not one of the inputs (by
    resolved path or, where both exist, by device and inode: a hard link of an input is that
    input), not an existing file unless ``overwrite`` (the output rule of
    :mod:`posebench.outputs`), in a folder that accepts files. :class:`UsageError`/
    :class:`DataError` in one line otherwise, before any work."""
    from posebench.fileio import shown, writable_folder
    from posebench.outputs import same_file

    p = Path(out)
    if p.is_dir():
        raise UsageError(f"{what} {shown(p)} is a folder; give a file name such as poses.csv")
    for s in sources:
        if s.path is not None and same_file(p, s.path):
            raise UsageError(f"{what} {shown(p)} is one of the inputs; posebench never overwrites an input")
    if not overwrite and (p.exists() or p.is_symlink()):
        raise UsageError(f"{what} {shown(p)} exists already: give --overwrite to replace it, or another path "
                         "(nothing was written)")
    writable_folder(p.parent if str(p.parent) else Path("."), f"{what} folder")
    return p
