"""Sharded evaluation under torchrun (posebench.distributed, posebench.evaluation.runner.shard_todo):
two CPU processes (gloo) give the records and tables one process gives; a rank that dies or
raises ends the job with one line and nothing written.

The torchrun jobs run ``python -m torch.distributed.run --nproc-per-node 2 -m posebench ...``
outside the checkout (``-m`` puts the working folder first on sys.path) with a plugin method on
``PYTHONPATH`` (installed as a user's package is: a module and its ``entry_points.txt``):
``pixel-pose`` reads each image (batches of 4, so both processes get chunks of the 37 sample
images), ``rank1-dies`` and ``rank1-raises`` fail on process 1 only.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from posebench.distributed import Group
from posebench.evaluation.runner import shard_todo

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="torchrun gloo tests on Linux")

PLUGIN = '''
import os
import signal
import time

import numpy as np

from posebench.method import Method
from posebench.pose import Pose


class PixelPose(Method):
    """A pose made from the image's pixels (its mean colours), batches of 4."""
    name = "pixel-pose"
    needs = frozenset({"image"})
    batch_size = 4

    def estimate_one(self, face):
        m = face.rgb().reshape(-1, 3).astype(np.float64).mean(axis=0)
        return Pose(float(m[0] - 100.0), float(m[1] - 100.0) / 3.0, float(m[2] - 100.0) / 5.0)


class Rank1Dies(PixelPose):
    """Process 1 of a torchrun job is killed (SIGKILL) at its first face."""
    name = "rank1-dies"

    def estimate_one(self, face):
        if os.environ.get("RANK") == "1":
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.05)
        return super().estimate_one(face)


class Rank1Raises(PixelPose):
    """Process 1 of a torchrun job raises a bug at its first face."""
    name = "rank1-raises"

    def estimate_one(self, face):
        if os.environ.get("RANK") == "1":
            raise RuntimeError("a bug on process 1")
        return super().estimate_one(face)
