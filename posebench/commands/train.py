"""``posebench train`` and ``posebench bench train``."""

from __future__ import annotations

from pathlib import Path

import click

from posebench.commands.bench import bench
from posebench.commands.common import count, finite, parse_kv, show_progress
from posebench.limits import MAX_ALPHA, MAX_BATCH_SIZE, MAX_EPOCHS, MAX_INPUT_SIZE, MAX_LR, MAX_REPEATS, MAX_SEED, MAX_WORKERS


@click.command("train")
@click.option("--model", "-m", default="hopenet", show_default=True,
              help="hopenet | hopenet-alexnet | resnet50-regression | whenet | tiny-hopenet (tests only).")
@click.option("--dataset", "-d", default="300w-lp", show_default=True, help="Training dataset: images with 68 landmarks for the crop "
              "(300w-lp, aflw2000, or a plugin dataset like them).")
@click.option("--data-dir", type=click.Path(), default=None, help="Training dataset folder.")
@click.option("--dataset-option", "dataset_options", multiple=True, metavar="KEY=VALUE", help="Training dataset option.")
@click.option("--alpha", type=finite(0, MAX_ALPHA), default=1.0, show_default=True,
              help="Weight of the regression (MSE; WHENet's yaw: wrapped MSE) part of each angle's loss.")
@click.option("--epochs", type=count(1, MAX_EPOCHS), default=25, show_default=True)
@click.option("--batch-size", type=count(1, MAX_BATCH_SIZE), default=128, show_default=True,
              help="Global batch (split over torchrun processes).")
@click.option("--lr", type=finite(0, MAX_LR, lo_open=True), default=1e-5, show_default=True,
              help="Base Adam rate (heads 5x, stem 0: the original groups).")
@click.option("--init", type=click.Path(dir_okay=False), default=None,
              help="Starting weights: torchvision ImageNet file (resnet50-*.pth, alexnet-*.pth; whenet: timm's "
                   "tf_efficientnet_b0 state dict) or a checkpoint of this network (.pkl, best.pt; whenet: also the "
                   "authors' WHENet.h5). Default: from scratch.")
@click.option("--augment", default="paper", show_default=True,
              help="paper | none | comma list of margin=LO-HI, flip, blur, lowres=x10|1-10|paper5|code4.")
@click.option("--input-size", type=count(16, MAX_INPUT_SIZE), default=224, show_default=True,
              help="Network input (px); the methods read 224.")
@click.option("--seed", type=count(0, MAX_SEED), default=0, show_default=True)
@click.option("--bn", type=click.Choice(["original", "train", "frozen"]), default="original", show_default=True,
              help="BatchNorm modes during training (original: as the authors' code; whenet: all in training "
                   "mode, Keras' default; see docs/training.md).")
@click.option("--limit", type=count(1), default=None, help="Use only the first N training samples.")
@click.option("--max-steps", type=count(1), default=None,
              help="Stop after this global step (a resumable checkpoint is written).")
@click.option("--save-every", type=count(0), default=0, show_default=True,
              help="Also write last.pt every N steps (0: only at epoch ends).")
@click.option("--log-every", type=count(1), default=10, show_default=True, help="Log the losses every N steps.")
@click.option("--workers", type=count(0, MAX_WORKERS), default=2, show_default=True, help="Data loader processes.")
@click.option("--amp", is_flag=True, help="Mixed precision (float16 on GPU, bfloat16 on CPU).")
@click.option("--channels-last", is_flag=True, help="NHWC memory layout.")
@click.option("--val-dataset", default=None, help="Validation dataset evaluated each epoch (e.g. aflw2000).")
@click.option("--val-dir", type=click.Path(), default=None, help="Validation dataset folder.")
@click.option("--val-option", "val_options", multiple=True, metavar="KEY=VALUE", help="Validation dataset option.")
@click.option("--val-limit", type=count(1), default=None, help="Validate on the first N samples only.")
@click.option("--val-engine", type=click.Choice(["onnxruntime", "torch"]), default="onnxruntime", show_default=True,
              help="Inference engine of the validation (the method's option; onnxruntime is posebench run's default).")
