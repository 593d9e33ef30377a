"""Drawing a head pose on an image: face box, landmarks, the three pose axes, the angles.

The axes follow Figure 1 of Ruiz et al. (CVPRW 2018): **blue** points towards the front of the
face (out of the face, along the nose), **green** points downward (chin direction), **red** to the
side (towards image right for a frontal face). They are the model axes ``+z``, ``-y`` and ``+x``
of :mod:`posebench.pose` rotated by ``Pose.matrix()`` and taken into OpenCV's camera frame with
:func:`posebench.pose.model_to_camera`, then drawn in orthographic projection (image x right,
y down). So a frontal face's front axis points at the viewer (camera-frame ``z = -1``, drawn as a
dot), and a positive yaw turns it towards image left (the subject's right), as pinned by
``tests/test_pose.py``. Images are RGB uint8 HxWx3; colours below are RGB.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from posebench.crop import Box, landmark_box
from posebench.pose import Pose, model_to_camera

#: RGB colours of the side (x), down (-y) and front (z) axes (paper Figure 1).
AXIS_COLOURS = {"side": (255, 0, 0), "down": (0, 200, 0), "front": (0, 0, 255)}
#: The model-frame unit vector of each drawn axis (y-up face model, z towards the viewer).
MODEL_AXES = {"side": np.array([1.0, 0.0, 0.0]), "down": np.array([0.0, -1.0, 0.0]), "front": np.array([0.0, 0.0, 1.0])}
LANDMARK_COLOUR = (255, 255, 0)
BOX_COLOUR = (255, 255, 255)


def axes_camera(pose: Pose) -> dict[str, np.ndarray]:
    """Unit direction of each drawn axis in OpenCV's camera frame (x right, y down, z away from
    the viewer): ``model_to_camera(pose.matrix()) @ axis``."""
    R_cv = model_to_camera(pose.matrix())
    return {name: R_cv @ v for name, v in MODEL_AXES.items()}


def axes_2d(pose: Pose, length: float) -> dict[str, np.ndarray]:
    """Image-plane offsets (pixels, x right, y down) of the three axes of ``length`` pixels:
    the orthographic projection of :func:`axes_camera`."""
    return {name: length * v[:2] for name, v in axes_camera(pose).items()}


def _scale(image: np.ndarray) -> float:
    return max(image.shape[0], image.shape[1]) / 450.0


def draw_pose(
    image: np.ndarray,
    pose: Pose | None,
    *,
    box: Box | None = None,
    landmarks: np.ndarray | None = None,
    center: Sequence[float] | None = None,
    length: float | None = None,
    text: Sequence[str] | None = None,
    thickness: int | None = None,
    note: str | None = None,
    face: Box | None = None,
) -> np.ndarray:
    """A copy of ``image`` (RGB uint8 HxWx3) with the face drawn on it.

    ``face`` is the tight face region (pixels): default the landmarks' box, else ``box``. The
    axes start at ``center`` (default the face region's centre, else the image centre) and are
    ``length`` pixels long (default half the face region's longer side, else a third of the
    image); the text goes beside the face region. ``text`` lines are written beside the face (default the pose's yaw, pitch and
    roll); ``pose=None`` draws only the box, landmarks and ``note`` (e.g. a failure reason).
    """
    import cv2

    out = np.ascontiguousarray(image.copy())
    s = _scale(out)
    th = thickness or max(1, int(round(2 * s)))
    if box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), BOX_COLOUR, max(1, th // 2), cv2.LINE_AA)
    if landmarks is not None:
        for x, y in np.asarray(landmarks, float).reshape(-1, 2):
            if np.isfinite(x) and np.isfinite(y):
                cv2.circle(out, (int(round(x)), int(round(y))), max(1, th), LANDMARK_COLOUR, -1, cv2.LINE_AA)
    if face is None:
        if landmarks is not None and np.isfinite(np.asarray(landmarks, float)).all():
            face = landmark_box(np.asarray(landmarks, float))
        else:
            face = box
    if center is None:
        center = ((face[0] + face[2]) / 2, (face[1] + face[3]) / 2) if face is not None else \
            (out.shape[1] / 2, out.shape[0] / 2)
    if length is None:
        length = max(face[2] - face[0], face[3] - face[1]) / 2 if face is not None else min(out.shape[:2]) / 3
    c = np.asarray(center, float)
    lines: list[str] = []
    if pose is not None:
        # front last, so that it is on top when it points at the viewer
        for name, d in axes_2d(pose, float(length)).items():
            p0 = tuple(int(round(v)) for v in c)
            p1 = tuple(int(round(v)) for v in c + d)
            cv2.arrowedLine(out, p0, p1, AXIS_COLOURS[name], th + 1, cv2.LINE_AA, tipLength=0.15)
        lines = list(text) if text is not None else [f"yaw {pose.yaw:+.1f}", f"pitch {pose.pitch:+.1f}", f"roll {pose.roll:+.1f}"]
    elif text is not None:
        lines = list(text)
    if note:
        lines.append(note)
    _write_lines(out, lines, face, c, s)
    return out


def _write_lines(out: np.ndarray, lines: list[str], box: Box | None, center: np.ndarray, s: float) -> None:
    """Write ``lines`` beside the face (right of the box, or left where there is no room)."""
    import cv2

    if not lines:
        return
    s = max(s, 0.8)  # text stays readable on small frames
    font, fs = cv2.FONT_HERSHEY_SIMPLEX, 0.5 * s
    ft = max(1, int(round(s)))
    pad = max(2, int(round(3 * s)))
    widths = [cv2.getTextSize(t, font, fs, ft)[0][0] for t in lines]
    if max(widths) + 2 * pad > out.shape[1]:  # wider than the image: smaller text, never clipped
        shrink = max(0.3, (out.shape[1] - 2 * pad) / max(widths))
        fs, s = fs * shrink, s * shrink
        widths = [cv2.getTextSize(t, font, fs, ft)[0][0] for t in lines]
    line_h = int(round(18 * s))
    x = int(box[2] + 6 * s) if box is not None else int(center[0] + 6 * s)
    if x + max(widths) + pad > out.shape[1]:
        x = max(pad, int((box[0] if box is not None else center[0]) - 6 * s - max(widths)))
    x = max(pad, min(x, out.shape[1] - max(widths) - pad))
    y = int(box[1] if box is not None else center[1]) + line_h
    y = min(max(line_h, y), max(line_h, out.shape[0] - line_h * len(lines)))
    # a dark backing (55 % black) under the block, so the text reads on any background
    x0, y0 = max(0, x - pad), max(0, y - line_h + pad)
    x1, y1 = min(out.shape[1], x + max(widths) + pad), min(out.shape[0], y + (len(lines) - 1) * line_h + 2 * pad)
    if x1 > x0 and y1 > y0:
        region = out[y0:y1, x0:x1]
        region[:] = (region.astype(np.float32) * 0.45).astype(np.uint8)
    for i, t in enumerate(lines):
        org = (x, y + i * line_h)
        cv2.putText(out, t, org, font, fs, (0, 0, 0), ft + 2, cv2.LINE_AA)
        cv2.putText(out, t, org, font, fs, (255, 255, 255), ft, cv2.LINE_AA)


def square_crop(
    image: np.ndarray, box: Box, margin: float = 0.35, size: int = 200
) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A square crop of ``image`` around ``box`` grown by ``margin`` of its longer side on each
    side, zero-padded outside the image and resized to ``size`` x ``size`` pixels.

    Returns ``(patch, (x_off, y_off, scale))``: an image point ``p`` lands at
    ``(p - (x_off, y_off)) * scale`` in the patch (see :func:`to_crop`)."""
    import cv2

    from posebench.crop import crop_box

    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = max(x1 - x0, y1 - y0) * (0.5 + margin)
    left, top = int(cx - half), int(cy - half)
    side = max(2, int(2 * half))
    patch = crop_box(image, (left, top, left + side, top + side))
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA), (float(left), float(top), size / side)


