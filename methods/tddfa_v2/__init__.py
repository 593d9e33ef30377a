"""3DDFA_V2 (Guo, Zhu, Yang, Yang, Lei, Li, "Towards Fast, Accurate and Stable 3D Dense Face
Alignment", ECCV 2020): a MobileNet-V1 (or ResNet-22) regressing 62 3DMM parameters from a 120x120
crop; the head pose is the rotation of the regressed 3x4 camera. The authors' released PyTorch
weights load unchanged. See ``docs/3ddfa_v2.md``.

Modules: :mod:`.nets` (the authors' networks), :mod:`.weights` (finding and reading the weights and
the ``param_mean_std`` pickle), :mod:`.preprocess` (ROI rules, crop, normalisation, pose),
:mod:`.method` (the estimator and its engines).
"""

from __future__ import annotations

from posebench.detect import BOX_MODES
from posebench.lazy import LazyClass
from posebench.options import Domain
from posebench.registry import register_method

#: What 3DDFA_V2 reads of a sample, declared here so that listing methods needs no torch import.
NEEDS = frozenset({"image", "weights"})
ROIS = ("auto", "landmarks", "box")
ENGINES = ("onnxruntime", "torch")


register_method(
    "3ddfa-v2",
    "3DDFA_V2 (ECCV 2020): MobileNet-V1 3DMM regression, pose from the camera's rotation; authors' weights and ROI rules",
    needs=tuple(sorted(NEEDS)),
    domains={"roi": Domain(choices=ROIS), "engine": Domain(choices=ENGINES), "batch_size": Domain(ge=1, le=4096),
             "threads": Domain(ge=0, le=1024), "box": Domain(choices=BOX_MODES)},
)(LazyClass("posebench.methods.tddfa_v2.method:TDDFAV2Method"))  # options: TDDFAV2Method.__init__
