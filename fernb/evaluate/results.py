"""What the training notebooks report, computed from finished runs (:class:`fernb.runs.RunResult`).

Both training notebooks (and later the ablation and cross-dataset ones) show the same things
for a list of runs, one per seed: the learning curves, the test metrics with their spread,
how they compare with always answering the largest class and with chance, the confusion
matrix pooled over seeds, the per-class report averaged over seeds, and a ``metrics.json``.
They live here so a test can hold them.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from fernb.metrics import pose_subset_label
from fernb.papers import versus_paper
from fernb.runs import RunResult

__all__ = ["seed_summary", "history_frame", "pooled_predictions", "pooled_confusion", "per_class_mean", "chance", "chance_verdict",
           "chance_text", "summary_versus_paper", "confusions_versus_paper", "pose_subsets_versus_paper", "training_metrics",
           "numerics_table", "HISTORY_COLUMNS"]

HISTORY_COLUMNS = ("seed", "epoch", "lr", "train_loss", "val_loss", "train_accuracy", "val_accuracy", "val_f1")


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


def history_frame(results: Sequence[RunResult]) -> pd.DataFrame:
    """Every run's per-epoch history stacked, with a ``seed`` column first."""
    frames = [r.history.assign(seed=r.info["seed"]) for r in results]
    frame = pd.concat(frames, ignore_index=True)
    return frame[["seed"] + [c for c in frame.columns if c != "seed"]]


def pooled_predictions(results: Sequence[RunResult], split: str = "test") -> pd.DataFrame:
    """The per-sample predictions of ``split`` from every run, stacked (each row keeps its ``seed``)."""
    frame = pd.concat([r.predictions for r in results], ignore_index=True)
    return frame[frame["split"] == split].reset_index(drop=True)


def pooled_confusion(results: Sequence[RunResult], split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """The confusion counts of ``split`` summed over the runs, and the same normalised per
    true class (rows; an empty row stays 0)."""
    counts = sum(np.asarray(getattr(r, split).confusion) for r in results)
    return counts, counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)


def per_class_mean(results: Sequence[RunResult], split: str = "test") -> pd.DataFrame:
    """Per-class precision, recall, F1 and AUC averaged over the runs; ``support`` is the
    split's count per class (the same for every seed)."""
    tables = [getattr(r, split).per_class for r in results]
    mean = pd.concat(tables).groupby(level=0, sort=False).mean()
    mean["support"] = tables[0]["support"]
    return mean


def chance(labels, num_classes: int) -> dict[str, float]:
    """The two baselines a classifier must beat: the share of the largest class (the accuracy
    of always answering it) and the balanced accuracy of guessing, ``1 / K``."""
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=num_classes)
    return {"majority_share": float(counts.max() / max(len(labels), 1)), "balanced_chance": 1.0 / num_classes}


def chance_verdict(balanced_accuracy: float, num_classes: int, factor: float = 2.0) -> str:
    """``"well above chance"`` when balanced accuracy exceeds ``factor`` × chance (1/K), else a
    plain statement that it does not."""
    if balanced_accuracy > factor / num_classes:
        return "well above chance"
    if balanced_accuracy > 1.0 / num_classes:
        return "above chance, but not far above it at these settings"
    return "no better than chance at these settings"


def chance_text(summary: pd.DataFrame, labels_test, num_classes: int, n_seeds: int) -> str:
    """One sentence setting the mean test accuracy and balanced accuracy of ``summary``
    (:func:`seed_summary`) against :func:`chance`'s two baselines, with
    :func:`chance_verdict`'s judgement."""
    baseline = chance(labels_test, num_classes)
    acc, bal = summary.at["accuracy", "mean"], summary.at["balanced_accuracy", "mean"]
    return (f"Over **{n_seeds}** seed(s), test accuracy is **{100 * acc:.1f} %** against "
            f"**{100 * baseline['majority_share']:.1f} %** for always answering the largest class, and balanced "
            f"accuracy **{100 * bal:.1f} %** against **{100 * baseline['balanced_chance']:.1f} %** chance: "
            f"{chance_verdict(bal, num_classes)}.")


