"""Training throughput: is the loop compute-bound? (the trainer's own benchmark).

For each model configuration it prints

- **model-only** images/s: forward + backward + optimiser step on random tensors already on
  the device at the network's input size (the ceiling the hardware allows);
- **full-loop** images/s: `fernb.train.train_run` over uint8 48x48 faces held like FER2013,
  with the recipe's data path (device-side scaling and resizing, HAFEM's six augmentation
  ops and Mixup, the compound loss and the centre optimiser; LANMSFF's offline x4 set),
  taken from the run's history (training time only, no validation);
- their ratio (target >= 0.9 for HAFEM at 224 px on a GPU), and the time one FER2013 epoch
  would take at that rate (28,709 training faces; x4 for LANMSFF).

First, for the two default recipes exactly as ``params.yaml`` gives stages 01 and 02, it
prints **eager float32 against the numerics ``auto`` chooses** (channels-last and/or bf16
autocast, by the timed probe of ``fernb/train/numerics.py``), both measured by the trainer
itself in the same run, with the speed-up (the issue's target: >= 1.5x) or a plain statement
that no variant helps that model on this machine.

Run: `.venv/bin/python benchmarks/bench_train.py [--device cuda] [--configs hafem_paper lanmsff_paper]`
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch

FER2013_TRAIN = 28_709
CONFIGS = {
    # name: (model, model kwargs, batch, TrainConfig overrides)
    "hafem_paper": ("hafem", {}, 64, dict(loss="compound", augment="hafem", layer_decay=0.9, optimizer="adamw",
                                          weight_decay=5e-4, scheduler="cosine", warmup_epochs=0)),
    "hafem_small_full_recipe": ("hafem", {"backbone": "efficientnet_b0", "img_size": 64, "d_model": 128}, 64,
                          dict(loss="compound", augment="hafem", layer_decay=0.9, optimizer="adamw",
                               weight_decay=5e-4, scheduler="cosine", warmup_epochs=0)),
    "lanmsff_paper": ("lanmsff", {"img_size": 64}, 32, dict(loss="ce", optimizer="adam", eps=1e-7,
                                                            scheduler="plateau", offline_x4=True)),
    "lanmsff_cpu_default": ("lanmsff", {"img_size": 48}, 32, dict(loss="ce", optimizer="adam", eps=1e-7,
                                                                  scheduler="plateau", offline_x4=True)),
}


def model_only(name, kwargs, batch, device, amp, steps):
    from fernb.models import create_model
    from fernb.train import TrainConfig, amp_plan, build_optimizers
    from fernb.train.losses import build_loss

    model = create_model(name, num_classes=7, in_chans=1, **kwargs).to(device)
    channels_last = device.type == "cuda"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    size = model.adapter.size
    x = torch.rand(batch, 1, *size, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 7, (batch,), device=device)
    loss = build_loss("compound" if name == "hafem" else "ce", 7, model.embed_dim, np.full(7, 100)).to(device)
    optimizer, centres = build_optimizers(model, loss, TrainConfig(optimizer="adamw", layer_decay=0.9 if name == "hafem" else None))
    use_amp, dtype, use_scaler = amp_plan(device, amp)
    scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=use_amp):
            out = model(x)
            value = loss(out.logits.float(), out.embedding.float(), y).total
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(value).backward()
        scaler.step(optimizer)
        if centres is not None:
            centres.step()
        scaler.update()

    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def full_loop(name, kwargs, batch, overrides, device, amp, images):
    from fernb.data.core import FERData
    from fernb.labels import SEVEN
    from fernb.train import TrainConfig, train_run

    rng = np.random.default_rng(0)
    n_train = images
    n = n_train + 64
    data = FERData(name="bench", images=rng.integers(0, 256, (n, 48, 48), dtype=np.uint8),
                   labels=np.arange(n) % 7, split=np.array(["train"] * n_train + ["val"] * 32 + ["test"] * 32),
                   classes=SEVEN, source_ids=[str(i) for i in range(n)])
    x4 = overrides.get("offline_x4", False)
    config = TrainConfig(epochs=2, batch_size=batch, device=str(device), amp=amp, progress=False,
                         max_train=n_train // 4 if x4 else None, **overrides)
    with tempfile.TemporaryDirectory() as tmp:
        result = train_run(name, kwargs, data, config, os.path.join(tmp, "run"))
    return float(result.history["train_images_per_s"].iloc[-1])    # the second epoch: warm


def default_recipes():
    """The recipes stages 01 and 02 run by default (params.yaml)."""
    import yaml

    from fernb.train import recipes

    params = yaml.safe_load(open(os.path.join(os.path.dirname(__file__), "..", "params.yaml")))
    return {name: recipes.RECIPES[name](params[name], params["train"]) for name in ("hafem", "lanmsff")}


def numerics_table(device, images: int) -> list[dict]:
    """Eager float32 against ``auto`` numerics, per default recipe, from the trainer's own
    second-epoch images/s (the first epoch includes oneDNN's warm-up)."""
    import dataclasses

    from fernb.data.core import FERData
    from fernb.labels import SEVEN
    from fernb.train import train_run

    rng = np.random.default_rng(0)
    n = images + 64
    data = FERData(name="bench", images=rng.integers(0, 256, (n, 48, 48), dtype=np.uint8),
                   labels=np.arange(n) % 7, split=np.array(["train"] * images + ["val"] * 32 + ["test"] * 32),
                   classes=SEVEN, source_ids=[str(i) for i in range(n)])
    rows = []
    print(f"{'default recipe':16s} {'fp32 eager img/s':>17s} {'auto img/s':>11s} {'auto chose':>20s} {'speed-up':>9s}  probe (img/s)")
    for name, recipe in default_recipes().items():
        out = {}
        for label, numerics in (("fp32", dict(channels_last="off", amp="off")), ("auto", dict(channels_last="auto", amp="auto"))):
            config = dataclasses.replace(recipe.config, epochs=2, device=str(device), progress=False, max_train=None,
                                         offline_x4=False, deterministic=False, **numerics)
            with tempfile.TemporaryDirectory() as tmp:
                result = train_run(recipe.model, recipe.model_kwargs, data, config, os.path.join(tmp, "run"))
            out[label] = (float(result.history["train_images_per_s"].iloc[-1]), result.info["numerics"])
        (fp32, _), (auto, chosen) = out["fp32"], out["auto"]
        speedup = auto / fp32
        verdict = ("" if chosen["label"] != "fp32" else
                   "  (no variant beat fp32 by the probe's margin on this machine: fp32 kept)")
        rows.append(dict(recipe=name, fp32_img_s=fp32, auto_img_s=auto, chosen=chosen["label"], speedup=speedup,
                         probe=chosen["probe"], reason=chosen["reason"]))
        probe = ", ".join(f"{k} {v:.0f}" for k, v in chosen["probe"].items())
        print(f"{name:16s} {fp32:17.1f} {auto:11.1f} {chosen['label']:>20s} {speedup:8.2f}x  {probe}{verdict}", flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--amp", default="auto")
    parser.add_argument("--configs", nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=None, help="timed steps for model-only (default 30 GPU, 4 CPU)")
    parser.add_argument("--images", type=int, default=None, help="images per full-loop epoch (default 8192 GPU, 768 CPU)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--numerics-only", action="store_true", help="only the fp32-versus-auto table of the default recipes")
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    configs = args.configs or (list(CONFIGS) if gpu else ["hafem_small_full_recipe", "lanmsff_cpu_default", "lanmsff_paper"])
    steps = args.steps or (30 if gpu else 4)
    images = args.images or (8192 if gpu else 768)
    from fernb.machine import environment

    env = environment(device)
    print(f"device {env['device']} ({env.get('gpu', env['cpu'])}), torch {env['torch']}, timm {env['timm']}, "
          f"threads {env['threads']}, amp {args.amp}, lock {env.get('lock_sha256')}")
    numerics = numerics_table(device, images)
    if args.numerics_only:
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"environment": env, "numerics": numerics}, fh, indent=2)
        return 0
    print(f"{'config':24s} {'batch':>5s} {'model-only img/s':>17s} {'full-loop img/s':>16s} {'ratio':>6s} "
          f"{'FER2013 epoch':>14s}")
    rows = []
    for key in configs:
        name, kwargs, batch, overrides = CONFIGS[key]
        mo = model_only(name, kwargs, batch, device, args.amp, steps)
        fl = full_loop(name, kwargs, batch, overrides, device, args.amp, images)
        per_epoch = FER2013_TRAIN * (4 if overrides.get("offline_x4") else 1) / fl
        rows.append(dict(config=key, batch=batch, model_only=mo, full_loop=fl, ratio=fl / mo, fer2013_epoch_s=per_epoch))
        print(f"{key:24s} {batch:5d} {mo:17.1f} {fl:16.1f} {fl / mo:6.2f} {per_epoch / 60:11.1f} min", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"environment": env, "numerics": numerics, "results": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
