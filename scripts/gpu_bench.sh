#!/usr/bin/env bash
# Whole-pipeline frames/s on an NVIDIA GPU machine: CPU, CUDA and TensorRT (fp16) side by side,
# VGA frames with 1, 5 and 20 faces (`facerec bench`, RetinaFace + SFace), in one run.
#
#   bash scripts/gpu_bench.sh                 # GPU machine (Linux x86_64, NVIDIA driver >= 580)
#   ITER=300 WARMUP=20 bash scripts/gpu_bench.sh
#   bash scripts/gpu_bench.sh --setup-only    # install and check the libraries, run nothing
#   bash scripts/gpu_bench.sh --dry-run       # no GPU needed: CPU row only, few iterations
#
# What it does:
# 1. fails at once, with the reason, if no NVIDIA GPU is visible (nvidia-smi) or the driver is
#    too old for CUDA 13 (unless --dry-run); prints GPU, driver, CPU;
# 2. `scripts/setup_ort.sh --gpu`: the onnxruntime-gpu 1.31.1 library (sha256-checked) -> .ort-gpu/;
# 3. a venv in .cache/gpu-bench-venv with the CUDA 13 / cuDNN 9 runtime wheels that
#    `onnxruntime-gpu[cuda,cudnn]==1.31.1` resolves to (pinned below, with their sha256) and the
#    TensorRT 10 libraries (`tensorrt-cu13-libs`, pinned); LD_LIBRARY_PATH from the wheels'
#    nvidia/*/lib and tensorrt_libs folders; checks with ldd that both GPU provider libraries
#    of ONNX Runtime find every library they need;
# 4. the release binary (`cargo build --release --bin facerec` when target/release/facerec is
#    missing; FACEREC_BIN=path uses another);
# 5. untimed warm-up runs (cuda, tensorrt) whose wall time shows the TensorRT engine build;
# 6. one `facerec --provider P bench --sizes vga --faces 1,5,20 --json` per provider, all on the
#    same ONNX Runtime library, then a table: provider x faces -> end-to-end median, p99, frames/s.
# Reports land in ${OUT:-target/gpu-bench}/ (JSON, text and logs per provider, summary.md).
#
# TensorRT runs with fp16 engines and an engine cache in $OUT/trt-cache (`--tensorrt-fp16
# --tensorrt-cache DIR`, the `runtime.tensorrt_fp16` / `tensorrt_cache_dir` settings; on the
# node `tensorrt.fp16` / `tensorrt.engine_cache_dir`): the warm-up builds the engines, the timed
# run loads them.
#
# Environment: ITER (timed frames per configuration, default 100; 5 with --dry-run), WARMUP
# (untimed frames, default 10; 1 with --dry-run), THREADS (ONNX Runtime intra-op threads, same
# for every row, 0 = one per core; default 0), OUT, FACEREC_BIN, PYTHON (default python3),
# SKIP_TRT=1 (no TensorRT install or row).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DRY_RUN=0
SETUP_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY_RUN=1 ;;
        --setup-only) SETUP_ONLY=1 ;;
        -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
        *) echo "gpu_bench.sh: unknown argument '$arg' (use --dry-run, --setup-only or --help)" >&2; exit 2 ;;
    esac
done
if [[ "$DRY_RUN" == 1 && "$SETUP_ONLY" == 1 ]]; then
    echo "gpu_bench.sh: --dry-run and --setup-only exclude each other" >&2; exit 2
fi

if [[ "$DRY_RUN" == 1 ]]; then
    ITER="${ITER:-5}"
    WARMUP="${WARMUP:-1}"
else
    ITER="${ITER:-100}"
    WARMUP="${WARMUP:-10}"
fi
THREADS="${THREADS:-0}"
SKIP_TRT="${SKIP_TRT:-0}"
PY="${PYTHON:-python3}"
OUT="$(realpath -m "${OUT:-target/gpu-bench}")"
VENV="$ROOT/.cache/gpu-bench-venv"
SIZES=vga
FACES=1,5,20

