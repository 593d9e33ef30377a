"""Reference angles of WHENet from the authors' own Keras model, for posebench's exactness test.

Run in a throw-away environment with TensorFlow (NOT posebench's; nothing here imports posebench
or torch), e.g.::

    python3 -m venv /work/venvs/tf
    /work/venvs/tf/bin/pip install tensorflow-cpu efficientnet h5py scipy opencv-python-headless
    /work/venvs/tf/bin/python scripts/whenet_reference.py \
        --data-dir ../shared/data/AFLW2000-sample --weights ../shared/models/whenet/WHENet.h5 \
        -o tests/data/whenet_keras_reference.json

The model is built as the authors' ``whenet.py`` builds it (``efn.EfficientNetB0(include_top=False,
input_shape=(224, 224, 3))``, ``GlobalAveragePooling2D``, ``Dense`` heads ``yaw_new`` 120,
``pitch_new`` 66, ``roll_new`` 66) and ``model.load_weights(WHENet.h5)`` fills it by Keras' own
legacy-HDF5 loader. Differences from the authors' environment (Keras 2.1.6, TensorFlow 1.12,
``efficientnet`` 0.0.4), i.e. the shims:

* ``efficientnet.tfkeras`` (package 1.1.1, the same author's later release of the same
  EfficientNet-B0 graph: "same" padding, BatchNorm epsilon 1e-3, swish, squeeze-excitation with
  reduction from the block input) on ``tf.keras`` = Keras 3, instead of ``efficientnet`` 0.0.4 on
  Keras 2.1.6;
* ``weights=None`` for the backbone: 0.0.4 built it without ImageNet weights unless asked, 1.1.1
  downloads them by default (the file's weights replace them anyway);
* nothing else: Keras 3's ``load_weights`` still reads Keras 2 weights-only ``.h5`` files by the
  order of the weighted layers, and the 130 backbone layers + 3 heads match in number and shape.

Per image, exactly the authors' ``demo_video.py`` + ``WHENet.get_angle``: the box clipped to the
image, ``int()`` corners, slice, BGR -> RGB, ``cv2.resize(..., (224, 224))`` (bilinear), ``/ 255``
and ImageNet mean/std in float64, ``model.predict`` (batch of one), the authors' numpy softmax,
``sum(p * idx) * 3 - 180`` (yaw) / ``- 99`` (pitch, roll).

Crop boxes (the four compared in docs/whenet.md), from the sample's ``.mat`` (independent code,
written from the rules in docs/whenet.md, not from posebench):

* ``loose68``: Hopenet's loose box (k = 0.2, its sequential updates) around the 68 landmarks
  ``pt3d_68[:2]``;
* ``visible``: the same rule around the visible 21 AFLW points (``pt2d`` without the -1 entries);
* ``demo``: the authors' demo padding (height/10 up and down, width/5 left and right, updated in
  their order, clipped) around the tight box of the 68 landmarks;
* ``protocol``: Hopenet's loose box around all 21 ``pt2d`` points, invisible ones (-1) included
  (posebench's ``aflw2000`` protocol box).

Writes JSON: per image id, per crop, the integer box actually sliced ``[x0, y0, x1, y1]`` and the
angles ``[yaw, pitch, roll]`` (degrees, float64 as numpy computed them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
CROPS = ("loose68", "visible", "demo", "protocol")


def build_model(weights: str):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import efficientnet.tfkeras as efn
    from tensorflow import keras

    base = efn.EfficientNetB0(include_top=False, weights=None, input_shape=(224, 224, 3))
    out = keras.layers.GlobalAveragePooling2D()(base.output)
    heads = [keras.layers.Dense(name=n, units=u)(out) for n, u in (("yaw_new", 120), ("pitch_new", 66), ("roll_new", 66))]
    model = keras.models.Model(inputs=base.input, outputs=heads)
    model.load_weights(weights)
    return model


def softmax(x):  # the authors' utils.softmax
    x = x - np.max(x, axis=1, keepdims=True)
    a = np.exp(x)
    return a / np.sum(np.exp(x), axis=1, keepdims=True)


def get_angle(model, img_rgb):  # the authors' WHENet.get_angle
    img = img_rgb / 255
    img = (img - MEAN) / STD
    pred = model.predict(img, batch_size=8, verbose=0)
    idx = np.arange(66, dtype=np.float32)
    idx_yaw = np.arange(120, dtype=np.float32)
    yaw = np.sum(softmax(pred[0]) * idx_yaw, axis=1) * 3 - 180
    pitch = np.sum(softmax(pred[1]) * idx, axis=1) * 3 - 99
    roll = np.sum(softmax(pred[2]) * idx, axis=1) * 3 - 99
    return float(yaw[0]), float(pitch[0]), float(roll[0])


def hopenet_loose(x0, y0, x1, y1, k=0.2):
    x0 -= 2 * k * abs(x1 - x0)
    y0 -= 2 * k * abs(y1 - y0)
    x1 += 2 * k * abs(x1 - x0)
    y1 += 0.6 * k * abs(y1 - y0)
    return x0, y0, x1, y1


def demo_pad(x0, y0, x1, y1, h, w):  # the authors' demo_video.process_detection
    y0 = max(0, y0 - abs(y0 - y1) / 10)
    y1 = min(h, y1 + abs(y0 - y1) / 10)
    x0 = max(0, x0 - abs(x0 - x1) / 5)
    x1 = min(w, x1 + abs(x0 - x1) / 5)
    return x0, y0, x1, y1


def boxes_of(mat, h, w):
    lm = np.asarray(mat["pt3d_68"], float)[:2].T
    pts = np.asarray(mat["pt2d"], float).T
    vis = pts[(pts[:, 0] >= 0) & (pts[:, 1] >= 0)]

    def tight(p):
        return float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())

    return {
        "loose68": hopenet_loose(*tight(lm)),
        "visible": hopenet_loose(*tight(vis)),
        "demo": demo_pad(*tight(lm), h, w),
        "protocol": hopenet_loose(*tight(pts)),
    }


def sliced(box, h, w):
    x0, y0, x1, y1 = box
    return [int(max(0, x0)), int(max(0, y0)), int(min(w, x1)), int(min(h, y1))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--weights", required=True)
    ap.add_argument("-o", "--output", required=True, type=Path)
    args = ap.parse_args()
    import cv2
    import scipy.io
    import tensorflow as tf

    model = build_model(args.weights)
    images = sorted(args.data_dir.glob("image*.jpg"))
    out = {"source": "scripts/whenet_reference.py: the authors' Keras WHENet (efficientnet.tfkeras "
                     f"on TensorFlow {tf.__version__}, Keras {tf.keras.__version__ if hasattr(tf.keras, '__version__') else '?'})",
           "weights": Path(args.weights).name, "crops": list(CROPS), "images": {}}
    for p in images:
        mat = scipy.io.loadmat(str(p.with_suffix(".mat")))
        bgr = cv2.imread(str(p))
        h, w = bgr.shape[:2]
        entry = {}
        for crop, box in boxes_of(mat, h, w).items():
            x0, y0, x1, y1 = sliced(box, h, w)
            rgb = cv2.cvtColor(bgr[y0:y1, x0:x1], cv2.COLOR_BGR2RGB)
            rgb = np.expand_dims(cv2.resize(rgb, (224, 224)), axis=0)
            entry[crop] = {"box": [x0, y0, x1, y1], "angles": list(get_angle(model, rgb))}
        out["images"][p.stem] = entry
        print(p.stem, " ".join(f"{c}={np.round(e['angles'], 2).tolist()}" for c, e in entry.items()), file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(args.output)
    print(f"wrote {args.output}: {len(images)} images x {len(CROPS)} crops", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
