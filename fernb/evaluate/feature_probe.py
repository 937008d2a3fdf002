"""Are the shipped ImageNet weights *features*? Linear probes on a frozen backbone.

HAFEM §3 fine-tunes, end to end, an EfficientNet-B5 pretrained on ImageNet (ImageNet-21K, it says);
fernb ships two ImageNet weight files (:mod:`fernb.models.imagenet`: ``efficientnet_lite0``,
``mobilenetv2_100``), and ``tests/models/test_imagenet.py`` shows they load exactly (the mapped timm
network gives the source network's logits). That they load says nothing about what they give a
face: the test here is the standard one for a representation — freeze the network, pool its final
feature map, fit a linear classifier on those vectors, and compare with the *same* network at
random initialisation. If the ImageNet features carry no more about expressions than random ones,
fine-tuning from them is not the transfer HAFEM §3 relies on.

Decisions, each one a parameter or stated here:

- **the network** (:func:`frozen_backbone`): :func:`fernb.models.backbones.create_backbone` with
  ``global_pool="avg"`` (timm's global average pool of the final map, no classifier), in eval
  mode (BatchNorm uses its running statistics), under ``torch.inference_mode``. The random-init
  row is the same network: the shipped weights' build arguments (Lite0's BatchNorm eps 1e-3 and
  TensorFlow ``same`` padding, :data:`fernb.models.imagenet.SHIPPED`), seeded by ``seed``, so the
  weights are the only difference between the two rows;
- **the input** (:func:`pooled_features`): exactly the training path (``fernb/train/loop.py``) —
  :func:`fernb.models.inputs.to_input` (uint8 → [0, 1], ``scaling="range"`` as HAFEM's recipe,
  resized to ``img_size``, antialiased when shrinking), then an
  :class:`~fernb.models.common.InputAdapter` built as :class:`fernb.models.hafem.HAFEM` builds
  it (grey replicated to three channels, the weight file's mean/std from
  :func:`fernb.models.backbones.data_config`). Both rows see the same normalised input;
- **the data**: a stratified (seeded) subset of the training split (``max_train``) and of the
  validation split (``max_eval``), every class in proportion to its size, the trainer's own draw
  (:func:`fernb.data.folds.stratified_subset`, as ``max_train``). The test split is never read: this is a check on the
  weights, not a result;
- **the probe**: scikit-learn ``StandardScaler`` → multinomial ``LogisticRegression`` (lbfgs, L2)
  with ``C`` = :data:`PROBE_C` = 1.0, scikit-learn's default, fixed rather than tuned (tuning it
  on the validation subset would score the probe on its own selection data). On SynthFER (400
  training and 200 validation faces, balanced and FER2013-imbalanced, both weights and their
  random-init twins at 64, 96 and 128 px) C = 0.1 and 0.01 moved validation accuracy by at most
  5.5 points and never changed which row won. ``max_iter`` =
  :data:`PROBE_MAX_ITER`, the same for both rows; whether lbfgs converged is recorded
  (``converged``), not warned;
- **the scores**: validation accuracy and macro-F1 over all K classes
  (:func:`fernb.metrics.classification_metrics`), beside the share of the validation subset's
  largest class (:func:`fernb.evaluate.training_report.chance`): what always answering it scores.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from fernb.data.core import FERData
from fernb.data.folds import stratified_subset
from fernb.evaluate.training_report import chance
from fernb.metrics import classification_metrics
from fernb.models import imagenet
from fernb.models.backbones import create_backbone, data_config
from fernb.models.common import InputAdapter
from fernb.models.inputs import to_input

__all__ = ["PROBE_C", "PROBE_MAX_ITER", "RANDOM_INIT", "PROBE_COLUMNS", "frozen_backbone", "pooled_features",
           "probe_indices", "fit_probe", "frozen_linear_probe", "probe_table", "probe_text",
           "nothing_to_probe"]

PROBE_C = 1.0            # inverse L2 strength of the probe: scikit-learn's default (module docstring)
PROBE_MAX_ITER = 3000    # lbfgs iterations: converged on SynthFER (tests/evaluate/test_feature_probe.py)
PROBE_BATCH_SIZE = 128
RANDOM_INIT = "random init"
RAW_PIXELS = "raw pixels"   # the same probe on the faces themselves: what any features must beat
PROBE_COLUMNS = ("val accuracy (%)", "val macro-F1 (%)", "majority floor (%)", "train images", "val images",
                 "seeds", "seconds")


def imagenet_row(weights: str) -> str:
    """The table row of shipped weights ``weights``."""
    return f"ImageNet ({weights})"


def frozen_backbone(backbone: str, pretrained: str | None, in_chans: int, img_size: int,
                    seed: int = 0) -> tuple[InputAdapter, nn.Module, str]:
    """``(adapter, network, source)``: the input adapter and the pooled, frozen ``backbone`` (eval mode).

    ``pretrained`` names shipped ImageNet weights (an unknown name is refused by
    :func:`fernb.models.imagenet.shipped`, listing the shipped ones; weights of another
    architecture by :func:`~fernb.models.imagenet.check_fits`), or is None/False: random
    initialisation, seeded by ``seed``, of the network the shipped weights for ``backbone`` were
    trained as (their build arguments and input statistics; timm's defaults when fernb ships none
    for it). ``source`` says which (``create_backbone``'s words).
    """
    if pretrained:
        entry = imagenet.check_fits(pretrained, backbone)
    else:
        entry = next((w for w in imagenet.SHIPPED.values() if imagenet.architecture(backbone) in w.fits), None)
    build = dict(entry.timm_kwargs) if entry is not None and not pretrained else {}
    with torch.random.fork_rng(devices=[]):   # seed the initialisation without moving the caller's RNG
        torch.manual_seed(seed)
        net, source = create_backbone(backbone, pretrained or False, global_pool="avg", **build)
    stats = data_config(backbone, entry.name if entry is not None else False)
    adapter = InputAdapter(in_chans, 3, img_size, stats["mean"], stats["std"], interpolation="bilinear")
    for p in net.parameters():
        p.requires_grad_(False)
    return adapter.eval(), net.eval(), source


@torch.inference_mode()
def pooled_features(adapter: InputAdapter, net: nn.Module, images: np.ndarray,
                    batch_size: int = PROBE_BATCH_SIZE) -> np.ndarray:
    """Pooled features ``(N, D)`` float32 of uint8 ``images`` ``(N, H, W[, 3])``, in batches, through
    the training path (:func:`fernb.models.inputs.to_input`, ``scaling="range"``, then ``adapter``)."""
    out = []
    for start in range(0, len(images), batch_size):
        x8 = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size]))
        out.append(net(adapter(to_input(x8, adapter.size, "range"))).float().numpy())
    return np.concatenate(out) if out else np.zeros((0, net.num_features), np.float32)


def probe_indices(data: FERData, max_train: int, max_eval: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices into ``data`` of the stratified training and validation subsets (never the test split)."""
    train = np.flatnonzero(data.split == "train")
    val = np.flatnonzero(data.split == "val")
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"{data.name}: the feature probe needs train and val images, got {len(train)} and {len(val)}")
    if max_train < 1 or max_eval < 1:
        raise ValueError(f"max_train and max_eval must be positive, got {max_train} and {max_eval}")
    return train[stratified_subset(data.labels[train], max_train, seed)], val[stratified_subset(data.labels[val], max_eval, seed)]


