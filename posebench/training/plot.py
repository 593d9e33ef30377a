"""Curves of a training log (``log.jsonl``): loss per step, and validation MAE per epoch."""

from __future__ import annotations

import json
from pathlib import Path


def plot_log(log: Path, png: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from posebench.fileio import write_atomic

    steps, epochs = [], []
    for line in Path(log).read_text().splitlines():
        rec = json.loads(line)
        if rec.get("event") == "step":
            steps.append(rec)
        elif rec.get("event") == "epoch":
            epochs.append(rec)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ax = axes[0]
    if steps:
        x = [r["global_step"] for r in steps]
        ax.plot(x, [r["loss"] for r in steps], label="total")
        for key in ("ce_yaw", "ce_pitch", "ce_roll", "mse_yaw", "mse_pitch", "mse_roll"):
            if key in steps[0] and key.startswith("ce"):
                ax.plot(x, [r[key] for r in steps], label=key, lw=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax = axes[1]
    val = [r for r in epochs if "val" in r]
    if val:
        x = [r["epoch"] for r in val]
        for key in ("mae_yaw", "mae_pitch", "mae_roll", "mae"):
            ax.plot(x, [r["val"][key] for r in val], marker="o", label=key)
        ax.set_title(f"validation: {val[-1]['val']['dataset']}")
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no validation set", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("epoch")
    ax.set_ylabel("MAE (degrees)")
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    write_atomic(Path(png), buf.getvalue())
    return Path(png)
