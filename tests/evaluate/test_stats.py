"""The comparison statistics (:mod:`fernb.evaluate.stats`): checked against hand-computed
values and against scipy, scikit-learn, statsmodels and pingouin computing the same thing
by another path."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import stats as st
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.power import TTestPower

from fernb.evaluate import stats as s


# --------------------------------------------------------------------------- McNemar
def _pairs(both, a_only, b_only, neither):
    """Correct/wrong vectors with the given cells, shuffled."""
    a = [1] * both + [1] * a_only + [0] * b_only + [0] * neither
    b = [1] * both + [0] * a_only + [1] * b_only + [0] * neither
    order = np.random.default_rng(1).permutation(len(a))
    return np.array(a)[order], np.array(b)[order]


def test_mcnemar_matches_hand_computed_binomial():
    a, b = _pairs(both=20, a_only=3, b_only=10, neither=7)
    res = s.mcnemar_test(a, b)
    assert (res["n"], res["both"], res["a_only"], res["b_only"], res["neither"]) == (40, 20, 3, 10, 7)
    assert res["accuracy_a"] == pytest.approx(23 / 40) and res["accuracy_b"] == pytest.approx(30 / 40)
    assert res["difference"] == pytest.approx(7 / 40)
    # 13 discordant pairs, k = 3: P(X <= 3) = (1 + 13 + 78 + 286) / 2**13, P(X = 3) = 286 / 2**13
    assert res["p_exact"] == pytest.approx(float(Fraction(2 * 378, 8192)))
    assert res["p_exact"] == pytest.approx(2 * st.binom.cdf(3, 13, 0.5))
    assert res["p_midp"] == pytest.approx(float(Fraction(2 * 378 - 286, 8192)))
    # the cells can come as booleans too, and A/B swapped only flips the difference
    swapped = s.mcnemar_test(b.astype(bool), a.astype(bool))
    assert swapped["p_exact"] == pytest.approx(res["p_exact"]) and swapped["difference"] == pytest.approx(-7 / 40)


def test_mcnemar_agrees_with_statsmodels_on_random_vectors():
    rng = np.random.default_rng(0)
    a = rng.random(300) < 0.7
    b = np.where(rng.random(300) < 0.8, a, ~a)
    res = s.mcnemar_test(a, b)
    table = pd.crosstab(pd.Series(a, name="a"), pd.Series(b, name="b")).reindex(index=[True, False],
                                                                               columns=[True, False], fill_value=0)
    assert res["p_exact"] == pytest.approx(mcnemar(table.to_numpy(), exact=True).pvalue)
    assert res["a_only"] == table.loc[True, False] and res["b_only"] == table.loc[False, True]


def test_mcnemar_edge_cases():
    # no discordant pair: nothing to test, both p are 1
    same = s.mcnemar_test([1, 0, 1], [1, 0, 1])
    assert same["p_exact"] == 1.0 and same["p_midp"] == 1.0 and same["difference"] == 0
    # b == c: the exact p is capped at 1 and the mid-p is 1 too (2 cdf(k) - pmf(k) = 1 for k = m/2)
    tie = s.mcnemar_test(*_pairs(both=5, a_only=4, b_only=4, neither=1))
    assert tie["p_exact"] == 1.0 and tie["p_midp"] == pytest.approx(1.0)
    # all discordant one way: mid-p is half the exact p
    one_way = s.mcnemar_test(*_pairs(both=0, a_only=0, b_only=6, neither=0))
    assert one_way["p_exact"] == pytest.approx(2 / 64) and one_way["p_midp"] == pytest.approx(1 / 64)


@pytest.mark.parametrize("a, b, message", [
    ([1, 0, 1], [1, 0], "equal lengths"),
    ([], [], "empty"),
    ([1, 2, 0], [1, 0, 0], "0/1"),
    ([1, 0.5, 0], [1, 0, 0], "0/1"),
    ([1, np.nan], [1, 0], "0/1"),
    (["yes", "no"], [1, 0], "0/1"),
    ([[1, 0]], [[1, 0]], "one-dimensional"),
])
def test_mcnemar_rejects_bad_input(a, b, message):
    with pytest.raises(ValueError, match=message):
        s.mcnemar_test(a, b)


# --------------------------------------------------------------------------- paired bootstrap
SK = {"accuracy": lambda y, p, c: accuracy_score(y, p),
      "macro_f1": lambda y, p, c: f1_score(y, p, average="macro", labels=c, zero_division=0),
      "balanced_accuracy": lambda y, p, c: balanced_accuracy_score(y, p)}


def _labels(n=60, k=4, seed=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    a = np.where(rng.random(n) < 0.6, y, rng.integers(0, k, n))
    b = np.where(rng.random(n) < 0.75, y, rng.integers(0, k, n))
    return y, a, b


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")   # sklearn, on the reference side
@pytest.mark.parametrize("metric", s.BOOTSTRAP_METRICS)
def test_bootstrap_full_set_difference_matches_sklearn(metric):
    y, a, b = _labels()
    res = s.paired_bootstrap(y, a, b, metric=metric, n_boot=50)
    assert res["difference"] == pytest.approx(SK[metric](y, b, None) - SK[metric](y, a, None))
    # string labels, a class only B predicts, and explicit classes (one never seen at all)
    names = np.array(["anger", "fear", "joy", "sad", "calm"])
    ys, as_, bs = names[y], names[a], names[b]
    bs[:3] = "calm"
    classes = ["anger", "fear", "joy", "sad", "calm", "disgust"]
    res = s.paired_bootstrap(ys, as_, bs, metric=metric, n_boot=50, classes=classes)
    assert res["difference"] == pytest.approx(SK[metric](ys, bs, classes) - SK[metric](ys, as_, classes))
    assert res["metric"] == metric and res["n_boot"] == 50


@pytest.mark.parametrize("metric", s.BOOTSTRAP_METRICS)
def test_bootstrap_resamples_match_sklearn_per_resample(metric, monkeypatch):
    """Redraw the same index matrix (same generator, same blocks; the block size is forced
    small so several blocks are drawn) and score every resample with scikit-learn."""
    monkeypatch.setattr(s, "_BOOT_CELLS", 60 * 7)   # 7 resamples per block
    y, a, b = _labels()
    classes = [0, 1, 2, 3]
    n_boot, n = 40, len(y)
    res = s.paired_bootstrap(y, a, b, metric=metric, n_boot=n_boot, seed=5, confidence=0.9, classes=classes)
    rng = np.random.default_rng(5)
    diffs = []
    for start in range(0, n_boot, 7):
        for idx in rng.integers(0, n, size=(min(7, n_boot - start), n)):
            diffs.append(SK[metric](y[idx], b[idx], classes) - SK[metric](y[idx], a[idx], classes))
    diffs = np.array(diffs)
    assert res["low"] == pytest.approx(np.quantile(diffs, 0.05))
    assert res["high"] == pytest.approx(np.quantile(diffs, 0.95))
    assert res["p_boot"] == pytest.approx(min(1.0, 2 * min((diffs <= 0).mean(), (diffs >= 0).mean())))


def test_bootstrap_behaviour():
    y, a, b = _labels(n=200)
    first = s.paired_bootstrap(y, a, b, n_boot=300, seed=1)
    assert first == s.paired_bootstrap(y, a, b, n_boot=300, seed=1)   # reproducible
    assert first["low"] != s.paired_bootstrap(y, a, b, n_boot=300, seed=2)["low"]
    assert first["low"] <= first["difference"] <= first["high"]
    # identical models: every resampled difference is 0
    same = s.paired_bootstrap(y, a, a, n_boot=100)
    assert (same["difference"], same["low"], same["high"], same["p_boot"]) == (0.0, 0.0, 0.0, 1.0)
    # B right everywhere, A wrong on a third: no resample favours A
    better = s.paired_bootstrap(y, np.where(np.arange(200) % 3 == 0, (y + 1) % 4, y), y, n_boot=200)
    assert better["p_boot"] == 0.0 and better["low"] > 0.2


@pytest.mark.parametrize("kwargs, message", [
    ({"metric": "f1"}, "metric must be one of"),
    ({"n_boot": 0}, "n_boot"),
    ({"n_boot": 2.5}, "n_boot"),
    ({"confidence": 1.5}, "confidence"),
    ({"classes": [0, 0, 1, 2, 3]}, "repeat"),
])
def test_bootstrap_rejects_bad_options(kwargs, message):
    y, a, b = _labels()
    with pytest.raises(ValueError, match=message):
        s.paired_bootstrap(y, a, b, **kwargs)


def test_bootstrap_rejects_bad_vectors():
    with pytest.raises(ValueError, match="equal lengths"):
        s.paired_bootstrap([0, 1, 2], [0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        s.paired_bootstrap([], [], [])


# --------------------------------------------------------------------------- over seeds
A6 = np.array([70.1, 71.3, 69.8, 72.0, 70.6, 71.1])
B6 = A6 + np.array([0.4, 1.3, -0.2, 0.9, 0.7, 1.6])


def test_paired_seed_test_against_scipy_and_pingouin():
    res = s.paired_seed_test(A6, B6)
    ref = st.ttest_rel(B6, A6)
    ci = ref.confidence_interval(0.95)
    assert res["n"] == 6 and res["mean_difference"] == pytest.approx(np.mean(B6 - A6))
    assert res["mean_a"] == pytest.approx(A6.mean()) and res["mean_b"] == pytest.approx(B6.mean())
    assert res["sd_difference"] == pytest.approx(np.std(B6 - A6, ddof=1))
    assert res["t"] == pytest.approx(ref.statistic) and res["p_t"] == pytest.approx(ref.pvalue)
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((ci.low, ci.high))
    # one negative difference of rank 1 among 6: exact two-sided p = 2 * P(W+ <= 1) = 2 * 2 / 64
    assert res["p_wilcoxon"] == pytest.approx(4 / 64)
    assert res["p_wilcoxon"] == pytest.approx(st.wilcoxon(B6, A6, method="exact").pvalue)
    assert res["d_z"] == pytest.approx(ref.statistic / math.sqrt(6))   # t = d_z * sqrt(n)
    assert res["d_av"] == pytest.approx(pg.compute_effsize(B6, A6, paired=True, eftype="cohen"))
    assert res["d_av"] != pytest.approx(res["d_z"])   # pingouin's paired "cohen" is not d_z
    assert res["wilcoxon_floor"] == pytest.approx(1 / 32) and res["wilcoxon_can_reach_05"] is True


def test_paired_seed_test_hand_computed_effect_sizes():
    # differences 1, 2, 3: mean 2, sd 1 → d_z 2; sds 1 and 2 → d_av = 2 / sqrt((1 + 4) / 2)
    res = s.paired_seed_test([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
    assert res["d_z"] == pytest.approx(2.0)
    assert res["d_av"] == pytest.approx(2 / math.sqrt(2.5))
    assert res["d_av"] == pytest.approx(pg.compute_effsize([2, 4, 6], [1, 2, 3], paired=True, eftype="cohen"))
    # 3 pairs all one way: the exact signed-rank p is its floor 2 / 2**3, which cannot reach 0.05
    assert res["p_wilcoxon"] == pytest.approx(0.25) == res["wilcoxon_floor"]
    assert res["wilcoxon_can_reach_05"] is False
    five = s.paired_seed_test(np.arange(5.0), np.arange(5.0) + [1, 2, 3, 4, 5])
    assert five["wilcoxon_floor"] == pytest.approx(0.0625) and five["wilcoxon_can_reach_05"] is False
    assert s.paired_seed_test([0.0, 1.0], [1.0, 3.0])["wilcoxon_floor"] == pytest.approx(0.5)


def test_paired_seed_test_without_spread_gives_nan_not_an_error():
    shifted = s.paired_seed_test([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])   # every seed +1
    assert shifted["sd_difference"] == 0 and shifted["mean_difference"] == pytest.approx(1.0)
    assert math.isnan(shifted["t"]) and math.isnan(shifted["p_t"]) and math.isnan(shifted["d_z"])
    assert (shifted["ci_low"], shifted["ci_high"]) == pytest.approx((1.0, 1.0))
    assert shifted["d_av"] == pytest.approx(1.0)
    same = s.paired_seed_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert math.isnan(same["p_wilcoxon"]) and math.isnan(same["p_t"]) and same["d_av"] == 0
    flat = s.paired_seed_test([1.0, 1.0], [1.0, 1.0])
    assert math.isnan(flat["d_av"]) and math.isnan(flat["d_z"])


@pytest.mark.parametrize("a, b, message", [
    ([1.0], [2.0], "at least 2"),
    ([1.0, 2.0, 3.0], [1.0, 2.0], "equal lengths"),
    ([], [], "empty"),
    ([1.0, np.nan], [1.0, 2.0], "finite"),
    (["x", "y"], [1.0, 2.0], "numbers"),
])
def test_paired_seed_test_rejects_bad_input(a, b, message):
    with pytest.raises(ValueError, match=message):
        s.paired_seed_test(a, b)


# --------------------------------------------------------------------------- Holm
def test_holm_hand_computed_and_nan_left_out():
    # sorted 0.01, 0.03, 0.04, 0.5 → ×4, ×3, ×2, ×1 = 0.04, 0.09, 0.08, 0.5 → running max 0.04, 0.09, 0.09, 0.5
    assert s.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    out = s.holm([0.01, np.nan, 0.04, 0.03, 0.5])   # NaN is not a member of the family of 4
    assert np.isnan(out[1]) and np.delete(out, 1) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert s.holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])   # capped at 1
    # not statsmodels' default Holm–Šidák: that would give 1 - 0.99**4 for the smallest
    assert s.holm([0.01, 0.04, 0.03, 0.5])[0] != pytest.approx(1 - 0.99 ** 4)
    assert s.holm([]).size == 0 and np.isnan(s.holm([np.nan])).all()


def test_holm_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        s.holm([0.2, 1.5])
    with pytest.raises(ValueError, match="one-dimensional"):
        s.holm([[0.1, 0.2]])


# --------------------------------------------------------------------------- planning
def _nct_power(d, n, alpha=0.05):
    """Two-sided paired t-test power from scipy's noncentral t, not statsmodels."""
    crit, nc = st.t.isf(alpha / 2, n - 1), d * math.sqrt(n)
    return st.nct.sf(crit, n - 1, nc) + st.nct.cdf(-crit, n - 1, nc)


