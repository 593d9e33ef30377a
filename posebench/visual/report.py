"""An HTML report of a results folder: one self-contained folder a reviewer opens in a browser.

``<out>/index.html`` holds the leaderboard (one table per dataset content, as
:mod:`posebench.evaluation.leaderboard`), each study's table and figure (``tables/*.json`` with
their CSV and ``figures/<stem>.png``) and links to one page per run (``runs/<stem>.html``: the
method's identity and the dataset's parameters, the summary, the per-|yaw|-bin errors, the failures, the
environment) and to each run's worst-case gallery (``posebench gallery``). Every image and CSV
the pages show is copied into the folder, and every link is relative, so the folder can be
zipped, mailed or served as it is. Nothing is fetched from the network (no scripts, no fonts).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from posebench.errors import DataError, UsageError
from posebench.evaluation.record import RunRecord
from posebench.fileio import write_atomic

if TYPE_CHECKING:
    import pandas as pd

e = html.escape
MAX_STUDY_ROWS = 40
MAX_CSV_BYTES = 256 * 1024  # per-sample CSVs larger than this are linked by path, not copied

STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1250px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;font-size:.9em}
th{background:#f0f0f0}td.l,th.l{text-align:left}img{max-width:100%;border:1px solid #ddd}img.fig{max-width:820px}.scroll{overflow-x:auto}
code,pre{background:#f6f6f6}pre{padding:.6em;overflow-x:auto;font-size:.85em}nav a{margin-right:1em}
h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}.note{color:#555;font-size:.9em}"""


def _page(title: str, body: str, root: str = "") -> str:
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n<nav><a href=\"{root}index.html\">report home</a>"
            f"<a href=\"{root}index.html#leaderboard\">leaderboard</a><a href=\"{root}index.html#studies\">studies</a>"
            f"<a href=\"{root}index.html#runs\">runs</a></nav>\n{body}\n</body></html>\n")


def _f(v, nd: int = 2) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if v != v else f"{v:.{nd}f}"


