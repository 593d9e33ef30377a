"""Built-in estimator plugins (installed as ``posebench.methods``).

Importing this package registers every built-in method with :data:`posebench.registry.methods`.
"""

from . import gt_landmarks  # noqa: F401
from . import dlib_landmarks  # noqa: F401
from . import onnx_headpose  # noqa: F401
from . import fan  # noqa: F401
from . import hopenet  # noqa: F401
from . import whenet  # noqa: F401
