"""SynergyNet (Wu, Xu, Neumann, "Synergy between 3DMM and 3D Landmarks for Accurate 3D Facial
Geometry", 3DV 2021): a MobileNetV2 regressing 62 3DMM parameters (12 camera, 40 shape, 10
expression) from a 120x120 crop; the head pose is the rotation of the regressed 3x4 camera. The
authors' released checkpoint (``best.pth.tar``) loads by name. See ``docs/synergynet.md``.

Modules: :mod:`.nets` (torchvision's MobileNetV2 features + the authors' three heads),
:mod:`.weights` (finding and reading the checkpoint), :mod:`.preprocess` (the authors' crop,
normalisation and pose), :mod:`.method` (the estimator and its engines).
"""

from __future__ import annotations

from posebench.detect import BOX_MODES
from posebench.lazy import LazyClass
from posebench.options import Domain
from posebench.registry import register_method

#: What SynergyNet reads of a sample, declared here so that listing methods needs no torch import.
NEEDS = frozenset({"image", "weights"})
ENGINES = ("onnxruntime", "torch")


register_method(
    "synergynet",
    "SynergyNet (3DV 2021): MobileNetV2 3DMM regression, pose from the camera's rotation; authors' checkpoint and crop",
    needs=tuple(sorted(NEEDS)),
    domains={"engine": Domain(choices=ENGINES), "batch_size": Domain(ge=1, le=4096),
             "threads": Domain(ge=0, le=1024), "box": Domain(choices=BOX_MODES)},
)(LazyClass("posebench.methods.synergynet.method:SynergyNetMethod"))  # options: SynergyNetMethod.__init__
