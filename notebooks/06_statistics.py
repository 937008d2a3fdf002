# %% [markdown]
# # 06 · Statistics for every comparison, and the claims ledger
#
# Two questions, answered with the numbers the pipeline produced and the numbers the papers print:
#
# 1. **Is a difference between two of our models real?** Every model the pipeline trained — HAFEM
#    (notebook 01), LANMSFF (02), every configuration of notebook 03's ablation ladders — is scored on
#    the same test images, so each pair can be compared image by image (McNemar, exact and mid-p;
#    paired bootstrap intervals of the accuracy and macro-F1 differences) and, where both have several
#    seeds, seed by seed (paired t, Wilcoxon signed-rank, Cohen's d_z and d_av). Holm's correction runs
#    within each family of comparisons. Nothing is trained here: this notebook reads predictions.
# 2. **Does each number the papers state hold up?** The claims ledger checks every numeric claim of both
#    papers — abstracts, results tables and text, conclusions, and the methods' checkable numbers — by
#    recomputation from the paper's own numbers, against the published state of the art and human
#    agreement, and against what this pipeline measured, each with a verdict from a fixed vocabulary.
#
# HAFEM (§4) reports "paired t-tests (p < 0.001)" against all ten baselines with Cohen's d of 0.95–2.84
# and never says what was paired; section 4 re-enacts that claim.

# %% tags=["parameters"]
# Parameters: injected by papermill from params.yaml (the entries dvc.yaml declares for this stage).
statistics = {
    'n_boot': 2000,
    'seed': 0,
    'alpha': 0.05,
    'families': ['hafem', 'lanmsff'],
}

# %%
import time

import pandas as pd
from IPython.display import Markdown, display

from fernb.evaluate import comparisons as co
from fernb.evaluate import ledger_report as lr
from fernb.evaluate import measured as me
from fernb.papers import hafem as hafem_paper
from fernb.papers import ledger as ld
from fernb.paths import project_root
from fernb.workbook import plots
from fernb.workbook.report import Report

STAGE = "06_statistics"
report = Report(STAGE)
root = project_root()
started = time.perf_counter()
pd.set_option("display.max_colwidth", 160)

# %% [markdown]
# ## 1 · The models the pipeline trained
#
# One entry per distinct configuration: stage 01's HAFEM and stage 02's LANMSFF with all their seeds,
# then every configuration notebook 03 trained (variants that are the same configuration share one
# entry; its other names are listed). The **scale** column matters: stages 01/02 train at the CPU
# default, notebook 03 at its own (smaller) ablation scale, so a difference between an 01/02 model and
# an 03 variant mixes the architecture with the training budget.

# %%
models = co.pipeline_models(root)
catalogue = co.model_catalogue(models)
display(report.table(catalogue, "models"))
display(Markdown(co.catalogue_text(catalogue)))

# %% [markdown]
# ## 2 · Every comparison, with intervals and corrected p-values
#
# Families: **HAFEM against every other model** (the shape of HAFEM's own claim) and **LANMSFF against
# every other model**. Differences are b − a in points. The accuracy and macro-F1 intervals come from
# one paired bootstrap over the test images (each model's seeds averaged on every resample); McNemar
# pairs the correct/wrong vectors image by image (pooled over the shared seeds). The verdict needs both:
# a Holm-adjusted McNemar p below α and an interval that excludes 0. A comparison of runs scored on
# different test images is refused (`co.check_same_images`).

# %%
families = co.families_of(models, statistics["families"])
table = co.comparison_table(models, families, n_boot=statistics["n_boot"], seed=statistics["seed"])
report.table(table, "comparisons", index=False)
shown = ["a", "b", "images", "shared seeds", "Δ accuracy (pt)", "Δ low", "Δ high", "Δ macro-F1 (pt)",
         "p McNemar (exact)", "p McNemar (mid-p)", "p_holm (McNemar)", "d_z (images)", "p t (seeds)", "verdict"]
for family, rows in table.groupby("family", sort=False):
    display(Markdown(f"**{family}** ({len(rows)} comparisons, Holm over the family)"))
    display(rows[shown].round(4).set_index(["a", "b"]))

