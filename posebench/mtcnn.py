"""MTCNN (Zhang et al., "Joint Face Detection and Alignment using Multi-task Cascaded Convolutional
Networks", IEEE SPL 2016) as facenet-pytorch 2.6.0 runs it, ported in torch.

The three networks (P-Net, R-Net, O-Net) have the exact layer names and shapes of facenet-pytorch's
``models/mtcnn.py``, so its published state dicts (``data/pnet.pt``, ``rnet.pt``, ``onet.pt``; MIT)
load unchanged. :func:`detect_faces` reproduces its ``models/utils/detect_face.py::detect_face`` for
one image: the image pyramid (smallest face ``min_face_size`` px, scale ``factor`` per level, levels
while the short side scaled by ``12 / min_face_size`` stays >= 12 px), ``area`` resampling, input
``(x - 127.5) / 128``; stage 1 cells scoring ``>= thresholds[0]``, NMS 0.5 per level then 0.7, box
regression, square-ing (``rerec``); stages 2 and 3 on 24x24 / 48x48 crops clamped to the image
(``pad``), scores ``> thresholds[1|2]``, NMS 0.7, regression (``bbreg``, widths ``x2 - x1 + 1``),
O-Net's five landmarks, and a last NMS 0.7 with the "Min" overlap (intersection / smaller area).

Images are RGB uint8 HxWx3; boxes are ``(x_min, y_min, x_max, y_max)`` in image pixels as
facenet-pytorch returns them (not clipped to the image); scores are the O-Net face probability;
landmarks are (5, 2) pixel ``(x, y)``: left eye, right eye, nose, mouth left, mouth right.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.functional import interpolate

from posebench.errors import WeightsError

#: facenet-pytorch's MTCNN defaults (``MTCNN.__init__``).
MIN_FACE_SIZE = 20
THRESHOLDS = (0.6, 0.7, 0.7)
FACTOR = 0.709
#: The three state-dict files, named as facenet-pytorch's ``data/`` folder names them.
NET_FILES = ("pnet", "rnet", "onet")


class PNet(nn.Module):
    """P-Net: fully convolutional 12x12 proposal net -> (box regression (N,4,h,w), face prob (N,2,h,w))."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.prelu1(self.conv1(x))
        x = self.pool1(x)
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    """R-Net: 24x24 crops (N,3,24,24) -> (box regression (N,4), face prob (N,2))."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = x.permute(0, 3, 2, 1).contiguous()  # the Caffe/TF weights' flatten order (facenet-pytorch)
        x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    """O-Net: 48x48 crops -> (box regression (N,4), landmarks (N,10: x1..x5, y1..y5), face prob (N,2))."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)


