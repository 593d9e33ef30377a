"""The layering rules of ``scripts/check_import_cycles.py``: no import cycle and no import from the
library into the command-line layer, counting every import (``try``/``except``, functions,
classes), checked on posebench itself (so CI fails on a finding) and on tiny made-up packages."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_import_cycles.py"


@pytest.fixture(scope="module")
def checker():
    spec = importlib.util.spec_from_file_location("check_import_cycles", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_posebench_has_no_import_cycle_and_no_upward_import():
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("no import cycle and no upward import among "), out.stdout


def make_package(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for folder in {p.parent for p in (root / "pkg").rglob("*.py")} | {root / "pkg"}:
        (folder / "__init__.py").touch()
    return {"pkg": root / "pkg"}


# Where module a hides its import of b (b imports a at module level): each closes a cycle.
HIDDEN = {
    "except": "try:\n    import json\nexcept ImportError:\n    from pkg import b\n",
    "else": "try:\n    import json\nexcept ImportError:\n    pass\nelse:\n    from pkg import b\n",
    "finally": "try:\n    pass\nfinally:\n    import pkg.b\n",
    "function": "def f():\n    from pkg.b import g\n    return g\n",
    "method": "class A:\n    def f(self):\n        if True:\n            from . import b\n        return b\n",
    "with": "import contextlib\n\ndef f():\n    with contextlib.suppress(Exception):\n        from pkg import b\n",
    "import_module": "import importlib\n\ndef f():\n    return importlib.import_module('pkg.b')\n",
    "type_checking_else": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    pass\nelse:\n    from pkg import b\n",
}


@pytest.mark.parametrize("where", sorted(HIDDEN))
def test_a_cycle_hidden_anywhere_in_a_module_is_found(checker, tmp_path, where):
    pkgs = make_package(tmp_path, {"a.py": HIDDEN[where], "b.py": "from pkg import a\n\n\ndef g():\n    return a\n"})
    findings, n = checker.check(pkgs, (), tmp_path)
    assert n == 3
    assert len(findings) == 1
    assert findings[0].startswith("import cycle: pkg.a -> pkg.b -> pkg.a; "), findings
    assert "(pkg/b.py:1)" in findings[0]


def test_type_checking_imports_are_left_out(checker, tmp_path):
    a = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import b\n"
    pkgs = make_package(tmp_path, {"a.py": a, "b.py": "from pkg import a\n"})
    assert checker.check(pkgs, (), tmp_path) == ([], 3)


def test_a_package_importing_its_own_module_is_no_cycle(checker, tmp_path):
    pkgs = make_package(tmp_path, {"a.py": "import pkg\n"})
    (tmp_path / "pkg" / "__init__.py").write_text("from pkg import a\n")
    assert checker.check(pkgs, (), tmp_path) == ([], 2)


def test_a_library_import_into_the_command_layer_is_found_with_its_line(checker, tmp_path):
    pkgs = make_package(tmp_path, {
        "commands/common.py": "x = 1\n",
        "commands/run.py": "from pkg import lib\nfrom pkg.commands.common import x\n",  # commands use the library
        "cli.py": "from pkg.commands import run\n",
        "lib.py": "import os\n\n\ndef f():\n    from pkg.commands.common import x\n    return x\n",
    })
    findings, _ = checker.check(pkgs, ("pkg.cli", "pkg.commands"), tmp_path)
    assert findings == ["upward import: pkg.lib imports the command-line layer's pkg.commands.common (pkg/lib.py:5)"]


def test_main_prints_each_finding_and_exits_1(checker, tmp_path, monkeypatch, capsys):
    pkgs = make_package(tmp_path, {"a.py": HIDDEN["except"], "b.py": "import pkg.a\n", "lib.py": "import pkg.cli\n", "cli.py": ""})
    monkeypatch.setattr(checker, "PACKAGES", pkgs)
    monkeypatch.setattr(checker, "CLI_LAYER", ("pkg.cli",))
    monkeypatch.setattr(checker, "ROOT", tmp_path)
    assert checker.main() == 1
    assert capsys.readouterr().out.splitlines() == [
        "import cycle: pkg.a -> pkg.b -> pkg.a; pkg.a -> pkg.b (pkg/a.py:4), pkg.b -> pkg.a (pkg/b.py:1)",
        "upward import: pkg.lib imports the command-line layer's pkg.cli (pkg/lib.py:1)",
    ]
