"""The per-class size of every split of FER2013 and FERPlus, as data with how it was counted.

Not claims of either paper: the real datasets' numbers the claims ledger reads the papers'
numbers against — does a row-normalised confusion matrix give whole-number counts for a
test set's class sizes, do the split sizes a paper states match any split of the data. The
real archives are not available in CI, so the counts live here; ``tests/data/test_dataset_counts.py``
recounts every one of them from the archives through fernb's loaders whenever they are
present (the folder ``$FERNB_DATA`` names; ``tests/conftest.py`` says where else it looks).

- :data:`SPLIT_COUNTS` ``["fer2013"][usage][class]``: FER2013 by its ``Usage`` names
  (``Training``, ``PublicTest``, ``PrivateTest``; fernb's train / val / test);
- :data:`SPLIT_COUNTS` ``["ferplus"][rule][split][class]``: FERPlus labels by the vote rule
  (``"majority"``: fernb's default, ties dropped; ``"ferplus"``: the official repository's
  rule; 8 classes, both), and ``["ferplus"]["images"][split]``: the image rows of each
  split's ``label.csv`` before any rule, so "images in the split" is told apart from
  "images a rule keeps";
- :data:`FERPLUS_DROPPED` ``[rule][split][reason]``: the images each rule drops, by the
  loader's reason (``images == kept + dropped`` per split);
- :data:`FERPLUS_MISMATCHED_LABEL` and :func:`ferplus_test_sets`: the one test image whose PNG
  and votes disagree, and the candidate FERPlus test sets a paper's numbers are read against
  (each rule, with and without that image);
- :data:`SOURCES`: how each dataset's numbers were counted;
- :data:`LEAKY_DATASETS`: the datasets whose test split shares images with its training split;
- :func:`split_total`: one split's size.

Classes are the canonical names of ``fernb/labels.py`` (``CANONICAL``). Pure data and one
small function: nothing here imports the rest of :mod:`fernb`.
"""
from __future__ import annotations

__all__ = ["SPLIT_COUNTS", "FERPLUS_DROPPED", "FERPLUS_RULES", "FERPLUS_MISMATCHED_LABEL", "ferplus_test_sets", "FER2013_USAGE", "SOURCES", "LEAKY_DATASETS",
           "split_total"]

# fernb's split names -> FER2013's Usage names (the protocol every fernb loader follows)
FER2013_USAGE: dict[str, str] = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
# FERPlus label rules recorded here, by name (``"images"`` is no rule: every listed image)
FERPLUS_RULES: tuple[str, ...] = ("majority", "ferplus")
# Datasets whose test split shares images with its training split (byte-identical and near copies:
# notebook 00, fernb.evaluate.leakage; FERPlus relabels FER2013's images, so it shares them too). Their
# test accuracies are reported twice, on the standard split and on its leak-free subset, and the claims
# ledger measures their accuracy claims both ways (neither paper mentions the leak).
LEAKY_DATASETS: tuple[str, ...] = ("fer2013", "ferplus")

SPLIT_COUNTS: dict = {
    "fer2013": {
        "Training": {"neutral": 4965, "happy": 7215, "sad": 4830, "surprise": 3171, "fear": 4097, "disgust": 436, "anger": 3995},
        "PublicTest": {"neutral": 607, "happy": 895, "sad": 653, "surprise": 415, "fear": 496, "disgust": 56, "anger": 467},
        "PrivateTest": {"neutral": 626, "happy": 879, "sad": 594, "surprise": 416, "fear": 528, "disgust": 55, "anger": 491},
    },
    "ferplus": {
        "majority": {
            "train": {"neutral": 9360, "happy": 7408, "sad": 3418, "surprise": 3368, "fear": 651, "disgust": 175, "anger": 2395,
                      "contempt": 165},
            "val": {"neutral": 1241, "happy": 877, "sad": 396, "surprise": 441, "fear": 70, "disgust": 31, "anger": 314,
                    "contempt": 26},
            "test": {"neutral": 1159, "happy": 908, "sad": 424, "surprise": 424, "fear": 96, "disgust": 20, "anger": 312,
                     "contempt": 27},
        },
        "ferplus": {
            "train": {"neutral": 8733, "happy": 7284, "sad": 3022, "surprise": 3136, "fear": 536, "disgust": 116, "anger": 2098,
                      "contempt": 120},
            "val": {"neutral": 1180, "happy": 862, "sad": 348, "surprise": 411, "fear": 60, "disgust": 25, "anger": 289,
                    "contempt": 16},
            "test": {"neutral": 1082, "happy": 892, "sad": 382, "surprise": 394, "fear": 86, "disgust": 16, "anger": 269,
                     "contempt": 15},
        },
        "images": {"train": 28558, "val": 3579, "test": 3573},
    },
}

FERPLUS_DROPPED: dict = {
    "majority": {
        "train": {"nf": 3, "tie": 1210, "unknown": 405},
        "val": {"nf": 1, "tie": 130, "unknown": 52},
        "test": {"pixels_votes_mismatch": 1, "tie": 151, "unknown": 51},
    },
    "ferplus": {
        "train": {"nf": 2, "no_majority": 3434, "unknown": 77},
        "val": {"no_majority": 377, "unknown": 11},
        "test": {"no_majority": 425, "pixels_votes_mismatch": 1, "unknown": 11},
    },
}

# FER2013Test/fer0033120.png (fernb.data.ferplus.KNOWN_MISMATCHED): its label.csv votes (5 neutral, 1 sadness,
# 1 anger, 3 unknown) give it this label under each rule, so a reader that trusts label.csv (the official
# repository's does) counts it in this class; SPLIT_COUNTS leaves it out (its PNG is not that face).
FERPLUS_MISMATCHED_LABEL: dict[str, str] = {"majority": "neutral", "ferplus": "neutral"}

