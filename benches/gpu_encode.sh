#!/usr/bin/env bash
# Sentences per second of the encoder on an NVIDIA GPU at 128 tokens, f16 and bf16 (and f32 for reference).
#
#   benches/gpu_encode.sh MODEL_DIR
#
# Needs nvcc (the CUDA toolkit). CUDA_COMPUTE_CAP is read from nvidia-smi when not set (90 on an H100).
set -euo pipefail
model=${1:?usage: benches/gpu_encode.sh MODEL_DIR}
if [ -z "${CUDA_COMPUTE_CAP:-}" ]; then
  CUDA_COMPUTE_CAP=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
  export CUDA_COMPUTE_CAP
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
cargo build --release --features cuda --example encode_speed
bin=${CARGO_TARGET_DIR:-target}/release/examples/encode_speed
for dtype in f16 bf16 f32; do
  "$bin" --model "$model" --device cuda --dtype "$dtype" --tokens 128 --sentences 65536 --batch-tokens 262144
done
