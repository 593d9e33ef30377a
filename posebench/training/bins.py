"""Angle bins of the multi-loss networks, exactly as the authors' ``code/datasets.py``.

Bin edges are ``-99, -96, ..., 99`` (67 edges, 66 bins of 3 degrees); an angle's bin is
``np.digitize(angle, edges) - 1`` (numpy's default ``right=False``: bin ``k`` holds
``edges[k] <= angle < edges[k + 1]``). An angle below -99 would get bin -1 and one at or above
+99 bin 66, which the 66-way cross-entropy cannot take: such samples are dropped before training
(:func:`in_bin_range`). Decoding is the softmax expectation over bin indices, mapped with the
*left* edge: ``3 * sum(p_k * k) - 99`` degrees (the original code; a one-hot bin ``k`` decodes
to its left edge ``-99 + 3k``, not its centre), the same as :func:`posebench.methods.hopenet.nets.bin_expectation`.

WHENet (:func:`head_bins` ``("whenet")``) keeps 66 such bins for pitch and roll and gives yaw 120
bins of 3 degrees over the whole circle, left edges ``-180, -177, ..., 177`` (the authors'
``yaw_new`` head and ``WHENet.get_angle``, ported in :mod:`posebench.methods.whenet.nets`, whose
constants these are): a yaw is first wrapped into ``[-180, 180)`` (:func:`wrap_degrees`; +180 is
-180), so every yaw has a bin, and decodes as ``3 * E[k] - 180``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

NUM_BINS = 66
BIN_WIDTH = 3.0
ANGLE_MIN = -99.0
BIN_EDGES = np.arange(-99, 102, 3)  # 67 edges: -99 ... 99 (the original ``range(-99, 102, 3)``)


def angle_bins(angles: np.ndarray | list[float]) -> np.ndarray:
    """Bin indices (int64, same shape) of angles in degrees: ``np.digitize(a, BIN_EDGES) - 1``."""
    return (np.digitize(np.asarray(angles, dtype=np.float64), BIN_EDGES) - 1).astype(np.int64)


def in_bin_range(angles: np.ndarray | list[float]) -> bool:
    """True when every angle falls in a bin 0..65 (``-99 <= a < 99``)."""
    b = angle_bins(angles)
    return bool(np.all((b >= 0) & (b < NUM_BINS)))


def expectation_degrees(logits: torch.Tensor) -> torch.Tensor:
    """(N,) degrees from (N, 66) logits: ``3 * sum(softmax(logits) * k) - 99``."""
    idx = torch.arange(logits.shape[1], dtype=logits.dtype, device=logits.device)
    return (torch.softmax(logits, dim=1) * idx).sum(dim=1) * BIN_WIDTH + ANGLE_MIN


def wrap_degrees(angles):
    """Angles (numpy array, float or torch tensor) wrapped into ``[-180, 180)`` degrees."""
    if isinstance(angles, torch.Tensor):
        return torch.remainder(angles + 180.0, 360.0) - 180.0
    return np.mod(np.asarray(angles, dtype=np.float64) + 180.0, 360.0) - 180.0


@dataclass(frozen=True)
class Bins:
    """``count`` bins of ``width`` degrees from the left edge ``low``; ``wrap``: a circular angle
    (the bins cover 360 degrees and an angle is wrapped into ``[low, low + 360)`` first)."""

    count: int
    low: float
    width: float = BIN_WIDTH
    wrap: bool = False

    @property
    def edges(self) -> np.ndarray:
        return self.low + self.width * np.arange(self.count + 1, dtype=np.float64)

    def describe(self) -> str:
        return f"[{self.low:g}, {self.low + self.count * self.width:g})"

    def index(self, angles: np.ndarray | list[float]) -> np.ndarray:
        """Bin indices (int64): ``np.digitize(a, edges) - 1``, after wrapping for a circular angle."""
        a = np.asarray(angles, dtype=np.float64)
        if self.wrap:
            a = np.mod(a - self.low, 360.0) + self.low
        return (np.digitize(a, self.edges) - 1).astype(np.int64)

    def contains(self, angles: np.ndarray | list[float]) -> bool:
        """True when every angle is finite and has a bin ``0 .. count - 1``."""
        a = np.asarray(angles, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            return False
        b = self.index(a)
        return bool(np.all((b >= 0) & (b < self.count)))

    def expectation(self, logits: torch.Tensor) -> torch.Tensor:
        """(N,) degrees from (N, count) logits: ``width * sum(softmax * k) + low``."""
        idx = torch.arange(logits.shape[1], dtype=logits.dtype, device=logits.device)
        return (torch.softmax(logits, dim=1) * idx).sum(dim=1) * self.width + self.low


HOPENET_BINS: tuple[Bins, Bins, Bins] = (Bins(NUM_BINS, ANGLE_MIN),) * 3


def whenet_bins() -> tuple[Bins, Bins, Bins]:
    """WHENet's 120 circular yaw bins and 66 pitch/roll bins, from the method's own constants
    (:mod:`posebench.methods.whenet.nets`), so training and decoding cannot disagree."""
    from posebench.methods.whenet import nets

    pr = Bins(nets.PR_BINS, nets.PR_MIN, nets.BIN_WIDTH)
    return (Bins(nets.YAW_BINS, nets.YAW_MIN, nets.BIN_WIDTH, wrap=True), pr, pr)


def head_bins(model: str) -> tuple[Bins, Bins, Bins]:
    """The (yaw, pitch, roll) bins of a built-in network: WHENet's (:func:`whenet_bins`) or
    Hopenet's 66 for every angle. The loop asks the model's spec instead
    (:meth:`posebench.training.spec.TrainSpec.heads`), which gives these."""
    return whenet_bins() if model == "whenet" else HOPENET_BINS
