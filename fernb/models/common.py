"""What every fernb model shares: its output, its input handling, its Keras-style initialisation.

Every model the factory builds (:func:`fernb.models.create_model`) follows one contract, so
the trainer, the losses and the benchmark never special-case a network:

- ``model(x)`` returns :class:`FEROutput` ``(logits, embedding)``; the embedding is the
  vector the center loss pulls towards its class centre (HAFEM's pooled token, LANMSFF's
  156-d fused vector, a baseline's pooled features);
- ``model.forward_features(x)`` gives the embedding, ``model.forward_head(e)`` the logits
  (the timm split);
- ``model.adapter`` is an :class:`InputAdapter`: whatever the data stage stores (1-channel
  48×48 FER2013, 3-channel 224×224 RAF-DB crops, ``uint8`` or ``float``) is turned into
  what the network expects *inside* the model, on the training device;
- ``model.components()`` names the parts a model card breaks parameters and FLOPs down by.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

# ITU-R BT.601 luma, the weights OpenCV's cvtColor(BGR2GRAY) uses.
LUMA = (0.299, 0.587, 0.114)


class FEROutput(NamedTuple):
    """What a fernb model returns: class logits (N, K) and the embedding (N, D)."""

    logits: torch.Tensor
    embedding: torch.Tensor


class FERModel(nn.Module):
    """The contract's forward: ``FEROutput(forward_head(e), e)`` with ``e = forward_features(x)``.

    Subclasses define ``forward_features``, a ``head`` and a ``head_drop`` (dropout before
    the classifier, ``nn.Identity`` where the paper has none).
    """

    def forward_head(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.head(self.head_drop(embedding))

    def forward(self, x: torch.Tensor) -> FEROutput:
        e = self.forward_features(x)
        return FEROutput(self.forward_head(e), e)


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    h, w = size
    return (int(h), int(w))


class InputAdapter(nn.Module):
    """The one place that decides how a batch of face crops reaches a network.

    - ``uint8`` input is scaled to [0, 1] (a float batch is taken to be in [0, 1] already:
      the prepared store's images divided by 255, i.e. min-max scaling over the pixel range);
    - channels: a grayscale batch is replicated to 3 channels for a 3-channel network (the
      channel count ImageNet weights expect); a colour batch meets a 1-channel network as
      its BT.601 luma;
    - size: resized to the network's ``size`` (bilinear; antialiased when shrinking),
      so 48×48 FER2013 reaches EfficientNet at 224×224 and LANMSFF at 64×64;
    - normalisation: ``(x − mean) / std`` per channel when given (ImageNet statistics for
      timm backbones), else left in [0, 1] (LANMSFF).

    It has no parameters, and its constants are not saved in ``state_dict``.
    """

    def __init__(self, in_chans: int, model_chans: int, size: int | Sequence[int],
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 interpolation: str = "bilinear"):
        super().__init__()
        if in_chans not in (1, 3) or model_chans not in (1, 3):
            raise ValueError(f"InputAdapter handles 1- or 3-channel images, got in_chans={in_chans}, "
                             f"model_chans={model_chans}")
        self.in_chans, self.model_chans = in_chans, model_chans
        self.size = _pair(size)
        self.interpolation = interpolation
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1), persistent=False)
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither")
        self.normalize = mean is not None
        if self.normalize:
            if len(mean) != model_chans or len(std) != model_chans:
                raise ValueError(f"mean/std need {model_chans} values, got {list(mean)}, {list(std)}")
            self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"expected a batch (N, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_chans:
            raise ValueError(f"this model was built for {self.in_chans}-channel input, got {x.shape[1]} "
                             f"channels (shape {tuple(x.shape)})")
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        if self.in_chans == 1 and self.model_chans == 3:
            x = x.expand(-1, 3, -1, -1)
        elif self.in_chans == 3 and self.model_chans == 1:
            x = (x * self.luma.to(x.dtype)).sum(1, keepdim=True)
        if tuple(x.shape[-2:]) != self.size:
            shrinking = x.shape[-2] > self.size[0] or x.shape[-1] > self.size[1]
            smooth = self.interpolation in ("bilinear", "bicubic")
            x = F.interpolate(x, size=self.size, mode=self.interpolation,
                              align_corners=False if smooth else None, antialias=smooth and shrinking)
        if self.normalize:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return x

    def extra_repr(self) -> str:
        chans = f"{self.in_chans}→{self.model_chans} ch" if self.in_chans != self.model_chans else f"{self.in_chans} ch"
        norm = ", ImageNet-style mean/std" if self.normalize else ", [0, 1]"
        return f"{chans}, resize to {self.size[0]}×{self.size[1]} ({self.interpolation}){norm}"


def keras_init_(module: nn.Module, conv: str = "he_uniform") -> nn.Module:
    """Initialise like the Keras code a paper published: ``conv`` for plain convolutions
    (LANMSFF's code passes ``kernel_initializer='he_uniform'``), Glorot-uniform (Keras'
    default) for depthwise/pointwise parts of separable convolutions, transposed
    convolutions and dense layers; zero biases; BN weight 1, bias 0.

    A module may mark its separable parts with ``keras_glorot = True``; they then get
    Glorot whatever ``conv`` says (Keras' SeparableConv2D ignores ``kernel_initializer``).
    """
    glorot_ids = {id(m) for sub in module.modules() if getattr(sub, "keras_glorot", False) for m in sub.modules()}
    for m in module.modules():
        if isinstance(m, (nn.Conv2d,)) and not isinstance(m, nn.ConvTranspose2d):
            if conv == "he_uniform" and id(m) not in glorot_ids:
                # Keras he_uniform: U(±sqrt(6 / fan_in)) = kaiming_uniform_ with the ReLU gain.
                nn.init.kaiming_uniform_(m.weight, a=0.0, nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(m.weight)
        elif isinstance(m, (nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            continue
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    return module


def layer_decay_param_groups(model: nn.Module, lr: float, decay: float = 0.9, weight_decay: float = 0.0,
                             no_weight_decay: Sequence[str] = ("pos_embed", "cls_token")) -> list[dict]:
    """Optimiser parameter groups with layer-wise learning-rate decay (HAFEM §3.2: factor 0.9).

    ``model.layer_groups()`` lists parameter names from stem to head; the group k steps
    below the head trains at ``lr · decay**k`` (the head at ``lr``), as in BEiT/ELECTRA. Each
    group is split so that biases, norm weights (1-D) and position/class tokens get no weight
    decay. Every group carries ``lr_scale`` (timm's schedulers multiply by it) and ``name``.
    """
    if not hasattr(model, "layer_groups"):
        raise ValueError(f"{type(model).__name__} does not define layer_groups(); "
                         "layer-wise decay needs an ordered stem-to-head grouping")
    if not 0 < decay <= 1:
        raise ValueError(f"decay must be in (0, 1], got {decay}")
    groups = model.layer_groups()
    named = dict(model.named_parameters())
    listed = [n for _, names in groups for n in names]
    missing = sorted(n for n, p in named.items() if p.requires_grad and n not in set(listed))
    if missing or len(listed) != len(set(listed)):
        raise ValueError(f"layer_groups() of {type(model).__name__} must list every trainable parameter once; "
                         f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}")
    out = []
    for i, (group, names) in enumerate(groups):
        scale = decay ** (len(groups) - 1 - i)
        params = [(n, named[n]) for n in names if named[n].requires_grad]
        decayed = [p for n, p in params if p.ndim > 1 and n.rsplit(".", 1)[-1] not in no_weight_decay]
        plain = [p for n, p in params if not (p.ndim > 1 and n.rsplit(".", 1)[-1] not in no_weight_decay)]
        for ps, wd, suffix in ((decayed, weight_decay, ""), (plain, 0.0, ".no_decay")):
            if ps:
                out.append(dict(name=group + suffix, params=ps, lr=lr * scale, lr_scale=scale, weight_decay=wd))
    return out
