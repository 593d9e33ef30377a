#!/usr/bin/env bash
# The GPU device check of issue 24, for a fresh GPU machine (a few minutes): install posebench
# with onnxruntime-gpu in a throw-away venv, then run `posebench bench gpu` (CPU/GPU agreement of
# Hopenet and WHENet through torch device=cuda and onnxruntime's CUDA provider, then GPU img/s)
# and the method-level check (WHENet engine=torch device=cuda against device=cpu on the same
# faces). Everything printed goes to $OUT/gpu_check.txt ($OUT default: ./gpu-check-out).
# Without a GPU it still runs and says so (that is what the test suite runs).
# Usage: scripts/gpu_check.sh [--no-install]   (--no-install: use the posebench on PATH)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/gpu-check-out}
mkdir -p "$out"
log="$out/gpu_check.txt"
: > "$log"
py=python3
if [ "${1:-}" != "--no-install" ]; then
  venv=$(mktemp -d /tmp/posebench-gpu-XXXXXX)
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "torch==2.14.1" "torchvision==0.29.1" 2>&1 | tail -2
  "$venv/bin/pip" install --quiet "$root" 2>&1 | tail -2
  # the CUDA build of onnxruntime replaces the CPU one (both provide the onnxruntime module)
  if "$venv/bin/pip" install --quiet onnxruntime-gpu 2>/dev/null; then
    "$venv/bin/pip" uninstall --quiet -y onnxruntime 2>/dev/null || true
    "$venv/bin/pip" install --quiet --force-reinstall --no-deps onnxruntime-gpu 2>&1 | tail -2 || true
  fi
  py="$venv/bin/python"
fi
{
  cd "$out"  # not the checkout: its posebench/ folder would shadow the installed package
  echo "# posebench GPU check $(date -u +%FT%TZ) on $(hostname)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "nvidia-smi: not available"
  "$py" -m posebench bench gpu --rounds 5 --batch-sizes 1,16,64
  "$py" - <<'PY'
import numpy as np, torch
from posebench.engines import angle_error
from posebench.commands.bench_gpu import TOLERANCE_DEG
if not torch.cuda.is_available():
    print("method check: no CUDA device; WHENet device=cuda is refused as it should be:")
    from posebench.errors import UsageError
    from posebench.methods.hopenet.engine import TorchEngine
    from posebench.methods.whenet.nets import WHENet, WHENetAngles
    try:
        TorchEngine(WHENetAngles(WHENet()), device="cuda")
    except UsageError as exc:
        print("  refused:", exc)
    raise SystemExit(0)
torch.backends.cudnn.allow_tf32 = False
from posebench.methods.hopenet.engine import TorchEngine
from posebench.methods.whenet.nets import WHENet, WHENetAngles
from posebench.methods.whenet.preprocess import to_batch
torch.manual_seed(0)
net = WHENetAngles(WHENet()).eval()
crops = [np.random.default_rng(i).integers(0, 256, (224, 224, 3), dtype=np.uint8) for i in range(32)]
cpu, gpu = TorchEngine(net, device="cpu"), TorchEngine(net, device="cuda")
d = float(angle_error(cpu(to_batch(crops)), gpu(to_batch(crops))).max())
print(f"method check: WHENet torch engine device=cuda vs cpu on 32 crops (seeded weights): max |d| = {d:.2e} deg "
      f"({'ok' if d <= TOLERANCE_DEG else 'EXCEEDS'} tolerance {TOLERANCE_DEG:g})")
PY
} 2>&1 | tee -a "$log"
echo "wrote $log"
