"""fernb.evaluate.explain_report: notebook 05's summaries, ledger and metrics from toy long tables,
and its calls in the notebook's order on a tiny SynthFER store and an untrained LANMSFF run."""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from fernb.data import write_store
from fernb.data.synthfer import AUS, generate
from fernb.evaluate import explain as ex
from fernb.evaluate import explain_report as er
from fernb.evaluate.explain_report import ExplainStudy
from fernb.labels import SEVEN
from fernb.models import create_model, save_model
from fernb.paths import prepared_dir
from fernb.runs import MODEL, RESULT, run_dir
from fernb.workbook.report import write_json


def _truth():
    masks = {a: np.zeros((3, 4, 4), bool) for a in AUS}
    masks["AU6"][:, 0, :] = True                        # 4 of 16 pixels
    masks["AU12"][:, 3, :2] = True                      # 2 of 16
    intensity = np.zeros((3, len(AUS)), np.float32)
    intensity[0, AUS.index("AU6")] = intensity[0, AUS.index("AU12")] = 0.5   # happy: both AUs
    intensity[1, AUS.index("AU6")] = 0.5                                      # happy: AU6 only
    labels = np.array([SEVEN.index("happy"), SEVEN.index("happy"), SEVEN.index("neutral")])
    return ex.GroundTruth(index=np.arange(3), images=np.zeros((3, 4, 4), np.uint8), labels=labels, classes=SEVEN,
                          masks=masks, intensity=intensity, yaw=np.zeros(3, np.float32),
                          occluder=np.full(3, "", dtype=object), source="toy")


def test_region_shares_are_each_class_s_mean_region_share():
    shares = er.region_shares(_truth()).set_index("class")
    assert shares.loc["happy", "faces"] == 2 and shares.loc["happy", "defining AUs"] == "AU6+AU12"
    assert shares.loc["happy", "region share of the image"] == pytest.approx((6 / 16 + 4 / 16) / 2)
    assert shares.loc["neutral", "defining AUs"] == "(none)" and np.isnan(shares.loc["neutral", "region share of the image"])
    assert shares.loc["sad", "faces"] == 0


def test_causal_summary_and_au_use():
    causal = pd.DataFrame({"model": "m", "method": ["a", "a", "a", "b"], "class": "happy",
                           "rho": [0.5, -0.5, np.nan, 1.0]})
    s = er.causal_summary(causal).loc[("m", "a")]
    assert s["faces"] == 2 and s["rho_mean"] == 0 and s["share_positive"] == 0.5
    assert s["rho_sd"] == pytest.approx(np.std([0.5, -0.5], ddof=1))
    effects = pd.DataFrame({"model": "m", "au": ["AU4", "AU4", "AU12"], "drop": [1.0, 3.0, -1.0]})
    use = er.au_use(effects)
    assert use.loc[("m", "AU4"), "faces"] == 2 and use.loc[("m", "AU4"), "mean logit drop"] == 2.0


def _long_tables():
    truth = _truth()
    rel = np.zeros((3, 4, 4))
    rel[:, 0, :] = 1.0                                   # every map on row 0 (AU6)
    scores = ex.score_maps({"shap": rel}, truth, model="M")
    causal = pd.DataFrame({"model": "M", "method": "shap", "face": [0, 1], "class": "happy", "aus": 3, "rho": [0.2, 0.4],
                           "reason": ""})
    cascade = pd.DataFrame({"model": "M", "method": "shap", "step": [0, 1, 2], "randomised": ["(none: trained)", "head", "body"],
                            "similarity": [1.0, 0.7, 0.6], "similarity_sd": 0.0, "constant_maps": 0})
    fractions = np.linspace(0, 1, 3)
    curves = pd.concat([pd.DataFrame({"model": "M", "method": m, "mode": mode, "fraction": fractions, "probability": p})
                        for m, mode, p in (("shap", "deletion", [1, 0, 0]), ("shap", "insertion", [0, 1, 1]),
                                           ("random", "deletion", [1, 0.5, 0]), ("random", "insertion", [0, 0.5, 1]))])
    return truth, rel, scores, causal, cascade, curves


