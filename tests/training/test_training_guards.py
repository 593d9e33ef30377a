"""``posebench train`` refuses what would waste or destroy work, in one line: an --out that already
holds a run (without --resume), a validation set without images, a Keras file given to --resume,
and a loss that is no longer finite (a NaN --init)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from conftest import shared_path
from posebench.cli import main


@pytest.fixture
def sample() -> Path:
    return shared_path("data", "AFLW2000-sample")


def _train(out: Path, sample: Path, *extra: str):
    return CliRunner().invoke(main, ["train", "--model", "tiny-hopenet", "--dataset", "aflw2000", "--data-dir",
                                     str(sample), "--limit", "4", "--input-size", "32", "--batch-size", "2",
                                     "--epochs", "1", "--workers", "0", "--out", str(out), *extra])


def test_out_with_a_run_is_not_overwritten(tmp_path, sample):
    out = tmp_path / "run"
    out.mkdir()
    (out / "log.jsonl").write_text('{"event": "start"}\n')
    res = _train(out, sample)
    assert res.exit_code == 2 and "already holds a training run" in res.output and "--resume" in res.output
    assert (out / "log.jsonl").read_text() == '{"event": "start"}\n'


def test_a_labels_only_validation_set_is_refused_before_training(tmp_path, sample):
    labels = shared_path("data", "AFLW2000-labels")
    res = CliRunner().invoke(main, ["train", "--model", "hopenet", "--dataset", "aflw2000", "--data-dir", str(sample),
                                    "--limit", "2", "--val-dataset", "aflw2000", "--val-dir", str(labels),
                                    "--val-limit", "4", "--out", str(tmp_path / "v")])
    assert res.exit_code == 2 and "none of its 4 samples has an image" in res.output
    assert not (tmp_path / "v").exists()  # nothing written


def test_a_keras_file_given_to_resume_is_told_apart(tmp_path, sample):
    h5 = tmp_path / "WHENet.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    res = _train(tmp_path / "r", sample, "--resume", str(h5))
    assert res.exit_code == 2 and "HDF5 (Keras) weights file" in res.output and "--init" in res.output


def test_a_non_finite_loss_stops_training(tmp_path, sample):
    from posebench.training.models import build

    net = build("tiny-hopenet")
    state = net.state_dict()
    state["fc_yaw.weight"] = torch.full_like(state["fc_yaw.weight"], float("nan"))
    bad = tmp_path / "nan.pt"
    torch.save(state, bad)
    res = _train(tmp_path / "n", sample, "--init", str(bad))
    assert res.exit_code == 2 and "the loss is not finite at global step 1" in res.output, res.output
    assert not (tmp_path / "n" / "best.pt").exists()
