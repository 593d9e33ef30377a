"""Compare two results folders (committed vs re-made): every number must be identical.

    python scripts/compare_results.py results /tmp/remade

* ``tables/*.csv`` (study tables): every cell compared as text, except the columns that time a run,
  say whether it came from the cache or name a run by its key (:data:`NOT_RESULTS`: the lowres
  table has all three).
* ``runs/*.csv`` (per-sample tables): runs are paired by what they are (:func:`run_identity`:
  method label, protocol, sample count, data folder name), not by file name (cache keys differ
  between releases); the protocol tells apart runs that differ only by a degradation
  (``+ds5-v1``). Two runs of one folder with the same identity are an error (ambiguous), and so is
  a run in one folder only. Every
  column but ``seconds`` is compared as text, so every digit of every prediction and error must agree.
* ``leaderboard.md``: each section's table rows (sections paired by heading), with the ``ms/face``
  column (a timing) removed, found by its header, and run keys (in run and gallery links) masked.
* ``figures/*.png``: byte for byte (PDFs embed a creation date and are not compared).
Prints one line per file and exits 1 if anything differs.
"""

from __future__ import annotations

import json
import re
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


def run_identity(rec: dict) -> tuple[str, str, int, str]:
    """What a run is, whatever its key: ``(label, protocol, n_samples, data folder name)`` of a run
    record of either format (1: ``dataset`` a dict holding ``protocol`` and ``root``; 2: RunRecord)."""
    ds = rec.get("dataset")
    nested = ds if isinstance(ds, dict) else {}
    root = rec.get("data_root", nested.get("root", "")) or ""
    protocol = rec.get("protocol", nested.get("protocol", ""))
    return _label(rec), str(protocol), int(rec["n_samples"]), Path(root).name


def run_index(folder: Path) -> tuple[dict[tuple, Path], list[tuple]]:
    """``({run identity: per-sample CSV}, [identities held by more than one run])`` of ``folder/runs``."""
    out: dict[tuple, Path] = {}
    ambiguous = []
    for p in sorted(folder.glob("runs/*.json")):
        key = run_identity(json.loads(p.read_text()))
        if key in out and key not in ambiguous:
            ambiguous.append(key)
        out[key] = p.with_suffix(".csv")
    return out, ambiguous


#: Study-table columns that are not results: timings, cache hits and run keys (the lowres
#: table's ``run`` names each run's file, whose key changes with the cache-key format).
NOT_RESULTS = ("seconds", "seconds_per_face", "ms_per_face", "from_cache", "run")
#: A run key in a leaderboard link (``runs/<method>__<dataset>__<key>.json``, its last 8 hex as the
#: link text, ``galleries/<method>__<dataset>__<key>/``).
_RUN_KEY = re.compile(r"__[0-9a-f]{20}\b")
_RUN_LINK_TEXT = re.compile(r"\[[0-9a-f]{8}\]\(runs/")


def leaderboard_sections(path: Path) -> dict[str, list[str]]:
    """``{section heading: its table rows}`` of a leaderboard: the ``ms/face`` column (a timing,
    found by its header) dropped and run keys masked. Sections are keyed by their heading (the
    dataset content: name, size, folder, fingerprint), so their order does not matter; rows
    within a section keep theirs."""
    sections: dict[str, list[str]] = {}
    rows, drop = sections.setdefault("", []), None
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            rows = sections.setdefault(line, [])
            continue
        if not line.startswith("| "):
            continue
        cells = line.split(" | ")
        if line.startswith("| method"):
            drop = cells.index("ms/face") if "ms/face" in cells else None
            continue
        if drop is not None and len(cells) > drop:
            cells = cells[:drop] + cells[drop + 1:]
        row = _RUN_LINK_TEXT.sub("[KEY](runs/", " | ".join(cells))
        rows.append(_RUN_KEY.sub("__KEY", row))
    return sections


def _study_table(path: Path) -> pd.DataFrame:
    t = pd.read_csv(path, dtype=str, keep_default_na=False)
    return t.drop(columns=[c for c in NOT_RESULTS if c in t.columns])


def _label_of(key: tuple) -> str:
    label, protocol, n, folder = key
    return f"{label} on {folder} ({protocol}, {n} samples)"


def main(old: str, new: str) -> int:
    a, b = Path(old), Path(new)
    bad = 0
    for p in sorted(a.glob("tables/*.csv")):
        q = b / "tables" / p.name
        same = q.is_file() and _study_table(p).equals(_study_table(q))
        print(f"{'same' if same else 'DIFFERENT'}  tables/{p.name}")
        bad += not same
    (ia, amb_a), (ib, amb_b) = run_index(a), run_index(b)
    for side, amb in ((a, amb_a), (b, amb_b)):
        for key in amb:
            print(f"AMBIGUOUS  run {_label_of(key)}: several runs in {side}")
            bad += 1
    for key, p in ia.items():
        q = ib.get(key)
        if q is None:
            print(f"MISSING    run {_label_of(key)}")
            bad += 1
            continue
        ta = pd.read_csv(p, dtype=str, keep_default_na=False).drop(columns=["seconds"])
        tb = pd.read_csv(q, dtype=str, keep_default_na=False).drop(columns=["seconds"])
        same = ta.equals(tb)
        print(f"{'same' if same else 'DIFFERENT'}  run {_label_of(key)}: {ta.size} values")
        bad += not same
    for key in sorted(ib.keys() - ia.keys()):
        print(f"EXTRA      run {_label_of(key)} (only in {b})")
        bad += 1
    la, lb = leaderboard_sections(a / "leaderboard.md"), leaderboard_sections(b / "leaderboard.md")
    for heading in sorted(la.keys() | lb.keys()):
        if la.get(heading) != lb.get(heading):
            print(f"DIFFERENT  leaderboard.md section {heading or '(before the first heading)'!r}")
            bad += 1
    n_rows = sum(len(v) for v in la.values())
    same = la == lb
    print(f"{'same' if same else 'DIFFERENT'}  leaderboard.md: {len(la)} sections, {n_rows} rows (ms/face column "
          "and run keys excluded)")
    for p in sorted(a.glob("figures/*.png")):
        q = b / "figures" / p.name
        same = q.is_file() and p.read_bytes() == q.read_bytes()
        print(f"{'same' if same else 'DIFFERENT'}  figures/{p.name}")
        bad += not same
    print(f"{bad} difference(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
