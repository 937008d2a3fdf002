"""Test leakage (fernb.evaluate.leakage): hashes, distances, the flags, accuracy with and without leaked images.

Real-data test (marker ``realdata``) reads ``$FERNB_DATA`` or ``../shared/data``.
"""
from __future__ import annotations

import cv2
import imagehash
import numpy as np
import pytest
from PIL import Image

from fernb.data.core import FERData
from fernb.data.explore import find_duplicates
from fernb.evaluate import leakage
from fernb.evaluate.leakage import (
    NEAR_DISTANCE,
    accuracy_standard_and_clean,
    hamming,
    leakage_summary,
    leakage_table,
    nearest_train_distance,
    perceptual_hashes,
)
from fernb.evaluate.stats import bootstrap_index, bootstrap_metric
from fernb.labels import SEVEN

from conftest import real_data_dir


def _faces(n: int, seed: int, size: int = 48) -> np.ndarray:
    """Smooth random images (a 6x6 grid of random values upsampled): low frequencies, as a
    face's, so that pHash sees structure rather than noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(30, 220, size=(n, 6, 6)).astype(np.float32)
    return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_CUBIC) for c in coarse]).clip(0, 255).astype(np.uint8)


def _jpeg(image: np.ndarray, quality: int = 75) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)


def _reference_hamming(a, b) -> np.ndarray:
    return np.array([[bin(int(x) ^ int(y)).count("1") for y in b] for x in a])


# --------------------------------------------------------------------------- hamming
@pytest.mark.parametrize("lookup_table", [False, True], ids=["bitwise_count", "byte_table"])
def test_hamming_matches_bin_counts(monkeypatch, lookup_table):
    if lookup_table:   # the path for numpy < 2.0
        monkeypatch.delattr(np, "bitwise_count", raising=False)
    rng = np.random.default_rng(0)
    a = np.concatenate([np.array([0, 2 ** 64 - 1, 2 ** 63], np.uint64), rng.integers(0, 2 ** 64, 20, dtype=np.uint64)])
    b = np.concatenate([np.array([2 ** 64 - 1, 0], np.uint64), rng.integers(0, 2 ** 64, 31, dtype=np.uint64)])
    monkeypatch.setattr(leakage, "_HAMMING_CELLS", 70)   # blocks of two rows: the blocking is exercised
    got = hamming(a, b)
    assert got.shape == (len(a), len(b)) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, _reference_hamming(a, b))
    assert got[0, 0] == 64 and got[0, 1] == 0 and got[1, 0] == 0 and got[2, 1] == 1


def test_hamming_refuses_what_is_not_a_hash_array():
    with pytest.raises(ValueError, match="one-dimensional"):
        hamming(np.zeros((2, 2), np.uint64), np.zeros(2, np.uint64))
    with pytest.raises(ValueError, match="uint64"):
        hamming(np.array([-1]), np.zeros(2, np.uint64))
    with pytest.raises(ValueError, match="uint64"):
        hamming(np.array([0.5]), np.zeros(2, np.uint64))


# --------------------------------------------------------------------------- perceptual hashes
def test_perceptual_hashes_are_imagehash_phash():
    images = _faces(6, seed=1)
    images[5] = _jpeg(images[4])
    ours = perceptual_hashes(images)
    assert ours.dtype == np.uint64 and ours.shape == (6,)
    theirs = [imagehash.phash(Image.fromarray(im)) for im in images]
    assert [int(str(h), 16) for h in theirs] == [int(v) for v in ours]   # the documented bit order
    distances = hamming(ours, ours)
    for i in range(len(images)):
        for j in range(len(images)):
            assert distances[i, j] == theirs[i] - theirs[j]


def test_perceptual_hashes_of_colour_images_hash_their_grey():
    rgb = np.stack([_faces(3, seed=2), _faces(3, seed=3), _faces(3, seed=4)], axis=-1)
    ours = perceptual_hashes(rgb)
    assert [int(v) for v in ours] == [int(str(imagehash.phash(Image.fromarray(im))), 16) for im in rgb]
    with pytest.raises(ValueError, match="uint8"):
        perceptual_hashes(rgb.astype(np.float32))


# --------------------------------------------------------------------------- the flags
def _planted() -> tuple[FERData, dict[str, int]]:
    """30 training images, 10 val, 12 test. Test holds: a byte-identical copy of train 3, a
    JPEG-75 copy of train 5, a brightness +10 copy of train 7, two byte-identical copies of
    one image found nowhere else (a duplicate within test only), a copy of a *val* image,
    and unrelated images."""
    faces = _faces(60, seed=5)
    train, val, test = faces[:30].copy(), faces[30:40].copy(), faces[40:52].copy()
    test[0] = train[3]
    test[1] = _jpeg(train[5])
    test[2] = np.clip(train[7].astype(np.int16) + 10, 0, 255).astype(np.uint8)
    test[3] = test[4] = faces[55]
    test[5] = val[2]
    images = np.concatenate([train, val, test])
    split = ["train"] * 30 + ["val"] * 10 + ["test"] * 12
    data = FERData(name="planted", images=images, labels=np.arange(len(images)) % 7, split=split, classes=SEVEN,
                   source_ids=[f"planted/{i}" for i in range(len(images))])
    return data, {"exact": 40, "jpeg": 41, "brighter": 42, "within_test": 43, "within_test_copy": 44, "from_val": 45}


def test_leakage_table_flags_exact_and_near_copies_of_training_images_only():
    data, at = _planted()
    table = leakage_table(data).set_index("index")
    assert list(table.index) == list(range(40, 52)) and set(table["split"]) == {"test"}
    assert table.loc[at["exact"], "exact_in_train"] and table.loc[at["exact"], "nearest_distance"] == 0
    assert table.loc[at["exact"], "nearest_train"] == 3
    for name, source in (("jpeg", 5), ("brighter", 7)):
        row = table.loc[at[name]]
        assert not row["exact_in_train"] and row["near_in_train"] and not row["clean"], name
        assert row["nearest_distance"] <= NEAR_DISTANCE and row["nearest_train"] == source, name
    flagged = {at["exact"], at["jpeg"], at["brighter"]}
    assert set(table.index[table["near_in_train"]]) == flagged
    assert set(table.index[table["exact_in_train"]]) == {at["exact"]}
    assert (table["clean"] == ~table["near_in_train"]).all()
    # a copy within test, or of a val image, is not leakage from training; unrelated images are far
    assert table.loc[[at["within_test"], at["within_test_copy"], at["from_val"]], "clean"].all()
    assert table.loc[~table.index.isin(flagged), "nearest_distance"].min() > NEAR_DISTANCE
    assert table.loc[at["exact"], "source_id"] == "planted/40" and table.loc[at["exact"], "label"] == SEVEN[40 % 7]


def test_leakage_table_threshold_splits_and_hashes():
    data, at = _planted()
    hashes = perceptual_hashes(data.images)
    strict = leakage_table(data, max_distance=-1, hashes=hashes).set_index("index")
    assert set(strict.index[strict["near_in_train"]]) == {at["exact"]}   # exact copies count whatever the threshold
    both = leakage_table(data, splits=("val", "test"), hashes=hashes)
    assert list(both["split"]) == ["val"] * 10 + ["test"] * 12
    np.testing.assert_array_equal(nearest_train_distance(data, "val", hashes=hashes),
                                  both.loc[both["split"] == "val", "nearest_distance"])
    np.testing.assert_array_equal(nearest_train_distance(data), leakage_table(data)["nearest_distance"])
    with pytest.raises(ValueError, match="hashes has 3 values"):
        nearest_train_distance(data, hashes=hashes[:3])
    with pytest.raises(ValueError, match="training split is what"):
        leakage_table(data, splits=("train",), hashes=hashes)
    with pytest.raises(ValueError, match="unknown split"):
        leakage_table(data, splits=("dev",), hashes=hashes)
    with pytest.raises(ValueError, match="no training images"):
        nearest_train_distance(data.subset(data.split != "train"))


def test_leakage_summary_counts():
    data, _ = _planted()
    summary = leakage_summary(leakage_table(data))
    assert summary == {"images": 12, "exact": 1, "near_only": 2, "near": 3, "clean": 9,
                       "exact_fraction": 1 / 12, "near_only_fraction": 2 / 12, "near_fraction": 3 / 12,
                       "clean_fraction": 9 / 12}


# --------------------------------------------------------------------------- accuracy
def test_accuracy_standard_and_clean_by_hand():
    labels = np.array([0, 1, 2, 0, 1, 2])
    preds = np.array([0, 1, 0, 0, 2, 2])        # right on 0, 1, 3, 5
    clean = np.array([True, True, False, False, True, True])
    out = accuracy_standard_and_clean(labels, preds, clean, n_boot=500)
    assert out["all"]["value"] == pytest.approx(4 / 6) and out["all"]["n"] == 6
    assert out["clean"]["value"] == pytest.approx(3 / 4) and out["clean"]["n"] == 4
    assert out["difference"]["value"] == pytest.approx(3 / 4 - 4 / 6)
    for key in ("all", "clean", "difference"):
        assert out[key]["low"] <= out[key]["value"] <= out[key]["high"], key
    assert 0 <= out["all"]["low"] and out["all"]["high"] <= 1


def test_accuracy_standard_and_clean_averages_seeds():
    labels = np.array([0, 1, 2, 0, 1, 2, 1, 0])
    seeds = np.array([[0, 1, 2, 0, 1, 2, 1, 0],    # all right
                      [0, 0, 0, 0, 0, 0, 0, 0]])   # right on 0, 3, 7
    clean = np.array([True, False, True, True, False, True, True, True])
    out = accuracy_standard_and_clean(labels, seeds, clean, n_boot=300, seed=3)
    assert out["all"]["value"] == pytest.approx((1 + 3 / 8) / 2)
    assert out["clean"]["value"] == pytest.approx((1 + 3 / 6) / 2)
    single = [accuracy_standard_and_clean(labels, s, clean, n_boot=300, seed=3) for s in seeds]
    for key in ("all", "clean"):
        assert out[key]["value"] == pytest.approx(np.mean([s[key]["value"] for s in single]))
    assert out["all"]["low"] == pytest.approx(bootstrap_metric(labels, seeds, n_boot=300, seed=3)["low"])


def test_difference_interval_is_one_shared_resampling():
    """Recomputed by hand: each resample of all test images gives both accuracies, the clean one
    over the resampled images that are clean; the interval is the 2.5/97.5 percentiles."""
    rng = np.random.default_rng(4)
    n = 300
    labels = rng.integers(0, 7, n)
    clean = rng.random(n) < 0.8
    preds = np.where(rng.random((3, n)) < np.where(clean, 0.6, 0.9), labels, (labels + 1) % 7)  # leaked: easier
    out = accuracy_standard_and_clean(labels, preds, clean, n_boot=400, seed=9)
    correct = (preds == labels).mean(0)
    index = bootstrap_index(n, 400, 9)
    diffs = [correct[i][clean[i]].mean() - correct[i].mean() for i in index]
    assert (out["difference"]["low"], out["difference"]["high"]) == pytest.approx(tuple(np.percentile(diffs, [2.5, 97.5])))
    assert out["difference"]["low"] <= out["difference"]["value"] <= out["difference"]["high"] < 0
    assert out["clean"]["n"] == int(clean.sum())


def test_accuracy_standard_and_clean_without_clean_images_and_bad_input():
    labels, preds = np.array([0, 1, 1]), np.array([0, 1, 0])
    out = accuracy_standard_and_clean(labels, preds, np.zeros(3, bool), n_boot=50)
    assert out["all"]["value"] == pytest.approx(2 / 3)
    assert out["clean"]["n"] == 0 and np.isnan(out["clean"]["value"]) and np.isnan(out["difference"]["value"])
    with pytest.raises(ValueError, match="booleans"):
        accuracy_standard_and_clean(labels, preds, np.array([1, 0, 1]))
    with pytest.raises(ValueError, match="preds must be"):
        accuracy_standard_and_clean(labels, preds[:2], np.ones(3, bool))


# --------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_real_fer2013_exact_leakage_agrees_with_find_duplicates():
    from fernb.data.fer2013 import load_fer2013

    folder = real_data_dir()
    if folder is None or not (folder / "fer2013_msambare.zip").is_file():
        pytest.skip(f"fer2013_msambare.zip not found in {folder or '$FERNB_DATA (unset) or ../shared/data (absent)'}")
    data = load_fer2013(folder / "fer2013_msambare.zip")
    table = leakage_table(data)
    assert len(table) == 3589 and (table["split"] == "test").all()
    dup = find_duplicates(data)
    with_train = dup.groupby("group")["split"].transform(lambda s: (s == "train").any())
    leaked = set(dup.loc[with_train & (dup["split"] == "test"), "index"])
    assert set(table.loc[table["exact_in_train"], "index"]) == leaked
    summary = leakage_summary(table)
    print(f"\nFER2013 PrivateTest at NEAR_DISTANCE = {NEAR_DISTANCE}: {summary}")
    assert summary["exact"] == len(leaked) > 0
    assert summary["exact"] + summary["near_only"] + summary["clean"] == 3589
    assert (table.loc[table["exact_in_train"], "nearest_distance"] == 0).all()


def test_training_notebooks_leak_free_summary_and_shortfall_by_hand():
    """What notebooks 01/02 print: the standard and leak-free accuracy of two seeds on six test
    images (two with a copy in training), by hand, and the gap-to-the-paper paragraph."""
    from types import SimpleNamespace

    import pandas as pd
    import yaml

    from fernb.evaluate import training_report as res
    from fernb.train import recipes

    ids = [f"fer2013/test/{i}" for i in range(6)]
    labels = np.array([0, 1, 2, 3, 4, 5])
    seed_preds = {0: np.array([0, 1, 2, 0, 0, 5]), 1: np.array([0, 1, 0, 3, 0, 0])}
    runs = [SimpleNamespace(predictions=pd.DataFrame({"split": "test", "index": np.arange(100, 106)[::-1],
                                                      "source_id": ids[::-1], "label": labels[::-1],
                                                      "pred": p[::-1]})) for p in seed_preds.values()]
    leak = pd.DataFrame({"source_id": ids, "exact_in_train": [True, False, False, False, False, False],
                         "clean": [False, True, True, True, True, False]})
    table, metrics, text = res.leakfree_summary(runs, leak, n_boot=500, seed=0)
    # seed 0 right on 0,1,2,5; seed 1 right on 0,1,3 -> 7/12 overall; clean images 1..4: 2/4 and 2/4 -> 1/2
    assert metrics["standard"]["value"] == pytest.approx(7 / 12) and metrics["leakfree"]["value"] == pytest.approx(1 / 2)
    assert metrics["difference"]["value"] == pytest.approx(1 / 2 - 7 / 12)
    assert metrics["accuracy_on_leaked"] == pytest.approx(3 / 4)        # images 0 and 5: 2 + 1 right of 4
    assert metrics["exact_in_train"] == 1 and metrics["near_or_exact_in_train"] == 2
    assert table.loc["leak-free subset", "test images"] == 4 and table.loc["standard test split", "test images"] == 6
    assert table.loc["leak-free − standard", "accuracy %"] == pytest.approx(100 * (1 / 2 - 7 / 12))
    assert "**2** of 6 test images" in text and "1 byte-identical" in text

    params = yaml.safe_load((__import__("pathlib").Path(__file__).parents[2] / "params.yaml").read_text())
    recipe = recipes.lanmsff(params["lanmsff"], params["train"])
    paragraph = res.shortfall_text("LANMSFF", "fer2013", 61.04, 70.44, recipe, 1)
    assert "9.4 points below" in paragraph and "make paper DATASET=fer2013" in paragraph
    assert all(note in paragraph for note in recipe.notes)
    above = res.shortfall_text("LANMSFF", "fer2013", 71.0, 70.44, SimpleNamespace(
        notes=[], config=recipe.config, model_kwargs=recipe.model_kwargs), 3)
    assert "at or above" in above and "the paper's own settings" in above
