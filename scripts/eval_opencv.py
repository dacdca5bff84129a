#!/usr/bin/env python3
"""The peer pipeline for `facerec eval pairs`: OpenCV's FaceDetectorYN + FaceRecognizerSF on the
same pairs file, the same photos and the same model files, scored the way `facerec eval pairs`
scores (10 folds: each fold's threshold chosen on the other nine; a file holding one set is split
into 10 contiguous blocks of same-person and of different-people pairs in file order).

  .venv-bench/bin/python scripts/eval_opencv.py --pairs ../shared/datasets/cfp-dev/pairs_fp.txt \
      --images ../shared/datasets/cfp-dev/images --json target/opencv-cfp.json

Per photo, as a user of OpenCV's face API writes it: the detector at the photo's own size
(`setInputSize`), score threshold 0.6 then a retry at 0.2 when nothing is found (facerec's
policy), the face chosen by facerec's rule (largest `area - 2 * squared centre offset`),
`alignCrop` + `feature`, cosine similarity of the L2-normalised features. A pair with a photo
without a face counts as "different" (rejected), as in facerec. Needs opencv-python-headless and
numpy (scripts/bench.sh pins them in .venv-bench).
"""

import argparse
import json
import sys
import time
from pathlib import Path


def read_pairs(path):
    """LFW layout: a header `folds n` (or `n`), then `name i j` (same) and `a i b j` (different)."""
    lines = [l.split() for l in Path(path).read_text().splitlines() if l.strip()]
    header, rows = lines[0], lines[1:]
    folds, n = (int(header[0]), int(header[1])) if len(header) == 2 else (1, int(header[0]))
    pairs = []
    for r in rows:
        if len(r) == 3:
            pairs.append(((r[0], int(r[1])), (r[0], int(r[2])), True))
        elif len(r) == 4:
            pairs.append(((r[0], int(r[1])), (r[2], int(r[3])), False))
        else:
            raise SystemExit(f"eval_opencv: bad pairs line {r}")
    return folds, n, pairs


def fold_of(pairs, folds, n):
    """Fold index per pair: the file's own folds (blocks of n same + n different), or 10 blocks."""
    if folds > 1:
        return [i // (2 * n) for i in range(len(pairs))]
    same = [i for i, p in enumerate(pairs) if p[2]]
    diff = [i for i, p in enumerate(pairs) if not p[2]]
    out = [0] * len(pairs)
    for group in (same, diff):
        block = max(1, len(group) // 10)
        for k, i in enumerate(group):
            out[i] = min(k // block, 9)
    return out


def best_threshold(scores, labels):
    """The accuracy-maximising threshold (midpoints between sorted scores), as facerec does."""
    cand = sorted(set(scores))
    best = (-1.0, 0.0)
    ths = [cand[0] - 1e-6] + [(a + b) / 2 for a, b in zip(cand, cand[1:])] + [cand[-1] + 1e-6]
    for t in ths:
        acc = sum((s >= t) == l for s, l in zip(scores, labels)) / len(scores)
        if acc > best[0]:
            best = (acc, t)
    return best[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--models-dir", default="models")
    ap.add_argument("--detector-model", default="yunet_2023mar.onnx")
    ap.add_argument("--embedder-model", default="sface_2021dec_int8bq.onnx")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()

    import cv2
    import numpy as np

    cv2.setNumThreads(args.threads)
    models = Path(args.models_dir)
    det = cv2.FaceDetectorYN.create(str(models / args.detector_model), "", (320, 320), 0.6, 0.3, 5000)
    rec = cv2.FaceRecognizerSF.create(str(models / args.embedder_model), "")
    folds, n, pairs = read_pairs(args.pairs)

    def photo(name, i):
        return Path(args.images) / name / f"{name}_{i:04d}.jpg"

    t0 = time.time()
    feats, no_face = {}, 0
    keys = sorted({k for a, b, _ in pairs for k in (a, b)})
    for key in keys:
        img = cv2.imread(str(photo(*key)))
        if img is None:
            raise SystemExit(f"eval_opencv: cannot read {photo(*key)}")
        h, w = img.shape[:2]
        det.setInputSize((w, h))
        faces = None
        for score in (0.6, 0.2):
            det.setScoreThreshold(score)
            _, faces = det.detect(img)
            if faces is not None and len(faces):
                break
        if faces is None or not len(faces):
            no_face += 1
            feats[key] = None
            continue
        cx, cy = w / 2, h / 2
        rank = [f[2] * f[3] - 2 * ((f[0] + f[2] / 2 - cx) ** 2 + (f[1] + f[3] / 2 - cy) ** 2) for f in faces]
        face = faces[int(np.argmax(rank))]
        v = rec.feature(rec.alignCrop(img, face)).flatten()
        feats[key] = v / np.linalg.norm(v)
    seconds = time.time() - t0

    scores = [float(feats[a] @ feats[b]) if feats[a] is not None and feats[b] is not None else -1.0 for a, b, _ in pairs]
    labels = [same for _, _, same in pairs]
    fold = fold_of(pairs, folds, n)
    k = max(fold) + 1
    accs = []
    for f in range(k):
        train = [i for i in range(len(pairs)) if fold[i] != f]
        test = [i for i in range(len(pairs)) if fold[i] == f]
        t = best_threshold([scores[i] for i in train], [labels[i] for i in train])
        accs.append(sum((scores[i] >= t) == labels[i] for i in test) / len(test))
    mean = float(np.mean(accs))
    sd = float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0
    # ROC AUC: probability that a same-person pair scores above a different-people pair.
    same = np.array([s for s, l in zip(scores, labels) if l])
    diff = np.array([s for s, l in zip(scores, labels) if not l])
    auc = float(((same[:, None] > diff[None, :]).sum() + 0.5 * (same[:, None] == diff[None, :]).sum()) / (len(same) * len(diff)))
    report = {
        "pipeline": f"OpenCV {cv2.__version__} FaceDetectorYN ({args.detector_model}) + FaceRecognizerSF ({args.embedder_model})",
        "pairs": len(pairs),
        "photos": len(keys),
        "photos_without_face": no_face,
        "accuracy_10fold": mean,
        "accuracy_sd": sd,
        "roc_auc": auc,
        "seconds": seconds,
        "ms_per_photo": 1000 * seconds / max(1, len(keys)),
    }
    print(
        f"{report['pipeline']} on {Path(args.pairs).name}: {len(pairs)} pairs, {len(keys)} photos "
        f"({no_face} without a face), accuracy (10-fold) {100 * mean:.2f}% ± {100 * sd:.2f}, "
        f"ROC AUC {auc:.4f}, {report['ms_per_photo']:.1f} ms per photo"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
