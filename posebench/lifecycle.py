"""Worker processes that end with the process that started them.

A pool worker blocked on its task pipe outlives a parent killed by SIGKILL (no clean-up runs)
and waits forever. :func:`die_with_parent`, run in every worker when it starts (the pool's
``initializer``), starts a daemon thread that checks every :data:`POLL_SECONDS` whether the
worker's parent is still the process that created the pool, and ends the worker at once when
not. (Linux's ``prctl(PR_SET_PDEATHSIG)`` is not used: it fires when the *thread* that forked
the worker ends, which would kill the workers of a pool first used from a short-lived thread.)
Workers also ignore Ctrl-C: the parent handles it and shuts the pool down.
"""

from __future__ import annotations

import os
import signal
import threading
import time

POLL_SECONDS = 0.25


def _watch(parent_pid: int) -> None:
    while True:
        time.sleep(POLL_SECONDS)
        if os.getppid() != parent_pid:
            os._exit(1)


def die_with_parent(parent_pid: int) -> None:
    """Make this worker end when process ``parent_pid`` (the pool's creator, ``os.getpid()``
    there) ends; ignore SIGINT. Call from a pool initializer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getppid() != parent_pid:  # the parent died while this worker started
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), name="posebench-parent-watch", daemon=True).start()
