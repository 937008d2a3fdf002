"""Subject-disjoint folds and the error a wrongly laid-out dataset folder gets.

KDEF and CK+ ship no train/test split; the literature evaluates them with k folds in which
no person appears on both sides (else a model can recognise the *person* and their way of
posing instead of the expression). :func:`subject_folds` assigns whole subjects to folds,
balancing the number of images per fold; :func:`fold_splits` turns one choice of test fold
into train/val/test, the next fold serving as validation. RAF-DB and AffectNet ship a test
set but no validation set: :func:`carve_val` draws a stratified one from train.
:func:`stratified_subset` draws a smaller set in the class proportions (the trainer's
``max_train``, notebook 01's feature probe).
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from fernb.data.core import SPLITS, DatasetFormatError
from fernb.data.photos import FaceRecord

__all__ = ["subject_folds", "fold_splits", "carve_val", "stratified_subset", "split_counts", "layout_error"]


def subject_folds(subjects, k: int = 5, seed: int = 0) -> np.ndarray:
    """A fold index (0..k-1) per sample; all samples of one subject share a fold.

    Subjects are shuffled with ``seed`` and then placed, largest first, into the fold that
    holds the fewest images so far, so folds differ in size by at most one subject's images.
    """
    subjects = np.asarray(subjects, dtype=str)
    if k < 2:
        raise ValueError(f"need at least 2 folds, got k={k}")
    names, counts = np.unique(subjects, return_counts=True)
    if len(names) < k:
        raise ValueError(f"{len(names)} subjects cannot fill {k} subject-disjoint folds")
    order = np.random.default_rng(seed).permutation(len(names))
    order = order[np.argsort(-counts[order], kind="stable")]
    load = np.zeros(k, dtype=np.int64)
    fold_of = {}
    for i in order:
        f = int(np.argmin(load))
        fold_of[names[i]] = f
        load[f] += counts[i]
    return np.array([fold_of[s] for s in subjects], dtype=np.int64)


def fold_splits(folds, test_fold: int = 0, val_fold: int | None = None) -> np.ndarray:
    """``"test"`` for ``test_fold``, ``"val"`` for ``val_fold`` (default: the next fold), else ``"train"``."""
    folds = np.asarray(folds, dtype=np.int64)
    k = int(folds.max()) + 1 if len(folds) else 0
    if not 0 <= test_fold < k:
        raise ValueError(f"test_fold must be in 0..{k - 1}, got {test_fold}")
    val_fold = (test_fold + 1) % k if val_fold is None else val_fold
    if val_fold == test_fold or not 0 <= val_fold < k:
        raise ValueError(f"val_fold must be another fold in 0..{k - 1}, got {val_fold}")
    if k < 3:
        raise ValueError(f"{k} folds leave no fold for training once test and validation take one each; use k >= 3")
    return np.where(folds == test_fold, "test", np.where(folds == val_fold, "val", "train"))


def carve_val(records: list[FaceRecord], val_fraction: float, seed: int, classes: tuple[str, ...] = ()) -> dict:
    """Move a stratified, seeded ``val_fraction`` of the ``"train"`` records to ``"val"`` (in place).

    For the datasets that ship no validation split (RAF-DB, AffectNet). Per class, the train
    records are ordered by ``source_id`` (so the draw does not depend on listing order), and
    ``round(val_fraction * n)`` of them, at most ``n - 1`` (train keeps every class it has),
    are drawn with ``numpy.random.default_rng(seed)``, classes in index order.

    Returns a description for ``meta["val"]``: where val comes from, the fraction, the seed
    and the number of records moved per class (keyed by name when ``classes`` is given,
    else by the index as a string, so that it survives JSON).
    """
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[FaceRecord]] = {}
    for rec in records:
        if rec.split == "train":
            by_class.setdefault(rec.label, []).append(rec)
    moved: dict[int, int] = {}
    for label in sorted(by_class):
        group = sorted(by_class[label], key=lambda r: r.source_id)
        n = len(group)
        k = min(int(np.floor(val_fraction * n + 0.5)), n - 1)
        for j in rng.permutation(n)[:k]:
            group[j].split = "val"
        moved[label] = k
    per_class = {(classes[c] if classes else str(c)): int(k) for c, k in moved.items()}
    return {"from": "train", "fraction": float(val_fraction), "seed": int(seed), "stratified_by": "label",
            "per_class": per_class, "size": int(sum(per_class.values()))}


def split_counts(records: list[FaceRecord]) -> dict[str, int]:
    """Records per split, every split named."""
    counts = Counter(r.split for r in records)
    return {s: int(counts.get(s, 0)) for s in SPLITS}


def layout_error(dataset: str, where: str, problem: str, expected_tree: str) -> DatasetFormatError:
    """A :class:`DatasetFormatError` that names the place, what is wrong and the tree expected there."""
    tree = "\n".join("    " + line for line in expected_tree.strip("\n").splitlines())
    return DatasetFormatError(f"{where}: {problem}. {dataset} is expected in its published layout:\n{tree}")


def stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices drawn per class in proportion to the class sizes (largest remainders), and
    at least one of every class: when the minimum of one pushes the total over ``n``, the
    largest classes give the extra back, so the total is ``n`` (or the class count, when
    ``n`` is smaller than that)."""
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    share = counts * n / len(labels)
    take = np.maximum(1, np.floor(share)).astype(int)
    order = np.argsort(-(share - take))
    for i in order[: max(0, n - int(take.sum()))]:
        take[i] += 1
    while take.sum() > n and (take > 1).any():   # the one-per-class minimum overshot n
        take[int(np.argmax(np.where(take > 1, take - share, -np.inf)))] -= 1
    picked = [rng.choice(np.flatnonzero(labels == c), size=min(t, cnt), replace=False)
              for c, t, cnt in zip(classes, take, counts)]
    return np.sort(np.concatenate(picked))
