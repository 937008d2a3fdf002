"""What the HAFEM paper states, as data: its claims, its stated recipe, its Table 3, its hardware.

Chatterjee, "HAFEM: Hybrid attention-driven facial expression mapping for real-time
multi-class emotion recognition in unconstrained environments", JAIMLNN 6(1), 64–74, 2026
(doi 10.55529/jaimlnn.61.64.74). Numbers are as printed, to compare against, never to tune
toward. Where each block comes from:

- :data:`HARDWARE`: §3 (Methodology, implementation paragraph): "an NVIDIA RTX 3090 GPU";
  the FPS of Table 3 and of the abstract's "52 FPS" are read as measured there.
- :data:`CLAIMS`: FER2013 accuracy / precision / recall / F1 / AUC from Table 3's HAFEM row
  (§4); the RAF-DB, AffectNet and FERPlus accuracies from the abstract; the zero-shot
  transfer from FER2013 (RAF-DB 87.3, AffectNet 79.1) and the 20-epoch RAF-DB fine-tuning (95.1), the ablation ladder (Figure 3) and the
  confusions it names ("Fear classified as Surprise" 4.2 %, …) from §4's text; the FPS claim (52) from the
  abstract and Table 3; the parameter counts (31.2M Transformer overhead, 30.4M backbone)
  from §3; the conclusion's (§5) "95.1 % without fine-tuning on RAF-DB", which contradicts §4.
- :data:`TABLE1`: Table 1, the literature comparison (each method's dataset and accuracy, as printed).
- :data:`TABLE2`: Table 2, "Dataset Summary Statistics", every row as printed (fernb dataset keys).
- :data:`TABLE3`: Table 3, "Comparative Performance Evaluation on FER2013 Benchmark", every
  row as printed (which rows exist as architectures, and the fernb model that rebuilds each,
  is :data:`fernb.models.baselines.BASELINE_MODELS`).
- :data:`RECIPE`: the training recipe of §3 (implementation paragraph: AdamW, layer-wise
  decay, warm-up and cosine schedule, early stopping, compound loss weights, augmentation,
  mixed precision); ``None`` where the paper states nothing (it gives no batch size).
- :data:`DISPUTED`: the points where the text contradicts itself or is silent, each with
  the constructor argument of :class:`fernb.models.hafem.HAFEM` that turns our reading.
- :data:`SECTION2`: the other works' results §2 (Related Work) cites, as printed, and the
  span of years it gives Table 1.
- :data:`REFERENCES`: the reference list: each entry's year (and the earlier year its DOI
  carries, where it differs), DOI, and what its title says the work is (our gloss).
- :data:`AUGMENTATION`: §3's seven augmentation operations and their probabilities.
"""
from __future__ import annotations

from typing import Any

__all__ = ["HARDWARE", "CLAIMS", "TABLE1", "TABLE1_LIMITATION", "TABLE2", "TABLE3", "RECIPE", "DISPUTED", "SECTION2",
           "REFERENCES", "AUGMENTATION"]

# §3, implementation: where the paper's FPS (Table 3, abstract) were measured.
HARDWARE = "RTX 3090"