@pytest.mark.parametrize("d", [0.333, 0.5, 0.95, 1.5])
def test_seeds_needed_is_the_smallest_n_with_enough_power(d):
    n = s.seeds_needed(d)
    assert _nct_power(d, n) >= 0.8 > _nct_power(d, n - 1)
    assert n == math.ceil(TTestPower().solve_power(effect_size=d, alpha=0.05, power=0.8, alternative="two-sided"))
    assert s.seeds_needed(-d) == n


def test_seeds_needed_known_values_and_edges():
    assert s.seeds_needed(0.5) == 34   # the textbook paired-t answer for d = 0.5, α .05, power .8
    assert s.seeds_needed(0.95) == 11
    assert s.seeds_needed(0.5, alpha=0.01, power=0.9) > s.seeds_needed(0.5)
    assert s.seeds_needed(0) == math.inf
    # statsmodels' solver answers 2 here, but 2 pairs give power 0.73 (df 1): it takes 3
    assert _nct_power(10, 2) < 0.8 and s.seeds_needed(10) == 3
    assert s.seeds_needed(50) == 2
    for kwargs in ({"alpha": 0}, {"power": 1.0}):
        with pytest.raises(ValueError, match="between 0 and 1"):
            s.seeds_needed(0.5, **kwargs)
    with pytest.raises(ValueError, match="finite"):
        s.seeds_needed(float("nan"))


