#!/usr/bin/env python3
"""Writes a variant of models/sface_2021dec_int8bq.onnx whose 27 PRelu nodes are replaced by the
equivalent Relu(x) - slope * Relu(-x), for the benchmark in docs/BENCHMARKS.md. Weights, int8
block quantisation and every other node are unchanged, so the file stays about 10.7 MB.

ONNX Runtime 1.32's CPU PRelu with a [C,1,1] slope is slow (about half of SFace's run time in
its profiler); the rewritten graph gives the same vectors (max abs difference 0 on random input,
checked by `--check`).

  .venv-tools/bin/python scripts/bench_sface_relu.py models/sface_2021dec_int8bq.onnx OUT.onnx [--check]

Needs the `onnx` package (pinned 1.23.2 in .venv-tools, see scripts/fetch_models.sh); `--check`
also needs onnxruntime + numpy.
"""

import sys

import onnx
import onnx.helper as h


def rewrite(src: str, dst: str) -> int:
    model = onnx.load(src)
    nodes, count = [], 0
    for n in model.graph.node:
        if n.op_type != "PRelu":
            nodes.append(n)
            continue
        count += 1
        x, slope = n.input
        y = n.output[0]
        p = (n.name or y) + "_prelu"
        nodes += [
            h.make_node("Relu", [x], [p + "_pos"], name=p + "_relu_pos"),
            h.make_node("Neg", [x], [p + "_negx"], name=p + "_neg"),
            h.make_node("Relu", [p + "_negx"], [p + "_negr"], name=p + "_relu_neg"),
            h.make_node("Mul", [p + "_negr", slope], [p + "_negs"], name=p + "_mul"),
            h.make_node("Sub", [p + "_pos", p + "_negs"], [y], name=p + "_sub"),
        ]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    return count


def check(src: str, dst: str) -> None:
    import numpy as np
    import onnxruntime as ort

    x = np.random.default_rng(0).uniform(0, 255, (4, 3, 112, 112)).astype(np.float32)
    outs = []
    for path in (src, dst):
        so = ort.SessionOptions()
        so.add_session_config_entry("session.disable_quant_qdq", "1")
        s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        outs.append(s.run(None, {s.get_inputs()[0].name: x})[0])
    print(f"max abs difference: {float(np.abs(outs[0] - outs[1]).max()):.3g}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    n = rewrite(sys.argv[1], sys.argv[2])
    print(f"replaced {n} PRelu nodes -> {sys.argv[2]}")
    if "--check" in sys.argv[3:]:
        check(sys.argv[1], sys.argv[2])
