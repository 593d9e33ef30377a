"""Install a third-party plugin module for a test, as a user's package would be: the module on
``sys.path`` plus a ``*.dist-info/entry_points.txt`` naming it, with every registry reset to its
built-ins first (and restored afterwards by ``monkeypatch``).

The fixtures ``faulty_plugin`` and ``faulty_plugin_2`` install two plugin modules with the faults a
third-party author hit (see :data:`FAULTY_PLUGIN`, :data:`FAULTY_PLUGIN_2`); ``tests/conftest.py``
registers them for every test folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from posebench.registry import REGISTRIES


def install_plugin(tmp_path: Path, monkeypatch, module: str, source: str, entry_points: str) -> None:
    """``source`` becomes ``<tmp_path>/<module>.py``; ``entry_points`` is the text of
    ``entry_points.txt`` (``[posebench.methods]\\nname = module:Obj\\n`` ...)."""
    for reg in REGISTRIES:
        reg.names()  # built-ins first, before the plugin is on the path (its import may register in any)
        monkeypatch.setattr(reg, "_entries", dict(reg._entries))
        monkeypatch.setattr(reg, "_loaded", False)
    (tmp_path / f"{module}.py").write_text(source)
    dist = tmp_path / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(entry_points)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(module, None)


#: A plugin module with the faults a third-party author hit: two classes sharing the attribute
#: ``name``, lazily registered classes that cannot load, a study with a None default and no class
#: name, dataset folder rules that reach outside the archive or raise.
FAULTY_PLUGIN = '''
import math
from collections import Counter
from pathlib import Path

import pandas as pd

from posebench.acquire.source import Source, best_folder
from posebench.datasets.synthetic import make_synthetic
from posebench.lazy import LazyClass
from posebench.method import Method
from posebench.pose import Pose
from posebench.registry import register_dataset, register_method, register_study
from posebench.studies.base import Study


class Frontal(Method):
    name = "frontal"
    needs = frozenset({"landmarks"})

    def __init__(self, yaw: float = 0.0):
        super().__init__()
        self.yaw = yaw

    def estimate_one(self, face):
        return Pose(self.yaw, 0.0, 0.0)


class FrontalB(Frontal):  # the same class attribute `name`, another answer
    def estimate_one(self, face):
        return Pose(self.yaw + 30.0, 0.0, 0.0)


class Heavy(Method):
    name = "heavy"
    needs = frozenset({"landmarks"})

    def __init__(self, scale: float = math.pi):  # not a literal: read from the imported class
        super().__init__()
        self.scale = scale

    def estimate_one(self, face):
        return Pose(self.scale, 0.0, 0.0)


register_method("lazy-heavy", "non-literal default", needs=("landmarks",))(LazyClass("faultplug:Heavy"))
register_method("lazy-missing", "no such class", needs=("landmarks",))(LazyClass("faultplug:Nope"))
register_method("lazy-typo", "no such module", needs=("landmarks",))(LazyClass("faultplgu:Heavy"))
register_method("lazy-noparent", "no such package", needs=("landmarks",))(LazyClass("nopkg.mod:X"))
register_method("lazy-wrongneeds", "needs differ", needs=("image",))(LazyClass("faultplug:Heavy"))


class Sweep(Study):
    name = ""

    def __init__(self, label: str | None = None):
        super().__init__()
        self.label = label

    def run(self, dataset):
        return pd.DataFrame({"x": [1, 2], "y": [3, 4]})

    def plot(self, table, stem, title=""):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        assert self.label is None, f"label came back as {self.label!r}"
        fig, ax = plt.subplots()
        ax.plot(table["x"], table["y"])
        fig.savefig(f"{stem}.png")  # straight into the figures folder
        plt.close(fig)
        return [Path(f"{stem}.png")]


register_study("sweep", "a plugin study with a None default and no class name")(Sweep)
register_study("broken-lazy", "a study whose module is misspelt")(LazyClass("faultplgu:Sweep"))


def outside(extracted):
    import os
    return Path(os.environ["FAULT_VICTIM"])  # an existing folder elsewhere on disk


register_dataset("grabby", "a rule that points outside the archive",
                 source=Source(name="grabby", kind="dataset", title="t", homepage="h", filename="g.zip",
                               licence="l", find_folder=outside))(lambda data_dir=None: None)
register_dataset("raising", "a rule that raises",
                 source=Source(name="raising", kind="dataset", title="t", homepage="h", filename="r.zip",
                               licence="l", find_folder=lambda extracted: 1 / 0))(lambda data_dir=None: None)
'''


FAULTY_PLUGIN_ENTRY_POINTS = ("[posebench.datasets]\nfaultplug = faultplug\n"  # the methods register through a *datasets* entry point
                              "[posebench.methods]\nfrontal-a = faultplug:Frontal\nfrontal-b = faultplug:FrontalB\n")


@pytest.fixture
def faulty_plugin(tmp_path, monkeypatch):
    """Installs ``faultplug`` (:data:`FAULTY_PLUGIN`) under ``tmp_path/pkg``; returns ``tmp_path``."""
    (tmp_path / "pkg").mkdir()
    install_plugin(tmp_path / "pkg", monkeypatch, "faultplug", FAULTY_PLUGIN, FAULTY_PLUGIN_ENTRY_POINTS)
    return tmp_path


#: A second plugin module: a read-only ``name`` property, a None-default option, a method that
#: raises at run time, a dataset factory that returns None.
FAULTY_PLUGIN_2 = '''
import numpy as np
from posebench.method import Method
from posebench.pose import Pose
from posebench.registry import register_dataset, register_method


class PropName(Method):
    needs = frozenset({"landmarks"})

    @property
    def name(self):  # read-only: the registry cannot give it its registered name
        return "frontal"

    def estimate_one(self, face):
        return Pose(60.0, 0.0, 0.0)


class Scaled(Method):
    name = "scaled"
    needs = frozenset({"landmarks"})

    def __init__(self, scale: float | None = None):
        super().__init__()
        self.scale = scale

    def estimate_one(self, face):
        return Pose(float(self.scale or 0.0), 0.0, 0.0)


class Boom(Method):
    name = "boom"
    needs = frozenset({"landmarks"})

    def estimate_one(self, face):
        raise ValueError("a plugin bug")


register_method("pb-prop", "read-only name")(PropName)
register_method("scaled", "None default")(Scaled)
register_method("boom", "raises at run time")(Boom)
register_dataset("pb-none", "returns None")(lambda data_dir=None: None)
'''


@pytest.fixture
def faulty_plugin_2(tmp_path, monkeypatch):
    """Installs ``faultplug2`` (:data:`FAULTY_PLUGIN_2`) under ``tmp_path/pkg``; returns ``tmp_path``."""
    (tmp_path / "pkg").mkdir()
    install_plugin(tmp_path / "pkg", monkeypatch, "faultplug2", FAULTY_PLUGIN_2,
                   "[posebench.methods]\nfaultplug2 = faultplug2\nscaled-alias = faultplug2:Scaled\n")
    return tmp_path
