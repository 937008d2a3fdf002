"""fernb.train.ablations and fernb.evaluate.ablation_report: ladders as data, cached runs, the reports."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from fernb.evaluate import ablation_report as abl
from fernb.papers import hafem as hafem_paper
from fernb.papers import lanmsff as lanmsff_paper
from fernb.runs import stage_runs
from fernb.train import ablations as ab
from fernb.train import loop
from fernb.train.recipes import RECIPES, run_recipe

from conftest import REPO, tiny_faces

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
SECTIONS = {"hafem": {**PARAMS["hafem"], "loss": "compound", "loss_weights": [0.6, 0.0, 0.15]}, "lanmsff": PARAMS["lanmsff"]}
TRAIN = {**PARAMS["train"], "progress": False, "amp": "off", "channels_last": "off"}
ABLATIONS = {"ladders": ["hafem_components", "hafem_loss", "lanmsff_modules"], "seeds": [0, 1, 2],
             "resnet_backbone": "resnet18", "hafem": {"epochs": 2}, "lanmsff": {}}


def _by(cells, ladder, variant, seed=0):
    return next(c for c in cells if c.ladder == ladder and c.variant == variant and c.seed == seed)


def test_ladders_expand_to_the_papers_rows():
    cells = ab.expand(ABLATIONS["ladders"], SECTIONS, TRAIN, ABLATIONS)
    assert len(cells) == (5 + 4 + 4) * 3
    resnet = _by(cells, "hafem_components", "ResNet")
    assert resnet.recipe.model_kwargs["backbone"] == "resnet18"          # the Ref, read from the ablations section
    assert not resnet.recipe.model_kwargs["use_transformer"] and not resnet.recipe.model_kwargs["use_cbam"]
    assert resnet.recipe.config.loss == "ce" and resnet.recipe.config.epochs == 2     # the ablation scale applies
    plain = _by(cells, "hafem_components", "backbone")
    assert plain.recipe.model_kwargs["backbone"] == PARAMS["hafem"]["backbone"]
    top = _by(cells, "hafem_components", "+recipe loss")
    assert top.recipe.model_kwargs["use_transformer"] and top.recipe.model_kwargs["use_cbam"]
    assert top.recipe.config.loss == "compound" and top.recipe.config.loss_weights == (0.6, 0.0, 0.15)
    compound = _by(cells, "hafem_loss", "compound")
    assert compound.recipe.config.loss == "compound" and compound.recipe.config.loss_weights == (0.6, 0.25, 0.15)
    assert _by(cells, "hafem_loss", "CE+centre").recipe.config.loss_weights == (0.6, 0.25, 0.0)
    both = _by(cells, "lanmsff_modules", "-both")
    assert not both.recipe.model_kwargs["use_pwfs"] and not both.recipe.model_kwargs["use_massatt"]
    assert _by(cells, "lanmsff_modules", "-PWFS").recipe.model_kwargs["use_massatt"]
    # Rows with the same settings share a key (one run per seed); different rows never do.
    assert _by(cells, "hafem_components", "+CBAM").key == _by(cells, "hafem_loss", "CE").key
    assert _by(cells, "hafem_components", "+recipe loss").key == _by(cells, "hafem_loss", "CE+DLS").key   # these weights
    keys = {(c.ladder, c.variant): c.key for c in cells}
    assert len(set(keys.values())) == len(keys) - 2
    assert len({c.key for c in cells if c.ladder == "lanmsff_modules"}) == 4
    assert {c.seed for c in cells} == {0, 1, 2}


def test_table3_ladder_shares_runs_with_the_components_ladder():
    cells = ab.expand(["hafem_components", "table3_baselines"], SECTIONS, TRAIN, ABLATIONS)
    assert _by(cells, "table3_baselines", "ResNet-50").key == _by(cells, "hafem_components", "ResNet").key
    assert _by(cells, "table3_baselines", "HAFEM").key == _by(cells, "hafem_components", "+recipe loss").key
    b4 = _by(cells, "table3_baselines", "EfficientNet-B4")
    assert b4.recipe.model_kwargs["backbone"] == "efficientnet_b4" and not b4.recipe.model_kwargs["use_transformer"]
    table3 = ab.LADDERS["table3_baselines"]
    assert [table3.paper[v.paper]["accuracy"] for v in table3.variants] == [71.4, 89.5, 94.7]
    assert "table3_baselines" not in PARAMS["ablations"]["ladders"]        # off by default: B4 is costly on a CPU


def test_ladders_carry_the_papers_numbers():
    fig3 = ab.LADDERS["hafem_components"]
    assert [fig3.paper[v.paper]["accuracy"] for v in fig3.variants] == [71.4, 84.2, 88.6, 91.8, 94.7]
    table12 = ab.LADDERS["lanmsff_modules"]
    assert [table12.paper[v.paper]["accuracy"] for v in table12.variants] == [90.77, 91.24, 90.83, 90.58]
    for row in lanmsff_paper.CLAIMS["ablation_kdef"].values():          # Table XII: overall = mean of the five poses
        assert np.mean(list(row["per_pose"].values())) == pytest.approx(row["accuracy"], abs=0.006)
    assert hafem_paper.RECIPE["loss_weights"] == ab.PAPER_WEIGHTS


@pytest.mark.parametrize("change, message", [
    ({"ladders": ["hafem_componets"]}, "unknown ladder"),
    ({"ladders": [{"hafem_components": ["backbone", "+Transfomer"]}]}, r"no variant\(s\) \['\+Transfomer'\]"),
    ({"ladders": [{"hafem_components": ["backbone"]}]}, "at least two variants"),
    ({"seeds": []}, "seeds must be"),
    ({"seeds": [0, 0]}, "seeds must be"),
    ({"hafem": {"epoch": 3}}, "'epoch'"),
    ({"colour": "red"}, "unknown keys"),
])
def test_bad_ablation_settings_are_refused_before_training(change, message):
    with pytest.raises((KeyError, ValueError), match=message):
        ab.expand(change.get("ladders", ["hafem_components"]), SECTIONS, TRAIN, {**ABLATIONS, **change})


def test_an_override_of_a_key_the_recipe_lacks_is_refused(monkeypatch):
    bad = ab.Ladder("bad", "lanmsff", "t", "s", (ab.Rung("x", {"use_transformer": False}),))
    monkeypatch.setitem(ab.LADDERS, "bad", bad)
    with pytest.raises(KeyError, match="use_transformer.*not a key of the recipe"):
        ab.expand(["bad"], SECTIONS, TRAIN, ABLATIONS)


TINY_LANMSFF = {**PARAMS["lanmsff"], "img_size": 32, "epochs": 1, "batch_size": 16, "max_train": None,
                "drop_rate": 0.1, "seeds": [0]}


@pytest.fixture
def counted(monkeypatch):
    """Every run that really trains (prepare is called), by folder."""
    trained = []
    real = loop.prepare

    def spy(*args, **kwargs):
        trained.append(args[4])
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "prepare", spy)
    return trained


def test_a_changed_variant_retrains_only_its_runs_and_01_02_runs_are_read_back(tmp_path, monkeypatch, counted,
                                                                               one_torch_thread):
    data = tiny_faces()
    ladder = ab.Ladder("two", "lanmsff", "two rows", "test", (ab.Rung("whole", {}), ab.Rung("-PWFS", {"use_pwfs": False})))
    monkeypatch.setitem(ab.LADDERS, "two", ladder)
    settings = {"ladders": ["two"], "seeds": [0, 1], "lanmsff": {}, "hafem": {}}
    sections = {"lanmsff": TINY_LANMSFF}
    # Stage 02 trained the whole model with seed 0: the ladder reads it back instead of training it again.
    recipe = RECIPES["lanmsff"](TINY_LANMSFF, TRAIN)
    run_recipe("02_lanmsff", recipe, data, root=tmp_path)
    assert len(counted) == 1
    table = ab.run_cells("03_ablations", ab.expand(["two"], sections, TRAIN, settings), data, root=tmp_path, progress=False)
    assert len(counted) == 1 + 3
    whole0 = table[(table["variant"] == "whole") & (table["seed"] == 0)].iloc[0]
    assert whole0["origin"] == "read back from 02_lanmsff" and whole0["dir"].startswith("runs/02_lanmsff/")
    assert set(table.loc[table["origin"] == "trained", "dir"].str.split("/").str[1]) == {"03_ablations"}
    # The manifest lists every cell with its ladder and variant, readable through fernb.runs.
    listed = stage_runs("03_ablations", tmp_path)
    assert len(listed) == 4
    manifest = json.loads((tmp_path / "runs" / "03_ablations" / "runs.json").read_text())
    assert {(e["variant"], e["seed"]) for e in manifest["runs"]} == {("whole", 0), ("whole", 1), ("-PWFS", 0), ("-PWFS", 1)}

    # Nothing changed: nothing trains. One variant changed: only its two seeds train, in a new folder.
    again = ab.run_cells("03_ablations", ab.expand(["two"], sections, TRAIN, settings), data, root=tmp_path, progress=False)
    assert len(counted) == 4
    pd.testing.assert_frame_equal(again, table)
    changed = ab.Ladder("two", "lanmsff", "two rows", "test",
                        (ab.Rung("whole", {}), ab.Rung("-PWFS", {"use_pwfs": False, "drop_rate": 0.2})))
    monkeypatch.setitem(ab.LADDERS, "two", changed)
    third = ab.run_cells("03_ablations", ab.expand(["two"], sections, TRAIN, settings), data, root=tmp_path, progress=False)
    assert len(counted) == 6
    retrained = {str(p.relative_to(tmp_path)) for p in counted[4:]}
    assert retrained == set(third.loc[third["variant"] == "-PWFS", "dir"])
    assert third.loc[third["variant"] == "whole", "dir"].tolist() == table.loc[table["variant"] == "whole", "dir"].tolist()


def _fake_table(tmp_path, per_variant, poses=None, n=200, seed=0):
    """A run table and per-run test predictions with set accuracies: ``per_variant`` maps a
    variant to one accuracy per seed (images right at random with that share)."""
    rng = np.random.default_rng(seed)
    rows, predictions = [], {}
    for variant, accs in per_variant.items():
        for s, acc in enumerate(accs):
            directory = f"runs/x/{variant}/seed{s}"
            correct = rng.random(n) < acc
            label = rng.integers(0, 7, n)
            pred = np.where(correct, label, (label + 1) % 7)
            frame = pd.DataFrame({"label": label, "pred": pred, "correct": correct, "index": np.arange(n),
                                  "split": "test", "pose": poses if poses is not None else np.nan})
            predictions[directory] = frame
            rows.append({"ladder": "lad", "variant": variant, "seed": s, "dir": directory,
                         "test_accuracy": correct.mean()})
    return pd.DataFrame(rows), predictions


def test_steps_put_seeds_and_images_beside_the_papers_step():
    ladder = ab.Ladder("lad", "lanmsff", "t", "s", (ab.Rung("a", {}, paper="A"), ab.Rung("b", {}, paper="B"),
                                                   ab.Rung("c", {}, paper="C")),
                       paper={"A": {"accuracy": 50.0}, "B": {"accuracy": 60.0}, "C": {"accuracy": 70.0}})
    table, predictions = _fake_table(None, {"a": [0.3, 0.31, 0.29], "b": [0.7, 0.72, 0.69], "c": [0.71, 0.69, 0.70]})
    summary = abl.variant_summary(table, ladder)
    assert summary.loc["a", "paper %"] == 50.0
    assert summary.loc["b", "mean %"] == pytest.approx(100 * table[table.variant == "b"].test_accuracy.mean())
    assert summary.loc["b", "sd %"] == pytest.approx(100 * table[table.variant == "b"].test_accuracy.std(ddof=1))
    steps = abl.ladder_steps(table, ladder, predictions)
    assert list(steps.index) == ["a → b", "b → c"]
    assert steps.loc["a → b", "paper step (pt)"] == pytest.approx(10.0)
    assert steps.loc["a → b", "images pooled"] == 600
    assert steps.loc["a → b", "verdict"] == "supported"                  # 40 points over 3 seeds and 600 images
    assert steps.loc["b → c", "verdict"] == "not resolved at this scale"
    # Holm over the two steps: the smaller p doubled, the larger one at least that (statsmodels' holm).
    from statsmodels.stats.multitest import multipletests
    raw = steps["p (McNemar, images)"].to_numpy()
    assert np.allclose(steps["p_holm (McNemar)"], multipletests(raw, method="holm")[1])
    assert abl.verdict(-5.0, 3.0, 0.001) == "contradicted"
    assert abl.verdict(None, 3.0, 0.001) == "real difference"


def test_one_seed_steps_and_gains_are_given_untested():
    # notebook 03 at seeds: [0] (a smoke run) reports each step and gain without a test over seeds
    ladder = ab.Ladder("lad", "lanmsff", "t", "s", (ab.Rung("a", {}, paper="A"), ab.Rung("b", {}, paper="B")),
                       paper={"A": {"accuracy": 50.0}, "B": {"accuracy": 60.0}})
    table, predictions = _fake_table(None, {"a": [0.3], "b": [0.7]})
    steps = abl.ladder_steps(table, ladder, predictions)
    assert steps.loc["a → b", "verdict"] == "not tested (1 seed)"
    assert steps.loc["a → b", "our step (pt)"] == pytest.approx(100 * (table.test_accuracy[1] - table.test_accuracy[0]))
    assert np.isnan(steps.loc["a → b", "p (t, seeds)"]) and steps.loc["a → b", "p (McNemar, images)"] < 1e-6
    f1 = pd.DataFrame({"variant": ["CE", "CE+DLS"], "seed": [0, 0], "disgust": [10.0, 14.0]}).set_index(["variant", "seed"])
    gains = abl.loss_gains(f1, ab.Ladder("loss", "hafem", "t", "s", (ab.Rung("CE", {}), ab.Rung("CE+DLS", {}))))
    assert gains.loc[("CE+DLS", "disgust"), "gain mean (pt)"] == 4.0
    assert np.isnan(gains.loc[("CE+DLS", "disgust"), "p_holm"])


def test_pose_table_states_both_variances_and_the_papers():
    poses = np.repeat([-90.0, -45.0, 0.0, 45.0, 90.0], 40) + np.tile([-3.0, 4.0], 100)   # jittered around KDEF's angles
    ladder = ab.LADDERS["lanmsff_modules"]
    table, predictions = _fake_table(None, {v: [0.6, 0.5] for v in ladder.order}, poses=poses)
    table["ladder"] = "lanmsff_modules"
    frame = abl.pose_variance_table(table, ladder, predictions, paper=ladder.paper)
    first = predictions[table.iloc[0]["dir"]]
    second = predictions[table.iloc[1]["dir"]]
    by_hand = [100 * (first.correct[first.index // 40 == k].mean() + second.correct[second.index // 40 == k].mean()) / 2
               for k in range(5)]
    assert frame.loc["whole", ["-90°", "-45°", "+0°", "+45°", "+90°"]].to_numpy() == pytest.approx(by_hand)
    assert frame.loc["whole", "var (population)"] == pytest.approx(np.var(by_hand))
    assert frame.loc["whole", "var (sample)"] == pytest.approx(np.var(by_hand, ddof=1))
    assert frame.loc["whole", "paper Var"] == 0.66
    assert frame.loc["whole", "paper's own per-pose: var (population)"] == pytest.approx(0.79, abs=0.005)
    assert frame.loc["whole", "paper's own per-pose: var (sample)"] == pytest.approx(0.99, abs=0.005)


def test_loss_gains_are_per_class_and_paired_by_seed():
    f1 = pd.DataFrame({"variant": ["CE"] * 3 + ["CE+DLS"] * 3 + ["CE+centre"] * 3 + ["compound"] * 3,
                       "seed": [0, 1, 2] * 4, "disgust": [10, 12, 11, 14, 16, 15, 10, 12, 11, 20, 19, 22.0],
                       "happy": [80, 81, 79, 80, 81, 79, 79, 80, 82, 80, 82, 79.0]}).set_index(["variant", "seed"])
    gains = abl.loss_gains(f1, ab.LADDERS["hafem_loss"])
    assert gains.loc[("CE+DLS", "disgust"), "gain mean (pt)"] == pytest.approx(4.0)
    assert gains.loc[("CE+DLS", "disgust"), "gain sd (pt)"] == 0.0
    from scipy import stats
    p = stats.ttest_rel([20, 19, 22.0], [10, 12, 11]).pvalue
    assert gains.loc[("compound", "disgust"), "p (t)"] == pytest.approx(p)
    assert gains.loc[("compound", "disgust"), "p_holm"] == pytest.approx(min(1.0, 2 * p))


def test_a_ladder_entry_can_pick_rows():
    chosen = ab.select(["lanmsff_modules", {"hafem_components": ["+CBAM", "backbone"]}])
    assert list(chosen) == ["lanmsff_modules", "hafem_components"]
    assert chosen["hafem_components"].order == ["backbone", "+CBAM"]          # the ladder's order, not the entry's
    cells = ab.expand([{"hafem_components": ["+CBAM", "backbone"]}], SECTIONS, TRAIN, ABLATIONS)
    assert {c.variant for c in cells} == {"backbone", "+CBAM"} and len(cells) == 6


def test_the_search_trains_at_its_own_scale_or_the_ablation_scale():
    search = {"recipe": "lanmsff", "scale": None}
    assert ab.search_scale(search, ABLATIONS) == {}                                   # ablations.lanmsff: {} (the stage's)
    assert ab.search_scale({**search, "recipe": "hafem"}, ABLATIONS) == {"epochs": 2}
    assert ab.search_scale({**search, "scale": {"epochs": 9}}, ABLATIONS) == {"epochs": 9}
    assert ab.search_scale({"recipe": "hafem", "scale": None}, {"seeds": [0]}) == {}


def test_the_search_ladder_sets_the_best_trial_beside_the_recipe():
    ladder = ab.search_best_ladder("hafem", {"lr": 0.01})
    assert ladder.name == "search_best" and ladder.recipe == "hafem" and ladder.order == ["recipe", "best trial"]
    cells = ab.ladder_cells(ladder, SECTIONS["hafem"], TRAIN, ABLATIONS, scale={"epochs": 2})
    assert len(cells) == 2 * len(ABLATIONS["seeds"])
    recipe, best = _by(cells, "search_best", "recipe"), _by(cells, "search_best", "best trial")
    assert recipe.recipe.config.lr == SECTIONS["hafem"]["lr"] and best.recipe.config.lr == 0.01
    assert recipe.recipe.config.epochs == best.recipe.config.epochs == 2 and recipe.key != best.key
