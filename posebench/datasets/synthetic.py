"""The embedded default: synthetic faces with exact pose and exact 2D landmarks, no images.

Deterministic from ``seed``. Each sample draws a pose uniformly within the given ranges (degrees),
a 68-point face from posebench's shape model (mean + principal components, ``shape_scale`` times
their natural spread: shape and expression), and a head position ``distance`` mm in front of a
pinhole camera with focal = image width and principal point at the centre (the default camera
guess of :mod:`posebench.pnp`), jittered by up to 10% of the distance sideways. The head turns
about its landmarks' centroid (``model_3d`` is centred there). Landmarks are
the exact perspective projection of that face; ``model_3d`` keeps the face itself.
"""

from __future__ import annotations

import numpy as np

from posebench.crop import landmark_box, loose_box_hopenet
from posebench.datasets.base import Dataset, Sample, parse_float_range
from posebench.datasets.degrade import DOWNSAMPLE_DOMAIN, with_downsample
from posebench.errors import UsageError
from posebench.facemodel import shape_model
from posebench.options import Domain
from posebench.pnp import camera_matrix, project
from posebench.pose import Pose
from posebench.registry import register_dataset

PROTOCOL = "synthetic-v1"


def make_synthetic(
    n: int = 500,
    seed: int = 0,
    yaw: str | tuple[float, float] = "-90,90",
    pitch: str | tuple[float, float] = "-45,45",
    roll: str | tuple[float, float] = "-40,40",
    shape_scale: float = 1.0,
    size: int = 450,
    distance: float = 450.0,
) -> Dataset:
    """Build ``n`` synthetic samples (see module docstring)."""
    try:
        n, seed, size = int(n), int(seed), int(size)
        shape_scale, distance = float(shape_scale), float(distance)
    except (TypeError, ValueError):
        raise UsageError("synthetic: n, seed, size must be integers; shape_scale, distance numbers") from None
    if n < 1 or size < 16 or distance <= 0 or shape_scale < 0:
        raise UsageError("synthetic: need n >= 1, size >= 16, distance > 0, shape_scale >= 0")
    ranges = {k: parse_float_range(v, k) for k, v in (("yaw", yaw), ("pitch", pitch), ("roll", roll))}
    rng = np.random.default_rng(seed)
    model = shape_model()
    K = camera_matrix((size, size), 1.0)
    samples = []
    for i in range(n):
        ypr = [rng.uniform(*ranges[a]) for a in ("yaw", "pitch", "roll")]
        pose = Pose.from_array(ypr)
        face = model.sample(rng, shape_scale) - model.centroid
        t = np.array([rng.uniform(-0.1, 0.1) * distance, rng.uniform(-0.1, 0.1) * distance, distance])
        pts = project(face, pose.matrix(), t, K)
        samples.append(
            Sample(
                id=f"synth{i:06d}",
                pose=pose,
                image_size=(size, size),
                landmarks=pts,
                box=loose_box_hopenet(landmark_box(pts)),
                model_3d=face,
            )
        )
    parameters = {"n": n, "seed": seed, "yaw": list(ranges["yaw"]), "pitch": list(ranges["pitch"]),
                "roll": list(ranges["roll"]), "shape_scale": shape_scale, "size": size, "distance": distance}
    return Dataset("synthetic", PROTOCOL, samples, None, parameters)


@register_dataset(
    "synthetic",
    "embedded default: seeded random poses, 68-point faces from posebench's shape model, exact landmarks, no images",
    needs=("landmarks", "box"),
    domains={"n": Domain(ge=1, le=1_000_000), "seed": Domain(ge=0), "size": Domain(ge=16, le=20_000),
             "distance": Domain(gt=0), "shape_scale": Domain(ge=0, le=100),
             "downsample": DOWNSAMPLE_DOMAIN},
)
def synthetic(data_dir=None, n: int = 500, seed: int = 0, yaw: str = "-90,90", pitch: str = "-45,45",
              roll: str = "-40,40", shape_scale: float = 1.0, size: int = 450, distance: float = 450.0,
              downsample: int = 1) -> Dataset:
    if data_dir is not None:
        raise UsageError("the synthetic dataset takes no --data-dir (use --dataset-option n=..., seed=...)")
    ds = make_synthetic(n=n, seed=seed, yaw=yaw, pitch=pitch, roll=roll, shape_scale=shape_scale, size=size,
                        distance=distance)
    return with_downsample(ds, downsample)  # no images here; recorded so a run's key follows the option