# onnxruntime-gpu 1.31.1 (the version scripts/setup_ort.sh --gpu pins) needs CUDA 13, cuDNN 9
# and, for the TensorRT provider, TensorRT 10 (libnvinfer.so.10, libnvonnxparser.so.10; read
# from the wheel's ELF headers). Its extras: cuda = nvidia-cuda-nvrtc~=13.0,
# nvidia-cuda-runtime~=13.0, nvidia-cufft~=12.0, nvidia-curand~=10.0; cudnn =
# nvidia-cudnn-cu13~=9.0, which pulls nvidia-cublas (libcublas.so.13, libcublasLt.so.13);
# nvidia-cufft pulls nvidia-nvjitlink. Below: what pip resolved `onnxruntime-gpu[cuda,cudnn]
# ==1.31.1` to (December 2026), with the sha256 of each x86_64 wheel on PyPI.
ORT_GPU_VERSION=1.31.1
CUDA_REQUIREMENTS='
nvidia-cuda-runtime==13.5.37 --hash=sha256:df2b79a8852f10d1fef8c848489c49eebb5754051bf870202a862831412b179d
nvidia-cuda-nvrtc==13.5.37 --hash=sha256:86b4d68058807988b7d9af5b44917a0601e9c337f35ccd657bfb3c759ff8d8bc
nvidia-cublas==13.10.0.20 --hash=sha256:dcc6d63884c53d07e267ce7e6feac17b2538cebaafec5db865736c3e28e4dc84
nvidia-curand==10.4.5.25 --hash=sha256:22bb226a857e5888fe6b54ae465fc4371296bcff13a35f79e19691bcf454f529
nvidia-cufft==12.5.0.14 --hash=sha256:b8be26837a5abad2b5b74f3e92dd29f622a42934b355be0961a48712cbba23ad
nvidia-nvjitlink==13.5.37 --hash=sha256:280d7cb9649704145f074b8dbde500de04ce02d0872e066e20a83c17bcaa93eb
nvidia-cudnn-cu13==9.28.1.4 --hash=sha256:a54f205b1db1f2895d99f398754db1369816f0569dd459731f925635cf7b65ec
'
# TensorRT: the last 10.x release for CUDA 13 (11.x ships libnvinfer.so.11, which ONNX Runtime
# 1.31.1 does not load). On PyPI, tensorrt-cu13-libs is a source placeholder (wheel_stub) that
# downloads the real wheel from NVIDIA's own package index while installing, so no hash can be
# pinned here and a machine that reaches only PyPI cannot install it: the TensorRT row is then
# reported as not installed and the other rows still run.
TRT_REQUIREMENT='tensorrt-cu13-libs==10.16.1.11'
CUDA_DRIVER_MIN=580   # CUDA 13.x needs an R580 or newer Linux driver

