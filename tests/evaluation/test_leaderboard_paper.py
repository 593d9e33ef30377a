"""Leaderboard with the paper: every reported row of Tables 1-5, reproduced rows linking their
run records, |yaw| bins, and the seeded paired bootstrap ("A beats B" with an interval)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from posebench.datasets.synthetic import make_synthetic
from posebench.evaluation.compare import paired_bootstrap
from posebench.evaluation.leaderboard import render
from posebench.evaluation.paper import REPORTED
from posebench.evaluation.runner import evaluate
from posebench.method import create_method


def test_paired_bootstrap_known_answers():
    rng = np.random.default_rng(1)
    b = rng.uniform(2, 20, 200)
    c = paired_bootstrap(b - 1.0, b)  # A is exactly 1 degree better on every face
    assert c.mean_diff == pytest.approx(-1.0) and c.lo == pytest.approx(-1.0) and c.hi == pytest.approx(-1.0)
    assert c.verdict("A", "B") == "A beats B"
    noise = rng.normal(0, 1, 200)
    same = paired_bootstrap(b + noise, b + noise[::-1])
    assert same.lo < 0 < same.hi and same.verdict("A", "B") == "no clear difference"
    assert paired_bootstrap(b + noise, b) == paired_bootstrap(b + noise, b)  # seeded
    assert paired_bootstrap(b, b - 0.5).verdict("A", "B") == "B beats A"


def test_every_row_of_tables_1_2_4_5_is_listed():
    counts = {t: sum(1 for r in REPORTED if r[0] == t) for t in (1, 2, 3, 4, 5)}
    assert counts == {1: 6, 2: 8, 3: 2, 4: 4, 5: 11}
    paper_only = {r[2] for r in REPORTED if r[3] is None}
    assert {"3DDFA [35]", "KEPLER [14]", "3DMM + Online [33]"} <= paper_only


def test_render_reported_beside_reproduced_with_links_and_paired_ci(tmp_path):
    ds = make_synthetic(n=60, seed=2)
    for opts in ({"solver": "iterative"}, {"solver": "sqpnp"}, {"face": "exact"}):
        evaluate(create_method("gt-landmarks", opts), ds, tmp_path, progress=False)
    text = render(tmp_path)
    assert "# The paper's tables: reported and reproduced" in text
    for title in ("Table 1", "Table 2", "Table 4", "Table 5"):
        assert f"## {title}:" in text
    assert "| 3DMM + Online [33] | paper only |" in text and "| KEPLER [14] | paper only |" in text
    for link in re.findall(r"\]\((runs/[^)]+\.json)\)", text):
        assert (tmp_path / link).is_file()
    assert r"MAE \|yaw\| [0,30)" in text  # synthetic yaw spreads over the bins
    assert "Does each method beat the next one down?" in text and "95% interval" in text


def test_main_tables_list_each_published_row_as_reported_with_its_source(tmp_path, monkeypatch):
    from posebench.evaluation import paper

    ds = make_synthetic(n=20, seed=2)
    evaluate(create_method("gt-landmarks", {}), ds, tmp_path, progress=False)
    monkeypatch.setitem(paper.PAPER, ("whenet", ds.name), [("WHENet, BMVC 2020", (1.0, 2.0, 3.5, 2.25))])
    monkeypatch.setitem(paper.PAPER, ("hopenet", ds.name), [("Table 1, Multi-Loss ResNet50 (alpha=2)", (4.0, 5.0, 6.0, 5.0))])
    text = render(tmp_path, paper=False)
    header = next(ln for ln in text.splitlines() if ln.startswith("| method | set-up |"))
    whenet = next(ln for ln in text.splitlines() if ln.startswith("| whenet |"))
    assert whenet.startswith("| whenet | reported: WHENet, BMVC 2020 | published, full test set | – | – | 1 | 2 | 3.5 | 2.25 |")
    cells = re.compile(r"(?<!\\)\|")  # a column bar, not an escaped one in a heading
    assert len(cells.findall(whenet)) == len(cells.findall(header))  # the same columns as the runs' rows
    assert "| hopenet | reported: Ruiz, Chong & Rehg, CVPRW 2018, Table 1, Multi-Loss ResNet50 (alpha=2) |" in text
    assert text.index("| gt-landmarks |") < text.index("| whenet |")  # beside the runs, after them
    assert text.count("| whenet | reported:") == 1
    evaluate(create_method("gt-landmarks", {}), make_synthetic(n=10, seed=3), tmp_path, progress=False)
    text = render(tmp_path, paper=False)  # two tables of the dataset: listed once, in the larger one
    assert text.count("| whenet | reported:") == 1
    assert text.index("## synthetic: 20 samples") < text.index("| whenet |") < text.index("## synthetic: 10 samples")
    monkeypatch.delitem(paper.PAPER, ("whenet", ds.name))
    monkeypatch.delitem(paper.PAPER, ("hopenet", ds.name))
    assert "reported:" not in render(tmp_path, paper=False)
def test_a_paper_only_row_lists_its_successors_runs_as_such(tmp_path, monkeypatch):
    """Table 1's 3DDFA row (v1, paper only) gets the runs of its successor beneath it, labelled
    "successor, not a reproduction"; a row whose successor has no run gets nothing beneath."""
    from conftest import SHARED

    labels = SHARED / "data" / "AFLW2000-labels"
    if not labels.is_dir():
        pytest.skip(f"AFLW2000 labels not in {SHARED}")
    import posebench.evaluation.leaderboard as lb
    from posebench.datasets.base import Dataset
    from posebench.registry import datasets

    monkeypatch.setenv("POSEBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setitem(lb.SUCCESSORS, "3DDFA [35]", ("gt-landmarks", "a stand-in successor"))
    ds = datasets.create("aflw2000", data_dir=str(labels))
    ds = Dataset(ds.name, ds.protocol, list(ds)[:12])
    evaluate(create_method("gt-landmarks", {}), ds, tmp_path / "res", progress=False)
    lines = render(tmp_path / "res").splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("| 3DDFA [35] | paper only |"))
    assert lines[row + 1].startswith("| ↳ `gt-landmarks`: a stand-in successor")
    assert lines[row + 2].startswith("| ↳ gt-landmarks | successor, not a reproduction | 12/12 |")
    biwi = [i for i, line in enumerate(lines) if line.startswith("| 3DDFA [35] | paper only |")][1]
    assert not lines[biwi + 1].startswith("| ↳")
