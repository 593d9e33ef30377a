"""The ``img2pose`` estimator: the authors' network (:mod:`.nets`) from their published files
(:mod:`.weights`), their post-processing and their evaluation notebooks' choice of the detection
that answers a protocol face (:mod:`.postprocess`).

Per image: RGB uint8 -> ``ToTensor`` (float32 / 255, CHW) -> the network (torchvision's transform:
ImageNet normalisation, shorter side ``min_size`` = 400 and longer at most ``max_size`` = 1400, RPN
500 -> 10 proposals: their AFLW2000 notebook's settings; their BIWI notebook uses ``min_size`` 700)
-> detections (boxes, scores, 6 DoF). Which detection answers the face (``match``): ``auto`` = the
``aflw2000`` rule where the face has 68 landmarks (AFLW2000-3D, 300W-LP), the ``box`` rule where
it has a box only, the ``biwi`` rule where it has neither (BIWI); or one rule for every face. The
pose: the chosen detection's rotation vector as the model rotation ``F R F`` (F = diag(1, -1, -1)),
then :func:`posebench.pose.pose_from_matrix` (degrees, AFLW2000-3D convention; no Euler sign
flipped). Every estimate's ``info`` has ``detector`` (``img2pose``), ``box`` and ``score``. A bare
photo (:meth:`Img2PoseMethod.estimate_faces`): every detection scoring above ``face_threshold``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from posebench.errors import SampleFailure, UsageError
from posebench.method import Estimate, FaceInput, Method, as_image
from posebench.pose import pose_from_matrix

from . import LICENCE, NEEDS, RULES
from .postprocess import (
    Detections,
    detections,
    pick_by_centre,
    pick_by_overlap,
    rotation_of,
    target_box,
)
from .weights import load_network, read_points, read_statistics, resolve

RPN_PRE_NMS_TOP_N = 500  # both evaluation notebooks
RPN_POST_NMS_TOP_N = 10
DETECTOR = "img2pose"


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """torchvision ``ToTensor`` of an RGB uint8 HxWx3 array: (3, H, W) float32 in [0, 1] (a copy:
    the caller's array, possibly read-only, is never shared with torch)."""
    return torch.from_numpy(np.array(image, dtype=np.uint8, copy=True)).permute(2, 0, 1).contiguous().to(torch.float32).div(255)


class Img2PoseMethod(Method):
    """img2pose with the authors' files. Options: ``weights`` (their ``{'fpn_model': ...}`` checkpoint;
    default ``<weights folder>/img2pose/img2pose_v1_ft_300w_lp.pth``), ``pose_mean``, ``pose_stddev``
    (their ``WIDER_train_pose_{mean,stddev}_v1.npy``), ``points`` (``reference_3d_68_points_trans.npy``),
    each defaulting to that folder; ``min_size``, ``max_size`` (the network's resize), ``match``
    (``auto`` | ``aflw2000`` | ``biwi`` | ``box``: which detection answers a protocol face; module
    docstring), ``face_threshold`` (score a bare photo's faces must exceed), ``threads`` (0 = all cores
    of this process). :class:`~posebench.errors.WeightsError` for a missing or unfit file,
    :class:`~posebench.errors.UsageError` for a bad option."""

    name = "img2pose"
    needs = NEEDS
    version = "1"
    licence = LICENCE
    batch_size = 1

    def __init__(self, weights: str = "", pose_mean: str = "", pose_stddev: str = "", points: str = "",
                 min_size: int = 400, max_size: int = 1400, match: str = "auto", face_threshold: float = 0.9,
                 threads: int = 0):
        from posebench.methods.hopenet.engine import cpu_threads

        if match not in RULES:
            raise UsageError(f"match must be one of {', '.join(RULES)}, got {match!r}")
        if min_size > max_size:
            raise UsageError(f"min_size ({min_size}) must not exceed max_size ({max_size})")
        super().__init__()
        self.match, self.face_threshold = match, float(face_threshold)
        paths = {k: resolve(k, v) for k, v in (("weights", weights), ("pose_mean", pose_mean),
                                               ("pose_stddev", pose_stddev), ("points", points))}
        for label, p in paths.items():
            self.reads(label, p)
        self.weights_path = paths["weights"]
        self.pose_mean, self.pose_stddev = read_statistics(paths["pose_mean"], paths["pose_stddev"])
        self.points = read_points(paths["points"])
        self.net = load_network(self.weights_path, min_size=int(min_size), max_size=int(max_size),
                                rpn_pre_nms_top_n=RPN_PRE_NMS_TOP_N, rpn_post_nms_top_n=RPN_POST_NMS_TOP_N)
        self.threads = int(threads) if threads and threads > 0 else cpu_threads()
        torch.set_num_threads(self.threads)

    def describe(self) -> str:
        """The set-up and the rule picking the protocol face, with the licence."""
        rule = {"auto": "the authors' AFLW2000 rule (largest IoU with the box of the 68 landmarks) where the face has "
                        "landmarks, the largest IoU with the face box where it has a box, their BIWI rule (score > 0.9, "
                        "nearest the image centre) otherwise",
                "aflw2000": "the authors' AFLW2000 rule (largest IoU with the box of the 68 landmarks)",
                "biwi": "the authors' BIWI rule (score > 0.9, nearest the image centre)",
                "box": "largest IoU with the face box"}[self.match]
        t = self.net.transform
        return (f"whole-image detection (min_size {t.min_size[0]}, max_size {t.max_size}, RPN {RPN_PRE_NMS_TOP_N}->"
                f"{RPN_POST_NMS_TOP_N}); protocol face: {rule}; licence {self.licence}")

    def detect(self, image: np.ndarray) -> Detections:
        """Every detection of an RGB uint8 HxWx3 image (boxes in its pixels, scores, 6 DoF)."""
        raw = self.net.raw([to_tensor(image)])[0]
        return detections(raw, self.pose_mean, self.pose_stddev, self.points)

    def choose(self, face: FaceInput, det: Detections) -> int:
        """Index of the detection answering ``face`` (:mod:`.postprocess` rules); -1 when none."""
        if len(det.scores) == 0:
            return -1
        w, h = face.image_size
        rule = self.match
        landmarks = None if face.landmarks is None else np.asarray(face.landmarks)
        if rule == "auto":
            rule = ("aflw2000" if landmarks is not None and landmarks.ndim == 2 and landmarks.shape[0] == 68
                    else "box" if face.box is not None else "biwi")
        if rule == "aflw2000":
            if landmarks is None or landmarks.ndim != 2 or landmarks.shape[0] != 68:
                raise SampleFailure("img2pose match=aflw2000 needs the face's 68 landmarks")
            return pick_by_overlap(det, target_box(landmarks[:, :2], self.points, int(w), int(h)))
        if rule == "box":
            if face.box is None:
                raise SampleFailure("img2pose match=box needs the face's box")
            return pick_by_overlap(det, np.asarray(face.box[:4], np.float64))
        return pick_by_centre(det, int(w), int(h))

    def estimate_batch(self, faces: Sequence[FaceInput]) -> list:
        out: list = []
        for face in faces:
            try:
                image = face.rgb()
                det = self.detect(image)
                i = self.choose(face, det)
                if i < 0:
                    raise SampleFailure("no face found")
                out.append(self.pose_of(det, i))
            except SampleFailure as exc:
                out.append(exc)
        return out

    @staticmethod
    def pose_of(det: Detections, i: int) -> Estimate:
        pose = pose_from_matrix(rotation_of(det.dofs[i, :3]))
        return Estimate.of(pose, detector=DETECTOR, box=tuple(float(v) for v in det.boxes[i]), score=float(det.scores[i]))

    def estimate_faces(self, image: np.ndarray | str | Path) -> list:
        """Every detection scoring above ``face_threshold`` as ``(box, pose)``, largest box first."""
        from posebench.imageio import to_rgb

        det = self.detect(to_rgb(as_image(image)))
        keep = [i for i in range(len(det.scores)) if det.scores[i] > self.face_threshold]
        area = [float((det.boxes[i, 2] - det.boxes[i, 0]) * (det.boxes[i, 3] - det.boxes[i, 1])) for i in keep]
        order = [keep[j] for j in sorted(range(len(keep)), key=lambda j: -area[j])]
        return [(tuple(float(v) for v in det.boxes[i]), self.pose_of(det, i)) for i in order]
