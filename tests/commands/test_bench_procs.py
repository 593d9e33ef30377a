"""Wall time and peak memory of a process tree (posebench/commands/bench_procs.py)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from posebench.commands.bench_procs import run_measured, tree_rss_mb
from posebench.errors import DataError

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")

CHILD = textwrap.dedent("""
    import subprocess, sys, time
    block = bytearray(120 * 2**20)  # touched: resident
    for i in range(0, len(block), 4096):
        block[i] = 1
    if sys.argv[1] == "parent":
        subprocess.run([sys.executable, __file__, "child"], check=True)
    else:
        time.sleep(0.6)
    print("done")
""")


def test_peak_counts_the_whole_tree(tmp_path):
    script = tmp_path / "alloc.py"
    script.write_text(CHILD)
    m = run_measured([sys.executable, str(script), "parent"], interval=0.02)
    assert m.stdout.split() == ["done", "done"] and m.wall_s > 0.5
    # parent and child each hold 120 MB at the same time: the sum, not the largest single process
    assert m.peak_mb > 230, m.peak_mb


def test_a_failing_command_is_one_line(tmp_path):
    with pytest.raises(DataError, match="exited 3: boom"):
        run_measured([sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"])


def test_tree_rss_of_a_gone_process_is_zero():
    assert tree_rss_mb(2**22 + 12345) == 0
