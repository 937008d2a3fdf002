# %% [markdown]
# # 04 · Cross-dataset: how far a trained model travels, and why it falls
#
# A facial-expression model is trained on one collection of faces and used on others: a
# webcam, another lab's photographs, a different annotation. HAFEM claims (§4) that its model,
# trained on FER2013 alone, keeps most of its accuracy on RAF-DB and AffectNet with no adaptation
# at all ("zero-shot", "well beyond any other reported zero-shot results"), and gains more after
# 20 epochs of fine-tuning on RAF-DB — while its conclusion (§5) gives the fine-tuned number as a
# result *without* fine-tuning. Published cross-dataset work reports far less, even when the
# target's unlabelled images are available to adapt to. Section 7 sets every one of these numbers
# (`fernb.papers.hafem.CLAIMS`, `fernb.papers.published.CROSS_DATASET`) beside ours. "It always
# predicts *neutral* on my webcam" is the most common complaint in FER repositories.
#
# This notebook scores **every model the pipeline trained** (rows: model and the dataset it was
# trained on) on **every prepared test split** (columns). The diagonal is in-domain. Three
# choices that a cross-dataset number usually hides are made in the open
# (`fernb/evaluate/transfer.py`; the tables and sentences below come from `fernb/evaluate/transfer_report.py`):
#
# 1. **labels are matched by name**, never by index; a class the model does not have (contempt)
#    is handled by a stated rule, and no model is credited for a class it lacks;
# 2. **every target is converted to the model's input convention** (channels, size, scaling,
#    recorded in each checkpoint), and the conversion is shown;
# 3. **predictions are saved** per (run, target), so re-rendering this notebook re-runs no model.
#
# On the default data there are no real datasets, so the columns are **controlled shifts** of
# SynthFER (stage `00_shifts`, `fernb/data/shifts.py`): the *same* test faces rendered again with
# exactly one factor changed — new identities, head pose, lighting, occlusion, resolution, class
# prior. Every drop therefore has a known cause, which no real-data cross-dataset table can
# offer. With `FERNB_DATA` pointing at FER2013 and FERPlus (and `datasets` naming them), the same
# notebook fills their columns and, with `transfer.train_on`, both directions.

# %% tags=["parameters"]
# Parameters: injected by papermill from params.yaml (the entries dvc.yaml declares for this stage).
dataset = 'synthfer'
datasets = ['synthfer']
test_fold = 0
shifts = {
    'n_train': 1000,
    'n_val': 300,
    'datasets': {'identity': {'identity_range': [0.8, 1.0]}, 'pose': {'pose_probs': [0.25, 0.25, 0.0, 0.25, 0.25]}, 'lighting': {'lighting': 'harsh'}, 'occlusion': {'occlusion_prob': 1.0}, 'resolution': {'resolution': 12}, 'prior': {'imbalance': 'balanced'}},
}
transfer = {
    'models': ['01_hafem', '02_lanmsff'],
    'ablation_variants': [],
    'train_on': [],
    'label_rule': 'drop',
    'n_boot': 2000,
    'finetune': {'models': ['01_hafem'], 'target': 'synthfer-identity', 'epochs': [1, 5, 20], 'overrides': {'lr': 0.0001, 'warmup_epochs': 0}},
}
train = {
    'device': 'auto',
    'amp': 'auto',
    'deterministic': False,
    'grad_clip': None,
    'channels_last': 'auto',
    'compile': False,
    'device_cache_gb': 4.0,
    'progress': True,
}

# %%
import time

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from fernb.data import shifts as shf
from fernb.evaluate import transfer as tr
from fernb.evaluate import transfer_report as trr
from fernb.paths import project_root
from fernb.train import finetune as ft
from fernb.workbook import plots
from fernb.workbook.report import Report

# %%
STAGE = "04_cross_dataset"
report = Report(STAGE)
root = project_root()
started = time.perf_counter()
shift_names = shf.shift_names(shifts)
target_names = list(dict.fromkeys([*datasets, *shift_names]))
tr.check_transfer(transfer, target_names)   # refused before anything is scored or trained

