"""Head pose type and rotation conventions.

Canonical convention (AFLW2000-3D / 300W-LP, the one Hopenet was trained on):

* angles are in **degrees** at every public boundary: ``Pose(yaw, pitch, roll)``;
* a ``.mat`` file stores ``Pose_Para[0:3] = (pitch, yaw, roll)`` in radians;
* the face model lives in its own frame: x to the subject's right as seen in the image
  (image right), y up, z towards the viewer;
* the rotation applied to that model is ``R = (Rz(roll) @ Ry(yaw) @ Rx(pitch)).T`` with
  the right-handed elementary rotations ``Rx, Ry, Rz`` below.

OpenCV's camera frame has x right, y down, z forward (away from the viewer). A model point
``X`` (y-up frame) lands in the camera frame as ``F @ R @ X + t`` with ``F = diag(1, -1, -1)``,
so ``R_cv = F @ R`` is the rotation that ``cv2.solvePnP`` reports for a y-up model.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Pose",
    "rx",
    "ry",
    "rz",
    "euler_to_matrix",
    "matrix_to_euler",
    "model_to_camera",
    "camera_to_model",
    "FLIP_YZ",
    "EULER_ORDERS",
    "euler_reading",
]

FLIP_YZ = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class Pose:
    """Head pose in degrees, canonical (AFLW2000-3D) convention."""

    yaw: float
    pitch: float
    roll: float

    def __post_init__(self) -> None:
        """A non-number angle (a string, None, a list) is a :class:`TypeError` naming it: it used
        to be stored and fail far away (or be written to a table as text)."""
        for name in ("yaw", "pitch", "roll"):
            v = getattr(self, name)
            if isinstance(v, (str, bytes, bool)) or not isinstance(v, (numbers.Real, np.ndarray)) or (
                    isinstance(v, np.ndarray) and (v.size != 1 or v.dtype.kind not in "iuf")):
                raise TypeError(f"Pose {name} must be a number of degrees, got {type(v).__name__} {v!r:.60}")

    def as_array(self) -> np.ndarray:
        """``[yaw, pitch, roll]`` in degrees."""
        return np.array([self.yaw, self.pitch, self.roll], dtype=float)

    @classmethod
    def from_array(cls, ypr: np.ndarray | list[float]) -> "Pose":
        y, p, r = (float(v) for v in ypr)
        return cls(y, p, r)

    @classmethod
    def from_pose_para(cls, pose_para: np.ndarray) -> "Pose":
        """From a 300W-LP/AFLW2000 ``Pose_Para`` row: ``(pitch, yaw, roll, ...)`` in radians."""
        p = np.asarray(pose_para, dtype=float).ravel()
        pitch, yaw, roll = np.degrees(p[:3])
        return cls(float(yaw), float(pitch), float(roll))

    def matrix(self) -> np.ndarray:
        """The 3x3 rotation applied to the y-up face model (see module docstring)."""
        return euler_to_matrix(self.yaw, self.pitch, self.roll)

    def is_finite(self) -> bool:
        return bool(np.all(np.isfinite(self.as_array())))


def rx(deg: float | np.ndarray) -> np.ndarray:
    """Right-handed rotation about x by ``deg`` degrees (batched over leading dims)."""
    a = np.radians(np.asarray(deg, dtype=float))
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def ry(deg: float | np.ndarray) -> np.ndarray:
    """Right-handed rotation about y by ``deg`` degrees (batched over leading dims)."""
    a = np.radians(np.asarray(deg, dtype=float))
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def rz(deg: float | np.ndarray) -> np.ndarray:
    """Right-handed rotation about z by ``deg`` degrees (batched over leading dims)."""
    a = np.radians(np.asarray(deg, dtype=float))
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def euler_to_matrix(yaw: float | np.ndarray, pitch: float | np.ndarray, roll: float | np.ndarray) -> np.ndarray:
    """Canonical Euler angles (degrees) -> rotation applied to the y-up model.

    ``R = (Rz(roll) @ Ry(yaw) @ Rx(pitch)).T``. Accepts scalars or arrays (shape ``(..., 3, 3)``).
    """
    m = rz(roll) @ ry(yaw) @ rx(pitch)
    return np.swapaxes(m, -1, -2)


def matrix_to_euler(R: np.ndarray) -> np.ndarray:
    """Rotation applied to the y-up model -> ``[yaw, pitch, roll]`` in degrees (batched).

    Inverse of :func:`euler_to_matrix` with yaw in [-90, 90]. At gimbal lock (|yaw| = 90)
    roll is set to 0 and the remaining rotation is put into pitch.
    """
    R = np.asarray(R, dtype=float)
    M = np.swapaxes(R, -1, -2)  # M = Rz(roll) Ry(yaw) Rx(pitch)
    sy = np.clip(-M[..., 2, 0], -1.0, 1.0)
    yaw = np.degrees(np.arcsin(sy))
    cy = np.hypot(M[..., 0, 0], M[..., 1, 0])
    locked = cy < 1e-9
    pitch = np.degrees(np.arctan2(M[..., 2, 1], M[..., 2, 2]))
    roll = np.degrees(np.arctan2(M[..., 1, 0], M[..., 0, 0]))
    if np.any(locked):
        # M = Rz(r) Ry(+-90) Rx(p): only p -/+ r is observable; put it in pitch.
        alt_pitch = np.degrees(np.arctan2(-M[..., 1, 2], M[..., 1, 1]))
        pitch = np.where(locked, alt_pitch, pitch)
        roll = np.where(locked, 0.0, roll)
    return np.stack([yaw, pitch, roll], axis=-1)


def pose_from_matrix(R: np.ndarray) -> Pose:
    """Single rotation (applied to the y-up model) -> :class:`Pose`."""
    return Pose.from_array(matrix_to_euler(R))


#: How a rotation is read as three angles when scoring (:func:`euler_reading`).
EULER_ORDERS = ("ypr", "pyr")


def euler_reading(ypr: np.ndarray, order: str) -> np.ndarray:
    """Canonical ``[yaw, pitch, roll]`` triples (degrees, shape ``(..., 3)``) read in ``order``,
    returned as ``[yaw, pitch, roll]`` of that reading (degrees, same shape).

    * ``ypr`` (the canonical reading, Hopenet's and FSA-Net's BIWI loaders): the triple itself,
      ``R = (Rz(roll) Ry(yaw) Rx(pitch)).T``.
    * ``pyr``: the same rotation ``R`` decomposed as ``R = Rz(roll) Ry(yaw) Rx(pitch)`` (x first,
      then y, then z: the order of BIWI's own pitch-yaw-roll reading), i.e. the canonical triple
      of ``R.T``. This is HeadPose+'s ``pyr`` (kuhnkeF/headposeplus, ``hpp/calc_error.py``:
      ``_ypr2pyr`` rebuilds the rotation from the negated ``ypr`` angles in scipy's ``'zyx'``
      order and reads it back as ``'xyz'``); scored in it, per-angle errors differ from ``ypr``
      while the geodesic error does not.

    Converted through the rotation matrix, never by flipping signs. :class:`ValueError` for an
    unknown order.
    """
    if order not in EULER_ORDERS:
        raise ValueError(f"Euler order must be one of {', '.join(EULER_ORDERS)}, got {order!r}")
    a = np.asarray(ypr, dtype=float)
    if order == "ypr":
        return a.copy()
    R = euler_to_matrix(a[..., 0], a[..., 1], a[..., 2])
    return matrix_to_euler(np.swapaxes(R, -1, -2))


def model_to_camera(R: np.ndarray) -> np.ndarray:
    """Model-frame rotation (y-up) -> OpenCV camera-frame rotation (``F @ R``)."""
    return FLIP_YZ @ np.asarray(R, dtype=float)


def camera_to_model(R_cv: np.ndarray) -> np.ndarray:
    """OpenCV camera-frame rotation of a y-up model -> canonical model rotation (``F @ R_cv``)."""
    return FLIP_YZ @ np.asarray(R_cv, dtype=float)


def angle_between(R1: np.ndarray, R2: np.ndarray) -> np.ndarray:
    """Geodesic distance in degrees between rotations (batched)."""
    Rrel = np.swapaxes(np.asarray(R1, float), -1, -2) @ np.asarray(R2, float)
    tr = np.trace(Rrel, axis1=-2, axis2=-1)
    return np.degrees(np.arccos(np.clip((tr - 1.0) / 2.0, -1.0, 1.0)))


__all__ += ["pose_from_matrix", "angle_between"]