@click.option("--log-indices", is_flag=True, help="Record each rank's sample indices per epoch in the log (checks).")
@click.option("--resume", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Continue bit for bit from a checkpoint (OUT/last.pt).")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for last.pt, best.pt, log.jsonl, curves.png.")
def train_cmd(model, dataset, data_dir, dataset_options, alpha, epochs, batch_size, lr, init, augment, input_size, seed,
              bn, limit, max_steps, save_every, log_every, workers, amp, channels_last, val_dataset, val_dir, val_options,
              val_limit, val_engine, log_indices, resume, out) -> None:
    """Train a network of the paper with its recipe (multi-loss, Adam, the original parameter
    groups and augmentation), or WHENet (120 circular yaw bins, wrapped yaw loss, its own input
    preprocessing). Run under `torchrun --nproc_per_node N` for several GPUs.

    Writes OUT/last.pt (resumable), OUT/best.pt (loads with `posebench run -m MODEL -o
    weights=OUT/best.pt`), OUT/log.jsonl and OUT/curves.png. See docs/training.md."""
    from posebench.training.loop import TrainConfig, train

    cfg = TrainConfig(model=model, dataset=dataset, data_dir=data_dir, dataset_options=parse_kv(dataset_options, "--dataset-option"),
                      alpha=alpha, epochs=epochs, batch_size=batch_size, lr=lr, init=init, augment=augment,
                      input_size=input_size, seed=seed, bn=bn, limit=limit, max_steps=max_steps, save_every=save_every,
                      log_every=log_every, workers=workers, amp=amp, channels_last=channels_last, val_dataset=val_dataset,
                      val_dir=val_dir, val_options=parse_kv(val_options, "--val-option"), val_limit=val_limit,
                      val_engine=val_engine, log_indices=log_indices)
    try:
        res = train(cfg, out, resume=resume, progress=show_progress(), echo=click.echo)
    except KeyboardInterrupt:
        last = Path(out) / "last.pt"
        where = f"{last} is intact; continue with --resume {last}" if last.is_file() else "no checkpoint was written yet"
        click.echo(f"interrupted: {where}", err=True)
        raise SystemExit(130) from None
    if res.rank != 0:
        return  # rank 0 reports the run
    epochs = [r for r in res.history if r.get("event") == "epoch"]
    if res.best.is_file():
        best = f"best weights {res.best}"
    elif epochs:  # validation never gave a number (every face failed?): no epoch could be called best
        best = (f"no best.pt: no epoch had a finite validation MAE (see {res.out / 'validation'}); "
                f"the latest weights are {res.out / 'latest.pt'}")
    else:
        best = f"no epoch finished yet, resume with --resume {res.last}"
    click.echo(f"done: {res.global_step} steps; {best}; log {res.out / 'log.jsonl'}")


@bench.command("train")
@click.option("--model", "-m", "models", multiple=True, default=("hopenet", "resnet50-regression", "hopenet-alexnet"),
              show_default=True, help="Model(s) to time (repeatable): also whenet, tiny-hopenet.")
@click.option("--input-size", type=count(16, MAX_INPUT_SIZE), default=224, show_default=True)
@click.option("--batch-size", type=count(1, MAX_BATCH_SIZE), default=32, show_default=True)
@click.option("--iters", type=count(1, MAX_REPEATS), default=5, show_default=True, help="Timed steps per variant.")
@click.option("--warmup", type=count(0, MAX_REPEATS), default=1, show_default=True, help="Untimed steps first.")
@click.option("--force-amp", is_flag=True, help="Time AMP on a CPU without native bfloat16 too.")
def bench_train(models, input_size, batch_size, iters, warmup, force_amp) -> None:
    """Training throughput (images/s) of one optimizer step on random input, per model: the plain
    loop (float32, NCHW), channels-last, AMP and both (AMP on GPU, or on a CPU with native
    bfloat16), each as a ratio against the plain loop measured in the same run. Data loading is
    not included."""
    from posebench.training.bench import bench_models

    for line in bench_models(list(models), input_size, batch_size, iters, warmup, force_amp):
        click.echo(line)


COMMANDS = [train_cmd]
