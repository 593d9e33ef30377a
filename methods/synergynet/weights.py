"""Finding and reading SynergyNet's released checkpoint (choyingw/SynergyNet: ``best.pth.tar``,
"Download pretrained weights" in their README; Google Drive).

Layout (``main_train.save_checkpoint``): ``{'epoch', 'state_dict'}``, the state dict of
``nn.DataParallel(SynergyNet)``, every key prefixed ``module.``: the image-to-parameter network
``I2P.backbone.*`` (:class:`.nets.SynergyBackbone`), the landmark refiners ``forwardDirection.*`` /
``reverseDirection.*`` (training only: not read) and the 3DMM buffers ``param_mean``,
``param_std`` (the 62 parameter statistics the authors' ``utils/params.py`` reads from
``3dmm_data/param_whitening.pkl``; a buffer of the model, hence saved with it), ``u``, ``w_shp``,
``w_exp``, ``u_base``, ``w_shp_base``, ``w_exp_base`` (not read). Read with
``torch.load(weights_only=True)`` (:func:`posebench.methods.hopenet.weights.read_state_dict`).
Unlike the authors' ``load_weights`` (``strict=False``: a missing tensor silently stays random),
every tensor of the backbone and both statistics must be there with their shapes, else a one-line
:class:`WeightsError`.

Look-up: ``weights=PATH``, else ``<weights folder>/synergynet/best.pth.tar`` (the weights folder is
``$POSEBENCH_WEIGHTS`` or ``<data root>/weights``; ``posebench data prepare synergynet --from FILE``
puts it there).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from posebench.errors import WeightsError
from posebench.fileio import existing_file

from .nets import NUM_PARAMS, SynergyBackbone

SUBDIR = "synergynet"
FILENAME = "best.pth.tar"
SOURCE = "https://github.com/choyingw/SynergyNet"
PREFIX = "I2P.backbone."


def default_dir() -> Path:
    from posebench.paths import weights_dir

    return weights_dir() / SUBDIR


def resolve_weights(weights: str | os.PathLike | None) -> Path:
    """The checkpoint file; :class:`WeightsError` (one line) when it is not there."""
    if weights:
        return existing_file(weights, "SynergyNet weights file")
    p = default_dir() / FILENAME
    if p.is_file():
        return p
    raise WeightsError(f"SynergyNet weights {FILENAME} not found in {p.parent}: download it from {SOURCE} (Google Drive), "
                       f"then `posebench data prepare synergynet --from {FILENAME}`, or give its path (-o weights=PATH)")


def load_synergynet(path: str | os.PathLike) -> tuple[SynergyBackbone, np.ndarray, np.ndarray]:
    """The backbone in eval mode with the weights of ``path``, and the float32 ``(param_mean,
    param_std)`` (62 each) stored in the checkpoint."""
    from posebench.methods.hopenet.weights import read_state_dict

    p = Path(path)
    state = read_state_dict(p)
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    net = SynergyBackbone().eval()
    wanted = net.state_dict()
    for key, tensor in wanted.items():
        got = state.get(PREFIX + key)
        if got is None:
            raise WeightsError(f"{p.name} is not a SynergyNet checkpoint: no tensor {PREFIX + key!r}")
        if tuple(got.shape) != tuple(tensor.shape):
            raise WeightsError(f"{p.name} does not fit SynergyNet's MobileNetV2: {PREFIX + key} has shape "
                               f"{tuple(got.shape)}, expected {tuple(tensor.shape)}")
    net.load_state_dict({k: state[PREFIX + k] for k in wanted})
    stats = []
    for key in ("param_mean", "param_std"):
        t = state.get(key)
        if t is None or t.numel() < NUM_PARAMS or not t.is_floating_point():
            raise WeightsError(f"{p.name}: no 3DMM statistics {key!r} of {NUM_PARAMS} floats (SynergyNet saves them as buffers)")
        a = t.detach().reshape(-1)[:NUM_PARAMS].to(torch.float32).numpy().copy()
        if not np.all(np.isfinite(a)):
            raise WeightsError(f"{p.name}: {key} has non-finite values")
        stats.append(a)
    if not np.all(stats[1] > 0):
        raise WeightsError(f"{p.name}: param_std has values <= 0")
    return net, stats[0], stats[1]
