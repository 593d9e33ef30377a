"""Fit the box calibration YuNet -> dlib HOG (the box geometry dlib's 68-point predictor was trained
on) and write it, with its provenance, to posebench/data/box_calibrations.json.

Procedure (the calibration is four numbers, a similarity map of the box):
1. Images: the AFLW2000-3D sample images (``--images``, sorted by name), split by position:
   even positions (0, 2, 4, ...) are the FIT split, odd positions the HELD-OUT split that
   ``posebench`` reports accuracy on; nothing of the held-out split enters the fit.
2. On each FIT image both detectors run (dlib HOG, upsample 1; YuNet, score 0.6); a face counts
   when HOG finds one and a YuNet box overlaps its largest box with IoU >= 0.3.
3. With YuNet's box (centre cx, cy, width w, height h) and HOG's (cx', cy', w', h'):
   ``dx = median((cx' - cx) / w)``, ``dy = median((cy' - cy) / h)``, ``sw = median(w' / w)``,
   ``sh = median(h' / h)`` (medians: one odd detection cannot move them).
   A YuNet box then maps to ``(cx + dx w, cy + dy h, sw w, sh h)``.

Run: python scripts/fit_box_calibration.py --images ../shared/data/AFLW2000-sample [--yunet FILE] [--write]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "posebench" / "data" / "box_calibrations.json"


def pairs(images: list[Path], yunet: str) -> list[tuple[tuple, tuple]]:
    """(YuNet box, HOG box) of each image where both find the face."""
    from posebench.detect import iou, make_detector
    from posebench.imageio import read_image

    hog, yu = make_detector("dlib-hog", None, 1), make_detector("yunet", yunet or None)
    out = []
    for p in images:
        img = read_image(p)
        h = sorted(hog.detect(img), key=lambda d: -(d[0][2] - d[0][0]) * (d[0][3] - d[0][1]))
        if not h:
            continue
        cands = [(iou(b, h[0][0]), b) for b, _ in yu.detect(img)]
        cands = [c for c in cands if c[0] >= 0.3]
        if cands:
            out.append((max(cands)[1], h[0][0]))
    return out


def fit(found: list[tuple[tuple, tuple]]) -> dict[str, float]:
    """The four medians of the module doc."""
    a = np.asarray([f[0] for f in found], float)
    b = np.asarray([f[1] for f in found], float)
    w, h = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    w2, h2 = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    cx, cy = (a[:, 0] + a[:, 2]) / 2, (a[:, 1] + a[:, 3]) / 2
    cx2, cy2 = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    return {"dx": round(float(np.median((cx2 - cx) / w)), 4), "dy": round(float(np.median((cy2 - cy) / h)), 4),
            "sw": round(float(np.median(w2 / w)), 4), "sh": round(float(np.median(h2 / h)), 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True, help="folder of AFLW2000-3D sample images (*.jpg)")
    ap.add_argument("--yunet", default="", help="YuNet ONNX file (default: the weights folder's)")
    ap.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(OUT.parents[2])}")
    args = ap.parse_args()
    images = sorted(Path(args.images).glob("*.jpg"))
    if not images:
        print(f"fit_box_calibration: no .jpg in {args.images}", file=sys.stderr)
        return 2
    fit_split = images[0::2]
    found = pairs(fit_split, args.yunet)
    if len(found) < 5:
        print(f"fit_box_calibration: only {len(found)} faces found by both detectors; need >= 5", file=sys.stderr)
        return 2
    params = fit(found)
    commit = subprocess.run(["git", "-C", str(OUT.parents[1]), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    entry = {**params, "n_faces": len(found),
             "fit": (f"{len(fit_split)} images at even positions of the sorted {Path(args.images).name} folder "
                     f"({fit_split[0].name}, {fit_split[1].name}, ...); the odd positions are held out"),
             "detectors": "dlib-hog upsample 1; yunet yunet_n_dynamic.onnx score 0.6 nms 0.3; pair = HOG's largest box and "
                          "the YuNet box of IoU >= 0.3 with it",
             "procedure": "scripts/fit_box_calibration.py (module doc): medians of centre shift / size and size ratios",
             "commit": commit}
    print(json.dumps(entry, indent=1))
    if args.write:
        data = {"format": 1, "doc": "Box calibrations: detector -> the box geometry a consumer expects "
                                     "(posebench.boxcal); each entry fitted by the script named in it.",
                "calibrations": {"yunet": {"dlib-hog": entry}}}
        OUT.write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
