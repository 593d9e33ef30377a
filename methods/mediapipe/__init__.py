"""MediaPipe Face Mesh (Google; Kartynnik et al., "Real-time Facial Surface Geometry from Monocular
Video on Mobile GPUs", CVPRW 2019; Apache-2.0): 468 dense landmarks from a 192x192 crop of a
BlazeFace detection, and head pose from them. Google's ``.tflite`` models run unchanged on LiteRT
(the optional extra ``posebench[mediapipe]``); MediaPipe's pre- and post-processing is ported and
checked against the mediapipe package. See ``docs/mediapipe.md``.

Modules: :mod:`posebench.blazeface` (the face detector, registered as detector ``mediapipe``),
:mod:`.landmarks` (ROI, crop, landmark model, projection), :mod:`.geometry` (the facial
transformation matrix), :mod:`.weights` (where the files are), :mod:`.method` (the estimator).
"""

from __future__ import annotations

from posebench.detect import BOX_MODES
from posebench.lazy import LazyClass
from posebench.options import Domain
from posebench.registry import register_method

#: What the method reads of a sample (declared here so that listing methods imports no LiteRT).
NEEDS = frozenset({"image", "weights"})
POSES = ("matrix", "fit")
VARIANTS = ("468", "attention")

register_method(
    "mediapipe",
    "MediaPipe Face Mesh (Google): 468 landmarks (478 with variant=attention), pose from its facial transformation matrix "
    "or a fit to its canonical mesh",
    needs=tuple(sorted(NEEDS)),
    domains={"pose": Domain(choices=POSES), "variant": Domain(choices=VARIANTS), "box": Domain(choices=BOX_MODES),
             "setup": Domain(choices=("weak-perspective", "paper"), aliases=(("best", "weak-perspective"),)),
             "solver": Domain(choices=("auto", "weak", "iterative", "sqpnp", "epnp")),
             "guard": Domain(choices=("auto", "weak", "fail", "off")), "focal": Domain(gt=0), "threads": Domain(ge=0, le=1024)},
)(LazyClass("posebench.methods.mediapipe.method:MediaPipeMethod"))  # options: MediaPipeMethod.__init__
