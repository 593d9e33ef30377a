"""``posebench bench engines`` at tiny size: rows per engine and batch, ratios against
onnxruntime at the same batch from the measured columns, and the int8 gate refusing WHENet."""

from __future__ import annotations

import pytest

from conftest import SHARED
from posebench.commands.bench_engines import engines_rows

SAMPLE = SHARED / "data" / "AFLW2000-sample"
FSANET = SHARED / "models" / "fsanet"
WHENET = SHARED / "models" / "whenet" / "WHENet.h5"


def _need(*paths):
    for p in paths:
        if not p.exists():
            pytest.skip(f"not found: {p}")
    pytest.importorskip("openvino", reason="OpenVINO is not installed")


def _check(rows, key: str, engines: tuple[str, ...], batch: int) -> None:
    by = {r.case: r for r in rows if r.bench == f"engines {key}"}
    for e in engines:
        for b in (1, batch):
            r = by[f"{e} batch {b}"]
            assert r.n == 4 and r.repeats == 3 and r.unit == "ms/face"
            if e == "onnxruntime":
                assert r.baseline == ""
            else:
                base = by[f"onnxruntime batch {b}"]
                assert r.baseline == base.case and r.ratio == pytest.approx(r.median / base.median)


def test_fsanet_engines_agree():
    _need(SAMPLE, FSANET)
    rows = engines_rows(SAMPLE, None, str(FSANET), 4, 3, 0, 4, False, ["fsanet"])
    _check(rows, "fsanet", ("onnxruntime", "openvino"), 4)
    assert all(r.max_diff_deg < 1e-2 for r in rows)  # OpenVINO pinned to f32


def test_whenet_engines_and_the_int8_gate_refuses():
    _need(SAMPLE, WHENET)
    rows = engines_rows(SAMPLE, str(WHENET), None, 4, 3, 0, 4, True, ["whenet"])
    _check(rows, "whenet", ("torch", "onnxruntime", "openvino"), 4)
    gate = next(r for r in rows if r.case == "int8 gate")
    assert gate.note.startswith("refused: ") and "int8" in gate.note
    assert not any(r.case.startswith("onnxruntime int8") for r in rows)
