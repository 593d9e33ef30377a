"""WHENet (Zhou & Gregson, "WHENet: Real-time Fine-Grained Estimation for Wide Range Head Pose",
BMVC 2020): Hopenet's multi-loss design on EfficientNet-B0, with the authors' released Keras
weights ported to PyTorch exactly. See ``docs/whenet.md``.

Modules: :mod:`.nets` (timm ``tf_efficientnet_b0`` + the three heads, decoding), :mod:`.weights`
(finding the file, reading it with h5py, mapping every layer), :mod:`.preprocess` (crop rules,
the authors' resize/normalisation), :mod:`.method` (the estimator and its engines).
"""

from __future__ import annotations

from posebench.detect import BOX_MODES
from posebench.lazy import LazyClass
from posebench.options import Domain
from posebench.registry import register_method

#: What WHENet reads of a sample: declared here so that listing methods needs no torch import.
#: No "box": without a protocol box the face is detected (``box=auto``), as for the other networks.
NEEDS = frozenset({"image", "weights"})
CROPS = ("loose68", "visible", "demo", "protocol")


register_method(
    "whenet",
    "WHENet (BMVC 2020): multi-loss EfficientNet-B0, yaw 120 / pitch, roll 66 bins of 3 deg; authors' Keras weights",
    needs=tuple(sorted(NEEDS)),
    domains={"crop": Domain(choices=CROPS), "engine": Domain(choices=("onnxruntime", "torch", "openvino")),
             "device": Domain(choices=("cpu", "cuda")), "precision": Domain(choices=("fp32", "int8")),
             "batch_size": Domain(ge=1, le=4096), "threads": Domain(ge=0, le=1024),
             "box": Domain(choices=BOX_MODES)},
)(LazyClass("posebench.methods.whenet.method:WHENetMethod"))  # options: WHENetMethod.__init__
