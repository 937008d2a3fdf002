"""HAFEM: a timm backbone, CBAM, and a Transformer encoder over the backbone's tokens.

Chatterjee, "HAFEM: Hybrid attention-driven facial expression mapping for real-time
multi-class emotion recognition in unconstrained environments", JAIMLNN 6(1), 2026.
No code was published, and the text contradicts itself; every disputed choice is a
constructor argument (:data:`fernb.papers.hafem.DISPUTED` lists them and
names the argument that turns each one, and :mod:`fernb.papers.hafem` holds the paper's claims):

- backbone: EfficientNet-B5 (§3.2), any timm name (ResNet-50 for the ablation ladder);
- CBAM (Woo et al., ECCV 2018; §3.3): reduction 16, on the final 2048×7×7 map by default,
  or after every backbone stage (``cbam_placement="stages"``);
- Transformer (§3.4): the 7×7 map becomes 49 tokens with learnable positional
  embeddings; pre-norm encoder, 8 heads, d_ff 4096 at d_model 2048. **One layer** by
  default: it is the only count consistent with the paper's "31.2M overhead"
  (one layer ≈ 33.6M, six ≈ 201.5M, see :func:`transformer_parameters`);
- head: mean of the output tokens → dropout → linear; the pooled vector is the
  embedding of the center loss (``pool="cls"`` for a class token instead).

``forward`` returns :class:`~fernb.models.common.FEROutput` ``(logits, embedding)``.
"""
from __future__ import annotations

import os

import torch
from timm.layers import trunc_normal_
from timm.layers.cbam import CbamModule
from torch import nn

from .backbones import create_backbone, data_config, stage_groups
from .common import FERModel, InputAdapter


def transformer_parameters(d_model: int, d_ff: int, num_layers: int, tokens: int = 49,
                           in_channels: int | None = None, cls_token: bool = False) -> int:
    """Closed-form parameter count of HAFEM's token encoder (positional embeddings included).

    One PyTorch ``TransformerEncoderLayer``: attention in/out projections 4d² + 4d, the
    feed-forward pair 2·d·d_ff + d_ff + d, two LayerNorms 4d — in all 4d² + 2·d·d_ff + 9d + d_ff.
    Plus the final LayerNorm of the pre-norm stack (2d), the positional embeddings
    (tokens·d, one more position for a class token), the class token itself (d) and the input
    projection (C·d + d) when C ≠ d.
    """
    d = d_model
    per_layer = 4 * d * d + 2 * d * d_ff + 9 * d + d_ff
    total = num_layers * per_layer + 2 * d + (tokens + 2 * int(cls_token)) * d
    if in_channels is not None and in_channels != d:
        total += in_channels * d + d
    return total


class StageWithCbam(nn.Module):
    """A backbone stage followed by CBAM (``cbam_placement="stages"``)."""

    def __init__(self, stage: nn.Module, cbam: nn.Module):
        super().__init__()
        self.stage, self.cbam = stage, cbam

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cbam(self.stage(x))


