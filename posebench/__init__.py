"""posebench: benchmark head pose estimators (Hopenet vs landmark-to-pose) on common protocols.

Angles are degrees everywhere; see :mod:`posebench.pose` for the rotation convention.
"""

from __future__ import annotations

__version__ = "0.1.0"

from posebench.errors import PosebenchError, SampleFailure  # noqa: E402
from posebench.pose import Pose  # noqa: E402

__all__ = ["Pose", "PosebenchError", "SampleFailure", "__version__"]
