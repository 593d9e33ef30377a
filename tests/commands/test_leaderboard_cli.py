"""The leaderboard filtered (--dataset, --method), exported (--format csv|json), with the paper's
tables on request (--paper), one row per identical weights content; ``posebench runs list|rm``;
an image method on a labels-only folder refused before any work."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import SHARED
from posebench.cli import main

WHENET = SHARED / "models" / "whenet" / "WHENet.h5"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def results(tmp_path):
    """Two synthetic datasets (n=20, n=30) and two gt-landmarks set-ups on the first."""
    res = tmp_path / "res"
    for opts in ([], ["-o", "solver=sqpnp"]):
        assert invoke("run", "-m", "gt-landmarks", "-d", "synthetic", "--dataset-option", "n=20", *opts,
                      "--results-dir", res).exit_code == 0
    assert invoke("run", "-m", "gt-landmarks", "-d", "synthetic", "--dataset-option", "n=30", "--results-dir", res).exit_code == 0
    return res


def test_formats_filters_and_paper(results):
    md = invoke("leaderboard", "--results-dir", results)
    assert md.exit_code == 0 and "| gt-landmarks (solver=sqpnp) |" in md.stdout
    assert "The paper's tables" not in md.stdout  # on request only
    assert "The paper's tables" in invoke("leaderboard", "--results-dir", results, "--paper").stdout
    r = invoke("leaderboard", "--results-dir", results, "--format", "csv", "--dataset", "synthetic")
    assert r.exit_code == 0
    t = pd.read_csv(io.StringIO(r.stdout))
    assert len(t) == 3 and set(t["n_samples"]) == {20, 30} and set(t["label"]) == {"gt-landmarks", "gt-landmarks (solver=sqpnp)"}
    assert (results / "leaderboard.csv").read_text().strip() == r.stdout.strip()
    rows = json.loads(invoke("leaderboard", "--results-dir", results, "--format", "json").stdout.split("\n(written")[0])
    assert {row["key"] for row in rows} == set(t["key"])
    bad = invoke("leaderboard", "--results-dir", results, "--dataset", "aflw2000")
    assert bad.exit_code == 1 and bad.stderr.strip().startswith("error: no stored run of dataset 'aflw2000'")
    assert "synthetic" in bad.stderr


def test_runs_list_and_rm(results):
    listed = invoke("runs", "list", "--results-dir", results)
    assert listed.exit_code == 0 and len(listed.stdout.strip().splitlines()) == 3
    key = next(line.split()[0] for line in listed.stdout.splitlines() if "solver=sqpnp" in line)
    assert invoke("runs", "rm", "abc", "--results-dir", results).exit_code == 2  # too short
    assert "no stored run" in invoke("runs", "rm", "ffffffff", key, "--results-dir", results).stderr
    assert len(list((results / "runs").glob("*.json"))) == 3  # a bad key removes nothing
    full = next(p.stem.split("__")[-1] for p in (results / "runs").glob("*.json") if p.stem.split("__")[-1].startswith(key))
    r = invoke("runs", "rm", full[-8:], "--results-dir", results, "--cache")  # the leaderboard shows the last 8
    assert r.exit_code == 0 and f"removed {key}" in r.stdout
    assert not list((results / "runs").glob(f"*{key}*")) and not [p for p in (results / "cache").glob("*.jsonl")
                                                                   if key in p.name]
    assert "solver=sqpnp" not in invoke("leaderboard", "--results-dir", results).stdout


def test_one_row_per_weights_content_and_images_needed(tmp_path, aflw_sample, aflw_labels):
    if not WHENET.is_file():
        pytest.skip(f"WHENet weights not found: {WHENET}")
    target = Path(os.environ["POSEBENCH_WEIGHTS"]) / "whenet" / "WHENet.h5"
    target.parent.mkdir(parents=True)
    target.symlink_to(WHENET)
    res = tmp_path / "res"
    base = ["run", "-m", "whenet", "-d", "aflw2000", "--data-dir", aflw_sample, "--limit", "3", "--results-dir", res]
    assert invoke(*base).exit_code == 0
    assert invoke(*base, "-o", f"weights={WHENET}").exit_code == 0
    assert len(list((res / "runs").glob("*.json"))) == 2  # two run keys (the options differ) ...
    t = pd.read_csv(io.StringIO(invoke("leaderboard", "--results-dir", res, "--format", "csv").stdout.split("\n(written")[0]))
    assert len(t) == 1  # ... one row: the same bytes made the same predictions
    r = invoke("run", "-m", "whenet", "-d", "aflw2000", "--data-dir", aflw_labels, "--results-dir", tmp_path / "r2")
    assert r.exit_code == 2 and "labels only" in r.stderr and not (tmp_path / "r2" / "runs").exists()


def test_leaderboard_out_is_never_a_stored_file_and_replaces_only_with_overwrite(results, tmp_path):
    """--out a run's per-sample table or record replaced that run with the leaderboard (its next
    leaderboard said the run was damaged); a user's file of that name was replaced silently."""
    from cli_fixtures import one_line_error, run_cli

    csv = next((results / "runs").glob("*.csv"))
    before = csv.read_bytes()
    os.link(csv, tmp_path / "hard.md")
    for out in (csv, csv.with_suffix(".json"), tmp_path / "hard.md"):
        line = one_line_error(run_cli("leaderboard", "--results-dir", str(results), "--out", str(out), "--overwrite"), 2)
        assert f"--out {out} is the stored runs/" in line
    assert csv.read_bytes() == before
    mine = tmp_path / "board.md"
    mine.write_text("my notes")
    line = one_line_error(run_cli("leaderboard", "--results-dir", str(results), "--out", str(mine)), 2)
    assert "exists already: give --overwrite" in line and mine.read_text() == "my notes"
    assert invoke("leaderboard", "--results-dir", results, "--out", mine, "--overwrite").exit_code == 0
    assert mine.read_text().startswith("#") or "gt-landmarks" in mine.read_text()
    # the default file is the leaderboard's own: replaced on every call
    assert invoke("leaderboard", "--results-dir", results).exit_code == 0
    assert invoke("leaderboard", "--results-dir", results).exit_code == 0


def test_runs_rm_deletes_only_what_the_gallery_wrote(results, tmp_path):
    """`runs rm` removed a run's gallery folder whole (a file of the user's in it went too), and a
    gallery folder that is a link ended in an unexpected OSError from rmtree."""
    from cli_fixtures import run_cli

    stems = sorted(p.stem for p in (results / "runs").glob("*.json"))
    assert invoke("gallery", stems[0].split("__")[-1], "--results-dir", results, "--worst", "2").exit_code == 0
    gal = results / "galleries" / stems[0]
    (gal / "my-notes.txt").write_text("mine")
    r = run_cli("runs", "rm", stems[0].split("__")[-1], "--results-dir", str(results))
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in gal.iterdir()) == ["my-notes.txt"] and not (results / "runs" / f"{stems[0]}.json").exists()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    (results / "galleries" / stems[1]).symlink_to(outside, target_is_directory=True)
    r = run_cli("runs", "rm", stems[1].split("__")[-1], "--results-dir", str(results))
    assert r.exit_code == 0, r.output
    assert not (results / "galleries" / stems[1]).exists() and (outside / "keep.txt").read_text() == "keep"
