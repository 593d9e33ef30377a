"""SynergyNet's input and pose, as the authors' code computes them (choyingw/SynergyNet at
9de11e2: ``synergy3DMM.py`` / ``model_building.py`` ``get_all_outputs``, ``utils/inference.py``).

Per face box ``(x0, y0, x1, y1)`` (the authors' FaceBoxes detection; posebench's face source):
:func:`roi_from_box` -- a square around the box's centre, half side ``(y1 - y0) * 1.2 // 2`` (the
box *height* only; Python's floor division on floats, as theirs); the crop is ``crop_img``
(:func:`posebench.methods.tddfa_v2.preprocess.crop_roi`: the same code, corners
``int(round())``, outside the image zero-padded); ``cv2.resize`` to 120x120 ``INTER_LANCZOS4``;
:func:`to_batch`: BGR channel order (the authors feed ``cv2.imread``'s BGR image unchanged),
``(x - 127.5) / 128`` in float32. The network's 62 outputs are de-normalised ``p * std + mean``
(``parse_pose``); the pose is the rotation of the 3x4 camera ``p[:12]`` as ``P2sRt`` makes it (rows
1 and 2 normalised, row 3 their cross product) -- the same camera model as 3DDFA (SynergyNet
trains on 3DDFA's 300W-LP parameters), so the rotation is in posebench's convention and converts by
:func:`posebench.pose.pose_from_matrix` (the authors' ``matrix2angle_corr`` is another Euler
convention and is not used).

Images are RGB uint8 HxWx3 inside posebench: crop and resize work per channel, so the channels are
reversed to BGR only when the batch is built. ROIs are ``[x0, y0, x1, y1]`` floats in pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posebench.crop import Box
from posebench.methods.tddfa_v2.preprocess import crop_roi, denormalise, pose_of, rotation_of

from .nets import INPUT_SIZE

__all__ = ["crop_roi", "denormalise", "network_input", "pose_of", "roi_from_box", "rotation_of", "to_batch"]


def roi_from_box(box: Box) -> list[float]:
    """``get_all_outputs``' square ROI of a face box ``(x0, y0, x1, y1)``: centre kept, half side
    ``(y1 - y0) * 1.2 // 2``."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    h_center, w_center = (y0 + y1) / 2, (x0 + x1) / 2
    margin = (y1 - y0) * 1.2 // 2
    return [w_center - margin, h_center - margin, w_center + margin, h_center + margin]


def network_input(image: np.ndarray, roi: Sequence[float], size: int = INPUT_SIZE) -> np.ndarray:
    """The 120x120 uint8 crop (channel order of ``image``) of one ROI, ``INTER_LANCZOS4``."""
    import cv2

    return cv2.resize(crop_roi(image, roi), dsize=(size, size), interpolation=cv2.INTER_LANCZOS4)


def to_batch(crops: Sequence[np.ndarray]) -> np.ndarray:
    """(N, 3, 120, 120) float32 C-contiguous array from RGB uint8 crops: channels reversed to BGR,
    ``(x - 127.5) / 128``; numpy, as 3DDFA_V2's engines take it (no torch next to onnxruntime)."""
    x = np.stack(crops)[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
    return np.ascontiguousarray((x - np.float32(127.5)) / np.float32(128))
