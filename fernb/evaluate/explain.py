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

* :func:`shap_pixels`: SHAP's ``GradientExplainer`` (expected gradients: the gradient at a
  random point between a background face and the input, times their difference, averaged)
  on the pixels, with a background of training faces; :func:`shap_features` the same on the
  pooled embedding that the classifier reads (HAFEM's "AU-corresponding channels" claim).
  ``DeepExplainer`` is not used: its DeepLIFT rules cover ReLU-type nonlinearities and
  linear layers, not SiLU (timm's EfficientNet), softmax attention, LayerNorm or CBAM's
  sigmoid gates, for which it falls back to gradients without saying so, and it cannot
  trace in-place operations.

Ground truth comes from SynthFER (:func:`synthfer_ground_truth`): each test face is rendered
again from the store's generator parameters (and must come out byte-identical to the stored
image), with the region of every Action Unit (``SynthSample.au_masks``) and its intensity.
On a dataset with 68 landmarks and no renderer, :func:`landmark_ground_truth` derives the
regions from the landmarks (:func:`fernb.data.synthfer.au_region_masks`), an approximation
that leaves out texture cues away from the landmarks (wrinkles, folds). :func:`score_maps`
scores maps against a class's defining Action Units (:data:`fernb.data.synthfer.CLASS_AUS`)
and against every active AU on its own, each number beside its chance level.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from captum.attr import LayerAttribution, LayerGradCam
from scipy.stats import spearmanr, wilcoxon

from fernb.data.core import FERData
from fernb.data.synthfer import AUS, CLASS_AUS, au_region_masks, render_sample
from fernb.models.inputs import to_input

__all__ = ["CAM_LAYERS", "cam_layer", "cam_grid", "safe_for_hooks", "grad_cam", "rank_accuracy", "mass_accuracy",
           "pointing_game", "POINTING_TOLERANCE", "METHODS", "model_inputs", "shap_pixels", "shap_features",
           "attribution_maps", "GroundTruth", "synthfer_ground_truth", "landmark_ground_truth", "pick_indices",
           "class_region", "score_maps", "score_summary", "PAPER_PAIRS", "paper_pairs_table", "channel_au_table",
           "render_options", "subset", "rerender"]

# The attribution methods notebook 05 compares, by name (see :func:`attribution_maps`).
METHODS: tuple[str, ...] = ("grad_cam", "shap")

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


def cam_grid(model: nn.Module, x: torch.Tensor, which: str = "features") -> tuple[int, int]:
    """The ``(h, w)`` of the feature map Grad-CAM reads for inputs shaped like ``x``: its
    resolution before upsampling (a 48-pixel face through a stride-32 backbone gives 2 x 2)."""
    layer = cam_layer(model, which)
    seen = {}

    def record(module, inputs, output):      # returns None: the output passes on unchanged
        seen["shape"] = tuple(output.shape[-2:])

    handle = layer.register_forward_hook(record)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        handle.remove()
        model.train(was_training)
    return seen["shape"]


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


# --------------------------------------------------------------------------------------
# Inputs and SHAP
# --------------------------------------------------------------------------------------
def model_inputs(images: np.ndarray, scaling: str = "range") -> torch.Tensor:
    """Stored uint8 faces ``(N, H, W[, 3])`` as the float ``(N, C, H, W)`` batch a fernb network
    takes at the stored size (its input adapter resizes): attributions live on the stored pixels."""
    return to_input(torch.as_tensor(np.ascontiguousarray(images)), None, scaling)


class _ClassLogit(nn.Module):
    """``model``'s logit of one class as an ``(N, 1)`` output (what SHAP explains)."""

    def __init__(self, forward: Callable[[torch.Tensor], torch.Tensor], k: int):
        super().__init__()
        self.forward_fn, self.k = forward, int(k)

    def forward(self, x):
        return self.forward_fn(x)[:, self.k:self.k + 1]


def _per_target(targets, n: int) -> np.ndarray:
    t = np.asarray(targets).reshape(-1)
    if t.size == 1:
        t = np.repeat(t, n)
    if t.size != n:
        raise ValueError(f"{t.size} targets for {n} inputs: give one class, or one per input")
    return t.astype(int)


def shap_pixels(model: nn.Module, x: torch.Tensor, target: int | Sequence[int], background: torch.Tensor, *,
                nsamples: int = 32, seed: int = 0, batch_size: int = 32,
                forward: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """SHAP values ``(N, H, W)`` of ``target``'s logit (one class, or one per input) for the
    pixels of ``x`` ``(N, C, H, W)``, summed over channels; signed.

    ``shap.GradientExplainer`` (expected gradients, no local smoothing) with ``background``
    (training faces, as a float batch like ``x``) and ``nsamples`` (background face, point on
    the path) draws per input, seeded by ``seed`` (shap seeds NumPy's global generator with it).
    The model runs in eval mode (restored after)."""
    import shap  # deferred: shap loads numba (seconds), paid only where SHAP runs

    if background.dim() != 4 or background.shape[1:] != x.shape[1:]:
        raise ValueError(f"the background must be faces shaped like the inputs {tuple(x.shape[1:])}, "
                         f"got {tuple(background.shape)}")
    forward = forward or (lambda inp: model(inp).logits)
    targets = _per_target(target, len(x))
    out = torch.zeros(x.shape[0], *x.shape[2:])
    was_training = model.training
    model.eval()
    try:
        for k in np.unique(targets):
            rows = np.flatnonzero(targets == k)
            explainer = shap.GradientExplainer(_ClassLogit(forward, k), background, batch_size=batch_size)
            values = np.asarray(explainer.shap_values(x[rows], nsamples=nsamples, rseed=int(seed)))
            values = values.reshape(len(rows), *x.shape[1:], -1)[..., 0]     # one output: drop its axis
            out[torch.as_tensor(rows)] = torch.as_tensor(values.sum(1), dtype=out.dtype)
    finally:
        model.train(was_training)
    return out


def shap_features(model: nn.Module, embeddings: torch.Tensor, background: torch.Tensor, *, nsamples: int = 64,
                  seed: int = 0) -> np.ndarray:
    """SHAP values ``(N, D, K)`` of every class logit for the pooled embedding that the
    classifier reads (``model.forward_head``; ``embeddings`` ``(N, D)``, from the fernb
    contract's ``FEROutput.embedding``), with ``background`` embeddings of training faces.

    Every fernb head is dropout then one linear layer, so in eval mode each sample's value is
    ``W[k, d] * (e_d - b_d)`` for the background embedding ``b`` it drew: the values are the
    weights times the embedding's distance from the background (exactly so for a background of
    one embedding, which the test checks against the weights)."""
    import shap  # deferred: as in shap_pixels

    head = _Head(model)
    was_training = model.training
    model.eval()
    try:
        explainer = shap.GradientExplainer(head, background.detach())
        values = np.asarray(explainer.shap_values(embeddings.detach(), nsamples=nsamples, rseed=int(seed)))
    finally:
        model.train(was_training)
    return values.reshape(len(embeddings), embeddings.shape[1], -1)


class _Head(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, e):
        return self.model.forward_head(e)


def attribution_maps(model: nn.Module, x: torch.Tensor, targets: int | Sequence[int], *, background: torch.Tensor,
                     methods: Sequence[str] = METHODS, nsamples: int = 32, seed: int = 0,
                     which: str = "features") -> dict[str, np.ndarray]:
    """Every method's maps ``(N, H, W)`` (float64) of ``targets`` for ``x``: ``grad_cam``
    (non-negative, :func:`grad_cam` on the network's named layer) and ``shap`` (signed,
    :func:`shap_pixels`). An unknown method is refused."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown attribution methods {unknown}; expected some of {list(METHODS)}")
    t = torch.as_tensor(_per_target(targets, len(x)))
    maps = {}
    for method in methods:
        if method == "grad_cam":
            maps[method] = grad_cam(model, x, t, which=which).double().numpy()
        else:
            maps[method] = shap_pixels(model, x, t.tolist(), background, nsamples=nsamples, seed=seed).double().numpy()
    return maps


# --------------------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------------------
@dataclass
class GroundTruth:
    """The faces an explanation is scored on, with where each Action Unit acts.

    ``index``: rows of the store; ``images`` uint8 as stored; ``labels`` canonical class index
    into ``classes``; ``masks`` AU name -> bool ``(N, H, W)``; ``intensity`` ``(N, len(AUS))``
    (zeros where unknown); ``yaw``; ``occluder`` ("" where none); ``source`` says how the masks
    were made."""

    index: np.ndarray
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    masks: dict[str, np.ndarray]
    intensity: np.ndarray
    yaw: np.ndarray
    occluder: np.ndarray
    source: str
    render: dict = field(default_factory=dict)      # SynthFER: what re-renders a face (for au_off)

    def __len__(self) -> int:
        return len(self.index)


def _synthfer_params(data: FERData) -> dict:
    params = (data.meta or {}).get("params")
    if data.meta.get("generator") != "fernb.data.synthfer" or not params:
        raise ValueError(f"{data.name}: not a SynthFER store (its meta names no fernb.data.synthfer generator "
                         f"parameters), so its faces cannot be rendered again with their AU regions")
    return params


def render_options(data: FERData) -> dict:
    """The :func:`fernb.data.synthfer.render_sample` keywords that re-render ``data``'s faces."""
    p = _synthfer_params(data)
    return {"image_size": p["image_size"], "rgb": p["rgb"], "contempt": p["contempt"], "imbalance": p["imbalance"],
            "poses": p["poses"], "pose_probs": p["pose_probs"], "yaw_jitter": p["yaw_jitter"],
            "occlusion_prob": p["occlusion_prob"], "identity_range": p["identity_range"],
            "lighting": p["lighting"], "resolution": p["resolution"]}


def _split_position(data: FERData, rows: np.ndarray) -> tuple[list[str], list[int]]:
    splits, positions = [], []
    for r in rows:
        sid = str(data.source_ids[r])
        parts = sid.split("/")
        if len(parts) != 3 or not parts[2].isdigit():
            raise ValueError(f"{data.name}: source id {sid!r} of row {r} is not 'synthfer/<split>/<index>'")
        splits.append(parts[1])
        positions.append(int(parts[2]))
    return splits, positions


def synthfer_ground_truth(data: FERData, rows: Sequence[int]) -> GroundTruth:
    """The SynthFER faces at store ``rows`` rendered again, with every AU's region and intensity.

    Each re-rendered image must equal the stored one byte for byte; a store prepared with
    other parameters than its meta records is refused with the first differing row named."""
    rows = np.asarray(rows, dtype=int)
    p = _synthfer_params(data)
    splits, positions = _split_position(data, rows)
    subjects = data.extras.get("subject")
    shared = p.get("n_identities") is not None and subjects is not None
    size = data.images.shape[1:3]
    stored = GroundTruth(index=rows, images=np.asarray(data.images[rows]), labels=np.asarray(data.labels[rows]),
                         classes=tuple(data.classes), masks={a: np.zeros((len(rows), *size), bool) for a in AUS},
                         intensity=np.zeros((len(rows), len(AUS)), np.float32), yaw=np.asarray(data.pose[rows], np.float32),
                         occluder=np.full(len(rows), "", dtype=object), source="SynthFER renderer (every AU's drawn region)",
                         render={"seed": p["seed"], "splits": splits, "positions": positions, "options": render_options(data),
                                 "subjects": [int(subjects[r]) if shared else None for r in rows]})
    if not len(rows):
        return stored
    truth = rerender(stored, range(len(rows)))
    differ = [r for r, a, b in zip(rows, truth.images, stored.images) if not np.array_equal(a, b)]
    if differ:
        raise ValueError(f"{data.name}: row {differ[0]} ({data.source_ids[differ[0]]}) renders differently from the stored "
                         f"image: the store was not made by this renderer with the parameters its meta records")
    return truth


def landmark_ground_truth(data: FERData, rows: Sequence[int]) -> GroundTruth:
    """AU regions from the 68 stored landmarks (:func:`fernb.data.synthfer.au_region_masks`),
    for a dataset without a renderer. An approximation: the regions follow the landmark
    geometry and miss texture cues away from it; no AU intensities are known (zeros), so a
    class is scored against its defining AUs as if all were present. Refused for a store
    without landmarks, or for rows whose landmarks are missing (NaN), naming them."""
    rows = np.asarray(rows, dtype=int)
    if data.landmarks is None:
        raise ValueError(f"{data.name}: the store has no landmarks, so no AU regions can be derived "
                         f"(qualitative maps only)")
    lm = data.landmarks[rows]
    bad = rows[~np.isfinite(lm).all(axis=(1, 2))]
    if len(bad):
        raise ValueError(f"{data.name}: rows {bad[:10].tolist()} have no landmarks (NaN); pick rows with landmarks")
    size = data.images.shape[1]
    per = [au_region_masks(l, size) for l in lm]
    return GroundTruth(index=rows, images=np.asarray(data.images[rows]), labels=np.asarray(data.labels[rows]),
                       classes=tuple(data.classes), masks={a: np.stack([m[a] for m in per]) for a in AUS},
                       intensity=np.zeros((len(rows), len(AUS)), np.float32),
                       yaw=np.asarray(data.pose[rows], np.float32), occluder=np.full(len(rows), "", dtype=object),
                       source="68 landmarks (approximate AU regions)")


def pick_indices(data: FERData, per_class: int, *, split: str = "test", seed: int = 0,
                 frame: pd.DataFrame | None = None) -> np.ndarray:
    """Up to ``per_class`` store rows of ``split`` per class, drawn with ``seed`` (sorted). A class
    with no image there is simply absent (the caller reports it)."""
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    rng = np.random.default_rng(seed)
    chosen = []
    for k in range(len(data.classes)):
        rows = np.flatnonzero((data.split == split) & (data.labels == k))
        if len(rows):
            chosen.append(rng.choice(rows, size=min(per_class, len(rows)), replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, int)


# --------------------------------------------------------------------------------------
# Scores against the ground truth
# --------------------------------------------------------------------------------------
def class_region(truth: GroundTruth, i: int, aus: Sequence[str] | None = None) -> tuple[np.ndarray | None, list[str]]:
    """The union of the regions of ``aus`` (default: the true class's defining AUs,
    :data:`~fernb.data.synthfer.CLASS_AUS`) that are active in face ``i`` (intensity > 0; with
    landmark ground truth every one counts), and their names; None when there is none
    (neutral has no defining AU)."""
    cname = truth.classes[int(truth.labels[i])]
    aus = list(CLASS_AUS.get(cname, ())) if aus is None else list(aus)
    known = truth.intensity[i].any()
    active = [a for a in aus if (not known) or truth.intensity[i, AUS.index(a)] > 0]
    if not active:
        return None, []
    region = np.zeros(truth.images.shape[1:3], bool)
    for a in active:
        region |= truth.masks[a][i]
    return (region if region.any() else None), active


def score_maps(maps: Mapping[str, np.ndarray], truth: GroundTruth, *, model: str = "",
               min_intensity: float = 0.2) -> pd.DataFrame:
    """One row per (method, face, region): the face's class region (``region = "class"``) and,
    for every AU active at ``min_intensity`` or more, that AU alone (``region = <AU>``; with
    landmark ground truth, every defining AU of the class). Columns: rank and mass accuracy, the
    pointing-game hit, each chance level, and the region's share of the image. A constant map
    (``empty_map``) scores NaN: it points nowhere, and breaking its ties by pixel order would
    give it a score it did not earn."""
    rows = []
    for method, m in maps.items():
        if len(m) != len(truth):
            raise ValueError(f"{method}: {len(m)} maps for {len(truth)} faces")
        for i in range(len(truth)):
            cname = truth.classes[int(truth.labels[i])]
            regions = []
            region, aus = class_region(truth, i)
            if region is not None:
                regions.append(("class", "+".join(aus), region))
            known = truth.intensity[i].any()
            for a in AUS:
                strong = truth.intensity[i, AUS.index(a)] >= min_intensity if known else a in CLASS_AUS.get(cname, ())
                if strong and truth.masks[a][i].any():
                    regions.append((a, a, truth.masks[a][i]))
            empty = not np.ptp(m[i]) > 0        # a constant map (Grad-CAM with no positive evidence) locates nothing
            for kind, aus_named, reg in regions:
                rank, chance = rank_accuracy(m[i], reg)
                mass, _ = mass_accuracy(m[i], reg)
                hit, p_chance = pointing_game(m[i], reg)
                if empty:
                    rank = mass = hit = np.nan
                rows.append({"model": model, "method": method, "face": int(truth.index[i]), "class": cname,
                             "yaw": float(truth.yaw[i]), "occluder": truth.occluder[i], "region": kind, "aus": aus_named,
                             "rank": rank, "mass": mass, "pointing": float(hit), "chance": chance,
                             "pointing_chance": p_chance, "empty_map": empty})
    return pd.DataFrame(rows)


def score_summary(scores: pd.DataFrame, by: Sequence[str] = ("model", "method", "class")) -> pd.DataFrame:
    """Mean of every score over faces within ``by`` groups, with the chance levels and the lift
    (score / chance) beside each; ``faces`` counts the faces behind each row and ``empty_maps``
    the (face, region) rows whose map was constant (left out of the means)."""
    by = list(by)
    g = scores.groupby(by, sort=False)
    out = g.agg(faces=("face", "nunique"), empty_maps=("empty_map", "sum"), rank=("rank", "mean"), mass=("mass", "mean"), chance=("chance", "mean"),
                pointing=("pointing", "mean"), pointing_chance=("pointing_chance", "mean"))
    out["rank_lift"] = out["rank"] / out["chance"]
    out["mass_lift"] = out["mass"] / out["chance"]
    out["pointing_lift"] = out["pointing"] / out["pointing_chance"]
    return out[["faces", "empty_maps", "rank", "mass", "chance", "rank_lift", "mass_lift", "pointing", "pointing_chance",
                "pointing_lift"]]


# HAFEM §4.x's Grad-CAM reading (its Grad-CAM figure and discussion): class -> the AUs it says
# the maps light up. AU24 (lip pressor) is not rendered by SynthFER; its nearest rendered
# neighbour, AU23 (lip tightener, the same lips), stands in and the table says so.
PAPER_PAIRS: dict[str, tuple[tuple[str, ...], str]] = {
    "anger": (("AU4", "AU23"), "HAFEM: brow (AU4) and AU24; AU24 is not rendered, AU23 (lips) stands in"),
    "happy": (("AU6", "AU12"), "HAFEM: cheeks (AU6) and lip corners (AU12), 'a Duchenne smile'"),
}


def paper_pairs_table(maps: Mapping[str, np.ndarray], truth: GroundTruth, *, model: str = "") -> pd.DataFrame:
    """Each class's stated AUs as a number: HAFEM's pairs (:data:`PAPER_PAIRS`) and, for the
    other classes, their defining AUs (:data:`~fernb.data.synthfer.CLASS_AUS`); mass and rank
    accuracy inside the union of those AUs' regions per method, beside chance, and in how many
    of the faces the mass is above that face's chance ("always", in HAFEM's words, is all of
    them), with the one-sided Wilcoxon signed-rank p-value of mass minus chance over faces
    (``p_above_chance``; NaN under two faces). Faces whose map is constant are left out."""
    rows = []
    for cname in truth.classes:
        stated, said = PAPER_PAIRS.get(cname, (CLASS_AUS.get(cname, ()), "defining AUs (fernb.data.synthfer.CLASS_AUS)"))
        if not stated:
            continue
        faces = [i for i in range(len(truth)) if truth.classes[int(truth.labels[i])] == cname]
        for method, m in maps.items():
            vals = []
            for i in faces:
                region, _ = class_region(truth, i, stated)
                if region is not None and np.ptp(m[i]) > 0:
                    vals.append((*rank_accuracy(m[i], region), mass_accuracy(m[i], region)[0]))
            v = np.asarray(vals, float).reshape(-1, 3)
            if len(v) and np.isfinite(v[:, 2]).any():
                rows.append({"model": model, "class": cname, "stated AUs": "+".join(stated), "claim": said,
                             "method": method, "faces": len(vals), "rank": float(np.nanmean(v[:, 0])),
                             "mass": float(np.nanmean(v[:, 2])), "chance": float(v[:, 1].mean()),
                             "mass_lift": float(np.nanmean(v[:, 2]) / v[:, 1].mean()),
                             "faces_above_chance": int((v[:, 2] > v[:, 1]).sum()),
                             "p_above_chance": _above_chance_p(v[:, 2] - v[:, 1])})
    return pd.DataFrame(rows)


def _above_chance_p(excess: np.ndarray) -> float:
    """One-sided Wilcoxon signed-rank p-value that ``excess`` (mass - chance per face) is above 0."""
    excess = excess[np.isfinite(excess)]
    if len(excess) < 2 or not np.any(excess != 0):
        return float("nan")
    return float(wilcoxon(excess, alternative="greater").pvalue)


def channel_au_table(values: np.ndarray, embeddings: np.ndarray, intensity: np.ndarray, labels: np.ndarray,
                     classes: Sequence[str], *, top: int = 5) -> pd.DataFrame:
    """HAFEM's "AU-corresponding channels" claim, measured: for each class, the ``top``
    embedding channels with the largest mean |SHAP| for its logit on its own faces
    (``values`` from :func:`shap_features`), each channel's Spearman correlation with every
    AU's intensity over all faces, its best-correlated AU, and whether that AU is one of the
    class's defining AUs; ``chance`` is the share of AUs that are (what a channel unrelated
    to AUs would score)."""
    rows = []
    varying = [a for a in range(intensity.shape[1]) if np.ptp(intensity[:, a]) > 0]
    for k, cname in enumerate(classes):
        defining = set(CLASS_AUS.get(cname, ()))
        own = labels == k
        if not defining or not own.any() or not varying:
            continue
        strength = np.abs(values[own, :, k]).mean(0)
        for d in np.argsort(-strength)[:top]:
            if np.ptp(embeddings[:, d]) == 0:
                continue
            rho = np.array([spearmanr(embeddings[:, d], intensity[:, a])[0] for a in varying])
            best = int(np.nanargmax(np.abs(rho)))
            au = AUS[varying[best]]
            rows.append({"class": cname, "channel": int(d), "mean |SHAP|": float(strength[d]), "best AU": au,
                         "spearman": float(rho[best]), "defining": au in defining,
                         "chance": len(defining & {AUS[a] for a in varying}) / len(varying)})
    return pd.DataFrame(rows)


def subset(truth: GroundTruth, rows: Sequence[int]) -> GroundTruth:
    """The faces ``rows`` (positions in ``truth``) of a ground truth, renderer record included."""
    rows = list(rows)
    r = truth.render
    render = {**r, **{k: [r[k][i] for i in rows] for k in ("splits", "positions", "subjects")}} if r else {}
    return GroundTruth(index=truth.index[rows], images=truth.images[rows], labels=truth.labels[rows], classes=truth.classes,
                       masks={a: m[rows] for a, m in truth.masks.items()}, intensity=truth.intensity[rows],
                       yaw=truth.yaw[rows], occluder=truth.occluder[rows], source=truth.source, render=render)


def rerender(truth: GroundTruth, rows: Sequence[int], *, yaw: float | None = None,
             au_off: Sequence[str] = (), masks: bool = True) -> GroundTruth:
    """Faces ``rows`` of a SynthFER ``truth`` rendered again with one thing changed: the head
    turned to ``yaw`` degrees (every other draw kept: the same person, expression, light and
    noise) and/or the Action Units ``au_off`` switched off; ``masks=False`` skips the AU regions
    (all empty; rendering is about 3x faster). Refused for landmark ground truth, which has no
    renderer."""
    if not truth.render:
        raise ValueError(f"ground truth from {truth.source} has no renderer: faces cannot be turned or changed")
    r = truth.render
    regions = {a: [] for a in AUS}
    images, intensity, yaws, occluder = [], [], [], []
    for i in rows:
        sample = render_sample(r["seed"], r["splits"][i], r["positions"][i], label=int(truth.labels[i]),
                               subject=r["subjects"][i], yaw=yaw, au_off=list(au_off), masks=masks, **r["options"])
        images.append(sample.image)
        for a in AUS:
            regions[a].append(sample.au_masks[a] if masks else np.zeros(sample.image.shape[:2], bool))
        intensity.append(sample.au_intensity)
        yaws.append(sample.yaw)
        occluder.append(sample.occluder)
    rows = list(rows)
    return GroundTruth(index=truth.index[rows], images=np.stack(images), labels=truth.labels[rows],
                       classes=truth.classes, masks={a: np.stack(m) for a, m in regions.items()},
                       intensity=np.asarray(intensity, np.float32), yaw=np.asarray(yaws, np.float32),
                       occluder=np.asarray(occluder, dtype=object), source=truth.source,
                       render={**r, "splits": [r["splits"][i] for i in rows],
                               "positions": [r["positions"][i] for i in rows],
                               "subjects": [r["subjects"][i] for i in rows]})
