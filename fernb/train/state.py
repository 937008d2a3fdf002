"""What a run must save to resume exactly: seeds and RNG states, early stopping, atomic saves."""
from __future__ import annotations

import math
import os
import random
from pathlib import Path

import numpy as np
import torch

__all__ = ["seed_everything", "rng_state", "set_rng_state", "EarlyStopping", "atomic_torch_save"]


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch; ``deterministic`` also makes torch refuse
    non-deterministic kernels (and sets the cuBLAS workspace that requires)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


def rng_state() -> dict:
    np_state = np.random.get_state()
    return {
        "python": list(_tuple_to_lists(random.getstate())),
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _tuple_to_lists(value):
    return [_tuple_to_lists(v) for v in value] if isinstance(value, (tuple, list)) else value


def _lists_to_tuple(value):
    return tuple(_lists_to_tuple(v) for v in value) if isinstance(value, list) else value


def set_rng_state(state: dict) -> None:
    random.setstate(_lists_to_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class EarlyStopping:
    """Track the best value of a monitored metric and say when to stop.

    ``step(value)`` returns True when ``value`` improves on the best by more than
    ``min_delta`` (Keras' rule: ``value < best − min_delta`` for ``mode="min"``), and sets
    :attr:`should_stop` once ``patience`` epochs in a row brought no improvement
    (``patience=None`` never stops). NaN never improves.
    """

    def __init__(self, mode: str = "max", patience: int | None = None, min_delta: float = 0.0):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be a positive number of epochs or None, got {patience}")
        self.mode, self.patience, self.min_delta = mode, patience, abs(float(min_delta))
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.bad_epochs = 0
        self.epoch = -1

    def step(self, value: float) -> bool:
        self.epoch += 1
        value = float(value)
        if math.isnan(value):
            better = False
        elif self.best is None:
            better = True
        elif self.mode == "min":
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best, self.best_epoch, self.bad_epochs = value, self.epoch, 0
        else:
            self.bad_epochs += 1
        return better

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_epochs >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.bad_epochs, self.epoch = state["bad_epochs"], state["epoch"]


def atomic_torch_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)
