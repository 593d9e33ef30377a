"""``posebench predict`` and ``posebench.predict``: your own photos, folders and videos in, one
row per face out, cached per file content. Real photos from ../shared/data/AFLW2000-sample (no
labels are read; skipped when absent), YuNet, FSA-Net and WHENet from ../shared/models; the
two-face photo, the clip, the blank and the broken files are made by the tests."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import SHARED
from posebench.cli import main
from posebench.imageio import read_image

YUNET = SHARED / "models" / "yunet" / "yunet_n_dynamic.onnx"
FSANET = SHARED / "models" / "fsanet"
WHENET = SHARED / "models" / "whenet" / "WHENet.h5"
SAMPLE = SHARED / "data" / "AFLW2000-sample"
PHOTOS = ("image00002", "image00004", "image00008")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def models(monkeypatch):
    """YuNet installed (a link to the shared file) where posebench looks for it; FSA-Net and
    WHENet paths. Skips when the shared models are absent."""
    for p in (YUNET, FSANET, WHENET, SAMPLE):
        if not p.exists():
            pytest.skip(f"shared reference file not found: {p} (set POSEBENCH_SHARED)")
    target = Path(os.environ["POSEBENCH_WEIGHTS"]) / "yunet" / "yunet_n_dynamic.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(YUNET)
    return {"fsanet": FSANET, "whenet": WHENET}


@pytest.fixture
def photos(tmp_path, models):
    """A folder (with a subfolder) of sample photos without their labels, and a two-face photo
    (two sample faces side by side)."""
    import cv2

    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for name in PHOTOS[:2]:
        shutil.copy(SAMPLE / f"{name}.jpg", folder / f"{name}.jpg")
    shutil.copy(SAMPLE / f"{PHOTOS[2]}.jpg", folder / "sub" / f"{PHOTOS[2]}.jpg")
    pair = np.hstack([read_image(SAMPLE / "image00002.jpg"), read_image(SAMPLE / "image00008.jpg")])
    cv2.imwrite(str(folder / "pair.png"), pair[:, :, ::-1])
    return folder


def _two_methods(models):
    return ["-m", "onnx-headpose", "-m", "whenet", "-o", f"onnx-headpose.model_dir={models['fsanet']}",
            "-o", f"whenet.weights={models['whenet']}"]


def test_folder_two_methods_every_face_and_the_cache(photos, models, tmp_path):
    out = tmp_path / "poses.csv"
    args = ["predict", photos, *_two_methods(models), "--faces", "all", "--out", out]
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns[:5]) == ["method", "file", "frame", "face", "n_faces"]
    assert set(table["method"]) == {"onnx-headpose (models=1x1,var)", "whenet (weights=WHENet.h5)"}
    for label, rows in table.groupby("method"):
        files = rows.groupby("file")
        assert len(files) == 4, label  # the subfolder's photo too
        pair = rows[rows["file"].str.endswith("pair.png")]
        assert len(pair) == 2 and list(pair["face"]) == [0, 1] and set(pair["n_faces"]) == {2}, label
        assert (pair["failure"] == "").all() and set(pair["detector"]) == {"yunet"}
        # one face on each half of the side-by-side photo
        assert sorted(pair["x_min"] < 450) == [False, True]
        for name in PHOTOS:
            single = rows[rows["file"].str.endswith(f"{name}.jpg")]
            assert len(single) == 1 and single["failure"].iloc[0] == "", (label, name)
    # the left face of the pair is image00002's: about the pose it has on its own photo
    wh = table[table["method"].str.startswith("whenet")]
    alone = wh[wh["file"].str.endswith("image00002.jpg")][["yaw", "pitch", "roll"]].to_numpy(float)
    left = wh[wh["file"].str.endswith("pair.png") & (wh["x_min"] < 450)][["yaw", "pitch", "roll"]].to_numpy(float)
    assert np.abs(alone - left).max() < 5  # YuNet boxes it a little differently in the wider image
    assert "0 of 8 images/frames from the cache" in r.stderr

    again = invoke(*args, "--overwrite")  # the first run's table is replaced only with --overwrite
    assert again.exit_code == 0
    assert "8 of 8 images/frames from the cache" in again.stderr
    pd.testing.assert_frame_equal(pd.read_csv(out, keep_default_na=False), table)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_video_one_row_per_frame_and_largest(models, tmp_path):
    import cv2

    img = read_image(SAMPLE / "image00002.jpg")
    clip = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (450, 450))
    assert w.isOpened()
    for k in range(5):
        w.write(np.ascontiguousarray(np.roll(img, 4 * k, axis=1)[:, :, ::-1]))
    w.release()
    out = tmp_path / "frames.jsonl"
    r = invoke("predict", clip, "-m", "onnx-headpose", "-o", f"model_dir={models['fsanet']}", "--faces", "largest",
               "--out", out, "--matrix")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["frame"] for row in rows] == [0, 1, 2, 3, 4]
    assert all(row["face"] == 0 and row["failure"] == "" for row in rows)
    R = np.array([[rows[0][f"r{i}{j}"] for j in range(3)] for i in range(3)])
    from posebench.pose import Pose

    np.testing.assert_allclose(R, Pose(rows[0]["yaw"], rows[0]["pitch"], rows[0]["roll"]).matrix(), atol=1e-5)
    again = invoke("predict", clip, "-m", "onnx-headpose", "-o", f"model_dir={models['fsanet']}", "--faces", "largest")
    assert "5 of 5 images/frames from the cache" in again.stderr
    assert again.stdout.count("\n") == 6  # header + 5 frames on stdout


def test_failures_are_rows_and_the_cache_follows_content(models, tmp_path):
    import posebench

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLE / "image00002.jpg", folder / "a.jpg")
    (folder / "broken.jpg").write_bytes(b"not an image")
    import cv2

    cv2.imwrite(str(folder / "blank.png"), np.full((120, 160, 3), 128, np.uint8))
    kw = {"method_options": {"model_dir": str(models["fsanet"])}, "results_dir": tmp_path / "res"}
    from posebench.inference import PredictStats, predict

    stats = PredictStats()
    t = predict(folder, "onnx-headpose", stats=stats, **kw)
    by = {Path(f).name: row for f, row in zip(t["file"], t.to_dict("records"))}
    assert by["blank.png"]["failure"] == "no face found" and by["blank.png"]["face"] == -1
    assert by["blank.png"]["n_faces"] == 0 and np.isnan(by["blank.png"]["yaw"])
    assert "broken.jpg" in by["broken.jpg"]["failure"]
    assert by["a.jpg"]["failure"] == "" and stats.computed == 3 and stats.from_cache == 0
    # a file replaced by other bytes under its name is computed again; the rest come from the cache
    shutil.copy(SAMPLE / "image00004.jpg", folder / "a.jpg")
    stats = PredictStats()
    t2 = predict(folder, "onnx-headpose", stats=stats, **kw)
    assert stats.computed == 1 and stats.from_cache == 2
    assert t2.loc[t2["file"].str.endswith("a.jpg"), "yaw"].iloc[0] != by["a.jpg"]["yaw"]
    # the top-level API is the same call
    t3 = posebench.predict(folder, "onnx-headpose", **kw)
    pd.testing.assert_frame_equal(t3, t2)


def test_estimate_takes_a_path(models):
    from posebench.method import create_method

    m = create_method("onnx-headpose", {"model_dir": str(models["fsanet"])})
    path = SAMPLE / "image00002.jpg"
    assert m.estimate(path) == m.estimate(read_image(path))
    assert m.estimate(str(path)) == m.estimate(read_image(path))
    assert len(m.estimate_faces(path)) == 1


def test_one_line_errors_before_any_work(models, tmp_path):
    photo = tmp_path / "p.jpg"
    shutil.copy(SAMPLE / "image00002.jpg", photo)
    fsa = ["-m", "onnx-headpose", "-o", f"model_dir={models['fsanet']}"]
    cases = [
        (["predict", tmp_path / "missing", *fsa], "no such file or folder"),
        (["predict", str(tmp_path / "*.png"), *fsa], "no file matches"),
        (["predict", photo, "-m", "gt-landmarks"], "does not read images"),
        (["predict", photo, *fsa, "--out", photo], "one of the inputs"),
        (["predict", photo, *fsa, "--out", photo, "--format", "csv"], "one of the inputs"),
        (["predict", photo, *fsa, "--out", tmp_path / "t.txt"], "cannot tell the table format"),
        (["predict", photo, "-m", "onnx-headpose", "-o", "whenet.weights=x", "-m", "dlib"], "whenet"),
    ]
    for args, text in cases:
        r = invoke(*args)
        assert r.exit_code != 0, args
        err = r.stderr.strip()
        assert err.startswith("error:") and "\n" not in err and text in err, (args, err)
    r = invoke("predict", photo, *fsa, "--out", tmp_path)  # click's own usage error
    assert r.exit_code == 2 and "is a directory" in r.stderr
    assert read_image(photo).shape == (450, 450, 3)  # the input is untouched


def test_draw_writes_every_face(photos, models, tmp_path):
    drawn = tmp_path / "drawn"
    r = invoke("predict", photos / "pair.png", photos / "sub", "-m", "onnx-headpose", "-o", f"model_dir={models['fsanet']}",
               "--draw", drawn, "--out", tmp_path / "t.csv")
    assert r.exit_code == 0, r.output
    names = sorted(str(p.relative_to(drawn)) for p in drawn.rglob("*.jpg"))
    assert names == ["pair-onnx-headpose.jpg", f"sub/{PHOTOS[2]}-onnx-headpose.jpg"]
    img = read_image(drawn / "pair-onnx-headpose.jpg")
    src = read_image(photos / "pair.png")
    changed = np.abs(img.astype(int) - src.astype(int)).sum(axis=2) > 60
    assert changed[:, :450].any() and changed[:, 450:].any()  # both faces drawn


def test_split_options():
    from posebench.commands.predict import split_options

    assert split_options(["a", "b"], {"a.x": "1", "y": "2"}) == {"a": {"x": "1", "y": "2"}, "b": {"y": "2"}}
    assert split_options(["a"], {"x": "1"}) == {"a": {"x": "1"}}


def test_an_interrupted_run_resumes_from_the_cache(photos, tmp_path):
    from posebench.inference import PredictStats, predict
    from posebench.method import Method
    from posebench.pose import Pose

    class Counting(Method):
        """An image method that answers frontal and is interrupted (Ctrl-C) at its 3rd face."""

        name = "counting"
        needs = frozenset({"image"})
        batch_size = 1
        stop_at: int | None = 3

        def __init__(self):
            super().__init__()
            self.calls = 0

        def estimate_one(self, face):
            self.calls += 1
            if self.stop_at is not None and self.calls == self.stop_at:
                raise KeyboardInterrupt
            return Pose(0.0, 0.0, 0.0)

    m = Counting()
    with pytest.raises(KeyboardInterrupt):
        predict(photos, m, results_dir=tmp_path / "res")
    m.stop_at = None
    stats = PredictStats()
    table = predict(photos, m, results_dir=tmp_path / "res", stats=stats)
    assert stats.from_cache == 2 and stats.computed == 2  # two images were done before the interrupt
    assert len(table) == 5 and (table["failure"] == "").all()  # the pair's two faces and three photos


def test_parquet_table_or_a_one_line_error_without_pyarrow(models, tmp_path, monkeypatch):
    """``--out poses.parquet`` writes the same table as CSV (where pyarrow is installed); without
    pyarrow it is one line naming the package to install, before any model is loaded or file
    written."""
    photo = tmp_path / "p.jpg"
    shutil.copy(SAMPLE / "image00002.jpg", photo)
    fsa = ["-m", "onnx-headpose", "-o", f"model_dir={models['fsanet']}"]
    import importlib.util

    real_find_spec = importlib.util.find_spec
    with monkeypatch.context() as m:
        m.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real_find_spec(name, *a))
        r = invoke("predict", photo, "-m", "onnx-headpose", "-o", f"model_dir={tmp_path / 'no-such-folder'}",
                   "--out", tmp_path / "poses.parquet")
        assert r.exit_code == 2 and r.stderr.strip() == ("error: Parquet needs pyarrow (pip install pyarrow); "
                                                          "or write .csv or .jsonl"), r.stderr
        assert not (tmp_path / "poses.parquet").exists()
    pytest.importorskip("pyarrow", reason="pyarrow not installed: the Parquet round trip is not checked here")
    assert invoke("predict", photo, *fsa, "--out", tmp_path / "poses.parquet").exit_code == 0
    assert invoke("predict", photo, *fsa, "--out", tmp_path / "poses.csv").exit_code == 0
    pq = pd.read_parquet(tmp_path / "poses.parquet")
    csv = pd.read_csv(tmp_path / "poses.csv", keep_default_na=False)
    assert list(pq.columns) == list(csv.columns) and len(pq) == len(csv) == 1
    np.testing.assert_allclose(pq[["yaw", "pitch", "roll"]].to_numpy(float), csv[["yaw", "pitch", "roll"]].to_numpy(float),
                               atol=1e-4)  # the CSV keeps 4 decimals


class FakeCamera:
    """Stands in for ``cv2.VideoCapture`` of a camera index: ``n`` frames (BGR) of a sample photo
    moving 4 pixels a frame, then nothing (the camera unplugged); a file path goes to OpenCV."""

    made: list = []

    def __init__(self, source, *args, n: int = 4):
        import cv2

        if not isinstance(source, int):
            self.real = cv2.__dict__["_real_VideoCapture"](source, *args)
            return
        self.real, self.index, self.left = None, source, n
        self.bgr = np.ascontiguousarray(read_image(SAMPLE / "image00002.jpg")[:, :, ::-1])
        FakeCamera.made.append(source)

    def isOpened(self):
        return True if self.real is None else self.real.isOpened()

    def get(self, prop):
        """The declared frame size (read before any frame is decoded, against the pixel bound)."""
        import cv2

        if self.real is not None:
            return self.real.get(prop)
        h, w = self.bgr.shape[:2]
        return {cv2.CAP_PROP_FRAME_WIDTH: float(w), cv2.CAP_PROP_FRAME_HEIGHT: float(h)}.get(prop, 0.0)

    def read(self):
        if self.real is not None:
            return self.real.read()
        if self.left == 0:
            return False, None
        self.left -= 1
        return True, np.roll(self.bgr, 4 * self.left, axis=1)

    def release(self):
        if self.real is not None:
            self.real.release()


def test_camera_index_one_row_per_frame_never_cached(models, tmp_path, monkeypatch):
    """``--camera 0`` reads the camera through OpenCV (a fake capture here): one row per frame
    read (``--max-frames``, or until the camera stops), file ``camera:0``, never cached."""
    import cv2

    monkeypatch.setitem(cv2.__dict__, "_real_VideoCapture", cv2.VideoCapture)
    monkeypatch.setattr(cv2, "VideoCapture", FakeCamera)
    FakeCamera.made = []
    fsa = ["-m", "onnx-headpose", "-o", f"model_dir={models['fsanet']}", "--faces", "largest"]
    out = tmp_path / "cam.csv"
    r = invoke("predict", "--camera", "0", "--max-frames", "3", *fsa, "--out", out, "--results-dir", tmp_path / "res")
    assert r.exit_code == 0, r.output
    t = pd.read_csv(out, keep_default_na=False)
    assert list(t["frame"]) == [0, 1, 2] and set(t["file"]) == {"camera:0"} and (t["failure"] == "").all()
    assert FakeCamera.made == [0] and "3 video frames" in r.stderr
    r = invoke("predict", "--camera", "0", *fsa, "--results-dir", tmp_path / "res")  # to the camera's end
    assert r.exit_code == 0, r.output
    assert r.stdout.count("\n") == 5 and "0 of 4 images/frames from the cache" in r.stderr  # header + 4 frames


def test_predict_outputs_follow_the_output_rule(models, tmp_path):
    """--out and --draw never replace an input (a hard link of it included), each other, or a
    user's file without --overwrite (a photo-onnx-headpose.jpg of the user's and an existing
    table were replaced; a hard-linked input was overwritten by its table)."""
    photo = tmp_path / "p.jpg"
    shutil.copy(SAMPLE / "image00002.jpg", photo)
    fsa = ["-m", "onnx-headpose", "-o", f"model_dir={models['fsanet']}"]
    os.link(photo, tmp_path / "hard.csv")
    mine = tmp_path / "poses.csv"
    mine.write_text("my table")
    drawn = tmp_path / "drawn"
    drawn.mkdir()
    (drawn / "p-onnx-headpose.jpg").write_text("my picture")
    cases = [
        (["--out", tmp_path / "hard.csv", "--overwrite"], "is one of the inputs"),
        (["--out", mine], "exists already: give --overwrite"),
        (["--draw", drawn, "--out", tmp_path / "t.csv"], "p-onnx-headpose.jpg exists already: give --overwrite"),
        (["--draw", tmp_path, "--out", tmp_path / "p-onnx-headpose.jpg", "--format", "csv", "--overwrite"],
         "is the --out table itself"),
    ]
    for extra, text in cases:
        r = invoke("predict", photo, *fsa, *extra)
        err = r.stderr.strip()
        assert r.exit_code == 2 and err.startswith("error:") and "\n" not in err and text in err, (extra, err)
    assert read_image(photo).shape == (450, 450, 3) and mine.read_text() == "my table"
    assert (drawn / "p-onnx-headpose.jpg").read_text() == "my picture" and not (tmp_path / "t.csv").exists()
    r = invoke("predict", photo, *fsa, "--out", mine, "--draw", drawn, "--overwrite")
    assert r.exit_code == 0, r.output
    assert mine.read_text().startswith("method,") and (drawn / "p-onnx-headpose.jpg").read_bytes()[:2] == b"\xff\xd8"
