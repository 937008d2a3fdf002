"""The canonical label space across publishers, and subject-disjoint folds."""
from __future__ import annotations

import numpy as np
import pytest

from fernb import labels
from fernb.data.core import DatasetFormatError
from fernb.data.folds import fold_splits, layout_error, subject_folds

CANON = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")

# Each publisher's documented codes, copied by hand from their READMEs / papers.
PUBLISHED = {
    "rafdb": (labels.RAFDB_CODES, {1: "Surprise", 2: "Fear", 3: "Disgust", 4: "Happiness", 5: "Sadness", 6: "Anger", 7: "Neutral"}),
    "affectnet": (labels.AFFECTNET_CODES, {0: "Neutral", 1: "Happy", 2: "Sad", 3: "Surprise", 4: "Fear", 5: "Disgust",
                                           6: "Anger", 7: "Contempt"}),
    "ckplus": (labels.CKPLUS_CODES, {0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy",
                                     6: "sadness", 7: "surprise"}),
    "kdef": (labels.KDEF_CODES, {"AF": "afraid", "AN": "angry", "DI": "disgusted", "HA": "happy", "NE": "neutral",
                                 "SA": "sad", "SU": "surprised"}),
}
WORDS = {"surprise": 3, "surprised": 3, "fear": 4, "afraid": 4, "disgust": 5, "disgusted": 5, "happiness": 1, "happy": 1,
         "sadness": 2, "sad": 2, "anger": 6, "angry": 6, "neutral": 0, "contempt": 7}


@pytest.mark.parametrize("dataset", sorted(PUBLISHED))
def test_every_publisher_code_lands_on_its_canonical_class(dataset):
    mapping, published = PUBLISHED[dataset]
    assert set(mapping) == set(published)
    for code, word in published.items():
        expected = WORDS[word.lower()]
        assert labels.canonical_index(code, mapping, 8) == expected
        assert CANON[expected] == mapping[code]


def test_seven_class_view_drops_contempt_only_and_unknown_codes_raise():
    assert labels.canonical_index(7, labels.AFFECTNET_CODES, 7) is None
    assert labels.canonical_index(2, labels.CKPLUS_CODES, 7) is None
    assert labels.canonical_index(6, labels.AFFECTNET_CODES, 7) == 6
    with pytest.raises(ValueError, match="rafdb: label 8 is not a known code"):
        labels.canonical_index(8, labels.RAFDB_CODES, 8, dataset="rafdb")
    assert set(labels.AFFECTNET_NOT_EXPRESSIONS) == {8, 9, 10}


def test_kdef_pose_codes_follow_the_yaw_convention():
    assert labels.KDEF_POSES == {"FL": -90.0, "HL": -45.0, "S": 0.0, "HR": 45.0, "FR": 90.0}


def test_subject_folds_are_disjoint_balanced_and_seeded():
    rng = np.random.default_rng(0)
    subjects = np.repeat([f"S{i:03d}" for i in range(23)], rng.integers(5, 40, 23))
    folds = subject_folds(subjects, k=5, seed=1)
    for s in np.unique(subjects):
        assert len(set(folds[subjects == s])) == 1
    sizes = np.bincount(folds, minlength=5)
    largest_subject = np.unique(subjects, return_counts=True)[1].max()
    assert sizes.min() > 0 and sizes.max() - sizes.min() <= largest_subject
    np.testing.assert_array_equal(folds, subject_folds(subjects, k=5, seed=1))
    assert not np.array_equal(folds, subject_folds(subjects, k=5, seed=2))
    with pytest.raises(ValueError, match="3 subjects cannot fill 5"):
        subject_folds(["a", "b", "c"], k=5)


def test_fold_splits_use_the_next_fold_for_validation():
    folds = np.array([0, 1, 2, 3, 4, 0, 4])
    assert fold_splits(folds, 4).tolist() == ["val", "train", "train", "train", "test", "val", "test"]
    assert fold_splits(folds, 1, val_fold=3).tolist() == ["train", "test", "train", "val", "train", "train", "train"]
    with pytest.raises(ValueError, match="test_fold"):
        fold_splits(folds, 5)
    with pytest.raises(ValueError, match="val_fold"):
        fold_splits(folds, 1, val_fold=1)
    with pytest.raises(ValueError, match="no fold for training"):
        fold_splits(np.array([0, 1, 0, 1]), 0)


def test_layout_error_shows_the_expected_tree():
    err = layout_error("KDEF", "/data/x.zip", "no KDEF/ folder", "KDEF/\n  AF01/AF01ANS.JPG\n")
    assert isinstance(err, DatasetFormatError)
    assert str(err).startswith("/data/x.zip: no KDEF/ folder. KDEF is expected")
    assert "\n    KDEF/\n      AF01/AF01ANS.JPG" in str(err)
