"""Where MediaPipe Face Mesh's files are: ``<weights folder>/mediapipe/`` (the weights folder is
``$POSEBENCH_WEIGHTS`` or ``<data root>/weights``; ``posebench data download mediapipe-face-landmark``
and ``mediapipe-geometry`` put them there), or the paths given as options. The files are Google's,
unchanged: ``face_landmark.tflite`` (468 points), ``face_landmark_with_attention.tflite`` (478),
``face_detection_short_range.tflite`` and ``geometry_pipeline_metadata_landmarks.pbtxt``.
"""

from __future__ import annotations

from pathlib import Path

from posebench.errors import WeightsError
from posebench.fileio import existing_file

SUBDIR = "mediapipe"
LANDMARK_FILES = {"468": "face_landmark.tflite", "attention": "face_landmark_with_attention.tflite"}
METADATA_FILE = "geometry_pipeline_metadata_landmarks.pbtxt"
CATALOGUE = {"468": "mediapipe-face-landmark", "attention": "mediapipe-face-landmark-attention"}


def default_dir() -> Path:
    from posebench.paths import weights_dir

    return weights_dir() / SUBDIR


def resolve_model(model: str, variant: str) -> Path:
    """The landmark model: ``model`` when given, else the variant's file in the weights folder."""
    if model:
        return existing_file(model, "MediaPipe face landmark model")
    p = default_dir() / LANDMARK_FILES[variant]
    if p.is_file():
        return p
    raise WeightsError(f"MediaPipe {LANDMARK_FILES[variant]} not found in {p.parent}: run `posebench data download "
                       f"{CATALOGUE[variant]}`, or give its path (-o model=PATH)")


def resolve_metadata(metadata: str, model: Path) -> Path:
    """The geometry metadata: ``metadata``, else beside the model, else in the weights folder."""
    if metadata:
        return existing_file(metadata, "MediaPipe geometry metadata")
    for p in (Path(model).parent / METADATA_FILE, default_dir() / METADATA_FILE):
        if p.is_file():
            return p
    raise WeightsError(f"MediaPipe {METADATA_FILE} not found beside {Path(model).name} or in {default_dir()}: run "
                       "`posebench data download mediapipe-geometry`, or give its path (-o metadata=PATH)")
