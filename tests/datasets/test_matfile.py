"""The one label check of every ``.mat`` reader (:mod:`posebench.datasets.matfile`): a damaged
``Pose_Para``, ``pt3d_68`` or ``pt2d`` (a string, a cell, a struct, a sparse matrix, another shape,
non-finite or far-off values, complex numbers) is a recorded per-sample failure naming the file
and the field, in the AFLW2000 and 300W-LP readers, in a run and in ``posebench data verify``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio
import scipy.sparse
from click.testing import CliRunner

from posebench.cli import main


def _good_fields(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    x = 225 + 60 * np.cos(np.linspace(0, 2 * np.pi, 68)) + rng.normal(0, 2, 68)
    y = 225 + 80 * np.sin(np.linspace(0, 2 * np.pi, 68)) + rng.normal(0, 2, 68)
    return {"Pose_Para": np.array([[0.1, 0.2, 0.05, 0, 0, 0, 1e-3]]),
            "pt3d_68": np.stack([x, y, rng.normal(0, 10, 68)]), "pt2d": np.stack([x[::3][:21], y[::3][:21]])}


def _sparse(a):
    return scipy.sparse.csc_matrix(np.asarray(a, float))


def _cell(a):
    out = np.empty((1, 2), dtype=object)
    out[0, 0], out[0, 1] = np.asarray(a)[0], "x"
    return out


def _nan_at(a, v=np.nan):
    b = np.array(a, float)
    b[0, 3] = v
    return b


LABEL_CASES = {  # id -> (field, damage(good value) -> bad value, expected words in the reason)
    "pose-string": ("Pose_Para", lambda a: "0.1 0.2 0.3", "string"),
    "pose-cell": ("Pose_Para", _cell, "cell"),
    "pose-struct": ("Pose_Para", lambda a: {"pitch": 0.1}, "struct"),
    "pose-sparse": ("Pose_Para", _sparse, "sparse"),
    "pose-3x3": ("Pose_Para", lambda a: np.eye(3) * 0.1, "shape (3, 3)"),
    "pose-nan": ("Pose_Para", lambda a: np.array([[np.nan, 0.1, 0.1, 0, 0, 0, 1]]), "no finite"),
    "pose-empty": ("Pose_Para", lambda a: np.zeros((1, 0)), "no finite"),
    "pt3d-string": ("pt3d_68", lambda a: "points", "string"),
    "pt3d-cell": ("pt3d_68", _cell, "cell"),
    "pt3d-struct": ("pt3d_68", lambda a: {"x": 1.0}, "struct"),
    "pt3d-sparse": ("pt3d_68", _sparse, "sparse"),
    "pt3d-nan": ("pt3d_68", _nan_at, "non-finite"),
    "pt3d-inf": ("pt3d_68", lambda a: _nan_at(a, np.inf), "non-finite"),
    "pt3d-1e8": ("pt3d_68", lambda a: _nan_at(a, 1e8), "outside"),
    "pt3d-minus-1e8": ("pt3d_68", lambda a: _nan_at(a, -1e8), "outside"),
    "pt3d-all-minus-1": ("pt3d_68", lambda a: -np.ones_like(a), "span no area"),
    "pt3d-68x3": ("pt3d_68", lambda a: np.asarray(a).T, "shape (68, 3)"),
    "pt2d-string": ("pt2d", lambda a: "points", "string"),
    "pt2d-cell": ("pt2d", _cell, "cell"),
    "pt2d-struct": ("pt2d", lambda a: {"x": 1.0}, "struct"),
    "pt2d-sparse": ("pt2d", _sparse, "sparse"),
    "pt2d-2x0": ("pt2d", lambda a: np.zeros((2, 0)), "2 x N"),
    "pt2d-nan": ("pt2d", _nan_at, "non-finite"),
    "pt2d-1e8": ("pt2d", lambda a: _nan_at(a, 1e8), "outside"),
    "pt2d-all-minus-1": ("pt2d", lambda a: -np.ones_like(a), "invisible"),
    "pt2d-complex": ("pt2d", lambda a: np.asarray(a) + 1j, "complex"),
}


def _write_label(path: Path, case: str | None, seed: int = 0) -> None:
    fields = _good_fields(seed)
    if case is not None:
        field, damage, _ = LABEL_CASES[case]
        fields[field] = damage(fields[field])
    sio.savemat(str(path), fields)


@pytest.fixture(scope="module")
def damaged_trees(tmp_path_factory):
    """An AFLW2000 folder and a 300W-LP tree, each with one good label and one file per damage."""
    base = tmp_path_factory.mktemp("labels")
    aflw, lp = base / "aflw", base / "300wlp" / "AFW"
    aflw.mkdir()
    lp.mkdir(parents=True)
    _write_label(aflw / "image00000.mat", None)
    _write_label(lp / "AFW_good_0.mat", None)
    for i, case in enumerate(LABEL_CASES, start=1):
        _write_label(aflw / f"image{i:05d}.mat", case)
        _write_label(lp / f"AFW_{case}_0.mat", case)
    return aflw, lp.parent


@pytest.mark.parametrize("reader", ["aflw2000", "300w-lp"])
def test_every_label_reader_records_malformed_fields_naming_file_and_field(damaged_trees, reader):
    from posebench.datasets.aflw2000 import load_aflw2000
    from posebench.datasets.w300lp import load_300w_lp

    aflw, lp = damaged_trees
    ds = load_aflw2000(aflw, filter="none") if reader == "aflw2000" else load_300w_lp(lp)
    assert len(ds.samples) == 1  # only the good file is a sample
    reasons = dict(ds.invalid)
    assert len(reasons) == len(LABEL_CASES)
    for i, (case, (field, _, words)) in enumerate(LABEL_CASES.items(), start=1):
        sid = f"image{i:05d}" if reader == "aflw2000" else f"AFW/AFW_{case}_0"
        reason = reasons[sid]
        assert Path(sid).name + ".mat" in reason and field in reason and words in reason, (case, reason)


def test_run_and_verify_give_the_same_reasons_for_malformed_labels(damaged_trees, tmp_path):
    aflw, _ = damaged_trees
    res = CliRunner().invoke(main, ["run", "-m", "gt-landmarks", "-d", "aflw2000", "--data-dir", str(aflw),
                                    "--dataset-option", "filter=none", "--results-dir", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n_evaluated"] == 1 and out["n_failed"] == len(LABEL_CASES)
    assert all(k.startswith("label: image") for k in out["failures"])
    from posebench.acquire.catalogue import get_source
    from posebench.acquire.verify import verify_source

    rep = verify_source(get_source("aflw2000"), aflw)  # the same check: the same reasons
    run_reasons = {k[len("label: "):] for k in out["failures"]}
    listed = [p for p in rep.problems if p.startswith("image")]
    more = sum(int(p.split()[2]) for p in rep.problems if p.startswith("... and "))
    assert set(listed) <= run_reasons and len(listed) + more == len(run_reasons)
