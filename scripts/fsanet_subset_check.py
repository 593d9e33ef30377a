"""Why FSA-Net scores below its authors' AFLW2000 range on the shared 40-image sample.

Usage: python scripts/fsanet_subset_check.py SAMPLE_DIR LABELS_DIR FSANET_DIR
(e.g. ../shared/data/AFLW2000-sample ../shared/data/AFLW2000-labels ../shared/models/fsanet)

1. Runs both FSA-Net ONNX models (averaged) with the crop of the authors' AFLW2000 script
   (``data/type1/TYY_create_db_type1.py`` in shamangary/FSA-Net: tight box of the *visible*
   21-point ``pt2d`` (coordinates > 0), grown by 0.6 of its size on each side with ``int``
   truncation, cut at the image border, cv2 resize to 64, BGR, (x - 127.5) / 128), and the same
   with the box of the 68 landmarks ``pt3d_68``, and with the pt2d box grown in floating point
   (truncated once), on the in-protocol sample images. (posebench's
   shipped ``fsanet.json`` is the first; its tests check that its inputs equal this arithmetic.)
2. Compares the pose distribution of the sample with the 1969 in-protocol labels.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import scipy.io as sio

MODELS = ("fsanet-1x1-iter-688590.onnx", "fsanet-var-iter-688590.onnx")


def angles(mat: dict) -> np.ndarray:
    """(yaw, pitch, roll) degrees from Pose_Para = (pitch, yaw, roll) radians."""
    pitch, yaw, roll = np.degrees(np.asarray(mat["Pose_Para"], float).ravel()[:3])
    return np.array([yaw, pitch, roll])


def authors_box(x: np.ndarray, y: np.ndarray, w_img: int, h_img: int, ad: float = 0.6):
    x0, x1, y0, y1 = int(min(x)), int(max(x)), int(min(y)), int(max(y))
    w, h = x1 - x0, y1 - y0
    return (max(int(x0 - ad * w), 0), max(int(y0 - ad * h), 0),
            min(int(x1 + ad * w), w_img - 1), min(int(y1 + ad * h), h_img - 1))


def float_box(x: np.ndarray, y: np.ndarray, w_img: int, h_img: int, ad: float = 0.6):
    """The same growth in floating point, truncated once at the end and cut at the image size
    (posebench's ``crop.integer: false``)."""
    w, h = max(x) - min(x), max(y) - min(y)
    return (max(int(min(x) - ad * w), 0), max(int(min(y) - ad * h), 0),
            min(int(max(x) + ad * w), w_img), min(int(max(y) + ad * h), h_img))


def visible_pt2d(mat: dict) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(mat["pt2d"], float)[:2]
    keep_x, keep_y = x > 0, y > 0
    keep = keep_y if keep_x.sum() > keep_y.sum() else keep_x  # the authors' rule
    return x[keep], y[keep]


def main(sample_dir: str, labels_dir: str, model_dir: str) -> None:
    sessions = [ort.InferenceSession(str(Path(model_dir) / m), providers=["CPUExecutionProvider"]) for m in MODELS]
    errors: dict[str, list[np.ndarray]] = {"pt2d visible (authors)": [], "pt3d_68 box": [], "pt2d visible, float box": []}
    preds: dict[str, list[np.ndarray]] = {k: [] for k in errors}
    for mat_path in sorted(Path(sample_dir).glob("*.mat")):
        mat = sio.loadmat(str(mat_path))
        truth = angles(mat)
        if np.abs(truth).max() > 99:
            continue
        img = cv2.imread(str(mat_path.with_suffix(".jpg")))
        h_img, w_img = img.shape[:2]
        boxes = {"pt2d visible (authors)": (authors_box, visible_pt2d(mat)),
                 "pt3d_68 box": (authors_box, tuple(np.asarray(mat["pt3d_68"], float)[:2])),
                 "pt2d visible, float box": (float_box, visible_pt2d(mat))}
        for name, (make_box, (x, y)) in boxes.items():
            x0, y0, x1, y1 = make_box(x, y, w_img, h_img)
            patch = cv2.resize(img[y0:y1, x0:x1], (64, 64))
            t = ((patch.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]
            pred = np.mean([s.run(None, {"input": t})[0][0][:3] for s in sessions], axis=0)
            errors[name].append(np.abs((pred - truth + 180.0) % 360.0 - 180.0))
            preds[name].append(pred)
    for name, e in errors.items():
        e = np.asarray(e)
        print(f"{name:>24}: {len(e)} images, MAE yaw/pitch/roll {e.mean(0).round(2).tolist()}, mean {e.mean():.2f}")
        print(f"{'':>24}  largest possible mean pitch error of any 16 of them: {np.sort(e[:, 1])[-16:].mean():.2f}")
        if name != "pt2d visible (authors)":
            d = np.abs(np.asarray(preds[name], float) - np.asarray(preds["pt2d visible (authors)"], float))
            print(f"{'':>24}  per-image |prediction - authors' path| yaw/pitch/roll: "
                  f"median {np.median(d, 0).round(2).tolist()}, max {d.max(0).round(2).tolist()}")
    for label, folder in (("sample", sample_dir), ("all labels", labels_dir)):
        poses = np.array([angles(sio.loadmat(str(p))) for p in sorted(Path(folder).glob("*.mat"))])
        poses = poses[np.abs(poses).max(axis=1) <= 99]
        ay = np.abs(poses[:, 0])
        print(f"{label:>11} ({len(poses)}): mean |yaw| {ay.mean():.1f}, |pitch| {np.abs(poses[:, 1]).mean():.1f}, "
              f"|roll| {np.abs(poses[:, 2]).mean():.1f}; |yaw| <30 / 30-60 / >=60: "
              f"{np.mean(ay < 30):.3f} / {np.mean((ay >= 30) & (ay < 60)):.3f} / {np.mean(ay >= 60):.3f}; "
              f"|roll| > 30: {np.mean(np.abs(poses[:, 2]) > 30):.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__.split("\n\n")[1])
    main(*sys.argv[1:])
