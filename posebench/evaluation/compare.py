"""Is method A better than method B on the same faces? Paired per-face differences with a seeded
paired bootstrap.

For faces both methods handled, ``d_i = err_A(i) - err_B(i)`` (per-face mean of the three
absolute angle errors, degrees). The interval resamples *faces* (the same face for both methods,
so face difficulty cancels) ``n_boot`` times with ``numpy.random.default_rng(seed)`` and takes
the 2.5 and 97.5 percentiles of the mean difference. "A beats B" when the whole interval is
below zero, "B beats A" when above, "no clear difference" otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedComparison:
    n: int
    mean_diff: float
    lo: float
    hi: float

    def verdict(self, a: str, b: str) -> str:
        if self.hi < 0:
            return f"{a} beats {b}"
        if self.lo > 0:
            return f"{b} beats {a}"
        return "no clear difference"


def paired_bootstrap(err_a: np.ndarray, err_b: np.ndarray, n_boot: int = 2000, seed: int = 0,
                     level: float = 0.95) -> PairedComparison:
    """Mean of ``err_a - err_b`` and its paired-bootstrap interval (pairs with a NaN dropped)."""
    a, b = np.asarray(err_a, float), np.asarray(err_b, float)
    if a.shape != b.shape:
        raise ValueError(f"paired errors need equal shapes, got {a.shape} and {b.shape}")
    d = (a - b)[np.isfinite(a) & np.isfinite(b)]
    if d.size == 0:
        nan = float("nan")
        return PairedComparison(0, nan, nan, nan)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return PairedComparison(int(d.size), float(d.mean()), float(lo), float(hi))
