#!/usr/bin/env bash
# Creates the training virtual environment from pinned PyPI packages (training/requirements.txt,
# exact transitive set in training/requirements.lock) under .cache/, keyed by the hash of those
# files: an up-to-date venv is reused, a changed pin list builds a new one.
# Prints the venv path on its last line. Usage: scripts/setup_train_venv.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
REQ="$ROOT/training/requirements.txt"
LOCK="$ROOT/training/requirements.lock"
KEY="$( { cat "$REQ"; [[ -f "$LOCK" ]] && cat "$LOCK"; true; } | sha256sum | cut -c1-16)"
VENV="$ROOT/.cache/train-venv-$KEY"

if [[ -f "$VENV/.facerec-stamp" ]]; then
  echo "setup_train_venv: $VENV up to date" >&2
  echo "$VENV"
  exit 0
fi
t0=$SECONDS
rm -rf "$VENV"
mkdir -p "$ROOT/.cache"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir --upgrade pip==25.3 >&2
if [[ -f "$LOCK" ]]; then
  # The exact set, dependencies included; --no-deps so nothing outside the lock is resolved.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir --no-deps -r "$LOCK" >&2
  "$VENV/bin/pip" check >&2
else
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir -r "$REQ" >&2
fi
"$VENV/bin/python" -c "import torch, torchvision, pytorch_lightning, onnx, onnxruntime" >&2
date -u +%FT%TZ > "$VENV/.facerec-stamp"
echo "setup_train_venv: $VENV created in $((SECONDS - t0)) s ($(du -sh "$VENV" | cut -f1))" >&2
echo "$VENV"
