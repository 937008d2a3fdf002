"""Is a difference between two models, or two variants of one model, real? The tests that say.

Two notebooks ask it. Notebook 03 (ablations over seeds) trains each variant of a model
several times and compares adjacent variants seed by seed; notebook 06 (statistics of
every comparison) puts a p-value, an interval and an effect size on every comparison the
workbook makes, this run against that one and ours against the papers' (HAFEM; LANMSFF,
whose Table XII is an ablation of this kind, see :mod:`fernb.papers.lanmsff`). The
tests come in two kinds, by what is paired:

- **Test images** (one run of each model on the same test set): :func:`mcnemar_test`
  on the per-image correct/wrong vectors, and :func:`paired_bootstrap` for an interval
  on the difference of accuracy, macro-F1 or balanced accuracy.
- **Seeds** (one metric per run, runs paired by seed): :func:`paired_seed_test` (paired
  t-test, Wilcoxon signed-rank, effect sizes), :func:`step_table` (the adjacent steps of
  an ablation, Holm-adjusted), :func:`holm`.

And the planning side: :func:`seeds_needed` (runs for 80 % power), :func:`runs_for_p`
(runs before an observed effect reaches a p-value), :func:`paired_t_p` (the p a paired
t-test gives for an effect d_z over n pairs), :func:`max_dz_per_image` (how large a
per-image effect can ever be) and its inverse :func:`gap_for_dz` (the accuracy gap a
per-image effect needs), :func:`per_image_effect` (the d_z two models' correct/wrong
vectors give) and :func:`variances` (population against sample variance, to read a
paper's "Var"). HAFEM §4's "paired t-tests (p < 0.001) … Cohen's d 0.95–2.84" is read
with these in notebook 06.

Everything here is numpy, pandas, scipy, scikit-learn's definitions, statsmodels and
pingouin; the only loops written out are the vectorised bootstrap (so one index matrix
serves both models) and the scans over n in :func:`runs_for_p` / :func:`seeds_needed`.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as st

__all__ = ["mcnemar_test", "paired_bootstrap", "bootstrap_metric", "bootstrap_index", "percentile_interval", "paired_seed_test", "holm", "seeds_needed", "runs_for_p",
           "max_dz_per_image", "gap_for_dz", "paired_t_p", "per_image_effect", "variances", "step_table",
           "BOOTSTRAP_METRICS", "STEP_COLUMNS", "MAX_SEEDS", "ALPHA"]

ALPHA = 0.05               # a difference is resolved below this (Holm-adjusted) p, in notebooks 03 and 06
BOOTSTRAP_METRICS = ("accuracy", "macro_f1", "balanced_accuracy")
MAX_SEEDS = 10 ** 6        # seeds_needed answers math.inf beyond this many pairs
STEP_COLUMNS = ("from", "to", "n", "mean_difference", "sd_difference", "ci_low", "ci_high", "p_t", "p_wilcoxon",
                "wilcoxon_floor", "d_z", "d_av", "p_holm")

# Rows of the bootstrap index matrix drawn at once: bounds memory at about 32 MB of int64
# whatever the test set's size. It depends on n only, so a seed always gives the same draw.
_BOOT_CELLS = 4_000_000


# --------------------------------------------------------------------------- input checks
def _vector(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: expected at least one value")
    return arr


def _numeric(values: Any, name: str) -> np.ndarray:
    arr = _vector(values, name)
    try:
        arr = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite numbers (no NaN or inf)")
    return arr


def _binary(values: Any, name: str) -> np.ndarray:
    arr = _vector(values, name)
    if arr.dtype == bool:
        return arr
    try:
        num = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be boolean or 0/1 (correct or wrong per image), got dtype {arr.dtype}") from None
    bad = ~np.isin(num, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"{name} must be boolean or 0/1 (correct or wrong per image); "
                         f"found {num[bad][:5].tolist()} at positions {np.flatnonzero(bad)[:5].tolist()}")
    return num.astype(bool)


def _same_length(**arrays: np.ndarray) -> int:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"expected equal lengths (one entry per pair), got {lengths}")
    return next(iter(lengths.values()))


def _probability(value: float, name: str) -> float:
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")
    return value


# --------------------------------------------------------------------------- per test image
def mcnemar_test(correct_a, correct_b) -> dict:
    """McNemar's test of two models scored on the same test images.

    ``correct_a[i]`` / ``correct_b[i]``: is model A / B right on image ``i`` (booleans or
    0/1, equal lengths). Only the discordant images carry information: ``a_only`` (A
    right, B wrong, the table's *b*) and ``b_only`` (*c*). Returns ``n``, the four cells
    ``a_only``, ``b_only``, ``both``, ``neither``, ``accuracy_a``, ``accuracy_b``,
    ``difference`` (``accuracy_b - accuracy_a``), and

    - ``p_exact``: the two-sided exact (binomial) McNemar p-value,
      ``statsmodels.stats.contingency_tables.mcnemar(table, exact=True)``, i.e.
      ``min(1, 2 * binom.cdf(min(b, c), b + c, 0.5))``;
    - ``p_midp``: the mid-p version, ``2 * binom.cdf(k, b + c, .5) - binom.pmf(k, b + c, .5)``
      with ``k = min(b, c)`` (scipy.stats.binom), capped at 1. It is ``p_exact`` minus the
      point probability whenever ``b != c``; when ``b == c`` both are 1 (subtracting the
      point probability from the capped exact p would wrongly give less than 1). 1.0 when
      ``b + c == 0``.
    """
    from statsmodels.stats.contingency_tables import mcnemar

    a = _binary(correct_a, "correct_a")
    b = _binary(correct_b, "correct_b")
    n = _same_length(correct_a=a, correct_b=b)
    both, a_only = int(np.sum(a & b)), int(np.sum(a & ~b))
    b_only, neither = int(np.sum(~a & b)), int(np.sum(~a & ~b))
    discordant = a_only + b_only
    p_exact = float(mcnemar(np.array([[both, a_only], [b_only, neither]]), exact=True).pvalue)
    if discordant == 0:
        p_midp = 1.0
    else:
        k = min(a_only, b_only)
        p_midp = float(min(1.0, 2 * st.binom.cdf(k, discordant, 0.5) - st.binom.pmf(k, discordant, 0.5)))
    acc_a, acc_b = (both + a_only) / n, (both + b_only) / n
    return {"n": n, "a_only": a_only, "b_only": b_only, "both": both, "neither": neither,
            "accuracy_a": acc_a, "accuracy_b": acc_b, "difference": acc_b - acc_a,
            "p_exact": p_exact, "p_midp": p_midp}


def _metric_from_confusion(counts: np.ndarray, metric: str, averaged: np.ndarray) -> np.ndarray:
    """``metric`` of each confusion count matrix in ``counts`` (shape ``(B, K, K)``, rows
    true, columns predicted), as scikit-learn defines it. ``averaged``: the class indices
    macro-F1 averages over (its ``labels=``)."""
    tp = np.diagonal(counts, axis1=1, axis2=2).astype(float)
    if metric == "accuracy":
        return tp.sum(axis=1) / counts.sum(axis=(1, 2))
    support = counts.sum(axis=2)
    if metric == "balanced_accuracy":
        # sklearn.metrics.balanced_accuracy_score: mean recall over the classes present in y_true
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(support > 0, tp / support, np.nan)
        return np.nanmean(recall, axis=1)
    # f1_score(average="macro", labels=..., zero_division=0): F1 = 2tp / (2tp + fp + fn), 0 when 0/0
    predicted = counts.sum(axis=1)
    denominator = support + predicted   # = 2tp + fn + fp
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denominator > 0, 2 * tp / denominator, 0.0)
    return f1[:, averaged].mean(axis=1)


def paired_bootstrap(y_true, pred_a, pred_b, *, metric: str = "accuracy", n_boot: int = 2000, seed: int = 0,
                     confidence: float = 0.95, classes: Sequence | None = None) -> dict:
    """Paired bootstrap over test images of ``metric(B) - metric(A)``.

    Each resample draws the test images with replacement, the *same* images for both
    models (that is the pairing), and takes the difference of the metric. ``metric`` is
    one of :data:`BOOTSTRAP_METRICS`, with scikit-learn's definitions: ``accuracy``,
    ``macro_f1`` (``f1_score(average="macro", labels=classes, zero_division=0)``) and
    ``balanced_accuracy`` (``balanced_accuracy_score``: mean recall over the classes
    present in the resample's ``y_true``). ``classes``: the labels macro-F1 averages over;
    None: every label seen in ``y_true``, ``pred_a`` or ``pred_b`` on the full set, fixed
    for all resamples (a class missing from a resample then scores F1 0, as
    scikit-learn's ``zero_division=0`` does). Labels may be ints or strings.

    Computed here, not with ``scipy.stats.bootstrap(..., paired=True)``: one numpy index
    matrix (``n_boot × n``, drawn in blocks by ``numpy.random.default_rng(seed)``) serves
    both models, and every metric comes from per-resample confusion counts made with one
    ``np.bincount``, so scikit-learn is never called per resample.

    Returns ``difference`` (on the full set), ``low`` / ``high`` (the percentile interval
    at ``confidence``), ``n_boot``, ``metric``, and ``p_boot``, the two-sided bootstrap
    p-value ``2 * min(share of differences <= 0, share >= 0)`` capped at 1 (a rough
    companion of the interval, not an exact test).
    """
    if metric not in BOOTSTRAP_METRICS:
        raise ValueError(f"metric must be one of {BOOTSTRAP_METRICS}, got {metric!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    confidence = _probability(confidence, "confidence")
    y = _vector(y_true, "y_true")
    a = _vector(pred_a, "pred_a")
    b = _vector(pred_b, "pred_b")
    n = _same_length(y_true=y, pred_a=a, pred_b=b)

    seen = np.concatenate([y, a, b])
    if classes is None:
        averaged_labels = np.unique(seen)
        labels = averaged_labels
    else:
        averaged_labels = _vector(classes, "classes")
        if len(np.unique(averaged_labels)) != len(averaged_labels):
            raise ValueError(f"classes must not repeat a label, got {list(averaged_labels)}")
        labels = np.unique(np.concatenate([averaged_labels, seen]))
    k = len(labels)
    averaged = np.searchsorted(labels, averaged_labels)
    code_y, code_a, code_b = (np.searchsorted(labels, v) for v in (y, a, b))
    cell_a, cell_b = code_y * k + code_a, code_y * k + code_b

    def metric_of(cells: np.ndarray) -> np.ndarray:   # cells: (B, n) → metric per row
        rows = cells.shape[0]
        flat = (np.arange(rows)[:, None] * (k * k) + cells).ravel()
        counts = np.bincount(flat, minlength=rows * k * k).reshape(rows, k, k)
        return _metric_from_confusion(counts, metric, averaged)

    difference = float(metric_of(cell_b[None])[0] - metric_of(cell_a[None])[0])
    rng = np.random.default_rng(seed)
    block = max(1, _BOOT_CELLS // n)
    diffs = np.empty(n_boot)
    for start in range(0, n_boot, block):
        rows = min(block, n_boot - start)
        idx = rng.integers(0, n, size=(rows, n))
        diffs[start:start + rows] = metric_of(cell_b[idx]) - metric_of(cell_a[idx])
    tail = (1 - confidence) / 2
    low, high = np.percentile(diffs, [100 * tail, 100 * (1 - tail)])
    p_boot = min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))
    return {"difference": difference, "low": float(low), "high": float(high), "n_boot": int(n_boot),
            "metric": metric, "p_boot": float(p_boot)}


def bootstrap_index(n: int, n_boot: int = 2000, seed: int = 0) -> np.ndarray:
    """The ``(n_boot, n)`` matrix of image indices a bootstrap resamples with
    (``numpy.random.default_rng(seed).integers(0, n, ...)``). Two test sets scored with the
    *same* matrix are paired: image ``i`` of one is image ``i`` of the other (notebook 04's
    shifts, which render the same faces with one factor changed)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive number of images, got {n!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    return np.random.default_rng(seed).integers(0, n, size=(int(n_boot), int(n)))


def percentile_interval(resamples, confidence: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap ``resamples`` at ``confidence`` (NaNs ignored)."""
    confidence = _probability(confidence, "confidence")
    tail = (1 - confidence) / 2
    low, high = np.nanpercentile(np.asarray(resamples, float), [100 * tail, 100 * (1 - tail)])
    return float(low), float(high)


def bootstrap_metric(y_true, preds, *, metric: str = "accuracy", n_boot: int = 2000, seed: int = 0,
                     confidence: float = 0.95, classes: Sequence | None = None,
                     index: np.ndarray | None = None) -> dict:
    """A metric on one test set with its percentile bootstrap interval over the test images.

    ``preds``: one prediction per image (``(n,)``), or one row per run (``(R, n)``: seeds of
    one model scored on the same images), whose metric is averaged over the runs on every
    resample, so the interval is that of the seed mean over images. Metrics and ``classes``
    as in :func:`paired_bootstrap` (scikit-learn's definitions; a prediction outside
    ``classes`` counts as wrong and is averaged over by no class). ``index``: a
    :func:`bootstrap_index` matrix to resample with (pass the same one to two test sets
    that are paired image by image); by default one is drawn from ``seed``.

    Returns ``value`` (full set), ``low``, ``high``, ``n``, ``n_boot``, ``metric`` and
    ``resamples`` (the ``n_boot`` values, for differences).
    """
    if metric not in BOOTSTRAP_METRICS:
        raise ValueError(f"metric must be one of {BOOTSTRAP_METRICS}, got {metric!r}")
    y = _vector(y_true, "y_true")
    p = np.asarray(preds)
    if p.ndim == 1:
        p = p[None]
    if p.ndim != 2 or p.shape[1] != len(y) or len(y) == 0:
        raise ValueError(f"preds must be (n,) or (runs, n) for n = {len(y)} images, got shape {np.asarray(preds).shape}")
    seen = np.concatenate([y, p.ravel()])
    if classes is None:
        averaged_labels = np.unique(y)
        labels = np.unique(seen)
    else:
        averaged_labels = _vector(classes, "classes")
        labels = np.unique(np.concatenate([averaged_labels, seen]))
    k = len(labels)
    averaged = np.searchsorted(labels, averaged_labels)
    cells = np.searchsorted(labels, y)[None] * k + np.searchsorted(labels, p)   # (R, n)

    def metric_of(c: np.ndarray) -> np.ndarray:   # (B, n) cells -> metric per row
        rows = c.shape[0]
        flat = (np.arange(rows)[:, None] * (k * k) + c).ravel()
        counts = np.bincount(flat, minlength=rows * k * k).reshape(rows, k, k)
        return _metric_from_confusion(counts, metric, averaged)

    n = len(y)
    if index is None:
        index = bootstrap_index(n, n_boot, seed)
    index = np.asarray(index)
    if index.ndim != 2 or index.shape[1] != n:
        raise ValueError(f"index must be (n_boot, {n}), got shape {index.shape}")
    value = float(np.mean([metric_of(run[None])[0] for run in cells]))
    block = max(1, _BOOT_CELLS // n)
    resamples = np.empty(len(index))
    for start in range(0, len(index), block):
        rows = index[start:start + block]
        resamples[start:start + len(rows)] = np.mean([metric_of(run[rows]) for run in cells], axis=0)
    low, high = percentile_interval(resamples, confidence)
    return {"value": value, "low": low, "high": high, "n": int(n), "n_boot": int(len(index)), "metric": metric,
            "resamples": resamples}


# --------------------------------------------------------------------------- over seeds
def paired_seed_test(a, b) -> dict:
    """Compare two variants over seeds: ``a[i]``, ``b[i]`` are their metric on seed ``i``.

    Same length ``n >= 2``, finite. Returns ``n``, ``mean_a``, ``mean_b``,
    ``mean_difference`` (of ``b - a``), ``sd_difference`` (ddof 1), and

    - ``t``, ``p_t``: the paired t-test ``scipy.stats.ttest_rel(b, a)`` (two-sided);
      ``ci_low``, ``ci_high``: the 95 % t interval of the mean difference,
      ``mean ± t.ppf(.975, n-1) * sd / sqrt(n)``;
    - ``p_wilcoxon``: ``scipy.stats.wilcoxon(b, a)`` two-sided, ``method="auto"``: exact
      when there are no ties or zero differences (n ≤ 50), an exhaustive permutation
      (exact given the ties) when there are and n ≤ 13, the normal approximation beyond.
      Zero differences are dropped (``zero_method="wilcox"``); NaN when every difference is zero;
    - ``wilcoxon_floor``: the smallest two-sided p the exact signed-rank test can reach
      with ``n`` pairs, ``2 / 2**n`` capped at 1 (every difference of one sign; zero
      differences lower the effective n), and ``wilcoxon_can_reach_05`` (floor < 0.05,
      i.e. n ≥ 6: with 5 seeds or fewer the signed-rank test can never reach 0.05);
    - ``d_z``: ``mean_difference / sd_difference`` (Cohen's d of the differences, the
      effect the t-test and :func:`seeds_needed` use; ``t = d_z * sqrt(n)``);
    - ``d_av``: ``mean_difference / sqrt((sd_a**2 + sd_b**2) / 2)``, the mean difference
      over the two variants' own spread (sds ddof 1). This is exactly what
      ``pingouin.compute_effsize(b, a, paired=True, eftype="cohen")`` returns: pingouin's
      paired "cohen" is this d_av, *not* d_z. Its denominator is the root mean square of
      the two sds, which is never smaller than their plain mean ``(sd_a + sd_b) / 2``, so
      this d_av is at most the d_av written with the plain mean (equal when sd_a == sd_b).

    No spread: when ``sd_difference == 0`` (every seed moves by the same amount, e.g. two
    identical variants), ``t``, ``p_t`` and ``d_z`` are NaN (a t-test needs the
    differences to vary; NaN keeps such a step out of :func:`holm`'s family), and the
    interval collapses to ``[mean_difference, mean_difference]``. ``d_av`` is NaN when
    both variants have sd 0.
    """
    x = _numeric(a, "a")
    y = _numeric(b, "b")
    n = _same_length(a=x, b=y)
    if n < 2:
        raise ValueError(f"paired_seed_test needs at least 2 paired seeds, got {n}")
    diff = y - x
    mean_d, sd_d = float(diff.mean()), float(diff.std(ddof=1))
    half = float(st.t.ppf(0.975, n - 1)) * sd_d / math.sqrt(n)
    if sd_d > 1e-12 * max(1.0, abs(mean_d)):   # differences equal up to rounding count as constant
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = st.ttest_rel(y, x)
        t, p_t, d_z = float(res.statistic), float(res.pvalue), mean_d / sd_d
    else:
        t = p_t = d_z = math.nan
    if np.all(diff == 0):
        p_w = math.nan
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            p_w = float(st.wilcoxon(y, x, alternative="two-sided", method="auto").pvalue)
    pooled = math.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    d_av = mean_d / pooled if pooled > 0 else math.nan
    floor = min(1.0, 2.0 / 2.0 ** n)
    return {"n": n, "mean_a": float(x.mean()), "mean_b": float(y.mean()), "mean_difference": mean_d,
            "sd_difference": sd_d, "t": t, "p_t": p_t, "ci_low": mean_d - half, "ci_high": mean_d + half,
            "p_wilcoxon": p_w, "wilcoxon_floor": floor, "wilcoxon_can_reach_05": bool(floor < 0.05),
            "d_z": d_z, "d_av": d_av}


def holm(pvalues) -> np.ndarray:
    """Holm-adjusted p-values, in the input's order.

    ``statsmodels.stats.multitest.multipletests(p, method="holm")`` (the method is passed
    explicitly: multipletests' default is ``"hs"``, Holm–Šidák, not Holm). NaN entries
    stay NaN and are left out of the family (they do not count towards its size).
    Returns an empty array for empty input.
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be one-dimensional, got shape {p.shape}")
    out = np.full(p.shape, np.nan)
    present = ~np.isnan(p)
    if np.any((p[present] < 0) | (p[present] > 1)):
        raise ValueError(f"p-values must lie in [0, 1] (or be NaN), got {p[present].tolist()}")
    if present.any():
        out[present] = multipletests(p[present], method="holm")[1]
    return out


def step_table(per_seed: pd.DataFrame, order: list[str], *, metric: str = "accuracy") -> pd.DataFrame:
    """The steps of an ablation, each tested over seeds (notebook 03).

    ``per_seed``: one row per run, columns ``variant``, ``seed`` and ``metric``. For each
    adjacent pair ``(order[i], order[i+1])`` the two variants' runs are paired by seed
    (an inner join: a seed only one of them has is left out) and compared with
    :func:`paired_seed_test` (differences are ``to - from``). One row per step, columns
    :data:`STEP_COLUMNS`; ``p_holm`` is :func:`holm` of the steps' ``p_t`` (the family is
    this table's steps). A step with fewer than two shared seeds is not tested: its row keeps
    ``n`` and the mean difference (NaN with no shared seed), every test column NaN, and stays out
    of the Holm family.
    """
    missing = [c for c in ("variant", "seed", metric) if c not in per_seed.columns]
    if missing:
        raise ValueError(f"per_seed lacks column(s) {missing}; expected 'variant', 'seed' and {metric!r}")
    order = list(order)
    if len(order) < 2:
        raise ValueError(f"order must name at least two variants (one step), got {order}")
    absent = [v for v in order if v not in set(per_seed["variant"])]
    if absent:
        raise ValueError(f"variant(s) {absent} of order have no rows in per_seed "
                         f"(it has {sorted(per_seed['variant'].unique().tolist())})")
    repeated = per_seed.duplicated(["variant", "seed"])
    if repeated.any():
        raise ValueError("per_seed must hold one row per (variant, seed); repeated: "
                         f"{per_seed.loc[repeated, ['variant', 'seed']].values.tolist()}")
    rows = []
    for start, end in zip(order[:-1], order[1:]):
        left = per_seed.loc[per_seed["variant"] == start, ["seed", metric]]
        right = per_seed.loc[per_seed["variant"] == end, ["seed", metric]]
        paired = left.merge(right, on="seed", how="inner", suffixes=("_from", "_to")).sort_values("seed")
        if len(paired) < 2:
            diff = (paired[f"{metric}_to"] - paired[f"{metric}_from"]).to_numpy(dtype=float)
            rows.append({"from": start, "to": end, **{c: math.nan for c in STEP_COLUMNS[2:-1]}, "n": len(paired),
                         "mean_difference": float(diff.mean()) if len(diff) else math.nan, "wilcoxon_floor": 1.0})
            continue
        try:
            res = paired_seed_test(paired[f"{metric}_from"].to_numpy(), paired[f"{metric}_to"].to_numpy())
        except ValueError as err:
            raise ValueError(f"step {start!r} → {end!r} ({len(paired)} shared seed(s)): {err}") from None
        rows.append({"from": start, "to": end, **{c: res[c] for c in STEP_COLUMNS[2:-1]}})
    table = pd.DataFrame(rows, columns=list(STEP_COLUMNS[:-1]))
    table["p_holm"] = holm(table["p_t"].to_numpy())
    return table


# --------------------------------------------------------------------------- planning
def _t_power(d_z: float, n: int, alpha: float) -> float:
    """Two-sided power of a paired t-test with ``n`` pairs at effect ``d_z``:
    ``statsmodels.stats.power.TTestPower().power``. scipy's noncentral t (which statsmodels
    uses) returns NaN for some large noncentralities (|d_z|·√n beyond about 8); then the
    same power is taken from its definition, ``E_V[Φ(nc - c·√(V/df)) + Φ(-nc - c·√(V/df))]``
    with ``V ~ χ²(df)``, ``df = n - 1``, ``nc = d_z·√n``, ``c = t.isf(alpha/2, df)``
    (``scipy.stats.chi2.expect``)."""
    from statsmodels.stats.power import TTestPower

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        power = float(TTestPower().power(effect_size=d_z, nobs=n, alpha=alpha, alternative="two-sided"))
    if math.isfinite(power):
        return power
    df, nc = n - 1, abs(d_z) * math.sqrt(n)
    crit = st.t.isf(alpha / 2, df)
    return float(st.chi2.expect(lambda v: st.norm.sf(crit * np.sqrt(v / df) - nc)
                                + st.norm.cdf(-crit * np.sqrt(v / df) - nc), args=(df,)))


def seeds_needed(d_z: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Runs (pairs) a two-sided paired t-test needs to detect effect ``d_z`` with ``power``.

    ``statsmodels.stats.power.TTestPower().solve_power(effect_size=d_z, alpha=alpha,
    power=power, alternative="two-sided")`` rounded up, then checked with the power itself
    (the solver is unreliable for large effects: it can answer 2 where 2 pairs fall short)
    so the answer is the smallest n ≥ 2 whose power reaches ``power``. The sign of ``d_z``
    does not matter; ``math.inf`` (a float) for ``d_z == 0``, and for an effect so small that
    even the normal approximation, ``((z_{α/2} + z_power) / d_z)²``, which no t-test beats,
    needs more than :data:`MAX_SEEDS` pairs (two seeds with equal accuracy give a d_z of
    float noise, ~1e-16, for which the scan would never end).
    """
    from statsmodels.stats.power import TTestPower

    # Imported before the filter below: on import this module sets ConvergenceWarning to "always".
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    d_z = float(d_z)
    if not math.isfinite(d_z):
        raise ValueError(f"d_z must be a finite number, got {d_z}")
    alpha, power = _probability(alpha, "alpha"), _probability(power, "power")
    if d_z == 0:
        return math.inf
    d_z = abs(d_z)
    normal = ((st.norm.isf(alpha / 2) + st.norm.isf(1 - power)) / d_z) ** 2
    if normal > MAX_SEEDS:
        return math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # no root for large effects: the scan below decides
        warnings.simplefilter("ignore", RuntimeWarning)
        solved = float(TTestPower().solve_power(effect_size=d_z, alpha=alpha, power=power, alternative="two-sided"))
    n = max(2, math.ceil(solved)) if math.isfinite(solved) else max(2, math.floor(normal))
    while _t_power(d_z, n, alpha) < power:
        n += 1
    while n > 2 and _t_power(d_z, n - 1, alpha) >= power:
        n -= 1
    return n


def runs_for_p(d_z: float, p: float = 0.001) -> int:
    """The smallest n (pairs, n ≥ 2) at which a paired t-test whose observed effect is
    ``d_z`` gives a two-sided p below ``p``: ``t = |d_z|·√n`` on ``n - 1`` degrees of
    freedom, ``2 * scipy.stats.t.sf(t, n - 1) < p``. E.g. d_z 0.95 needs 18 runs for
    p < 0.001 (17 give 0.0012). ``math.inf`` for ``d_z == 0``.

    The scan over n starts at ``max(2, floor((z / |d_z|)**2))`` with ``z = norm.isf(p/2)``
    rather than at 2: below that n even the normal tail (lighter than any t tail) is not
    below ``p``, so no smaller n can qualify and the answer is the same as scanning from 2.
    """
    d_z, p = float(d_z), _probability(p, "p")
    if not math.isfinite(d_z):
        raise ValueError(f"d_z must be a finite number, got {d_z}")
    if d_z == 0:
        return math.inf
    d_z = abs(d_z)
    n = max(2, math.floor((st.norm.isf(p / 2) / d_z) ** 2))
    while 2 * st.t.sf(d_z * math.sqrt(n), n - 1) >= p:
        n += 1
    return n


def max_dz_per_image(delta: float) -> float:
    """The largest paired Cohen's d_z possible when the pairs are test images scored
    correct (1) or wrong (0) and model B is more accurate than A by ``delta``.

    The best case for B: it is right wherever A is right, so each image's difference is 0
    or 1, and 1 on a share ``delta`` of images. Their mean is ``delta`` and their sd, in
    the population form (ddof 0, the many-image limit), ``sqrt(delta * (1 - delta))``, so
    ``d_z = sqrt(delta / (1 - delta))``: 0.333 for 10 points of accuracy. Any other
    pattern of disagreements adds images where B is wrong and A right, and a smaller
    d_z. ``delta`` in [0, 1]; ``math.inf`` at 1.
    """
    delta = float(delta)
    if not 0.0 <= delta <= 1.0:
        raise ValueError(f"delta is an accuracy difference as a share and must lie in [0, 1], got {delta}")
    if delta == 1.0:
        return math.inf
    return math.sqrt(delta / (1.0 - delta))


def gap_for_dz(d_z: float) -> float:
    """The smallest accuracy gap (a share) at which a per-image paired d_z can reach ``d_z``:
    the inverse of :func:`max_dz_per_image`, ``d² / (1 + d²)``. HAFEM §4's d of 0.95 needs a
    gap of 47 points, its 2.84 one of 89 points. The sign of ``d_z`` does not matter."""
    d_z = float(d_z)
    if not math.isfinite(d_z):
        raise ValueError(f"d_z must be a finite number, got {d_z}")
    return d_z * d_z / (1.0 + d_z * d_z)


def paired_t_p(d_z: float, n: int) -> dict:
    """The paired t-test an effect ``d_z`` over ``n`` pairs gives: ``t = d_z·√n`` on ``n - 1``
    degrees of freedom and its two-sided ``p = 2·scipy.stats.t.sf(|t|, n - 1)`` — exactly what
    ``scipy.stats.ttest_rel`` returns for any sample whose differences have that mean over
    sd (ddof 1). Refuses ``n < 2`` (no degrees of freedom)."""
    d_z = float(d_z)
    if not math.isfinite(d_z):
        raise ValueError(f"d_z must be a finite number, got {d_z}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"a paired t-test needs at least 2 pairs, got n = {n!r}")
    t = d_z * math.sqrt(n)
    return {"t": t, "df": int(n) - 1, "p": float(2 * st.t.sf(abs(t), int(n) - 1))}


def per_image_effect(correct_a, correct_b) -> dict:
    """Cohen's d_z when the pairs are test images: the mean over the sd (ddof 1) of
    ``correct_b - correct_a`` (each -1, 0 or 1), the paired t-test on them
    (``scipy.stats.ttest_rel``), ``n`` and the accuracy gap. Never above
    :func:`max_dz_per_image` of the gap (up to the ddof-1 correction). d_z and p are NaN when
    the two models agree on every image (no spread)."""
    a = _binary(correct_a, "correct_a").astype(float)
    b = _binary(correct_b, "correct_b").astype(float)
    n = _same_length(correct_a=a, correct_b=b)
    if n < 2:
        raise ValueError(f"a per-image effect needs at least 2 images, got {n}")
    diff = b - a
    sd = float(diff.std(ddof=1))
    if sd == 0:
        return {"n": n, "gap": float(diff.mean()), "d_z": math.nan, "t": math.nan, "p": math.nan}
    res = st.ttest_rel(b, a)
    return {"n": n, "gap": float(diff.mean()), "d_z": float(diff.mean()) / sd, "t": float(res.statistic),
            "p": float(res.pvalue)}


def variances(values) -> dict:
    """Population (ddof 0) and sample (ddof 1) variance of ``values``, and ``n``.

    For reading a paper's "Var": LANMSFF's whole-model per-pose accuracies on KDEF
    (89.44, 91.18, 92.04, 91.00, 90.17; Tables X and XII, :mod:`fernb.papers.lanmsff`)
    have population variance 0.79 and sample variance 0.99, where the paper prints 0.66.
    ``sample`` is NaN for a single value.
    """
    x = _numeric(values, "values")
    n = len(x)
    return {"population": float(np.var(x, ddof=0)), "sample": float(np.var(x, ddof=1)) if n > 1 else math.nan,
            "n": n}
