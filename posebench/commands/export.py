"""``posebench export``: write a network to ONNX for deployment elsewhere.

``posebench export hopenet --weights hopenet_alpha1.pkl --out hopenet.onnx`` writes a model with
input ``image`` [N, 3, 224, 224] float32 (RGB, ImageNet-normalised, as posebench's preprocessing)
and output ``angles`` [N, 3]: (yaw, pitch, roll) in degrees, the softmax expectation included.
"""

from __future__ import annotations

from pathlib import Path

import click

from posebench.errors import PosebenchError, UsageError

ARCH_NAMES = ("hopenet", "hopenet-alexnet", "resnet50-regression")


@click.group("export")
def export() -> None:
    """Export a network to ONNX (Hopenet, WHENet, 6DRepNet: normalised 224x224 RGB -> degrees;
    SynergyNet, 3DDFA_V2: 120x120 BGR -> 3DMM parameters)."""


def check_onnx(onnx_bytes: bytes, net, batch: int = 2, seed: int = 0) -> float:
    """Largest |angle difference| (degrees) between onnxruntime and torch on a random batch."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from posebench.methods.hopenet.nets import INPUT_SIZE, Degrees

    x = torch.randn((batch, 3, INPUT_SIZE, INPUT_SIZE), generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        ref = Degrees(net).eval()(x).double().numpy()
    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    got = sess.run(["angles"], {"image": x.numpy()})[0].astype(np.float64)
    return float(np.abs(got - ref).max())


def check_output(output: Path, weights: Path | None = None, overwrite: bool = False) -> None:
    """Refuse an unusable ``--out`` before any weights are loaded (and again with the weights
    file the default resolved to): one line naming the path. The output rule of
    :mod:`posebench.outputs`: never the ``--weights`` file itself (by path or inode: the
    checkpoint was replaced by its ONNX export), an existing file only with ``--overwrite``."""
    from posebench.fileio import shown, writable_folder
    from posebench.outputs import check_outputs

    writable_folder(output.parent, "output folder")
    if output.is_dir():
        raise UsageError(f"--out {shown(output)} is a folder; give the ONNX file to write")
    check_outputs({"--out": output}, {"weights file": weights} if weights is not None else {}, overwrite)


def onnx_bytes(export_onnx_bytes, net, opset: int) -> bytes:
    """``export_onnx_bytes(net, opset=opset)``, an exporter failure as one line (they are long)."""
    try:
        return export_onnx_bytes(net, opset=opset)
    except Exception as exc:  # noqa: BLE001
        raise PosebenchError(f"ONNX export failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None


def export_checked(net, output: Path, opset: int, check: bool) -> None:
    """Export ``net`` (its forward gives (N, 3) degrees, or Hopenet's binned logits), compare
    onnxruntime with torch when ``check``, and write ``output`` atomically."""
    from posebench.fileio import write_atomic
    from posebench.methods.hopenet.engine import export_onnx_bytes

    data = onnx_bytes(export_onnx_bytes, net, opset)
    if check:
        diff = check_onnx(data, net)
        click.echo(f"check: onnxruntime vs torch on a random batch of 2: max |angle difference| = {diff:.2e} deg")
        if not diff < 1e-3:
            raise PosebenchError(f"ONNX model differs from torch by {diff:.3g} deg (> 1e-3); not written")
    write_atomic(output, data)
    click.echo(f"wrote {output} ({len(data) / 1e6:.1f} MB): input 'image' [N,3,224,224] float32 "
               "normalised RGB -> output 'angles' [N,3] degrees (yaw, pitch, roll)")


def _make_command(arch: str) -> click.Command:
    @click.command(arch, help=f"Export {arch} with its weights to ONNX (output: yaw, pitch, roll in degrees).")
    @click.option("--weights", "weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Checkpoint (.pkl/.pth or .safetensors); default: the weights folder's file for --variant.")
    @click.option("--variant", default="", show_default="alpha1 for hopenet",
                  help="Official checkpoint to look up in the weights folder when --weights is not given "
                       "(hopenet: alpha1, alpha2, robust_alpha1).")
    @click.option("--out", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
                  help="ONNX file to write (-o is --option on every command).")
    @click.option("--opset", default=17, show_default=True, type=click.IntRange(11, 23), help="ONNX opset.")
    @click.option("--check/--no-check", default=True, show_default=True,
                  help="Compare onnxruntime with torch on a random batch and fail above 1e-3 degrees.")
    @click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
    def cmd(weights: Path | None, variant: str, output: Path, opset: int, check: bool, overwrite: bool) -> None:
        from posebench.methods.hopenet.method import load_network
        from posebench.methods.hopenet.weights import VARIANTS

        if variant and variant not in VARIANTS[arch]:
            raise UsageError(f"--variant must be one of {', '.join(VARIANTS[arch])} for {arch}, got {variant!r}")
        check_output(output, weights, overwrite)
        net, path = load_network(arch, weights, variant)
        check_output(output, path, overwrite)
        click.echo(f"loaded {arch} weights {path}", err=True)
        export_checked(net, output, opset, check)

    return cmd


for _arch in ARCH_NAMES:
    export.add_command(_make_command(_arch))


@export.command("whenet")
@click.option("--weights", "weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="WHENet.h5 (the authors' Keras weights) or a `posebench train --model whenet` checkpoint "
                   "(best.pt); default: <weights folder>/whenet/WHENet.h5.")
@click.option("--out", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="ONNX file to write (-o is --option on every command).")
@click.option("--opset", default=17, show_default=True, type=click.IntRange(11, 23), help="ONNX opset.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Compare onnxruntime with torch on a random batch and fail above 1e-3 degrees.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def export_whenet(weights: Path | None, output: Path, opset: int, check: bool, overwrite: bool) -> None:
    """Export WHENet with its weights to ONNX. Input 'image' [N,3,224,224] float32: the face crop
    resized to 224x224, RGB, /255, ImageNet mean/std; output 'angles' [N,3] degrees (yaw, pitch,
    roll; softmax expectation over the bins included)."""
    from posebench.methods.whenet.method import load_network
    from posebench.methods.whenet.nets import WHENetAngles

    check_output(output, weights, overwrite)
    net, path = load_network(weights)
    check_output(output, path, overwrite)
    click.echo(f"loaded WHENet weights {path}", err=True)
    export_checked(WHENetAngles(net).eval(), output, opset, check)


@export.command("synergynet")
@click.option("--weights", "weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The authors' checkpoint (best.pth.tar); default: <weights folder>/synergynet/best.pth.tar.")
@click.option("--out", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="ONNX file to write (-o is --option on every command).")
@click.option("--opset", default=17, show_default=True, type=click.IntRange(11, 23), help="ONNX opset.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Compare onnxruntime with torch on a random batch (the poses of the parameters) and fail above 1e-3 degrees.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def export_synergynet(weights: Path | None, output: Path, opset: int, check: bool, overwrite: bool) -> None:
    """Export SynergyNet with its checkpoint to ONNX. Input 'image' [N,3,120,120] float32: the
    authors' crop resized to 120x120 (INTER_LANCZOS4), BGR, (x - 127.5) / 128; output 'params' [N,62]:
    the de-normalised 3DMM parameters (12 camera row-major, 40 shape, 10 expression), the checkpoint's
    param_mean/param_std included. The pose is the rotation of the 3x4 camera params[:, :12] with its
    rows 1 and 2 normalised and row 3 their cross product (posebench's convention)."""
    from posebench.methods.synergynet.nets import DenormalisedParams
    from posebench.methods.synergynet.weights import load_synergynet, resolve_weights

    check_output(output, weights, overwrite)
    path = resolve_weights(weights)
    check_output(output, path, overwrite)
    net, mean, std = load_synergynet(path)
    click.echo(f"loaded SynergyNet weights {path}", err=True)
    export_params_checked(DenormalisedParams(net, mean, std).eval(), output, opset, check)


@export.command("3ddfa-v2")
@click.option("--weights", "weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The authors' checkpoint (mb05_120x120.pth, mb1_120x120.pth or resnet_120x120.pth); "
                   "default: <weights folder>/3ddfa_v2/mb05_120x120.pth.")
@click.option("--param-stats", "param_stats", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The authors' param_mean_std_62d_120x120.pkl; default: beside --weights, else the weights folder's.")
@click.option("--out", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="ONNX file to write (-o is --option on every command).")
@click.option("--opset", default=17, show_default=True, type=click.IntRange(11, 23), help="ONNX opset.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Compare onnxruntime with torch on a random batch (the poses of the parameters) and fail above 1e-3 degrees.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def export_tddfa_v2(weights: Path | None, param_stats: Path | None, output: Path, opset: int, check: bool,
                    overwrite: bool) -> None:
    """Export 3DDFA_V2 with the authors' checkpoint to ONNX. Input 'image' [N,3,120,120] float32: the
    authors' ROI crop resized to 120x120 (INTER_LINEAR), BGR, (x - 127.5) / 128; output 'params' [N,62]:
    the de-normalised 3DMM parameters (12 camera row-major, 40 shape, 10 expression), the authors'
    param_mean_std included (their TDDFA_ONNX graph with the re-scale inside). The pose is the rotation
    of the 3x4 camera params[:, :12] with its rows 1 and 2 normalised and row 3 their cross product
    (the authors' P2sRt), in posebench's convention."""
    from posebench.methods.synergynet.nets import DenormalisedParams
    from posebench.methods.tddfa_v2.weights import load_tddfa, read_param_stats, resolve_param_stats, resolve_weights
    from posebench.outputs import check_outputs

    check_output(output, weights, overwrite)
    path = resolve_weights(weights)
    check_output(output, path, overwrite)
    stats = resolve_param_stats(param_stats, path)
    check_outputs({"--out": output}, {"param_mean_std file": stats}, overwrite=True)  # never the statistics either
    net, arch = load_tddfa(path)
    mean, std = read_param_stats(stats)
    click.echo(f"loaded 3DDFA_V2 weights {path} ({arch}) and {stats.name}", err=True)
    export_params_checked(DenormalisedParams(net, mean, std).eval(), output, opset, check)


def export_params_checked(model, output: Path, opset: int, check: bool) -> None:
    """Export a 120x120 -> 62 de-normalised 3DMM parameter network (SynergyNet, 3DDFA_V2), compare
    the camera rotations of onnxruntime and torch on a random batch when ``check`` (fail above 1e-3
    degrees; nothing written), and write ``output`` atomically."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from posebench.fileio import write_atomic
    from posebench.methods.tddfa_v2.method import export_onnx_bytes
    from posebench.methods.tddfa_v2.nets import INPUT_SIZE
    from posebench.methods.tddfa_v2.preprocess import rotation_of

    data = onnx_bytes(export_onnx_bytes, model, opset)
    if check:
        x = torch.randn((2, 3, INPUT_SIZE, INPUT_SIZE), generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            ref = model(x).numpy()
        got = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(["params"], {"image": x.numpy()})[0]

        def angle(a: np.ndarray, b: np.ndarray) -> float:
            """The angle of the rotation between the two cameras' rotations (from its skew part:
            exact for small angles, where arccos of the trace is not)."""
            m = rotation_of(a).astype(np.float64).T @ rotation_of(b).astype(np.float64)
            w = np.array([m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1]]) / 2
            if np.trace(m) < 1:  # beyond 90 degrees: far above the threshold anyway
                return 180.0
            return float(np.degrees(np.arcsin(min(1.0, float(np.linalg.norm(w))))))

        diff = max(angle(a, b) for a, b in zip(got, ref))
        click.echo(f"check: onnxruntime vs torch on a random batch of 2: max rotation difference = {diff:.2e} deg "
                   f"(params: max relative difference {float((np.abs(got - ref) / np.maximum(np.abs(ref), 1e-6)).max()):.1e})")
        if not diff < 1e-3:
            raise PosebenchError(f"ONNX model differs from torch by {diff:.3g} deg (> 1e-3); not written")
    write_atomic(output, data)
    click.echo(f"wrote {output} ({len(data) / 1e6:.1f} MB): input 'image' [N,3,{INPUT_SIZE},{INPUT_SIZE}] float32 BGR "
               "(x-127.5)/128 -> output 'params' [N,62] de-normalised 3DMM parameters")


def _sixdrepnet_command(name: str) -> click.Command:
    from posebench.methods.sixdrepnet import WEIGHT_FILES as FILES

    @click.command(name)
    @click.option("--weights", "weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help=f"The authors' checkpoint (deploy-form .pth, a train.py snapshot, or 6DRepNet360's); "
                       f"default: <weights folder>/6drepnet/{FILES[name]}.")
    @click.option("--out", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
                  help="ONNX file to write (-o is --option on every command).")
    @click.option("--opset", default=17, show_default=True, type=click.IntRange(11, 23), help="ONNX opset.")
    @click.option("--check/--no-check", default=True, show_default=True,
                  help="Compare onnxruntime with torch on a random batch and fail above 1e-3 degrees.")
    @click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
    def cmd(weights: Path | None, output: Path, opset: int, check: bool, overwrite: bool) -> None:
        from posebench.methods.sixdrepnet.nets import Angles
        from posebench.methods.sixdrepnet.weights import load_network, resolve_weights

        check_output(output, weights, overwrite)
        path = resolve_weights(name, weights)
        check_output(output, path, overwrite)
        net, form = load_network(path)
        click.echo(f"loaded {name} weights {path} ({form} form)", err=True)
        export_checked(Angles(net).eval(), output, opset, check)

    cmd.help = (f"Export {name} with the authors' weights to ONNX. Input 'image' [N,3,224,224] float32: the face crop "
                "(Resize(256)+CenterCrop(224) of the protocol box), RGB, /255, ImageNet mean/std; output 'angles' [N,3] "
                "degrees (yaw, pitch, roll in posebench's convention, from the network's rotation matrix).")
    return cmd


for _name in ("6drepnet", "6drepnet360"):
    export.add_command(_sixdrepnet_command(_name))


@export.command("img2pose", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--weights", "weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The authors' checkpoint (img2pose_v1_ft_300w_lp.pth); not exported.")
@click.option("--out", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="ONNX file (never written: see the description).")
def export_img2pose(weights: Path | None, output: Path | None) -> None:
    """img2pose is not exported to ONNX: its detections pass through the authors' numpy/scipy
    post-processing (each DoF moved to the whole image, boxes projected from the 3D points, NMS on
    them) between the network and its answer, which an ONNX graph of the network would leave out.
    Fails with one line; nothing is written."""
    raise UsageError("img2pose cannot be exported to ONNX: its answer needs the authors' numpy/scipy post-processing "
                     "(DoF to the whole image, projected boxes, NMS) after the network; run it with `posebench run -m img2pose`")


COMMANDS = [export]