def test_power_fallback_matches_statsmodels_where_that_is_finite(monkeypatch):
    reference = {(3.0, 2): _nct_power(3.0, 2), (2.0, 3): _nct_power(2.0, 3), (1.0, 4): _nct_power(1.0, 4)}
    monkeypatch.setattr(TTestPower, "power", lambda self, **kw: float("nan"))   # force the χ² integral
    for (d, n), value in reference.items():
        assert s._t_power(d, n, 0.05) == pytest.approx(value, rel=1e-6)


def _runs_brute(d, p):
    n = 2
    while 2 * st.t.sf(abs(d) * math.sqrt(n), n - 1) >= p:
        n += 1
    return n


def test_runs_for_p():
    assert s.runs_for_p(0.95, p=0.001) == 18
    assert 2 * st.t.sf(0.95 * math.sqrt(17), 16) > 0.001 > 2 * st.t.sf(0.95 * math.sqrt(18), 17)
    for d in (0.3, 0.95, 2.0, 5.0, -0.7):
        for p in (0.05, 0.001):
            assert s.runs_for_p(d, p=p) == _runs_brute(d, p)
    assert s.runs_for_p(0) == math.inf
    with pytest.raises(ValueError, match="between 0 and 1"):
        s.runs_for_p(0.5, p=0)


