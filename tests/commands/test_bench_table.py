"""The bench table (posebench/commands/bench_table.py): ratios come from the measured columns,
are written so they cannot be misread, and the files are written whole."""

from __future__ import annotations

import csv
import math

import pytest

from posebench.commands.bench_table import COLUMNS, Row, finish, format_rows, interleave, ratio_text, write_table


def test_ratio_is_the_median_over_the_baselines_median():
    rows = finish([Row.timed("b", "plain", [0.2, 0.1, 0.3], per=10),
                   Row.timed("b", "fast", [0.05, 0.5, 0.06], per=10, baseline="plain", peak_mb=30.0)])
    rows[0].peak_mb = 20.0
    finish(rows)
    plain, fast = rows
    assert (plain.min, plain.median, plain.n, plain.repeats) == pytest.approx((10.0, 20.0, 10, 3))
    assert fast.median == pytest.approx(6.0) and fast.ratio == pytest.approx(6.0 / 20.0)
    assert fast.peak_ratio == pytest.approx(1.5) and math.isnan(plain.ratio)


def test_seconds_rows_keep_seconds_and_a_missing_baseline_is_named():
    r = Row.timed("b", "x", [1.5, 2.5, 2.0], unit="s")
    assert (r.median, r.min, r.n) == (2.0, 1.5, 0)
    with pytest.raises(KeyError):
        finish([Row.timed("b", "x", [1.0], baseline="nope")])


def test_ratio_text_says_time_never_faster():
    assert ratio_text(0.43) == "0.43x the baseline's time"
    assert ratio_text(1.5, "peak memory") == "1.50x the baseline's peak memory"
    assert ratio_text(float("nan")) == ""
    text = format_rows(finish([Row.timed("b", "p", [1.0]), Row.timed("b", "q", [0.5], baseline="p")]))
    assert "0.50x the baseline's time (p)" in text and "faster" not in text


def test_interleave_runs_every_path_once_per_round_in_order():
    calls = []
    times, outs = interleave({"a": lambda: calls.append("a") or 1, "b": lambda: calls.append("b") or 2}, 3)
    assert calls == ["a", "b"] * 3 and outs == {"a": [1, 1, 1], "b": [2, 2, 2]}
    assert all(len(v) == 3 and all(t >= 0 for t in v) for v in times.values())


def test_write_table_writes_csv_and_markdown_whole(tmp_path):
    rows = finish([Row.timed("b", "plain", [0.1]), Row.timed("b", "fast", [0.05], baseline="plain", note="x|y")])
    paths = write_table(rows, tmp_path / "out", "bench", "posebench bench all", "2026-01-01 00:00:00", ["methods 1.0 0.5 0.2 (2 CPUs)"])
    assert [p.name for p in paths] == ["bench.csv", "bench.md"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["bench.csv", "bench.md"]  # no temporary left
    got = list(csv.DictReader((tmp_path / "out" / "bench.csv").open()))
    assert tuple(got[0]) == COLUMNS and float(got[1]["ratio"]) == pytest.approx(0.5) and got[0]["ratio"] == ""
    md = (tmp_path / "out" / "bench.md").read_text()
    for part in ("command: `posebench bench all`", "date (UTC): 2026-01-01", "machine: ", "load average", "methods 1.0 0.5 0.2",
                 "0.50x the baseline's time", "x\\|y"):
        assert part in md
