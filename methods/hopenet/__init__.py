"""Hopenet (Ruiz, Chong, Rehg, CVPRW 2018) and the paper's two other networks, compatible with the
authors' released checkpoints. See ``docs/hopenet.md``.

Modules: :mod:`.nets` (architectures), :mod:`.weights` (finding, safe loading, hashing),
:mod:`.preprocess` (the original crop/resize/normalise), :mod:`.engine` (batched inference),
:mod:`.method` (the estimators), :mod:`.reference` (the original evaluation loop, for checks).
"""

from __future__ import annotations

from posebench.detect import BOX_MODES
from posebench.lazy import LazyClass
from posebench.options import Domain
from posebench.registry import register_method

# The classes are registered lazily (posebench.lazy.LazyClass): their options are read from
# HopenetBase.__init__ (declared once, there) and .method (torch, torchvision) is imported only
# when a network is asked for, so listing methods or running landmark methods does not pay
# torch's start-up time.
#: What the three networks read of a sample: declared once, here (the classes use it too), so
#: that listing methods needs no torch import. A box is used where the protocol has one, else
#: the face is detected (``box=auto``).
NEEDS = frozenset({"image", "weights"})
_NEEDS = tuple(sorted(NEEDS))
_DOMAINS = {"batch_size": Domain(ge=1, le=4096), "threads": Domain(ge=0, le=1024),
            "engine": Domain(choices=("onnxruntime", "torch")), "box": Domain(choices=BOX_MODES)}


register_method(
    "hopenet",
    "Hopenet multi-loss ResNet50, 66 bins of 3 deg, softmax expectation (paper Table 1); official .pkl weights",
    needs=_NEEDS, domains=_DOMAINS,
)(LazyClass("posebench.methods.hopenet.method:HopenetMethod"))
register_method(
    "hopenet-alexnet",
    "Hopenet head on AlexNet (paper's AlexNet variant); no official weights: weights=PATH",
    needs=_NEEDS, domains=_DOMAINS,
)(LazyClass("posebench.methods.hopenet.method:HopenetAlexNetMethod"))
register_method(
    "resnet50-regression",
    "ResNet50 regressing (yaw, pitch, roll) directly (paper's baseline); no official weights: weights=PATH",
    needs=_NEEDS, domains=_DOMAINS,
)(LazyClass("posebench.methods.hopenet.method:ResNet50RegressionMethod"))