'''

ENTRY_POINTS = ("[posebench.methods]\npixel-pose = shardplug:PixelPose\nrank1-dies = shardplug:Rank1Dies\n"
                "rank1-raises = shardplug:Rank1Raises\n")

#: record fields that differ between two runs of the same predictions (time, machine, how many processes)
VOLATILE = {"created", "wall_seconds_this_call", "seconds_per_sample", "environment", "processes", "shards"}


@pytest.fixture
def plugin(tmp_path) -> Path:
    where = tmp_path / "plugin"
    where.mkdir()
    (where / "shardplug.py").write_text(PLUGIN)
    dist = where / "shardplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shardplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    return where


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _posebench(args: list[str], cwd: Path, plugin: Path, processes: int = 1, logs: Path | None = None):
    """``posebench ARGS`` as one process, or under torchrun with ``processes`` CPU processes
    (each rank's stdout and stderr in ``logs/<run>/attempt_0/<rank>/``)."""
    cmd = [sys.executable, "-m", "posebench", *args]
    if processes > 1:
        cmd[1:1] = ["-m", "torch.distributed.run", "--nproc-per-node", str(processes),
                    "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
                    "--log-dir", str(logs), "--redirects", "3"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(plugin))
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180, cwd=cwd)


def _rank_output(logs: Path) -> dict[str, tuple[str, str]]:
    """rank -> (stdout, stderr) as torchrun --log-dir wrote them."""
    out = {}
    for f in logs.glob("*/attempt_*/*/stdout.log"):
        out[f.parent.name] = (f.read_text(errors="replace"), (f.parent / "stderr.log").read_text(errors="replace"))
    return out


def _one_run(results: Path) -> tuple[dict, pd.DataFrame]:
    (record,) = sorted((results / "runs").glob("*.json"))
    return json.loads(record.read_text()), pd.read_csv(record.with_suffix(".csv"))


def _same_run(one: Path, two: Path) -> dict:
    """Assert that the run stored under ``two`` (two processes) is the one under ``one``; returns
    the two-process record."""
    rec1, tab1 = _one_run(one)
    rec2, tab2 = _one_run(two)
    assert {k: v for k, v in rec2.items() if k not in VOLATILE} == {k: v for k, v in rec1.items() if k not in VOLATILE}
    pd.testing.assert_frame_equal(tab2.drop(columns="seconds"), tab1.drop(columns="seconds"), check_exact=True)
    assert rec1["processes"] == 1 and rec1["shards"] == {}
    assert rec2["processes"] == 2
    return rec2


@pytest.mark.parametrize("method, data", [("pixel-pose", "AFLW2000-sample"), ("gt-landmarks", "synthetic")])
def test_run_on_two_processes_stores_the_one_process_run(tmp_path, plugin, method, data):
    """Images read by a plugin method in batches of 4 (37 images: chunks dealt to both
    processes); 600 synthetic labels through gt-landmarks (batches of 256: chunks 0 and 2 on
    process 0, chunk 1 on process 1). Same record (key, options, MAE, ...) and table."""
    from conftest import shared_path

    if data == "synthetic":
        args = ["run", "-m", method, "-d", "synthetic", "--dataset-option", "n=600", "--json"]
    else:
        args = ["run", "-m", method, "-d", "aflw2000", "--data-dir", str(shared_path("data", data)), "--json"]
    one = _posebench([*args, "--results-dir", str(tmp_path / "one")], tmp_path, plugin)
    assert one.returncode == 0, one.stderr[-1500:]
    logs = tmp_path / "logs"
    two = _posebench([*args, "--results-dir", str(tmp_path / "two")], tmp_path, plugin, 2, logs)
    said = _rank_output(logs)
    assert two.returncode == 0, (two.stderr[-1500:], said)
    rec = _same_run(tmp_path / "one", tmp_path / "two")
    chunk = {"pixel-pose": 4, "gt-landmarks": 256}[method]
    n = rec["n_samples"]
    share0 = sum(min(chunk, n - j * chunk) for j in range(0, -(-n // chunk), 2))
    assert rec["shards"]["chunk"] == chunk and rec["shards"]["samples_per_process"] == [share0, n - share0]
    assert min(rec["shards"]["samples_per_process"]) > 0  # both processes evaluated samples
    # process 0 alone reports (the --json object), process 1 prints nothing
    assert json.loads(said["0"][0].strip().splitlines()[-1])["mae"] == json.loads(one.stdout.strip())["mae"]
    assert said["1"] == ("", ""), said["1"]
    if method != "pixel-pose":
        return
    # a re-run under torchrun is served by the cache the two processes filled
    again = _posebench([*args, "--results-dir", str(tmp_path / "two")], tmp_path, plugin, 2, tmp_path / "logs2")
    assert again.returncode == 0
    rec, _ = _one_run(tmp_path / "two")
    assert rec["from_cache"] == n and rec["shards"]["samples_per_process"] == [0, 0]


@pytest.mark.parametrize("study, data, options", [
    ("lowres", "AFLW2000-sample", ["methods=pixel-pose,gt-landmarks", "factors=1,4"]),
    ("keypoints", "synthetic", []),  # a label study: process 0 solves it alone
])
def test_study_on_two_processes_stores_the_one_process_table(tmp_path, plugin, study, data, options):
    from conftest import shared_path

    if data == "synthetic":
        args = ["study", study, "-d", "synthetic", "--dataset-option", "n=40"]
    else:
        args = ["study", study, "-d", "aflw2000", "--data-dir", str(shared_path("data", data))]
    args += [a for o in options for a in ("-o", o)]
    one = _posebench([*args, "--results-dir", str(tmp_path / "one")], tmp_path, plugin)
    assert one.returncode == 0, one.stderr[-1500:]
    logs = tmp_path / "logs"
    two = _posebench([*args, "--results-dir", str(tmp_path / "two")], tmp_path, plugin, 2, logs)
    said = _rank_output(logs)
    assert two.returncode == 0, (two.stderr[-1500:], said)
    (csv1,) = (tmp_path / "one" / "tables").glob("*.csv")
    (csv2,) = (tmp_path / "two" / "tables").glob("*.csv")
    t1, t2 = pd.read_csv(csv1), pd.read_csv(csv2)
    timing = [c for c in t1.columns if "second" in c or c.startswith("ms")]
    pd.testing.assert_frame_equal(t2.drop(columns=timing), t1.drop(columns=timing), check_exact=True)
    assert json.loads(csv2.with_suffix(".json").read_text())["processes"] == 2
    assert said["1"] == ("", ""), said["1"]
    assert said["0"][0].startswith(f"{study} on {args[3]}")
    if study == "lowres":  # each (method, factor) run: the one-process record, made by two processes
        runs1 = {p.name: json.loads(p.read_text()) for p in (tmp_path / "one" / "runs").glob("*.json")}
        runs2 = {p.name: json.loads(p.read_text()) for p in (tmp_path / "two" / "runs").glob("*.json")}
        assert sorted(runs1) == sorted(runs2) and len(runs1) == 4
        for name, r1 in runs1.items():
            r2 = runs2[name]
            assert {k: v for k, v in r2.items() if k not in VOLATILE} == {k: v for k, v in r1.items() if k not in VOLATILE}
            assert r2["processes"] == 2


@pytest.mark.parametrize("method, rank1_says", [
    ("rank1-raises", "error: unexpected RuntimeError: a bug on process 1"),
    ("rank1-dies", None),  # killed: says nothing
])
def test_a_failing_process_ends_the_job_with_one_line_and_nothing_written(tmp_path, plugin, method, rank1_says):
    from conftest import shared_path

    logs = tmp_path / "logs"
    results = tmp_path / "results"
    proc = _posebench(["run", "-m", method, "-d", "aflw2000", "--data-dir", str(shared_path("data", "AFLW2000-sample")),
                       "--results-dir", str(results)], tmp_path, plugin, 2, logs)
    said = _rank_output(logs)
    assert proc.returncode != 0
    out0, err0 = said["0"]
    lines = [x for x in err0.splitlines() if x.strip()]
    assert out0 == "" and len(lines) == 1, said["0"]
    assert lines[0].startswith(("error: process 1 of 2 failed", "error: another process of this torchrun job",
                                "interrupted:")), lines
    if rank1_says:  # the failing process says its own error, in one line
        assert [x for x in said["1"][1].splitlines() if x.strip()][0].startswith(rank1_says), said["1"]
    assert not (results / "runs").exists() or not list((results / "runs").iterdir())


def test_shards_are_whole_batches_dealt_in_turn_and_cover_the_to_do_list():
    todo = [f"s{i}" for i in range(23)]
    parts = [shard_todo(todo, 4, Group(world=3, rank=r)) for r in range(3)]
    assert parts[0] == todo[0:4] + todo[12:16]
    assert parts[1] == todo[4:8] + todo[16:20]
    assert parts[2] == todo[8:12] + todo[20:23]
    assert sorted(sum(parts, [])) == sorted(todo)
    assert shard_todo(todo, 4, Group()) == todo
    assert shard_todo(todo[:3], 4, Group(world=2, rank=1)) == []  # fewer chunks than processes


def test_a_process_gone_without_torchrun_stopping_the_others_ends_them_with_one_line(tmp_path, plugin):
    """Processes of several machines: no torchrun agent stops the survivors, the process group's
    broken connection does (two processes started by hand with torchrun's variables; process 1
    is killed at its first face). Process 0 ends with one line, exit 1, nothing written."""
    from conftest import shared_path

    port = _free_port()
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "posebench", "run", "-m", "rank1-dies", "-d", "aflw2000",
           "--data-dir", str(shared_path("data", "AFLW2000-sample")), "--results-dir", str(results)]
    procs = []
    for rank in (0, 1):
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(plugin), RANK=str(rank), LOCAL_RANK=str(rank),
                   WORLD_SIZE="2", LOCAL_WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path))
    out0, err0 = procs[0].communicate(timeout=180)
    procs[1].communicate(timeout=60)
    assert procs[1].returncode == -9
    assert procs[0].returncode == 1 and out0 == "", (out0, err0)
    lines = [x for x in err0.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: another process of this torchrun job of 2 is gone"), err0
    assert "pair.cc" not in lines[0]  # the backend's source location is not the user's business
    assert not (results / "runs").exists() or not list((results / "runs").iterdir())
