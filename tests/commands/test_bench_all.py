"""``posebench bench all`` at tiny size: one table, CSV and markdown, with the command, date,
machine and load; a bench that cannot run is a row saying why."""

from __future__ import annotations

import csv

import pytest

from cli_fixtures import one_line_error, run_cli
from conftest import SHARED
from posebench.commands.bench_all import BENCHES
from posebench.commands.bench_table import COLUMNS

SAMPLE = SHARED / "data" / "AFLW2000-sample"


def test_bench_all_writes_one_table(tmp_path):
    if not SAMPLE.is_dir():
        pytest.skip(f"sample images not in {SHARED}")
    keep = {"methods", "authors", "gpu"}
    skip = [a for b in BENCHES if b not in keep for a in ("--skip", b)]
    out = tmp_path / "bench"
    res = run_cli("bench", "all", "--data-dir", str(SAMPLE), "--limit", "2", "--out", str(out), *skip)
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((out / "bench.csv").open()))
    assert tuple(rows[0]) == COLUMNS
    benches = {r["bench"] for r in rows}
    assert {"methods gt-landmarks", "methods dlib", "authors", "gpu"} <= benches
    gt = [r for r in rows if r["bench"] == "methods gt-landmarks"]
    base, mine = gt
    assert mine["baseline"] == base["case"] and int(base["repeats"]) == 3
    assert float(mine["ratio"]) == pytest.approx(float(mine["median"]) / float(base["median"]))
    assert any(r["note"].startswith("skipped: ") for r in rows if r["bench"] == "methods")  # weights absent here
    md = (out / "bench.md").read_text()
    assert "- command: `posebench bench all" in md and "- date (UTC): " in md and "- machine: " in md
    assert "methods " in md.split("load average")[1] and "x the baseline's time" in md and "x faster" not in md


def test_bench_all_refuses_an_out_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    assert "--out folder" in one_line_error(run_cli("bench", "all", "--out", str(f / "sub")))  # under a file
