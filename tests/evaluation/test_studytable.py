"""The checked reader of stored study tables (posebench.evaluation.studytable): a table that is not
the bytes its study stored (table_sha256) is refused in one line naming it."""

from __future__ import annotations

import json

import pytest

from posebench.evaluation.studytable import StudyTableError, read_study_record, read_study_table, table_digest


def _stored(tmp_path, data: bytes = b"subset,mae\n6,29.4\n68,2.1\n"):
    csv, rec = tmp_path / "s.csv", tmp_path / "s.json"
    csv.write_bytes(data)
    rec.write_text(json.dumps({"study": "keypoints", "settings": {}, "table_sha256": table_digest(data)}))
    return csv, rec


def test_the_stored_table_reads(tmp_path):
    csv, rec = _stored(tmp_path)
    t = read_study_table(csv, read_study_record(rec))
    assert list(t["mae"]) == [29.4, 2.1]


@pytest.mark.parametrize("edit", [b"", b"subset,mae\n6,29.4\n", b"subset,mae\n6,abc\n68,2.1\n"])
def test_a_table_other_than_the_stored_bytes_is_refused(tmp_path, edit):
    csv, rec = _stored(tmp_path)
    csv.write_bytes(edit)
    with pytest.raises(StudyTableError, match=r"s\.csv is not the one its study stored \(its SHA-256 differs"):
        read_study_table(csv, read_study_record(rec))


@pytest.mark.parametrize("text, why", [("", "not JSON"), ("[1]", "expected a JSON object, got list"),
                                       ('{"table_sha256": 5}', "'table_sha256' is not text")])
def test_a_damaged_record_is_one_line_naming_it(tmp_path, text, why):
    rec = tmp_path / "s.json"
    rec.write_text(text)
    with pytest.raises(StudyTableError) as exc:
        read_study_record(rec)
    assert str(exc.value).startswith(f"damaged study record {rec}: ") and why in str(exc.value)


def test_a_record_without_a_digest_reads_as_before(tmp_path):
    (tmp_path / "s.csv").write_bytes(b"a\n1\n")
    assert list(read_study_table(tmp_path / "s.csv", {"settings": {}})["a"]) == [1]
    (tmp_path / "s.csv").write_bytes(b"")
    with pytest.raises(StudyTableError, match="damaged study table"):
        read_study_table(tmp_path / "s.csv", {})
