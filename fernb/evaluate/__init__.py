"""After training: reads finished runs (:mod:`fernb.runs`) and never trains.

- :mod:`.feature_probe` — notebook 01: linear probes on frozen backbone features, the shipped ImageNet
  weights against the same network at random init and against raw pixels;
- :mod:`.pretraining` — notebook 01: the pretrained HAFEM paired with its from-scratch twin;
- :mod:`.training_report` — what the training notebooks (01, 02) report over seeds: summaries, learning
  curves, pooled confusion, per-class means, chance baselines, a stage's ``metrics.json``;
- :mod:`.leakage` — test images with an exact or near (perceptual-hash) copy in the training split,
  and the accuracy on the leak-free rest (notebooks 01, 02 and 06);
- :mod:`.stats` — is a difference real: McNemar and paired bootstrap over test images, paired
  t / Wilcoxon / effect sizes over seeds, Holm, power (notebooks 03 and 06);
- :mod:`.ablation_report` — what notebook 03 reports for an ablation ladder: per-variant spread, each
  step beside the paper's with its tests and verdict, per-class F1 gains, per-pose variance;
- :mod:`.transfer` — notebook 04's transfer matrix: every trained model on every prepared test split;
- :mod:`.transfer_report` — what notebook 04 reports from it: tables, sentences, the fine-tuning outputs, its
  ``metrics.json``;
- :mod:`.explain` — notebook 05's attribution maps (Grad-CAM, SHAP) and their scores against
  SynthFER's Action-Unit regions, each beside its chance level;
- :mod:`.faithfulness` — notebook 05's checks that a map follows the model: the AU-off causal
  check, cascading randomisation, deletion and insertion curves;
- :mod:`.explain_report` — what notebook 05 reports: each model explained and checked in turn, its
  summaries, figures and sentences, the claims ledger and its ``metrics.json``;
- :mod:`.comparisons` — notebook 06: every trained model against every other on the same test
  images, Holm within each family, and HAFEM's stated d and p re-enacted;
- :mod:`.measured` — notebook 06: what the pipeline measured, keyed for the claims ledger
  (:mod:`fernb.papers.ledger`), and the ledger's files and front-page summary.
"""
