#!/usr/bin/env bash
# The project's test command (README; .ci/run calls it too): installs what the tests need from
# the registries (ONNX Runtime from the PyPI wheel), checks formatting and lints, builds the core
# library alone, then runs every Rust test. Set FACEREC_TEST_PROVIDER=cuda to run the pipeline
# tests on the GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_ort.sh
bash scripts/fetch_models.sh --check
echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings
# The face pipeline library without the optional layers (ROS, bags, eval, CLI) must compile
# on its own; `cargo check` type-checks and borrow-checks it fully without code generation,
# which keeps CI well inside its time (`cargo build --no-default-features --lib` compiles the
# same set of crates).
echo "== the core library alone (cargo check --no-default-features --lib)"
cargo check --locked --no-default-features --lib
echo "== cargo test"
cargo test --locked "$@"
