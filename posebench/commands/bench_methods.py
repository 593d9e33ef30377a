"""``posebench bench methods``: every registered method that can run here, on real images, each
against a baseline a user would write, interleaved in one run.

All paths start from the same decoded AFLW2000 images (decoding is not timed) and the sample's
labels (landmarks, protocol box) as ``posebench run`` gives them. posebench's side is
``estimate_batch`` in chunks of the method's ``batch_size``. The baseline, per method
(:func:`baseline_for`):

* ``onnx-headpose`` (FSA-Net), ``whenet``: a plain onnxruntime loop -- one default
  ``InferenceSession`` per ONNX file (FSA-Net's files; WHENet's export), one face per ``run``, the
  input made by the method's own crop and normalisation;
* ``dlib``: the plain dlib loop (``get_frontal_face_detector``, ``shape_predictor`` on the same
  predictor file, ``cv2.solvePnP`` SQPnP with focal = width);
* ``gt-landmarks``: a ``cv2.solvePnP`` (SQPnP) loop on the labels' 68 landmarks;
* every other method: posebench itself one face per call (``baseline: one face per call``; for
  ``mediapipe`` and ``3ddfa-v2`` the authors' own pipelines are in ``posebench bench authors``).

Passes alternate between the two paths of a method, ``--repeats`` each, after one warm-up; ms per
face min/median, the ratio of medians, and the largest angle difference from the baseline where
the baseline computes the same thing. A method that cannot be made here (weights absent) is a
row with the reason. Options reach a method as in ``posebench study``: ``-o METHOD.KEY=VALUE``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import click

from posebench.commands.bench import bench
from posebench.commands.bench_table import Row, finish, format_rows, interleave, load
from posebench.commands.common import count, show_progress
from posebench.errors import DataError, PosebenchError, SampleFailure

#: Methods whose baseline is a plain loop written here (else: one face per call).
PLAIN = ("onnx-headpose", "whenet", "dlib", "gt-landmarks")


def _faces(data_dir: Path, limit: int | None):
    """The sample's faces as ``posebench run`` gives them (image decoded, labels attached)."""
    from posebench import create_dataset
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


def _angles(outs: list) -> list[tuple[float, float, float] | None]:
    return [None if isinstance(o, SampleFailure) or o is None else (o.yaw, o.pitch, o.roll) for o in outs]


def max_diff(a: list, b: list) -> float:
    """Largest wrapped angle difference (degrees) between two lists of poses where both have one."""
    worst = math.nan
    for p, q in zip(_angles(a), _angles(b)):
        if p is None or q is None:
            continue
        d = max(abs((x - y + 180.0) % 360.0 - 180.0) for x, y in zip(p, q))
        worst = d if math.isnan(worst) else max(worst, d)
    return worst


def _plain_sessions(paths: list[Path]):
    import onnxruntime as ort

    return [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in paths]


def _solve(points, face, w: int, h: int):
    """cv2.solvePnP SQPnP (focal = width) -> Pose in posebench's convention (through the matrix)."""
    import cv2
    import numpy as np

    from posebench.pose import camera_to_model, pose_from_matrix

    cam = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], float)
    ok, rvec, _ = cv2.solvePnP(face, np.asarray(points, np.float64), cam, None, flags=cv2.SOLVEPNP_SQPNP)
    r, _ = cv2.Rodrigues(rvec)
    return pose_from_matrix(camera_to_model(r))


def baseline_for(name: str, m, faces) -> tuple[str, Callable[[], list]]:
    """``(label, one pass over faces -> list of Pose or SampleFailure)`` of the baseline of ``m``."""
    import numpy as np

    from posebench.pose import Pose

    if name == "onnx-headpose":
        sessions = _plain_sessions(list(m.paths))

        def run() -> list:
            out = []
            for f in faces:
                try:
                    x = m.preprocess(f)[None].astype(np.float32)
                except SampleFailure as exc:
                    out.append(exc)
                    continue
                raw = [np.asarray(s.run(None, {s.get_inputs()[0].name: x})[0], float).reshape(-1)[:3] for s in sessions]
                y = np.mean([r[m.order] * m.to_deg * m.signs for r in raw], axis=0)
                out.append(Pose(*map(float, y)))
            return out
        return "plain onnxruntime loop (batch 1)", run
    if name == "whenet":
        from posebench.methods.hopenet.engine import onnx_cache_path
        from posebench.methods.whenet.preprocess import to_batch

        path = onnx_cache_path("whenet", m.weights_hash)
        if not path.is_file():
            raise DataError(f"WHENet's ONNX export is not at {path} (run with engine=onnxruntime once)")
        (sess,) = _plain_sessions([path])

        def run() -> list:
            out = []
            for f in faces:
                try:
                    x = np.ascontiguousarray(to_batch([m.prepare(f)], False).numpy())
                except SampleFailure as exc:
                    out.append(exc)
                    continue
                y = sess.run(None, {sess.get_inputs()[0].name: x})[0][0]
                out.append(Pose(*map(float, y)))
            return out
        return "plain onnxruntime loop (batch 1)", run
    if name in ("dlib", "gt-landmarks"):
        from posebench.facemodel import default_face

        face = np.asarray(default_face(), np.float64)
        if name == "gt-landmarks":
            def run() -> list:
                return [_solve(f.landmarks, face, *f.image_size) if f.landmarks is not None else SampleFailure("no landmarks")
                        for f in faces]
            return "plain cv2.solvePnP loop (SQPnP)", run
        import dlib

        detector = dlib.get_frontal_face_detector()
        predictor = dlib.shape_predictor(str(m.landmarker.predictor_path))

        def run() -> list:
            out = []
            for f in faces:
                dets = detector(f.image, 1)
                if not dets:
                    out.append(SampleFailure("no face"))
                    continue
                shape = predictor(f.image, max(dets, key=lambda r: r.area()))
                pts = [[p.x, p.y] for p in shape.parts()]
                out.append(_solve(pts, face, *f.image_size))
            return out
        return "plain dlib loop (HOG, 68 points, SQPnP)", run
    return "posebench, one face per call", lambda: [m.estimate_batch([f])[0] for f in faces]


