#!/usr/bin/env bash
# Reproduces the embedded default model and classifier on one CUDA GPU:
#   scripts/train_embedded.sh OUT_DIR
# (The same commands run on a CPU with --device cpu; see models/README.md for times.)
set -euo pipefail
out=${1:?usage: scripts/train_embedded.sh OUT_DIR}
mkdir -p "$out"
export TQDM_MININTERVAL=${TQDM_MININTERVAL:-20}
lazydit=${LAZYDIT:-lazydit}
$lazydit train-classifier --device cuda --epochs 8 --force --out "$out/fashion-classifier.safetensors" &
classifier=$!
$lazydit train-dit --preset fashion-dit-s4 --device cuda --out "$out/run" ${MAX_MINUTES:+--max-minutes $MAX_MINUTES}
wait $classifier
cp "$out/run/ema.safetensors" "$out/fashion-dit-s4.safetensors"
