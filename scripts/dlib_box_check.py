"""dlib's 68-point pipeline fed HOG boxes, raw YuNet boxes and calibrated YuNet boxes: MAE and
ms/face on the AFLW2000-3D sample images, on the faces every configuration finds.

MAE (degrees, mean of yaw/pitch/roll wrapped errors) is printed for the held-out split of
scripts/fit_box_calibration.py (odd positions of the sorted images: not used by the fit) and for
all images. ms/face: the whole per-image work (detection, predictor, PnP), rounds interleaved
across configurations, median and best of ``--rounds`` (>= 3), the load printed.

Run: python scripts/dlib_box_check.py --data-dir ../shared/data/AFLW2000-sample --yunet FILE
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np


def main() -> int:
    from posebench import create_dataset
    from posebench.imageio import read_image
    from posebench.method import FaceInput, create_method

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--yunet", required=True, help="YuNet ONNX file")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    samples = sorted((s for s in create_dataset("aflw2000", data_dir=args.data_dir).samples if s.image_path is not None),
                     key=lambda s: s.image_path.name)
    faces = [FaceInput.from_sample(s, read_image(s.image_path), exact=False) for s in samples]
    truth = np.array([[s.pose.yaw, s.pose.pitch, s.pose.roll] for s in samples])
    configs = {"HOG": {"box": "dlib-hog"},
               "YuNet raw": {"box": "yunet", "detector_model": args.yunet, "calibration": "none"},
               "YuNet calibrated": {"box": "yunet", "detector_model": args.yunet, "calibration": "auto"}}
    methods = {k: create_method("dlib", {**v, "workers": "1"}) for k, v in configs.items()}
    preds, times = {}, {k: [] for k in configs}
    load = [os.getloadavg()[0]]
    for k, m in methods.items():  # warm-up, and the predictions
        preds[k] = m.estimate_batch(faces)
    for _ in range(max(3, args.rounds)):
        for k, m in methods.items():
            t0 = time.perf_counter()
            m.estimate_batch(faces)
            times[k].append(time.perf_counter() - t0)
    load.append(os.getloadavg()[0])
    ok = [i for i in range(len(faces)) if all(not isinstance(preds[k][i], Exception) for k in configs)]
    held = [i for i in ok if i % 2 == 1]
    print(f"dlib box check: {len(faces)} images of {args.data_dir}; {len(ok)} faces found by every configuration, "
          f"{len(held)} of them in the held-out split; load average {load[0]:.2f} before, {load[1]:.2f} after ({os.cpu_count()} CPUs)")
    print(f"{'configuration':18s} {'MAE held-out':>12s} {'MAE all':>8s} {'ms/face':>8s} {'best':>7s} {'HOG/this':>9s}")
    med = {k: statistics.median(v) / len(faces) * 1e3 for k, v in times.items()}
    for k in configs:
        est = np.array([[p.yaw, p.pitch, p.roll] if not isinstance(p, Exception) else [np.nan] * 3 for p in preds[k]])
        err = np.abs((est - truth + 180) % 360 - 180).mean(axis=1)
        print(f"{k:18s} {err[held].mean():12.2f} {err[ok].mean():8.2f} {med[k]:8.1f} {min(times[k]) / len(faces) * 1e3:7.1f} "
              f"{med['HOG'] / med[k]:8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
