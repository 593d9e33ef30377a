"""``posebench bench methods`` at tiny size: WHENet and FSA-Net are timed against a plain
onnxruntime loop, every registered method has a row (timed or skipped with the reason), and the
ratios come from the measured columns."""

from __future__ import annotations

import pytest

from cli_fixtures import run_cli
from conftest import SHARED
from posebench.commands.bench_methods import _faces, methods_rows, runnable_methods

SAMPLE = SHARED / "data" / "AFLW2000-sample"
FSANET = SHARED / "models" / "fsanet"
WHENET = SHARED / "models" / "whenet" / "WHENet.h5"


def test_whenet_and_fsanet_against_a_plain_onnxruntime_loop():
    if not (SAMPLE.is_dir() and FSANET.is_dir() and WHENET.is_file()):
        pytest.skip(f"sample images / FSA-Net / WHENet not in {SHARED}")
    faces = _faces(SAMPLE, 3)
    rows = methods_rows(faces, ["onnx-headpose", "whenet", "gt-landmarks"],
                        {"onnx-headpose": {"model_dir": str(FSANET)}, "whenet": {"weights": str(WHENET)}}, 1)
    by = {(r.bench, r.case): r for r in rows}
    for name, base in (("onnx-headpose", "plain onnxruntime loop (batch 1)"), ("whenet", "plain onnxruntime loop (batch 1)"),
                       ("gt-landmarks", "plain cv2.solvePnP loop (SQPnP)")):
        b = by[(f"methods {name}", base)]
        mine = next(r for r in rows if r.bench == f"methods {name}" and r.case.startswith("posebench (batch"))
        assert mine.baseline == base and b.n == 3 and b.repeats == 1 and b.unit == "ms/face"
        assert mine.ratio == pytest.approx(mine.median / b.median)
    for name in ("onnx-headpose", "whenet"):  # the same network and input: the same angles
        mine = next(r for r in rows if r.bench == f"methods {name}" and r.case.startswith("posebench"))
        assert mine.max_diff_deg < 1e-3, mine


def test_every_registered_method_gets_a_row():
    if not SAMPLE.is_dir():
        pytest.skip(f"sample images not in {SHARED}")
    names = runnable_methods()
    assert {"whenet", "onnx-headpose", "dlib", "gt-landmarks"} <= set(names)
    res = run_cli("bench", "methods", "--data-dir", str(SAMPLE), "--limit", "1", "--repeats", "1",
                  "--only", "whenet", "--only", "hopenet")
    assert res.exit_code == 0, res.output
    assert "skipped: " in res.output and "faster" not in res.output  # no weights in the test's weights folder


def test_unknown_method_is_one_line():
    res = run_cli("bench", "methods", "--only", "nope")
    assert res.exit_code != 0 and "unknown method 'nope'" in res.output and "Traceback" not in res.output
