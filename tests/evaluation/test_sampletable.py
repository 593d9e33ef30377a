"""The one checked reader of a run's per-sample table (posebench.evaluation.sampletable)."""

from __future__ import annotations

import pytest

from posebench.evaluation.sampletable import REQUIRED_COLUMNS, SampleTableError, read_sample_table

HEADER = ",".join(REQUIRED_COLUMNS)
ROW_A = "a,,10,0,0,11,0,0,1,0,0,0.333,1"
ROW_B = "b,no face found,20,0,0,,,,,,,,"


def test_a_whole_table_reads_with_numbers_and_text(tmp_path):
    p = tmp_path / "run.csv"
    p.write_text(f"{HEADER}\n{ROW_A}\n{ROW_B}\n")
    t = read_sample_table(p, n_rows=2)
    assert list(t["id"]) == ["a", "b"] and list(t["failure"]) == ["", "no face found"]
    assert t["pred_yaw"].iloc[0] == 11.0 and t["pred_yaw"].isna().iloc[1] and t["err_mean"].dtype == float


@pytest.mark.parametrize("data, why", [
    (b"", "empty (no header)"),
    (b"\xff\xfe\x00bad\n", "not UTF-8 text"),
    (f"{HEADER.replace('err_mean', 'errx')}\n{ROW_A}\n".encode(), "no column 'err_mean'"),
    (f"{HEADER}\n{ROW_A.replace('11', 'abc')}\n".encode(), "column 'pred_yaw' holds 'abc' in row 2, not a number"),
    (f"{HEADER}\n{ROW_A}\n{ROW_A}\n".encode(), "sample id 'a' is given twice"),
    (f"{HEADER}\n{ROW_A}\n".encode(), "1 rows where its run record says 2 samples"),
])
def test_a_damaged_table_is_one_line_naming_the_file_and_the_fault(tmp_path, data, why):
    p = tmp_path / "run.csv"
    p.write_bytes(data)
    with pytest.raises(SampleTableError) as exc:
        read_sample_table(p, n_rows=2)
    msg = str(exc.value)
    assert msg.startswith(f"damaged per-sample table {p}: ") and why in msg and "\n" not in msg
