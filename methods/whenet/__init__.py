"""WHENet (Zhou & Gregson, "WHENet: Real-time Fine-Grained Estimation for Wide Range Head Pose",
BMVC 2020): Hopenet's multi-loss design on EfficientNet-B0, with the authors' released Keras
weights ported to PyTorch exactly. See ``docs/whenet.md``.

Modules: :mod:`.nets` (timm ``tf_efficientnet_b0`` + the three heads, decoding), :mod:`.weights`
(finding the file, reading it with h5py, mapping every layer), :mod:`.preprocess` (crop rules,
the authors' resize/normalisation), :mod:`.method` (the estimator and its engines).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from posebench.detect import BOX_MODES
from posebench.options import Domain
from posebench.registry import register_method

if TYPE_CHECKING:
    from .method import WHENetMethod


#: What WHENet reads of a sample: declared here so that listing methods needs no torch import.
#: No "box": without a protocol box the face is detected (``box=auto``), as for the other networks.
NEEDS = frozenset({"image", "weights"})
CROPS = ("loose68", "visible", "demo", "protocol")


@register_method(
    "whenet",
    "WHENet (BMVC 2020): multi-loss EfficientNet-B0, yaw 120 / pitch, roll 66 bins of 3 deg; authors' Keras weights",
    needs=tuple(sorted(NEEDS)),
    domains={"crop": Domain(choices=CROPS), "engine": Domain(choices=("onnxruntime", "torch")),
             "batch_size": Domain(ge=1, le=4096), "threads": Domain(ge=0, le=1024),
             "box": Domain(choices=BOX_MODES)},
)
def whenet(weights: str = "", crop: str = "loose68", batch_size: int = 32, threads: int = 0,
           engine: str = "onnxruntime", box: str = "auto", detector_model: str = "") -> WHENetMethod:
    """Options: ``weights`` (path to the authors' ``WHENet.h5``, or a ``posebench train --model whenet``
    checkpoint such as ``best.pt``; default ``<weights folder>/whenet/WHENet.h5``),
    ``crop`` (``loose68`` | ``visible`` | ``demo`` | ``protocol``), ``batch_size``, ``threads``
    (0 = all cores of this process), ``engine`` (``onnxruntime`` | ``torch``), ``box`` (``auto``:
    the sample's landmarks or protocol box, else the default face detector; ``gt``; or a detector
    ``dlib-hog`` | ``dlib-cnn`` | ``yunet``), ``detector_model`` (YuNet file)."""
    from .method import WHENetMethod

    return WHENetMethod(weights=weights, crop=crop, batch_size=batch_size, threads=threads, engine=engine,
                        box=box, detector_model=detector_model)
