"""Reference outputs of SynergyNet from the authors' own code, for posebench's exactness test
(tests/methods/test_synergynet.py).

Runs the authors' modules (choyingw/SynergyNet at commit 9de11e2), never committed here: their
repository is extracted into a throw-away folder and put first on ``sys.path``. The venv is
throw-away too (torch from this disk)::

    python3 -m venv /tmp/i21ref
    /tmp/i21ref/bin/pip install torch==2.14.1 torchvision==0.29.1 numpy scipy opencv-python-headless
    /tmp/i21ref/bin/pip install matplotlib  # utils/inference.py imports it
    git --git-dir=<mirror of choyingw/SynergyNet> archive HEAD model_building.py loss_definition.py backbone_nets utils \
        | tar -x -C /tmp/synergynet_src
    /tmp/i21ref/bin/python scripts/synergynet_reference.py --src /tmp/synergynet_src \
        --data-dir ../shared/data/AFLW2000-sample --face-model ../shared/data/face-model \
        --weights-out /tmp/synergynet_seeded.pth.tar -o tests/data/synergynet_reference.json

The published checkpoint (``best.pth.tar``, Google Drive) is not on this machine, so the script
builds the authors' ``WrapUpSynergyNet`` (``model_building.py``: the MobileNetV2 ``I2P`` backbone,
the ``MLP_for``/``MLP_rev`` refiners and the 3DMM buffers) and writes its state dict in their
checkpoint layout -- ``{'epoch', 'state_dict'}``, every key prefixed ``module.`` (their training
runs ``nn.DataParallel``; ``main_train.save_checkpoint``) -- filled with **seeded values**, then
loads it back with their own ``load_weights``. The seeding rule (:func:`seeded_value`, repeated in
the test without the authors' code): for each key in the state dict's order, a generator seeded
with ``zlib.crc32(key)``; conv weights ``randn * sqrt(2 / fan_in)``, linear weights ``0.01 randn`` (the
authors' initialisation scale: the regressed parameters stay near their mean, the poses in a
face-like range), BatchNorm weights
``1 + 0.1 randn``, biases and running means ``0.1 randn``, running variances ``1 + 0.2 |randn|``,
``num_batches_tracked`` 0; the buffers ``param_mean``/``param_std`` hold the 62 3DMM parameter
statistics of ``--face-model`` (3DDFA's ``param_mean.txt``/``param_std.txt``, float32), and the
other 3DMM buffers the stand-ins below.

The authors' ``utils/params.py`` reads ``3dmm_data/`` (a Google Drive archive, absent here); its
pose reads only ``param_mean``/``param_std`` of ``param_whitening.pkl``, so the folder is written
with those statistics and small stand-in bases (``keypoints_sim.npy`` 0..203, ``w_shp_sim.npy``
(204, 40), ``w_exp_sim.npy`` (204, 10), ``u_shp.npy``/``u_exp.npy`` (204, 1) zeros, ``tri.mat``):
the basis buffers of the seeded checkpoint have these stand-in shapes (the published file's are
full size; posebench does not read them). ``FaceBoxes`` (the demo detector; its NMS is a compiled
extension) is replaced by an empty module: the face box here is posebench's ``aflw2000`` protocol
box, computed independently: Hopenet's loose box (k = 0.2, its sequential updates) around all 21
``pt2d`` points, the invisible ones stored as -1 included.

Per image (BGR from ``cv2.imread``, as the authors' demos), the loop of
``WrapUpSynergyNet.get_all_outputs`` line for line: the square ROI (centre of the box, half side
``(box height) * 1.2 // 2``), ``crop_img``, ``cv2.resize(120, INTER_LANCZOS4)``, ``(img - 127.5) / 128``
(BGR, no channel swap), ``forward_test``, then ``predict_pose`` (``param * param_std + param_mean``,
``P2sRt``). Stored: the ROI, the SHA-256 of the 120x120 uint8 crop (BGR) and of the float32 network
input, the rotation ``R``, the angles in posebench's convention from ``R`` written from the
convention's definition (``M = R.T = Rz(roll) Ry(yaw) Rx(pitch)``), and the authors' own
``matrix2angle_corr`` angles (their [yaw, pitch, roll] naming; for the record, not compared). Also
the checkpoint's layout (key, shape, dtype, SHA-256 of the tensor's bytes) and the file's SHA-256,
so the test rebuilds the same tensors in the same layout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import types
import zlib
from pathlib import Path

import numpy as np

SEED_NOTE = "per key in state-dict order: torch.Generator().manual_seed(zlib.crc32(key))"


def hopenet_loose(x0, y0, x1, y1, k=0.2):
    x0 -= 2 * k * abs(x1 - x0)
    y0 -= 2 * k * abs(y1 - y0)
    x1 += 2 * k * abs(x1 - x0)
    y1 += 0.6 * k * abs(y1 - y0)
    return x0, y0, x1, y1


def protocol_box(mat):
    pts = np.asarray(mat["pt2d"], float).T
    return hopenet_loose(float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))


def angles_of(R):
    M = np.asarray(R, float).T
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -M[2, 0]))))
    return [yaw, math.degrees(math.atan2(M[2, 1], M[2, 2])), math.degrees(math.atan2(M[1, 0], M[0, 0]))]


def seeded_value(key, like, param_mean, param_std):
    import torch

    name = key.rsplit(".", 1)[-1]
    if key.endswith("param_mean"):
        return torch.from_numpy(param_mean.copy())
    if key.endswith("param_std"):
        return torch.from_numpy(param_std.copy())
    if name == "num_batches_tracked":
        return torch.zeros_like(like)
    if not like.is_floating_point():
        return like.clone()
    g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    r = torch.randn(like.shape, generator=g, dtype=torch.float32)
    if name == "running_var":
        return 1 + 0.2 * r.abs()
    if name in ("running_mean", "bias"):
        return 0.1 * r
    if name == "weight" and like.ndim == 1:
        return 1 + 0.1 * r
    if name == "weight" and like.ndim == 2:
        return 0.01 * r  # linear layers: the authors' own initialisation scale (normal, std 0.01)
    if name == "weight":
        return r * math.sqrt(2.0 / max(1, like[0].numel()))
    return 0.1 * r


def write_stand_in_3dmm(root: Path, param_mean, param_std):
    import pickle

    import scipy.io

    d = root / "3dmm_data"
    d.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    np.save(d / "keypoints_sim.npy", np.arange(204))
    np.save(d / "w_shp_sim.npy", rng.standard_normal((204, 40)).astype(np.float32))
    np.save(d / "w_exp_sim.npy", rng.standard_normal((204, 10)).astype(np.float32))
    np.save(d / "u_shp.npy", np.zeros((204, 1), np.float32))
    np.save(d / "u_exp.npy", np.zeros((204, 1), np.float32))
    with open(d / "param_whitening.pkl", "wb") as f:
        pickle.dump({"param_mean": param_mean, "param_std": param_std}, f)
    scipy.io.savemat(d / "tri.mat", {"tri": np.array([[1, 2, 3]]).T})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", required=True, type=Path, help="extracted choyingw/SynergyNet (written to: 3dmm_data/)")
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--face-model", required=True, type=Path, help="folder with param_mean.txt, param_std.txt")
    ap.add_argument("--weights-out", required=True, type=Path, help="where the seeded checkpoint is written")
    ap.add_argument("-o", "--output", required=True, type=Path)
    args = ap.parse_args()
    import os

    import cv2
    import scipy.io
    import torch

    param_mean = np.loadtxt(args.face_model / "param_mean.txt", dtype=np.float32).reshape(-1)[:62]
    param_std = np.loadtxt(args.face_model / "param_std.txt", dtype=np.float32).reshape(-1)[:62]
    src = args.src.resolve()
    output, weights_out, data_dir = args.output.resolve(), args.weights_out.resolve(), args.data_dir.resolve()
    write_stand_in_3dmm(src, param_mean, param_std)
    os.chdir(src)  # the authors' modules read ./3dmm_data/tri.mat
    sys.path.insert(0, str(src))
    sys.modules["FaceBoxes"] = types.SimpleNamespace(FaceBoxes=None)  # the demo detector: not used
    from model_building import WrapUpSynergyNet
    from utils.inference import crop_img, matrix2angle_corr, predict_pose

    torch.set_grad_enabled(False)
    model = WrapUpSynergyNet()  # the authors' model (its own try-load of pretrained/best.pth.tar finds nothing)
    state = {f"module.{k}": seeded_value(k, v, param_mean, param_std) for k, v in model.state_dict().items()}
    weights_out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 0, "state_dict": state}, weights_out)
    model.load_weights(str(weights_out))  # their loader
    model.eval()
    layout = [[k, list(v.shape), str(v.dtype).replace("torch.", ""),
               hashlib.sha256(v.contiguous().numpy().tobytes()).hexdigest()] for k, v in state.items()]

    out = {"source": f"scripts/synergynet_reference.py: the authors' SynergyNet code (choyingw/SynergyNet 9de11e2), "
                     f"torch {torch.__version__}, opencv {cv2.__version__}",
           "seeding": SEED_NOTE, "checkpoint_sha256": hashlib.sha256(weights_out.read_bytes()).hexdigest(),
           "layout": layout, "images": {}}
    errors = []
    for p in sorted(data_dir.glob("image*.jpg")):
        mat = scipy.io.loadmat(str(p.with_suffix(".mat")))
        gt = np.degrees(np.asarray(mat["Pose_Para"], float).ravel()[:3])  # pitch, yaw, roll
        gt = [float(gt[1]), float(gt[0]), float(gt[2])]
        if max(abs(v) for v in gt) > 99:
            continue  # the 37 in-protocol images
        img_ori = cv2.imread(str(p))
        rect = [*protocol_box(mat), 1.0]
        # WrapUpSynergyNet.get_all_outputs, per rect
        roi_box = rect
        HCenter = (rect[1] + rect[3]) / 2
        WCenter = (rect[0] + rect[2]) / 2
        side_len = roi_box[3] - roi_box[1]
        margin = side_len * 1.2 // 2
        roi_box[0], roi_box[1], roi_box[2], roi_box[3] = WCenter - margin, HCenter - margin, WCenter + margin, HCenter + margin
        img = crop_img(img_ori, roi_box)
        img = cv2.resize(img, dsize=(120, 120), interpolation=cv2.INTER_LANCZOS4)
        crop_sha = hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()
        img = torch.from_numpy(img)
        img = img.permute(2, 0, 1)
        img = img.unsqueeze(0)
        img = (img - 127.5) / 128.0
        input_sha = hashlib.sha256(img.contiguous().numpy().astype(np.float32).tobytes()).hexdigest()
        param = model.forward_test(img)
        param = param.squeeze().cpu().numpy().flatten().astype(np.float32)
        P = predict_pose(param, roi_box, ret_mat=True)
        R = np.asarray(P[:, :3], float)
        out["images"][p.stem] = {"gt": gt, "roi": [float(v) for v in roi_box[:4]], "crop_sha256": crop_sha,
                                 "input_sha256": input_sha, "param": param.astype(float).tolist(), "R": R.tolist(),
                                 "angles": angles_of(R), "matrix2angle_corr": [float(v) for v in matrix2angle_corr(R)]}
        errors.append(np.abs(np.asarray(angles_of(R)) - gt))
        print(p.stem, np.round(angles_of(R), 2).tolist(), file=sys.stderr)
    e = np.asarray(errors)
    out["mae"] = {"n": len(e), "yaw": float(e[:, 0].mean()), "pitch": float(e[:, 1].mean()), "roll": float(e[:, 2].mean()),
                  "mean": float(e.mean())}
    print(f"{len(e)} in-protocol images, seeded weights: MAE yaw {out['mae']['yaw']:.2f} pitch {out['mae']['pitch']:.2f} "
          f"roll {out['mae']['roll']:.2f}", file=sys.stderr)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(output)
    print(f"wrote {output}: {len(out['images'])} images; checkpoint {weights_out} sha256 {out['checkpoint_sha256']}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
