"""Fixed costs of the command line: help and the listings never import torch (nor the other
heavy libraries an engine may need), and posebench asks OpenMP to wait passively before torch
is loaded (issue 24)."""

from __future__ import annotations

import os
import subprocess
import sys

HEAVY = ("torch", "torchvision", "timm", "h5py", "onnxruntime", "tensorflow")
COMMANDS = ("bench data datasets demo draw export gallery leaderboard methods plot predict report run runs "
            "studies study train").split()
CALLS = ([["--help"], ["methods"], ["datasets"], ["studies"]] + [[c, "--help"] for c in COMMANDS]
         + [["bench", c, "--help"] for c in ("methods", "pnp", "whenet", "hopenet", "engines", "authors", "all", "lowres",
                                             "run", "dlib-boxes")])

PROBE = """
import sys
from posebench.cli import main
for argv in {calls!r}:
    try:
        main(args=argv, prog_name="posebench", standalone_mode=True)
    except SystemExit as exc:
        assert exc.code in (0, None), (argv, exc.code)
print("HEAVY", sorted(m for m in {heavy!r} if m in sys.modules))
"""


def _python(code: str, env: dict[str, str] | None = None, cwd=None) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_help_and_listings_import_no_engine(tmp_path):
    out = _python(PROBE.format(calls=CALLS, heavy=HEAVY), cwd=tmp_path)
    assert out.strip().splitlines()[-1] == "HEAVY []"


def test_probe_sees_a_heavy_import(tmp_path):
    """The probe can fail: a command path that imports torch is reported."""
    code = "import torch\n" + PROBE.format(calls=[["--help"]], heavy=HEAVY)
    assert "'torch'" in _python(code, cwd=tmp_path).strip().splitlines()[-1]


def test_openmp_waits_passively_unless_the_user_says_otherwise(tmp_path):
    code = "import os, posebench; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _python(code, env=env, cwd=tmp_path).strip() == "PASSIVE"
    assert _python(code, env={**env, "OMP_WAIT_POLICY": "ACTIVE"}, cwd=tmp_path).strip() == "ACTIVE"


def test_the_console_script_installs_its_signal_handlers_after_importing_almost_nothing(tmp_path):
    """The console script imports the posebench package before posebench.entry installs the
    Ctrl-C/SIGTERM handlers: everything that package imports widens the window in which a Ctrl-C
    at start is a traceback. It imported pathlib and typing (~35 ms here); now only
    posebench.errors, so the handlers are in place ~2 ms after the script's first line. What runs
    before that line (the interpreter's start, site, the script's `import re`) posebench cannot
    reach: pip's console script is Python, so no handler or signal mask can precede it."""
    code = ("import sys; before = set(sys.modules); import posebench.entry, signal; "
            "new = sorted(m for m in set(sys.modules) - before if not m.startswith('posebench'));"
            "print(new); print(signal.getsignal(signal.SIGTERM).__name__)")
    out = _python(code, cwd=tmp_path).splitlines()
    assert "pathlib" not in out[0] and "'typing'" not in out[0], out[0]
    assert out[1] == "_on_sigterm"