def test_stage_metrics_carry_each_check_s_numbers():
    truth, rel, scores, causal, cascade, curves = _long_tables()
    m = er.stage_metrics(["M"], ["shap"], scores=scores, causal=causal, cascade=cascade, curves=curves)["M"]["shap"]
    # class regions: face 0 AU6+AU12 (6 of 16 px), face 1 AU6 alone (4 px); all the mass is on row 0 = AU6
    assert m["faces"] == 2 and m["mass"] == pytest.approx(1.0)
    assert m["chance"] == pytest.approx((6 / 16 + 4 / 16) / 2) and m["mass_lift"] == pytest.approx(m["mass"] / m["chance"])
    assert m["causal_rho"] == pytest.approx(0.3) and m["causal_faces"] == 2
    assert m["randomisation_similarity"] == {"(none: trained)": 1.0, "head": 0.7, "body": 0.6}
    assert m["survives_randomisation"] is True                     # 0.6 >= faithfulness.SURVIVES_RANDOMISATION
    assert m["deletion_auc"] == pytest.approx(0.25) and m["deletion_auc_random"] == pytest.approx(0.5)
    assert m["insertion_auc"] == pytest.approx(0.75)
    # a check that did not run leaves its keys out
    bare = er.stage_metrics(["M"], ["shap"], scores=scores, causal=pd.DataFrame(), cascade=pd.DataFrame(),
                                curves=pd.DataFrame())["M"]["shap"]
    assert "causal_rho" not in bare and "deletion_auc" not in bare and bare["faces"] == 2


def test_the_ledger_states_every_claim_and_what_was_not_measured():
    truth, rel, scores, causal, cascade, curves = _long_tables()
    pairs = ex.paper_pairs_table({"shap": rel}, truth, model="M")
    pose = er.pose_summary(scores[scores["region"] == "class"].assign(pose=0.0))
    ledger = er.claims_ledger(["M"], ["shap"], pairs=pairs, causal=causal, cascade=cascade,
                                  channels=pd.DataFrame({"model": "M", "defining": [True, False], "chance": 0.25}), pose=pose)
    text = dict(zip(ledger["claim"].str[:40], ledger["measured"]))
    happy = next(v for k, v in text.items() if "happy" in k)
    anger = next(v for k, v in text.items() if "anger" in k)
    assert "mass lift" in happy and "of 2 faces" in happy
    assert anger == "not measured here"                            # no angry face in the toy
    assert "causal Spearman 0.30 over 2 faces" in ledger["measured"].tolist()
    assert any("FLAGGED" in v for v in ledger["measured"])
    assert "50 % of top channels track a defining AU best (chance 25 %)" in ledger["measured"].tolist()
    assert any(v.startswith("mass lift by yaw: 0°:") for v in ledger["measured"])


# --------------------------------------------------------------------------------------
# The study: notebook 05's cells, run on a tiny SynthFER store and an untrained LANMSFF
# --------------------------------------------------------------------------------------
TINY = {"models": ["01_hafem", "02_lanmsff"], "methods": ["grad_cam", "shap"], "per_class": 1, "shap_nsamples": 2,
        "background": 4, "min_intensity": 0.2, "sanity_faces": 2, "curve_faces": 3, "curve_steps": 2, "pose_faces": 1,
        "pose_yaws": [0, 45], "cam_which": "cbam", "seed": 0}


def _project(root):
    """A project with a prepared SynthFER store and one finished run of 02_lanmsff (untrained
    weights: the checks only need a network, not a good one); 01_hafem never ran."""
    data = generate(14, 7, 14, progress=False, identity_range=(0.0, 0.8))
    write_store(data, prepared_dir("synthfer", root))
    torch.manual_seed(0)
    model = create_model("lanmsff", num_classes=7, in_chans=1, img_size=32)
    run = run_dir("02_lanmsff", "lanmsff", 0, root)
    save_model(model, run / MODEL, scaling="range")
    (run / RESULT).write_text("{}")
    write_json(root / "runs" / "02_lanmsff" / "runs.json", {"stage": "02_lanmsff", "runs": [
        {"dir": "runs/02_lanmsff/lanmsff/seed0", "model": "lanmsff", "model_kwargs": {}, "dataset": "synthfer",
         "seed": 0, "classes": list(SEVEN)}]})
    return data


