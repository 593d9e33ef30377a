"""Where OpenCV's iterative solver goes wrong on AFLW2000: flipped solutions behind the camera.

Usage: python scripts/flip_check.py [LABELS_DIR] [FACE_FILE ...]

For each face model (posebench's own, and any given file such as u_base.txt), runs
``cv2.solvePnP(SOLVEPNP_ITERATIVE)`` with focal = image width on the 1969 protocol samples and
prints the share of samples with an angle error above 30 degrees, how many of those (and of the
others) have the face behind the camera (t_z < 0), and the median reprojection error of each group.
"""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from posebench.datasets.aflw2000 import load_aflw2000
from posebench.facemodel import default_face, load_face
from posebench.metrics import angle_errors
from posebench.pnp import camera_matrix
from posebench.pose import camera_to_model, matrix_to_euler


def main() -> None:
    labels = sys.argv[1] if len(sys.argv) > 1 else os.path.join("..", "shared", "data", "AFLW2000-labels")
    faces = {"posebench default": default_face()}
    faces.update({os.path.basename(p): load_face(p) for p in sys.argv[2:]})
    ds = load_aflw2000(labels)
    truth = np.array([s.pose.as_array() for s in ds])
    for name, face in faces.items():
        pred, tz, reproj = [], [], []
        for s in ds:
            K = camera_matrix(s.image_size)
            _, r, t = cv2.solvePnP(face, s.landmarks.reshape(-1, 1, 2), K, None, flags=cv2.SOLVEPNP_ITERATIVE)
            pred.append(matrix_to_euler(camera_to_model(cv2.Rodrigues(r)[0])))
            tz.append(float(t[2, 0]))
            proj, _ = cv2.projectPoints(face, r, t, K, None)
            reproj.append(float(np.abs(proj.reshape(-1, 2) - s.landmarks).mean()))
        flipped = angle_errors(np.array(pred), truth).max(axis=1) > 30
        tz, reproj = np.array(tz), np.array(reproj)
        print(f"{name}: {flipped.mean():.1%} of {len(ds)} samples above 30 deg; t_z < 0 in "
              f"{(tz[flipped] < 0).mean():.0%} of those and {(tz[~flipped] < 0).mean():.0%} of the others; "
              f"median reprojection error {np.median(reproj[flipped]):.2f} px (flipped) vs "
              f"{np.median(reproj[~flipped]):.2f} px")


if __name__ == "__main__":
    main()
