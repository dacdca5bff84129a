"""Independent Python check of the shipped models (a reference for the Rust decoders).

Reads only models/ and the photos given on the command line; writes nothing. Needs numpy,
pillow and onnxruntime==1.32.0 (e.g. `.venv-tools/bin/pip install onnxruntime==1.32.0 pillow`).

    .venv-tools/bin/python scripts/models_check.py tests/fixtures/faces/group/couple.jpg ...

For each photo: YuNet (letterboxed to 640x640) and RetinaFace (long side 640, mean 104,117,123)
detections above a score threshold after NMS, with boxes in image pixels. Then SFace on one
5-point-aligned crop per face: cosine similarities, and batch N vs one-by-one agreement.
"""

from __future__ import annotations

import sys
import time
from itertools import product
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

MODELS = Path(__file__).resolve().parent.parent / "models"
TEMPLATE = np.array([(38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366),
                     (41.5493, 92.3655), (70.7299, 92.2041)], dtype=np.float64)


def session(name: str) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(MODELS / name), opts, providers=["CPUExecutionProvider"])


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """boxes: x1,y1,x2,y2."""
    order = list(np.argsort(-scores))
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(i)
        rest = []
        for j in order:
            xx1, yy1 = max(boxes[i, 0], boxes[j, 0]), max(boxes[i, 1], boxes[j, 1])
            xx2, yy2 = min(boxes[i, 2], boxes[j, 2]), min(boxes[i, 3], boxes[j, 3])
            inter = max(0.0, xx2 - xx1) * max(0.0, yy2 - yy1)
            a = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
            b = (boxes[j, 2] - boxes[j, 0]) * (boxes[j, 3] - boxes[j, 1])
            if inter / (a + b - inter) <= iou:
                rest.append(j)
        order = rest
    return keep


def yunet(sess: ort.InferenceSession, rgb: np.ndarray, thresh: float = 0.6):
    h, w = rgb.shape[:2]
    s = 640.0 / max(h, w)
    nw, nh = round(w * s), round(h * s)
    canvas = np.zeros((640, 640, 3), np.float32)
    canvas[:nh, :nw] = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.BILINEAR), np.float32)
    x = canvas[..., ::-1].transpose(2, 0, 1)[None].copy()  # BGR, 0..255, NCHW
    out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": x})))
    boxes, scores, kps = [], [], []
    for stride in (8, 16, 32):
        n = 640 // stride
        cls, obj = out[f"cls_{stride}"][0, :, 0], out[f"obj_{stride}"][0, :, 0]
        bbox, kp = out[f"bbox_{stride}"][0], out[f"kps_{stride}"][0]
        score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
        row, col = np.divmod(np.arange(n * n), n)
        cx, cy = (col + bbox[:, 0]) * stride, (row + bbox[:, 1]) * stride
        bw, bh = np.exp(bbox[:, 2]) * stride, np.exp(bbox[:, 3]) * stride
        boxes.append(np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1))
        pts = np.empty((n * n, 5, 2))
        pts[:, :, 0] = (kp[:, 0::2] + col[:, None]) * stride
        pts[:, :, 1] = (kp[:, 1::2] + row[:, None]) * stride
        kps.append(pts)
        scores.append(score)
    boxes, scores, kps = np.concatenate(boxes) / s, np.concatenate(scores), np.concatenate(kps) / s
    sel = np.where(scores > thresh)[0]
    keep = sel[nms(boxes[sel], scores[sel], 0.3)]
    return boxes[keep], scores[keep], kps[keep]


def retinaface(sess: ort.InferenceSession, rgb: np.ndarray, mean=(104, 117, 123), thresh=0.9, long_side=640):
    """Runs on the photo resized so its long side is `long_side` (0: native size); boxes in photo pixels."""
    oh, ow = rgb.shape[:2]
    if long_side:
        s = long_side / max(oh, ow)
        rgb = np.asarray(Image.fromarray(rgb).resize((round(ow * s), round(oh * s)), Image.BILINEAR))
    h, w = rgb.shape[:2]
    x = (rgb[..., ::-1].astype(np.float32) - np.array(mean, np.float32)).transpose(2, 0, 1)[None].copy()
    loc, conf, lm = sess.run(["loc", "conf", "landmarks"], {"input": x})
    priors = []
    for step, sizes in ((8, (16, 32)), (16, (64, 128)), (32, (256, 512))):
        fh, fw = int(np.ceil(h / step)), int(np.ceil(w / step))
        for i, j in product(range(fh), range(fw)):
            for m in sizes:
                priors.append(((j + 0.5) * step / w, (i + 0.5) * step / h, m / w, m / h))
    p = np.array(priors)
    assert len(p) == loc.shape[1], (len(p), loc.shape)
    loc, lm, score = loc[0], lm[0], conf[0, :, 1]
    cxcy = p[:, :2] + loc[:, :2] * 0.1 * p[:, 2:]
    wh = p[:, 2:] * np.exp(loc[:, 2:] * 0.2)
    boxes = np.concatenate([cxcy - wh / 2, cxcy + wh / 2], 1) * [ow, oh, ow, oh]
    pts = (p[:, None, :2] + lm.reshape(-1, 5, 2) * 0.1 * p[:, None, 2:]) * [ow, oh]
    sel = np.where(score > thresh)[0]
    keep = sel[nms(boxes[sel], score[sel], 0.4)]
    return boxes[keep], score[keep], pts[keep]


