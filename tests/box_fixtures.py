"""A toy image dataset and a method whose answer is its face box, for the box-jitter and
detectors studies: every error is known in closed form.

Each image is 100 x 100 with the protocol box (30, 30, 70, 70) (centre 50, size 40) and the
frontal pose. ``box-echo`` answers yaw = ``bias`` + 100 |cx - 50| / 40, pitch = 100 |cy - 50| / 40,
roll = 100 |w / 40 - 1| for the box it is given (``box=gt``: the protocol box; a detector's name:
that detector's box; the default, ``no-face``, a detector that finds nothing), and fails (``"box too small"``) on a box narrower than 30 pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from posebench.datasets.base import Dataset, Sample
from posebench.detect import Detector
from posebench.errors import SampleFailure
from posebench.method import Method
from posebench.pose import Pose
from posebench.registry import detectors, methods, register_detector, register_method

SIZE, BOX, C, W = 100, (30.0, 30.0, 70.0, 70.0), 50.0, 40.0


class BoxEcho(Method):
    name = "box-echo"
    needs = frozenset({"image"})

    def __init__(self, box: str = "no-face", bias: float = 0.0):
        super().__init__()
        self.bias = float(bias)
        self.faces = self.use_face_source(box, "")

    def estimate_one(self, face):
        box, _ = self.faces.find(face.rgb(), face.box, face.box_source)
        x0, y0, x1, y1 = box
        if x1 - x0 < 30:
            raise SampleFailure("box too small")
        return Pose(self.bias + 100 * abs((x0 + x1) / 2 - C) / W, 100 * abs((y0 + y1) / 2 - C) / W,
                    100 * abs((x1 - x0) / W - 1))


class BoxEchoB(BoxEcho):
    name = "box-echo-b"

    def __init__(self, box: str = "no-face", bias: float = 3.0):
        super().__init__(box, bias)


class ShiftedBox(Detector):
    """One face: the protocol box moved 4 pixels (0.1 of its size) to the right."""

    def __init__(self):
        pass

    def detect(self, image):
        return [((34.0, 30.0, 74.0, 70.0), 1.0)]


class NoFace(Detector):
    def __init__(self):
        pass

    def detect(self, image):
        return []


@pytest.fixture
def toy(tmp_path, monkeypatch) -> Dataset:
    """The toy dataset (6 faces), with ``box-echo``, ``box-echo-b`` (bias 3) and the detectors
    ``shifted-box`` and ``no-face`` registered for this test only."""
    monkeypatch.setattr(methods, "_entries", dict(methods._entries))
    monkeypatch.setattr(detectors, "_entries", dict(detectors._entries))
    register_method("box-echo", "test: answers its face box")(BoxEcho)
    register_method("box-echo-b", "test: answers its face box, yaw + 3")(BoxEchoB)
    register_detector("shifted-box", "test: the box moved right by 0.1")(ShiftedBox)
    register_detector("no-face", "test: finds nothing")(NoFace)
    rng = np.random.default_rng(0)
    samples = []
    for i in range(6):
        path = Path(tmp_path) / f"face{i}.png"
        Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(path)
        lm = np.column_stack([np.linspace(32, 68, 68), np.linspace(35, 66, 68)])
        pts = np.vstack([lm[:5], [[-1.0, -1.0]]])
        samples.append(Sample(f"face{i}", Pose(0.0, 0.0, 0.0), (SIZE, SIZE), path, lm, BOX, points=pts))
    return Dataset("toy", "toy-v1", samples, Path(tmp_path))
