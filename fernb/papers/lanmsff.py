"""What the LANMSFF paper states, as data, and the official code's disagreements with it.

Ezati, Dezyani, Rana, Rajabi, Ayatollahi, "A Lightweight Attention-based Deep Network via
Multi-Scale Feature Fusion for Multi-View Facial Expression Recognition" (arXiv 2403.14318;
code at github.com/AE-1129/LANMSFF). Numbers are as printed (accuracy in %), to compare
against, never to tune toward. Where each block comes from:

- :data:`CLAIMS`: KDEF's accuracy and per-pose accuracies (Table II, "Whole" column, and
  Table X), its pose variance "Var 0.66" (Table X); FER2013's and FERPlus' accuracies and
  their "Pose >30°"/">45°" subsets (Tables IV and VII); the information densities "ID"
  (Tables VI and IX, 196 and 242); the ablation on KDEF (Table XII, overall accuracy and
  Var); the parameter count 358K (Tables VI and IX), which is Keras' ``model.summary()``
  total of the official code (trainable 356,294 at 7 classes, BN statistics included).
- :data:`RECIPE`: §IV-B (Experimental Setup: 64×64 min-max input, the ×4 offline
  augmentation, batch 32, Adam at 1e-3, decay when the validation loss stalls) completed by
  the official code's settings (ε 1e-7, at most 100 epochs, patience, last weights), as
  ``fernb/train/recipes.py`` builds them.
- :data:`CODE_VS_PAPER`: where the official code and the paper disagree (we follow the code).
- :data:`TABLES`: every numeric table (Tables II–XII), each row and column label and number as
  printed (label orders kept, "-" as None).
- :data:`RELATED_WORK`: Table I (author, reference, year, method, "Lightweight" mark), with
  :data:`REFERENCE_YEARS`, the year the reference list prints for each of its references.
- :data:`TEXT`: the numbers and names the text states outside the tables (§I, §III, §IV-A,
  §IV-C1–C4, §IV-D, §V), each with its section.
- :data:`CODE_KERAS_TOTALS`: the official code's Keras parameter totals per input and head,
  what the printed "358K" is read against.
- :func:`information_density` / :func:`density_claims`: §IV-B defines ID as accuracy over
  parameters in millions.
"""
from __future__ import annotations

from typing import Any

__all__ = ["CLAIMS", "RECIPE", "CODE_VS_PAPER", "TABLES", "RELATED_WORK", "REFERENCE_YEARS", "TEXT",
           "CODE_KERAS_TOTALS", "information_density", "density_claims"]

# The six places where the official code and the paper disagree.
CODE_VS_PAPER: tuple[str, ...] = (
    "MassAtt is sigmoid(channel) × sigmoid(spatial), not sigmoid(channel × spatial) as Eq. 3 reads (the ReLU after "
    "the first transposed conv and the channel-mean spatial descriptor are as Eqs. 3–4 write them).",
    "Only the middle stage of a two-path block is depthwise-separable; stages 2–3 of both paths "
    "read the concatenation of both paths.",
    "The 2024 code shuffled channels by an unseeded random permutation fixed at graph build; "
    "we use the deterministic ShuffleNet shuffle (2 groups), as the 2026 code does.",
    "The paper's 358K counts Keras' non-trainable BN statistics; trainable parameters are 356,294 (7 classes).",
    "The code reports 'test' accuracy on the fold that also drives LR decay and early stopping, so the "
    "published accuracies may be validation-fold numbers; this workbook keeps validation and test apart.",
    "The repository has no data loading, split or normalisation code: nothing in it reproduces the "
    "reported accuracies (KDEF 90.77, FER2013 70.44, FERPlus 86.96).",
)

