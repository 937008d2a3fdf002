"""What the training notebooks report, computed from finished runs (:class:`fernb.runs.RunResult`).

Both training notebooks (and later the ablation and cross-dataset ones) show the same things
for a list of runs, one per seed: the learning curves, the test metrics with their spread,
how they compare with always answering the largest class and with chance, the confusion
matrix pooled over seeds, the per-class report averaged over seeds, and a ``metrics.json``.
They live here so a test can hold them, with the sentences notebook 02 prints about its runs
(:func:`lanmsff_run_text`, :func:`lanmsff_numerics_text`, :func:`paper_accuracy_text`) and its
figure of the offline ×4 training set (:func:`offline_x4_figure`).
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fernb.evaluate import leakage
from fernb.evaluate.stats import bootstrap_metric
from fernb.metrics import pose_subset_label
from fernb.papers import versus_paper
from fernb.runs import RunResult

__all__ = ["seed_summary", "history_frame", "pooled_predictions", "pooled_confusion", "per_class_mean", "chance", "chance_verdict",
           "chance_text", "summary_versus_paper", "confusions_versus_paper", "pose_subsets_versus_paper", "training_metrics",
           "numerics_table", "leakfree_summary", "shortfall_text", "HISTORY_COLUMNS", "offline_x4_figure", "lanmsff_run_text",
           "lanmsff_numerics_text", "paper_accuracy_text", "with_image_intervals", "spread_text"]

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


# seed_summary's rows that fernb.evaluate.stats.bootstrap_metric can resample, and its name for each
_IMAGE_INTERVAL_METRICS = {"accuracy": "accuracy", "balanced_accuracy": "balanced_accuracy", "f1": "macro_f1"}


def with_image_intervals(summary: pd.DataFrame, results: Sequence[RunResult], split: str = "test",
                         n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """``summary`` (:func:`seed_summary`) with the 95 % percentile interval of the seed-mean over
    the ``split`` images (``images low`` / ``images high``; :func:`fernb.evaluate.stats.bootstrap_metric`,
    every seed's predictions averaged on each resample) beside the spread over seeds, for the rows
    that can be resampled (accuracy, balanced accuracy, macro-F1); NaN for the others (precision,
    recall, AUC). Two sources of uncertainty side by side: which test images, which seed."""
    frames = [r.predictions[r.predictions["split"] == split].sort_values("index") for r in results]
    y = frames[0]["label"].to_numpy()
    preds = np.stack([f["pred"].to_numpy() for f in frames])
    out = summary.copy()
    out["images low"], out["images high"] = np.nan, np.nan
    for row, metric in _IMAGE_INTERVAL_METRICS.items():
        if row in out.index:
            res = bootstrap_metric(y, preds, metric=metric, n_boot=n_boot, seed=seed)
            out.loc[row, ["images low", "images high"]] = res["low"], res["high"]
    return out


def spread_text(summary: pd.DataFrame, metric: str = "accuracy") -> str:
    """One sentence setting the spread over seeds beside the interval over images (``summary`` from
    :func:`with_image_intervals`), in percent."""
    row = summary.loc[metric]
    n = int(row["seeds"])
    images = (f"the 95 % interval over the test images is [{100 * row['images low']:.1f}, {100 * row['images high']:.1f}] "
              f"(half-width {50 * (row['images high'] - row['images low']):.1f} points)")
    if n < 2:
        return (f"Test {metric.replace('_', ' ')}: {100 * row['mean']:.1f} % from one seed; {images}. One seed shows "
                "nothing of the spread a new seed would bring.")
    return (f"Test {metric.replace('_', ' ')}: {100 * row['mean']:.1f} % averaged over {n} seeds, which range from "
            f"{100 * row['min']:.1f} to {100 * row['max']:.1f} (sample sd {100 * row['std']:.1f} points); {images}.")


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


def leakfree_summary(results: Sequence[RunResult], leak: pd.DataFrame, n_boot: int = 2000,
                     seed: int = 0) -> tuple[pd.DataFrame, dict, str]:
    """Test accuracy on the standard split and on its leak-free subset (the test images with no
    exact or near copy in the training split; ``leak`` from :func:`fernb.evaluate.leakage.leakage_table`),
    seed-mean with bootstrap intervals, and the difference: a table (rows standard / leak-free /
    difference, in %), the same as a dict for ``metrics.json``, and one sentence that says it."""
    frames = [r.predictions.query("split == 'test'").sort_values("index") for r in results]
    table = leak.set_index("source_id")
    clean = table.loc[frames[0]["source_id"].astype(str), "clean"].to_numpy(bool)
    exact = table.loc[frames[0]["source_id"].astype(str), "exact_in_train"].to_numpy(bool)
    y = frames[0]["label"].to_numpy()
    preds = np.stack([f["pred"].to_numpy() for f in frames])
    res = leakage.accuracy_standard_and_clean(y, preds, clean, n_boot=n_boot, seed=seed)
    rows = {"standard test split": res["all"], "leak-free subset": res["clean"]}
    frame = pd.DataFrame([{"test images": r["n"], "accuracy %": 100 * r["value"], "low %": 100 * r["low"],
                           "high %": 100 * r["high"]} for r in rows.values()], index=list(rows))
    diff = res["difference"]
    frame.loc["leak-free − standard"] = [np.nan, 100 * diff["value"], 100 * diff["low"], 100 * diff["high"]]
    frame.index.name = "test set"
    # accuracy on the images that do have a copy in training, to say where the difference comes from
    leaked = ~clean
    leaked_acc = float((preds[:, leaked] == y[leaked]).mean()) if leaked.any() else float("nan")
    metrics = {"standard": res["all"], "leakfree": res["clean"], "difference": diff,
               "exact_in_train": int(exact.sum()), "near_or_exact_in_train": int(leaked.sum()),
               "accuracy_on_leaked": leaked_acc, "seeds": len(results)}
    resolved = diff["low"] > 0 or diff["high"] < 0
    text = (f"**{int(leaked.sum()):,}** of {len(clean):,} test images have a copy in the training split "
            f"({int(exact.sum()):,} byte-identical, the rest near copies). On them this model scores "
            f"**{100 * leaked_acc:.1f} %**"
            f"; on the **{int(clean.sum()):,}** leak-free test images **{100 * res['clean']['value']:.1f} %** "
            f"[{100 * res['clean']['low']:.1f}, {100 * res['clean']['high']:.1f}] against "
            f"{100 * res['all']['value']:.1f} % on the standard split: leak-free − standard = "
            f"**{100 * diff['value']:+.2f} points** [{100 * diff['low']:+.2f}, {100 * diff['high']:+.2f}] "
            f"({len(results)} seed(s), bootstrap over the test images), "
            + ("an interval that excludes zero: the leak moves the reported number." if resolved else
               "an interval that includes zero: at this scale the leak does not measurably move the reported number.")
            if leaked.any() else
            f"No test image has an exact or near copy in the training split ({len(clean):,} checked): "
            f"the standard test number is already leak-free.")
    return frame, metrics, text


def shortfall_text(model: str, dataset: str, ours: float, stated: float, recipe, seeds: int) -> str:
    """One paragraph for a training notebook: our test accuracy (%) against the paper's on the same
    dataset, by how much it falls short (or not), at which scale (the recipe's epochs and image
    size), and what the paper-scale command changes (the recipe's departures, :attr:`Recipe.notes`)."""
    config = recipe.config
    size = recipe.model_kwargs.get("img_size")
    scale = (f"{config.epochs} epochs" + (f" at {size} px" if size else "")
             + (f" on a {config.max_train:,}-image subset" if config.max_train else " on the full training split")
             + f", {seeds} seed(s)")
    gap = ours - stated
    head = (f"{model} reaches **{ours:.1f} %** on {dataset} here ({scale}): "
            + (f"**{-gap:.1f} points below** the paper's {stated} %." if gap < 0 else
               f"{gap:+.1f} points against the paper's {stated} %, at or above it."))
    if not recipe.notes:
        return head + " These are the paper's own settings, so the gap is a finding about the claim."
    changes = "; ".join(recipe.notes)
    return (head + f" The scale is not the paper's: `make paper DATASET={dataset}` runs the paper's recipe, which changes "
            f"{len(recipe.notes)} setting(s) of this run: {changes}.")



def offline_x4_figure(example, labels: Sequence[int], classes: Sequence[str], kinds: Sequence[str]) -> plt.Figure:
    """LANMSFF's offline ×4 training set for a few faces: one column per face (titled with its
    class), one row per kind of copy (``kinds``, :data:`fernb.train.augment.OFFLINE_KINDS`; the
    rotation's row names each face's angle). ``example`` is what
    :func:`fernb.train.augment.lanmsff_offline_augment` returns for those faces: their copies in
    face-major order (``images``) and each face's rotation (``angles``)."""
    n, rows = len(labels), len(kinds)
    fig, axes = plt.subplots(rows, n, figsize=(1.4 * n, 1.5 * rows))
    for j in range(n):
        for r, kind in enumerate(kinds):
            ax = axes[r, j]
            ax.imshow(example.images[rows * j + r], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(classes[labels[j]], fontsize=8)
            if j == 0:
                ax.set_ylabel(kind + (f"\n{example.angles[j]:+d}°" if kind == "rotate" else ""), fontsize=8)
    return fig


def lanmsff_run_text(result: RunResult, recipe) -> str:
    """Notebook 02's account of one run: epochs run of the limit, training rows per epoch (the
    offline ×4 set or each face once), the epoch of the lowest validation loss, that the last
    weights are tested (as in the official code), and the training speed and device."""
    info = result.info
    return (f"Seed {info['seed']} ran **{info['epochs_run']}** of {recipe.config.epochs} epochs over "
            f"{info['train_rows_per_epoch']:,} training rows per epoch ("
            + (f"{info['train_images']:,} faces ×4" if recipe.config.offline_x4 else "each training face once, no offline ×4 set")
            + "); "
            f"the lowest validation loss came at epoch {info['best_epoch']}, and the last epoch's weights are "
            f"tested. Training ran at about {result.history['train_images_per_s'].median():.0f} images/s on "
            f"`{info['environment']['device']}`.")


def lanmsff_numerics_text(result: RunResult, bn_momentum, code_bn_momentum) -> str:
    """The numerics one run trained in, how they were chosen and why (``fernb/train/numerics.py``;
    a run from before they were recorded shows its ``amp``), and its BatchNorm momentum against
    the official code's."""
    chosen = result.info.get("numerics") or {}
    return (f"Seed {result.info['seed']} trained in **{chosen.get('label', result.info['amp'])}** "
            f"({chosen.get('chosen_by', 'not recorded')}: {chosen.get('reason') or 'set by the train section'}); "
            f"BatchNorm momentum {bn_momentum} ({'the code' if bn_momentum == code_bn_momentum else 'not the code'}'s "
            f"{code_bn_momentum}).")


def paper_accuracy_text(versus: pd.DataFrame, targets: dict | None, claims: dict, *, dataset: str, seeds: int,
                        density: float, departs: bool) -> str:
    """Our mean test accuracy beside the paper's for this dataset (``versus`` from
    :func:`summary_versus_paper`, ``targets`` the paper's claims for it) with the information
    density (accuracy ÷ parameters in millions) beside the paper's ``ID``, and whether this run
    departs from the paper's settings; for a dataset the paper does not report (``targets``
    None), the datasets its accuracy claims are for (``claims``, ablation tables left out)."""
    if targets:
        return (f"The paper reports **{targets['accuracy']} %** on {dataset}; this run measures "
                f"**{versus.at['accuracy', 'ours (mean)']:.1f} %** ({versus.at['accuracy', 'gap']:+.1f} points) over "
                f"{seeds} seed(s). Its information density, accuracy ÷ parameters in millions, is "
                f"{density:.0f} here against the paper's {targets.get('ID', '—')}."
                + (" This run departs from the code's settings (section 2), so it is not the paper-scale test." if departs else ""))
    return (f"The paper reports nothing on **{dataset}**; its accuracy claims are for "
            + ", ".join(f"{name} ({t['accuracy']} %)" for name, t in claims.items()
                        if isinstance(t, dict) and "accuracy" in t and not name.startswith("ablation"))
            + f". Information density here (accuracy ÷ parameters in millions): {density:.0f}.")
