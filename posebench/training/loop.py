"""The training loop: one process, or one process per GPU under ``torchrun`` (DDP).

Distributed: when ``WORLD_SIZE`` > 1 (set by ``torchrun``) the process group is initialised with
NCCL on GPUs and gloo on CPU, the network is wrapped in ``DistributedDataParallel``, each rank
reads its share of every epoch through a ``DistributedSampler`` (seed ``seed``, reshuffled by
epoch; with ``drop_last=False`` it pads the last round by repeating samples when the set does
not divide), and ``--batch-size`` is the global batch (each rank takes ``batch_size / world``).
Only rank 0 writes (checkpoints, log, plot, validation).

Determinism: the data order is a function of (seed, epoch); a sample's augmentation of (seed,
epoch, index) (:mod:`.data`); the initial weights of ``seed`` (or the ``--init`` file); dropout
draws from torch's generator, which checkpoints carry, captured after everything that draws from
it before the checkpoint (at an epoch's end: after validation, which builds the method). A resumed
run skips the batches its checkpoint had consumed, so ``N`` steps straight and ``N/2`` + resume +
``N/2`` end with identical weights on the same machine and software, with or without validation.

The loop names no model: what differs by model (network, groups, ``--init``, BatchNorm modes,
bins, preprocessing, loss, validating method) is the model's :class:`.spec.TrainSpec`.
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

from posebench.errors import DataError, UsageError, WeightsError
from posebench.fileio import existing_file
from posebench.limits import (
    MAX_ALPHA,
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_INPUT_SIZE,
    MAX_INT,
    MAX_LR,
    MAX_SEED,
    MAX_WORKERS,
)

from . import checkpoint as ckpt
from .augment import Augment, parse_augment
from .data import Selection, TrainSet, select_samples
from .loss import LossParts
from .models import BN_MODES, initialise
from .spec import Targets, TrainSpec, spec_for


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


def _dist() -> tuple[int, int, int]:
    """``(world, rank, local_rank)``; opens the process group under torchrun (NCCL on GPUs, gloo
    on CPU) and marks it opened (:data:`posebench.distributed.OPENED_PROCESS_GROUP`: the entry
    point then ends the process without the interpreter's teardown)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 1, 0, 0
    import torch.distributed as dist

    from posebench import distributed

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
        distributed.OPENED_PROCESS_GROUP = True
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
    """Evaluate a weights file through the method's normal code path (``posebench run``): the
    method the model's spec names (:meth:`.spec.TrainSpec.validation_method`). Its ONNX export
    is made in memory and not stored in ``<data root>/cache/onnx/`` (one file per epoch, never
    reused, used to accumulate there: :func:`posebench.methods.hopenet.engine.no_export_cache`)."""
    from posebench.evaluation.runner import evaluate
    from posebench.method import create_method
    from posebench.methods.hopenet.engine import no_export_cache

    threads = torch.get_num_threads()
    try:
        with no_export_cache():  # this epoch's weights are never loaded again: their export is not stored
            method = create_method(spec_for(cfg.model).validation_method(cfg.model) or cfg.model,
                                   {"weights": str(weights), "engine": cfg.val_engine})
            res = evaluate(method, val_set, results_dir, progress=False)
    finally:
        torch.set_num_threads(threads)  # the method sets its own; training must not change
    j = res.summary_json()
    return {k: j[k] for k in ("mae_yaw", "mae_pitch", "mae_roll", "mae", "n_evaluated", "n_failed")} | {
        "dataset": val_set.name, "protocol": val_set.protocol, "engine": cfg.val_engine}


def check_config(cfg: TrainConfig) -> None:
    """Refuse options out of their domain, in one line (:class:`UsageError`), before anything is
    read or written: ``lr`` finite and > 0, ``alpha`` finite and >= 0 (a negative weight trains on
    a negative loss), both at most :data:`MAX_LR`/:data:`MAX_ALPHA`; every whole number in the
    range :func:`int_domains` gives it (bounds from :mod:`posebench.limits`: ``seed`` in 0 ..
    2**32 - 1, numpy's and the loader's seed range; ``input_size`` in 16 .. 1024; ...)."""
    import math

    def bad(name: str, value, want: str):
        raise UsageError(f"--{name.replace('_', '-')} must be {want}, got {value!r}")

    for name, value in (("lr", cfg.lr), ("alpha", cfg.alpha)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            bad(name, value, "a finite number")
    if cfg.lr <= 0:
        bad("lr", cfg.lr, "> 0")
    if cfg.alpha < 0:
        bad("alpha", cfg.alpha, ">= 0 (the weight of the regression loss)")
    if cfg.lr > MAX_LR:
        bad("lr", cfg.lr, f"<= {MAX_LR:g}")
    if cfg.alpha > MAX_ALPHA:
        bad("alpha", cfg.alpha, f"<= {MAX_ALPHA:g}")
    for name, value, lo, hi in int_domains(cfg):
        if value is None and name in ("limit", "max_steps", "val_limit"):
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < lo or value > hi:
            bad(name, value, f"a whole number in {lo} .. {hi}")


def int_domains(cfg: TrainConfig) -> tuple[tuple[str, Any, int, int], ...]:
    """``(option, value, lowest, highest)`` of each whole-number setting of ``cfg``; the command
    line's click types are built from the same bounds (:data:`posebench.limits`)."""
    return (("seed", cfg.seed, 0, MAX_SEED), ("epochs", cfg.epochs, 1, MAX_EPOCHS),
            ("batch_size", cfg.batch_size, 1, MAX_BATCH_SIZE), ("input_size", cfg.input_size, 16, MAX_INPUT_SIZE),
            ("limit", cfg.limit, 1, MAX_INT), ("max_steps", cfg.max_steps, 1, MAX_INT), ("val_limit", cfg.val_limit, 1, MAX_INT),
            ("workers", cfg.workers, 0, MAX_WORKERS), ("log_every", cfg.log_every, 1, MAX_INT),
            ("save_every", cfg.save_every, 0, MAX_INT))


def train(cfg: TrainConfig, out: Path, resume: Path | None = None, progress: bool = False,
          echo: Callable[[str], None] = print) -> TrainResult:
    """Train ``cfg.model`` and write ``out/{last,best}.pt``, ``out/log.jsonl``, ``out/curves.png``.

    Under torchrun (``WORLD_SIZE`` > 1) each process calls this; the process group it opens is
    closed again on every way out, an error included, and all ranks return together, once rank 0
    has written its last file."""
    import torch.distributed as dist

    from posebench.outputs import folder_lock

    opened_here = not (dist.is_available() and dist.is_initialized())
    try:
        check_config(cfg)
        if int(os.environ.get("RANK", "0")) != 0:  # only rank 0 writes in out
            return _train(cfg, out, resume, progress, echo)
        with folder_lock(out, "training --out"):  # two trainings into one --out: the second is refused
            return _train(cfg, out, resume, progress, echo)
    except RuntimeError as exc:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and peer_lost(exc):
            last = Path(out) / "last.pt"
            kept = f"{last} is the last checkpoint: rerun with --resume {last}" if last.is_file() else "no checkpoint yet"
            raise DataError(f"training rank {os.environ.get('RANK', '?')}: another torchrun process stopped "
                            f"({type(exc).__name__}: {' '.join(str(exc).split())[:160]}); {kept}") from None
        raise
    finally:
        if opened_here and dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def peer_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective failing because another rank went away: torch's
    ``DistError`` family, or the ``RuntimeError`` gloo/NCCL raise naming the closed connection
    (e.g. ``[gloo/transport/tcp/pair.cc:534] Connection closed by peer``)."""
    import torch.distributed as dist

    if isinstance(exc, getattr(dist, "DistError", ())):
        return True
    text = str(exc)
    return any(k in text for k in ("gloo", "NCCL", "Connection closed by peer", "Connection reset by peer", "Broken pipe"))


@dataclass
class _Run:
    """What the steps of one training process share: the set-up (filled once, in order) and the
    progress (``global_step``, ``best_mae``; ``sums``/``n_batches`` of the current epoch)."""

    cfg: TrainConfig
    spec: TrainSpec
    augment: Augment
    out: Path
    world: int
    rank: int
    device: torch.device
    say: Callable[[str], None]
    selection: Selection | None = None
    val_set: Any = None
    config: dict[str, Any] = field(default_factory=dict)
    net: Any = None
    model: Any = None  # the network, or its DDP wrapper
    init_msg: str = ""
    optimizer: Any = None
    scheduler: Any = None
    scaler: Any = None
    trainset: Any = None
    sampler: Any = None
    steps_per_epoch: int = 0
    start_epoch: int = 0
    start_step: int = 0
    global_step: int = 0
    best_mae: float = float("inf")
    resumed_sums: dict[str, float] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=dict)
    n_batches: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    current: Any = None  # the current epoch's _Epoch

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def per_rank(self) -> int:
        return self.cfg.batch_size // self.world

    @property
    def log_path(self) -> Path:
        return self.out / "log.jsonl"


def _train(cfg: TrainConfig, out: Path, resume: Path | None, progress: bool,
           echo: Callable[[str], None]) -> TrainResult:
    run = _prepare(cfg, Path(out), resume, echo)
    _data(run)
    _model(run)
    _optimiser(run)
    if resume is not None:
        _restore(run, resume)
    _parallel(run, resume)
    _loader(run, resume)
    for epoch in range(run.start_epoch, cfg.epochs):
        t_epoch = time.perf_counter()
        if _train_epoch(run, epoch, progress):
            run.say(f"stopped at global step {run.global_step} (--max-steps); resume with --resume {run.out / 'last.pt'}")
            break
        _end_epoch(run, epoch, t_epoch)
        if cfg.max_steps is not None and run.global_step >= cfg.max_steps:
            run.say(f"stopped at global step {run.global_step} (--max-steps) at the end of epoch {epoch + 1}")
            break
    _finish(run)
    return TrainResult(run.out, run.out / "best.pt", run.out / "last.pt", run.global_step, run.history, run.rank)


def _prepare(cfg: TrainConfig, out: Path, resume: Path | None, echo: Callable[[str], None]) -> _Run:
    """Check the options, join the process group, pick the device; refuse an ``out`` holding a run."""
    spec = spec_for(cfg.model)
    if cfg.bn not in BN_MODES:
        raise UsageError(f"--bn must be one of {', '.join(BN_MODES)}, got {cfg.bn!r}")
    augment = parse_augment(cfg.augment)
    if cfg.init:
        existing_file(cfg.init, "--init file")
    if cfg.val_dataset and spec.validation_method(cfg.model) is None:
        raise UsageError(f"validation needs a posebench method: {cfg.model} has none (drop --val-dataset)")
    world, rank, local_rank = _dist()
    if cfg.batch_size % world:
        raise UsageError(f"--batch-size {cfg.batch_size} does not divide over {world} processes")
    device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if resume is None and rank == 0 and (out / "log.jsonl").is_file() and not any(
            (out / f).exists() for f in ("last.pt", "best.pt", "latest.pt")):
        # the log of a run stopped before its first checkpoint: nothing to resume; kept aside
        kept = out / f"log.jsonl.stopped-{time.strftime('%Y%m%dT%H%M%S')}"
        os.replace(out / "log.jsonl", kept)
        echo(f"note: {out / 'log.jsonl'} was the log of a run stopped before its first checkpoint; kept as {kept.name}")
    if resume is None and any((out / f).exists() for f in ("last.pt", "best.pt", "latest.pt", "log.jsonl")):
        how = (f"continue it with --resume {out / 'last.pt'}, or choose another --out" if (out / "last.pt").is_file()
               else "it has no last.pt to resume from: choose another --out")
        raise UsageError(f"--out {out} already holds a training run: {how} (nothing was changed)")
    return _Run(cfg, spec, augment, out, world, rank, device, echo if rank == 0 else (lambda _m: None))


def _data(run: _Run) -> None:
    """Data step: the training samples (those the spec's bins can label), the validation set,
    the determining config; ``out`` is created only once the data has loaded."""
    cfg, out = run.cfg, run.out
    _barrier(run.world)  # every rank looks before rank 0 writes there (DDP's set-up also waits, but later)
    dataset = _load_dataset(cfg.dataset, cfg.data_dir, cfg.dataset_options).subset(cfg.limit)
    run.selection = selection = select_samples(dataset, cfg.check_images, run.spec.heads(cfg.model))
    if not selection.samples:
        raise UsageError(f"no usable training sample in {dataset.root or cfg.dataset}: {selection.summary()} "
                         "(training needs images with 68 landmarks for the crop, e.g. 300w-lp or aflw2000)")
    if cfg.val_dataset:
        run.val_set = _load_dataset(cfg.val_dataset, cfg.val_dir, cfg.val_options).subset(cfg.val_limit)
        if run.val_set.n_with_images == 0:
            raise UsageError(f"--val-dataset {cfg.val_dataset}: none of its {len(run.val_set)} samples has an image "
                             f"(a labels-only folder?); the networks validate on images")
    if run.main:
        out.mkdir(parents=True, exist_ok=True)
    run.say(f"data: {cfg.dataset} at {dataset.root}: {selection.summary()}"
            + (f"; {dataset.excluded} more outside the dataset protocol's range filter" if dataset.excluded else ""))
    if run.main and selection.skipped:
        (out / "skipped.txt").write_text("".join(f"{sid}\t{why}\n" for sid, why in selection.skipped))
        run.say(f"  skipped files listed in {out / 'skipped.txt'}")
    run.config = determining_config(cfg, dataset.fingerprint(), run.world)


def _model(run: _Run) -> None:
    """Model step: the spec's network from ``seed`` (the same on every rank) and ``--init``."""
    cfg = run.cfg
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    run.net = run.spec.build(cfg.model)
    run.init_msg = initialise(run.net, cfg.model, cfg.init)
    run.say(f"model: {cfg.model}; {run.init_msg}")


def _optimiser(run: _Run) -> None:
    """Optimiser groups step: the spec's three groups (the first, rate 0, gets no gradients),
    Adam (0.9, 0.999, eps 1e-8), a constant rate, the AMP gradient scaler."""
    cfg, net = run.cfg, run.net
    groups = run.spec.param_groups(net, cfg.model, cfg.lr)
    for p in groups[0]["params"]:  # rate 0 in the original: same weights, no wasted gradients
        p.requires_grad_(False)
    net.to(run.device)
    if cfg.channels_last:
        net.to(memory_format=torch.channels_last)
    run.optimizer = torch.optim.Adam([{k: v for k, v in g.items() if k != "name"} for g in groups],
                                     lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
    run.scheduler = torch.optim.lr_scheduler.LambdaLR(run.optimizer, lambda _e: 1.0)  # constant, as the paper
    run.scaler = torch.amp.GradScaler(run.device.type, enabled=cfg.amp and run.device.type == "cuda")


def _restore(run: _Run, resume: Path) -> None:
    """Resume: weights, optimiser, scheduler, scaler, this rank's RNG states and the sampler
    position of a checkpoint made with the same determining config."""
    cfg = run.cfg
    state = ckpt.load(resume)
    if state.get("arch") != cfg.model:
        raise UsageError(f"--resume {Path(resume).name} is a {state.get('arch')} checkpoint, not {cfg.model}")
    ckpt.check_resume(state["config"], run.config, Path(resume))
    try:  # the fields' types are checked by ckpt.load; their contents are checked by torch here
        run.net.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.scheduler.load_state_dict(state["scheduler"])
        if "scaler" in state:
            run.scaler.load_state_dict(state["scaler"])
        ranks = state.get("rng_ranks") or [state["rng"]]
        ckpt.set_rng_state(ranks[run.rank] if run.rank < len(ranks) else ranks[0])
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as exc:
        lines = str(exc).strip().splitlines()
        raise WeightsError(f"--resume: checkpoint {resume} is damaged: {type(exc).__name__}: "
                           f"{' '.join(x.strip() for x in lines)[:240] if lines else 'no message'}") from None
    run.start_epoch, run.start_step, run.global_step = (int(v) for v in state["progress"][:3])
    run.best_mae = float(state.get("best_mae", float("inf")))
    run.resumed_sums = {k: float(v) for k, v in state.get("epoch_sums", {}).items()}
    run.say(f"resumed from {resume}: epoch {run.start_epoch + 1}, step {run.start_step} of it, global step {run.global_step}")
    if run.main:
        _trim_log(run.log_path, run.global_step)


def _parallel(run: _Run, resume: Path | None) -> None:
    """Under torchrun: each rank its own dropout seed (a fresh run) and the DDP wrapper."""
    run.model = run.net
    if run.world <= 1:
        return
    if resume is None:
        torch.manual_seed(run.cfg.seed + 1000003 * run.rank)  # each rank its own dropout masks
    from torch.nn.parallel import DistributedDataParallel as DDP

    run.model = DDP(run.net, device_ids=[run.device.index] if run.device.type == "cuda" else None)


def _loader(run: _Run, resume: Path | None) -> None:
    """The augmented training set in the spec's preprocessing, the rank's sampler, the start record."""
    cfg, world = run.cfg, run.world
    run.trainset = TrainSet(run.selection.samples, cfg.input_size, run.augment, cfg.seed, run.spec.heads(cfg.model),
                            preprocess=run.spec.preprocess)
    run.sampler = _SkipSampler(torch.utils.data.DistributedSampler(run.trainset, num_replicas=world, rank=run.rank,
                                                                   shuffle=True, seed=cfg.seed, drop_last=False))
    run.steps_per_epoch = -(-len(run.sampler.inner) // run.per_rank)
    if run.main:
        _append_jsonl(run.log_path, {"event": "start", "global_step": run.global_step, "config": run.config,
                                     "init": run.init_msg, "data": run.selection.summary(), "world_size": world,
                                     "device": str(run.device), "resumed_from": str(resume) if resume else None,
                                     "time": time.time()})
    run.say(f"training: {len(run.trainset)} samples, {run.steps_per_epoch} steps/epoch of {cfg.batch_size} "
            f"({world} process{'es' if world > 1 else ''}, {run.per_rank} each) on {run.device}; alpha {cfg.alpha}, "
            f"lr {cfg.lr}, augment {run.augment.describe()}, bn {cfg.bn}, input {cfg.input_size}px "
            f"({run.trainset.preprocess} preprocessing)")
    for line in run.spec.notes(cfg.model, cfg.input_size):
        run.say(line)


@dataclass
class _Epoch:
    """One epoch's running account (this rank's)."""

    index: int
    step: int
    failed: list[int] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)
    t_last: float = field(default_factory=time.perf_counter)
    images_since: int = 0
    bar: Any = None


def _train_epoch(run: _Run, epoch: int, progress: bool) -> bool:
    """Train one epoch (from the resumed step in the first); True when ``--max-steps`` stopped
    it mid-epoch (a resumable ``last.pt`` is then written)."""
    cfg = run.cfg
    first = epoch == run.start_epoch
    ep = _Epoch(epoch, run.start_step if first else 0)
    run.trainset.set_epoch(epoch)
    run.sampler.set_epoch(epoch, ep.step * run.per_rank)
    # its own generator: creating the iterator must not draw from torch's global one (dropout's)
    loader = torch.utils.data.DataLoader(run.trainset, batch_size=run.per_rank, sampler=run.sampler,
                                         num_workers=cfg.workers, drop_last=False,
                                         generator=torch.Generator().manual_seed(cfg.seed + epoch))
    run.spec.set_train_mode(run.net, cfg.bn)
    run.sums = dict(run.resumed_sums) if first else {}
    run.n_batches = int(run.sums.pop("_batches", 0))
    ep.bar = _bar(progress and run.main, run.steps_per_epoch, ep.step, f"epoch {epoch + 1}/{cfg.epochs}")
    run.current = ep
    stop = False
    for batch in loader:
        res = _step(run, ep, batch)
        _log_step(run, ep, res, len(batch[0]))
        end_of_epoch = ep.step >= run.steps_per_epoch
        stop = cfg.max_steps is not None and run.global_step >= cfg.max_steps and not end_of_epoch
        if stop or (cfg.save_every and run.global_step % cfg.save_every == 0 and not end_of_epoch):
            rngs = _gather_lists([ckpt.rng_state()], run.world)  # every rank's generators
            if run.main:
                ckpt.save(run.out / "last.pt", _checkpoint(run, epoch, ep.step, True, rngs=rngs))
        if stop:
            break
    if ep.bar is not None:
        ep.bar.close()
    return stop


def _step(run: _Run, ep: _Epoch, batch) -> LossParts:
    """Step: forward (autocast under ``--amp``), the spec's loss, backward, Adam; the loss must be
    finite on every rank (fp16's scaler skips such steps by design)."""
    cfg, device = run.cfg, run.device
    images, bins, angles, index, bad = batch
    images = images.to(device, non_blocking=True)
    if cfg.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    bins, angles = bins.to(device), angles.to(device)
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    with torch.autocast(device.type, dtype=amp_dtype, enabled=bool(cfg.amp)):
        output = run.model(images)
    res = run.spec.loss(cfg.model, output, Targets(bins, angles, cfg.alpha, run.trainset.heads))
    if not _all_finite(res.total.detach(), run.world) and not (cfg.amp and device.type == "cuda"):
        last = run.out / "last.pt"
        raise UsageError(f"the loss is not finite at global step {run.global_step + 1} (epoch {ep.index + 1}): "
                         "stopped; check --init and --lr"
                         + (f"; {last} holds the last complete checkpoint" if last.is_file() else ""))
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(res.total).backward()
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.global_step += 1
    ep.step += 1
    run.n_batches += 1
    for k, v in res.parts.items():
        run.sums[k] = run.sums.get(k, 0.0) + v
    ep.failed += [int(i) for i in bad if int(i) >= 0]
    if cfg.log_indices:
        ep.seen += [int(i) for i in index]
    return res


def _log_step(run: _Run, ep: _Epoch, res: LossParts, n_images: int) -> None:
    """Log step: the progress bar, and a ``step`` record every ``--log-every`` steps and at the epoch's end."""
    ep.images_since += n_images * run.world
    now = time.perf_counter()
    ips = ep.images_since / max(now - ep.t_last, 1e-9)
    if ep.bar is not None:
        ep.bar.update(1)
        ep.bar.set_postfix(loss=f"{res.parts['loss']:.3f}", img_s=f"{ips:.1f}")
    if run.main and (run.global_step % max(run.cfg.log_every, 1) == 0 or ep.step == run.steps_per_epoch):
        _append_jsonl(run.log_path, {"event": "step", "epoch": ep.index + 1, "step": ep.step,
                                     "global_step": run.global_step, "lr": run.optimizer.param_groups[1]["lr"],
                                     **res.parts, "images_per_s": round(ips, 2)})
        ep.t_last, ep.images_since = now, 0


def _checkpoint(run: _Run, epoch: int, step: int, full: bool, metrics: dict | None = None,
                rngs: list | None = None) -> dict[str, Any]:
    """Checkpoint step: the dict :func:`.checkpoint.save` writes; ``full``: resumable (optimiser,
    scheduler, scaler, every rank's RNG states ``rngs``, mid-epoch the epoch's loss sums so far)."""
    obj: dict[str, Any] = {"posebench_checkpoint": ckpt.FORMAT, "arch": run.cfg.model, "config": run.config,
                           "model": {k: v.detach().cpu() for k, v in run.net.state_dict().items()},
                           "progress": [epoch, step, run.global_step], "best_mae": run.best_mae}
    if metrics:
        obj["metrics"] = metrics
    if full and step:  # mid-epoch: the epoch's loss sums so far, for its mean in the log
        obj["epoch_sums"] = {**run.sums, "_batches": float(run.n_batches)}
    if full:
        obj.update(optimizer=run.optimizer.state_dict(), scheduler=run.scheduler.state_dict(),
                   rng=(rngs or [[ckpt.rng_state()]])[0][0], rng_ranks=[r[0] for r in rngs] if rngs else [ckpt.rng_state()])
        if run.scaler.is_enabled():
            obj["scaler"] = run.scaler.state_dict()
    return obj


def _end_epoch(run: _Run, epoch: int, t_epoch: float) -> None:
    """The epoch's end: its record (mean losses, unreadable images), validation, the checkpoints
    (``latest.pt``, ``best.pt``, resumable ``last.pt``), the log line. Every rank's RNG state is
    captured after validation, the last thing before ``last.pt`` that may draw from it: a resumed
    run starts the next epoch from the state the straight run has there."""
    cfg = run.cfg
    run.scheduler.step()
    record: dict[str, Any] = {"event": "epoch", "epoch": epoch + 1, "global_step": run.global_step,
                              "seconds": round(time.perf_counter() - t_epoch, 3)}
    record.update({f"train_{k}": v / max(run.n_batches, 1) for k, v in run.sums.items()})
    failed = _gather(run.current.failed, run.world)
    if failed:
        names = sorted({run.selection.samples[i].id for i in failed})
        record["unreadable_images"] = names
        run.say(f"  {len(names)} image(s) could not be decoded this epoch and were replaced: {', '.join(names[:5])}")
    if cfg.log_indices:
        record["rank_indices"] = _gather_lists(run.current.seen, run.world)
    _sync_buffers(run.net, run.world)
    if run.main:
        _validate_and_keep_best(run, epoch, record)
    rngs = _gather_lists([ckpt.rng_state()], run.world)  # after validation, which draws torch's generator
    if run.main:
        ckpt.save(run.out / "last.pt", _checkpoint(run, epoch + 1, 0, True, rngs=rngs))
        _append_jsonl(run.log_path, record)
        run.say(f"epoch {epoch + 1}: loss {record.get('train_loss', float('nan')):.4f} ({record['seconds']:.1f} s); "
                f"checkpoint {run.out / 'last.pt'}")
        if cfg.plot and time.perf_counter() - t_epoch > 60:  # long epochs: keep the figure current
            _plot(run.log_path, run.out, run.say)
    run.history.append(record)
    _barrier(run.world)


def _validate_and_keep_best(run: _Run, epoch: int, record: dict[str, Any]) -> None:
    """Validate step (rank 0): ``latest.pt`` through the spec's method; ``best.pt`` when its MAE is
    the best so far (without validation every epoch is, and ``best.pt`` is a link to ``latest.pt``)."""
    weights = run.out / "latest.pt"
    ckpt.save(weights, _checkpoint(run, epoch + 1, 0, False))
    metrics = None
    if run.val_set is not None:
        metrics = validate(run.cfg, weights, run.val_set, run.out / "validation")
        record["val"] = metrics
        run.say(f"  validation on {run.val_set.name} ({metrics['n_evaluated']} faces): MAE yaw {metrics['mae_yaw']:.3f} "
                f"pitch {metrics['mae_pitch']:.3f} roll {metrics['mae_roll']:.3f} mean {metrics['mae']:.3f}")
    if metrics is None or metrics["mae"] <= run.best_mae:  # without validation the last epoch is best
        run.best_mae = metrics["mae"] if metrics else run.best_mae
        if metrics is None:
            ckpt.link_atomic(weights, run.out / "best.pt")  # same bytes as latest.pt, no second write
        else:
            ckpt.save(run.out / "best.pt", _checkpoint(run, epoch + 1, 0, False, metrics))
        record["best"] = True


def _finish(run: _Run) -> None:
    """The end: every rank's weight digest in the log's ``end`` record, the plot; no rank leaves
    before rank 0 has written everything (torchrun stops all at the first exit fault)."""
    _sync_buffers(run.net, run.world)
    digests = _gather_lists([weights_digest(run.net)], run.world)
    if run.main:
        if run.cfg.plot:
            _plot(run.log_path, run.out, run.say)
        _append_jsonl(run.log_path, {"event": "end", "global_step": run.global_step, "rank_weight_digests": digests})
    _barrier(run.world)


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

