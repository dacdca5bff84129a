#!/usr/bin/env python3
"""The peer pipeline for `facerec bench`: OpenCV's FaceDetectorYN + FaceRecognizerSF on the same
frames (the PNGs `facerec bench --save-frames` wrote) and the same model files, and a summary
that sets both side by side.

  python scripts/bench_opencv.py run --frames-json ours.json --threads 2 --json cv.json
  python3 scripts/bench_opencv.py summarize --ours r*_ours.json --opencv r*_cv.json

`run` needs opencv-python-headless and numpy (scripts/bench.sh puts them in .venv-bench);
`summarize` needs only the standard library.

Per frame, as a user of OpenCV's face API would write it: resize the BGR frame so it fits the
detector's 640x640 input (INTER_LINEAR), pad right/bottom with black to 640x640 (mode `pad`: a
square input, as facerec's YuNet path had until its model file's size became symbolic on
2026-12-07) or leave it unpadded (mode `nopad`: OpenCV's detector runs at the resized size, as
facerec's YuNet now does: 640x480 for VGA, 640x360 padded to 640x384 for 16:9), detect, map
boxes and landmarks back to frame pixels, `alignCrop` + `feature` per face on the full frame, L2
normalise and match against a random 100-person gallery with one matrix product.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

IN_SIZE = 640


def pct(values, q):
    """Nearest-rank percentile, as facerec bench computes it."""
    s = sorted(values)
    if not s:
        return 0.0
    rank = min(max(int(-(-q * len(s) // 1)), 1), len(s))
    return s[rank - 1]


def stat(ms):
    return {"median_ms": pct(ms, 0.5), "p99_ms": pct(ms, 0.99), "mean_ms": statistics.fmean(ms) if ms else 0.0}


def run(args):
    import cv2
    import numpy as np

    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:
        pass
    cv2.setNumThreads(args.threads)
    models = Path(args.models_dir)
    detector = cv2.FaceDetectorYN.create(
        str(models / args.detector_model), "", (IN_SIZE, IN_SIZE), args.score_threshold, args.nms_iou, 5000
    )
    recognizer = cv2.FaceRecognizerSF.create(str(models / args.embedder_model), "")
    rng = np.random.default_rng(42)
    gallery = rng.standard_normal((args.gallery_people, 128)).astype(np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)

    frames = json.loads(Path(args.frames_json).read_text())["frames"]
    configs = []
    for entry in frames:
        img = cv2.imread(str(entry["path"]), cv2.IMREAD_COLOR)
        if img is None:
            sys.exit(f"bench_opencv: cannot read {entry['path']}")
        h, w = img.shape[:2]
        scale = min(IN_SIZE / w, IN_SIZE / h)
        rw, rh = min(max(round(w * scale), 1), IN_SIZE), min(max(round(h * scale), 1), IN_SIZE)
        sx, sy = w / rw, h / rh
        result = {"size": entry["size"], "faces_placed": entry["faces"], "width": w, "height": h}
        for mode in args.modes:
            detector.setInputSize((IN_SIZE, IN_SIZE) if mode == "pad" else (rw, rh))
            samples = {k: [] for k in ("detect", "align", "embed", "matching", "frame")}
            found = 0
            for i in range(args.warmup + args.iterations):
                t0 = time.perf_counter()
                small = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_LINEAR)
                if mode == "pad":
                    small = cv2.copyMakeBorder(small, 0, IN_SIZE - rh, 0, IN_SIZE - rw, cv2.BORDER_CONSTANT, value=0)
                _, faces = detector.detect(small)
                t1 = time.perf_counter()
                crops = []
                if faces is not None:
                    faces = faces.copy()
                    faces[:, 0:14:2] *= sx
                    faces[:, 1:14:2] *= sy
                    crops = [recognizer.alignCrop(img, f) for f in faces]
                t2 = time.perf_counter()
                feats = [recognizer.feature(c) for c in crops]
                t3 = time.perf_counter()
                if feats:
                    f = np.vstack(feats)
                    f /= np.linalg.norm(f, axis=1, keepdims=True)
                    scores = f @ gallery.T
                    best = scores.argmax(axis=1)
                    _ = scores[np.arange(len(best)), best]
                t4 = time.perf_counter()
                found = len(crops)
                if i >= args.warmup:
                    for k, v in (("detect", t1 - t0), ("align", t2 - t1), ("embed", t3 - t2), ("matching", t4 - t3), ("frame", t4 - t0)):
                        samples[k].append(v * 1e3)
            result[mode] = {"faces_detected": found, **{k: stat(v) for k, v in samples.items()}}
            print(
                f"opencv {mode:5} {entry['size']:>5} {entry['faces']:>2} faces ({found} found): "
                f"{result[mode]['frame']['median_ms']:.2f} ms median",
                file=sys.stderr,
            )
        configs.append(result)
    report = {
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "threads": args.threads,
        "detector_model": args.detector_model,
        "embedder_model": args.embedder_model,
        "configs": configs,
    }
    Path(args.json).write_text(json.dumps(report, indent=1))


def summarize(args):
    ours_runs = [json.loads(Path(p).read_text()) for p in args.ours]
    cv_runs = [json.loads(Path(p).read_text()) for p in args.opencv]
    if not ours_runs or not cv_runs:
        sys.exit("bench_opencv summarize: no reports")

    def ours_ms(run, size, n, stage):
        for c in run["configs"]:
            if c["size"] == size and c["faces_placed"] == n:
                return dict(c["stages"])[stage]["median_ms"], c["faces_detected"]
        return None, None

    def cv_ms(run, size, n, mode):
        for c in run["configs"]:
            if c["size"] == size and c["faces_placed"] == n and mode in c:
                return c[mode]["frame"]["median_ms"], c[mode]["faces_detected"]
        return None, None

    modes = [m for m in ("pad", "nopad") if m in cv_runs[0]["configs"][0]]
    print(f"\nOpenCV {cv_runs[0]['opencv']} vs facerec (--detector yunet), {cv_runs[0]['threads']} thread(s), "
          f"{len(ours_runs)} alternating round(s); per round the median frame time, then the median over rounds.")
    head = "| frame | faces placed | facerec found | facerec ms (convert+recognize) |"
    rule = "| --- | --- | --- | --- |"
    for m in modes:
        head += f" OpenCV {m} found | OpenCV {m} ms | throughput ratio vs {m} |"
        rule += " --- | --- | --- |"
    print(head)
    print(rule)
    ratios = {m: [] for m in modes}
    for c in ours_runs[0]["configs"]:
        size, n = c["size"], c["faces_placed"]
        ours = [ours_ms(r, size, n, "frame") for r in ours_runs]
        ours_med = statistics.median(v for v, _ in ours if v is not None)
        row = f"| {size} | {n} | {ours[0][1]} | {ours_med:.2f} |"
        for m in modes:
            cv = [cv_ms(r, size, n, m) for r in cv_runs]
            vals = [v for v, _ in cv if v is not None]
            if not vals:
                row += " - | - | - |"
                continue
            cv_med = statistics.median(vals)
            per_round = [cvv / ov for (cvv, _), (ov, _) in zip(cv, ours) if cvv and ov]
            ratio = statistics.median(per_round)
            ratios[m].append(ratio)
            row += f" {cv[0][1]} | {cv_med:.2f} | {ratio:.2f}x |"
        print(row)
    for m in modes:
        if ratios[m]:
            geo = 1.0
            for r in ratios[m]:
                geo *= r
            geo **= 1.0 / len(ratios[m])
            print(f"throughput ratio facerec / OpenCV ({m}): geometric mean {geo:.2f}x, "
                  f"min {min(ratios[m]):.2f}x, max {max(ratios[m]):.2f}x")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--frames-json", required=True, help="report of `facerec bench --save-frames DIR --json FILE`")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--iterations", type=int, default=20)
    r.add_argument("--warmup", type=int, default=3)
    r.add_argument("--models-dir", default="models")
    r.add_argument("--detector-model", default="yunet_2023mar.onnx")
    r.add_argument("--embedder-model", default="sface_2021dec_int8bq.onnx")
    r.add_argument("--score-threshold", type=float, default=0.6)
    r.add_argument("--nms-iou", type=float, default=0.4)
    r.add_argument("--gallery-people", type=int, default=100)
    r.add_argument("--modes", nargs="+", default=["pad", "nopad"], choices=["pad", "nopad"])
    r.add_argument("--json", required=True)
    s = sub.add_parser("summarize")
    s.add_argument("--ours", nargs="+", required=True)
    s.add_argument("--opencv", nargs="+", required=True)
    args = p.parse_args()
    run(args) if args.cmd == "run" else summarize(args)


if __name__ == "__main__":
    main()
