#!/usr/bin/env bash
# Training smoke test (CI): the whole training path, tiny, on the fixture photos
# (tests/fixtures/faces/by_identity: 25 photos of 9 people; no ../shared needed):
#   facerec crops -> stage 1 (cross-entropy) -> stage 2 (contrastive, then a triplet step)
#   -> ONNX export checked against PyTorch -> the Rust CLI loads the model (64-d read from it),
#   scores same-person photos above different-person photos, and refuses an SFace gallery.
# Small network input (64 px, resized inside the graph), few steps. Exits non-zero on failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
t0=$SECONDS
VENV="$(bash scripts/setup_train_venv.sh | tail -1)"
bash scripts/setup_ort.sh >/dev/null
cargo build --locked --all-targets  # the test suite's build (same features, so no rebuild after scripts/test.sh)
FACEREC="$ROOT/target/debug/facerec"
W="$(mktemp -d "${TMPDIR:-/tmp}/facerec-train-smoke.XXXXXX")"
trap 'rm -rf "$W"' EXIT
fail() { echo "training_smoke: FAILED: $*" >&2; exit 1; }
t1=$SECONDS

FIX="$ROOT/tests/fixtures/faces/by_identity"
"$FACEREC" crops "$FIX" --out "$W/crops"
n=$(($(wc -l < "$W/crops/manifest.csv") - 1))
(( n >= 20 )) || fail "only $n crops from the fixtures"

export PYTHONPATH="$ROOT/training${PYTHONPATH:+:$PYTHONPATH}"
PY="$VENV/bin/python"
"$PY" -m unittest discover -s "$ROOT/training/tests"
common=(--manifest "$W/crops/manifest.csv" --val-fraction 0.34 --out "$W/run" --input-size 64 --threads 2)
"$PY" -m facerec_train.train stage1 "${common[@]}" --epochs 3 --batch-size 8 --lr 3e-3 --ckpt-every 2
# Resume: one more epoch from stage 1's last checkpoint.
"$PY" -m facerec_train.train stage1 "${common[@]}" --epochs 4 --batch-size 8 --lr 3e-3 --resume
python3 - "$W/run/stage1/summary.json" <<'PY' || fail "stage 1 did not resume"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["resumed_from"] and s["final"]["epoch"] == 4, s
PY
"$PY" -m facerec_train.train stage2 "${common[@]}" --epochs 1 --p 3 --k 2 --loss triplet --mining hard --max-steps-per-epoch 2
"$PY" -m facerec_train.train stage2 "${common[@]}" --epochs 3 --p 4 --k 2 --loss contrastive
for f in stage1/curves.png stage2/curves.png stage2/history.jsonl stage2/checkpoints/last.ckpt; do
  [[ -s "$W/run/$f" ]] || fail "missing $f"
done
"$PY" -m facerec_train.export --out "$W/run"
MODEL="$W/run/facerec_effnetlite0_64d.onnx"
python3 - "$W/run/export.json" <<'PY' || fail "ONNX differs from PyTorch"
import json, sys
e = json.load(open(sys.argv[1]))
print(f"ONNX vs PyTorch max abs diff {e['max_abs_diff']:.2e}, output {e['output_shape']}")
assert e["max_abs_diff"] < 1e-4 and e["output_shape"][-1] == "64", e
PY
t2=$SECONDS

# The Rust pipeline with the exported model: the node's detector + alignment + this embedder.
sim() { "$FACEREC" --embedder-model "$MODEL" compare --json "$1" "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["similarity"])'; }
same=() diff=()
same+=("$(sim "$FIX/id01/img1.jpg" "$FIX/id01/img2.jpg")")
same+=("$(sim "$FIX/id01/img4.jpg" "$FIX/id01/img5.jpg")")
same+=("$(sim "$FIX/id02/img13.jpg" "$FIX/id02/img14.jpg")")
diff+=("$(sim "$FIX/id01/img1.jpg" "$FIX/id02/img13.jpg")")
diff+=("$(sim "$FIX/id01/img4.jpg" "$FIX/id05/img16.jpg")")
diff+=("$(sim "$FIX/id02/img14.jpg" "$FIX/id08/img22.jpg")")
echo "same-person similarities: ${same[*]}; different-person: ${diff[*]}"
python3 - "${same[*]}" "${diff[*]}" <<'PY' || fail "same-person photos do not score above different-person photos"
import sys
same = [float(x) for x in sys.argv[1].split()]
diff = [float(x) for x in sys.argv[2].split()]
assert sum(same) / len(same) > sum(diff) / len(diff), (same, diff)
PY
"$FACEREC" enroll --gallery "$W/sface.yaml" --name id05 "$FIX/id05/img16.jpg" >/dev/null
if "$FACEREC" --embedder-model "$MODEL" identify --gallery "$W/sface.yaml" "$FIX/id05/img17.jpg" 2>"$W/err"; then
  fail "an SFace gallery was accepted by the 64-d model"
fi
grep -q "sface_2021dec_int8bq.onnx.*re-enroll" "$W/err" || fail "unclear refusal: $(cat "$W/err")"
"$FACEREC" --embedder-model "$MODEL" enroll --gallery "$W/own.yaml" --name id05 "$FIX/id05/img16.jpg"
"$FACEREC" --embedder-model "$MODEL" identify --gallery "$W/own.yaml" "$FIX/id05/img17.jpg"
if "$FACEREC" identify --gallery "$W/own.yaml" "$FIX/id05/img17.jpg" 2>/dev/null; then
  fail "the 64-d model's gallery was accepted by SFace"
fi
grep -q "dim: 64" "$W/own.yaml" || grep -q "dimension: 64" "$W/own.yaml" || fail "gallery does not record 64-d"
echo "training_smoke: passed in $((SECONDS - t0)) s (setup $((t1 - t0)) s, training + export $((t2 - t1)) s)"
