#!/usr/bin/env bash
# Rebuilds config/gallery.yaml: the first photo (by name) of each person in the face fixtures,
# enrolled under the fixture's identity label.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_ort.sh
cargo build --locked --bin facerec
rm -f config/gallery.yaml
for dir in tests/fixtures/faces/by_identity/id*/; do
  id=$(basename "$dir")
  first=$(ls "$dir"*.jpg | sort | head -n 1)
  ./target/debug/facerec enroll --gallery config/gallery.yaml --name "$id" "$first"
done
