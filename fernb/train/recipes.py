"""The two papers' training recipes, read from a notebook's parameters.

A recipe is a model name, its constructor knobs, a :class:`fernb.train.TrainConfig` and the
seeds to run. :func:`hafem` and :func:`lanmsff` build one from the parameters that
``dvc.yaml`` gives stage 01 or 02 (``params.yaml`` sections ``hafem`` / ``lanmsff`` and the
shared ``train``); each paper's stated values are :data:`fernb.papers.STATED_RECIPES`
(:data:`fernb.papers.hafem.RECIPE`, :data:`fernb.papers.lanmsff.RECIPE`), so that a notebook can
show where the run departs from the paper (:func:`settings_versus_paper`) (the CPU default does, on purpose) and a GPU box can
run the paper's scale with one command (``make paper``, see the README).

HAFEM (§3, training strategy): AdamW (0.9, 0.999), ε 1e-8, weight decay 5e-4, layer-wise LR
decay 0.9, 10 warm-up epochs then cosine from 1e-3 to 1e-6 over 140 epochs, early stopping
with patience 20 on validation macro-F1, the compound loss (0.60 CE + 0.25 centre + 0.15
DLS), the six augmentation ops with the paper's probabilities plus Mixup (p 0.4, α 0.4),
mixed precision. The paper states no batch size (the workbook uses 64), says "from 1e-3 to
1e-6" for the warm-up (read as: warm up linearly from 1e-6 to the peak 1e-3, then decay to
1e-6), and gives no validation split for FER2013 (the standard PublicTest is used).

LANMSFF (the official code's training script, as :mod:`fernb.models.lanmsff` documents it): the offline ×4 set, Adam lr 1e-3 ε 1e-7,
categorical cross-entropy, batch 32, at most 100 epochs, ReduceLROnPlateau on the validation
loss (factor 0.1, Keras patience 9 = PyTorch 8, absolute threshold 1e-4), early stopping on
the validation loss with patience 14 and the *last* weights kept (Keras'
``restore_best_weights=False``), min-max input scaling. Unlike the official code, the
validation fold that drives those decisions is never the one whose accuracy is reported.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import timm
import torch

from fernb.papers import STATED_RECIPES, same_as_stated, versus_paper
from fernb.runs import RunResult, run_dir, write_manifest
from fernb.train.config import TrainConfig
from fernb.train.loop import train_run

__all__ = ["Recipe", "hafem", "lanmsff", "RECIPES", "TRAINING_STAGES", "settings_versus_paper", "effective_values",
           "run_recipe", "backbone_width", "scratch_twin"]

HAFEM_MODEL_KEYS = ("backbone", "pretrained", "img_size", "use_cbam", "cbam_placement", "use_transformer",
                    "num_layers", "d_model", "num_heads", "d_ff", "pool", "head_dropout", "drop_path_rate")
LANMSFF_MODEL_KEYS = ("img_size", "use_massatt", "use_pwfs", "drop_rate", "bn_momentum")
TRAIN_KEYS = ("device", "amp", "deterministic", "device_cache_gb", "progress", "grad_clip", "channels_last",
              "compile")

@dataclass
class Recipe:
    """A model, its knobs, the training configuration and the seeds to run it with."""

    name: str                      # "hafem" | "lanmsff"
    model: str                     # fernb.models name
    model_kwargs: dict
    config: TrainConfig
    seeds: list[int]
    notes: list[str] = dataclasses.field(default_factory=list)
    folder: str | None = None      # the runs' folder under runs/<stage>/ when not the model's name (a twin)

    def config_for(self, seed: int) -> TrainConfig:
        return dataclasses.replace(self.config, seed=int(seed))

    def values(self) -> dict:
        """Every knob of the run by name (model knobs and training config)."""
        return {**self.model_kwargs, **self.config.as_dict()}


def _pick(params: dict, keys: Sequence[str], where: str) -> dict:
    missing = [k for k in keys if k not in params]
    if missing:
        raise KeyError(f"{where}: parameters {missing} are missing")
    return {k: params[k] for k in keys}


def _only(section: dict, keys: Sequence[str], where: str) -> dict:
    """``section`` restricted to ``keys``, every one of them present, and nothing else in it."""
    unknown = sorted(set(section) - set(keys))
    if unknown:
        raise KeyError(f"{where}: unknown parameters {unknown}; it takes {sorted(keys)}")
    return _pick(section, keys, where)


def _seeds(params: dict) -> list[int]:
    seeds = params.get("seeds", [0])
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct integers, got {seeds}")
    return [int(s) for s in seeds]


def hafem(params: dict, train: dict) -> Recipe:
    """HAFEM's recipe from ``params.yaml``'s ``hafem`` section and the shared ``train`` section
    (hardware and numerics), as stage 01 receives them."""
    params = {**params, **_only(train, TRAIN_KEYS, "train")}
    config = TrainConfig(
        epochs=params["epochs"], batch_size=params["batch_size"], eval_batch_size=params.get("eval_batch_size", 256),
        optimizer="adamw", lr=params["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=params["weight_decay"],
        layer_decay=params["layer_decay"], scheduler="cosine", warmup_epochs=params["warmup_epochs"],
        warmup_lr=params["min_lr"], min_lr=params["min_lr"], monitor="val_macro_f1", patience=params["patience"],
        final_weights="best", loss=params["loss"], loss_weights=tuple(params["loss_weights"]),
        dls_eps=params["dls_eps"], center_mixed=params["center_mixed"], augment=params["augment"],
        augment_options=dict(params.get("augment_options") or {}), max_train=params["max_train"],
        init_from=params.get("init_from"), seed=_seeds(params)[0], **_pick(params, TRAIN_KEYS, "train"))
    return _recipe("hafem", _pick(params, HAFEM_MODEL_KEYS, "hafem"), config, params)


def scratch_twin(params: dict, train: dict) -> Recipe | None:
    """The from-scratch twin of stage 01's HAFEM (HAFEM §3's ImageNet pretraining, measured): ``params.yaml``'s ``hafem`` section
    with its ``scratch_twin`` overrides applied (e.g. the ResNet-10-T from random weights at 48 px
    that stood in for the pretrained EfficientNet before), run with the same seeds into
    ``runs/01_hafem/hafem_scratch/`` so that notebook 01 can pair the two over seeds and images;
    None when ``scratch_twin`` is null. The overrides must turn the ImageNet weights off: a twin
    that is pretrained too would measure something else."""
    overrides = params.get("scratch_twin")
    if not overrides:
        return None
    unknown = sorted(set(overrides) - set(params) - {"seeds"})
    if unknown:
        raise KeyError(f"hafem.scratch_twin: unknown parameters {unknown}; it takes hafem's keys")
    merged = {**params, **overrides, "scratch_twin": None}
    if merged.get("pretrained"):
        raise ValueError(f"hafem.scratch_twin must train from random weights (pretrained: false); it would start from "
                         f"{merged['pretrained']!r}")
    recipe = hafem(merged, train)
    return dataclasses.replace(recipe, folder="hafem_scratch")


def lanmsff(params: dict, train: dict) -> Recipe:
    """LANMSFF's recipe from ``params.yaml``'s ``lanmsff`` section and the shared ``train`` section
    (hardware and numerics), as stage 02 receives them."""
    params = {**params, **_only(train, TRAIN_KEYS, "train")}
    config = TrainConfig(
        epochs=params["epochs"], batch_size=params["batch_size"], eval_batch_size=params.get("eval_batch_size", 256),
        optimizer="adam", lr=params["lr"], betas=(0.9, 0.999), eps=params["eps"], weight_decay=0.0,
        scheduler="plateau", plateau_factor=0.1, plateau_patience=params["plateau_patience"], plateau_threshold=1e-4,
        plateau_monitor="val_loss", monitor="val_loss", patience=params["patience"], final_weights="last",
        loss="ce", offline_x4=params["offline_x4"], scaling=params["scaling"], max_train=params["max_train"],
        init_from=params.get("init_from"), seed=_seeds(params)[0], **_pick(params, TRAIN_KEYS, "train"))
    return _recipe("lanmsff", _pick(params, LANMSFF_MODEL_KEYS, "lanmsff"), config, params)


def _recipe(name: str, model_kwargs: dict, config: TrainConfig, params: dict) -> Recipe:
    """The recipe ``name`` (also its fernb.models name), with its departures from the paper."""
    return Recipe(name, name, model_kwargs, config, _seeds(params), _notes(name, {**model_kwargs, **config.as_dict()}))


# The training stages, the params.yaml section each reads its recipe from, and the recipe.
RECIPES = {"hafem": hafem, "lanmsff": lanmsff}
TRAINING_STAGES = {"01_hafem": "hafem", "02_lanmsff": "lanmsff"}


@functools.cache
def backbone_width(name: str) -> int:
    """The channels of a timm backbone's last feature map (built on the meta device: no
    weights, no download)."""

    with torch.device("meta"):
        return int(timm.create_model(name, pretrained=False, num_classes=0).num_features)


def _effective(values: dict) -> dict:
    """Values as the model builds them: lists as tuples, HAFEM's ``d_model=None`` as the
    backbone's width (:func:`backbone_width`) and ``d_ff=None`` as twice ``d_model``."""
    out = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    if "d_model" in out and out["d_model"] is None:
        out["d_model"] = backbone_width(out["backbone"]) if out.get("backbone") else "the backbone's width"
    if "d_ff" in out and out["d_ff"] is None:
        out["d_ff"] = 2 * out["d_model"] if isinstance(out["d_model"], int) else "2 x d_model"
    return out