# The paper's reported numbers (FER2013 unless named), to compare against, never to tune toward.
CLAIMS: dict = {
    "fer2013": {"accuracy": 94.7, "precision": 94.1, "recall": 93.8, "f1": 93.9, "auc": 0.982},   # Table 3
    "rafdb": {"accuracy": 95.1}, "affectnet": {"accuracy": 88.9}, "ferplus": {"accuracy": 92.4},  # abstract
    "zero_shot_from_fer2013": {"rafdb": 87.3, "affectnet": 79.1},                                  # §4 text
    "finetune_from_fer2013": {"rafdb": {"epochs": 20, "accuracy": 95.1}},                          # §4 text
    # §5 (conclusion): "95.1% without fine-tuning on RAF-DB": the same number §4 reports *after* fine-tuning
    "conclusion_rafdb_without_finetuning": 95.1,
    "fps": {"value": 52, "hardware": HARDWARE},                                                    # abstract, Table 3
    # §4 text and abstract: paired t-tests against "all ten baselines", p below this bound, Cohen's d in this range
    "statistics": {"p_below": 0.001, "cohen_d": (0.95, 2.84), "baselines": 10},
    "ablation_fer2013": {"ResNet-50": 71.4, "EfficientNet-B5": 84.2, "+Transformer": 88.6, "+CBAM": 91.8,
                         "+compound loss": 94.7},                                                  # Figure 3, §4 text
    "params": {"transformer_overhead": 31.2e6, "backbone": 30.4e6},                                # §3
    # §4, confusion analysis: its largest confusions on FER2013, % of the true class: (true, predicted) -> %
    "confusions": {("fear", "surprise"): 4.2, ("disgust", "anger"): 3.8, ("sad", "neutral"): 3.1},
    # landmarks used to align faces: abstract ("68-point"), §1 contribution (iii) ("68 landmarks"), §3 (RetinaFace: 5)
    "landmarks": {"abstract": 68, "§1": 68, "§3": 5},
    "realtime_fps": 30,                                   # abstract, §1: the "typical 30 FPS threshold" for real time
    # §3: the Stage-7 map F'' (7×7×2048) of the 224×224 input becomes 49 tokens for the 8-head Transformer
    "tokens": {"grid": (7, 7), "channels": 2048, "count": 49, "heads": 8, "img_size": 224},
    "backbone_imagenet_top1": 83.6,                       # §3: EfficientNet-B5's ImageNet top-1 (%)
    # §4's first paragraph on Table 2: (images, classes) of FER2013 and AffectNet, and which dataset is the largest
    "section4_datasets": {"fer2013": (35887, 7), "affectnet": (450000, 8), "largest": "affectnet"},
}

# Table 1, "Literature Comparison Matrix of FER Methods (2021-2025)": reference, year, method, the dataset
# each row names and its accuracy (%), as printed (one row has no reference number); its "Limitation"
# column is TABLE1_LIMITATION.
TABLE1: list[dict] = [
    {"ref": "[5]", "year": 2021, "method": "ResNet-50+SVM", "dataset": "fer2013", "accuracy": 71.4},
    {"ref": "[6]", "year": 2021, "method": "CNN+LSTM", "dataset": "rafdb", "accuracy": 87.3},
    {"ref": "[7]", "year": 2022, "method": "VGGFace2 Transfer", "dataset": "affectnet", "accuracy": 83.1},
    {"ref": "[8]", "year": 2022, "method": "GAN Augmentation", "dataset": "ckplus", "accuracy": 92.1},
    {"ref": "[9]", "year": 2022, "method": "ViT Transformer", "dataset": "fer2013", "accuracy": 73.6},
    {"ref": "[10]", "year": 2023, "method": "EfficientNet-B4", "dataset": "rafdb", "accuracy": 89.5},
    {"ref": "[21]", "year": 2024, "method": "Swin Transformer", "dataset": "affectnet", "accuracy": 88.7},
    {"ref": None, "year": 2024, "method": "Cross-Attention", "dataset": "ferplus", "accuracy": 90.1},
    {"ref": "[14]", "year": 2025, "method": "DualPath CNN", "dataset": "rafdb", "accuracy": 91.2},
    {"ref": "Proposed", "year": 2025, "method": "HAFEM (ours)", "dataset": "multiple", "accuracy": 94.7},
]
# Table 1's "Limitation" column, by method, as printed.
TABLE1_LIMITATION: dict[str, str] = {
    "ResNet-50+SVM": "Static images only", "CNN+LSTM": "High latency", "VGGFace2 Transfer": "Domain-specific",
    "GAN Augmentation": "Synthetic artifacts", "ViT Transformer": "Needs large data",
    "EfficientNet-B4": "Occlusion issues", "Swin Transformer": "High compute", "Cross-Attention": "Black-box model",
    "DualPath CNN": "No real-time", "HAFEM (ours)": "GPU dependency"}

