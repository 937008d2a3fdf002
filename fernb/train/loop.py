"""One trainer for both papers' recipes: resumable, mixed precision, GPU-fed, DDP-ready.

>>> config = TrainConfig(epochs=5, batch_size=32, optimizer="adam", scheduler="plateau", monitor="val_loss")
>>> result = train_run("lanmsff", {"img_size": 48}, data, config, run_dir("02_lanmsff", "lanmsff", 0))   # fernb.runs.run_dir
>>> result.test.accuracy, result.history.tail()

What one run does (:func:`train_run`: :func:`prepare`, then :func:`fit` epoch by epoch, then :func:`finish`):

1. **Data on the device.** The uint8 images of the training split go to the training device
   once (FER2013's 28,709 faces are 66 MB); each batch is an index into them. Augmentation
   (:class:`fernb.augment.HAFEMAugment`) runs batched on that device, after the batch is
   scaled to [0, 1] and resized to the network's input size, so the paper's pixel sizes
   (10-px crop padding, 32-px Cutout at 224 px) mean what they say. Stores larger than
   ``device_cache_gb`` stay in (memory-mapped) host memory and are streamed in pinned
   batches by a prefetching thread.
2. **Each epoch**: train in the run's numerics (:mod:`fernb.train.numerics`: channels-last
   and autocast by rule on a GPU — bf16, else fp16 with a ``GradScaler`` — and by a timed
   probe of the model on the CPU), optional gradient clipping, the warm-up/cosine rate set
   before every optimiser step (:func:`fernb.train.optim.schedule_step`), then a validation
   pass giving the loss and every metric of :func:`fernb.metrics.classification_metrics`
   (ReduceLROnPlateau steps here, once per epoch).
3. **Selection and stopping**: the ``monitor`` metric (``val_macro_f1``, ``val_loss``,
   ``val_accuracy``...) picks the best checkpoint (``best.pt``) and drives early stopping
   (:class:`EarlyStopping`).
4. **Checkpoint every epoch** (``checkpoint.pt``, written atomically): model, optimisers,
   scheduler, scaler, early-stopping state, history, the RNG states (Python, NumPy, torch
   CPU and CUDA), the augmentation generator and the numerics (a resumed run keeps them). Shuffling is a function of ``(seed,
   epoch)``. Calling :func:`train_run` again resumes from it, and in deterministic mode an
   interrupted run ends with the same weights as an uninterrupted one. A finished run with
   the same configuration is not trained again; a run directory holding another
   configuration's checkpoint is started afresh (the old files are replaced).
5. **Outputs** in ``runs/<stage>/<model>/seed<seed>/`` (the file names are :mod:`fernb.runs`'): ``checkpoint.pt``, ``model.pt`` (the
   reported weights, loadable with :func:`fernb.models.load_model`), ``history.csv``,
   ``predictions.csv`` (one row per validation and test sample: probabilities, label,
   split, dataset, pose, source id: what statistics and audits read instead of re-running
   models), ``result.json`` (config, metrics, timings, environment).
6. **Fine-tuning** (``init_from``, notebook 04): the run starts from a finished run's weights
   (:func:`initialise_from`; the classifier keeps its fresh initialisation when the class
   set differs), and before its first step scores them on the new data's validation split
   (``result.json``'s ``init``: the zero-shot point of a fine-tuning curve). The source
   file's digest is part of the run's identity.
7. **Logging**: a tqdm bar per epoch and one line per epoch; per-epoch metrics through
   DVCLive (``live_dir``) so that ``dvc plots`` and ``dvc exp show`` see them.

Distributed (``torchrun --nproc_per_node=N -m fernb.train STAGE``, :mod:`fernb.train.dist`): the same function
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

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from fernb.data.core import FERData
from fernb.jsonio import json_safe, write_json
from fernb.machine import environment, select_device
from fernb.metrics import classification_metrics, predictions_frame
from fernb.models import create_model, save_model
from fernb.models.backbones import initial_weights
from fernb.models.inputs import input_size, predict_proba, to_input
from fernb.paths import project_root
from fernb.progress import progress_bar
from fernb.runs import BEST, CHECKPOINT, HISTORY, MODEL, PREDICTIONS, RESULT, RunResult, find_checkpoint, load_result
from fernb.train.augment import HAFEMAugment, lanmsff_offline_augment, scale_pixels
from fernb.train.config import TrainConfig
from fernb.train.dist import Dist, init_distributed
from fernb.train.feed import Batches, epoch_permutation, shard, steps_per_epoch, stratified_subset
from fernb.train.losses import build_loss
from fernb.train.numerics import Numerics, choose_numerics
from fernb.train.optim import build_optimizers, build_scheduler, schedule_step
from fernb.train.state import EarlyStopping, atomic_torch_save, rng_state, seed_everything, set_rng_state

__all__ = ["train_run", "prepare", "fit", "finish", "evaluate", "run_identity", "initialise_from", "source_checkpoint",
           "Training"]


@dataclass
class Training:
    """Everything one run holds between :func:`prepare` and :func:`finish`."""

    model_name: str
    model_kwargs: dict
    config: TrainConfig
    directory: Path
    identity: dict
    dist: Dist
    device: torch.device
    classes: tuple[str, ...]
    train_idx: np.ndarray
    train_images: np.ndarray
    train_labels: np.ndarray
    model: nn.Module
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    center_optimizer: torch.optim.Optimizer | None
    scheduler: Any
    scaler: torch.amp.GradScaler
    augment: HAFEMAugment | None
    stopper: EarlyStopping
    size: tuple[int, int] | None
    numerics: Numerics
    steps_per_epoch: int
    channels_last: bool
    use_amp: bool
    amp_dtype: torch.dtype | None
    history: list[dict] = field(default_factory=list)
    start_epoch: int = 0
    net: nn.Module | None = None        # what trains: compiled and/or DDP-wrapped
    eval_net: nn.Module | None = None   # what evaluates: the unwrapped network
    train_seconds: float = 0.0
    init: dict | None = None            # fine-tuning: where the weights came from, and their zero-shot val scores


def train_run(model_name: str, model_kwargs: dict, data: FERData, config: TrainConfig,
              directory: str | Path, *, live_dir: str | Path | None = None,
              callbacks: Sequence[Callable[[dict], None]] = ()) -> RunResult:
    """Train ``model_name`` (a :func:`fernb.models.create_model` name) on ``data``'s train
    split, select and stop on its val split, report its test split. Resumes from
    ``directory/checkpoint.pt`` when one with the same configuration exists; returns the
    stored result at once when that run has finished. ``callbacks`` get each epoch's
    record (a dict) after its checkpoint is written.
    """
    directory = Path(directory)
    dist = init_distributed(config.device)
    identity = run_identity(model_name, model_kwargs, data, config)
    done = directory / RESULT
    if done.is_file() and json.loads(done.read_text()).get("identity") == identity:
        if dist.main:
            print(f"{directory}: finished run with this configuration found; not training again")
        result = load_result(directory, data.classes)
        if dist.main and live_dir is not None and not (Path(live_dir) / "metrics.json").is_file():
            _log_live(live_dir, result.history)      # DVC removed the logs before re-running the stage
        return result
    run = prepare(model_name, model_kwargs, data, config, directory, dist, identity)
    fit(run, data, live_dir=live_dir, callbacks=callbacks)
    return finish(run, data)


def run_identity(model_name: str, model_kwargs: dict, data: FERData, config: TrainConfig) -> dict:
    """What makes two runs the same run: model, its knobs, the data, and the configuration's
    fingerprint. A checkpoint or result with another identity is never resumed or reused."""
    identity = {"model": model_name, "model_kwargs": json_safe(model_kwargs), "dataset": data.name,
                "classes": list(data.classes), "fingerprint": config.fingerprint(), "data": _data_digest(data)}
    if config.init_from is not None:   # a retrained source is another starting point: another run
        identity["init_weights"] = _file_digest(source_checkpoint(config.init_from))
    return identity


def source_checkpoint(init_from: str | Path) -> Path:
    """The ``model.pt`` a fine-tuning run starts from: ``init_from`` as :func:`fernb.runs.find_checkpoint`
    reads it (a file, a run folder, a model or stage folder), a relative path taken from the project root
    when it is not found from the working directory."""
    path = Path(init_from)
    if not path.is_absolute() and not path.exists():
        path = project_root() / path
    return find_checkpoint(path)


def initialise_from(model: nn.Module, model_name: str, model_kwargs: dict, classes: Sequence[str],
                    init_from: str | Path) -> dict:
    """Load a finished run's weights into ``model`` (built for ``classes``) to fine-tune it.

    The source must be the same network (name and knobs, :func:`fernb.models.save_model`'s
    ``fernb_model``; the input channel count may differ, since the input adapter has no
    weights). When its class set differs from ``classes`` (8 -> 7, contempt), the tensors whose
    shape depends on the classes (the classifier) keep ``model``'s fresh initialisation and
    are listed; with the same class set every tensor must load. Returns what was done:
    ``from``, ``digest``, ``source_classes``, ``reinitialised``.
    """
    path = source_checkpoint(init_from)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "fernb_model" not in ckpt:
        raise ValueError(f"init_from: {path} is not a fernb model checkpoint (fernb.models.save_model writes one)")
    config = dict(ckpt["fernb_model"])
    source_name = config.pop("name")
    source_classes = list(ckpt.get("extra", {}).get("classes") or [])
    knobs = {k: v for k, v in config.items() if k not in ("num_classes", "in_chans")}
    ours = json_safe({k: v for k, v in model_kwargs.items() if k in knobs})
    if source_name != model_name or json_safe(knobs) != ours:
        raise ValueError(f"init_from: {path} holds {source_name} with {json_safe(knobs)}; this run builds {model_name} "
                         f"with {ours}. Fine-tuning starts from the same network: give the source run's knobs")
    state, own = ckpt["state_dict"], model.state_dict()
    same_classes = source_classes == list(classes)
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(f"init_from: {path} does not fit this network: missing {missing[:5]}, unexpected {unexpected[:5]}")
    reinitialised = [k for k in own if tuple(state[k].shape) != tuple(own[k].shape)]
    if reinitialised and same_classes:
        raise ValueError(f"init_from: {path} has the same classes but tensors of other shapes: {reinitialised[:5]}")
    model.load_state_dict({k: (own[k] if k in reinitialised else state[k]) for k in own})
    return {"from": str(path), "digest": _file_digest(path), "source_classes": source_classes,
            "classes": list(classes), "reinitialised": reinitialised}


def _file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


# ---------------------------------------------------------------------------- prepare
def prepare(model_name: str, model_kwargs: dict, data: FERData, config: TrainConfig, directory: Path,
            dist: Dist, identity: dict) -> Training:
    """Seed, pick the training rows (and LANMSFF's offline x4 set), build the model, loss,
    optimisers, schedule, scaler and augmentation, then resume from ``checkpoint.pt`` when it
    belongs to this run, and wrap the network for compilation and DDP."""
    device = select_device(config.device) if dist.world == 1 or config.device != "auto" else select_device("auto")
    if dist.world > 1 and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    seed_everything(config.seed + dist.rank, config.deterministic)
    classes = tuple(data.classes)
    k = len(classes)
    train_idx = np.flatnonzero(data.split == "train")
    if config.max_train is not None:
        train_idx = train_idx[stratified_subset(data.labels[train_idx], config.max_train, config.seed)]
    train_images, train_labels = data.images[train_idx], data.labels[train_idx]
    in_chans = 1 if data.images.ndim == 3 else 3
    model = create_model(model_name, num_classes=k, in_chans=in_chans, **model_kwargs)
    size = input_size(model)
    if config.offline_x4:
        side = config.offline_size or (size[0] if size else data.images.shape[1])
        offline = lanmsff_offline_augment(train_images, train_labels, seed=config.seed, size=side)
        train_images, train_labels = offline.images, offline.labels
    criterion = _criterion(config, classes, model.embed_dim, np.bincount(data.labels[train_idx], minlength=k), device)
    model.to(device)
    saved = _matching_checkpoint(directory, identity)
    init = None
    if config.init_from is not None and source_checkpoint(config.init_from).parent.resolve() == directory.resolve():
        raise ValueError(f"init_from names this run's own folder {directory}: fine-tuning there would replace the "
                         "weights it starts from. Copy the source run elsewhere, or train into another folder")
    if config.init_from is not None and saved is None:
        init = initialise_from(model, model_name, model_kwargs, classes, config.init_from)
    numerics = _numerics(model, model_name, model_kwargs, config, device, dist, in_chans, size,
                         data.images.shape[1:3], saved)
    if numerics.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer, center_optimizer = build_optimizers(model, criterion, config)
    steps = steps_per_epoch(len(train_labels), config.batch_size, dist.world)
    scheduler = build_scheduler(optimizer, config, steps)
    use_amp, amp_dtype, use_scaler = numerics.autocast(device)
    augment = None
    if config.augment == "hafem":
        options = dict(config.augment_options)
        if size is not None:   # the paper's pixel sizes are at 224 px
            options.setdefault("crop_padding", scale_pixels(10, size[0]))
            options.setdefault("cutout_size", scale_pixels(32, size[0]))
        augment = HAFEMAugment(seed=config.seed * 1000 + dist.rank, **options)
    run = Training(model_name=model_name, model_kwargs=model_kwargs, config=config, directory=directory,
                   identity=identity, dist=dist, device=device, classes=classes, train_idx=train_idx,
                   train_images=train_images, train_labels=train_labels, model=model, criterion=criterion,
                   optimizer=optimizer, center_optimizer=center_optimizer, scheduler=scheduler,
                   scaler=torch.amp.GradScaler(device.type, enabled=use_scaler), augment=augment,
                   stopper=EarlyStopping(config.monitor_mode, config.patience, config.min_delta), size=size,
                   numerics=numerics, steps_per_epoch=steps, channels_last=numerics.channels_last, use_amp=use_amp,
                   amp_dtype=amp_dtype, init=init)
    _resume(run, saved)
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
    run.net = net
    run.eval_net = net.module if isinstance(net, nn.parallel.DistributedDataParallel) else net
    return run


def _criterion(config: TrainConfig, classes: tuple[str, ...], embed_dim: int, counts: np.ndarray,
               device: torch.device) -> nn.Module:
    loss_kwargs = {}
    if config.loss == "compound":
        loss_kwargs = dict(weights=config.loss_weights, dls_eps=config.dls_eps, center_mixed=config.center_mixed,
                           center_update=config.center_update, center_lr=config.center_lr, classes=classes)
    elif config.label_smoothing:
        loss_kwargs = dict(label_smoothing=config.label_smoothing)
    return build_loss(config.loss, len(classes), embed_dim, counts, **loss_kwargs).to(device)


def _matching_checkpoint(directory: Path, identity: dict) -> dict | None:
    """The state in ``directory/checkpoint.pt`` when it belongs to the run ``identity``, else None."""
    checkpoint = directory / CHECKPOINT
    if not checkpoint.is_file():
        return None
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    return state if state.get("identity") == identity else None


def _numerics(model: nn.Module, model_name: str, model_kwargs: dict, config: TrainConfig, device: torch.device,
              dist: Dist, in_chans: int, size: tuple[int, int] | None, stored_size: tuple[int, ...],
              saved: dict | None) -> Numerics:
    """The run's numerics: a resumed run's own, else :func:`fernb.train.numerics.choose_numerics`
    (decided on rank 0 and broadcast, so that every rank computes alike)."""
    if saved is not None and saved.get("numerics"):
        return Numerics.from_dict(saved["numerics"])   # a resumed run keeps its numerics
    side = tuple(size) if size is not None else tuple(stored_size)
    shape = (min(config.batch_size, 256), in_chans, *side)
    key = (model_name, json.dumps(json_safe(model_kwargs), sort_keys=True), config.compile)
    numerics = choose_numerics(model, shape, device, config.channels_last, config.amp,
                               deterministic=config.deterministic, cache_key=key) if dist.main or dist.world == 1 else None
    if dist.world > 1:
        box = [numerics]
        torch.distributed.broadcast_object_list(box, src=0)
        numerics = box[0]
    return numerics


def _resume(run: Training, state: dict | None) -> None:
    """Load the checkpoint ``state`` into ``run`` when it has this run's identity; remove another
    configuration's files from the folder."""
    checkpoint, dist = run.directory / CHECKPOINT, run.dist
    if not checkpoint.is_file():
        return
    if state is not None:
        run.model.load_state_dict(state["model"])
        run.criterion.load_state_dict(state["loss"])
        run.optimizer.load_state_dict(state["optimizer"])
        if run.center_optimizer is not None:
            run.center_optimizer.load_state_dict(state["center_optimizer"])
        if run.scheduler is not None:
            run.scheduler.load_state_dict(state["scheduler"])
        run.scaler.load_state_dict(state["scaler"])
        run.stopper.load_state_dict(state["early_stopping"])
        if run.augment is not None:
            augs = state["augment"]
            run.augment.load_state_dict(augs[dist.rank] if dist.rank < len(augs) else augs[0])
        run.history = list(state["history"])
        run.init = state.get("init")
        run.start_epoch = int(state["epoch"]) + 1
        set_rng_state(state["rng"][dist.rank] if dist.rank < len(state["rng"]) else state["rng"][0])
        if dist.main:
            print(f"resuming {run.directory} after epoch {run.start_epoch} of {run.config.epochs}")
    elif dist.main:
        print(f"{checkpoint} belongs to another configuration; starting this run afresh")
        for name in (CHECKPOINT, BEST, MODEL, HISTORY, PREDICTIONS, RESULT):
            (run.directory / name).unlink(missing_ok=True)


# ------------------------------------------------------------------------------ epochs
def fit(run: Training, data: FERData, *, live_dir: str | Path | None = None,
        callbacks: Sequence[Callable[[dict], None]] = ()) -> None:
    """Epochs from ``run.start_epoch`` until ``config.epochs`` or early stopping: train, validate,
    checkpoint, log."""
    config, dist = run.config, run.dist
    live = None
    if dist.main and live_dir is not None:
        from dvclive import Live  # deferred: dvclive imports DVC, which a run without logs does not need

        live = Live(str(live_dir), resume=run.start_epoch > 0, save_dvc_exp=False, dvcyaml=False)
    feeder = Batches(run.train_images, run.train_labels, run.device, config.device_cache_gb)
    if run.init is not None and "val_loss" not in run.init:
        # epoch 0 of a fine-tuning run: the source weights on the new data, before any step
        val_mask = data.split == "val"
        probs, val_loss = evaluate(run, data.images[val_mask], data.labels[val_mask])
        run.init.update(val_loss=val_loss, **{f"val_{m}": v for m, v in
                                              classification_metrics(data.labels[val_mask], probs, run.classes).headline().items()})
    stopped = run.stopper.should_stop
    started = time.perf_counter()
    for epoch in range(run.start_epoch, config.epochs):
        if stopped:
            break
        t0 = time.perf_counter()
        record = train_epoch(run, feeder, epoch)
        train_time = time.perf_counter() - t0
        val_mask = data.split == "val"
        probs, val_loss = evaluate(run, data.images[val_mask], data.labels[val_mask])
        val = classification_metrics(data.labels[val_mask], probs, run.classes)
        record["val_loss"] = val_loss
        record.update({f"val_{m}": v for m, v in val.headline().items()})
        record["val_macro_f1"] = record["val_f1"]
        record["train_images_per_s"] = record.pop("_seen") / train_time
        record["epoch_seconds"] = time.perf_counter() - t0
        if isinstance(run.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            run.scheduler.step(record[config.plateau_monitor])
        improved = run.stopper.step(record[config.monitor])
        record["improved"] = bool(improved)
        run.history.append(record)
        stopped = run.stopper.should_stop
        save_checkpoint(run, epoch, improved, stopped)
        if dist.main:
            if live is not None:
                _live_step(live, record)
            if config.progress:
                print(_epoch_line(record, config), flush=True)
        dist.barrier()
        for callback in callbacks:
            callback(record)
    if live is not None:
        live.end()
    run.train_seconds = time.perf_counter() - started


def train_epoch(run: Training, feeder: Batches, epoch: int) -> dict:
    """One pass over this rank's share of the epoch's permutation; the epoch's record
    (learning rate, training loss, accuracy and loss terms, reduced over ranks)."""
    config, dist = run.config, run.dist
    run.net.train()
    order = shard(epoch_permutation(len(run.train_labels), config.seed, epoch), dist.rank, dist.world)
    n_batches = run.steps_per_epoch
    sums = {"loss": 0.0, "correct": 0.0, "n": 0.0}
    parts_sum: dict[str, float] = {}
    k = len(run.classes)
    bar = progress_bar(feeder(order, config.batch_size, drop_single=True), total=n_batches, leave=False,
                       desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                       disable=not (config.progress and dist.main), mininterval=2.0, dynamic_ncols=True)
    lr_sum = 0.0
    for step, (x8, y) in enumerate(bar):
        schedule_step(run.scheduler, epoch * run.steps_per_epoch + step)   # per-step warm-up and cosine
        lr_sum += run.optimizer.param_groups[-1]["lr"]
        x = to_input(x8, run.size, config.scaling, run.channels_last)
        targets = y
        if run.augment is not None:
            x = run.augment(x)
            x, targets = run.augment.mix(x, y, k)
        with torch.autocast(run.device.type, dtype=run.amp_dtype, enabled=run.use_amp):
            out = run.net(x)
            result = run.criterion(out.logits.float(), out.embedding.float(), targets)
        run.optimizer.zero_grad(set_to_none=True)
        if run.center_optimizer is not None:
            run.center_optimizer.zero_grad(set_to_none=True)
        run.scaler.scale(result.total).backward()
        if config.grad_clip is not None:
            run.scaler.unscale_(run.optimizer)
            nn.utils.clip_grad_norm_(run.model.parameters(), config.grad_clip)
        run.scaler.step(run.optimizer)
        if run.center_optimizer is not None:
            _step_centers(run.center_optimizer, run.criterion, run.scaler, dist, config)
        run.scaler.update()
        n = len(y)
        sums["loss"] += float(result.total.detach()) * n
        sums["correct"] += float((out.logits.detach().argmax(1) == y).sum())
        sums["n"] += n
        for name, value in result.parts.items():
            parts_sum[name] = parts_sum.get(name, 0.0) + float(value) * n
        bar.set_postfix(loss=f"{sums['loss'] / sums['n']:.3f}", refresh=False)
    bar.close()
    keys = sorted(parts_sum)
    reduced = dist.all_sum([sums["loss"], sums["correct"], sums["n"]] + [parts_sum[p] for p in keys], run.device)
    n_seen = reduced[2]
    # lr: the head's rate averaged over the epoch's steps (per-step schedules change it every step)
    record = {"epoch": epoch + 1, "lr": lr_sum / max(step + 1, 1),
              "train_loss": reduced[0] / n_seen, "train_accuracy": reduced[1] / n_seen}
    record.update({f"train_{p}": v / n_seen for p, v in zip(keys, reduced[3:])})
    record["_seen"] = n_seen
    return record


def evaluate(run: Training, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    """Probabilities and mean loss of ``run``'s evaluation network on a split. Under DDP each
    rank scores every ``world``-th image and the probabilities are gathered, so every rank
    returns all N rows in order."""
    dist = run.dist
    mine = shard(torch.arange(len(images)), dist.rank, dist.world, pad=False).numpy()
    local, loss_sum = predict_proba(run.eval_net, np.asarray(images)[mine], batch_size=run.config.eval_batch_size,
                                    device=run.device, scaling=run.config.scaling, amp=run.config.amp,
                                    criterion=run.criterion, labels=np.asarray(labels)[mine], loss_reduction="sum")
    parts = dist.gather((mine, local, loss_sum))
    order = np.concatenate([p[0] for p in parts])
    stacked = np.concatenate([p[1] for p in parts if len(p[1])])
    probs = np.empty_like(stacked)
    probs[order] = stacked
    return probs, sum(p[2] for p in parts) / len(images)


def save_checkpoint(run: Training, epoch: int, improved: bool, stopped: bool) -> None:
    """``best.pt`` when the monitored metric improved, and ``checkpoint.pt`` (atomically) with
    everything a resumed run needs; gathered from every rank, written by rank 0."""
    dist = run.dist
    rngs = dist.gather(rng_state())
    augs = dist.gather(run.augment.state_dict() if run.augment is not None else {})
    if not dist.main:
        return
    record = run.history[-1]
    if improved:
        save_model(run.model, run.directory / BEST, epoch=epoch + 1, monitor=run.config.monitor,
                   value=record[run.config.monitor])
    atomic_torch_save({
        "identity": run.identity, "epoch": epoch, "model": run.model.state_dict(), "loss": run.criterion.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "center_optimizer": run.center_optimizer.state_dict() if run.center_optimizer is not None else {},
        "scheduler": run.scheduler.state_dict() if run.scheduler is not None else {},
        "scaler": run.scaler.state_dict(), "early_stopping": run.stopper.state_dict(), "rng": rngs,
        "augment": augs, "history": json_safe(run.history), "stopped": stopped, "numerics": run.numerics.as_dict(),
        "init": json_safe(run.init),
    }, run.directory / CHECKPOINT)
    pd.DataFrame(run.history).to_csv(run.directory / HISTORY, index=False)


# ------------------------------------------------------------------------------ finish
def finish(run: Training, data: FERData) -> RunResult:
    """Load the reported weights (best or last), score validation and test, and write
    ``model.pt``, ``predictions.csv``, ``history.csv`` and ``result.json``."""
    config, dist, directory, classes = run.config, run.dist, run.directory, run.classes
    # The reported weights: the best epoch's or the last epoch's (LANMSFF's code keeps the last).
    if config.final_weights == "best" and (directory / BEST).is_file():
        best = torch.load(directory / BEST, map_location="cpu", weights_only=True)
        run.model.load_state_dict(best["state_dict"])
    val_mask, test_mask = data.split == "val", data.split == "test"
    val_probs, val_loss = evaluate(run, data.images[val_mask], data.labels[val_mask])
    val = classification_metrics(data.labels[val_mask], val_probs, classes)
    frames = [predictions_frame(data.labels[val_mask], val_probs, classes, **_prediction_columns(data, "val"))]
    test, test_loss = None, None   # data without a test split (a search trial, fernb.train.search): none is read
    if test_mask.any():
        test_probs, test_loss = evaluate(run, data.images[test_mask], data.labels[test_mask])
        test = classification_metrics(data.labels[test_mask], test_probs, classes)
        frames.append(predictions_frame(data.labels[test_mask], test_probs, classes, **_prediction_columns(data, "test")))
    frame = pd.concat(frames, ignore_index=True)
    frame["model"], frame["seed"] = run.model_name, config.seed
    hist = pd.DataFrame(run.history)
    stopper = run.stopper
    info = {
        "identity": run.identity, "config": config.as_dict(), "model": run.model_name,
        "model_kwargs": json_safe(run.model_kwargs), "dataset": data.name, "classes": list(classes), "seed": config.seed,
        "epochs_run": len(run.history), "stopped_early": bool(stopper.should_stop and len(run.history) < config.epochs),
        "best_epoch": None if stopper.best_epoch is None else stopper.best_epoch + 1, "best_value": stopper.best,
        "monitor": config.monitor, "reported_weights": config.final_weights,
        "train_images": int(len(run.train_idx)), "train_rows_per_epoch": int(len(run.train_labels)),
        "val_loss": val_loss, "test_loss": test_loss, "val": val.as_dict(), "test": None if test is None else test.as_dict(),
        "train_seconds_this_call": run.train_seconds, "world_size": dist.world,
        "amp": str(run.amp_dtype).replace("torch.", "") if run.use_amp else "off",
        "numerics": run.numerics.as_dict(), "steps_per_epoch": run.steps_per_epoch,
        "environment": environment(run.device), "parameters": int(sum(p.numel() for p in run.model.parameters())),
        "init": json_safe(run.init), "framing": data.framing(),
        # which weights initialised each backbone (random, or a shipped / user file with its sha256)
        "initial_weights": json_safe(initial_weights(run.model)),
    }
    if dist.main:
        # what inference needs to feed the network as training did (fernb predict reads it)
        save_model(run.model, directory / MODEL, reported_weights=config.final_weights, seed=config.seed,
                   classes=list(classes), dataset=data.name, image_shape=list(data.images.shape[1:]),
                   scaling=config.scaling, framing=data.framing())
        (directory / BEST).unlink(missing_ok=True)
        frame.to_csv(directory / PREDICTIONS, index=False)
        hist.to_csv(directory / HISTORY, index=False)
        write_json(directory / RESULT, info)
    dist.barrier()
    if dist.started_here:
        torch.distributed.destroy_process_group()
    return RunResult(dir=directory, history=hist, val=val, test=test, predictions=frame, info=json_safe(info))


def _prediction_columns(data: FERData, split: str) -> dict:
    mask = data.split == split
    return {"split": split, "dataset": data.name, "index": np.flatnonzero(mask),
            "source_id": data.source_ids[mask], "pose": data.pose[mask]}


def _live_step(live, record: dict) -> None:
    for key, value in record.items():
        if key not in ("epoch", "improved") and value is not None and not (isinstance(value, float) and math.isnan(value)):
            live.log_metric(key, float(value))
    live.next_step()


def _log_live(live_dir, history: pd.DataFrame) -> None:
    """Write a finished run's per-epoch history as DVCLive logs (the same files training writes)."""
    from dvclive import Live  # deferred: see fit()

    with Live(str(live_dir), resume=False, save_dvc_exp=False, dvcyaml=False) as live:
        for record in history.to_dict(orient="records"):
            _live_step(live, record)


def _step_centers(center_optimizer, criterion, scaler, dist: Dist, config: TrainConfig) -> None:
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
