"""Leaderboard: every stored run in a results folder as one markdown table per dataset.

Rows show method (with its non-default options), protocol, samples evaluated and failed,
MAE per angle and their mean, geodesic error, MAE per |true yaw| bin (where the dataset's yaw
spreads over more than one bin), ms per sample, a link to the run record and the paper's value
where the paper has one. Under each table, when several methods ran on the same samples, their
MAE on the samples *all* of them handled (failures differ between methods), and whether the best
of them beats each other one: the paired per-face error difference with a seeded paired-bootstrap
95% interval (:mod:`posebench.evaluation.compare`).

A final section lists every row of the paper's Tables 1-5 as "reported" (methods posebench
cannot run marked "paper only"), each followed by the stored runs that reproduce it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from posebench.fileio import write_atomic
from posebench.errors import DataError
from posebench.metrics import summarize
from posebench.evaluation.compare import paired_bootstrap
from posebench.evaluation.paper import TABLE_PROTOCOLS, TABLE_TITLES, paper_values, reported_rows


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
        bins = _yaw_bins(group)
        lines += [f"## {ds}: {group[0]['n_samples']} samples ({root}, fingerprint {fp})", "",
                  "| method | protocol | n eval | n failed | yaw | pitch | roll | MAE | geodesic | "
                  + "".join(f"MAE \\|yaw\\| {b} | " for b in bins) + "ms/face | run | paper MAE (yaw/pitch/roll/MAE) |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(bins) + "---:|---|---|"]
        for r in group:
            s = r["summary"]
            paper = "; ".join(f"{name}: {'/'.join(f'{v:g}' for v in vals)}"
                              for name, vals in paper_values(r["method"]["method"], ds)
                              if "+ds" not in r["dataset"]["protocol"])  # degraded images: not Table 1's set-up
            sps = r.get("seconds_per_sample")
            by_bin = r.get("by_yaw_bin") or {}
            cells = "".join(f"{_fmt((by_bin.get(b) or {}).get('mae'))} ({(by_bin.get(b) or {}).get('n', 0)}) | "
                            for b in bins)
            lines.append(
                f"| {method_label(r)} | {r['dataset']['protocol']} | {r['n_evaluated']} | {r['n_failed']} | "
                f"{_fmt(s['mae_yaw'])} | {_fmt(s['mae_pitch'])} | {_fmt(s['mae_roll'])} | {_fmt(s['mae'])} | "
                f"{_fmt(s['geodesic'])} | {cells}{_fmt(None if sps is None else 1000 * sps, 1)} | {_link(r)} | {paper or '–'} |"
            )
        lines.append("")
        common = _common_table(group)
        if common:
            lines += common
    lines += _paper_section(runs)
    return "\n".join(lines)


def _link(rec: dict) -> str:
    """Markdown link to a run record, relative to the results folder (where leaderboard.md is)."""
    p = Path(rec["_path"])
    return f"[{p.stem[-8:]}](runs/{p.name})"


def _yaw_bins(group: list[dict]) -> list[str]:
    """|yaw| bins holding samples, when the dataset's yaw spreads over more than one of them."""
    counts: dict[str, int] = {}
    for r in group:
        for b, v in (r.get("by_yaw_bin") or {}).items():
            counts[b] = max(counts.get(b, 0), int(v.get("n") or 0))
    filled = [b for b, n in counts.items() if n > 0]
    return list(counts) if len(filled) > 1 else []


