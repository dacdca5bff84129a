#!/usr/bin/env bash
# The main job on shipped defaults: name the people in two group photos against the example
# gallery (one enrolled photo per person), and draw the result into demo-*.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_ort.sh
cargo build --release --locked --bin facerec
for photo in couple selfie-many-people; do
  ./target/release/facerec identify --gallery config/gallery.yaml \
    --annotate "demo-$photo.png" "tests/fixtures/faces/group/$photo.jpg"
done
echo "annotated images: demo-couple.png demo-selfie-many-people.png"
