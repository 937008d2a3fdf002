"""Dataset exploration against brute-force or hand-computed references."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from fernb.data import explore
from fernb.data.core import FERData
from fernb.labels import SEVEN

from conftest import make_data


def test_duplicates_match_brute_force(tiny):
    found = explore.find_duplicates(tiny)
    pairs = {(i, j) for i, j in itertools.combinations(range(len(tiny)), 2)
             if np.array_equal(tiny.images[i], tiny.images[j])}
    grouped = {(i, j) for _, g in found.groupby("group") for i, j in itertools.combinations(sorted(g["index"]), 2)}
    assert grouped == pairs and pairs  # planted: (5, 10) and (6, first val)
    summary = explore.duplicate_summary(found)
    assert summary == {"duplicate_groups": 2, "duplicate_images": 4, "redundant_copies": 2,
                       "cross_split_groups": 1, "label_conflict_groups": 1}
    leak = found[found["cross_split"]]
    assert set(leak["index"]) == {6, 40} and leak["label_conflict"].all()


def test_no_duplicates():
    rng = np.random.default_rng(0)
    data = FERData("u", rng.integers(0, 256, (20, 8, 8), dtype=np.uint8), np.arange(20) % 7,
                   ["train"] * 20, SEVEN, [str(i) for i in range(20)])
    assert len(explore.find_duplicates(data)) == 0
    assert explore.duplicate_summary(explore.find_duplicates(data))["duplicate_groups"] == 0


def test_near_blank_threshold(tiny):
    assert set(explore.near_blank(tiny, std_threshold=2.0)) == {3, 4}
    tiny.images[7] = np.tile(np.array([100, 103], dtype=np.uint8), 8 * 16).reshape(16, 16)  # std 1.5
    assert 7 in explore.near_blank(tiny, std_threshold=2.0)
    assert 7 not in explore.near_blank(tiny, std_threshold=1.0)


def test_class_distribution_and_imbalance(tiny):
    table = explore.class_distribution(tiny)
    for split, group in table.groupby("split"):
        expected = np.bincount(tiny.labels[tiny.split == split], minlength=7)
        assert group.set_index("class").loc[list(SEVEN), "count"].tolist() == expected.tolist()
        assert group["fraction"].sum() == pytest.approx(1.0)
    counts = np.bincount(tiny.labels[tiny.split == "train"], minlength=7)
    assert explore.imbalance_ratio(tiny) == pytest.approx(counts.max() / counts.min())


def test_pixel_statistics_match_numpy(tiny):
    stats = explore.pixel_statistics(tiny)
    val = tiny.images[tiny.split == "val"].astype(np.float64) / 255
    assert stats.loc["val", "mean"] == pytest.approx(val.mean())
    assert stats.loc["val", "std"] == pytest.approx(val.std())
    assert stats.loc["val", "images"] == len(val)


def test_mean_faces(tiny):
    means = explore.mean_faces(tiny)
    k = 2
    expected = tiny.images[(tiny.split == "train") & (tiny.labels == k)].mean(0)
    np.testing.assert_allclose(means[k], expected, rtol=1e-6)


def test_pose_table_bins():
    data = make_data(pose=np.array([-88, -46, -3, 2, 44, 91] * 10 + [np.nan] * 4, dtype=np.float32))
    table = explore.pose_table(data)
    per_bin = table.groupby("yaw_bin")["count"].sum().to_dict()
    assert per_bin == {-90: 10, -45: 10, 0: 20, 45: 10, 90: 10}
    assert len(explore.pose_table(make_data())) == 0


def test_linear_probe_separable_vs_random_labels():
    rng = np.random.default_rng(0)
    n, k = 700, 7
    labels = np.arange(n) % k
    prototypes = rng.integers(0, 256, (k, 12, 12))
    images = np.clip(prototypes[labels] + rng.normal(0, 20, (n, 12, 12)), 0, 255).astype(np.uint8)
    split = np.where(np.arange(n) < 500, "train", "val")
    data = FERData("sep", images, labels, split, SEVEN, [str(i) for i in range(n)])
    assert explore.linear_probe(data, n_components=30)["val_accuracy"] > 0.95
    shuffled = FERData("rnd", images, rng.permutation(labels), split, SEVEN, [str(i) for i in range(n)])
    result = explore.linear_probe(shuffled, n_components=30)
    assert result["val_accuracy"] < 0.35  # chance is 1/7; random labels cannot be learnt
    assert result["chance_balanced"] == pytest.approx(1 / 7)


def test_linear_probe_needs_val(tiny):
    with pytest.raises(ValueError, match="train and val"):
        explore.linear_probe(tiny.subset("train"))


def test_vote_agreement_hand_computed():
    from fernb.labels import CANONICAL

    votes = np.zeros((3, 10), dtype=np.int16)
    votes[0, [0, 1]] = [6, 4]        # neutral 6 of 10
    votes[1, [0, 1]] = [2, 8]        # happy 8 of 10
    votes[2, [1, 9]] = [5, 5]        # happy 5 of 10
    labels = [CANONICAL.index("neutral"), CANONICAL.index("happy"), CANONICAL.index("happy")]
    data = FERData("fp", np.zeros((3, 4, 4), np.uint8), labels, ["train"] * 3, CANONICAL, ["a", "b", "c"], votes=votes)
    table = explore.vote_agreement(data).set_index("class")
    assert table.loc["neutral", "mean_agreement"] == pytest.approx(0.6)
    assert table.loc["happy", "mean_agreement"] == pytest.approx(0.65)
    assert table.loc["happy", "images"] == 2


def test_example_duplicate_group_prefers_leakage_with_conflict(tiny):
    group = explore.example_duplicate_group(explore.find_duplicates(tiny))
    assert set(group["index"]) == {6, 40}  # the planted cross-split, relabelled copy
    assert len(explore.example_duplicate_group(explore.find_duplicates(tiny.subset("val")))) == 0


def test_one_per_pose_bin():
    data = make_data(pose=np.array([-88, -46, -3, 2, 44, 91] * 10 + [np.nan] * 4, dtype=np.float32))
    picks = explore.one_per_pose_bin(data)
    assert [round(float(data.pose[i]) / 45) * 45 for i in picks] == [-90, -45, 0, 45, 90]
    assert explore.one_per_pose_bin(make_data()) == []


def test_colour_mean_faces_are_drawn_as_they_are(caplog):
    """explore.mean_faces gives float 0–255; matplotlib reads float RGB as 0–1, clips it white and warns
    (a stderr box in notebook 00 for every colour dataset)."""
    import logging

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fernb.workbook import plots

    means = np.full((2, 4, 4, 3), 200.4, np.float32)
    means[1] = np.nan                                          # an empty class: no panel
    with caplog.at_level(logging.WARNING):
        fig = plots.mean_faces_grid(means, ["happy", "sad"])
    assert not [r for r in caplog.records if "Clipping" in r.getMessage()]
    shown = fig.axes[0].images[0].get_array()
    assert shown.dtype == np.uint8 and int(shown[0, 0, 0]) == 200
    plt.close(fig)
