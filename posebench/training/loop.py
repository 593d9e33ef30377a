"""The training loop: one process, or one process per GPU under ``torchrun`` (DDP).

Distributed: when ``WORLD_SIZE`` > 1 (set by ``torchrun``) the process group is initialised with
NCCL on GPUs and gloo on CPU, the network is wrapped in ``DistributedDataParallel``, each rank
reads its share of every epoch through a ``DistributedSampler`` (seed ``seed``, reshuffled by
epoch; with ``drop_last=False`` it pads the last round by repeating samples when the set does
not divide), and ``--batch-size`` is the global batch (each rank takes ``batch_size / world``).
Only rank 0 writes (checkpoints, log, plot, validation).

Determinism: the data order is a function of (seed, epoch); a sample's augmentation of (seed,
epoch, index) (:mod:`.data`); the initial weights of ``seed`` (or the ``--init`` file); dropout
draws from torch's generator, which checkpoints carry. A resumed run skips the batches its
checkpoint had consumed, so ``N`` steps straight and ``N/2`` + resume + ``N/2`` end with
identical weights on the same machine and software.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from posebench.errors import UsageError
from posebench.fileio import existing_file

from . import checkpoint as ckpt
from .augment import parse_augment
from .bins import head_bins
from .data import TrainSet, select_samples
from .loss import multi_loss, regression_loss
from .models import BN_MODES, MODELS, build, initialise, param_groups, set_train_mode


@dataclass
class TrainConfig:
    model: str = "hopenet"
    dataset: str = "300w-lp"
    data_dir: str | None = None
    dataset_options: dict[str, str] = field(default_factory=dict)
    alpha: float = 1.0
    epochs: int = 25
    batch_size: int = 128
    lr: float = 1e-5
    init: str | None = None
    augment: str = "paper"
    input_size: int = 224
    seed: int = 0
    bn: str = "original"
    limit: int | None = None
    max_steps: int | None = None
    save_every: int = 0
    log_every: int = 10
    workers: int = 2
    amp: bool = False
    channels_last: bool = False
    val_dataset: str | None = None
    val_dir: str | None = None
    val_options: dict[str, str] = field(default_factory=dict)
    val_limit: int | None = None
    val_engine: str = "onnxruntime"
    log_indices: bool = False
    check_images: bool = True
    plot: bool = True


@dataclass
class TrainResult:
    out: Path
    best: Path
    last: Path
    global_step: int
    history: list[dict[str, Any]]
    rank: int = 0  # this process's rank under torchrun (only rank 0 writes and reports)


def determining_config(cfg: TrainConfig, fingerprint: str, world: int) -> dict[str, Any]:
    """What a resume must share with the run it continues (see :data:`.checkpoint.RESUMABLE_CHANGES`)."""
    d = asdict(cfg)
    for k in ("val_dataset", "val_dir", "val_options", "val_limit", "val_engine", "log_indices", "max_steps",
              "check_images", "data_dir", "plot"):
        d.pop(k)
    d["init"] = Path(cfg.init).name if cfg.init else None
    d["augment"] = parse_augment(cfg.augment).describe()
    d["data_fingerprint"] = fingerprint
    d["world_size"] = world
    return d


#: Set once this process has opened a torch.distributed process group. DDP keeps the group's
#: native threads running after ``destroy_process_group`` (torch 2.14.1, gloo: measured here), and
#: a rank exiting through the interpreter's teardown then aborted once in 419 two-process runs
#: ("terminate called without an active exception"); :func:`posebench.entry.main` ends such a
#: process with ``os._exit`` once every file is written and the output flushed.
OPENED_PROCESS_GROUP = False


def _dist() -> tuple[int, int, int]:
    global OPENED_PROCESS_GROUP
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 1, 0, 0
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
        OPENED_PROCESS_GROUP = True
    return world, dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0"))


class _SkipSampler(torch.utils.data.Sampler):
    """A ``DistributedSampler`` whose first ``skip`` indices of the current epoch are left out."""

    def __init__(self, inner: torch.utils.data.DistributedSampler):
        self.inner = inner
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.inner.set_epoch(epoch)
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        return iter(list(self.inner)[self.skip :])

    def __len__(self) -> int:
        return len(self.inner) - self.skip


def weights_digest(net: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in net.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _load_dataset(name: str, data_dir: str | None, options: dict[str, str]):
    from posebench.registry import datasets

    return datasets.create(name, options, data_dir=data_dir)


def _append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(record, default=str) + "\n")
        fh.flush()


def _trim_log(path: Path, global_step: int) -> None:
    """Drop log lines written after the checkpoint a resume starts from."""
    if not path.is_file():
        return
    from posebench.fileio import write_atomic

    keep = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("global_step", 0) <= global_step:
            keep.append(line)
    write_atomic(path, "".join(k + "\n" for k in keep))


def validate(cfg: TrainConfig, weights: Path, val_set, results_dir: Path) -> dict[str, Any]:
    """Evaluate a weights file through the method's normal code path (``posebench run``)."""
    from posebench.evaluation.runner import evaluate
    from posebench.method import create_method

    threads = torch.get_num_threads()
    try:
        method = create_method(cfg.model, {"weights": str(weights), "engine": cfg.val_engine})
        res = evaluate(method, val_set, results_dir, progress=False)
    finally:
        torch.set_num_threads(threads)  # the method sets its own; training must not change
    j = res.summary_json()
    return {k: j[k] for k in ("mae_yaw", "mae_pitch", "mae_roll", "mae", "n_evaluated", "n_failed")} | {
        "dataset": val_set.name, "protocol": val_set.protocol, "engine": cfg.val_engine}