# %% [markdown]
# ## 1 · The targets: every prepared test split
#
# Each column of the matrix is a prepared store: the datasets stage 00 prepared (`datasets`) and
# the SynthFER shifts (`shifts.datasets`). A store that is not prepared here is listed with the
# reason, and its column is marked rather than dropped.
#
# A fold dataset (KDEF, CK+ or its CK+48 folder variant: subject-disjoint folds, one held out as
# test) is scored **whole** as a zero-shot target, since a model trained on another dataset saw none
# of its folds and the held-out fold alone would waste the rest and widen the interval; on the
# diagonal, where the model trained on its other folds, only the held-out fold is scored
# (`tr.scored_split`; the matrix's `scored` column says which). The table below counts the
# held-out fold, what the diagonal and fine-tuning are tested on.
#
# `majority class` and `majority %` give each column's floor: the accuracy of always answering the
# test split's most frequent class. A transfer is only worth something above it; a cell near it means
# the model carried nothing across, however far its number sits above chance (1 / classes).

# %%
targets = tr.load_targets(target_names, test_fold)
target_info = report.table(trr.target_table(targets), "targets")
display(target_info)

# %% [markdown]
# ### What each shift changes — and what it leaves alone
#
# A shift is only informative if it changes *one* thing. Every shift's test split holds the same
# samples as the default test split (same index, same expression and Action-Unit intensities,
# same label) except for its factor; the prior shift changes the labels themselves. The table
# measures every factor on the default test split and on each shift's (`*`: it moved beyond the
# measure's tolerance, `fernb.data.shifts.factor_table`). Image measures also move with what a face
# looks like — the identity shift's darker skin tones lower the mean intensity — so read the stars
# with the factor they belong to. Below it, the same eight test faces under every shift.

# %%
checks = trr.shift_checks(targets, shift_names)   # None without SynthFER or any shift of it
if checks is None:
    display(Markdown("*No SynthFER source or shift is prepared here: run `dvc repro 00_shifts`.*"))
else:
    factors, faces = checks
    display(report.table(factors, "shift_factor_checks"))
    display(report.table(shf.describe(shifts), "shifts", index=False))
    report.figure(plots.paired_grid(faces, "The same test samples under each shift (the prior shift draws other labels)"),
                  "shift_faces")
    plt.show()

# %% [markdown]
# ## 2 · The models: the matrix's rows
#
# Every training stage listed in `transfer.models` contributes one row: its runs (one per seed,
# scored together), trained on `data.dataset`. `transfer.train_on` trains the *same network with
# the same configuration* on another prepared dataset (`fernb/train/finetune.py`, `retrain_on`),
# which gives a real-data matrix both directions. `transfer.ablation_variants` adds rows from
# notebook 03. Each checkpoint carries its input convention; the table after it says how each
# target reaches each model.

# %%
models, missing_models = tr.stage_models(transfer["models"], transfer["ablation_variants"], root=root)
retrained, not_retrained = ft.retrain_all(tr.sources_of(models, transfer["models"]), targets, transfer["train_on"],
                                          train=train)
models += tr.retrained_models(retrained)        # transfer.train_on: the same networks trained on other datasets
missing = trr.missing_rows_text(missing_models, not_retrained)
if missing:
    display(Markdown(missing))
display(report.table(trr.model_rows(models), "models", index=False))
conventions = {m.label: tr.input_convention(m.runs[0].checkpoint) for m in models}
display(report.table(trr.conversion_table(conventions, targets), "conversions", index=False))

# %% [markdown]
# ## 3 · Labels, by name
#
# Every store holds canonical labels (`fernb/labels.py`), so a class means the same thing in every
# column. Class *sets* still differ: FERPlus, AffectNet and CK+ may have contempt, FER2013, RAF-DB
# and KDEF do not. The rule in force (`transfer.label_rule`): **drop** — target images of a class
# the model lacks are left out of that cell; **error** — they are kept and are always wrong.
# Either way a model's answer that is not a target class counts as wrong, and macro-F1 averages
# over the target's scored classes only.

