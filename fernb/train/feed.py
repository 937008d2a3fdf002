"""Feeding the network: the order of each epoch, each rank's share, CPU-sized subsets, and
batches of stored uint8 images on the training device."""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import numpy as np
import torch

from fernb.data.folds import stratified_subset  # CPU-sized training subsets (max_train)

__all__ = ["epoch_permutation", "shard", "steps_per_epoch", "stratified_subset", "Batches"]


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


def steps_per_epoch(n_rows: int, batch_size: int, world: int = 1) -> int:
    """Optimiser steps in one epoch of ``n_rows`` rows: each rank's (padded) share of the
    permutation (:func:`shard`) in batches of ``batch_size``, a last batch of one dropped as
    :class:`Batches` drops it (``drop_single``). Per-step schedules count with it."""
    share = -(-n_rows // world) if world > 1 else n_rows
    chunks = -(-share // batch_size)
    return chunks - 1 if chunks > 1 and share % batch_size == 1 else chunks


class Batches:
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