def load_nets(paths: dict[str, Path]) -> tuple[PNet, RNet, ONet]:
    """The three nets from facenet-pytorch's state-dict files ``{"pnet": path, "rnet": ..., "onet": ...}``.

    Raises :class:`WeightsError` (one line) when a file is not a state dict of that net."""
    nets = (PNet(), RNet(), ONet())
    for name, net in zip(NET_FILES, nets):
        try:
            state = torch.load(paths[name], map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        except Exception as exc:  # noqa: BLE001 - pickle/zip/key errors all mean "not this file"
            reason = " ".join(str(exc).split())[:200]
            raise WeightsError(f"{paths[name]} is not facenet-pytorch's {name}.pt state dict ({reason})") from None
        net.eval()
    return nets


@dataclass(frozen=True)
class Detection:
    """One face: ``box`` (x_min, y_min, x_max, y_max) px, ``score`` O-Net probability, ``landmarks`` (5, 2) px."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray


def _nms(boxes: torch.Tensor, scores: torch.Tensor, iou: float) -> torch.Tensor:
    from torchvision.ops import nms

    return nms(boxes, scores, iou)


def _nms_min(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """facenet-pytorch's ``nms_numpy(..., 'Min')``: overlap = intersection / smaller area, +1 px sizes."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores)
    pick = []
    while order.size > 0:
        i = order[-1]
        pick.append(i)
        rest = order[:-1]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        overlap = w * h / np.minimum(area[i], area[rest])
        order = rest[overlap <= threshold]
    return np.asarray(pick, dtype=np.int64)


def _bbreg(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out = boxes.clone()
    out[:, :4] = torch.stack([boxes[:, 0] + reg[:, 0] * w, boxes[:, 1] + reg[:, 1] * h,
                              boxes[:, 2] + reg[:, 2] * w, boxes[:, 3] + reg[:, 3] * h], dim=1)
    return out


def _rerec(boxes: torch.Tensor) -> torch.Tensor:
    """Square each box about its centre on its longer side (facenet-pytorch's ``rerec``)."""
    out = boxes.clone()
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = torch.max(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _crops(img: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """The boxes' pixels (1-based inclusive corners truncated and clamped, facenet-pytorch's ``pad``)
    resampled to size x size with area interpolation, normalised."""
    h, w = img.shape[2:4]
    b = boxes[:, :4].trunc().int().numpy()
    x, y = np.maximum(b[:, 0], 1), np.maximum(b[:, 1], 1)
    ex, ey = np.minimum(b[:, 2], w), np.minimum(b[:, 3], h)
    out = [interpolate(img[:, :, y[k] - 1:ey[k], x[k] - 1:ex[k]], size=(size, size), mode="area")
           for k in range(len(b)) if ey[k] > y[k] - 1 and ex[k] > x[k] - 1]
    return (torch.cat(out, dim=0) - 127.5) * 0.0078125


def _batched(net: nn.Module, data: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``net(data)`` in batches of 512, as facenet-pytorch's ``fixed_batch_process``."""
    outs = [net(data[i:i + 512]) for i in range(0, len(data), 512)]
    return tuple(torch.cat(v, dim=0) for v in zip(*outs))


@torch.no_grad()
def detect_faces(image: np.ndarray, nets: tuple[PNet, RNet, ONet], min_face_size: int = MIN_FACE_SIZE,
                 thresholds: tuple[float, float, float] = THRESHOLDS, factor: float = FACTOR) -> list[Detection]:
    """Every face MTCNN finds in an RGB uint8 HxWx3 image, best score first after the last NMS
    (facenet-pytorch's order). Source: facenet-pytorch 2.6.0 ``detect_face`` (see the module doc)."""
    pnet, rnet, onet = nets
    img = torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
    h, w = img.shape[2:4]
    m = 12.0 / min_face_size
    minl = min(h, w) * m
    scales = []
    scale = m
    while minl >= 12:
        scales.append(scale)
        scale *= factor
        minl *= factor

    # Stage 1: P-Net over the pyramid; cells -> boxes (stride 2, cell 12), NMS 0.5 per level.
    found = []
    for scale in scales:
        data = interpolate(img, size=(int(h * scale + 1), int(w * scale + 1)), mode="area")
        reg, probs = pnet((data - 127.5) * 0.0078125)
        prob = probs[0, 1]
        mask = prob >= thresholds[0]
        idx = mask.nonzero()
        bb = idx.to(reg.dtype).flip(1)  # (x, y) of each cell
        q1 = ((2 * bb + 1) / scale).floor()
        q2 = ((2 * bb + 12) / scale).floor()
        cand = torch.cat([q1, q2, prob[mask].unsqueeze(1), reg[0][:, mask].permute(1, 0)], dim=1)
        found.append(cand[_nms(cand[:, :4], cand[:, 4], 0.5)])
    boxes = torch.cat(found, dim=0) if found else torch.zeros(0, 9)
    boxes = boxes[_nms(boxes[:, :4], boxes[:, 4], 0.7)]
    rw, rh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    boxes = torch.stack([boxes[:, 0] + boxes[:, 5] * rw, boxes[:, 1] + boxes[:, 6] * rh,
                         boxes[:, 2] + boxes[:, 7] * rw, boxes[:, 3] + boxes[:, 8] * rh, boxes[:, 4]], dim=1)
    boxes = _rerec(boxes)

    # Stage 2: R-Net on 24x24 crops.
    if len(boxes):
        reg, probs = _batched(rnet, _crops(img, boxes, 24))
        keep = probs[:, 1] > thresholds[1]
        boxes = torch.cat([boxes[keep, :4], probs[keep, 1:2]], dim=1)
        reg = reg[keep]
        pick = _nms(boxes[:, :4], boxes[:, 4], 0.7)
        boxes = _rerec(_bbreg(boxes[pick], reg[pick]))

    # Stage 3: O-Net on 48x48 crops, landmarks, "Min" NMS.
    if not len(boxes):
        return []
    reg, marks, probs = _batched(onet, _crops(img, boxes, 48))
    keep = probs[:, 1] > thresholds[2]
    boxes = torch.cat([boxes[keep, :4], probs[keep, 1:2]], dim=1)
    reg, marks = reg[keep], marks[keep]
    bw = (boxes[:, 2] - boxes[:, 0] + 1).unsqueeze(1)
    bh = (boxes[:, 3] - boxes[:, 1] + 1).unsqueeze(1)
    px = bw * marks[:, :5] + boxes[:, 0:1] - 1
    py = bh * marks[:, 5:10] + boxes[:, 1:2] - 1
    points = torch.stack([px, py], dim=2)
    boxes = _bbreg(boxes, reg)
    if not len(boxes):
        return []
    pick = _nms_min(boxes[:, :4].numpy(), boxes[:, 4].numpy(), 0.7)
    b, p = boxes.numpy()[pick], points.numpy()[pick]
    return [Detection(tuple(float(v) for v in b[i, :4]), float(b[i, 4]), p[i].astype(np.float64)) for i in range(len(b))]
