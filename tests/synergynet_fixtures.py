"""A test-made SynergyNet checkpoint in the authors' layout, without the authors' code.

``scripts/synergynet_reference.py`` built the authors' ``WrapUpSynergyNet``, filled its state dict
by a seeded rule and stored the layout (key, shape, dtype, SHA-256 of each tensor) in
``tests/data/synergynet_reference.json``; :func:`write_seeded_checkpoint` applies the same rule to
that layout (the 3DMM statistics from ../shared/data/face-model) and checks every tensor's digest,
so the file posebench reads here holds the tensors the authors' code was run with.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from pathlib import Path

import numpy as np

from conftest import REPO, shared_path

REFERENCE = REPO / "tests" / "data" / "synergynet_reference.json"


def seeded_tensor(key: str, shape: list[int], dtype: str, mean: np.ndarray, std: np.ndarray):
    """The script's ``seeded_value`` rule for one state-dict entry (key without ``module.``)."""
    import torch

    name = key.rsplit(".", 1)[-1]
    if key.endswith("param_mean"):
        return torch.from_numpy(mean.copy())
    if key.endswith("param_std"):
        return torch.from_numpy(std.copy())
    if dtype != "float32":
        return torch.zeros(shape, dtype=getattr(torch, dtype))
    r = torch.randn(shape, generator=torch.Generator().manual_seed(zlib.crc32(key.encode())), dtype=torch.float32)
    if name == "running_var":
        return 1 + 0.2 * r.abs()
    if name in ("running_mean", "bias"):
        return 0.1 * r
    if name == "weight" and len(shape) == 1:
        return 1 + 0.1 * r
    if name == "weight" and len(shape) == 2:
        return 0.01 * r
    if name == "weight":
        return r * math.sqrt(2.0 / max(1, math.prod(shape[1:])))
    return 0.1 * r


def write_seeded_checkpoint(path: Path) -> Path:
    """Write the seeded checkpoint (``{'epoch': 0, 'state_dict': {'module.' + key: tensor}}``) to
    ``path``; asserts each tensor's SHA-256 equals the reference's. Skips without ../shared."""
    import torch

    ref = json.loads(REFERENCE.read_text())
    stats = shared_path("data", "face-model")
    mean = np.loadtxt(stats / "param_mean.txt", dtype=np.float32).reshape(-1)[:62]
    std = np.loadtxt(stats / "param_std.txt", dtype=np.float32).reshape(-1)[:62]
    state = {}
    for key, shape, dtype, digest in ref["layout"]:
        t = seeded_tensor(key[len("module."):], shape, dtype, mean, std)
        assert hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest() == digest, key
        state[key] = t
    torch.save({"epoch": 0, "state_dict": state}, path)
    return path
