"""Figures shared by the notebooks. Each function returns a matplotlib Figure.

Notebooks display the figure and hand it to :class:`fernb.workbook.report.Report`, which writes it
under ``reports/`` so the pipeline regenerates every figure.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from fernb.data.core import SPLITS, FERData

# iBUG 68-point groups, for drawing landmarks as connected features.
LANDMARK_GROUPS = {
    "jaw": range(0, 17), "right_brow": range(17, 22), "left_brow": range(22, 27),
    "nose_bridge": range(27, 31), "nose_base": range(31, 36),
    "right_eye": [*range(36, 42), 36], "left_eye": [*range(42, 48), 42],
    "outer_lips": [*range(48, 60), 48], "inner_lips": [*range(60, 68), 60],
}


def _show(ax, image, title=None):
    """Draw ``image`` (0–255, gray or RGB). matplotlib reads a float RGB image as 0–1 and clips the
    rest with a warning, so float RGB (a mean face) is rounded to uint8 first."""
    if image.ndim == 3 and image.dtype.kind == "f":
        image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def class_distribution_chart(table: pd.DataFrame, title: str = "Images per class and split") -> plt.Figure:
    """Bar chart of a :func:`fernb.data.explore.class_distribution` table."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    sns.barplot(data=table, x="class", y="count", hue="split", hue_order=list(SPLITS), ax=axes[0])
    axes[0].set_title("count")
    sns.barplot(data=table, x="class", y="fraction", hue="split", hue_order=list(SPLITS), ax=axes[1])
    axes[1].set_title("share of split")
    for ax in axes:
        ax.tick_params(axis="x", rotation=30)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def sample_grid(data: FERData, per_class: int = 8, split: str = "train", seed: int = 0) -> plt.Figure:
    """``per_class`` random images of each class of ``split`` (rows = classes)."""
    rng = np.random.default_rng(seed)
    k = len(data.classes)
    fig, axes = plt.subplots(k, per_class, figsize=(per_class * 1.1, k * 1.2), squeeze=False)
    for row, cls in enumerate(data.classes):
        pool = np.flatnonzero((data.split == split) & (data.labels == row))
        picks = rng.choice(pool, size=min(per_class, len(pool)), replace=False) if len(pool) else []
        for col in range(per_class):
            ax = axes[row, col]
            if col < len(picks):
                _show(ax, data.images[picks[col]])
            else:
                ax.axis("off")
            if col == 0:
                ax.set_ylabel(cls, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(f"{data.name}: random {split} images per class", fontsize=10)
    fig.tight_layout()
    return fig


def landmarks_overlay(data: FERData, indices, ncols: int = 5, visible: np.ndarray | None = None) -> plt.Figure:
    """Images with their 68 iBUG landmarks drawn as connected features, titled with class and yaw.

    ``visible`` (N, 68) marks landmarks facing the camera; self-occluded ones (the far side
    of a turned head) are drawn as grey crosses, and no line runs through them.
    """
    if data.landmarks is None:
        raise ValueError(f"{data.name} has no landmarks")
    indices = list(indices)
    nrows = int(np.ceil(len(indices) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 2.2, nrows * 2.4), squeeze=False)
    for ax, i in zip(axes.flat, indices):
        _show(ax, data.images[i], f"{data.classes[data.labels[i]]}, yaw {data.pose[i]:+.0f}°")
        pts = data.landmarks[i]
        seen = np.ones(68, bool) if visible is None else np.asarray(visible[i], bool)
        for group in LANDMARK_GROUPS.values():
            idx = list(group)
            for a, b in zip(idx[:-1], idx[1:]):
                if seen[a] and seen[b]:
                    ax.plot(pts[[a, b], 0], pts[[a, b], 1], "-", lw=0.8, color="tab:orange")
        ax.scatter(pts[seen, 0], pts[seen, 1], s=3, color="tab:red")
        ax.scatter(pts[~seen, 0], pts[~seen, 1], s=6, marker="x", lw=0.6, color="0.6")
    for ax in list(axes.flat)[len(indices):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def masks_overlay(image: np.ndarray, masks: dict[str, np.ndarray], title: str = "") -> plt.Figure:
    """One panel per region mask, tinted over ``image`` (e.g. SynthFER's AU regions)."""
    names = list(masks)
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(1.8 * (len(names) + 1), 2.2), squeeze=False)
    _show(axes[0, 0], image, title or "image")
    for ax, name in zip(axes[0, 1:], names):
        _show(ax, image, name)
        ax.imshow(np.ma.masked_where(~masks[name], masks[name]), cmap="autumn", alpha=0.55, vmin=0, vmax=1)
    fig.tight_layout()
    return fig


def pose_distribution(table: pd.DataFrame, title: str = "Head yaw per split") -> plt.Figure:
    """Bar chart of a :func:`fernb.data.explore.pose_table` (yaw bins × split)."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    if len(table):
        sns.barplot(data=table, x="yaw_bin", y="count", hue="split", hue_order=list(SPLITS), ax=ax)
        ax.set_xlabel("yaw bin (degrees)")
    else:
        ax.text(0.5, 0.5, "pose unknown for this dataset", ha="center", va="center", transform=ax.transAxes)
        ax.axis("off")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def pixel_histograms(data: FERData, bins: int = 64) -> plt.Figure:
    """Pixel-intensity histogram per split and per-image mean intensity per class."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    for split in SPLITS:
        images = data.images[data.split == split]
        if len(images):
            hist, edges = np.histogram(images, bins=bins, range=(0, 255), density=True)
            axes[0].plot((edges[:-1] + edges[1:]) / 2, hist, label=split)
    axes[0].set_xlabel("pixel value")
    axes[0].set_ylabel("density")
    axes[0].legend()
    axes[0].set_title("pixel intensities per split")
    frame = pd.DataFrame({
        "class": np.asarray(data.classes)[data.labels],
        "image mean": data.images.reshape(len(data), -1).mean(1),
    })
    sns.boxplot(data=frame, x="class", y="image mean", order=list(data.classes), ax=axes[1], fliersize=1)
    axes[1].tick_params(axis="x", rotation=30)
    axes[1].set_title("mean intensity of each image, per class")
    fig.tight_layout()
    return fig


def image_row(images, titles=None, title: str = "", max_images: int = 12) -> plt.Figure:
    """A single row of images (e.g. near-blank images or one duplicate group)."""
    images = list(images)[:max_images]
    n = max(len(images), 1)
    fig, axes = plt.subplots(1, n, figsize=(1.4 * n, 1.9), squeeze=False)
    for j, ax in enumerate(axes[0]):
        if j < len(images):
            _show(ax, images[j], None if titles is None else titles[j])
        else:
            ax.axis("off")
            ax.text(0.5, 0.5, "none found", ha="center", va="center", transform=ax.transAxes)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def mean_faces_grid(means: np.ndarray, classes) -> plt.Figure:
    """Per-class mean faces from :func:`fernb.data.explore.mean_faces`."""
    fig, axes = plt.subplots(1, len(classes), figsize=(1.5 * len(classes), 1.9), squeeze=False)
    for ax, img, cls in zip(axes[0], means, classes):
        if np.isnan(img).all():
            ax.axis("off")
            continue
        _show(ax, img, cls)
    fig.suptitle("mean face per class (train)", fontsize=9)
    fig.tight_layout()
    return fig


def _draw_landmarks(ax, landmarks, color="lime", size=4):
    for idx in LANDMARK_GROUPS.values():
        pts = landmarks[list(idx)]
        ax.plot(pts[:, 0], pts[:, 1], "-", color=color, lw=0.8)
    ax.scatter(landmarks[:, 0], landmarks[:, 1], s=size, color=color, zorder=3)


def face_pipeline(rows: list[dict], title: str = "") -> plt.Figure:
    """One row per face: the photo (box, landmarks), the aligned crop, the crop after CLAHE.

    Each row is a dict with ``photo``, ``aligned``, ``clahe`` (images) and optionally
    ``box`` (x, y, w, h), ``landmarks`` (68×2 in the photo), ``template`` (5×2 in the crop),
    ``label`` (row title).
    """
    fig, axes = plt.subplots(len(rows), 3, figsize=(9, 2.9 * len(rows)), squeeze=False,
                             gridspec_kw={"width_ratios": [1.35, 1, 1]})
    for ax_row, row in zip(axes, rows):
        _show(ax_row[0], row["photo"], row.get("label", ""))
        if row.get("box") is not None:
            x, y, w, h = row["box"]
            ax_row[0].add_patch(plt.Rectangle((x, y), w, h, fill=False, color="yellow", lw=1.2))
        if row.get("landmarks") is not None:
            _draw_landmarks(ax_row[0], np.asarray(row["landmarks"]), size=2)
        _show(ax_row[1], row["aligned"], "aligned (template, ×1.3 box, bicubic)")
        if row.get("template") is not None:
            t = np.asarray(row["template"])
            ax_row[1].scatter(t[:, 0], t[:, 1], marker="+", s=60, color="red", lw=1)
        _show(ax_row[2], row["clahe"], "CLAHE on L (LAB)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def pose_scatter(true_yaw, estimated_yaw, title: str = "Yaw from landmarks vs the true yaw") -> plt.Figure:
    """Estimated against true yaw, with the identity line and the ±30°/±45° subset edges."""
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    t, e = np.asarray(true_yaw, float), np.asarray(estimated_yaw, float)
    ok = np.isfinite(t) & np.isfinite(e)
    ax.scatter(t[ok], e[ok], s=6, alpha=0.4)
    lim = [-100, 100]
    ax.plot(lim, lim, color="grey", lw=0.8)
    for edge in (30, 45):
        for sign in (-1, 1):
            ax.axhline(sign * edge, color="tab:red", lw=0.5, ls=":")
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_xlabel("true yaw (degrees)")
    ax.set_ylabel("estimated yaw (degrees)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------ training
def learning_curves(histories: dict, title: str = "Learning curves") -> plt.Figure:
    """Loss, accuracy and macro-F1 per epoch, train vs validation, one line style per seed.

    ``histories`` maps a label (``"seed 0"``) to a run's history DataFrame (:mod:`fernb.train`).
    """
    panels = (("loss", "train_loss", "val_loss"), ("accuracy", "train_accuracy", "val_accuracy"),
              ("macro-F1 (val)", None, "val_f1"), ("learning rate (head)", None, "lr"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4))
    styles = ["-", "--", ":", "-."]
    for i, (label, frame) in enumerate(histories.items()):
        style = styles[i % len(styles)]
        for ax, (name, train_col, val_col) in zip(axes, panels):
            if train_col is not None:
                ax.plot(frame["epoch"], frame[train_col], style, color="tab:blue", label=f"train · {label}")
            colour = "tab:orange" if train_col is not None else "tab:green"
            ax.plot(frame["epoch"], frame[val_col], style, color=colour,
                    label=f"{'val' if val_col != 'lr' else 'lr'} · {label}", marker="o", markersize=3)
            ax.set_title(name)
            ax.set_xlabel("epoch")
    axes[-1].set_yscale("log")
    for ax in axes[:2]:
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_heatmap(matrix, classes, title: str = "Confusion matrix (rows: true class, normalised)",
                      counts=None) -> plt.Figure:
    """A row-normalised confusion matrix as a heat map; ``counts`` (same shape) are printed
    under each percentage when given."""
    matrix = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(classes), 0.8 + 0.65 * len(classes)))
    sns.heatmap(matrix, annot=False, cmap="Blues", vmin=0, vmax=1, square=True, cbar=True, ax=ax,
                xticklabels=classes, yticklabels=classes)
    for r in range(matrix.shape[0]):
        for c in range(matrix.shape[1]):
            value = matrix[r, c]
            if np.isnan(value):
                continue
            text = f"{100 * value:.0f}%" + (f"\n{int(counts[r][c])}" if counts is not None else "")
            ax.text(c + 0.5, r + 0.5, text, ha="center", va="center", fontsize=7,
                    color="white" if value > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def per_class_bars(table: pd.DataFrame, title: str = "Per-class precision, recall and F1 (test)") -> plt.Figure:
    """Grouped bars of a per-class table with ``precision``, ``recall``, ``f1`` columns (class index)."""
    long = table[["precision", "recall", "f1"]].reset_index(names="class").melt(
        id_vars="class", var_name="metric", value_name="value")
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(table)), 3.4))
    sns.barplot(data=long, x="class", y="value", hue="metric", ax=ax)
    ax.set_ylim(0, 1)
    ax.set_ylabel("")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def latency_by_variant(latency: pd.DataFrame, title: str = "Batch-1 latency by model and variant") -> plt.Figure:
    """Median batch-1 latency (bars, log scale) with the p90 as a whisker, one bar per variant,
    from a :class:`fernb.realtime.bench.Benchmark` ``latency`` table (rows that did not run are left out)."""
    rows = latency[(latency["batch"] == 1) & (latency["status"] == "ok")]
    labels = list(dict.fromkeys(rows["label"]))
    variants = list(dict.fromkeys(rows["variant"]))
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.32 * len(labels) * max(2, len(variants)) / 2))
    height = 0.8 / len(variants)
    colours = sns.color_palette("tab10", len(variants))
    for j, variant in enumerate(variants):
        part = rows[rows["variant"] == variant].set_index("label")
        ys = [i + (j - (len(variants) - 1) / 2) * height for i, lab in enumerate(labels) if lab in part.index]
        present = [lab for lab in labels if lab in part.index]
        med, p90 = part.loc[present, "median_ms"].to_numpy(), part.loc[present, "p90_ms"].to_numpy()
        ax.barh(ys, med, height=height, color=colours[j], label=variant,
                xerr=[np.zeros_like(med), np.maximum(p90 - med, 0)], error_kw=dict(lw=0.8, capsize=1.5))
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("median latency per call, ms (whisker: p90; log scale)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def throughput_curves(latency: pd.DataFrame, title: str = "Throughput vs batch size") -> plt.Figure:
    """Images per second against batch size (log-log), one colour per model, one line style per variant."""
    rows = latency[latency["status"] == "ok"]
    swept = rows.groupby(["label", "variant"])["batch"].nunique()
    swept = swept[swept > 1].index
    fig, ax = plt.subplots(figsize=(8, 4.2))
    colours = dict(zip(dict.fromkeys(rows["label"]), sns.color_palette("tab10", rows["label"].nunique())))
    styles = dict(zip(dict.fromkeys(v for _, v in swept), ["-", "--", ":", "-."] * 3))
    for label, variant in swept:
        part = rows[(rows["label"] == label) & (rows["variant"] == variant)].sort_values("batch")
        ax.plot(part["batch"], part["images_per_s"], styles[variant], marker="o", markersize=3,
                color=colours[label], label=f"{label} · {variant}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("images / s (batch ÷ median call time)")
    ax.legend(fontsize=6.5, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_title(title)
    fig.tight_layout()
    return fig


def accuracy_vs_fps(points: pd.DataFrame, title: str = "Accuracy against speed") -> plt.Figure:
    """Bubble charts, bubble area ∝ parameters: one panel per ``panel`` value of ``points``
    (columns ``panel``, ``label``, ``fps``, ``accuracy`` in %, ``params_m``). Points without an
    accuracy are drawn as ticks on the x axis (speed known, accuracy not measured)."""
    panels = list(dict.fromkeys(points["panel"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.4), squeeze=False)
    scale = 1200 / max(points["params_m"].max(), 1e-9)
    for ax, panel in zip(axes[0], panels):
        part = points[points["panel"] == panel]
        known = part[part["accuracy"].notna()]
        ax.scatter(known["fps"], known["accuracy"], s=20 + known["params_m"] * scale, alpha=0.5,
                   c=sns.color_palette("tab10", len(known)), edgecolor="black", linewidth=0.5)
        for _, r in known.iterrows():
            ax.annotate(f"{r['label']}\n{r['params_m']:.2f}M", (r["fps"], r["accuracy"]), fontsize=7,
                        ha="center", va="center")
        for _, r in part[part["accuracy"].isna()].iterrows():
            ax.axvline(r["fps"], color="grey", lw=0.6, ls=":")
            ax.annotate(r["label"], (r["fps"], 0.02), xycoords=("data", "axes fraction"), rotation=90, fontsize=6.5,
                        color="grey", va="bottom")
        ax.set_xscale("log")
        ax.set_xlabel("frames / s at batch 1 (log scale)")
        ax.set_ylabel("test accuracy, %")
        ax.set_title(panel, fontsize=9)
        if len(known):
            lo, hi = known["accuracy"].min(), known["accuracy"].max()
            pad = max(5.0, 0.15 * (hi - lo))
            ax.set_ylim(max(0.0, lo - pad), min(100.0, hi + pad))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def stage_shares(table: pd.DataFrame, title: str = "Where the time of a frame goes") -> plt.Figure:
    """Stacked bars of milliseconds per frame by stage (columns), one bar per row (backend · model)."""
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.55 * len(table)))
    left = np.zeros(len(table))
    colours = sns.color_palette("tab10", table.shape[1])
    for colour, stage in zip(colours, table.columns):
        values = table[stage].fillna(0).to_numpy()
        ax.barh(range(len(table)), values, left=left, color=colour, label=stage)
        left += values
    for i, total in enumerate(left):
        ax.text(total, i, f" {total:.1f} ms ({1e3 / total:.0f} fps)" if total > 0 else "", va="center", fontsize=8)
    ax.set_yticks(range(len(table)), table.index, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds per frame (mean)")
    ax.set_xlim(0, left.max() * 1.3 if left.max() > 0 else 1)
    ax.legend(fontsize=7, ncol=min(4, table.shape[1]), loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def ablation_ladder(table: pd.DataFrame, summary: pd.DataFrame, steps: pd.DataFrame, title: str,
                    metric: str = "test_accuracy") -> plt.Figure:
    """Notebook 03's ladder figure. Left: each variant's test accuracy (%) per seed (dots) and
    its mean ± sd (bar), in ladder order. Right: each step between adjacent rows, ours (mean
    over seeds with its 95 % t interval) beside the paper's step (points)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [1.1, 1]})
    order = list(summary.index)
    x = np.arange(len(order))
    left.errorbar(x, summary["mean %"], yerr=summary["sd %"], fmt="o", color="C0", capsize=4, label="ours: mean ± sd")
    for i, variant in enumerate(order):
        values = 100 * table.loc[table["variant"] == variant, metric].astype(float)
        left.scatter(np.full(len(values), i) + 0.12, values, s=14, color="C0", alpha=0.45)
    left.set_xticks(x, order, rotation=20, ha="right")
    left.set_ylabel("test accuracy (%)")
    left.set_title("Our runs (dots: seeds)")
    left.legend(loc="best", fontsize=8)
    y = np.arange(len(steps))
    ours, low, high = steps["our step (pt)"], steps["95% CI low"], steps["95% CI high"]
    right.errorbar(ours, y, xerr=[ours - low, high - ours], fmt="o", color="C0", capsize=4, label="ours (95% CI, seeds)")
    paper = pd.to_numeric(steps["paper step (pt)"], errors="coerce")
    if paper.notna().any():
        right.scatter(paper, y, marker="D", color="C3", zorder=3, label="the paper")
    right.axvline(0, color="0.5", lw=0.8)
    right.set_yticks(y, list(steps.index))
    right.invert_yaxis()
    right.set_xlabel("step (accuracy points)")
    right.set_title("Each step: ours beside the paper's")
    right.legend(loc="best", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def pose_lines(poses: pd.DataFrame, paper: pd.DataFrame | None, title: str) -> plt.Figure:
    """Accuracy (%) per camera yaw for each variant (rows of ``poses``, columns ending in
    ``°``), ours on the left and the paper's (``paper``, same layout) on the right."""
    columns = [c for c in poses.columns if str(c).endswith("°")]
    panels = 2 if paper is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.4), squeeze=False)
    for ax, (frame, name) in zip(axes[0], [(poses, "ours (mean over seeds)"), (paper, "the paper")][:panels]):
        for variant, row in frame[columns].iterrows():
            ax.plot(range(len(columns)), row.to_numpy(dtype=float), marker="o", label=variant)
        ax.set_xticks(range(len(columns)), columns)
        ax.set_xlabel("camera yaw")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(name)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def search_history(trials: pd.DataFrame, title: str = "Optuna search: validation macro-F1 per trial") -> plt.Figure:
    """Each trial's value (complete: dots; pruned: crosses at their last reported value where
    known) and the best value so far."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    done = trials[trials["state"] == "COMPLETE"]
    ax.scatter(done["number"], done["value"], color="C0", label="complete")
    pruned = trials[trials["state"] == "PRUNED"]
    if len(pruned):
        ax.scatter(pruned["number"], pruned.get("last_value", pd.Series(np.nan, index=pruned.index)), marker="x",
                   color="C3", label="pruned (last reported)")
    best = done.set_index("number")["value"].cummax()
    ax.step(best.index, best.to_numpy(), where="post", color="C2", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation macro-F1")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def value_heatmap(values: pd.DataFrame, annotations: pd.DataFrame | None = None, title: str = "",
                  cmap: str = "viridis", vmin: float | None = 0.0, vmax: float | None = 1.0,
                  colorbar: str = "") -> plt.Figure:
    """A table of numbers as a heat map (rows and columns as labelled), each cell annotated by
    ``annotations`` (same shape, strings) or its value; a NaN cell is grey and annotated when
    ``annotations`` says why (notebook 04's transfer matrix, the collapse of the largest drop)."""
    data = values.astype(float)
    fig, ax = plt.subplots(figsize=(1.6 + 1.25 * data.shape[1], 1.2 + 0.65 * data.shape[0]))
    sns.heatmap(data, cmap=cmap, vmin=vmin, vmax=vmax, cbar=True, ax=ax, linewidths=0.5, linecolor="white",
                cbar_kws={"label": colorbar} if colorbar else None)
    ax.set_facecolor("#d9d9d9")
    middle = np.nanmean(data.to_numpy()) if np.isfinite(data.to_numpy()).any() else 0.5
    for r in range(data.shape[0]):
        for c in range(data.shape[1]):
            value = data.iat[r, c]
            text = annotations.iat[r, c] if annotations is not None else ("" if np.isnan(value) else f"{value:.2f}")
            light = not np.isnan(value) and value < middle if cmap == "viridis" else not np.isnan(value) and value > middle
            ax.text(c + 0.5, r + 0.5, text, ha="center", va="center", fontsize=7,
                    color="white" if light else "black")
    ax.set_xlabel(values.columns.name or "")
    ax.set_ylabel(values.index.name or "")
    ax.set_xticklabels(ax.get_xticklabels(), rotation=30, ha="right")
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def finetune_curves(curve: pd.DataFrame, epochs: pd.DataFrame | None = None, paper: float | None = None,
                    title: str = "Fine-tuning on the target") -> plt.Figure:
    """Left: target test accuracy and macro-F1 against fine-tuning epochs N (``curve``, index
    ``epochs``, N = 0 the zero-shot score), with the paper's claimed accuracy as a line when
    given. Right: the validation curve by epoch of the longest run (``epochs``, epoch 0 = the
    source weights)."""
    panels = 2 if epochs is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.4), squeeze=False)
    ax = axes[0][0]
    for column, label in (("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
        ax.plot(curve.index, curve[column], marker="o", label=label)
    if paper is not None:
        ax.axhline(paper, color="C3", linestyle="--", label=f"the paper's claim ({100 * paper:.1f} %)")
    ax.set_xlabel("fine-tuning epochs N (0 = zero-shot)")
    ax.set_ylabel("target test score")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("after N epochs (one run per N)", fontsize=9)
    if epochs is not None:
        ax = axes[0][1]
        ax.plot(epochs.index, epochs["val_accuracy"], marker=".", label="val accuracy")
        ax.plot(epochs.index, epochs["val_f1"], marker=".", label="val macro-F1")
        ax.set_xlabel("epoch of the longest run (0 = source weights)")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
        ax.set_title("validation by epoch", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def paired_grid(rows: dict, title: str = "", max_images: int = 8) -> plt.Figure:
    """The same samples side by side under several conditions: ``rows`` maps a row label to
    uint8 images ``(n, H, W[, 3])`` (row ``r``, column ``i`` = sample ``i`` under condition ``r``)."""
    names = list(rows)
    n = min(max_images, min(len(v) for v in rows.values()))
    fig, axes = plt.subplots(len(names), n, figsize=(1.15 * n + 1.2, 1.2 * len(names)), squeeze=False)
    for r, name in enumerate(names):
        for i in range(n):
            ax = axes[r][i]
            image = rows[name][i]
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def attribution_grid(images: np.ndarray, regions: np.ndarray, maps: dict, titles: list[str],
                     title: str = "") -> plt.Figure:
    """One row per face: the face, its ground-truth region tinted over it, then every method's
    map (``maps``: method -> ``(n, H, W)``) over the face; signed maps (SHAP) in a diverging
    map centred on zero, non-negative ones (Grad-CAM) from zero up."""
    n = len(images)
    cols = 2 + len(maps)
    fig, axes = plt.subplots(n, cols, figsize=(1.6 * cols + 0.8, 1.6 * n + 0.4), squeeze=False)
    for i in range(n):
        grey = images[i] if images[i].ndim == 2 else images[i].mean(-1)
        panels = [("face", None), ("AU region", "region")] + [(m, m) for m in maps]
        for c, (name, kind) in enumerate(panels):
            ax = axes[i][c]
            ax.imshow(grey, cmap="gray", vmin=0, vmax=255)
            if kind == "region":
                ax.imshow(np.ma.masked_where(~regions[i], regions[i]), cmap="autumn", alpha=0.45, vmin=0, vmax=1)
            elif kind is not None:
                m = np.asarray(maps[kind][i], float)
                if (m < 0).any():
                    lim = np.abs(m).max() or 1.0
                    ax.imshow(m, cmap="RdBu_r", alpha=0.6, vmin=-lim, vmax=lim)
                else:
                    ax.imshow(m, cmap="jet", alpha=0.45, vmin=0, vmax=m.max() or 1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=8)
            if c == 0:
                ax.set_ylabel(titles[i], rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def randomisation_curves(cascade: pd.DataFrame, title: str = "Cascading randomisation") -> plt.Figure:
    """Similarity of each method's maps to the trained model's (mean Spearman over faces, ±1 SD)
    against the cascade's steps (top part first), one panel per model (column ``model``)."""
    models = list(dict.fromkeys(cascade["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 3.6), squeeze=False)
    for ax, model in zip(axes[0], models):
        part = cascade[cascade["model"] == model]
        for method, g in part.groupby("method", sort=False):
            g = g.sort_values("step")
            ax.errorbar(g["step"], g["similarity"], yerr=g["similarity_sd"], marker="o", capsize=2, label=method)
        steps = part.drop_duplicates("step").sort_values("step")
        ax.set_xticks(steps["step"])
        ax.set_xticklabels(steps["randomised"], rotation=60, ha="right", fontsize=7)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_ylim(-0.3, 1.05)
        ax.set_ylabel("Spearman with the trained maps")
        ax.set_title(model, fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def deletion_insertion_curves(curves: pd.DataFrame, title: str = "Deletion and insertion") -> plt.Figure:
    """The true class's mean probability against the share of pixels deleted / inserted, one
    line per method (``random``: the reference), panels by model (column ``model``) and mode."""
    models = list(dict.fromkeys(curves["model"]))
    fig, axes = plt.subplots(len(models), 2, figsize=(9, 3.2 * len(models)), squeeze=False)
    for r, model in enumerate(models):
        for c, mode in enumerate(("deletion", "insertion")):
            ax = axes[r][c]
            part = curves[(curves["model"] == model) & (curves["mode"] == mode)]
            for method, g in part.groupby("method", sort=False):
                ax.plot(g["fraction"], g["probability"], marker=".", ls="--" if method == "random" else "-", label=method)
            ax.set_xlabel(f"share of pixels {'deleted' if mode == 'deletion' else 'inserted'}")
            ax.set_ylabel("p(true class)")
            ax.set_title(f"{model} · {mode}", fontsize=9)
            ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def forest(table: pd.DataFrame, title: str = "Accuracy differences with 95 % bootstrap intervals") -> plt.Figure:
    """One line per comparison of notebook 06 (:func:`fernb.evaluate.comparisons.comparison_table`):
    the accuracy difference b − a in points with its bootstrap interval, grouped by family,
    filled where the Holm-adjusted McNemar test resolves it, hollow where it does not."""
    rows = table.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    resolved = rows["verdict"] != "no resolved difference"
    for resolved_flag, marker_fill in ((True, "C0"), (False, "white")):
        pick = resolved == resolved_flag
        ax.errorbar(rows.loc[pick, "Δ accuracy (pt)"], y[pick.to_numpy()],
                    xerr=[rows.loc[pick, "Δ accuracy (pt)"] - rows.loc[pick, "Δ low"],
                          rows.loc[pick, "Δ high"] - rows.loc[pick, "Δ accuracy (pt)"]],
                    fmt="o", color="C0", mfc=marker_fill, capsize=3,
                    label="resolved (Holm McNemar < 0.05)" if resolved_flag else "not resolved")
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{b} − {a}" for a, b in zip(rows["a"], rows["b"])], fontsize=8)
    ax.set_xlabel("accuracy difference (points)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig
