"""Pretrained against from scratch: stage 01's HAFEM beside its from-scratch twin.

HAFEM §3 fine-tunes an ImageNet-pretrained EfficientNet-B5. When stage 01 runs a pretrained
backbone (``profiles/real.yaml``: the shipped EfficientNet-Lite0, :mod:`fernb.models.imagenet`),
``hafem.scratch_twin`` trains a twin from random weights with the same seeds
(:func:`fernb.train.recipes.scratch_twin`; on real data the ResNet-10-T at 48 px that stood in
for the backbone before). Notebook 01 shows, from the finished runs:

- :func:`budget_table`: each model's configuration, per-seed test accuracy, mean and sample sd
  over seeds, and training time per seed, so that "equal budget" can be read off, not assumed;
- :func:`twin_comparison`: the pair through :func:`fernb.evaluate.comparisons.comparison_table`
  (paired bootstrap interval of the difference over the test images, McNemar on the shared
  seeds' per-image correctness, and the paired t-test / Wilcoxon over seeds when at least two
  seeds are shared);
- :func:`twin_text`: the sentence the notebook prints, every number computed.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from fernb.evaluate.comparisons import TrainedModel, comparison_table
from fernb.runs import RunResult

__all__ = ["twin_names", "trained_model", "budget_table", "twin_comparison", "twin_text", "FAMILY"]

FAMILY = "pretrained vs scratch"


def twin_names(recipe, twin) -> tuple[str, str]:
    """``(twin's name, recipe's name)`` as the tables show them: initial weights, backbone, input size
    (``recipe`` and ``twin`` are :class:`fernb.train.recipes.Recipe`; the twin from
    :func:`fernb.train.recipes.scratch_twin`)."""
    def name(r) -> str:
        kwargs = r.model_kwargs
        return f"{kwargs.get('pretrained') or 'scratch'} {kwargs['backbone']} {kwargs['img_size']} px"

    return name(twin), name(recipe)


def _test_rows(result: RunResult) -> pd.DataFrame:
    frame = result.predictions
    test = frame[frame["split"] == "test"].sort_values("index").reset_index(drop=True)
    if test.empty:
        raise ValueError(f"{result.dir}: the run has no test predictions")
    return test


def trained_model(results: Sequence[RunResult], name: str, stage: str = "01_hafem") -> TrainedModel:
    """Finished runs (one per seed) as a :class:`fernb.evaluate.comparisons.TrainedModel` named ``name``."""
    if not results:
        raise ValueError(f"{name}: no runs")
    first = results[0].info
    kwargs = first.get("model_kwargs") or {}
    scale = f"{first.get('epochs_run')} epoch(s), {kwargs.get('img_size')} px"
    return TrainedModel(name, stage, first.get("dataset", "?"), scale,
                        {int(r.info["seed"]): _test_rows(r) for r in results})


def _seconds(result: RunResult) -> float:
    history = result.history
    if "epoch_seconds" in history.columns and len(history):
        return float(history["epoch_seconds"].sum())
    return float(result.info.get("train_seconds_this_call") or math.nan)


def _weights(info: dict) -> str:
    """The backbone's initial weights as result.json records them (fernb/models/backbones.py
    initial_weights: a list, one entry per backbone)."""
    if "initial_weights" not in info:
        return "not recorded"
    if not info["initial_weights"]:
        return "random initialisation"   # a network with no timm backbone (LANMSFF)
    entry = info["initial_weights"][0]
    if entry.get("kind") == "shipped":
        return f"ImageNet ({entry.get('weights')}, sha256 {str(entry.get('sha256', ''))[:12]}…)"
    return entry.get("kind", "?") + (f" ({entry['file']})" if entry.get("file") else "")


def budget_table(named: dict[str, Sequence[RunResult]]) -> pd.DataFrame:
    """One row per model (``{name: runs}``): backbone, initial weights, input size, epochs run,
    seeds, per-seed test accuracy (%), their mean and sample sd, and minutes of training per
    seed (mean, from each run's ``history.csv``)."""
    rows = []
    for name, results in named.items():
        info = results[0].info
        kwargs = info.get("model_kwargs") or {}
        accuracies = [100 * r.test.accuracy for r in results]
        minutes = [_seconds(r) / 60 for r in results]
        rows.append({"model": name, "backbone": kwargs.get("backbone"), "initial weights": _weights(info),
                     "px": kwargs.get("img_size"),
                     "epochs run": "/".join(str(r.info.get("epochs_run")) for r in results),
                     "seeds": len(results),
                     "test accuracy per seed %": ", ".join(f"{a:.1f}" for a in accuracies),
                     "mean %": float(np.mean(accuracies)),
                     "sd %": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else math.nan,
                     "train minutes per seed": float(np.nanmean(minutes))})
    return pd.DataFrame(rows).set_index("model")


def twin_comparison(pretrained: Sequence[RunResult], scratch: Sequence[RunResult], names: tuple[str, str],
                    *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """The scratch twin (``a``) against the pretrained model (``b``): one row of
    :func:`fernb.evaluate.comparisons.comparison_table` (differences are pretrained − scratch)."""
    scratch_name, pretrained_name = names
    models = [trained_model(scratch, scratch_name), trained_model(pretrained, pretrained_name)]
    return comparison_table(models, {FAMILY: [(scratch_name, pretrained_name)]}, n_boot=n_boot, seed=seed)


def twin_text(budget: pd.DataFrame, comparison: pd.DataFrame) -> str:
    """What the notebook states: the difference with its interval over test images, McNemar,
    the test over seeds (or why there is none), the verdict, and the two budgets."""
    row = comparison.iloc[0]
    a, b = row["a"], row["b"]
    seeds = (f"over {int(row['shared seeds'])} paired seeds the t-test gives p = {row['p t (seeds)']:.3g} "
             f"(d_z {row['d_z (seeds)']:.2f})" if np.isfinite(row["p t (seeds)"]) else f"the test over seeds is "
             f"{row['seed test']}")
    ratio = budget.at[b, "train minutes per seed"] / budget.at[a, "train minutes per seed"]
    return (f"**{b}** reaches {row['accuracy b %']:.1f} % test accuracy against {row['accuracy a %']:.1f} % for "
            f"**{a}**: {row['Δ accuracy (pt)']:+.1f} points [{row['Δ low']:+.1f}, {row['Δ high']:+.1f}] (paired bootstrap "
            f"over {int(row['images'])} test images, seeds averaged); McNemar p = {row['p McNemar (exact)']:.2g}; {seeds}. "
            f"Verdict: *{row['verdict']}*. Budget: {budget.at[b, 'train minutes per seed']:.0f} against "
            f"{budget.at[a, 'train minutes per seed']:.0f} minutes of training per seed ({ratio:.2f}x), on the same machine.")
