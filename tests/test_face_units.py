"""Issue 15, kind 4: a face file means one model wherever it is used, and a uniform scale of the
file changes no prediction (OpenCV's iterative solver is not scale invariant by itself)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from posebench.cli import main
from posebench.datasets.aflw2000 import load_aflw2000
from posebench.errors import DataError
from posebench.facemodel import default_face, load_face, read_face_file, rms_radius
from posebench.method import FaceInput, create_method
from posebench.pose import Pose
from posebench.registry import datasets
from posebench.studies.base import SUBSETS

SCALES = (1.0, 1e-3, 1e3, 25.4, 1 / 3)
TWELVE = ",".join(str(i) for i in SUBSETS["12"])


def _scaled_files(tmp_path, u_base):
    raw = read_face_file(u_base)
    out = {}
    for s in SCALES:
        p = tmp_path / f"face-x{s:g}.txt"
        np.savetxt(p, (raw * s).ravel())
        out[s] = p
    npy = tmp_path / "face-x0.01.npy"
    np.save(npy, raw * 0.01)
    out[0.01] = npy
    return out


def test_a_face_in_any_units_is_one_model(tmp_path, u_base):
    files = _scaled_files(tmp_path, u_base)
    ref = load_face(files[1.0])
    assert rms_radius(ref) == pytest.approx(rms_radius(default_face()))
    for p in files.values():
        assert np.array_equal(load_face(p), ref)
    # the origin is kept (scaled about it), not moved to the centroid
    raw = read_face_file(u_base)
    assert np.allclose(ref / np.abs(ref).max(), raw / np.abs(raw).max(), atol=1e-9)


def test_degenerate_face_is_a_one_line_error(tmp_path):
    p = tmp_path / "flat.txt"
    np.savetxt(p, np.ones(204))
    with pytest.raises(DataError, match="no extent"):
        load_face(p)


@pytest.mark.parametrize("method_opts", [{"solver": "iterative", "points": TWELVE}, {"solver": "iterative"},
                                         {"solver": "epnp", "points": TWELVE}, {"solver": "sqpnp"}])
def test_uniform_scale_changes_no_prediction(tmp_path, u_base, aflw_labels, method_opts):
    """FAN's 12 points with OpenCV's iterative solver moved 252 of 1969 predictions by > 1 degree
    between micrometres and millimetres; now every scale gives the same predictions."""
    ds = load_aflw2000(aflw_labels)
    samples = ds.samples[:400]
    preds = {}
    for s, p in _scaled_files(tmp_path, u_base).items():
        m = create_method("gt-landmarks", {**method_opts, "face": str(p)})
        out = m.estimate_batch([_face(x) for x in samples])
        preds[s] = np.array([o.as_array() if hasattr(o, "as_array") else [np.nan] * 3 for o in out])
    for s, a in preds.items():
        assert np.array_equal(np.isnan(a), np.isnan(preds[1.0]))
        assert np.nanmax(np.abs(a - preds[1.0])) == 0.0, s


def _face(s):
    from posebench.method import FaceInput

    return FaceInput(None, s.image_size, s.box, s.landmarks, s.model_3d, s.id, s.points)


def test_run_and_study_fit_the_same_model(tmp_path, u_base, aflw_labels):
    """`posebench study` and `posebench run` load a face file the same way: same MAE."""
    r = CliRunner()
    res = r.invoke(main, ["run", "-m", "gt-landmarks", "-d", "aflw2000", "--data-dir", str(aflw_labels),
                          "--limit", "300", "-o", f"face={u_base}", "-o", f"points={TWELVE}", "-o", "setup=paper",
                          "--results-dir", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    run_mae = json.loads(res.output.strip().splitlines()[-1])["mae"]
    res = r.invoke(main, ["study", "keypoints", "-d", "aflw2000", "--data-dir", str(aflw_labels), "--limit", "300",
                          "-o", f"face={u_base}", "-o", "subsets=12", "-o", "backend=cv2",
                          "--results-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    import pandas as pd

    table = pd.read_csv(tmp_path / "tables" / "keypoints-aflw2000.csv")
    assert table["n_failed"].iloc[0] == 0
    assert table["mae"].iloc[0] == pytest.approx(run_mae, abs=2e-5)  # the table keeps 6 digits


@pytest.mark.parametrize("method", ["gt-landmarks", "dlib"])
def test_face_file_units_never_change_a_prediction(method, tmp_path, u_base, aflw_sample):
    from posebench.facemodel import read_face_file

    raw = read_face_file(u_base)
    files = {}
    scales = (("um", 1.0), ("mm", 1e-3), ("m", 1e-6), ("inch", 1e-3 / 25.4), ("big", 1e4))
    for name, scale in scales if method == "gt-landmarks" else scales[:1] + scales[2:3]:
        p = tmp_path / f"face-{name}.txt"
        np.savetxt(p, (raw * scale).ravel())
        files[name] = p
    if method == "gt-landmarks":
        np.save(tmp_path / "face.npy", raw * 1e-3)
        np.savez(tmp_path / "face.npz", mean=raw * 1e-3)
        files["npy"], files["npz"] = tmp_path / "face.npy", tmp_path / "face.npz"
    ds = datasets.create("aflw2000", data_dir=str(aflw_sample)).subset(4 if method == "dlib" else 37)
    from posebench.imageio import read_image

    faces = [FaceInput(read_image(s.image_path) if method == "dlib" else None, s.image_size, s.box, s.landmarks,
                       None, s.id, s.points) for s in ds]
    preds = {}
    for name, p in files.items():
        opts = {"face": str(p), "points": "36,39,42,45,30,31,33,35,48,54,51,57"} if method == "gt-landmarks" \
            else {"face": str(p), "box": "gt"}
        out = create_method(method, opts).estimate_batch(faces)
        preds[name] = np.array([o.as_array() if isinstance(o, Pose) else [np.nan] * 3 for o in out])
    for name, a in preds.items():
        ok = np.array_equal(a, preds["um"], equal_nan=True)
        assert ok, name
