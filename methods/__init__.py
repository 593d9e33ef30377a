"""Built-in estimator plugins (installed as ``posebench.methods``).

Importing this package registers every built-in method with :data:`posebench.registry.methods`.
"""

from . import (
    dlib_landmarks,  # noqa: F401
    fan,  # noqa: F401
    gt_landmarks,  # noqa: F401
    hopenet,  # noqa: F401
    img2pose,  # noqa: F401
    mediapipe,  # noqa: F401
    onnx_headpose,  # noqa: F401
    sixdrepnet,  # noqa: F401
    synergynet,  # noqa: F401
    tddfa_v2,  # noqa: F401
    whenet,  # noqa: F401
)
