"""Leaderboard: reads typed run records (no plugin import), the common-samples table, and damaged
stored files skipped with a one-line warning, never a traceback."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

import posebench
from posebench.cli import main
from posebench.datasets.synthetic import make_synthetic
from posebench.evaluation.leaderboard import render
from posebench.evaluation.record import RecordError, read_record
from posebench.evaluation.runner import evaluate
from posebench.registry import methods


@pytest.fixture
def two_runs(tmp_path):
    ds = make_synthetic(n=12, seed=2)
    a = evaluate(methods.create("gt-landmarks", {"solver": "sqpnp"}), ds, tmp_path, progress=False)
    b = evaluate(methods.create("gt-landmarks", {"points": "36,39,42,45"}), ds, tmp_path, progress=False)
    return tmp_path, a, b


def test_record_round_trips_and_label_is_stored(two_runs):
    root, a, _ = two_runs
    rec = read_record(a.paths["record"])
    assert rec == a.record
    assert rec.label == "gt-landmarks (solver=sqpnp)"
    assert set(json.loads(a.paths["record"].read_text())) == set(rec.to_json())


def test_record_keeps_setup_and_pnp_counts_and_reads_records_without_them(two_runs, tmp_path):
    root, a, _ = two_runs
    rec = a.record
    assert rec.setup == "custom: sqpnp, focal 1 x width, behind camera -> weak"
    assert rec.behind_camera == 0 and sum(rec.pnp.values()) == rec.n_evaluated == 12 and rec.detectors == {}
    assert f"| gt-landmarks (solver=sqpnp) | {rec.setup} |" in render(root)
    old = json.loads(a.paths["record"].read_text())  # a record written before these fields existed
    for k in ("setup", "behind_camera", "behind_camera_replaced", "pnp", "detectors"):
        del old[k]
    (tmp_path / "old.json").write_text(json.dumps(old))
    back = read_record(tmp_path / "old.json")
    assert (back.setup, back.behind_camera, back.pnp, back.detectors) == ("", 0, {}, {}) and back.summary == rec.summary
    old["behind_camera"] = -1
    (tmp_path / "old.json").write_text(json.dumps(old))
    with pytest.raises(RecordError, match="behind_camera"):
        read_record(tmp_path / "old.json")


def test_leaderboard_imports_no_plugin(two_runs):
    import subprocess

    root, _, _ = two_runs
    code = ("import sys; from posebench.evaluation.leaderboard import render; render(sys.argv[1]); "
            "print([m for m in sys.modules if m.startswith(('posebench.methods', 'posebench.studies'))])")
    out = subprocess.run([sys.executable, "-P", "-c", code, str(root)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_rows_and_common_sample_table(two_runs, tmp_path):
    root, a, b = two_runs
    text = render(root)
    assert "| gt-landmarks (solver=sqpnp) |" in text and "| gt-landmarks (points=36,39,42,45) |" in text
    assert f"{a.summary.mae:.2f}" in text


DAMAGE = {
    "random.json": bytes(range(256)) * 4,
    "list.json": b"[]",
    "empty.json": b"{}",
    "badutf8.json": b'{"format": 2, "method": "\xff\xfe"}',
}


def test_damaged_run_files_are_skipped_with_one_line_warnings(two_runs):
    root, a, _ = two_runs
    runs = root / "runs"
    for name, data in DAMAGE.items():
        (runs / name).write_bytes(data)
    rec = json.loads(a.paths["record"].read_text())
    rec["summary"]["mae"] = "1.5"  # a string for a number
    (runs / "strings__x__y.json").write_text(json.dumps(rec))
    rec2 = json.loads(a.paths["record"].read_text())
    rec2["n_failed"] = "0"
    (runs / "strings2__x__y.json").write_text(json.dumps(rec2))
    a.paths["samples"].write_bytes(b"\x00\xffnot,a\ncsv")  # damaged per-sample table
    r = CliRunner().invoke(main, ["leaderboard", "--results-dir", str(root)])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("posebench: warning:")]
    # the damaged records, the two records with a string for a number, and the damaged per-sample
    # table (read for the common-samples table and the paired bootstrap, since issue 12)
    assert len(warnings) == len(DAMAGE) + 3
    assert any("skipped per-sample table" in w for w in warnings)
    assert any("summary.mae should be a number" in w for w in warnings)
    assert "gt-landmarks (points=36,39,42,45)" in r.stdout


def test_read_record_names_the_problem(tmp_path):
    p = tmp_path / "r.json"
    p.write_text("[]")
    with pytest.raises(RecordError, match="expected a JSON object"):
        read_record(p)
    p.write_text('{"format": 1}')
    with pytest.raises(RecordError, match="format 1"):
        read_record(p)


@pytest.mark.parametrize("data", [b"\x00\xffnot,a\ncsv", b"id,failure\nx,\n", b"id,failure,err_yaw,err_pitch,err_roll,"
                                  b"err_mean,geodesic,maev\na,,one,2,3,4,5,6\n"])
def test_damaged_sample_tables_are_skipped(tmp_path, capsys, data):
    from posebench.evaluation.leaderboard import read_samples

    p = tmp_path / "run.csv"
    p.write_bytes(data)
    assert read_samples(p) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("posebench: warning: skipped per-sample table run.csv")


def test_group_and_row_order_follow_the_runs_not_their_keys(tmp_path):
    """Sections (dataset contents) and rows are ordered by what the runs are, never by run key or
    file name: runs listed in the opposite order give the same leaderboard order, the undegraded
    protocol first and then its +dsF variants by factor (the lowres runs share folder and size)."""
    from posebench.datasets.degrade import with_downsample
    from posebench.evaluation.leaderboard import run_groups

    ds = make_synthetic(n=6, seed=1)
    runs = []
    for factor in (10, 1, 5):
        for opts in ({"solver": "sqpnp"}, {}):
            out = evaluate(methods.create("gt-landmarks", opts), with_downsample(ds, factor), tmp_path, progress=False)
            runs.append((read_record(out.paths["record"]), out.paths["record"]))

    def shown(order):
        return [(fp, [r.label for r, _ in group]) for (_, fp), group in run_groups(order)]

    assert shown(runs) == shown(runs[::-1]) == shown(sorted(runs, key=lambda rp: rp[1].name, reverse=True))
    protocols = [group[0][0].protocol for _, group in run_groups(runs)]
    assert protocols == [ds.protocol, f"{ds.protocol}+ds5-v1", f"{ds.protocol}+ds10-v1"]


def test_leaderboard_common_table_keeps_every_run_of_a_shared_label(tmp_path, u_base):
    from posebench.evaluation.leaderboard import write_leaderboard

    ds = posebench.create_dataset("synthetic", n=10)
    for folder, extra in (("a", ""), ("b", "\n")):  # same file name and numbers, other bytes: another key
        (tmp_path / folder).mkdir()
        face = tmp_path / folder / "face.txt"
        face.write_text(u_base.read_text() + extra)
        posebench.evaluate("gt-landmarks", ds, results_dir=tmp_path / "r", method_options={"face": str(face)})
    posebench.evaluate("gt-landmarks", ds, results_dir=tmp_path / "r")
    text, _ = write_leaderboard(tmp_path / "r")
    common = text[text.index("every method above handled"):]
    rows = [ln for ln in common.splitlines() if ln.startswith("| gt-landmarks (face=face.txt) [")]
    assert len(rows) >= 2  # both runs of the shared label, each tagged with its run key


def test_a_downsampled_copy_sits_under_its_plain_set_with_a_readable_heading(tmp_path):
    """Sections are headed by dataset, size and folder, the fingerprint on the line below; a
    ``+dsF`` copy is a sub-section right under its plain set saying what was done (stored first
    here, and x10 before x5 by name: neither order may leak into the leaderboard)."""
    from posebench.datasets.degrade import with_downsample
    from posebench.evaluation.leaderboard import degraded

    base = make_synthetic(n=10, seed=0)
    for f in (10, 5, 1):
        evaluate(methods.create("gt-landmarks"), with_downsample(base, f), tmp_path, progress=False)
    heads = [line for line in render(tmp_path, paper=False).splitlines() if line.startswith("#")]
    assert heads[1:] == [
        "## synthetic: 10 samples (embedded)",
        "### synthetic: the same 10 samples downsampled x5: each image shrunk 5 times and enlarged back to its size "
        "(`+ds5`, the low-resolution study)",
        "### synthetic: the same 10 samples downsampled x10: each image shrunk 10 times and enlarged back to its size "
        "(`+ds10`, the low-resolution study)"], heads
    assert degraded("aflw2000-hopenet-v1+ds15-v1") == ("aflw2000-hopenet-v1", 15)
    assert degraded("aflw2000-hopenet-v1") == ("aflw2000-hopenet-v1", None)
