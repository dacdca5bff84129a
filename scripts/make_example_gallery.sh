#!/usr/bin/env bash
# Rebuilds examples/gallery.yaml: the first photo (by name) of each person in the face fixtures,
# enrolled under the fixture's identity label.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_ort.sh
cargo build --release --locked --bin facerec
rm -f examples/gallery.yaml
for dir in tests/fixtures/faces/by_identity/id*/; do
  id=$(basename "$dir")
  first=$(ls "$dir"*.jpg | sort | head -n 1)
  ./target/release/facerec enroll --gallery examples/gallery.yaml --name "$id" "$first"
done