def fit_probe(x_train: np.ndarray, y_train: np.ndarray, x_eval: np.ndarray, num_classes: int,
              seed: int = 0) -> tuple[np.ndarray, bool]:
    """Class probabilities ``(N, K)`` of the eval features from the probe fitted on the training
    features (module docstring), and whether lbfgs converged. A class absent from the training
    subset gets probability 0."""
    # deferred: scikit-learn's linear models take seconds to import and only the probe needs them
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=PROBE_C, max_iter=PROBE_MAX_ITER, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # recorded as `converged` instead
        probe.fit(x_train, y_train)
    classifier = probe[-1]
    probs = np.zeros((len(x_eval), num_classes))
    probs[:, classifier.classes_] = probe.predict_proba(x_eval)
    return probs, bool(np.all(classifier.n_iter_ < PROBE_MAX_ITER))


def frozen_linear_probe(data: FERData, backbone: str, pretrained: str | None, img_size: int,
                        max_train: int = 2000, max_eval: int = 1000, seed: int = 0) -> dict:
    """A linear probe on ``backbone``'s frozen pooled features (module docstring): fitted on a stratified
    subset of the training split, scored on one of the validation split; the test split is never read.

    ``pretrained``: the name of shipped ImageNet weights, or None/False for the same network at
    random initialisation (seeded by ``seed``, as are both subsets). Returns plain values:
    ``weights`` (the row name), ``val_accuracy``, ``val_macro_f1``, ``majority_floor`` (fractions),
    ``n_train``, ``n_eval``, ``n_features``, ``converged``, ``seconds`` (features and fit), and what
    was probed (``backbone``, ``img_size``, ``seed``, ``source``, ``C``).
    """
    start = time.perf_counter()
    in_chans = 1 if data.images.ndim == 3 else 3
    adapter, net, source = frozen_backbone(backbone, pretrained, in_chans, img_size, seed)
    train, val = probe_indices(data, max_train, max_eval, seed)
    x_train, x_eval = pooled_features(adapter, net, data.images[train]), pooled_features(adapter, net, data.images[val])
    if not (np.isfinite(x_train).all() and np.isfinite(x_eval).all()):
        raise FloatingPointError(f"{backbone} ({source}) gave non-finite features at {img_size} px")
    k = len(data.classes)
    probs, converged = fit_probe(x_train, data.labels[train], x_eval, k, seed)
    scores = classification_metrics(data.labels[val], probs, data.classes)
    return {"weights": imagenet_row(pretrained) if pretrained else RANDOM_INIT, "backbone": backbone,
            "img_size": int(img_size), "seed": int(seed), "source": source, "C": PROBE_C,
            "val_accuracy": scores.accuracy, "val_macro_f1": scores.f1,
            "majority_floor": chance(data.labels[val], k)["majority_share"],
            "n_train": int(len(train)), "n_eval": int(len(val)), "n_features": int(x_train.shape[1]),
            "converged": converged, "seconds": time.perf_counter() - start}


