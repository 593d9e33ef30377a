"""Test-made img2pose files in the authors' layouts, without the authors' code.

``scripts/img2pose_reference.py`` built the authors' ``img2poseModel``, filled its state dict by a
seeded rule and stored the layout (key, shape, dtype, SHA-256 of each tensor) and the SHA-256 of
its pose statistics and stand-in 3D points in ``tests/data/img2pose_reference.json``;
:func:`write_seeded_files` applies the same rules and checks every digest, so the files posebench
reads here hold what the authors' code was run with.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from pathlib import Path

import numpy as np

from conftest import REPO, shared_path

REFERENCE = REPO / "tests" / "data" / "img2pose_reference.json"
# py-feat's model_config['img2pose']: the authors' WIDER pose statistics to 4 digits (as the script)
POSE_MEAN = [-0.0238, 0.0275, -0.0144, 0.0664, 0.2380, 3.4813]
POSE_STDDEV = [0.2353, 0.5395, 0.1767, 0.1320, 0.1358, 0.3663]


def seeded_tensor(key: str, shape: list[int], dtype: str):
    """The script's ``seeded_value`` rule for one entry (key without ``module.``, torchvision 0.8 names)."""
    import torch

    name = key.rsplit(".", 1)[-1]
    if name == "num_batches_tracked" or dtype != "float32":
        return torch.zeros(shape, dtype=getattr(torch, dtype))
    r = torch.randn(shape, generator=torch.Generator().manual_seed(zlib.crc32(key.encode())), dtype=torch.float32)
    if name == "running_var":
        return 1 + 0.2 * r.abs()
    if name in ("running_mean", "bias"):
        return 0.1 * r
    if name == "weight" and len(shape) == 1:
        return 1 + 0.1 * r
    if name == "weight" and len(shape) == 2:
        return (0.1 if key.endswith("dof_pred.3.weight") else 0.01) * r
    if name == "weight":
        return r * math.sqrt(2.0 / max(1, math.prod(shape[1:])))
    return 0.1 * r


def stand_in_points() -> np.ndarray:
    """The script's stand-in for ``reference_3d_68_points_trans.npy`` (float32, 68 x 3)."""
    u = np.loadtxt(shared_path("data", "face-model") / "u_base.txt", dtype=np.float64).reshape(68, 3)
    u = (u - u.mean(axis=0)) * 1e-5
    return (u * np.array([1.0, -1.0, -1.0])).astype(np.float32)


def write_seeded_files(folder: Path) -> dict[str, str]:
    """Write ``img2pose_seeded.pth`` (``{'fpn_model': {'module.' + key: tensor}}``), ``pose_mean.npy``,
    ``pose_stddev.npy`` and ``points.npy`` into ``folder``; asserts every digest equals the
    reference's; returns the method's options naming them. Skips without ../shared."""
    import torch

    ref = json.loads(REFERENCE.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    files = {"pose_mean": folder / "pose_mean.npy", "pose_stddev": folder / "pose_stddev.npy", "points": folder / "points.npy"}
    np.save(files["points"], stand_in_points())
    np.save(files["pose_mean"], np.array(POSE_MEAN, np.float64))
    np.save(files["pose_stddev"], np.array(POSE_STDDEV, np.float64))
    for k, p in files.items():
        assert hashlib.sha256(p.read_bytes()).hexdigest() == ref[f"{k}_sha256"], k
    state = {}
    for key, shape, dtype, digest in ref["layout"]:
        t = seeded_tensor(key[len("module."):], shape, dtype)
        assert hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest() == digest, key
        state[key] = t
    weights = folder / "img2pose_seeded.pth"
    torch.save({"fpn_model": state}, weights)
    return {"weights": str(weights), **{k: str(v) for k, v in files.items()}}
