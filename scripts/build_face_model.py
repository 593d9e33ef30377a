"""Build posebench's own 68-point 3D face model from the AFLW2000-3D labels.

Usage: python scripts/build_face_model.py [LABELS_DIR] [--basel u_base.txt] [-o posebench/data/face68.npz]

Each label's ``pt3d_68`` (image pixels, y down) is flipped to y up, centred and rotated back
with its own ``Pose_Para`` rotation (canonical convention, see ``posebench.pose``); the shapes are
then aligned by generalised Procrustes (similarity) to their mean, whose orientation stays that of
the label-based back-rotation. The mean is scaled so that the outer eye corners (points 36, 45)
are 90 mm apart (an adult average; scale does not change the pose PnP recovers). Principal
components of the aligned shapes (in mm) give the shape-and-expression variation used by the
``synthetic`` dataset. Only samples with all angles within +-99 degrees are used.

Origin: the mean is finally translated so that its origin sits where the Basel face model's
origin sits (``--basel``: ``u_base.txt``, the mean face the labels were made with, whose origin
is about 93 mm behind the landmarks' centroid, inside the head): a similarity fit of ``u_base``
to the mean carries the Basel origin into the mean's frame. Rotation does not depend on the
origin, but OpenCV's iterative solver does (its DLT start uses the un-centred model points), so
``face=default`` and ``face=u_base.txt`` now share the labels' origin convention.
"""

from __future__ import annotations

import argparse
import glob
import os

import numpy as np
import scipy.io as sio

INTEROCULAR_MM = 90.0
N_COMPONENTS = 20


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (s, R, t) minimising ||dst - (s R src + t)||."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    U, S, Vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.diag([1.0, 1.0, d])
    R = U @ D @ Vt
    s = float(np.trace(np.diag(S) @ D) / (a**2).sum())
    return s, R, md - s * R @ ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("labels", nargs="?", default=os.path.join("..", "shared", "data", "AFLW2000-labels"))
    ap.add_argument("--basel", default=os.path.join("..", "shared", "data", "face-model", "u_base.txt"),
                    help="Basel mean face at the 68 points (u_base.txt, micrometres): gives the origin")
    ap.add_argument("-o", "--output", default=os.path.join("posebench", "data", "face68.npz"))
    args = ap.parse_args()

    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from posebench.pose import Pose

    shapes = []
    files = sorted(glob.glob(os.path.join(args.labels, "image*.mat")))
    for f in files:
        m = sio.loadmat(f)
        pose = Pose.from_pose_para(m["Pose_Para"])
        if np.any(np.abs(pose.as_array()) > 99):
            continue
        p = m["pt3d_68"][:3].T.astype(float)
        p[:, 1] *= -1.0  # image y down -> model y up
        p -= p.mean(0)
        x = pose.matrix().T @ p.T  # rotate back to the model frame
        x = x.T
        x /= np.linalg.norm(x[36] - x[45])
        shapes.append(x)
    X = np.stack(shapes)
    ref = X.mean(0)
    for _ in range(10):  # generalised Procrustes, orientation anchored to the label frame
        aligned = []
        for x in X:
            s, R, t = umeyama(x, ref)
            aligned.append((s * (R @ x.T)).T + t)
        X = np.stack(aligned)
        new = X.mean(0)
        s, R, t = umeyama(new, ref)  # keep the mean in the label-defined frame
        new = (s * (R @ new.T)).T + t
        new -= new.mean(0)
        new /= np.linalg.norm(new[36] - new[45])
        if np.abs(new - ref).max() < 1e-9:
            break
        ref = new
    scale = INTEROCULAR_MM / np.linalg.norm(ref[36] - ref[45])
    mean = ref * scale
    D = (X * scale - mean).reshape(len(X), -1)
    basel = np.loadtxt(args.basel).reshape(68, 3) * 1e-3  # micrometres -> mm
    _, _, origin = umeyama(basel, mean)  # where the Basel origin lands in the mean's frame
    mean = mean - origin
    U, S, Vt = np.linalg.svd(D, full_matrices=False)
    std = S[:N_COMPONENTS] / np.sqrt(len(X) - 1)
    comps = Vt[:N_COMPONENTS].reshape(N_COMPONENTS, 68, 3)
    np.savez_compressed(
        args.output,
        mean=mean.astype(np.float64),
        components=comps.astype(np.float64),
        stddev=std.astype(np.float64),
        n_samples=np.int64(len(X)),
        source=np.str_("AFLW2000-3D pt3d_68 rotated back by Pose_Para, GPA-aligned, origin at the Basel face's "
                       "origin; scripts/build_face_model.py"),
    )
    explained = (S[:N_COMPONENTS] ** 2).sum() / (S**2).sum()
    print(f"{len(X)} shapes -> {args.output}; {N_COMPONENTS} components explain {explained:.1%} of variance; "
          f"stddev[:3] = {np.round(std[:3], 2)} mm; landmark centroid at {np.round(mean.mean(0), 2)} mm from the origin")


if __name__ == "__main__":
    main()
