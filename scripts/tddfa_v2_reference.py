"""Reference outputs of 3DDFA_V2 from the authors' own code, for posebench's exactness test.

Runs the authors' modules (cleardusk/3DDFA_V2 at commit 1b6c676), never committed here: fetch
their repository into a throw-away folder and put it first on ``PYTHONPATH``. Only pure-Python
modules are imported -- ``models`` (``mobilenet_v1.py``, ``resnet.py``), ``utils.tddfa_util``
(``load_model``, ``ToTensorGjz``, ``NormalizeGjz``), ``utils.functions`` (``crop_img``,
``parse_roi_box_from_bbox``, ``parse_roi_box_from_landmark``), ``utils.io._load`` and
``utils.pose`` (``P2sRt``, ``matrix2angle``) -- not ``TDDFA.py`` itself, which imports the BFM
(``bfm/``: a large pickle and the compiled Sim3DR/FaceBoxes parts, not needed for the pose); its
``__init__``/``__call__`` sequence is repeated line for line below. Nothing here imports
posebench. E.g.::

    git --git-dir=<mirror of cleardusk/3DDFA_V2> archive HEAD models utils configs/*.yml | tar -x -C /tmp/tddfa_src
    PYTHONPATH=/tmp/tddfa_src <venv with torch, opencv, scipy>/bin/python scripts/tddfa_v2_reference.py \
        --data-dir ../shared/data/AFLW2000-sample --weights ../shared/models/3ddfa_v2/mb05_120x120.pth \
        --param-stats ../shared/models/3ddfa_v2/param_mean_std_62d_120x120.pkl -o tests/data/tddfa_v2_reference.json

Per image (BGR from ``cv2.imread``, as the authors' demos) and per ROI rule:

* ``landmarks``: ``parse_roi_box_from_landmark(pt3d_68)`` -- the ``.mat``'s 68 3D landmarks, as the
  authors' AFLW2000-3D benchmark crops;
* ``box``: ``parse_roi_box_from_bbox`` of posebench's ``aflw2000`` protocol box, computed here
  independently: Hopenet's loose box (k = 0.2, its sequential updates) around all 21 ``pt2d``
  points, the invisible ones stored as -1 included.

then ``crop_img``, ``cv2.resize(120, INTER_LINEAR)``, ``ToTensorGjz`` + ``NormalizeGjz(127.5, 128)``,
the network (``torch.set_grad_enabled(False)``, eval mode), ``param * std + mean`` in float32,
``P2sRt(param[:12].reshape(3, -1))``. The rotation ``R`` is stored, and the angles in posebench's
convention from it, written here from the convention's definition (``M = R.T = Rz(roll) Ry(yaw)
Rx(pitch)``: yaw = asin(-M[2,0]), pitch = atan2(M[2,1], M[2,2]), roll = atan2(M[1,0], M[0,0]));
also the authors' own ``matrix2angle`` angles, for the record (another convention: not compared).

Writes JSON: per image id, per ROI, the ROI, ``R`` (3x3), ``angles`` [yaw, pitch, roll] degrees,
``matrix2angle`` degrees; and the ground truth (``Pose_Para``, degrees) with the MAE of each ROI
over the in-protocol images (|yaw|, |pitch|, |roll| <= 99), printed too.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROIS = ("landmarks", "box")


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--param-stats", required=True)
    ap.add_argument("--arch", default="mobilenet", help="the config's arch (mobilenet | resnet22)")
    ap.add_argument("--widen-factor", type=float, default=0.5)
    ap.add_argument("-o", "--output", required=True, type=Path)
    args = ap.parse_args()
    import cv2
    import models  # the authors' package (PYTHONPATH)
    import scipy.io
    import torch
    from torchvision.transforms import Compose
    from utils.functions import crop_img, parse_roi_box_from_bbox, parse_roi_box_from_landmark
    from utils.io import _load
    from utils.pose import P2sRt, matrix2angle
    from utils.tddfa_util import NormalizeGjz, ToTensorGjz, load_model

    # TDDFA.__init__ (without the BFM)
    torch.set_grad_enabled(False)
    size = 120
    model = getattr(models, args.arch)(num_classes=62, widen_factor=args.widen_factor, size=size, mode="small")
    model = load_model(model, args.weights)
    model.eval()
    transform = Compose([ToTensorGjz(), NormalizeGjz(mean=127.5, std=128)])
    r = _load(args.param_stats)  # the authors' plain pickle.load: run only on the published file
    param_mean, param_std = r.get("mean"), r.get("std")

    out = {"source": f"scripts/tddfa_v2_reference.py: the authors' 3DDFA_V2 code (cleardusk/3DDFA_V2 1b6c676), torch {torch.__version__}, "
                     f"opencv {cv2.__version__}",
           "weights": Path(args.weights).name, "rois": list(ROIS), "images": {}}
    errors = {roi: [] for roi in ROIS}
    for p in sorted(args.data_dir.glob("image*.jpg")):
        mat = scipy.io.loadmat(str(p.with_suffix(".mat")))
        img_ori = cv2.imread(str(p))
        gt = np.degrees(np.asarray(mat["Pose_Para"], float).ravel()[:3])  # pitch, yaw, roll
        gt = [float(gt[1]), float(gt[0]), float(gt[2])]
        entry = {"gt": gt}
        objs = {"landmarks": (np.asarray(mat["pt3d_68"]), parse_roi_box_from_landmark),
                "box": (list(protocol_box(mat)), parse_roi_box_from_bbox)}
        for roi_name, (obj, parse) in objs.items():  # TDDFA.__call__
            roi_box = parse(obj)
            img = crop_img(img_ori, roi_box)
            img = cv2.resize(img, dsize=(size, size), interpolation=cv2.INTER_LINEAR)
            inp = transform(img).unsqueeze(0)
            param = model(inp)
            param = param.squeeze().cpu().numpy().flatten().astype(np.float32)
            param = param * param_std + param_mean
            _, R, _ = P2sRt(param[:12].reshape(3, -1))
            ang = angles_of(R)
            entry[roi_name] = {"roi": [float(v) for v in roi_box], "R": R.astype(float).tolist(), "angles": ang,
                               "matrix2angle": [math.degrees(v) for v in matrix2angle(R)]}
            if max(abs(v) for v in gt) <= 99:
                errors[roi_name].append(np.abs(np.asarray(ang) - gt))
        out["images"][p.stem] = entry
        print(p.stem, " ".join(f"{k}={np.round(entry[k]['angles'], 2).tolist()}" for k in ROIS), file=sys.stderr)
    out["mae"] = {}
    for roi_name, errs in errors.items():
        e = np.asarray(errs)
        out["mae"][roi_name] = {"n": len(e), "yaw": float(e[:, 0].mean()), "pitch": float(e[:, 1].mean()),
                                "roll": float(e[:, 2].mean()), "mean": float(e.mean())}
        m = out["mae"][roi_name]
        print(f"{roi_name} ROI, {m['n']} in-protocol images: MAE yaw {m['yaw']:.2f} pitch {m['pitch']:.2f} "
              f"roll {m['roll']:.2f} mean {m['mean']:.2f}", file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(args.output)
    print(f"wrote {args.output}: {len(out['images'])} images x {len(ROIS)} ROIs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