def effective_values(recipe: Recipe) -> dict:
    """This run's value of every knob, as the model builds it (:func:`_effective`)."""
    return _effective(recipe.values())


def _notes(name: str, values: dict) -> list[str]:
    """Where this run departs from what the paper states (one sentence each; the numeric
    precision mode is left out: ``auto`` picks bf16 where the GPU has it)."""
    values = _effective(values)
    return [f"{key} = {values[key]!r} (the paper: "
            + ("none of them changed, each as the paper states it" if stated == {} else repr(stated)) + ")"
            for key, stated in STATED_RECIPES[name].items()
            if key in values and key != "amp" and same_as_stated(values[key], stated) == "no"]


def settings_versus_paper(recipe: Recipe) -> pd.DataFrame:
    """One row per setting the paper states: the paper's value, this run's (``"—"`` for a
    setting the run does not have) and whether they agree (:func:`fernb.papers.versus_paper`)."""
    stated = STATED_RECIPES[recipe.name]
    values = effective_values(recipe)
    ours = {key: values.get(key, "—") for key in stated}
    return versus_paper(stated, ours, key="setting", columns=("paper", "this run"), compare="same",
                        not_stated="not stated")


def run_recipe(stage: str, recipe: Recipe, data, *, root: str | os.PathLike | None = None,
               live_root: str | os.PathLike | None = None) -> list[RunResult]:
    """Train (or resume, or load when finished) every seed of ``recipe`` on ``data``; the
    runs land in ``runs/<stage>/<model>/seed<k>``, DVCLive logs in ``live_root/seed<k>``, and
    ``runs/<stage>/runs.json`` records them as what the stage trained (:mod:`fernb.runs`).
    A recipe with its own ``folder`` (:func:`scratch_twin`) lands in ``runs/<stage>/<folder>/``
    and stays out of ``runs.json``: the stage's model is the recipe's, not its twin."""
    results = []
    for seed in recipe.seeds:
        live = Path(live_root) / f"seed{seed}" if live_root is not None else None
        results.append(train_run(recipe.model, recipe.model_kwargs, data, recipe.config_for(seed),
                                 run_dir(stage, recipe.folder or recipe.model, seed, root), live_dir=live))
    if recipe.folder is None and int(os.environ.get("RANK", 0)) == 0:
        write_manifest(stage, results, root)
    return results
