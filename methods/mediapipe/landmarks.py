"""MediaPipe Face Mesh's landmark stage, ported from MediaPipe 0.10.21's legacy graphs
(``face_landmark_front_cpu.pbtxt``, ``face_detection_front_detection_to_roi.pbtxt``,
``face_landmark_cpu.pbtxt``; Apache-2.0) and checked against the mediapipe package
(``tests/methods/test_mediapipe.py``).

* :func:`roi_from_detection`: ``DetectionsToRectsCalculator`` (the detection's box as a normalised
  rectangle, rotated so that the line from keypoint 0 to keypoint 1 -- the eyes -- is horizontal:
  ``rotation = 0 - atan2(-(y1 - y0), x1 - x0)`` in pixels, normalised to [-pi, pi)) then
  ``RectTransformationCalculator`` (``square_long``: both sides the longer one in pixels;
  ``scale`` 1.5);
* :func:`roi_from_box`: for a face box from elsewhere (the protocol's, another detector's): the
  box made square on its longer side, no rotation, no scale (posebench's rule, recorded in the
  set-up: MediaPipe has no such path);
* :class:`FaceMesh`: ``ImageToTensorCalculator`` (the ROI, 192x192, values in [0, 1], border
  replicated; :func:`posebench.litert.rotated_rect_to_tensor`), ``face_landmark.tflite``,
  the face-presence flag (sigmoid >= 0.5, else no face), ``TensorsToLandmarksCalculator`` (x, y, z
  divided by 192) and ``LandmarkProjectionCalculator`` (centred, rotated by the ROI's rotation,
  scaled by its normalised size, z by its width).

Landmarks are MediaPipe's normalised ones, (468, 3) float32: x, y fractions of the image width
and height, z in units of the ROI's width relative to the image width (MediaPipe's
``NormalizedLandmark``); :func:`to_pixels` gives image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posebench.blazeface import Detection
from posebench.detect import NO_FACE
from posebench.errors import SampleFailure, WeightsError
from posebench.litert import RotatedRect, TFLiteModel, rotated_rect_to_tensor

INPUT_SIZE = 192
NUM_LANDMARKS = 468
ROI_SCALE = 1.5
PRESENCE_THRESHOLD = 0.5


@dataclass(frozen=True)
class NormRect:
    """MediaPipe's ``NormalizedRect``: centre and size as fractions of the image, rotation radians."""

    x_center: float
    y_center: float
    width: float
    height: float
    rotation: float = 0.0

    def pixels(self, width: int, height: int) -> RotatedRect:
        """The rectangle in pixels (``ImageToTensorCalculator``'s ``GetRoi``)."""
        f = np.float32
        return RotatedRect(float(f(self.x_center) * f(width)), float(f(self.y_center) * f(height)),
                           float(f(self.width) * f(width)), float(f(self.height) * f(height)), float(self.rotation))


def _normalize_radians(angle: np.float32) -> np.float32:
    pi = np.float32(np.pi)
    return np.float32(angle - 2 * pi * np.floor((angle - (-pi)) / (2 * pi)))


def _square_scaled(x: float, y: float, w: float, h: float, rotation: float, width: int, height: int, scale: float) -> NormRect:
    f = np.float32
    long_side = max(f(w) * f(width), f(h) * f(height))
    w, h = long_side / f(width), long_side / f(height)
    return NormRect(float(x), float(y), float(f(w) * f(scale)), float(f(h) * f(scale)), float(rotation))


def roi_from_detection(det: Detection, width: int, height: int) -> NormRect:
    """MediaPipe's face ROI of one detection in a ``width`` x ``height`` image."""
    f = np.float32
    x, y, w, h = (f(v) for v in det.box)
    x0, y0 = f(det.keypoints[0, 0]) * f(width), f(det.keypoints[0, 1]) * f(height)
    x1, y1 = f(det.keypoints[1, 0]) * f(width), f(det.keypoints[1, 1]) * f(height)
    rotation = _normalize_radians(f(0) - f(np.arctan2(-(y1 - y0), x1 - x0)))
    return _square_scaled(x + w / f(2), y + h / f(2), w, h, rotation, width, height, ROI_SCALE)


def roi_from_box(box, width: int, height: int) -> NormRect:
    """posebench's ROI of a face box ``(x0, y0, x1, y1)`` pixels: square on its longer side, unrotated."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    return _square_scaled((x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width, (y1 - y0) / height, 0.0,
                          width, height, 1.0)


def project(raw: np.ndarray, roi: NormRect) -> np.ndarray:
    """``TensorsToLandmarksCalculator`` + ``LandmarkProjectionCalculator``: (N, 3) normalised
    landmarks in the image from the model's raw (N*3,) output in 192x192 tensor pixels."""
    return project_normalized(np.asarray(raw, np.float32).reshape(-1, 3) / np.float32(INPUT_SIZE), roi)


def project_normalized(pts: np.ndarray, roi: NormRect) -> np.ndarray:
    """``LandmarkProjectionCalculator``: (N, 3) normalised landmarks in the image of (N, 3) float32
    landmarks normalised to the crop (x, y, z in units of the 192-pixel side)."""
    f = np.float32
    pts = np.asarray(pts, f)
    x, y = pts[:, 0] - f(0.5), pts[:, 1] - f(0.5)
    angle = f(roi.rotation)
    c, s = f(np.cos(angle)), f(np.sin(angle))
    nx = (c * x - s * y) * f(roi.width) + f(roi.x_center)
    ny = (s * x + c * y) * f(roi.height) + f(roi.y_center)
    return np.stack([nx, ny, pts[:, 2] * f(roi.width)], axis=1).astype(f)


def to_pixels(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, 2) image pixels of normalised landmarks."""
    return np.asarray(landmarks, float)[:, :2] * np.array([width, height], float)


class FaceMesh:
    """``face_landmark.tflite`` (468 points) on LiteRT: :meth:`landmarks` of one ROI."""

    def __init__(self, model_path: str | Path, threads: int = 1):
        self.model = TFLiteModel(model_path, threads)
        if self.model.input_shape != (1, INPUT_SIZE, INPUT_SIZE, 3) or not any(
                int(np.prod(s)) == NUM_LANDMARKS * 3 for s in self.model.output_shapes):
            raise WeightsError(f"{Path(model_path).name} is not MediaPipe's 468-point face landmark model "
                               f"(input {self.model.input_shape}, outputs {self.model.output_shapes})")

    def landmarks(self, image: np.ndarray, roi: NormRect) -> tuple[np.ndarray, float]:
        """(468, 3) normalised landmarks and the face-presence score; :class:`SampleFailure`
        ``no face found`` when the model's face flag is below 0.5 (MediaPipe then outputs no face)."""
        h, w = image.shape[:2]
        x = rotated_rect_to_tensor(image, roi.pixels(w, h), INPUT_SIZE, INPUT_SIZE, (0.0, 1.0), border="replicate")
        outs = self.model(x[None])
        raw = next(o for o in outs if o.size == NUM_LANDMARKS * 3)
        flag = next(o for o in outs if o.size == 1)
        with np.errstate(over="ignore"):
            presence = float(np.float32(1) / (np.float32(1) + np.exp(-np.float32(flag.ravel()[0]))))
        if not presence >= PRESENCE_THRESHOLD:
            raise SampleFailure(NO_FACE)  # as MediaPipe: no landmarks, and one failure reason for every such face
        return project(raw.ravel(), roi), presence
