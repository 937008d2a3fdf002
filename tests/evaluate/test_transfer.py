"""Notebook 04's machinery: labels by name, input conversion, cached predictions, the matrix with
bootstrap intervals and paired drops, and fine-tuning from a finished run."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from sklearn.metrics import balanced_accuracy_score, f1_score

from fernb.data.core import FERData
from fernb.evaluate import transfer as tr
from fernb.evaluate import transfer_report as trr
from fernb.evaluate.stats import bootstrap_index, bootstrap_metric
from fernb.labels import CANONICAL, SEVEN
from fernb.models import load_model
from fernb.models.inputs import predict_proba
from fernb.runs import write_manifest
from fernb.train import TrainConfig, train_run
from fernb.train import finetune as ft
from fernb.train.loop import initialise_from

from conftest import tiny_faces


def frame(target, predicted, classes, ids=None):
    """A cell_predictions-style frame whose argmax is ``predicted`` (names) over ``classes``."""
    rows = {"source_id": ids or [f"s{i}" for i in range(len(target))], "index": range(len(target)),
            "target_label": target, "pose": np.nan}
    probs = np.full((len(target), len(classes)), 0.01)
    for i, name in enumerate(predicted):
        probs[i, list(classes).index(name)] = 0.9
    rows.update({f"prob_{c}": probs[:, k] for k, c in enumerate(classes)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ labels, by name
def test_seven_on_seven_and_eight_on_eight_share_every_class():
    for classes in (SEVEN, CANONICAL):
        lm = tr.label_map(classes, classes)
        assert lm.shared == classes and lm.target_only == () and lm.model_only == ()


def test_seven_class_model_on_an_eight_class_target_contempt_both_rules():
    target = ["happy", "contempt", "sad", "contempt"]
    predicted = ["happy", "happy", "neutral", "sad"]        # a 7-class model can never answer contempt
    f = frame(target, predicted, SEVEN)
    dropped = tr.score_cell([f], SEVEN, CANONICAL, rule="drop", n_boot=200)
    assert dropped["images"] == 2 and dropped["dropped"] == 2
    assert dropped["accuracy"]["value"] == pytest.approx(1 / 2)   # happy right, sad wrong
    kept = tr.score_cell([f], SEVEN, CANONICAL, rule="error", n_boot=200)
    assert kept["images"] == 4 and kept["dropped"] == 0
    assert kept["accuracy"]["value"] == pytest.approx(1 / 4)      # contempt images are always wrong
    assert "contempt" in kept["labels"] and "always wrong" in kept["labels"]


def test_a_cells_floor_is_the_best_constant_answer_the_model_can_give_on_the_scored_images():
    # hand count: sad 2, contempt 3, happy 1 of 6 test images; a seven-class model cannot answer contempt
    target = ["sad", "contempt", "sad", "contempt", "contempt", "happy"]
    f = frame(target, ["happy"] * 6, SEVEN)
    dropped = tr.score_cell([f], SEVEN, CANONICAL, rule="drop", n_boot=100)
    assert (dropped["floor_class"], dropped["floor"]) == ("sad", pytest.approx(2 / 3))   # contempt left the cell
    kept = tr.score_cell([f], SEVEN, CANONICAL, rule="error", n_boot=100)
    assert (kept["floor_class"], kept["floor"]) == ("sad", pytest.approx(2 / 6))        # not contempt's 3 / 6
    # with every class answerable it is the target's majority share (results.chance), as in target_table
    same = tr.score_cell([frame(target, ["happy"] * 6, CANONICAL)], CANONICAL, CANONICAL, n_boot=100)
    assert (same["floor_class"], same["floor"]) == ("contempt", pytest.approx(3 / 6))
    assert dropped["accuracy"]["value"] == pytest.approx(1 / 3)   # answering happy: 1 of the 3 kept


def test_eight_class_model_on_a_seven_class_target_is_never_credited_for_contempt():
    target = ["happy", "sad", "anger"]
    predicted = ["contempt", "sad", "contempt"]
    lm = tr.label_map(CANONICAL, SEVEN)
    assert lm.model_only == ("contempt",) and lm.target_only == ()
    assert list(lm.predicted(predicted)) == [tr.OTHER, "sad", tr.OTHER]
    cell = tr.score_cell([frame(target, predicted, CANONICAL)], CANONICAL, SEVEN, n_boot=200)
    assert cell["images"] == 3 and cell["accuracy"]["value"] == pytest.approx(1 / 3)
    # macro-F1 averages over the target's classes only (happy 0, sad 1, anger 0 ...): sklearn with the same labels
    expected = f1_score(target, ["x", "sad", "x"], labels=list(SEVEN), average="macro", zero_division=0)
    assert cell["macro_f1"]["value"] == pytest.approx(expected)


def test_labels_are_matched_by_name_not_by_index():
    # a target whose class order differs from the model's: index 0 is "sad" there, "neutral" here
    target_classes = ("sad", "happy", "neutral")
    lm = tr.label_map(SEVEN, target_classes)
    assert lm.shared == ("sad", "happy", "neutral")
    assert set(lm.model_only) == set(SEVEN) - set(target_classes)
    cell = tr.score_cell([frame(["sad", "happy"], ["sad", "neutral"], SEVEN)], SEVEN, target_classes, n_boot=200)
    assert cell["accuracy"]["value"] == pytest.approx(0.5)


def test_no_class_in_common_is_a_cell_error_naming_both():
    with pytest.raises(tr.CellError, match="HAFEM.*target-x.*no class in common"):
        tr.label_map(("happy", "sad"), ("contempt",), model="HAFEM", target="target-x")
    with pytest.raises(ValueError, match="label rule"):
        tr.label_map(SEVEN, SEVEN, rule="ignore")


# ------------------------------------------------------------------ input conversion
def test_conversion_replicates_grey_and_takes_luma_of_rgb():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (3, 8, 8), dtype=np.uint8)
    rgb, what = tr.convert_images(grey, 3)
    assert rgb.shape == (3, 8, 8, 3) and all(np.array_equal(rgb[..., c], grey) for c in range(3)) and "replicated" in what
    colour = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    back, what = tr.convert_images(colour, 1)
    assert np.array_equal(back[1], cv2.cvtColor(colour[1], cv2.COLOR_RGB2GRAY)) and "luma" in what
    same, what = tr.convert_images(grey, 1)
    assert same is grey and what == "none"
    with pytest.raises(tr.CellError, match="cannot be converted.*lanmsff"):
        tr.convert_images(rng.integers(0, 256, (2, 8, 8, 2), dtype=np.uint8), 1, model="lanmsff")


# ------------------------------------------------------------------ bootstrap
def test_bootstrap_interval_agrees_with_scipy_on_a_toy_case():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    p = np.where(rng.random(300) < 0.6, y, rng.integers(0, 3, 300))
    ours = bootstrap_metric(y, p, n_boot=4000, seed=3)
    ref = stats.bootstrap(((p == y).astype(float),), np.mean, n_resamples=4000, method="percentile",
                          random_state=0).confidence_interval
    assert ours["value"] == pytest.approx(np.mean(p == y))
    assert ours["low"] == pytest.approx(ref.low, abs=0.012) and ours["high"] == pytest.approx(ref.high, abs=0.012)
    for metric, fn in (("macro_f1", lambda a, b: f1_score(a, b, average="macro")),
                       ("balanced_accuracy", balanced_accuracy_score)):
        ours = bootstrap_metric(y, p, metric=metric, n_boot=2000, seed=3)
        ref = stats.bootstrap((y, p), fn, paired=True, vectorized=False, n_resamples=2000, method="percentile",
                              random_state=0).confidence_interval
        assert ours["value"] == pytest.approx(fn(y, p))
        assert ours["low"] == pytest.approx(ref.low, abs=0.015) and ours["high"] == pytest.approx(ref.high, abs=0.015)


def test_a_shared_index_pairs_two_test_sets_and_seeds_average_inside_each_resample():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, 400)
    a = np.where(rng.random(400) < 0.7, y, (y + 1) % 4)
    b = a.copy()
    b[:20] = (y[:20] + 2) % 4                    # b = a except 20 images made wrong (or still wrong)
    index = bootstrap_index(400, 1000, seed=0)
    ra, rb = bootstrap_metric(y, a, index=index), bootstrap_metric(y, b, index=index)
    paired = ra["resamples"] - rb["resamples"]
    unpaired = ra["resamples"] - bootstrap_metric(y, b, n_boot=1000, seed=9)["resamples"]
    assert paired.std() < 0.5 * unpaired.std()       # pairing removes the images' own variance
    two = bootstrap_metric(y, np.stack([a, b]), index=index)
    assert two["value"] == pytest.approx((ra["value"] + rb["value"]) / 2)
    assert np.allclose(two["resamples"], (ra["resamples"] + rb["resamples"]) / 2)


# ------------------------------------------------------------------ the matrix, end to end
def _shifted(data: FERData, name: str, change) -> FERData:
    return dataclasses.replace(data, name=name, images=change(data.images.copy()))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two seeds of a tiny LANMSFF trained on tiny faces, listed as stage 02's runs."""
    root = tmp_path_factory.mktemp("project")
    (root / "dvc.yaml").write_text("stages: {}\n")
    (root / "fernb").mkdir()
    data = tiny_faces((70, 28, 56), size=32)
    config = TrainConfig(epochs=3, batch_size=16, optimizer="adam", loss="ce", progress=False, amp="off",
                         channels_last="off", lr=3e-3)
    results = [train_run("lanmsff", {"img_size": 32}, data, dataclasses.replace(config, seed=s),
                         root / "runs" / "02_lanmsff" / "lanmsff" / f"seed{s}") for s in (0, 1)]
    write_manifest("02_lanmsff", results, root)
    return root, data


