"""What notebook 03 reports for an ablation ladder, computed from its runs' saved predictions.

The runs come from :func:`fernb.train.ablations.run_cells` (one row per ladder, variant and
seed, with its run folder); nothing here runs a model. For each ladder
(:data:`fernb.train.ablations.LADDERS`):

- :func:`variant_summary`: per variant, the test metric's mean ± sd, min–max and seed count,
  beside the paper's number for that row (HAFEM Figure 3; LANMSFF Table XII);
- :func:`ladder_steps`: each step between adjacent rows — our mean difference with a paired
  t-test and Wilcoxon over seeds (:func:`fernb.evaluate.stats.step_table`), McNemar on the
  per-image predictions pooled over seeds (pairs matched by seed and image), Holm over the
  ladder's steps for each test — beside the paper's step, with a plain verdict
  (:func:`verdict`);
- :func:`per_class_f1`: per-class F1 per variant (mean and sd over seeds) and the gain of
  each loss row over cross-entropy only, for HAFEM §4's minority-class claim;
- :func:`pose_variance_table`: accuracy per camera yaw (KDEF's −90/−45/0/45/90, each test face
  assigned to the nearest), overall, and the variance over the poses both ways — population
  and sample — beside Table XII's "Var" (which matches neither for its own numbers,
  :func:`fernb.evaluate.stats.variances`).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from fernb.evaluate.stats import holm, mcnemar_test, paired_seed_test, step_table, variances
from fernb.metrics import metrics_from_frame
from fernb.runs import read_predictions

__all__ = ["variant_summary", "ladder_steps", "verdict", "per_class_f1", "loss_gains", "pose_variance_table", "POSES",
           "test_predictions", "ALPHA"]

POSES = (-90.0, -45.0, 0.0, 45.0, 90.0)     # KDEF's camera angles (LANMSFF Table XII's columns)
ALPHA = 0.05


def _rows(table: pd.DataFrame, ladder) -> pd.DataFrame:
    rows = table[table["ladder"] == ladder.name]
    if rows.empty:
        raise ValueError(f"no runs of ladder {ladder.name} in the table (it has {sorted(table['ladder'].unique())})")
    return rows


def variant_summary(table: pd.DataFrame, ladder, metric: str = "test_accuracy") -> pd.DataFrame:
    """One row per variant in ladder order: mean, sd (ddof 1), min, max and seeds of ``metric``
    in %, and the paper's value for the row (its ``accuracy``), in %."""
    rows = _rows(table, ladder)
    out = []
    for variant in ladder.variants:
        values = 100 * rows.loc[rows["variant"] == variant.name, metric].astype(float)
        paper = (ladder.paper.get(variant.paper) or {}).get("accuracy") if variant.paper else None
        out.append({"variant": variant.name, "paper row": variant.paper or "—", "paper %": paper,
                    "mean %": values.mean(), "sd %": values.std(ddof=1) if len(values) > 1 else np.nan,
                    "min %": values.min(), "max %": values.max(), "seeds": len(values)})
    return pd.DataFrame(out).set_index("variant")


def test_predictions(table: pd.DataFrame, root) -> dict[str, pd.DataFrame]:
    """Each run folder's test predictions (read once per folder: variants sharing a run share it)."""
    out = {}
    for directory in table["dir"].unique():
        frame = read_predictions(root / directory / "predictions.csv")
        out[directory] = frame[frame["split"] == "test"].reset_index(drop=True)
    return out


def _pooled_correct(rows: pd.DataFrame, variant: str, predictions: dict, seeds: Sequence[int]) -> np.ndarray:
    parts = []
    for seed in seeds:
        directory = rows.loc[(rows["variant"] == variant) & (rows["seed"] == seed), "dir"].iloc[0]
        frame = predictions[directory].sort_values("index")
        parts.append(frame["correct"].to_numpy(dtype=bool))
    return np.concatenate(parts)


