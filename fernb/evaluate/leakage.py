"""Test leakage: which test images the training split already holds, and accuracy without them.

FER2013's splits share pictures. :func:`fernb.data.explore.find_duplicates` (notebook 00)
finds byte-identical images across train/val/test by the SHA-1 of their pixels; the same
photograph also comes back re-encoded, brightened, shifted by a pixel or blurred, which
SHA-1 cannot see. A model scored on a test image it was trained on is scored on recall, so
every real test accuracy is reported twice: on the standard test split and on its *clean*
subset, the test images with neither an exact nor a near duplicate in the training split.

Near duplicates are found with the perceptual hash pHash (``imagehash.phash``: 32×32
grey, 2-D DCT, the 8×8 lowest frequencies against their median = 64 bits) and the Hamming
distance between hashes; :data:`NEAR_DISTANCE`, the largest distance that counts as the
same photograph, is measured, not guessed (``benchmarks/leakage_threshold.py``).

- :func:`perceptual_hashes` — one ``uint64`` pHash per image;
- :func:`hamming` — pairwise Hamming distances between two hash arrays;
- :func:`nearest_train_distance` — every image's distance to its nearest training image;
- :func:`leakage_table` / :func:`leakage_summary` — the flags per test image and their counts;
- :func:`accuracy_standard_and_clean` — accuracy on all test images and on the clean ones,
  with bootstrap intervals and the difference from one shared resampling.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import imagehash
import numpy as np
import pandas as pd
from PIL import Image

from fernb.data.core import SPLITS, FERData
from fernb.data.explore import image_hashes
from fernb.evaluate.stats import bootstrap_index, bootstrap_metric, percentile_interval
from fernb.papers.datasets import LEAKY_DATASETS

__all__ = ["NEAR_DISTANCE", "HASH_BITS", "LEAKY_DATASETS", "NOT_MEASURED", "perceptual_hashes", "hamming", "nearest_train_distance",
           "leakage_table", "leakage_summary", "accuracy_standard_and_clean"]

# LEAKY_DATASETS (fer2013, ferplus; a dataset fact, fernb.papers.datasets): the datasets whose splits share
# images and for which NEAR_DISTANCE was measured; the training notebooks report the leak-free subset for these.
NOT_MEASURED = ("{name}: no leak-free subset is reported. The perceptual-hash threshold was measured on FER2013's "
                "48-px photographs (FERPlus holds the same images); on other data it is not calibrated (on SynthFER, "
                "whose faces are rendered afresh from random draws so that no test face is a copy of a training "
                "face, it would call faces drawn on one template near copies).")

HASH_BITS = 64   # imagehash.phash with hash_size=8: an 8x8 block of DCT coefficients

NEAR_DISTANCE = 6
"""The largest pHash Hamming distance (of 64 bits) at which two images count as the same photograph.

Measured on FER2013 (``fer2013_msambare.zip``, 48×48 grey; ``benchmarks/leakage_threshold.py``
prints these numbers):

- near copies of 3,000 training images, the share within 6 of their original (the largest
  distance seen): JPEG quality 75 1.000 (4), JPEG 50 1.000 (6), brightness +10 1.000 (6),
  contrast ×0.9 1.000 (4), Gaussian blur σ 0.8 1.000 (4), σ 1.0 1.000 (4). Geometry moves a
  48-px pHash more: shifted 1 px 0.728 (0.914 within 8, 0.980 within 10), cropped 1 px and
  resized back 0.763, shifted 2 px 0.104;
- unrelated images: random pairs of training images lie a median 30 apart (0.1st percentile
  16), 3e-6 of pairs within 6 (4.5e-6 within 8, 2.7e-5 within 10). What matters is a test
  image's *nearest* of 28,709, measured on the 3,589 test images mirrored left-right (the same
  faces, no copy expected): 29 (0.8 %) have a training image within 6, 151 (4.2 %) within 8,
  670 (18.7 %) within 10. The 29 are an upper bound: FER2013 holds mirrored copies too (about
  a third of them, by eye);
