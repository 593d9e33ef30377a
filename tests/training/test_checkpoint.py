"""A damaged resumable checkpoint (0 bytes, truncated, a field missing or of the wrong type) is one
line naming the file and what is wrong (it was an IndexError / KeyError / TypeError)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from conftest import shared_path
from posebench.cli import main


def _train(out: Path, sample: Path, *extra: str):
    return CliRunner().invoke(main, ["train", "--model", "tiny-hopenet", "--dataset", "aflw2000", "--data-dir",
                                     str(sample), "--limit", "4", "--input-size", "32", "--batch-size", "2",
                                     "--epochs", "1", "--workers", "0", "--out", str(out), *extra])


@pytest.fixture(scope="module")
def last_pt(tmp_path_factory) -> Path:
    sample = shared_path("data", "AFLW2000-sample")
    out = tmp_path_factory.mktemp("good") / "run"
    res = _train(out, sample)
    assert res.exit_code == 0, res.output
    return out / "last.pt"


def _damaged(state: dict, how: str) -> dict:
    d = dict(state)
    field, _, change = how.partition(":")
    if change == "drop":
        d.pop(field)
    elif change == "list":
        d[field] = [1]
    elif change == "str":
        d[field] = {"epoch": "x"}
    elif change == "keys":
        d[field] = {"x": torch.zeros(1)}
    return d


@pytest.mark.parametrize("how,message", [
    ("arch:drop", "'arch' (the network's name) is missing"),
    ("config:drop", "'config' is missing or not a dict"), ("config:list", "'config' is missing or not a dict"),
    ("model:drop", "'model' is missing or not a dict of named tensors"),
    ("scheduler:drop", "'scheduler' is missing or not a dict"),
    ("progress:drop", "'progress' is missing"), ("progress:str", "'progress' is missing"),
    ("rng_ranks:list", "'rng' / 'rng_ranks'"),
    ("model:keys", "is damaged: RuntimeError: Error(s) in loading state_dict")])
def test_a_field_damaged_checkpoint_is_one_line(tmp_path, last_pt, how, message):
    state = torch.load(last_pt, weights_only=True)
    bad = tmp_path / "bad.pt"
    torch.save(_damaged(state, how), bad)
    res = _train(tmp_path / "o", shared_path("data", "AFLW2000-sample"), "--resume", str(bad))
    last = res.output.strip().splitlines()[-1]
    assert res.exit_code != 0 and last.startswith("error: ") and "bad.pt" in last and message in last, last
    assert "unexpected" not in last


@pytest.mark.parametrize("content,message", [(b"", "is an empty (0-byte) file"),
                                             (None, "cannot read checkpoint")])
def test_an_empty_or_truncated_checkpoint_is_one_line(tmp_path, last_pt, content, message):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(last_pt.read_bytes()[:1000] if content is None else content)
    res = _train(tmp_path / "o", shared_path("data", "AFLW2000-sample"), "--resume", str(bad))
    last = res.output.strip().splitlines()[-1]
    assert res.exit_code != 0 and last.startswith("error: ") and "bad.pt" in last and message in last, last
    assert "unexpected" not in last
