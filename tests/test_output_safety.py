"""Issue 25, kind 1 (data loss) and its neighbours: no output is an input or another output, no
user file is replaced without ``--overwrite``, posebench deletes only what it wrote, one writer
per folder, and nothing outside the results folder is copied into a report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from posebench.cli import main
from posebench.errors import DataError, UsageError
from posebench.outputs import check_outputs, folder_lock, same_file, unique_targets


def invoke(*args, code=0):
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == code, r.output
    if code:
        assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output
    return r


def _results(folder: Path, n: int = 12) -> Path:
    invoke("run", "-m", "gt-landmarks", "-d", "synthetic", "--dataset-option", f"n={n}", "-o", "solver=sqpnp",
           "--results-dir", folder)
    return folder


@pytest.fixture(scope="module")
def two_results(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("two")
    return _results(root / "A", 12), _results(root / "B", 14)


# --- the rule itself ------------------------------------------------------------------------

def test_same_file_by_path_link_and_inode(tmp_path):
    a = tmp_path / "a.mp4"
    a.write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    os.link(a, tmp_path / "hard.mp4")
    (tmp_path / "soft.mp4").symlink_to(a)
    assert same_file(a, tmp_path / "sub" / ".." / "a.mp4")
    assert same_file(a, tmp_path / "hard.mp4") and same_file(a, tmp_path / "soft.mp4")
    assert not same_file(a, tmp_path / "b.mp4")
    with pytest.raises(UsageError, match="is the source itself"):
        check_outputs({"--out": tmp_path / "hard.mp4"}, {"source": a}, overwrite=True)
    with pytest.raises(UsageError, match="--csv and --out are one file"):
        check_outputs({"--out": tmp_path / "new.mp4", "--csv": tmp_path / "sub" / ".." / "new.mp4"})
    with pytest.raises(UsageError, match="exists already: give --overwrite"):
        check_outputs({"--out": a})
    check_outputs({"--out": a}, overwrite=True)
    with pytest.raises(UsageError, match="would both be written"):
        unique_targets({"a/face.jpg": tmp_path / "face-m.jpg", "b/face.jpg": tmp_path / "face-m.jpg"})


def test_folder_lock_refuses_a_second_writer(tmp_path):
    code = ("import sys, time; from posebench.outputs import folder_lock\n"
            "with folder_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(30)\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(DataError, match=rf"another posebench process \(pid {p.pid}\) is writing"):
            with folder_lock(tmp_path):
                pass
    finally:
        p.kill()
        p.wait()
    with folder_lock(tmp_path):  # released when its process ended, however it ended
        pass


# --- report ---------------------------------------------------------------------------------

def test_report_into_another_results_folder_destroys_nothing(two_results):
    a, b = two_results
    before = sorted(p.relative_to(b) for p in b.rglob("*"))
    for _ in range(2):  # the second call used to delete B's runs/
        r = invoke("report", "--results-dir", a, "--out", b, code=2)
        assert "did not write" in r.output
    assert sorted(p.relative_to(b) for p in b.rglob("*")) == before
    lb = invoke("leaderboard", "--results-dir", b).output
    assert "gt-landmarks" in lb


def test_report_folder_is_refreshed_but_a_users_file_in_it_is_kept(two_results, tmp_path):
    a, _ = two_results
    out = tmp_path / "rep"
    invoke("report", "--results-dir", a, "--out", out)
    assert (out / ".posebench-report.json").is_file()
    users = out / "runs" / "notes.html"
    users.write_text("my notes")  # a file the report did not write
    page = next(p for p in (out / "runs").glob("*.html") if p != users)
    old = out / "runs" / "old-run.html"
    old.write_text("a page of a run since deleted")
    import json

    marker = json.loads((out / ".posebench-report.json").read_text())
    marker["files"].append("runs/old-run.html")
    marker["files"].append("../outside.txt")  # a damaged marker cannot delete outside the folder
    (tmp_path / "outside.txt").write_text("keep")
    (out / ".posebench-report.json").write_text(json.dumps(marker))
    invoke("report", "--results-dir", a, "--out", out)  # its own folder: rewritten
    assert users.read_text() == "my notes" and page.is_file() and not old.exists()
    assert (tmp_path / "outside.txt").read_text() == "keep"
    for bad in (a, a / "runs", a.parent):
        invoke("report", "--results-dir", a, "--out", bad, code=2)


def test_report_copies_nothing_from_outside_the_results_folder(tmp_path):
    res = _results(tmp_path / "res", 10)
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "index.html").write_text("<p>private</p>")
    (outside / "big.bin").write_bytes(b"s" * 1000)
    (res / "galleries").mkdir()
    (res / "galleries" / "linked").symlink_to(outside)  # a whole gallery folder that is a link
    real = res / "galleries" / "real"
    real.mkdir()
    (real / "index.html").write_text("<p>gallery</p>")
    (real / "leak.bin").symlink_to(outside / "big.bin")  # a file that is a link
    out = tmp_path / "rep"
    r = invoke("report", "--results-dir", res, "--out", out)
    assert "1 galleries" in r.output
    assert (out / "galleries" / "real" / "index.html").is_file()
    assert not (out / "galleries" / "linked").exists() and not (out / "galleries" / "real" / "leak.bin").exists()
    assert "private" not in "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())


def test_report_escapes_study_values_and_survives_damaged_tables(tmp_path):
    import json

    res = _results(tmp_path / "res", 10)
    (res / "tables").mkdir()
    (res / "tables" / "evil.json").write_text(json.dumps({"study": "x", "dataset": "d", "n_samples": "<script>alert(1)</script>",
                                                          "settings": "<b>", "seconds": 1}))
    (res / "tables" / "evil.csv").write_text("a,b\n1,<img src=x onerror=alert(1)>\n")
    (res / "tables" / "broken.json").write_text("[1, 2")
    (res / "tables" / "list.json").write_text("[1, 2]")
    (res / "tables" / "list.csv").write_bytes(b"\xff\xfe\x00\x00garbage\n\"unclosed")
    out = tmp_path / "rep"
    invoke("report", "--results-dir", res, "--out", out)
    page = (out / "index.html").read_text()
    assert "<script>" not in page and "<img src=x" not in page and "&lt;script&gt;" in page
    assert "unreadable study record" in page
