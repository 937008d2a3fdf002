"""Published numbers the papers' claims are read against, as data with their sources.

Not claims of either paper: what other work reports, so that notebook 04 can set HAFEM's
zero-shot claims (:data:`fernb.papers.hafem.CLAIMS`, ``zero_shot_from_fer2013``) beside the
published cross-dataset record. Each entry names its source, the setting (true zero-shot, or
domain adaptation with unlabelled target images, which is an easier setting than zero-shot)
and whether the figure is one number or a range over the methods a benchmark re-implements.
"""
from __future__ import annotations

__all__ = ["CROSS_DATASET"]

# Cross-dataset FER accuracy (%), one dict per source -> target setting.
CROSS_DATASET: list[dict] = [
    {"source": "rafdb", "target": "fer2013", "backbone": "ResNet-50", "low": 46.0, "high": 59.0,
     "setting": "unsupervised domain adaptation (unlabelled target images seen in training)",
     "figure": "approximate range over the re-implemented methods",
     "reference": "Chen et al., Cross-Domain Facial Expression Recognition: A Unified Evaluation Benchmark and "
                  "Adversarial Graph Learning, IEEE TPAMI 44(12), 2022 (doi 10.1109/TPAMI.2021.3131222), "
                  "the CD-FER benchmark"},
]
