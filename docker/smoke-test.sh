#!/usr/bin/env bash
# Build the CPU image and run bnno inside it: --help, a short training run on mock data,
# export (with its Keras agreement check) and benchmark. Works with podman or docker.
#
#   docker/smoke-test.sh
#
# Environment:
#   BNNO_CONTAINER_ENGINE  podman or docker (default: podman if installed, else docker if
#                          its daemon answers)
#   BNNO_BUILD_FLAGS       extra flags for `<engine> build` (e.g. --pull=never)
#   BNNO_IMAGE             image tag to build (default bnno:smoke)
set -euo pipefail
cd "$(dirname "$0")/.."

engine="${BNNO_CONTAINER_ENGINE:-}"
if [ -z "$engine" ]; then
  if command -v podman >/dev/null 2>&1; then
    engine=podman
  elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    engine=docker
  else
    echo "smoke test: no container engine (podman, or docker with a running daemon)" >&2
    exit 3
  fi
fi
image="${BNNO_IMAGE:-bnno:smoke}"
read -r -a build_flags <<< "${BNNO_BUILD_FLAGS:-}"

echo "== building $image with $engine"
start=$SECONDS
# The test extra adds dill, which tfds's mock data (used below) imports.
"$engine" build "${build_flags[@]}" --build-arg EXTRAS=lce,test -t "$image" \
  -f docker/Dockerfile .
echo "== image built in $((SECONDS - start)) s"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The image runs as uid 1000; let it write the runs volume whoever owns this folder.
mkdir -p "$work/runs" "$work/mock"
chmod 777 "$work/runs" "$work/mock"
run() {
  "$engine" run --rm -v "$work/runs:/runs" "$@"
}
# mock_bnno.py runs the bnno CLI on random images with CIFAR-10's real metadata.
mock() {
  run -v "$PWD/tests:/tests:ro" -v "$work/mock:/mock" -e BNNO_TEST_MOCK_DIR=/mock \
    --entrypoint python "$image" /tests/mock_bnno.py "$@"
}

echo "== bnno --help"
run "$image" --help | grep -q "Train, inspect and ship"
[ "$(run --entrypoint id "$image" -u)" != 0 ] || { echo "image runs as root" >&2; exit 1; }

echo "== bnno train (mock CIFAR-10, 2 steps)"
mock train binarynet --dataset cifar10 --hparams-set bop \
  --hparams filters=4,dense_units=8,batch_size=8,epochs=1 --steps-per-epoch 2 \
  --validation-steps 1 --seed 1 --output-dir /runs/smoke
test -f "$work/runs/smoke/binarynet_weights.h5"

echo "== bnno export"
mock export /runs/smoke -o /runs/smoke.tflite --check-examples 32
test -s "$work/runs/smoke.tflite"

echo "== bnno benchmark"
run "$image" benchmark /runs/smoke.tflite --runs 5 --warmup 1 | grep -q "LCE / Keras latency"

echo "smoke test passed ($((SECONDS - start)) s in all)"
