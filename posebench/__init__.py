"""posebench: benchmark head pose estimators (Hopenet vs landmark-to-pose) on common protocols.

Angles are degrees everywhere; see :mod:`posebench.pose` for the rotation convention.
"""

from __future__ import annotations

__version__ = "0.1.0"

from posebench.errors import PosebenchError, SampleFailure  # noqa: E402

__all__ = ["Pose", "PosebenchError", "SampleFailure", "__version__"]


def __getattr__(name: str):
    # ``posebench.Pose`` without importing numpy at ``import posebench``: the command line
    # installs its Ctrl-C handling first, then imports the heavy parts.
    if name == "Pose":
        from posebench.pose import Pose

        return Pose
    raise AttributeError(f"module 'posebench' has no attribute {name!r}")
