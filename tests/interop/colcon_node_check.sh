#!/usr/bin/env bash
# Issue 11: starts the colcon-installed facerec_node of the workspace WS the way `ros2 run` does
# (by its install path), with no ORT_DYLIB_PATH and from a folder with no .ort/ or models/ in
# reach, and checks that it found ONNX Runtime and its models in the install tree (through
# AMENT_PREFIX_PATH; with --symlink-install the node is a link into cargo's target folder). In a
# plain install it then hides the installed library and checks that the node exits non-zero
# with a clear error. Issue 25: the `facerec` command line installed beside it
# (lib/facerec/facerec, what `ros2 run facerec facerec ...` starts) detects the faces of a photo
# copied into that unrelated folder, finding ONNX Runtime and its models in the install tree too.
# Run by scripts/interop_test.sh inside a loopback-only network namespace.
# Usage: colcon_node_check.sh WS copy|symlink LOGS
set -euo pipefail
WS="$1" MODE="$2" LOGS="$3"
unset ORT_DYLIB_PATH FACEREC_MODELS_DIR
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
set +u
# shellcheck disable=SC1091
source "$WS/install/setup.bash"
set -u
node="$WS/install/facerec/lib/facerec/facerec_node"
lib_installed="$WS/install/facerec/lib/facerec/libonnxruntime.so"
cli="$WS/install/facerec/lib/facerec/facerec"
photo_src="$PWD/tests/fixtures/faces/group/couple.jpg"
event() { python3 -c 'import json, sys; print(json.dumps(dict(event="installed", **dict(a.split("=", 1) for a in sys.argv[1:]))))' "$@"; }
cd "$(mktemp -d /tmp/facerec-cwd-XXXXXX)"
cp "$photo_src" photo.jpg

"$node" --ros-args -p gallery:="$LOGS.gallery.yaml" >"$LOGS.node.log" 2>&1 & NODE=$!
for _ in $(seq 1 120); do
  grep -q ' ready on ROS domain' "$LOGS.node.log" && break
  kill -0 "$NODE" 2>/dev/null || break
  sleep 0.5
done
lib="$(grep -o 'library=[^ ]*' "$LOGS.node.log" | head -1 | cut -d= -f2)"
det="$(grep -o 'detector=[^ ]*' "$LOGS.node.log" | head -1 | cut -d= -f2)"
ready=false; grep -q ' ready on ROS domain' "$LOGS.node.log" && ready=true
event mode="$MODE" ready="$ready" node_is_link="$([[ -L $node ]] && echo true || echo false)" \
  node_bytes="$(stat -L -c %s "$node")" library="$lib" detector="$det"
kill -TERM "$NODE" 2>/dev/null || true
wait "$NODE" || true
$ready || { tail -5 "$LOGS.node.log"; exit 1; }
[[ $lib == "$lib_installed" ]] || { echo "ONNX Runtime not taken from the install tree: $lib"; exit 1; }
[[ $det == "$WS/install/facerec/share/facerec/models/"* ]] || { echo "models not taken from the install tree: $det"; exit 1; }

# The command line, as `ros2 run facerec facerec` starts it (by its install path).
rc=0; "$cli" -v detect photo.jpg >"$LOGS.cli.out" 2>"$LOGS.cli.log" || rc=$?
plain_log() { sed 's/\x1b\[[0-9;]*m//g' "$LOGS.cli.log"; }  # without colour codes, if any
cli_lib="$(plain_log | grep -o 'library=[^ ]*' | head -1 | cut -d= -f2 || true)"
cli_det="$(plain_log | grep -o 'detector=[^ ]*' | head -1 | cut -d= -f2 || true)"
faces="$(python3 -c 'import json, sys; print(len(json.loads(open(sys.argv[1]).readline())["faces"]))' "$LOGS.cli.out" 2>/dev/null || echo none)"
event mode="$MODE cli" exit="$rc" cli_is_link="$([[ -L $cli ]] && echo true || echo false)" \
  cli_bytes="$(stat -L -c %s "$cli" 2>/dev/null || echo missing)" faces="$faces" library="$cli_lib" detector="$cli_det"
[[ $rc == 0 ]] || { echo "installed facerec failed (exit $rc):"; tail -5 "$LOGS.cli.log"; exit 1; }
[[ $faces =~ ^[1-9][0-9]*$ ]] || { echo "installed facerec found no face in the photo: $(head -c 300 "$LOGS.cli.out")"; exit 1; }
[[ $cli_lib == "$lib_installed" ]] || { echo "facerec: ONNX Runtime not taken from the install tree: $cli_lib"; exit 1; }
[[ $cli_det == "$WS/install/facerec/share/facerec/models/"* ]] || { echo "facerec: models not taken from the install tree: $cli_det"; exit 1; }

if [[ $MODE == copy ]]; then
  mv "$lib_installed" "$WS/lib.away"
  rc=0; "$node" --ros-args -p gallery:="$LOGS.gallery.yaml" >"$LOGS.nolib.log" 2>&1 || rc=$?
  mv "$WS/lib.away" "$lib_installed"
  event mode="no library" exit="$rc" error="$(grep -o 'error: .*' "$LOGS.nolib.log" | head -1 | cut -c1-160)"
  [[ $rc != 0 ]] && grep -q 'ONNX Runtime library not found' "$LOGS.nolib.log"
fi
