"""Reading 300W-LP / AFLW2000-3D ``.mat`` label files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io as sio

from posebench.errors import SampleFailure
from posebench.pose import Pose


def read_mat(path: Path) -> dict:
    """Load a label ``.mat``; raise :class:`SampleFailure` naming the file when unusable."""
    try:
        m = sio.loadmat(str(path))
    except Exception as exc:
        raise SampleFailure(f"{path.name}: unreadable .mat ({type(exc).__name__})") from None
    if "Pose_Para" not in m:
        raise SampleFailure(f"{path.name}: no Pose_Para field")
    pp = np.asarray(m["Pose_Para"], dtype=float).ravel()
    if pp.size < 3 or not np.all(np.isfinite(pp[:3])):
        raise SampleFailure(f"{path.name}: Pose_Para has no finite (pitch, yaw, roll)")
    return m


def pose_of(m: dict) -> Pose:
    """Canonical pose from ``Pose_Para[0:3] = (pitch, yaw, roll)`` radians."""
    return Pose.from_pose_para(m["Pose_Para"])


def landmarks68(m: dict, name: str) -> np.ndarray | None:
    """68 2D landmarks (68x2, pixels): ``pt3d_68[:2]`` if present, else a 2x68 ``pt2d``."""
    for key in ("pt3d_68", "pt2d"):
        if key in m:
            a = np.asarray(m[key], dtype=float)
            if a.ndim == 2 and a.shape[1] == 68 and a.shape[0] >= 2:
                pts = a[:2].T.copy()
                return pts if np.all(np.isfinite(pts)) else None
    return None


def sparse_points(m: dict) -> np.ndarray | None:
    """``pt2d`` as Nx2 (AFLW2000: 21 points, -1 where invisible; 300W-LP: 68 points)."""
    if "pt2d" not in m:
        return None
    a = np.asarray(m["pt2d"], dtype=float)
    if a.ndim != 2 or a.shape[0] != 2:
        return None
    return a.T.copy()
