"""posebench.fileio.write_atomic: a killed writer's hidden partial is removed by the next write of
the same file (a training killed while saving left .latest.pt.tmp<pid> for good)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from posebench.fileio import temporary_name, write_atomic


def test_the_partial_a_killed_writer_left_is_removed_by_the_next_write(tmp_path):
    # a process that dies holding its partial: its pid is no longer alive afterwards
    code = ("import os, sys; from posebench.fileio import temporary_name; from pathlib import Path; "
            "t = temporary_name(Path(sys.argv[1])); t.write_bytes(b'half'); print(t, flush=True); "
            "os.kill(os.getpid(), 9)")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "latest.pt")], capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL
    left = tmp_path / os.path.basename(r.stdout.strip())
    assert left.name.startswith(".latest.pt.tmp") and left.read_bytes() == b"half"
    mine_running = tmp_path / f".latest.pt.tmp{os.getppid()}"  # a live writer's partial is not touched
    mine_running.write_bytes(b"in progress")
    other = tmp_path / ".other.pt.tmp999999999"  # another file's partial: not this write's to clean
    other.write_bytes(b"x")
    write_atomic(tmp_path / "latest.pt", b"whole")
    assert (tmp_path / "latest.pt").read_bytes() == b"whole"
    assert not left.exists() and mine_running.exists() and other.exists()
    assert temporary_name(tmp_path / "latest.pt").name == f".latest.pt.tmp{os.getpid()}"
