"""6DRepNet (Hempel, Abdelrahman, Al-Hamadi, "6D Rotation Representation for Unconstrained Head
Pose Estimation", ICIP 2022; MIT) and 6DRepNet360 (IEEE TIP 2024; MIT): a 6D rotation head on
RepVGG-B1g2 (ResNet-50 for 6DRepNet360), Gram-Schmidt to a rotation matrix, posebench's pose from
that matrix. The authors' published checkpoints load unchanged. See ``docs/6drepnet.md``.

Modules: :mod:`.nets` (the networks), :mod:`.weights` (finding, reading, seeded stand-ins),
:mod:`.preprocess` (the authors' crop and resize), :mod:`.method` (the estimators and engines).
"""

from __future__ import annotations

from posebench.detect import BOX_MODES
from posebench.lazy import LazyClass
from posebench.options import Domain
from posebench.registry import register_method

#: What 6DRepNet reads of a sample, declared here so that listing methods needs no torch import.
NEEDS = frozenset({"image", "weights"})
ENGINES = ("onnxruntime", "torch")
#: The published file each registered name reads by default (in ``<weights folder>/6drepnet/``).
WEIGHT_FILES = {"6drepnet": "6DRepNet_300W_LP_AFLW2000.pth", "6drepnet360": "6DRepNet360_Full-Rotation_300W_LP+Panoptic.pth"}
_DOMAINS = {"engine": Domain(choices=ENGINES), "batch_size": Domain(ge=1, le=4096),
            "threads": Domain(ge=0, le=1024), "box": Domain(choices=BOX_MODES)}

register_method(
    "6drepnet",
    "6DRepNet (ICIP 2022, MIT): RepVGG-B1g2 + 6D rotation head, Gram-Schmidt; authors' weights (deploy or training form)",
    needs=tuple(sorted(NEEDS)), domains=_DOMAINS,
)(LazyClass("posebench.methods.sixdrepnet.method:SixDRepNetMethod"))  # options: SixDRepNetMethod.__init__
register_method(
    "6drepnet360",
    "6DRepNet360 (TIP 2024, MIT): ResNet-50 + 6D rotation head, full-range yaw; authors' weights",
    needs=tuple(sorted(NEEDS)), domains=_DOMAINS,
)(LazyClass("posebench.methods.sixdrepnet.method:SixDRepNet360Method"))
