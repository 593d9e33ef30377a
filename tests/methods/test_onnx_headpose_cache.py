"""FSA-Net's batch-1 ONNX files are made batch-dynamic once and read back from
``<data root>/cache/onnx/`` (posebench/onnxcache.py): a later process does not import the
``onnx`` package (a second or more of every cold run, issue 24) and gets the same bytes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import SHARED

FSANET = SHARED / "models" / "fsanet"

PROBE = """
import sys
from pathlib import Path
from posebench.methods.onnx_headpose import _dynamic_batch, _model_bytes
path = sorted(Path({d!r}).glob("*.onnx"))[0]
model = _model_bytes(path)
print("onnx imported:", "onnx" in sys.modules)
assert model == _dynamic_batch(path)
print("same bytes")
"""


def test_second_process_reads_the_cache_without_onnx(tmp_path):
    if not FSANET.is_dir():
        pytest.skip(f"FSA-Net models not found: {FSANET}")
    env = {**os.environ, "POSEBENCH_DATA": str(tmp_path / "data")}
    outs = [subprocess.run([sys.executable, "-c", PROBE.format(d=str(FSANET))], env=env, capture_output=True, text=True,
                           timeout=300, cwd=tmp_path) for _ in range(2)]
    for r in outs:
        assert r.returncode == 0, r.stderr[-2000:]
        assert "same bytes" in r.stdout
    assert "onnx imported: True" in outs[0].stdout  # first: made with onnx, stored
    assert "onnx imported: False" in outs[1].stdout  # then read back (the probe imports onnx only afterwards)
    assert len(list((tmp_path / "data" / "cache" / "onnx").glob("*.onnx.sha256"))) == 1


def test_a_damaged_cache_is_made_again():
    if not FSANET.is_dir():
        pytest.skip(f"FSA-Net models not found: {FSANET}")
    from posebench.methods.onnx_headpose import _dynamic_batch, _model_bytes
    from posebench.paths import data_root

    path = sorted(FSANET.glob("*.onnx"))[0]
    first = _model_bytes(path)
    (cache,) = (data_root() / "cache" / "onnx").glob(f"{path.stem}-*-dynbatch-v*.onnx")
    cache.write_bytes(first[:-10] + b"0123456789")
    assert _model_bytes(path) == first == _dynamic_batch(path)
