"""The one checked reader of a stored study table (``<results>/tables/<stem>.csv``) and its
record (``<stem>.json``), used by ``posebench plot`` and ``posebench report``.

:func:`studies.run.store` writes the record with ``table_sha256``, the SHA-256 of the table's
bytes as written; a table whose bytes differ (damaged, truncated, edited, or left from another
run by an interrupted store) is refused here in one line naming the file, instead of a figure
drawn from it or an ``unexpected KeyError`` from the study's plot. Records written before the
digest existed are read without that check.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from posebench.errors import DataError
from posebench.fileio import shown


class StudyTableError(DataError):
    """A stored study table or record that cannot be used (the message names the file)."""


def table_digest(data: bytes) -> str:
    """SHA-256 (hex) of a table's bytes, as stored in its record's ``table_sha256``."""
    return hashlib.sha256(data).hexdigest()


def read_study_record(json_path: str | Path) -> dict[str, Any]:
    """The record beside a study table: a JSON object (its ``table_sha256``, when present, text).
    :class:`StudyTableError` naming the file otherwise."""
    json_path = Path(json_path)
    try:
        rec = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        why = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise StudyTableError(f"damaged study record {shown(json_path)}: not JSON ({why})") from None
    if not isinstance(rec, dict):
        raise StudyTableError(f"damaged study record {shown(json_path)}: expected a JSON object, got {type(rec).__name__}")
    digest = rec.get("table_sha256")
    if digest is not None and not isinstance(digest, str):
        raise StudyTableError(f"damaged study record {shown(json_path)}: 'table_sha256' is not text")
    return rec


def read_study_table(csv_path: str | Path, record: dict[str, Any] | None) -> pd.DataFrame:
    """The table at ``csv_path``, checked against ``record``'s ``table_sha256`` when it has one.
    :class:`StudyTableError` naming the file when it is missing, unreadable, or not the table
    its study stored."""
    csv_path = Path(csv_path)
    try:
        data = csv_path.read_bytes()
    except OSError as exc:
        raise StudyTableError(f"cannot read study table {shown(csv_path)}: {exc.strerror or exc}") from None
    digest = (record or {}).get("table_sha256")
    if digest is not None and table_digest(data) != digest:
        raise StudyTableError(f"study table {shown(csv_path)} is not the one its study stored (its SHA-256 differs "
                              "from the record's table_sha256: damaged or edited): run the study again")
    import io

    try:
        return pd.read_csv(io.BytesIO(data))
    except (UnicodeDecodeError, ValueError) as exc:  # pandas' ParserError/EmptyDataError are ValueErrors
        why = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise StudyTableError(f"damaged study table {shown(csv_path)}: {why}") from None