# Table 2, "Dataset Summary Statistics": each dataset (fernb's key), its year, the count of images or
# sequences ("Images/Clips"), classes, subjects (None: "N/A") and characteristics, as printed.
TABLE2: list[dict] = [
    {"dataset": "fer2013", "year": 2013, "count": 35887, "unit": "images", "classes": 7, "subjects": None,
     "characteristics": "Wild, low-res, grayscale, crowd-sourced"},
    {"dataset": "rafdb", "year": 2017, "count": 29672, "unit": "images", "classes": 7, "subjects": None,
     "characteristics": "Real-world, annotated by 40 coders"},
    {"dataset": "affectnet", "year": 2019, "count": 450000, "unit": "images", "classes": 8, "subjects": None,
     "characteristics": "Largest; web-collected, high diversity"},
    {"dataset": "ferplus", "year": 2016, "count": 35887, "unit": "images", "classes": 8, "subjects": None,
     "characteristics": "Re-annotated FER2013, 10 taggers/img"},
    {"dataset": "ckplus", "year": 2010, "count": 593, "unit": "sequences", "classes": 8, "subjects": 123,
     "characteristics": "Lab-controlled, high quality, posed"},
]

# Table 3 (FER2013): every method's accuracy, precision, recall, F1 (%), AUC and FPS (on HARDWARE).
TABLE3: dict[str, dict[str, float]] = {
    "ResNet-50": dict(accuracy=71.4, precision=69.8, recall=70.2, f1=70.0, auc=0.881, fps=45),
    "VGGFace2 TL": dict(accuracy=83.1, precision=82.0, recall=81.8, f1=81.9, auc=0.921, fps=38),
    "CNN+LSTM": dict(accuracy=87.3, precision=86.1, recall=85.9, f1=86.0, auc=0.942, fps=22),
    "GAN-Aug": dict(accuracy=88.3, precision=87.4, recall=87.0, f1=87.2, auc=0.948, fps=31),
    "ViT-Base": dict(accuracy=73.6, precision=72.8, recall=73.1, f1=72.9, auc=0.896, fps=28),
    "EfficientNet-B4": dict(accuracy=89.5, precision=88.7, recall=88.3, f1=88.5, auc=0.953, fps=41),
    "Swin-T": dict(accuracy=88.7, precision=87.6, recall=87.9, f1=87.7, auc=0.951, fps=24),
    "Cross-Attn": dict(accuracy=90.1, precision=89.3, recall=89.1, f1=89.2, auc=0.963, fps=19),
    "DualPath CNN": dict(accuracy=91.2, precision=90.5, recall=90.2, f1=90.3, auc=0.967, fps=33),
    "HAFEM": dict(accuracy=94.7, precision=94.1, recall=93.8, f1=93.9, auc=0.982, fps=52),
}

# §3's training recipe (None: not stated). The notebooks print these beside the run's values.
RECIPE: dict[str, Any] = {
    "backbone": "efficientnet_b5", "pretrained": True, "img_size": 224, "num_layers": "1 or 6 (disputed)",
    "d_model": 2048, "num_heads": 8, "d_ff": 4096, "epochs": 140, "warmup_epochs": 10,
    "batch_size": None, "lr": 1e-3, "min_lr": 1e-6, "layer_decay": 0.9, "weight_decay": 5e-4,
    "patience": 20, "loss": "compound", "loss_weights": (0.6, 0.25, 0.15), "dls_eps": 0.1,
    "augment": "hafem", "augment_options": {},   # {}: every op at the paper's probability (fernb.train.augment)
    "max_train": None, "amp": "fp16",
}

