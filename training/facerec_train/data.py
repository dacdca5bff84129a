"""Datasets from `facerec crops` manifests: identity splits, augmentation, P x K batches and
fixed verification pairs for validation."""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler
from torchvision.transforms import v2

CROP_SIZE = 112


@dataclass(frozen=True)
class Sample:
    identity: str
    path: Path


def read_manifest(path: Path, max_identities: int = 0, min_per_identity: int = 1) -> list[Sample]:
    """Rows of a `facerec crops` manifest.csv (crop paths are relative to its folder)."""
    by_id: dict[str, list[Sample]] = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            by_id[row["identity"]].append(Sample(row["identity"], path.parent / row["crop"]))
    ids = sorted(i for i, s in by_id.items() if len(s) >= min_per_identity)
    if max_identities > 0:
        ids = ids[:max_identities]
    return [s for i in ids for s in by_id[i]]


def split_identities(samples: Sequence[Sample], val_fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Splits by identity (no person in both parts), reproducibly."""
    ids = sorted({s.identity for s in samples})
    rng = random.Random(seed)
    rng.shuffle(ids)
    n_val = max(1, round(len(ids) * val_fraction)) if val_fraction > 0 else 0
    val_ids = set(ids[:n_val])
    return [s for s in samples if s.identity not in val_ids], [s for s in samples if s.identity in val_ids]


def load_images(samples: Sequence[Sample]) -> torch.Tensor:
    """All crops as one uint8 tensor [N, 3, 112, 112] (RGB), kept in memory."""
    out = torch.empty((len(samples), 3, CROP_SIZE, CROP_SIZE), dtype=torch.uint8)
    for i, s in enumerate(samples):
        with Image.open(s.path) as im:
            a = np.asarray(im.convert("RGB").resize((CROP_SIZE, CROP_SIZE)))
        out[i] = torch.from_numpy(a.copy()).permute(2, 0, 1)
    return out


class RandomDownscale(torch.nn.Module):
    """Down-scales to a random side in [min_side, 112] and back up: a far-away, low-resolution
    face as the robot's camera sees it."""

    def __init__(self, p: float = 0.3, min_side: int = 24) -> None:
        super().__init__()
        self.p, self.min_side = p, min_side

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if random.random() >= self.p:
            return img
        side = random.randint(self.min_side, CROP_SIZE)
        small = v2.functional.resize(img, [side, side], antialias=True)
        return v2.functional.resize(small, [CROP_SIZE, CROP_SIZE], antialias=False)


def train_transform() -> v2.Compose:
    """Flip, crop jitter (small shifts, scale, rotation), colour, blur and down-scaling."""
    return v2.Compose(
        [
            v2.RandomHorizontalFlip(),
            v2.RandomAffine(degrees=8, translate=(0.06, 0.06), scale=(0.92, 1.08)),
            v2.RandomApply([v2.ColorJitter(0.3, 0.3, 0.3, 0.03)], p=0.8),
            v2.RandomGrayscale(p=0.05),
            v2.RandomApply([v2.GaussianBlur(5, sigma=(0.1, 1.5))], p=0.2),
            RandomDownscale(p=0.3),
        ]
    )


class CropDataset(Dataset):
    """Crops with integer labels; returns (float RGB 0..255 [3,112,112], label)."""

    def __init__(self, samples: Sequence[Sample], augment: bool) -> None:
        self.samples = list(samples)
        self.identities = sorted({s.identity for s in self.samples})
        index = {name: i for i, name in enumerate(self.identities)}
        self.labels = torch.tensor([index[s.identity] for s in self.samples], dtype=torch.long)
        self.images = load_images(self.samples)
        self.transform = train_transform() if augment else None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.images[i]
        if self.transform is not None:
            img = self.transform(img)
        return img.float(), self.labels[i]


class PKSampler(Sampler[list[int]]):
    """Batches of P identities with K photos each (online mining needs several photos of each
    person in a batch); identities with fewer than 2 photos are never drawn as anchors."""

    def __init__(self, labels: torch.Tensor, p: int, k: int, seed: int) -> None:
        self.by_label: dict[int, list[int]] = defaultdict(list)
        for i, label in enumerate(labels.tolist()):
            self.by_label[label].append(i)
        self.usable = sorted(label for label, idx in self.by_label.items() if len(idx) >= 2)
        if len(self.usable) < 2:
            raise ValueError("PK batches need at least 2 identities with 2 or more photos")
        self.p, self.k = min(p, len(self.usable)), k
        self.n_batches = max(1, len(labels) // (self.p * self.k))
        self.seed, self.epoch = seed, 0

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self) -> Iterator[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        self.epoch += 1
        for _ in range(self.n_batches):
            batch: list[int] = []
            for label in rng.sample(self.usable, self.p):
                idx = self.by_label[label]
                batch.extend(rng.sample(idx, self.k) if len(idx) >= self.k else rng.choices(idx, k=self.k))
            yield batch


def verification_pairs(labels: Sequence[int], max_pairs: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed balanced pairs for validation: (index pairs [M, 2], same [M] bool), half same-person
    pairs and as many different-person pairs, drawn reproducibly."""
    rng = random.Random(seed)
    by_label: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    same = [(a, b) for idx in by_label.values() for j, a in enumerate(idx) for b in idx[j + 1 :]]
    rng.shuffle(same)
    same = same[: max_pairs // 2]
    n = len(labels)
    diff: set[tuple[int, int]] = set()
    tries = 0
    while len(diff) < len(same) and tries < 100 * max(1, len(same)):
        a, b = rng.randrange(n), rng.randrange(n)
        tries += 1
        if labels[a] != labels[b]:
            diff.add((min(a, b), max(a, b)))
    pairs = same + sorted(diff)
    flags = [True] * len(same) + [False] * len(diff)
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2), torch.tensor(flags, dtype=torch.bool)
