"""``posebench export``'s output rule: --out is never the weights file it reads (by path or inode),
and an existing file is replaced only with --overwrite (the ONNX export used to replace the
checkpoint it was made from, and any user file of that name)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from cli_fixtures import one_line_error, run_cli


@pytest.fixture(scope="module")
def seeded_pkl(tmp_path_factory) -> Path:
    from posebench.methods.hopenet import nets

    p = tmp_path_factory.mktemp("hopenet-weights") / "hopenet_seeded.pkl"
    torch.save(nets.seeded_weights("hopenet", seed=0), p)
    return p


def _exporting_commands() -> list[str]:
    """Every ``posebench export`` subcommand that writes a file (img2pose refuses every export)."""
    from posebench.commands.export import export

    return sorted(n for n in export.commands if n != "img2pose")


@pytest.mark.parametrize("sub", _exporting_commands())
def test_out_is_never_the_weights_file(tmp_path, sub):
    """Over every export subcommand (3ddfa-v2, added without the rule, replaced its checkpoint)."""
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"my checkpoint")
    os.link(weights, tmp_path / "hard.onnx")
    for out in (weights, tmp_path / "hard.onnx"):
        line = one_line_error(run_cli("export", sub, "--weights", str(weights), "--out", str(out), "--overwrite"), 2)
        assert f"--out {out} is the weights file itself" in line
    assert weights.read_bytes() == b"my checkpoint"


def test_the_default_weights_file_is_checked_too(tmp_path, seeded_pkl):
    """Without --weights the file the default resolves to is the input (checked once it is known,
    before the export)."""
    default = Path(os.environ["POSEBENCH_WEIGHTS"]) / "hopenet_alpha1.pkl"
    default.parent.mkdir(parents=True, exist_ok=True)
    default.write_bytes(seeded_pkl.read_bytes())
    line = one_line_error(run_cli("export", "hopenet", "--variant", "alpha1", "--out", str(default), "--overwrite"), 2)
    assert "is the weights file itself" in line and default.read_bytes() == seeded_pkl.read_bytes()


def test_an_existing_out_needs_overwrite(tmp_path, seeded_pkl):
    out = tmp_path / "hopenet.onnx"
    out.write_bytes(b"my model")
    args = ["export", "hopenet", "--weights", str(seeded_pkl), "--out", str(out), "--no-check"]
    line = one_line_error(run_cli(*args), 2)
    assert f"--out {out} exists already: give --overwrite" in line and out.read_bytes() == b"my model"
    r = run_cli(*args, "--overwrite")
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:2] != b"my" and out.stat().st_size > 1_000_000


def test_3ddfa_v2_out_is_never_its_statistics_file(tmp_path):
    from conftest import shared_path

    mb05 = shared_path("models", "3ddfa_v2", "mb05_120x120.pth")
    stats = tmp_path / "param_mean_std_62d_120x120.pkl"
    stats.write_bytes(shared_path("models", "3ddfa_v2", stats.name).read_bytes())
    line = one_line_error(run_cli("export", "3ddfa-v2", "--weights", str(mb05), "--param-stats", str(stats),
                                  "--out", str(stats), "--overwrite"), 2)
    assert f"--out {stats} is the param_mean_std file itself" in line
    assert stats.read_bytes() == shared_path("models", "3ddfa_v2", stats.name).read_bytes()
