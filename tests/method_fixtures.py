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


def _seeded_synergynet() -> dict[str, str]:
    """A seeded SynergyNet checkpoint in the authors' layout (:mod:`synergynet_fixtures`), made once
    per test process in a temporary folder removed at exit."""
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    from synergynet_fixtures import write_seeded_checkpoint

    if "synergynet" not in _MADE:
        folder = Path(tempfile.mkdtemp(prefix="posebench-synergynet-"))
        atexit.register(shutil.rmtree, folder, True)
        _MADE["synergynet"] = str(write_seeded_checkpoint(folder / "best.pth.tar"))
    return {"weights": _MADE["synergynet"]}


def _seeded_img2pose() -> dict[str, str]:
    """Seeded img2pose files in the authors' layouts (:mod:`img2pose_fixtures`: checkpoint, pose
    statistics, stand-in 3D points), made once per test process in a temporary folder removed at exit."""
    import atexit
    import json
    import shutil
    import tempfile
    from pathlib import Path

    from img2pose_fixtures import write_seeded_files

    if "img2pose" not in _MADE:
        folder = Path(tempfile.mkdtemp(prefix="posebench-img2pose-"))
        atexit.register(shutil.rmtree, folder, True)
        _MADE["img2pose"] = json.dumps(write_seeded_files(folder))
    import json

    return json.loads(_MADE["img2pose"])


_MADE: dict[str, str] = {}
#: Built-in methods whose weights the tests make (no published file here).
MADE_OPTIONS = {"synergynet": _seeded_synergynet, "img2pose": _seeded_img2pose}


def make_method(name: str, **extra) -> Method:
    """Registered method ``name`` with its example options, the shared or test-made files and ``extra``."""
    entry = methods.get(name)
    made = MADE_OPTIONS[name]() if name in MADE_OPTIONS else {}
    opts = {**getattr(entry.factory, "example_options", {}), **SHARED_OPTIONS.get(name, {}), **made, **extra}
    try:
        return methods.create(name, opts)
    except WeightsError as exc:
        pytest.skip(f"{name}: weights absent here: {str(exc)[:160]}")
    except UsageError as exc:
        if "not found" in str(exc):
            pytest.skip(f"{name}: {str(exc)[:160]}")
        raise
