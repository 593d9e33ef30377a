"""Gallery and HTML report of a results folder, checked in a real headless browser where one is
installed (Debian: ``apt-get install chromium``)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from posebench.cli import main


def invoke(*args, code=0):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == code, r.output
    return r


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A results folder with a real run, a study with its figure and a gallery."""
    res = tmp_path_factory.mktemp("results")
    invoke("run", "-m", "gt-landmarks", "-d", "synthetic", "--dataset-option", "n=30", "-o", "solver=sqpnp",
           "--results-dir", res)
    invoke("study", "keypoints", "-d", "synthetic", "--dataset-option", "n=30", "-o", "solver=sqpnp", "--plot",
           "--results-dir", res)
    invoke("gallery", "--method", "gt-landmarks", "--dataset", "synthetic", "--worst", "4", "--results-dir", res)
    return res


def test_gallery_shows_the_worst_samples(results):
    gal = next((results / "galleries").iterdir())
    table = pd.read_csv(results / "runs" / f"{gal.name}.csv", keep_default_na=False, na_values=[""])
    worst = table.sort_values("err_mean", ascending=False)["id"].head(4).tolist()
    page = (gal / "index.html").read_text()
    assert [m for m in re.findall(r"<tr><td>([^<]+)</td>", page)][:4] == worst
    from posebench.imageio import read_image

    sheet = read_image(gal / "worst.png")
    assert sheet.shape[0] == 2 * (180 + 58 + 6) + 6 and sheet.shape[1] == 3 * (360 + 6) + 6  # 4 pairs, 3 a row
    # the leaderboard links the gallery
    lb = invoke("leaderboard", "--results-dir", results).output
    assert f"[gallery](galleries/{gal.name}/index.html)" in lb


def test_gallery_bad_key_is_one_line_error(results, tmp_path):
    r = CliRunner().invoke(main, ["gallery", "0123456789abcdef", "--results-dir", str(results)])
    assert r.exit_code == 2 and "no run with key '0123456789abcdef'" in r.output and str(results / "runs") in r.output
    assert len(r.output.strip().splitlines()) == 1


def _report(results: Path, out: Path) -> Path:
    r = invoke("report", "--results-dir", results, "--out", out)
    assert "1 runs, 1 studies, 1 galleries" in r.output
    return out / "index.html"


def test_report_is_self_contained(results, tmp_path):
    index = _report(results, tmp_path / "report")
    # moved away from the results folder, every local link and image still resolves
    moved = tmp_path / "elsewhere"
    shutil.move(str(index.parent), moved)
    pages = list(moved.rglob("*.html"))
    assert len(pages) >= 3  # index, one run page, one gallery
    n_links = 0
    for page in pages:
        for ref in re.findall(r'(?:href|src)="([^"#]+)', page.read_text()):
            assert not ref.startswith(("http:", "https:", "/")), (page, ref)
            assert (page.parent / ref).is_file(), (page, ref)
            n_links += 1
    assert n_links >= 10
    text = (moved / "index.html").read_text()
    assert "gt-landmarks (solver=sqpnp)" in text and "keypoints-synthetic" in text
    run_page = next((moved / "runs").glob("*.html")).read_text()
    assert "Errors by |true yaw|" in run_page and "[0,30)" in run_page and "&quot;solver&quot;: &quot;sqpnp&quot;" in run_page


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def test_report_renders_in_headless_chromium(results, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium)")
    index = _report(results, tmp_path / "report")
    shot = tmp_path / "shot.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run([browser, *flags, "--window-size=1200,1600", f"--screenshot={shot}", index.as_uri()],
                   check=True, capture_output=True, timeout=120)
    from posebench.imageio import read_image

    img = read_image(shot).astype(int)
    assert img.shape[:2] == (1600, 1200)
    # the page text is black and its links blue: red-dominant pixels come only from the images
    # (the study figure's curves, the gallery's axes), so they prove the images loaded
    reddish = (img[:, :, 0] > 180) & (img[:, :, 2] < 100)
    assert reddish.sum() > 200
    dom = subprocess.run([browser, *flags, "--dump-dom", index.as_uri()], check=True, capture_output=True,
                         text=True, timeout=120).stdout
    assert "Leaderboard" in dom and "gt-landmarks (solver=sqpnp)" in dom
    assert np.mean(img) < 250  # not a blank page


