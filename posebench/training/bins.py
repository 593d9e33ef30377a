"""Angle bins of the multi-loss networks, exactly as the authors' ``code/datasets.py``.

Bin edges are ``-99, -96, ..., 99`` (67 edges, 66 bins of 3 degrees); an angle's bin is
``np.digitize(angle, edges) - 1`` (numpy's default ``right=False``: bin ``k`` holds
``edges[k] <= angle < edges[k + 1]``). An angle below -99 would get bin -1 and one at or above
+99 bin 66, which the 66-way cross-entropy cannot take: such samples are dropped before training
(:func:`in_bin_range`). Decoding is the softmax expectation over bin indices, mapped with the
*left* edge: ``3 * sum(p_k * k) - 99`` degrees (the original code; a one-hot bin ``k`` decodes
to its left edge ``-99 + 3k``, not its centre), the same as :func:`posebench.methods.hopenet.nets.bin_expectation`.
"""

from __future__ import annotations

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
