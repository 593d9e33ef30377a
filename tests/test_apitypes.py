"""Wrong types to the Python API: one TypeError/ValueError naming the argument (posebench.apitypes),
never an AttributeError from inside (``posebench.evaluate(m, 123)`` was ``'int' object has no
attribute 'subset'``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import posebench


@pytest.fixture(scope="module")
def made():
    return posebench.create_method("gt-landmarks"), posebench.create_dataset("synthetic", n=3)


CASES = [
    ("evaluate(m, 123)", lambda m, ds, r: posebench.evaluate(m, 123, results_dir=r), TypeError,
     "dataset must be a registered dataset's name or a posebench Dataset, got int 123"),
    ("evaluate(m, None)", lambda m, ds, r: posebench.evaluate(m, None, results_dir=r), TypeError,
     "dataset must be a registered dataset's name or a posebench Dataset, got NoneType None"),
    ("evaluate(ds, m)", lambda m, ds, r: posebench.evaluate(ds, m, results_dir=r), TypeError,
     "method must be a registered method's name or a posebench Method, got Dataset"),
    ("evaluate results_dir=5", lambda m, ds, r: posebench.evaluate(m, ds, results_dir=5), TypeError,
     "results_dir must be a path (str or pathlib.Path) or None, got int 5"),
    ("runner with a dataset's place swapped", lambda m, ds, r: __import__("posebench.evaluation.runner", fromlist=["x"])
     .evaluate(m, [1, 2], Path(r)), TypeError, "dataset must be a posebench Dataset"),
    ("create_method(5)", lambda m, ds, r: posebench.create_method(5), TypeError, "method name must be"),
    ("create_method options list", lambda m, ds, r: posebench.create_method("gt-landmarks", [1]), TypeError,
     "options must be a dict of option names to values (or None), got list [1]"),
    ("registry options str", lambda m, ds, r: __import__("posebench.registry", fromlist=["x"]).methods
     .create("gt-landmarks", "solver=sqpnp"), TypeError, "method 'gt-landmarks' options must be a dict"),
    ("create_dataset(None)", lambda m, ds, r: posebench.create_dataset(None), TypeError, "dataset name must be"),
    ("create_dataset data_dir=5", lambda m, ds, r: posebench.create_dataset("afw", data_dir=5), TypeError,
     "data_dir must be a path"),
    ("create_study(3)", lambda m, ds, r: posebench.create_study(3), TypeError, "study name must be"),
    ("predict(5, ...)", lambda m, ds, r: posebench.predict(5, "whenet", results_dir=r), TypeError,
     "paths must be a path or a list of paths"),
    ("predict([...], 5)", lambda m, ds, r: posebench.predict(["x.jpg"], 5, results_dir=r), TypeError,
     "method must be a method's name, a posebench Method or a list of them, got int 5"),
    ("estimate(list)", lambda m, ds, r: m.estimate([np.zeros((8, 8, 3), np.uint8)]), TypeError,
     "image must be an RGB uint8 HxWx3 numpy array or an image file's path, got list [array("),
    ("estimate(float array)", lambda m, ds, r: m.estimate(np.zeros((8, 8, 3), np.float32)), ValueError,
     "image must be an RGB uint8 HxWx3 array (grey HxW, alpha and 16-bit arrays are converted), got float32 of "
     "shape (8, 8, 3)"),
    ("estimate(4-D array)", lambda m, ds, r: m.estimate(np.zeros((1, 8, 8, 3), np.uint8)), ValueError,
     "got uint8 of shape (1, 8, 8, 3)"),
    ("Pose('a', 1, 2)", lambda m, ds, r: posebench.Pose("a", 1, 2), TypeError,
     "Pose yaw must be a number of degrees, got str 'a'"),
    ("Pose(1, None, 2)", lambda m, ds, r: posebench.Pose(1, None, 2), TypeError, "Pose pitch must be a number"),
]


@pytest.mark.parametrize("call, error, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_wrong_type_is_one_typed_error_naming_the_argument(made, tmp_path, call, error, message):
    m, ds = made
    with pytest.raises(error) as exc:
        call(m, ds, str(tmp_path / "res"))
    assert type(exc.value) is error and message in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / "res" / "runs").exists()  # nothing stored


def test_right_types_still_work(made, tmp_path):
    m, ds = made
    p = posebench.Pose(np.float32(1.5), np.float64(2.0), 3)
    assert p.as_array().tolist() == [1.5, 2.0, 3.0]
    assert posebench.Pose.from_array(np.array([1.0, 2.0, 3.0])).roll == 3.0
    r = posebench.evaluate(m, ds, results_dir=tmp_path / "res", method_options=None)
    assert r.record.n_evaluated == 3
    assert "solver=sqpnp" in posebench.create_method("gt-landmarks", {"solver": "sqpnp"}).label()
