"""``scripts/compare_results.py``: runs are paired by what they are (label, protocol, sample count,
data folder), never by file name or run key, so runs that differ only by a degradation suffix
(``+ds5-v1``) are each compared with their own re-made run; run keys in study tables and
leaderboard links are not results."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "compare_results.py"
LEADERBOARD_HEAD = "| method | set-up | protocol | MAE | ms/face | run |\n"


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("compare_results", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_run(folder: Path, key: str, protocol: str, errors: list[float], label: str = "dlib (solver=sqpnp)") -> None:
    """One run record and its per-sample table, named by ``key`` as the runner names them."""
    runs = folder / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    stem = f"dlib__aflw2000__{key}"
    rec = {"key": key, "label": label, "protocol": protocol, "n_samples": len(errors),
           "data_root": "../shared/data/AFLW2000-sample"}
    (runs / f"{stem}.json").write_text(json.dumps(rec))
    rows = "".join(f"s{i},{e},0.{i + 1}\n" for i, e in enumerate(errors))
    (runs / f"{stem}.csv").write_text("id,err_mean,seconds\n" + rows)


def write_folder(folder: Path, keys: tuple[str, str], degraded: list[float], table_run: str = "x.json",
                 board_key: str = "0123456789abcdef0123") -> Path:
    """A results folder with a run on the plain protocol and one on its ``+ds5-v1`` variant (same
    label, folder and sample count), a lowres-like table with a ``run`` column and a leaderboard."""
    write_run(folder, keys[0], "aflw2000-hopenet-v1", [1.0, 2.0])
    write_run(folder, keys[1], "aflw2000-hopenet-v1+ds5-v1", degraded)
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    (folder / "tables" / "lowres-aflw2000.csv").write_text(f"method,factor,mae,run,seconds_per_face\ndlib,5,1.5,{table_run},0.1\n")
    (folder / "leaderboard.md").write_text(
        "## d: 37 samples\n\n" + LEADERBOARD_HEAD + f"| dlib [gallery](galleries/dlib__aflw2000__{board_key}/index.html) | best | p | 1.50 | 3.1 | "
        f"[{board_key[-8:]}](runs/dlib__aflw2000__{board_key}.json) |\n")
    return folder


def test_a_changed_degraded_run_is_found(compare, tmp_path, capsys):
    """The old pairing (label, folder, n) kept one of the two runs (the last file by name) and
    compared only that one: here the plain run, so the changed degraded run went unseen."""
    old = write_folder(tmp_path / "old", ("ffff0000000000000000", "0000ffff000000000000"), [3.0, 4.0])
    new = write_folder(tmp_path / "new", ("eeee0000000000000000", "1111eeee000000000000"), [3.0, 4.5])
    assert compare.main(str(old), str(new)) == 1
    out = capsys.readouterr().out
    assert "DIFFERENT  run dlib (solver=sqpnp) on AFLW2000-sample (aflw2000-hopenet-v1+ds5-v1, 2 samples)" in out
    assert "same  run dlib (solver=sqpnp) on AFLW2000-sample (aflw2000-hopenet-v1, 2 samples)" in out
    assert out.strip().endswith("1 difference(s)")


def test_runs_whose_keys_sort_the_other_way_still_pair(compare, tmp_path, capsys):
    """Same numbers, other run keys (cache-key format changed), in the other order by file name:
    0 differences (the old pairing compared the plain run with the degraded one)."""
    old = write_folder(tmp_path / "old", ("ffff0000000000000000", "0000ffff000000000000"), [3.0, 4.0],
                       table_run="dlib__aflw2000__ffff0000000000000000.json", board_key="ffff0000000000000000")
    new = write_folder(tmp_path / "new", ("0000eeee000000000000", "eeee0000000000000000"), [3.0, 4.0],
                       table_run="dlib__aflw2000__0000eeee000000000000.json", board_key="0000eeee000000000000")
    assert compare.main(str(old), str(new)) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "same  tables/lowres-aflw2000.csv" in out and "same  leaderboard.md: " in out
    assert out.strip().endswith("0 difference(s)")


def test_leaderboard_sections_are_paired_by_heading_not_by_place(compare, tmp_path, capsys):
    """Sections of equal size once followed the run files' order (run keys): the same sections in
    another order are the same leaderboard; rows within a section keep their order."""
    one = "## a: 37 samples (f 1)\n\n" + LEADERBOARD_HEAD + "| x | best | p | 1.00 | 3.0 | r |\n| y | best | p | 2.00 | 3.0 | r |\n"
    two = "## a: 37 samples (f 2)\n\n" + LEADERBOARD_HEAD + "| z | best | p+ds5-v1 | 3.00 | 9.9 | r |\n"
    board = compare.leaderboard_sections
    (tmp_path / "a.md").write_text(one + "\n" + two)
    (tmp_path / "b.md").write_text(two + "\n" + one)
    assert board(tmp_path / "a.md") == board(tmp_path / "b.md")
    swapped = "## a: 37 samples (f 1)\n\n" + LEADERBOARD_HEAD + "| y | best | p | 2.00 | 3.0 | r |\n| x | best | p | 1.00 | 3.0 | r |\n"
    (tmp_path / "c.md").write_text(swapped + "\n" + two)  # the same rows in another order within a section
    assert board(tmp_path / "a.md") != board(tmp_path / "c.md")


def test_a_changed_result_in_a_table_or_leaderboard_row_is_still_found(compare, tmp_path, capsys):
    keys = ("ffff0000000000000000", "0000ffff000000000000")
    old = write_folder(tmp_path / "old", keys, [3.0, 4.0])
    new = write_folder(tmp_path / "new", keys, [3.0, 4.0])
    (new / "tables" / "lowres-aflw2000.csv").write_text("method,factor,mae,run,seconds_per_face\ndlib,5,1.6,x.json,0.1\n")
    board = (new / "leaderboard.md").read_text()
    (new / "leaderboard.md").write_text(board.replace("| 1.50 |", "| 1.51 |"))
    assert compare.main(str(old), str(new)) == 1
    out = capsys.readouterr().out
    assert "DIFFERENT  tables/lowres-aflw2000.csv" in out and "DIFFERENT  leaderboard.md section '## d: 37 samples'" in out
    assert out.strip().endswith("2 difference(s)")


def test_two_runs_of_one_identity_and_a_run_made_on_one_side_only_are_differences(compare, tmp_path, capsys):
    keys = ("ffff0000000000000000", "0000ffff000000000000")
    old = write_folder(tmp_path / "old", keys, [3.0, 4.0])
    new = write_folder(tmp_path / "new", keys, [3.0, 4.0])
    write_run(new, "abababababababababab", "aflw2000-hopenet-v1", [1.0, 2.0])  # a second plain run
    write_run(new, "cdcdcdcdcdcdcdcdcdcd", "aflw2000-hopenet-v1+ds10-v1", [5.0, 6.0])  # only re-made
    assert compare.main(str(old), str(new)) == 1
    out = capsys.readouterr().out
    assert out.strip().endswith("2 difference(s)")
    assert "AMBIGUOUS  run dlib (solver=sqpnp) on AFLW2000-sample (aflw2000-hopenet-v1, 2 samples)" in out
    assert "EXTRA      run dlib (solver=sqpnp) on AFLW2000-sample (aflw2000-hopenet-v1+ds10-v1, 2 samples)" in out
