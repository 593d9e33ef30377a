"""Leaderboard: every stored run in a results folder as one markdown table per dataset.

Rows show method (with its non-default options, the label stored in the run record), the set-up it
ran under (``weak-perspective: scaled-orthographic fit``, ``paper: iterative, focal 1 x width, no guard``, ...), protocol,
samples evaluated and failed, MAE per angle and their mean, geodesic error, MAE per |true yaw|
bin (where the dataset's yaw spreads over more than one bin), ms per sample, a link to the run
record (and to its worst-case gallery, ``posebench gallery``, when one exists) and the paper's
value where the paper has one. After the runs of a dataset's largest table, every published row
of that dataset (:func:`~posebench.evaluation.paper.published_rows`: the paper's and the peer
methods' own papers') as "reported", with its source, whether or not a run reproduces it. Under
each table, when several methods
ran on the same samples, their MAE on the samples *all* of them handled (failures differ between
methods), and whether each beats the next one down: the paired per-face error difference with a
seeded paired-bootstrap 95% interval (:mod:`posebench.evaluation.compare`).

A final section (``paper=True``; ``posebench leaderboard --paper``) lists every row of the paper's
Tables 1-5 as "reported" (methods posebench cannot run marked "paper only"), each followed by the
stored runs that reproduce it.

``dataset``/``method`` filters keep the runs of those dataset and method names. Runs that can
only have made the same predictions (:func:`distinct_runs`: same method, version, dataset
content, protocol, set-up, the same bytes of every file read and the same other options; e.g.
WHENet's default weights file and the same file given as ``-o weights=``) are one row: the
newest. :func:`runs_frame` is the same rows as a table (``posebench leaderboard --format csv|json``).

Runs are read as typed :class:`~posebench.evaluation.record.RunRecord` s; no plugin is imported
(damaged records are skipped with a one-line warning).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

from posebench.errors import DataError
from posebench.evaluation.compare import paired_bootstrap
from posebench.evaluation.paper import SUCCESSORS, TABLE_PROTOCOLS, TABLE_TITLES, paper_values, published_rows, reported_rows
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


def _same_predictions_key(rec: RunRecord) -> tuple:
    """What decides a run's predictions, with file options by their bytes, not their names: an
    option that names a file read (its digest recorded under the option's name, or as
    ``option:KEY``; empty for the default file) is dropped, and the digests of the files read are
    compared as a set."""
    file_options = {k.split(":", 1)[1] if k.startswith("option:") else k for k in rec.files}
    opts = tuple(sorted((k, str(v)) for k, v in rec.options.items() if k not in file_options and v not in ("", None)))
    return (rec.method, rec.method_version, rec.dataset, rec.fingerprint, rec.protocol, rec.setup, rec.weights,
            tuple(sorted(set(rec.files.values()))), opts)


def distinct_runs(runs: list[tuple[RunRecord, Path]]) -> list[tuple[RunRecord, Path]]:
    """``runs`` with one run (the newest) of each group that can only have made the same
    predictions (see :func:`_same_predictions_key`)."""
    best: dict[tuple, int] = {}
    for i, (r, _) in enumerate(runs):
        key = _same_predictions_key(r)
        if key not in best or r.created > runs[best[key]][0].created:
            best[key] = i
    keep = set(best.values())
    return [rp for i, rp in enumerate(runs) if i in keep]


def select_runs(results_dir: Path, dataset: str | None = None, method: str | None = None) -> list[tuple[RunRecord, Path]]:
    """The distinct stored runs (:func:`distinct_runs`) of dataset name ``dataset`` and method
    name ``method`` (None: any). :class:`DataError` when there are none."""
    runs = load_runs(results_dir)
    if not runs:
        raise DataError(f"no runs in {Path(results_dir) / 'runs'}; run `posebench run` first")
    kept = [(r, p) for r, p in runs if (dataset is None or r.dataset == dataset) and (method is None or r.method == method)]
    if not kept:
        what = " and ".join(f"{k} {v!r}" for k, v in (("dataset", dataset), ("method", method)) if v is not None)
        have = sorted({r.dataset for r, _ in runs}) if dataset is not None else sorted({r.method for r, _ in runs})
        raise DataError(f"no stored run of {what} in {Path(results_dir) / 'runs'} (stored: {', '.join(have)})")
    return distinct_runs(kept)


#: Columns of :func:`runs_frame` (degrees; ``ms_per_face`` milliseconds).
FRAME_COLUMNS = ["dataset", "data", "fingerprint", "protocol", "method", "label", "setup", "n_samples", "n_evaluated",
                 "n_failed", "mae_yaw", "mae_pitch", "mae_roll", "mae", "geodesic", "ms_per_face", "key", "created", "run"]


def runs_frame(runs: list[tuple[RunRecord, Path]]) -> pd.DataFrame:
    """One row per run, in leaderboard order (:func:`run_groups`), columns :data:`FRAME_COLUMNS`."""
    rows = []
    for (ds, fp), group in run_groups(runs):
        for r, p in group:
            s, sps = r.summary, r.seconds_per_sample
            rows.append({"dataset": ds, "data": Path(r.data_root).name if r.data_root else "embedded", "fingerprint": fp,
                         "protocol": r.protocol, "method": r.method, "label": r.label, "setup": r.setup,
                         "n_samples": r.n_samples, "n_evaluated": r.n_evaluated, "n_failed": r.n_failed,
                         "mae_yaw": s.mae_yaw, "mae_pitch": s.mae_pitch, "mae_roll": s.mae_roll, "mae": s.mae,
                         "geodesic": s.geodesic, "ms_per_face": None if sps is None else 1000 * sps, "key": r.key,
                         "created": r.created, "run": f"runs/{Path(p).name}"})
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


#: Protocol markers of a study's perturbed variant of a dataset: degraded images (``+dsF``,
#: :mod:`posebench.datasets.degrade`) and moved face boxes (``+box-``, :mod:`posebench.datasets.boxjitter`).
PERTURBED_MARKS = ("+ds", "+box-")


def perturbed(protocol: str) -> bool:
    """Whether ``protocol`` is a perturbed variant (:data:`PERTURBED_MARKS`): not a paper set-up."""
    return any(m in protocol for m in PERTURBED_MARKS)


def unmoved_runs(runs: list[tuple[RunRecord, Path]]) -> tuple[list[tuple[RunRecord, Path]], int]:
    """The runs that are not box-jitter conditions (``+box-`` protocols: one per method and
    perturbation, summarised by the study's table) and how many were left out."""
    from posebench.datasets.boxjitter import PROTOCOL_MARK

    kept = [(r, p) for r, p in runs if PROTOCOL_MARK not in r.protocol]
    return kept, len(runs) - len(kept)


def run_groups(runs: list[tuple[RunRecord, Path]]) -> list[tuple[tuple[str, str], list[tuple[RunRecord, Path]]]]:
    """Runs grouped by dataset *content* (name, fingerprint: the same reader on another folder is
    another group), largest dataset first within a name, then by data folder, then by protocol
    (shortest first: the undegraded protocol before its ``+dsF`` variants), then fingerprint; each
    group sorted by MAE (NaN last), then label. The order never depends on run keys or file
    names, so re-made results list the same rows in the same order.
    Shared by the markdown leaderboard and the HTML report (:mod:`posebench.visual.report`)."""
    groups: dict[tuple[str, str], list[tuple[RunRecord, Path]]] = {}
    for r, p in runs:
        groups.setdefault((r.dataset, r.fingerprint), []).append((r, p))
    for group in groups.values():
        group.sort(key=lambda rp: (rp[0].summary.mae != rp[0].summary.mae, _nan0(rp[0].summary.mae), rp[0].label))

    def order(kv: tuple[tuple[str, str], list[tuple[RunRecord, Path]]]) -> tuple:
        (name, fp), group = kv
        first = group[0][0]
        base, factor = degraded(first.protocol)
        return (name, -first.n_samples, Path(first.data_root).name, len(base), base, factor or 0,
                len(first.protocol), first.protocol, fp)

    return sorted(groups.items(), key=order)


_DEGRADED = re.compile(r"\+ds(\d+)-v\d+")


def degraded(protocol: str) -> tuple[str, int | None]:
    """``(protocol without its downsampling mark, factor)`` of a low-resolution copy's protocol
    (``aflw2000-hopenet-v1+ds5-v1`` -> ``("aflw2000-hopenet-v1", 5)``, :mod:`posebench.datasets.degrade`);
    ``(protocol, None)`` for any other."""
    m = _DEGRADED.search(protocol)
    if m is None:
        return protocol, None
    return protocol[:m.start()] + protocol[m.end():], int(m.group(1))


def group_headings(groups: list[tuple[tuple[str, str], list[tuple[RunRecord, Path]]]]) -> list[tuple[int, str]]:
    """A heading a reader understands for each group of :func:`run_groups` (same order), as
    ``(level, text)``: level 0 for a dataset's set, ``"aflw2000: 37 samples (AFLW2000-sample)"``;
    level 1 for a low-resolution copy listed right under its plain set,
    ``"aflw2000: the same 37 samples downsampled x5 (...)"``. A heading two groups would share
    (the same folder name holding other content) ends with the content fingerprint, so every
    heading names one group. Shared by the markdown leaderboard and the HTML report."""
    out: list[tuple[int, str]] = []
    plain: tuple | None = None
    for (ds, _fp), group in groups:
        first = group[0][0]
        root = Path(first.data_root).name if first.data_root else "embedded"
        base, factor = degraded(first.protocol)
        where = (ds, first.n_samples, root, base)
        if factor is None:
            plain = where
            out.append((0, f"{ds}: {first.n_samples} samples ({root})"))
            continue
        what = (f"downsampled x{factor}: each image shrunk {factor} times and enlarged back to its size "
                f"(`+ds{factor}`, the low-resolution study)")
        if plain == where:
            out.append((1, f"{ds}: the same {first.n_samples} samples {what}"))
        else:
            out.append((0, f"{ds}: {first.n_samples} samples ({root}) {what}"))
    seen: dict[str, int] = {}
    for _, text in out:
        seen[text] = seen.get(text, 0) + 1
    return [(level, text + (f", content {fp}" if seen[text] > 1 else ""))
            for (level, text), ((_, fp), _) in zip(out, groups)]


def _fmt(v, nd=2) -> str:
    return "–" if v is None or v != v else f"{v:.{nd}f}"


def _nan0(v: float) -> float:
    return 0.0 if v != v else v


def render(results_dir: Path, *, dataset: str | None = None, method: str | None = None, paper: bool = True) -> str:
    """The markdown leaderboard of the stored runs (filtered by ``dataset``/``method`` names; the
    paper's tables at the end when ``paper``); see the module doc."""
    runs, moved = unmoved_runs(select_runs(results_dir, dataset, method))
    with_paper = paper  # (``paper`` is reused below for each row's paper values)
    flags = "".join(f" --{k} {v}" for k, v in (("dataset", dataset), ("method", method)) if v) + (" --paper" if paper else "")
    lines = ["# posebench leaderboard", "",
             f"Made by `posebench leaderboard --results-dir {results_dir}{flags}` from {len(runs)} stored runs. "
             "Angles in degrees: MAE of wrapped absolute errors over the samples each method handled; "
             "geodesic = mean rotation angle error; ms/face = mean time per sample of the run that computed it."
             + (f" {moved} runs on moved face boxes (`+box-` protocols, the box-jitter study's conditions) are not "
                "listed: the study's table summarises them." if moved else ""), ""]
    reported_in: set[str] = set()  # datasets whose published rows are listed (in their largest table)
    groups = run_groups(runs)
    for ((ds, fp), group), (level, heading) in zip(groups, group_headings(groups)):
        bins = _yaw_bins(group)
        lines += [f"{'#' * (2 + level)} {heading}", "", f"Dataset content fingerprint `{fp}`.", "",
                  "| method | set-up | protocol | n eval | n failed | yaw | pitch | roll | MAE | geodesic | "
                  + "".join(f"MAE \\|yaw\\| {b} | " for b in bins) + "ms/face | run | paper MAE (yaw/pitch/roll/MAE) |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(bins) + "---:|---|---|"]
        for r, p in group:
            s = r.summary
            paper = "; ".join(f"{name}: {'/'.join(f'{v:g}' for v in vals)}"
                              for name, vals in paper_values(r.method, ds)
                              if not perturbed(r.protocol))  # degraded images / moved boxes: not Table 1's set-up
            sps = r.seconds_per_sample
            cells = "".join(f"{_fmt(r.by_yaw_bin[b].mae if b in r.by_yaw_bin else None)} "
                            f"({r.by_yaw_bin[b].n if b in r.by_yaw_bin else 0}) | " for b in bins)
            lines.append(
                f"| {r.label}{_gallery_link(results_dir, p)} | {r.setup or '–'} | {r.protocol} | {r.n_evaluated} | {r.n_failed} | "
                f"{_fmt(s.mae_yaw)} | {_fmt(s.mae_pitch)} | {_fmt(s.mae_roll)} | {_fmt(s.mae)} | "
                f"{_fmt(s.geodesic)} | {cells}{_fmt(None if sps is None else 1000 * sps, 1)} | {_link(p)} | {paper or '–'} |"
            )
        for meth, source, vals in published_rows(ds) if ds not in reported_in else []:
            lines.append(f"| {meth} | reported: {source} | published, full test set | – | – | "
                         + " | ".join(f"{v:g}" for v in vals) + " | – | " + "– | " * len(bins) + "– | – | – |")
        reported_in.add(ds)
        lines.append("")
        common = _common_table(group)
        if common:
            lines += common
    if with_paper:
        lines += _paper_section(runs)
    return "\n".join(lines)


def _gallery_link(results_dir: Path, path: Path) -> str:
    """A link to the run's worst-case gallery (``posebench gallery``) when it has one."""
    stem = Path(path).stem
    if (Path(results_dir) / "galleries" / stem / "index.html").is_file():
        return f" [gallery](galleries/{stem}/index.html)"
    return ""


def _link(path: Path) -> str:
    """Markdown link to a run record, relative to the results folder (where leaderboard.md is)."""
    p = Path(path)
    return f"[{p.stem[-8:]}](runs/{p.name})"


def _yaw_bins(group: list[tuple[RunRecord, Path]]) -> list[str]:
    """|yaw| bins holding samples, when the dataset's yaw spreads over more than one of them."""
    counts: dict[str, int] = {}
    for r, _ in group:
        for b, v in r.by_yaw_bin.items():
            counts[b] = max(counts.get(b, 0), int(v.n or 0))
    filled = [b for b, n in counts.items() if n > 0]
    return list(counts) if len(filled) > 1 else []


def _paper_section(runs: list[tuple[RunRecord, Path]]) -> list[str]:
    """Every row of the paper's Tables 1-5, reported, each with the stored runs reproducing it.

    Whether a method not reproduced is registered comes from the records' method names and the
    paper table's own knowledge (no plugin is imported): a row whose method posebench has never
    stored a run of says "no stored run"."""
    out = ["# The paper's tables: reported and reproduced", "",
           "Every row of Tables 1-5 of Ruiz, Chong & Rehg (CVPRW 2018) as printed (\"reported\"; \"paper only\" "
           "where posebench cannot run the method), each followed by the stored runs of the posebench method "
           "that reproduces it on that dataset (any sample count, any options: read n and the options before "
           "comparing; the paper's rows are on the full test sets). Degraded-image runs (`+ds` protocols) "
           "belong to the low-resolution study and are left out here; a table takes runs of its protocol only "
           "(Table 2: `biwi-v1`, all frames; Table 3: `biwi-p2-test-*`).", ""]
    for table in sorted(TABLE_TITLES):
        out += [f"## {TABLE_TITLES[table]}", "",
                "| row | kind | n | yaw | pitch | roll | MAE | run | note |", "|---|---|---:|---:|---:|---:|---:|---|---|"]
        shown: set[tuple[str, str]] = set()
        for _, ds, label, method, vals, note in reported_rows(table):
            kind = "paper only" if method is None else "reported"
            last = f"{vals[3]:g} (sum)" if table == 3 else f"{vals[3]:g}"
            out.append(f"| {label} | {kind} | – | {vals[0]:g} | {vals[1]:g} | {vals[2]:g} | {last} | – | {note} |")
            kind_below, why = "reproduced", ""
            if method is None and label in SUCCESSORS:
                (method, why), kind_below = SUCCESSORS[label], "successor, not a reproduction"
            if method is None or (method, ds) in shown:
                continue
            shown.add((method, ds))
            mine = [(r, p) for r, p in runs if r.method == method and r.dataset == ds
                    and r.protocol.startswith(TABLE_PROTOCOLS[table]) and not perturbed(r.protocol)]
            if why:
                if not mine:
                    continue
                out.append(f"| ↳ `{method}`: {why} | | | | | | | | |")
            mine.sort(key=lambda rp: (-rp[0].n_samples, rp[0].summary.mae if rp[0].summary.mae == rp[0].summary.mae else 1e9))
            if not mine:
                out.append(f"| ↳ `{method}` | not reproduced here | | | | | | | "
                           "no stored run (weights, data or the method absent here) |")
            for r, p in mine:
                s = r.summary
                out.append(f"| ↳ {r.label} | {kind_below} | {r.n_evaluated}/{r.n_samples} | "
                           f"{_fmt(s.mae_yaw)} | {_fmt(s.mae_pitch)} | {_fmt(s.mae_roll)} | {_fmt(s.mae)} | "
                           f"{_link(p)} | {r.protocol}, {Path(r.data_root or 'embedded').name} |")
        out.append("")
    return out


#: Columns the common-samples table reads from a run's CSV.
SAMPLE_COLUMNS = ("id", "failure", "err_yaw", "err_pitch", "err_roll", "err_mean", "geodesic", "maev")


def read_samples(csv: Path) -> pd.DataFrame | None:
    """A run's per-sample table (:func:`posebench.evaluation.sampletable.read_sample_table`), or
    None (with a one-line warning) when it is missing or damaged."""
    from posebench.evaluation.sampletable import SampleTableError, read_sample_table

    if not csv.is_file():
        return None
    try:
        return read_sample_table(csv, SAMPLE_COLUMNS)
    except SampleTableError as exc:
        warn(f"skipped per-sample table {csv.name}: {exc}")
        return None


def _common_table(group: list[tuple[RunRecord, Path]]) -> list[str]:
    by_protocol: dict[str, list[tuple[RunRecord, Path]]] = {}
    for r, p in group:
        by_protocol.setdefault(r.protocol, []).append((r, p))
    out: list[str] = []
    for protocol, rs in by_protocol.items():
        if len(rs) < 2:
            continue
        tables = {}
        n_label: dict[str, int] = {}
        for r, _ in rs:
            n_label[r.label] = n_label.get(r.label, 0) + 1
        for r, p in rs:
            t = read_samples(Path(p).with_suffix(".csv"))
            if t is not None:  # runs sharing a label (other weights bytes, say) each keep their row
                tables[r.label if n_label[r.label] == 1 else f"{r.label} [{Path(p).stem[-8:]}]"] = t
        if len(tables) < 2:
            continue
        ok_ids = None
        for t in tables.values():
            ids = set(t.loc[t["failure"] == "", "id"])
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


def render_format(results_dir: Path, fmt: str = "md", *, dataset: str | None = None, method: str | None = None,
                  paper: bool = True) -> str:
    """The leaderboard as ``md`` (:func:`render`), ``csv`` or ``json`` (a list of objects; both
    :func:`runs_frame`'s rows)."""
    if fmt == "md":
        return render(results_dir, dataset=dataset, method=method, paper=paper)
    frame = runs_frame(select_runs(results_dir, dataset, method))
    if fmt == "csv":
        return frame.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        return frame.to_json(orient="records", indent=1)
    raise ValueError(f"unknown leaderboard format {fmt!r}")


def write_leaderboard(results_dir: Path, output: Path | None = None, *, fmt: str = "md", dataset: str | None = None,
                      method: str | None = None, paper: bool = True) -> tuple[str, Path]:
    """Write the leaderboard (:func:`render_format`) atomically to ``output`` (default
    ``<results_dir>/leaderboard.<md|csv|json>``); returns ``(text, path)``."""
    text = render_format(results_dir, fmt, dataset=dataset, method=method, paper=paper)
    out = Path(output) if output else Path(results_dir) / f"leaderboard.{fmt}"
    write_atomic(out, text + "\n")
    return text, out