def test_report_reads_well(tmp_path):
    """Wide tables scroll, whole numbers print as integers, a downsampled copy sits right under
    its plain set with a heading saying what it is (not a fingerprint), and no cell shows an
    absolute path (written relative to the results folder)."""
    import json

    res = tmp_path / "res"
    for f in ("5", "1"):  # the degraded copy stored first: the order must not come from that
        invoke("run", "-m", "gt-landmarks", "-d", "synthetic", "--dataset-option", "n=12", "--dataset-option",
               f"downsample={f}", "--results-dir", res)
    (res / "tables").mkdir()
    weights = tmp_path / "home" / "me" / "weights" / "pnet.pt"
    pd.DataFrame({"method": ["a", "b"], "n_found": [6.0, np.nan], "mae": [1.23456, 2.0], "level": [0.5, 2.0],
                  "skipped": ["", f"pnet.pt not found: {weights} (run `posebench data download`, https://example.org/a/b)"],
                  }).to_csv(res / "tables" / "made-synthetic.csv", index=False)
    (res / "tables" / "made-synthetic.json").write_text(json.dumps({"study": "made", "dataset": "synthetic"}))
    invoke("report", "--results-dir", res, "--out", tmp_path / "report")
    text = (tmp_path / "report" / "index.html").read_text()
    heads = re.findall(r"<(h[34])>(.*?)</h[34]>", text)
    assert heads[0] == ("h3", "synthetic: 12 samples (embedded)"), heads
    assert heads[1][0] == "h4" and heads[1][1].startswith("synthetic: the same 12 samples downsampled x5: "), heads
    assert "fingerprint" not in heads[0][1] + heads[1][1]
    board = text[text.index('id="leaderboard"'):text.index('id="studies"')]
    assert board.count('<div class="scroll"><table>') == 2  # both leaderboard tables scroll sideways
    study = text[text.index('id="study-made-synthetic"'):]
    cells = re.findall(r"<td>(.*?)</td>", study)
    assert cells[1] == "6" and cells[2] == "1.235" and cells[3] == "0.500" and "–" in cells  # 6.0 -> 6, NaN -> dash
    assert cells[7] == "2" and cells[8] == "2"  # 2.0 (mae, level) -> 2
    assert str(tmp_path) not in text and "../home/me/weights/pnet.pt" in text
    assert "https://example.org/a/b" in text  # a URL is no path
    for page in (tmp_path / "report" / "runs").glob("*.html"):
        assert str(tmp_path) not in page.read_text(), page


def _cell(table: bytes, row: int, column: str, value: bytes) -> bytes:
    """``table`` (CSV bytes) with the cell of data row ``row`` (1 = first) in ``column`` replaced."""
    lines = table.split(b"\n")
    cells = lines[row].split(b",")
    cells[lines[0].split(b",").index(column.encode())] = value
    lines[row] = b",".join(cells)
    return b"\n".join(lines)


@pytest.mark.parametrize("damage, why", [
    (lambda t: b"", "empty (no header)"),
    (lambda t: t.replace(b"err_mean", b"errx", 1), "no column 'err_mean'"),
    (lambda t: t[: t.index(b"\n", t.index(b"\n") + 1) + 1], "1 rows where its run record says 30 samples"),
    (lambda t: _cell(t, 1, "pred_yaw", b"abc"), "column 'pred_yaw' holds 'abc' in row 2, not a number"),
])
def test_gallery_of_a_damaged_per_sample_table_is_one_line(results, tmp_path, damage, why):
    """A run's CSV of 0 bytes, without a column, truncated or holding text where a number belongs:
    one line naming the file (was EmptyDataError / KeyError / ValueError as "unexpected", or a
    fingerprint mismatch that blamed the dataset)."""
    from cli_fixtures import one_line_error, run_cli

    res = tmp_path / "res"
    shutil.copytree(results / "runs", res / "runs")
    csv = next((res / "runs").glob("*.csv"))
    csv.write_bytes(damage(csv.read_bytes()))
    r = run_cli("gallery", "--method", "gt-landmarks", "--dataset", "synthetic", "--results-dir", str(res))
    line = one_line_error(r, 1)
    assert f"damaged per-sample table {csv}" in line and why in line
    assert not (res / "galleries").exists()