def to_crop(points: np.ndarray, transform: tuple[float, float, float]) -> np.ndarray:
    """Image points (N x 2 pixels) -> the patch of :func:`square_crop` with that ``transform``."""
    x_off, y_off, scale = transform
    return (np.asarray(points, float).reshape(-1, 2) - [x_off, y_off]) * scale


def encode_image(image: np.ndarray, suffix: str = ".jpg", quality: int = 90) -> bytes:
    """RGB uint8 image -> encoded bytes (``.jpg`` or ``.png``) via OpenCV (BGR at the call)."""
    import cv2

    from posebench.imageio import rgb_to_bgr

    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if suffix.lower() in (".jpg", ".jpeg") else \
        [cv2.IMWRITE_PNG_COMPRESSION, 9]
    ok, buf = cv2.imencode(suffix, rgb_to_bgr(image), params)
    if not ok:  # pragma: no cover - OpenCV always encodes these
        raise ValueError(f"OpenCV could not encode a {suffix} image")
    return buf.tobytes()


def drawn_targets(method_name: str, images: list, out_dir, overwrite: bool = False) -> dict:
    """``{image path: output path}`` of ``posebench draw`` (``<out_dir>/<stem>-<method>.jpg``),
    checked by the output rule (:mod:`posebench.outputs`): no two images drawn to one file
    (``a/face.jpg`` and ``b/face.jpg``, ``x.jpg`` and ``x.png``), no output that is one of the
    images, no existing file replaced unless ``overwrite``. Raises :class:`UsageError`."""
    from pathlib import Path

    from posebench.outputs import check_outputs, unique_targets

    paths = [Path(p) for p in images]
    targets = {p: Path(out_dir) / f"{p.stem}-{method_name}.jpg" for p in paths}
    unique_targets(targets)  # one file given twice is one key: drawn once
    check_outputs({f"output {t.name}": t for t in targets.values()}, {f"image {p}": p for p in paths}, overwrite)
    return targets


