"""Notebook 01's pretrained-versus-scratch pairing (fernb/evaluate/pretraining.py) and the twin's
recipe (fernb/train/recipes.py scratch_twin), on tiny finished runs."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fernb.evaluate import pretraining
from fernb.evaluate.stats import mcnemar_test, paired_seed_test
from fernb.metrics import metrics_from_frame
from fernb.train import recipes
from fernb.workbook.stages import stage_parameters

from conftest import REPO


def _worse(result, flip_every: int):
    """A copy of a finished run whose test predictions are wrong on every ``flip_every``-th correct image."""
    frame = result.predictions.copy()
    test = frame.index[(frame["split"] == "test") & frame["correct"].astype(bool)]
    hit = test[::flip_every]
    n_classes = len(result.info["classes"])
    classes = tuple(result.info["classes"])
    frame.loc[hit, "pred"] = (frame.loc[hit, "label"] + 1) % n_classes
    frame.loc[hit, "correct"] = False
    probs = [c for c in frame.columns if c.startswith("prob_") and c[5:] in classes]
    assert len(probs) == n_classes, frame.columns
    frame.loc[hit, probs] = 0.0
    for row in hit:
        frame.loc[row, f"prob_{classes[frame.at[row, 'pred']]}"] = 1.0
    return dataclasses.replace(result, predictions=frame,
                               test=metrics_from_frame(frame[frame["split"] == "test"], classes))


def test_the_pairing_is_comparisons_row_with_the_budget_beside_it(tiny_runs):
    _, _, results = tiny_runs
    scratch = [_worse(r, every) for r, every in zip(results, (2, 6))]   # unequal gaps: the t-test has a spread
    names = ("scratch twin", "pretrained")
    pairing = pretraining.twin_comparison(results, scratch, names, n_boot=300)
    row = pairing.iloc[0]
    assert row["family"] == pretraining.FAMILY and (row["a"], row["b"]) == names and row["shared seeds"] == 2
    acc = [r.test.accuracy for r in results]
    acc_scratch = [r.test.accuracy for r in scratch]
    assert row["Δ accuracy (pt)"] == pytest.approx(100 * (np.mean(acc) - np.mean(acc_scratch)))
    assert row["Δ low"] <= row["Δ accuracy (pt)"] <= row["Δ high"]
    # McNemar on both seeds' per-image correctness, concatenated (pairs matched by seed and image)
    ca = np.concatenate([pretraining.trained_model(scratch, "s").runs[s]["correct"].to_numpy(bool) for s in (0, 1)])
    cb = np.concatenate([pretraining.trained_model(results, "p").runs[s]["correct"].to_numpy(bool) for s in (0, 1)])
    assert row["p McNemar (exact)"] == pytest.approx(mcnemar_test(ca, cb)["p_exact"])
    assert row["p t (seeds)"] == pytest.approx(paired_seed_test(acc_scratch, acc)["p_t"])
    budget = pretraining.budget_table({names[1]: results, names[0]: scratch})
    assert budget.at["pretrained", "seeds"] == 2
    assert budget.at["pretrained", "mean %"] == pytest.approx(100 * np.mean(acc))
    assert budget.at["scratch twin", "sd %"] == pytest.approx(100 * np.std(acc_scratch, ddof=1))
    minutes = np.mean([r.history["epoch_seconds"].sum() for r in results]) / 60
    assert budget.at["pretrained", "train minutes per seed"] == pytest.approx(minutes)
    assert budget.at["pretrained", "initial weights"] == "random initialisation"
    text = pretraining.twin_text(budget, pairing)
    for number in (row["accuracy b %"], row["accuracy a %"], row["Δ low"], row["Δ high"]):
        assert f"{abs(number):.1f}" in text
    assert f"p = {row['p t (seeds)']:.3g}" in text and row["verdict"] in text


def test_one_seed_each_says_why_there_is_no_test_over_seeds(tiny_runs):
    _, _, results = tiny_runs
    pairing = pretraining.twin_comparison(results[:1], [_worse(results[0], 2)], ("a", "b"), n_boot=200)
    text = pretraining.twin_text(pretraining.budget_table({"b": results[:1], "a": [_worse(results[0], 2)]}), pairing)
    assert "a paired test over seeds needs 2" in text


def _stage():
    stage = stage_parameters("01_hafem", REPO)
    return stage["hafem"], stage["train"]


def test_the_twin_recipe_applies_its_overrides_and_keeps_the_seeds():
    params, train = _stage()
    assert recipes.scratch_twin(params, train) is None    # params.yaml: null
    pretrained = {**params, "backbone": "efficientnet_lite0", "pretrained": "efficientnet_lite0", "img_size": 96,
                  "layer_decay": 0.9, "seeds": [0, 1, 2],
                  "scratch_twin": {"backbone": "resnet10t", "pretrained": False, "img_size": 48, "layer_decay": None,
                                   "epochs": 30}}
    main, twin = recipes.hafem(pretrained, train), recipes.scratch_twin(pretrained, train)
    assert twin.folder == "hafem_scratch" and main.folder is None
    assert twin.seeds == main.seeds == [0, 1, 2]
    assert twin.model_kwargs["backbone"] == "resnet10t" and twin.model_kwargs["pretrained"] is False
    assert twin.config.epochs == 30 and twin.config.layer_decay is None
    assert twin.config.batch_size == main.config.batch_size and twin.config.loss_weights == main.config.loss_weights
    assert pretraining.twin_names(main, twin) == ("scratch resnet10t 48 px", "efficientnet_lite0 efficientnet_lite0 96 px")
    with pytest.raises(ValueError, match="must train from random weights"):
        recipes.scratch_twin({**pretrained, "scratch_twin": {"epochs": 3}}, train)
    with pytest.raises(KeyError, match=r"unknown parameters \['epochz'\]"):
        recipes.scratch_twin({**pretrained, "scratch_twin": {"pretrained": False, "epochz": 3}}, train)


def test_the_twin_trains_into_its_own_folder_and_stays_out_of_the_manifest(tmp_path, one_torch_thread):
    from fernb.runs import MANIFEST

    from conftest import make_data

    params, train = _stage()
    tiny = {**params, "img_size": 16, "d_model": 16, "num_heads": 2, "epochs": 1, "warmup_epochs": 0, "batch_size": 16,
            "seeds": [0], "scratch_twin": {"pretrained": False, "epochs": 2}}
    train = {**train, "progress": False, "amp": "off", "channels_last": "off"}
    twin = recipes.scratch_twin(tiny, train)
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    [result] = recipes.run_recipe("01_hafem", twin, make_data(size=16), root=tmp_path)
    assert result.dir == tmp_path / "runs" / "01_hafem" / "hafem_scratch" / "seed0"
    assert result.info["epochs_run"] == 2
    assert not (tmp_path / "runs" / "01_hafem" / MANIFEST).exists()
