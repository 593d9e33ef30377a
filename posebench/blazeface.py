"""MediaPipe's short-range face detector (BlazeFace, ``face_detection_short_range.tflite``), ported
from MediaPipe 0.10.21's ``face_detection_short_range.pbtxt`` / ``face_detection.pbtxt`` graph
(Apache-2.0) and run on LiteRT (:mod:`posebench.litert`). Checked against the mediapipe package
by ``tests/methods/test_mediapipe.py`` (``scripts/mediapipe_reference.py``).

The graph's steps, each a MediaPipe calculator:

1. ``ImageToTensorCalculator``: the whole image, padded to a square (``keep_aspect_ratio``: the
   shorter side grown, zero border), 128x128, values in [-1, 1];
2. ``SsdAnchorsCalculator``: 896 anchors (4 layers, strides 8, 16, 16, 16, min scale 0.1484375, max
   scale 0.75, offset 0.5, aspect ratio 1 plus the interpolated one, fixed size 1);
3. ``TensorsToDetectionsCalculator``: 16 values per anchor in the order x, y, w, h, then 6
   keypoints (x, y), all divided by 128 and offset by the anchor centre; score = sigmoid of the
   logit clipped to ±100; kept when >= ``min_score`` (0.5);
4. ``NonMaxSuppressionCalculator``: weighted NMS (IoU > 0.3 merges, box and keypoints averaged
   by score, the top score kept), in score order;
5. ``DetectionProjectionCalculator``: from the padded square back to the image.

Coordinates are MediaPipe's relative ones (fractions of the image width / height), float32 as in
its C++. The keypoints are, in MediaPipe's order, the subject's right eye, left eye, nose tip,
mouth centre, right ear tragion, left ear tragion.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from posebench.litert import RotatedRect, TFLiteModel, rotated_rect_to_tensor

INPUT_SIZE = 128
NUM_KEYPOINTS = 6
MIN_SCORE = 0.5
NMS_IOU = 0.3


@dataclass(frozen=True)
class Detection:
    """One face: ``box`` (xmin, ymin, width, height) and ``keypoints`` (6, 2), relative to the image
    size as MediaPipe's ``relative_bounding_box``/``relative_keypoints``; ``score`` in [0, 1]."""

    box: np.ndarray
    keypoints: np.ndarray
    score: float

    def pixel_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` in pixels of a ``width`` x ``height`` image."""
        x, y, w, h = (float(v) for v in self.box)
        return (x * width, y * height, (x + w) * width, (y + h) * height)


@lru_cache(maxsize=1)
def anchors() -> np.ndarray:
    """(896, 2) float32 anchor centres (x, y) of ``SsdAnchorsCalculator`` with the short-range options
    (every anchor 1 x 1: ``fixed_anchor_size``)."""
    strides, num_layers = (8, 16, 16, 16), 4
    out = []
    layer = 0
    while layer < num_layers:
        per_cell = 0
        last = layer
        while last < num_layers and strides[last] == strides[layer]:
            per_cell += 2  # aspect ratio 1.0 and the interpolated scale (aspect 1.0)
            last += 1
        side = int(np.ceil(INPUT_SIZE / strides[layer]))
        for y in range(side):
            for x in range(side):
                centre = ((x + np.float32(0.5)) / np.float32(side), (y + np.float32(0.5)) / np.float32(side))
                out.extend([centre] * per_cell)
        layer = last
    return np.asarray(out, np.float32)


def letterbox(width: int, height: int) -> tuple[RotatedRect, tuple[float, float]]:
    """The padded square the detector sees (``PadRoi`` of the whole image) and the padding
    (horizontal, vertical) as fractions of it."""
    w, h = np.float32(width), np.float32(height)
    if np.float32(1.0) > h / w:  # the tensor (1:1) is taller than the image: pad top and bottom
        side = w
        pad = (np.float32(0.0), (np.float32(1.0) - h / side) / np.float32(2.0))
    else:
        side = h
        pad = ((np.float32(1.0) - w / side) / np.float32(2.0), np.float32(0.0))
    return RotatedRect(float(w / 2), float(h / 2), float(side), float(side)), (float(pad[0]), float(pad[1]))


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, min_score: float = MIN_SCORE) -> list[Detection]:
    """``TensorsToDetectionsCalculator``: detections (relative to the 128x128 tensor) of the raw
    (896, 16) regressors and (896,) logits, in anchor order. Only the anchors whose score passes
    are decoded (the same float32 arithmetic per anchor as decoding all of them)."""
    raw = np.asarray(raw_boxes, np.float32).reshape(-1, 4 + 2 * NUM_KEYPOINTS)
    logits = np.clip(np.asarray(raw_scores, np.float32).reshape(-1), np.float32(-100), np.float32(100))
    with np.errstate(over="ignore"):  # exp(100) overflows float32 to inf: the score is then 0, as in C++
        scores = (np.float32(1) / (np.float32(1) + np.exp(-logits))).astype(np.float32)
    keep = np.flatnonzero(scores >= np.float32(min_score))
    if keep.size == 0:
        return []
    raw, anc, scores = raw[keep], anchors()[keep], scores[keep]
    scale = np.float32(INPUT_SIZE)
    cx = raw[:, 0] / scale + anc[:, 0]
    cy = raw[:, 1] / scale + anc[:, 1]
    w = raw[:, 2] / scale
    h = raw[:, 3] / scale
    xmin, ymin = cx - w / np.float32(2), cy - h / np.float32(2)
    xmax, ymax = cx + w / np.float32(2), cy + h / np.float32(2)
    boxes = np.stack([xmin, ymin, xmax - xmin, ymax - ymin], axis=1).astype(np.float32)
    kps = np.stack([raw[:, 4::2] / scale + anc[:, :1], raw[:, 5::2] / scale + anc[:, 1:]], axis=2).astype(np.float32)
    return [Detection(boxes[i], kps[i], float(scores[i])) for i in range(keep.size)]


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (float64 of float32 arithmetic, as MediaPipe's ``OverlapSimilarity``) of one box
    ``a`` (xmin, ymin, w, h) with each of ``b`` (k, 4); 0 where they do not overlap."""
    ix = np.minimum(a[0] + a[2], b[:, 0] + b[:, 2]) - np.maximum(a[0], b[:, 0])
    iy = np.minimum(a[1] + a[3], b[:, 1] + b[:, 3]) - np.maximum(a[1], b[:, 1])
    inter = ix * iy
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / ((a[2] * a[3]) + (b[:, 2] * b[:, 3]) - inter)
    return np.where((ix > 0) & (iy > 0), iou.astype(np.float64), 0.0)


def weighted_nms(dets: list[Detection], iou: float = NMS_IOU) -> list[Detection]:
    """``NonMaxSuppressionCalculator`` with ``algorithm: WEIGHTED``: highest score first, every
    remaining detection overlapping it by IoU > ``iou`` (itself included) merged into it, box
    corners and keypoints averaged with the scores as weights (float32)."""
    if not dets:
        return []
    order = sorted(range(len(dets)), key=lambda i: -dets[i].score)
    boxes = np.stack([dets[i].box for i in order]).astype(np.float32)
    kps = np.stack([dets[i].keypoints for i in order]).astype(np.float32)
    scores = np.array([dets[i].score for i in order], np.float32)
    remaining = np.arange(len(order))
    out = []
    while remaining.size:
        top = remaining[0]
        near = _iou(boxes[top], boxes[remaining]) > iou
        merged, rest = remaining[near], remaining[~near]
        wts = scores[merged]
        total = np.float32(wts.sum(dtype=np.float32))
        b = boxes[merged]
        corners = np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], axis=1)
        c = (corners * wts[:, None]).sum(axis=0, dtype=np.float32) / total
        kp = (kps[merged] * wts[:, None, None]).sum(axis=0, dtype=np.float32) / total
        out.append(Detection(np.array([c[0], c[1], c[2] - c[0], c[3] - c[1]], np.float32), kp.astype(np.float32),
                             dets[order[top]].score))
        if rest.size == remaining.size:
            break
        remaining = rest
    return out


def unletterbox(det: Detection, pad: tuple[float, float]) -> Detection:
    """``DetectionProjectionCalculator`` for the unrotated padded square: tensor-relative -> image-relative."""
    px, py = np.float32(pad[0]), np.float32(pad[1])
    sx, sy = np.float32(1) - 2 * px, np.float32(1) - 2 * py
    x0, y0 = (det.box[0] - px) / sx, (det.box[1] - py) / sy
    x1, y1 = (det.box[0] + det.box[2] - px) / sx, (det.box[1] + det.box[3] - py) / sy
    kp = np.stack([(det.keypoints[:, 0] - px) / sx, (det.keypoints[:, 1] - py) / sy], axis=1)
    return Detection(np.array([x0, y0, x1 - x0, y1 - y0], np.float32), kp.astype(np.float32), det.score)


class BlazeFace:
    """The short-range detector on LiteRT: :meth:`detections` of an RGB uint8 image, MediaPipe's
    order (best first). ``min_score``: the graph's 0.5 by default."""

    def __init__(self, model_path, min_score: float = MIN_SCORE, threads: int = 1):
        self.model = TFLiteModel(model_path, threads)
        if self.model.input_shape != (1, INPUT_SIZE, INPUT_SIZE, 3) or len(self.model.output_shapes) != 2:
            from posebench.errors import WeightsError

            raise WeightsError(f"{model_path} is not MediaPipe's short-range face detector (input {self.model.input_shape}, "
                               f"expected (1, {INPUT_SIZE}, {INPUT_SIZE}, 3))")
        self.min_score = float(min_score)

    def detections(self, image: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        rect, pad = letterbox(w, h)
        x = rotated_rect_to_tensor(image, rect, INPUT_SIZE, INPUT_SIZE, (-1.0, 1.0), border="zero")
        outs = self.model(x[None])
        boxes, scores = (outs[0], outs[1]) if outs[0].shape[-1] == 4 + 2 * NUM_KEYPOINTS else (outs[1], outs[0])
        return [unletterbox(d, pad) for d in weighted_nms(decode(boxes, scores, self.min_score))]
