"""A test-made WHENet weights file in the layout of the authors' Keras 2.1.6 ``WHENet.h5``."""

from __future__ import annotations

from pathlib import Path


def write_keras_h5(net, path: Path, drop: str = "", reshape: str = "") -> None:
    """Write ``net``'s weights in the layout of Keras 2.1.6's ``save_weights`` (layer_names,
    weight_names, kernels (kh, kw, in, out)); optionally drop or reshape one layer."""
    import h5py

    from posebench.methods.whenet.weights import torch_layers

    count: dict[str, int] = {}
    layers = []
    for _, kind, m in torch_layers(net):
        prefix = {"conv": "conv2d", "depthwise": "depthwise_conv2d", "batchnorm": "batch_normalization"}[kind]
        count[prefix] = count.get(prefix, 0) + 1
        name = f"{prefix}_{count[prefix]}"
        if kind == "conv":
            w = {"kernel": m.weight.detach().numpy().transpose(2, 3, 1, 0)}
            if m.bias is not None:
                w["bias"] = m.bias.detach().numpy()
        elif kind == "depthwise":
            w = {"depthwise_kernel": m.weight.detach().numpy().transpose(2, 3, 0, 1)}
        else:
            w = {"gamma": m.weight, "beta": m.bias, "moving_mean": m.running_mean, "moving_variance": m.running_var}
            w = {k: v.detach().numpy() for k, v in w.items()}
        layers.append((name, w))
    for name, lin in (("yaw_new", net.yaw), ("pitch_new", net.pitch), ("roll_new", net.roll)):
        layers.append((name, {"kernel": lin.weight.detach().numpy().T, "bias": lin.bias.detach().numpy()}))
    with h5py.File(path, "w") as f:
        names = []
        for name, w in layers:
            if name == drop:
                continue
            g = f.create_group(name)
            names.append(name.encode())
            wn = []
            for k, v in w.items():
                if name == reshape and k in ("kernel", "gamma"):
                    v = v[..., :-1]
                g.create_dataset(f"{name}/{k}:0", data=v)
                wn.append(f"{name}/{k}:0".encode())
            g.attrs["weight_names"] = wn
        f.attrs["layer_names"] = names
        f.attrs["keras_version"] = b"2.1.6"
        f.attrs["backend"] = b"tensorflow"
