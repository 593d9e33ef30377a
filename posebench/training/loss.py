"""The paper's losses (Section 3.2; the authors' ``train_hopenet.py``/``train_resnet50_regression.py``).

Multi-loss (binned networks): for each of yaw, pitch, roll,
``L = CE(logits, bin) + alpha * MSE(expectation(logits), angle)``, where CE is the batch-mean
66-way cross-entropy and MSE the batch-mean squared error in degrees of the softmax expectation
(:func:`posebench.training.bins.expectation_degrees`). The three per-angle losses are summed (the
original back-propagates the list of the three with unit gradients, which is the same).
WHENet (Zhou & Gregson, BMVC 2020) uses the same two terms per angle over its own bins
(:func:`posebench.training.bins.head_bins`): yaw over 120 bins covering the circle, whose
regression term is the *wrapped* squared error ``min(|d|, 360 - |d|)^2`` of the difference ``d``
between expectation and label (:func:`wrapped_difference`: a prediction of -179 for a label of 179
is a 2-degree error, not 358), pitch and roll over Hopenet's 66 bins with the plain MSE.

Regression baseline: one MSE over the (N, 3) degrees, averaged over all 3N entries (the
original's ``nn.MSELoss`` on the (N, 3) output).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .bins import HOPENET_BINS, Bins

ANGLES = ("yaw", "pitch", "roll")


@dataclass
class LossParts:
    """``total`` (the scalar to back-propagate) and its components (floats, batch means)."""

    total: torch.Tensor
    parts: dict[str, float]


def wrapped_difference(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``pred - target`` in degrees brought into ``[-180, 180)``: its absolute value is
    ``min(|d|, 360 - |d|)`` for ``|d| < 360`` (the gradient is that of ``pred - target``)."""
    return torch.remainder(pred - target + 180.0, 360.0) - 180.0


def regression_term(pred: torch.Tensor, target: torch.Tensor, wrap: bool) -> torch.Tensor:
    """Batch-mean squared error in degrees, of the wrapped difference when ``wrap``."""
    if wrap:
        return (wrapped_difference(pred, target) ** 2).mean()
    return F.mse_loss(pred, target)


def multi_loss(logits: tuple[torch.Tensor, torch.Tensor, torch.Tensor], bins: torch.Tensor,
               angles: torch.Tensor, alpha: float, heads: tuple[Bins, Bins, Bins] = HOPENET_BINS) -> LossParts:
    """Multi-loss of one batch. ``logits``: three (N, B) tensors (yaw, pitch, roll), B the bin
    count of each head in ``heads`` (Hopenet's 66 for all three by default); ``bins``: (N, 3)
    int64 bin indices; ``angles``: (N, 3) float degrees. A head with ``wrap`` (WHENet's yaw) has
    the wrapped regression term. The parts ``mse_*`` are these regression terms."""
    total = logits[0].new_zeros(())
    parts: dict[str, float] = {}
    for j, name in enumerate(ANGLES):
        ce = F.cross_entropy(logits[j].float(), bins[:, j])
        mse = regression_term(heads[j].expectation(logits[j].float()), angles[:, j].float(), heads[j].wrap)
        total = total + ce + alpha * mse
        parts[f"ce_{name}"] = float(ce.detach())
        parts[f"mse_{name}"] = float(mse.detach())
    parts["loss"] = float(total.detach())
    return LossParts(total, parts)


def regression_loss(pred: torch.Tensor, angles: torch.Tensor) -> LossParts:
    """MSE of (N, 3) predicted degrees against (N, 3) true degrees (mean over all entries)."""
    pred = pred.float()
    total = F.mse_loss(pred, angles.float())
    with torch.no_grad():
        per = ((pred - angles.float()) ** 2).mean(dim=0)
    parts = {f"mse_{n}": float(per[j]) for j, n in enumerate(ANGLES)}
    parts["loss"] = float(total.detach())
    return LossParts(total, parts)