# %%
if len(table):
    display(report.figure(plots.forest(table), "forest"))

# %%
display(Markdown(co.verdict_summary_text(table)))

# %% [markdown]
# ## 3 · What the tests can say with this many seeds
#
# The exact Wilcoxon signed-rank test can never give p below 2/2ⁿ with n pairs: with 5 seeds or fewer it
# can never reach 0.05. The paired t-test's power depends on d_z = mean / sd of the per-seed differences;
# the table gives, for a few effects, the seeds a two-sided test at α = 0.05 needs for 80 % power
# (`stats.seeds_needed`, statsmodels' `TTestPower`) and the seeds before p < 0.001 (`stats.runs_for_p`).

# %%
stated_claim = hafem_paper.CLAIMS["statistics"]      # §4: p bound, Cohen's d range, number of baselines
display(report.table(co.wilcoxon_floor_table(range(2, 9)), "wilcoxon_floor"))
effects = co.seeds_for_effects((0.2, 0.5, 0.8, *stated_claim["cohen_d"]), alpha=statistics["alpha"],
                               p_below=stated_claim["p_below"])
display(report.table(effects, "seeds_needed"))

# %% [markdown]
# ## 4 · HAFEM's statistical claim, re-enacted
#
# HAFEM states p < 0.001 against each of Table 3's baselines with Cohen's d between 0.95 and 2.84. Two
# readings, both computed from the paper's own numbers:
#
# - **pairs = test images** (correct/wrong per image): d_z can be no larger than √(Δ/(1−Δ)) for an
#   accuracy gap Δ (`stats.max_dz_per_image`), and a given d needs a gap of d²/(1+d²) (`stats.gap_for_dz`);
# - **pairs = training runs**: p < 0.001 at d needs `stats.runs_for_p(d)` runs of each model
#   (`stats.paired_t_p` gives the p of any d and n, exactly what `scipy.stats.ttest_rel` returns).

# %%
stated = co.stated_effect_table(hafem_paper.TABLE3, stated_claim["cohen_d"], stated_claim["p_below"])
display(report.table(stated.round(3), "hafem_stated_effect"))
display(Markdown(co.stated_effect_text(stated, stated_claim["cohen_d"], stated_claim["p_below"])))
ours = table[table["family"].str.startswith("HAFEM")] if len(table) else table
if len(ours):
    ours_view = report.table(co.effect_ceiling(ours).round(3), "hafem_ours_effect")
    display(Markdown(co.ours_effect_text(ours_view)))
    display(ours_view)

# %% [markdown]
# ## 5 · The claims ledger
#
# Every numeric claim of both papers, one row per **check**. Three kinds of check, each with its own
# verdicts (defined just below): **consistency** recomputes a number from the paper's own numbers
# (overall from per-class and per-pose values, confusion rows against whole counts of the test set's
# class sizes, "Var" against the variance of the numbers it describes, information density, F1 from
# precision and recall, parameter arithmetic, the same number printed twice, classes a dataset does not
# have, split sizes); **plausibility** sets a claimed accuracy beside the best published single model and
# human agreement (`fernb.papers.published`); **measurement** is what this pipeline measured, labelled
# with its dataset and scale.
#
# A verdict must survive a careful reader, so the checks model the conventions a paper may use: printed
# numbers stand for intervals, a row of percentages may be *forced to total 100* by moving a cell one
# unit, KDEF's numbers are averages over 5 folds whose sizes LANMSFF does not give, and HAFEM never
# states its FER2013 split. Where such a convention could explain the numbers, the check says *cannot
# check* and shows the arithmetic, rather than guess. When numbers fit another protocol than the stated
# one, the evidence names the one that fits (LANMSFF's FERPlus tables, below).
#
# A check that finds something wrong belongs to a **finding**: one root cause, with a title and a
# severity (`fernb.papers.findings`). The same copied table or mislabelled matrix shows in many rows;
# the findings are what to count. Real-data results committed under `results/<dataset>/` fill the
# FER2013 and FERPlus measurement rows of every run, this one included, and each accuracy claim on them
# has a *leak-free* twin (notebooks 01/02).