class HAFEM(FERModel):
    """HAFEM with every paper knob as an argument (module docstring; defaults = the workbook's).

    ``in_chans`` is the data's channel count: a grayscale batch is replicated to the
    backbone's three channels by :class:`~fernb.models.common.InputAdapter`, which also
    resizes to ``img_size`` and applies the backbone's mean/std.
    """

    def __init__(self, num_classes: int = 7, in_chans: int = 3, img_size: int = 224,
                 backbone: str = "efficientnet_b5", pretrained: bool | str | os.PathLike = False,
                 use_cbam: bool = True, cbam_placement: str = "final", cbam_reduction: int = 16,
                 use_transformer: bool = True, num_layers: int = 1, d_model: int | None = None,
                 num_heads: int = 8, d_ff: int | None = None, transformer_dropout: float = 0.1,
                 pool: str = "mean", head_dropout: float = 0.2, drop_path_rate: float = 0.0):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if cbam_placement not in ("final", "stages"):
            raise ValueError(f"cbam_placement must be 'final' or 'stages', got {cbam_placement!r}")
        if pool not in ("mean", "cls"):
            raise ValueError(f"pool must be 'mean' or 'cls', got {pool!r}")
        if pool == "cls" and not use_transformer:
            raise ValueError("pool='cls' needs the Transformer (use_transformer=True)")
        if use_transformer and num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        self.num_classes, self.in_chans, self.input_size = num_classes, in_chans, (img_size, img_size)
        self.backbone_name, self.use_cbam, self.cbam_placement = backbone, use_cbam, cbam_placement
        self.use_transformer, self.pool = use_transformer, pool

        cfg = data_config(backbone, pretrained)   # shipped weights bring their own input statistics
        self.adapter = InputAdapter(in_chans, 3, img_size, cfg["mean"], cfg["std"], interpolation="bilinear")
        self.backbone, self.weights_source = create_backbone(
            backbone, pretrained, global_pool="", drop_path_rate=drop_path_rate)
        channels = self.backbone.num_features

        # CBAM on the final map (default) or after every stage timm reports in feature_info.
        self.cbam = CbamModule(channels, rd_ratio=1 / cbam_reduction) if use_cbam and cbam_placement == "final" else None
        if use_cbam and cbam_placement == "stages":
            self._insert_stage_cbam(cbam_reduction)

        grid = self._feature_grid(img_size)
        self.grid, self.tokens = grid, grid[0] * grid[1]
        if use_transformer:
            d_model = d_model or channels
            d_ff = d_ff or 2 * d_model  # the paper's 4096 at d_model 2048
            if d_model % num_heads:
                raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
            self.proj = nn.Linear(channels, d_model) if d_model != channels else nn.Identity()
            self.cls_token = nn.Parameter(torch.zeros(1, 1, d_model)) if pool == "cls" else None
            self.pos_embed = nn.Parameter(torch.zeros(1, self.tokens + int(pool == "cls"), d_model))
            layer = nn.TransformerEncoderLayer(d_model, num_heads, d_ff, transformer_dropout, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model),
                                                 enable_nested_tensor=False)
            trunc_normal_(self.pos_embed, std=0.02)
            if self.cls_token is not None:
                trunc_normal_(self.cls_token, std=0.02)
            self.embed_dim = d_model
        else:
            self.proj = self.cls_token = self.pos_embed = self.encoder = None
            self.embed_dim = channels
        self.num_layers = num_layers if use_transformer else 0
        self.head_drop = nn.Dropout(head_dropout)
        self.head = nn.Linear(self.embed_dim, num_classes)

    def _insert_stage_cbam(self, reduction: int) -> None:
        for info in self.backbone.feature_info:
            name = info["module"]
            stage = self.backbone.get_submodule(name)
            if not any(True for _ in stage.parameters()):  # ResNet's stem activation is not a stage
                continue
            parent_name, _, child = name.rpartition(".")
            parent = self.backbone.get_submodule(parent_name) if parent_name else self.backbone
            setattr(parent, child, StageWithCbam(stage, CbamModule(info["num_chs"], rd_ratio=1 / reduction)))

    @torch.no_grad()
    def _feature_grid(self, img_size: int) -> tuple[int, int]:
        was_training = self.backbone.training
        self.backbone.eval()
        probe = torch.zeros(1, 3, img_size, img_size, device=next(self.backbone.parameters()).device)
        shape = self.backbone(probe).shape
        self.backbone.train(was_training)
        return int(shape[-2]), int(shape[-1])

    # -- forward (the timm split) -------------------------------------------------------------
    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone → CBAM → (N, tokens, channels)."""
        f = self.backbone(self.adapter(x))  # no classifier, no pooling: the (N, C, h, w) map
        if self.cbam is not None:
            f = self.cbam(f)
        return f.flatten(2).transpose(1, 2)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled embedding (N, embed_dim): the center loss's feature."""
        t = self.forward_tokens(x)
        if not self.use_transformer:
            return t.mean(1)
        t = self.proj(t)
        if self.cls_token is not None:
            t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], 1)
        t = self.encoder(t + self.pos_embed)
        return t[:, 0] if self.pool == "cls" else t.mean(1)

    # -- what the model card and the optimiser need -------------------------------------------
    def components(self) -> dict[str, list[nn.Module]]:
        cbam = [self.cbam] if self.cbam is not None else [m for m in self.backbone.modules() if isinstance(m, CbamModule)]
        transformer = [m for m in (self.proj, self.encoder) if m is not None]
        return {"backbone": [self.backbone], "cbam": cbam, "transformer": transformer, "head": [self.head]}

    def component_parameters(self) -> dict[str, list[nn.Parameter]]:
        """Loose parameters (not inside a module) and the component they belong to."""
        return {"transformer": [p for p in (self.pos_embed, self.cls_token) if p is not None]}

    def layer_groups(self) -> list[tuple[str, list[str]]]:
        """Parameter names grouped from stem to head, for layer-wise learning-rate decay.

        The backbone is grouped by stage with timm's own ``group_matcher(coarse=True)``
        (stem, each stage, the final 1×1 conv); then CBAM, the token projection and
        positions, each encoder layer, and the head (final norm + classifier).
        """
        groups = stage_groups(self.backbone)
        named = dict(self.named_parameters())

        def under(prefix: str) -> list[str]:
            return [n for n in named if n == prefix or n.startswith(prefix + ".")]

        if self.cbam is not None:
            groups.append(("cbam", under("cbam")))
        if self.use_transformer:
            groups.append(("tokens", under("proj") + under("pos_embed") + under("cls_token")))
            for i in range(self.num_layers):
                groups.append((f"encoder.{i}", under(f"encoder.layers.{i}")))
        groups.append(("head", under("encoder.norm") + under("head")))
        return [(name, names) for name, names in groups if names]

    def extra_repr(self) -> str:
        cbam = f"CBAM r=16 on the {'final map' if self.cbam_placement == 'final' else 'output of every stage'}" \
            if self.use_cbam else "no CBAM"
        tr = f"{self.num_layers}-layer Transformer over {self.grid[0]}×{self.grid[1]} tokens, d_model {self.embed_dim}" \
            if self.use_transformer else "no Transformer (mean of the backbone's map)"
        return f"backbone={self.backbone_name} ({self.weights_source}), {cbam}, {tr}, pool={self.pool}"
