"""What notebook 05 reports: its summary tables, the claims ledger and ``metrics.json``.

The measurements come from :mod:`fernb.evaluate.explain` (maps and their scores against the
Action-Unit regions) and :mod:`fernb.evaluate.faithfulness` (causal check, sanity checks,
deletion and insertion); this module only summarises their long tables, so every number the
notebook prints and writes is computed here, where a test holds it.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fernb.data.synthfer import CLASS_AUS
from fernb.evaluate.explain import PAPER_PAIRS, GroundTruth, class_region
from fernb.evaluate.faithfulness import curve_areas, sanity_flags

__all__ = ["region_shares", "causal_summary", "au_use", "pose_summary", "claims_ledger", "stage_metrics"]


def region_shares(truth: GroundTruth) -> pd.DataFrame:
    """Per class: its defining AUs, its faces, and the mean share of the image its region
    covers (the chance level of rank and mass accuracy; NaN for a class with no defining AU or
    no face)."""
    rows = []
    for k, cname in enumerate(truth.classes):
        faces = np.flatnonzero(truth.labels == k)
        regions = [r for i in faces for r in [class_region(truth, int(i))[0]] if r is not None]
        rows.append({"class": cname, "defining AUs": "+".join(CLASS_AUS.get(cname, ())) or "(none)",
                     "faces": int(len(faces)),
                     "region share of the image": float(np.mean([r.mean() for r in regions])) if regions else np.nan})
    return pd.DataFrame(rows)


def causal_summary(causal: pd.DataFrame, by: Sequence[str] = ("model", "method")) -> pd.DataFrame:
    """The causal correlations (:func:`fernb.evaluate.faithfulness.causal_table`, a ``model``
    column added) over the faces that have one: count, mean, median, SD and the share positive."""
    scored = causal.dropna(subset=["rho"])
    return scored.groupby(list(by), sort=False)["rho"].agg(
        faces="size", rho_mean="mean", rho_median="median", rho_sd="std",
        share_positive=lambda r: float((r > 0).mean()))


def au_use(effects: pd.DataFrame) -> pd.DataFrame:
    """What each model uses: per (model, AU), the faces it was active in and the mean drop of
    the true class's logit when it is switched off (:func:`~fernb.evaluate.faithfulness.au_off_effects`)."""
    return effects.groupby(["model", "au"])["drop"].agg(faces="size").join(
        effects.groupby(["model", "au"])["drop"].mean().rename("mean logit drop"))


def pose_summary(pose_scores: pd.DataFrame) -> pd.DataFrame:
    """Per (model, method, pose): mean mass and rank accuracy of the class region, its chance
    level and the mass lift (the class rows of :func:`~fernb.evaluate.explain.score_maps`, a
    ``pose`` column added)."""
    g = pose_scores.groupby(["model", "method", "pose"])
    out = g.agg(mass=("mass", "mean"), chance=("chance", "mean"), rank=("rank", "mean"))
    out["mass_lift"] = out["mass"] / out["chance"]
    return out


def _rows(frame: pd.DataFrame, **where) -> pd.DataFrame:
    if not len(frame):
        return frame
    mask = np.ones(len(frame), bool)
    for k, v in where.items():
        mask &= (frame[k] == v).to_numpy()
    return frame[mask]


