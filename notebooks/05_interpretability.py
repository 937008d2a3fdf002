# %% [markdown]
# # 05 · Interpretability, measured: are the maps where the expression is, and do they follow the model?
#
# Both papers explain their networks with pictures. HAFEM (§4, its Grad-CAM and SHAP figures) says
# Grad-CAM on its last feature map "always" lights up anatomically sensible regions — anger on the
# brow (AU4) and AU24, happiness on the cheeks (AU6) and lip corners (AU12), "a Duchenne smile" — and
# that SHAP shows its head selecting "AU-corresponding channels". LANMSFF shows Grad-CAM maps
# "highlighting eyes, mouth and nose, even in multi-view". Neither paper measures anything, and a map
# that *looks* anatomical can come from the input's edges alone (Adebayo et al., NeurIPS 2018).
#
# SynthFER renders every face from FACS Action Units and knows where each one acts, so this notebook
# can do what neither paper could (`fernb/evaluate/explain.py`, `fernb/evaluate/faithfulness.py`; each
# model in turn, and what this notebook shows, in `fernb/evaluate/explain_report.py`):
#
# 1. **score** every map against the ground truth — relevance rank accuracy, relevance mass accuracy
#    and the pointing game, each beside its chance level (the region's share of the image);
# 2. **test the claims** as numbers: each class's stated AUs, and SHAP's "AU channels";
# 3. **check causally** that a map follows what the model uses: switch one AU off in the renderer,
#    measure the drop of the true class's logit, and correlate it with the map's mass on that AU;
# 4. **run the sanity checks**: maps after randomising the network top-down, and of an untrained
#    network; deletion and insertion curves against a random order;
# 5. **turn the head**: do LANMSFF's maps (built for multi-view) move with the face?

# %% tags=["parameters"]
# Parameters: injected by papermill from params.yaml (the entries dvc.yaml declares for this stage).
dataset = 'synthfer'
explain = {
    'models': ['01_hafem', '02_lanmsff'],
    'methods': ['grad_cam', 'shap'],
    'per_class': 10,
    'shap_nsamples': 32,
    'background': 64,
    'min_intensity': 0.2,
    'sanity_faces': 8,
    'curve_faces': 28,
    'curve_steps': 12,
    'pose_faces': 3,
    'pose_yaws': [-90, -45, 0, 45, 90],
    'cam_which': 'features',
    'seed': 0,
}

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from fernb.evaluate import explain_report as er
from fernb.paths import project_root
from fernb.workbook import plots
from fernb.workbook.report import Report

STAGE = "05_interpretability"
report = Report(STAGE)
study = er.faces_to_explain(dataset, explain, project_root())     # seeded: the faces, their ground truth, SHAP's background
display(Markdown(er.faces_text(study)))

# %% [markdown]
# ## 1 · The ground truth: where each Action Unit acts
#
# Each test face is rendered again from the store's own generator parameters, and must come out
# byte-identical to the stored image (`synthfer_ground_truth` refuses otherwise). The renderer
# records every place an AU changes: the landmark region it displaces and the texture cues it draws
# (forehead wrinkles for AU1/AU2, glabellar furrows for AU4, crow's feet for AU6, the nasolabial fold
# for AU12, …). A class's region is the union of its **defining** AUs that are active in the face
# (`CLASS_AUS`); *neutral* has none and is not scored. The table gives each region's mean share of the
# image — the chance level of rank and mass accuracy.

# %%
if study.truth is not None:
    display(report.table(er.region_shares(study.truth).round(3), "class_regions", index=False))

# %% [markdown]
# ## 2 · The models and their maps
#
# Every model of `explain.models` (seed 0 of its stage's runs) is explained on the same faces for its
# *true* class: **Grad-CAM** (captum's `LayerGradCam` with `relu_attributions=True`, bilinear upsampling,
# on the layer the network names: HAFEM's last backbone feature map before tokenising — or, with
# `explain.cam_which: cbam`, its final CBAM's output —, LANMSFF's last block) and **SHAP** (`shap.GradientExplainer`, expected gradients over a background of training faces;
# DeepExplainer has no rules for SiLU, attention, LayerNorm or CBAM's gates). Grids: one face per class.

