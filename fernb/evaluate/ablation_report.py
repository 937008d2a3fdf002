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

Around those, the rest of what notebook 03 shows, so that its cells only call and display:
the ablation scale beside the paper and stages 01/02 (:func:`scale_table`), whether the
variants learned (:func:`learned_table`), the minority-class gains of the loss rows
(:func:`loss_report`), the paper's per-pose numbers (:func:`paper_pose_frame`), every step's
verdict in one table (:func:`verdict_table`), the search's best configuration beside the paper
(:func:`best_versus_paper`), the stage's ``metrics.json`` (:func:`ablation_metrics`), and each
sentence the notebook prints (the ``*_text`` functions), every number in them computed.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fernb.evaluate.stats import ALPHA, holm, mcnemar_test, paired_seed_test, seeds_needed, step_table, variances
from fernb.evaluate.training_report import chance_verdict
from fernb.metrics import metrics_from_frame
from fernb.papers import STATED_RECIPES
from fernb.runs import read_predictions

__all__ = ["variant_summary", "ladder_steps", "verdict", "per_class_f1", "loss_gains", "pose_variance_table", "POSES",
           "test_predictions", "SAME_SCALE_TEXT", "MINORITY_CLASSES", "scale_table", "scale_text", "runs_text",
           "learned_table", "learned_text", "loss_report", "minority_classes", "minority_text", "paper_pose_frame",
           "printed_var_text", "verdict_table", "verdict_text", "search_text", "best_versus_paper", "best_text",
           "tuned_text", "search_metrics", "ablation_metrics"]

POSES = (-90.0, -45.0, 0.0, 45.0, 90.0)     # KDEF's camera angles (LANMSFF Table XII's columns)


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


# --- Around the ladders: what notebook 03 shows, its sentences and its metrics.json -------------------------------

SAME_SCALE_TEXT = "The ablation scale is the training stages' own (no overrides)."
MINORITY_CLASSES = ("disgust", "contempt")   # HAFEM §4's two classes, in the order the paper names them


def scale_table(sections: Mapping[str, Mapping], ablations: Mapping, recipes: Sequence[str] = ("hafem", "lanmsff")
                ) -> pd.DataFrame:
    """One row per setting the ablation scale overrides (``ablations.<recipe>``): the paper's
    value (:data:`fernb.papers.STATED_RECIPES`, "not stated" where it gives none), stage 01's /
    02's (``sections``) and the ablation runs'. Empty when nothing is overridden."""
    rows = []
    for name in recipes:
        stated = STATED_RECIPES[name]
        for key, value in (ablations.get(name) or {}).items():
            rows.append({"recipe": name, "setting": key, "the paper": stated.get(key, "not stated"),
                         "stage 01 / 02": sections[name].get(key), "ablation runs": value})
    return pd.DataFrame(rows)


def scale_text(seeds: Sequence[int], baseline: Mapping[str, float]) -> str:
    """The seeds, and the two baselines of the test split (:func:`fernb.evaluate.training_report.chance`)."""
    return (f"Every other setting is stage 01's / 02's (their notebooks list them against the papers). "
            f"Seeds: **{seeds}**. On the test split, always answering the largest class scores "
            f"**{100 * baseline['majority_share']:.1f} %**, and balanced chance is "
            f"**{100 * baseline['balanced_chance']:.1f} %**.")


def runs_text(table: pd.DataFrame, seconds: float) -> str:
    """How many cells (rows of :func:`fernb.train.ablations.run_cells`' table) came from how many
    distinct runs, where those runs came from, and this execution's training time."""
    runs = table.drop_duplicates(["key", "seed"])
    origins = runs["origin"].value_counts()
    return (f"{len(table)} cells from {len(runs)} runs: " + ", ".join(f"{n} {origin}" for origin, n in origins.items())
            + f" ({seconds:.0f} s in this execution).")


def learned_table(table: pd.DataFrame, num_classes: int) -> pd.DataFrame:
    """Per (ladder, variant), the test accuracy, balanced accuracy and macro-F1 averaged over
    seeds, with :func:`fernb.evaluate.training_report.chance_verdict` on the balanced accuracy."""
    learned = table.groupby(["ladder", "variant"], sort=False)[["test_accuracy", "test_balanced_accuracy", "test_f1"]].mean()
    learned["against chance"] = [chance_verdict(b, num_classes) for b in learned["test_balanced_accuracy"]]
    return learned