def train(cfg: TrainConfig, out: Path, resume: Path | None = None, progress: bool = False,
          echo: Callable[[str], None] = print) -> TrainResult:
    """Train ``cfg.model`` and write ``out/{last,best}.pt``, ``out/log.jsonl``, ``out/curves.png``.

    Under torchrun (``WORLD_SIZE`` > 1) each process calls this; the process group it opens is
    closed again on every way out, an error included, and all ranks return together, once rank 0
    has written its last file."""
    import torch.distributed as dist

    opened_here = not (dist.is_available() and dist.is_initialized())
    try:
        return _train(cfg, out, resume, progress, echo)
    finally:
        if opened_here and dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def _train(cfg: TrainConfig, out: Path, resume: Path | None, progress: bool,
           echo: Callable[[str], None]) -> TrainResult:
    if cfg.model not in MODELS:
        raise UsageError(f"--model must be one of {', '.join(MODELS)}, got {cfg.model!r}")
    if cfg.bn not in BN_MODES:
        raise UsageError(f"--bn must be one of {', '.join(BN_MODES)}, got {cfg.bn!r}")
    augment = parse_augment(cfg.augment)
    if cfg.init:
        existing_file(cfg.init, "--init file")
    if cfg.val_dataset and cfg.model == "tiny-hopenet":
        raise UsageError("validation needs a posebench method: tiny-hopenet has none (drop --val-dataset)")
    world, rank, local_rank = _dist()
    if cfg.batch_size % world:
        raise UsageError(f"--batch-size {cfg.batch_size} does not divide over {world} processes")
    per_rank = cfg.batch_size // world
    device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    main = rank == 0
    say = echo if main else (lambda _m: None)
    out = Path(out)
    if resume is None and any((out / f).exists() for f in ("last.pt", "best.pt", "log.jsonl")):
        raise UsageError(f"--out {out} already holds a training run: continue it with --resume {out / 'last.pt'}, "
                         "or choose another --out (nothing was changed)")
    _barrier(world)  # every rank looks before rank 0 writes there (DDP's set-up also waits, but later)

    heads = head_bins(cfg.model)
    dataset = _load_dataset(cfg.dataset, cfg.data_dir, cfg.dataset_options).subset(cfg.limit)
    selection = select_samples(dataset, cfg.check_images, heads)
    if not selection.samples:
        raise UsageError(f"no usable training sample in {dataset.root or cfg.dataset}: {selection.summary()} "
                         "(training needs images with 68 landmarks for the crop, e.g. 300w-lp or aflw2000)")
    val_set = None
    if cfg.val_dataset:
        val_set = _load_dataset(cfg.val_dataset, cfg.val_dir, cfg.val_options).subset(cfg.val_limit)
        if val_set.n_with_images == 0:
            raise UsageError(f"--val-dataset {cfg.val_dataset}: none of its {len(val_set)} samples has an image "
                             f"(a labels-only folder?); the networks validate on images")
    if main:
        out.mkdir(parents=True, exist_ok=True)
    say(f"data: {cfg.dataset} at {dataset.root}: {selection.summary()}"
        + (f"; {dataset.excluded} more outside the dataset protocol's range filter" if dataset.excluded else ""))
    if main and selection.skipped:
        (out / "skipped.txt").write_text("".join(f"{sid}\t{why}\n" for sid, why in selection.skipped))
        say(f"  skipped files listed in {out / 'skipped.txt'}")
    config = determining_config(cfg, dataset.fingerprint(), world)

    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    net = build(cfg.model)
    init_msg = initialise(net, cfg.model, cfg.init)
    say(f"model: {cfg.model}; {init_msg}")
    groups = param_groups(net, cfg.model, cfg.lr)
    for p in groups[0]["params"]:  # rate 0 in the original: same weights, no wasted gradients
        p.requires_grad_(False)
    net.to(device)
    if cfg.channels_last:
        net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam([{k: v for k, v in g.items() if k != "name"} for g in groups],
                                 lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _e: 1.0)  # constant, as the paper
    use_amp = bool(cfg.amp)
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp and device.type == "cuda")

    start_epoch, start_step, global_step = 0, 0, 0
    resumed_sums: dict[str, float] = {}
    best_mae = float("inf")
    if resume is not None:
        state = ckpt.load(resume)
        if state.get("arch") != cfg.model:
            raise UsageError(f"--resume {Path(resume).name} is a {state.get('arch')} checkpoint, not {cfg.model}")
        ckpt.check_resume(state["config"], config, Path(resume))
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        ranks = state.get("rng_ranks") or [state["rng"]]
        ckpt.set_rng_state(ranks[rank] if rank < len(ranks) else state["rng"])
        start_epoch, start_step, global_step = (int(v) for v in state["progress"][:3])
        best_mae = float(state.get("best_mae", float("inf")))
        resumed_sums = {k: float(v) for k, v in state.get("epoch_sums", {}).items()}
        say(f"resumed from {resume}: epoch {start_epoch + 1}, step {start_step} of it, global step {global_step}")
        if main:
            _trim_log(out / "log.jsonl", global_step)

    if world > 1 and resume is None:
        torch.manual_seed(cfg.seed + 1000003 * rank)  # each rank its own dropout masks
    model = net
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        model = DDP(net, device_ids=[local_rank] if device.type == "cuda" else None)

    trainset = TrainSet(selection.samples, cfg.input_size, augment, cfg.seed, heads,
                        preprocess="whenet" if cfg.model == "whenet" else "hopenet")
    sampler = _SkipSampler(torch.utils.data.DistributedSampler(trainset, num_replicas=world, rank=rank,
                                                               shuffle=True, seed=cfg.seed, drop_last=False))
    steps_per_epoch = -(-len(sampler.inner) // per_rank)
    log_path = out / "log.jsonl"
    if main:
        _append_jsonl(log_path, {"event": "start", "global_step": global_step, "config": config, "init": init_msg,
                                 "data": selection.summary(), "world_size": world, "device": str(device),
                                 "resumed_from": str(resume) if resume else None, "time": time.time()})
    say(f"training: {len(trainset)} samples, {steps_per_epoch} steps/epoch of {cfg.batch_size} "
        f"({world} process{'es' if world > 1 else ''}, {per_rank} each) on {device}; alpha {cfg.alpha}, lr {cfg.lr}, "
        f"augment {augment.describe()}, bn {cfg.bn}, input {cfg.input_size}px ({trainset.preprocess} preprocessing)")
    if cfg.model == "whenet" and cfg.input_size != 224:
        say(f"  note: the whenet method reads 224 px crops; validation and `posebench run` of this run's weights "
            f"use 224 px, not the {cfg.input_size} px trained here")

    def state_dict(epoch: int, step: int, full: bool, metrics: dict | None = None,
                   rngs: list | None = None) -> dict[str, Any]:
        obj: dict[str, Any] = {"posebench_checkpoint": ckpt.FORMAT, "arch": cfg.model, "config": config,
                               "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                               "progress": [epoch, step, global_step], "best_mae": best_mae}
        if metrics:
            obj["metrics"] = metrics
        if full and step:  # mid-epoch: the epoch's loss sums so far, for its mean in the log
            obj["epoch_sums"] = {**sums, "_batches": float(n_batches)}
        if full:
            obj.update(optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(), rng=(rngs or [[ckpt.rng_state()]])[0][0],
                       rng_ranks=[r[0] for r in rngs] if rngs else [ckpt.rng_state()])
            if scaler.is_enabled():
                obj["scaler"] = scaler.state_dict()
        return obj

    history: list[dict[str, Any]] = []
    binned = getattr(net, "binned", True)
    stop = False
    for epoch in range(start_epoch, cfg.epochs):
        skip = start_step * per_rank if epoch == start_epoch else 0
        step_in_epoch = start_step if epoch == start_epoch else 0
        trainset.set_epoch(epoch)
        sampler.set_epoch(epoch, skip)
        # its own generator: creating the iterator must not draw from torch's global one (dropout's)
        loader = torch.utils.data.DataLoader(trainset, batch_size=per_rank, sampler=sampler,
                                             num_workers=cfg.workers, drop_last=False,
                                             generator=torch.Generator().manual_seed(cfg.seed + epoch))
        set_train_mode(net, cfg.bn)
        sums: dict[str, float] = dict(resumed_sums) if epoch == start_epoch else {}
        n_batches = int(sums.pop("_batches", 0))
        failed, seen = [], []
        t_epoch = time.perf_counter()
        bar = _bar(progress and main, steps_per_epoch, step_in_epoch, f"epoch {epoch + 1}/{cfg.epochs}")
        t_last, imgs_since = time.perf_counter(), 0
        for images, bins, angles, index, bad in loader:
            images = images.to(device, non_blocking=True)
            if cfg.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            bins, angles = bins.to(device), angles.to(device)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                output = model(images)
            res = multi_loss(output, bins, angles, cfg.alpha, heads) if binned else regression_loss(output, angles)
            if not _all_finite(res.total.detach(), world):
                if not (use_amp and device.type == "cuda"):  # fp16's scaler skips such steps by design
                    last = out / "last.pt"
                    raise UsageError(f"the loss is not finite at global step {global_step + 1} (epoch {epoch + 1}): "
                                     "stopped; check --init and --lr"
                                     + (f"; {last} holds the last complete checkpoint" if last.is_file() else ""))
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(res.total).backward()
            scaler.step(optimizer)
            scaler.update()
            global_step += 1
            step_in_epoch += 1
            n_batches += 1
            for k, v in res.parts.items():
                sums[k] = sums.get(k, 0.0) + v
            failed += [int(i) for i in bad if int(i) >= 0]
            if cfg.log_indices:
                seen += [int(i) for i in index]
            imgs_since += len(images) * world
            now = time.perf_counter()
            ips = imgs_since / max(now - t_last, 1e-9)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{res.parts['loss']:.3f}", img_s=f"{ips:.1f}")
            if main and (global_step % max(cfg.log_every, 1) == 0 or step_in_epoch == steps_per_epoch):
                _append_jsonl(log_path, {"event": "step", "epoch": epoch + 1, "step": step_in_epoch,
                                         "global_step": global_step, "lr": optimizer.param_groups[1]["lr"],
                                         **res.parts, "images_per_s": round(ips, 2)})
                t_last, imgs_since = now, 0
            end_of_epoch = step_in_epoch >= steps_per_epoch
            stop = cfg.max_steps is not None and global_step >= cfg.max_steps and not end_of_epoch
            if stop or (cfg.save_every and global_step % cfg.save_every == 0 and not end_of_epoch):
                rngs = _gather_lists([ckpt.rng_state()], world)  # every rank's generators
                if main:
                    ckpt.save(out / "last.pt", state_dict(epoch, step_in_epoch, True, rngs=rngs))
            if stop:
                break
        if bar is not None:
            bar.close()
        if stop:
            say(f"stopped at global step {global_step} (--max-steps); resume with --resume {out / 'last.pt'}")
            break
        scheduler.step()
        record: dict[str, Any] = {"event": "epoch", "epoch": epoch + 1, "global_step": global_step,
                                  "seconds": round(time.perf_counter() - t_epoch, 3)}
        record.update({f"train_{k}": v / max(n_batches, 1) for k, v in sums.items()})
        failed = _gather(failed, world)
        if failed:
            names = sorted({selection.samples[i].id for i in failed})
            record["unreadable_images"] = names
            say(f"  {len(names)} image(s) could not be decoded this epoch and were replaced: {', '.join(names[:5])}")
        if cfg.log_indices:
            record["rank_indices"] = _gather_lists(seen, world)
        metrics = None
        _sync_buffers(net, world)
        rngs = _gather_lists([ckpt.rng_state()], world)
        if main:
            weights = out / "latest.pt"
            ckpt.save(weights, state_dict(epoch + 1, 0, False))
            if val_set is not None:
                metrics = validate(cfg, weights, val_set, out / "validation")
                record["val"] = metrics
                say(f"  validation on {val_set.name} ({metrics['n_evaluated']} faces): MAE yaw {metrics['mae_yaw']:.3f} "
                    f"pitch {metrics['mae_pitch']:.3f} roll {metrics['mae_roll']:.3f} mean {metrics['mae']:.3f}")
            if metrics is None or metrics["mae"] <= best_mae:  # without validation the last epoch is best
                best_mae = metrics["mae"] if metrics else best_mae
                if metrics is None:
                    ckpt.link_atomic(weights, out / "best.pt")  # same bytes as latest.pt, no second write
                else:
                    ckpt.save(out / "best.pt", state_dict(epoch + 1, 0, False, metrics))
                record["best"] = True
            ckpt.save(out / "last.pt", state_dict(epoch + 1, 0, True, rngs=rngs))
            _append_jsonl(log_path, record)
            say(f"epoch {epoch + 1}: loss {record.get('train_loss', float('nan')):.4f} ({record['seconds']:.1f} s); "
                f"checkpoint {out / 'last.pt'}")
            if cfg.plot and time.perf_counter() - t_epoch > 60:  # long epochs: keep the figure current
                _plot(log_path, out, say)
        history.append(record)
        _barrier(world)
        if cfg.max_steps is not None and global_step >= cfg.max_steps:
            say(f"stopped at global step {global_step} (--max-steps) at the end of epoch {epoch + 1}")
            break
    _sync_buffers(net, world)
    digests = _gather_lists([weights_digest(net)], world)
    if main:
        if cfg.plot:
            _plot(log_path, out, say)
        _append_jsonl(log_path, {"event": "end", "global_step": global_step, "rank_weight_digests": digests})
    _barrier(world)  # no rank leaves before rank 0 has written everything (torchrun stops all at the first exit fault)
    return TrainResult(out, out / "best.pt", out / "last.pt", global_step, history, rank)


def _plot(log_path: Path, out: Path, say: Callable[[str], None]) -> None:
    try:
        from .plot import plot_log

        plot_log(log_path, out / "curves.png")
    except Exception as exc:  # a plot must never stop training
        say(f"  (plot skipped: {type(exc).__name__}: {exc})")


def _bar(enabled: bool, total: int, initial: int, desc: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step", smoothing=0.1)


def _sync_buffers(net: torch.nn.Module, world: int) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics of the layers in training
    mode drift apart per rank between DDP's broadcasts at the start of each forward pass)."""
    if world > 1:
        import torch.distributed as dist

        for b in net.buffers():
            dist.broadcast(b, 0)


def _all_finite(loss: torch.Tensor, world: int) -> bool:
    """Whether the loss is finite on every rank (all ranks then stop together, none is left
    waiting in the gradient all-reduce)."""
    ok = torch.isfinite(loss).to(torch.int32).reshape(1)
    if world > 1:
        import torch.distributed as dist

        dist.all_reduce(ok, op=dist.ReduceOp.MIN)
    return bool(ok.item())


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def _gather(values: list[int], world: int) -> list[int]:
    return [v for part in _gather_lists(values, world) for v in part] if world > 1 else values


def _gather_lists(values: list, world: int) -> list[list]:
    if world <= 1:
        return [values]
    import torch.distributed as dist

    out: list[Any] = [None] * world
    dist.all_gather_object(out, values)
    return out

