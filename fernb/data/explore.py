"""What is in a dataset: class balance, pixel statistics, duplicates and near-blank images.

These are the checks a careful reader runs before training on FER data. FER2013 is known
to hold near-blank images and byte-identical duplicates, some of them across the
train/test boundary (test leakage) and some with conflicting labels; notebook 00 counts
them instead of assuming they are absent.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from fernb.data.core import SPLITS, FERData
from fernb.faces.pose import POSE_THRESHOLDS
from fernb.labels import FERPLUS_TO_CANONICAL, FERPLUS_VOTES


def class_distribution(data: FERData) -> pd.DataFrame:
    """Long table: one row per (split, class) with its count and share of the split.

    The ``{split, class, count, fraction}`` shape is what ``dvc plots`` draws as bars.
    """
    counts = data.counts()
    rows = []
    for split in SPLITS:
        total = int(counts[split].sum())
        for cls in data.classes:
            n = int(counts.loc[cls, split])
            rows.append({"split": split, "class": cls, "count": n, "fraction": n / total if total else 0.0})
    return pd.DataFrame(rows)


def imbalance_ratio(data: FERData, split: str = "train") -> float:
    """Largest over smallest non-empty class count in ``split`` (1.0 = balanced)."""
    counts = data.counts()[split]
    counts = counts[counts > 0]
    return float(counts.max() / counts.min()) if len(counts) else float("nan")


def pixel_statistics(data: FERData) -> pd.DataFrame:
    """Per split: mean and standard deviation of pixel intensity (0–1 scale).

    These are the normalisation constants a trainer would use; they are computed on the
    training split only when used for normalisation, but shown per split here so that a
    shift between splits is visible.
    """
    rows = []
    for split in SPLITS:
        images = data.images[data.split == split]
        if len(images) == 0:
            continue
        pixels = images.reshape(len(images), -1).astype(np.float64) / 255.0
        rows.append({
            "split": split,
            "images": len(images),
            "mean": float(pixels.mean()),
            "std": float(pixels.std()),
            "image_mean_min": float(pixels.mean(1).min()),
            "image_mean_max": float(pixels.mean(1).max()),
        })
    return pd.DataFrame(rows).set_index("split")


def image_std(data: FERData) -> np.ndarray:
    """Per-image standard deviation of pixel values (0–255 scale)."""
    flat = data.images.reshape(len(data), -1)
    out = np.empty(len(data), dtype=np.float32)
    for start in range(0, len(data), 4096):  # chunks keep float64 copies small
        out[start:start + 4096] = flat[start:start + 4096].astype(np.float64).std(1)
    return out


def near_blank(data: FERData, std_threshold: float = 2.0) -> np.ndarray:
    """Indices of images whose pixel standard deviation (0–255) is below ``std_threshold``.

    A face image has texture; an almost uniform image (FER2013 holds a few all-black or
    all-grey ones) carries no expression and only adds label noise.
    """
    return np.flatnonzero(image_std(data) < std_threshold)


def image_hashes(data: FERData) -> np.ndarray:
    """SHA-1 of every image's raw pixels (hex strings): equal hash = byte-identical pixels."""
    images = np.ascontiguousarray(data.images)
    return np.array([hashlib.sha1(img.tobytes()).hexdigest() for img in images])


def find_duplicates(data: FERData) -> pd.DataFrame:
    """Groups of byte-identical images.

    Returns one row per duplicated image: ``group`` (0..G-1), ``index`` into ``data``,
    ``split``, ``label`` (class name), ``source_id``, and per group whether it spans
    several splits (``cross_split``, i.e. test leakage) or several labels
    (``label_conflict``, i.e. the same pixels annotated two ways).
    """
    hashes = image_hashes(data)
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    dup = np.flatnonzero(counts[inverse] > 1)
    columns = ["group", "index", "split", "label", "source_id", "cross_split", "label_conflict"]
    if len(dup) == 0:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame({
        "hash_group": inverse[dup],
        "index": dup,
        "split": data.split[dup],
        "label": np.asarray(data.classes)[data.labels[dup]],
        "source_id": data.source_ids[dup],
    })
    frame["group"] = pd.factorize(frame["hash_group"], sort=True)[0]
    frame["cross_split"] = frame.groupby("group")["split"].transform("nunique") > 1
    frame["label_conflict"] = frame.groupby("group")["label"].transform("nunique") > 1
    return frame[columns].sort_values(["group", "index"]).reset_index(drop=True)


