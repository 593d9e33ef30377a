"""``posebench bench run`` and ``bench lowres`` at tiny size (two images, one round): the table's
columns, the plain script's network-only row, and ratios computed from the measured columns."""

from __future__ import annotations

import shutil

import pytest

from cli_fixtures import one_line_error, run_cli
from conftest import REPO, SHARED
from posebench.commands.bench_cold import inputs_from, lowres_rows, run_rows

SAMPLE = SHARED / "data" / "AFLW2000-sample"
FSANET = SHARED / "models" / "fsanet"
WHENET = SHARED / "models" / "whenet" / "WHENet.h5"
PLAIN = REPO / "scripts" / "plain_lowres.py"


@pytest.fixture
def tiny(tmp_path):
    if not (SAMPLE.is_dir() and FSANET.is_dir() and WHENET.is_file()):
        pytest.skip(f"sample images / FSA-Net / WHENet not in {SHARED}")
    d = tmp_path / "tiny"
    d.mkdir()
    for name in ("image00013", "image00039"):  # two in-protocol images
        for ext in (".jpg", ".mat"):
            shutil.copy(SAMPLE / f"{name}{ext}", d / f"{name}{ext}")
    return d


def _check_ratios(rows, baseline: str) -> None:
    by = {r.case: r for r in rows}
    for r in rows:
        if r.baseline:
            b = by[r.baseline]
            assert r.ratio == pytest.approx(r.median / b.median)
            if r.peak_mb == r.peak_mb and b.peak_mb == b.peak_mb:
                assert r.peak_ratio == pytest.approx(r.peak_mb / b.peak_mb)
    assert by[baseline].baseline == "" and by[baseline].peak_mb > 10


def test_bench_run_fsanet_against_the_plain_loop_and_the_network(tiny):
    rows, loads = run_rows(inputs_from(tiny, FSANET, WHENET, PLAIN, None), ("onnx-headpose",), 1, lambda s: None)
    cases = [r.case for r in rows]
    assert cases == ["plain script", "run onnx-headpose (this posebench)", "network only",
                     "plain script vs network only", "run onnx-headpose (this posebench) vs network only"]
    assert all(r.unit == "s" and r.repeats == 1 and r.median > 0 for r in rows) and len(loads) == 1
    _check_ratios(rows, "plain script")
    assert rows[1].baseline == "plain script" and rows[4].baseline == "network only"
    assert rows[2].median < rows[0].median  # the network is part of the plain script's wall time
    per_round = rows[1].samples[0] / rows[0].samples[0]
    assert rows[1].note.endswith(f"that round's plain script: {per_round:.2f}x")


def test_bench_lowres_against_the_plain_script(tiny):
    rows, _ = lowres_rows(inputs_from(tiny, FSANET, WHENET, PLAIN, None), 1, lambda s: None)
    assert [r.case for r in rows] == ["plain script", "study lowres (this posebench)"]
    _check_ratios(rows, "plain script")


def test_bench_run_cli_names_a_missing_plain_script(tiny, tmp_path):
    err = one_line_error(run_cli("bench", "run", "--data-dir", str(tiny), "--fsanet-dir", str(FSANET),
                                 "--whenet-weights", str(WHENET), "--plain-script", str(tmp_path / "none.py")))
    assert "plain script not found" in err and "--plain-script" in err
    err = one_line_error(run_cli("bench", "lowres", "--data-dir", str(tiny), "--fsanet-dir", str(FSANET),
                                 "--whenet-weights", str(WHENET), "--plain-script", str(PLAIN), "--before", str(tmp_path)))
    assert "no posebench package" in err
