"""Metrics: wrapping, geodesic and vector errors, aggregation, bins, bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from posebench.metrics import (
    angle_errors,
    bootstrap_ci,
    geodesic_errors,
    per_sample_errors,
    summarize,
    summarize_by_yaw_bin,
    vector_errors,
    wrap_degrees,
)


def test_wrap_is_half_open_minus180_to_180():
    assert wrap_degrees(180.0) == 180.0
    assert wrap_degrees(-180.0) == 180.0
    assert wrap_degrees(540.0) == 180.0
    assert wrap_degrees(190.0) == pytest.approx(-170.0)
    assert wrap_degrees(-190.0) == pytest.approx(170.0)
    assert wrap_degrees(0.0) == 0.0


def test_179_vs_minus179_is_2_degrees():
    e = angle_errors([[179.0, 0, 0]], [[-179.0, 0, 0]])
    assert e[0, 0] == pytest.approx(2.0)


def test_wrapping_is_not_the_symmetric_180_trick():
    # min(|d|, |d +- 180|) would call a 170 degree error 10 degrees; wrapping keeps 170.
    assert angle_errors([[85.0, 0, 0]], [[-85.0, 0, 0]])[0, 0] == pytest.approx(170.0)


def test_geodesic_of_pure_yaw_offset():
    assert geodesic_errors(np.array([[10.0, 0, 0]]), np.array([[0.0, 0, 0]]))[0] == pytest.approx(10.0)
    # Equivalent Euler triples are the same rotation: zero geodesic error.
    assert geodesic_errors(np.array([[180 - 30.0, 180.0, 180.0]]), np.array([[30.0, 0, 0]]))[0] == pytest.approx(0, abs=1e-6)


def test_vector_errors_for_roll_leave_the_forward_axis():
    v = vector_errors(np.array([[0, 0, 20.0]]), np.array([[0, 0, 0.0]]))[0]
    assert v[0] == pytest.approx(20.0) and v[1] == pytest.approx(20.0) and v[2] == pytest.approx(0.0, abs=1e-6)


def test_summary_bins_and_nan_rows():
    pred = np.array([[10.0, 0, 0], [40.0, 5, 0], [75.0, 0, 5]])
    true = np.array([[0.0, 0, 0], [35.0, 0, 0], [70.0, 0, 0]])
    t = per_sample_errors(pred, true)
    s = summarize(t)
    assert s.n == 3 and s.yaw == pytest.approx(20 / 3) and s.mae == pytest.approx(np.mean(t["err_mean"]))
    bins = summarize_by_yaw_bin(t, true[:, 0])
    assert [b.n for b in bins.values()] == [1, 1, 1]
    assert bins["[60,90]"].roll == pytest.approx(5.0)


def test_bootstrap_is_deterministic_and_brackets_the_mean():
    v = np.random.default_rng(1).exponential(5.0, 400)
    lo, hi = bootstrap_ci(v, seed=3)
    assert (lo, hi) == bootstrap_ci(v, seed=3)
    assert lo < v.mean() < hi
