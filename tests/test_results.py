"""What the training notebooks report, from finished runs: checked against hand-computed values."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fernb.evaluate import results as res
from fernb.metrics import accuracy_by_pose, classification_metrics, pose_contrast, predictions_frame
from fernb.runs import RunResult

CLASSES = ("a", "b", "c")


def _run(seed, y, pred):
    probs = np.eye(3)[pred] * 0.8 + 0.2 / 3
    test = classification_metrics(y, probs, CLASSES)
    frame = predictions_frame(y, probs, CLASSES, split="test", pose=np.linspace(-80, 80, len(y)))
    frame["seed"] = seed
    history = pd.DataFrame({"epoch": [1, 2], "val_f1": [0.1, 0.2]})
    return RunResult(dir=Path("runs/x") / f"seed{seed}", history=history, val=test, test=test, predictions=frame,
                     info={"seed": seed, "classes": list(CLASSES)})


Y = np.array([0, 0, 0, 1, 1, 2])
RUNS = [_run(0, Y, np.array([0, 0, 1, 1, 1, 2])), _run(1, Y, np.array([0, 2, 1, 1, 0, 2]))]


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
