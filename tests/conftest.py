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


#: Where each test's outcome per phase is kept (``setup``/``call``/``teardown`` -> passed).
_PASSED = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Remember whether each phase of a test passed (read by :func:`_isolated_dirs`)."""
    rep = yield
    item.stash.setdefault(_PASSED, {})[rep.when] = rep.passed
    return rep


def remove_unless_failed(request, folder: Path) -> None:
    """Remove ``folder`` after a test that passed, as pytest's ``tmp_path_retention_policy=failed``
    does for ``tmp_path`` (folders made with ``tmp_path_factory.mktemp`` are otherwise kept until
    a session ends with no failure: each test's home below held up to 221 MB of ONNX exports, so
    a run with one failure kept several GB in the temp folder)."""
    import shutil

    if request.config.getini("tmp_path_retention_policy") == "all":
        return
    if request.node.stash.get(_PASSED, {}).get("call", True):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch, request):
    """Keep tests away from the user's data root, weights and results: a fresh home per test
    (data root, weights, results, torch hub), removed after the test unless it failed."""
    root = tmp_path_factory.mktemp("posebench-home")
    monkeypatch.setenv("POSEBENCH_DATA", str(root / "data"))
    monkeypatch.setenv("POSEBENCH_WEIGHTS", str(root / "weights"))
    monkeypatch.setenv("POSEBENCH_RESULTS", str(root / "results"))
    monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
    yield root
    remove_unless_failed(request, root)