# The paper's reported numbers (accuracy in %), to compare against, never to tune toward.
# Pose keys: KDEF camera yaw in degrees; FER2013/FERPlus subsets by minimum |yaw| (Pose >30°, >45°).
CLAIMS: dict = {
    # Tables II and X. "Var 0.66" is as printed; the population variance of the five per-pose
    # numbers is 0.79 and the sample variance 0.99, but with the overall accuracy as a sixth value
    # (as §IV-C4 computes Var over the pose subsets and the whole set for Table XI) it is 0.66.
    "kdef": {"accuracy": 90.77,
             "per_pose": {-90: 89.44, -45: 91.18, 0: 92.04, 45: 91.00, 90: 90.17},
             "pose_variance": 0.66},
    "fer2013": {"accuracy": 70.44, "pose_subsets": {30: 69.15, 45: 66.82}, "ID": 196},   # Tables IV, VI
    "ferplus": {"accuracy": 86.96, "pose_subsets": {30: 86.92, 45: 84.68}, "ID": 242},   # Tables VII, IX
    # Table XII, KDEF: accuracy per pose (-90/-45/0/45/90), overall, and "Var" over the five
    # poses, as printed. No row's Var equals the population or the sample variance of its own
    # five numbers (notebook 03 and fernb.evaluate.stats.variances show both); each is within 0.012 of the
    # population variance of its six printed numbers (the poses and the overall accuracy, their mean).
    "ablation_kdef": {
        "whole": {"accuracy": 90.77, "pose_variance": 0.66,
                  "per_pose": {-90: 89.44, -45: 91.18, 0: 92.04, 45: 91.00, 90: 90.17}},
        "-PWFS": {"accuracy": 91.24, "pose_variance": 1.05,
                  "per_pose": {-90: 89.85, -45: 91.28, 0: 92.05, 45: 92.84, 90: 90.16}},
        "-MassAtt": {"accuracy": 90.83, "pose_variance": 2.59,
                     "per_pose": {-90: 87.59, -45: 91.59, 0: 92.15, 45: 92.43, 90: 90.38}},
        "-both": {"accuracy": 90.58, "pose_variance": 1.65,
                  "per_pose": {-90: 89.14, -45: 90.57, 0: 91.75, 45: 92.53, 90: 88.93}}},
    "params": {"keras_total": 358_406, "trainable": 356_294},   # 7 classes, as model.summary() counts
}

# The stated recipe (§IV-B and the official code; None: not stated).
RECIPE: dict[str, Any] = {
    "img_size": 64, "epochs": 100, "batch_size": 32, "lr": 1e-3, "eps": 1e-7, "plateau_patience": 8,
    "patience": 14, "offline_x4": True, "final_weights": "last", "max_train": None,
    "use_massatt": True, "use_pwfs": True, "drop_rate": 0.4,
    "bn_momentum": 0.01,   # the code's BatchNormalization() default (Keras momentum 0.99)
}


def information_density(accuracy_percent, keras_total):
    """The paper's *information density*: accuracy in % divided by the parameters in millions,
    counted as Keras' ``model.summary()`` counts them (BN statistics included, as its 358K).
    Numbers or aligned pandas columns."""
    return accuracy_percent / (keras_total / 1e6)


def density_claims() -> dict[str, float]:
    """The information density the paper reports, per dataset (Tables VI and IX)."""
    return {name: t["ID"] for name, t in CLAIMS.items() if isinstance(t, dict) and "ID" in t}


