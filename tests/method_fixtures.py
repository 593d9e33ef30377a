"""Making any registered method with cheap options here (its ``example_options``, and the files in
../shared where a built-in needs them), skipping the test with the reason when its weights are absent."""

from __future__ import annotations

import pytest

from conftest import SHARED
from posebench.errors import UsageError, WeightsError
from posebench.method import Method
from posebench.registry import methods

#: How to make a built-in method here when it needs files from ../shared.
SHARED_OPTIONS = {"onnx-headpose": {"model_dir": str(SHARED / "models" / "fsanet")},
                  "whenet": {"weights": str(SHARED / "models" / "whenet" / "WHENet.h5")},
                  "3ddfa-v2": {"weights": str(SHARED / "models" / "3ddfa_v2" / "mb05_120x120.pth")},
                  "mediapipe": {"model": str(SHARED / "models" / "mediapipe" / "face_landmark.tflite"),
                                "detector_model": str(SHARED / "models" / "mediapipe" / "face_detection_short_range.tflite")}}


def make_method(name: str, **extra) -> Method:
    """Registered method ``name`` with its example options, the shared files and ``extra``."""
    entry = methods.get(name)
    opts = {**getattr(entry.factory, "example_options", {}), **SHARED_OPTIONS.get(name, {}), **extra}
    try:
        return methods.create(name, opts)
    except WeightsError as exc:
        pytest.skip(f"{name}: weights absent here: {str(exc)[:160]}")
    except UsageError as exc:
        if "not found" in str(exc):
            pytest.skip(f"{name}: {str(exc)[:160]}")
        raise