SOURCES: dict[str, str] = {
    "fer2013": (
        "Counted by fernb.data.fer2013.load_fer2013 (defaults, on_unreadable='raise': every image decoded, none "
        "skipped) on the Kaggle image-folder copy fer2013_msambare.zip (msambare/fer2013 'archive.zip', sha256 "
        "5ee324b72688a55fc2fc11412565c5a3e6156fdfa1c3c8312d37939f29c4aa76): class = the folder of "
        "train/<class>/Training_<id>.jpg and test/<class>/{PublicTest,PrivateTest}_<id>.jpg (folder names mapped by "
        "fernb/labels.py FER2013_FOLDERS, angry -> anger), Usage = the file-name prefix. The copy holds all 35,887 "
        "images of the challenge's fer2013.csv (28,709 / 3,589 / 3,589); its Usage totals equal those of the "
        "'Usage' column of FERPlus' fer2013new.csv (one row per fer2013.csv row). Quirk of the copy, not of the "
        "counts: the <id> in a file name is not the fer2013.csv row, and two ids name two different images each, in "
        "two class folders (Training_8475486.jpg in angry/ and surprise/, Training_52789098.jpg in neutral/ and "
        "surprise/); both files of each pair are counted, as the loader reads them."
    ),
    "ferplus": (
        "Counted by fernb.data.ferplus.load_ferplus on ferplus.zip (sha256 "
        "fab60155f3bb3c131f4700ebc8b8c5ec269db9ccbe3445e896ecce3151756695), the generated folders "
        "data/FER2013Train/, data/FER2013Valid/, data/FER2013Test/ (train / val / test = FER2013's Training / "
        "PublicTest / PrivateTest) with their label.csv (image name, face box, 10 vote counts). 'images': the rows of "
        "each label.csv (each names a PNG in its folder; no PNG is unlisted), the loader's meta['read']. "
        "'majority': load_ferplus(rule='majority', ties='drop', num_classes=8), params.yaml ferplus: vote_rule "
        "majority, vote_ties drop, ferplus_classes 8 (the emotion with the most votes; dropped where unknown or NF "
        "has at least as many, or where emotions tie). 'ferplus': load_ferplus(rule='ferplus', num_classes=8), the "
        "official FERPlus repository's majority mode (single votes zeroed, strict majority required, unknown / NF "
        "winners dropped). Both come from fernb.data.ferplus.vote_labels on the label.csv votes, less one test "
        "image either rule would keep: FER2013Test/fer0033120.png, whose PNG is not the face its votes describe "
        "(KNOWN_MISMATCHED, reason 'pixels_votes_mismatch'). FERPLUS_DROPPED gives every drop by reason."
    ),
}


def split_total(dataset: str, split: str, rule: str | None = None) -> int:
    """The number of images in one split: the sum of its class counts.

    Args:
        dataset: ``"fer2013"`` or ``"ferplus"``.
        split: FER2013: a Usage name (``"Training"``, ``"PublicTest"``, ``"PrivateTest"``)
            or fernb's name for it (``"train"``, ``"val"``, ``"test"``). FERPlus:
            ``"train"``, ``"val"``, ``"test"``.
        rule: FERPlus only, and required there: ``"majority"`` or ``"ferplus"`` (images
            kept by that label rule) or ``"images"`` (every image of the split's
            ``label.csv``, before any rule).

    Raises:
        ValueError: an unknown dataset, split or rule, naming it and the choices.
    """
    if dataset not in SPLIT_COUNTS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(SPLIT_COUNTS)}")
    if dataset == "fer2013":
        if rule is not None:
            raise ValueError(f"fer2013 has no label rules; got rule={rule!r} (pass rule=None)")
        usage = FER2013_USAGE.get(split, split)
        if usage not in SPLIT_COUNTS["fer2013"]:
            raise ValueError(f"unknown fer2013 split {split!r}; expected one of {list(SPLIT_COUNTS['fer2013'])} "
                             f"or fernb's names {list(FER2013_USAGE)}")
        return sum(SPLIT_COUNTS["fer2013"][usage].values())
    counts = SPLIT_COUNTS[dataset]
    if rule not in counts:
        raise ValueError(f"{dataset} needs rule= one of {list(counts)} (labels kept by a rule, or every image); "
                         f"got {rule!r}")
    if split not in counts[rule]:
        raise ValueError(f"unknown {dataset} split {split!r}; expected one of {list(counts[rule])}")
    value = counts[rule][split]
    return value if isinstance(value, int) else sum(value.values())


def ferplus_test_sets() -> dict[str, dict[str, int]]:
    """FERPlus' test set by class under every reading a paper may have used, by a name that
    says it: each label rule of :data:`SPLIT_COUNTS` (fernb's majority rule with ties dropped;
    the official repository's rule), as fernb keeps it (without the mismatched image) and as
    the published ``label.csv`` gives it (with it, :data:`FERPLUS_MISMATCHED_LABEL`)."""
    names = {"majority": "plurality rule (fernb's 'majority'), ties dropped",
             "ferplus": "official FERPlus repository's 'majority' mode"}
    out = {}
    for rule in FERPLUS_RULES:
        kept = dict(SPLIT_COUNTS["ferplus"][rule]["test"])
        published = dict(kept)
        published[FERPLUS_MISMATCHED_LABEL[rule]] += 1
        out[f"{names[rule]} on the published label.csv, {sum(published.values()):,} images"] = published
        out[f"{names[rule]}, {sum(kept.values()):,} images"] = kept
    return out
