"""Stage 1 (identity classifier, cross-entropy) and stage 2 (64-d embedding, contrastive or
triplet loss) with PyTorch Lightning: checkpoints every N steps and each epoch, resumable,
validation every epoch on held-out identities (pair accuracy / F1 / ROC AUC), a JSON-lines
history and a plot of the curves.

    python -m facerec_train.train stage1 --manifest crops/manifest.csv --out runs/x
    python -m facerec_train.train stage2 --out runs/x --loss triplet --mining semihard
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from . import data as D
from .losses import contrastive_loss, triplet_loss
from .metrics import verification
from .model import Backbone, Classifier, Embedder


class History(pl.Callback):
    """Appends one JSON line per epoch (train loss, validation metrics, lr, time) to a file that
    survives resumed runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.t0 = time.monotonic()

    def write(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        m = {k: float(v) for k, v in trainer.callback_metrics.items()}
        record = {
                "epoch": trainer.current_epoch + 1,
                "step": trainer.global_step,
                "train_loss": m.get("train_loss_epoch", m.get("train_loss")),
                "val_acc": m.get("val_acc"),
                "val_f1": m.get("val_f1"),
                "val_auc": m.get("val_auc"),
                "val_threshold": m.get("val_threshold"),
                "lr": trainer.optimizers[0].param_groups[0]["lr"],
                "seconds": round(time.monotonic() - self.t0, 1),
        }
        self.write(record)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in record.items() if isinstance(v, float) and k != "lr")
        print(f"epoch {record['epoch']} (step {record['step']}): {shown}", file=sys.stderr, flush=True)