def draw_images(method, images: list, out_dir, *, detector: str | None = None, detector_model: str | None = None,
                use_labels: bool = True, overwrite: bool = False) -> list[str]:
    """Estimate and draw each image file (see ``posebench draw``); returns one line per image.

    The outputs are checked first (:func:`drawn_targets`: :class:`UsageError` for a collision or
    an existing file without ``overwrite``), then every image is decoded: a file that is not an
    image is a :class:`DataError` naming it before anything is written. Output
    ``<out_dir>/<stem>-<method>.jpg``, written atomically.
    """
    from pathlib import Path

    from posebench.errors import DataError, SampleFailure
    from posebench.fileio import write_atomic
    from posebench.imageio import read_image
    from posebench.visual.faces import FaceFinder, check_method_takes_images, drawn_landmarks, estimate, label_beside

    targets = drawn_targets(method.name, images, out_dir, overwrite)
    paths = list(targets)
    for p in paths:
        try:
            read_image(p)
        except SampleFailure as exc:
            raise DataError(f"{p}: {exc.reason}") from None
    labels = {p: (label_beside(p) if use_labels else None) for p in paths}
    check_method_takes_images(method, all(lab is not None for lab in labels.values()))
    finder = FaceFinder(method, detector, detector_model, use_labels)
    out_dir = Path(out_dir)
    lines: list[str] = []
    step = max(1, int(getattr(method, "batch_size", 1)))
    for i in range(0, len(paths), step):
        chunk = paths[i : i + step]
        images_rgb = [read_image(p) for p in chunk]
        faces, sources, fails = [], [], {}
        for j, (p, img) in enumerate(zip(chunk, images_rgb)):
            try:
                face, src = finder.face(img, p, labels[p])
                faces.append((j, face))
                sources.append(src)
            except SampleFailure as exc:
                fails[j] = exc.reason
        poses = estimate(method, [f for _, f in faces]) if faces else []
        by_index = {j: (face, src, pose) for (j, face), src, pose in zip(faces, sources, poses)}
        for j, (p, img) in enumerate(zip(chunk, images_rgb)):
            label = labels[p]
            face, src, pose = by_index.get(j, (None, "", SampleFailure(fails.get(j, "no face"))))
            text = [method.name]
            note = None
            if isinstance(pose, SampleFailure):
                note, pose_ok = f"failed: {pose.reason}", None
            else:
                pose_ok = pose
                text += [f"yaw {pose.yaw:+.1f}", f"pitch {pose.pitch:+.1f}", f"roll {pose.roll:+.1f}"]
            if label is not None:
                text.append(f"label {label.pose.yaw:+.0f}/{label.pose.pitch:+.0f}/{label.pose.roll:+.0f}")
            lm = drawn_landmarks(method, face) if face is not None and pose_ok is not None else None
            region = landmark_box(label.landmarks) if label is not None and label.landmarks is not None else None
            drawn = draw_pose(img, pose_ok, box=face.box if face is not None else None, landmarks=lm,
                              text=text, note=note, face=region)
            target = targets[p]
            write_atomic(target, encode_image(drawn, ".jpg"))
            if pose_ok is None:
                lines.append(f"{p.name}: failed ({note[8:]}) -> {target}")
            else:
                lines.append(f"{p.name}: yaw {pose_ok.yaw:+.1f} pitch {pose_ok.pitch:+.1f} roll {pose_ok.roll:+.1f}"
                             f" (box: {src}) -> {target}")
    return lines
