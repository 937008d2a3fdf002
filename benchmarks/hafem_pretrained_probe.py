"""Which CPU-scale HAFEM to run on real data: ImageNet-pretrained backbones against the from-scratch one.

``profiles/real.yaml`` replaced the real-data HAFEM (a ResNet-10-T from scratch at 48 px, ``profiles/real.yaml``)
with the paper's main ingredient, an ImageNet-pretrained EfficientNet (the weights that ship with
fernb, ``fernb/models/imagenet.py``). This probe measures, on real FER2013 and on its validation
split only (PublicTest; the test split is never read), what each candidate costs per epoch and how
far it gets in a fixed number of epochs on a stratified training subset:

- ``scratch ResNet-10-T 48``: the committed real-data HAFEM (the pretrained-vs-scratch baseline);
- ``Lite0 pretrained 64`` / ``96`` / ``112``: EfficientNet-Lite0 with its shipped ImageNet weights,
  at three input sizes, with HAFEM §3's layer-wise learning-rate decay (0.9);
- ``MobileNetV2 pretrained 64``: torchvision's ImageNet MobileNetV2, the cheaper alternative.

Every other setting is ``params.yaml``'s ``hafem`` section with ``profiles/real.yaml`` applied (CBAM,
one Transformer layer, the compound loss, flips only). Prints per setting and epoch: seconds, training
images per second, training and validation accuracy and validation macro-F1; then one line per
setting. Needs the FER2013 archive (``$FERNB_DATA`` or ``--data``). Run on an otherwise idle
machine (the timings are the point): ``.venv/bin/python benchmarks/hafem_pretrained_probe.py
[--epochs 2] [--max-train 6000] [--only NAME ...]``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import yaml

SETTINGS = {
    # name: hafem-section overrides on top of params.yaml + profiles/real.yaml
    "scratch ResNet-10-T 48": {},
    "Lite0 pretrained 64": dict(backbone="efficientnet_lite0", pretrained="efficientnet_lite0", img_size=64,
                                layer_decay=0.9),
    "Lite0 pretrained 96": dict(backbone="efficientnet_lite0", pretrained="efficientnet_lite0", img_size=96,
                                layer_decay=0.9),
    "Lite0 pretrained 112": dict(backbone="efficientnet_lite0", pretrained="efficientnet_lite0", img_size=112,
                                 layer_decay=0.9),
    "MobileNetV2 pretrained 64": dict(backbone="mobilenetv2_100", pretrained="mobilenetv2_100", img_size=64,
                                      layer_decay=0.9),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-train", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="the FER2013 archive; default: located under $FERNB_DATA")
    parser.add_argument("--only", nargs="+", default=None, help="run these settings only")
    args = parser.parse_args()
    from fernb.data import locate
    from fernb.data.fer2013 import load_fer2013
    from fernb.machine import environment
    from fernb.train import recipes, train_run
    from fernb.workbook.profiles import apply_profile, profile_path, profile_settings, read_profile

    root = os.path.join(os.path.dirname(__file__), "..")
    real = profile_settings(read_profile(profile_path("real", root=root)), dataset="fer2013")
    params = apply_profile(yaml.safe_load(open(os.path.join(root, "params.yaml"))), real, source="profiles/real.yaml")
    full = load_fer2013(args.data or locate("fer2013"))
    data = full.subset(full.split != "test")       # the probe never sees the test split
    env = environment("cpu")
    print(f"torch {env['torch']}, timm {env['timm']}, threads {env['threads']}; FER2013 "
          f"{int((data.split == 'train').sum())} training faces ({args.max_train} used), "
          f"{int((data.split == 'val').sum())} validation (PublicTest); {args.epochs} epochs, seed {args.seed}")
    rows = []
    for name, overrides in SETTINGS.items():
        if args.only and name not in args.only:
            continue
        section = {**params["hafem"], **overrides, "epochs": args.epochs, "max_train": args.max_train,
                   "seeds": [args.seed], "warmup_epochs": min(params["hafem"]["warmup_epochs"], args.epochs - 1)}
        recipe = recipes.hafem(section, {**params["train"], "progress": False})
        config = recipe.config_for(args.seed)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            result = train_run(recipe.model, recipe.model_kwargs, data, config, os.path.join(tmp, "run"))
        seconds = time.perf_counter() - started
        h = result.history
        print(f"\n== {name}: backbone {recipe.model_kwargs['backbone']} at {recipe.model_kwargs['img_size']} px, "
              f"pretrained {recipe.model_kwargs.get('pretrained')}, layer decay {config.layer_decay} "
              f"({seconds:.0f} s)")
        for _, r in h.iterrows():
            per_s = r.get("train_images_per_s", np.nan)
            print(f"  epoch {int(r.epoch)}: {r.get('epoch_seconds', np.nan):.0f} s, {per_s:.0f} img/s; train acc "
                  f"{r.train_accuracy:.3f}  val acc {r.val_accuracy:.3f}  val macro-F1 {r.val_f1:.3f}")
        rows.append(dict(setting=name, seconds=seconds, epoch_s=seconds / max(1, len(h)),
                         val_accuracy=float(h.val_accuracy.iloc[-1]), val_f1=float(h.val_f1.iloc[-1])))
    print(f"\n{'setting':28s} {'s / epoch':>9s} {'val acc':>8s} {'val F1':>7s}  (last epoch; {args.max_train} "
          f"training faces)")
    for r in rows:
        print(f"{r['setting']:28s} {r['epoch_s']:9.0f} {r['val_accuracy']:8.3f} {r['val_f1']:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