def claims_ledger(models: Sequence[str], methods: Sequence[str], *, pairs: pd.DataFrame, causal: pd.DataFrame,
                  cascade: pd.DataFrame, channels: pd.DataFrame, pose: pd.DataFrame) -> pd.DataFrame:
    """Every claim both papers make about their explanations, beside what this run measured:
    HAFEM's stated pairs (:data:`~fernb.evaluate.explain.PAPER_PAIRS`: lift, Wilcoxon p, faces
    above chance), that the maps show what the model uses (causal correlation), that they explain
    the trained model (similarity after full randomisation, flagged when it survives), SHAP's
    "AU channels" and LANMSFF's multi-view maps (mass lift per yaw, from :func:`pose_summary`).
    A claim this run could not measure says "not measured here"."""
    rows = []
    for model in models:
        for method in methods:
            for cname, (_, said) in PAPER_PAIRS.items():
                r = _rows(pairs, model=model, method=method, **{"class": cname})
                rows.append({"claim": f"Grad-CAM/SHAP 'always' on {cname}'s AUs ({said})", "model": model, "method": method,
                             "measured": (f"mass lift {r['mass_lift'].iloc[0]:.2f} over chance (Wilcoxon p = "
                                          f"{r['p_above_chance'].iloc[0]:.2g}); above chance in "
                                          f"{r['faces_above_chance'].iloc[0]} of {r['faces'].iloc[0]} faces")
                             if len(r) else "not measured here"})
            c = _rows(causal, model=model, method=method)
            c = c.dropna(subset=["rho"]) if len(c) else c
            rows.append({"claim": "the maps show what the model uses (implied by both papers)", "model": model,
                         "method": method, "measured": f"causal Spearman {c['rho'].mean():.2f} over {len(c)} faces"
                         if len(c) else "not measured here (no face with three active AUs, or no renderer)"})
            f = sanity_flags(_rows(cascade, model=model, method=method)) if len(_rows(cascade, model=model, method=method)) else pd.DataFrame()
            rows.append({"claim": "the maps explain the trained model (a sanity check neither paper ran)", "model": model,
                         "method": method, "measured": (f"similarity {f['after_all'].iloc[0]:.2f} after full randomisation"
                                                        + (" — FLAGGED: survives randomisation"
                                                           if f["survives_randomisation"].iloc[0] else ""))
                         if len(f) else "not measured here"})
            p = _rows(pose.reset_index(), model=model, method=method) if len(pose) else pose
            if len(p):
                rows.append({"claim": "maps highlight eyes, mouth and nose even in multi-view (LANMSFF)", "model": model,
                             "method": method, "measured": "mass lift by yaw: " + ", ".join(
                                 f"{int(y)}°: {v:.2f}" for y, v in zip(p["pose"], p["mass_lift"]))})
        ch = _rows(channels, model=model)
        if len(ch):
            rows.append({"claim": "SHAP: the head selects AU-corresponding channels (HAFEM)", "model": model,
                         "method": "shap (head)", "measured": f"{100 * ch['defining'].mean():.0f} % of top channels track a "
                                                              f"defining AU best (chance {100 * ch['chance'].mean():.0f} %)"})
    return pd.DataFrame(rows, columns=["claim", "model", "method", "measured"])


def _finite(value):
    return None if value is None or (isinstance(value, float) and not np.isfinite(value)) else value


def stage_metrics(models: Sequence[str], methods: Sequence[str], *, scores: pd.DataFrame, causal: pd.DataFrame,
                  cascade: pd.DataFrame, curves: pd.DataFrame) -> dict:
    """``metrics.json``'s per-model, per-method block: class-region rank and mass accuracy with
    their chance level and the lift, the pointing-game rate and its chance, constant maps and
    faces; the mean causal correlation and its faces; the randomisation similarity per step and
    whether the maps survive; deletion and insertion areas beside the random order's. A check
    that did not run leaves its keys out."""
    out = {}
    for model in models:
        out[model] = {}
        for method in methods:
            m = {}
            s = _rows(scores, model=model, method=method)
            s = s[s["region"] == "class"] if len(s) else s
            if len(s):
                m.update(rank=s["rank"].mean(), mass=s["mass"].mean(), chance=s["chance"].mean(),
                         pointing=s["pointing"].mean(), pointing_chance=s["pointing_chance"].mean(),
                         empty_maps=int(s["empty_map"].sum()), faces=int(s["face"].nunique()))
                m["mass_lift"] = m["mass"] / m["chance"]
            c = _rows(causal, model=model, method=method)
            if len(c):
                c = c.dropna(subset=["rho"])
                m.update(causal_rho=c["rho"].mean() if len(c) else None, causal_faces=int(len(c)))
            g = _rows(cascade, model=model, method=method)
            if len(g):
                g = g.sort_values("step")
                m["randomisation_similarity"] = dict(zip(g["randomised"], g["similarity"]))
                m["survives_randomisation"] = bool(sanity_flags(g)["survives_randomisation"].iloc[0])
            k = _rows(curves, model=model)
            if len(k):
                a = curve_areas(k)
                m.update(deletion_auc=a.loc[method, "deletion"], insertion_auc=a.loc[method, "insertion"],
                         deletion_auc_random=a.loc["random", "deletion"], insertion_auc_random=a.loc["random", "insertion"])
            out[model][method] = {key: _finite(v) for key, v in m.items()}
    return out
