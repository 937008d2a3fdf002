"""Optimisers (with layer-wise LR decay) and learning-rate schedules of both recipes."""
from __future__ import annotations

import torch
import torch.nn as nn
from timm.scheduler import CosineLRScheduler

from fernb.models.common import layer_decay_param_groups
from fernb.train.config import TrainConfig

__all__ = ["build_optimizers", "build_scheduler", "schedule_step"]


def build_optimizers(model: nn.Module, loss: nn.Module, config: TrainConfig
                     ) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer | None]:
    """The model's optimiser (LLRD groups when ``layer_decay`` is set) and, when the loss has
    parameters (the centre loss's centres), their own plain SGD optimiser.

    The centres get Wen et al.'s update ``c ← c − α·Δc`` (:class:`fernb.losses.CenterLoss`),
    which plain SGD performs exactly; it is stepped outside the ``GradScaler``, whose
    ``unscale_`` would otherwise divide an unscaled ``Δc`` by the loss scale.
    """
    if config.layer_decay is not None:
        groups = layer_decay_param_groups(model, config.lr, config.layer_decay, config.weight_decay)
        for group in groups:          # timm's schedulers multiply the base rate by lr_scale
            group["initial_lr"] = config.lr
    else:
        decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim > 1]
        plain = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim <= 1]
        groups = [dict(name="weights", params=decay, weight_decay=config.weight_decay),
                  dict(name="no_decay", params=plain, weight_decay=0.0 if config.optimizer == "adamw" else config.weight_decay)]
        groups = [g for g in groups if g["params"]]
    if config.optimizer == "adamw":
        optimizer = torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, eps=config.eps)
    elif config.optimizer == "adam":   # Adam's weight_decay is L2 in the gradient (Keras' kernel_regularizer-like)
        optimizer = torch.optim.Adam(groups, lr=config.lr, betas=config.betas, eps=config.eps)
    else:
        optimizer = torch.optim.SGD(groups, lr=config.lr, momentum=config.betas[0], nesterov=True)
    loss_groups = loss.param_groups() if hasattr(loss, "param_groups") else []
    center_optimizer = torch.optim.SGD(loss_groups, lr=loss_groups[0]["lr"]) if loss_groups else None
    return optimizer, center_optimizer


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int = 1):
    """The learning-rate schedule of ``config.scheduler``.

    ``cosine``: timm's ``CosineLRScheduler`` advanced every optimiser step (``t_in_epochs=False``,
    :func:`schedule_step`), the paper's epoch counts turned into steps (HAFEM §3: 10 of 140
    epochs of warm-up are ``10 · steps_per_epoch`` steps). Step 0 trains at ``warmup_lr``; the
    rate rises linearly to ``lr``, reached on the last warm-up step; a cosine then falls to
    ``min_lr``, reached on the run's last step. Every rate is times its group's ``lr_scale``
    (LLRD). ``plateau``: PyTorch's ``ReduceLROnPlateau`` on ``plateau_monitor``, stepped once
    per epoch as Keras does (Keras' ``ReduceLROnPlateau(patience=p+1)`` is PyTorch's
    ``patience=p`` with an absolute threshold, as :mod:`fernb.train.recipes` explains).
    ``none``: constant."""
    if config.scheduler == "cosine":
        total = config.epochs * steps_per_epoch
        # timm's warm-up reaches the peak at step warmup_t, where its cosine starts (warmup_prefix):
        # warmup_t = W - 1 puts the peak on the W-th (last) warm-up step, and a cosine of
        # total - 1 - warmup_t steps ends at min_lr on the last step.
        warmup_t = max(config.warmup_epochs * steps_per_epoch - 1, 0)
        return CosineLRScheduler(optimizer, t_initial=max(total - 1 - warmup_t, 1), lr_min=config.min_lr,
                                 warmup_t=warmup_t, warmup_lr_init=config.warmup_lr,
                                 warmup_prefix=True, t_in_epochs=False)
    if config.scheduler == "plateau":
        mode = "min" if config.plateau_monitor == "val_loss" else "max"
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=config.plateau_factor, patience=config.plateau_patience,
            threshold=config.plateau_threshold, threshold_mode="abs")
    return None


def schedule_step(scheduler, step: int) -> None:
    """Set the rates of optimiser step ``step`` (0-based, counted over the whole run) for a
    per-step schedule; ReduceLROnPlateau and a constant rate do nothing here."""
    if scheduler is not None and not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step_update(step)