def verdict(paper_step: float | None, ours: float, p: float, alpha: float = ALPHA) -> str:
    """``supported`` (same sign as the paper's step, Holm-adjusted p < alpha), ``contradicted``
    (the opposite sign, p < alpha), else ``not resolved at this scale`` — or, where the paper
    gives no step, ``real difference`` / ``no resolved difference``."""
    significant = np.isfinite(p) and p < alpha
    if paper_step is None or not np.isfinite(paper_step):
        return "real difference" if significant else "no resolved difference"
    if not significant:
        return "not resolved at this scale"
    return "supported" if np.sign(ours) == np.sign(paper_step) else "contradicted"


def ladder_steps(table: pd.DataFrame, ladder, predictions: dict, metric: str = "test_accuracy") -> pd.DataFrame:
    """One row per step between adjacent variants: the paper's step (points), our mean step
    over seeds with its 95 % t interval (points), the paired t and Wilcoxon p over seeds, the
    per-image McNemar p on predictions pooled over the shared seeds, each Holm-adjusted over
    the ladder's steps, and the :func:`verdict` (on the larger of the two adjusted p-values,
    so a step counts only when both tests agree). A step with fewer than two shared seeds has no
    test over seeds, and its verdict says so ("not tested (1 seed)"); its McNemar p is still given."""
    rows = _rows(table, ladder)
    per_seed = rows[["variant", "seed", metric]].rename(columns={metric: "value"})
    steps = step_table(per_seed, ladder.order, metric="value")
    summary = variant_summary(table, ladder, metric)
    out = []
    for _, step in steps.iterrows():
        a, b = step["from"], step["to"]
        seeds = sorted(set(rows.loc[rows["variant"] == a, "seed"]) & set(rows.loc[rows["variant"] == b, "seed"]))
        test = mcnemar_test(_pooled_correct(rows, a, predictions, seeds), _pooled_correct(rows, b, predictions, seeds))
        pa, pb = summary.at[a, "paper %"], summary.at[b, "paper %"]
        paper_step = pb - pa if pa is not None and pb is not None and np.isfinite([pa, pb]).all() else None
        out.append({"step": f"{a} → {b}", "paper step (pt)": paper_step,
                    "our step (pt)": 100 * step["mean_difference"], "95% CI low": 100 * step["ci_low"],
                    "95% CI high": 100 * step["ci_high"], "seeds": int(step["n"]), "d_z": step["d_z"],
                    "p (t, seeds)": step["p_t"], "p (Wilcoxon)": step["p_wilcoxon"],
                    "Wilcoxon floor": step["wilcoxon_floor"], "images pooled": test["n"],
                    "p (McNemar, images)": test["p_exact"]})
    frame = pd.DataFrame(out).set_index("step")
    frame["p_holm (t)"] = holm(frame["p (t, seeds)"].to_numpy(dtype=float))
    frame["p_holm (McNemar)"] = holm(frame["p (McNemar, images)"].to_numpy(dtype=float))
    worst = np.fmax(frame["p_holm (t)"].to_numpy(dtype=float), frame["p_holm (McNemar)"].to_numpy(dtype=float))
    frame["verdict"] = [verdict(ps, ours, p) if n >= 2 else f"not tested ({n} seed{'s' if n != 1 else ''})"
                        for ps, ours, p, n in zip(frame["paper step (pt)"], frame["our step (pt)"], worst, frame["seeds"])]
    return frame


def per_class_f1(table: pd.DataFrame, ladder, predictions: dict, classes: Sequence[str]) -> pd.DataFrame:
    """Per-class test F1 (%) per variant: a frame indexed by (variant, seed), one column per class."""
    rows = _rows(table, ladder)
    out = []
    for _, row in rows.iterrows():
        metrics = metrics_from_frame(predictions[row["dir"]], tuple(classes))
        f1 = metrics.per_class["f1"]
        out.append({"variant": row["variant"], "seed": int(row["seed"]), **{c: 100 * float(f1[c]) for c in classes}})
    return pd.DataFrame(out).set_index(["variant", "seed"])


