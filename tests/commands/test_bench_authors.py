"""``posebench bench authors``: the child-process protocol (noise before ``ready`` tolerated, one
JSON line per pass, a child that dies is one line) and the printed ratio, with a stand-in for the
authors' pipeline (the real ones need their packages: see scripts/*_reference.py)."""

from __future__ import annotations

import re
import sys
import textwrap

import pytest
from click.testing import CliRunner

from posebench.cli import main
from posebench.commands import bench_authors as ba
from posebench.errors import DataError

FAKE = textwrap.dedent('''
    import json, sys
    print("Convert x.pth to x.onnx done.", flush=True)   # the authors' code talks on stdout
    print("ready", flush=True)
    k = 0
    for line in sys.stdin:
        k += 1
        print(json.dumps({"ms_per_image": 10.0 * k, "cpu_ms_per_image": 5.0, "found": 3, "images": 4, "version": "fake 1.0"}), flush=True)
''')


def test_the_protocol_skips_noise_and_reads_one_line_per_pass(tmp_path):
    script = tmp_path / "fake.py"
    script.write_text(FAKE)
    p = ba.AuthorsPipeline([sys.executable, str(script)])
    try:
        assert [p.run_pass()["ms_per_image"] for _ in range(3)] == [10.0, 20.0, 30.0]
    finally:
        p.close()
    assert p.proc.poll() is not None


def test_a_child_that_fails_to_start_is_one_line(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("import sys\nprint('noise')\nsys.exit('ModuleNotFoundError: No module named mediapipe')\n")
    with pytest.raises(DataError, match="did not start .*No module named mediapipe"):
        ba.AuthorsPipeline([sys.executable, str(script)])


def test_3ddfa_needs_the_repository_and_the_weights(tmp_path):
    from posebench.errors import UsageError

    with pytest.raises(UsageError, match="--authors-src"):
        ba.authors_command("3ddfa-v2", sys.executable, None, [], {"weights": "w.pth"})
    with pytest.raises(UsageError, match="weights"):
        ba.authors_command("3ddfa-v2", sys.executable, str(tmp_path), [], {})
    cmd = ba.authors_command("3ddfa-v2", sys.executable, str(tmp_path), [tmp_path / "a.jpg"], {"weights": str(tmp_path / "w.pth")})
    assert cmd[1].endswith("tddfa_v2_timing.py") and cmd[-1].endswith("a.jpg")
    assert cmd[cmd.index("--param-stats") + 1] == str(tmp_path / "param_mean_std_62d_120x120.pkl")


def test_the_bench_prints_both_sides_and_their_ratio(tmp_path, monkeypatch):
    """End to end with posebench's mediapipe port on the sample images and the stand-in child:
    the printed ratio is the authors' median over posebench's, interleaved passes each side."""
    from conftest import SHARED

    models, images = SHARED / "models" / "mediapipe", SHARED / "data" / "AFLW2000-sample"
    if not (models / "face_landmark.tflite").is_file() or not images.is_dir():
        pytest.skip(f"MediaPipe models / sample images not in {SHARED}")
    pytest.importorskip("ai_edge_litert", reason="LiteRT (ai-edge-litert) is not installed")
    (tmp_path / "mediapipe_timing.py").write_text(FAKE)
    monkeypatch.setattr(ba, "TIMING", tmp_path)
    monkeypatch.setenv("POSEBENCH_DATA", str(tmp_path / "data"))
    res = CliRunner().invoke(main, ["bench", "authors", "-m", "mediapipe", "--authors-python", sys.executable,
                                    "--data-dir", str(images), "--limit", "4", "--repeat", "3",
                                    "--out", str(tmp_path / "bench" / "authors-mediapipe.txt"),
                                    "-o", f"model={models / 'face_landmark.tflite'}",
                                    "-o", f"detector_model={models / 'face_detection_short_range.tflite'}"])
    assert res.exit_code == 0, res.output
    assert "3 interleaved passes each" in res.output and "load " in res.output
    assert "x the baseline's time (authors' pipeline (fake 1.0))" in res.output and "faster" not in res.output
    rows, _ = ba.authors_rows("mediapipe", sys.executable, None, images,
                              {"model": str(models / "face_landmark.tflite"),
                               "detector_model": str(models / "face_detection_short_range.tflite")}, 3, 4)
    theirs, mine, theirs_cpu, mine_cpu = rows
    assert (theirs.case, theirs.median, theirs.min, theirs.note) == ("authors' pipeline (fake 1.0)", 20.0, 10.0, "3 of 4 found")
    assert mine.baseline == theirs.case and mine.repeats == 3
    assert mine.ratio == pytest.approx(mine.median / 20.0)  # from the measured columns
    assert theirs_cpu.unit == "CPU ms/image" and theirs_cpu.median == 5.0  # the child's process CPU time
    assert mine_cpu.ratio == pytest.approx(mine_cpu.median / 5.0)
    written = (tmp_path / "bench" / "authors-mediapipe.txt").read_text().splitlines()
    assert written[0].startswith("# posebench bench authors -m mediapipe --authors-python ") and "--limit 4" in written[0]
    assert re.match(r"# \d{4}-\d\d-\d\d \d\d:\d\d UTC; .*cores", written[1])
    printed = res.output.splitlines()
    assert len(written) > 3 and all(line in printed for line in written[2:])  # the printed table, as printed


def test_an_unwritable_out_folder_is_refused_before_any_work(tmp_path):
    (tmp_path / "file").write_text("")
    res = CliRunner().invoke(main, ["bench", "authors", "-m", "mediapipe", "--authors-python", sys.executable,
                                    "--data-dir", str(tmp_path), "--out", str(tmp_path / "file" / "x.txt")])
    assert res.exit_code != 0 and "folder of --out" in res.output and "Traceback" not in res.output


def test_the_mediapipe_speed_docs_quote_is_the_committed_bench_output():
    """docs/mediapipe.md quotes the medians and the ratios of results/bench/authors-mediapipe.txt
    (made by `posebench bench authors ... --out`, its command in the file's first line)."""
    from conftest import REPO

    text = (REPO / "results" / "bench" / "authors-mediapipe.txt").read_text()
    rows = re.findall(r"^authors mediapipe(?: \(CPU\))?\s+(authors' pipeline|posebench)\D.*?\s37\s+[\d.]+\s+([\d.]+)\s+"
                      r"(ms/image|CPU ms/image)(?:\s+([\d.]+)x the baseline)?", text, re.M)
    wall = {who: float(med) for who, med, unit, _ in rows if unit == "ms/image"}
    cpu_ratio = next(float(r) for who, _, unit, r in rows if unit == "CPU ms/image" and who == "posebench")
    doc = (REPO / "docs" / "mediapipe.md").read_text()
    quote = (f"{wall['posebench'] / wall['authors' + chr(39) + ' pipeline']:.2f}x the package's ({wall['posebench']:.2f} "
             f"against {wall['authors' + chr(39) + ' pipeline']:.2f} ms")
    assert quote in " ".join(doc.split()), quote
    assert f"({cpu_ratio:.2f}x)" in doc
