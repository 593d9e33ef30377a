"""The one checked reader of a run's per-sample table (``<results>/runs/<run>.csv``).

A run writes this table beside its record (:mod:`posebench.evaluation.record`): one row per
sample with ``id``, true and predicted angles (degrees), ``failure`` and the per-sample errors of
:func:`posebench.metrics.per_sample_errors`. Every reader of it (the gallery, the leaderboard's
common-samples table) goes through :func:`read_sample_table`, which refuses a damaged table in
one line naming the file and what is wrong (0 bytes, not CSV, bad UTF-8, a column missing, a
number that is not one, ids given twice, a row count other than the record's) instead of an
``EmptyDataError``/``KeyError``/``ValueError`` from deep inside pandas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from posebench.errors import DataError
from posebench.fileio import shown

#: Columns every stored per-sample table has (numbers from ``true_yaw`` on, except ``failure``).
REQUIRED_COLUMNS = ("id", "failure", "true_yaw", "true_pitch", "true_roll", "pred_yaw", "pred_pitch", "pred_roll",
                    "err_yaw", "err_pitch", "err_roll", "err_mean", "geodesic")


class SampleTableError(DataError):
    """A run's per-sample table that cannot be used (its message names the file and the fault)."""


def read_sample_table(csv: str | Path, columns: Sequence[str] = REQUIRED_COLUMNS,
                      n_rows: int | None = None) -> pd.DataFrame:
    """The per-sample table at ``csv`` with ``id`` and ``failure`` as text ("" for none) and
    every other column of ``columns`` as float (NaN where empty, e.g. a failed sample's
    prediction). ``n_rows``: the row count the run's record states (``n_samples``), checked when
    given. Raises :class:`SampleTableError` (one line: the file and what is wrong)."""
    csv = Path(csv)

    def bad(why: str) -> SampleTableError:
        return SampleTableError(f"damaged per-sample table {shown(csv)}: {why} (re-run the evaluation to re-make it)")

    if not csv.is_file():
        raise SampleTableError(f"per-sample table of the run not found: {shown(csv)}")
    try:
        t = pd.read_csv(csv, keep_default_na=False, na_values=[""], dtype={"id": str, "failure": str})
    except pd.errors.EmptyDataError:
        raise bad("empty (no header)") from None
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise bad(f"not a readable CSV ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})") from None
    missing = [c for c in columns if c not in t.columns]
    if missing:
        raise bad(f"no column {missing[0]!r}")
    for c in columns:
        if c in ("id", "failure"):
            continue
        values = pd.to_numeric(t[c], errors="coerce")
        wrong = values.isna() & t[c].notna()
        if wrong.any():
            row = int(wrong.to_numpy().nonzero()[0][0])
            raise bad(f"column {c!r} holds {str(t[c].iloc[row])[:40]!r} in row {row + 2}, not a number")
        t[c] = values.astype(float)
    if t["id"].isna().any():
        raise bad(f"row {int(t['id'].isna().to_numpy().nonzero()[0][0]) + 2} has no id")
    t["id"] = t["id"].astype(str)
    dup = t["id"].duplicated()
    if dup.any():
        raise bad(f"sample id {t['id'][dup].iloc[0]!r} is given twice")
    t["failure"] = ["" if pd.isna(v) else str(v) for v in t["failure"]]
    if n_rows is not None and len(t) != int(n_rows):
        raise bad(f"{len(t)} rows where its run record says {int(n_rows)} samples (truncated or edited)")
    return t