def test_max_dz_per_image():
    assert s.max_dz_per_image(0.10) == pytest.approx(1 / 3, abs=1e-12)
    assert round(s.max_dz_per_image(0.10), 3) == 0.333
    # the best case built image by image: 1000 images, B gains 100 and loses none
    diff = np.r_[np.ones(100), np.zeros(900)]
    assert s.max_dz_per_image(0.10) == pytest.approx(diff.mean() / diff.std(ddof=0))
    assert s.max_dz_per_image(0.0) == 0.0 and s.max_dz_per_image(1.0) == math.inf
    for bad in (-0.1, 1.1):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            s.max_dz_per_image(bad)


def test_variances_of_lanmsff_table_xii_whole_model():
    res = s.variances([89.44, 91.18, 92.04, 91.00, 90.17])
    assert res["n"] == 5
    assert round(res["population"], 2) == 0.79 and round(res["sample"], 2) == 0.99
    assert round(res["population"], 2) != 0.66 != round(res["sample"], 2)   # the paper's "Var 0.66" is neither
    assert math.isnan(s.variances([3.0])["sample"]) and s.variances([3.0])["population"] == 0
    with pytest.raises(ValueError, match="empty"):
        s.variances([])


# --------------------------------------------------------------------------- step table
def _per_seed():
    rows = {"full": [70.0, 71.0, 72.0, 70.5], "-pwfs": [69.0, 70.6, 70.1, 69.8], "-both": [68.0, 70.1, 69.4, np.nan]}
    frame = pd.DataFrame([{"variant": v, "seed": seed, "accuracy": acc}
                          for v, accs in rows.items() for seed, acc in enumerate(accs) if not np.isnan(acc)])
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)   # row order must not matter


