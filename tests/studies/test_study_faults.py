"""Issue 25: a study whose every method is skipped runs nothing, stores nothing and exits non-zero
(it used to exit 0, print an empty frame and replace the stored table with an empty one)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from conftest import shared_path
from posebench.cli import main


@pytest.mark.parametrize("study", ["lowres", "afw-yaw"])
def test_a_study_with_every_method_skipped_keeps_the_stored_table(tmp_path, study):
    sample = shared_path("data", "AFLW2000-sample")
    tables = tmp_path / "res" / "tables"
    tables.mkdir(parents=True)
    stored = tables / f"{study}-aflw2000.csv"
    stored.write_text("method,mae\nwhenet,5.4\n")
    r = CliRunner().invoke(main, ["study", study, "-d", "aflw2000", "--data-dir", str(sample), "--limit", "2",
                                  "-o", "methods=onnx-headpose", "-o", f"onnx-headpose.model_dir={tmp_path / 'typo'}",
                                  "--results-dir", str(tmp_path / "res")])
    assert r.exit_code == 1, r.output
    assert "no method of the study can run, nothing was stored: onnx-headpose: " in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert stored.read_text() == "method,mae\nwhenet,5.4\n" and sorted(p.name for p in tables.iterdir()) == [stored.name]


@pytest.mark.parametrize("name,options,message", [
    ("biwi-p2", {"seeds": "0,-1"}, "option seeds='0,-1': values must be in 0 .. 4.29497e+09, got -1"),
    ("biwi-p2", {"seeds": str(2 ** 70)}, "option seeds="),
    ("afw-yaw", {"thresholds": "15,-30"}, "option thresholds='15,-30': values must be in 0 .. 180, got -30.0")])
def test_list_options_out_of_domain_are_one_line(name, options, message):
    """``biwi-p2 seeds=-1`` used to reach numpy's seeding (an unexpected ValueError)."""
    from posebench.errors import UsageError
    from posebench.studies.run import create_study

    with pytest.raises(UsageError) as err:
        create_study(name, options)
    assert str(err.value).startswith(message)


def test_split_units_refuses_a_seed_numpy_cannot_take():
    from posebench.datasets.biwi_split import split_units
    from posebench.errors import UsageError

    with pytest.raises(UsageError, match="seed must be a whole number in 0 .. 4294967295, got -1"):
        split_units([("01",), ("02",), ("03",)], -1, 0.3)


@pytest.mark.parametrize("damage, why", [
    (lambda t: b"", "is not the one its study stored"),
    (lambda t: t.replace(b"mae_yaw", b"xx", 1), "is not the one its study stored"),
    (lambda t: t.replace(b"\n6,6,", b"\n6,abc,", 1), "is not the one its study stored"),
])
def test_plot_of_a_damaged_or_edited_table_is_one_line(tmp_path, damage, why):
    """A stored study table of 0 bytes, without a column, or with text where a number was: one line
    naming it (was 'unexpected KeyError', or a figure drawn from the edited table)."""
    from cli_fixtures import one_line_error, run_cli

    res = tmp_path / "res"
    r = CliRunner().invoke(main, ["study", "keypoints", "--dataset-option", "n=20", "--results-dir", str(res)])
    assert r.exit_code == 0, r.output
    csv = res / "tables" / "keypoints-synthetic.csv"
    assert b"\n6,6," in csv.read_bytes()
    csv.write_bytes(damage(csv.read_bytes()))
    line = one_line_error(run_cli("plot", "keypoints", "--results-dir", str(res)), 1)
    assert f"study table {csv} {why}" in line
    assert not (res / "figures").exists()


def test_plot_names_the_damaged_record_not_the_table(tmp_path):
    from cli_fixtures import one_line_error, run_cli

    res = tmp_path / "res"
    assert CliRunner().invoke(main, ["study", "keypoints", "--dataset-option", "n=20", "--results-dir", str(res)]).exit_code == 0
    rec = res / "tables" / "keypoints-synthetic.json"
    for text, why in (("", "not JSON"), ("[1]", "expected a JSON object"), ('{"settings": [1]}', "'settings' is not")):
        rec.write_text(text)
        line = one_line_error(run_cli("plot", "keypoints", "--results-dir", str(res)), 1)
        assert f"damaged study record {rec}: {why}" in line