def learned_text(learned: pd.DataFrame, baseline: Mapping[str, float], estimate: pd.DataFrame) -> str:
    """How many variants of :func:`learned_table` are well above chance; when some are not, why
    their steps measure noise and, with ``estimate``
    (:func:`fernb.train.ablations.stage_scale_estimate`), what stages 01/02's scale would cost."""
    well = int((learned["against chance"] == "well above chance").sum())
    text = (f"**Did the variants learn?** {well} of {len(learned)} are well above chance (mean balanced accuracy over "
            f"twice the {100 * baseline['balanced_chance']:.1f} % of guessing; always answering the largest class scores "
            f"{100 * baseline['majority_share']:.1f} % accuracy).")
    if well < len(learned):
        text += (" A variant that has not learned cannot show what a component does: its steps below measure "
                 "noise around chance, and are reported as such.")
        if len(estimate):
            text += (f" At stages 01/02's own scale, where the default models learn, the ladders need the runs below "
                     f"(`make ablations`, about {estimate['estimated minutes'].sum():.0f} minutes on this machine at "
                     "the measured speed of stages 01 and 02).")
    return text


def loss_report(table: pd.DataFrame, ladder, predictions: dict, classes: Sequence[str]
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """HAFEM §4's loss rows: per-class test F1 per variant (mean and std over seeds, from
    :func:`per_class_f1`) and each row's gain over cross-entropy (:func:`loss_gains`). The
    ladder must keep its "CE" and "compound" rows, which the claim compares."""
    if not {"CE", "compound"} <= set(ladder.order):
        raise ValueError("the loss rows' report compares 'compound' with 'CE': keep both rows of hafem_loss")
    f1 = per_class_f1(table, ladder, predictions, classes)
    return f1.groupby(level="variant", sort=False).agg(["mean", "std"]), loss_gains(f1, ladder)


def minority_classes(classes: Sequence[str]) -> list[str]:
    """The classes of HAFEM §4's minority claim (:data:`MINORITY_CLASSES`) that ``classes`` has."""
    return [c for c in MINORITY_CLASSES if c in classes]


def minority_text(gains: pd.DataFrame, ladder, classes: Sequence[str], dataset: str, alpha: float = ALPHA) -> str:
    """The compound loss's F1 gain over cross-entropy per minority class (``gains`` from
    :func:`loss_gains`) beside the paper's, with its Holm p and a plain reading; a class the
    dataset lacks is said to be untestable."""
    claim = ladder.paper["compound-CE"]
    lines = []
    for cls in minority_classes(classes):
        g = gains.loc[("compound", cls)]
        lines.append(f"- **{cls}**: the paper +{claim['f1_' + cls]} pt; ours {g['gain mean (pt)']:+.1f} ± "
                     f"{g['gain sd (pt)']:.1f} pt over {int(g['seeds'])} seeds (Holm p = {g['p_holm']:.3g}) — "
                     + ("a real gain" if g["p_holm"] < alpha and g["gain mean (pt)"] > 0 else
                        "a real loss" if g["p_holm"] < alpha else "not resolved at this scale"))
    if "contempt" not in classes:
        lines.append(f"- **contempt**: {dataset} has no contempt class here, so the +{claim['f1_contempt']} pt "
                     "claim cannot be tested on it (FER2013 has no contempt class either).")
    return "**Compound loss against cross-entropy only, per minority class:**\n\n" + "\n".join(lines)


def paper_pose_frame(ladder, poses: Sequence[float] = POSES) -> pd.DataFrame:
    """The paper's per-pose accuracies (%) of each variant, in :func:`pose_variance_table`'s
    column layout (``-90°`` … ``+90°``), for :func:`fernb.workbook.plots.pose_lines`."""
    return pd.DataFrame({v.name: {f"{p:+.0f}°": ladder.paper[v.paper]["per_pose"][int(p)] for p in poses}
                         for v in ladder.variants}).T


def printed_var_text(ladder) -> str:
    """What LANMSFF Table XII's printed "Var" is: for each row, the population variance of its
    six printed numbers (five poses and the overall) against the printed Var, and how far the
    five-pose sample variances miss it."""
    six = {v.name: variances([*ladder.paper[v.paper]["per_pose"].values(), ladder.paper[v.paper]["accuracy"]])["population"]
           for v in ladder.variants}
    return ("**The paper's Var.** For every row the printed Var is smaller than both the population and the "
            "sample variance of the row's own five per-pose numbers. The population variance of the row's *six* "
            "printed numbers (the five poses and the overall accuracy, which is their mean) gives "
            + ", ".join(f"{name} {value:.2f} (printed {ladder.paper[ladder.variant(name).paper]['pose_variance']})"
                        for name, value in six.items())
            + f": within {max(abs(six[v.name] - ladder.paper[v.paper]['pose_variance']) for v in ladder.variants):.3f} "
            "of the printed Var in every row (the printed accuracies are rounded), where the five-pose variances miss by up to "
            f"{max(abs(variances(list(ladder.paper[v.paper]['per_pose'].values()))['sample'] - ladder.paper[v.paper]['pose_variance']) for v in ladder.variants):.2f}. "
            "The likeliest reading: the Var column counts the overall column as a sixth pose.")


def verdict_table(ladder_results: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]]) -> pd.DataFrame:
    """Every step of every ladder (``{ladder: (summary, steps)}``, :func:`ladder_steps`' frames)
    in one frame indexed by (ladder, step): the paper's and our step, the 95 % interval, the
    Holm-adjusted p-values, the verdict, and the seeds a paired t-test needs for 80 % power at
    the observed d_z (:func:`fernb.evaluate.stats.seeds_needed`; NaN for no or an undefined effect)."""
    rows = []
    for name, (_, steps) in ladder_results.items():
        for step, row in steps.iterrows():
            dz = row["d_z"]
            rows.append({"ladder": name, "step": step, "paper (pt)": row["paper step (pt)"], "ours (pt)": row["our step (pt)"],
                         "95% CI": f"[{row['95% CI low']:.1f}, {row['95% CI high']:.1f}]", "seeds": row["seeds"],
                         "p_holm (t)": row["p_holm (t)"], "p_holm (McNemar)": row["p_holm (McNemar)"],
                         "verdict": row["verdict"],
                         "seeds for 80% power": seeds_needed(abs(dz)) if np.isfinite(dz) and dz != 0 else np.nan})
    return pd.DataFrame(rows).set_index(["ladder", "step"])