def duplicate_summary(duplicates: pd.DataFrame) -> dict[str, int]:
    """Counts that matter from :func:`find_duplicates`: groups, images, leakage, conflicts."""
    groups = duplicates.groupby("group").first() if len(duplicates) else duplicates
    return {
        "duplicate_groups": int(len(groups)),
        "duplicate_images": int(len(duplicates)),
        "redundant_copies": int(len(duplicates) - len(groups)),
        "cross_split_groups": int(groups["cross_split"].sum()) if len(groups) else 0,
        "label_conflict_groups": int(groups["label_conflict"].sum()) if len(groups) else 0,
    }


def mean_faces(data: FERData, split: str = "train") -> np.ndarray:
    """Per-class mean image of ``split``, float32 ``(K, H, W[, 3])`` in 0–255 (NaN for empty classes)."""
    mask = data.split == split
    out = np.full((len(data.classes), *data.images.shape[1:]), np.nan, dtype=np.float32)
    for k in range(len(data.classes)):
        sel = mask & (data.labels == k)
        if sel.any():
            out[k] = data.images[sel].astype(np.float64).mean(0)
    return out


def pose_table(data: FERData, bins=(-97.5, -67.5, -22.5, 22.5, 67.5, 97.5)) -> pd.DataFrame:
    """Samples per yaw bin (the KDEF poses −90/−45/0/45/90°) and split; empty if pose is unknown."""
    known = ~np.isnan(data.pose)
    if not known.any():
        return pd.DataFrame(columns=["split", "yaw_bin", "count"])
    centres = [int(round((a + b) / 2 / 45) * 45) for a, b in zip(bins[:-1], bins[1:])]
    which = np.digitize(data.pose[known], bins) - 1
    frame = pd.DataFrame({"split": data.split[known], "yaw_bin": np.asarray(centres)[np.clip(which, 0, len(centres) - 1)]})
    table = frame.groupby(["split", "yaw_bin"]).size().rename("count").reset_index()
    return table


def linear_probe(data: FERData, n_components: int = 100, max_train: int = 10000, seed: int = 0) -> dict[str, float]:
    """How hard is the task for a linear model on raw pixels? Fit on train, score on val.

    PCA to ``n_components`` then multinomial logistic regression (scikit-learn), trained on
    at most ``max_train`` training images and evaluated on the validation split (never the
    test split: this is a data-exploration number, not a result). Returns val accuracy,
    balanced accuracy, and the share of the majority class (what always guessing it scores).
    """
    # deferred: scikit-learn's import costs seconds and only the probe needs it
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = np.flatnonzero(data.split == "train")
    val = np.flatnonzero(data.split == "val")
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"{data.name}: the linear probe needs train and val samples, got {len(train)} and {len(val)}")
    rng = np.random.default_rng(seed)
    if len(train) > max_train:
        train = np.sort(rng.choice(train, size=max_train, replace=False))
    x = lambda idx: data.images[idx].reshape(len(idx), -1).astype(np.float32) / 255.0  # noqa: E731
    n_components = min(n_components, len(train) - 1, x(train[:1]).shape[1])
    model = make_pipeline(PCA(n_components=n_components, random_state=seed), StandardScaler(),
                          LogisticRegression(max_iter=2000))
    model.fit(x(train), data.labels[train])
    pred = model.predict(x(val))
    truth = data.labels[val]
    return {
        "val_accuracy": float(accuracy_score(truth, pred)),
        "val_balanced_accuracy": float(balanced_accuracy_score(truth, pred)),
        "majority_class_share": float(np.bincount(truth).max() / len(truth)),
        "chance_balanced": 1.0 / len(np.unique(data.labels[train])),
        "train_images": int(len(train)),
    }


