"""Worker processes that end with the process that started them.

A pool worker blocked on its task pipe outlives a parent killed by SIGKILL (no clean-up runs)
and waits forever. :func:`die_with_parent`, run in every worker when it starts (the pool's
``initializer``), starts a daemon thread that checks every :data:`POLL_SECONDS` whether the
worker's parent is still the process that created the pool, and ends the worker at once when
not. (Linux's ``prctl(PR_SET_PDEATHSIG)`` is not used: it fires when the *thread* that forked
the worker ends, which would kill the workers of a pool first used from a short-lived thread.)
Workers also ignore Ctrl-C: the parent handles it and shuts the pool down.

A pool made with :func:`worker_pool` is also tracked, so that :func:`stop_pools` can end its
workers at once when the command stops (the console entry point calls it before exiting): without
it, an interrupted run waits at exit for every queued task to finish (the standard library joins
a ``ProcessPoolExecutor``'s workers at interpreter shutdown and does not cancel queued work).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import weakref
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable

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


_POOLS: weakref.WeakSet[ProcessPoolExecutor] = weakref.WeakSet()


def worker_pool(workers: int, context: Any, initializer: Callable[..., None] = die_with_parent,
                initargs: tuple = ()) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` of ``workers`` processes (``context``: a multiprocessing context)
    whose ``initializer(*initargs)`` must call :func:`die_with_parent` (the default is that
    function itself, then pass ``initargs=(os.getpid(),)``); tracked for :func:`stop_pools`."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=initializer, initargs=initargs)
    _POOLS.add(pool)
    return pool


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """End ``pool`` now: queued tasks are cancelled and its workers killed, without waiting for the
    running ones (their results are not wanted any more)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())  # concurrent.futures internals
    pool.shutdown(wait=False, cancel_futures=True)
    _kill(processes)


def _kill(processes: list) -> None:
    """SIGKILL each ``multiprocessing`` process, then reap it (at most 2 s each)."""
    for proc in processes:
        try:
            proc.kill()
        except (OSError, ValueError, AttributeError):
            pass
    for proc in processes:
        try:
            proc.join(timeout=2.0)
        except (OSError, ValueError, AssertionError, AttributeError):
            pass


def stop_pools() -> None:
    """:func:`stop_pool` every pool :func:`worker_pool` made that is still alive, then kill every
    multiprocessing child still running: the standard library's exit handler joins every child
    (``multiprocessing.util._exit_function``), so one the pool never registered (an interrupt
    landing while the pool forks can leave one) would keep the process waiting forever."""
    for pool in list(_POOLS):
        stop_pool(pool)
        _POOLS.discard(pool)
    mp = sys.modules.get("multiprocessing")
    if mp is None:
        return
    _kill(mp.active_children())
