"""Derive the 68-point (iBUG / AFLW2000-3D ``pt3d_68``) layout's counterparts among MediaPipe Face
Mesh's 468 landmarks, for using MediaPipe as a 68-landmark source (``landmark-count``, Figure 6).

MediaPipe publishes no such mapping. This script measures one: on the in-protocol AFLW2000-3D
sample images with |yaw| <= 30° whose face posebench's ``mediapipe`` finds, each of the 68
annotated points (``pt3d_68`` x, y) is paired with the mesh landmark at the smallest median
distance, distances in units of the inter-ocular distance (centres of points 36-41 and 42-47).
Written to ``methods/mediapipe/map68.json`` with each point's median distance; the test
``tests/methods/test_mediapipe.py`` derives it again and compares. Caveats: the pairs come from the same
sample images the benchmark evaluates on (a small selection effect on those images), and the
jaw-line points (0-16) of AFLW2000-3D are 3D landmarks, matched here only on near-frontal faces.

    python scripts/mediapipe_68_mapping.py --data-dir ../shared/data/AFLW2000-sample \
        --models ../shared/models/mediapipe -o methods/mediapipe/map68.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def derive(data_dir: Path, models: Path, max_yaw: float = 30.0) -> tuple[list[int], list[float], list[str]]:
    """(indices into the 468 landmarks, median distance per point, image ids used)."""
    import scipy.io

    from posebench.imageio import read_image
    from posebench.method import create_method

    m = create_method("mediapipe", {"model": str(models / "face_landmark.tflite"),
                                    "detector_model": str(models / "face_detection_short_range.tflite")})
    dists, used = [], []
    for p in sorted(data_dir.glob("image*.jpg")):
        mat = scipy.io.loadmat(str(p.with_suffix(".mat")))
        pose = np.degrees(np.asarray(mat["Pose_Para"], float).ravel()[:3])
        if np.abs(pose).max() > 99 or abs(pose[1]) > max_yaw:
            continue
        try:
            lm = m.landmarks_of(read_image(p))
        except Exception:  # noqa: BLE001 - a face MediaPipe does not find is not used
            continue
        gt = np.asarray(mat["pt3d_68"], float)[:2].T
        iod = np.linalg.norm(gt[36:42].mean(0) - gt[42:48].mean(0))
        dists.append(np.linalg.norm(gt[:, None, :] - lm[None], axis=2) / iod)
        used.append(p.stem)
    med = np.median(np.asarray(dists), axis=0)
    idx = med.argmin(axis=1)
    return [int(i) for i in idx], [round(float(med[k, i]), 4) for k, i in enumerate(idx)], used


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--models", required=True, type=Path)
    ap.add_argument("-o", "--output", required=True, type=Path)
    args = ap.parse_args()
    idx, err, used = derive(args.data_dir, args.models)
    out = {"source": "scripts/mediapipe_68_mapping.py: nearest MediaPipe landmark (median over images) to each AFLW2000-3D "
                     "pt3d_68 point, |yaw| <= 30, distances / inter-ocular distance",
           "images": used, "indices": idx, "median_distance": err}
    from posebench.fileio import write_atomic

    write_atomic(args.output, (json.dumps(out) + "\n").encode())
    print(f"{len(used)} images; mean median distance {np.mean(err):.3f} inter-ocular; {len(set(idx))} distinct landmarks "
          f"-> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
