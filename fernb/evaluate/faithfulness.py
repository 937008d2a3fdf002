"""Does an explanation follow what the model uses? Three checks a pretty map can fail.

* **Causal check** (only a renderer allows it): :func:`au_off_effects` renders each face again
  with one active Action Unit switched off (``fernb.data.synthfer.render_sample(au_off=...)``:
  the same person, light and noise) and measures the drop in the true class's logit;
  :func:`causal_table` correlates, over a face's active AUs, that drop with the map's
  relevance mass inside the AU's region (Spearman, per face). A map that looks anatomical but
  does not follow what the model uses scores near zero here.
* **Sanity checks** (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018):
  :func:`cascading_randomisation` re-initialises the network's parts from the top (the
  classifier) down, one more per step, and compares each step's maps with the trained
  model's (Spearman rank correlation of the absolute maps, per face); :func:`untrained_model`
  gives a network of the same configuration that never saw data. A method whose maps stay
  similar when the weights are random explains the input, not the model
  (:func:`sanity_flags`).
* **Deletion and insertion** (Petsiuk et al., RISE, BMVC 2018): :func:`deletion_insertion`
  removes the most relevant pixels first (replaced by a blurred copy of the face) and tracks
  the true class's probability, or inserts them into the blurred face; the area under each
  curve, beside a random pixel order as the reference.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence

import cv2
import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from scipy.stats import spearmanr

from fernb.data.synthfer import AUS
from fernb.evaluate.explain import GroundTruth, mass_accuracy, model_inputs, rerender
from fernb.models import create_model

__all__ = ["au_off_effects", "causal_table", "randomisation_units", "randomise", "cascading_randomisation",
           "untrained_model", "map_similarity", "sanity_flags", "deletion_insertion", "curve_areas",
           "SURVIVES_RANDOMISATION"]

# A method whose maps after the whole network is randomised still correlate with the trained
# maps at this mean Spearman or more is flagged (Adebayo et al. call such maps "invariant").
SURVIVES_RANDOMISATION = 0.5


def _logits(model: nn.Module, x: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return torch.cat([model(x[i:i + batch_size]).logits for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


# --------------------------------------------------------------------------------------
# Causal check
# --------------------------------------------------------------------------------------
def au_off_effects(model: nn.Module, truth: GroundTruth, *, scaling: str = "range") -> pd.DataFrame:
    """One row per (face, active AU): the true class's logit on the face as stored minus on
    the same face rendered with that AU switched off (``drop``; positive: the model used it)."""
    rows, batches = [], []
    base = _logits(model, model_inputs(truth.images, scaling))
    for i in range(len(truth)):
        active = [a for a in AUS if truth.intensity[i, AUS.index(a)] > 0]
        for a in active:
            off = rerender(truth, [i], au_off=[a], masks=False)
            batches.append(off.images[0])
            rows.append({"face": int(truth.index[i]), "i": i, "class": truth.classes[int(truth.labels[i])], "au": a,
                         "intensity": float(truth.intensity[i, AUS.index(a)])})
    frame = pd.DataFrame(rows, columns=["face", "i", "class", "au", "intensity"])
    if not rows:
        frame["drop"] = []
        return frame
    off_logits = _logits(model, model_inputs(np.stack(batches), scaling))
    i = torch.as_tensor(frame["i"].to_numpy(copy=True))
    labels = torch.as_tensor(np.array(truth.labels, dtype=np.int64))[i]
    frame["drop"] = (base[i, labels] - off_logits[torch.arange(len(frame)), labels]).numpy()
    return frame


def causal_table(effects: pd.DataFrame, maps: Mapping[str, np.ndarray], truth: GroundTruth, *,
                 min_aus: int = 3) -> pd.DataFrame:
    """Per (method, face): the Spearman correlation over the face's active AUs between the
    logit drop (:func:`au_off_effects`) and the map's positive mass inside each AU's region;
    faces with fewer than ``min_aus`` active AUs (a rank correlation of two points is ±1) or
    with a constant drop or mass are left out (``rho`` NaN, ``reason`` says why)."""
    rows = []
    for method, m in maps.items():
        for (face, i), g in effects.groupby(["face", "i"], sort=False):
            reason = ""
            masses = np.array([mass_accuracy(m[i], truth.masks[a][i])[0] if truth.masks[a][i].any() else np.nan
                               for a in g["au"]])
            keep = np.isfinite(masses)
            rho = np.nan
            if keep.sum() < min_aus:
                reason = f"{int(keep.sum())} active AUs with a region (< {min_aus})"
            elif np.ptp(g["drop"].to_numpy()[keep]) == 0 or np.ptp(masses[keep]) == 0:
                reason = "constant drop or mass"
            else:
                rho = float(spearmanr(g["drop"].to_numpy()[keep], masses[keep])[0])
            rows.append({"method": method, "face": face, "class": g["class"].iloc[0], "aus": int(keep.sum()),
                         "rho": rho, "reason": reason})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Sanity checks
# --------------------------------------------------------------------------------------
def randomisation_units(model: nn.Module, expand_share: float = 0.4) -> list[tuple[str, list[nn.Module], list[nn.Parameter]]]:
    """The network's parts from the top (classifier) down: ``(name, modules, loose parameters)``.

    Read from the model's ``components()`` (network order, as its model card uses); a part
    holding more than ``expand_share`` of all parameters (a backbone) is split into its own
    children with parameters, so the backbone is randomised stage by stage. Loose parameters
    (``component_parameters()``: HAFEM's positional embedding) go with their part."""
    model = getattr(model, "module", model)
    if not hasattr(model, "components"):
        raise ValueError(f"a {type(model).__name__} lists no components(), so it cannot be randomised part by part")
    total = sum(p.numel() for p in model.parameters())
    loose = getattr(model, "component_parameters", lambda: {})()
    units = []
    for name, modules in model.components().items():
        modules = [m for m in modules if m is not None and any(True for _ in m.parameters())]
        params = list(loose.get(name, []))
        if not modules and not params:
            continue
        size = sum(p.numel() for m in modules for p in m.parameters())
        if len(modules) == 1 and size > expand_share * total:
            children = [(f"{name}.{n}", c) for n, c in modules[0].named_children() if any(True for _ in c.parameters())]
            if len(children) > 1:
                units.extend((n, [c], []) for n, c in children)
                continue
        units.append((name, modules, params))
    return units[::-1]


def randomise(modules: Sequence[nn.Module], params: Sequence[nn.Parameter] = (), seed: int = 0) -> None:
    """Re-initialise ``modules`` in place, each layer by its own ``reset_parameters`` (PyTorch's
    default initialisation; BatchNorm's running statistics too), loose ``params`` from N(0, 0.02²)."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        for module in modules:
            for m in module.modules():
                for reset in ("reset_parameters", "_reset_parameters"):
                    if callable(getattr(m, reset, None)):
                        getattr(m, reset)()
                        break
        with torch.no_grad():
            for p in params:
                p.normal_(0.0, 0.02)
    finally:
        torch.random.set_rng_state(gen_state)


def map_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per face, the Spearman rank correlation of two maps' absolute values (NaN where either
    map is constant, e.g. a Grad-CAM with no positive evidence)."""
    out = np.full(len(a), np.nan)
    for i, (x, y) in enumerate(zip(np.abs(a), np.abs(b))):
        if np.ptp(x) > 0 and np.ptp(y) > 0:
            out[i] = spearmanr(x.ravel(), y.ravel())[0]
    return out


def cascading_randomisation(model: nn.Module, explain: Callable[[nn.Module], Mapping[str, np.ndarray]], *,
                            seed: int = 0, trained: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Adebayo et al.'s cascading randomisation: step k re-initialises the top k parts
    (:func:`randomisation_units`, on a copy; ``model`` is untouched) and ``explain(model)``
    gives every method's maps; each step's similarity to the trained maps (:func:`map_similarity`),
    mean and spread over faces, and how many faces had a constant map."""
    trained = trained if trained is not None else explain(model)
    work = copy.deepcopy(getattr(model, "module", model))
    rows = [{"step": 0, "randomised": "(none: trained)", "method": m, "similarity": 1.0, "similarity_sd": 0.0,
             "constant_maps": int(sum(np.ptp(x) == 0 for x in v))} for m, v in trained.items()]
    for k, (name, modules, params) in enumerate(randomisation_units(work), start=1):
        randomise(modules, params, seed=seed + k)
        for method, maps in explain(work).items():
            sim = map_similarity(trained[method], maps)
            rows.append({"step": k, "randomised": name, "method": method,
                         "similarity": float(np.nanmean(sim)) if np.isfinite(sim).any() else np.nan,
                         "similarity_sd": float(np.nanstd(sim)) if np.isfinite(sim).any() else np.nan,
                         "constant_maps": int(np.isnan(sim).sum())})
    return pd.DataFrame(rows)


def untrained_model(checkpoint, seed: int = 0) -> nn.Module:
    """A network of ``checkpoint``'s exact configuration with fresh weights (``seed``), in eval mode."""
    config = dict(torch.load(checkpoint, map_location="cpu", weights_only=True)["fernb_model"])
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        fresh = create_model(config.pop("name"), **config)
    finally:
        torch.random.set_rng_state(state)
    return fresh.eval()


def sanity_flags(cascade: pd.DataFrame, threshold: float = SURVIVES_RANDOMISATION) -> pd.DataFrame:
    """Per method: the similarity after the last step (every part random) and after the first
    (the classifier alone), and whether the maps survive randomisation (last ≥ ``threshold``)."""
    rows = []
    for method, g in cascade[cascade["step"] > 0].groupby("method", sort=False):
        g = g.sort_values("step")
        last = g["similarity"].iloc[-1]
        rows.append({"method": method, "after_head": float(g["similarity"].iloc[0]), "after_all": float(last),
                     "steps": int(g["step"].max()), "survives_randomisation": bool(np.isfinite(last) and last >= threshold)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Deletion and insertion
# --------------------------------------------------------------------------------------
def _blurred(images: np.ndarray) -> np.ndarray:
    sigma = max(images.shape[1], images.shape[2]) / 8
    return np.stack([cv2.GaussianBlur(im, (0, 0), sigma) for im in images])


def deletion_insertion(model: nn.Module, images: np.ndarray, targets: Sequence[int], maps: Mapping[str, np.ndarray], *,
                       steps: int = 16, scaling: str = "range", seed: int = 0,
                       baseline: str | float = "blur") -> pd.DataFrame:
    """The true class's probability as the most relevant pixels (by each map; ties by pixel
    order) are deleted (replaced by the ``baseline``: the face blurred with σ = side/8, or a
    constant grey level 0-255) or inserted into the baseline, at ``steps + 1`` fractions from 0 to 1; ``method = "random"`` orders pixels
    at random (``seed``), the reference. Long format: method, mode, fraction, probability (mean
    over faces)."""
    images = np.asarray(images)
    targets = np.asarray(targets, int)
    if baseline == "blur":
        blur = _blurred(images)
    elif isinstance(baseline, (int, float)) and 0 <= baseline <= 255:
        blur = np.full_like(images, int(round(baseline)))
    else:
        raise ValueError(f"baseline must be 'blur' or a grey level in 0-255, got {baseline!r}")
    n, h, w = images.shape[:3]
    rng = np.random.default_rng(seed)
    orders = {m: np.argsort(-np.asarray(v).reshape(n, -1), axis=1, kind="stable") for m, v in maps.items()}
    orders["random"] = np.stack([rng.permutation(h * w) for _ in range(n)])
    fractions = np.linspace(0, 1, steps + 1)
    rows = []
    for method, order in orders.items():
        for mode in ("deletion", "insertion"):
            batch = []
            for f in fractions:
                k = int(round(f * h * w))
                chosen = np.zeros((n, h * w), bool)
                np.put_along_axis(chosen, order[:, :k], True, axis=1)
                chosen = chosen.reshape(n, h, w)
                if images.ndim == 4:
                    chosen = chosen[..., None]
                batch.append(np.where(chosen, blur, images) if mode == "deletion" else np.where(chosen, images, blur))
            x = model_inputs(np.concatenate(batch), scaling)
            probs = torch.softmax(_logits(model, x), 1).numpy().reshape(len(fractions), n, -1)
            p_true = probs[:, np.arange(n), targets].mean(1)
            rows.extend({"method": method, "mode": mode, "fraction": float(f), "probability": float(p)}
                        for f, p in zip(fractions, p_true))
    return pd.DataFrame(rows)


def curve_areas(curves: pd.DataFrame) -> pd.DataFrame:
    """Area under each deletion and insertion curve (trapezoid over the fraction in [0, 1]):
    per method, ``deletion`` (lower is more faithful), ``insertion`` (higher is), and each
    minus the random order's."""
    area = {(m, mode): float(np.trapezoid(g["probability"], g["fraction"]))
            for (m, mode), g in curves.groupby(["method", "mode"], sort=False)}
    methods = list(dict.fromkeys(curves["method"]))
    out = pd.DataFrame({"deletion": [area[(m, "deletion")] for m in methods],
                        "insertion": [area[(m, "insertion")] for m in methods]}, index=pd.Index(methods, name="method"))
    if "random" in out.index:
        out["deletion_vs_random"] = out["deletion"] - out.loc["random", "deletion"]
        out["insertion_vs_random"] = out["insertion"] - out.loc["random", "insertion"]
    return out
