"""``study alpha``'s folders: the trained networks go under the study's own ``--results-dir`` (they
went to ./posebench-results whatever it said), one folder per training recipe (``epochs=1`` used to
resume, and return, a finished 25-epoch run of the same tag; a study with other data failed on the
first one's checkpoint), and options out of their domain are refused before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from posebench.errors import UsageError
from posebench.studies.run import create_study


def _study(results: Path, **options):
    study = create_study("alpha", {"train_data": "/data/a", "alphas": "1,0.1", "regression": "true", **options})
    study.set_context(results, progress=False)
    return study


def test_networks_go_under_the_studys_results_dir(tmp_path):
    study = _study(tmp_path / "results")
    dirs = [study.job_dir(m, a) for m, a in study.jobs()]
    assert [d.parent for d in dirs] == [tmp_path / "results" / "training" / "alpha"] * 3
    assert [d.name.rsplit("-", 1)[0] for d in dirs] == ["hopenet-alpha1", "hopenet-alpha0.1", "resnet50-regression"]
    explicit = _study(tmp_path / "results", runs=str(tmp_path / "mine"))
    assert explicit.job_dir("hopenet", 1.0).parent == tmp_path / "mine"


@pytest.mark.parametrize("change,same", [({"epochs": "1"}, False), ({"train_data": "/data/b"}, False),
                                         ({"input_size": "32"}, False), ({"seed": "1"}, False),
                                         ({"workers": "0"}, True), ({}, True)])
def test_one_folder_per_training_recipe(tmp_path, change, same):
    base = _study(tmp_path).job_dir("hopenet", 1.0)
    other = _study(tmp_path, **change).job_dir("hopenet", 1.0)
    assert (base == other) is same


@pytest.mark.parametrize("option,value,message", [
    ("epochs", "0", "alpha: option epochs must be a whole number in 1 .. 10000, got 0"),
    ("batch_size", "100000", "alpha: option batch_size must be a whole number in 1 .. 4096"),
    ("input_size", "100000", "alpha: option input_size must be a whole number in 16 .. 1024"),
    ("seed", "-1", "alpha: option seed must be a whole number in 0 .. 4294967295"),
    ("lr", "-1", "alpha: option lr must be > 0")])
def test_options_out_of_domain_are_refused_before_any_work(tmp_path, option, value, message):
    with pytest.raises(UsageError) as err:
        _study(tmp_path, **{option: value})
    assert str(err.value).startswith(message)
    assert not (tmp_path / "training").exists()
