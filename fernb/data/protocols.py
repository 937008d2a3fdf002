"""Evaluation protocols: which samples train, which select the model, which are reported.

Every dataset reaches the trainer as one :class:`~fernb.data.FERData` whose ``split`` says
``train`` / ``val`` / ``test``. What those mean depends on the publisher:

==========  =====================  =====================  ==========================
dataset     train                  val (model selection)  test (reported)
==========  =====================  =====================  ==========================
fer2013     Training               PublicTest             PrivateTest
ferplus     FER2013Train           FER2013Valid           FER2013Test
synthfer    train                  val                    test
rafdb       train minus a          a stratified carve     the publisher's test
affectnet   stratified carve       of train               the publisher's validation
kdef, ckplus  k−2 folds            fold ``test_fold+1``   fold ``test_fold``
facial_expressions  —              —                      every photo (test-only)
==========  =====================  =====================  ==========================

KDEF and CK+ ship no test split, so they are read with *subject-disjoint* folds (nobody
appears in two folds); :func:`apply_protocol` moves the test fold without reloading. The
validation split drives learning-rate decay, early stopping and checkpoint selection and is
never the one reported: LANMSFF's official code reports accuracy on the fold that also drove
its early stopping, which this workbook does not repeat. :func:`check_protocol` refuses data
in which validation and test share a sample or a subject.

A *test-only* dataset (:data:`TEST_ONLY`, or ``meta["test_only"]``: facial_expressions ships
no split, so every sample is ``test``) is never trained on: :func:`apply_protocol` and
:func:`check_protocol` refuse it with a message saying so, unless called with
``training=False`` (notebook 04 scoring it as a cross-dataset target).

A fold dataset that notebook 04 scores as a *zero-shot target* (a model trained on another
dataset) is read whole: :func:`every_fold_as_test` puts every sample in ``test``
(:func:`describe_protocol`: "all N images (zero-shot: every fold)"); the model saw none of its
folds, so one fold would waste the rest and widen the interval
(:func:`fernb.evaluate.transfer.scored_split` decides when). Such a view is never trained on.
"""
from __future__ import annotations

import numpy as np

from fernb.data.core import FERData
from fernb.data.folds import fold_splits

__all__ = ["PUBLISHER_SPLITS", "FOLD_DATASETS", "TEST_ONLY", "EVERY_FOLD", "is_test_only", "apply_protocol",
           "check_protocol", "every_fold_as_test", "describe_protocol"]

FOLD_DATASETS: tuple[str, ...] = ("kdef", "ckplus")
# Datasets that ship no split and are read whole as a test set: a target, never a training set.
TEST_ONLY: tuple[str, ...] = ("facial_expressions",)
# meta key of a fold dataset read whole as a zero-shot target (:func:`every_fold_as_test`)
EVERY_FOLD = "zero_shot_every_fold"
PUBLISHER_SPLITS: dict[str, dict[str, str]] = {
    "fer2013": {"train": "Training", "val": "PublicTest", "test": "PrivateTest"},
    "ferplus": {"train": "FER2013Train", "val": "FER2013Valid", "test": "FER2013Test"},
    "synthfer": {"train": "train", "val": "val", "test": "test"},
    "rafdb": {"train": "train (less the carved validation)", "val": "stratified carve of train",
              "test": "the publisher's test"},
    "affectnet": {"train": "train (less the carved validation)", "val": "stratified carve of train",
                  "test": "the publisher's validation set (its test set is not public)"},
    "facial_expressions": {"train": "none (test-only)", "val": "none (test-only)",
                           "test": "every photo (the publisher ships no split)"},
}


def is_test_only(data: FERData) -> bool:
    """Whether ``data`` is a test-only dataset (:data:`TEST_ONLY` by name, or ``meta["test_only"]``)."""
    return data.name in TEST_ONLY or bool(data.meta.get("test_only"))


def _folds(data: FERData) -> np.ndarray | None:
    folds = data.extras.get("fold")
    if folds is None or len(folds) == 0 or int(np.min(folds)) < 0:
        return None
    return np.asarray(folds, dtype=np.int64)


def apply_protocol(data: FERData, test_fold: int | None = None, *, training: bool = True) -> FERData:
    """``data`` with the split its protocol prescribes, checked by :func:`check_protocol`.

    For a fold dataset (KDEF, CK+: ``extras["fold"]``), ``test_fold`` picks the test fold
    and the next fold validates; None keeps the split the store was written with. Other
    datasets keep their publisher's split, and a ``test_fold`` for them is an error.
    ``training=False`` is for data that will only be scored: a test-only dataset
    (:func:`is_test_only`) is then accepted; with ``training=True`` it is refused.
    """
    folds = _folds(data)
    if test_fold is not None:
        if is_test_only(data):
            raise ValueError(f"{data.name} is test-only (no folds, every sample is test); test_fold must be None "
                             f"(got {test_fold})")
        if folds is None:
            raise ValueError(f"{data.name} has a publisher's test split and no folds; test_fold must be None "
                             f"(got {test_fold})")
        meta = {k: v for k, v in data.meta.items() if k != EVERY_FOLD}
        data = FERData(name=data.name, images=data.images, labels=data.labels,
                       split=fold_splits(folds, int(test_fold)), classes=data.classes,
                       source_ids=data.source_ids, pose=data.pose, landmarks=data.landmarks,
                       votes=data.votes, extras=data.extras, meta={**meta, "test_fold": int(test_fold)})
    check_protocol(data, training=training)
    return data


