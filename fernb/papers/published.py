"""Published numbers the papers' claims are read against, as data with their sources.

Not claims of either paper: what other work reports, so that notebook 04 can set HAFEM's
zero-shot claims (:data:`fernb.papers.hafem.CLAIMS`, ``zero_shot_from_fer2013``) beside the
published cross-dataset record (:data:`CROSS_DATASET`), and notebook 06's claims ledger can
read every claimed accuracy against the best published single model and human agreement
(:data:`STATE_OF_THE_ART`) and every dataset table against what the publishers describe
(:data:`DATASET_FACTS`). Each entry names its source, the setting (true zero-shot, or
domain adaptation with unlabelled target images, which is an easier setting than zero-shot)
and whether the figure is one number or a range over the methods a benchmark re-implements.
"""
from __future__ import annotations

__all__ = ["CROSS_DATASET", "STATE_OF_THE_ART", "DATASET_FACTS"]

# The best published single-model accuracy (%) per dataset and, where measured, human agreement:
# what a claimed accuracy is read against (fernb.papers.checks.check_plausible). Single models on
# the standard test split, no extra training data; an ensemble or a different protocol can exceed them.
STATE_OF_THE_ART: dict[str, dict] = {
    "fer2013": {"best": 73.28, "source": "Khaireddin & Chen, Facial Emotion Recognition: State of the Art Performance "
                                         "on FER2013, arXiv 2105.03588, 2021 (VGG variant, PrivateTest)",
                "human": 65.0, "human_source": "Goodfellow et al., Challenges in representation learning, Neural "
                                               "Networks 64, 2015 (≈65 ± 5 %; HAFEM's own reference [13])"},
    "rafdb": {"best": 92.05, "source": "Zheng, Mendieta & Chen, POSTER: A Pyramid Cross-Fusion Transformer Network for Facial "
                                       "Expression Recognition, ICCV Workshops 2023, arXiv 2204.04083 (RAF-DB basic, 7 classes)"},
    "ferplus": {"best": 91.62, "source": "Zheng et al., POSTER, arXiv 2204.04083 (FERPlus, 8 classes, majority labels)"},
    "affectnet": {"best": 63.34, "source": "Zheng et al., POSTER, arXiv 2204.04083 (AffectNet, 8 classes; 67.31 with "
                                           "7 classes)"},
}

# What each dataset is, as its publisher describes it: counts a paper's dataset table is read against.
DATASET_FACTS: dict[str, dict] = {
    "rafdb": {"images": 29672, "classes": 7, "subset": "basic: 15,339 images in 7 classes (12,271 train, 3,068 test); "
              "the other 14,333 carry compound labels (11 classes)",
              "source": "Li, Deng & Du, Reliable crowdsourcing and deep locality-preserving learning for expression "
                        "recognition in the wild, CVPR 2017 (about 40 annotators per image)"},
    "affectnet": {"images": 450000, "classes": 8, "subset": "about 1M images collected, about 450,000 annotated by hand "
                  "in 11 categories: 8 expressions + none, uncertain, non-face",
                  "source": "Mollahosseini, Hasani & Mahoor, AffectNet, IEEE TAC 10(1), 2019"},
    "ckplus": {"sequences": 593, "subjects": 123, "classes": 8, "subset": "327 sequences carry one of 7 emotion labels "
               "(anger, contempt, disgust, fear, happy, sadness, surprise); neutral (the first frame) makes 8",
               "source": "Lucey et al., The Extended Cohn-Kanade Dataset (CK+), CVPR Workshops 2010"},
    "kdef": {"images": 4900, "actors": 70, "sessions": 2, "poses": 5, "classes": 7,
             "source": "Lundqvist, Flykt & Öhman, The Karolinska Directed Emotional Faces (KDEF), 1998: 70 actors × 7 "
                       "expressions × 5 angles × 2 sessions (fernb/data/kdef.py reads this layout)"},
}

# Cross-dataset FER accuracy (%), one dict per source -> target setting.
CROSS_DATASET: list[dict] = [
    {"source": "rafdb", "target": "fer2013", "backbone": "ResNet-50", "low": 46.0, "high": 59.0,
     "setting": "unsupervised domain adaptation (unlabelled target images seen in training)",
     "figure": "approximate range over the re-implemented methods",
     "reference": "Chen et al., Cross-Domain Facial Expression Recognition: A Unified Evaluation Benchmark and "
                  "Adversarial Graph Learning, IEEE TPAMI 44(12), 2022 (doi 10.1109/TPAMI.2021.3131222), "
                  "the CD-FER benchmark"},
]
