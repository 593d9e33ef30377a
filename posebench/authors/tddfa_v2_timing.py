"""3DDFA_V2's ONNX pipeline as its authors run it, timed: ``TDDFA_ONNX.__call__`` line for line
(``parse_roi_box_from_landmark`` of the ``.mat``'s 68 3D landmarks -- their AFLW2000-3D benchmark's
ROI --, ``crop_img``, ``cv2.resize(120, INTER_LINEAR)``, ``(x - 127.5) / 128``, an onnxruntime
session made as theirs, ``InferenceSession(path, None)``, de-normalisation), then ``P2sRt`` for the
rotation: their ``TDDFA_ONNX`` class itself needs the BFM pickle, which pose does not use. The
model is their ``utils.onnx.convert_to_onnx`` of the ``.pth`` (written beside a link to it in a
temporary folder, never beside the user's file). Run by a Python with torch, onnxruntime, opencv
and scipy and the authors' repository first on ``sys.path`` (``--src``); protocol in
``posebench/authors/__init__.py``.

Usage: ``python tddfa_v2_timing.py --src DIR --weights mb05_120x120.pth --param-stats PKL
[--arch mobilenet --widen 0.5] IMAGE...`` (each image's ``.mat`` beside it)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--param-stats", required=True)
    ap.add_argument("--arch", default="mobilenet")
    ap.add_argument("--widen", type=float, default=0.5)
    ap.add_argument("images", nargs="+")
    a = ap.parse_args()
    sys.path.insert(0, a.src)
    import cv2
    import numpy as np
    import onnxruntime
    import scipy.io
    from utils.functions import crop_img, parse_roi_box_from_landmark
    from utils.io import _load
    from utils.onnx import convert_to_onnx
    from utils.pose import P2sRt

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, os.path.basename(a.weights))
        os.symlink(os.path.abspath(a.weights), ckpt)
        onnx_fp = convert_to_onnx(arch=a.arch, widen_factor=a.widen, size=120, num_params=62, checkpoint_fp=ckpt)
        session = onnxruntime.InferenceSession(onnx_fp, None)
    stats = _load(a.param_stats)
    mean, std = stats.get("mean"), stats.get("std")
    faces = [(cv2.imread(p), scipy.io.loadmat(os.path.splitext(p)[0] + ".mat")["pt3d_68"]) for p in a.images]

    def one_pass() -> tuple[float, float]:
        t, c = time.perf_counter(), time.process_time()
        for img_ori, pts in faces:
            roi_box = parse_roi_box_from_landmark(pts)
            img = crop_img(img_ori, roi_box)
            img = cv2.resize(img, dsize=(120, 120), interpolation=cv2.INTER_LINEAR)
            img = img.astype(np.float32).transpose(2, 0, 1)[np.newaxis, ...]
            img = (img - 127.5) / 128.
            param = session.run(None, {"input": img})[0]
            param = param.flatten().astype(np.float32)
            param = param * std + mean
            P2sRt(param[:12].reshape(3, -1))
        return (time.perf_counter() - t) * 1e3 / len(faces), (time.process_time() - c) * 1e3 / len(faces)

    one_pass()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "pass":
            break
        ms, cpu = one_pass()
        print(json.dumps({"ms_per_image": ms, "cpu_ms_per_image": cpu, "found": len(faces), "images": len(faces),
                          "version": f"onnxruntime {onnxruntime.__version__}"}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
