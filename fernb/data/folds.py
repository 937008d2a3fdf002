"""Subject-disjoint folds and the error a wrongly laid-out dataset folder gets.

KDEF and CK+ ship no train/test split; the literature evaluates them with k folds in which
no person appears on both sides (else a model can recognise the *person* and their way of
posing instead of the expression). :func:`subject_folds` assigns whole subjects to folds,
balancing the number of images per fold; :func:`fold_splits` turns one choice of test fold
into train/val/test, the next fold serving as validation.
"""
from __future__ import annotations

import numpy as np

from fernb.data.core import DatasetFormatError

__all__ = ["subject_folds", "fold_splits", "layout_error"]


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


def layout_error(dataset: str, where: str, problem: str, expected_tree: str) -> DatasetFormatError:
    """A :class:`DatasetFormatError` that names the place, what is wrong and the tree expected there."""
    tree = "\n".join("    " + line for line in expected_tree.strip("\n").splitlines())
    return DatasetFormatError(f"{where}: {problem}. {dataset} is expected in its published layout:\n{tree}")