def pixel_probe(data: FERData, max_train: int = 2000, max_eval: int = 1000, seed: int = 0) -> dict:
    """The same probe (standardised inputs, the same logistic regression) on the raw pixels of the same
    subsets (:func:`probe_indices`), in [0, 1]: the baseline features must beat to be worth anything for
    these faces. Returns the keys of :func:`frozen_linear_probe` that apply."""
    start = time.perf_counter()
    train, val = probe_indices(data, max_train, max_eval, seed)
    flat = lambda idx: data.images[idx].reshape(len(idx), -1).astype(np.float32) / 255.0  # noqa: E731
    k = len(data.classes)
    probs, converged = fit_probe(flat(train), data.labels[train], flat(val), k, seed)
    scores = classification_metrics(data.labels[val], probs, data.classes)
    return {"weights": RAW_PIXELS, "seed": int(seed), "C": PROBE_C, "val_accuracy": scores.accuracy,
            "val_macro_f1": scores.f1, "majority_floor": chance(data.labels[val], k)["majority_share"],
            "n_train": int(len(train)), "n_eval": int(len(val)), "n_features": int(np.prod(data.images.shape[1:])),
            "converged": converged, "seconds": time.perf_counter() - start}


def probe_table(data: FERData, backbone: str, pretrained: str, img_size: int, seeds: Sequence[int] = (0,),
                max_train: int = 2000, max_eval: int = 1000) -> pd.DataFrame:
    """Rows ``ImageNet (<pretrained>)``, ``random init`` (the same network) and ``raw pixels``
    (:func:`pixel_probe`): :func:`frozen_linear_probe`'s
    validation accuracy, macro-F1 and majority floor in percent, the subset sizes, and seconds, each the
    mean over ``seeds`` (a seed draws both subsets and the random initialisation; within a seed both
    rows see the same images; ``seconds`` is per seed). The per-seed records are in ``table.attrs["runs"]``."""
    if not pretrained:
        raise ValueError("probe_table compares shipped ImageNet weights with random init; pretrained must name "
                         f"them: {', '.join(imagenet.SHIPPED)} (fernb/models/imagenet.py)")
    if not seeds:
        raise ValueError("probe_table needs at least one seed")
    runs = [run for seed in seeds for run in
            (*(frozen_linear_probe(data, backbone, weights, img_size, max_train, max_eval, seed)
               for weights in (pretrained, None)), pixel_probe(data, max_train, max_eval, seed))]
    keys = ("val_accuracy", "val_macro_f1", "majority_floor", "n_train", "n_eval", "seed", "seconds")
    how = ("mean", "mean", "mean", "first", "first", "nunique", "mean")   # a seed's sizes are the same for both rows
    table = pd.DataFrame(runs).groupby("weights", sort=False).agg(
        **{column: (key, f) for column, key, f in zip(PROBE_COLUMNS, keys, how)})
    table[list(PROBE_COLUMNS[:3])] *= 100.0
    table.index.name = f"{backbone} features at {img_size} px"
    table.attrs["runs"] = runs
    return table