say() { printf '%s\n' "$*"; }
indent() { sed "s/^/${1:-  }/"; }
die() { printf 'gpu_bench.sh: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.txt "$OUT"/*.log "$OUT"/summary.md

# ---------------------------------------------------------------------------------------------
# 1. The machine.
say "== gpu_bench.sh $(date -u +%FT%TZ)$([[ "$DRY_RUN" == 1 ]] && printf ' (--dry-run: CPU row only)')"
say "machine: $(uname -sm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

GPU_OK=0
GPU_PROBLEM=""
if ! command -v nvidia-smi >/dev/null 2>&1; then
    GPU_PROBLEM="nvidia-smi not found: no NVIDIA driver on this machine"
elif ! GPU_LIST="$(nvidia-smi -L 2>&1)" || ! grep -q '^GPU ' <<<"$GPU_LIST"; then
    GPU_PROBLEM="nvidia-smi lists no GPU: ${GPU_LIST:-no output}"
else
    GPU_OK=1
fi

if [[ "$GPU_OK" == 1 ]]; then
    say "GPUs:"
    indent <<<"$GPU_LIST"
    # compute_cap is a query field of newer drivers only.
    if ! GPU_QUERY="$(nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap --format=csv 2>/dev/null)"; then
        GPU_QUERY="$(nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv 2>/dev/null || true)"
    fi
    indent <<<"$GPU_QUERY"
    DRIVER="$(sed -n 2p <<<"$GPU_QUERY" | cut -d, -f3 | tr -d ' ')"
    DRIVER_CUDA="$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -n1)"
    say "driver $DRIVER (supports CUDA up to ${DRIVER_CUDA:-?}); facerec uses CUDA device 0${CUDA_VISIBLE_DEVICES:+ of CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES}"
    if [[ "${DRIVER%%.*}" =~ ^[0-9]+$ ]] && (( ${DRIVER%%.*} < CUDA_DRIVER_MIN )); then
        GPU_OK=0
        GPU_PROBLEM="driver $DRIVER is older than R$CUDA_DRIVER_MIN, which the CUDA 13 libraries of onnxruntime-gpu $ORT_GPU_VERSION need"
    fi
fi
if [[ "$GPU_OK" != 1 ]]; then
    if [[ "$DRY_RUN" == 1 ]]; then
        say "GPU: none usable ($GPU_PROBLEM); --dry-run goes on with the CPU row"
    else
        die "no usable NVIDIA GPU: $GPU_PROBLEM. Nothing was installed or run. (bash scripts/gpu_bench.sh --dry-run runs the CPU row alone.)"
    fi
fi
if [[ "$DRY_RUN" != 1 && "$(uname -m)" != x86_64 ]]; then
    die "onnxruntime-gpu $ORT_GPU_VERSION exists on PyPI for x86_64 only, this is $(uname -m)"
fi

# ---------------------------------------------------------------------------------------------
# 2-3. ONNX Runtime and the NVIDIA libraries.
TRT_STATUS=off
if [[ "$DRY_RUN" == 1 ]]; then
    if [[ -z "${ORT_DYLIB_PATH:-}" ]]; then
        [[ -e .ort/libonnxruntime.so.1.32.0 ]] || bash scripts/setup_ort.sh
        export ORT_DYLIB_PATH="$ROOT/.ort/libonnxruntime.so.1.32.0"
    fi
    say "GPU setup skipped (--dry-run); it would run: bash scripts/setup_ort.sh --gpu; a venv in .cache/gpu-bench-venv with"
    say "  $(tr '\n' ' ' <<<"$CUDA_REQUIREMENTS" | sed -E 's/ --hash=sha256:[0-9a-f]+//g; s/^ +//; s/ +$//') $TRT_REQUIREMENT"
else
    bash scripts/setup_ort.sh --gpu
    ORT_GPU_DIR="$ROOT/.ort-gpu"
    export ORT_DYLIB_PATH="$ORT_GPU_DIR/libonnxruntime.so.$ORT_GPU_VERSION"

    if [[ ! -x "$VENV/bin/python" ]]; then
        "$PY" -m venv "$VENV" || die "cannot make a venv with $PY (Debian/Ubuntu: apt-get install python3-venv)"
    fi
    PINS="$CUDA_REQUIREMENTS $TRT_REQUIREMENT"
    MARK="$VENV/.facerec-gpu-pins"
    if [[ ! -f "$MARK" ]] || [[ "$(cat "$MARK")" != "$PINS" ]]; then
        say "== installing the CUDA 13 / cuDNN 9 runtime wheels into $VENV (pinned, hash-checked)"
        REQ="$VENV/cuda-requirements.txt"
        printf '%s\n' "$CUDA_REQUIREMENTS" > "$REQ"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
            --only-binary=:all: --require-hashes -r "$REQ"
        if [[ "$SKIP_TRT" != 1 ]]; then
            say "== installing $TRT_REQUIREMENT (fetches the real wheel from NVIDIA's package index)"
            if "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
                "$TRT_REQUIREMENT" > "$OUT/tensorrt-install.log" 2>&1; then
                printf '%s' "$PINS" > "$MARK"
            else
                say "TensorRT libraries NOT installed (see $OUT/tensorrt-install.log); the TensorRT row is skipped:"
                { grep -E 'installation of|placeholder|reachable|ERROR' "$OUT/tensorrt-install.log" \
                    || tail -n 15 "$OUT/tensorrt-install.log"; } | head -n 8 | indent '  | '
            fi
        fi
    fi
    SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    LIBDIRS=()
    for d in "$SITE"/nvidia/*/lib "$SITE"/tensorrt_libs; do
        [[ -d "$d" ]] && LIBDIRS+=("$d")
    done
    (( ${#LIBDIRS[@]} > 0 )) || die "no nvidia/*/lib folder under $SITE: the CUDA wheels did not install"
    LD_LIBRARY_PATH="$(IFS=:; printf '%s' "${LIBDIRS[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LD_LIBRARY_PATH
    say "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

    missing() { ldd "$1" 2>&1 | awk '/not found/ { print $1 }' | sort -u | tr '\n' ' '; }
    miss="$(missing "$ORT_GPU_DIR/libonnxruntime_providers_cuda.so")"
    [[ -z "$miss" ]] || die "the CUDA provider library cannot find: $miss(libcuda.so.1 comes with the NVIDIA driver, the rest from the wheels above)"
    if [[ "$SKIP_TRT" == 1 ]]; then
        TRT_STATUS="skipped (SKIP_TRT=1)"
    else
        miss="$(missing "$ORT_GPU_DIR/libonnxruntime_providers_tensorrt.so")"
        if [[ -z "$miss" ]]; then
            TRT_STATUS=ok
        else
            TRT_STATUS="not installed (missing: ${miss% })"
            say "TensorRT provider library cannot find: $miss-> TensorRT row skipped"
        fi
    fi
fi

# ---------------------------------------------------------------------------------------------
# 4. The binary.
if [[ -n "${FACEREC_BIN:-}" ]]; then
    BIN="$(realpath "$FACEREC_BIN")"
elif [[ -x target/release/facerec ]]; then
    BIN="$ROOT/target/release/facerec"
elif [[ "$DRY_RUN" == 1 && -x target/debug/facerec ]]; then
    BIN="$ROOT/target/debug/facerec"
else
    command -v cargo >/dev/null 2>&1 || die "no target/release/facerec and no cargo to build it (set FACEREC_BIN)"
    cargo build --release --bin facerec
    BIN="$ROOT/target/release/facerec"
fi
[[ -x "$BIN" ]] || die "$BIN is not an executable"

TRT_CACHE="$OUT/trt-cache"
rm -rf "$TRT_CACHE"
mkdir -p "$TRT_CACHE"
TRT_PRECISION=fp16

say "== versions"
say "facerec: $("$BIN" --version 2>/dev/null || echo '?') ($BIN, built $(date -u -r "$BIN" +%FT%TZ))"
say "ONNX Runtime library (every row): $ORT_DYLIB_PATH"
say "python: $("$PY" --version 2>&1)"
if [[ "$DRY_RUN" != 1 ]]; then
    say "NVIDIA wheels in $VENV:"
    "$VENV/bin/python" -m pip list --format=freeze --disable-pip-version-check 2>/dev/null \
        | grep -iE '^(nvidia|tensorrt)' | indent
    say "TensorRT provider: $TRT_STATUS"
fi
say "TensorRT precision: fp16 (--tensorrt-fp16), engine cache $TRT_CACHE"
if [[ "$SETUP_ONLY" == 1 ]]; then
    say "== --setup-only: libraries in place, nothing run"
    exit 0
fi

# ---------------------------------------------------------------------------------------------
# 5-6. Warm-up, then the timed runs.
if [[ "$DRY_RUN" == 1 ]]; then
    PROVIDERS=(cpu)
else
    PROVIDERS=(cpu cuda)
    [[ "$TRT_STATUS" == ok ]] && PROVIDERS+=(tensorrt)
fi
declare -A WARM=()
STATUS_ARGS=()
INCOMPLETE=""

run_bench() { # provider iterations warmup json log
    "$BIN" --provider "$1" --threads "$THREADS" --tensorrt-fp16 --tensorrt-cache "$TRT_CACHE" bench --sizes "$SIZES" --faces "$FACES" \
        --iterations "$2" --warmup "$3" --gallery-people 100 --json "$4" > "${5%.log}.txt" 2> "$5"
}

for p in "${PROVIDERS[@]}"; do
    [[ "$p" == cpu ]] && continue
    say "== warm-up, untimed: $p (sessions, CUDA context, cuDNN/TensorRT tuning, one frame per configuration)"
    t0="$(now)"
    if run_bench "$p" 1 0 "$OUT/warmup_$p.json" "$OUT/warmup_$p.log"; then
        WARM[$p]="$(elapsed "$t0" "$(now)")"
        say "   $p warm-up: ${WARM[$p]} s"
    else
        WARM[$p]=failed
        say "   $p warm-up FAILED ($(elapsed "$t0" "$(now)") s); last lines of $OUT/warmup_$p.log:"
        tail -n 15 "$OUT/warmup_$p.log" | indent '  | '
    fi
done
if [[ -n "${WARM[tensorrt]:-}" && "${WARM[tensorrt]}" != failed ]]; then
    if [[ -n "${WARM[cuda]:-}" && "${WARM[cuda]}" != failed ]]; then
        say "   TensorRT engine build (tensorrt warm-up minus cuda warm-up): ~$(awk -v a="${WARM[tensorrt]}" -v b="${WARM[cuda]}" 'BEGIN { printf "%.1f", a - b }') s"
    fi
    n_cache="$(find "$TRT_CACHE" -type f | wc -l)"
    if (( n_cache > 0 )); then
        say "   engine cache: $n_cache files, $(du -sh "$TRT_CACHE" | cut -f1) in $TRT_CACHE (the timed run loads them)"
    else
        say "   engine cache: EMPTY: the timed run builds its engines again, on its first frames per"
        say "   configuration, which are not timed (--warmup $WARMUP plus one untimed frame)"
    fi
fi

for p in "${PROVIDERS[@]}"; do
    label="$p"
    [[ "$p" == tensorrt ]] && label="tensorrt-$TRT_PRECISION"
    say "== timed: $label, $SIZES x faces $FACES, $ITER frames after $WARMUP warm-up frames, threads $THREADS"
    t0="$(now)"
    if run_bench "$p" "$ITER" "$WARMUP" "$OUT/$p.json" "$OUT/$p.log"; then
        say "   done in $(elapsed "$t0" "$(now)") s"
        STATUS_ARGS+=("$label=$OUT/$p.json")
    else
        say "   FAILED after $(elapsed "$t0" "$(now)") s; last lines of $OUT/$p.log:"
        tail -n 15 "$OUT/$p.log" | indent '  | '
        STATUS_ARGS+=("$label=FAILED: see $OUT/$p.log")
        INCOMPLETE+=" $label failed;"
    fi
done
if [[ "$DRY_RUN" == 1 ]]; then
    STATUS_ARGS+=("cuda=not run (--dry-run)" "tensorrt-$TRT_PRECISION=not run (--dry-run)")
elif [[ "$TRT_STATUS" != ok ]]; then
    STATUS_ARGS+=("tensorrt-$TRT_PRECISION=not run: TensorRT $TRT_STATUS")
    [[ "$SKIP_TRT" == 1 ]] || INCOMPLETE+=" tensorrt not installed;"
fi

# ---------------------------------------------------------------------------------------------
# Summary table from the JSON reports (fields written by src/cli/bench/pipeline.rs: configs[]
# with size, faces_placed, faces_detected, iterations, fps, stages = [[name, {median_ms, p99_ms,
# mean_ms}], ...]).
say ""
"$PY" - "$OUT/summary.md" "${STATUS_ARGS[@]}" <<'EOF'
import json, sys

out_path, entries = sys.argv[1], sys.argv[2:]
rows, notes, cpu_fps = [], [], {}
for entry in entries:
    label, _, value = entry.partition("=")
    if not value.endswith(".json"):
        notes.append(f"{label}: {value}")
        rows.append(f"| {label} | - | - | - | - | - | - | - | - |")
        continue
    with open(value) as f:
        report = json.load(f)
    for c in report["configs"]:
        st = {name: s for name, s in c["stages"]}
        e2e = st["end_to_end"]
        key = (c["size"], c["faces_placed"])
        if label == "cpu":
            cpu_fps[key] = c["fps"]
        speedup = c["fps"] / cpu_fps[key] if key in cpu_fps and cpu_fps[key] > 0 else None
        rows.append(
            f"| {label} | {c['size']} {c['faces_placed']}/{c['faces_detected']} | "
            f"{e2e['median_ms']:.2f} | {e2e['p99_ms']:.2f} | {c['fps']:.1f} | "
            f"{st['detect_inference']['median_ms']:.2f} | {st['embed_inference']['median_ms']:.2f} | "
            f"{c['iterations']} | {'%.1fx' % speedup if speedup else '-'} |"
        )
    if report.get("provider") and not label.startswith(report["provider"]):
        notes.append(f"{label}: the report says provider {report['provider']}")
lines = [
    "| provider | frame, faces placed/found | end-to-end median ms | p99 ms | frames/s | detect inference ms | embed inference ms | frames timed | frames/s vs cpu |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    *rows,
]
lines += [f"- {n}" for n in notes]
text = "\n".join(lines) + "\n"
sys.stdout.write(text)
with open(out_path, "w") as f:
    f.write(text)
EOF
say "frames/s = 1000 / end-to-end median (bgr8 conversion, detect, align, embed, match against 100 people, JSON + CDR encoding); p99 is nearest-rank."
say "reports: $OUT/{cpu,cuda,tensorrt}.json|.txt|.log, summary.md"
if [[ -n "$INCOMPLETE" ]]; then
    die "incomplete run:${INCOMPLETE%;} (table above has the rows that ran)"
fi
