"""Reference outputs of facenet-pytorch's own MTCNN, for posebench's port (tests/test_mtcnn.py).

Runs facenet-pytorch 2.6.0 (MIT) in a throw-away environment, never a posebench dependency (its
pins of old torch/numpy make it unfit as one; installed with ``--no-deps``, its code unpatched)::

    python3 -m venv /tmp/mtcnn/venv
    /tmp/mtcnn/venv/bin/pip install torch==2.14.1 torchvision==0.29.1 pillow numpy
    /tmp/mtcnn/venv/bin/pip download facenet-pytorch==2.6.0 --no-deps -d /tmp/mtcnn
    /tmp/mtcnn/venv/bin/pip install --no-deps /tmp/mtcnn/facenet_pytorch-2.6.0-py3-none-any.whl
    /tmp/mtcnn/venv/bin/python scripts/mtcnn_reference.py --data-dir ../shared/data/AFLW2000-sample \
        -o tests/data/mtcnn_reference.json

Per image (RGB, ``PIL.Image.open(...).convert("RGB")``), ``MTCNN(keep_all=True, device="cpu")
.detect(img, landmarks=True)``: boxes (x_min, y_min, x_max, y_max px), probabilities, the five
landmarks. Two weight sets:

* ``real``: the wheel's own ``data/{pnet,rnet,onet}.pt`` (their SHA-256 are recorded);
* ``seeded``: :func:`seeded_state_dicts` (no real weights in tests): every weight drawn from a
  seeded normal scaled by 1/sqrt(fan-in), biases 0, PReLU slopes 0.25 (PyTorch's default), and the
  face-class bias of each score head raised by :data:`SEEDED_FACE_BIAS` so that each stage's
  threshold passes for part of the candidates (random nets score ~0.5 otherwise, and nothing
  passes 0.6/0.7). Saved with ``torch.save`` in facenet-pytorch's layout (a state dict per net,
  its keys) and loaded by facenet-pytorch from those files.

With ``--port`` (run with posebench installed), posebench's port runs on the same images and
files and the agreement is printed (max |box difference| px, max |prob difference|, faces found).
This module imports only torch at the top, so tests import :func:`seeded_state_dicts` from it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch

#: The face-class logit bias added to each seeded score head (P-Net conv4_1, R-Net dense5_1, O-Net dense6_1).
SEEDED_FACE_BIAS = {"pnet": 0.0, "rnet": 1.0, "onet": 1.0}
#: The seeded weights run on the first images only (tests stay fast).
SEEDED_IMAGES = 4
SEED = 23
_HEADS = {"pnet": "conv4_1.bias", "rnet": "dense5_1.bias", "onet": "dense6_1.bias"}


def seeded_state_dicts(shapes: dict[str, dict[str, tuple[int, ...]]]) -> dict[str, dict[str, torch.Tensor]]:
    """Seeded state dicts ``{net: {key: tensor}}`` for the given ``{net: {key: shape}}`` (keys in order)."""
    g = torch.Generator().manual_seed(SEED)
    out: dict[str, dict[str, torch.Tensor]] = {}
    for net, keys in shapes.items():
        state = {}
        for key, shape in keys.items():
            if "prelu" in key:
                t = torch.full(shape, 0.25)
            elif key.endswith(".bias"):
                t = torch.zeros(shape)
            else:
                fan_in = 1
                for s in shape[1:]:
                    fan_in *= s
                t = torch.randn(shape, generator=g) / fan_in ** 0.5
            state[key] = t
        state[_HEADS[net]][1] += SEEDED_FACE_BIAS[net]
        out[net] = state
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--only", nargs="*", choices=("real", "seeded"))
    ap.add_argument("--seeded-dir", type=Path, default=Path("/tmp/mtcnn/seeded"))
    args = ap.parse_args(argv)

    import facenet_pytorch
    import numpy as np
    from facenet_pytorch import MTCNN
    from PIL import Image

    real_dir = Path(facenet_pytorch.__file__).parent / "data"
    mt = MTCNN(keep_all=True, device="cpu")
    shapes = {n: {k: tuple(v.shape) for k, v in getattr(mt, n).state_dict().items()} for n in ("pnet", "rnet", "onet")}
    args.seeded_dir.mkdir(parents=True, exist_ok=True)
    for net, state in seeded_state_dicts(shapes).items():
        torch.save(state, args.seeded_dir / f"{net}.pt")

    images = sorted(args.data_dir.glob("*.jpg"))
    out: dict = {"facenet_pytorch": facenet_pytorch.__version__ if hasattr(facenet_pytorch, "__version__") else "2.6.0",
                 "torch": torch.__version__, "options": "MTCNN(keep_all=True, device='cpu'), defaults: min_face_size 20, "
                 "thresholds [0.6, 0.7, 0.7], factor 0.709", "seeded_face_bias": SEEDED_FACE_BIAS, "seed": SEED,
                 "weights": {}, "images": [p.name for p in images]}
    runs = {"real": (real_dir, images), "seeded": (args.seeded_dir, images[:SEEDED_IMAGES])}
    for label in args.only or list(runs):
        folder, these = runs[label]
        for net in ("pnet", "rnet", "onet"):
            getattr(mt, net).load_state_dict(torch.load(folder / f"{net}.pt", weights_only=True))
        per = {}
        for p in these:
            img = Image.open(p).convert("RGB")
            boxes, probs, points = mt.detect(img, landmarks=True)
            if boxes is None:
                per[p.name] = {"boxes": [], "probs": [], "landmarks": []}
            else:
                per[p.name] = {"boxes": np.asarray(boxes, float).tolist(), "probs": np.asarray(probs, float).tolist(),
                               "landmarks": np.asarray(points, float).tolist()}
        out["weights"][label] = {"sha256": {n: sha256(folder / f"{n}.pt") for n in ("pnet", "rnet", "onet")},
                                 "detections": per}
        n = sum(len(v["boxes"]) for v in per.values())
        print(f"{label}: {n} faces on {len(these)} images, {sum(1 for v in per.values() if v['boxes'])} images with a face")
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