class LastCheckpoint(pl.Callback):
    """`last.ckpt`, replaced atomically every N training steps and at the end of every epoch
    (after validation), so a run stopped at any moment resumes from at most N steps back."""

    def __init__(self, path: Path, every_n_steps: int) -> None:
        self.path, self.every = path, max(1, every_n_steps)

    def save(self, trainer: pl.Trainer) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        trainer.save_checkpoint(str(tmp))
        os.replace(tmp, self.path)

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, *args: Any) -> None:
        if trainer.global_step % self.every == 0:
            self.save(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.save(trainer)


class Stage(pl.LightningModule):
    """Shared: optimiser with warm-up + cosine decay, pair-verification validation."""

    def __init__(self, lr: float, weight_decay: float, total_steps: int, val_pairs: torch.Tensor, val_same: torch.Tensor) -> None:
        super().__init__()
        self.lr, self.weight_decay, self.total_steps = lr, weight_decay, max(1, total_steps)
        self.register_buffer("val_pairs", val_pairs, persistent=False)
        self.register_buffer("val_same", val_same, persistent=False)
        self._val_vectors: list[torch.Tensor] = []

    def embed_for_validation(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, _ = batch
        self._val_vectors.append(self.embed_for_validation(x).detach().float())

    def on_validation_epoch_end(self) -> None:
        if not self._val_vectors:
            return
        e = torch.cat(self._val_vectors)
        self._val_vectors = []
        if len(self.val_pairs) == 0:
            return
        scores = (e[self.val_pairs[:, 0]] * e[self.val_pairs[:, 1]]).sum(1)
        m = verification(scores, self.val_same)
        self.log_dict({f"val_{k}": v for k, v in m.items()}, prog_bar=True)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        warmup = max(1, min(200, self.total_steps // 10))

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            t = (step - warmup) / max(1, self.total_steps - warmup)
            return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class ClassifierStage(Stage):
    def __init__(self, num_classes: int, input_size: int, label_smoothing: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.save_hyperparameters(ignore=["val_pairs", "val_same"])
        self.model = Classifier(Backbone(input_size, pretrained=True), num_classes)
        self.label_smoothing = label_smoothing

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self.model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=self.label_smoothing)
        acc = (logits.argmax(1) == y).float().mean()
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True)
        self.log("train_top1", acc, prog_bar=True, on_step=False, on_epoch=True)
        return loss

    def embed_for_validation(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.features(x)


class EmbeddingStage(Stage):
    def __init__(self, input_size: int, dim: int, loss: str, mining: str, margin: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.save_hyperparameters(ignore=["val_pairs", "val_same"])
        self.model = Embedder(Backbone(input_size, pretrained=False), dim)
        self.loss_name, self.mining, self.margin = loss, mining, margin

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        e = self.model(x)
        if self.loss_name == "contrastive":
            loss = contrastive_loss(e, y, self.margin)
        else:
            loss = triplet_loss(e, y, self.margin, self.mining)
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True)
        return loss

    def embed_for_validation(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def plot_history(history: Path, png: Path, title: str) -> None:
    """Training loss and validation accuracy / F1 / AUC per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in history.read_text().splitlines() if line.strip()]
    if not rows:
        return
    ep = [r["epoch"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(ep, [r["train_loss"] for r in rows], "o-", label="train loss")
    a.set_xlabel("epoch")
    a.set_title(f"{title}: training loss")
    a.legend()
    for key in ("val_acc", "val_f1", "val_auc"):
        b.plot(ep, [r[key] for r in rows], "o-", label=key)
    b.set_xlabel("epoch")
    b.set_title("held-out identities: pairs")
    b.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def load_data(args: argparse.Namespace) -> tuple[D.CropDataset, D.CropDataset, torch.Tensor, torch.Tensor, dict[str, Any]]:
    samples: list[D.Sample] = []
    for m in args.manifest:
        samples += D.read_manifest(Path(m), args.max_identities)
    if args.val_manifest:
        train_s = samples
        val_s = D.read_manifest(Path(args.val_manifest), args.val_max_identities, min_per_identity=2)
    else:
        train_s, val_s = D.split_identities(samples, args.val_fraction, args.seed)
    if args.val_max_per_identity > 0:
        kept: dict[str, int] = {}
        trimmed = []
        for s in val_s:
            if kept.get(s.identity, 0) < args.val_max_per_identity:
                kept[s.identity] = kept.get(s.identity, 0) + 1
                trimmed.append(s)
        val_s = trimmed
    if not train_s or not val_s:
        raise SystemExit("need training and validation crops (check --manifest / --val-manifest / --val-fraction)")
    train = D.CropDataset(train_s, augment=True)
    val = D.CropDataset(val_s, augment=False)
    pairs, same = D.verification_pairs(val.labels.tolist(), args.val_pairs, args.seed)
    info = {
        "train_manifests": [str(m) for m in args.manifest],
        "val_source": args.val_manifest or f"{args.val_fraction:.0%} of the training identities (seed {args.seed})",
        "train_identities": len(train.identities),
        "train_crops": len(train),
        "val_identities": len(val.identities),
        "val_crops": len(val),
        "val_pairs_same": int(same.sum()),
        "val_pairs_different": int((~same).sum()),
    }
    return train, val, pairs, same, info


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    pl.seed_everything(args.seed, workers=True)
    out = Path(args.out) / args.stage
    ckpt_dir = out / "checkpoints"
    t_start = time.monotonic()
    train, val, pairs, same, info = load_data(args)
    print(
        f"{args.stage}: {info['train_crops']} crops of {info['train_identities']} identities for training, "
        f"{info['val_crops']} crops of {info['val_identities']} held-out identities for validation "
        f"({len(same)} pairs)",
        file=sys.stderr,
    )
    if args.stage == "stage1":
        loader = DataLoader(
            train, batch_size=args.batch_size, shuffle=True, drop_last=len(train) >= 2 * args.batch_size,
            num_workers=args.workers, persistent_workers=args.workers > 0,
        )
    else:
        sampler = D.PKSampler(train.labels, args.p, args.k, args.seed)
        loader = DataLoader(train, batch_sampler=sampler, num_workers=args.workers, persistent_workers=args.workers > 0)
    val_loader = DataLoader(val, batch_size=128, shuffle=False, num_workers=0)
    steps_per_epoch = len(loader) if args.max_steps_per_epoch <= 0 else min(len(loader), args.max_steps_per_epoch)
    total = steps_per_epoch * args.epochs
    common = dict(lr=args.lr, weight_decay=args.weight_decay, total_steps=total, val_pairs=pairs, val_same=same)
    if args.stage == "stage1":
        module: Stage = ClassifierStage(
            num_classes=len(train.identities), input_size=args.input_size, label_smoothing=0.1, **common
        )
    else:
        module = EmbeddingStage(
            input_size=args.input_size, dim=args.dim, loss=args.loss, mining=args.mining, margin=args.margin, **common
        )
    last = ckpt_dir / "last.ckpt"
    resume = last if (args.resume and last.exists()) else None
    if args.stage == "stage2" and resume is None:
        init = Path(args.init) if args.init else Path(args.out) / "stage1" / "checkpoints" / "last.ckpt"
        state = torch.load(init, map_location="cpu", weights_only=False)["state_dict"]
        backbone = {k.removeprefix("model.backbone."): v for k, v in state.items() if k.startswith("model.backbone.")}
        if not backbone:
            raise SystemExit(f"{init}: no stage-1 backbone weights")
        module.model.backbone.load_state_dict(backbone)
        info["initialised_from"] = str(init)
        s1 = Path(args.out) / "stage1" / "summary.json"
        if s1.exists() and json.loads(s1.read_text()).get("input_size") != args.input_size:
            raise SystemExit("stage 2 must use stage 1's --input-size")
    hist_path = out / "history.jsonl"
    if resume is None:
        # A fresh run starts a fresh history.
        hist_path.unlink(missing_ok=True)
    elif hist_path.exists():
        # Drop epochs recorded after the checkpoint (they are trained again).
        step = int(torch.load(resume, map_location="cpu", weights_only=False)["global_step"])
        rows = [l for l in hist_path.read_text().splitlines() if l.strip() and json.loads(l)["step"] <= step]
        hist_path.write_text("".join(r + "\n" for r in rows))
    history = History(hist_path)
    callbacks = [
        ModelCheckpoint(
            dirpath=ckpt_dir, filename="best", monitor="val_acc", mode="max", save_top_k=1, enable_version_counter=False
        ),
        history,
        LastCheckpoint(last, args.ckpt_every),
    ]
    trainer = pl.Trainer(
        max_epochs=args.epochs,
        limit_train_batches=steps_per_epoch,
        accelerator="auto",
        devices=1,
        precision=args.precision,
        callbacks=callbacks,
        logger=False,
        num_sanity_val_steps=0,
        log_every_n_steps=10,
        enable_progress_bar=sys.stderr.isatty(),
        deterministic=False,
        default_root_dir=str(out),
    )
    baseline = None
    if resume is None:
        # Validation before any training: ImageNet features (stage 1) or stage 1's (stage 2).
        baseline = {k.removeprefix("val_"): v for k, v in trainer.validate(module, val_loader, verbose=False)[0].items()}
        history.write({"epoch": 0, "step": 0, "train_loss": None, **{f"val_{k}": v for k, v in baseline.items()}})
    t_fit = time.monotonic()
    trainer.fit(module, loader, val_loader, ckpt_path=str(resume) if resume else None)
    fit_seconds = time.monotonic() - t_fit
    rows = [json.loads(l) for l in (out / "history.jsonl").read_text().splitlines() if l.strip()]
    plot_history(out / "history.jsonl", out / "curves.png", args.stage)
    final = rows[-1] if rows else {}
    trained = [r for r in rows if r.get("epoch", 0) > 0 and r.get("val_acc") is not None]
    best = max(trained, key=lambda r: r["val_acc"], default={})
    before = next((r for r in rows if r.get("epoch") == 0), None)
    if before is not None:
        baseline = {k.removeprefix("val_"): v for k, v in before.items() if k.startswith("val_")}
    previous = out / "summary.json"
    if resume is not None and previous.exists():
        # Time of the run(s) before the stop counts too.
        fit_seconds += float(json.loads(previous.read_text()).get("fit_seconds", 0.0))
    summary = {
        "stage": args.stage,
        "loss": "cross-entropy (label smoothing 0.1)" if args.stage == "stage1" else args.loss,
        "mining": args.mining if args.stage == "stage2" and args.loss == "triplet" else None,
        "margin": args.margin if args.stage == "stage2" else None,
        "epochs": args.epochs,
        "steps": trainer.global_step,
        "batch": args.batch_size if args.stage == "stage1" else f"{args.p} identities x {args.k} photos",
        "lr": args.lr,
        "input_size": args.input_size,
        "dim": args.dim if args.stage == "stage2" else None,
        "device": str(module.device),
        "threads": args.threads,
        "fit_seconds": round(fit_seconds, 1),
        "total_seconds": round(time.monotonic() - t_start, 1),
        "resumed_from": str(resume) if resume else None,
        "baseline": baseline,
        "final": final,
        "best": best,
        **info,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({"stage": args.stage, "final": final, "fit_seconds": summary["fit_seconds"]}), file=sys.stderr)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="facerec_train.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=["stage1", "stage2"])
    p.add_argument("--manifest", action="append", default=[], help="facerec crops manifest.csv (repeatable)")
    p.add_argument("--val-manifest", help="held-out identities' manifest (default: split --val-fraction off)")
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--val-max-identities", type=int, default=0)
    p.add_argument("--val-max-per-identity", type=int, default=0)
    p.add_argument("--val-pairs", type=int, default=2000, help="validation pairs, half same-person")
    p.add_argument("--max-identities", type=int, default=0, help="use only the first N training identities")
    p.add_argument("--out", required=True, help="run folder: stage1/ and stage2/ go under it")
    p.add_argument("--init", help="stage 2: stage-1 checkpoint (default OUT/stage1/checkpoints/last.ckpt)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/<stage>/checkpoints/last.ckpt")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--max-steps-per-epoch", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--p", type=int, default=16, help="stage 2: identities per batch")
    p.add_argument("--k", type=int, default=4, help="stage 2: photos per identity per batch")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--input-size", type=int, default=112, help="network input side (resized inside the model)")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--loss", choices=["contrastive", "triplet"], default="contrastive")
    p.add_argument("--mining", choices=["hard", "semihard"], default="semihard")
    p.add_argument("--margin", type=float, default=None, help="default 1.0 contrastive, 0.2 triplet")
    p.add_argument("--ckpt-every", type=int, default=50, help="also checkpoint every N steps")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--precision", default="32-true")
    p.add_argument("--seed", type=int, default=12)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if not args.manifest:
        raise SystemExit("--manifest is required")
    if args.lr is None:
        args.lr = 1e-3 if args.stage == "stage1" else 3e-4
    if args.margin is None:
        args.margin = 1.0 if args.loss == "contrastive" else 0.2
    run(args)


if __name__ == "__main__":
    main()
