"""Registry: built-ins, unknown names, third-party plugins through entry points."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from cli_fixtures import run_cli
from plugin_fixtures import install_plugin
from posebench.cli import main
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


def test_module_registering_methods_through_a_datasets_entry_point_is_seen_first_time(faulty_plugin):
    assert "lazy-heavy" in methods.names()  # loaded with the methods, though only a dataset names it


def test_lazy_class_that_cannot_be_read_statically_falls_back_to_the_real_signature(faulty_plugin):
    import inspect
    import math

    methods.names()
    sig = inspect.signature(methods.get("lazy-heavy").factory)
    assert list(sig.parameters) == ["scale"] and sig.parameters["scale"].default == math.pi


#: (the plugin fixture, ``posebench run`` arguments, words in the error, exit code (None: any but 0))
SYNTHETIC_3 = ("-d", "synthetic", "--dataset-option", "n=3")
PLUGIN_RUN_FAULTS = {
    "lazy-missing-class": ("faulty_plugin", ("-m", "lazy-missing", *SYNTHETIC_3), "faultplug has no Nope", None),
    "lazy-misspelt-module": ("faulty_plugin", ("-m", "lazy-typo", *SYNTHETIC_3), "no module faultplgu", None),
    "lazy-missing-package": ("faulty_plugin", ("-m", "lazy-noparent", *SYNTHETIC_3), "no module nopkg.mod", None),
    "lazy-other-needs": ("faulty_plugin", ("-m", "lazy-wrongneeds", *SYNTHETIC_3), "registered with needs ['image'] but", None),
    "read-only-name": ("faulty_plugin_2", ("-m", "pb-prop", *SYNTHETIC_3), "cannot be set to the registered name", 1),
    "dataset-factory-returns-none": ("faulty_plugin_2", ("-m", "gt-landmarks", "-d", "pb-none"), "not a dataset", 1),
}


@pytest.mark.parametrize("case", list(PLUGIN_RUN_FAULTS))
def test_a_plugin_fault_at_run_is_one_line_naming_it(request, case):
    """A lazily registered class that cannot load, a name that cannot be set, a dataset factory
    that returns None: ``posebench run`` stops with one error line, no traceback."""
    fixture, args, words, code = PLUGIN_RUN_FAULTS[case]
    root = request.getfixturevalue(fixture)
    res = run_cli("run", *args, "--results-dir", str(root / "r"))
    assert res.exit_code != 0 and (code is None or res.exit_code == code), res.output
    assert "Traceback" not in res.output and res.output.strip().splitlines()[-1].startswith("error:"), res.output
    assert words in res.output, res.output


def test_dataset_names_that_would_leave_or_shadow_the_data_root_are_refused():
    reg = Registry("dataset", "posebench.datasets", "posebench.test-none", reserved=lambda: {"weights"})
    for bad in ("weights", "../escape", "a/b", "", ".hidden"):
        with pytest.raises(UsageError):
            reg.register(bad)(lambda data_dir=None: None)
    reg.register("fine-name_1.2")(lambda data_dir=None: None)


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


def test_a_none_default_option_is_coerced_by_its_annotation(faulty_plugin_2):
    methods.names()
    assert methods.bind("scaled", {"scale": "5"}) == {"scale": 5.0}
    assert methods.bind("scaled", {"scale": "None"}) == {"scale": None}
    import numpy as np

    assert methods.bind("scaled", {"scale": np.float32(5.0)}) == {"scale": 5.0}
    with pytest.raises(UsageError, match="expected float"):
        methods.bind("scaled", {"scale": "abc"})


def test_an_entry_point_may_name_a_registered_class_under_another_name(faulty_plugin_2):
    assert "scaled-alias" in methods.names() and "scaled" in methods.names()


def test_system_exit_in_a_lazy_plugin_is_one_line(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "exitplug",
                   "from posebench.lazy import LazyClass\nfrom posebench.registry import register_method\n"
                   "register_method('exits', 'x', needs=('image',))(LazyClass('exitplug_impl:X'))\n",
                   "[posebench.methods]\nexitplug = exitplug\n")
    (tmp_path / "exitplug_impl.py").write_text("import sys\nsys.exit('refusing to import')\n")
    res = run_cli("run", "-m", "exits", "-d", "synthetic", "--results-dir", str(tmp_path / "r"))
    assert res.exit_code == 1 and "error:" in res.output and "SystemExit: refusing to import" in res.output
