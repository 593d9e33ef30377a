"""BatchNorm modes in training (``--bn``): ``original`` (the authors' scripts: the in-block
BatchNorms of ``layer1``-``layer4`` in eval mode, the rest in training mode; see
:mod:`.models`), ``train`` (all in training mode), ``frozen`` (all in eval mode)."""

from __future__ import annotations

from torch import nn

from posebench.errors import UsageError

BN_MODES = ("original", "train", "frozen")


def frozen_bn_names(net: nn.Module) -> list[str]:
    """Names of the BatchNorms the original put in eval mode (inside ``layer1``-``layer4``, with
    ``bn`` in their name relative to the layer)."""
    out = []
    for i in (1, 2, 3, 4):
        layer = getattr(net, f"layer{i}", None)
        if layer is None:
            continue
        for name, m in layer.named_modules():
            if "bn" in name and isinstance(m, nn.modules.batchnorm._BatchNorm):
                out.append(f"layer{i}.{name}")
    return out


def set_train_mode(net: nn.Module, bn: str = "original") -> None:
    """Training mode with the BatchNorm handling ``bn`` (see the module docstring)."""
    if bn not in BN_MODES:
        raise UsageError(f"--bn must be one of {', '.join(BN_MODES)}, got {bn!r}")
    net.train()
    if bn == "train":
        return
    modules = dict(net.named_modules())
    names = frozen_bn_names(net) if bn == "original" else [
        n for n, m in modules.items() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for n in names:
        modules[n].eval()
