"""Training throughput: images/s of full optimizer steps (forward, multi-loss, backward, Adam)
on random input, for the plain loop and its faster variants, timed in the same run."""

from __future__ import annotations

import time
from typing import Iterator

import torch

from .spec import Targets, spec_for

VARIANTS = (("plain", False, False), ("channels-last", True, False), ("amp", False, True),
            ("channels-last+amp", True, True))


def time_steps(model: str, input_size: int, batch: int, iters: int, warmup: int, channels_last: bool,
               amp: bool, device: torch.device) -> float:
    """Images per second of ``iters`` training steps after ``warmup`` untimed ones."""
    spec = spec_for(model)
    torch.manual_seed(0)
    net = spec.build(model).to(device)
    groups = spec.param_groups(net, model, 1e-5)
    for p in groups[0]["params"]:
        p.requires_grad_(False)
    if channels_last:
        net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam([{k: v for k, v in g.items() if k != "name"} for g in groups], lr=1e-5)
    spec.set_train_mode(net, "original")
    x = torch.randn(batch, 3, input_size, input_size, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    heads = spec.heads(model)
    angles = (torch.rand(batch, 3, device=device) * 180 - 90)
    bins = torch.stack([((angles[:, j] - h.low) // h.width).long() for j, h in enumerate(heads)], dim=1)
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
    targets = Targets(bins, angles, 1.0, heads)

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=amp):
            out = net(x)
        res = spec.loss(model, out, targets)
        opt.zero_grad(set_to_none=True)
        scaler.scale(res.total).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * iters / (time.perf_counter() - t0)


def amp_helps(device: torch.device) -> bool:
    """AMP on GPU; on CPU only with native bfloat16 (oneDNN reports it), otherwise it is emulated
    and slower than float32."""
    if device.type == "cuda":
        return True
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def bench_models(models: list[str], input_size: int, batch: int, iters: int, warmup: int,
                 force_amp: bool = False) -> Iterator[str]:
    """Lines of the training bench (``posebench bench train``). Raises :class:`UsageError` for an
    ``input_size``, ``batch``, ``iters`` or ``warmup`` outside :mod:`posebench.limits` (a
    100000 px input asked for 120 GB)."""
    from posebench.errors import UsageError
    from posebench.limits import MAX_BATCH_SIZE, MAX_INPUT_SIZE, MAX_REPEATS

    for name, value, lo, hi in (("input_size", input_size, 16, MAX_INPUT_SIZE), ("batch", batch, 1, MAX_BATCH_SIZE),
                                ("iters", iters, 1, MAX_REPEATS), ("warmup", warmup, 0, MAX_REPEATS)):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise UsageError(f"{name} must be a whole number in {lo} .. {hi}, got {value!r}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    use_amp = force_amp or amp_helps(device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    yield (f"training step (forward + multi-loss + backward + Adam), batch {batch}, {input_size}px, {iters} timed steps "
           f"after {warmup} warm-up, on {where}; random input, no data loading")
    if not use_amp:
        yield "  AMP variants skipped: this CPU has no native bfloat16 (emulated AMP is slower); --force-amp times them"
    for model in models:
        base = None
        for name, cl, amp in VARIANTS:
            if amp and not use_amp:
                continue
            ips = time_steps(model, input_size, batch, iters, warmup, cl, amp, device)
            base = base or ips
            yield f"  {model:<20} {name:<18} {ips:9.2f} images/s   {ips / base:5.2f}x plain"
