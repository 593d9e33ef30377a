"""``posebench video``: a round trip on a short clip made from the shared real images."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from posebench.cli import main

SIZE = 224  # small frames keep the test fast; even sides suit every codec
IMAGES = ("image00002", "image00006", "image00013")  # near-frontal faces dlib's HOG detector finds


def _clip(folder: Path, path: Path, repeats: int = 2, blank: int = 1) -> int:
    """Write an mp4 of the shared images (each ``repeats`` times) and ``blank`` faceless frames."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (SIZE, SIZE))
    assert w.isOpened()
    n = 0
    for stem in IMAGES:
        img = cv2.resize(cv2.imread(str(folder / f"{stem}.jpg")), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        for _ in range(repeats):
            w.write(img)
            n += 1
    for _ in range(blank):
        w.write(np.full((SIZE, SIZE, 3), 128, np.uint8))
        n += 1
    w.release()
    return n


def _frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    cap.release()
    return out


@pytest.fixture
def fsanet():
    from conftest import shared_path

    return shared_path("models", "fsanet")


def test_video_round_trip(tmp_path, aflw_sample, fsanet):
    clip = tmp_path / "clip.mp4"
    n = _clip(aflw_sample, clip)
    out, table = tmp_path / "out" / "drawn.mp4", tmp_path / "out" / "frames.csv"
    r = CliRunner().invoke(main, ["video", str(clip), "-m", "onnx-headpose", "-o", f"model_dir={fsanet}",
                                  "--out", str(out), "--csv", str(table), "--batch", "4"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert f"{n} frames in " in r.output and " fps (1 without a pose: no face found x1)" in r.output
    frames = _frames(out)  # plays back with OpenCV
    assert len(frames) == n and frames[0].shape == (SIZE, SIZE, 3)
    assert not np.array_equal(frames[0], _frames(clip)[0])  # the overlay is drawn
    rows = list(csv.DictReader(table.open()))
    assert [int(r["frame"]) for r in rows] == list(range(n))
    assert rows[-1]["failure"] == "no face found" and rows[-1]["yaw"] == ""
    for row in rows[:-1]:
        assert row["failure"] == "" and float(row["x_max"]) > float(row["x_min"])
    # the two copies of each image get (nearly) the same pose; image00006 is turned to image left (+yaw)
    yaw = [float(r["yaw"]) for r in rows[:-1]]
    assert abs(yaw[0] - yaw[1]) < 2 and abs(yaw[2] - yaw[3]) < 2 and yaw[2] > 20
    assert float(rows[3]["time_s"]) == pytest.approx(0.3)
    assert not list(out.parent.glob(".*partial*"))


def test_video_smoothing_and_interrupt(tmp_path, aflw_sample, fsanet, monkeypatch):
    """--smooth pulls the drawn angles towards the previous frame's; Ctrl-C (KeyboardInterrupt)
    after the first batch leaves a playable video and a CSV of the frames done."""
    clip = tmp_path / "clip.mp4"
    _clip(aflw_sample, clip, repeats=2, blank=0)
    from posebench.methods.onnx_headpose import OnnxHeadPose

    calls = {"n": 0}
    real = OnnxHeadPose.estimate_batch

    def stop_second(self, faces):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, faces)

    monkeypatch.setattr(OnnxHeadPose, "estimate_batch", stop_second)
    out, table = tmp_path / "drawn.avi", tmp_path / "frames.csv"
    r = CliRunner().invoke(main, ["video", str(clip), "-m", "onnx-headpose", "-o", f"model_dir={fsanet}", "--out",
                                  str(out), "--csv", str(table), "--batch", "3", "--smooth", "0.5"])
    assert r.exit_code == 130
    assert len(_frames(out)) == 3
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 3
    # frame 2 (a new face) is drawn half way between the previous drawn pose and its own raw pose
    prev, raw, shown = float(rows[1]["yaw"]), float(rows[2]["raw_yaw"]), float(rows[2]["yaw"])
    assert abs(raw - prev) > 10 and shown == pytest.approx((prev + raw) / 2, abs=0.01)


def test_video_bad_input_is_one_line_error(tmp_path, aflw_sample, fsanet):
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video")
    base = ["-m", "onnx-headpose", "-o", f"model_dir={fsanet}"]
    r = CliRunner().invoke(main, ["video", str(fake), *base, "--out", str(tmp_path / "o.mp4")])
    assert r.exit_code == 1 and "cannot read video" in r.output and "notes.mp4" in r.output
    assert len(r.output.strip().splitlines()) == 1
    clip = tmp_path / "clip.mp4"
    _clip(aflw_sample, clip, repeats=1, blank=0)
    r = CliRunner().invoke(main, ["video", str(clip), *base, "--out", str(tmp_path / "o.mp4"), "--codec", "ZZZZ"])
    assert r.exit_code == 1 and "OpenCV cannot write o.mp4 with codec ZZZZ" in r.output
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("o.", ".o."))]  # nothing half-written
    r = CliRunner().invoke(main, ["video", str(clip), *base, "--out", str(tmp_path / "o.xyz")])
    assert r.exit_code == 2 and "o.xyz" in r.output
    r = CliRunner().invoke(main, ["video", str(clip), "-m", "gt-landmarks", "--out", str(tmp_path / "o.mp4")])
    assert r.exit_code == 2 and "needs ground-truth landmarks" in r.output


def test_frames_larger_than_the_pixel_bound_are_refused_before_decoding(tmp_path, monkeypatch):
    """The image readers' pixel bound applies to a video's frames too, from the size the container
    declares, before a frame is decoded (before, a video's frames were never bounded)."""
    from posebench.errors import DataError
    from posebench.visual.video import open_source

    clip = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (64, 48))
    w.write(np.zeros((48, 64, 3), np.uint8))
    w.release()
    monkeypatch.setenv("POSEBENCH_MAX_IMAGE_PIXELS", str(64 * 48))
    cap, first = open_source(clip)
    cap.release()
    assert first.shape == (48, 64, 3)
    monkeypatch.setenv("POSEBENCH_MAX_IMAGE_PIXELS", str(64 * 48 - 1))
    with pytest.raises(DataError, match=r"frames of 64x48 pixels \(limit 3,071"):
        open_source(clip)
