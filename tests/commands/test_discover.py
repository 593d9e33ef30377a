"""Options and names can be found from the command line: ``posebench methods NAME`` (options
with types, defaults and domains, the files read and whether they are installed, published
numbers) and "did you mean" for a mistyped method, dataset, study, option, detector or data name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SHARED
from posebench.cli import main

WHENET = SHARED / "models" / "whenet" / "WHENet.h5"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_methods_name_shows_options_files_and_numbers():
    r = invoke("methods", "whenet")
    assert r.exit_code == 0
    out = r.stdout
    assert "crop             str          default 'loose68'; one of loose68, visible, demo, protocol" in out
    assert "batch_size*" in out  # run-time only
    assert "not ready with the defaults: WHENet weights WHENet.h5 not found" in out and "posebench data download whenet" in out
    assert "aflw2000: WHENet, BMVC 2020 (cited by 6DRepNet): 5.11 / 6.24 / 4.92 / 5.42" in out
    gt = invoke("methods", "gt-landmarks").stdout
    assert "focal    float        default 1.0; > 0" in gt and "Table 1, Ground truth landmarks: 5.924" in gt


def test_methods_name_says_installed_when_it_is():
    if not WHENET.is_file():
        pytest.skip(f"WHENet weights not found: {WHENET}")
    target = Path(os.environ["POSEBENCH_WEIGHTS"]) / "whenet" / "WHENet.h5"
    target.parent.mkdir(parents=True)
    target.symlink_to(WHENET)
    out = invoke("methods", "whenet").stdout
    assert f"weights: {target} (installed, sha256 8f8bcf924447f712)" in out


@pytest.mark.parametrize("args,hint", [
    (["methods", "whenett"], "did you mean 'whenet'?"),
    (["run", "-m", "gt-landmark", "-d", "synthetic"], "did you mean 'gt-landmarks'?"),
    (["run", "-m", "gt-landmarks", "-d", "synthetik"], "did you mean 'synthetic'?"),
    (["run", "-m", "gt-landmarks", "-d", "synthetic", "-o", "solvr=sqpnp"], "did you mean 'solver'?"),
    (["study", "jiter"], "did you mean 'jitter'?"),
    (["data", "download", "whenett"], "did you mean 'whenet'?"),
    (["run", "-m", "onnx-headpose", "-d", "synthetic", "-o", "box=yunett"], "did you mean 'yunet'?"),
])
def test_did_you_mean(args, hint):
    r = invoke(*args)
    err = r.stderr.strip()
    assert r.exit_code == 2 and err.startswith("error:") and "\n" not in err and hint in err, err


def test_no_hint_for_a_name_nothing_resembles():
    assert "did you mean" not in invoke("methods", "zzzzzz").stderr
