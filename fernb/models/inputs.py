"""The one path from stored uint8 images to a network, for training and inference alike.

A prepared store holds uint8 faces, ``(N, H, W)`` grayscale or ``(N, H, W, 3)`` colour
(:class:`fernb.data.FERData`). :func:`to_input` makes a batch of them what a network takes —
float ``(N, C, h, w)`` in [0, 1], scaled as the recipe says (``range``: x/255, LANMSFF's code
and HAFEM; ``image``: per-image min-max) and resized to the network's input size
(:func:`input_size`, antialiased when shrinking). :func:`predict_proba` scores an array of
them in batches, in eval mode, and returns float64 class probabilities.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from fernb.machine import amp_plan

__all__ = ["SCALINGS", "to_input", "input_size", "predict_proba"]

SCALINGS = ("range", "image")


def to_input(x: torch.Tensor, size: tuple[int, int] | None, scaling: str = "range",
             channels_last: bool = False) -> torch.Tensor:
    """uint8 ``(N, H, W[, 3])`` → float ``(N, C, h, w)`` in [0, 1] at the network's input size."""
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
    x = x.float()
    if scaling == "range":
        x = x / 255.0
    elif scaling == "image":
        low = x.amin(dim=(1, 2, 3), keepdim=True)
        high = x.amax(dim=(1, 2, 3), keepdim=True)
        x = (x - low) / (high - low).clamp_min(1.0)
    else:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        shrinking = x.shape[-2] > size[0]
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrinking)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def input_size(model: nn.Module) -> tuple[int, int] | None:
    """The ``(h, w)`` a fernb network resizes its input to (its :class:`~fernb.models.InputAdapter`),
    looking through DDP and ``torch.compile`` wrappers; None when it has no adapter."""
    module = getattr(model, "module", model)
    module = getattr(module, "_orig_mod", module)
    adapter = getattr(module, "adapter", None)
    return tuple(adapter.size) if adapter is not None else None


@torch.no_grad()
def predict_proba(model: nn.Module, images: np.ndarray, *, batch_size: int = 256, device: torch.device | None = None,
                  scaling: str = "range", amp: str = "off", criterion: nn.Module | None = None,
                  labels: np.ndarray | None = None, loss_reduction: str = "mean",
                  channels_last: bool = False) -> tuple[np.ndarray, float | None]:
    """Class probabilities ``(N, K)`` float64 for uint8 ``images`` (eval mode, restored after),
    and the ``criterion`` loss over them when ``criterion`` and ``labels`` are given (its mean,
    or its sum with ``loss_reduction="sum"``; else None).

    ``channels_last`` feeds the batches in that memory layout (the same float32 arithmetic in
    another order: LANMSFF's separable convolutions run about twice as fast so on a CPU).

    ``amp`` is read by :func:`fernb.machine.amp_plan` (``"auto"``: bf16 or fp16 on a GPU, off
    on the CPU).
    """
    if loss_reduction not in ("mean", "sum"):
        raise ValueError(f"loss_reduction must be 'mean' or 'sum', got {loss_reduction!r}")
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    use_amp, amp_dtype, _ = amp_plan(device, amp)
    size = input_size(model)
    images = np.asarray(images)
    with_loss = criterion is not None and labels is not None
    probs, loss_sum = [], 0.0
    try:
        for start in range(0, len(images), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size])).to(device)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                out = model(to_input(x, size, scaling, channels_last))
            logits = out.logits.float()
            probs.append(torch.softmax(logits, dim=1).double().cpu())
            if with_loss:
                y = torch.as_tensor(np.asarray(labels[start:start + batch_size], dtype=np.int64), device=device)
                loss_sum += float(criterion(logits, out.embedding.float(), y).total) * len(y)
    finally:
        model.train(was_training)
    out = torch.cat(probs).numpy() if probs else np.zeros((0, 0))
    if not with_loss:
        return out, None
    return out, loss_sum if loss_reduction == "sum" or not len(images) else loss_sum / len(images)