def test_step_table_pairs_by_seed_and_adjusts_by_holm():
    table = s.step_table(_per_seed(), ["full", "-pwfs", "-both"])
    assert list(table.columns) == list(s.STEP_COLUMNS) and len(table) == 2
    assert table[["from", "to"]].values.tolist() == [["full", "-pwfs"], ["-pwfs", "-both"]]
    first = st.ttest_rel([69.0, 70.6, 70.1, 69.8], [70.0, 71.0, 72.0, 70.5])
    second = st.ttest_rel([68.0, 70.1, 69.4], [69.0, 70.6, 70.1])   # seed 3 has no "-both" run
    assert table["n"].tolist() == [4, 3]
    assert table.loc[0, "mean_difference"] == pytest.approx(-1.0)
    assert table.loc[1, "mean_difference"] == pytest.approx(-0.7333333333)
    assert table["p_t"].tolist() == pytest.approx([first.pvalue, second.pvalue])
    low, high = sorted([first.pvalue, second.pvalue])
    expected = {low: min(1, 2 * low), high: max(min(1, 2 * low), high)}
    assert table["p_holm"].tolist() == pytest.approx([expected[first.pvalue], expected[second.pvalue]])
    assert table["wilcoxon_floor"].tolist() == pytest.approx([2 / 16, 2 / 8])
    assert table.loc[0, "d_av"] == pytest.approx(pg.compute_effsize([69.0, 70.6, 70.1, 69.8], [70.0, 71.0, 72.0, 70.5],
                                                                    paired=True, eftype="cohen"))


def test_step_table_other_metric_column():
    frame = _per_seed().rename(columns={"accuracy": "macro_f1"})
    table = s.step_table(frame, ["full", "-pwfs"], metric="macro_f1")
    assert len(table) == 1 and table.loc[0, "p_holm"] == pytest.approx(table.loc[0, "p_t"])


def test_step_table_rejects_bad_input():
    frame = _per_seed()
    with pytest.raises(ValueError, match="lacks column"):
        s.step_table(frame, ["full", "-pwfs"], metric="macro_f1")
    with pytest.raises(ValueError, match="at least two"):
        s.step_table(frame, ["full"])
    with pytest.raises(ValueError, match="no rows"):
        s.step_table(frame, ["full", "-massatt"])
    with pytest.raises(ValueError, match="one row per"):
        s.step_table(pd.concat([frame, frame.iloc[:1]]), ["full", "-pwfs"])


