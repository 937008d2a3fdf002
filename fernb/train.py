"""One trainer for both papers' recipes: resumable, mixed precision, GPU-fed, DDP-ready.

>>> config = TrainConfig(epochs=5, batch_size=32, optimizer="adam", scheduler="plateau", monitor="val_loss")
>>> result = train_run("lanmsff", {"img_size": 48}, data, config, run_dir("02_lanmsff", "lanmsff", 0))
>>> result.test.accuracy, result.history.tail()

What one run does (:func:`train_run`):

1. **Data on the device.** The uint8 images of the training split go to the training device
   once (FER2013's 28,709 faces are 66 MB); each batch is an index into them. Augmentation
   (:class:`fernb.augment.HAFEMAugment`) runs batched on that device, after the batch is
   scaled to [0, 1] and resized to the network's input size, so the paper's pixel sizes
   (10-px crop padding, 32-px Cutout at 224 px) mean what they say. Stores larger than
   ``device_cache_gb`` stay in (memory-mapped) host memory and are streamed in pinned
   batches by a prefetching thread.
2. **Each epoch**: train (autocast in bf16 where the GPU supports it, else fp16 with a
   ``GradScaler``; off on CPU), optional gradient clipping, the scheduler's step, then a
   validation pass giving the loss and every metric of :func:`fernb.metrics.classification_metrics`.
3. **Selection and stopping**: the ``monitor`` metric (``val_macro_f1``, ``val_loss``,
   ``val_accuracy``...) picks the best checkpoint (``best.pt``) and drives early stopping
   (:class:`EarlyStopping`).
4. **Checkpoint every epoch** (``checkpoint.pt``, written atomically): model, optimisers,
   scheduler, scaler, early-stopping state, history, the RNG states (Python, NumPy, torch
   CPU and CUDA) and the augmentation generator. Shuffling is a function of ``(seed,
   epoch)``. Calling :func:`train_run` again resumes from it, and in deterministic mode an
   interrupted run ends with the same weights as an uninterrupted one. A finished run with
   the same configuration is not trained again; a run directory holding another
   configuration's checkpoint is started afresh (the old files are replaced).
5. **Outputs** in ``runs/<stage>/<model>/seed<seed>/``: ``checkpoint.pt``, ``model.pt`` (the
   reported weights, loadable with :func:`fernb.models.load_model`), ``history.csv``,
   ``predictions.csv`` (one row per validation and test sample: probabilities, label,
   split, dataset, pose, source id: what statistics and audits read instead of re-running
   models), ``result.json`` (config, metrics, timings, environment).
6. **Logging**: a tqdm bar per epoch and one line per epoch; per-epoch metrics through
   DVCLive (``live_dir``) so that ``dvc plots`` and ``dvc exp show`` see them.

Distributed (``torchrun --nproc_per_node=N -m fernb.train STAGE``): the same function
under ``WORLD_SIZE > 1`` initialises the process group (NCCL on GPUs, gloo on CPU), wraps
the model in ``DistributedDataParallel`` (``sync_bn`` turns BatchNorm into SyncBatchNorm on
GPUs; PyTorch has no CPU SyncBatchNorm, so gloo runs normalise per rank),
gives each rank a disjoint share of every epoch's permutation (the permutation padded to a
multiple of the world size, like ``DistributedSampler``), averages the centre-loss
gradients across ranks, gathers every rank's validation and test predictions before
computing metrics (so they are over exactly the whole split), and logs and writes
checkpoints on rank 0 only. ``batch_size`` is per process.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from fernb.data.core import FERData
from fernb.machine import environment
from fernb.metrics import Metrics, classification_metrics, predictions_frame
from fernb.paths import RUNS, project_root
from fernb.report import json_safe, write_json

__all__ = [
    "TrainConfig", "EarlyStopping", "RunResult", "train_run", "run_dir", "select_device", "amp_plan",
    "seed_everything", "build_optimizers", "build_scheduler", "epoch_permutation", "shard", "predict",
    "load_result", "seed_summary", "train_stage", "MONITORS", "CHECKPOINT", "MODEL", "HISTORY", "PREDICTIONS", "RESULT",
]

CHECKPOINT, MODEL, BEST, HISTORY, PREDICTIONS, RESULT = (
    "checkpoint.pt", "model.pt", "best.pt", "history.csv", "predictions.csv", "result.json")
MONITORS = ("val_loss", "val_accuracy", "val_balanced_accuracy", "val_precision", "val_recall", "val_f1",
            "val_macro_f1", "val_auc")
_MONITOR_ALIASES = {"val_macro_f1": "val_f1"}


# ------------------------------------------------------------------------------ config
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
    warmup_epochs: int = 0
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
    # numerics and hardware
    amp: str = "auto"                     # auto | bf16 | fp16 | off
    grad_clip: float | None = None        # max global grad norm
    channels_last: str = "auto"           # auto (CUDA) | on | off
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


def run_dir(stage: str, model: str, seed: int, root: str | os.PathLike | None = None) -> Path:
    """``runs/<stage>/<model>/seed<seed>`` under the project root: one predictable folder per run."""
    root = Path(root) if root is not None else project_root()
    return root / RUNS / stage / model.replace("/", "_") / f"seed{seed}"


# --------------------------------------------------------------------- device and numerics
def select_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when present (the local rank's GPU under torchrun), else Apple MPS, else CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} asked for, but torch sees no CUDA GPU (torch {torch.__version__})")
    return device


def amp_plan(device: torch.device, amp: str = "auto") -> tuple[bool, torch.dtype | None, bool]:
    """``(autocast on, its dtype, GradScaler on)`` for ``amp`` on ``device``.

    ``auto``: bf16 on a GPU that supports it (no scaler needed: bf16 has float32's range),
    else fp16 with gradient scaling (HAFEM's "mixed precision with gradient scaling");
    off on CPU and MPS, where autocast is slower than float32 on most machines.
    """
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return False, None, False
    if amp == "auto":
        amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if amp == "bf16":
        return True, torch.bfloat16, False
    if amp == "fp16":
        return True, torch.float16, device.type == "cuda"
    raise ValueError(f"amp must be auto, bf16, fp16 or off, got {amp!r}")


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


def _rng_state() -> dict:
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


def _set_rng_state(state: dict) -> None:
    random.setstate(_lists_to_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ----------------------------------------------------------------------- early stopping
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


# ------------------------------------------------------------------- optimiser, schedule
def build_optimizers(model: nn.Module, loss: nn.Module, config: TrainConfig
                     ) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer | None]:
    """The model's optimiser (LLRD groups when ``layer_decay`` is set) and, when the loss has
    parameters (the centre loss's centres), their own plain SGD optimiser.

    The centres get Wen et al.'s update ``c ← c − α·Δc`` (:class:`fernb.losses.CenterLoss`),
    which plain SGD performs exactly; it is stepped outside the ``GradScaler``, whose
    ``unscale_`` would otherwise divide an unscaled ``Δc`` by the loss scale.
    """
    from fernb.models.common import layer_decay_param_groups

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


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig):
    """``cosine``: timm's ``CosineLRScheduler``, linear warm-up from ``warmup_lr`` to ``lr`` over
    ``warmup_epochs``, then cosine to ``min_lr`` at the last epoch, stepped per epoch with
    the epoch index (so epoch ``warmup_epochs`` trains at ``lr`` and the schedule reaches
    ``min_lr`` at ``epochs``); every rate times its group's ``lr_scale`` (LLRD).
    ``plateau``: PyTorch's ``ReduceLROnPlateau`` on ``plateau_monitor`` (Keras'
    ``ReduceLROnPlateau(patience=p+1)`` is PyTorch's ``patience=p`` with an absolute
    threshold, see the LANMSFF spec). ``none``: constant."""
    if config.scheduler == "cosine":
        from timm.scheduler import CosineLRScheduler

        return CosineLRScheduler(optimizer, t_initial=config.epochs - config.warmup_epochs, lr_min=config.min_lr,
                                 warmup_t=config.warmup_epochs, warmup_lr_init=config.warmup_lr,
                                 warmup_prefix=True, t_in_epochs=True)
    if config.scheduler == "plateau":
        mode = "min" if config.plateau_monitor == "val_loss" else "max"
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=config.plateau_factor, patience=config.plateau_patience,
            threshold=config.plateau_threshold, threshold_mode="abs")
    return None


def _scheduler_epoch_start(scheduler, epoch: int) -> None:
    if scheduler is not None and not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(epoch)


# ------------------------------------------------------------------------------- data
def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order of epoch ``epoch``: a function of ``(seed, epoch)`` only, so a resumed run
    shuffles exactly as an uninterrupted one without saving sampler state."""
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    return torch.randperm(n, generator=g)


def shard(indices: torch.Tensor, rank: int, world: int, pad: bool = True) -> torch.Tensor:
    """Rank ``rank``'s share of ``indices``: every ``world``-th from ``rank``. ``pad`` repeats
    the first indices so every rank gets the same count (as ``DistributedSampler``)."""
    if world == 1:
        return indices
    if pad and len(indices) % world:
        extra = world - len(indices) % world
        indices = torch.cat([indices, indices[:extra]])
    return indices[rank::world]


def _stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices drawn per class in proportion to the class sizes (largest remainders), and
    at least one of every class: when the minimum of one pushes the total over ``n``, the
    largest classes give the extra back, so the total is ``n`` (or the class count, when
    ``n`` is smaller than that)."""
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    share = counts * n / len(labels)
    take = np.maximum(1, np.floor(share)).astype(int)
    order = np.argsort(-(share - take))
    for i in order[: max(0, n - int(take.sum()))]:
        take[i] += 1
    while take.sum() > n and (take > 1).any():   # the one-per-class minimum overshot n
        take[int(np.argmax(np.where(take > 1, take - share, -np.inf)))] -= 1
    picked = [rng.choice(np.flatnonzero(labels == c), size=min(t, cnt), replace=False)
              for c, t, cnt in zip(classes, take, counts)]
    return np.sort(np.concatenate(picked))


class _Batches:
    """Batches ``(uint8 images, labels)`` on ``device`` from a uint8 array, in a given order.

    Small sets live on the device (one index_select per batch); larger ones are gathered
    on the host, pinned, and copied ahead of use by a background thread.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, device: torch.device, cache_gb: float):
        self.device, self.n = device, len(labels)
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)
        self.on_device = images.nbytes <= cache_gb * 2**30
        self.host = images
        self.images = torch.from_numpy(np.ascontiguousarray(images)).to(device) if self.on_device else None

    def _host_batch(self, idx: torch.Tensor) -> torch.Tensor:
        order = np.sort(idx.numpy())                      # sorted reads are kinder to a memory map
        x = torch.from_numpy(np.ascontiguousarray(self.host[order]))
        inverse = torch.from_numpy(np.argsort(np.argsort(idx.numpy())))
        x = x[inverse]
        if self.device.type == "cuda":
            x = x.pin_memory()
        return x.to(self.device, non_blocking=True)

    def __call__(self, order: torch.Tensor, batch_size: int, drop_single: bool = False) -> Iterator[tuple]:
        chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        if drop_single and chunks and len(chunks[-1]) == 1 and len(chunks) > 1:
            chunks = chunks[:-1]          # a batch of one breaks BatchNorm in training
        if self.on_device:
            for idx in chunks:
                idx_d = idx.to(self.device)
                yield self.images.index_select(0, idx_d), self.labels.index_select(0, idx_d)
            return
        q: queue.Queue = queue.Queue(maxsize=3)

        def produce():
            try:
                for idx in chunks:
                    q.put((self._host_batch(idx), self.labels.index_select(0, idx.to(self.device))))
            except BaseException as err:  # surface it in the consumer
                q.put(err)
            q.put(None)

        threading.Thread(target=produce, daemon=True).start()
        while (item := q.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item


def _to_input(x: torch.Tensor, size: tuple[int, int] | None, scaling: str, channels_last: bool) -> torch.Tensor:
    """uint8 ``(N, H, W[, 3])`` → float ``(N, C, h, w)`` in [0, 1] at the network's input size."""
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
    x = x.float()
    if scaling == "range":
        x = x / 255.0
    else:   # per-image min-max
        low = x.amin(dim=(1, 2, 3), keepdim=True)
        high = x.amax(dim=(1, 2, 3), keepdim=True)
        x = (x - low) / (high - low).clamp_min(1.0)
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        shrinking = x.shape[-2] > size[0]
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrinking)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


