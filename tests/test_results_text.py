"""The study outputs quoted in results/image-studies.md are the committed tables' own summaries.

Each fenced block after a ``<!-- summary of tables/NAME-DATASET.csv -->`` line must equal what the
study prints for that committed table (its ``summary``), word for word; and every number with
two decimals in the document's prose (outside code blocks) must be one that a quoted summary
prints. A re-made table that moves a number, or an edited block or sentence, fails here. No
shared data needed: the tables are committed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "results" / "image-studies.md"
MARK = re.compile(r"<!-- summary of (tables/[\w.-]+\.csv) -->\s*```\n(.*?)\n```", re.S)


def _summary(table: Path) -> str:
    from posebench.studies.run import create_study

    meta = json.loads(table.with_suffix(".json").read_text(encoding="utf-8"))
    settings = meta["settings"]
    # the study's own options (not per-method ones, whose files need not exist here)
    opts = {k: v for k, v in settings.items() if "." not in k and k not in ("methods", "detectors")}
    study = create_study(meta["study"], opts)
    return study.summary(pd.read_csv(table, keep_default_na=False, na_values=[""]))


def _blocks() -> list[tuple[str, str]]:
    return MARK.findall(DOC.read_text(encoding="utf-8"))


def test_the_document_quotes_summaries():
    names = [t for t, _ in _blocks()]
    assert names == ["tables/lowres-aflw2000.csv", "tables/landmark-count-aflw2000.csv", "tables/yaw-bins-aflw2000.csv"]


@pytest.mark.parametrize("table,block", _blocks(), ids=[t for t, _ in _blocks()])
def test_quoted_block_is_the_tables_summary(table, block):
    assert _summary(REPO / "results" / table) == block, f"re-render {table}'s summary into {DOC.name}"


def test_prose_numbers_come_from_the_quoted_summaries():
    text = DOC.read_text(encoding="utf-8")
    values = [float(v) for v in re.findall(r"-?\d+\.\d{2,3}\b", " ".join(b for _, b in _blocks()))]
    printed = {f"{abs(v):.2f}" for v in values}  # a 3-decimal table value is quoted to 2 decimals
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    quoted = re.findall(r"-?\d+\.\d\d\b", prose)
    assert quoted
    missing = sorted({q for q in quoted if q.lstrip("-") not in printed})
    assert not missing, f"numbers in {DOC.name}'s text that no quoted summary prints: {missing}"
