"""Training: one resumable trainer for both papers' recipes.

- :mod:`.config` — :class:`TrainConfig`, every knob of a run;
- :mod:`.loop` — :func:`train_run`: :func:`~.loop.prepare` → :func:`~.loop.fit` (epochs) → :func:`~.loop.finish`;
- :mod:`.optim` — optimisers with layer-wise LR decay, per-step warm-up + cosine, per-epoch plateau schedules;
- :mod:`.numerics` — channels-last and autocast, chosen per model by a timed probe on the CPU;
- :mod:`.feed` — epoch permutations, DDP shards, stratified CPU-sized subsets, device-side batches;
- :mod:`.state` — seeds, RNG states, early stopping, atomic checkpoints;
- :mod:`.dist` — DDP under ``torchrun``;
- :mod:`.losses` — cross-entropy and HAFEM's compound loss (CE + centre + DLS);
- :mod:`.augment` — HAFEM's online augmentation + Mixup, LANMSFF's offline ×4 set;
- :mod:`.recipes` — both papers' recipes from ``params.yaml`` sections;
- :mod:`.ablations` — both papers' ablation ladders as data, every variant × seed a cached run;
- :mod:`.search` — Optuna's TPE search over a recipe's knobs, on validation data only.

What a finished run leaves, and how later notebooks read it, is :mod:`fernb.runs`.
Under ``torchrun``: ``torchrun --nproc_per_node=N -m fernb.train STAGE`` (:mod:`fernb.train.__main__`).
"""
from .config import MONITORS, TrainConfig
from .feed import epoch_permutation, shard, steps_per_epoch, stratified_subset
from .loop import train_run
from .numerics import Numerics, choose_numerics
from .optim import build_optimizers, build_scheduler, schedule_step
from .state import EarlyStopping, seed_everything

__all__ = ["TrainConfig", "MONITORS", "train_run", "build_optimizers", "build_scheduler", "EarlyStopping",
           "seed_everything", "epoch_permutation", "shard", "stratified_subset", "steps_per_epoch", "schedule_step",
           "Numerics", "choose_numerics"]
