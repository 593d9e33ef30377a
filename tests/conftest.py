"""Shared test fixtures: the reference data in ../shared (skipped with a reason when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("POSEBENCH_SHARED", REPO.parent / "shared"))

#: Helper modules whose fixtures every test folder may use.
pytest_plugins = ["image_damage", "plugin_fixtures"]


def shared_path(*parts: str) -> Path:
    """A path inside the shared reference data; skips the test when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared reference data not found: {p} (set POSEBENCH_SHARED)")
    return p


@pytest.fixture
def aflw_labels() -> Path:
    return shared_path("data", "AFLW2000-labels")


@pytest.fixture
def aflw_sample() -> Path:
    return shared_path("data", "AFLW2000-sample")


@pytest.fixture
def u_base() -> Path:
    return shared_path("data", "face-model", "u_base.txt")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Keep tests away from the user's data root, weights and results."""
    root = tmp_path_factory.mktemp("posebench-home")
    monkeypatch.setenv("POSEBENCH_DATA", str(root / "data"))
    monkeypatch.setenv("POSEBENCH_WEIGHTS", str(root / "weights"))
    monkeypatch.setenv("POSEBENCH_RESULTS", str(root / "results"))
    monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