# Each inconsistency of the paper and the argument of fernb.models.hafem.HAFEM that turns it.
DISPUTED = {
    "Transformer depth: '6 layers' vs the stated 31.2M overhead (one layer is 33.6M)": "num_layers (default 1)",
    "Pretrained on 'ImageNet-21K' (no such EfficientNet-B5 weights exist)": "pretrained (a local file or timm's cache)",
    "CBAM 'inserted' in the backbone vs applied to the final map": "cbam_placement ('final' or 'stages')",
    "CBAM spatial attention 'through a unique MLP with r = 16' vs Woo et al.'s 7×7 conv": "not a knob: the MLP reading does not define a layer; the 7×7 conv (timm's CbamModule) is used",
    "Token width: d_model 2048 is stated; a projection to a smaller width is the usual economy": "d_model (a linear projection when it differs from the backbone's channels)",
    "Head pooling is not stated": "pool ('mean' or 'cls')",
}

# §2 (Related Work): the other works' results its text cites — reference number, the method as the text names it,
# the dataset and the accuracy (%) as printed ("printed_as": how the text words the number where it is not
# "accuracy"); VGGFace2's size as §2 gives it; the years §2 says Table 1 spans ("from 2021-2025", also the
# table's caption).
SECTION2: dict[str, Any] = {
    "results": [
        {"ref": 11, "method": "AAM-based method (with CK+)", "dataset": "ckplus", "accuracy": 96.0},
        {"ref": 13, "method": "SVM output layer on a deep CNN", "dataset": "fer2013", "accuracy": 71.2},
        {"ref": 6, "method": "island loss", "dataset": "fer2013", "accuracy": 76.5},
        {"ref": 7, "method": "Region Attention Network (RAN)", "dataset": "rafdb", "accuracy": 86.9},
        {"ref": 17, "method": "patch-based attention with center loss", "dataset": "fer2013", "accuracy": 88.8},
        {"ref": 9, "method": "ViT pre-trained on ImageNet-21K", "dataset": "fer2013", "accuracy": 73.6,
         "printed_as": "test error"},
        {"ref": 20, "method": "CLIP vision-language guidance", "dataset": "rafdb", "accuracy": 91.5},
        {"ref": 21, "method": "Swin Transformer variants", "dataset": "affectnet", "accuracy": 88.7},
    ],
    "vggface2": {"ref": 14, "images": 3_310_000, "identities": 9131},
    "span": (2021, 2025),
}