def verdict_text(verdicts: pd.DataFrame) -> str:
    """:func:`verdict_table` in words: the count of steps per verdict, then each step the paper
    reports, the paper's step beside ours."""
    counts = verdicts["verdict"].value_counts()
    return ("**In words.** " + "; ".join(f"{n} step(s) {v}" for v, n in counts.items()) + ". "
            + " ".join(f"{ladder}: {step} — the paper {row['paper (pt)']:+.1f} pt, ours {row['ours (pt)']:+.1f} pt "
                       f"({row['verdict']})." for (ladder, step), row in verdicts.iterrows()
                       if pd.notna(row["paper (pt)"])))


def search_text(study: str, storage: str, trials: pd.DataFrame, seconds: float, objective: str) -> str:
    """The study, where it is stored, its trials per state (``trials`` from
    :func:`fernb.train.search.trials_frame`), the time and the objective; and, when every
    complete trial scored the same, that the search had nothing to rank."""
    states = trials["state"].value_counts()
    values = trials.loc[trials["state"] == "COMPLETE", "value"]
    return (f"Study **{study}** ({storage}): " + ", ".join(f"{n} {s.lower()}" for s, n in states.items())
            + f"; {seconds:.0f} s in this execution. Objective: {objective} on validation."
            + (f" **Every complete trial scored the same** ({values.iloc[0]:.4f}): at this scale each trial's model "
               "answers one class whatever its knobs, so the search has nothing to rank, the pruner nothing to "
               "prune, and the 'best' trial is simply the first." if len(values) > 1 and values.nunique() == 1 else ""))


def best_versus_paper(best: Mapping, recipe: str, section: Mapping) -> pd.DataFrame:
    """One row per knob of the best trial (``best``, recipe overrides): the paper's value
    ("not stated" where it gives none), the training stage's (``section``) and the best trial's."""
    stated = STATED_RECIPES[recipe]
    return pd.DataFrame({key: {"the paper": stated.get(key, "not stated"), f"stage {recipe}": section.get(key),
                               "best trial": value} for key, value in best.items()}).T


