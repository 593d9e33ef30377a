"""Reference outputs of 6DRepNet and 6DRepNet360 from the authors' own code, for posebench's tests.

Runs in a throw-away environment, never committed here: the authors' PyPI package ``sixdrepnet``
0.1.6 (model, RepVGG backbone, utils, datasets: the same files as thohemp/6DRepNet at 464b2ba) and
6DRepNet360's ``sixdrepnet360/`` folder (thohemp/6DRepNet360 at b06e4fe; its model class lives in
its ``test.py`` and is taken from there by ``ast``, the rest of that script is not run). Nothing
here imports posebench. E.g.::

    python3 -m venv /tmp/6drep && /tmp/6drep/bin/pip install torch==2.14.1 torchvision==0.29.1 scipy \
        opencv-python-headless pillow && /tmp/6drep/bin/pip install --no-deps sixdrepnet==0.1.6
    git --git-dir=<mirror of thohemp/6DRepNet360> archive HEAD sixdrepnet360 | tar -x -C /tmp/6drep360
    /tmp/6drep/bin/python scripts/sixdrepnet_reference.py --data-dir ../shared/data/AFLW2000-sample \
        --repo360 /tmp/6drep360/sixdrepnet360 --weights-dir /tmp/6drep_weights -o tests/data/sixdrepnet_reference.json

Seeded weights (no published file is on this machine), one per layout the authors' files have,
drawn by the rule of ``posebench.methods.sixdrepnet.weights.seeded_state_dict`` (repeated below)
over the keys of the authors' model, in its order:

* ``train``: ``SixDRepNet('RepVGG-B1g2', deploy=False)``, seed 0, saved as ``train.py`` saves a
  snapshot: ``{'epoch', 'model_state_dict', 'optimizer_state_dict'}`` (an Adam's state dict);
* ``deploy``: ``SixDRepNet('RepVGG-B1g2', deploy=True)``, seed 1, a plain state dict (the layout of
  the published ``6DRepNet_300W_LP_AFLW2000.pth``);
* ``360``: ``SixDRepNet360(Bottleneck, [3, 4, 6, 3])``, seed 2, a plain state dict.

Each file is loaded as the authors' ``test.py`` loads it (``model_state_dict`` when present) into
their model; per in-protocol image (|yaw|, |pitch|, |roll| <= 99 deg) the authors' AFLW2000
pipeline runs: ``datasets.AFLW2000.__getitem__``'s crop (PIL, ``pt2d`` loose box, k = 0.2),
``Resize(256)``, ``CenterCrop(224)``, ``ToTensor``, ``Normalize`` (``test.py``), the network, and
``compute_euler_angles_from_rotation_matrices`` (pitch, yaw, roll). Stored per image: the crop
box, SHA-256 of the 224x224 uint8 crop and of the normalised float32 tensor, ``R`` and the
authors' angles. Also the authors' MAE (``min`` over |d|, |d +- 360|, |d +- 180|) of each file.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import io
import json
import sys
import types
from pathlib import Path

import numpy as np

SEEDS = {"train": 0, "deploy": 1, "360": 2}
FILES = {"train": "6DRepNet_seeded_train_epoch_1.tar", "deploy": "6DRepNet_seeded_deploy.pth", "360": "6DRepNet360_seeded.pth"}


def seeded_state_dict(shapes, seed):
    """posebench.methods.sixdrepnet.weights.seeded_state_dict, repeated (this script imports no posebench)."""
    import torch

    rng = np.random.default_rng(seed)
    out = {}
    for key, shape in shapes:
        shape = tuple(int(s) for s in shape)
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(0, dtype=torch.int64)
            continue
        if key.endswith("running_var"):
            a = rng.uniform(0.5, 1.5, shape)
        elif key.endswith("running_mean") or key.endswith("bias"):
            a = rng.normal(0.0, 0.1, shape)
        elif len(shape) == 4:
            a = rng.normal(0.0, np.sqrt(2.0 / (shape[1] * shape[2] * shape[3])), shape)
        elif len(shape) == 2:
            a = rng.normal(0.0, np.sqrt(1.0 / shape[1]), shape)
        else:
            a = rng.uniform(0.4, 0.6, shape)
        out[key] = torch.from_numpy(a.astype(np.float32))
    return out


def state_digest(state):
    h = hashlib.sha256()
    for k, v in state.items():
        h.update(f"{k}{tuple(v.shape)}".encode())
        h.update(np.ascontiguousarray(v.detach().cpu().numpy()).tobytes())
    return h.hexdigest()


def model_360_class(repo360: Path):
    """``SixDRepNet360`` from the authors' ``test.py`` (its class definition only), with their utils."""
    import math

    import torch
    from torch import nn

    sys.path.insert(0, str(repo360))
    import utils as utils360  # noqa: F401  (their sixdrepnet360/utils.py)

    tree = ast.parse((repo360 / "test.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SixDRepNet360")
    mod = types.ModuleType("sixdrepnet360_model")
    mod.__dict__.update(math=math, torch=torch, nn=nn, utils=utils360)
    exec(compile(ast.Module(body=[cls], type_ignores=[]), str(repo360 / "test.py"), "exec"), mod.__dict__)
    sys.path.remove(str(repo360))
    return mod.SixDRepNet360


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--repo360", required=True, type=Path, help="6DRepNet360's sixdrepnet360/ folder")
    ap.add_argument("--weights-dir", required=True, type=Path, help="where the seeded files are written")
    ap.add_argument("-o", "--output", required=True, type=Path)
    args = ap.parse_args()
    import sixdrepnet
    import torch
    import torchvision
    from PIL import Image
    from torchvision import transforms

    pkg = Path(sixdrepnet.__file__).parent
    sys.path.insert(0, str(pkg))  # their modules import each other by bare name (model, utils, backbone)
    import utils  # noqa: E402
    from model import SixDRepNet  # noqa: E402
    Model360 = model_360_class(args.repo360)

    torch.set_grad_enabled(False)
    args.weights_dir.mkdir(parents=True, exist_ok=True)
    transformations = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                          transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    crop_only = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    models = {}
    out = {"source": f"scripts/sixdrepnet_reference.py: sixdrepnet {sixdrepnet.__version__} (PyPI) and thohemp/6DRepNet360 b06e4fe "
                     f"test.py's SixDRepNet360, torch {torch.__version__}, torchvision {torchvision.__version__}",
           "files": {}, "images": {}, "mae_authors": {}}
    for form, seed in SEEDS.items():
        with contextlib.redirect_stdout(io.StringIO()):  # their training-form blocks print themselves
            net = (Model360(torchvision.models.resnet.Bottleneck, [3, 4, 6, 3], 6) if form == "360"
                   else SixDRepNet(backbone_name="RepVGG-B1g2", backbone_file="", deploy=form == "deploy", pretrained=False))
        state = seeded_state_dict([(k, tuple(v.shape)) for k, v in net.state_dict().items()], seed)
        path = args.weights_dir / FILES[form]
        if form == "train":
            net.load_state_dict(state)
            opt = torch.optim.Adam(net.parameters(), lr=1e-5)
            torch.save({"epoch": 1, "model_state_dict": state, "optimizer_state_dict": opt.state_dict()}, path)
        else:
            torch.save(state, path)
        saved = torch.load(path, map_location="cpu")  # test.py
        if "model_state_dict" in saved:
            net.load_state_dict(saved["model_state_dict"])
        else:
            net.load_state_dict(saved)
        models[form] = net.eval()
        out["files"][form] = {"file": FILES[form], "seed": seed, "state_sha256": state_digest(state), "tensors": len(state)}
    errs = {form: [] for form in SEEDS}
    for p in sorted(args.data_dir.glob("image*.jpg")):
        mat_path = p.with_suffix(".mat")
        pose = utils.get_ypr_from_mat(str(mat_path))
        gt = np.degrees(np.asarray(pose, float))  # pitch, yaw, roll
        if np.any(np.abs(gt) > 99):
            continue
        img = Image.open(p).convert("RGB")  # datasets.AFLW2000.__getitem__
        pt2d = utils.get_pt2d_from_mat(str(mat_path))
        x_min, y_min, x_max, y_max = min(pt2d[0, :]), min(pt2d[1, :]), max(pt2d[0, :]), max(pt2d[1, :])
        k = 0.20
        x_min -= 2 * k * abs(x_max - x_min)
        y_min -= 2 * k * abs(y_max - y_min)
        x_max += 2 * k * abs(x_max - x_min)
        y_max += 0.6 * k * abs(y_max - y_min)
        box = (int(x_min), int(y_min), int(x_max), int(y_max))
        img = img.crop(box)
        crop = np.asarray(crop_only(img))
        x = transformations(img)[None]
        entry = {"gt_pitch_yaw_roll": gt.tolist(), "box": list(box),
                 "crop_sha256": hashlib.sha256(np.ascontiguousarray(crop).tobytes()).hexdigest(),
                 "input_sha256": hashlib.sha256(np.ascontiguousarray(x.numpy().astype(np.float32)).tobytes()).hexdigest()}
        for form, net in models.items():
            R = net(x)
            euler = (utils.compute_euler_angles_from_rotation_matrices(R) * 180 / np.pi)[0].numpy().astype(float)
            entry[form] = {"R": R[0].numpy().astype(float).tolist(), "pitch_yaw_roll": euler.tolist()}
            d = np.abs(euler - gt)
            errs[form].append(np.min(np.stack([d, np.abs(euler + 360 - gt), np.abs(euler - 360 - gt),
                                               np.abs(euler + 180 - gt), np.abs(euler - 180 - gt)]), 0))
        out["images"][p.stem] = entry
    for form, e in errs.items():
        e = np.asarray(e)
        out["mae_authors"][form] = {"n": len(e), "pitch": float(e[:, 0].mean()), "yaw": float(e[:, 1].mean()),
                                    "roll": float(e[:, 2].mean()), "mean": float(e.mean())}
        print(f"{form}: {len(e)} images, authors' MAE (their min rule) {e.mean():.3f} deg", file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(args.output)
    print(f"wrote {args.output}: {len(out['images'])} images x {len(models)} checkpoints", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
