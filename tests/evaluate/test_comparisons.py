"""Notebook 06's comparisons (:mod:`fernb.evaluate.comparisons`) and the ledger's measurements
(:mod:`fernb.evaluate.measured`), on toy prediction frames and toy report tables."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st
from statsmodels.stats.multitest import multipletests

from fernb.evaluate import comparisons as co
from fernb.evaluate import ledger_report as lr
from fernb.evaluate import measured as me
from fernb.evaluate import stats
from fernb.papers import hafem
from fernb.papers import ledger as ld


def _frame(labels, preds, dataset="toy", ids=None):
    n = len(labels)
    return pd.DataFrame({"label": labels, "pred": preds, "correct": np.asarray(labels) == np.asarray(preds),
                         "split": "test", "dataset": dataset, "index": np.arange(n),
                         "source_id": ids if ids is not None else [f"toy/{i}" for i in range(n)]})


def _model(name, labels, accuracy_by_seed, rng):
    runs = {}
    for seed, acc in accuracy_by_seed.items():
        right = rng.random(len(labels)) < acc
        preds = np.where(right, labels, (labels + 1) % 7)
        runs[seed] = _frame(labels, preds)
    return co.TrainedModel(name=name, stage="toy", dataset="toy", scale="toy", runs=runs)


@pytest.fixture()
def toy_models():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 400)
    return [_model("A", labels, {0: 0.5, 1: 0.52, 2: 0.48}, rng), _model("B", labels, {0: 0.7, 1: 0.72, 2: 0.69}, rng),
            _model("C", labels, {0: 0.51}, rng)]


def test_runs_on_different_test_images_are_refused_naming_both():
    a = _frame([0, 1, 2], [0, 1, 1])
    with pytest.raises(ValueError, match=r"HAFEM \(01\) was scored on \['toy'\] and LANMSFF \(02\) on \['other'\]"):
        co.check_same_images(a, _frame([0, 1, 2], [0, 1, 2], dataset="other"), "HAFEM (01)", "LANMSFF (02)")
    with pytest.raises(ValueError, match="3 test images and y 2"):
        co.check_same_images(a, _frame([0, 1], [0, 1]), "x", "y")
    with pytest.raises(ValueError, match="different test images"):
        co.check_same_images(a, _frame([0, 1, 2], [0, 1, 2], ids=["a", "b", "c"]), "x", "y")
    with pytest.raises(ValueError, match="1 of the same test images .* different labels"):
        co.check_same_images(a, _frame([0, 1, 3], [0, 1, 2]), "x", "y")
    co.check_same_images(a, _frame([0, 1, 2], [2, 2, 2]), "x", "y")          # same images: fine


def test_compare_against_stats_and_scipy(toy_models):
    a, b, _ = toy_models
    row = co.compare(a, b, n_boot=300, seed=1)
    acc = lambda m: np.mean([m.runs[s]["correct"].mean() for s in m.seeds])   # noqa: E731
    assert row["Δ accuracy (pt)"] == pytest.approx(100 * (acc(b) - acc(a)))
    assert row["Δ low"] < row["Δ accuracy (pt)"] < row["Δ high"]
    pooled = lambda m: np.concatenate([m.runs[s]["correct"].to_numpy() for s in (0, 1, 2)])   # noqa: E731
    mc = stats.mcnemar_test(pooled(a), pooled(b))
    assert row["p McNemar (exact)"] == mc["p_exact"] and row["p McNemar (mid-p)"] == mc["p_midp"]
    per_seed_a = [a.runs[s]["correct"].mean() for s in (0, 1, 2)]
    per_seed_b = [b.runs[s]["correct"].mean() for s in (0, 1, 2)]
    assert row["p t (seeds)"] == pytest.approx(st.ttest_rel(per_seed_b, per_seed_a).pvalue)
    assert row["shared seeds"] == 3 and "Wilcoxon cannot reach 0.05 with 3 pairs" in row["seed test"]
    assert row["Wilcoxon floor"] == 0.25


def test_with_one_shared_seed_the_seed_test_says_why_instead_of_a_number(toy_models):
    a, _, c = toy_models
    row = co.compare(c, a, n_boot=100)
    assert math.isnan(row["p t (seeds)"]) and math.isnan(row["d_z (seeds)"])
    assert row["seed test"].startswith("not computed: 1 shared seed(s), a paired test over seeds needs 2")


def test_comparison_table_applies_holm_within_each_family(toy_models):
    families = {"A vs others": [("B", "A"), ("C", "A")], "B vs C": [("C", "B")]}
    table = co.comparison_table(toy_models, families, n_boot=200)
    assert list(table.columns) == list(co.COMPARISON_COLUMNS)
    fam = table[table["family"] == "A vs others"]
    expected = multipletests(fam["p McNemar (exact)"], method="holm")[1]
    assert np.allclose(fam["p_holm (McNemar)"], expected)
    single = table[table["family"] == "B vs C"]
    assert single["p_holm (McNemar)"].iloc[0] == single["p McNemar (exact)"].iloc[0]
    row = table[(table["a"] == "B") & (table["b"] == "A")].iloc[0]
    assert row["verdict"] == "B better"                                 # A is ~20 points worse on 400 images
    with pytest.raises(ValueError, match="no trained model named"):
        co.comparison_table(toy_models, {"x": [("A", "Z")]})


def test_comparison_verdict_needs_the_test_and_the_interval():
    base = {"a": "A", "b": "B", "Δ low": 1.0, "Δ high": 3.0, "p_holm (McNemar)": 0.01}
    assert co.comparison_verdict(base) == "B better"
    assert co.comparison_verdict({**base, "Δ low": -3.0, "Δ high": -1.0}) == "A better"
    assert co.comparison_verdict({**base, "Δ low": -1.0}) == "no resolved difference"
    assert co.comparison_verdict({**base, "p_holm (McNemar)": 0.2}) == "no resolved difference"
    assert co.comparison_verdict({**base, "p_holm (McNemar)": math.nan}) == "no resolved difference"


def test_stated_effect_table_reenacts_hafems_claim():
    table = co.stated_effect_table(hafem.TABLE3, (0.95, 2.84), 0.001)
    assert len(table) == len(hafem.TABLE3) - 1
    assert not table["possible on images"].any()                     # no stated gap allows d 0.95 on images
    dual = table.loc["DualPath CNN"]
    assert dual["stated gap (pt)"] == pytest.approx(3.5)
    assert dual["max d_z on images"] == pytest.approx(stats.max_dz_per_image(0.035))
    assert dual["runs for p<0.001 at d 0.95"] == stats.runs_for_p(0.95, 0.001) == 18
    assert dual["gap for d 0.95 (pt)"] == pytest.approx(100 * 0.9025 / 1.9025)
    with pytest.raises(ValueError, match="not a row"):
        co.stated_effect_table(hafem.TABLE3, (1,), model="nope")


# --------------------------------------------------------------------------- measurements
def test_scale_labels():
    assert me.scale_label("synthfer", "hafem", 12) == "SynthFER default (12 epochs)"
    assert me.scale_label("fer2013", "hafem", 12) == "CPU scale (12 epochs)"
    assert me.scale_label("fer2013", "hafem", 140) == "paper scale (140 epochs)"


def test_ablation_and_report_measurements_from_toy_tables(tmp_path):
    tables = tmp_path / "reports" / "03_ablations" / "tables"
    tables.mkdir(parents=True)
    steps = pd.DataFrame({"step": ["R → b", "b → T", "T → C", "C → L"], "paper step (pt)": [12.8, 4.4, 3.2, 2.9],
                          "our step (pt)": [5.0, -1.0, 0.5, 0.0], "95% CI low": [3.0, -4.0, -1.0, 0.0],
                          "95% CI high": [7.0, 2.0, 2.0, 0.0], "seeds": 3, "d_z": 1.0, "p (t, seeds)": 0.01,
                          "p (Wilcoxon)": 0.25, "Wilcoxon floor": 0.25, "images pooled": 300,
                          "p (McNemar, images)": 0.001, "p_holm (t)": 0.04, "p_holm (McNemar)": 0.004,
                          "verdict": ["supported", "not resolved at this scale", "contradicted",
                                      "not resolved at this scale"]})
    steps.to_csv(tables / "hafem_components_steps.csv", index=False)
    out = me.ablation_measurements(tables)
    assert out["ablation:hafem_components:EfficientNet-B5"]["verdict"] == "reproduced"
    assert out["ablation:hafem_components:+Transformer"]["verdict"] == "not testable here"
    assert out["ablation:hafem_components:+CBAM"]["verdict"] == "not reproduced"
    assert out["ablation:hafem_components:+CBAM"]["dataset"] == "synthfer"     # no metrics.json: SynthFER
    (tables.parent / "metrics.json").write_text(json.dumps({"dataset": "fer2013"}))   # 03 ran on FER2013 (make real)
    assert {e["dataset"] for e in me.ablation_measurements(tables).values()} == {"fer2013"}
    reports = tmp_path / "reports"
    (reports / "07_fps" / "tables").mkdir(parents=True)
    pd.DataFrame({"model": ["HAFEM, paper (B5)"], "paper FPS": [52], "paper hardware": ["RTX 3090"],
                  "our FPS (batch 1)": [26.0], "our variant": ["eager"], "our hardware": ["a CPU"]}).to_csv(
        reports / "07_fps" / "tables" / "versus_paper.csv")
    (reports / "05_interpretability" / "tables").mkdir(parents=True)
    pd.DataFrame({"model": ["HAFEM (01_hafem)"], "class": ["happy"], "stated AUs": ["AU6+AU12"], "method": ["grad_cam"],
                  "faces": [10], "mass_lift": [2.0], "faces_above_chance": [10], "p_above_chance": [0.001]}).to_csv(
        reports / "05_interpretability" / "tables" / "paper_pairs.csv", index=False)
    found = me.report_measurements(reports)
    assert found["fps:hafem"]["verdict"] == "not testable here" and found["fps:hafem"]["ours"] == 26.0
    assert found["interpretability:happy"]["verdict"] == "reproduced"


def test_parameters_are_counted_on_the_built_networks():
    out = me.parameter_measurements()
    assert out["params:lanmsff"]["verdict"] == "reproduced"               # 358,406 counted as Keras does
    assert out["params:lanmsff_width"]["ours"] == 156
    assert out["params:efficientnet_b5"]["verdict"] == "reproduced"       # timm: 30.39M
    assert out["params:transformer_layer"]["verdict"] == "not reproduced"  # six layers are ~201M, not 31.2M
    assert out["params:transformer_layer"]["ours"] > 200


def test_write_ledger_and_the_front_page_summary(tmp_path):
    table = ld.ledger({})
    paths = lr.write_ledger(table, tmp_path)
    back = pd.read_csv(paths["csv"])
    assert len(back) == len(table) and list(back.columns) == list(ld.LEDGER_COLUMNS)
    assert len(json.loads(paths["json"].read_text())) == len(table)
    page = paths["html"].read_text()
    assert "<h2>HAFEM</h2>" in page and "<h2>LANMSFF</h2>" in page
    counts = lr.verdict_counts(table)
    assert counts.loc["HAFEM", "claims"] == table.loc[table["paper"] == "HAFEM", "id"].nunique()
    assert counts["checks"].sum() == len(table)
    found = ld.findings_table(table)
    assert found["finding"].is_unique and found["checks"].sum() == table["finding"].notna().sum()
    assert found.iloc[0]["severity"] == "changes a headline result"
    assert page.index("Findings") < page.index("<h2>HAFEM</h2>")
    assert all(f"id='{f}'" in page for f in found["finding"])


def test_families_set_each_anchor_against_every_other_model(toy_models):
    a, b, c = toy_models
    hafem = co.TrainedModel(name="HAFEM (01)", stage="01_hafem", dataset="toy", scale="toy", runs=a.runs)
    fams = co.families_of([hafem, b, c], ["hafem", "lanmsff"])
    assert fams == {"HAFEM vs every other model": [("B", "HAFEM (01)"), ("C", "HAFEM (01)")]}   # no LANMSFF here
    with pytest.raises(ValueError, match="unknown \\['resnet'\\]"):
        co.families_of([hafem], ["resnet"])


def test_effect_ceiling_flags_a_per_image_effect_above_what_its_gap_allows(toy_models):
    table = co.comparison_table(toy_models, {"f": [("A", "B"), ("C", "B")]}, n_boot=100)
    view = co.effect_ceiling(table)
    assert view["under the ceiling"].all()                   # real vectors never exceed it
    gap = abs(table["Δ accuracy (pt)"].iloc[0]) / 100
    assert view["max d_z for this gap"].iloc[0] == pytest.approx(stats.max_dz_per_image(gap))
    forged = table.copy()
    forged.loc[0, "d_z (images)"] = 0.95                     # HAFEM's smallest stated d on a ~20-point gap
    assert not co.effect_ceiling(forged)["under the ceiling"].iloc[0]


def test_the_cohen_claim_counts_the_runs_its_stated_d_and_p_need():
    # HAFEM §4: p < 0.001 at d 0.95 needs stats.runs_for_p(0.95, 0.001) = 18 runs of every model (6 at d 2.84);
    # the ledger's check re-derives the count on its own and says it cannot decide what was paired
    claim = next(c for c in ld.claims() if c.id == "hafem-s4-cohen")
    check = next(k for k in claim.checks if k.name == "effect-size")
    assert check.verdict == "cannot check"
    assert f"needs {stats.runs_for_p(0.95, 0.001)} runs of each at d 0.95" in check.evidence
    assert f"({stats.runs_for_p(2.84, 0.001)} at d 2.84)" in check.evidence
    assert hafem.CLAIMS["statistics"] == {"p_below": 0.001, "cohen_d": (0.95, 2.84), "baselines": 10}


def test_the_catalogue_and_its_sentence_name_table3s_baselines_under_any_name(toy_models):
    a, b, c = toy_models
    b.aliases = ("table3_baselines/ResNet-50", "hafem_loss/CE")
    catalogue = co.model_catalogue([a, b, c])
    assert list(catalogue.index) == ["A", "B", "C"] and catalogue.at["A", "also named"] == "—"
    assert catalogue.at["B", "also named"] == "table3_baselines/ResNet-50, hafem_loss/CE"
    assert catalogue.at["A", "seeds"] == len(a.runs)
    text = co.catalogue_text(catalogue)
    assert text.startswith("3 models, test set(s): toy. Table 3's baselines trained here: table3_baselines/ResNet-50. ")
    b.aliases = ()
    assert "Table 3's CNN baselines are not trained at these settings" in co.catalogue_text(co.model_catalogue([a, b, c]))


def test_the_verdict_sentence_counts_per_family():
    table = pd.DataFrame({"family": ["f", "f", "g"], "verdict": ["real difference", "no resolved difference",
                                                                 "real difference"],
                          "seed test": ["only 1 shared seed", "", ""]})
    text = co.verdict_summary_text(table)
    lines = text.split("\n")
    assert lines[0] in ("- **f**: real difference: 1; no resolved difference: 1.",
                        "- **f**: no resolved difference: 1; real difference: 1.")
    assert lines[1] == "- **g**: real difference: 1."
    assert lines[3].startswith("Over seeds: only 1 shared seed. Where the tests resolve")


def test_the_power_tables():
    floors = co.wilcoxon_floor_table(range(2, 9))
    assert floors.loc[5, "smallest Wilcoxon p (2/2^n)"] == 2 / 32 and not floors.loc[5, "can reach 0.05"]
    assert floors.loc[6, "can reach 0.05"]                      # 2/64 < 0.05: six pairs are the fewest
    effects = co.seeds_for_effects((0.5, 0.95), alpha=0.05, p_below=0.001)
    assert effects.loc[0.5, "seeds for 80 % power (α 0.05)"] == stats.seeds_needed(0.5) == 34
    assert effects.loc[0.95, "seeds before p < 0.001"] == stats.runs_for_p(0.95, 0.001)


def test_the_stated_effect_sentences():
    stated = co.stated_effect_table(hafem.TABLE3, (0.95, 2.84), 0.001)
    text = co.stated_effect_text(stated, (0.95, 2.84), 0.001)
    runs = stats.runs_for_p(0.95, 0.001)
    assert text.startswith(f"On test images the stated d is reachable for **0 of {len(stated)}** baselines")
    assert f"needs a {100 * stats.gap_for_dz(0.95):.0f}-point gap" in text
    assert f"needs {runs} runs of every model (p with {runs - 1}: {stats.paired_t_p(0.95, runs - 1)['p']:.4f})" in text
    ceiling = pd.DataFrame({"under the ceiling": [True, False, True]})
    assert co.ours_effect_text(ceiling).endswith("stays under its ceiling in 2 of 3 pairs.")


def test_the_ledger_sentence_and_notebook_06s_metrics(toy_models):
    table = ld.ledger({})
    text = lr.ledger_text(table, 123, {"x": {}, "y": {}})
    n_found = len(ld.findings_table(table))
    assert text.startswith(f"**{n_found} findings** — HAFEM ")
    assert f"from **{table['id'].nunique()} claims, {len(table)} checks** (123 numbers printed" in text
    assert "Measurements filled here: 2." in text
    comparisons = co.comparison_table(toy_models, {"f": [("A", "B"), ("C", "B")]}, n_boot=100)
    metrics = lr.statistics_metrics(models=3, comparisons=comparisons, ledger=table, measured={"x": {}},
                                    printed_numbers=123, seconds=1.5)
    assert metrics["resolved"] == int((comparisons["verdict"] != "no resolved difference").sum())
    assert metrics["claims"] == table["id"].nunique() and metrics["checks"] == len(table)
    assert sum(metrics["verdicts"].values()) == len(table) and list(metrics["verdicts"]) == list(ld.ck.VERDICTS)
    assert metrics["by_paper"]["HAFEM"]["checks"] == int((table["paper"] == "HAFEM").sum())
    assert metrics["findings"] == n_found == len(metrics["finding_list"])
    assert sum(row["findings"] for row in metrics["findings_by_paper"].values()) == n_found
    assert lr.statistics_metrics(models=0, comparisons=comparisons.iloc[:0], ledger=table, measured={},
                                 printed_numbers=1, seconds=0.0)["resolved"] == 0
