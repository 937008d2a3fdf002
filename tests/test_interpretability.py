"""fernb.evaluate.interpretability: notebook 05's summaries, ledger and metrics from toy long tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fernb.data.synthfer import AUS
from fernb.evaluate import explain as ex
from fernb.evaluate import interpretability as interp
from fernb.labels import SEVEN


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
    shares = interp.region_shares(_truth()).set_index("class")
    assert shares.loc["happy", "faces"] == 2 and shares.loc["happy", "defining AUs"] == "AU6+AU12"
    assert shares.loc["happy", "region share of the image"] == pytest.approx((6 / 16 + 4 / 16) / 2)
    assert shares.loc["neutral", "defining AUs"] == "(none)" and np.isnan(shares.loc["neutral", "region share of the image"])
    assert shares.loc["sad", "faces"] == 0


def test_causal_summary_and_au_use():
    causal = pd.DataFrame({"model": "m", "method": ["a", "a", "a", "b"], "class": "happy",
                           "rho": [0.5, -0.5, np.nan, 1.0]})
    s = interp.causal_summary(causal).loc[("m", "a")]
    assert s["faces"] == 2 and s["rho_mean"] == 0 and s["share_positive"] == 0.5
    assert s["rho_sd"] == pytest.approx(np.std([0.5, -0.5], ddof=1))
    effects = pd.DataFrame({"model": "m", "au": ["AU4", "AU4", "AU12"], "drop": [1.0, 3.0, -1.0]})
    use = interp.au_use(effects)
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
    m = interp.stage_metrics(["M"], ["shap"], scores=scores, causal=causal, cascade=cascade, curves=curves)["M"]["shap"]
    # class regions: face 0 AU6+AU12 (6 of 16 px), face 1 AU6 alone (4 px); all the mass is on row 0 = AU6
    assert m["faces"] == 2 and m["mass"] == pytest.approx(1.0)
    assert m["chance"] == pytest.approx((6 / 16 + 4 / 16) / 2) and m["mass_lift"] == pytest.approx(m["mass"] / m["chance"])
    assert m["causal_rho"] == pytest.approx(0.3) and m["causal_faces"] == 2
    assert m["randomisation_similarity"] == {"(none: trained)": 1.0, "head": 0.7, "body": 0.6}
    assert m["survives_randomisation"] is True                     # 0.6 >= faithfulness.SURVIVES_RANDOMISATION
    assert m["deletion_auc"] == pytest.approx(0.25) and m["deletion_auc_random"] == pytest.approx(0.5)
    assert m["insertion_auc"] == pytest.approx(0.75)
    # a check that did not run leaves its keys out
    bare = interp.stage_metrics(["M"], ["shap"], scores=scores, causal=pd.DataFrame(), cascade=pd.DataFrame(),
                                curves=pd.DataFrame())["M"]["shap"]
    assert "causal_rho" not in bare and "deletion_auc" not in bare and bare["faces"] == 2


def test_the_ledger_states_every_claim_and_what_was_not_measured():
    truth, rel, scores, causal, cascade, curves = _long_tables()
    pairs = ex.paper_pairs_table({"shap": rel}, truth, model="M")
    pose = interp.pose_summary(scores[scores["region"] == "class"].assign(pose=0.0))
    ledger = interp.claims_ledger(["M"], ["shap"], pairs=pairs, causal=causal, cascade=cascade,
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
