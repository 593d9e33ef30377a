"""posebench.lifecycle: worker pools end with the command, never keep it waiting at exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

PROGRAM = textwrap.dedent(
    """
    import sys, time, types
    from posebench import entry
    from posebench.pnp.batch import _pool

    pool = _pool(2)  # the batched PnP solver's pool (the dlib method's is made the same way)
    busy = [pool.submit(time.sleep, 60) for _ in range(6)]  # running and queued work
    time.sleep(0.5)

    def interrupted(**kwargs):
        raise KeyboardInterrupt  # what Ctrl-C or SIGTERM raises inside a command

    sys.modules["posebench.cli"] = types.SimpleNamespace(main=interrupted)
    print(sorted(p.pid for p in pool._processes.values()), flush=True)
    entry.main()
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork start method is Linux's")
def test_an_interrupted_command_ends_its_pool_workers_without_waiting_for_their_work():
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=50)
    took = time.monotonic() - t0
    assert res.returncode == 130 and res.stderr.strip().splitlines()[-1] == "interrupted", res.stderr
    assert took < 30, f"exit waited {took:.1f} s for the workers' 60 s tasks"
    for pid in eval(res.stdout.strip().splitlines()[0]):  # noqa: S307 - our own program's list of ints
        try:
            state = open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0]
        except OSError:
            continue
        assert state == "Z", f"worker {pid} outlived the command"
