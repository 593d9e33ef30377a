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


def _made_file(key: str, name: str, write) -> str:
    """``write(path)`` once per test process into a temporary folder removed at exit; its path."""
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    if key not in _MADE:
        folder = Path(tempfile.mkdtemp(prefix=f"posebench-{key}-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / name
        write(path)
        _MADE[key] = str(path)
    return _MADE[key]


def _seeded_synergynet() -> dict[str, str]:
    """A seeded SynergyNet checkpoint in the authors' layout (:mod:`synergynet_fixtures`)."""
    from synergynet_fixtures import write_seeded_checkpoint

    return {"weights": _made_file("synergynet", "best.pth.tar", write_seeded_checkpoint)}


def _seeded_hopenet(arch: str):
    """Seeded weights of a Hopenet-family architecture, saved as the authors' ``.pkl`` state dict."""
    def made() -> dict[str, str]:
        import torch

        from posebench.methods.hopenet import nets

        return {"weights": _made_file(arch, f"{arch}.pkl", lambda p: torch.save(nets.seeded_weights(arch, seed=0), p))}
    return made


def _seeded_sixdrepnet(form: str, name: str):
    """Seeded weights in a 6DRepNet layout (``deploy``: the plain deploy-form state dict;
    ``resnet50``: 6DRepNet360's plain state dict), as ``tests/methods/test_sixdrepnet.py`` makes them."""
    def made() -> dict[str, str]:
        import torch

        from posebench.methods.sixdrepnet.weights import seeded_for

        return {"weights": _made_file(f"6drep-{form}", name, lambda p: torch.save(seeded_for(form, 0), p))}
    return made


def _plumbing_fan() -> dict[str, str]:
    """Random FAN weights (plumbing: its predictions mean nothing) in face-alignment's layout."""
    def write(p):
        import torch
        from face_alignment.models import FAN

        torch.manual_seed(0)
        torch.save(FAN(4).state_dict(), p)
    return {"weights": _made_file("fan", "2DFAN4-plumbing.pth", write)}


def _seeded_img2pose() -> dict[str, str]:
    """Seeded img2pose files in the authors' layouts (:mod:`img2pose_fixtures`: checkpoint, pose
    statistics, stand-in 3D points), made once per test process."""
    import json
    from pathlib import Path

    from img2pose_fixtures import write_seeded_files

    def write(p: Path) -> None:
        p.mkdir()
        p.joinpath("files.json").write_text(json.dumps(write_seeded_files(p)))

    return json.loads(Path(_made_file("img2pose", "img2pose", write)).joinpath("files.json").read_text())


_MADE: dict[str, str] = {}
#: Built-in methods whose weights the tests make (no published file here): seeded tensors in the
#: authors' checkpoint layout. A built-in method that is in neither this table nor SHARED_OPTIONS
#: (nor needs no files) fails ``test_every_builtin_method_can_be_made_here``.
MADE_OPTIONS = {"synergynet": _seeded_synergynet,
                "hopenet": _seeded_hopenet("hopenet"), "hopenet-alexnet": _seeded_hopenet("hopenet-alexnet"),
                "resnet50-regression": _seeded_hopenet("resnet50-regression"),
                "6drepnet": _seeded_sixdrepnet("deploy", "6DRepNet_300W_LP_AFLW2000.pth"),
                "6drepnet360": _seeded_sixdrepnet("resnet50", "6DRepNet360_Full-Rotation_300W_LP+Panoptic.pth"),
                "fan": _plumbing_fan, "img2pose": _seeded_img2pose}
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
