"""Contract tests over every registered plugin (as timm tests every model of ``list_models()``).

Methods: one output per face, failures are :class:`SampleFailure` (never an exception), every
declared option is recorded (minus run-time ones); their cache keys are pinned, over the same
registry, in ``evaluation/test_cache_keys.py`` (README's plugin example keeps its file case here).
Datasets: unknown and
out-of-domain options are one-line errors. Studies: run, summarise, plot and redraw from the
stored table. Plugins registered through an entry point go through ``posebench run``/``study``/
``plot``. A method whose weights are absent here is skipped with the reason.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from data_fixtures import make_aflw2000_folder
from method_fixtures import make_method
from posebench.cli import main
from posebench.datasets.synthetic import make_synthetic
from posebench.errors import SampleFailure, UsageError
from posebench.evaluation.runner import evaluate
from posebench.imageio import read_image
from posebench.lazy import LazyClass
from posebench.method import FaceInput
from posebench.options import option_parameters
from posebench.pose import Pose
from posebench.registry import datasets, methods, studies


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("aflw-tiny")
    make_aflw2000_folder(folder)
    return folder


def _faces(image_folder: Path) -> list[FaceInput]:
    ds = datasets.create("aflw2000", data_dir=image_folder)
    good = [FaceInput.from_sample(s, read_image(s.image_path)) for s in ds.samples[:2]]
    empty = FaceInput(None, (450, 450))  # nothing to look at: a method that needs anything fails on it
    return good + [empty]


BUILTIN_METHODS = [n for n in methods.names() if methods.get(n).origin.startswith("posebench.")]


@pytest.mark.parametrize("name", BUILTIN_METHODS)
def test_every_builtin_method_can_be_made_here(name, image_folder):
    """With ../shared beside the checkout, every built-in method runs in these contract tests: its
    files are shared ones (``SHARED_OPTIONS``) or test-made seeded ones in its authors' layout
    (``MADE_OPTIONS``). A new built-in without either fails here instead of being skipped by
    every contract test."""
    from conftest import SHARED
    from posebench.errors import WeightsError

    if not SHARED.is_dir():
        pytest.skip(f"../shared not found: {SHARED}")
    try:
        m = make_method(name)
        m.estimate_batch(_faces(image_folder)[:1])
    except (pytest.skip.Exception, WeightsError) as exc:
        pytest.fail(f"{name}: no shared or test-made files (tests/method_fixtures.py): {str(exc)[:200]}")


@pytest.mark.parametrize("name", methods.names())
def test_method_one_output_per_face_and_failures_are_data(name, image_folder):
    m = make_method(name)
    faces = _faces(image_folder)
    out = m.estimate_batch(faces)
    assert len(out) == len(faces)
    assert all(isinstance(o, (Pose, SampleFailure)) for o in out)
    if methods.get(name).needs & {"image", "landmarks", "box"}:  # needing nothing (README's Frontal), it may answer
        assert isinstance(out[-1], SampleFailure)


@pytest.mark.parametrize("name", methods.names())
def test_method_records_every_declared_option(name):
    m = make_method(name)
    declared = set(option_parameters(methods.get(name).factory))
    assert set(m.options) == declared - m.runtime_options, "options recorded differ from the declared ones"
    assert m.label().startswith(m.name)


@pytest.mark.parametrize("name", datasets.names())
def test_dataset_options_are_checked(name, tmp_path):
    with pytest.raises(UsageError, match="unknown option 'bogus'"):
        datasets.create(name, {"bogus": "1"}, data_dir=None if name == "synthetic" else tmp_path)


@pytest.mark.parametrize("opts, word", [
    ({"yaw": "nan"}, "yaw"), ({"yaw": "inf"}, "yaw"), ({"seed": "-1"}, "seed"), ({"n": "1e12"}, "n"),
    ({"distance": "nan"}, "distance"), ({"shape_scale": "nan"}, "shape_scale"), ({"size": "1000000000"}, "size"),
])
def test_out_of_domain_dataset_options_are_refused(opts, word):
    with pytest.raises(UsageError, match=word):
        datasets.create("synthetic", opts)


@pytest.mark.parametrize("name, opts, word", [
    ("jitter", {"max_jitter": "inf"}, "max_jitter"), ("jitter", {"seed": "-1"}, "seed"),
    ("jitter", {"max_jitter": "1e9", "step": "1e-9"}, "max_jitter"), ("jitter", {"focal": "-1"}, "focal"),
    ("keypoints", {"focal": "nan"}, "focal"), ("solver", {"focals": "nan"}, "focals"),
    ("stretch", {"step": "0"}, "step"),
])
def test_out_of_domain_study_options_are_refused(name, opts, word):
    with pytest.raises(UsageError, match=word):
        studies.create(name, opts)


@pytest.mark.parametrize("opts, word", [({"focal": "-1"}, "focal"), ({"focal": "inf"}, "focal"),
                                        ({"solver": "magic"}, "solver"), ({"bogus": "1"}, "bogus")])
def test_out_of_domain_method_options_are_refused(opts, word):
    with pytest.raises(UsageError, match=word):
        methods.create("gt-landmarks", opts)


#: Studies whose methods all read images (``detectors``: a method with a face detector), so the
#: embedded synthetic labels cannot run them; their own tests run them on images
#: (tests/studies/test_detectors.py).
IMAGE_ONLY_STUDIES = {"detectors"}


@pytest.mark.parametrize("name", studies.names())
def test_study_runs_summarises_plots_and_redraws(name, tmp_path):
    from posebench.studies.run import draw, run_and_store

    entry = studies.get(name)
    if getattr(entry.factory, "example_options", {}) is None:  # e.g. alpha: trains networks on images
        pytest.skip(f"study {name} needs training images; its own tests cover it (tests/training/test_training.py)")
    opts = dict(getattr(entry.factory, "example_options", {}))
    if name in IMAGE_ONLY_STUDIES:  # refused on synthetic's labels, before any work (no all-failed table)
        with pytest.raises(UsageError, match="reads images, and synthetic at .* has labels only"):
            run_and_store(name, "synthetic", tmp_path, opts, {"n": 8})
        assert not (tmp_path / "tables").exists()
        return
    study, _, table, _, (csv, js) = run_and_store(name, "synthetic", tmp_path, opts, {"n": 8})
    assert len(table) and csv.is_file() and js.is_file()
    assert isinstance(study.summary(table), str) and study.summary(table)
    files = draw(name, "synthetic", tmp_path)
    assert files and all(Path(f).is_file() and Path(f).stat().st_size > 0 for f in files)


def _study_class(name: str) -> type:
    from posebench.lazy import LazyClass

    factory = studies.get(name).factory
    if isinstance(factory, LazyClass):
        return factory.load()
    if inspect.isclass(factory):
        return factory
    return type(studies.create(name, getattr(factory, "example_options", None) or {}))


@pytest.mark.parametrize("name", studies.names())
def test_study_run_takes_the_dataset_alone(name):
    from posebench.studies.base import run_signature_problem

    assert run_signature_problem(_study_class(name)) == ""


@pytest.mark.parametrize("name", studies.names())
def test_study_records_every_declared_option(name):
    from posebench.options import option_parameters

    cls = _study_class(name)
    opts = getattr(cls, "example_options", None)
    if opts is None:  # alpha: its options are checked without building it (creation reads no data, though)
        opts = {}
    study = studies.create(name, opts)
    declared = set(option_parameters(studies.get(name).factory)) - set(getattr(study, "runtime_options", ()))
    assert declared and declared <= set(study.options()), sorted(declared - set(study.options()))


# -- the cache key follows file contents ------------------------------------------------------------


# -- README's "Extending posebench" example, with one option and one file ----------------------

PLUGIN = '''
from posebench import Pose
from posebench.method import Method
from posebench.registry import register_method


@register_method("frontal", "always frontal: a floor for the leaderboard")
class Frontal(Method):
    name = "frontal"
    needs = frozenset()

    def __init__(self, yaw: float = 0.0, table: str = ""):
        super().__init__()
        self.yaw = yaw + (float(open(table).read()) if table else 0.0)

    def estimate_one(self, face):
        return Pose(self.yaw, 0.0, 0.0)


@register_study_here
'''


def _load_readme_plugin(tmp_path, monkeypatch):
    """The README example (class registered with its options), in a fresh registry namespace."""
    monkeypatch.setattr(methods, "_entries", dict(methods._entries))
    src = PLUGIN.replace("@register_study_here\n", "")
    mod = tmp_path / "readme_plugin.py"
    mod.write_text(src)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("readme_plugin", None)
    __import__("readme_plugin")


def test_readme_plugin_two_option_values_two_records_nothing_shared(tmp_path, monkeypatch):
    _load_readme_plugin(tmp_path, monkeypatch)
    res = tmp_path / "results"
    outs = []
    for yaw in ("1", "2"):
        r = CliRunner().invoke(main, ["run", "-m", "frontal", "-d", "synthetic", "--dataset-option", "n=5",
                                      "-o", f"yaw={yaw}", "--results-dir", str(res), "--json"])
        assert r.exit_code == 0, r.output
        outs.append(r.stdout)
    records = sorted((res / "runs").glob("frontal__*.json"))
    assert len(records) == 2
    import json

    a, b = (json.loads(o) for o in outs)
    assert a["from_cache"] == 0 and b["from_cache"] == 0
    assert a["options"] == {"yaw": 1.0, "table": ""} and b["options"] == {"yaw": 2.0, "table": ""}


def test_readme_plugin_file_with_same_name_other_bytes_is_a_miss(tmp_path, monkeypatch):
    _load_readme_plugin(tmp_path, monkeypatch)
    table = tmp_path / "weights.txt"
    table.write_text("10")
    ds = make_synthetic(n=3)
    r1 = evaluate(methods.create("frontal", {"table": str(table)}), ds, tmp_path / "r", progress=False)
    table.write_text("20")
    r2 = evaluate(methods.create("frontal", {"table": str(table)}), ds, tmp_path / "r", progress=False)
    assert r2.record.from_cache == 0 and r1.record.key != r2.record.key
    assert r2.samples["pred_yaw"].tolist() == [20.0] * 3


def test_duplicate_registration_is_a_one_line_error(monkeypatch):
    from posebench.registry import register_method

    monkeypatch.setattr(methods, "_entries", dict(methods._entries))
    methods.names()
    with pytest.raises(UsageError, match="'gt-landmarks' is already registered") as err:
        @register_method("gt-landmarks", "an impostor")
        def impostor() -> None:  # pragma: no cover - never called
            return None
    assert "\n" not in str(err.value)


# -- third-party plugins through entry points -------------------------------------------------

THIRD_PARTY = '''
import pandas as pd

from posebench import Pose
from posebench.method import Method
from posebench.studies.base import Study


class Constant(Method):
    """A constant pose."""
    name = "constant"
    needs = frozenset()

    def __init__(self, yaw: float = 0.0):
        super().__init__()
        self.yaw = yaw

    def estimate_one(self, face):
        return Pose(self.yaw, 0.0, 0.0)


def impostor(yaw: float = 0.0):
    """Another constant pose, under a taken name."""
    return Constant(yaw)


class Count(Study):
    """Counts samples per yaw sign (a study without any built-in column)."""
    name = "count"

    def __init__(self, split: float = 0.0):
        super().__init__()
        self.split = split

    def run(self, dataset):
        yaws = [s.pose.yaw for s in dataset]
        return pd.DataFrame({"side": ["left", "right"],
                             "n": [sum(y < self.split for y in yaws), sum(y >= self.split for y in yaws)]})

    def plot(self, table, stem, title=""):
        from posebench.studies.base import save_figure
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.bar(table["side"], table["n"])
        out = save_figure(fig, stem)
        plt.close(fig)
        return out
'''


def _install_entry_points(tmp_path, monkeypatch, extra: str = "") -> None:
    (tmp_path / "thirdparty.py").write_text(THIRD_PARTY)
    dist = tmp_path / "thirdparty-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[posebench.methods]\nconstant = thirdparty:Constant\n" + extra
                                           + "[posebench.studies]\ncount = thirdparty:Count\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("thirdparty", None)
    for reg in (methods, studies):
        reg.names()  # built-ins first (their modules are imported once per process)
        monkeypatch.setattr(reg, "_entries", dict(reg._entries))
        monkeypatch.setattr(reg, "_loaded", False)


def test_entry_point_plugins_run_study_and_plot(tmp_path, monkeypatch):
    _install_entry_points(tmp_path, monkeypatch)
    res = str(tmp_path / "results")
    r = CliRunner().invoke(main, ["run", "-m", "constant", "-d", "synthetic", "--dataset-option", "n=4",
                                  "-o", "yaw=5", "--results-dir", res])
    assert r.exit_code == 0, r.output
    assert "constant (yaw=5.0)" in r.stdout
    r = CliRunner().invoke(main, ["study", "count", "--dataset-option", "n=20", "--results-dir", res])
    assert r.exit_code == 0, r.output
    assert "left" in r.stdout and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["plot", "count", "--results-dir", res])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "results" / "figures" / "count-synthetic.png").is_file()
    assert "constant" in methods.names() and "gt-landmarks" in methods.names()


def test_entry_point_name_collision_warns_naming_both(tmp_path, monkeypatch):
    _install_entry_points(tmp_path, monkeypatch, extra="gt-landmarks = thirdparty:impostor\n")
    with pytest.warns(UserWarning, match=r"'gt-landmarks' from entry point thirdparty:impostor is skipped.*GTLandmarks"):
        names = methods.names()
    assert methods.get("gt-landmarks").factory.__name__ == "GTLandmarks" and "constant" in names


def test_every_method_class_declares_needs_once():
    for e in methods.entries():
        if inspect.isclass(e.factory):
            assert e.needs == frozenset(e.factory.needs)
        if isinstance(e.factory, LazyClass):
            assert e.needs == frozenset(e.factory.load().needs), e.name
    assert not np.any([n not in ("image", "landmarks", "box", "weights") for e in methods.entries() for n in e.needs])


@pytest.mark.parametrize("name", [e.name for reg in (methods, datasets, studies) for e in reg.entries()
                                  if isinstance(e.factory, LazyClass)])
def test_lazy_plugin_options_read_from_source_equal_the_real_signature(name):
    """A lazily registered class's options are read from its source without importing it; once
    imported, the real ``__init__`` must declare exactly those (names, kinds, defaults)."""
    entry = next(e for reg in (methods, datasets, studies) for e in reg.entries() if e.name == name)
    real = inspect.signature(entry.factory.load().__init__)
    real = real.replace(parameters=list(real.parameters.values())[1:])  # without self
    read = inspect.signature(entry.factory)
    assert [(p.name, p.kind, p.default) for p in read.parameters.values()] == \
        [(p.name, p.kind, p.default) for p in real.parameters.values()]


def test_listing_methods_imports_no_network_library():
    code = ("import sys, posebench; posebench.list_methods(); "
            "print(sorted(m for m in ('torch', 'timm', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tempfile.gettempdir())
    assert out.stdout.strip() == "[]"