# %%
er.explain_models(study)        # each stage's seed-0 run, mapped by every method on the same faces
display(Markdown(er.maps_text(study)))
display(report.table(er.cam_grids(study), "cam_grids", index=False))
display(Markdown("Grad-CAM can be no sharper than its layer's grid: a map of a few cells, upsampled, can only say *which "
                 "part* of the face — read its scores with that in mind. SHAP works on the pixels themselves."))

# %%
for name, fig in er.map_figures(study):
    report.figure(fig, name)
    plt.show()

# %% [markdown]
# ## 3 · Scores against the AU regions
#
# Per model, method and class (means over faces): **rank** accuracy (share of the *k* most relevant
# pixels inside the region, *k* = its size), **mass** accuracy (share of the non-negative relevance
# inside it), the **pointing game** (the most relevant pixel inside the region grown by 15/224 of the
# side), each chance level, and the lift (score ÷ chance: 1 is what a map unrelated to the face scores).
# A constant map (Grad-CAM with no positive evidence) points nowhere: it is counted in `empty_maps`
# and left out of the means.

# %%
scores = er.map_scores(study)
if len(scores):
    report.table(scores, "scores_long", index=False)
    means = er.score_tables(scores)
    display(Markdown("**Per class** (the class's active defining AUs):"))
    display(report.table(means["class"].round(3), "scores_by_class"))
    display(Markdown("**All scored classes together:**"))
    display(report.table(means["overall"].round(3), "scores_overall"))
    display(Markdown(er.au_scores_text(study)))
    display(report.table(means["au"].round(3), "scores_by_au"))

# %% [markdown]
# ### HAFEM's stated pairs, as numbers
#
# HAFEM's reading of its Grad-CAM figure names regions per class; every other class is held to its
# defining AUs. Each row: the mean mass inside the stated AUs' region, its chance level, in how many
# faces the mass beats that face's chance, and a one-sided Wilcoxon signed-rank test of mass minus
# chance over the faces (a lift a little over 1 on ten faces is not evidence). AU24 (lip pressor) is not rendered by SynthFER; AU23 (lip tightener, the same lips)
# stands in for it, as the `claim` column says.

# %%
pairs = er.paper_pairs(study)
if len(pairs):
    display(report.table(pairs.round(3), "paper_pairs", index=False))
    display(Markdown(er.pairs_text(pairs)))

# %% [markdown]
# ## 4 · SHAP on the head: are there "AU-corresponding channels"?
#
# HAFEM says SHAP shows its classifier selecting channels that correspond to Action Units. Here SHAP
# explains each class logit on the pooled embedding the classifier reads (background: training faces'
# embeddings). For each class, the five channels with the largest mean |SHAP| on its own faces; for
# each, the AU whose intensity it tracks best over all scored faces (Spearman), and whether that AU is
# one of the class's defining AUs. `chance` is the share of AUs that are — what channels unrelated to
# AUs would score.

# %%
channels = er.shap_channels(study)
if len(channels):
    display(report.table(channels.round(3), "shap_channels", index=False))
    display(report.table(er.channel_summary(channels).round(3), "shap_channels_summary"))

# %% [markdown]
# ## 5 · The causal check: does the map follow what the model uses?
#
# For every scored face and every AU active in it, the renderer draws the same face with that AU
# switched off (same person, light and noise); the drop of the true class's logit says how much the
# model used that AU. Over a face's active AUs, the Spearman correlation between that drop and the
# map's mass inside each AU's region says whether the explanation ranks the AUs as the model does.
# Faces with fewer than three active AUs are left out (a rank correlation of two points is ±1).

# %%
effects, causal = er.causal_check(study)
if len(causal):
    report.table(effects, "au_off_effects", index=False)
    report.table(causal, "causal_long", index=False)
    display(report.table(er.causal_summary(causal, ["model", "method", "class"]).round(3), "causal_by_class"))
    display(report.table(er.causal_summary(causal).round(3), "causal_overall"))
    display(Markdown("What each model uses: the mean drop of the true class's logit when one AU is switched off:"))
    display(report.table(er.au_use(effects).round(3), "au_off_mean_drop"))

