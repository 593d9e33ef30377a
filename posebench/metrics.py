"""Pose error metrics, computed per sample and aggregated any way (overall, per yaw bin).

All angles in degrees. Angle differences are wrapped to (-180, 180]; the absolute value of the
wrapped difference is the per-angle error (never ``min(|d|, |d +- 180|)``).

**Two Euler triples, one rotation.** Every rotation has two canonical Euler triples,
``(yaw, pitch, roll)`` and ``(180 - yaw, pitch + 180, roll + 180)`` (wrapped), and at gimbal lock
(|yaw| = 90) a whole family (``pitch - roll`` fixed at yaw +90, ``pitch + roll`` at yaw -90).
A method may report either (``pose.matrix_to_euler`` always returns |yaw| <= 90, a network may
return yaw 95), and both are the same answer. The per-angle errors of a prediction are therefore
measured against the triple of the *predicted rotation* nearest the label (smallest sum of the
three wrapped absolute errors; ties keep the triple as given): :func:`nearest_equivalent`.
A label at yaw 95 and an exact fit reported as (85, -170, -175) score 0, as the geodesic error
says. Rotation-based errors (geodesic, MAEV) do not depend on the triple.

**Yaw bins** (:data:`YAW_BINS`) cover every |yaw|: [0,30), [30,60), [60,90] as in the
literature, and an open last bin (90,180] that holds the samples the +-99 protocol keeps beyond
90 (and any larger yaw when a dataset is read without the filter), so the bin counts always add
up to the number of evaluated samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from posebench.pose import angle_between, euler_to_matrix

ANGLES = ("yaw", "pitch", "roll")
#: |true yaw| bins in degrees: [0,30), [30,60), [60,90] and the open (90,180] (see the module doc).
YAW_BINS: tuple[tuple[float, float], ...] = ((0.0, 30.0), (30.0, 60.0), (60.0, 90.0), (90.0, 180.0))
#: How the bins are described in run records.
YAW_BIN_SCHEME = "|true yaw| in [0,30), [30,60), [60,90], (90,180]; counts add up to n_evaluated"
_LOCK_TOL = 1e-9  # degrees from |yaw| = 90 at which only pitch -/+ roll is defined


def wrap_degrees(d: np.ndarray | float) -> np.ndarray:
    """Wrap angles (degrees) to the half-open interval (-180, 180]."""
    d = np.asarray(d, dtype=float)
    w = np.mod(d + 180.0, 360.0) - 180.0  # [-180, 180)
    return np.where(w == -180.0, 180.0, w)


def equivalent_triple(ypr: np.ndarray) -> np.ndarray:
    """The other Euler triple of the same rotation: ``(180 - yaw, pitch + 180, roll + 180)``,
    wrapped to (-180, 180]; shape ``(..., 3)``, degrees."""
    a = np.asarray(ypr, float)
    return wrap_degrees(np.stack([180.0 - a[..., 0], a[..., 1] + 180.0, a[..., 2] + 180.0], axis=-1))


def nearest_equivalent(pred_ypr: np.ndarray, true_ypr: np.ndarray) -> np.ndarray:
    """The Euler triple of each predicted rotation that lies nearest its label (degrees, ``(N, 3)``).

    Candidates are the triple as given and :func:`equivalent_triple`; at gimbal lock
    (|yaw| = 90 within 1e-9 degrees) the whole family of equal rotations is searched and the
    unobservable ``pitch -/+ roll`` split is shared equally between the two angles. "Nearest" is
    the smallest sum of the three wrapped absolute errors; ties keep the triple as given. The
    result is the same rotation as ``pred_ypr`` (same :func:`posebench.pose.euler_to_matrix`).
    NaN rows stay NaN.
    """
    pred = np.array(np.broadcast_to(np.asarray(pred_ypr, float), np.broadcast_shapes(
        np.shape(pred_ypr), np.shape(true_ypr))), dtype=float)
    true = np.broadcast_to(np.asarray(true_ypr, float), pred.shape)
    best = wrap_degrees(pred)
    cost = np.abs(wrap_degrees(best - true)).sum(axis=-1)
    alt = equivalent_triple(pred)
    alt_cost = np.abs(wrap_degrees(alt - true)).sum(axis=-1)
    take = alt_cost < cost
    best = np.where(take[..., None], alt, best)
    cost = np.where(take, alt_cost, cost)
    yaw = best[..., 0]
    locked = np.abs(np.abs(yaw) - 90.0) < _LOCK_TOL
    if np.any(locked):
        sign = np.where(yaw > 0, 1.0, -1.0)  # yaw +90: pitch - roll fixed; yaw -90: pitch + roll
        c = best[..., 1] - sign * best[..., 2]
        e = wrap_degrees(c - (true[..., 1] - sign * true[..., 2])) / 2.0
        fam = np.stack([yaw, wrap_degrees(true[..., 1] + e), wrap_degrees(true[..., 2] - sign * e)], axis=-1)
        fam_cost = np.abs(wrap_degrees(fam - true)).sum(axis=-1)
        use = locked & (fam_cost < cost)
        best = np.where(use[..., None], fam, best)
    return best


def angle_errors(pred_ypr: np.ndarray, true_ypr: np.ndarray) -> np.ndarray:
    """Absolute wrapped error per angle, shape ``(N, 3)`` (yaw, pitch, roll), degrees, of the
    Euler triple of the predicted rotation nearest the label (:func:`nearest_equivalent`)."""
    true = np.asarray(true_ypr, float)
    return np.abs(wrap_degrees(nearest_equivalent(pred_ypr, true) - true))


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
    """``[0,30)``, ``[30,60)``, ``[60,90]``, ``(90,180]``: the bin holding 90 is closed on both
    sides, the bin after it open below."""
    if lo >= 90:
        return f"({lo:g},{hi:g}]"
    return f"[{lo:g},{hi:g})" if hi < 90 else f"[{lo:g},{hi:g}]"


def yaw_bin_masks(true_yaw: np.ndarray, bins=YAW_BINS) -> dict[str, np.ndarray]:
    """Boolean mask per bin of |wrapped true yaw| (see :func:`yaw_bin_label` for the edges).
    With the default bins every finite yaw lies in exactly one bin."""
    ay = np.abs(wrap_degrees(np.asarray(true_yaw, float)))
    out: dict[str, np.ndarray] = {}
    for lo, hi in bins:
        if lo >= 90:
            mask = (ay > lo) & (ay <= hi)
        elif hi < 90:
            mask = (ay >= lo) & (ay < hi)
        else:
            mask = (ay >= lo) & (ay <= hi)
        out[yaw_bin_label(lo, hi)] = mask
    return out


def summarize_by_yaw_bin(errors: pd.DataFrame, true_yaw: np.ndarray, bins=YAW_BINS) -> dict[str, Summary]:
    """Summaries per |true yaw| bin: [0,30), [30,60), [60,90], (90,180] by default (their ``n``
    add up to ``len(errors)``)."""
    return {label: summarize(errors[mask]) for label, mask in yaw_bin_masks(true_yaw, bins).items()}