# ------------------------------------------------------------------------ distributed
@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    started_here: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def all_sum(self, values: Sequence[float], device: torch.device) -> list[float]:
        if self.world == 1:
            return [float(v) for v in values]
        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
        torch.distributed.all_reduce(t)
        return t.tolist()

    def gather(self, obj):
        if self.world == 1:
            return [obj]
        out = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out


def _init_distributed(device_name: str) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world <= 1:
        return _Dist()
    import torch.distributed as dist

    started = False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and device_name != "cpu" else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend=backend)
        started = True
    return _Dist(rank=dist.get_rank(), world=dist.get_world_size(),
                 local_rank=int(os.environ.get("LOCAL_RANK", 0)), started_here=started)


# ------------------------------------------------------------------------------ results
@dataclass
class RunResult:
    """What :func:`train_run` leaves: the folder, history, metrics and per-sample predictions."""

    dir: Path
    history: pd.DataFrame
    val: Metrics
    test: Metrics
    predictions: pd.DataFrame
    info: dict

    @property
    def best_epoch(self) -> int | None:
        return self.info.get("best_epoch")


def _atomic_torch_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_result(directory: str | os.PathLike, classes: Sequence[str] | None = None) -> RunResult:
    """A finished run's :class:`RunResult`, read from its folder (no model is run)."""
    from fernb.metrics import metrics_from_frame

    directory = Path(directory)
    missing = [f for f in (RESULT, HISTORY, PREDICTIONS) if not (directory / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{directory} is not a finished run: {missing} missing")
    info = json.loads((directory / RESULT).read_text())
    classes = tuple(classes or info["classes"])
    frame = pd.read_csv(directory / PREDICTIONS, keep_default_na=False, na_values=[""])
    return RunResult(dir=directory, history=pd.read_csv(directory / HISTORY),
                     val=metrics_from_frame(frame[frame["split"] == "val"], classes),
                     test=metrics_from_frame(frame[frame["split"] == "test"], classes),
                     predictions=frame, info=info)


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, *, batch_size: int = 256, device: torch.device | None = None,
            scaling: str = "range", amp: str = "off", dist: _Dist | None = None,
            criterion: nn.Module | None = None, labels: np.ndarray | None = None) -> tuple[np.ndarray, float | None]:
    """Class probabilities ``(N, K)`` float64 for uint8 ``images`` (eval mode), and the mean
    ``criterion`` loss when ``criterion`` and ``labels`` are given.

    Under DDP each rank scores every ``world``-th image and the probabilities are gathered,
    so every rank returns all N rows in order.
    """
    dist = dist or _Dist()
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    use_amp, amp_dtype, _ = amp_plan(device, amp)
    mine = shard(torch.arange(len(images)), dist.rank, dist.world, pad=False)
    batches = _Batches(np.asarray(images)[mine.numpy()], np.zeros(len(mine)) if labels is None else labels[mine.numpy()],
                       device, cache_gb=0.5)
    size = _model_size(model)
    probs, loss_sum = [], 0.0
    for x, y in batches(torch.arange(len(mine)), batch_size):
        with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
            out = model(_to_input(x, size, scaling, False))
        logits = out.logits.float()
        probs.append(torch.softmax(logits, dim=1).double().cpu())
        if criterion is not None and labels is not None:
            loss_sum += float(criterion(logits, out.embedding.float(), y).total) * len(y)
    model.train(was_training)
    local = torch.cat(probs).numpy() if probs else np.zeros((0, 0))
    parts = dist.gather((mine.numpy(), local, loss_sum))
    order = np.concatenate([p[0] for p in parts])
    stacked = np.concatenate([p[1] for p in parts if len(p[1])])
    out = np.empty_like(stacked)
    out[order] = stacked
    loss = sum(p[2] for p in parts) / len(images) if criterion is not None and labels is not None else None
    return out, loss


def _model_size(model: nn.Module) -> tuple[int, int] | None:
    module = getattr(model, "module", model)
    module = getattr(module, "_orig_mod", module)
    adapter = getattr(module, "adapter", None)
    return tuple(adapter.size) if adapter is not None else None


# ------------------------------------------------------------------------------ the run
def _class_counts(labels: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(labels, minlength=k)


def _prediction_columns(data: FERData, split: str) -> dict:
    mask = data.split == split
    cols = {"split": split, "dataset": data.name, "index": np.flatnonzero(mask),
            "source_id": data.source_ids[mask], "pose": data.pose[mask]}
    return cols


def train_run(model_name: str, model_kwargs: dict, data: FERData, config: TrainConfig,
              directory: str | os.PathLike, *, live_dir: str | os.PathLike | None = None,
              callbacks: Sequence[Callable[[dict], None]] = ()) -> RunResult:
    """Train ``model_name`` (a :func:`fernb.models.create_model` name) on ``data``'s train
    split, select and stop on its val split, report its test split. Resumes from
    ``directory/checkpoint.pt`` when one with the same configuration exists; returns the
    stored result at once when that run has finished. ``callbacks`` get each epoch's
    record (a dict) after its checkpoint is written.
    """
    from fernb.augment import HAFEMAugment, lanmsff_offline_augment, scale_pixels
    from fernb.losses import build_loss
    from fernb.models import create_model, save_model

    directory = Path(directory)
    dist = _init_distributed(config.device)
    device = select_device(config.device) if dist.world == 1 or config.device != "auto" else select_device("auto")
    if dist.world > 1 and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    fingerprint = config.fingerprint()
    identity = {"model": model_name, "model_kwargs": json_safe(model_kwargs), "dataset": data.name,
                "classes": list(data.classes), "fingerprint": fingerprint,
                "data": _data_digest(data)}
    done = directory / RESULT
    if done.is_file() and json.loads(done.read_text()).get("identity") == identity:
        if dist.main:
            print(f"{directory}: finished run with this configuration found; not training again")
        result = load_result(directory, data.classes)
        if dist.main and live_dir is not None and not (Path(live_dir) / "metrics.json").is_file():
            _log_live(live_dir, result.history)      # DVC removed the logs before re-running the stage
        return result

    seed_everything(config.seed + dist.rank, config.deterministic)
    classes = tuple(data.classes)
    k = len(classes)
    train_mask = data.split == "train"
    train_idx = np.flatnonzero(train_mask)
    if config.max_train is not None:
        train_idx = train_idx[_stratified_subset(data.labels[train_idx], config.max_train, config.seed)]
    train_images, train_labels = data.images[train_idx], data.labels[train_idx]
    in_chans = 1 if data.images.ndim == 3 else 3
    model = create_model(model_name, num_classes=k, in_chans=in_chans, **model_kwargs)
    size = _model_size(model)
    if config.offline_x4:
        side = config.offline_size or (size[0] if size else data.images.shape[1])
        offline = lanmsff_offline_augment(train_images, train_labels, seed=config.seed, size=side)
        train_images, train_labels = offline.images, offline.labels
    counts = _class_counts(data.labels[train_idx], k)
    loss_kwargs = {}
    if config.loss == "compound":
        loss_kwargs = dict(weights=config.loss_weights, dls_eps=config.dls_eps, center_mixed=config.center_mixed,
                           center_update=config.center_update, center_lr=config.center_lr, classes=classes)
    elif config.label_smoothing:
        loss_kwargs = dict(label_smoothing=config.label_smoothing)
    criterion = build_loss(config.loss, k, model.embed_dim, counts, **loss_kwargs).to(device)
    channels_last = config.channels_last == "on" or (config.channels_last == "auto" and device.type == "cuda")
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer, center_optimizer = build_optimizers(model, criterion, config)
    scheduler = build_scheduler(optimizer, config)
    use_amp, amp_dtype, use_scaler = amp_plan(device, config.amp)
    scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)
    augment = None
    if config.augment == "hafem":
        options = dict(config.augment_options)
        if size is not None:   # the paper's pixel sizes are at 224 px
            options.setdefault("crop_padding", scale_pixels(10, size[0]))
            options.setdefault("cutout_size", scale_pixels(32, size[0]))
        augment = HAFEMAugment(seed=config.seed * 1000 + dist.rank, **options)
    stopper = EarlyStopping(config.monitor_mode, config.patience, config.min_delta)
    history: list[dict] = []
    start_epoch = 0

    checkpoint = directory / CHECKPOINT
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if state.get("identity") == identity:
            model.load_state_dict(state["model"])
            criterion.load_state_dict(state["loss"])
            optimizer.load_state_dict(state["optimizer"])
            if center_optimizer is not None:
                center_optimizer.load_state_dict(state["center_optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(state["scheduler"])
            scaler.load_state_dict(state["scaler"])
            stopper.load_state_dict(state["early_stopping"])
            if augment is not None:
                augment.load_state_dict(state["augment"][dist.rank] if dist.rank < len(state["augment"]) else state["augment"][0])
            history = list(state["history"])
            start_epoch = int(state["epoch"]) + 1
            _set_rng_state(state["rng"][dist.rank] if dist.rank < len(state["rng"]) else state["rng"][0])
            if dist.main:
                print(f"resuming {directory} after epoch {start_epoch} of {config.epochs}")
        elif dist.main:
            print(f"{checkpoint} belongs to another configuration; starting this run afresh")
            for name in (CHECKPOINT, BEST, MODEL, HISTORY, PREDICTIONS, RESULT):
                (directory / name).unlink(missing_ok=True)
    dist.barrier()
    if dist.main:
        directory.mkdir(parents=True, exist_ok=True)
    if dist.world > 1:   # every rank starts from rank 0's centres (DDP broadcasts the model's own weights)
        for tensor in criterion.state_dict().values():
            torch.distributed.broadcast(tensor, 0)
    net: nn.Module = model
    if config.compile:
        net = torch.compile(net)
    if dist.world > 1:
        if config.sync_bn and device.type == "cuda":   # PyTorch's SyncBatchNorm runs on GPUs only
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        net = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    # Evaluation runs on the unwrapped network: each rank scores its own share and the
    # predictions are gathered, with no DDP collective that unequal shares could hang.
    eval_net = net.module if isinstance(net, nn.parallel.DistributedDataParallel) else net

    live = None
    if dist.main and live_dir is not None:
        from dvclive import Live

        live = Live(str(live_dir), resume=start_epoch > 0, save_dvc_exp=False, dvcyaml=False)

    feeder = _Batches(train_images, train_labels, device, config.device_cache_gb)
    val_mask, test_mask = data.split == "val", data.split == "test"
    stopped = stopper.should_stop
    started = time.perf_counter()
    from tqdm import tqdm

    for epoch in range(start_epoch, config.epochs):
        if stopped:
            break
        _scheduler_epoch_start(scheduler, epoch)
        net.train()
        order = shard(epoch_permutation(len(train_labels), config.seed, epoch), dist.rank, dist.world)
        n_batches = math.ceil(len(order) / config.batch_size)
        sums = {"loss": 0.0, "correct": 0.0, "n": 0.0}
        parts_sum: dict[str, float] = {}
        t0 = time.perf_counter()
        bar = tqdm(feeder(order, config.batch_size, drop_single=True), total=n_batches, leave=False,
                   desc=f"epoch {epoch + 1}/{config.epochs}", disable=not (config.progress and dist.main),
                   mininterval=2.0, dynamic_ncols=True)
        for x8, y in bar:
            x = _to_input(x8, size, config.scaling, channels_last)
            targets = y
            if augment is not None:
                x = augment(x)
                x, targets = augment.mix(x, y, k)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                out = net(x)
                result = criterion(out.logits.float(), out.embedding.float(), targets)
            optimizer.zero_grad(set_to_none=True)
            if center_optimizer is not None:
                center_optimizer.zero_grad(set_to_none=True)
            scaler.scale(result.total).backward()
            if config.grad_clip is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(optimizer)
            if center_optimizer is not None:
                _step_centers(center_optimizer, criterion, scaler, dist, config)
            scaler.update()
            n = len(y)
            sums["loss"] += float(result.total.detach()) * n
            sums["correct"] += float((out.logits.detach().argmax(1) == y).sum())
            sums["n"] += n
            for name, value in result.parts.items():
                parts_sum[name] = parts_sum.get(name, 0.0) + float(value) * n
            bar.set_postfix(loss=f"{sums['loss'] / sums['n']:.3f}", refresh=False)
        bar.close()
        train_time = time.perf_counter() - t0
        keys = sorted(parts_sum)
        reduced = dist.all_sum([sums["loss"], sums["correct"], sums["n"]] + [parts_sum[p] for p in keys], device)
        n_seen = reduced[2]
        record = {"epoch": epoch + 1, "lr": optimizer.param_groups[-1]["lr"],
                  "train_loss": reduced[0] / n_seen, "train_accuracy": reduced[1] / n_seen}
        record.update({f"train_{p}": v / n_seen for p, v in zip(keys, reduced[3:])})
        probs, val_loss = predict(eval_net, data.images[val_mask], batch_size=config.eval_batch_size, device=device,
                                  scaling=config.scaling, amp=config.amp, dist=dist, criterion=criterion,
                                  labels=data.labels[val_mask])
        val = classification_metrics(data.labels[val_mask], probs, classes)
        record["val_loss"] = val_loss
        record.update({f"val_{m}": v for m, v in val.headline().items()})
        record["val_macro_f1"] = record["val_f1"]
        record["train_images_per_s"] = n_seen / train_time
        record["epoch_seconds"] = time.perf_counter() - t0
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(record[config.plateau_monitor])
        improved = stopper.step(record[config.monitor])
        record["improved"] = bool(improved)
        history.append(record)
        stopped = stopper.should_stop
        if dist.main:
            if improved:
                save_model(model, directory / BEST, epoch=epoch + 1, monitor=config.monitor, value=record[config.monitor])
            rngs = dist.gather(_rng_state())
            augs = dist.gather(augment.state_dict() if augment is not None else {})
            _atomic_torch_save({
                "identity": identity, "epoch": epoch, "model": model.state_dict(), "loss": criterion.state_dict(),
                "optimizer": optimizer.state_dict(),
                "center_optimizer": center_optimizer.state_dict() if center_optimizer is not None else {},
                "scheduler": scheduler.state_dict() if scheduler is not None else {},
                "scaler": scaler.state_dict(), "early_stopping": stopper.state_dict(), "rng": rngs,
                "augment": augs, "history": json_safe(history), "stopped": stopped,
            }, directory / CHECKPOINT)
            pd.DataFrame(history).to_csv(directory / HISTORY, index=False)
            if live is not None:
                _live_step(live, record)
            if config.progress:
                print(_epoch_line(record, config), flush=True)
        else:
            dist.gather(_rng_state())
            dist.gather(augment.state_dict() if augment is not None else {})
        dist.barrier()
        for callback in callbacks:
            callback(record)

    if live is not None:
        live.end()
    train_seconds = time.perf_counter() - started
    # The reported weights: the best epoch's or the last epoch's (LANMSFF's code keeps the last).
    if config.final_weights == "best" and (directory / BEST).is_file():
        best = torch.load(directory / BEST, map_location="cpu", weights_only=True)
        model.load_state_dict(best["state_dict"])
    val_probs, val_loss = predict(eval_net, data.images[val_mask], batch_size=config.eval_batch_size, device=device,
                                  scaling=config.scaling, amp=config.amp, dist=dist, criterion=criterion,
                                  labels=data.labels[val_mask])
    test_probs, test_loss = predict(eval_net, data.images[test_mask], batch_size=config.eval_batch_size, device=device,
                                    scaling=config.scaling, amp=config.amp, dist=dist, criterion=criterion,
                                    labels=data.labels[test_mask])
    val = classification_metrics(data.labels[val_mask], val_probs, classes)
    test = classification_metrics(data.labels[test_mask], test_probs, classes)
    frame = pd.concat([
        predictions_frame(data.labels[val_mask], val_probs, classes, **_prediction_columns(data, "val")),
        predictions_frame(data.labels[test_mask], test_probs, classes, **_prediction_columns(data, "test")),
    ], ignore_index=True)
    frame["model"], frame["seed"] = model_name, config.seed
    hist = pd.DataFrame(history)
    info = {
        "identity": identity, "config": config.as_dict(), "model": model_name, "model_kwargs": json_safe(model_kwargs),
        "dataset": data.name, "classes": list(classes), "seed": config.seed,
        "epochs_run": len(history), "stopped_early": bool(stopper.should_stop and len(history) < config.epochs),
        "best_epoch": None if stopper.best_epoch is None else stopper.best_epoch + 1, "best_value": stopper.best,
        "monitor": config.monitor, "reported_weights": config.final_weights,
        "train_images": int(len(train_idx)), "train_rows_per_epoch": int(len(train_labels)),
        "val_loss": val_loss, "test_loss": test_loss, "val": val.as_dict(), "test": test.as_dict(),
        "train_seconds_this_call": train_seconds, "world_size": dist.world,
        "amp": str(amp_dtype).replace("torch.", "") if use_amp else "off",
        "environment": environment(device), "parameters": int(sum(p.numel() for p in model.parameters())),
    }
    if dist.main:
        # what inference needs to feed the network as training did (fernb predict reads it)
        save_model(model, directory / MODEL, reported_weights=config.final_weights, seed=config.seed,
                   classes=list(classes), dataset=data.name, image_shape=list(data.images.shape[1:]),
                   scaling=config.scaling)
        (directory / BEST).unlink(missing_ok=True)
        frame.to_csv(directory / PREDICTIONS, index=False)
        hist.to_csv(directory / HISTORY, index=False)
        write_json(directory / RESULT, info)
    dist.barrier()
    if dist.started_here:
        torch.distributed.destroy_process_group()
    return RunResult(dir=directory, history=hist, val=val, test=test, predictions=frame, info=json_safe(info))


def _live_step(live, record: dict) -> None:
    for key, value in record.items():
        if key not in ("epoch", "improved") and value is not None and not (isinstance(value, float) and math.isnan(value)):
            live.log_metric(key, float(value))
    live.next_step()


def _log_live(live_dir, history: pd.DataFrame) -> None:
    """Write a finished run's per-epoch history as DVCLive logs (the same files training writes)."""
    from dvclive import Live

    with Live(str(live_dir), resume=False, save_dvc_exp=False, dvcyaml=False) as live:
        for record in history.to_dict(orient="records"):
            _live_step(live, record)


def _step_centers(center_optimizer, criterion, scaler, dist: _Dist, config: TrainConfig) -> None:
    """Step the centre loss's centres: average their gradient over ranks; undo the loss
    scale for autograd gradients (``center_update="sgd"``), never for Wen's unscaled Δc."""
    params = [p for g in center_optimizer.param_groups for p in g["params"] if p.grad is not None]
    if not params:
        return
    if dist.world > 1:
        for p in params:
            torch.distributed.all_reduce(p.grad)
            p.grad /= dist.world
    if scaler.is_enabled() and config.center_update != "wen":
        inv = 1.0 / scaler.get_scale()
        for p in params:
            p.grad *= inv
        if not all(torch.isfinite(p.grad).all() for p in params):
            return
    center_optimizer.step()


def _data_digest(data: FERData) -> str:
    """A fingerprint of the data a run trained on: labels, splits, ids, and every image of a
    small set (a strided sample of at most ~2,000 images of a large one, so that a memory-
    mapped AffectNet is not read whole)."""
    h = hashlib.sha256()
    h.update(repr((data.name, data.images.shape, data.classes)).encode())
    h.update(np.ascontiguousarray(data.labels).data)
    h.update("|".join(data.split.tolist()).encode())
    h.update("|".join(data.source_ids.tolist()).encode())
    step = max(1, len(data) // 2000)
    h.update(np.ascontiguousarray(data.images[::step]).data)
    return h.hexdigest()[:16]


def _epoch_line(record: dict, config: TrainConfig) -> str:
    mark = " *" if record["improved"] else ""
    return (f"epoch {record['epoch']:3d}/{config.epochs}  lr {record['lr']:.2e}  train loss {record['train_loss']:.4f}"
            f"  acc {record['train_accuracy']:.3f}  |  val loss {record['val_loss']:.4f}  acc {record['val_accuracy']:.3f}"
            f"  macro-F1 {record['val_f1']:.3f}  |  {record['train_images_per_s']:.0f} img/s  "
            f"{record['epoch_seconds']:.1f} s{mark}")


def seed_summary(results: Sequence[RunResult], split: str = "test") -> pd.DataFrame:
    """Headline metrics of ``split`` over the runs (one per seed): mean, sample std (NaN
    for one seed: a spread needs two), min, max and the seed count; rows are metrics."""
    if split not in ("val", "test"):
        raise ValueError(f"split must be 'val' or 'test', got {split!r}")
    if not results:
        raise ValueError("no runs to summarise")
    per_seed = pd.DataFrame({f"seed {r.info['seed']}": getattr(r, split).headline() for r in results}).T
    n = len(per_seed)
    return pd.DataFrame({"mean": per_seed.mean(), "std": per_seed.std(ddof=1) if n > 1 else np.nan,
                         "min": per_seed.min(), "max": per_seed.max(), "seeds": n})


def train_stage(stage: str, overrides: dict | None = None) -> list[RunResult]:
    """Train every seed of a training stage (``01_hafem``, ``02_lanmsff``) with its
    ``params.yaml`` parameters plus ``overrides``, on the prepared store notebook 00 wrote.

    This is what the stage's notebook does before reporting; run it under ``torchrun`` to
    train on several GPUs, then ``dvc repro`` (same parameters) finds the runs finished and
    writes the report without training again.
    """
    from fernb.data import load_prepared
    from fernb.pipeline import stage_parameters
    from fernb.protocols import FOLD_DATASETS, apply_protocol
    from fernb.recipes import RECIPES, run_recipe

    if stage not in RECIPES:
        raise ValueError(f"stage {stage!r} trains no model; training stages: {sorted(RECIPES)}")
    params = stage_parameters(stage, overrides=overrides)
    recipe = RECIPES[stage](params)
    dataset = params["dataset"]
    data = apply_protocol(load_prepared(dataset), params["test_fold"] if dataset in FOLD_DATASETS else None)
    from fernb.paths import reports_dir

    return run_recipe(stage, recipe, data, live_root=reports_dir(stage) / "live")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fernb.train STAGE [-p NAME=VALUE ...]`` (the entry point for ``torchrun``)."""
    import argparse

    from fernb.pipeline import parse_overrides

    parser = argparse.ArgumentParser(prog="python -m fernb.train", description=train_stage.__doc__)
    parser.add_argument("stage")
    parser.add_argument("-p", "--param", action="append", metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    for result in train_stage(args.stage, parse_overrides(args.param)):
        if int(os.environ.get("RANK", 0)) == 0:
            print(f"{result.dir}: test accuracy {result.test.accuracy:.4f}, macro-F1 {result.test.f1:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