def _table(header: list[str], rows: list[list[str]], left: int = 1, scroll: bool = False) -> str:
    """An HTML table (cells already escaped); ``scroll``: inside a box that scrolls sideways when
    the table is wider than the page, so no column is cut off."""
    th = "".join(f"<th class=\"l\">{h}</th>" if i < left else f"<th>{h}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td class=\"l\">{c}</td>" if i < left else f"<td>{c}</td>" for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    table = f"<table><tr>{th}</tr>{body}</table>"
    return f"<div class=\"scroll\">{table}</div>" if scroll else table


def number_cell(v: float) -> str:
    """A study table's number: a whole number as an integer (``6``, not ``6.000``: counts, levels,
    seeds read back as floats because some cell of their column is empty), else 3 decimals; NaN
    as a dash."""
    if v != v:
        return "–"
    if v in (float("inf"), float("-inf")):
        return str(v)
    return str(int(v)) if float(v).is_integer() else f"{v:.3f}"


#: An absolute POSIX path inside a text cell (not the ``//host/...`` of a URL), up to a space, quote or bracket.
_ABS_PATH = re.compile(r"(?<![\w./~:-])(/[^\s,;:'\"()<>`]+)")


def relative_paths(text: str, results_dir: Path) -> str:
    """``text`` with every absolute path in it written relative to the results folder
    (``/home/me/weights/x.pt`` from ``/home/me/res`` -> ``../weights/x.pt``), so a report never
    shows a home folder or a machine's layout in a cell; relative paths are left as they are."""
    base = os.path.abspath(results_dir)

    def rel(m: re.Match) -> str:
        try:
            return Path(os.path.relpath(m.group(0), base)).as_posix()
        except ValueError:  # another drive (Windows): the file name only
            return Path(m.group(0)).name
    return _ABS_PATH.sub(rel, text)


def study_table_html(t: pd.DataFrame, results_dir: Path) -> str:
    """A study table as HTML: numbers by :func:`number_cell`, absolute paths in text cells
    relative to the results folder (:func:`relative_paths`)."""
    t = t.copy()
    for col in t.columns:
        if t[col].dtype.kind == "f":
            t[col] = t[col].map(number_cell).astype(object)
        elif t[col].dtype.kind not in "iub":
            t[col] = t[col].map(lambda v: relative_paths(v, results_dir) if isinstance(v, str) else v).astype(object)
    return t.to_html(index=False, border=0, na_rep="–")


#: The marker file of a report folder: the files ``posebench report`` wrote there (it deletes no other).
MARKER = ".posebench-report.json"


class _Writer:
    """Writes a report's files under ``out`` and remembers them (relative paths) for the marker;
    copies only regular files lying inside the results folder (a link leading out is skipped)."""

    def __init__(self, out: Path, results_dir: Path):
        self.out, self.results_dir, self.files = out, results_dir, []

    def text(self, rel: str, text: str) -> Path:
        write_atomic(self.out / rel, text)
        self.files.append(rel)
        return self.out / rel

    def copy(self, src: Path, rel: str) -> bool:
        from posebench.outputs import is_inside

        if src.is_symlink() or not src.is_file() or not is_inside(src, self.results_dir):
            return False
        dst = self.out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        self.files.append(rel)
        return True


def _md_code(text: str) -> str:
    """Escaped ``text`` with its markdown ``code`` spans as ``<code>``."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", e(text))


def _leaderboard(runs: list[tuple[RunRecord, Path]], out: Path, galleries: set[str]) -> str:
    from posebench.evaluation.leaderboard import group_headings, perturbed, run_groups, unmoved_runs
    from posebench.evaluation.paper import paper_values

    runs, _ = unmoved_runs(runs)  # box-jitter conditions: summarised by the study's table
    parts = []
    groups = run_groups(runs)
    for ((ds, fp), group), (level, heading) in zip(groups, group_headings(groups)):
        rows = []
        for r, p in group:
            s, stem = r.summary, Path(p).stem
            gal = f" · <a href=\"galleries/{e(stem)}/index.html\">gallery</a>" if stem in galleries else ""
            sps = r.seconds_per_sample
            paper = "; ".join(f"{n}: {'/'.join(f'{v:g}' for v in vals)}" for n, vals in paper_values(r.method, ds)
                              if not perturbed(r.protocol))  # degraded images / moved boxes: not Table 1's set-up
            rows.append([f"<a href=\"runs/{e(stem)}.html\">{e(r.label)}</a>{gal}", e(r.setup or "–"), e(r.protocol),
                         e(str(r.n_evaluated)), e(str(r.n_failed)), _f(s.mae_yaw), _f(s.mae_pitch),
                         _f(s.mae_roll), f"<b>{_f(s.mae)}</b>", _f(s.geodesic),
                         _f(None if sps is None else 1000 * sps, 1), e(paper) or "–"])
        tag = f"h{3 + level}"
        parts.append(f"<{tag}>{_md_code(heading)}</{tag}><p class=\"note\">dataset content fingerprint <code>{e(fp)}</code></p>"
                     + _table(["method", "set-up", "protocol", "n eval", "n failed", "yaw", "pitch", "roll", "MAE", "geodesic",
                               "ms/face", "paper MAE (yaw/pitch/roll/MAE)"], [r for r in rows], left=3, scroll=True))
    return "\n".join(parts)


def _run_page(r: RunRecord, path: Path, w: _Writer, galleries: set[str]) -> str:
    stem = Path(path).stem
    s = r.summary
    bins = [[e(k), e(str(v.n)), _f(v.mae_yaw), _f(v.mae_pitch), _f(v.mae_roll),
             f"<b>{_f(v.mae)}</b>", _f(v.geodesic)] for k, v in r.by_yaw_bin.items()]
    fails = [[e(k), e(str(v))] for k, v in r.failures.items()]
    csv = Path(path).with_suffix(".csv")
    links = []
    if csv.is_file() and csv.stat().st_size <= MAX_CSV_BYTES and w.copy(csv, f"runs/{csv.name}"):
        links.append(f"<a href=\"{e(csv.name)}\">per-sample CSV</a>")
    elif csv.is_file():
        links.append(f"per-sample CSV ({csv.stat().st_size // 1024} KB, not copied): <code>runs/{e(csv.name)}</code> "
                     "in the results folder")
    if stem in galleries:
        links.append(f"<a href=\"../galleries/{e(stem)}/index.html\">worst-case gallery</a>")
    def rel(text: str) -> str:
        return relative_paths(text, w.results_dir)

    ci = s.mae_ci95 or (None, None)
    sps = r.seconds_per_sample
    method = {"method": r.method, "label": r.label, "setup": r.setup, "method_version": r.method_version, "options": r.options,
              "weights": r.weights, "files": r.files, "needs": r.needs}
    dataset = {"name": r.dataset, "protocol": r.protocol, "root": r.data_root, "fingerprint": r.fingerprint,
               "parameters": r.dataset_settings, "excluded_by_protocol": r.excluded_by_protocol,
               "samples_without_image": r.samples_without_image}
    body = f"""<h1>{e(r.label)} on {e(r.dataset)}</h1>
<p>Run <code>{e(stem)}</code>, made {e(r.created)}. {' · '.join(links)}</p>
<h2>Summary</h2>
{_table(['n eval', 'n failed', 'yaw', 'pitch', 'roll', 'MAE', 'MAE 95% CI', 'geodesic', 'MAEV', 'ms/face'],
        [[e(str(r.n_evaluated)), e(str(r.n_failed)), _f(s.mae_yaw), _f(s.mae_pitch), _f(s.mae_roll),
          f"<b>{_f(s.mae)}</b>", f"{_f(ci[0])}–{_f(ci[1])}", _f(s.geodesic), _f(s.maev),
          _f(None if sps is None else 1000 * sps, 1)]], left=0)}
<h2>Errors by |true yaw| (degrees)</h2>
{_table(['|yaw| bin', 'n', 'yaw', 'pitch', 'roll', 'MAE', 'geodesic'], bins) if bins else '<p>No bins.</p>'}
<h2>Failures</h2>
{_table(['reason', 'count'], fails) if fails else '<p>None.</p>'}
<h2>Method</h2><pre>{e(rel(json.dumps(method, indent=2, default=str)))}</pre>
<h2>Dataset</h2><pre>{e(rel(json.dumps(dataset, indent=2, default=str)))}</pre>
<h2>Environment</h2><pre>{e(rel(json.dumps(r.environment, indent=2, default=str)))}</pre>"""
    return _page(f"{r.label} on {r.dataset}", body, "../")


def _studies(results_dir: Path, w: _Writer) -> str:
    from posebench.evaluation.studytable import StudyTableError, read_study_record, read_study_table

    parts = []
    for rec_path in sorted((results_dir / "tables").glob("*.json")):
        try:
            rec = read_study_record(rec_path)
        except StudyTableError as exc:
            parts.append(f"<h3>{e(rec_path.stem)}</h3><p class=\"note\">unreadable study record "
                         f"<code>tables/{e(rec_path.name)}</code>: {e(str(exc).split(': ', 1)[-1])}</p>")
            continue
        stem = rec_path.stem
        csv = rec_path.with_suffix(".csv")
        html_table, note = "<p>No table.</p>", ""
        t = None
        if csv.is_file() and not csv.is_symlink():
            try:  # the table its study stored (table_sha256), never an edited or damaged one shown as its result
                t = read_study_table(csv, rec)
            except StudyTableError as exc:
                note = f"<p class=\"note\">unusable study table <code>tables/{e(csv.name)}</code>: {e(str(exc))}</p>"
        if t is not None and w.copy(csv, f"tables/{csv.name}"):
            shown = t.head(MAX_STUDY_ROWS)
            html_table = study_table_html(shown, results_dir)
            note = (f"<p class=\"note\">First {MAX_STUDY_ROWS} of {len(t)} rows; all in "
                    f"<a href=\"tables/{e(csv.name)}\">{e(csv.name)}</a>.</p>" if len(t) > MAX_STUDY_ROWS else
                    f"<p class=\"note\"><a href=\"tables/{e(csv.name)}\">{e(csv.name)}</a></p>")
        fig = results_dir / "figures" / f"{stem}.png"
        img = ""
        if w.copy(fig, f"figures/{fig.name}"):
            img = f"<p><img class=\"fig\" src=\"figures/{e(fig.name)}\" alt=\"{e(stem)} figure\"></p>"
        options = rec.get("settings")  # the stored field keeps its name
        options = ", ".join(f"{k}={v}" for k, v in options.items()) if isinstance(options, dict) else str(options or "")
        parts.append(f"<h3 id=\"study-{e(stem)}\">{e(stem)}</h3><p class=\"note\">study <code>{e(str(rec.get('study')))}</code> "
                     f"on {e(str(rec.get('dataset')))} ({e(str(rec.get('n_samples', '?')))} samples, fingerprint "
                     f"<code>{e(str(rec.get('fingerprint')))}</code>); options: <code>{e(options)}</code>; "
                     f"{_f(rec.get('seconds'), 1)} s</p>{img}<div class=\"scroll\">{html_table}</div>{note}")
    return "\n".join(parts) or "<p>No studies in this results folder (<code>posebench study</code>).</p>"


def _gallery_files(results_dir: Path) -> dict[str, list[Path]]:
    """Each gallery's files (by run stem) to copy: regular files inside the results folder only; a
    gallery folder or file that is a link is skipped (it could lead anywhere on the disk)."""
    from posebench.outputs import is_inside

    found: dict[str, list[Path]] = {}
    gal_root = results_dir / "galleries"
    if gal_root.is_symlink() or not gal_root.is_dir():
        return found
    for folder in sorted(gal_root.iterdir()):
        index = folder / "index.html"
        if folder.is_symlink() or not folder.is_dir() or index.is_symlink() or not index.is_file():
            continue
        files = [f for f in sorted(folder.rglob("*")) if not f.is_symlink() and f.is_file() and is_inside(f, folder)]
        found[folder.name] = files
    return found


def _check_out(results_dir: Path, out: Path) -> list[str]:
    """Refuse a report folder that is the results folder, lies inside what the report reads, holds
    the results folder, or holds files ``posebench report`` did not write; returns the files an
    earlier report wrote there (removed at the end unless written again)."""
    from posebench.fileio import shown
    from posebench.outputs import LOCK_NAME, is_inside, read_owned

    if is_inside(out, results_dir) and any(is_inside(out, results_dir / sub) for sub in ("runs", "tables", "figures",
                                                                                        "galleries")):
        raise UsageError(f"the report folder {shown(out)} must not lie in the results folder's runs, tables, figures "
                         "or galleries")
    if is_inside(results_dir, out):
        raise UsageError(f"the report folder {shown(out)} must not be or hold the results folder {shown(results_dir)}")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UsageError(f"the report folder {shown(out)} is not a folder")
    if not out.is_dir() or not any(x.name != LOCK_NAME for x in out.iterdir()):
        return []
    owned = read_owned(out, MARKER)
    if owned is None:
        raise UsageError(f"{shown(out)} holds files that posebench report did not write (no {MARKER}): give a new or "
                         "empty folder as --out (nothing was changed)")
    return owned


def make_report(results_dir: Path, out: Path | None = None) -> dict:
    """Write the report of ``results_dir`` to ``out`` (default ``<results_dir>/report``); returns
    ``{"index": path, "runs": n, "studies": n, "galleries": n}``.

    The report folder carries a marker (:data:`MARKER`) listing the files it wrote: a later report
    into it replaces those and removes the ones it no longer writes, and nothing else; a folder
    with other files and no marker is refused (:class:`UsageError`), so is the results folder, a
    folder inside its runs/tables/figures/galleries and one holding it. Only regular files inside
    the results folder are copied (links are skipped). One report at a time per folder
    (:func:`posebench.outputs.folder_lock`). Raises :class:`DataError` when the folder holds no
    runs and no studies."""
    from posebench.evaluation.leaderboard import load_runs
    from posebench.outputs import folder_lock, remove_owned, write_owned

    results_dir = Path(results_dir)
    out = Path(out) if out else results_dir / "report"
    runs = load_runs(results_dir)
    n_studies = len(list((results_dir / "tables").glob("*.json")))
    if not runs and not n_studies:
        raise DataError(f"nothing to report in {results_dir}: no runs/*.json and no tables/*.json")
    _check_out(results_dir, out)
    with folder_lock(out, "report folder"):
        old = _check_out(results_dir, out)
        w = _Writer(out, results_dir)
        galleries = _gallery_files(results_dir)
        for name, files in galleries.items():
            for f in files:
                w.copy(f, f"galleries/{name}/{f.relative_to(results_dir / 'galleries' / name).as_posix()}")
        names = set(galleries)
        for r, p in runs:
            w.text(f"runs/{Path(p).stem}.html", _run_page(r, p, w, names))
        run_list = "".join(f"<li><a href=\"runs/{e(Path(p).stem)}.html\">{e(Path(p).stem)}</a></li>" for _, p in runs)
        body = f"""<h1>posebench report: <code>{e(results_dir.name or str(results_dir))}</code></h1>
<p class="note">Made by <code>posebench report</code> from the results folder <code>{e(Path(os.path.abspath(results_dir)).name)}</code>
(no absolute path is shown: paths are relative to it): {len(runs)} runs,
{n_studies} studies and {len(galleries)} galleries. Angles in degrees, AFLW2000-3D convention; MAE = mean of wrapped
absolute errors over the samples each method handled; geodesic = mean rotation angle error.</p>
<h2 id="leaderboard">Leaderboard</h2>
{_leaderboard(runs, out, names) if runs else '<p>No runs.</p>'}
<h2 id="studies">Studies</h2>
{_studies(results_dir, w)}
<h2 id="runs">Runs</h2><ul>{run_list}</ul>"""
        index = w.text("index.html", _page("posebench report", body))
        write_owned(out, MARKER, w.files, "posebench report")
        remove_owned(out, old, set(w.files))
    return {"index": index, "runs": len(runs), "studies": n_studies, "galleries": len(galleries)}
