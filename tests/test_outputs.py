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


# --- video ----------------------------------------------------------------------------------

LEVELS = (40, 120, 200)  # one grey level per frame: which frame is which, read back


def _grey_frames(size: int = 96) -> list:
    import numpy as np

    return [np.full((size, size, 3), v, np.uint8) for v in LEVELS]


def _grey_clip(path: Path) -> Path:
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (96, 96))
    for f in _grey_frames():
        w.write(f)
    w.release()
    return path


@pytest.fixture
def fsanet():
    from conftest import shared_path

    return shared_path("models", "fsanet")


def test_video_never_writes_over_its_source_or_its_other_output(tmp_path):
    clip = _grey_clip(tmp_path / "clip.avi")
    data = clip.read_bytes()
    os.link(clip, tmp_path / "same.avi")
    base = ["video", clip, "-m", "gt-landmarks"]
    for args in (["--out", clip], ["--out", tmp_path / "x" / ".." / "clip.avi", "--overwrite"],
                 ["--out", tmp_path / "same.avi", "--overwrite"], ["--out", tmp_path / "o.avi", "--csv", clip],
                 ["--out", tmp_path / "o.avi", "--csv", tmp_path / "o.avi"], ["--out", tmp_path / "o.csv"]):
        r = invoke(*base, *args, code=2)
        assert "nothing was written" in r.output or "--out is the video" in r.output, r.output
    assert clip.read_bytes() == data and not (tmp_path / "o.avi").exists()
    (tmp_path / "mine.avi").write_bytes(b"my film")
    r = invoke(*base, "--out", tmp_path / "mine.avi", code=2)
    assert "exists already: give --overwrite" in r.output and (tmp_path / "mine.avi").read_bytes() == b"my film"
    r = invoke("video", "--camera", "-1", "-m", "gt-landmarks", "--out", tmp_path / "cam.avi", code=2)
    assert "'--camera': -1 is not in the range 0<=x<=1023" in r.output


def test_video_camera_index_below_zero_is_refused():
    from posebench.visual.video import open_source

    with pytest.raises(UsageError, match="--camera must be a camera index 0, 1, ..., got -1"):
        open_source(-1)


def test_raw_mjpeg_stream_keeps_its_first_frame(tmp_path, fsanet):
    import csv

    import cv2

    raw = tmp_path / "stream.mjpeg"  # concatenated JPEGs: a stream that cannot seek back
    raw.write_bytes(b"".join(cv2.imencode(".jpg", f)[1].tobytes() for f in _grey_frames()))
    out, table = tmp_path / "o.avi", tmp_path / "o.csv"
    invoke("video", raw, "-m", "onnx-headpose", "-o", f"model_dir={fsanet}", "--out", out, "--csv", table)
    rows = list(csv.DictReader(table.open()))
    assert [int(r["frame"]) for r in rows] == [0, 1, 2]
    cap = cv2.VideoCapture(str(out))
    means = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        means.append(float(f[60:, :30].mean()))  # a corner the failure note does not reach
    assert len(means) == 3 and all(abs(m - v) < 8 for m, v in zip(means, LEVELS)), means


def test_video_on_a_full_disk_keeps_nothing(tmp_path, fsanet):
    """A file-size limit (``RLIMIT_FSIZE``, SIGXFSZ ignored) makes every write past 30 kB fail as a
    full disk does: neither output may appear looking complete, and no hidden partial is left."""
    import cv2
    import numpy as np

    clip = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 320))
    rng = np.random.default_rng(0)
    for _ in range(20):
        w.write(rng.integers(0, 255, (320, 320, 3), dtype=np.uint8))  # noise: large JPEG frames
    w.release()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = ("import resource, signal, sys\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (30000, 30000))\nfrom posebench.cli import main\n"
            "sys.argv = ['posebench'] + sys.argv[1:]\nmain()\n")
    for csv_name in (None, "o.csv"):
        args = ["video", str(clip), "-m", "onnx-headpose", "-o", f"model_dir={fsanet}", "--out", str(out_dir / "o.avi"),
                "--batch", "4"] + (["--csv", str(out_dir / csv_name)] if csv_name else [])
        env = dict(os.environ, POSEBENCH_DATA=str(tmp_path / "data"), POSEBENCH_PROGRESS="0")
        r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300, env=env,
                           cwd=tmp_path)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "cannot write" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert list(out_dir.iterdir()) == [], list(out_dir.iterdir())