# %% [markdown]
# ## 6 · Sanity checks: randomised and untrained networks
#
# **Cascading randomisation** re-initialises the network from the classifier down, one part more per
# step (PyTorch's default initialisation), and compares each step's maps with the trained model's
# (Spearman correlation of the absolute maps, mean ± SD over faces). An explanation of the *model*
# must change as its weights are destroyed; maps that stay similar (mean ≥
# `faithfulness.SURVIVES_RANDOMISATION` after every part is random) are flagged: they explain the input. The
# **untrained network** (the same configuration, fresh weights) is scored against the AU regions like
# the trained one (on the first `explain.curve_faces` scored faces): if it scores as well, the anatomy
# comes from the image, not from learning.

# %%
cascade, similar, untrained = er.sanity_checks(study)
if len(cascade):
    report.table(cascade, "cascading_randomisation", index=False)
    report.figure(plots.randomisation_curves(cascade, "Cascading randomisation: similarity of the maps to the trained model's"),
                  "cascading_randomisation")
    plt.show()
    display(report.table(er.sanity_flags_by_model(cascade).round(3), "sanity_flags", index=False))

# %%
if len(similar):
    display(Markdown("Maps of the trained model against those of an untrained network of the same configuration "
                     "(mean Spearman of the absolute maps):"))
    display(report.table(similar.round(3), "untrained_similarity", index=False))
versus = er.trained_vs_untrained(study, scores, untrained)
if len(versus):
    display(Markdown(er.untrained_text(study)))
    display(report.table(versus.round(3), "trained_vs_untrained"))

# %% [markdown]
# ## 7 · Deletion and insertion
#
# Pixels are removed in each map's order of relevance (replaced by the face blurred with σ = side/8),
# or inserted into the blurred face, and the true class's probability is tracked; a random order is
# the reference. A faithful map makes the deletion curve fall faster (smaller area) and the insertion
# curve rise faster (larger area) than the random order.

# %%
curves = er.deletion_insertion_table(study)
if len(curves):
    report.plot_data(curves, "deletion_insertion")
    report.figure(plots.deletion_insertion_curves(curves, "Deletion and insertion: p(true class) as pixels go or come"),
                  "deletion_insertion")
    plt.show()
    display(report.table(er.curve_areas_by_model(curves).round(4), "deletion_insertion_areas", index=False))

# %% [markdown]
# ## 8 · Pose: do the maps move with the face as it turns?
#
# LANMSFF is built for multi-view FER and shows Grad-CAM maps across poses. The renderer turns the same
# face (same person, expression, light and noise) to each yaw of `explain.pose_yaws`; each map's mass
# inside the class's region, per yaw, says whether the explanation follows the face or stays where a
# frontal face's features would be.

# %%
by_pose, turned = er.turn_faces(study)
if len(by_pose):
    display(report.table(by_pose.round(3), "scores_by_pose"))
one_face = er.pose_figure(study, turned)      # LANMSFF's (built for multi-view), or the only model's
if one_face is not None:
    report.figure(one_face, "pose_maps")
    plt.show()

# %% [markdown]
# ## 9 · The papers' claims beside our measurements
#
# Each claim the papers make about their explanations, beside what this run measured. A claim the
# run cannot test (another dataset, a model not trained here) says so.

# %%
ledger = er.claims_ledger(list(study.models), explain["methods"], pairs=pairs, causal=causal, cascade=cascade,
                          channels=channels, pose=by_pose)
display(report.table(ledger, "claims_versus_ours", index=False))
if study.skipped:
    display(Markdown(er.skipped_text(study)))

# %% [markdown]
# ## 10 · Metrics
#
# Per model and method: rank and mass accuracy with their chance levels, the pointing-game rate, the
# causal correlation, the sanity similarities and the deletion/insertion areas, written to
# `reports/05_interpretability/metrics.json` for `dvc metrics show` and the index.

# %%
metrics = er.interpretability_metrics(study, scores=scores, causal=causal, cascade=cascade, curves=curves)
report.metrics(metrics, headline=er.interpretability_headline(metrics),
               title="05 · Interpretability measured against the Action Units")
display(Markdown(f"Notebook time: {metrics['seconds']['total']:.0f} s."))
