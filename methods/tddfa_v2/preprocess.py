"""3DDFA_V2's input and its pose, bit for bit as the authors' code computes them
(cleardusk/3DDFA_V2 at 1b6c676: ``utils/functions.py``, ``TDDFA.py``, ``utils/tddfa_util.py``,
``utils/pose.py``).

Per face: a square ROI, from a face box (:func:`roi_from_box` = ``parse_roi_box_from_bbox``: centre
moved down by 0.14 of the mean side, side ``int(1.58 * mean side)``) or from 68 landmarks
(:func:`roi_from_landmarks` = ``parse_roi_box_from_landmark``: the landmarks' tight box made square
around its centre, then a square of side its diagonal); :func:`crop_roi` = ``crop_img`` (corners
``int(round())``, outside the image zero-padded); ``cv2.resize`` to 120x120 ``INTER_LINEAR``;
:func:`to_batch`: BGR channel order, ``(x - 127.5) / 128`` in float32 (``ToTensorGjz`` +
``NormalizeGjz``). The network's 62 outputs are de-normalised ``p * std + mean`` in float32
(:func:`denormalise`); the pose is the rotation of the 3x4 camera ``P = p[:12]`` as ``P2sRt``
makes it (rows 1 and 2 normalised, row 3 their cross product; :func:`rotation_of`), converted by
:func:`posebench.pose.pose_from_matrix` (checked: that ``R`` is in posebench's convention; the
authors' ``matrix2angle`` is another convention and is not used).

Images are RGB uint8 HxWx3 inside posebench: the crop and the resize work per channel, so the
channels are reversed to BGR only when the batch is built. ROIs are ``[x0, y0, x1, y1]`` floats
in image pixels, landmarks (68, 2) pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import sqrt

import numpy as np

from posebench.crop import Box
from posebench.errors import SampleFailure
from posebench.pose import Pose, pose_from_matrix

from .nets import INPUT_SIZE


def roi_from_box(box: Box) -> list[float]:
    """``parse_roi_box_from_bbox``: the square ROI of a face box ``(x0, y0, x1, y1)``."""
    left, top, right, bottom = box[:4]
    old_size = (right - left + bottom - top) / 2
    center_x = right - (right - left) / 2.0
    center_y = bottom - (bottom - top) / 2.0 + old_size * 0.14
    size = int(old_size * 1.58)
    x0, y0 = center_x - size / 2, center_y - size / 2
    return [x0, y0, x0 + size, y0 + size]


def roi_from_landmarks(landmarks: np.ndarray) -> list[float]:
    """``parse_roi_box_from_landmark``: the square ROI of (68, 2) landmarks (pixels)."""
    pts = np.asarray(landmarks).T  # the authors' (2, 68) layout; min/max as they take them
    bbox = [min(pts[0, :]), min(pts[1, :]), max(pts[0, :]), max(pts[1, :])]
    center = [(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2]
    radius = max(bbox[2] - bbox[0], bbox[3] - bbox[1]) / 2
    bbox = [center[0] - radius, center[1] - radius, center[0] + radius, center[1] + radius]
    llength = sqrt((bbox[2] - bbox[0]) ** 2 + (bbox[3] - bbox[1]) ** 2)
    center_x, center_y = (bbox[2] + bbox[0]) / 2, (bbox[3] + bbox[1]) / 2
    x0, y0 = center_x - llength / 2, center_y - llength / 2
    return [float(x0), float(y0), float(x0 + llength), float(y0 + llength)]


def crop_roi(image: np.ndarray, roi: Sequence[float]) -> np.ndarray:
    """``crop_img``: the ROI's pixels (corners ``int(round())``), zero where it leaves the image.
    :class:`SampleFailure` for a non-finite or empty ROI."""
    if not all(np.isfinite(roi)):
        raise SampleFailure(f"invalid 3DDFA_V2 ROI {list(roi)}")
    h, w = image.shape[:2]
    sx, sy, ex, ey = (int(round(v)) for v in roi)
    dh, dw = ey - sy, ex - sx
    if dh < 2 or dw < 2 or ex <= 0 or ey <= 0 or sx >= w or sy >= h:
        raise SampleFailure(f"3DDFA_V2 ROI {[round(float(v), 1) for v in roi]} is empty or outside the image")
    res = np.zeros((dh, dw) + image.shape[2:], dtype=np.uint8)
    dsx, sx = (-sx, 0) if sx < 0 else (0, sx)
    dex, ex = (dw - (ex - w), w) if ex > w else (dw, ex)
    dsy, sy = (-sy, 0) if sy < 0 else (0, sy)
    dey, ey = (dh - (ey - h), h) if ey > h else (dh, ey)
    res[dsy:dey, dsx:dex] = image[sy:ey, sx:ex]
    return res


def network_input(image: np.ndarray, roi: Sequence[float], size: int = INPUT_SIZE) -> np.ndarray:
    """The 120x120 uint8 crop (channel order of ``image``) of one ROI."""
    import cv2

    return cv2.resize(crop_roi(image, roi), dsize=(size, size), interpolation=cv2.INTER_LINEAR)


def to_batch(crops: Sequence[np.ndarray]) -> np.ndarray:
    """(N, 3, 120, 120) float32 C-contiguous array from RGB uint8 crops: channels reversed to BGR,
    ``(x - 127.5) / 128`` in float32 as the authors' ``sub_``/``div_`` on the float tensor. numpy,
    not torch: a torch operation next to onnxruntime's calls wakes torch's spinning OpenMP threads
    (measured here: 26 ms per face for a ``contiguous()`` after each onnxruntime run, on 2 cores)."""
    x = np.stack(crops)[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
    return np.ascontiguousarray((x - np.float32(127.5)) / np.float32(128))


def denormalise(params: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``param * std + mean`` on float32 values (the authors' re-scale); shape (..., 62)."""
    return np.asarray(params, np.float32) * std + mean


def rotation_of(param: np.ndarray) -> np.ndarray:
    """``P2sRt``'s rotation (3x3) of the camera ``param[:12]`` (float32, as the authors' numpy)."""
    P = np.asarray(param[:12]).reshape(3, -1)
    R1, R2 = P[0:1, :3], P[1:2, :3]
    r1, r2 = R1 / np.linalg.norm(R1), R2 / np.linalg.norm(R2)
    return np.concatenate((r1, r2, np.cross(r1, r2)), 0)


def pose_of(param: np.ndarray) -> Pose:
    """The head pose (degrees, posebench's convention) of one de-normalised 62-vector."""
    return pose_from_matrix(rotation_of(param))
