#!/usr/bin/env bash
# The node on shipped data, as a robot would run it: facerec_node on a loopback-only network (a
# network namespace when this machine lets us make one, else ROS_LOCALHOST_ONLY), the committed
# people-over-time bag played into it over ROS 2 (`facerec play`), and what a separate subscriber
# (`facerec watch`) receives on /facerec/detections printed: named boxes with their track ids.
# The node's annotated frames are saved to demo-node/annotated-*.png; its log is
# demo-node/node.log. No ROS installation needed. FACEREC_BIN_DIR=target/debug uses binaries
# already built there instead of building the release ones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_ort.sh
BIN="${FACEREC_BIN_DIR:-}"
if [[ -z "$BIN" ]]; then
  cargo build --release --locked --bin facerec --bin facerec_node
  BIN=target/release
fi
OUT=demo-node
rm -rf "$OUT" && mkdir -p "$OUT"

# Who the robot has met: ada and bob, one photo each (photos the bag does not show later).
F=tests/fixtures/faces/by_identity
"$BIN"/facerec enroll --gallery "$OUT/gallery.yaml" --name ada "$F/id01/img4.jpg" >/dev/null
"$BIN"/facerec enroll --gallery "$OUT/gallery.yaml" --name bob "$F/id02/img14.jpg" >/dev/null

run_demo() {
  local topic=/camera/image_raw/compressed
  "$BIN"/facerec_node --ros-args -p gallery:="$OUT/gallery.yaml" -p models_dir:=models \
    -p "cameras:=[$topic]" -p publish_annotated:=true >"$OUT/node.log" 2>&1 &
  local node=$!
  timeout 180 "$BIN"/facerec watch --node /facerec --idle-s 3 --annotated "$OUT" &
  local watch=$!
  # 130 frames at 10 frames/s: ada walks by, leaves, comes back; bob crosses in front of her;
  # two strangers; nobody.
  "$BIN"/facerec play tests/fixtures/bags/people_mcap --topic "$topic" --wait-for-subscribers 60
  wait "$watch" || true
  kill -TERM "$node"
  wait "$node" || true
}

if unshare -rn true 2>/dev/null; then
  echo "demo_node: in a network namespace holding only loopback" >&2
  export OUT BIN
  export -f run_demo
  unshare -rn bash -c 'ip link set lo up 2>/dev/null || true; run_demo'
else
  echo "demo_node: no network namespace here; DDS on localhost only (ROS_LOCALHOST_ONLY=1)" >&2
  export ROS_LOCALHOST_ONLY=1
  run_demo
fi
echo "annotated frames: $OUT/annotated-*.png ($(ls "$OUT" | grep -c '^annotated-') saved); node log: $OUT/node.log" >&2