- test → nearest training image, per distance 0/2/4/6/8/10/12 (a hash split at its median has
  32 of its 64 bits set, so distances are even): 310/45/85/98/195/453/868 images, against the
  mirrored null's 0/5/4/20/122/519/1053. The excess estimates the share of same-photo pairs:
  1.00/0.89/0.95/0.80/0.37/0/0.

6 is the largest distance up to which test pairs are more often the same photo than chance
(count > 2 × null at every distance). By eye, all 36 sampled pairs at 0 (not byte-identical),
2 and 4 are the same photograph, 10 of 12 at 6, about 11 of 24 at 8 and none of 12 at 10. At 6
every photometric copy is caught and about 0.8 % of the test images are flagged by chance; 8
would also catch 91 % of 1-px shifts but flag 4.2 % by chance, removing more unrelated images
(≈122) than copies (≈73) at that one distance. ``leakage_table(max_distance=8)`` gives that reading.
"""

# Rows of the left operand per block in hamming(): bounds the uint64 XOR block at about
# 32 MB whatever the right operand's length (3,589 test x 28,709 train hashes: 146 rows per block).
_HAMMING_CELLS = 4_000_000
_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def perceptual_hashes(images: np.ndarray) -> np.ndarray:
    """The 64-bit pHash of every image, packed into ``uint64``.

    ``images``: uint8 ``(N, H, W)`` grey or ``(N, H, W, C)``; each is handed to
    ``imagehash.phash`` (``hash_size=8``) as a PIL image, which converts it to grey
    itself. The hash's 8×8 boolean block is read row by row (``hash.flatten()``, the DCT's
    vertical frequency first) from the most significant bit down: bit 63 is coefficient
    (0, 0). This is the order of imagehash's own hex string, so
    ``int(str(imagehash.phash(img)), 16)`` equals our value, and the Hamming distance
    between two values equals imagehash's ``h1 - h2``.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C), got shape {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {images.dtype}")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    bits = np.empty((len(images), HASH_BITS), dtype=bool)
    for i, image in enumerate(images):
        bits[i] = imagehash.phash(Image.fromarray(np.ascontiguousarray(image)), hash_size=8).hash.ravel()
    # packbits is most-significant-bit first; eight big-endian bytes read as one integer
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def _as_hashes(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a one-dimensional array of hashes, got shape {arr.shape}")
    if arr.dtype != np.uint64:
        if not np.issubdtype(arr.dtype, np.integer) or (arr.size and arr.min() < 0):
            raise ValueError(f"{name} must hold uint64 hashes, got dtype {arr.dtype}")
        arr = arr.astype(np.uint64)
    return arr


def _popcount(words: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (numpy >= 2.0's bitwise_count, else a byte lookup table)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words)
    return _POPCOUNT8[words.view(np.uint8)].reshape(*words.shape, 8).sum(-1, dtype=np.uint8)


def _hamming_blocks(a: np.ndarray, b: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, distances of a block of ``a``'s rows to all of ``b``), block by block."""
    rows = max(1, _HAMMING_CELLS // max(1, len(b)))
    for start in range(0, len(a), rows):
        yield start, _popcount(a[start:start + rows, None] ^ b[None, :])


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Hamming distances: ``out[i, j]`` = bits that differ between ``a[i]`` and ``b[j]``.

    ``a``, ``b``: one-dimensional uint64 hash arrays (:func:`perceptual_hashes`). Returns
    uint8 ``(len(a), len(b))`` (3,589 × 28,709 is 103 MB); the XOR runs in blocks of ``a``'s
    rows so that its uint64 intermediate stays near 32 MB.
    """
    a, b = _as_hashes(a, "a"), _as_hashes(b, "b")
    out = np.empty((len(a), len(b)), dtype=np.uint8)
    for start, block in _hamming_blocks(a, b):
        out[start:start + len(block)] = block
    return out


def _split_mask(data: FERData, split: str) -> np.ndarray:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return data.split == split


def _nearest(query: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smallest Hamming distance of every ``query`` hash to ``reference``, and where it is."""
    distance = np.empty(len(query), dtype=np.int64)
    where = np.empty(len(query), dtype=np.int64)
    for start, block in _hamming_blocks(query, reference):
        at = block.argmin(1)
        where[start:start + len(block)] = at
        distance[start:start + len(block)] = block[np.arange(len(block)), at]
    return distance, where


def _data_hashes(data: FERData, hashes: np.ndarray | None) -> np.ndarray:
    if hashes is None:
        return perceptual_hashes(data.images)
    hashes = _as_hashes(hashes, "hashes")
    if len(hashes) != len(data):
        raise ValueError(f"hashes has {len(hashes)} values but {data.name} has {len(data)} images")
    return hashes


def _nearest_train(data: FERData, split: str, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if split == "train":
        raise ValueError("the training split is what the other splits are compared with; ask for val or test")
    train = np.flatnonzero(data.split == "train")
    if len(train) == 0:
        raise ValueError(f"{data.name} has no training images to compare {split!r} with")
    distance, at = _nearest(hashes[_split_mask(data, split)], hashes[train])
    return distance, train[at]


def nearest_train_distance(data: FERData, split: str = "test", hashes: np.ndarray | None = None) -> np.ndarray:
    """For every image of ``split`` (in ``data``'s order), the smallest pHash Hamming distance
    to any training image (0 to 64; a byte-identical copy is 0).

    ``hashes``: :func:`perceptual_hashes` of all of ``data`` when already computed.
    """
    return _nearest_train(data, split, _data_hashes(data, hashes))[0]


def leakage_table(data: FERData, max_distance: int = NEAR_DISTANCE, splits: Sequence[str] = ("test",),
                  hashes: np.ndarray | None = None) -> pd.DataFrame:
    """One row per image of ``splits``: is it already in the training split?

    Columns: ``index`` (into ``data``), ``split``, ``source_id``, ``label`` (class name),
    ``exact_in_train`` (byte-identical pixels to a training image, the SHA-1 of
    :func:`fernb.data.explore.image_hashes`), ``nearest_distance`` (pHash Hamming distance
    to the nearest training image), ``nearest_train`` (that image's index into ``data``;
    for an exact copy, the first byte-identical training image), ``near_in_train``
    (``nearest_distance <= max_distance``, or exact) and ``clean`` (neither).
    A copy within the same split, or between val and test, is not leakage from training
    and is not flagged.
    """
    if isinstance(splits, str):
        splits = (splits,)
    hashes = _data_hashes(data, hashes)
    sha = image_hashes(data)
    train = np.flatnonzero(data.split == "train")
    first_train_copy = dict(zip(sha[train][::-1], train[::-1]))   # reversed: the first one wins
    frames = []
    for split in splits:
        rows = np.flatnonzero(_split_mask(data, split))
        distance, nearest = _nearest_train(data, split, hashes)
        exact_at = np.array([first_train_copy.get(h, -1) for h in sha[rows]], dtype=np.int64)
        exact = exact_at >= 0
        nearest = np.where(exact, exact_at, nearest)
        distance = np.where(exact, 0, distance)
        near = exact | (distance <= max_distance)
        frames.append(pd.DataFrame({
            "index": rows, "split": data.split[rows], "source_id": data.source_ids[rows],
            "label": np.asarray(data.classes)[data.labels[rows]], "exact_in_train": exact,
            "nearest_distance": distance, "nearest_train": nearest, "near_in_train": near, "clean": ~near,
        }))
    return pd.concat(frames, ignore_index=True)


def leakage_summary(table: pd.DataFrame) -> dict:
    """Counts and fractions from :func:`leakage_table`: ``images``, ``exact`` (byte-identical
    to a training image), ``near_only`` (near but not exact), ``near`` (either) and ``clean``,
    each count with its ``*_fraction`` of ``images`` (NaN when there are none)."""
    n = int(len(table))
    counts = {"images": n, "exact": int(table["exact_in_train"].sum()),
              "near_only": int((table["near_in_train"] & ~table["exact_in_train"]).sum()),
              "near": int(table["near_in_train"].sum()), "clean": int(table["clean"].sum())}
    fractions = {f"{k}_fraction": (v / n if n else float("nan")) for k, v in counts.items() if k != "images"}
    return {**counts, **fractions}


def accuracy_standard_and_clean(labels, preds, clean_mask, n_boot: int = 2000, seed: int = 0,
                                confidence: float = 0.95) -> dict:
    """Accuracy on all test images and on the clean ones (no exact or near copy in train).

    ``labels``: ``(n,)``; ``preds``: ``(n,)`` or ``(seeds, n)``, runs of one model on the same
    images, whose accuracy is averaged over seeds; ``clean_mask``: ``(n,)`` booleans
    (``leakage_table(...)["clean"]`` in the same image order). Fractions, not percent.

    - ``all`` and ``clean``: the seed-mean accuracy with its percentile bootstrap interval over
      the images of that set (:func:`fernb.evaluate.stats.bootstrap_metric`; the clean subset
      is resampled as a test set of its own, ``n`` images), each ``{value, low, high, n}``;
    - ``difference``: clean − all, ``{value, low, high}``, from one shared resampling of all
      ``n`` test images (the ``all`` interval's own): on each resample both accuracies are
      computed, the clean one over the resampled images that are clean, so the two estimates'
      dependence (the clean images are part of all) is kept. A resample with no clean image
      is left out of the interval.

    With no clean image, ``clean`` and ``difference`` are NaN with ``n`` 0.
    """
    y = np.asarray(labels)
    p = np.asarray(preds)
    p = p[None] if p.ndim == 1 else p
    clean = np.asarray(clean_mask)
    if y.ndim != 1 or p.ndim != 2 or p.shape[1] != len(y):
        raise ValueError(f"preds must be (n,) or (seeds, n) for n = {len(y)} labels, got shape {np.asarray(preds).shape}")
    if clean.shape != y.shape or clean.dtype != bool:
        raise ValueError(f"clean_mask must be {len(y)} booleans, got {clean.dtype} of shape {clean.shape}")
    index = bootstrap_index(len(y), n_boot, seed)
    whole = bootstrap_metric(y, p, metric="accuracy", index=index, confidence=confidence)
    out = {"all": {k: whole[k] for k in ("value", "low", "high", "n")}}
    n_clean = int(clean.sum())
    if n_clean == 0:
        nan = float("nan")
        out["clean"] = {"value": nan, "low": nan, "high": nan, "n": 0}
        out["difference"] = {"value": nan, "low": nan, "high": nan}
        return out
    subset = bootstrap_metric(y[clean], p[:, clean], metric="accuracy", n_boot=n_boot, seed=seed, confidence=confidence)
    out["clean"] = {k: subset[k] for k in ("value", "low", "high", "n")}
    # accuracy is a mean over images, so its seed mean on a resample is the resample's mean
    # of each image's seed-mean correctness; whole["resamples"] is the same number
    correct = (p == y[None]).mean(0)
    kept = np.zeros(len(index))
    right = np.zeros(len(index))
    block = max(1, 4_000_000 // len(y))
    for start in range(0, len(index), block):
        rows = index[start:start + block]
        kept[start:start + len(rows)] = clean[rows].sum(1)
        right[start:start + len(rows)] = (correct * clean)[rows].sum(1)
    clean_resampled = np.where(kept > 0, right / np.maximum(kept, 1), np.nan)
    low, high = percentile_interval(clean_resampled - whole["resamples"], confidence)
    out["difference"] = {"value": subset["value"] - whole["value"], "low": low, "high": high}
    return out
