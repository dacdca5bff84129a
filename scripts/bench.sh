#!/usr/bin/env bash
# All benchmarks in one command (see docs/BENCHMARKS.md):
#
#   bash scripts/bench.sh                 # everything, CPU, 2 threads
#   THREADS=4 ROUNDS=5 bash scripts/bench.sh
#   PROVIDER=cuda bash scripts/bench.sh   # on a GPU machine (after FACEREC_ORT_GPU=1 bash scripts/setup_ort.sh)
#
# 1. builds the release binary; puts the ONNX Runtime library in .ort/ if missing;
# 2. facerec bench with the default pipeline (RetinaFace + SFace): per-stage table, overhead
#    ratio over bare ONNX Runtime calls, peak memory, gallery scaling 1k..1M;
# 3. peer comparison: ROUNDS alternating rounds of `facerec bench --detector yunet` and OpenCV's
#    FaceDetectorYN + FaceRecognizerSF (pinned opencv-python-headless in .venv-bench) on the same
#    frames and model files, same thread count; prints the throughput ratio;
# 4. the node under load: facerec_node in its own process, two cameras at 30 frames/s (VGA)
#    published over ROS 2 (loopback, private domain) by `facerec bench-node`: received /
#    processed / dropped frames and header-to-detection latency p50/p99; raw rgb8 with the
#    shipped settings (1 worker), with 2 workers of 1 thread, and JPEG CompressedImage.
# Reports land in ${OUT:-target/bench}/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-3}"
ITER="${ITER:-30}"
CMP_ITER="${CMP_ITER:-10}"
PROVIDER="${PROVIDER:-cpu}"
GALLERY_SIZES="${GALLERY_SIZES:-1000,10000,100000,1000000}"
OUT="$(realpath -m "${OUT:-target/bench}")"
PY="${PYTHON:-python3}"
OPENCV_PIN="opencv-python-headless==5.0.0.93"
NUMPY_PIN="numpy==2.4.6"

mkdir -p "$OUT"
if [[ -z "${ORT_DYLIB_PATH:-}" && ! -e .ort/libonnxruntime.so.1.32.0 ]]; then
    bash scripts/setup_ort.sh
fi
cargo build --release --bin facerec --bin facerec_node
BIN="$ROOT/target/release/facerec"

if [[ ! -x .venv-bench/bin/python ]]; then
    "$PY" -m venv .venv-bench
fi
if ! .venv-bench/bin/python -c "import cv2, numpy" 2>/dev/null; then
    .venv-bench/bin/pip install --quiet "$OPENCV_PIN" "$NUMPY_PIN"
fi

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"

echo "== 1. facerec bench, default pipeline (RetinaFace + SFace), provider $PROVIDER, $THREADS thread(s)"
"$BIN" --provider "$PROVIDER" --threads "$THREADS" bench --iterations "$ITER" \
    --gallery-scaling "$GALLERY_SIZES" --json "$OUT/retinaface.json"

echo "== 2. facerec (--detector yunet) vs OpenCV, $ROUNDS alternating rounds"
ours=()
cv=()
for r in $(seq 1 "$ROUNDS"); do
    "$BIN" --provider "$PROVIDER" --threads "$THREADS" --detector yunet bench --iterations "$CMP_ITER" \
        --save-frames "$OUT/frames" --json "$OUT/yunet_r$r.json" > "$OUT/yunet_r$r.txt"
    ours+=("$OUT/yunet_r$r.json")
    .venv-bench/bin/python scripts/bench_opencv.py run --frames-json "$OUT/yunet_r$r.json" \
        --threads "$THREADS" --iterations "$CMP_ITER" --json "$OUT/opencv_r$r.json"
    cv+=("$OUT/opencv_r$r.json")
done
cat "$OUT/yunet_r1.txt"
"$PY" scripts/bench_opencv.py summarize --ours "${ours[@]}" --opencv "${cv[@]}"
echo "== 3. node under load: 2 cameras x 30 frames/s, VGA, over ROS 2 (facerec bench-node)"
NODE_SECONDS="${NODE_SECONDS:-20}"
"$BIN" --provider "$PROVIDER" bench-node --seconds "$NODE_SECONDS" --json "$OUT/node_raw_w1.json"
"$BIN" --provider "$PROVIDER" --threads 1 bench-node --workers 2 --seconds "$NODE_SECONDS" --json "$OUT/node_raw_w2.json"
"$BIN" --provider "$PROVIDER" bench-node --compressed --seconds "$NODE_SECONDS" --json "$OUT/node_jpeg_w1.json"
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
