"""Protocols: the publisher's split kept, folds moved without reloading, validation never the test."""
from __future__ import annotations

import numpy as np
import pytest

from fernb.data.core import FERData
from fernb.data.folds import subject_folds
from fernb.data.protocols import apply_protocol, check_protocol, describe_protocol
from fernb.labels import SEVEN

from conftest import tiny_faces


def _fold_data(k=5, people=10, per_person=7):
    subjects = np.repeat([f"P{i:02d}" for i in range(people)], per_person)
    folds = subject_folds(subjects, k=k, seed=0)
    n = len(subjects)
    rng = np.random.default_rng(0)
    from fernb.data.folds import fold_splits

    return FERData(name="kdef", images=rng.integers(0, 255, (n, 8, 8), dtype=np.uint8), labels=np.arange(n) % 7,
                   split=fold_splits(folds, 0), classes=SEVEN, source_ids=[f"img{i}" for i in range(n)],
                   extras={"subject": subjects, "fold": folds})


def test_fold_dataset_moves_its_test_fold():
    data = _fold_data()
    for test_fold in range(5):
        moved = apply_protocol(data, test_fold)
        folds = moved.extras["fold"]
        assert set(folds[moved.split == "test"]) == {test_fold}
        assert set(folds[moved.split == "val"]) == {(test_fold + 1) % 5}
        assert set(folds[moved.split == "train"]) == set(range(5)) - {test_fold, (test_fold + 1) % 5}
        sides = {s: set(moved.extras["subject"][moved.split == s]) for s in ("train", "val", "test")}
        assert not (sides["train"] & sides["test"]) and not (sides["val"] & sides["test"])
    info = describe_protocol(apply_protocol(data, 2))
    assert info["kind"] == "subject-disjoint 5-fold cross-validation" and info["test_fold"] == 2
    assert sum(info["sizes"].values()) == len(data)


def test_publisher_split_is_kept_and_a_fold_for_it_refused():
    data = tiny_faces()
    assert apply_protocol(data) is data
    with pytest.raises(ValueError, match="no folds"):
        apply_protocol(data, 1)
    assert describe_protocol(data)["kind"] == "the publisher's split"


def test_validation_that_is_also_test_is_refused():
    data = tiny_faces()
    ids = data.source_ids.copy()
    first_val, first_test = np.flatnonzero(data.split == "val")[0], np.flatnonzero(data.split == "test")[0]
    ids[first_test] = ids[first_val]
    leaky = FERData(name="tiny", images=data.images, labels=data.labels, split=data.split, classes=data.classes,
                    source_ids=ids)
    with pytest.raises(ValueError, match="both val and test"):
        check_protocol(leaky)
    no_val = FERData(name="tiny", images=data.images, labels=data.labels,
                     split=np.where(data.split == "val", "train", data.split), classes=data.classes,
                     source_ids=data.source_ids)
    with pytest.raises(ValueError, match=r"\['val'\] are empty"):
        check_protocol(no_val)
