#!/usr/bin/env bash
# The project's test command (README; .ci/run calls it too): installs what the tests need from
# the registries (ONNX Runtime from the PyPI wheel), checks formatting and lints, checks the core
# library alone and each optional layer alone on it, then runs every Rust test. Set
# FACEREC_TEST_PROVIDER=cuda to run the pipeline tests on the GPU.
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
# Each optional layer alone on the core (issue 25: `eval` did not compile without `bag`); the
# feature table in ARCHITECTURE.md says what each needs. `jazzy` and `humble` imply `ros`.
for features in bag eval ros,jazzy ros,humble; do
  echo "== one layer alone (cargo check --no-default-features --features $features --lib)"
  cargo check --locked --no-default-features --features "$features" --lib
done
echo "== cargo test"
cargo test --locked "$@"
