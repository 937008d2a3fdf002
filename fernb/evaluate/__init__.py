"""After training: reads finished runs (:mod:`fernb.runs`) and never trains.

- :mod:`.results` — what the training notebooks report over seeds: summaries, learning
  curves, pooled confusion, per-class means, chance baselines, a stage's ``metrics.json``.
"""
