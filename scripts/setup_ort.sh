#!/usr/bin/env bash
# Puts the ONNX Runtime shared library that the `ort` crate loads (feature `load-dynamic`) into
# the checkout, taken from the PyPI `onnxruntime` wheel (a zip): nothing else is downloaded and
# nothing is installed into any Python environment.
#
#   bash scripts/setup_ort.sh          # CPU build -> .ort/libonnxruntime.so.1.32.0 (+ symlinks)
#   bash scripts/setup_ort.sh --gpu    # CUDA/TensorRT build -> .ort-gpu/ (same as FACEREC_ORT_GPU=1)
#
# Idempotent: does nothing when the library is already there. The wheel's sha256 is checked
# against the value recorded below before anything is extracted.
#
# `.cargo/config.toml` points ORT_DYLIB_PATH at .ort/libonnxruntime.so.1.32.0; an exported
# ORT_DYLIB_PATH wins, which is how the GPU build is selected:
#   export ORT_DYLIB_PATH=$PWD/.ort-gpu/libonnxruntime.so.1.31.1
# The GPU providers also need CUDA 13 + cuDNN 9 (+ TensorRT 10 for `tensorrt`) on LD_LIBRARY_PATH,
# e.g. from `pip install onnxruntime-gpu[cuda,cudnn]==1.31.1` (see ../shared/notes/inference.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"

GPU="${FACEREC_ORT_GPU:-0}"
for arg in "$@"; do
    case "$arg" in
        --gpu) GPU=1 ;;
        --cpu) GPU=0 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "setup_ort.sh: unknown argument '$arg' (use --gpu or --cpu)" >&2; exit 2 ;;
    esac
done

ARCH="$(uname -m)"
if [[ "$GPU" == "1" ]]; then
    PKG=onnxruntime-gpu
    VERSION=1.31.1
    DEST="$ROOT/.ort-gpu"
    # libonnxruntime itself plus the execution-provider libraries it dlopens from its own folder.
    PATTERN='^onnxruntime/capi/(libonnxruntime\.so[.0-9]*|libonnxruntime_providers_[a-z_]+\.so)$'
    case "$ARCH" in
        x86_64)
            PLATFORM=manylinux_2_28_x86_64
            WHEEL=onnxruntime_gpu-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl
            SHA256=e26c475fe361b2015f45b4b824bd13f0bb20204e59b62814e6f0acd5f3d491a6 ;;
        *)
            echo "setup_ort.sh: PyPI has no onnxruntime-gpu $VERSION wheel for $ARCH" >&2; exit 1 ;;
    esac
else
    PKG=onnxruntime
    VERSION=1.32.0
    DEST="$ROOT/.ort"
    PATTERN='^onnxruntime/capi/libonnxruntime\.so[.0-9]*$'
    case "$ARCH" in
        x86_64)
            PLATFORM=manylinux_2_28_x86_64
            WHEEL=onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl
            SHA256=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d ;;
        aarch64|arm64)
            PLATFORM=manylinux_2_28_aarch64
            WHEEL=onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_aarch64.whl
            SHA256=2303372a85299b6757b0e11e1cbf13e410ddf7e10c37f4b37e99d1c90e7daf7c ;;
        *)
            echo "setup_ort.sh: no onnxruntime $VERSION wheel recorded for $ARCH" >&2; exit 1 ;;
    esac
fi
LIB="libonnxruntime.so.$VERSION"

if [[ -f "$DEST/$LIB" ]]; then
    echo "setup_ort.sh: $DEST/$LIB already present"
    exit 0
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "setup_ort.sh: downloading $PKG==$VERSION ($PLATFORM) from PyPI"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: \
    --platform "$PLATFORM" --python-version 3.11 -d "$TMP" "$PKG==$VERSION"

if [[ ! -f "$TMP/$WHEEL" ]]; then
    echo "setup_ort.sh: expected $WHEEL, pip saved: $(ls "$TMP")" >&2
    exit 1
fi
GOT="$(sha256sum "$TMP/$WHEEL" | cut -d' ' -f1)"
if [[ "$GOT" != "$SHA256" ]]; then
    echo "setup_ort.sh: sha256 mismatch for $WHEEL: got $GOT, expected $SHA256" >&2
    exit 1
fi

# Extract into a staging folder, then move into place, so an interrupted run leaves no half file.
STAGE="$TMP/stage"
mkdir -p "$STAGE"
"$PY" - "$TMP/$WHEEL" "$STAGE" "$PATTERN" <<'EOF'
import os, re, sys, zipfile
wheel, out, pattern = sys.argv[1], sys.argv[2], re.compile(sys.argv[3])
n = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if pattern.match(info.filename):
            target = os.path.join(out, os.path.basename(info.filename))
            with z.open(info) as src, open(target, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            os.chmod(target, 0o755)
            print(f"  {os.path.basename(info.filename)} ({info.file_size:,} B)")
            n += 1
if n == 0:
    sys.exit(f"no file matching {pattern.pattern} in {wheel}")
EOF
if [[ ! -f "$STAGE/$LIB" ]]; then
    echo "setup_ort.sh: $LIB not found in $WHEEL" >&2
    exit 1
fi

mkdir -p "$DEST"
for f in "$STAGE"/*; do
    [[ "$(basename "$f")" == "$LIB" ]] && continue
    mv -f "$f" "$DEST/"
done
ln -sfn "$LIB" "$DEST/libonnxruntime.so.1"
ln -sfn "$LIB" "$DEST/libonnxruntime.so"
mv -f "$STAGE/$LIB" "$DEST/$LIB"   # last: its presence marks a complete install
echo "setup_ort.sh: ONNX Runtime $VERSION ready at $DEST/$LIB"