def test_the_matrix_scores_every_cell_pairs_shifts_and_marks_what_it_cannot_score(trained, monkeypatch):
    root, data = trained
    models, errors = tr.stage_models(["02_lanmsff", "01_hafem"], ["lanmsff_modules/-MassAtt"], root=root)
    assert [m.label for m in models] == ["LANMSFF (02) · tiny"] and [r.seed for r in models[0].runs] == [0, 1]
    assert "01_hafem" in errors and "-MassAtt" in errors["lanmsff_modules/-MassAtt"]
    dark = _shifted(data, "tiny-dark", lambda im: (im // 3).astype(np.uint8))
    eight = dataclasses.replace(data, name="tiny8", classes=CANONICAL)
    colour = dataclasses.replace(data, name="tiny-rgb", images=np.repeat(data.images[..., None], 3, axis=-1))
    other = dataclasses.replace(tiny_faces((70, 28, 56), size=32, seed=3), name="tiny-other")
    targets = {"tiny": data, "tiny-dark": dark, "tiny8": eight, "tiny-rgb": colour, "tiny-other": other,
               "absent": FileNotFoundError("no prepared store")}
    table = tr.transfer_table(models, targets, n_boot=300, root=root)
    acc = table[table["metric"] == "accuracy"].set_index("target")
    assert acc.at["tiny", "status"] == "in-domain" and acc.at["tiny-dark", "status"] == "ok"
    # the same test images with one factor changed are paired; another dataset's are not
    assert bool(acc.at["tiny-dark", "paired"]) and bool(acc.at["tiny8", "paired"])
    assert not bool(acc.at["tiny-other", "paired"])
    assert acc.at["tiny-rgb", "value"] == pytest.approx(acc.at["tiny", "value"])   # luma of replicated grey = grey
    assert np.isnan(acc.at["absent", "value"]) and "absent" in acc.at["absent", "status"]
    assert acc.at["tiny-dark", "drop"] == pytest.approx(acc.at["tiny", "value"] - acc.at["tiny-dark", "value"])
    low, high = acc.at["tiny-dark", "low"], acc.at["tiny-dark", "high"]
    assert low <= acc.at["tiny-dark", "value"] <= high
    # the matrix and its annotations have one row per model and one column per target
    grid = trr.matrix(table)
    assert list(grid.columns) == list(targets) and grid.shape == (1, 6)
    assert "no store" in trr.annotations(table).iat[0, 5]
    # every scored accuracy cell carries its floor: here every target keeps all classes, so it is the
    # target test split's majority share (fernb.evaluate.training_report.chance)
    test = data.split == "test"
    majority = np.bincount(data.labels[test]).max() / test.sum()
    assert acc.at["tiny-dark", "floor"] == pytest.approx(majority) and acc.at["tiny", "floor"] == pytest.approx(majority)
    assert acc.at["tiny-dark", "floor_class"] == data.classes[np.bincount(data.labels[test]).argmax()]
    assert f"floor {majority:.2f}" in trr.annotations(table).loc[models[0].label, "tiny-dark"]
    assert table.loc[table["metric"] != "accuracy", "floor"].isna().all()
    # the predictions are cached: scoring again runs no model
    monkeypatch.setattr(tr, "load_model", lambda *a, **k: pytest.fail("a cached cell ran the model"))
    again = tr.transfer_table(models, targets, n_boot=300, root=root)
    pd.testing.assert_frame_equal(again, table)
    # switching the label rule needs no model either
    tr.transfer_table(models, targets, rule="error", n_boot=300, root=root)


def test_an_eight_class_target_under_both_rules_and_the_largest_drop_breakdown(trained):
    root, data = trained
    models, _ = tr.stage_models(["02_lanmsff"], root=root)
    labels = data.labels.copy()
    test = np.flatnonzero(data.split == "test")
    labels[test[:5]] = 7                                   # five test faces become contempt
    eight = dataclasses.replace(data, name="tiny8c", classes=CANONICAL, labels=labels)
    targets = {"tiny": data, "tiny8c": eight}
    drop = tr.transfer_table(models, targets, rule="drop", n_boot=200, root=root)
    error = tr.transfer_table(models, targets, rule="error", n_boot=200, root=root)
    d = drop[(drop["metric"] == "accuracy") & (drop["target"] == "tiny8c")].iloc[0]
    e = error[(error["metric"] == "accuracy") & (error["target"] == "tiny8c")].iloc[0]
    assert (d["images"], d["dropped"]) == (len(test) - 5, 5) and (e["images"], e["dropped"]) == (len(test), 0)
    assert e["value"] * len(test) == pytest.approx(d["value"] * (len(test) - 5))   # the 5 kept are all wrong
    home = [tr.cell_predictions(r, "tiny", data, root=root) for r in models[0].runs]
    away = [tr.cell_predictions(r, "tiny8c", eight, root=root) for r in models[0].runs]
    per_class, confusion = tr.collapse_table(home, away, models[0].classes, CANONICAL, "error")
    assert "contempt" in per_class.index and per_class.at["contempt", "recall on target"] == 0
    assert np.allclose(confusion.sum(axis=1), 1.0)
    # the same breakdown for a cell named by its row label, from the saved predictions
    by_label, by_label_confusion = tr.collapse_cell(models, models[0].label, "tiny8c", targets, "error", root=root)
    pd.testing.assert_frame_equal(by_label, per_class)
    pd.testing.assert_frame_equal(by_label_confusion, confusion)


def test_scoring_runs_on_cuda_only_when_the_train_device_allows_it(monkeypatch):
    for gpu, expected in ((True, {"auto": "cuda", "cuda": "cuda", "cpu": "cpu", "mps": "cpu"}),
                          (False, {"auto": "cpu", "cuda": "cpu", "cpu": "cpu", "mps": "cpu"})):
        monkeypatch.setattr(torch.cuda, "is_available", lambda gpu=gpu: gpu)
        assert {setting: tr.scoring_device(setting) for setting in expected} == expected


def test_rows_trained_afresh_are_labelled_by_network_and_dataset_and_sources_select_by_stage(trained):
    root, _ = trained
    models, _ = tr.stage_models(["02_lanmsff"], root=root)
    runs = models[0].runs
    extra = tr.retrained_models({(models[0].label, "ferplus"): runs[:1]})
    assert [m.label for m in extra] == ["LANMSFF (02) · ferplus"] and extra[0].runs == runs[:1]
    rows = models + extra
    assert tr.sources_of(rows, ["02_lanmsff"]) == {"LANMSFF (02) · tiny": runs, "LANMSFF (02) · ferplus": runs[:1]}
    assert tr.sources_of(rows, ["01_hafem"]) == {}


def test_check_transfer_refuses_bad_settings():
    good = {"models": ["01_hafem"], "ablation_variants": [], "train_on": [], "label_rule": "drop", "n_boot": 500,
            "finetune": {"models": ["01_hafem"], "target": "synthfer-identity", "epochs": [1, 20], "overrides": {}}}
    tr.check_transfer(good, ["synthfer", "synthfer-identity"])
    for change, message in ((dict(label_rule="keep"), "label_rule"), (dict(n_boot=10), "n_boot"),
                            (dict(train_on=["ferplus"]), "train_on.*ferplus"), (dict(colour=1), "unknown keys"),
                            (dict(finetune={**good["finetune"], "epochs": [0]}), "epochs"),
                            (dict(finetune={**good["finetune"], "target": "rafdb"}), "rafdb")):
        with pytest.raises((KeyError, ValueError), match=message):
            tr.check_transfer({**good, **change}, ["synthfer", "synthfer-identity"])


# ------------------------------------------------------------------ fine-tuning
def test_a_fine_tuned_run_starts_from_the_source_weights(trained, tmp_path):
    root, data = trained
    source = tr.stage_models(["02_lanmsff"], root=root)[0][0].runs[0]
    target = tiny_faces((40, 20, 20), size=32, seed=5)
    target = dataclasses.replace(target, name="tiny-target")
    results = ft.finetune(source, target, [1, 2], overrides={"lr": 1e-4}, root=tmp_path)
    # epoch 0 (before any step) is the source model's loss on the target's validation split
    val = target.split == "val"
    probs, _ = predict_proba(load_model(source.checkpoint), target.images[val])
    nll = float(np.mean(-np.log(probs[np.arange(val.sum()), target.labels[val]])))
    for r in results.values():
        assert r.info["init"]["val_loss"] == pytest.approx(nll, rel=1e-5)
        assert r.info["init"]["reinitialised"] == [] and r.info["config"]["init_from"] == str(source.dir)
        assert r.info["epochs_run"] == r.info["config"]["epochs"]
    curve = ft.curve_frame(results, {"accuracy": 0.1, "balanced_accuracy": 0.1, "macro_f1": 0.1})
    assert list(curve.index) == [0, 1, 2] and curve.at[2, "accuracy"] == pytest.approx(results[2].test.accuracy)
    epochs = ft.epoch_curve(results[2])
    assert list(epochs.index) == [0, 1, 2] and epochs.at[0, "val_loss"] == pytest.approx(nll, rel=1e-5)
    # the source's digest is part of the identity: the same call reads the finished runs back
    again = ft.finetune(source, target, [1], overrides={"lr": 1e-4}, root=tmp_path)
    assert again[1].info["identity"] == results[1].info["identity"]
    assert "init_weights" in results[1].info["identity"]
    # every seed of a row, averaged: seed 0's runs are read back, seed 1's trained
    row = tr.stage_models(["02_lanmsff"], root=root)[0][0]
    zero = {"accuracy": 0.1, "balanced_accuracy": 0.2, "macro_f1": 0.3}
    tuned = ft.finetune_all({"row": row.runs}, target, [1, 2], {"row": zero}, overrides={"lr": 1e-4}, root=tmp_path)
    seed1 = ft.finetune(row.runs[1], target, [1, 2], overrides={"lr": 1e-4}, root=tmp_path)
    t = tuned["row"]
    assert (t.label, t.stage, t.dataset, t.seeds) == ("row", "02_lanmsff", "tiny", 2)
    expected = (ft.curve_frame(results, zero) + ft.curve_frame(seed1, zero)) / 2
    pd.testing.assert_frame_equal(t.curve, expected)
    assert t.curve.at[0, "macro_f1"] == pytest.approx(0.3)                  # N = 0: the zero-shot cell
    pd.testing.assert_frame_equal(t.by_epoch, ft.epoch_curve(seed1[2]))     # the last seed's longest run


def test_the_head_is_reinitialised_when_the_class_set_differs(trained):
    root, _ = trained
    source = tr.stage_models(["02_lanmsff"], root=root)[0][0].runs[0]
    from fernb.models import create_model
    torch.manual_seed(0)
    fresh = create_model("lanmsff", num_classes=8, in_chans=1, img_size=32)
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    info = initialise_from(fresh, "lanmsff", {"img_size": 32}, CANONICAL, source.dir)
    src = torch.load(source.checkpoint, weights_only=True)["state_dict"]
    assert info["reinitialised"] and all(tuple(src[k].shape) != tuple(before[k].shape) for k in info["reinitialised"])
    for key, value in fresh.state_dict().items():
        expected = before[key] if key in info["reinitialised"] else src[key]
        assert torch.equal(value, expected), key
    with pytest.raises(ValueError, match="same network"):
        initialise_from(create_model("lanmsff", num_classes=7, in_chans=1, img_size=40), "lanmsff", {"img_size": 40},
                        SEVEN, source.dir)
    with pytest.raises(KeyError, match="not training settings"):
        ft.run_config(source, colour=1)


def test_fine_tuning_into_the_source_runs_own_folder_is_refused(trained):
    root, data = trained
    source = tr.stage_models(["02_lanmsff"], root=root)[0][0].runs[0]
    config = dataclasses.replace(ft.run_config(source), epochs=1, init_from=str(source.dir))
    before = source.checkpoint.read_bytes()
    with pytest.raises(ValueError, match="own folder"):
        train_run("lanmsff", {"img_size": 32}, dataclasses.replace(data, name="other"), config, source.dir)
    assert source.checkpoint.read_bytes() == before


def test_fer2013_and_ferplus_both_ways_from_files_in_their_published_layouts(tmp_path):
    """FER2013 (Kaggle image folders) and FERPlus (label.csv + PNGs, 8 classes with contempt),
    each model trained on one and scored on both: FERPlus's contempt images are dropped for the
    7-class FER2013 model, and the 8-class FERPlus model's contempt answers count as wrong."""
    from test_loaders import FERPLUS_ROWS, _clear, write_ferplus_folders, write_msambare

    from fernb.data import load, write_store
    from fernb.paths import prepared_dir

    root = tmp_path / "project"
    (root / "fernb").mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    write_msambare(tmp_path / "fer2013")
    rows = {**FERPLUS_ROWS, "FER2013Test": [*FERPLUS_ROWS["FER2013Test"], (19, _clear(7)), (20, _clear(1))]}
    write_ferplus_folders(tmp_path / "ferplus", rows)       # two contempt-free test faces, one contempt
    fer = load("fer2013", tmp_path / "fer2013")
    plus = load("ferplus", tmp_path / "ferplus", num_classes=8)
    assert fer.classes == SEVEN and plus.classes == CANONICAL and (plus.labels == 7).any()
    for data in (fer, plus):
        write_store(data, prepared_dir(data.name, root))
    config = TrainConfig(epochs=1, batch_size=4, optimizer="adam", loss="ce", progress=False, amp="off",
                         channels_last="off")
    result = train_run("lanmsff", {"img_size": 32}, fer, config, root / "runs" / "01_hafem" / "lanmsff" / "seed0")
    write_manifest("01_hafem", [result], root)
    models, _ = tr.stage_models(["01_hafem"], root=root)
    targets = {"fer2013": fer, "ferplus": plus, "rafdb": FileNotFoundError("no prepared store")}
    retrained, skipped = ft.retrain_all({m.label: m.runs for m in models}, targets, ["fer2013", "ferplus", "rafdb"],
                                        root=root)
    assert list(retrained) == [(models[0].label, "ferplus")] and list(skipped) == [(models[0].label, "rafdb")]
    other = retrained[(models[0].label, "ferplus")][0]
    assert other.dataset == "ferplus" and other.classes == CANONICAL
    assert other.info()["config"] == result.info["config"]      # the same configuration, another dataset
    models.append(tr.TransferModel.from_runs("LANMSFF · ferplus", [other]))
    targets.pop("rafdb")
    table = tr.transfer_table(models, targets, n_boot=200, root=root)
    acc = table[table["metric"] == "accuracy"].set_index(["source", "target"])
    assert set(acc["status"]) == {"in-domain", "ok"} and acc["value"].notna().all()
    plus_test = plus.labels[plus.split == "test"]
    assert (plus_test == 7).sum() == 1
    assert acc.loc[("fer2013", "ferplus"), "dropped"] == int((plus_test == 7).sum())
    assert acc.loc[("ferplus", "fer2013"), "dropped"] == 0
    assert "model-only contempt" in acc.loc[("ferplus", "fer2013"), "labels"]
    assert not acc.loc[("fer2013", "ferplus"), "paired"]           # other files, other ids: resampled apart


def test_cached_predictions_match_the_contiguous_layout_and_say_how_the_target_was_converted(trained):
    root, data = trained
    run = tr.stage_models(["02_lanmsff"], root=root)[0][0].runs[0]
    colour = dataclasses.replace(data, name="tiny-colour", images=np.repeat(data.images[..., None], 3, axis=-1))
    frame_ = tr.cell_predictions(run, "tiny-colour", colour, root=root)
    test = data.split == "test"
    probs, _ = predict_proba(load_model(run.checkpoint), data.images[test])
    assert np.allclose(frame_[[f"prob_{c}" for c in SEVEN]].to_numpy(), probs, atol=1e-5)
    assert list(frame_["source_id"]) == list(data.source_ids[test])
    key = tr._cache_path(run, "tiny-colour", root).with_suffix(".json")
    assert "luma" in __import__("json").loads(key.read_text())["conversion"]
    table = trr.conversion_table({"m": tr.input_convention(run.checkpoint)}, {"tiny-colour": colour})
    assert table.iloc[0]["channels"].startswith("RGB → grey") and table.iloc[0]["resize"] == "none"
