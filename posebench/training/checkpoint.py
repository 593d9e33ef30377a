"""Training checkpoints: atomic, resumable, and loadable by the methods.

A checkpoint is a ``torch.save`` dict: ``posebench_checkpoint`` (format version), ``arch``,
``model`` (the network's state dict, the same keys as the authors' files), ``config`` (what
determines the run: a resume with another config is refused), and for resumable files
(``last.pt``, ``step-*.pt``) ``optimizer``, ``scheduler``, ``progress`` (epoch, step within it,
global step: the sampler position) and ``rng`` (torch CPU/CUDA, numpy and Python generators).
``best.pt`` holds the weights of the best validation epoch (or the last epoch without
validation) plus ``config`` and ``metrics``. Every value is a tensor, number, string or a
container of them, so :func:`torch.load` with ``weights_only=True`` reads it, and
:func:`posebench.methods.hopenet.weights.read_state_dict` takes the ``model`` entry.

Files are written through :func:`posebench.fileio.write_atomic` (temporary file + rename): an
interrupted save leaves the previous file intact.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posebench.errors import UsageError, WeightsError
from posebench.fileio import existing_file, write_atomic

FORMAT = 1

#: Config keys that may change on ``--resume`` (they do not change what a step computes).
RESUMABLE_CHANGES = {"epochs", "save_every", "log_every", "workers", "val", "out"}


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]), int(np_state[3]),
                  float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    p = state["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


def save(path: Path, obj: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_atomic(Path(path), buf.getvalue())


def link_atomic(src: Path, dst: Path) -> None:
    """Make ``dst`` a hard link to ``src`` (atomic replace; a copy where links are refused).
    ``src`` is later replaced by :func:`save` (a new file), so ``dst`` keeps these bytes."""
    tmp = dst.with_name(dst.name + ".link-tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        write_atomic(dst, Path(src).read_bytes())
        return
    os.replace(tmp, dst)


def load(path: str | Path) -> dict[str, Any]:
    p = existing_file(path, "--resume: checkpoint", UsageError)
    with open(p, "rb") as fh:
        if fh.read(8) == b"\x89HDF\r\n\x1a\n":
            raise UsageError(f"--resume: {p.name} is an HDF5 (Keras) weights file, not a posebench checkpoint: "
                             "give it to --init to start from it")
    if p.stat().st_size == 0:
        raise WeightsError(f"--resume: checkpoint {p} is an empty (0-byte) file: resume from another last.pt or step-*.pt")
    try:
        obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        why = lines[0][:200] if lines else "no message"
        raise WeightsError(f"cannot read checkpoint {p}: {type(exc).__name__}: {why}") from None
    if not isinstance(obj, dict) or "posebench_checkpoint" not in obj:
        raise UsageError(f"--resume: {p} is not a posebench training checkpoint (use --init for weights files)")
    if "optimizer" not in obj:
        raise UsageError(f"--resume: {p.name} holds weights only (best.pt); resume from last.pt or a step-*.pt")
    problem = resumable_problem(obj)
    if problem:
        raise WeightsError(f"--resume: checkpoint {p} is damaged: {problem}")
    return obj


def resumable_problem(obj: dict[str, Any]) -> str:
    """What is missing or malformed in a resumable checkpoint dict (see the module doc for its
    fields), or ``""`` when every field has the type :func:`save` writes. Checked before any of it
    is used, so a damaged file is one line naming the field, never an ``IndexError``/``KeyError``."""
    def is_state(v: Any) -> bool:
        return isinstance(v, dict) and all(isinstance(k, str) for k in v)

    if not isinstance(obj.get("arch"), str):
        return "'arch' (the network's name) is missing or not a string"
    if not is_state(obj.get("config")):
        return "'config' is missing or not a dict of named options"
    model = obj.get("model")
    if not is_state(model) or not all(isinstance(t, torch.Tensor) for t in model.values()):
        return "'model' is missing or not a dict of named tensors"
    for key in ("optimizer", "scheduler"):
        if not isinstance(obj.get(key), dict):
            return f"{key!r} is missing or not a dict"
    progress = obj.get("progress")
    if (not isinstance(progress, (list, tuple)) or len(progress) < 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in progress[:3])):
        return "'progress' is missing or not (epoch, step, global step) whole numbers >= 0"
    ranks = obj.get("rng_ranks") or [obj.get("rng")]
    if not isinstance(ranks, (list, tuple)) or not all(_rng_ok(r) for r in ranks):
        return "'rng' / 'rng_ranks' (the generators' states) is missing or malformed"
    return ""


def _rng_ok(state: Any) -> bool:
    """True when ``state`` has the layout :func:`rng_state` writes."""
    if not isinstance(state, dict):
        return False
    n, py = state.get("numpy"), state.get("python")
    return (isinstance(state.get("torch"), torch.Tensor) and isinstance(n, (list, tuple)) and len(n) == 5
            and isinstance(n[1], torch.Tensor) and isinstance(py, (list, tuple)) and len(py) == 3
            and isinstance(py[1], (list, tuple)))


def config_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key: saved -> current`` for every config entry that differs (ignoring resumable ones)."""
    out = []
    for k in sorted(set(saved) | set(current)):
        if k in RESUMABLE_CHANGES:
            continue
        if saved.get(k) != current.get(k):
            out.append(f"{k} {saved.get(k)!r} -> {current.get(k)!r}")
    return out


def check_resume(saved: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    diff = config_differences(saved, current)
    if diff:
        raise UsageError(f"--resume {Path(path).name} was made with another config: " + "; ".join(diff))
