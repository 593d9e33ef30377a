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


@pytest.mark.parametrize("study", ["lowres", "yaw-bins", "box-jitter", "detectors", "afw-yaw"])
def test_an_image_method_on_labels_only_data_is_a_usage_error_before_any_work(tmp_path, study):
    """An image method on a folder of labels without images: exit 2 with one line naming the
    method and the folder, before any work (box-jitter and detectors used to store an all-failed
    table with exit 0; lowres and yaw-bins evaluated every sample, then failed)."""
    import shutil

    sample, fsanet = shared_path("data", "AFLW2000-sample"), shared_path("models", "fsanet")
    labels = tmp_path / "labels"
    labels.mkdir()
    for stem in ("image00002", "image00004", "image00006"):
        shutil.copy(sample / f"{stem}.mat", labels)
    pick = "method" if study == "detectors" else "methods"
    r = CliRunner().invoke(main, ["study", study, "-d", "aflw2000", "--data-dir", str(labels),
                                  "-o", f"{pick}=onnx-headpose", "-o", f"onnx-headpose.model_dir={fsanet}",
                                  "--results-dir", str(tmp_path / "res")])
    assert r.exit_code == 2, r.output
    assert "method 'onnx-headpose' reads images, and aflw2000 at " in r.output and "labels only" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert not (tmp_path / "res" / "tables").exists() and not (tmp_path / "res" / "cache").exists()


@pytest.mark.parametrize("record,table,message", [
    ("[1, 2, 3]", None, "damaged study record {json}: expected a JSON object, got list"),
    ('{"settings": [1]}', None, "damaged study record {json}: 'settings' is not an object"),
    ("{not json", None, "damaged study record {json}: not JSON"),
    ('{"settings": {}}', "a,b\n1,2\n", "study table {csv} cannot be drawn by landmark-count's plot (KeyError")])
def test_plot_of_a_damaged_study_record_or_table_is_one_line_naming_the_file(tmp_path, record, table, message):
    """`posebench plot` of a record holding a list named the CSV beside it; a table of other columns
    ended in KeyError 'n_points'. Now one line naming the file at fault and what is wrong."""
    from cli_fixtures import one_line_error, run_cli

    tables = tmp_path / "tables"
    tables.mkdir()
    csv, json_ = tables / "landmark-count-synthetic.csv", tables / "landmark-count-synthetic.json"
    csv.write_text(table or "source,n_points,mae\ngt,68,1.0\n")
    json_.write_text(record)
    line = one_line_error(run_cli("plot", "landmark-count", "--results-dir", str(tmp_path)), 1)
    assert message.format(json=json_, csv=csv) in line, line
    assert not (tmp_path / "figures").exists() or not any((tmp_path / "figures").iterdir())


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