def check_protocol(data: FERData, *, training: bool = True) -> None:
    """Raise ValueError when training cannot be honest on ``data``: an empty train/val/test
    split, a sample (source id) in both validation and test, or a subject on two sides.

    A test-only dataset (:func:`is_test_only`) is refused for training with a message saying
    so; with ``training=False`` it passes when it holds test samples and nothing else.
    """
    sizes = {s: int((data.split == s).sum()) for s in ("train", "val", "test")}
    if data.meta.get(EVERY_FOLD):
        if training:
            raise ValueError(f"{data.name}: every fold is in 'test' here (a zero-shot target of notebook 04, "
                             f"{sizes['test']} samples); train on its folds instead (apply_protocol with a test_fold)")
        return
    if is_test_only(data):
        if training:
            raise ValueError(f"{data.name} is a test-only dataset (it ships no split: all {sizes['test']} samples are "
                             "in 'test'); it cannot be trained on. Train on another dataset (data.dataset) and score "
                             "this one as a cross-dataset target (notebook 04)")
        if sizes["test"] == 0 or sizes["test"] != len(data):
            raise ValueError(f"{data.name} is test-only, but its splits are {sizes}; every sample must be in 'test'")
        return
    empty = [s for s, n in sizes.items() if n == 0]
    if empty:
        raise ValueError(f"{data.name}: split(s) {empty} are empty ({sizes}); training needs train, a "
                         "validation split for model selection and a separate test split")
    val_ids = set(data.source_ids[data.split == "val"].tolist())
    shared = val_ids & set(data.source_ids[data.split == "test"].tolist())
    if shared:
        raise ValueError(f"{data.name}: {len(shared)} samples are in both val and test (e.g. {sorted(shared)[:3]}); "
                         "the validation split selects the model, so it must not be the reported one")
    subjects = data.extras.get("subject")
    if subjects is not None and _folds(data) is not None:
        sides = {s: set(subjects[data.split == s].tolist()) - {""} for s in ("train", "val", "test")}
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            both = sides[a] & sides[b]
            if both:
                raise ValueError(f"{data.name}: subjects {sorted(both)[:3]} appear in both {a} and {b}; "
                                 "the folds must be subject-disjoint")


def every_fold_as_test(data: FERData) -> FERData:
    """``data`` with every sample in ``test`` and ``meta[EVERY_FOLD]`` set: a fold dataset
    (:data:`FOLD_DATASETS`) scored whole as a zero-shot target of notebook 04
    (when: :func:`fernb.evaluate.transfer.scored_split`). The folds stay in ``extras``, so
    :func:`apply_protocol` with a ``test_fold`` gives the training protocol back;
    :func:`check_protocol` refuses to train on this view."""
    meta = {k: v for k, v in data.meta.items() if k != "test_fold"}
    return FERData(name=data.name, images=data.images, labels=data.labels, split=np.full(len(data), "test"),
                   classes=data.classes, source_ids=data.source_ids, pose=data.pose, landmarks=data.landmarks,
                   votes=data.votes, extras=data.extras, meta={**meta, EVERY_FOLD: True})


def describe_protocol(data: FERData) -> dict:
    """A JSON-ready account of the protocol: sizes, what each split is, the fold when there is one."""
    sizes = {s: int((data.split == s).sum()) for s in ("train", "val", "test")}
    folds = _folds(data)
    if data.meta.get(EVERY_FOLD):
        whole = {"dataset": data.name, "kind": "zero-shot target: every fold scored (none trained on)", "sizes": sizes,
                 "splits": {"train": "none (zero-shot target)", "val": "none (zero-shot target)",
                            "test": f"all {len(data)} images (zero-shot: every fold)"}}
        return whole if folds is None else {**whole, "k": int(folds.max()) + 1}
    if folds is not None:
        k = int(folds.max()) + 1
        test_folds = sorted(set(folds[data.split == "test"].tolist()))
        val_folds = sorted(set(folds[data.split == "val"].tolist()))
        meaning = {"train": f"{k - 2} folds", "val": f"fold {val_folds}", "test": f"fold {test_folds}"}
        return {"dataset": data.name, "kind": f"subject-disjoint {k}-fold cross-validation", "sizes": sizes,
                "splits": meaning, "test_fold": test_folds[0] if len(test_folds) == 1 else test_folds, "k": k}
    if is_test_only(data):
        return {"dataset": data.name, "kind": "test-only (no training or validation split)", "sizes": sizes,
                "splits": PUBLISHER_SPLITS.get(data.name, {"train": "none", "val": "none", "test": "every sample"})}
    meaning = PUBLISHER_SPLITS.get(data.name, {"train": "train", "val": "val", "test": "test"})
    return {"dataset": data.name, "kind": "the publisher's split", "sizes": sizes, "splits": meaning}