def _split_options(options: dict[str, str]) -> dict[str, dict[str, str]]:
    per: dict[str, dict[str, str]] = {}
    for k, v in options.items():
        if "." not in k:
            raise DataError(f"bench methods options are METHOD.KEY=VALUE, got {k}={v}")
        name, key = k.split(".", 1)
        per.setdefault(name, {})[key] = v
    return per


def methods_rows(faces, names: list[str], options: dict[str, dict[str, str]], repeats: int,
                 progress: Callable[[], None] | None = None) -> list[Row]:
    """One row per path of every method in ``names`` (a skipped method: one row, its reason)."""
    from posebench.method import create_method

    rows: list[Row] = []
    for name in names:
        try:
            m = create_method(name, options.get(name, {}))
            label, base = baseline_for(name, m, faces)
            step = max(1, int(getattr(m, "batch_size", 1) or 1))

            def mine(m=m, step=step) -> list:
                out = []
                for i in range(0, len(faces), step):
                    out.extend(m.estimate_batch(faces[i:i + step]))
                return out
            mine()  # warm-up
            base()
            times, outs = interleave({label: base, f"posebench (batch {step})": mine}, repeats, progress)
        except PosebenchError as exc:
            rows.append(Row("methods", name, note=f"skipped: {exc}"))
            continue
        except ImportError as exc:  # an optional package the method needs
            rows.append(Row("methods", name, note=f"skipped: {exc}"))
            continue
        bench_name = f"methods {name}"
        failed = [sum(isinstance(o, SampleFailure) for o in v[-1]) for v in outs.values()]
        same = name in ("onnx-headpose", "whenet") or label.startswith("posebench")
        diff = max_diff(outs[label][-1], outs[f"posebench (batch {step})"][-1])
        rows.append(Row.timed(bench_name, label, times[label], per=len(faces), note=f"{failed[0]} failed"))
        rows.append(Row.timed(bench_name, f"posebench (batch {step})", times[f"posebench (batch {step})"], per=len(faces),
                              baseline=label, max_diff_deg=diff,
                              note=f"{failed[1]} failed; {m.label()}"
                                   + ("" if same else "; differs from the baseline by design (posebench's crop/solver)")))
    return finish(rows)


def runnable_methods() -> list[str]:
    """Every registered method name, in the registry's order."""
    from posebench.registry import methods as registry

    return list(registry.names())


@bench.command("methods")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="AFLW2000 folder with images (default: <data root>/aflw2000, as `posebench run`).")
@click.option("-o", "--option", "options", multiple=True, metavar="METHOD.KEY=VALUE",
              help="A method's option (repeatable), e.g. -o whenet.weights=PATH -o onnx-headpose.model_dir=DIR.")
@click.option("--repeats", "--repeat", type=count(1), default=3, show_default=True,
              help="Interleaved passes per path (median and min).")
@click.option("--limit", type=count(1), default=None, help="Use only the first N images.")
@click.option("--only", multiple=True, help="Benchmark only these methods (repeatable; default: every registered one).")
def bench_methods(data_dir, options, repeats, limit, only) -> None:
    """Milliseconds per face of every registered method that can run here, each against a plain
    loop (or one face per call), interleaved; ratios of medians, the load printed."""
    from tqdm.auto import tqdm

    from posebench.acquire.defaults import default_dir
    from posebench.commands.common import parse_kv

    names = runnable_methods()
    unknown = [n for n in only if n not in names]
    if unknown:
        raise DataError(f"unknown method {unknown[0]!r} for --only; registered: {', '.join(names)}")
    names = [n for n in names if n in only] if only else names
    per = _split_options(parse_kv(options))
    data_dir = data_dir or default_dir("aflw2000")
    faces = _faces(data_dir, limit)
    click.echo(f"posebench bench methods: {len(faces)} faces from {data_dir}; {repeats} interleaved passes; load {load()}")
    with tqdm(total=2 * repeats * len(names), desc="bench methods", unit="pass", disable=not show_progress(),
              leave=False) as bar:
        rows = methods_rows(faces, names, per, repeats, lambda: bar.update(1))
    click.echo(format_rows(rows))
    click.echo(f"load after: {load()}")


COMMANDS: list = []
