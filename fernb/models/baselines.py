"""The baselines of HAFEM's Table 3 that exist as architectures, with HAFEM's head and input handling.

Each is a timm model without its classifier (timm's own pooling: average for CNNs, the
class token for ViT, average for Swin) followed by the head HAFEM uses — dropout, then a
linear layer — so "HAFEM vs baseline" compares backbones and attention, not heads. The
pooled vector is the embedding, so the compound loss works with every baseline too.

Rows of Table 3 that name a method rather than an architecture (VGGFace2 transfer
learning, CNN+LSTM, GAN augmentation, cross-attention, dual-path CNN) have no published
definition to rebuild; :data:`BASELINE_MODELS` maps them to ``None``. The paper's numbers
for every row are :data:`fernb.papers.hafem.TABLE3`.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from .backbones import create_backbone, data_config, stage_groups
from .common import FERModel, InputAdapter

# HAFEM's Table 3 row -> the fernb model that rebuilds it (None: a method, no published
# architecture). The paper's numbers for each row are fernb.papers.hafem.TABLE3.
BASELINE_MODELS: dict[str, str | None] = {
    "ResNet-50": "resnet50",
    "VGGFace2 TL": None,
    "CNN+LSTM": None,
    "GAN-Aug": None,
    "ViT-Base": "vit_base_16",
    "EfficientNet-B4": "efficientnet_b4",
    "Swin-T": "swin_tiny",
    "Cross-Attn": None,
    "DualPath CNN": None,
    "HAFEM": "hafem",
}

# fernb name -> timm architecture
TIMM_NAMES = {
    "resnet50": "resnet50",
    "efficientnet_b4": "efficientnet_b4",
    "vit_base_16": "vit_base_patch16_224",
    "swin_tiny": "swin_tiny_patch4_window7_224",
}


class TimmClassifier(FERModel):
    """A timm architecture with fernb's input adapter and HAFEM's head.

    ``img_size`` defaults to 224 (HAFEM's crop size) for every baseline; ViT and Swin are
    built at that size (their position tables and windows depend on it), CNNs take any.
    """

    def __init__(self, architecture: str, num_classes: int = 7, in_chans: int = 3, img_size: int = 224,
                 pretrained: bool | str | os.PathLike = False, head_dropout: float = 0.2,
                 drop_path_rate: float = 0.0):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        cfg = data_config(architecture, pretrained)   # shipped weights bring their own input statistics
        self.architecture = architecture
        self.num_classes, self.in_chans, self.input_size = num_classes, in_chans, (img_size, img_size)
        self.adapter = InputAdapter(in_chans, 3, img_size, cfg["mean"], cfg["std"])
        kwargs = dict(drop_path_rate=drop_path_rate)
        if cfg["fixed_input_size"]:
            kwargs["img_size"] = img_size
        self.backbone, self.weights_source = create_backbone(architecture, pretrained, **kwargs)
        self.embed_dim = self.backbone.num_features
        self.head_drop = nn.Dropout(head_dropout)
        self.head = nn.Linear(self.embed_dim, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.adapter(x))  # timm pools when num_classes=0

    def components(self) -> dict[str, list[nn.Module]]:
        return {"backbone": [self.backbone], "head": [self.head]}

    def layer_groups(self) -> list[tuple[str, list[str]]]:
        """Stem → stages → head, the backbone grouped by timm's ``group_matcher(coarse=True)``."""
        return stage_groups(self.backbone) + [("head", [n for n, _ in self.head.named_parameters(prefix="head")])]

    def extra_repr(self) -> str:
        return f"architecture={self.architecture} ({self.weights_source})"
