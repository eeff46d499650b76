#!/usr/bin/env bash
# Reproduces hark's voiceprint weights from their origin and checks them byte for byte against the
# committed file: downloads the Resemblyzer 0.1.4 wheel from PyPI (no install, no torch), checks its
# SHA-256, extracts resemblyzer/pretrained.pt and converts it with `hark voiceprint convert`.
#
#   scripts/voiceprint-weights.sh            check the committed file
#   scripts/voiceprint-weights.sh --write    overwrite the committed file with the conversion
set -euo pipefail
cd "$(dirname "$0")/.."

wheel_sha=8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f
committed=crates/hark-voiceprint/weights/ge2e-resemblyzer-0.1.4.safetensors
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m pip download --quiet --no-deps --only-binary=:all: resemblyzer==0.1.4 -d "$work"
wheel="$work/Resemblyzer-0.1.4-py3-none-any.whl"
echo "$wheel_sha  $wheel" | sha256sum -c --quiet -
python3 -m zipfile -e "$wheel" "$work/x"
cargo run --quiet --release -p hark -- voiceprint convert \
  "$work/x/resemblyzer/pretrained.pt" --output "$work/ge2e.safetensors"

if [ "${1:-}" = "--write" ]; then
  cp "$work/ge2e.safetensors" "$committed"
  echo "wrote $committed"
elif cmp -s "$work/ge2e.safetensors" "$committed"; then
  echo "voiceprint-weights: $committed is reproduced byte for byte"
else
  echo "voiceprint-weights: conversion differs from $committed" >&2
  exit 1
fi
