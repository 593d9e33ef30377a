"""Leaderboard: every stored run in a results folder as one markdown table per dataset.

Rows show method (with its non-default options), the set-up it ran under (``best: weak
perspective``, ``paper: iterative, focal 1 x width, no guard``, ``default``, ...), protocol, samples evaluated and failed,
MAE per angle and their mean, geodesic error, ms per sample and the paper's value where the paper
has one. Under each table, when several methods ran on the same samples, their MAE on the
samples *all* of them handled (failures differ between methods).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from posebench.fileio import write_atomic
from posebench.errors import DataError
from posebench.metrics import summarize
from posebench.evaluation.paper import paper_values


def load_runs(results_dir: Path) -> list[dict]:
    runs = []
    for p in sorted(Path(results_dir).glob("runs/*.json")):
        try:
            rec = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        rec["_path"] = p
        runs.append(rec)
    return runs


def _defaults(method: str) -> dict:
    import inspect

    from posebench.registry import methods

    try:
        sig = inspect.signature(methods.get(method).factory)
    except Exception:
        return {}
    return {n: p.default for n, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def method_label(rec: dict) -> str:
    """Method name with the options that differ from the method's defaults."""
    name = rec["method"]["method"]
    opts = rec["method"].get("options") or {}
    defaults = _defaults(name)
    shown = ", ".join(f"{k}={v}" for k, v in sorted(opts.items())
                      if v not in (None, "", "default") and (k not in defaults or str(defaults[k]) != str(v)))
    return name + (f" ({shown})" if shown else "")


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
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs:  # one table per dataset *content*: the same reader on another folder is another table
        groups.setdefault((r["dataset"]["name"], r["dataset"]["fingerprint"]), []).append(r)
    for (ds, fp), group in sorted(groups.items(), key=lambda kv: (kv[0][0], -kv[1][0]["n_samples"])):
        group.sort(key=lambda r: (r["summary"]["mae"] is None, r["summary"]["mae"] or 0.0))
        root = Path(group[0]["dataset"]["root"]).name if group[0]["dataset"]["root"] else "embedded"
        lines += [f"## {ds}: {group[0]['n_samples']} samples ({root}, fingerprint {fp})", "",
                  ("| method | set-up | protocol | n eval | n failed | yaw | pitch | roll | MAE | geodesic | ms/face | "
                   "paper MAE (yaw/pitch/roll/MAE) |"),
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in group:
            s = r["summary"]
            paper = "; ".join(f"{name}: {'/'.join(f'{v:g}' for v in vals)}"
                              for name, vals in paper_values(r["method"]["method"], ds))
            sps = r.get("seconds_per_sample")
            lines.append(
                f"| {method_label(r)} | {r['method'].get('setup') or '–'} | {r['dataset']['protocol']} | {r['n_evaluated']} | {r['n_failed']} | "
                f"{_fmt(s['mae_yaw'])} | {_fmt(s['mae_pitch'])} | {_fmt(s['mae_roll'])} | {_fmt(s['mae'])} | "
                f"{_fmt(s['geodesic'])} | {_fmt(None if sps is None else 1000 * sps, 1)} | {paper or '–'} |"
            )
        lines.append("")
        common = _common_table(group)
        if common:
            lines += common
    return "\n".join(lines)


def _common_table(group: list[dict]) -> list[str]:
    by_protocol: dict[str, list[dict]] = {}
    for r in group:
        by_protocol.setdefault(r["dataset"]["protocol"], []).append(r)
    out: list[str] = []
    for protocol, rs in by_protocol.items():
        if len(rs) < 2 or not any(r["n_failed"] for r in rs):
            continue
        tables = {}
        for r in rs:
            csv = Path(r["_path"]).with_suffix(".csv")
            if csv.is_file():
                tables[method_label(r)] = pd.read_csv(csv, keep_default_na=False, na_values=[""])
        if len(tables) < 2:
            continue
        ok_ids = None
        for t in tables.values():
            ids = set(t.loc[t["failure"].fillna("") == "", "id"])
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
