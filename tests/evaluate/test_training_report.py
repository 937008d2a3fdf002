"""fernb.evaluate.training_report, the training notebooks' report: seed summaries, pooled confusion, chance, the paper beside
ours (checked against hand-computed values), notebook 02's sentences and its offline ×4 figure."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from fernb.evaluate import training_report as res
from fernb.metrics import accuracy_by_pose, classification_metrics, pose_contrast, predictions_frame
from fernb.papers import lanmsff as lanmsff_paper
from fernb.runs import RunResult


def _run(**info):
    base = {"seed": 1, "epochs_run": 4, "train_rows_per_epoch": 12000, "train_images": 3000, "best_epoch": 3,
            "amp": "off", "environment": {"device": "cpu"}}
    return SimpleNamespace(info={**base, **info}, history=pd.DataFrame({"train_images_per_s": [100.0, 300.0, 250.0]}))


def _recipe(offline_x4=True, epochs=5):
    return SimpleNamespace(config=SimpleNamespace(epochs=epochs, offline_x4=offline_x4))


def test_the_run_sentence_says_what_trained_and_that_the_last_weights_are_tested():
    assert res.lanmsff_run_text(_run(), _recipe()) == (
        "Seed 1 ran **4** of 5 epochs over 12,000 training rows per epoch (3,000 faces ×4); the lowest validation "
        "loss came at epoch 3, and the last epoch's weights are tested. Training ran at about 250 images/s on `cpu`.")
    assert "(each training face once, no offline ×4 set);" in res.lanmsff_run_text(_run(), _recipe(offline_x4=False))


def test_the_numerics_sentence_names_the_choice_and_the_batchnorm_momentum():
    chosen = {"label": "bf16 autocast", "chosen_by": "probe", "reason": "1.4x faster"}
    assert res.lanmsff_numerics_text(_run(numerics=chosen), 0.01, 0.01) == (
        "Seed 1 trained in **bf16 autocast** (probe: 1.4x faster); BatchNorm momentum 0.01 (the code's 0.01).")
    # a run from before numerics were recorded: its amp, and no reason
    assert res.lanmsff_numerics_text(_run(), 0.1, 0.01) == (
        "Seed 1 trained in **off** (not recorded: set by the train section); BatchNorm momentum 0.1 (not the code's 0.01).")


def test_the_paper_accuracy_sentence_with_and_without_a_claim_for_the_dataset():
    versus = pd.DataFrame({"ours (mean)": [80.25], "gap": [-3.75]}, index=["accuracy"])
    text = res.paper_accuracy_text(versus, {"accuracy": 84.0, "ID": 213}, {}, dataset="kdef", seeds=3, density=150.4,
                                   departs=True)
    assert text == ("The paper reports **84.0 %** on kdef; this run measures **80.2 %** (-3.8 points) over 3 seed(s). "
                    "Its information density, accuracy ÷ parameters in millions, is 150 here against the paper's 213. "
                    "This run departs from the code's settings (section 2), so it is not the paper-scale test.")
    assert res.paper_accuracy_text(versus, {"accuracy": 84.0}, {}, dataset="kdef", seeds=3, density=150.4,
                                   departs=False).endswith("against the paper's —.")
    claims = {"fer2013": {"accuracy": 70.0}, "ablation_kdef": {"accuracy": 90.0}, "params": {"keras_total": 1}}
    assert res.paper_accuracy_text(versus, None, claims, dataset="synthfer", seeds=1, density=99.6, departs=True) == (
        "The paper reports nothing on **synthfer**; its accuracy claims are for fer2013 (70.0 %). "
        "Information density here (accuracy ÷ parameters in millions): 100.")
    listed = res.paper_accuracy_text(versus, None, lanmsff_paper.CLAIMS, dataset="synthfer", seeds=1, density=1.0,
                                     departs=False)
    assert "ablation" not in listed and "KDEF" in listed.upper()


def test_the_offline_figure_has_a_column_per_face_and_a_row_per_kind():
    kinds = ("original", "mirror", "rotate", "crop")
    images = np.stack([np.full((8, 8), 10 * i, dtype=np.uint8) for i in range(8)])   # two faces, four copies each
    example = SimpleNamespace(images=images, angles=[7, -3])
    fig = res.offline_x4_figure(example, [2, 0], ("angry", "disgust", "fear"), kinds)
    axes = np.asarray(fig.axes).reshape(4, 2)
    assert [ax.get_title() for ax in axes[0]] == ["fear", "angry"]
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["original", "mirror", "rotate\n+7°", "crop"]
    assert all(ax.get_ylabel() == "" for ax in axes[:, 1])
    assert axes[1, 1].images[0].get_array()[0, 0] == 50                 # face 1's second copy: face-major order
    assert fig.get_size_inches() == pytest.approx((2.8, 6.0))


# ---------------------------------------------------------------- seed summaries, confusion, chance, paper
CLASSES = ("a", "b", "c")


def _seed_run(seed, y, pred):
    probs = np.eye(3)[pred] * 0.8 + 0.2 / 3
    test = classification_metrics(y, probs, CLASSES)
    frame = predictions_frame(y, probs, CLASSES, split="test", pose=np.linspace(-80, 80, len(y)))
    frame["seed"] = seed
    history = pd.DataFrame({"epoch": [1, 2], "val_f1": [0.1, 0.2]})
    return RunResult(dir=Path("runs/x") / f"seed{seed}", history=history, val=test, test=test, predictions=frame,
                     info={"seed": seed, "classes": list(CLASSES)})


Y = np.array([0, 0, 0, 1, 1, 2])
RUNS = [_seed_run(0, Y, np.array([0, 0, 1, 1, 1, 2])), _seed_run(1, Y, np.array([0, 2, 1, 1, 0, 2]))]


def test_pooled_confusion_sums_seeds_and_normalises_rows():
    counts, normalised = res.pooled_confusion(RUNS)
    assert counts.tolist() == [[3, 2, 1], [1, 3, 0], [0, 0, 2]]
    assert normalised[0].tolist() == pytest.approx([0.5, 1 / 3, 1 / 6])
    assert np.allclose(normalised.sum(axis=1), 1.0)
    table = res.confusions_versus_paper(normalised, CLASSES, {("a", "b"): 4.2, ("a", "z"): 1.0})
    assert list(table.index) == ["a → b"] and table.at["a → b", "this run %"] == pytest.approx(100 / 3)
    assert table.at["a → b", "paper %"] == 4.2 and table.at["a → b", "gap"] == pytest.approx(100 / 3 - 4.2)


def test_per_class_mean_and_history_frame():
    per_class = res.per_class_mean(RUNS)
    # recall of class a: 2/3 in run 0, 1/3 in run 1
    assert per_class.at["a", "recall"] == pytest.approx(0.5)
    assert per_class["support"].tolist() == [3, 2, 1]
    history = res.history_frame(RUNS)
    assert list(history.columns[:2]) == ["seed", "epoch"] and history["seed"].tolist() == [0, 0, 1, 1]
    assert len(res.pooled_predictions(RUNS)) == 12
    with_val = [RunResult(r.dir, r.history, r.val, r.test, pd.concat([r.predictions, r.predictions.head(2).assign(split="val")]),
                          r.info) for r in RUNS]
    assert len(res.pooled_predictions(with_val)) == 12 and len(res.pooled_predictions(with_val, "val")) == 4


def test_chance_baselines_and_verdict():
    assert res.chance([0, 0, 0, 1], 4) == {"majority_share": 0.75, "balanced_chance": 0.25}
    summary = pd.DataFrame({"mean": [0.5, 0.3]}, index=["accuracy", "balanced_accuracy"])
    text = res.chance_text(summary, [0, 0, 0, 1], 4, n_seeds=3)
    # 50 % against 75 % majority; balanced 30 % against 25 % chance: above, but under 2 x chance
    assert "**3** seed(s)" in text and "**50.0 %**" in text and "**75.0 %**" in text
    assert "**30.0 %**" in text and "**25.0 %**" in text and "above chance, but not far" in text
    assert res.chance_verdict(0.30, 7) == "well above chance"          # > 2/7
    assert res.chance_verdict(0.25, 7).startswith("above chance, but not far")
    assert res.chance_verdict(0.14, 7).startswith("no better than chance")


def test_accuracy_by_pose_bins_subsets_and_overflow():
    frame = pd.DataFrame({"pose": [0.0, -10.0, 20.0, -35.0, 50.0, 90.0, 95.0, np.nan],
                          "correct": [True, False, True, True, False, True, False, True]})
    table = accuracy_by_pose(frame)
    assert table["images"].to_dict() == {"0–15°": 2, "15–30°": 1, "30–45°": 1, "45–60°": 1, "60–90°": 1,
                                         "90°+": 1, ">30°": 4, ">45°": 3, "all": 8}
    assert table.at["0–15°", "accuracy"] == 0.5 and table.at[">30°", "accuracy"] == 0.5
    assert table.at["all", "accuracy"] == pytest.approx(5 / 8)
    bins = table.loc[["0–15°", "15–30°", "30–45°", "45–60°", "60–90°", "90°+"], "images"].sum()
    assert bins == frame["pose"].notna().sum()                       # no known pose dropped
    assert "90°+" not in accuracy_by_pose(frame[frame["pose"].abs() <= 90]).index
    with pytest.raises(ValueError, match="pose"):
        accuracy_by_pose(frame.drop(columns="pose"))


def test_pose_contrast_and_the_papers_pose_subsets():
    frame = pd.DataFrame({"pose": [0.0, 5.0, 10.0, 50.0, 70.0, -80.0, 35.0],
                          "correct": [True, True, False, True, False, False, True]})
    table = accuracy_by_pose(frame)
    found = pose_contrast(table)
    assert found["frontal"] == {"label": "0–15°", "images": 3, "accuracy": pytest.approx(2 / 3)}
    assert found["turned"]["images"] == 3 and found["turned"]["accuracy"] == pytest.approx(1 / 3)
    assert found["drop"] == pytest.approx(100 / 3)
    assert "accuracy 66.7 %" in found["text"] and "-33.3 points" in found["text"]
    assert pose_contrast(table, turned=30)["turned"]["images"] == 4
    with pytest.raises(ValueError, match=">60°"):
        pose_contrast(table, turned=60)
    none_turned = pose_contrast(accuracy_by_pose(frame[frame["pose"].abs() < 40]))
    assert none_turned["turned"]["images"] == 0 and "none in this test split" in none_turned["text"]
    versus = res.pose_subsets_versus_paper(table, {30: 69.15, 45: 66.82, 60: 50.0})
    assert versus.at[">30°", "this run %"] == pytest.approx(50.0) and versus.at[">30°", "images"] == 4
    assert versus.at[">45°", "gap"] == pytest.approx(100 / 3 - 66.82)
    assert np.isnan(versus.at[">60°", "this run %"])                  # a subset the table does not hold


def test_the_seed_summary_gets_the_interval_over_images_beside_the_spread_over_seeds(tiny_runs):
    from fernb.evaluate import training_report as res
    from fernb.evaluate.stats import bootstrap_metric

    _, _, results = tiny_runs
    summary = res.with_image_intervals(res.seed_summary(results), results, n_boot=300)
    frames = [r.predictions.query("split == 'test'").sort_values("index") for r in results]
    expected = bootstrap_metric(frames[0]["label"].to_numpy(), np.stack([f["pred"].to_numpy() for f in frames]),
                                metric="macro_f1", n_boot=300)
    assert summary.loc["f1", ["images low", "images high"]].tolist() == pytest.approx([expected["low"], expected["high"]])
    assert summary.loc["accuracy", "images low"] <= summary.loc["accuracy", "mean"] <= summary.loc["accuracy", "images high"]
    assert np.isnan(summary.loc["auc", "images low"])      # not resampled: no interval is claimed
    text = res.spread_text(summary)
    row = summary.loc["accuracy"]
    assert f"over {len(results)} seeds" in text and f"sample sd {100 * row['std']:.1f}" in text
    assert f"[{100 * row['images low']:.1f}, {100 * row['images high']:.1f}]" in text
    one = res.with_image_intervals(res.seed_summary(results[:1]), results[:1], n_boot=300)
    assert "from one seed" in res.spread_text(one)
