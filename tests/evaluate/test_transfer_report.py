"""Notebook 04's report (fernb.evaluate.transfer_report): the tables, sentences and metrics read
from the transfer matrix's long table, each checked against values worked out by hand."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from fernb.evaluate import transfer_report as trr
from fernb.evaluate.transfer import TransferModel
from fernb.labels import CANONICAL, SEVEN
from fernb.papers import hafem as hafem_paper
from fernb.runs import Run
from fernb.train.finetune import FinetuneCurves
from fernb.workbook.report import Report, json_safe

from conftest import tiny_faces


def long_table():
    """A transfer_table-shaped table by hand: model M (trained on a) on targets a (in-domain),
    b (drop 20 pt, paired), c (drop 10 pt) and d (not scored), accuracy rows only."""
    rows = []
    for target, value, drop in (("a", 0.8, None), ("b", 0.6, 0.2), ("c", 0.7, 0.1)):
        rows.append({"model": "M", "source": "a", "target": target, "metric": "accuracy", "value": value,
                     "floor": 0.25 if target == "b" else 0.5, "floor_class": "happy" if target == "b" else "neutral",
                     "low": value - 0.05, "high": value + 0.05, "in_domain": 0.8, "drop": drop,
                     "drop_low": None if drop is None else drop - 0.03, "drop_high": None if drop is None else drop + 0.03,
                     "paired": None if drop is None else True, "status": "in-domain" if drop is None else "ok"})
    rows.append({"model": "M", "source": "a", "target": "d", "metric": "accuracy", "status": "d: no prepared store"})
    return pd.DataFrame(rows)


def fake_runs(stage: str, dataset: str, seeds=(0, 1), classes=SEVEN) -> list[Run]:
    return [Run(stage=stage, dir=Path(f"/nowhere/{stage}/seed{s}"), model="lanmsff", model_kwargs={}, dataset=dataset,
                seed=s, classes=tuple(classes)) for s in seeds]


def tuned_curves(label="HAFEM (01) · synthfer", stage="01_hafem", dataset="synthfer", accuracy=(0.3, 0.5, 0.7, 0.6)):
    """What fernb.train.finetune.finetune_all returns for one row, built by hand."""
    curve = pd.DataFrame({"epochs": [0, 1, 5, 20], "accuracy": accuracy, "balanced_accuracy": accuracy,
                          "macro_f1": [a - 0.1 for a in accuracy]}).set_index("epochs")
    by_epoch = pd.DataFrame({"epoch": [0, 1, 2], "val_accuracy": [0.3, 0.4, 0.5], "val_f1": [0.2, 0.3, 0.4],
                             "val_loss": [2.0, 1.5, 1.2]}).set_index("epoch")
    return {label: FinetuneCurves(label=label, stage=stage, dataset=dataset, seeds=2, curve=curve, by_epoch=by_epoch)}


def test_hafem_claims_sit_beside_the_matching_cells_or_say_why_not():
    table = pd.DataFrame([
        {"model": "HAFEM (01) · fer2013", "source": "fer2013", "target": "rafdb", "metric": "accuracy",
         "value": 0.40, "low": 0.38, "high": 0.42, "seeds": 3, "status": "ok"},
        {"model": "HAFEM (01) · fer2013", "source": "fer2013", "target": "fer2013", "metric": "accuracy",
         "value": 0.60, "low": 0.58, "high": 0.62, "seeds": 3, "status": "in-domain"}])
    claims = trr.claims_versus_ours(table, {("fer2013", "rafdb"): {"accuracy": 0.55, "epochs": 20, "seeds": 3}})
    zero = claims.loc["HAFEM zero-shot: fer2013 → rafdb"]
    assert zero["paper %"] == hafem_paper.CLAIMS["zero_shot_from_fer2013"]["rafdb"]
    assert zero["ours %"] == pytest.approx(40.0) and zero["gap (points)"] == pytest.approx(40.0 - zero["paper %"])
    # HAFEM's zero-shot RAF-DB number is Table 1's CNN+LSTM row on RAF-DB, and Table 3's CNN+LSTM on FER2013
    assert zero["the same number elsewhere in the paper"] == "Table 1 [6] CNN+LSTM (rafdb); Table 3 CNN+LSTM (fer2013)"
    tuned = claims.loc["HAFEM fine-tuned 20 epochs: fer2013 → rafdb"]
    assert tuned["ours %"] == pytest.approx(55.0) and "20 epochs" in tuned["ours"]
    assert "affectnet not prepared" in claims.loc["HAFEM zero-shot: fer2013 → affectnet", "ours"]
    # the conclusion's "without fine-tuning" is the fine-tuned number: set beside the zero-shot cell
    assert claims.loc["HAFEM 'without fine-tuning' (§5): fer2013 → rafdb", "paper %"] == tuned["paper %"]
    none = trr.claims_versus_ours(table.assign(source="synthfer", model="HAFEM (01) · synthfer"))
    assert none["ours"].str.contains("no HAFEM trained on fer2013").all()
    published = trr.published_beside(table.assign(source="rafdb", target="fer2013"))
    assert published.iloc[0]["ours % (zero-shot)"] == pytest.approx(60.0)


def test_interval_and_drop_tables_read_the_long_table():
    table = long_table()
    grid = trr.interval_table(table)
    assert grid.loc["M", "b"] == "60.0 [55.0, 65.0]" and grid.loc["M", "d"] == "—"
    drops = trr.drop_table(table, pd.Series({"b": "the lights went out"}))   # target_table()["cause"]
    assert list(drops["target"]) == ["b", "c"] and drops.loc[0, "drop (pt)"] == pytest.approx(20.0)
    assert drops.loc[0, "cause"] == "the lights went out" and drops.loc[1, "cause"] == ""
    assert drops.loc[0, "above floor (pt)"] == pytest.approx(35.0)
    assert drops.loc[1, "above floor (pt)"] == pytest.approx(20.0)
    floors = trr.floor_table(table)
    assert floors.loc["M", "b"] == "25.0 (happy)" and floors.loc["M", "d"] == "—"
    assert list(floors.columns) == list("abcd")


def test_the_targets_table_gives_each_columns_majority_class_floor():
    # the floor a model that learnt nothing transferable reaches: always answering the test split's
    # most frequent class (counted by hand here: 5 of 8 test labels are class 2)
    data = tiny_faces((6, 3, 8), size=16)
    labels = data.labels.copy()
    test = np.flatnonzero(data.split == "test")
    labels[test] = [2, 2, 0, 2, 1, 2, 2, 3]
    data = dataclasses.replace(data, labels=labels, name="hand")
    table = trr.target_table({"hand": data, "missing": FileNotFoundError("no store")})
    assert table.loc["hand", "majority class"] == data.classes[2]
    assert table.loc["hand", "majority %"] == pytest.approx(62.5)
    assert np.isnan(table.loc["missing", "majority %"]) and table.loc["missing", "status"] == "no store"

# ------------------------------------------------------------------ 1 · the targets
def test_shift_checks_measure_each_prepared_shift_and_take_the_same_test_faces():
    source = dataclasses.replace(tiny_faces((6, 3, 8), size=16), name="synthfer")
    dark = dataclasses.replace(source, name="synthfer-dark", images=(source.images // 2).astype(np.uint8))
    targets = {"synthfer": source, "synthfer-dark": dark, "synthfer-pose": FileNotFoundError("no store")}
    factors, faces = trr.shift_checks(targets, ["synthfer-dark", "synthfer-pose"], n_faces=4)
    assert list(factors.columns) == ["source", "dark"]              # the missing pose shift has no column
    assert factors.loc[("lighting", "mean intensity (0-255)"), "dark"].endswith("*")   # halved: moved beyond 10
    test = np.flatnonzero(source.split == "test")[:4]
    assert list(faces) == ["default", "dark"]
    assert np.array_equal(faces["default"], source.images[test]) and np.array_equal(faces["dark"], dark.images[test])
    assert trr.shift_checks({"synthfer-dark": dark}, ["synthfer-dark"]) is None          # no source
    assert trr.shift_checks({"synthfer": source}, ["synthfer-dark"]) is None             # no shift prepared


# ------------------------------------------------------------------ 2 · the rows
def test_missing_rows_and_the_rows_table():
    text = trr.missing_rows_text({"01_hafem": "no runs"},
                                 {("LANMSFF (02) · synthfer", "rafdb"): "rafdb has no training split"})
    assert text == ("**01_hafem** is not in the matrix: no runs\n\n"
                    "**LANMSFF (02) · synthfer** cannot be trained on rafdb: rafdb has no training split")
    assert trr.missing_rows_text({}, {}) == ""
    models = [TransferModel.from_runs("LANMSFF (02) · synthfer", fake_runs("02_lanmsff", "synthfer")),
              TransferModel.from_runs("LANMSFF (02) · ferplus",
                                      fake_runs("04_cross_dataset", "ferplus", (0,), CANONICAL))]
    rows = trr.model_rows(models)
    assert rows.to_dict("records") == [
        {"row": "LANMSFF (02) · synthfer", "stage": "02_lanmsff", "model": "lanmsff", "trained on": "synthfer",
         "seeds": [0, 1], "classes": 7},
        {"row": "LANMSFF (02) · ferplus", "stage": "04_cross_dataset", "model": "lanmsff", "trained on": "ferplus",
         "seeds": [0], "classes": 8}]


# ------------------------------------------------------------------ 4 · the matrix
def test_unscored_cells_are_listed_once_with_their_reason():
    table = pd.concat([long_table(), long_table().assign(metric="macro_f1")], ignore_index=True)
    unscored = trr.unscored_cells(table)
    assert unscored.to_dict("records") == [{"model": "M", "target": "d", "status": "d: no prepared store"}]


def test_drop_sentences_read_the_drop_table():
    drops = trr.drop_table(long_table())
    text = trr.drops_text(drops)
    assert text.startswith("Largest and smallest accuracy changes, each against the model's in-domain test split:\n\n")
    lines = text.split("\n\n", 1)[1].split("\n")
    assert len(lines) == 2                                 # two drops: each once, though head and tail both hold it
    assert lines[0] == ("- *M* on **b**: 80.0 % → 60.0 % (-20.0 pt, 17.0 to 23.0 pt; "
                        "its 95 % interval excludes zero; +35.0 pt from its floor of 25.0 %)")
    wide = long_table().assign(drop_low=lambda t: t["drop"] - 0.15)        # c: -5 to 13 pt
    assert "includes zero: no change shown" in trr.drops_text(trr.drop_table(wide)).split("\n")[-1]
    assert trr.drops_text(drops.iloc[:0]) == ""
    many = pd.concat([drops.assign(target=drops["target"] + str(k), drop=drops["drop"] - k / 100) for k in range(3)],
                     ignore_index=True)
    shown = trr.drops_text(many.sort_values("drop", ascending=False)).split("\n")[2:]
    assert len(shown) == 5                                 # the three largest and the two smallest of six


def test_the_pose_sentence_compares_the_models_drops_under_the_pose_shift():
    def pose_drops(low_b, high_b):
        return pd.DataFrame([{"model": "A", "target": "synthfer-pose", "drop": 0.10, "drop_low": 0.05,
                              "drop_high": 0.15},
                             {"model": "B", "target": "synthfer-pose", "drop": 0.20, "drop_low": low_b,
                              "drop_high": high_b},
                             {"model": "A", "target": "synthfer-lighting", "drop": 0.5, "drop_low": 0.4,
                              "drop_high": 0.6}])
    overlap = trr.pose_text(pose_drops(0.12, 0.28))
    assert "each model loses: *A* 10.0 pt (5.0 to 15.0); *B* 20.0 pt (12.0 to 28.0). Overlapping intervals" in overlap
    apart = trr.pose_text(pose_drops(0.16, 0.24))
    assert apart.endswith("the drops differ beyond their intervals: *A* 10.0 pt (5.0 to 15.0); "
                          "*B* 20.0 pt (16.0 to 24.0).")
    assert trr.pose_text(pose_drops(0.1, 0.3).iloc[[0, 2]]) == ""          # one model: nothing to compare


# ------------------------------------------------------------------ 5 · the largest drop
def test_the_largest_drop_and_its_sentences():
    worst = trr.largest_drop(long_table())
    assert worst["target"] == "b"
    assert trr.largest_drop_text(worst) == "**M → b**: accuracy 80.0 % in-domain, 60.0 % on the target."
    assert trr.largest_drop(long_table().iloc[[0, 3]]) is None              # nothing off the diagonal scored
    shares = pd.DataFrame({"happy": [0.374, np.nan], "sad": [0.0, 1.0]}, index=["happy", "sad"])
    assert trr.percent_labels(shares).values.tolist() == [["37%", "0%"], ["", "100%"]]
    collapse = pd.DataFrame({"class": ["happy", "sad"], "recall in-domain": [0.9, 0.8], "recall on target": [0.85, 0.2],
                             "change": [-0.05, -0.6], "most often answered instead": ["sad", "neutral"],
                             "share": [0.1, 0.55]}).set_index("class")
    assert trr.collapse_text(collapse) == ("The class that falls furthest is **sad** (recall 80 % → 20 %); "
                                           "on the target it is most often answered as **neutral** "
                                           "(55 % of its images).")


# ------------------------------------------------------------------ 6 · fine-tuning
def test_zero_shot_cells_are_each_rows_scores_on_the_fine_tuning_target():
    table = pd.concat([long_table(), long_table().assign(metric="macro_f1", value=lambda t: t["value"] / 2)],
                      ignore_index=True)
    cells = trr.zero_shot_cells(table, "b")
    assert list(cells) == ["M"] and cells["M"]["accuracy"] == pytest.approx(0.6)
    assert cells["M"]["macro_f1"] == pytest.approx(0.3) and cells["M"]["balanced_accuracy"] is None
    assert np.isnan(trr.zero_shot_cells(table, "d")["M"]["accuracy"])      # not scored: NaN at N = 0


def test_fine_tuning_says_why_it_does_not_run():
    data = tiny_faces((6, 3, 8), size=16)
    tune = {"models": ["01_hafem"], "target": "x", "epochs": [1]}
    assert trr.finetune_skip_text(tune, data) is None
    off = trr.finetune_skip_text({**tune, "models": []}, data)
    assert off == "*Fine-tuning is off (`transfer.finetune.models` is empty).*"
    test_only = dataclasses.replace(data, split=np.full(len(data), "test"))
    for target in (test_only, FileNotFoundError("no store"), None):
        assert trr.finetune_skip_text(tune, target) == "*x has no training split here, so it cannot be fine-tuned on.*"


def test_fine_tuning_outputs_are_saved_and_told(tmp_path):
    report = Report("04_cross_dataset", root=tmp_path)
    tuned = tuned_curves()
    before = set(plt.get_fignums())
    tables = trr.finetune_outputs(tuned, "rafdb", report)
    drawn = [plt.figure(n) for n in sorted(set(plt.get_fignums()) - before)]   # left open for plt.show()
    assert len(tables) == 1 and len(drawn) == 1
    assert (report.dir / "figures" / "finetune_01_hafem.png").is_file()
    saved = pd.read_csv(report.dir / "tables" / "finetune_01_hafem.csv", index_col=0)
    assert np.allclose(saved["accuracy"], [0.3, 0.5, 0.7, 0.6]) and list(saved.index) == [0, 1, 5, 20]
    pd.testing.assert_frame_equal(tables[0], tuned["HAFEM (01) · synthfer"].curve.round(4))
    claim = hafem_paper.CLAIMS["finetune_from_fer2013"]["rafdb"]["accuracy"]
    legend = [t.get_text() for t in drawn[0].axes[0].get_legend().get_texts()]
    assert f"the paper's claim ({claim:.1f} %)" in legend                   # RAF-DB: HAFEM states a number
    assert drawn[0].get_suptitle() == "HAFEM (01) · synthfer fine-tuned on rafdb (2 seed(s))"
    trr.finetune_outputs(tuned, "synthfer-identity", report)
    other = plt.gcf()
    assert not any("claim" in t.get_text() for t in other.axes[0].get_legend().get_texts())
    assert trr.finetune_outputs({}, None, report) == []
    plt.close("all")
    assert trr.finetune_text(tuned, "rafdb") == ("*HAFEM (01) · synthfer*: zero-shot **30.0 %** on rafdb, **60.0 %** "
                                                 "after 20 epochs (best 70.0 % at N = 5).")


def test_only_hafem_rows_fine_tuning_meets_the_claims():
    tuned = {**tuned_curves(), **tuned_curves("LANMSFF (02) · synthfer", "02_lanmsff")}
    assert trr.finetuned_cells(tuned, "rafdb") == {("synthfer", "rafdb"): {"accuracy": 0.6, "epochs": 20, "seeds": 2}}
    assert trr.finetuned_cells({}, None) == {}


# ------------------------------------------------------------------ 8 · metrics
def test_the_metrics_hold_every_cell_the_largest_drop_and_the_curves():
    table = long_table()
    models = [TransferModel.from_runs("M", fake_runs("01_hafem", "a"))]
    worst = trr.largest_drop(table)
    transfer = {"label_rule": "drop", "n_boot": 500, "finetune": {"models": ["01_hafem"], "target": "b"}}
    metrics = trr.transfer_metrics(table, models, tuned_curves("M"), worst, transfer=transfer,
                                   targets=["a", "b", "c", "d"], seconds={"scoring": 1.5, "total": 3.0})
    cells = metrics["matrix"]["accuracy"]["M"]
    assert cells["b"] == {"value": 0.6, "low": pytest.approx(0.55), "high": pytest.approx(0.65), "drop": 0.2,
                          "drop_low": pytest.approx(0.17), "drop_high": pytest.approx(0.23), "paired": True,
                          "floor": 0.25}
    assert cells["a"]["drop"] is None and cells["d"] == {"status": "d: no prepared store"}
    assert metrics["matrix"]["macro_f1"] == {}                              # the hand table has accuracy rows only
    assert metrics["largest_drop"] == {"model": "M", "target": "b", "in_domain": 0.8, "value": 0.6, "drop": 0.2}
    assert metrics["largest_drop_pt"] == pytest.approx(20.0)
    assert metrics["seeds"] == {"M": [0, 1]} and metrics["finetune_target"] == "b"
    assert metrics["finetune"]["M"][2] == {"epochs": 5, "accuracy": 0.7, "balanced_accuracy": 0.7,
                                           "macro_f1": pytest.approx(0.6)}
    json.dumps(json_safe(metrics))                                          # what Report.metrics writes
    quiet = trr.transfer_metrics(table.iloc[[0, 3]], models, {}, None, transfer={**transfer, "finetune": None},
                                 targets=["a", "d"], seconds={})
    assert quiet["largest_drop"] is None and "largest_drop_pt" not in quiet and quiet["finetune_target"] is None
