"""What a from-scratch HAFEM needs to learn on a CPU: its backbone, its centre term, its augmentation.

Trains the CPU-default HAFEM (``params.yaml``'s ``hafem`` section, on the prepared SynthFER
store that ``make repro`` writes; a stratified ``--max-train`` subset to keep it short) under
several settings, one change at a time from the default, and prints per setting and epoch
training and validation accuracy and the loss terms; then, from
:func:`fernb.train.losses.centre_term_diagnosis` on 512 validation faces (centres at their
class means, where Wen's update takes them) at initialisation and after training, at the
paper's λ = (0.60, 0.25, 0.15) for every setting:

- the **gradient ratio at the embedding** ‖∂(λ2·centre)/∂x‖ / ‖∂(λ1·CE)/∂x‖ (above 1, the
  centre term rather than the classifier decides where the features move);
- the **feature scale**: HAFEM's encoder ends in a LayerNorm, so the embedding norm sits near
  √d_model and the centre term can only shrink by pulling every face onto its class mean —
  or, before the classes separate, all faces together;
- the **Fisher ratio**, between- over within-class scatter (0 = a collapsed feature space);
- the **memorisation gap**, training minus validation accuracy in the last epoch.

The settings: the default (ResNet-10-T backbone, cross-entropy + DLS, no online
augmentation); the EfficientNet-B0 backbone instead; the paper's centre term (λ2 0.25) and a
small one (0.01); the paper's augmentation with Mixup without and with the centre term.
Never reads the test split. Run: `.venv/bin/python benchmarks/hafem_cpu_probe.py
[--epochs N] [--max-train 3000] [--seed 0] [--only NAME ...]`.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time

import numpy as np
import torch
import yaml

PAPER_WEIGHTS = (0.60, 0.25, 0.15)
SETTINGS = {
    # name: hafem-section overrides of the default (params.yaml)
    "default": {},
    "EfficientNet-B0 backbone": dict(backbone="efficientnet_b0"),
    "centre term λ2 0.25 (paper)": dict(loss_weights=[0.6, 0.25, 0.15]),
    "centre term λ2 0.01": dict(loss_weights=[0.6, 0.01, 0.15]),
    "augment + Mixup (paper)": dict(augment="hafem", augment_options={}),
    "augment + Mixup + centre 0.25 (paper)": dict(augment="hafem", augment_options={}, loss_weights=[0.6, 0.25, 0.15]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: params.yaml's hafem.epochs")
    parser.add_argument("--only", nargs="+", default=None, help="run these settings only")
    parser.add_argument("--max-train", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from fernb.data import load_prepared
    from fernb.machine import environment
    from fernb.models import create_model, load_model
    from fernb.train import recipes, train_run
    from fernb.train.losses import centre_term_diagnosis

    root = os.path.join(os.path.dirname(__file__), "..")
    params = yaml.safe_load(open(os.path.join(root, "params.yaml")))
    data = load_prepared("synthfer")
    env = environment("cpu")
    print(f"torch {env['torch']}, timm {env['timm']}, threads {env['threads']}, lock {env.get('lock_sha256')}; "
          f"SynthFER {int((data.split == 'train').sum())} training faces, {args.max_train} used, "
          f"{args.epochs or params['hafem']['epochs']} epochs, "
          f"seed {args.seed}")
    rows = []
    for name, overrides in SETTINGS.items():
        if args.only and name not in args.only:
            continue
        section = {**params["hafem"], **overrides, "epochs": args.epochs or params["hafem"]["epochs"],
                   "max_train": args.max_train, "seeds": [args.seed]}
        recipe = recipes.hafem(section, {**params["train"], "progress": False})
        config = dataclasses.replace(recipe.config_for(args.seed), loss="compound")
        started = time.perf_counter()
        rows_idx = np.flatnonzero(data.split == "val")[:512]
        batch = (data.images[rows_idx], data.labels[rows_idx])
        torch.manual_seed(args.seed)
        fresh = create_model(recipe.model, num_classes=len(data.classes), in_chans=1, **recipe.model_kwargs)
        at_init = centre_term_diagnosis(fresh, *batch, weights=PAPER_WEIGHTS, scaling=config.scaling)
        with tempfile.TemporaryDirectory() as tmp:
            result = train_run(recipe.model, recipe.model_kwargs, data, config, os.path.join(tmp, "run"))
            model = load_model(os.path.join(tmp, "run", "model.pt"))
        stats = centre_term_diagnosis(model, *batch, weights=PAPER_WEIGHTS, scaling=config.scaling)
        h = result.history
        print(f"\n== {name}: backbone {recipe.model_kwargs['backbone']}, loss weights {config.loss_weights}, "
              f"augment {config.augment} "
              f"({time.perf_counter() - started:.0f} s)")
        for _, r in h.iterrows():
            print(f"  epoch {int(r.epoch)}: train acc {r.train_accuracy:.3f}  val acc {r.val_accuracy:.3f}  "
                  f"macro-F1 {r.val_f1:.3f}  train CE "
                  f"{r.train_ce:.3f}  centre {r.train_center:.1f}  (λ2·centre / λ1·CE = "
                  f"{config.loss_weights[1] * r.train_center / (config.loss_weights[0] * r.train_ce):.1f})")
        print("  at initialisation: " + ", ".join(f"{k} {v:.3g}" for k, v in at_init.items()))
        print("  trained network:   " + ", ".join(f"{k} {v:.3g}" for k, v in stats.items()))
        rows.append(dict(setting=name, val_accuracy=float(h.val_accuracy.max()), init_gradient_ratio=at_init["gradient_ratio"],
                         gap=float(h.train_accuracy.iloc[-1] - h.val_accuracy.iloc[-1]), **stats))
    print("\n(gradient ratios and Fisher ratios on 512 validation faces, centres at their class means, at the "
          "paper's λ = (0.60, 0.25, 0.15))")
    print(f"{'setting':37s} {'best val acc':>12s} {'train-val gap':>13s} {'grad ratio at init':>19s} {'after':>6s} "
          f"{'Fisher':>7s} {'|x|':>5s}")
    for r in rows:
        print(f"{r['setting']:37s} {r['val_accuracy']:12.3f} {r['gap']:13.3f} {r['init_gradient_ratio']:19.2f} "
              f"{r['gradient_ratio']:6.2f} {r['fisher_ratio']:7.3f} {r['embedding_norm']:5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