def test_video_removes_the_partial_files_a_killed_run_left(tmp_path, fsanet):
    clip = _grey_clip(tmp_path / "clip.avi")
    out = tmp_path / "o.avi"
    dead = 2 ** 22 + 12345  # above Linux's largest pid: no such process
    stale = [tmp_path / f".o.partial{dead}.avi", tmp_path / f".o.csv.partial{dead}"]
    for p in stale:
        p.write_bytes(b"half")
    keep = tmp_path / f".o.partial{os.getppid()}.avi"  # a live process's: not touched
    keep.write_bytes(b"live")
    invoke("video", clip, "-m", "onnx-headpose", "-o", f"model_dir={fsanet}", "--out", out, "--csv", tmp_path / "o.csv")
    assert not any(p.exists() for p in stale) and keep.exists() and out.is_file()


# --- draw -----------------------------------------------------------------------------------

def test_draw_never_draws_two_images_to_one_file_nor_over_a_users_file(tmp_path, aflw_sample):
    import shutil

    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(aflw_sample / "image00004.jpg", tmp_path / sub / "face.jpg")
        shutil.copy(aflw_sample / "image00004.mat", tmp_path / sub / "face.mat")
    shutil.copy(aflw_sample / "image00004.jpg", tmp_path / "a" / "face.png")
    out = tmp_path / "out"
    base = ["draw", "-m", "gt-landmarks", "-o", "solver=weak"]
    for pair in ((tmp_path / "a" / "face.jpg", tmp_path / "b" / "face.jpg"),
                 (tmp_path / "a" / "face.jpg", tmp_path / "a" / "face.png")):
        r = invoke(*base, *pair, "--out", out, code=2)
        assert "would both be written to output" in r.output and "face-gt-landmarks.jpg" in r.output
        assert not out.exists()
    out.mkdir()
    mine = out / "face-gt-landmarks.jpg"
    mine.write_bytes(b"my own picture")
    r = invoke(*base, tmp_path / "a" / "face.jpg", "--out", out, code=2)
    assert "exists already: give --overwrite" in r.output and mine.read_bytes() == b"my own picture"
    # an input that is another input's output: refused even with --overwrite
    shutil.copy(aflw_sample / "image00004.jpg", out / "face.jpg")
    r = invoke(*base, out / "face.jpg", mine, "--out", out, "--overwrite", code=2)
    assert "is the image" in r.output and mine.read_bytes() == b"my own picture"
    r = invoke(*base, tmp_path / "a" / "face.jpg", "--out", out, "--overwrite")
    assert "-> " in r.output and mine.read_bytes()[:2] == b"\xff\xd8"


# --- gallery --------------------------------------------------------------------------------

def test_gallery_redraws_the_runs_own_samples_or_says_it_cannot(tmp_path):
    import json

    import pandas as pd

    res = tmp_path / "res"
    invoke("run", "-m", "gt-landmarks", "-d", "synthetic", "--dataset-option", "n=20", "--dataset-option", "seed=3",
           "-o", "solver=sqpnp", "--results-dir", res)
    r = invoke("gallery", "--method", "gt-landmarks", "--dataset", "synthetic", "--worst", "3", "--results-dir", res)
    stem = next((res / "runs").glob("*.json")).stem
    table = pd.read_csv(res / "runs" / f"{stem}.csv", dtype={"id": str})
    from posebench.datasets.synthetic import make_synthetic

    own = {s.id: s.pose.yaw for s in make_synthetic(n=20, seed=3).samples}
    assert all(own[i] == pytest.approx(y) for i, y in zip(table["id"], table["true_yaw"]))
    page = (res / "galleries" / stem / "index.html").read_text()
    worst = table.sort_values("err_mean", ascending=False)["id"].head(3)
    assert all(i in page for i in worst) and "worst by err_mean" in r.output
    # a record whose dataset cannot be re-created as it was: one line, no gallery of other faces
    rec_path = res / "runs" / f"{stem}.json"
    rec = json.loads(rec_path.read_text())
    rec["fingerprint"] = "0" * 16
    rec_path.write_text(json.dumps(rec))
    r = invoke("gallery", "--method", "gt-landmarks", "--dataset", "synthetic", "--results-dir", res, code=1)
    assert "cannot re-create the dataset of run" in r.output


def test_a_run_stores_its_file_pair_under_the_runs_folders_lock(tmp_path):
    """A run's per-sample table and record are written while the
    folder's writer lock is held, waiting for another writer's turn: two writers of one key could
    leave one's table beside the other's record."""
    import fcntl
    import threading

    import posebench
    from posebench.outputs import LOCK_NAME

    res = tmp_path / "res"
    (res / "runs").mkdir(parents=True)
    fd = os.open(res / "runs" / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another writer holds the runs folder
    t = threading.Thread(target=posebench.evaluate, args=("gt-landmarks", "synthetic"),
                         kwargs={"results_dir": res, "dataset_options": {"n": 5}})
    t.start()
    t.join(3)
    stored_while_held = sorted(p.name for p in (res / "runs").glob("*.json"))
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    t.join(30)
    assert stored_while_held == [] and len(list((res / "runs").glob("*.json"))) == 1
