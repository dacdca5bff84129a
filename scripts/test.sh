#!/usr/bin/env bash
# The project's test command (README; .ci/run calls it too): installs what the tests need from
# the registries (ONNX Runtime from the PyPI wheel), then runs every Rust test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_ort.sh
bash scripts/fetch_models.sh --check
cargo test --locked "$@"