# Every numeric table of the paper (Tables II–XII), as printed: row labels (``index``), column
# labels (``columns``), one list of values per row (None where the paper prints "-"; "8700K" is
# 8700, parameters in thousands). Class abbreviations are fernb.labels' canonical names, in the
# printed order: the orders differ between tables (Table V's labels are not Table IV's column
# order, though its diagonal is Table IV's numbers) and are kept as printed, not corrected.
# ``refs``: the bracketed reference number printed after each method name (None: none printed).
TABLES: dict[str, dict] = {
    # Table II, "Recognition accuracies for multi-view images on KDEF dataset".
    "II": {"title": "Recognition accuracies for multi-view images on KDEF", "kind": "per_class",
           "index": [-90, -45, 0, 45, 90, "overall"],
           "columns": ["whole", "anger", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
           "values": [[89.44, 87.02, 82.52, 82.92, 99.26, 85.03, 90.78, 98.57],
                      [91.18, 89.97, 88.33, 81.46, 97.83, 89.40, 92.87, 98.59],
                      [92.04, 89.84, 97.06, 80.62, 99.31, 88.36, 92.79, 95.71],
                      [91.00, 88.53, 90.55, 79.91, 99.26, 87.87, 92.12, 98.54],
                      [90.17, 89.28, 88.50, 77.92, 97.88, 85.74, 95.71, 96.47],
                      [90.77, 88.93, 89.39, 80.57, 98.70, 87.28, 92.85, 97.58]]},
    # Table III, "The normalized confusion matrix on KDEF dataset" (rows: actual, columns: predicted).
    "III": {"title": "Normalized confusion matrix on KDEF", "kind": "confusion",
            "index": ["fear", "anger", "disgust", "happy", "neutral", "sad", "surprise"],
            "columns": ["fear", "anger", "disgust", "happy", "neutral", "sad", "surprise"],
            "values": [[80.60, 1.69, 1.46, 1.29, 1.15, 6.87, 6.94],
                       [1.99, 88.95, 4.34, 1.57, 1.28, 1.87, 0],
                       [2.46, 3.18, 89.44, 1.59, 0.15, 3.18, 0],
                       [0.43, 0.14, 0.57, 98.72, 0.14, 0, 0],
                       [0.15, 0.71, 0, 0, 97.57, 1.57, 0],
                       [4.13, 1.44, 2.57, 0.57, 3.82, 87.33, 0.14],
                       [6.14, 0, 0, 0.15, 0.72, 0.29, 92.70]]},
    # Table IV, "Recognition rate under multi-view pose on FER-2013 and Pose-FER-2013 datasets".
    "IV": {"title": "Recognition rate under multi-view pose on FER-2013 and Pose-FER-2013", "kind": "per_class",
           "index": [">30", ">45", "overall"],
           "columns": ["whole", "anger", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
           "values": [[69.15, 63.74, 75.00, 37.33, 88.89, 55.71, 82.20, 76.00],
                      [66.82, 59.34, 75.00, 37.97, 85.21, 59.31, 82.14, 71.55],
                      [70.44, 62.12, 74.55, 45.08, 89.42, 54.71, 80.53, 79.55]]},
    # Table V, "The normalized confusion matrix on FER-2013" (rows: actual, columns: predicted).
    "V": {"title": "Normalized confusion matrix on FER-2013", "kind": "confusion",
          "index": ["fear", "anger", "disgust", "happy", "neutral", "sad", "surprise"],
          "columns": ["fear", "anger", "disgust", "happy", "neutral", "sad", "surprise"],
          "values": [[62.12, 1.43, 8.35, 3.25, 12.42, 1.43, 11.00],
                     [18.17, 74.55, 0, 0, 1.82, 3.64, 1.82],
                     [13.06, 1.14, 45.08, 2.65, 17.05, 8.71, 12.31],
                     [1.02, 0, 0.35, 89.42, 2.39, 2.50, 4.32],
                     [9.09, 0.51, 8.75, 4.21, 54.71, 1.18, 21.55],
                     [2.64, 0.48, 7.93, 4.58, 1.44, 80.53, 2.40],
                     [3.83, 0.16, 2.40, 3.51, 9.11, 1.44, 79.55]]},
    # Table VI, "Comparison of accuracy (%) and parameters counts between proposed method and
    # previous works on FER-2013" (params in K, ID as printed).
    "VI": {"title": "Accuracy and parameter counts against previous works on FER-2013", "kind": "comparison",
           "index": ["SHCNN", "Light CNN", "BReG-NeXt-32", "BReG-NeXt-50", "Dense_FaceLiveNet", "Block-FreNet",
                     "SAN-CNN", "AR-TE-CATFFNet", "AMP_NET", "LANMSFF"],
           "refs": ["37", "21", "38", "38", "39", "40", "41", "42", "43", None],
           "columns": ["accuracy", "params_k", "ID"],
           "values": [[69.10, 8700, 7.9], [68.00, 1108, 61.3], [69.11, 1900, 36.37], [71.53, 3100, 23.07],
                      [69.99, 15300, 4.57], [64.41, 9000, 7.16], [74.17, 6580, 11.2], [74.84, 32117, 2.3],
                      [74.48, 105670, 0.7], [70.44, 358, 196]]},
    # Table VII, "Recognition rate under multi-view pose on FERPlus and Pose-FERPlus datasets".
    "VII": {"title": "Recognition rate under multi-view pose on FERPlus and Pose-FERPlus", "kind": "per_class",
            "index": [">30", ">45", "overall"],
            "columns": ["whole", "neutral", "happy", "surprise", "sad", "anger", "disgust", "fear", "contempt"],
            "values": [[86.92, 90.34, 94.41, 88.98, 72.85, 86.27, 20.00, 50.00, 0],
                       [84.68, 88.19, 93.62, 88.14, 69.66, 80.77, 100, 50.00, 0],
                       [86.96, 89.38, 94.96, 89.09, 71.99, 85.50, 43.75, 55.81, 13.33]]},
    # Table VIII, "The normalized confusion matrix on FERPlus" (rows: actual, columns: predicted).
    "VIII": {"title": "Normalized confusion matrix on FERPlus", "kind": "confusion",
             "index": ["neutral", "happy", "surprise", "sad", "anger", "disgust", "fear", "contempt"],
             "columns": ["neutral", "happy", "surprise", "sad", "anger", "disgust", "fear", "contempt"],
             "values": [[89.38, 2.12, 1.11, 6.28, 0.74, 0.09, 0.28, 0],
                        [2.46, 94.96, 1.35, 1.01, 0.22, 0, 0, 0],
                        [4.31, 1.78, 89.09, 1.02, 1.52, 0, 2.28, 0],
                        [20.68, 2.36, 0.78, 71.99, 3.14, 0, 1.05, 0],
                        [5.95, 4.46, 1.49, 1.86, 85.50, 0.37, 0.37, 0],
                        [6.25, 6.25, 12.5, 0, 31.25, 43.75, 0, 0],
                        [3.48, 0, 27.91, 10.47, 2.33, 0, 55.81, 0],
                        [46.67, 6.67, 0, 20, 13.33, 0, 0, 13.33]]},
    # Table IX, "Comparison of accuracy (%) and parameters counts between proposed method and
    # previous works on FERPlus" ("TST- RRN" as printed, with the space).
    "IX": {"title": "Accuracy and parameter counts against previous works on FERPlus", "kind": "comparison",
           "index": ["SHCNN", "FENN", "PACVT", "TST- RRN", "RAN", "CERN", "VTFF", "LANMSFF"],
           "refs": ["37", "44", "27", "10", "9", "20", "29", None],
           "columns": ["accuracy", "params_k", "ID"],
           "values": [[86.50, 8700, 9.94], [89.53, 11470, 7.80], [88.72, 28400, 3.1], [89.64, 1820, 49.25],
                      [89.16, 11180, 7.94], [88.17, 1450, 60.8], [88.81, 80000, 1.1], [86.96, 358, 242]]},
    # Table X, "Comparison of accuracies between the proposed method and previous works on KDEF"
    # (accuracy per pose, printed -90°, -45°, 0°, +45°, +90°, then Var).
    "X": {"title": "Per-pose accuracies against previous works on KDEF", "kind": "comparison",
          "index": ["DML-NET", "SSA-Net", "OCA-MTL", "LANMSFF"],
          "refs": ["28", "45", "36", None],
          "columns": [-90, -45, 0, 45, 90, "Var"],
          "values": [[89.20, 88.80, 91.30, 85.60, 86.10, 3.69],
                     [90.20, 90.20, 89.70, 83.50, 89.10, 5.42],
                     [87.04, 89.18, 92.24, 89.18, 87.55, 2.74],
                     [89.44, 91.18, 92.04, 91.00, 90.17, 0.66]]},
    # Table XI, "Comparison of accuracies between the proposed method and previous works on
    # Pose-FERPlus" (printed "Pose ≥ 30°", "Pose ≥ 45°", "Overall", then Var).
    "XI": {"title": "Pose-subset accuracies against previous works on Pose-FERPlus", "kind": "comparison",
           "index": ["RAN", "CERN", "FG-AGR", "AMP_NET", "VTFF", "LANMSFF"],
           "refs": ["9", "20", "46", "43", "29", None],
           "columns": [">=30", ">=45", "overall", "Var"],
           "values": [[82.23, 80.40, 89.16, 14.23], [86.84, 84.83, 88.17, 1.88], [88.38, 87.52, 91.09, 2.31],
                      [88.52, 87.57, None, None], [88.29, 87.20, 88.81, 0.45], [86.92, 84.68, 86.96, 1.13]]},
    # Table XII, "Ablation study on test set of KDEF dataset" (rows printed "Whole model", "Whole
    # model without PWFS", "... without MassAtt", "... without MassAtt and PWFS").
    "XII": {"title": "Ablation study on the KDEF test set", "kind": "comparison",
            "index": ["whole", "-PWFS", "-MassAtt", "-both"],
            "columns": [-90, -45, 0, 45, 90, "overall", "Var"],
            "values": [[89.44, 91.18, 92.04, 91.00, 90.17, 90.77, 0.66],
                       [89.85, 91.28, 92.05, 92.84, 90.16, 91.24, 1.05],
                       [87.59, 91.59, 92.15, 92.43, 90.38, 90.83, 2.59],
                       [89.14, 90.57, 91.75, 92.53, 88.93, 90.58, 1.65]]},
}

# Table I, "Comparative summary of our study and previous literature": author, bracketed reference,
# year, method and the "Lightweight" mark (True: ✓), as printed ("This paper (2024)" left out).
RELATED_WORK: list[dict] = [
    {"author": "Shao et al.", "ref": "21", "year": 2019, "method": "CNN", "lightweight": True},
    {"author": "Wang et al.", "ref": "9", "year": 2020, "method": "RAN", "lightweight": False},
    {"author": "Li et al.", "ref": "26", "year": 2020, "method": "SPWFA-SE", "lightweight": False},
    {"author": "Liu et al.", "ref": "28", "year": 2021, "method": "DML-Net", "lightweight": False},
    {"author": "Huang et al.", "ref": "11", "year": 2021, "method": "FER-VT", "lightweight": False},
    {"author": "Gera et al.", "ref": "20", "year": 2022, "method": "CERN", "lightweight": True},
    {"author": "Liu et al.", "ref": "27", "year": 2023, "method": "PACVT", "lightweight": False},
    {"author": "Jiang et al.", "ref": "10", "year": 2023, "method": "TST-RRN", "lightweight": True},
    {"author": "Xiao et al.", "ref": "16", "year": 2023, "method": "CFNet", "lightweight": False},
    {"author": "Ma et al.", "ref": "29", "year": 2023, "method": "VTFF", "lightweight": False},
]
# The year the reference list prints for each reference Table I cites ([26] and [29]: IEEE Trans. Affect.
# Comput. vol. 14, both 2023).
REFERENCE_YEARS: dict[str, int] = {"21": 2019, "9": 2020, "26": 2023, "28": 2021, "11": 2021, "20": 2022, "27": 2023,
                                   "10": 2023, "16": 2023, "29": 2023}

# What the text states outside the tables, by section (class names as fernb.labels' canonical names).
TEXT: dict[str, Any] = {
    # §I, contribution 4: the datasets named, with their references ("KDEP" as printed); reference [17]'s title
    # names KDEF, as do the abstract, §IV and Tables II, III, X, XII.
    "s1_datasets": {"KDEP": "17", "FER-2013": "18", "FERPlus": "19"},
    "reference_17_dataset": "KDEF",
    # §III-A: the four blocks' widths and the fused vector; PWFS keeps one third of blocks 1-3 (§III-A, Eq. 2).
    "s3_widths": (66, 72, 78, 84), "s3_fused": 156,
    # §III-C, Eq. 3: MassAtt's reduction ratio and the spatial path's weight shapes (out, in, k, k).
    "s3_massatt_ratio": 4,
    "s3_massatt_spatial": ((2, 1, 3, 3), (4, 2, 3, 3), (4, 4, 3, 3), (1, 4, 3, 3)),
    # §IV-A: FERPlus' eight classes, in the order listed.
    "s4a_ferplus_classes": ("neutral", "happy", "surprise", "sad", "anger", "disgust", "fear", "contempt"),
    # §IV-C1: "[28], [36] ... found that the 0° pose achieves the highest accuracy and the -90° pose the lowest".
    "s4c1_pose_pattern": {"highest": 0, "lowest": -90, "refs": {"28": "DML-NET", "36": "OCA-MTL"}},
    # §IV-C1: accuracy rises for neutral and falls for disgust from frontal to non-frontal; Table III: happy
    # and neutral high, fear lower.
    "s4c1_frontal_change": {"neutral": "up", "disgust": "down"},
    "s4c1_kdef_best": ("happy", "neutral"), "s4c1_kdef_worst": "fear",
    # §IV-C2: the highest misclassifications, and the references Table VI is said to outperform.
    "s4c2_confused_pairs": (("disgust", "neutral"), ("neutral", "surprise")),
    "s4c2_refs": ("21", "37", "38", "39", "40", "41", "42", "43"),
    # §IV-C3: pose-subset drops "consistent with" these references; best and worst classes, and what each
    # worst class is mistaken for.
    "s4c3_pose_refs": ("9", "20", "29", "43", "46"),
    "s4c3_best": ("neutral", "happy"),
    "s4c3_confused_as": {"contempt": "neutral", "disgust": "anger", "fear": "surprise"},
    "s4c3_sota_refs": ("44", "10"),
    # §IV-C4: Var values quoted in the text (KDEF, Table X; Pose-FERPlus, Table XI).
    "s4c4_kdef_var": {"LANMSFF": 0.66, "DML-NET": 3.69, "SSA-Net": 5.42, "OCA-MTL": 2.74},
    "s4c4_posefer_var": {"LANMSFF": 1.13, "CERN": 1.88, "FG-AGR": 2.31, "RAN": 14.2},
    # Method names with the reference printed after them in §IV-C2-C4's text.
    "s4c_named_refs": {"AMP_NET": "43", "FENN": "44", "PACVT": "27", "DML-NET": "28", "SSA-Net": "45",
                       "OCA-MTL": "36", "CERN": "20", "RAN": "9", "VTFF": "29", "FG-AGR": "46"},
    # §IV-D cites Grad-CAM as [47]; the reference list as extracted ends at [46].
    "s4d_gradcam_ref": 47, "last_reference": 46,
}

# The official code's Keras model.summary() totals (trainable + BN statistics) by (input channels, classes),
# as the workbook's rebuild counts them (fernb.models.lanmsff; tests/papers/test_lanmsff_claims.py recounts):
# the paper prints 358K in Tables VI (7 classes) and IX (FERPlus, 8 classes) and never states the channels.
CODE_KERAS_TOTALS: dict[tuple[int, int], int] = {(1, 7): 358_406, (1, 8): 358_563, (3, 7): 359_594}
