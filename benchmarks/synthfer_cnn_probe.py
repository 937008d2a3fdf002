"""How hard is SynthFER for a small CNN? (issue: "a small CNN should land well below 100%").

Trains a 3-block CNN (~100K parameters) on the prepared SynthFER store's train split and
prints validation accuracy per epoch and per seed — never the test split. Needs PyTorch
(a dependency from the models issue on; `pip install torch` until then) and the store
that `make repro` writes.

Run: `.venv/bin/python benchmarks/synthfer_cnn_probe.py [--epochs 15] [--seeds 0 1 2]`
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def small_cnn(num_classes: int):
    import torch.nn as nn

    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                             nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2))

    return nn.Sequential(block(1, 24), block(24, 48), block(48, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Dropout(0.3), nn.Linear(64, num_classes))


def run(seed: int, epochs: int, data) -> list[float]:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    to_tensor = lambda split: (torch.from_numpy(data.images[data.split == split]).float().unsqueeze(1) / 255.0,  # noqa: E731
                               torch.from_numpy(data.labels[data.split == split]))
    (xtr, ytr), (xva, yva) = to_tensor("train"), to_tensor("val")
    model = small_cnn(len(data.classes))
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    history = []
    for epoch in range(epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(len(xtr)))
        for start in range(0, len(order), 64):
            idx = order[start:start + 64]
            x = xtr[idx]
            flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
            x[flip] = x[flip].flip(-1)  # horizontal flip (yaw sign is not part of the label)
            loss = F.cross_entropy(model(x), ytr[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(xva[s:s + 512]).argmax(1) for s in range(0, len(xva), 512)])
        history.append(float((pred == yva).float().mean()))
        print(f"  seed {seed} epoch {epoch + 1:2d}: val accuracy {history[-1]:.3f}", flush=True)
    return history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    from fernb.data import load_prepared
    from fernb.machine import environment

    torch.set_num_threads(args.threads)
    env = environment()
    print(f"torch {env['torch']}, threads {env['threads']}, commit {env['commit']}, lock {env['lock_sha256']}")
    data = load_prepared("synthfer")
    params = sum(p.numel() for p in small_cnn(len(data.classes)).parameters())
    print(f"{data!r}\nsmall CNN: {params:,} parameters, {args.epochs} epochs, Adam 2e-3, batch 64, flip augmentation")
    finals, bests = [], []
    start = time.perf_counter()
    for seed in args.seeds:
        history = run(seed, args.epochs, data)
        finals.append(history[-1])
        bests.append(max(history))
    majority = np.bincount(data.labels[data.split == "val"]).max() / int((data.split == "val").sum())
    print(f"final-epoch val accuracy over {len(finals)} seeds: mean {np.mean(finals):.3f}, sd {np.std(finals, ddof=1) if len(finals) > 1 else 0:.3f}, "
          f"min {min(finals):.3f}, max {max(finals):.3f} (best epoch: mean {np.mean(bests):.3f}); "
          f"majority-class share {majority:.3f}; {time.perf_counter() - start:.0f} s on {args.threads} threads")


if __name__ == "__main__":
    main()
