"""WHENet on bare photos: every in-protocol AFLW2000-sample image through ``estimate(image)`` with
no box and no landmarks, so the face detector finds the face (docs/whenet.md quotes the output).

    python scripts/whenet_bare_photo.py ../shared/data/AFLW2000-sample ../shared/models/whenet/WHENet.h5 [YUNET.onnx]

With a YuNet file the detector is YuNet (``box=yunet``), else the default detector.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import posebench
from posebench.imageio import read_image
from posebench.metrics import angle_errors


def main(sample_dir: str, weights: str, yunet: str = "") -> None:
    options = {"weights": weights}
    if yunet:
        options.update(box="yunet", detector_model=yunet)
    method = posebench.create_method("whenet", options)
    dataset = posebench.create_dataset("aflw2000", data_dir=sample_dir)
    preds, truth, missed, detectors = [], [], 0, set()
    for s in dataset.samples:
        try:
            pose = method.estimate(read_image(Path(s.image_path)))
        except posebench.SampleFailure:
            missed += 1
            continue
        detectors.add(pose.info.get("detector"))
        preds.append(pose.as_array())
        truth.append(s.pose.as_array())
    err = angle_errors(np.array(preds), np.array(truth))
    print(f"whenet bare photo: {len(preds)} posed, {missed} no face; detectors {sorted(detectors)}; "
          f"MAE yaw/pitch/roll {err.mean(axis=0).round(2).tolist()} mean {err.mean():.2f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