def probe_text(table: pd.DataFrame) -> str:
    """One Markdown paragraph from :func:`probe_table`'s numbers: which features win, and by how much."""
    rows = list(table.index)
    ours = next((r for r in rows if r not in (RANDOM_INIT, RAW_PIXELS)), None)
    if ours is None or RANDOM_INIT not in rows:
        raise ValueError(f"probe_text needs an ImageNet row and a {RANDOM_INIT!r} row, got {rows}")
    acc, f1, floor = PROBE_COLUMNS[:3]
    a, r = table.loc[ours], table.loc[RANDOM_INIT]
    gap, gap_f1 = a[acc] - r[acc], a[f1] - r[f1]
    n_train, n_eval, seeds = (int(a[c]) for c in PROBE_COLUMNS[3:6])
    where = (f"{n_train:,} training and {n_eval:,} validation images of {table.index.name}, "
             f"{'one seed' if seeds == 1 else f'mean of {seeds} seeds'}")
    if gap > 0 and gap_f1 > 0:
        verdict = (f"The ImageNet weights are features here: they beat random initialisation by "
                   f"**{gap:.1f} points** of accuracy and **{gap_f1:.1f} points** of macro-F1.")
    elif gap > 0 or gap_f1 > 0:
        verdict = (f"The evidence is mixed: the ImageNet features differ from random ones by {gap:+.1f} points of "
                   f"accuracy and {gap_f1:+.1f} points of macro-F1.")
    else:
        verdict = (f"The ImageNet weights do not beat random initialisation here ({gap:+.1f} points of accuracy, "
                   f"{gap_f1:+.1f} of macro-F1): on these faces they are not better features than random weights.")
    pixels = ""
    if RAW_PIXELS in rows:
        p = table.loc[RAW_PIXELS]
        pixels = (f" The same probe on the raw pixels reaches {p[acc]:.1f} % (macro-F1 {p[f1]:.1f} %): the ImageNet "
                  + (f"features add {a[acc] - p[acc]:.1f} points over the faces themselves."
                     if a[acc] > p[acc] else f"features do **not** beat the pixels here ({a[acc] - p[acc]:+.1f} "
                     "points): they are better than random weights, not yet better than the faces themselves."))
    return (f"A linear probe (standardised features, logistic regression) on the frozen, pooled features of "
            f"**{ours}** reaches **{a[acc]:.1f} %** validation accuracy (macro-F1 {a[f1]:.1f} %); on the same "
            f"network at **random init**, **{r[acc]:.1f} %** ({r[f1]:.1f} %), against a floor of {a[floor]:.1f} % "
            f"for always answering the largest class ({where}). {verdict}{pixels}")


def nothing_to_probe(pretrained) -> str:
    """The line notebook 01 prints when ``hafem.pretrained`` names no shipped ImageNet weights."""
    if not pretrained:
        return ("This run trains its backbone from scratch (hafem.pretrained: false): there are no ImageNet weights "
                "to probe.")
    return (f"hafem.pretrained is {pretrained!r}, not weights fernb ships ({', '.join(imagenet.SHIPPED)}): the "
            f"feature probe covers the shipped weights only.")