@pytest.fixture(scope="module")
def notebook(tmp_path_factory, one_torch_thread):
    """Every call of notebook 05, in its order, on the tiny project; what each returned."""
    root = tmp_path_factory.mktemp("nb05")
    data = _project(root)
    study = er.faces_to_explain("synthfer", TINY, root)
    er.explain_models(study)
    out = {"data": data, "study": study, "scores": er.map_scores(study), "pairs": er.paper_pairs(study),
           "channels": er.shap_channels(study)}
    out["effects"], out["causal"] = er.causal_check(study)
    out["cascade"], out["similar"], out["untrained"] = er.sanity_checks(study)
    out["curves"] = er.deletion_insertion_table(study)
    out["by_pose"], out["turned"] = er.turn_faces(study)
    return out


def test_the_study_opens_on_seeded_faces_with_their_ground_truth_and_background(notebook):
    study, data = notebook["study"], notebook["data"]
    np.testing.assert_array_equal(study.rows, ex.pick_indices(data, 1, seed=0))
    assert len(study.rows) == 6 and study.truth.source.startswith("SynthFER renderer")
    assert study.skipped[0] == "classes with no test face here: ['disgust']"       # the tiny store's test split has none
    train = np.flatnonzero(data.split == "train")
    np.testing.assert_array_equal(study.background,
                                  data.images[train][np.random.default_rng(0).choice(len(train), 4, replace=False)])
    assert er.faces_text(study) == ("**synthfer**: 6 test faces (1 per class at most, seed 0); ground truth: "
                                    + study.truth.source)


def test_a_stage_without_runs_and_a_layer_the_network_lacks_are_said_not_raised(notebook):
    study = notebook["study"]
    assert list(study.models) == ["LANMSFF (02_lanmsff)"] and list(study.maps) == list(study.models)
    assert study.skipped[1].startswith("01_hafem: ") and "not found" in study.skipped[1]
    assert study.skipped[2] == "LANMSFF (02_lanmsff): has no Grad-CAM layer 'cbam'; its last feature map is used"
    assert study.models["LANMSFF (02_lanmsff)"].which == "features"
    maps = study.maps["LANMSFF (02_lanmsff)"]
    assert set(maps) == {"grad_cam", "shap"} and maps["shap"].shape == (6, 48, 48)
    assert er.maps_text(study) == f"Maps of 1 model(s) × 2 method(s) × 6 faces in {study.seconds['maps']:.0f} s."
    grids = er.cam_grids(study).iloc[0]
    # 48-px faces resized to 32 px, four 2x2 pools to block4: a 2 x 2 grid
    assert grids["input (stored face)"] == "48×48" and grids["network input"] == "32×32"
    assert grids["Grad-CAM layer"] == "block4" and grids["Grad-CAM layer grid"] == "2×2"


def test_the_maps_are_the_explain_module_s_with_the_study_s_settings(notebook):
    study, data = notebook["study"], notebook["data"]
    entry = study.models["LANMSFF (02_lanmsff)"]
    again = ex.attribution_maps(entry.model, ex.model_inputs(data.images[study.rows]), data.labels[study.rows],
                                background=ex.model_inputs(study.background), methods=["grad_cam", "shap"],
                                nsamples=2, seed=0)
    for method, m in again.items():
        np.testing.assert_allclose(study.maps["LANMSFF (02_lanmsff)"][method], m)


def test_the_figure_faces_and_the_checked_faces():
    labels = np.array([3, 0, 3, 1, 0])
    fake = ExplainStudy(dataset="d", explain={"curve_faces": 2, "sanity_faces": 4}, root=".", rows=np.arange(5),
                        data=SimpleNamespace(labels=labels, classes=SEVEN), truth=None, background=np.zeros(0))
    assert fake.one_per_class == [1, 3, 0]                     # the first face of classes 0, 1, 3
    np.testing.assert_array_equal(fake.check_rows, [0, 1])
    np.testing.assert_array_equal(fake.sanity_rows, [1, 3, 0, 2])


