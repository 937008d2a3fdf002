"""fernb.evaluate.ablation_report around the ladders: notebook 03's tables, sentences and metrics.json."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from fernb.evaluate import ablation_report as abl
from fernb.evaluate.stats import seeds_needed
from fernb.papers import lanmsff as lanmsff_paper
from fernb.train import ablations as ab

BASELINE = {"majority_share": 0.25, "balanced_chance": 1 / 7}


def _summary(rows: dict) -> pd.DataFrame:
    """A :func:`variant_summary`-shaped frame from ``{variant: (mean %, sd %, seeds)}``."""
    return pd.DataFrame([{"variant": v, "paper row": "—", "paper %": None, "mean %": m, "sd %": s, "min %": m, "max %": m,
                          "seeds": n} for v, (m, s, n) in rows.items()]).set_index("variant")


def _steps(rows: dict) -> pd.DataFrame:
    """A :func:`ladder_steps`-shaped frame from ``{step: (paper pt, ours pt, d_z, verdict)}``."""
    return pd.DataFrame([{"step": k, "paper step (pt)": p, "our step (pt)": o, "95% CI low": o - 1.0, "95% CI high": o + 1.0,
                          "seeds": 3, "d_z": dz, "p_holm (t)": 0.5, "p_holm (McNemar)": 0.25, "verdict": v}
                         for k, (p, o, dz, v) in rows.items()]).set_index("step")


def test_the_scale_table_sets_each_override_beside_the_paper_and_the_stage():
    sections = {"hafem": {"epochs": 12, "max_train": None}, "lanmsff": {"img_size": 40}}
    frame = abl.scale_table(sections, {"hafem": {"epochs": 1, "max_train": 2000}, "lanmsff": {"img_size": 32}})
    assert frame[["recipe", "setting"]].values.tolist() == [["hafem", "epochs"], ["hafem", "max_train"], ["lanmsff", "img_size"]]
    assert frame.at[0, "the paper"] == 140 and frame.at[2, "the paper"] == 64    # HAFEM §3's 140 epochs; the code's 64 px
    assert pd.isna(frame.at[1, "the paper"])                                     # stated as None: no subset
    assert frame.at[0, "stage 01 / 02"] == 12 and frame.at[2, "stage 01 / 02"] == 40
    assert frame["ablation runs"].tolist() == [1, 2000, 32]
    assert abl.scale_table(sections, {"hafem": {"pool": "max"}}).at[0, "the paper"] == "not stated"
    assert abl.scale_table(sections, {"hafem": {}, "lanmsff": None}).empty


def test_scale_and_runs_sentences_carry_the_computed_numbers():
    text = abl.scale_text([0, 1], BASELINE)
    assert "Seeds: **[0, 1]**" in text and "**25.0 %**" in text and "**14.3 %**" in text
    table = pd.DataFrame({"key": ["a", "a", "b", "c"], "seed": [0, 0, 0, 0],
                          "origin": ["trained", "trained", "trained", "read back from 01_hafem"]})
    assert abl.runs_text(table, 12.4) == "4 cells from 3 runs: 2 trained, 1 read back from 01_hafem (12 s in this execution)."


def test_learned_says_which_variants_beat_chance_and_what_the_stage_scale_costs():
    table = pd.DataFrame({"ladder": ["l"] * 4, "variant": ["a", "a", "b", "b"], "test_accuracy": [0.5, 0.7, 0.2, 0.3],
                          "test_balanced_accuracy": [0.4, 0.6, 0.1, 0.2], "test_f1": [0.3, 0.5, 0.1, 0.1]})
    learned = abl.learned_table(table, 7)
    assert learned.loc[("l", "a"), "test_balanced_accuracy"] == pytest.approx(0.5)
    assert learned["against chance"].tolist() == ["well above chance", "above chance, but not far above it at these settings"]
    estimate = pd.DataFrame({"estimated minutes": [30.2, 15.1]}, index=["hafem", "lanmsff"])
    text = abl.learned_text(learned, BASELINE, estimate)
    assert text.startswith("**Did the variants learn?** 1 of 2 are well above chance")
    assert "noise around chance" in text and "about 45 minutes" in text
    assert "minutes" not in abl.learned_text(learned, BASELINE, pd.DataFrame())
    all_learned = abl.learned_text(learned.iloc[:1], BASELINE, estimate)
    assert "1 of 1" in all_learned and "noise" not in all_learned and "minutes" not in all_learned


def test_the_loss_report_needs_both_rows_of_the_claim():
    ladder = ab.Ladder("hafem_loss", "hafem", "t", "s", (ab.Rung("CE", {}), ab.Rung("CE+DLS", {})))
    with pytest.raises(ValueError, match="keep both rows"):
        abl.loss_report(pd.DataFrame(), ladder, {}, ("happy",))


def test_the_loss_report_averages_per_class_f1_over_seeds(tmp_path):
    ladder = ab.Ladder("hafem_loss", "hafem", "t", "s", (ab.Rung("CE", {}), ab.Rung("compound", {})))
    rows, predictions = [], {}
    # two classes, four test images; class 0's F1 per run set by hand
    for variant, preds in {"CE": [[0, 0, 1, 1], [0, 1, 1, 1]], "compound": [[0, 0, 1, 1], [0, 0, 1, 1]]}.items():
        for seed, pred in enumerate(preds):
            directory = f"runs/x/{variant}/seed{seed}"
            label = np.array([0, 0, 1, 1])
            pred = np.array(pred)
            predictions[directory] = pd.DataFrame({"label": label, "pred": pred, "correct": label == pred,
                                                   "prob_disgust": np.where(pred == 0, 0.9, 0.1),
                                                   "prob_happy": np.where(pred == 1, 0.9, 0.1), "index": range(4),
                                                   "split": "test"})
            rows.append({"ladder": "hafem_loss", "variant": variant, "seed": seed, "dir": directory})
    per_class, gains = abl.loss_report(pd.DataFrame(rows), ladder, predictions, ("disgust", "happy"))
    # CE seed 1: class 0 precision 1, recall 1/2 -> F1 2/3; every other run is perfect
    assert per_class.loc["CE", ("disgust", "mean")] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert per_class.loc["CE", ("disgust", "std")] == pytest.approx(np.std([100, 200 / 3], ddof=1))
    assert per_class.loc["compound", ("disgust", "std")] == 0.0
    assert gains.loc[("compound", "disgust"), "gain mean (pt)"] == pytest.approx((100 - 200 / 3) / 2)


def test_the_minority_sentence_reads_each_gain_and_the_missing_class():
    ladder = ab.LADDERS["hafem_loss"]
    assert abl.minority_classes(("angry", "contempt", "disgust")) == ["disgust", "contempt"]     # the paper's order
    gains = pd.DataFrame([{"variant": "compound", "class": "disgust", "gain mean (pt)": 5.0, "gain sd (pt)": 1.0,
                           "seeds": 3, "p_holm": 0.01}]).set_index(["variant", "class"])
    text = abl.minority_text(gains, ladder, ("angry", "disgust"), "synthfer")
    assert text.startswith("**Compound loss against cross-entropy only, per minority class:**\n\n")
    assert "- **disgust**: the paper +4.1 pt; ours +5.0 ± 1.0 pt over 3 seeds (Holm p = 0.01) — a real gain" in text
    assert "- **contempt**: synthfer has no contempt class here, so the +5.7 pt claim" in text
    gains["gain mean (pt)"] = -5.0
    assert text.replace("+5.0", "-5.0").replace("a real gain", "a real loss") == \
        abl.minority_text(gains, ladder, ("angry", "disgust"), "synthfer")
    gains["p_holm"] = 0.2
    assert "not resolved at this scale" in abl.minority_text(gains, ladder, ("angry", "disgust"), "synthfer")


def test_the_papers_pose_numbers_and_its_var():
    ladder = ab.LADDERS["lanmsff_modules"]
    frame = abl.paper_pose_frame(ladder)
    assert list(frame.index) == ladder.order and list(frame.columns) == ["-90°", "-45°", "+0°", "+45°", "+90°"]
    assert frame.loc["whole"].tolist() == [89.44, 91.18, 92.04, 91.0, 90.17]      # Table XII's first row
    text = abl.printed_var_text(ladder)
    whole = lanmsff_paper.CLAIMS["ablation_kdef"]["whole"]
    six = np.var([*whole["per_pose"].values(), whole["accuracy"]])                 # population variance of six numbers
    assert f"whole {six:.2f} (printed 0.66)" in text
    misses = [abs(np.var(list(r["per_pose"].values()), ddof=1) - r["pose_variance"])
              for r in lanmsff_paper.CLAIMS["ablation_kdef"].values()]
    assert f"miss by up to {max(misses):.2f}." in text


def test_the_verdict_table_gathers_every_step_and_the_seeds_for_power():
    steps = _steps({"a → b": (10.0, 4.0, 1.0, "supported"), "b → c": (None, 0.0, 0.0, "no resolved difference")})
    frame = abl.verdict_table({"lad": (None, steps), "other": (None, steps.iloc[:1])})
    assert list(frame.index) == [("lad", "a → b"), ("lad", "b → c"), ("other", "a → b")]
    assert frame.loc[("lad", "a → b"), "95% CI"] == "[3.0, 5.0]"
    assert frame.loc[("lad", "a → b"), "seeds for 80% power"] == seeds_needed(1.0) == 10
    assert np.isnan(frame.loc[("lad", "b → c"), "seeds for 80% power"])               # no effect, no power to ask for
    text = abl.verdict_text(frame)
    assert text.startswith("**In words.** 2 step(s) supported; 1 step(s) no resolved difference. ")
    assert "lad: a → b — the paper +10.0 pt, ours +4.0 pt (supported)." in text and "b → c" not in text


def test_the_search_sentences():
    trials = pd.DataFrame({"state": ["COMPLETE", "COMPLETE", "PRUNED"], "value": [0.5, 0.5, np.nan]})
    text = abl.search_text("s1", "journal file", trials, 7.2, "val_macro_f1")
    assert text.startswith("Study **s1** (journal file): 2 complete, 1 pruned; 7 s in this execution. "
                           "Objective: val_macro_f1 on validation. **Every complete trial scored the same** (0.5000)")
    trials.loc[1, "value"] = 0.6
    assert "the same" not in abl.search_text("s1", "journal file", trials, 7.2, "val_macro_f1")
    study = SimpleNamespace(study_name="s1", best_value=0.61234, best_trial=SimpleNamespace(number=3, params={"lr": 0.01}))
    assert abl.best_text(study, "runs/03_ablations/search/best.yaml", "lanmsff") == (
        "Best trial **3**, validation macro-F1 **0.6123**; written to `runs/03_ablations/search/best.yaml`. Train stage 02 "
        "with it: `fernb train 02_lanmsff --params-file runs/03_ablations/search/best.yaml`.")
    best = abl.best_versus_paper({"lr": 0.01, "pool": "max"}, "hafem", {"lr": 0.001, "pool": "mean"})
    assert best.loc["lr"].tolist() == [0.001, 0.001, 0.01] and best.loc["pool", "the paper"] == "not stated"
    assert list(best.columns) == ["the paper", "stage hafem", "best trial"]


def test_the_tuned_sentence_and_the_metrics():
    summary = _summary({"recipe": (40.0, 2.0, 3), "best trial": (45.5, 1.25, 3)})
    steps = _steps({"recipe → best trial": (None, 5.5, 2.0, "real difference")})
    assert abl.tuned_text(summary, steps) == (
        "On the test split the best trial's configuration scores **45.5 ± 1.2 %** over 3 seeds against "
        "**40.0 ± 2.0 %** for the recipe (+5.5 pt, real difference).")
    study = SimpleNamespace(study_name="s1", best_value=0.6, best_trial=SimpleNamespace(number=3, params={"lr": 0.01}))
    trials = pd.DataFrame({"state": ["COMPLETE", "PRUNED", "COMPLETE"], "value": [0.5, np.nan, 0.6]})
    searched = abl.search_metrics(study, storage="journal", recipe="hafem", trials=trials, importances={"lr": 1.0},
                                  best_file="b.yaml", tuned_summary=summary, seconds=3.0)
    assert searched["trials"] == {"complete": 2, "pruned": 1} and searched["best_trial"] == 3
    assert searched["best_test_accuracy_mean"] == pytest.approx(0.455) and searched["recipe_test_accuracy_mean"] == 0.4
    ladder_summary = _summary({"a": (30.0, 1.0, 2), "b": (35.0, 2.0, 2), "c": (50.0, 3.0, 2)})
    runs = pd.DataFrame({"key": ["k1", "k1", "k2"], "seed": [0, 0, 1]})
    metrics = abl.ablation_metrics(dataset="synthfer", protocol={}, ablations={"seeds": (0, 1), "hafem": {"epochs": 1}},
                                   ladder_results={"lad": (ladder_summary, steps)}, pose_frame=None, gains=None,
                                   verdicts=abl.verdict_table({"lad": (ladder_summary, steps)}), search=searched,
                                   runs=runs, train_seconds=1.0, chance_test=BASELINE)
    assert list(metrics) == ["dataset", "protocol", "seeds", "scale", "ladders", "lanmsff_pose", "loss_gains", "verdicts",
                             "search", "runs", "train_seconds", "chance_test", "headline_accuracy_pct"]
    assert metrics["seeds"] == [0, 1] and metrics["scale"] == {"hafem": {"epochs": 1}, "lanmsff": {}}
    assert metrics["ladders"]["lad"]["variants"]["b"] == {"test_accuracy_mean": 0.35, "test_accuracy_sd": 0.02, "seeds": 2,
                                                          "paper": None}
    assert metrics["ladders"]["lad"]["steps"][0]["step"] == "recipe → best trial"
    assert metrics["runs"] == 2 and metrics["search"] is searched
    assert metrics["headline_accuracy_pct"] == {"lad.a": 30.0, "lad.c": 50.0}       # each ladder's first and last row