def vote_agreement(data: FERData) -> pd.DataFrame:
    """FERPlus: per class, the mean share of annotators who chose the kept label.

    Low agreement marks the classes where even humans disagree (FERPlus' reason to exist).
    Empty when the dataset has no votes.
    """
    if data.votes is None:
        return pd.DataFrame(columns=["class", "images", "mean_agreement"])
    column = {FERPLUS_TO_CANONICAL[name]: j for j, name in enumerate(FERPLUS_VOTES) if name in FERPLUS_TO_CANONICAL}
    votes = data.votes.astype(np.float64)
    total = votes.sum(1)
    chosen = votes[np.arange(len(data)), [column[data.classes[k]] for k in data.labels]]
    share = np.divide(chosen, total, out=np.zeros_like(chosen), where=total > 0)
    frame = pd.DataFrame({"class": np.asarray(data.classes)[data.labels], "share": share})
    out = frame.groupby("class", sort=False)["share"].agg(images="size", mean_agreement="mean").reset_index()
    return out.set_index("class").reindex(list(data.classes)).reset_index()


def example_duplicate_group(duplicates: pd.DataFrame) -> pd.DataFrame:
    """The most instructive duplicate group to show: cross-split with conflicting labels
    first, then cross-split, then label conflict, then any (lowest group id among equals).
    Empty when there are no duplicates."""
    if len(duplicates) == 0:
        return duplicates
    groups = duplicates.groupby("group")[["cross_split", "label_conflict"]].first()
    score = 2 * groups["cross_split"].astype(int) + groups["label_conflict"].astype(int)
    best = score[score == score.max()].index.min()
    return duplicates[duplicates["group"] == best]


def one_per_pose_bin(data: FERData, step: float = 45.0, seed: int = 0) -> list[int]:
    """One random sample index per yaw bin (yaw rounded to a multiple of ``step``), ordered
    from most negative to most positive yaw; empty when pose is unknown."""
    rng = np.random.default_rng(seed)
    bins = np.round(data.pose / step) * step
    known = ~np.isnan(bins)
    return [int(rng.choice(np.flatnonzero(bins == b))) for b in np.unique(bins[known])]


def pose_subset(data, min_abs_yaw: float, split: str | None = "test"):
    """The samples of ``split`` (all when None) whose |yaw| exceeds ``min_abs_yaw`` degrees.

    Samples of unknown pose (NaN) are never in a pose subset.
    """
    yaw = np.asarray(data.pose, dtype=np.float64)
    mask = np.abs(np.nan_to_num(yaw, nan=0.0)) > float(min_abs_yaw)
    mask &= np.isfinite(yaw)
    if split is not None:
        mask &= data.split == split
    return data.subset(mask)


def pose_subsets_table(data, thresholds=POSE_THRESHOLDS):
    """Per split: images, images of known yaw and the size of each |yaw| > t subset, as a DataFrame."""
    yaw = np.asarray(data.pose, dtype=np.float64)
    source = data.extras.get("pose_source")
    rows = []
    for s in SPLITS:
        in_split = data.split == s
        row = {"split": s, "images": int(in_split.sum()), "known_yaw": int((in_split & np.isfinite(yaw)).sum())}
        for t in thresholds:
            row[f"yaw_gt_{t:g}"] = len(pose_subset(data, t, split=s))
        if source is not None:
            kinds, counts = np.unique(np.asarray(source)[in_split], return_counts=True)
            row["pose_source"] = ", ".join(f"{k} {c}" for k, c in zip(kinds, counts))
        rows.append(row)
    return pd.DataFrame(rows)