def align(rgb: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Umeyama similarity from pts to TEMPLATE, then inverse-map bilinear sampling to 112x112."""
    src, dst = pts.astype(np.float64), TEMPLATE
    ms, md = src.mean(0), dst.mean(0)
    sc, dc = src - ms, dst - md
    cov = dc.T @ sc / len(src)
    u, d, vt = np.linalg.svd(cov)
    sgn = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sgn[1, 1] = -1
    r = u @ sgn @ vt
    scale = np.trace(np.diag(d) @ sgn) / sc.var(0).sum()
    t = md - scale * r @ ms
    inv_r, inv_t = r.T / scale, -(r.T / scale) @ t
    gy, gx = np.mgrid[0:112, 0:112]
    grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float64)
    xy = grid @ inv_r.T + inv_t
    h, w = rgb.shape[:2]
    x0, y0 = np.clip(np.floor(xy[:, 0]).astype(int), 0, w - 2), np.clip(np.floor(xy[:, 1]).astype(int), 0, h - 2)
    fx, fy = np.clip(xy[:, 0] - x0, 0, 1)[:, None], np.clip(xy[:, 1] - y0, 0, 1)[:, None]
    img = rgb.astype(np.float32)
    out = (img[y0, x0] * (1 - fx) * (1 - fy) + img[y0, x0 + 1] * fx * (1 - fy)
           + img[y0 + 1, x0] * (1 - fx) * fy + img[y0 + 1, x0 + 1] * fx * fy)
    return out.reshape(112, 112, 3)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    det_y, det_r, emb = session("yunet_2023mar.onnx"), session("retinaface_mnet025.onnx"), session("sface_2021dec_int8bq.onnx")
    crops, labels = [], []
    for path in sys.argv[1:]:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        t0 = time.perf_counter()
        yb, ys, yk = yunet(det_y, rgb)
        t1 = time.perf_counter()
        rb, rs, _ = retinaface(det_r, rgb)
        t2 = time.perf_counter()
        _, rs127, _ = retinaface(det_r, rgb, mean=(104, 117, 127))
        _, rs_native, _ = retinaface(det_r, rgb, long_side=0)
        print(f"{path} ({rgb.shape[1]}x{rgb.shape[0]}): YuNet {len(ys)} faces ({(t1 - t0) * 1e3:.0f} ms), "
              f"RetinaFace at long side 640: {len(rs)} faces ({(t2 - t1) * 1e3:.0f} ms; "
              f"with mean 104,117,127: {len(rs127)}; at native size: {len(rs_native)})")
        for b, s in zip(yb, ys):
            print(f"  yunet      score {s:.3f} box x1={b[0]:.0f} y1={b[1]:.0f} x2={b[2]:.0f} y2={b[3]:.0f}")
        for b, s in zip(rb, rs):
            print(f"  retinaface score {s:.3f} box x1={b[0]:.0f} y1={b[1]:.0f} x2={b[2]:.0f} y2={b[3]:.0f}")
        for k, (_, pts) in enumerate(zip(ys, yk)):
            crops.append(align(rgb, pts))
            labels.append(f"{Path(path).parent.name}/{Path(path).name}#{k}")
    if not crops:
        return
    x = np.stack(crops).transpose(0, 3, 1, 2).astype(np.float32).copy()  # RGB 0..255
    t0 = time.perf_counter()
    batch = emb.run(["fc1"], {"data": x})[0]
    t1 = time.perf_counter()
    single = np.concatenate([emb.run(["fc1"], {"data": x[i:i + 1]})[0] for i in range(len(x))])
    e = batch / np.linalg.norm(batch, axis=1, keepdims=True)
    es = single / np.linalg.norm(single, axis=1, keepdims=True)
    print(f"SFace: batch of {len(x)} in {(t1 - t0) * 1e3:.0f} ms; max |batch - single| = "
          f"{np.abs(batch - single).max():.2e}, min cosine(batch, single) = {(e * es).sum(1).min():.7f}")
    sim = e @ e.T
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            print(f"  cos {sim[i, j]:+.3f}  {labels[i]}  {labels[j]}")


if __name__ == "__main__":
    main()
