"""Compare two results folders (committed vs re-made): every number must be identical.

    python scripts/compare_results.py results /tmp/remade

* ``tables/*.csv`` (study tables): every cell compared as text, except the columns that time a run
  or say whether it came from the cache (:data:`NOT_RESULTS`: the lowres table has both).
* ``runs/*.csv`` (per-sample tables): runs are paired by method label, data folder name and
  sample count (cache keys differ between releases); every column but ``seconds`` is compared as
  text, so every digit of every prediction and error must agree.
* ``leaderboard.md``: the table rows with the ``ms/face`` column (a timing) removed, found by its header.
* ``figures/*.png``: byte for byte (PDFs embed a creation date and are not compared).
Prints one line per file and exits 1 if anything differs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd


def _label(rec: dict) -> str:
    """The display label of a run record of either format (1: nested dicts; 2: RunRecord)."""
    if "label" in rec:
        return rec["label"]
    from posebench.registry import methods

    name, opts = rec["method"]["method"], rec["method"].get("options") or {}
    defaults = methods.defaults(name)
    shown = ", ".join(f"{k}={v}" for k, v in sorted(opts.items())
                      if v not in (None, "", "default") and (k not in defaults or str(defaults[k]) != str(v)))
    return name + (f" ({shown})" if shown else "")


def _run_index(folder: Path) -> dict[tuple, Path]:
    out = {}
    for p in sorted(folder.glob("runs/*.json")):
        rec = json.loads(p.read_text())
        root = rec.get("data_root", rec.get("dataset", {}).get("root", "")) if isinstance(rec.get("dataset"), dict) \
            else rec.get("data_root", "")
        out[(_label(rec), Path(root).name, rec["n_samples"])] = p.with_suffix(".csv")
    return out


#: Study-table columns that are not results: timings and cache hits.
NOT_RESULTS = ("seconds", "seconds_per_face", "from_cache")


def _leaderboard_rows(path: Path) -> list[str]:
    rows, drop = [], None
    for line in path.read_text().splitlines():
        if not line.startswith("| "):
            continue
        cells = line.split(" | ")
        if line.startswith("| method"):
            drop = cells.index("ms/face") if "ms/face" in cells else None
            continue
        if drop is not None and len(cells) > drop:
            cells = cells[:drop] + cells[drop + 1:]
        rows.append(" | ".join(cells))
    return rows


def _study_table(path: Path) -> pd.DataFrame:
    t = pd.read_csv(path, dtype=str, keep_default_na=False)
    return t.drop(columns=[c for c in NOT_RESULTS if c in t.columns])


def main(old: str, new: str) -> int:
    a, b = Path(old), Path(new)
    bad = 0
    for p in sorted(a.glob("tables/*.csv")):
        q = b / "tables" / p.name
        same = q.is_file() and _study_table(p).equals(_study_table(q))
        print(f"{'same' if same else 'DIFFERENT'}  tables/{p.name}")
        bad += not same
    ia, ib = _run_index(a), _run_index(b)
    for key, p in ia.items():
        q = ib.get(key)
        if q is None:
            print(f"MISSING    run {key}")
            bad += 1
            continue
        ta = pd.read_csv(p, dtype=str, keep_default_na=False).drop(columns=["seconds"])
        tb = pd.read_csv(q, dtype=str, keep_default_na=False).drop(columns=["seconds"])
        same = ta.equals(tb)
        print(f"{'same' if same else 'DIFFERENT'}  run {key[0]} on {key[1]} ({key[2]} samples, {ta.size} values)")
        bad += not same
    same = _leaderboard_rows(a / "leaderboard.md") == _leaderboard_rows(b / "leaderboard.md")
    print(f"{'same' if same else 'DIFFERENT'}  leaderboard.md rows (ms/face column excluded)")
    bad += not same
    for p in sorted(a.glob("figures/*.png")):
        q = b / "figures" / p.name
        same = q.is_file() and p.read_bytes() == q.read_bytes()
        print(f"{'same' if same else 'DIFFERENT'}  figures/{p.name}")
        bad += not same
    print(f"{bad} difference(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
