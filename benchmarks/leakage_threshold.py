"""Print (never assert) the measurements behind ``fernb.evaluate.leakage.NEAR_DISTANCE``.

On real FER2013 (``fer2013_msambare.zip`` in ``$FERNB_DATA`` or ``../shared/data``; skipped
with a message when absent), with 64-bit pHashes (``imagehash.phash``, hash_size 8):

* the time to hash every image;
* near-copy transforms of training images (JPEG re-encoded at quality 75 and 50, brightness
  +10, contrast ×0.9, Gaussian blur σ 0.8 and 1.0, shifted by 1 px and 2 px, a 1-px crop
  resized back): the Hamming distance of each copy to its original, as the share caught at
  each threshold (the copy's nearest training image is at most that far);
* unrelated images: random pairs of training images (the rate per pair) and, for every
  test image mirrored left-right, the distance to its nearest training image (the chance
  that a test image which has no copy in train is flagged anyway; an upper bound, since
  FER2013 also holds a few mirrored copies);
* every test image's distance to its nearest training image, beside the mirrored null: the
  excess over the null at each distance estimates how many of those pairs are the same photo;
* the rule: the largest distance d (hashes of median-split bits differ in an even number of
  bits) whose test images are more often copies than chance, i.e. count(d) > 2 × null(d),
  with every distance below it passing too;
* the leakage counts at NEAR_DISTANCE for FER2013's test and val splits, and FERPlus's test
  split when ``ferplus.zip`` is there.

Run: ``python benchmarks/leakage_threshold.py [--copies 3000]`` (about 20 s on 2 busy cores, FERPlus included).
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

from fernb.data import load
from fernb.data.explore import image_hashes
from fernb.evaluate.leakage import (
    NEAR_DISTANCE,
    hamming,
    leakage_summary,
    leakage_table,
    nearest_train_distance,
    perceptual_hashes,
)

REPO = Path(__file__).resolve().parents[1]
FER2013 = "fer2013_msambare.zip"
FERPLUS = "ferplus.zip"
THRESHOLDS = (0, 2, 4, 6, 8, 10, 12)


def find(name: str) -> Path | None:
    folders = [Path(os.environ["FERNB_DATA"])] if os.environ.get("FERNB_DATA") else []
    folders.append(REPO.parent / "shared" / "data")
    return next((f / name for f in folders if (f / name).is_file()), None)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)


def _shift(image: np.ndarray, dx: int) -> np.ndarray:
    h, w = image.shape
    return cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, 0]]), (w, h), borderMode=cv2.BORDER_REPLICATE)


TRANSFORMS = {
    "JPEG quality 75": lambda im: _jpeg(im, 75),
    "JPEG quality 50": lambda im: _jpeg(im, 50),
    "brightness +10": lambda im: np.clip(im.astype(np.int16) + 10, 0, 255).astype(np.uint8),
    "contrast x0.9": lambda im: np.clip((im.astype(np.float32) - 128) * 0.9 + 128, 0, 255).round().astype(np.uint8),
    "Gaussian blur s=0.8 (3x3)": lambda im: cv2.GaussianBlur(im, (3, 3), 0.8),
    "Gaussian blur s=1.0 (5x5)": lambda im: cv2.GaussianBlur(im, (5, 5), 1.0),
    "shift 1 px": lambda im: _shift(im, 1),
    "shift 2 px": lambda im: _shift(im, 2),
    "crop 1 px, resize back": lambda im: cv2.resize(im[1:-1, 1:-1], im.shape[::-1], interpolation=cv2.INTER_AREA),
}


def shares(distance: np.ndarray) -> str:
    return "  ".join(f"<={t}: {np.mean(distance <= t):6.4f}" for t in THRESHOLDS)


def histogram(distance: np.ndarray, upto: int = 20) -> np.ndarray:
    return np.bincount(np.minimum(distance, upto), minlength=upto + 1)[:upto + 1:2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3000, help="training images transformed per near-copy kind")
    parser.add_argument("--pairs", type=int, default=2_000_000, help="random pairs of training images")
    args = parser.parse_args()
    archive = find(FER2013)
    if archive is None:
        print(f"leakage threshold: skipped ({FER2013} is in neither $FERNB_DATA nor ../shared/data)")
        return
    data = load("fer2013", data_root=archive)
    print(f"{archive.name}: {data}")
    start = time.perf_counter()
    hashes = perceptual_hashes(data.images)
    took = time.perf_counter() - start
    print(f"perceptual_hashes: {len(data)} images of 48x48 in {took:.2f} s ({1e6 * took / len(data):.0f} us per image)")

    rng = np.random.default_rng(0)
    train = np.flatnonzero(data.split == "train")
    test = np.flatnonzero(data.split == "test")
    picked = rng.choice(train, min(args.copies, len(train)), replace=False)
    print(f"\nnear copies of {len(picked)} training images: distance to the original "
          "(median, 99th percentile, max; share at most t)")
    for name, transform in TRANSFORMS.items():
        copies = perceptual_hashes(np.stack([transform(im) for im in data.images[picked]]))
        distance = np.bitwise_count(copies ^ hashes[picked]).astype(int)
        print(f"  {name:<27} median {np.median(distance):4.0f}  p99 {np.percentile(distance, 99):4.0f}  "
              f"max {distance.max():3d}   {shares(distance)}")

    sha = image_hashes(data)
    a, b = rng.choice(train, args.pairs), rng.choice(train, args.pairs)
    a, b = a[sha[a] != sha[b]], b[sha[a] != sha[b]]   # byte-identical pairs left out
    pair = np.bitwise_count(hashes[a] ^ hashes[b]).astype(int)
    print(f"\nrandom pairs of training images, not byte-identical ({len(pair):,}): median {np.median(pair):.0f}, "
          f"0.1st percentile {np.percentile(pair, 0.1):.0f}; share at most t per pair (train's own near copies included)")
    print("  " + "  ".join(f"<={t}: {np.mean(pair <= t):.1e}" for t in THRESHOLDS[1:]))

    real = nearest_train_distance(data, "test", hashes=hashes)
    # the test faces mirrored left-right: the same statistics, but (mirrored copies aside) no copy in train
    null = hamming(perceptual_hashes(data.images[test][:, :, ::-1]), hashes[train]).min(axis=1).astype(int)
    print(f"\nnearest training image of each of the {len(test)} test images, per distance 0, 2, ..., 18, >=20:")
    print(f"  test images            {histogram(real)}")
    print(f"  test images, mirrored  {histogram(null)}   (null: the same faces, no copy expected)")
    print(f"  mirrored test images flagged by chance: {shares(null)}")
    rule = 0
    for d in range(0, 21, 2):
        if (real == d).sum() <= 2 * (null == d).sum():
            break
        rule = d
    print("  per distance: test count, null count, estimated share of same-photo pairs 1 - null/count")
    for d in range(0, 14, 2):
        n_real, n_null = int((real == d).sum()), int((null == d).sum())
        print(f"    {d:2d}: {n_real:5d} {n_null:5d}  {max(0.0, 1 - n_null / n_real) if n_real else float('nan'):.2f}")
    print(f"  rule (largest d with count > 2 x null at every distance up to it): {rule}; "
          f"NEAR_DISTANCE = {NEAR_DISTANCE}")

    for split in ("test", "val"):
        summary = leakage_summary(leakage_table(data, splits=(split,), hashes=hashes))
        print(f"\nFER2013 {split} at NEAR_DISTANCE = {NEAR_DISTANCE}: {summary}")
    ferplus = find(FERPLUS)
    if ferplus is None:
        print(f"\nFERPlus: skipped ({FERPLUS} is in neither $FERNB_DATA nor ../shared/data)")
        return
    plus = load("ferplus", data_root=ferplus)
    summary = leakage_summary(leakage_table(plus))
    print(f"\nFERPlus test ({plus.meta.get('rule')} rule, {len(plus)} images kept) at NEAR_DISTANCE = "
          f"{NEAR_DISTANCE}: {summary}")


if __name__ == "__main__":
    main()
