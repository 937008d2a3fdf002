"""Attribution maps, and their scores against a ground-truth region.

HAFEM's interpretability claims are qualitative (its Grad-CAM and SHAP figures and their
discussion), and so are LANMSFF's (its Grad-CAM maps across poses). This module measures
instead:

* :func:`grad_cam`: Grad-CAM from captum (``LayerGradCam`` with ``relu_attributions=True``,
  since captum does not ReLU unless asked), upsampled bilinearly to the input's size, on the
  layer each network names in :data:`CAM_LAYERS` (HAFEM: the last backbone feature map,
  before tokenising, or ``which="cbam"`` for the final CBAM's output; LANMSFF: its last
  block), so no network is special-cased elsewhere. :func:`safe_for_hooks` turns in-place
  activations off first (timm's EfficientNet uses in-place SiLU, which breaks backward hooks).
* The scores of a map against a boolean region, each with its chance level (the share of
  the image the region covers: what a map of uniform or random relevance scores on average):
  :func:`rank_accuracy` (relevance rank accuracy: the share of the k most relevant pixels
  that fall inside the region, k = the region's size), :func:`mass_accuracy` (the share of
  the non-negative relevance inside the region) and :func:`pointing_game` (the most relevant
  pixel inside the region grown by a tolerance scaled to the image size; its chance level is
  the grown region's share).

Ground-truth regions come from SynthFER (:func:`fernb.data.synthfer.au_region_masks`, and
``render_sample(..., au_off=...)`` for the same face with an Action Unit switched off).
"""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
import torch.nn as nn
from captum.attr import LayerAttribution, LayerGradCam

__all__ = ["CAM_LAYERS", "cam_layer", "safe_for_hooks", "grad_cam", "rank_accuracy", "mass_accuracy",
           "pointing_game", "POINTING_TOLERANCE"]

# Network class name -> {which: attribute path of the module whose output Grad-CAM reads}.
CAM_LAYERS: dict[str, dict[str, str]] = {
    "HAFEM": {"features": "backbone", "cbam": "cbam"},
    "LANMSFF": {"features": "block4"},
}
# The pointing game's tolerance as a share of the image side (15 px at 224 px).
POINTING_TOLERANCE = 15 / 224


def cam_layer(model: nn.Module, which: str = "features") -> nn.Module:
    """The module whose output feature map Grad-CAM uses for ``model`` (see :data:`CAM_LAYERS`)."""
    model = getattr(model, "module", model)
    name = type(model).__name__
    layers = CAM_LAYERS.get(name)
    if layers is None:
        raise ValueError(f"no Grad-CAM layer is named for a {name}; CAM_LAYERS names one for {sorted(CAM_LAYERS)}")
    if which not in layers:
        raise ValueError(f"{name} names no Grad-CAM layer {which!r}; it has {sorted(layers)}")
    module = getattr(model, layers[which], None)
    if not isinstance(module, nn.Module):
        raise ValueError(f"{name} has no module {layers[which]!r} for Grad-CAM layer {which!r}"
                         + (" (built without the final CBAM?)" if which == "cbam" else ""))
    return module


def safe_for_hooks(model: nn.Module) -> nn.Module:
    """Turn every in-place activation of ``model`` off (``inplace = False``), in place; returns it.

    Backward hooks (captum's layer attributions) cannot see a tensor an in-place op has
    overwritten; the arithmetic is unchanged."""
    for module in model.modules():
        if isinstance(getattr(module, "inplace", None), bool):
            module.inplace = False
    return model


def grad_cam(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, *, which: str = "features",
             layer: nn.Module | None = None, forward: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Grad-CAM maps ``(N, H, W)`` of ``target`` (a class index or one per image) for the
    float input ``x`` ``(N, C, H, W)``, upsampled bilinearly to ``(H, W)``; non-negative.

    ``layer`` overrides :func:`cam_layer`; ``forward`` maps ``x`` to logits (default: the
    fernb contract's ``model(x).logits``). The model runs in eval mode (restored after)."""
    layer = layer if layer is not None else cam_layer(model, which)
    forward = forward or (lambda inp: model(inp).logits)
    was_training = model.training
    model.eval()
    try:
        cam = LayerGradCam(forward, layer)
        attr = cam.attribute(x, target=target, relu_attributions=True)
    finally:
        model.train(was_training)
    attr = LayerAttribution.interpolate(attr, tuple(x.shape[-2:]), interpolate_mode="bilinear")
    return attr.sum(1).clamp_min(0).detach()


def _check(relevance: np.ndarray, region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    relevance = np.asarray(relevance, dtype=np.float64)
    region = np.asarray(region, dtype=bool)
    if relevance.shape != region.shape or relevance.ndim != 2:
        raise ValueError(f"a map and its region must be two (H, W) arrays of one shape, got {relevance.shape} "
                         f"and {region.shape}")
    if not region.any():
        raise ValueError("the region is empty: no score (its chance level would be 0)")
    return relevance, region


def rank_accuracy(relevance: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """(score, chance): the share of the k most relevant pixels inside ``region``, k = its size.

    Ties at the k-th value are broken by pixel order (a constant map scores its first k pixels).
    Chance: the region's share of the image."""
    relevance, region = _check(relevance, region)
    k = int(region.sum())
    top = np.argsort(-relevance.ravel(), kind="stable")[:k]
    return float(region.ravel()[top].mean()), float(region.mean())


def mass_accuracy(relevance: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """(score, chance): the share of the non-negative relevance that lies inside ``region``
    (NaN for a map with no positive relevance). Chance: the region's share of the image."""
    relevance, region = _check(relevance, region)
    pos = np.clip(relevance, 0, None)
    total = pos.sum()
    return (float(pos[region].sum() / total) if total > 0 else float("nan")), float(region.mean())


def pointing_game(relevance: np.ndarray, region: np.ndarray, *, tolerance: float = POINTING_TOLERANCE) -> tuple[bool, float]:
    """(hit, chance): is the most relevant pixel (first in pixel order on ties) inside ``region``
    grown by ``round(tolerance * image side)`` pixels (a disc)? Chance: the grown region's share."""
    relevance, region = _check(relevance, region)
    radius = int(round(tolerance * max(region.shape)))
    grown = region
    if radius > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        grown = cv2.dilate(region.astype(np.uint8), kernel) > 0
    peak = int(np.argmax(relevance.ravel()))
    return bool(grown.ravel()[peak]), float(grown.mean())