def test_step_table_with_one_shared_seed_gives_the_difference_untested():
    # one seed (notebook 03 at seeds: [0]): the step's difference, no test, out of Holm's family
    lonely = pd.DataFrame({"variant": ["x", "x", "y", "z", "z"], "seed": [0, 1, 1, 0, 1],
                           "accuracy": [1.0, 2.0, 3.5, 1.0, 3.0]})
    table = s.step_table(lonely, ["x", "y", "z"])
    assert table["n"].tolist() == [1, 1]
    assert table["mean_difference"].tolist() == pytest.approx([1.5, -0.5])
    assert table[["p_t", "p_wilcoxon", "d_z", "ci_low", "p_holm"]].isna().all().all()
    assert table["wilcoxon_floor"].tolist() == [1.0, 1.0]


def test_seeds_needed_for_an_effect_of_float_noise_is_infinite_not_an_endless_scan():
    # two seeds with equal accuracy: the mean difference is float noise, d_z ~ 1e-16
    from fernb.evaluate.stats import MAX_SEEDS, seeds_needed
    assert seeds_needed(1e-16) == math.inf and seeds_needed(-1e-9) == math.inf
    small = 0.004                                    # normal approximation ~ 4.9e5 pairs: still answered
    n = seeds_needed(small)
    assert 4e5 < n <= MAX_SEEDS


# --------------------------------------------------------------------------- the d–p–n relation
def _sample_with_dz(d_z, n, seed=0):
    """Paired samples (a, b) whose differences have exactly mean / sd(ddof 1) = d_z."""
    z = np.random.default_rng(seed).normal(size=n)
    z = (z - z.mean()) / z.std(ddof=1)
    a = np.random.default_rng(seed + 1).normal(size=n)
    return a, a + z + d_z


@pytest.mark.parametrize("d_z, n", [(0.95, 18), (0.95, 17), (2.84, 3), (-0.4, 30), (0.1, 2)])
def test_paired_t_p_is_what_scipy_ttest_rel_gives(d_z, n):
    a, b = _sample_with_dz(d_z, n)
    res = st.ttest_rel(b, a)
    out = s.paired_t_p(d_z, n)
    assert out["t"] == pytest.approx(res.statistic, rel=1e-9)
    assert out["p"] == pytest.approx(res.pvalue, rel=1e-9)
    assert out["df"] == n - 1
    # and runs_for_p is the first n whose p falls below the bound
    k = s.runs_for_p(0.95, p=0.001)
    assert s.paired_t_p(0.95, k)["p"] < 0.001 <= s.paired_t_p(0.95, k - 1)["p"]
    with pytest.raises(ValueError, match="at least 2 pairs"):
        s.paired_t_p(0.5, 1)


def test_gap_for_dz_inverts_max_dz_per_image():
    for gap in (0.0, 0.035, 0.10, 0.233, 0.9):
        assert s.gap_for_dz(s.max_dz_per_image(gap)) == pytest.approx(gap, abs=1e-12)
    # hand-computed: d = 0.95 -> 0.9025 / 1.9025; d = 2.84 -> 8.0656 / 9.0656
    assert s.gap_for_dz(0.95) == pytest.approx(0.9025 / 1.9025)
    assert s.gap_for_dz(-2.84) == pytest.approx(8.0656 / 9.0656)
    with pytest.raises(ValueError, match="finite"):
        s.gap_for_dz(math.nan)


def test_per_image_effect_against_scipy_and_its_ceiling():
    rng = np.random.default_rng(3)
    a = rng.random(500) < 0.6
    b = a.copy()
    flip = rng.choice(500, 80, replace=False)
    b[flip[:60]] = True
    b[flip[60:]] = False
    out = s.per_image_effect(a, b)
    diff = b.astype(float) - a.astype(float)
    assert out["gap"] == pytest.approx(diff.mean())
    assert out["d_z"] == pytest.approx(diff.mean() / diff.std(ddof=1))
    assert out["p"] == pytest.approx(st.ttest_rel(b.astype(float), a.astype(float)).pvalue)
    assert out["d_z"] <= s.max_dz_per_image(out["gap"]) * math.sqrt(500 / 499) + 1e-12
    # the ceiling is reached when B never loses an image A gets right
    best_a = np.r_[np.ones(450), np.zeros(50)].astype(bool)
    best_b = np.ones(500, bool)
    assert s.per_image_effect(best_a, best_b)["d_z"] == pytest.approx(
        s.max_dz_per_image(0.1) * math.sqrt(499 / 500))
    same = s.per_image_effect(a, a)
    assert math.isnan(same["d_z"]) and math.isnan(same["p"]) and same["gap"] == 0
    with pytest.raises(ValueError, match="at least 2 images"):
        s.per_image_effect([1], [0])
