"""A tiny 300W-LP-style tree (jpg + .mat with Pose_Para and 2x68 pt2d) made by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_300wlp_tree(root: Path, n: int = 12, size: int = 64, seed: int = 0) -> Path:
    """``root/AFW/AFW_i.jpg`` + ``.mat``: smooth random images, poses within +-60 degrees, 68
    landmarks on an ellipse in the middle of the image."""
    import scipy.io
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder = root / "AFW"
    folder.mkdir(parents=True, exist_ok=True)
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    for i in range(n):
        coarse = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
        img = Image.fromarray(coarse).resize((size, size), Image.BILINEAR)
        img.save(folder / f"AFW_{i}.jpg", quality=95)
        ypr = rng.uniform(-60, 60, 3)
        pose_para = np.zeros((1, 7), np.float32)
        pose_para[0, :3] = np.radians([ypr[1], ypr[0], ypr[2]])  # (pitch, yaw, roll)
        pt2d = np.stack([size / 2 + size * 0.2 * np.cos(t), size / 2 + size * 0.25 * np.sin(t)])
        scipy.io.savemat(folder / f"AFW_{i}.mat", {"Pose_Para": pose_para, "pt2d": pt2d})
    return root
