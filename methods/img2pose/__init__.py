"""img2pose (Albiero, Chen, Yin, Pang, Hassner, "img2pose: Face Alignment and Detection via 6DoF,
Face Pose Estimation", CVPR 2021; code and weights CC BY-NC 4.0): a torchvision Faster R-CNN
(ResNet-18 FPN) whose head regresses the 6-DoF pose of every face, detection and pose in one pass
over the whole image (no face source). The authors' published files load unchanged. See
``docs/img2pose.md``.

Modules: :mod:`.nets` (the network), :mod:`.weights` (finding and reading the files),
:mod:`.postprocess` (the authors' post-processing and protocol-face rules), :mod:`.method` (the
estimator).
"""

from __future__ import annotations

from posebench.lazy import LazyClass
from posebench.options import Domain
from posebench.registry import register_method

#: What img2pose reads of a sample, declared here so that listing methods needs no torch import.
NEEDS = frozenset({"image", "weights"})
LICENCE = "CC BY-NC 4.0 (vitoralbiero/img2pose: code and weights, non-commercial use only)"
RULES = ("auto", "aflw2000", "biwi", "box")

register_method(
    "img2pose",
    "img2pose (CVPR 2021, CC BY-NC 4.0): Faster R-CNN 6-DoF face detection and pose in one pass; authors' weights",
    needs=tuple(sorted(NEEDS)),
    domains={"min_size": Domain(ge=32, le=4096), "max_size": Domain(ge=32, le=8192), "match": Domain(choices=RULES),
             "threads": Domain(ge=0, le=1024), "face_threshold": Domain(ge=0.0, le=1.0)},
)(LazyClass("posebench.methods.img2pose.method:Img2PoseMethod"))  # options: Img2PoseMethod.__init__