def test_map_figures_show_one_face_per_class(notebook):
    figures = list(er.map_figures(notebook["study"]))
    assert [name for name, _ in figures] == ["maps_lanmsff"]
    axes = figures[0][1].axes
    assert len(axes) == 6 * 4                                  # 6 classes x (face, region, Grad-CAM, SHAP)
    plt.close("all")


def test_the_score_tables_are_the_long_table_s_means(notebook):
    scores = notebook["scores"]
    assert set(scores["model"]) == {"LANMSFF (02_lanmsff)"} and set(scores["method"]) == {"grad_cam", "shap"}
    means = er.score_tables(scores)
    classes = scores[scores["region"] == "class"]
    shap = classes[classes["method"] == "shap"]
    assert means["overall"].loc[("LANMSFF (02_lanmsff)", "shap"), "mass"] == pytest.approx(shap["mass"].mean())
    assert means["overall"].loc[("LANMSFF (02_lanmsff)", "shap"), "faces"] == 5      # neutral has no defining AU
    assert set(means["au"].index.get_level_values("region")) <= set(AUS)
    assert er.au_scores_text(notebook["study"]).startswith("**Per Action Unit** (every AU active at intensity ≥ 0.2 ")


def test_each_check_runs_over_the_models(notebook):
    study = notebook["study"]
    assert set(notebook["pairs"]["class"]) >= {"anger", "happy"}
    assert set(notebook["effects"]["model"]) == set(notebook["causal"]["model"]) == {"LANMSFF (02_lanmsff)"}
    assert set(notebook["causal"]["method"]) == {"grad_cam", "shap"}
    cascade = notebook["cascade"]
    assert list(cascade[cascade["method"] == "shap"]["randomised"]) == [
        "(none: trained)", "head", "block4", "block3", "block2", "block1"]
    flags = er.sanity_flags_by_model(cascade)
    assert list(flags["model"]) == ["LANMSFF (02_lanmsff)"] * 2
    assert list(notebook["similar"].columns) == ["model", "method", "similarity_to_untrained"]
    assert set(notebook["untrained"]["model"]) == {"LANMSFF (02_lanmsff) untrained"}
    assert set(notebook["untrained"]["face"]) <= set(study.rows[:3])                   # curve_faces: the first 3
    curves = notebook["curves"]
    assert set(curves["method"]) == {"grad_cam", "shap", "random"} and len(curves) == 3 * 2 * 3   # 3 steps
    areas = er.curve_areas_by_model(curves)
    assert list(areas["method"]) == ["grad_cam", "shap", "random"] and set(areas["model"]) == {"LANMSFF (02_lanmsff)"}
    assert set(study.seconds) == {"maps", "causal", "sanity", "curves"}
    assert not notebook["channels"].empty and set(notebook["channels"]["model"]) == {"LANMSFF (02_lanmsff)"}


def test_the_face_turns_through_the_yaws(notebook):
    study, turned = notebook["study"], notebook["turned"]
    assert sorted(turned) == [("LANMSFF (02_lanmsff)", 0), ("LANMSFF (02_lanmsff)", 45)]
    faces, _ = turned[("LANMSFF (02_lanmsff)", 45)]
    assert len(faces) == 1 and abs(faces.yaw[0] - 45) < 1e-3
    assert list(notebook["by_pose"].index.get_level_values("pose").unique()) == [0, 45]
    fig = er.pose_figure(study, turned)
    assert len(fig.axes) == 2 * 4                              # two yaws x (face, region, two maps)
    plt.close("all")
    assert er.pose_figure(study, {}) is None