# %%
display(report.table(trr.label_table(models, targets, transfer["label_rule"]), "label_mapping", index=False))

# %% [markdown]
# ## 4 · The transfer matrix
#
# Accuracy, balanced accuracy and macro-F1 of every (model, target) cell, each with a percentile
# bootstrap 95 % interval over the target's test images (the seeds of a row averaged inside every
# resample), and the **drop** from the row's in-domain score. For a SynthFER shift the test images
# are the in-domain ones with one factor changed, so the drop's interval is **paired** (one resample
# index for both, marked `p`); for other pairs the two test sets are resampled independently.
#
# Beside every accuracy cell stands its **floor** (`tr.cell_floor`): the accuracy of always giving
# the one answer that does best on that cell's images, the target's most frequent class among the
# classes the model can give. It is section 1's `majority %` restricted to the images the cell
# scores (under `drop`, a class the model lacks leaves the cell and the floor). A cell is worth
# what it clears its floor by, not what it clears chance by: a model that answers *neutral* to
# everything on a neutral-heavy target scores well above 1 / classes and has carried nothing across.

# %%
t0 = time.perf_counter()
table = tr.transfer_table(models, targets, rule=transfer["label_rule"], n_boot=transfer["n_boot"], seed=0,
                          root=root, device=tr.scoring_device(train["device"]))
score_seconds = time.perf_counter() - t0
report.table(table, "transfer_long", index=False)
title = f"Test accuracy (value; below: change from in-domain, p = paired) — rule: {transfer['label_rule']}"
report.figure(plots.value_heatmap(trr.matrix(table, "accuracy"), trr.annotations(table, "accuracy"), title=title,
                                  colorbar="accuracy"), "transfer_matrix")
plt.show()

