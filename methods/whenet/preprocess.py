"""WHENet's input: the face crop and its normalisation, as the authors' demo code does it.

Per face (``demo_video.py`` ``process_detection`` and ``WHENet.get_angle``): the crop box cut at
the image border and its corners truncated to integers, the pixels inside sliced out (no
padding), ``cv2.resize`` to 224x224 (bilinear, ``INTER_LINEAR``), then ``/ 255`` and ImageNet
mean/std in float64 and a cast to float32 (Keras' ``predict`` casts the float64 array). Images
are RGB uint8 HxWx3 (the authors convert BGR -> RGB before resizing; the resize works per
channel, so the pixels are the same).

Crop boxes (option ``crop``; the comparison on AFLW2000 is in ``docs/whenet.md``):

* ``loose68`` (default): Hopenet's loose box (:func:`posebench.crop.loose_box_hopenet`, k = 0.2)
  around the face's 68 landmarks: the crop posebench's Hopenet sees, without the AFLW
  invisible-point artefact of the ``aflw2000`` protocol box; close to the padded head boxes of
  the authors' demo. Without landmarks (a detector's box, a dataset without them): the given box.
* ``visible``: the same rule around the dataset's visible sparse points (AFLW2000's ``pt2d``
  without the -1 entries); without them as ``loose68``.
* ``demo``: the authors' demo padding (``height / 10`` above and below, ``width / 5`` left and
  right, updated in their order and cut at the image) around the tight 68-landmark box, or
  around the given box when there are no landmarks (the demo pads a YOLO head detection).
* ``protocol``: the dataset's box as given (AFLW2000: Hopenet's loose box around all 21 ``pt2d``
  points, invisible ones stored as -1 included: the paper's setting for every network).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from posebench.crop import Box, landmark_box, loose_box_hopenet
from posebench.errors import SampleFailure

from . import CROPS  # noqa: F401  (declared with the registration; re-exported here)
from .nets import INPUT_SIZE

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)



def demo_padding(box: Box, width: int, height: int) -> Box:
    """The authors' demo enlargement of a detected box (``demo_video.py``), in their order: the
    vertical margins use the original height, ``x_max`` uses the already-moved ``x_min``."""
    x0, y0, x1, y1 = box
    y0 = max(0.0, y0 - abs(y0 - y1) / 10)
    y1 = min(float(height), y1 + abs(y0 - y1) / 10)
    x0 = max(0.0, x0 - abs(x0 - x1) / 5)
    x1 = min(float(width), x1 + abs(x0 - x1) / 5)
    return (x0, y0, x1, y1)


def crop_reference(crop: str, box: Box | None, landmarks: np.ndarray | None, points: np.ndarray | None,
                   width: int, height: int) -> Box:
    """The crop box (pixels, float) of one face under crop rule ``crop`` (see the module doc)."""
    if crop == "visible" and points is not None:
        p = np.asarray(points, float).reshape(-1, 2)
        if ((p[:, 0] >= 0) & (p[:, 1] >= 0)).any():
            return loose_box_hopenet(landmark_box(p, visible_only=True))
    if crop in ("loose68", "visible", "demo") and landmarks is not None:
        tight = landmark_box(landmarks)
        return demo_padding(tight, width, height) if crop == "demo" else loose_box_hopenet(tight)
    if box is None:
        raise SampleFailure("no face box (the protocol gave none and no detector was used)")
    if crop == "demo":
        return demo_padding(tuple(float(v) for v in box), width, height)
    return tuple(float(v) for v in box)


def detector_reference(crop: str, box: Box, width: int, height: int) -> Box:
    """The crop box (pixels, float) around a face detector's box under crop rule ``crop``:
    ``loose68``/``visible`` grow it as the 68-landmark tight box is grown (a face detector's box
    spans brows to chin like that box), ``demo`` pads it as the authors' demo pads a head box,
    ``protocol`` uses it as it is."""
    b = tuple(float(v) for v in box)
    if crop == "demo":
        return demo_padding(b, width, height)
    if crop == "protocol":
        return b
    return loose_box_hopenet(b)


def sliced_box(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer box actually sliced: cut at the image border, corners truncated (``int()``)."""
    x0, y0, x1, y1 = box
    if not all(np.isfinite(box)):
        raise SampleFailure(f"invalid face box {tuple(box)}")
    out = (int(max(0.0, x0)), int(max(0.0, y0)), int(min(float(width), x1)), int(min(float(height), y1)))
    if out[2] - out[0] < 2 or out[3] - out[1] < 2:
        raise SampleFailure(f"face box {tuple(round(float(v), 1) for v in box)} lies outside the image or is empty")
    return out


def face_crop(image: np.ndarray, box: tuple[int, int, int, int], size: int = INPUT_SIZE) -> np.ndarray:
    """The 224x224 RGB uint8 network input for an integer box (from :func:`sliced_box`)."""
    import cv2

    x0, y0, x1, y1 = box
    return cv2.resize(np.ascontiguousarray(image[y0:y1, x0:x1]), (size, size))


def to_batch(crops: Sequence[np.ndarray], channels_last: bool = True) -> torch.Tensor:
    """(N, 3, 224, 224) float32 from uint8 crops: ``/ 255``, mean/std in float64 as the authors'
    numpy code, then float32. With ``channels_last`` the tensor keeps NHWC memory layout."""
    x = (np.stack(crops) / 255 - np.asarray(MEAN)) / np.asarray(STD)
    t = torch.from_numpy(x.astype(np.float32)).permute(0, 3, 1, 2)
    return t.contiguous(memory_format=torch.channels_last) if channels_last else t.contiguous()
