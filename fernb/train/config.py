"""Every knob of a training run (:class:`TrainConfig`), its validation and fingerprint.

The recipes in :mod:`fernb.train.recipes` fill it from ``params.yaml``; a checkpoint carries
its fingerprint, so a resumed run must have been started with the same values.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from fernb.jsonio import json_safe

__all__ = ["TrainConfig", "MONITORS"]

MONITORS = ("val_loss", "val_accuracy", "val_balanced_accuracy", "val_precision", "val_recall", "val_f1",
            "val_macro_f1", "val_auc")
_MONITOR_ALIASES = {"val_macro_f1": "val_f1"}


@dataclass
class TrainConfig:
    """Every knob of a training run; the recipes in :mod:`fernb.recipes` fill it from params.yaml.

    Saved with each checkpoint; a resumed run must have the same values (apart from
    ``progress``, ``device`` and ``device_cache_gb``, which do not change the result).
    """

    epochs: int = 10
    batch_size: int = 64                  # per process under DDP
    eval_batch_size: int = 256
    # optimiser
    optimizer: str = "adamw"              # adamw | adam | sgd
    lr: float = 1e-3                      # the head's rate when layer_decay is set
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    layer_decay: float | None = None      # LLRD factor (HAFEM 0.9); needs model.layer_groups()
    # schedule
    scheduler: str = "none"               # cosine (warm-up + cosine, timm) | plateau (ReduceLROnPlateau) | none
    warmup_epochs: int = 0                # epochs' worth of optimiser steps (the schedule advances every step)
    warmup_lr: float = 1e-6
    min_lr: float = 0.0
    plateau_factor: float = 0.1
    plateau_patience: int = 8
    plateau_threshold: float = 1e-4
    plateau_monitor: str = "val_loss"
    # selection and stopping
    monitor: str = "val_macro_f1"
    patience: int | None = None           # early stopping; None = off
    min_delta: float = 0.0
    final_weights: str = "best"           # best (best.pt) | last: which weights are evaluated and saved
    # loss
    loss: str = "ce"                      # ce | compound
    label_smoothing: float = 0.0
    loss_weights: tuple[float, float, float] = (0.6, 0.25, 0.15)
    dls_eps: float = 0.1
    center_mixed: str = "dominant"
    center_update: str = "wen"
    center_lr: float = 0.5
    # data
    augment: str = "none"                 # none | hafem (online, batched on the device, + Mixup)
    augment_options: dict = field(default_factory=dict)
    offline_x4: bool = False              # LANMSFF's offline x4 training set
    offline_size: int | None = None       # side of the offline set (None = the model's input size)
    scaling: str = "range"                # range: x/255 | image: per-image min-max to [0, 1]
    max_train: int | None = None          # stratified subset of the training split (CPU-sized runs)
    init_from: str | None = None          # fine-tuning: start from a finished run's weights (a model.pt or its run
                                          # folder, fernb.runs.find_checkpoint); the head is re-initialised when the
                                          # class set differs (fernb.train.loop.initialise_from)
    # numerics and hardware
    amp: str = "auto"                     # auto (fernb.train.numerics: GPU rule, CPU probe) | bf16 | fp16 | off
    grad_clip: float | None = None        # max global grad norm
    channels_last: str = "auto"           # auto (GPU: on; CPU: the probe's choice) | on | off
    compile: bool = False                 # torch.compile the model
    sync_bn: bool = True                  # SyncBatchNorm under DDP
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"                  # auto | cpu | cuda | cuda:1 | mps
    device_cache_gb: float = 4.0          # keep the training images on the GPU up to this size
    progress: bool = True

    NOT_IN_FINGERPRINT = ("progress", "device", "device_cache_gb")

    def __post_init__(self):
        self.betas = tuple(float(b) for b in self.betas)
        self.loss_weights = tuple(float(w) for w in self.loss_weights)
        choices = {"optimizer": ("adamw", "adam", "sgd"), "scheduler": ("cosine", "plateau", "none"),
                   "final_weights": ("best", "last"), "loss": ("ce", "compound"), "augment": ("none", "hafem"),
                   "scaling": ("range", "image"), "amp": ("auto", "bf16", "fp16", "off"),
                   "channels_last": ("auto", "on", "off")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"TrainConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("monitor", "plateau_monitor"):
            if getattr(self, name) not in MONITORS:
                raise ValueError(f"TrainConfig.{name} must be one of {MONITORS}, got {getattr(self, name)!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError(f"epochs, batch_size and eval_batch_size must be positive, got "
                             f"{self.epochs}, {self.batch_size}, {self.eval_batch_size}")
        if self.scheduler == "cosine" and not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"warmup_epochs must be in [0, epochs), got {self.warmup_epochs} of {self.epochs}")
        if self.max_train is not None and self.max_train < 1:
            raise ValueError(f"max_train must be a positive number of images or None, got {self.max_train}")

    @property
    def monitor_mode(self) -> str:
        return "min" if self.monitor == "val_loss" else "max"

    def as_dict(self) -> dict:
        return json_safe(dataclasses.asdict(self))

    def fingerprint(self) -> str:
        """A hash of everything that changes the result (not progress bars or device choice)."""
        values = {k: v for k, v in self.as_dict().items() if k not in self.NOT_IN_FINGERPRINT}
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