# The reference list, [1]-[25]: the year it prints, the year in its DOI where that is earlier ("doi_year": an
# online-first or submission year), the DOI, and what the title says the work is (our gloss, not the title);
# "fer": whether the title is about facial expressions.
REFERENCES: dict[int, dict[str, Any]] = {
    1: {"year": 1972, "doi": "10.1037/h0030377", "work": "Ekman & Friesen, constants across cultures in the face",
        "fer": True},
    2: {"year": 2017, "doi": "10.5898/JHRI.6.1.Admoni", "work": "Admoni & Scassellati, eye gaze in human-robot "
        "interaction", "fer": False},
    3: {"year": 2021, "doi": "10.3390/s21062166", "work": "Jeong et al., DRER, driver's emotion recognizer",
        "fer": True},
    4: {"year": 2018, "doi_year": 2016, "doi": "10.1109/TAFFC.2016.2634527",
        "work": "Alghowinem et al., multimodal depression detection", "fer": False},
    5: {"year": 2021, "doi": "10.1109/CVPR46437.2021.00392",
        "work": "Guo et al., MetaCorrection, domain adaptation for semantic segmentation (CVPR)", "fer": False},
    6: {"year": 2017, "doi": "10.1109/CVPR.2017.277",
        "work": "Li, Deng & Du, crowdsourcing and deep locality-preserving learning (the RAF-DB paper, CVPR)",
        "fer": True},
    7: {"year": 2020, "doi_year": 2019, "doi": "10.1109/TIP.2019.2956143",
        "work": "Wang et al., Region Attention Networks (IEEE TIP)", "fer": True},
    8: {"year": 2021, "doi": "10.1109/ICIP42928.2021.9506593",
        "work": "Cai et al., identity-free FER with a conditional GAN (ICIP)", "fer": True},
    9: {"year": 2023, "doi_year": 2021, "doi": "10.1109/TAFFC.2021.3122146",
        "work": "Ma, Sun & Li, visual transformers with attentional selective fusion (IEEE TAC)", "fer": True},
    10: {"year": 2018, "doi": "10.1109/TIP.2018.2886767",
         "work": "Li, Zeng, Shan & Chen, occlusion-aware FER, CNN with attention (IEEE TIP)", "fer": True},
    11: {"year": 2010, "doi": "10.1109/CVPRW.2010.5543262", "work": "Lucey et al., the CK+ dataset (CVPR Workshops)",
         "fer": True},
    12: {"year": 2011, "doi": "10.1109/ICCVW.2011.6130508", "work": "Dhall et al., static FER in tough conditions "
         "(ICCV Workshops)", "fer": True},
    13: {"year": 2015, "doi": "10.1016/j.neunet.2014.09.005",
         "work": "Goodfellow et al., report on three contests (FER2013's challenge; Neural Networks)", "fer": True},
    14: {"year": 2019, "doi_year": 2017, "doi": "10.1109/TAFFC.2017.2740923",
         "work": "Mollahosseini, Hasani & Mahoor, the AffectNet database (IEEE TAC)", "fer": True},
    15: {"year": 2020, "doi_year": 2019, "doi": "10.1109/TPAMI.2019.2913372",
         "work": "Hu et al., Squeeze-and-Excitation Networks", "fer": False},
    16: {"year": 2018, "doi": "10.1007/978-3-030-01234-2_1", "work": "Woo et al., CBAM (ECCV)", "fer": False},
    17: {"year": 2021, "doi": "10.1109/WACV48630.2021.00245",
         "work": "Farzaneh & Qi, deep attentive center loss (WACV)", "fer": True},
    18: {"year": 2021, "doi": "10.1145/3474085.3475292", "work": "Zhao & Liu, Former-DFER (ACM MM)", "fer": True},
    19: {"year": 2021, "doi": "10.1109/ICCV48922.2021.00986", "work": "Liu et al., Swin Transformer (ICCV)",
         "fer": False},
    20: {"year": 2023, "doi": "10.1109/ICCV51070.2023.01897",
         "work": "Zhang et al., weakly-supervised text-driven contrastive learning (ICCV)", "fer": True},
    21: {"year": 2023, "doi": "10.1109/CVPR52729.2023.00756",
         "work": "Wang et al., meta-learning with inverted regularization at inner level (CVPR)", "fer": False},
    22: {"year": 2023, "doi_year": 2021, "doi": "10.1109/TAFFC.2021.3122146",
         "work": "Ma et al., visual transformers with attentional selective fusion (IEEE TAC)", "fer": True},
    23: {"year": 2022, "doi": "10.1109/CVPR52688.2022.01553", "work": "He et al., Masked Autoencoders (CVPR)",
         "fer": False},
    24: {"year": 2021, "doi": "10.1145/3474085.3475292", "work": "Zhao & Liu, Former-DFER (ACM MM)", "fer": True},
    25: {"year": 2021, "doi": "10.1038/s42256-020-00280-0",
         "work": "Toisoul et al., valence and arousal from faces (Nat. Mach. Intell.)", "fer": True},
}

# §3's "seven operation stochastic augmentation pipeline", (i)-(vii), with each operation's probability.
AUGMENTATION: dict[str, float] = {"horizontal flip": 0.5, "random crop": 0.8, "color jitter": 0.5,
                                  "random rotation": 0.3, "Gaussian noise": 0.2, "Cutout": 0.3, "Mixup": 0.4}
