"""Print (never assert) forward latency of every fernb model at batch 1 and batch 64.

Models: LANMSFF (64×64 grayscale), HAFEM in the paper configuration (EfficientNet-B5,
224 px, CBAM, one 2048-wide layer) and with the six layers the paper also states, a small
HAFEM (EfficientNet-B0, 112 px, 256-wide tokens), and the Table 3 baselines (ResNet-50,
EfficientNet-B4, ViT-Base/16, Swin-T at 224 px). Every model gets the same 48×48 grayscale
batch (FER2013's format), so the input adapter's resize is part of the timing.

Eval mode, ``torch.inference_mode``, float32, one warm-up call, then the median of
``--repeats`` calls (batch 1) and of ``--repeats64`` calls (batch 64). This is model-only
time on this machine; the real-time harness of notebook 07 adds variants and end-to-end FPS.
Run: ``make bench`` or ``python benchmarks/bench_models.py [--models lanmsff,hafem] [--json out.json]``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import timm
import torch

from fernb.models import create_model, model_card

MODELS = {
    "lanmsff": ("lanmsff", dict(in_chans=1)),
    "hafem (paper: B5, 224, 1 layer)": ("hafem", dict(in_chans=1)),
    "hafem (6 layers)": ("hafem", dict(in_chans=1, num_layers=6)),
    "hafem (small: B0, 112, d 256)": ("hafem", dict(in_chans=1, backbone="efficientnet_b0", img_size=112,
                                                    d_model=256, num_heads=8)),
    "resnet50": ("resnet50", dict(in_chans=1)),
    "efficientnet_b4": ("efficientnet_b4", dict(in_chans=1)),
    "vit_base_16": ("vit_base_16", dict(in_chans=1)),
    "swin_tiny": ("swin_tiny", dict(in_chans=1)),
}


def latency(model: torch.nn.Module, batch: int, repeats: int) -> float:
    """Median seconds per forward call."""
    x = torch.rand(batch, 1, 48, 48)
    with torch.inference_mode():
        model(x)  # warm-up: allocator, oneDNN primitive creation
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated keys (default all): " + ", ".join(MODELS))
    parser.add_argument("--repeats", type=int, default=20, help="timed calls at batch 1")
    parser.add_argument("--repeats64", type=int, default=3, help="timed calls at batch 64")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    keys = [k.strip() for k in args.models.split(",")] if args.models else list(MODELS)
    unknown = set(keys) - set(MODELS)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; choose from {list(MODELS)}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), timm {timm.__version__}; input 1×48×48 float32, eval, inference_mode")
    print(f"{'model':<34}{'params':>10}{'GFLOPs':>9}{'b1 ms':>10}{'b1 img/s':>10}{'b64 ms':>11}{'b64 img/s':>11}")
    rows = []
    for key in keys:
        name, knobs = MODELS[key]
        torch.manual_seed(0)
        model = create_model(name, num_classes=7, **knobs).eval()
        card = model_card(model, input_shape=(1, 48, 48))
        b1, b64 = latency(model, 1, args.repeats), latency(model, 64, args.repeats64)
        rows.append(dict(model=key, trainable=card.trainable, gflops=card.flops / 1e9, batch1_ms=b1 * 1e3,
                         batch1_img_s=1 / b1, batch64_ms=b64 * 1e3, batch64_img_s=64 / b64))
        print(f"{key:<34}{card.trainable / 1e6:>9.2f}M{card.flops / 1e9:>9.2f}{b1 * 1e3:>10.1f}{1 / b1:>10.1f}"
              f"{b64 * 1e3:>11.0f}{64 / b64:>11.1f}", flush=True)
        del model
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(threads=torch.get_num_threads(), torch=torch.__version__, rows=rows), f, indent=2)


if __name__ == "__main__":
    main()
