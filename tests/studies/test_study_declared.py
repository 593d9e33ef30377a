"""Studies built like methods: options declared once and recorded by the framework, one ``run``
signature, a default summary that keeps every condition column, and README's study example run
word for word through ``posebench study`` in a fresh process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from posebench.datasets.synthetic import make_synthetic
from posebench.errors import PluginError
from posebench.registry import studies
from posebench.studies.base import Study, is_result_column, run_signature_problem
from posebench.studies.run import run_and_store, run_study

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_study_example() -> str:
    """The Python block of README's "Extending posebench" that registers a study."""
    text = README.read_text()
    part = text[text.index("## Extending posebench"):]
    blocks = re.findall(r"```python\n(.*?)```", part, flags=re.S)
    found = [b for b in blocks if "register_study(" in b and "(Study)" in b]
    assert len(found) == 1, "README's 'Extending posebench' should hold one study example"
    return found[0]


def test_readme_study_example_runs_records_its_options_and_summarises_its_conditions(tmp_path):
    src = readme_study_example()
    name = re.search(r'register_study\("([^"]+)"', src).group(1)
    (tmp_path / "readme_study.py").write_text(src)
    dist = tmp_path / "readme_study-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: readme_study\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[posebench.studies]\n{name} = readme_study\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "MPLBACKEND": "Agg"}
    res = tmp_path / "res"
    cmd = [str(Path(sys.executable).with_name("posebench")), "study", name, "--dataset-option", "n=60",
           "-o", "limits=20,45", "--plot", "--results-dir", str(res)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    record = json.loads((res / "tables" / f"{name}-synthetic.json").read_text())
    assert record["settings"] == {"limits": "20,45"}  # recorded by the framework, not {}
    table = pd.read_csv(res / "tables" / f"{name}-synthetic.csv")
    assert list(table["max_yaw"]) == [20.0, 45.0]
    lines = out.stdout.splitlines()
    head = next(i for i, ln in enumerate(lines) if "mae" in ln.split())
    assert lines[head].split()[0] == "max_yaw"  # the numeric condition labels the rows
    rows = [ln.split() for ln in lines[head + 1:head + 3]]
    assert [float(r[0]) for r in rows] == [20.0, 45.0]
    assert [int(r[1]) for r in rows] == list(table["n"])
    assert (res / "figures" / f"{name}-synthetic.png").is_file()


class _Sweep(Study):
    name = "sweep"
    result_columns = ("hits",)

    def __init__(self, levels: str = "1,2", scale: float = 1.0, face: str = "default", workers: int = 2):
        super().__init__()
        self.levels = [float(v) for v in levels.split(",")]

    runtime_options = frozenset({"workers"})

    def run(self, dataset):
        return pd.DataFrame({"level": self.levels, "kind": "a", "hits": [3, 4], "mae": [0.5, 0.25]})

    def plot(self, table, stem, title=""):
        return []


def test_options_are_recorded_from_the_signature_and_file_options_digested(tmp_path):
    face = tmp_path / "face.txt"
    face.write_text("1 2 3\n")
    s = _Sweep(scale=2, face=str(face))
    assert s.options() == {"levels": "1,2", "scale": 2.0, "face": "face.txt"}  # int -> float; runtime option out
    first = s.file_digests()
    assert list(first) == ["option:face"]
    face.write_text("1 2 4\n")
    assert _Sweep(face=str(face)).file_digests() != first


def test_stored_record_holds_the_options_and_the_digest_of_a_face_file(tmp_path, u_base):
    _, _, _, _, (_, js) = run_and_store("keypoints", "synthetic", tmp_path, {"subsets": "6,68", "backend": "cv2",
                                                                          "face": str(u_base)}, {"n": 6})
    record = json.loads(js.read_text())
    assert record["settings"] == {"subsets": "6,68", "solver": "iterative", "focal": 1.0, "face": u_base.name,
                                  "face_units": "mm", "backend": "cv2"}
    from posebench.fileio import file_digest

    assert record["files"] == {"option:face": file_digest(u_base)[:16]}


def test_image_study_records_its_per_method_options():
    s = studies.create("lowres", {"methods": "gt-landmarks", "factors": "1", "gt-landmarks.solver": "weak"})
    assert s.options() == {"methods": "gt-landmarks", "factors": "1", "penalty": 90.0, "gt-landmarks.solver": "weak"}


def test_default_summary_keeps_numeric_and_fixed_conditions():
    table = pd.DataFrame({"level": [1.0, 2.0], "n_points": [6, 68], "kind": ["a", "a"], "n": [5, 5],
                          "hits": [3, 4], "mae": [0.5, 0.25]})
    text = _Sweep().summary(table)
    lines = text.splitlines()
    assert lines[0] == "kind: a"  # the same in every row: said once
    assert lines[1].split() == ["level", "n_points", "n", "hits", "mae"]
    assert lines[2].split() == ["1.000", "6", "5", "3", "0.500"]
    assert [c for c in table if not is_result_column(c, _Sweep.result_columns)] == ["level", "n_points", "kind"]


class _OldRun(_Sweep):
    def run(self, dataset, progress):
        return super().run(dataset)


def test_another_run_signature_is_named_in_one_line():
    why = run_signature_problem(_OldRun)
    assert "run(self, dataset, progress)" in why and "run(self, dataset) -> DataFrame" in why and "\n" not in why
    with pytest.raises(PluginError, match=r"study 'sweep'.*run\(self, dataset\) -> DataFrame"):
        run_study(_OldRun(), make_synthetic(n=4), progress=False)


def test_landmark_study_counts_its_work_on_the_runners_bar():
    from posebench.studies.base import landmark_data

    study = studies.create("keypoints", {"subsets": "6,68", "backend": "cv2"})
    ds = make_synthetic(n=5)
    counted = []
    study.on_progress = counted.append
    study.run(ds)
    assert sum(counted) == study.work(landmark_data(ds)) == 10
