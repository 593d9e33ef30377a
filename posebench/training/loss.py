"""The paper's losses (Section 3.2; the authors' ``train_hopenet.py``/``train_resnet50_regression.py``).

Multi-loss (binned networks): for each of yaw, pitch, roll,
``L = CE(logits, bin) + alpha * MSE(expectation(logits), angle)``, where CE is the batch-mean
66-way cross-entropy and MSE the batch-mean squared error in degrees of the softmax expectation
(:func:`posebench.training.bins.expectation_degrees`). The three per-angle losses are summed (the
original back-propagates the list of the three with unit gradients, which is the same).
Regression baseline: one MSE over the (N, 3) degrees, averaged over all 3N entries (the
original's ``nn.MSELoss`` on the (N, 3) output).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .bins import expectation_degrees

ANGLES = ("yaw", "pitch", "roll")


@dataclass
class LossParts:
    """``total`` (the scalar to back-propagate) and its components (floats, batch means)."""

    total: torch.Tensor
    parts: dict[str, float]


def multi_loss(logits: tuple[torch.Tensor, torch.Tensor, torch.Tensor], bins: torch.Tensor,
               angles: torch.Tensor, alpha: float) -> LossParts:
    """Multi-loss of one batch. ``logits``: three (N, 66) tensors (yaw, pitch, roll); ``bins``:
    (N, 3) int64 bin indices; ``angles``: (N, 3) float degrees."""
    total = logits[0].new_zeros(())
    parts: dict[str, float] = {}
    for j, name in enumerate(ANGLES):
        ce = F.cross_entropy(logits[j].float(), bins[:, j])
        mse = F.mse_loss(expectation_degrees(logits[j].float()), angles[:, j].float())
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
