"""The processes of one ``torchrun`` job, as evaluation and training see them.

``torchrun --nproc-per-node N`` (one machine or many: ``--nnodes``, ``--rdzv-endpoint``) starts
N processes per machine with ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` set. :func:`group` opens
the ``torch.distributed`` process group once per process (NCCL where CUDA is available and each
process of a machine has a GPU of its own, as :mod:`posebench.training.loop` has; gloo on CPU or
where processes share a GPU) and returns this process's :class:`Group`;
without ``WORLD_SIZE`` > 1 it is the one-process group and torch is never imported (listing,
help and single-process runs keep their fixed costs).

:meth:`Group.sync` is the one meeting point the evaluation uses: every rank hands in ``None`` or
the one-line error that stopped it, every rank gets back the same answer, and a rank whose peer
failed raises :class:`ShardError` naming that peer instead of waiting forever. A peer that died
(killed, out of memory) breaks the group's connections: the collective raises inside torch, and
:meth:`Group.sync` turns that into the same one-line :class:`ShardError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from posebench.errors import PosebenchError

#: Set once this process has opened a torch.distributed process group. DDP keeps the group's
#: native threads running after ``destroy_process_group`` (torch 2.14.1, gloo: measured here), and
#: a rank exiting through the interpreter's teardown then aborted once in 419 two-process runs
#: ("terminate called without an active exception"); :func:`posebench.entry.main` ends such a
#: process with ``os._exit`` once every file is written and the output flushed.
OPENED_PROCESS_GROUP = False


class ShardError(PosebenchError):
    """Another process of the job failed or died: this one stops too (one line, exit 1)."""


@dataclass(frozen=True)
class Group:
    """This process's place in the job: ``world`` processes, this one is ``rank`` (0-based;
    ``local_rank`` on its machine). ``world == 1``: no job, no torch."""

    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """True on the one process that prints and writes results (rank 0)."""
        return self.rank == 0

    @property
    def sharded(self) -> bool:
        return self.world > 1

    def describe(self) -> str:
        return f"process {self.rank} of {self.world}"

    def barrier(self) -> None:
        """Wait for every rank (no error exchange; see :meth:`sync`)."""
        self.sync(None)

    def sync(self, error: str | None, what: str = "") -> None:
        """Meet every rank; each hands in ``None`` or the one-line error that stopped it.
        Raises :class:`ShardError` on every rank whose peers reported an error (naming the
        first), or when a peer is gone (the collective itself failed). The failing rank itself
        gets back normally and raises its own error. ``what`` names the meeting in messages."""
        if not self.sharded:
            return
        got = self.gather((self.rank, error), what)
        if error is not None:
            return
        bad = [(r, e) for r, e in got if e is not None]
        if bad:
            rank, message = bad[0]
            raise ShardError(f"process {rank} of {self.world} failed ({message}); this process stopped too"
                             f"{f' at {what}' if what else ''}: no result was written")

    @contextmanager
    def together(self, what: str = "") -> Iterator[None]:
        """Run the block on every rank, then :meth:`sync`: an exception in the block is handed
        to the peers (they raise :class:`ShardError`) and raised here; a :class:`ShardError`
        (the peers already agreed to stop, or one is gone) and an interrupt are raised without
        meeting again. One process: just the block."""
        if not self.sharded:
            yield
            return
        try:
            yield
        except ShardError:
            raise
        except Exception as exc:
            try:
                self.sync(one_line(exc) or type(exc).__name__, what)
            except ShardError:
                pass  # the peers are gone: this process's own error is the one to tell
            raise
        self.sync(None, what)

    def gather(self, value: Any, what: str = "") -> list[Any]:
        """``value`` of every rank, in rank order (``torch.distributed.all_gather_object``)."""
        if not self.sharded:
            return [value]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world
        try:
            dist.all_gather_object(out, value)
        except Exception as exc:  # noqa: BLE001  (gloo/nccl raise RuntimeError subclasses of their own)
            raise ShardError(f"another process of this torchrun job of {self.world} is gone"
                             f"{f' at {what}' if what else ''} ({_backend_reason(exc)}): no result was written") from None
        return out


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (lines joined with '; ')."""
    return "; ".join(part.strip() for part in str(exc).splitlines() if part.strip())


def _backend_reason(exc: BaseException) -> str:
    """The first sentence of a gloo/NCCL error, without its source location: ``[.../pair.cc:561]
    Connection closed by peer [127.0.0.1]:5512. This is typically ...`` ->
    ``Connection closed by peer [127.0.0.1]:5512``."""
    import re

    text = one_line(exc) or type(exc).__name__
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)
    return text.split(". ")[0][:200]


_GROUP: Group | None = None


def group() -> Group:
    """This process's :class:`Group`, opening the process group on first use when
    ``WORLD_SIZE`` > 1 (:func:`backend`: NCCL where each process has a GPU, else gloo; the
    rendezvous is torchrun's ``MASTER_ADDR``/``MASTER_PORT``). :class:`ShardError` when it cannot
    be opened."""
    global _GROUP, OPENED_PROCESS_GROUP
    if _GROUP is not None:
        return _GROUP
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        _GROUP = Group()
        return _GROUP
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
    if not dist.is_initialized():
        try:
            dist.init_process_group(backend=backend(local_rank))
        except Exception as exc:  # noqa: BLE001
            raise ShardError(f"cannot join the torchrun job ({one_line(exc)[:160]})") from None
        OPENED_PROCESS_GROUP = True
    _GROUP = Group(world=dist.get_world_size(), rank=dist.get_rank(), local_rank=local_rank)
    return _GROUP


def backend(local_rank: int) -> str:
    """``nccl`` where CUDA is available and every process of this machine has a GPU of its own
    (``LOCAL_WORLD_SIZE`` <= the GPU count; this process's GPU becomes ``cuda:LOCAL_RANK``, the
    device a method's ``device=cuda`` then uses), else ``gloo`` (CPU, or several processes
    sharing a GPU, which NCCL refuses). The evaluation exchanges only small Python objects
    (:meth:`Group.gather`), so either serves it."""
    import torch

    if not torch.cuda.is_available():
        return "gloo"
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    if local_world > torch.cuda.device_count():
        return "gloo"
    torch.cuda.set_device(local_rank)
    return "nccl"


def current() -> Group:
    """The group :func:`group` opened, or the one-process group when none was opened: library
    calls (``evaluate``) shard only where the command line joined the job."""
    return _GROUP if _GROUP is not None else Group()


def close() -> None:
    """Close the process group this module opened (every way out of a command)."""
    global _GROUP
    if _GROUP is not None and _GROUP.sharded:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
    _GROUP = None