def test_the_metrics_carry_every_check_and_the_headline_the_mass_lifts(notebook):
    study = notebook["study"]
    metrics = er.interpretability_metrics(study, scores=notebook["scores"], causal=notebook["causal"],
                                          cascade=notebook["cascade"], curves=notebook["curves"])
    assert metrics["faces"] == 6 and metrics["skipped"] == study.skipped
    assert list(metrics["seconds"]) == ["maps", "causal", "sanity", "curves", "total"]
    shap = metrics["models"]["LANMSFF (02_lanmsff)"]["shap"]
    assert metrics["lanmsff_shap_mass_lift"] == shap["mass_lift"] and "deletion_auc" in shap
    assert er.interpretability_headline(metrics) == ["lanmsff_grad_cam_mass_lift", "lanmsff_shap_mass_lift", "faces"]
    assert er.trained_vs_untrained(study, notebook["scores"], notebook["untrained"]).index.tolist() == [
        ("LANMSFF (02_lanmsff)", "grad_cam"), ("LANMSFF (02_lanmsff)", "shap"),
        ("LANMSFF (02_lanmsff) untrained", "grad_cam"), ("LANMSFF (02_lanmsff) untrained", "shap")]
    assert er.untrained_text(study) == "Trained against untrained, scored against the same AU regions on the same 3 faces:"


def test_without_a_renderer_or_landmarks_the_checks_are_skipped_and_said(notebook):
    data = notebook["data"]
    foreign = type(data)(**{**data.__dict__, "meta": {}})
    truth, notes = er.ground_truth(foreign, notebook["study"].rows)
    assert truth.source == "68 landmarks (approximate AU regions)" and notes == []
    truth, notes = er.ground_truth(type(data)(**{**foreign.__dict__, "landmarks": None}), notebook["study"].rows)
    assert truth is None and notes[0].startswith("scores against AU regions: synthfer: the store has no landmarks")
    study = notebook["study"]
    bare = ExplainStudy(dataset="x", explain=study.explain, root=study.root, data=data, rows=study.rows, truth=None,
                        background=study.background, models=study.models, maps=study.maps)
    assert er.map_scores(bare).empty and er.paper_pairs(bare).empty and er.shap_channels(bare).empty
    assert er.causal_check(bare)[1].empty
    by_pose, turned = er.turn_faces(bare)
    assert by_pose.empty and turned == {}
    assert bare.skipped[:3] == ["LANMSFF (02_lanmsff): AU channels need AU intensities (SynthFER)",
                                "LANMSFF (02_lanmsff): the causal check needs the renderer (SynthFER)",
                                "pose: turning a face needs the renderer (SynthFER)"]
    assert er.skipped_text(bare).startswith("**Skipped here, and why:**\n\n- LANMSFF (02_lanmsff): AU channels")
    assert er.skipped_text(ExplainStudy(dataset="x", explain={}, root=".", data=data, rows=study.rows, truth=None,
                                        background=study.background)) == ""


def test_the_pairs_sentence_by_hand():
    pairs = pd.DataFrame([
        {"model": "M", "method": "shap", "class": "happy", "stated AUs": "AU6+AU12", "mass": 0.4, "chance": 0.25,
         "mass_lift": 1.6, "faces_above_chance": 9, "faces": 10, "p_above_chance": 0.0123},
        {"model": "M", "method": "shap", "class": "anger", "stated AUs": "AU4+AU23", "mass": 0.2, "chance": 0.25,
         "mass_lift": 0.8, "faces_above_chance": 3, "faces": 10, "p_above_chance": 0.5},
        {"model": "M", "method": "shap", "class": "sad", "stated AUs": "AU1+AU4+AU15", "mass": 0.3, "chance": 0.3,
         "mass_lift": 1.0, "faces_above_chance": 5, "faces": 10, "p_above_chance": 0.4}])
    assert er.pairs_text(pairs).split("\n") == [
        "- *M*, shap, **happy** → AU6+AU12: mass 40.0 % against a chance of 25.0 % (lift 1.60, above chance, one-sided "
        "Wilcoxon p = 0.012); above chance in 9 of 10 faces — HAFEM says *always*.",
        "- *M*, shap, **anger** → AU4+AU23: mass 20.0 % against a chance of 25.0 % (lift 0.80, not shown above chance, "
        "p = 0.5); above chance in 3 of 10 faces — HAFEM says *always*."]
    summary = er.channel_summary(pd.DataFrame({"model": "M", "channel": [1, 2, 3, 4], "defining": [True, False, True, True],
                                               "chance": 0.25}))
    assert summary.loc["M", "channels"] == 4 and summary.loc["M", "defining"] == 0.75