# %%
for metric, name in (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced accuracy"), ("macro_f1", "Macro-F1")):
    display(Markdown(f"**{name}, % [95 % bootstrap interval]**"))
    display(report.table(trr.interval_table(table, metric), f"matrix_{metric}"))
    if metric == "accuracy":
        display(Markdown("**Each accuracy cell's floor, % (the one answer that does best on its images)**"))
        display(report.table(trr.floor_table(table), "matrix_floor"))

# %%
drops = report.table(trr.drop_table(table, target_info.get("cause")), "drops", index=False)
display(drops.drop(columns=["in_domain", "value", "drop", "drop_low", "drop_high", "floor"]).round(1))
unscored = trr.unscored_cells(table)
if len(unscored):
    display(Markdown("**Cells not scored**, and why:"))
    display(report.table(unscored, "cells_not_scored", index=False))

# %%
ranked = trr.drops_text(drops)   # "" when no off-diagonal cell was scored
pose = trr.pose_text(drops)      # "" unless two or more models were scored under the pose shift
display(*[Markdown(text) for text in (ranked, pose) if text])

# %% [markdown]
# Reading the shifts: a drop under **pose**, **lighting**, **occlusion** or **resolution** is a
# covariate shift the model was trained on too little of (or none); a drop under **identity**
# says the model learned who rather than what. The **prior** shift changes no face at all: only
# the class frequencies move, so a model that leans on FER2013's proportions (happy is the
# largest class) loses accuracy while its *balanced* accuracy barely moves — which is why every
# cell reports both.

# %% [markdown]
# ## 5 · The largest drop, class by class
#
# Which classes collapse, and into which? For the cell with the largest accuracy drop, each target
# class's recall in-domain and on the target, the class the model answers instead most often, and
# the target's confusion matrix (rows: true class; columns: the model's answer; pooled over seeds).

# %%
worst = trr.largest_drop(table)
if worst is None:
    display(Markdown("*No off-diagonal cell was scored, so there is no drop to break down.*"))
else:
    collapse, confusion = tr.collapse_cell(models, worst["model"], worst["target"], targets, transfer["label_rule"],
                                           root=root)
    display(Markdown(trr.largest_drop_text(worst)))
    display(report.table(collapse.round(3), "largest_drop_per_class"))
    report.figure(plots.value_heatmap(confusion, trr.percent_labels(confusion),
                                      title=f"{worst['model']} on {worst['target']}: share of each true class",
                                      cmap="Blues", colorbar="share of the row"), "largest_drop_confusion")
    plt.show()
    display(Markdown(trr.collapse_text(collapse)))

# %% [markdown]
# ## 6 · Fine-tuning: N epochs on the target's training split
#
# HAFEM fine-tunes for 20 epochs on RAF-DB's training data. Here "N epochs on the target's
# training split" is one configuration: the source run's own training settings with `epochs = N`
# and `init_from` = the source run (its weights; the classifier re-initialised when the class sets
# differ), plus `transfer.finetune.overrides`. One run per N, each from the source weights,
# selected on the target's validation split, reported on its test split. N = 0 is the zero-shot cell
# of the matrix (for a fold dataset, scored whole there, the same model on the held-out fold alone:
# the images the fine-tuned runs are tested on, `tr.held_out_zero_shot`); the right panel is the
# longest run's validation curve, whose epoch 0 is the source weights before any step.

# %%
tune = transfer["finetune"] or {}
ft_target = targets.get(tune.get("target"))
skipped = trr.finetune_skip_text(tune, ft_target)   # why fine-tuning does not run here; None when it does
if skipped:
    display(Markdown(skipped))

# %%
# N = 0: each row's zero-shot cell; for a fold dataset, on its held-out fold (what the fine-tuned runs are tested on)
zero_shot = {} if skipped else {**trr.zero_shot_cells(table, tune["target"]),
                                **tr.held_out_zero_shot(models, tune["target"], targets, transfer["label_rule"], root=root)}
tuned = {} if skipped else ft.finetune_all(tr.sources_of(models, tune["models"]), ft_target, tune["epochs"], zero_shot,
                                           overrides=tune.get("overrides"), train=train)
tables = trr.finetune_outputs(tuned, tune.get("target"), report)   # saves each row's curves and table
plt.show()
display(*tables)
if tuned:
    display(Markdown(trr.finetune_text(tuned, tune["target"])))

# %% [markdown]
# ## 7 · The papers' cross-dataset claims beside ours
#
# HAFEM's claims need a HAFEM trained on FER2013 and RAF-DB or AffectNet prepared; where this run
# has neither, the table says so instead of a number. Two things can be read from the paper
# alone, and the table does: its conclusion states the fine-tuned RAF-DB number as a result
# *without* fine-tuning, and the last column finds each claimed number where the paper prints it
# for something else (`fernb.papers.hafem.TABLE1`, `TABLE3`). The published record below is
# domain *adaptation* (unlabelled target images seen in training), an easier setting than zero-shot.
#
# FER2013 and FERPlus share their images (FERPlus re-labels FER2013 by ten annotators), so
# between them only the labels change: a FER2013 ↔ FERPlus cell is a **label-noise transfer**,
# not a domain transfer.

# %%
finetuned = trr.finetuned_cells(tuned, tune.get("target"))   # the HAFEM rows after the most fine-tuning epochs
claims = report.table(trr.claims_versus_ours(table, finetuned), "claims_versus_ours")
display(claims)
display(report.table(trr.published_beside(table), "published_cross_dataset"))

# %% [markdown]
# ## 8 · Metrics
#
# The matrix (every metric with its interval and drop), the fine-tuning curves and the largest
# drop, written to `reports/04_cross_dataset/metrics.json` for `dvc metrics show` and the index.

# %%
metrics = trr.transfer_metrics(table, models, tuned, worst, transfer=transfer, targets=target_names,
                               seconds={"scoring": score_seconds, "total": time.perf_counter() - started})
report.metrics(metrics, headline=["label_rule", "largest_drop.model", "largest_drop.target", "largest_drop_pt"],
               title="04 · Cross-dataset transfer")
print(f"wrote {report.dir / 'metrics.json'}")