def _paper_section(runs: list[dict]) -> list[str]:
    """Every row of the paper's Tables 1-5, reported, each with the stored runs reproducing it."""
    out = ["# The paper's tables: reported and reproduced", "",
           "Every row of Tables 1-5 of Ruiz, Chong & Rehg (CVPRW 2018) as printed (\"reported\"; \"paper only\" "
           "where posebench cannot run the method), each followed by the stored runs of the posebench method "
           "that reproduces it on that dataset (any sample count, any options: read n and the options before "
           "comparing; the paper's rows are on the full test sets). Degraded-image runs (`+ds` protocols) "
           "belong to the low-resolution study and are left out here; a table takes runs of its protocol only "
           "(Table 2: `biwi-v1`, all frames; Table 3: `biwi-p2-test-*`).", ""]
    from posebench.registry import methods

    registered = set(methods.names())
    for table in sorted(TABLE_TITLES):
        out += [f"## {TABLE_TITLES[table]}", "",
                "| row | kind | n | yaw | pitch | roll | MAE | run | note |", "|---|---|---:|---:|---:|---:|---:|---|---|"]
        shown: set[str] = set()
        for _, ds, label, method, vals, note in reported_rows(table):
            kind = "paper only" if method is None else "reported"
            last = f"{vals[3]:g} (sum)" if table == 3 else f"{vals[3]:g}"
            out.append(f"| {label} | {kind} | – | {vals[0]:g} | {vals[1]:g} | {vals[2]:g} | {last} | – | {note} |")
            if method is None or (method, ds) in shown:
                continue
            shown.add((method, ds))
            mine = [r for r in runs if r["method"]["method"] == method and r["dataset"]["name"] == ds
                    and r["dataset"]["protocol"].startswith(TABLE_PROTOCOLS[table]) and "+ds" not in r["dataset"]["protocol"]]
            mine.sort(key=lambda r: (-r["n_samples"], r["summary"]["mae"] if r["summary"]["mae"] is not None else 1e9))
            if not mine:
                why = ("no stored run (weights or data absent here)" if method in registered
                       else "no posebench method of this name yet (training issue)")
                out.append(f"| ↳ `{method}` | not reproduced here | | | | | | | {why} |")
            for r in mine:
                s = r["summary"]
                out.append(f"| ↳ {method_label(r)} | reproduced | {r['n_evaluated']}/{r['n_samples']} | "
                           f"{_fmt(s['mae_yaw'])} | {_fmt(s['mae_pitch'])} | {_fmt(s['mae_roll'])} | {_fmt(s['mae'])} | "
                           f"{_link(r)} | {r['dataset']['protocol']}, {Path(str(r['dataset']['root'] or 'embedded')).name} |")
        out.append("")
    return out


def _common_table(group: list[dict]) -> list[str]:
    by_protocol: dict[str, list[dict]] = {}
    for r in group:
        by_protocol.setdefault(r["dataset"]["protocol"], []).append(r)
    out: list[str] = []
    for protocol, rs in by_protocol.items():
        if len(rs) < 2:
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
            ids = set(t.loc[t["failure"].isna() | (t["failure"].astype(str) == ""), "id"])
            ok_ids = ids if ok_ids is None else ok_ids & ids
        out += [f"On the {len(ok_ids)} samples of `{protocol}` that every method above handled:", "",
                "| method | yaw | pitch | roll | MAE |", "|---|---:|---:|---:|---:|"]
        common = [(label, summarize(t[t["id"].isin(ok_ids)])) for label, t in tables.items()]
        common.sort(key=lambda ls: ls[1].mae)
        for label, s in common:
            out.append(f"| {label} | {_fmt(s.yaw)} | {_fmt(s.pitch)} | {_fmt(s.roll)} | {_fmt(s.mae)} |")
        out.append("")
        out += _paired_lines([label for label, _ in common], tables, sorted(ok_ids))
    return out


def _paired_lines(ranked: list[str], tables: dict[str, pd.DataFrame], ids: list[str]) -> list[str]:
    """Each method against the next one down the common-sample ranking: paired bootstrap (seed 0)."""
    if not ids or len(ranked) < 2:
        return []

    def per_face(label: str):
        t = tables[label].drop_duplicates("id").set_index("id")
        return t.loc[ids, "err_mean"].to_numpy(float)

    out = [f"Does each method beat the next one down? Paired per-face difference of the mean angle error on "
           f"these {len(ids)} samples (A minus B; negative: A is better), with a paired-bootstrap 95% interval "
           "(2000 resamples of the faces, seed 0):", "",
           "| A | B | mean difference | 95% interval | verdict |", "|---|---|---:|---|---|"]
    for a, b in zip(ranked, ranked[1:]):
        c = paired_bootstrap(per_face(a), per_face(b))
        out.append(f"| {a} | {b} | {_fmt(c.mean_diff)} | [{_fmt(c.lo)}, {_fmt(c.hi)}] | {c.verdict('A', 'B')} |")
    out.append("")
    return out


def write_leaderboard(results_dir: Path, output: Path | None = None) -> tuple[str, Path]:
    text = render(results_dir)
    out = Path(output) if output else Path(results_dir) / "leaderboard.md"
    write_atomic(out, text + "\n")
    return text, out