def loss_gains(f1: pd.DataFrame, ladder, base: str = "CE") -> pd.DataFrame:
    """Each loss row's per-class F1 gain over ``base`` (points): mean and sd over the shared
    seeds, and the paired t p-value per class (Holm over the classes of that row); with one
    shared seed the gain alone, its sd and p NaN."""
    out = []
    base_rows = f1.xs(base, level="variant")
    for variant in ladder.order:
        if variant == base:
            continue
        rows = f1.xs(variant, level="variant")
        seeds = sorted(set(rows.index) & set(base_rows.index))
        ps, records = [], []
        for cls in f1.columns:
            a, b = base_rows.loc[seeds, cls].to_numpy(float), rows.loc[seeds, cls].to_numpy(float)
            test = (paired_seed_test(a, b) if len(seeds) >= 2 else     # one seed: its gain, untested
                    {"mean_difference": float((b - a).mean()) if len(seeds) else math.nan, "sd_difference": math.nan,
                     "p_t": math.nan})
            records.append({"variant": variant, "class": cls, "gain mean (pt)": test["mean_difference"],
                            "gain sd (pt)": test["sd_difference"], "seeds": len(seeds), "p (t)": test["p_t"]})
            ps.append(test["p_t"])
        for record, p in zip(records, holm(np.asarray(ps, dtype=float))):
            record["p_holm"] = p
        out += records
    return pd.DataFrame(out).set_index(["variant", "class"])


def _nearest_pose(yaw: np.ndarray, poses: Sequence[float]) -> np.ndarray:
    poses = np.asarray(poses, dtype=float)
    return poses[np.abs(yaw[:, None] - poses[None, :]).argmin(axis=1)]


def pose_variance_table(table: pd.DataFrame, ladder, predictions: dict, poses: Sequence[float] = POSES,
               paper: dict | None = None) -> pd.DataFrame:
    """One row per variant: test accuracy (%) at each camera yaw (faces assigned to the
    nearest of ``poses``, averaged over seeds), overall, and the variance of the per-pose
    numbers — population (ddof 0) and sample (ddof 1) — with the paper's per-pose numbers,
    overall and "Var" beside them (``paper``: Table XII rows by the variant's paper name).
    A run whose test faces carry no yaw gives NaN poses."""
    rows = _rows(table, ladder)
    out = []
    for variant in ladder.variants:
        per_seed = []
        for directory in rows.loc[rows["variant"] == variant.name, "dir"]:
            frame = predictions[directory]
            yaw = frame["pose"].to_numpy(dtype=float)
            known = np.isfinite(yaw)
            nearest = _nearest_pose(yaw[known], poses)
            correct = frame["correct"].to_numpy(dtype=bool)[known]
            per_seed.append({p: 100 * correct[nearest == p].mean() if (nearest == p).any() else np.nan for p in poses}
                            | {"overall": 100 * frame["correct"].mean()})
        mean = pd.DataFrame(per_seed).mean()
        spread = variances([mean[p] for p in poses]) if mean[list(poses)].notna().all() else {"population": np.nan, "sample": np.nan}
        row = {"variant": variant.name, **{f"{p:+.0f}°": mean[p] for p in poses}, "overall": mean["overall"],
               "var (population)": spread["population"], "var (sample)": spread["sample"]}
        stated = (paper or {}).get(variant.paper or "", {})
        row["paper overall"] = stated.get("accuracy")
        row["paper Var"] = stated.get("pose_variance")
        per_pose = stated.get("per_pose") or {}
        if per_pose:
            paper_var = variances([per_pose[p] for p in sorted(per_pose)])
            row["paper's own per-pose: var (population)"] = paper_var["population"]
            row["paper's own per-pose: var (sample)"] = paper_var["sample"]
        out.append(row)
    return pd.DataFrame(out).set_index("variant")