# %%
display(Markdown(lr.vocabulary_text()))

# %%
measurements = me.measurements(root, comparisons=table, n_boot=statistics["n_boot"], seed=statistics["seed"])
ledger = ld.ledger(measurements, ld.claims())
paths = lr.write_ledger(ledger, report.dir, title="fernb · claims ledger (HAFEM, LANMSFF)")
display(Markdown(lr.ledger_text(ledger, ld.printed_numbers(), measurements)))
display(report.table(lr.finding_counts(ledger), "finding_counts"))

# %% [markdown]
# ### The findings, most severe first
#
# Each finding's checks are listed by their stable ids (`claims.csv`'s `check_id`; anchors in
# `claims.html`), so a reader can go from the finding to the arithmetic of every row that shows it.

# %%
findings = ld.findings_table(ledger)
display(report.table(findings[["paper", "severity", "title", "summary", "verdicts", "checks", "check_ids"]],
                     "findings", index=False))

# %% [markdown]
# ### FERPlus: which label rule and test set LANMSFF's tables fit
#
# §IV-A states the majority label and 3,160 test images. Each candidate test set is FERPlus' published
# files under one label rule (`fernb.papers.datasets.ferplus_test_sets`); the check counts the Table VIII
# rows whose cells are whole counts of its class sizes, and whether Table VII's overall accuracy is its
# class accuracies weighted by them.

# %%
display(Markdown(lr.check_evidence(ledger, lr.FERPLUS_PROTOCOL_CHECK)))

# %%
counts = lr.verdict_counts(ledger)
display(report.table(counts, "verdict_counts"))
by_kind = ledger.pivot_table(index="kind", columns="verdict", values="check_id", aggfunc="count", fill_value=0)
display(report.table(by_kind, "verdicts_by_kind"))
heading, undecided = lr.undecided(ledger)
display(Markdown(heading))
display(undecided)

# %%
measured_rows = ledger[(ledger["kind"] == "measurement") & ledger["ours"].notna()]
display(Markdown("### What our runs measured against the claims"))
display(report.table(measured_rows[["paper", "claim", "stated", "verdict", "ours", "ours_low", "ours_high", "seeds",
                                    "scale", "evidence"]].reset_index(drop=True), "measured"))

# %%
real = ledger[(ledger["kind"] == "measurement") & ledger["dataset"].isin(ld.LEAKY_DATASETS) & ledger["ours"].notna()]
display(Markdown("### FER2013 and FERPlus: each claim beside our number, on the standard and the leak-free test"))
if len(real):
    display(report.table(real[["paper", "claim", "stated", "verdict", "ours", "ours_low", "ours_high", "seeds", "scale",
                               "evidence"]].reset_index(drop=True), "real_data_claims"))
else:
    display(Markdown("*Nothing measured on FER2013 or FERPlus yet: `make real DATASET=fer2013` trains and measures it, "
                     "and `results/fer2013/` then carries the numbers into every run's ledger.*"))

# %% [markdown]
# ## 6 · Metrics
#
# The comparison verdicts, the ledger's counts per verdict and its key findings go to
# `reports/06_statistics/metrics.json` and `summary.json`; the index shows the ledger's summary as the
# workbook's front page.

# %%
metrics = lr.statistics_metrics(models=len(models), comparisons=table, ledger=ledger, measured=measurements,
                                printed_numbers=ld.printed_numbers(), seconds=time.perf_counter() - started)
report.metrics(metrics, headline=["findings", "claims", "checks", "verdicts.inconsistent", "verdicts.implausible",
                                  "verdicts.reproduced", "comparisons", "resolved"],
               title="06 · Statistics and the claims ledger",
               labels={"findings": "findings (root causes)", "claims": "claims in the ledger", "checks": "checks",
                       "verdicts.inconsistent": "inconsistent",
                       "verdicts.implausible": "implausible", "verdicts.reproduced": "reproduced",
                       "comparisons": "model comparisons", "resolved": "resolved differences"})
display(Markdown(f"Notebook time: {metrics['seconds']:.0f} s."))
