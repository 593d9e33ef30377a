"""Reading 300W-LP / AFLW2000-3D ``.mat`` label files.

One check for every reader and for ``posebench data verify``: :func:`read_mat` refuses a file
whose ``Pose_Para`` is not a numeric vector of at least 3 finite values (a 3x3 matrix, a string,
a cell, a struct or a sparse matrix), and whose ``pt2d`` / ``pt3d_68`` (when present) is not a
dense numeric array of the expected layout with finite values; with the image size given, the
points must also lie near the image and span an area (:func:`posebench.crop.check_points`).
Every refusal is a :class:`SampleFailure` naming the file and the field, recorded per sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io as sio
import scipy.sparse

from posebench.crop import check_points
from posebench.errors import SampleFailure
from posebench.pose import Pose

#: Marker of an invisible point in AFLW's ``pt2d``.
INVISIBLE = -1.0

_KINDS = {"U": "a string", "S": "a string", "O": "a cell array", "V": "a struct", "c": "complex",
          "b": "logical", "M": "a date", "m": "a time span"}


def numeric_field(m: dict, key: str, name: str) -> np.ndarray | None:
    """Field ``key`` as a dense float array, None when absent; :class:`SampleFailure` naming the
    file ``name`` and the field when it is a string, cell, struct, sparse or complex value."""
    if key not in m:
        return None
    value = m[key]
    if scipy.sparse.issparse(value):
        raise SampleFailure(f"{name}: {key} is a sparse matrix, expected a dense numeric array")
    a = np.asarray(value)
    if a.dtype.kind not in "iuf":
        raise SampleFailure(f"{name}: {key} is {_KINDS.get(a.dtype.kind, f'of type {a.dtype}')}, "
                            "expected a numeric array")
    return a.astype(float)


def read_mat(path: Path, image_size: tuple[int, int] | None = None) -> dict:
    """Load a label ``.mat``; raise :class:`SampleFailure` naming the file (and field) when unusable.

    ``image_size`` = ``(width, height)``: when given, ``pt2d`` and ``pt3d_68`` must also lie near
    the image and span an area (see the module doc)."""
    path = Path(path)
    try:
        m = sio.loadmat(str(path))
    except Exception as exc:
        raise SampleFailure(f"{path.name}: unreadable .mat ({type(exc).__name__})") from None
    pp = numeric_field(m, "Pose_Para", path.name)
    if pp is None:
        raise SampleFailure(f"{path.name}: no Pose_Para field")
    if pp.ndim > 2 or sum(d > 1 for d in pp.shape) > 1:
        raise SampleFailure(f"{path.name}: Pose_Para has shape {pp.shape}, expected a vector "
                            "(pitch, yaw, roll, tx, ty, tz, scale)")
    pp = pp.ravel()
    if pp.size < 3 or not np.all(np.isfinite(pp[:3])):
        raise SampleFailure(f"{path.name}: Pose_Para has no finite (pitch, yaw, roll)")
    m["Pose_Para"] = pp
    pt2d = numeric_field(m, "pt2d", path.name)
    if pt2d is not None:
        if pt2d.ndim != 2 or pt2d.shape[0] != 2 or pt2d.shape[1] == 0:
            raise SampleFailure(f"{path.name}: pt2d has shape {pt2d.shape}, expected 2 x N points")
        if image_size is not None:
            check_points(pt2d.T, image_size, f"{path.name}: pt2d", invisible=INVISIBLE)
        elif not np.all(np.isfinite(pt2d)):
            raise SampleFailure(f"{path.name}: pt2d hold non-finite values (NaN or inf)")
        m["pt2d"] = pt2d
    pt3d = numeric_field(m, "pt3d_68", path.name)
    if pt3d is not None:
        if pt3d.ndim != 2 or pt3d.shape[0] < 2 or pt3d.shape[1] != 68:
            raise SampleFailure(f"{path.name}: pt3d_68 has shape {pt3d.shape}, expected 3 x 68")
        if image_size is not None:
            check_points(pt3d[:2].T, image_size, f"{path.name}: pt3d_68")
        elif not np.all(np.isfinite(pt3d[:2])):
            raise SampleFailure(f"{path.name}: pt3d_68 hold non-finite values (NaN or inf)")
        m["pt3d_68"] = pt3d
    return m


def pose_of(m: dict) -> Pose:
    """Canonical pose from ``Pose_Para[0:3] = (pitch, yaw, roll)`` radians."""
    return Pose.from_pose_para(m["Pose_Para"])


def landmarks68(m: dict, name: str) -> np.ndarray | None:
    """68 2D landmarks (68x2, pixels): ``pt3d_68[:2]`` if present, else a 2x68 ``pt2d``."""
    for key in ("pt3d_68", "pt2d"):
        if key in m:
            a = numeric_field(m, key, name)
            if a.ndim == 2 and a.shape[1] == 68 and a.shape[0] >= 2:
                pts = a[:2].T.copy()
                return pts if np.all(np.isfinite(pts)) else None
    return None


def sparse_points(m: dict) -> np.ndarray | None:
    """``pt2d`` as Nx2 (AFLW2000: 21 points, -1 where invisible; 300W-LP: 68 points)."""
    a = numeric_field(m, "pt2d", "label")
    if a is None or a.ndim != 2 or a.shape[0] != 2 or a.shape[1] == 0:
        return None
    return a.T.copy()
