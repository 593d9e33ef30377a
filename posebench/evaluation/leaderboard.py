"""Leaderboard: every stored run in a results folder as one markdown table per dataset.

Rows show method (with its non-default options), the set-up it ran under (``best: weak
perspective``, ``paper: iterative, focal 1 x width, no guard``, ``default``, ...), protocol, samples evaluated and failed,
MAE per angle and their mean, geodesic error, ms per sample and the paper's value where the paper
has one. Under each table, when several methods ran on the same samples, their MAE on the
samples *all* of them handled (failures differ between methods).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from posebench.errors import DataError
from posebench.evaluation.paper import paper_values
from posebench.evaluation.record import RecordError, RunRecord, read_record
from posebench.fileio import write_atomic
from posebench.metrics import summarize


def warn(message: str) -> None:
    """One line on stderr: a stored file skipped, never a traceback."""
    sys.stderr.write(f"posebench: warning: {message}\n")


def load_runs(results_dir: Path) -> list[tuple[RunRecord, Path]]:
    """Every readable run record under ``<results_dir>/runs`` with its path; damaged ones are
    skipped with a one-line warning naming the file and what is wrong."""
    runs = []
    for p in sorted(Path(results_dir).glob("runs/*.json")):
        try:
            runs.append((read_record(p), p))
        except RecordError as exc:
            warn(f"skipped run record {p.name}: {exc}")
    return runs


def method_label(rec: RunRecord) -> str:
    """The stored display label (method name with its non-default options)."""
    return rec.label


def _fmt(v, nd=2) -> str:
    return "–" if v is None or v != v else f"{v:.{nd}f}"


def render(results_dir: Path) -> str:
    runs = load_runs(results_dir)
    if not runs:
        raise DataError(f"no runs in {Path(results_dir) / 'runs'}; run `posebench run` first")
    lines = ["# posebench leaderboard", "",
             f"Made by `posebench leaderboard --results-dir {results_dir}` from {len(runs)} stored runs. "
             "Angles in degrees: MAE of wrapped absolute errors over the samples each method handled; "
             "geodesic = mean rotation angle error; ms/face = mean time per sample of the run that computed it.", ""]
    groups: dict[tuple[str, str], list[tuple[RunRecord, Path]]] = {}
    for r, p in runs:  # one table per dataset *content*: the same reader on another folder is another table
        groups.setdefault((r.dataset, r.fingerprint), []).append((r, p))
    for (ds, fp), group in sorted(groups.items(), key=lambda kv: (kv[0][0], -kv[1][0][0].n_samples)):
        group.sort(key=lambda rp: (rp[0].summary.mae != rp[0].summary.mae, _nan0(rp[0].summary.mae)))
        first = group[0][0]
        root = Path(first.data_root).name if first.data_root else "embedded"
        lines += [f"## {ds}: {first.n_samples} samples ({root}, fingerprint {fp})", "",
                  ("| method | set-up | protocol | n eval | n failed | yaw | pitch | roll | MAE | geodesic | ms/face | "
                   "paper MAE (yaw/pitch/roll/MAE) |"),
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r, _ in group:
            s = r.summary
            paper = "; ".join(f"{name}: {'/'.join(f'{v:g}' for v in vals)}"
                              for name, vals in paper_values(r.method, ds))
            sps = r.seconds_per_sample
            lines.append(
                f"| {r.label} | {r.setup or '–'} | {r.protocol} | {r.n_evaluated} | {r.n_failed} | "
                f"{_fmt(s.mae_yaw)} | {_fmt(s.mae_pitch)} | {_fmt(s.mae_roll)} | {_fmt(s.mae)} | "
                f"{_fmt(s.geodesic)} | {_fmt(None if sps is None else 1000 * sps, 1)} | {paper or '–'} |"
            )
        lines.append("")
        common = _common_table(group)
        if common:
            lines += common
    return "\n".join(lines)


def read_samples(csv: Path) -> pd.DataFrame | None:
    """A run's per-sample table, or None (with a one-line warning) when it is missing or damaged."""
    if not csv.is_file():
        return None
    try:
        t = pd.read_csv(csv, keep_default_na=False, na_values=[""])
        missing = [c for c in SAMPLE_COLUMNS if c not in t.columns]
        if missing:
            raise ValueError(f"no column {missing[0]!r}")
        for c in SAMPLE_COLUMNS[2:]:
            t[c] = pd.to_numeric(t[c], errors="raise")
        t["failure"] = t["failure"].fillna("").astype(str)
        t["id"] = t["id"].astype(str)
    except (ValueError, TypeError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        warn(f"skipped per-sample table {csv.name}: {str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}")
        return None
    return t


#: Columns the common-samples table reads from a run's CSV.
SAMPLE_COLUMNS = ("id", "failure", "err_yaw", "err_pitch", "err_roll", "err_mean", "geodesic", "maev")


def _nan0(v: float) -> float:
    return 0.0 if v != v else v


def _common_table(group: list[tuple[RunRecord, Path]]) -> list[str]:
    by_protocol: dict[str, list[tuple[RunRecord, Path]]] = {}
    for r, p in group:
        by_protocol.setdefault(r.protocol, []).append((r, p))
    out: list[str] = []
    for protocol, rs in by_protocol.items():
        if len(rs) < 2 or not any(r.n_failed for r, _ in rs):
            continue
        tables = {}
        for r, p in rs:
            t = read_samples(Path(p).with_suffix(".csv"))
            if t is not None:
                tables[r.label] = t
        if len(tables) < 2:
            continue
        ok_ids = None
        for t in tables.values():
            ids = set(t.loc[t["failure"] == "", "id"])
            ok_ids = ids if ok_ids is None else ok_ids & ids
        out += [f"On the {len(ok_ids)} samples of `{protocol}` that every method above handled:", "",
                "| method | yaw | pitch | roll | MAE |", "|---|---:|---:|---:|---:|"]
        common = [(label, summarize(t[t["id"].isin(ok_ids)])) for label, t in tables.items()]
        for label, s in sorted(common, key=lambda ls: ls[1].mae):
            out.append(f"| {label} | {_fmt(s.yaw)} | {_fmt(s.pitch)} | {_fmt(s.roll)} | {_fmt(s.mae)} |")
        out.append("")
    return out


def write_leaderboard(results_dir: Path, output: Path | None = None) -> tuple[str, Path]:
    text = render(results_dir)
    out = Path(output) if output else Path(results_dir) / "leaderboard.md"
    write_atomic(out, text + "\n")
    return text, out
