"""Faults a third-party author hit through the plugin API (a fresh user's report), each pinned by
kind: names and cache keys, a dataset rule reaching outside its archive, an interrupted
extraction, lazily registered classes that cannot load, registry load order, plugin warnings,
studies drawn from stored settings, and the leaderboard's common-sample table."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import posebench
from plugin_fixtures import install_plugin
from posebench.cli import main
from posebench.errors import DataError, UsageError
from posebench.registry import Registry, datasets, methods

PLUGIN = '''
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
EPS = ("[posebench.datasets]\nfaultplug = faultplug\n"  # the methods register through a *datasets* entry point
       "[posebench.methods]\nfrontal-a = faultplug:Frontal\nfrontal-b = faultplug:FrontalB\n")


@pytest.fixture
def plug(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    install_plugin(tmp_path / "pkg", monkeypatch, "faultplug", PLUGIN, EPS)
    return tmp_path


def _run(*args):
    return CliRunner().invoke(main, list(args))


def test_registered_name_names_the_cache_not_the_class_attribute(plug):
    res_dir = str(plug / "res")
    a = _run("run", "-m", "frontal-a", "-d", "synthetic", "--dataset-option", "n=20", "--results-dir", res_dir)
    b = _run("run", "-m", "frontal-b", "-d", "synthetic", "--dataset-option", "n=20", "--results-dir", res_dir)
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    assert "(0 from cache)" in b.output  # FrontalB's `name` is "frontal" too: its predictions are its own
    runs = sorted(p.name.split("__")[0] for p in (plug / "res" / "runs").glob("*.json"))
    assert runs == ["frontal-a", "frontal-b"]


def test_hand_built_method_is_keyed_like_the_registry_one(plug, tmp_path):
    methods.names()
    cls = methods.get("frontal-a").factory
    ds = posebench.create_dataset("synthetic", n=10)
    by_hand = posebench.evaluate(cls(yaw=5), ds, results_dir=tmp_path / "r")
    assert by_hand.record.options == {"yaw": 5.0}  # coerced to the declared float, as `-o yaw=5` is
    again = posebench.evaluate(cls(yaw=5.0), ds, results_dir=tmp_path / "r")
    assert again.record.key == by_hand.record.key and again.record.from_cache == 10
    registry = posebench.evaluate("frontal-a", ds, results_dir=tmp_path / "r", method_options={"yaw": 5})
    assert registry.record.options == {"yaw": 5.0} and registry.record.method == "frontal-a"


def test_a_nameless_hand_built_method_is_refused(tmp_path):
    from posebench.method import Method
    from posebench.pose import Pose

    class Nameless(Method):
        needs = frozenset({"landmarks"})

        def estimate_one(self, face):
            return Pose(0.0, 0.0, 0.0)

    with pytest.raises(UsageError, match="has no usable name"):
        posebench.evaluate(Nameless(), posebench.create_dataset("synthetic", n=3), results_dir=tmp_path)


def test_module_registering_methods_through_a_datasets_entry_point_is_seen_first_time(plug):
    assert "lazy-heavy" in methods.names()  # loaded with the methods, though only a dataset names it


def test_lazy_class_that_cannot_be_read_statically_falls_back_to_the_real_signature(plug):
    import inspect
    import math

    methods.names()
    sig = inspect.signature(methods.get("lazy-heavy").factory)
    assert list(sig.parameters) == ["scale"] and sig.parameters["scale"].default == math.pi


@pytest.mark.parametrize("name,words", [("lazy-missing", "faultplug has no Nope"),
                                        ("lazy-typo", "no module faultplgu"),
                                        ("lazy-noparent", "no module nopkg.mod"),
                                        ("lazy-wrongneeds", "registered with needs ['image'] but")])
def test_lazy_class_faults_are_one_line(plug, name, words):
    res = _run("run", "-m", name, "-d", "synthetic", "--dataset-option", "n=3", "--results-dir", str(plug / "r"))
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert res.output.strip().splitlines()[-1].startswith("error:") and words in res.output


def test_one_broken_study_does_not_hide_the_others(plug):
    res = _run("studies")
    assert res.exit_code == 0, res.output
    assert "broken-lazy" in res.output and "cannot be loaded" in res.output and "jitter" in res.output


def test_plot_rebuilds_none_as_none_and_makes_the_figures_folder(plug):
    out = str(plug / "r")
    res = _run("study", "sweep", "--dataset-option", "n=5", "--results-dir", out)
    assert res.exit_code == 0, res.output
    assert (plug / "r" / "tables" / "sweep-synthetic.csv").is_file()  # named by the registered name
    res = _run("plot", "sweep", "--results-dir", out)
    assert res.exit_code == 0, res.output
    assert (plug / "r" / "figures" / "sweep-synthetic.png").is_file()


def test_dataset_rule_outside_the_archive_is_refused_and_moves_nothing(plug, monkeypatch):
    victim = plug / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("mine")
    monkeypatch.setenv("FAULT_VICTIM", str(victim))
    z = plug / "pkg" / "g.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("g/poses.csv", "x")
    src = datasets.get("grabby").source
    from posebench.acquire.layout import find_dataset_folder

    with pytest.raises(DataError, match="not inside"):
        find_dataset_folder(src, plug / "pkg")
    res = _run("data", "prepare", "grabby", "--from", str(z))
    assert res.exit_code == 1 and "refused" in res.output
    assert (victim / "precious.txt").read_text() == "mine"
    res = _run("data", "prepare", "raising", "--from", str(z))
    assert res.exit_code == 1 and "the folder rule of raising failed: ZeroDivisionError" in res.output
    assert "Traceback" not in res.output


def test_dataset_names_that_would_leave_or_shadow_the_data_root_are_refused():
    reg = Registry("dataset", "posebench.datasets", "posebench.test-none", reserved=lambda: {"weights"})
    for bad in ("weights", "../escape", "a/b", "", ".hidden"):
        with pytest.raises(UsageError):
            reg.register(bad)(lambda data_dir=None: None)
    reg.register("fine-name_1.2")(lambda data_dir=None: None)


def test_interrupted_extraction_keeps_the_complete_download(tmp_path, monkeypatch):
    import posebench.acquire.install as install
    from data_fixtures import FileServer

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(install, "install_archive", interrupted)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("AFW/anno.mat", b"x")
    with FileServer({"/AFW.zip": buf.getvalue()}) as srv:
        res = _run("data", "download", "afw", "--url", srv.url("/AFW.zip"))
    kept = Path(os.environ["POSEBENCH_DATA"]) / ".downloads" / "AFW.zip"
    assert res.exit_code == 130 and kept.is_file()
    assert f"kept at {kept}" in res.output and f"posebench data prepare afw --from {kept}" in res.output


def test_plugin_warnings_are_one_line(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "clashplug",
                   "from posebench.registry import register_dataset\n"
                   "register_dataset('aflw2000', 'impostor')(lambda data_dir=None: None)\n",
                   "[posebench.datasets]\nclash = clashplug\n")
    res = CliRunner().invoke(main, ["datasets"])
    assert res.exit_code == 0
    lines = [ln for ln in res.stderr.splitlines() if "clash" in ln]
    assert len(lines) == 1 and lines[0].startswith("warning: dataset plugin 'clash' (clashplug) stopped loading")
    assert "self._load()" not in res.stderr


def test_leaderboard_common_table_keeps_every_run_of_a_shared_label(tmp_path, u_base):
    from posebench.evaluation.leaderboard import write_leaderboard

    ds = posebench.create_dataset("synthetic", n=10)
    for folder, extra in (("a", ""), ("b", "\n")):  # same file name and numbers, other bytes: another key
        (tmp_path / folder).mkdir()
        face = tmp_path / folder / "face.txt"
        face.write_text(u_base.read_text() + extra)
        posebench.evaluate("gt-landmarks", ds, results_dir=tmp_path / "r", method_options={"face": str(face)})
    posebench.evaluate("gt-landmarks", ds, results_dir=tmp_path / "r")
    text, _ = write_leaderboard(tmp_path / "r")
    common = text[text.index("every method above handled"):]
    rows = [ln for ln in common.splitlines() if ln.startswith("| gt-landmarks (face=face.txt) [")]
    assert len(rows) >= 2  # both runs of the shared label, each tagged with its run key


ROUND2 = '''
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
def plug2(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    install_plugin(tmp_path / "pkg", monkeypatch, "faultplug2", ROUND2,
                   "[posebench.methods]\nfaultplug2 = faultplug2\nscaled-alias = faultplug2:Scaled\n")
    return tmp_path


def test_a_name_that_cannot_be_set_is_refused(plug2):
    res = _run("run", "-m", "pb-prop", "-d", "synthetic", "--dataset-option", "n=3", "--results-dir", str(plug2 / "r"))
    assert res.exit_code == 1 and "cannot be set to the registered name" in res.output


def test_hand_built_classes_sharing_a_name_do_not_share_predictions(plug, tmp_path):
    methods.names()
    a_cls, b_cls = methods.get("frontal-a").factory, methods.get("frontal-b").factory
    ds = posebench.create_dataset("synthetic", n=5)
    a = posebench.evaluate(a_cls(), ds, results_dir=tmp_path / "r")
    b = posebench.evaluate(b_cls(), ds, results_dir=tmp_path / "r")
    assert a.record.key != b.record.key and b.record.from_cache == 0
    assert b.summary.yaw != a.summary.yaw  # FrontalB answers yaw + 30


def test_a_none_default_option_is_coerced_by_its_annotation(plug2):
    methods.names()
    assert methods.bind("scaled", {"scale": "5"}) == {"scale": 5.0}
    assert methods.bind("scaled", {"scale": "None"}) == {"scale": None}
    import numpy as np

    assert methods.bind("scaled", {"scale": np.float32(5.0)}) == {"scale": 5.0}
    with pytest.raises(UsageError, match="expected float"):
        methods.bind("scaled", {"scale": "abc"})


def test_an_entry_point_may_name_a_registered_class_under_another_name(plug2):
    assert "scaled-alias" in methods.names() and "scaled" in methods.names()


def test_a_dataset_factory_returning_none_is_one_line(plug2):
    res = _run("run", "-m", "gt-landmarks", "-d", "pb-none", "--results-dir", str(plug2 / "r"))
    assert res.exit_code == 1 and "not a dataset" in res.output and "Traceback" not in res.output


def test_a_plugin_bug_at_run_time_is_one_line(plug2, monkeypatch):
    res = _run("run", "-m", "boom", "-d", "synthetic", "--dataset-option", "n=3", "--results-dir", str(plug2 / "r"))
    assert res.exit_code == 1 and "error: unexpected ValueError: a plugin bug in" in res.output
    assert "POSEBENCH_DEBUG=1" in res.output and "Traceback" not in res.output
    monkeypatch.setenv("POSEBENCH_DEBUG", "1")
    res = _run("run", "-m", "boom", "-d", "synthetic", "--dataset-option", "n=3", "--results-dir", str(plug2 / "r"))
    assert isinstance(res.exception, ValueError)  # the traceback, on request


def test_system_exit_in_a_lazy_plugin_is_one_line(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "exitplug",
                   "from posebench.lazy import LazyClass\nfrom posebench.registry import register_method\n"
                   "register_method('exits', 'x', needs=('image',))(LazyClass('exitplug_impl:X'))\n",
                   "[posebench.methods]\nexitplug = exitplug\n")
    (tmp_path / "exitplug_impl.py").write_text("import sys\nsys.exit('refusing to import')\n")
    res = _run("run", "-m", "exits", "-d", "synthetic", "--results-dir", str(tmp_path / "r"))
    assert res.exit_code == 1 and "error:" in res.output and "SystemExit: refusing to import" in res.output


def test_prepare_from_a_link_to_a_folder_installs_it(tmp_path):
    from data_fixtures import make_aflw2000_folder

    real = tmp_path / "real"
    make_aflw2000_folder(real, images=False)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    res = _run("data", "prepare", "aflw2000", "--from", str(link))
    assert "installed at" in res.output and "not a folder" not in res.output, res.output


def test_interrupt_during_the_check_says_the_copy_is_installed(tmp_path, monkeypatch):
    import posebench.acquire.verify as verify
    from data_fixtures import make_aflw2000_folder

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(verify, "verify_source", interrupted)
    src = tmp_path / "src"
    make_aflw2000_folder(src, images=False)
    res = _run("data", "prepare", "aflw2000", "--from", str(src))
    assert res.exit_code == 130 and "aflw2000 is installed at" in res.output
    assert "posebench data verify aflw2000" in res.output and "nothing was installed" not in res.output


def test_interrupted_extraction_hint_keeps_root(tmp_path, monkeypatch):
    import posebench.acquire.install as install
    from data_fixtures import FileServer

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(install, "install_archive", interrupted)
    root = tmp_path / "elsewhere"
    with FileServer({"/AFW.zip": b"PK\x05\x06" + b"\x00" * 18}) as srv:
        res = _run("data", "download", "afw", "--root", str(root), "--url", srv.url("/AFW.zip"))
    assert res.exit_code == 130 and f"posebench data prepare afw --root {root.resolve()} --from" in res.output


def test_an_installed_whenet_file_must_be_the_published_bytes(tmp_path):
    from posebench.acquire.catalogue import get_source
    from posebench.acquire.verify import verify_source

    (tmp_path / "whenet").mkdir()
    (tmp_path / "whenet" / "WHENet.h5").write_bytes(b"\x89HDF\r\n\x1a\nnot the authors' file")
    rep = verify_source(get_source("whenet"), tmp_path)
    assert rep.problems and "expected the published 8f8bcf924447f712" in rep.problems[0]
