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
    (out / "last.pt").write_bytes(b"checkpoint")
    res = _train(out, sample)
    assert res.exit_code == 2 and "already holds a training run" in res.output and "--resume" in res.output
    assert (out / "log.jsonl").read_text() == '{"event": "start"}\n'
    (out / "last.pt").unlink()
    (out / "best.pt").write_bytes(b"weights")  # a finished run: nothing to resume, never a missing last.pt named
    res = _train(out, sample)
    assert res.exit_code == 2 and "has no last.pt to resume from" in res.output and "--resume" not in res.output


def test_a_log_without_a_checkpoint_does_not_block_the_rerun(tmp_path, sample):
    """A training stopped before its first checkpoint left only its log: the rerun starts, the old
    log kept aside (it used to refuse, pointing at a last.pt that did not exist)."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "log.jsonl").write_text('{"event": "start"}\n')
    res = _train(out, sample)
    assert res.exit_code == 0, res.output
    kept = list(out.glob("log.jsonl.stopped-*"))
    assert len(kept) == 1 and kept[0].read_text() == '{"event": "start"}\n' and (out / "last.pt").is_file()


@pytest.mark.parametrize("option,value,message", [
    ("--lr", "nan", "'--lr': 'nan' is not a finite number"), ("--lr", "-1", "'--lr': -1.0 is not in the range 0<x<=10"),
    ("--lr", "inf", "'--lr': 'inf' is not a finite number"), ("--alpha", "-5", "'--alpha': -5.0 is not in the range 0<=x"),
    ("--alpha", "nan", "'--alpha': 'nan' is not a finite number"),
    ("--seed", "-1", "'--seed': -1 is not in the range 0<=x<=4294967295"),
    ("--seed", str(2 ** 70), f"'--seed': {2 ** 70} is not in the range 0<=x<=4294967295"),
    ("--input-size", "100000", "'--input-size': 100000 is not in the range 16<=x<=1024"),
    ("--batch-size", "100000", "'--batch-size': 100000 is not in the range 1<=x<=4096"),
    ("--workers", "100000", "'--workers': 100000 is not in the range 0<=x<=256"),
    ("--epochs", str(10 ** 9), f"'--epochs': {10 ** 9} is not in the range 1<=x<=10000")])
def test_options_out_of_domain_are_one_line_before_anything_is_written(tmp_path, sample, option, value, message):
    res = _train(tmp_path / "o", sample, option, value)
    assert res.exit_code == 2 and message in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_the_api_checks_the_same_domain():
    from posebench.errors import UsageError
    from posebench.training.loop import TrainConfig, check_config

    check_config(TrainConfig())
    for bad in ({"epochs": 0}, {"lr": float("nan")}, {"seed": -1}, {"alpha": -0.1}, {"batch_size": 0},
                {"workers": 100000}, {"epochs": 10 ** 9}, {"lr": 1e9}, {"limit": 10 ** 30}):
        with pytest.raises(UsageError):
            check_config(TrainConfig(**bad))


def test_two_trainings_into_one_out_the_second_is_refused(tmp_path, sample):
    import subprocess
    import sys

    out = tmp_path / "run"
    code = ("import sys, time; from posebench.outputs import folder_lock\n"
            "with folder_lock(sys.argv[1], 'training --out'):\n    print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert holder.stdout.readline().strip() == "held"  # as a training in progress holds it
        res = _train(out, sample)
        assert res.exit_code == 1 and "another posebench process" in res.output and "training --out" in res.output
        assert sorted(p.name for p in out.iterdir()) == [".posebench.lock"]  # nothing written by the second
    finally:
        holder.kill()
        holder.wait()


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


@pytest.mark.parametrize("kw", [{"input_size": 100000}, {"batch": 10 ** 6}, {"iters": 0}, {"warmup": -1}])
def test_the_training_bench_refuses_sizes_out_of_domain_before_allocating(kw):
    """`bench train --input-size 100000` asked torch for 120 GB and died with an unexpected
    RuntimeError; the bench now checks the same bounds as training (posebench.limits)."""
    from posebench.errors import UsageError
    from posebench.training.bench import bench_models

    args = {"input_size": 32, "batch": 1, "iters": 1, "warmup": 0} | kw
    with pytest.raises(UsageError, match=f"{next(iter(kw))} must be a whole number in"):
        list(bench_models(["tiny-hopenet"], args["input_size"], args["batch"], args["iters"], args["warmup"]))


@pytest.mark.parametrize("error", [
    RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer [127.0.0.1]:29500"),
    torch.distributed.DistBackendError("failed to recv, got 0 bytes")])
def test_a_rank_whose_peer_died_prints_one_line(tmp_path, sample, monkeypatch, error):
    """Under torchrun, a rank whose peer was killed ended in `error: unexpected RuntimeError: [gloo ...`;
    now one line saying another process stopped and what was kept (a single-process RuntimeError
    is not dressed up so)."""
    import posebench.training.loop as loop

    def peer_gone(*_a, **_k):
        raise error

    monkeypatch.setattr(loop, "_train", peer_gone)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    res = _train(tmp_path / "o", sample)
    assert res.exit_code == 1 and res.output.startswith("error: training rank 1: another torchrun process stopped ("), \
        res.output
    assert "no checkpoint yet" in res.output and len(res.output.strip().splitlines()) == 1
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    assert "unexpected" in _train(tmp_path / "p", sample).output