def best_text(study, best_file, recipe: str) -> str:
    """The best trial of ``study`` (an Optuna study), its validation macro-F1, the file it was
    written to (relative to the project) and the command that trains stage 01 / 02 with it."""
    stage = "01_hafem" if recipe == "hafem" else "02_lanmsff"
    return (f"Best trial **{study.best_trial.number}**, validation macro-F1 **{study.best_value:.4f}**; "
            f"written to `{best_file}`. Train stage {stage[:2]} with it: "
            f"`fernb train {stage} --params-file {best_file}`.")


def tuned_text(summary: pd.DataFrame, steps: pd.DataFrame) -> str:
    """The best trial's configuration against the recipe on the test split (``summary`` and
    ``steps`` of the two-row search ladder: :func:`variant_summary`, :func:`ladder_steps`)."""
    best, recipe, step = summary.loc["best trial"], summary.loc["recipe"], steps.iloc[0]
    return (f"On the test split the best trial's configuration scores **{best['mean %']:.1f} ± "
            f"{best['sd %']:.1f} %** over {int(best['seeds'])} seeds against "
            f"**{recipe['mean %']:.1f} ± {recipe['sd %']:.1f} %** for the recipe "
            f"({step['our step (pt)']:+.1f} pt, {step['verdict']}).")


def search_metrics(study, *, storage: str, recipe: str, trials: pd.DataFrame, importances: Mapping | None,
                   best_file: str, tuned_summary: pd.DataFrame, seconds: float) -> dict:
    """The search's part of notebook 03's ``metrics.json``: the study, its trials per state, the
    best trial and its knobs' importances, and the best configuration's and the recipe's test
    accuracy over seeds (fractions, from ``tuned_summary``'s %)."""
    states = trials["state"].value_counts()
    return {"study": study.study_name, "storage": storage, "recipe": recipe,
            "trials": {s.lower(): int(n) for s, n in states.items()}, "best_value": study.best_value,
            "best_trial": study.best_trial.number, "best_params": study.best_trial.params,
            "importances": importances, "best_file": best_file,
            "best_test_accuracy_mean": tuned_summary.at["best trial", "mean %"] / 100,
            "best_test_accuracy_sd": tuned_summary.at["best trial", "sd %"] / 100,
            "recipe_test_accuracy_mean": tuned_summary.at["recipe", "mean %"] / 100,
            "seconds": seconds}


def _ladder_metrics(summary: pd.DataFrame, steps: pd.DataFrame) -> dict:
    return {"variants": {v: {"test_accuracy_mean": summary.at[v, "mean %"] / 100,
                             "test_accuracy_sd": summary.at[v, "sd %"] / 100, "seeds": int(summary.at[v, "seeds"]),
                             "paper": summary.at[v, "paper %"]} for v in summary.index},
            "steps": steps.reset_index().to_dict(orient="records")}


def ablation_metrics(*, dataset: str, protocol: dict, ablations: Mapping,
                     ladder_results: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]], pose_frame: pd.DataFrame | None,
                     gains: pd.DataFrame | None, verdicts: pd.DataFrame, search: dict, runs: pd.DataFrame,
                     train_seconds: float, chance_test: dict) -> dict:
    """Notebook 03's ``metrics.json``: per ladder each variant's test accuracy over seeds (as
    fractions) beside the paper's and every step's row; the pose table, the loss gains and the
    verdicts as records; the search (:func:`search_metrics`); the distinct runs of ``runs``
    (the run table with the search's cells); and, as ``headline_accuracy_pct``, each ladder's
    first and last variant's mean test accuracy in %."""
    metrics = {
        "dataset": dataset, "protocol": protocol, "seeds": list(ablations["seeds"]),
        "scale": {name: ablations.get(name) or {} for name in ("hafem", "lanmsff")},
        "ladders": {name: _ladder_metrics(*ladder_results[name]) for name in ladder_results},
        "lanmsff_pose": None if pose_frame is None else pose_frame.reset_index().to_dict(orient="records"),
        "loss_gains": None if gains is None else gains.reset_index().to_dict(orient="records"),
        "verdicts": verdicts.reset_index().to_dict(orient="records"),
        "search": search,
        "runs": int(len(runs.drop_duplicates(["key", "seed"]))), "train_seconds": train_seconds,
        "chance_test": chance_test,
    }
    metrics["headline_accuracy_pct"] = {f"{name}.{v}": summary.at[v, "mean %"] for name, (summary, _) in ladder_results.items()
                                        for v in summary.index[[0, -1]]}
    return metrics
