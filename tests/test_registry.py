"""Registry: built-ins, unknown names, third-party plugins through entry points."""

from __future__ import annotations

import sys

import pytest

from posebench.errors import UsageError
from posebench.registry import Registry, datasets, methods


def test_builtins_are_registered_with_needs():
    assert "gt-landmarks" in methods.names()
    assert methods.get("gt-landmarks").needs == frozenset({"landmarks"})
    assert {"aflw2000", "300w-lp", "biwi", "synthetic"} <= set(datasets.names())


def test_unknown_name_lists_available():
    with pytest.raises(UsageError, match=r"unknown method 'x'; available: .*gt-landmarks"):
        methods.get("x")


def test_bad_needs_are_refused():
    r = Registry("method", "posebench.methods", "posebench.methods")
    with pytest.raises(ValueError):
        r.register("m", "d", needs=("telepathy",))


def test_third_party_plugin_through_entry_point(tmp_path, monkeypatch):
    (tmp_path / "myplugin.py").write_text(
        "from posebench.pose import Pose\n"
        "def make_constant(yaw: float = 0.0):\n"
        "    '''A constant pose.'''\n"
        "    return ('constant', yaw)\n"
    )
    dist = tmp_path / "myplugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[posebench.test-methods]\nconstant = myplugin:make_constant\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("myplugin", None)
    r = Registry("method", "posebench.methods", "posebench.test-methods")
    assert "constant" in r.names()
    assert r.create("constant", yaw=3.0) == ("constant", 3.0)
    assert "constant pose" in r.get("constant").description
