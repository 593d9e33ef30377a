"""``posebench bench gpu`` and scripts/gpu_check.sh on a machine without a GPU: they say so plainly
and exit 0; a bad option is one line. (On a GPU machine the script is the device check.)"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cli_fixtures import one_line_error, run_cli
from conftest import REPO
from posebench.commands.bench_gpu import gpu_status


def _no_gpu() -> None:
    torch_ok, ort_ok, _ = gpu_status()
    if torch_ok or ort_ok:
        pytest.skip("a GPU is present: the no-GPU message does not apply")


def test_bench_gpu_says_plainly_there_is_no_gpu():
    _no_gpu()
    res = run_cli("bench", "gpu")
    assert res.exit_code == 0, res.output
    assert res.output.startswith("posebench bench gpu: no GPU here (torch ") and "CUDA not available" in res.output
    assert "CUDAExecutionProvider not installed" in res.output


def test_bench_gpu_bad_batch_sizes_is_one_line():
    assert "--batch-sizes must be" in one_line_error(run_cli("bench", "gpu", "--batch-sizes", "1,x"))
    assert "--batch-sizes must be" in one_line_error(run_cli("bench", "gpu", "--batch-sizes", "0"))


def test_gpu_check_script_runs_its_cpu_side(tmp_path):
    _no_gpu()
    env = {**os.environ, "OUT": str(tmp_path), "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    res = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh"), "--no-install"], env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "gpu_check.txt").read_text()
    assert "posebench bench gpu: no GPU here" in text
    assert "refused: device=cuda: torch sees no CUDA device" in text