def summary_versus_paper(summary: pd.DataFrame, stated: dict) -> pd.DataFrame:
    """The paper's reported numbers beside ours (``summary`` from :func:`seed_summary`), by
    :func:`fernb.papers.versus_paper`.

    ``stated`` maps metric names to the paper's values as printed: percentages, except an
    AUC given as a fraction (HAFEM prints 0.982); what is not a number, or not in the summary,
    is left out. Our mean and std are put in the paper's unit; ``gap`` is ours minus the
    paper's, in that unit.
    """
    stated = {m: v for m, v in stated.items() if m in summary.index and isinstance(v, (int, float))}
    scale = {m: 1.0 if (m == "auc" and v <= 1.0) else 100.0 for m, v in stated.items()}
    return versus_paper(
        stated, {m: summary.at[m, "mean"] * scale[m] for m in stated}, key="metric", compare="gap",
        columns=("paper", "ours (mean)"),
        extra={"ours (std)": {m: summary.at[m, "std"] * scale[m] for m in stated},
               "seeds": {m: int(summary.at[m, "seeds"]) for m in stated}},
        unit={m: "%" if scale[m] == 100.0 else "fraction" for m in stated})


def pose_subsets_versus_paper(by_pose: pd.DataFrame, pose_subsets: dict) -> pd.DataFrame:
    """The paper's accuracy on faces turned by more than each threshold (``{degrees: %}``,
    LANMSFF's "Pose >30°"/">45°" subsets) beside this run's rows of
    :func:`fernb.metrics.accuracy_by_pose`, in % (:func:`fernb.papers.versus_paper`); a
    threshold the table lacks is NaN."""
    stated = {pose_subset_label(degrees): pct for degrees, pct in pose_subsets.items()}
    held = [label for label in stated if label in by_pose.index]
    return versus_paper(stated, {label: 100 * float(by_pose.at[label, "accuracy"]) for label in held},
                        key="subset", compare="gap", columns=("paper %", "this run %"),
                        extra={"images": {label: int(by_pose.at[label, "images"]) for label in held}})


def confusions_versus_paper(normalised: np.ndarray, classes: Sequence[str], stated: dict) -> pd.DataFrame:
    """The confusion cells a paper names (``{(true, predicted): percent}``) beside this run's,
    in percent (:func:`fernb.papers.versus_paper`); pairs with a class this dataset lacks are
    left out."""
    classes = list(classes)
    named = {f"{a} → {b}": pct for (a, b), pct in stated.items() if a in classes and b in classes}
    ours = {f"{a} → {b}": 100.0 * float(normalised[classes.index(a), classes.index(b)])
            for (a, b) in stated if a in classes and b in classes}
    return versus_paper(named, ours, key="true → predicted", compare="gap", columns=("paper %", "this run %"))


def numerics_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """One row per run: the numerics it trained with (``fernb/train/numerics.py``), how they
    were chosen and why, and the probe's training images/s per variant (empty for a choice
    by setting or rule). Runs from before numerics were recorded show their ``amp`` only."""
    rows = []
    for r in results:
        n = r.info.get("numerics") or {"label": r.info.get("amp", "off"), "chosen_by": "not recorded", "reason": "", "probe": {}}
        rows.append({"seed": r.info["seed"], "numerics": n["label"], "chosen by": n["chosen_by"], "why": n["reason"],
                     **{f"probe {k} img/s": v for k, v in n.get("probe", {}).items()}})
    return pd.DataFrame(rows).set_index("seed")


def training_metrics(results: Sequence[RunResult], *, dataset: str, protocol: dict, recipe, model_card,
                  labels_test, versus: pd.DataFrame, root, **extra) -> dict:
    """The ``metrics.json`` of a training stage: test and validation mean/std per metric over
    seeds, the chance baselines, the recipe's departures from the paper, and per run its seed,
    folder, epochs, best epoch, test metrics, environment and training speed."""
    test, val = seed_summary(results, "test"), seed_summary(results, "val")
    k = len(results[0].info["classes"])
    return {
        "dataset": dataset, "protocol": protocol, "seeds": [r.info["seed"] for r in results],
        "model": recipe.model, "model_kwargs": recipe.model_kwargs, "trainable_parameters": model_card.trainable,
        "keras_total_parameters": model_card.keras_total, "departs_from_paper": recipe.notes,
        "test": {m: {"mean": test.at[m, "mean"], "std": test.at[m, "std"]} for m in test.index},
        "val": {m: {"mean": val.at[m, "mean"], "std": val.at[m, "std"]} for m in val.index},
        "chance_test": chance(labels_test, k),
        "runs": [{"seed": r.info["seed"], "dir": r.dir.relative_to(root).as_posix(),
                  "epochs_run": r.info["epochs_run"], "best_epoch": r.info["best_epoch"],
                  "test": r.test.headline(), "environment": r.info["environment"],
                  "numerics": r.info.get("numerics"), "train_seconds": r.info.get("train_seconds_this_call"),
                  "train_images_per_s": float(r.history["train_images_per_s"].median())} for r in results],
        "versus_paper": versus.reset_index().to_dict(orient="records"),
        **extra,
    }
