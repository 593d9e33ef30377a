"""Pose error metrics, computed per sample and aggregated any way (overall, per yaw bin).

All angles in degrees. Angle differences are wrapped to (-180, 180]; the absolute value of the
wrapped difference is the per-angle error (never ``min(|d|, |d +- 180|)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from posebench.pose import angle_between, euler_to_matrix

ANGLES = ("yaw", "pitch", "roll")
YAW_BINS: tuple[tuple[float, float], ...] = ((0.0, 30.0), (30.0, 60.0), (60.0, 90.0))


def wrap_degrees(d: np.ndarray | float) -> np.ndarray:
    """Wrap angles (degrees) to the half-open interval (-180, 180]."""
    d = np.asarray(d, dtype=float)
    w = np.mod(d + 180.0, 360.0) - 180.0  # [-180, 180)
    return np.where(w == -180.0, 180.0, w)


def angle_errors(pred_ypr: np.ndarray, true_ypr: np.ndarray) -> np.ndarray:
    """Absolute wrapped error per angle, shape ``(N, 3)`` (yaw, pitch, roll), degrees."""
    return np.abs(wrap_degrees(np.asarray(pred_ypr, float) - np.asarray(true_ypr, float)))


def geodesic_errors(pred_ypr: np.ndarray, true_ypr: np.ndarray) -> np.ndarray:
    """Geodesic angle (degrees) between predicted and true rotation, shape ``(N,)``."""
    p = np.asarray(pred_ypr, float)
    t = np.asarray(true_ypr, float)
    Rp = euler_to_matrix(p[..., 0], p[..., 1], p[..., 2])
    Rt = euler_to_matrix(t[..., 0], t[..., 1], t[..., 2])
    return angle_between(Rp, Rt)


def vector_errors(pred_ypr: np.ndarray, true_ypr: np.ndarray) -> np.ndarray:
    """Per-axis vector errors (MAEV ingredients), shape ``(N, 3)``, degrees.

    Angle between corresponding columns of the predicted and true rotation matrices, i.e.
    between the face model's rotated x (left-right), y (up) and z (forward) axes.
    """
    p = np.asarray(pred_ypr, float)
    t = np.asarray(true_ypr, float)
    Rp = euler_to_matrix(p[..., 0], p[..., 1], p[..., 2])
    Rt = euler_to_matrix(t[..., 0], t[..., 1], t[..., 2])
    cos = np.clip(np.sum(Rp * Rt, axis=-2), -1.0, 1.0)  # column-wise dot products
    return np.degrees(np.arccos(cos))


def per_sample_errors(pred_ypr: np.ndarray, true_ypr: np.ndarray) -> pd.DataFrame:
    """A table with one row per sample: ``err_yaw, err_pitch, err_roll, err_mean, geodesic,
    vec_x, vec_y, vec_z, maev``. NaN predictions give NaN errors."""
    pred = np.atleast_2d(np.asarray(pred_ypr, float))
    true = np.atleast_2d(np.asarray(true_ypr, float))
    e = angle_errors(pred, true)
    v = vector_errors(pred, true)
    return pd.DataFrame(
        {
            "err_yaw": e[:, 0],
            "err_pitch": e[:, 1],
            "err_roll": e[:, 2],
            "err_mean": e.mean(axis=1),
            "geodesic": geodesic_errors(pred, true),
            "vec_x": v[:, 0],
            "vec_y": v[:, 1],
            "vec_z": v[:, 2],
            "maev": v.mean(axis=1),
        }
    )


@dataclass(frozen=True)
class Summary:
    """Aggregate of per-sample errors (degrees). Field names are the JSON keys of :meth:`as_dict`.

    ``n``: samples aggregated; ``mae_yaw``/``mae_pitch``/``mae_roll``: mean absolute wrapped
    error per angle; ``mae``: mean of the three; ``geodesic``: mean rotation angle error;
    ``maev``: mean vector error (MAEV); ``mae_ci95``: percentile-bootstrap 95% interval of ``mae``.
    """

    n: int
    mae_yaw: float
    mae_pitch: float
    mae_roll: float
    mae: float
    geodesic: float
    maev: float
    mae_ci95: tuple[float, float]

    @property
    def yaw(self) -> float:
        return self.mae_yaw

    @property
    def pitch(self) -> float:
        return self.mae_pitch

    @property
    def roll(self) -> float:
        return self.mae_roll

    @property
    def mae_ci(self) -> tuple[float, float]:
        return self.mae_ci95

    def as_dict(self) -> dict:
        """``{field: value}``; the interval as a two-item list."""
        return {"n": self.n, "mae_yaw": self.mae_yaw, "mae_pitch": self.mae_pitch, "mae_roll": self.mae_roll,
                "mae": self.mae, "geodesic": self.geodesic, "maev": self.maev, "mae_ci95": list(self.mae_ci95)}


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (deterministic for a given seed)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    means = v[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return (float(lo), float(hi))


def summarize(errors: pd.DataFrame, seed: int = 0) -> Summary:
    """Mean of per-sample errors over the rows given (failed rows must be dropped first)."""
    if len(errors) == 0:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, nan, nan, (nan, nan))
    return Summary(
        n=int(len(errors)),
        mae_yaw=float(errors["err_yaw"].mean()),
        mae_pitch=float(errors["err_pitch"].mean()),
        mae_roll=float(errors["err_roll"].mean()),
        mae=float(errors["err_mean"].mean()),
        geodesic=float(errors["geodesic"].mean()),
        maev=float(errors["maev"].mean()),
        mae_ci95=bootstrap_ci(errors["err_mean"].to_numpy(), seed=seed),
    )


def yaw_bin_label(lo: float, hi: float) -> str:
    return f"[{lo:g},{hi:g})" if hi < 90 else f"[{lo:g},{hi:g}]"


def summarize_by_yaw_bin(errors: pd.DataFrame, true_yaw: np.ndarray, bins=YAW_BINS) -> dict[str, Summary]:
    """Summaries per |true yaw| bin: [0,30), [30,60), [60,90] by default."""
    ay = np.abs(np.asarray(true_yaw, float))
    out: dict[str, Summary] = {}
    for lo, hi in bins:
        mask = (ay >= lo) & ((ay < hi) if hi < 90 else (ay <= hi))
        out[yaw_bin_label(lo, hi)] = summarize(errors[mask])
    return out
