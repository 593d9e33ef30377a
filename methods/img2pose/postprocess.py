"""img2pose's test-time post-processing and the rules that pick the protocol face, as the authors'
code computes them (vitoralbiero/img2pose at fd5473e).

Per image (``models.DOFRoIHeads.postprocess_detections``): proposals clipped to the resized image,
face score > ``score_thresh`` (0.05, the model's default), boxes under 1e-2 px dropped, the DoF
de-normalised (``dof * pose_stddev + pose_mean``, numpy's dtype promotion of float32 DoF with the
files' arrays) and moved from the proposal's frame to the whole resized image
(``utils/pose_operations.pose_bbox_to_full_image``: camera ``K = [[w+h, 0, w//2], [0, w+h, h//2],
[0, 0, 1]]`` of the resized image, the proposal's principal point truncated into K's integer
array, ``scipy`` rotations; the nearest rotation of a non-orthogonal matrix is scipy's), each box
replaced by the box of the 68 reference points projected with that pose
(``expand_bbox_rectangle``, x/y factors 1.1, forehead 0.3, the rotation vector's z as its
"roll"), NMS 0.5 on those boxes (torchvision ``batched_nms``), and the boxes scaled back to the
input image (torchvision ``resize_boxes``; the DoF stay those of the resized image, as theirs).

Rules that pick the detection answering a protocol face (their evaluation notebooks):

- ``aflw2000`` (``aflw_2000_3d_evaluation.ipynb``): the face's 68 landmarks give a target box
  (EPnP pose of the reference points with the input image's K; ``expand_bbox_rectangle`` 1.1/1.1
  with that pose's rotation-vector z); among detections scoring above 0.0, the first of largest
  IoU (their +1-pixel IoU) with it. When none overlaps, their loop leaves the pose of the last
  detection scoring above 0.0, so that one answers (a quirk kept: it is what their MAE counts).
- ``biwi`` (``biwi_evaluation.ipynb``): among detections scoring above 0.9, the one whose box
  centre (``x0 + (x1 - x0) // 2``) is nearest the image centre (``w // 2, h // 2``); the first
  (highest-scoring) detection when none scores above 0.9.
- ``box`` (posebench's, for faces given by a box only): the ``aflw2000`` rule with the given box
  as the target.

No detection at all -> :class:`SampleFailure` ``no face found`` (their notebooks count it a failure).
The pose in posebench's convention: :func:`rotation_of` (the model rotation ``F R F``, F =
diag(1, -1, -1)), read by :func:`posebench.pose.pose_from_matrix`; their ``convert_to_aflw``
Euler angles are the same rotation read as ``xyz`` Euler angles of ``R.T`` with yaw and roll negated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .nets import RawDetections

SCORE_THRESH = 0.05  # FasterDoFRCNN's box_score_thresh default
DETECTION_NMS = 0.5  # its box_nms_thresh default
BBOX_X_FACTOR = BBOX_Y_FACTOR = 1.1
EXPAND_FOREHEAD = 0.3
RULES = ("auto", "aflw2000", "biwi", "box")
AFLW2000_THRESHOLD = 0.0
BIWI_THRESHOLD = 0.9
F = np.diag([1.0, -1.0, -1.0])


@dataclass
class Detections:
    """Final detections of one image: ``boxes`` (N, 4) float32 input-image pixels, ``scores``
    (N,) float32, ``dofs`` (N, 6) float32 (rotation vector rad, translation), in score order."""

    boxes: np.ndarray
    scores: np.ndarray
    dofs: np.ndarray


def intrinsics(w: int, h: int) -> np.ndarray:
    """The authors' camera of a ``w`` x ``h`` image: focal ``w + h``, centre ``(w // 2, h // 2)`` (int64)."""
    return np.array([[w + h, 0, w // 2], [0, w + h, h // 2], [0, 0, 1]])


def to_full_image(dof: np.ndarray, K: np.ndarray, box: np.ndarray) -> np.ndarray:
    """``pose_bbox_to_full_image``: a proposal-frame DoF (6,) -> the whole image's (float64)."""
    from scipy.spatial.transform import Rotation

    rvec, tvec = dof[:3].copy(), dof[3:].copy()
    Kb = K.copy()
    Kb[0, 2] = box[0] + ((box[2] - box[0]) // 2)  # assigned into the integer array: truncated
    Kb[1, 2] = box[1] + ((box[3] - box[1]) // 2)
    size = (box[2] - box[0]) + (box[3] - box[1])
    tvec[2] *= K[0, 0] / size
    tvec = Kb.dot(tvec.T).dot(np.linalg.inv(K.T))
    rmat = np.linalg.inv(K).dot(Kb.dot(Rotation.from_rotvec(rvec).as_matrix()))
    return np.concatenate([Rotation.from_matrix(rmat).as_rotvec(), tvec])


def project(points: np.ndarray, dof: np.ndarray, K: np.ndarray) -> np.ndarray:
    """``plot_3d_landmark``: (68, 3) points posed by ``dof`` and projected with ``K`` -> (68, 2) px."""
    from scipy.spatial.transform import Rotation

    cam = points.dot(Rotation.from_rotvec(dof[:3]).as_matrix().T) + dof[3:]
    p = K.dot(cam.T).T
    return p[:, :2] / np.tile(p[:, 2], (2, 1)).T


def expand_box(w: int, h: int, lms: np.ndarray, roll: float, fx: float = BBOX_X_FACTOR, fy: float = BBOX_Y_FACTOR,
               forehead: float = EXPAND_FOREHEAD) -> np.ndarray:
    """``expand_bbox_rectangle``: the box of the points ``lms`` (N, 2), widened by ``fx``/``fy``,
    the forehead side extended by ``forehead`` (side chosen by ``roll``, radians), corners
    truncated to int32 and clipped to the image (``[x0, y0, x1, y1]`` ints)."""
    x_lo, x_hi = np.min(lms[:, 0], axis=0), np.max(lms[:, 0], axis=0)
    y_lo, y_hi = np.min(lms[:, 1], axis=0), np.max(lms[:, 1], axis=0)
    sx, sy = int(np.max(x_hi - x_lo) * fx), int(np.max(y_hi - y_lo) * fy)
    cx, cy = 0.5 * x_lo + 0.5 * x_hi, 0.5 * y_lo + 0.5 * y_hi
    x0, x1 = cx - sx * 0.5, cx + sx * 0.5
    y0, y1 = cy - sy * 0.5, cy + sy * 0.5
    if abs(roll) > 2.5:
        y1 += forehead * np.max(y_hi - y_lo)
    elif roll > 1:
        x1 += forehead * np.max(x_hi - x_lo)
    elif roll < -1:
        x0 -= forehead * np.max(x_hi - x_lo)
    else:
        y0 -= forehead * np.max(y_hi - y_lo)
    x0, x1, y0, y1 = (np.asarray(v).astype(np.int32) for v in (x0, x1, y0, y1))
    return np.array([0 if min(x0, 0) < 0 else x0, 0 if min(y0, 0) < 0 else y0,
                     w if max(x1 - w, 0) > 0 else x1, h if max(y1 - h, 0) > 0 else y1])


def detections(raw: RawDetections, pose_mean: np.ndarray, pose_stddev: np.ndarray, points: np.ndarray) -> Detections:
    """The authors' post-processing of one image's raw outputs (module docstring)."""
    import torch
    from torchvision.models.detection.transform import resize_boxes
    from torchvision.ops import boxes as box_ops

    boxes = box_ops.clip_boxes_to_image(raw.proposals, raw.resized)
    scores, dofs = raw.scores, raw.dofs
    inds = torch.nonzero(scores > SCORE_THRESH).squeeze(1)
    boxes, scores, dofs = boxes[inds], scores[inds], dofs[inds]
    keep = box_ops.remove_small_boxes(boxes, min_size=1e-2)
    boxes, scores, dofs = boxes[keep], scores[keep], dofs[keep]
    if len(dofs):
        h, w = raw.resized
        K = intrinsics(w, h)
        d = dofs.numpy() * pose_stddev + pose_mean
        b = boxes.numpy()
        full = [to_full_image(d[i], K, b[i]) for i in range(d.shape[0])]
        proj = [expand_box(w, h, project(points, g, K), g[2]) for g in full]
        boxes = torch.from_numpy(np.asarray(proj)).float()
        dofs = torch.from_numpy(np.asarray(full)).float()
        keep = box_ops.batched_nms(boxes, scores, torch.ones_like(scores, dtype=torch.int64), DETECTION_NMS)
        boxes, scores, dofs = boxes[keep], scores[keep], dofs[keep]
    boxes = resize_boxes(boxes.reshape(-1, 4), raw.resized, raw.original)
    return Detections(boxes.numpy().astype(np.float32), scores.numpy().astype(np.float32),
                      dofs.numpy().astype(np.float32).reshape(-1, 6))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """The notebooks' ``bb_intersection_over_union`` (inclusive pixels: +1 on every side)."""
    xa, ya, xb, yb = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, xb - xa + 1) * max(0, yb - ya + 1)
    area_a = (a[2] - a[0] + 1) * (a[3] - a[1] + 1)
    area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return float(inter / float(area_a + area_b - inter))


def target_box(landmarks: np.ndarray, points: np.ndarray, w: int, h: int) -> np.ndarray:
    """The AFLW2000 notebook's box of a face's 68 landmarks (68, 2): ``get_pose`` (EPnP of the
    reference points, the input image's K) gives the rotation-vector z ``expand_bbox_rectangle`` reads."""
    import cv2

    lms = np.asarray(landmarks, np.float64)[:, :2]
    ok, rvec, _ = cv2.solvePnP(points, lms.astype("float32"), intrinsics(w, h).astype(np.float64), None,
                               flags=cv2.SOLVEPNP_EPNP)
    return expand_box(w, h, lms, float(np.asarray(rvec).ravel()[2]))


def pick_by_overlap(det: Detections, target: np.ndarray, threshold: float = AFLW2000_THRESHOLD) -> int:
    """Index of the detection answering ``target`` (the AFLW2000 rule; -1 when no detection scores above ``threshold``)."""
    best, best_iou, last = -1, 0.0, -1
    boxes = det.boxes.astype("float")
    for i in range(len(boxes)):
        if det.scores[i] > threshold:
            last = i
            v = iou(boxes[i], target)
            if v > best_iou:
                best, best_iou = i, v
    return best if best >= 0 else last


def pick_by_centre(det: Detections, w: int, h: int, threshold: float = BIWI_THRESHOLD) -> int:
    """Index of the detection nearest the image centre among those scoring above ``threshold`` (the BIWI rule)."""
    best, best_d = 0, float("inf")
    boxes = det.boxes.astype("float")
    for i in range(len(boxes)):
        if det.scores[i] > threshold:
            b = boxes[i]
            d = float(np.hypot(b[0] + ((b[2] - b[0]) // 2) - w // 2, b[1] + ((b[3] - b[1]) // 2) - h // 2))
            if d < best_d:
                best, best_d = i, d
    return best


def rotation_of(rotvec: np.ndarray) -> np.ndarray:
    """posebench's model rotation (float64) of the camera-frame rotation vector: ``F R F``
    (F = diag(1, -1, -1): the camera's y down, z away vs the model's y up, z to the viewer)."""
    from scipy.spatial.transform import Rotation

    return F @ Rotation.from_rotvec(np.asarray(rotvec, np.float64)).as_matrix() @ F
