#!/usr/bin/env bash
# Writes the rosbag2 test bags under tests/fixtures/bags/ (see scripts/make_test_bags.py).
#
#   scripts/make_test_bags.sh            regenerate tests/fixtures/bags/ in place
#   scripts/make_test_bags.sh --check    regenerate into a temp dir and compare with the
#                                        committed files byte for byte (exit 1 on a difference)
#
# Makes a venv .venv-bags with pinned packages (PyPI only). Needs the MIT faces-small photos at
# ../shared/datasets/faces-small, or FACES=/path/to/faces-small.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-bags
# Exact pins: the bags are byte-identical only with the same rosbags (its name is in the MCAP
# header), zstd (chunk compression), Pillow (resizing, JPEG encoder) and numpy.
PINS=(rosbags==0.11.9 backports.zstd==1.8.0 lz4==4.4.5 numpy==2.4.6 pillow==13.0.0
      ruamel.yaml==0.19.1 typing_extensions==4.16.0 av==18.1.0)

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"

FACES_ARGS=()
if [ -n "${FACES:-}" ]; then
    FACES_ARGS=(--faces "$FACES")
fi

if [ "${1:-}" = "--check" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    "$VENV/bin/python" scripts/make_test_bags.py --out "$tmp" "${FACES_ARGS[@]}" >/dev/null
    status=0
    for f in $(cd "$tmp" && find . -type f | sort); do
        if ! cmp -s "$tmp/$f" "tests/fixtures/bags/$f"; then
            echo "differs: tests/fixtures/bags/${f#./}"
            status=1
        fi
    done
    [ $status -eq 0 ] && echo "all generated files identical to tests/fixtures/bags/"
    exit $status
fi

"$VENV/bin/python" scripts/make_test_bags.py "${FACES_ARGS[@]}"
