"""``posebench bench gpu``: GPU throughput of the image networks, and their CPU/GPU agreement.

For each network (Hopenet ResNet-50 and WHENet, each with the weights given or seeded ones when
none are installed: throughput does not depend on the weight values) and each GPU path (torch
``device=cuda`` channels-last, onnxruntime's ``CUDAExecutionProvider`` where installed), the same
random normalised batch runs on the CPU (torch) and on the GPU; the largest angle difference is
printed against :data:`TOLERANCE_DEG`, then GPU images/s at each batch size (interleaved rounds,
median and best, the load printed). Without a GPU it says so in one line and exits 0.
"""

from __future__ import annotations

import os
import statistics
import time

import click

from posebench.commands.bench import bench

#: CPU and GPU angles may differ by this much (degrees): cuDNN's convolution algorithms and TF32
#: are not bit-identical to the CPU's float32; TF32 is turned off here, so the differences are
#: float32 reordering (~1e-4 deg measured on the CPU engines of Hopenet and WHENet).
TOLERANCE_DEG = 1e-2


def gpu_status() -> tuple[bool, bool, str]:
    """``(torch_cuda, onnxruntime_cuda, description)`` of the GPUs this process can use."""
    import torch

    torch_ok = torch.cuda.is_available()
    try:
        import onnxruntime as ort

        ort_ok = "CUDAExecutionProvider" in ort.get_available_providers()
    except ImportError:  # pragma: no cover - onnxruntime is a core dependency
        ort_ok = False
    name = torch.cuda.get_device_name(0) if torch_ok else "none"
    text = (f"torch {torch.__version__} CUDA {'available: ' + name if torch_ok else 'not available'}; "
            f"onnxruntime CUDAExecutionProvider {'installed' if ort_ok else 'not installed'}")
    return torch_ok, ort_ok, text


def _networks(whenet_weights: str | None):
    """(name, torch network returning (N, 3) degrees) pairs: Hopenet and WHENet."""
    import torch

    from posebench.methods.hopenet.nets import Degrees, Hopenet
    from posebench.methods.whenet.nets import WHENetAngles

    torch.manual_seed(0)
    hopenet = Degrees(Hopenet()).eval()
    if whenet_weights:
        from posebench.methods.whenet.weights import load_whenet

        whenet = WHENetAngles(load_whenet(whenet_weights)).eval()
    else:
        from posebench.methods.whenet.nets import WHENet

        whenet = WHENetAngles(WHENet()).eval()
    return [("hopenet", hopenet), ("whenet", whenet)]


def _export(net) -> bytes:
    """ONNX bytes of ``net`` (input ``image`` [N, 3, 224, 224], output ``angles`` [N, 3])."""
    import copy
    import io
    import warnings

    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(copy.deepcopy(net).cpu().eval(), torch.zeros(1, 3, 224, 224), buf, input_names=["image"],
                          output_names=["angles"], dynamic_axes={"image": {0: "batch"}, "angles": {0: "batch"}},
                          opset_version=17, dynamo=False)
    return buf.getvalue()


@bench.command("gpu")
@click.option("--batch-sizes", default="1,16,64", show_default=True, help="Comma-separated batch sizes to time.")
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(3, 100), help="Timed rounds per path and batch size.")
@click.option("--whenet-weights", type=click.Path(dir_okay=False, exists=True), default=None,
              help="WHENet.h5 (default: seeded weights; speed does not depend on them).")
def bench_gpu(batch_sizes: str, rounds: int, whenet_weights: str | None) -> None:
    """Print GPU throughput (images/s) of Hopenet and WHENet through torch device=cuda and
    onnxruntime's CUDA provider, with their largest angle difference from the CPU; without a GPU,
    say so and exit."""
    from posebench.errors import UsageError

    try:
        sizes = sorted({int(v) for v in batch_sizes.split(",") if v.strip()})
    except ValueError:
        raise UsageError(f"--batch-sizes must be integers separated by commas, got {batch_sizes!r}") from None
    if not sizes or min(sizes) < 1:
        raise UsageError(f"--batch-sizes must be positive integers, got {batch_sizes!r}")
    torch_ok, ort_ok, text = gpu_status()
    if not torch_ok and not ort_ok:
        click.echo(f"posebench bench gpu: no GPU here ({text}); nothing to time")
        return
    import copy

    import numpy as np
    import torch

    from posebench.engines import SessionEngine, angle_error, make_session

    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    click.echo(f"posebench bench gpu: {text}; {rounds} rounds, interleaved")
    click.echo(f"machine load average: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    click.echo(f"{'network':8s} {'path':34s} {'batch':>5s} {'img/s median':>13s} {'img/s best':>11s} {'max |d| deg vs CPU':>19s}")
    rng = np.random.default_rng(0)
    for name, net in _networks(whenet_weights):
        x = torch.from_numpy(rng.standard_normal((max(sizes), 3, 224, 224)).astype(np.float32))
        with torch.inference_mode():
            cpu = net(x).double().numpy()
        paths = {}
        if torch_ok:
            gpu_net = copy.deepcopy(net).to("cuda").to(memory_format=torch.channels_last)

            def run_torch(b: torch.Tensor, m=gpu_net) -> np.ndarray:
                with torch.inference_mode():
                    out = m(b.to("cuda", non_blocking=True).contiguous(memory_format=torch.channels_last))
                    return out.double().cpu().numpy()
            paths["torch cuda, channels-last"] = run_torch
        if ort_ok:
            model = _export(net)
            eng = SessionEngine(make_session(model, "onnxruntime", 0, "cuda"), "image", "angles")
            paths["onnxruntime CUDAExecutionProvider"] = lambda b, e=eng: e(b)
        for path, fn in paths.items():
            diff = float(angle_error(fn(x), cpu).max())
            verdict = "ok" if diff <= TOLERANCE_DEG else "EXCEEDS"
            times: dict[int, list[float]] = {s: [] for s in sizes}
            for s in sizes:
                fn(x[:s])  # warm-up: cuDNN autotuning, provider set-up
            for _ in range(rounds):
                for s in sizes:
                    if torch_ok:
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    fn(x[:s])
                    times[s].append(time.perf_counter() - t0)
            for s in sizes:
                med, best = s / statistics.median(times[s]), s / min(times[s])
                click.echo(f"{name:8s} {path:34s} {s:5d} {med:13.1f} {best:11.1f} {diff:12.1e} ({verdict})")
    click.echo(f"img/s include the host-to-device copy and the result's copy back; tolerance {TOLERANCE_DEG:g} deg")


COMMANDS: list = []  # attaches to the `bench` group
