"""What a model family gives the training loop: one :class:`TrainSpec` per family, registered by name.

The loop (:mod:`.loop`) knows no model by name: it asks the spec of ``--model`` for the network,
its starting weights, its optimizer groups, its BatchNorm modes in training, its label bins and
input preprocessing, its loss, and the posebench method that validates its checkpoints. A family
is added by one module ``posebench/training/spec_<family>.py`` that subclasses :class:`TrainSpec`
and calls :func:`register`; every ``spec_*`` module of this package is imported when a spec is
first asked for (:mod:`.spec_hopenet`, :mod:`.spec_whenet`). A plugin outside posebench may call
:func:`register` too, before training.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from posebench.errors import UsageError

from .batchnorm import set_train_mode
from .bins import HOPENET_BINS, Bins
from .loss import LossParts


@dataclass(frozen=True)
class Targets:
    """A batch's labels: ``bins`` (N, 3) int64 bin indices and ``angles`` (N, 3) float32 degrees,
    (yaw, pitch, roll) in AFLW2000-3D convention; ``alpha`` weighs a loss's regression part and
    ``heads`` are the spec's bins for ``model``."""

    bins: torch.Tensor
    angles: torch.Tensor
    alpha: float
    heads: tuple[Bins, Bins, Bins]


class TrainSpec:
    """One model family. ``models``: the ``--model`` names it trains; ``preprocess``: the input
    transform of :class:`.data.TrainSet` (``hopenet`` or ``whenet``). Subclasses give
    :meth:`build`, :meth:`param_groups`, :meth:`initialise` and :meth:`loss`; the rest have defaults."""

    models: tuple[str, ...] = ()
    preprocess: str = "hopenet"

    def heads(self, model: str) -> tuple[Bins, Bins, Bins]:
        """The (yaw, pitch, roll) bins: which labels a sample may have (:func:`.data.select_samples`)
        and the bin of each label. Default: Hopenet's 66 bins of 3 degrees from -99."""
        return HOPENET_BINS

    def build(self, model: str) -> nn.Module:
        """A fresh network, random init drawn from torch's global generator (seeded by the loop)."""
        raise NotImplementedError

    def param_groups(self, net: nn.Module, model: str, lr: float) -> list[dict[str, Any]]:
        """Adam groups ``{"params", "lr", "name"}``, the first at rate 0 (frozen: no gradients); see
        :func:`.models.three_groups`."""
        raise NotImplementedError

    def from_scratch(self, model: str) -> str:
        """The log line of a run without ``--init``."""
        return "FROM SCRATCH: no --init given, every weight randomly initialised"

    def initialise(self, net: nn.Module, model: str, path: Path) -> str:
        """Load ``--init`` (an existing file) into ``net``; a one-line description for the log.
        Raises :class:`posebench.errors.WeightsError` for a file that does not fit."""
        raise NotImplementedError

    def set_train_mode(self, net: nn.Module, bn: str) -> None:
        """Training mode with the BatchNorm handling ``bn`` (:data:`.batchnorm.BN_MODES`)."""
        set_train_mode(net, bn)

    def loss(self, model: str, output: Any, targets: Targets) -> LossParts:
        """The loss of a batch: ``output`` is the network's forward result."""
        raise NotImplementedError

    def validation_method(self, model: str) -> str | None:
        """The posebench method that reads this model's checkpoints (``-o weights=best.pt``), or
        None where there is none (the run then cannot be validated)."""
        return model

    def notes(self, model: str, input_size: int) -> list[str]:
        """Lines the loop prints before training (e.g. what the method reads at another size)."""
        return []


_SPECS: dict[str, TrainSpec] = {}
_LOADED = False


def register(spec: TrainSpec) -> TrainSpec:
    """Make ``spec`` answer for each of its ``models``; a name registered twice is an error."""
    for name in spec.models:
        if name in _SPECS and _SPECS[name] is not spec:
            raise ValueError(f"training model {name!r} is registered twice ({type(_SPECS[name]).__name__}, "
                             f"{type(spec).__name__})")
        _SPECS[name] = spec
    return spec


def _load_builtin() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    package = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("spec_"):
            importlib.import_module(f"{__package__}.{info.name}")


def model_names() -> tuple[str, ...]:
    """Every ``--model`` a registered spec trains, in registration order."""
    _load_builtin()
    return tuple(_SPECS)


def spec_for(model: str) -> TrainSpec:
    """The spec that trains ``model``; :class:`UsageError` naming the known models otherwise."""
    _load_builtin()
    if model not in _SPECS:
        raise UsageError(f"--model must be one of {', '.join(_SPECS)}, got {model!r}")
    return _SPECS[model]
