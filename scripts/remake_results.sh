#!/usr/bin/env bash
# Re-make every committed output under results/ (the commands of results/README.md and
# results/studies.md) into OUT (default: results), from the repository root with ../shared beside
# the checkout. Compare with the committed files by `python scripts/compare_results.py results OUT`.
set -euo pipefail
out=${1:-results}
L=../shared/data/AFLW2000-labels; S=../shared/data/AFLW2000-sample; U=../shared/data/face-model/u_base.txt
Y=../shared/models/yunet/yunet_n_dynamic.onnx; F=../shared/models/fsanet
pb=${POSEBENCH:-posebench}
for s in iterative sqpnp weak; do for f in default $U; do
  $pb run -m gt-landmarks -d aflw2000 --data-dir $L -o solver=$s -o face=$f --results-dir "$out" --json >/dev/null
done; done
for s in iterative sqpnp weak; do
  $pb run -m dlib -d aflw2000 --data-dir $S -o solver=$s --results-dir "$out" --json >/dev/null
  $pb run -m gt-landmarks -d aflw2000 --data-dir $S -o solver=$s --results-dir "$out" --json >/dev/null
done
$pb run -m dlib -d aflw2000 --data-dir $S -o box=yunet -o detector_model=$Y -o solver=sqpnp --results-dir "$out" --json >/dev/null
for m in 1x1,var 1x1 var; do
  $pb run -m onnx-headpose -d aflw2000 --data-dir $S -o model_dir=$F -o models=$m --results-dir "$out" --json >/dev/null
done
$pb run -m onnx-headpose -d aflw2000 --data-dir $S -o model_dir=$F -o box=yunet -o detector_model=$Y --results-dir "$out" --json >/dev/null
for c in loose68 visible demo protocol; do
  $pb run -m whenet -d aflw2000 --data-dir $S -o weights=../shared/models/whenet/WHENet.h5 -o crop=$c --results-dir "$out" --json >/dev/null
done
$pb leaderboard --results-dir "$out" >/dev/null
for s in keypoints jitter stretch solver; do
  $pb study $s --dataset aflw2000 --data-dir $L -o face=$U --results-dir "$out" --plot >/dev/null
done
for v in sqpnp weak; do for s in keypoints jitter stretch; do
  $pb study $s --dataset aflw2000 --data-dir $L -o face=$U -o solver=$v --tag $v --results-dir "$out" --plot >/dev/null
done; done
# image studies (results/image-studies.md): degraded-image runs (+dsF-v1) land in runs/
$pb study lowres --dataset aflw2000 --data-dir $S -o methods=dlib,onnx-headpose,whenet,gt-landmarks \
  -o onnx-headpose.model_dir=$F --results-dir "$out" >/dev/null
$pb plot lowres --dataset aflw2000 --results-dir "$out" >/dev/null
$pb study landmark-count --dataset aflw2000 --data-dir $S --results-dir "$out" --plot >/dev/null
# galleries (results/README.md), then the leaderboard (links them) and the report
for k in 6f65c7ffc2ac 1f8255b239ec; do $pb gallery $k --worst 6 --results-dir "$out" --data-dir $S >/dev/null; done
for k in 0c9e78d6bedad e7e5bd29c61f; do $pb gallery $k --worst 6 --results-dir "$out" --data-dir $L >/dev/null; done
$pb leaderboard --results-dir "$out" >/dev/null
$pb report --results-dir "$out" >/dev/null
