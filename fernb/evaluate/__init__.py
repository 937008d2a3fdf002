"""After training: reads finished runs (:mod:`fernb.runs`) and never trains.

- :mod:`.results` — what the training notebooks report over seeds: summaries, learning
  curves, pooled confusion, per-class means, chance baselines, a stage's ``metrics.json``;
- :mod:`.stats` — is a difference real: McNemar and paired bootstrap over test images, paired
  t / Wilcoxon / effect sizes over seeds, Holm, power (notebooks 03 and 06);
- :mod:`.ablation` — what notebook 03 reports for an ablation ladder: per-variant spread, each
  step beside the paper's with its tests and verdict, per-class F1 gains, per-pose variance.
"""
