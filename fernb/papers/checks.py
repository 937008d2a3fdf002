"""Checks a paper's numbers can be given with nothing but the paper: each answers a verdict and its evidence.

The claims ledger runs these on the numbers both papers print (each paper's claims file,
:mod:`fernb.papers.hafem_claims` and :mod:`fernb.papers.lanmsff_claims`, gathered by
:mod:`fernb.papers.ledger`).
Each function returns ``(verdict, evidence)`` with a verdict from :data:`VERDICTS` (its
meaning: :data:`VERDICT_MEANINGS`) and a sentence that shows the arithmetic, so a reader can
redo it by hand. No verdict may rest on a convention a paper is allowed to use, so the checks
model them:

- **rounding**: a printed number stands for an interval (``36.37`` for [36.365, 36.375]);
  a value "matches" it when rounding to the printed decimals gives it (half-way either way),
  or, where a paper is seen to truncate, when truncating does (the evidence says which);
  numbers computed *from* printed numbers carry their inputs' rounding too
  (:func:`check_mean`, :func:`check_variance`);
- **rows forced to total 100**: a row of percentages may have had one or more cells moved by
  one unit so that it prints a total of exactly 100 (rounding every cell would give 100.01);
  :func:`fit_row` finds whole counts under plain rounding, truncation or that adjustment;
- **k-fold averages**: a percentage averaged over folds of unstated sizes need not be a whole
  count of the pooled set, nor the average of per-class numbers equal the per-fold overall
  (``folds=`` of :func:`check_mean`, :func:`check_fold_counts`): such a check says
  ``cannot check`` with the arithmetic, never ``inconsistent``.

- :func:`matches` / :func:`decimals_of`: one recomputed value against one printed number;
- :func:`support_fits` / :func:`smallest_support`: can a printed percentage (or a whole
  confusion row) come from whole counts of ``n`` images? (A row-normalised confusion matrix
  of a test set with ``n`` images of a class holds multiples of 100/n.)
- :func:`check_mean`, :func:`check_weighted_mean`, :func:`check_difference`,
  :func:`check_ratio`, :func:`check_f1`, :func:`check_density`, :func:`check_variance`,
  :func:`check_rows`, :func:`check_confusion_row`: the recomputations;
- :func:`fit_row` / :class:`RowFit` / :data:`CONVENTIONS`: whole counts behind a row of
  percentages under each printing convention; :func:`check_fold_counts`: the same for
  percentages averaged over folds;
- :func:`check_plausible`: a claimed accuracy against the best published result and human
  agreement on the dataset (:data:`fernb.papers.published.STATE_OF_THE_ART`).

Pure functions of numbers: nothing here imports the rest of :mod:`fernb`.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["VERDICTS", "VERDICTS_BY_KIND", "VERDICT_MEANINGS", "CONVENTIONS", "RowFit", "fit_row", "describe_fit", "check_fold_counts",
           "KINDS", "decimals_of", "matches", "support_fits", "smallest_support", "check_mean",
           "check_weighted_mean", "check_difference", "check_ratio", "check_f1", "check_density", "check_variance",
           "check_rows", "check_confusion_row", "check_plausible", "check_equal", "PLAUSIBLE_MARGIN"]

# The fixed vocabulary of the ledger's verdicts: the kinds of check, and the verdicts each may give.
KINDS = ("consistency", "plausibility", "measurement")
VERDICTS_BY_KIND = {
    "consistency": ("consistent", "inconsistent", "cannot check"),
    "plausibility": ("plausible", "implausible", "cannot check"),
    "measurement": ("reproduced", "not reproduced", "not testable at this scale", "not testable here"),
}
VERDICTS = ("consistent", "inconsistent", "cannot check", "plausible", "implausible", "reproduced", "not reproduced",
            "not testable at this scale", "not testable here")
# Each verdict defined once: notebook 06, the claims page and the docs print these.
VERDICT_MEANINGS = {
    "consistent": "the paper's own numbers agree, within the precision they are printed with and the conventions a "
                  "paper may use (rounding, rows forced to total 100, averages over folds).",
    "inconsistent": "the paper's own numbers cannot all be right: no rounding or convention reconciles them. Every "
                    "inconsistent check names the finding (root cause) it belongs to.",
    "cannot check": "what the check needs is not given — by the paper (a test split, fold sizes, a figure's values) "
                    "or by the published record kept here (no reference result for that dataset) — or a convention "
                    "the paper may have used explains the numbers either way; the evidence says what is missing.",
    "plausible": "the number is within reach of the published record: at most 2 points above the best published "
                 "single-model result on that dataset.",
    "implausible": "the number is further above the published record (the best published single model, human "
                   "agreement) than later work could explain; it names its finding.",
    "reproduced": "our measurement agrees with the stated number: the stated value lies inside our interval, or a "
                  "count or direction is what the paper states.",
    "not reproduced": "measured at a scale that could refute it (the paper's own setting, or a quantity that does not "
                      "depend on scale such as a parameter count), our number disagrees with the stated one.",
    "not testable at this scale": "measured on the claim's dataset but at a smaller scale than the paper's (CPU, fewer "
                                  "epochs, smaller inputs): a shortfall there does not refute the claim. The row "
                                  "shows our number and its scale.",
    "not testable here": "nothing here measures it on the claim's dataset or setting (the data, the hardware or the "
                         "runs are missing); the row says what would, and shows no number.",
}
# How a row of percentages may have been printed (:func:`fit_row`).
CONVENTIONS = ("rounded", "truncated", "forced to 100")

# A claimed accuracy up to this many points above the best recorded published result counts as
# plausible (later work may edge past the recorded one); beyond it, implausible.
PLAUSIBLE_MARGIN = 2.0


def decimals_of(value: float) -> int:
    """The decimals a number was printed with, read from its shortest representation
    (``36.37`` → 2, ``7.9`` → 1, ``196`` → 0). A trailing zero the data dropped (``90.00``
    stored as ``90.0``) reads as fewer decimals, which only loosens a check."""
    exponent = Decimal(repr(float(value))).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def matches(value: float, printed: float, decimals: int | None = None) -> str | None:
    """``"rounded"`` when ``value`` rounded to the printed decimals gives ``printed``,
    ``"truncated"`` when only truncating does, else None (also for NaN). Half-way cases are
    accepted either way (papers round half up, Python half to even)."""
    if value is None or printed is None or not math.isfinite(value):
        return None
    d = decimals_of(printed) if decimals is None else decimals
    unit = 10.0 ** -d
    if abs(value - printed) <= unit / 2 + 1e-9:
        return "rounded"
    if abs(math.floor(value / unit + 1e-9) * unit - printed) < 1e-9:
        return "truncated"
    return None


def support_fits(percent: float, n: int, decimals: int | None = None) -> int | None:
    """The whole count ``k`` (0 ≤ k ≤ n) whose share ``100 k / n`` prints as ``percent``, or
    None when no count of ``n`` images does."""
    k = round(percent * n / 100)
    for cand in (k - 1, k, k + 1):
        if 0 <= cand <= n and matches(100 * cand / n, percent, decimals) == "rounded":
            return cand
    return None


def smallest_support(percents: Sequence[float], decimals: int | None = None, max_n: int = 10_000,
                     whole_row: bool = False) -> int | None:
    """The smallest number of images ``n`` for which every percentage in ``percents`` is a
    whole count of ``n`` (and, with ``whole_row``, the counts add up to ``n``, as in a row
    of a row-normalised confusion matrix). None when no ``n`` up to ``max_n`` works."""
    for n in range(1, max_n + 1):
        counts = [support_fits(p, n, decimals) for p in percents]
        if any(c is None for c in counts):
            continue
        if whole_row and sum(counts) != n:
            continue
        return n
    return None


@dataclass(frozen=True)
class RowFit:
    """Whole counts behind a printed row: the ``convention`` (:data:`CONVENTIONS`), the
    ``counts`` (one per cell, adding up to ``n``), and for ``"forced to 100"`` the cells moved
    by one unit (``adjusted``) and what plain rounding would have totalled (``rounded_total``)."""

    convention: str
    counts: tuple[int, ...]
    n: int
    adjusted: tuple[int, ...] = ()
    rounded_total: float | None = None


def _rounded(x: float, d: int) -> float:
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-d), rounding="ROUND_HALF_UP"))


def _classify(percents: Sequence[float], counts: Sequence[int], n: int, d: int) -> RowFit | None:
    unit = 10.0 ** -d
    exact = [100 * k / n for k in counts]
    if all(matches(e, p, d) == "rounded" for e, p in zip(exact, percents)):
        return RowFit("rounded", tuple(counts), n)
    if all(abs(math.floor(e / unit + 1e-9) * unit - p) < 1e-9 for e, p in zip(exact, percents)):
        return RowFit("truncated", tuple(counts), n)
    if abs(sum(percents) - 100) > unit / 2:
        return None
    naive = [_rounded(e, d) for e in exact]
    moved = [i for i, (r, p) in enumerate(zip(naive, percents)) if abs(r - p) > 1e-9]
    steps = [round((percents[i] - naive[i]) / unit) for i in moved]
    if not moved or any(abs(s) != 1 for s in steps) or len(set(steps)) != 1:
        return None
    if abs(sum(naive) + sum(steps) * unit - 100) > unit / 2:
        return None
    return RowFit("forced to 100", tuple(counts), n, tuple(moved), round(sum(naive), d))


def fit_row(percents: Sequence[float], n: int, decimals: int | None = None) -> RowFit | None:
    """Whole counts ``k_i`` (adding up to ``n``) whose shares ``100 k_i / n`` print as the row
    ``percents`` under one of :data:`CONVENTIONS`: every cell rounded; every cell truncated;
    or rounded and then forced to total exactly 100 — some cells moved by one unit, all the
    same way, just enough to bring the total to 100 (largest-remainder rounding is one such
    choice). Plain rounding is preferred, then truncation. None when no counts fit."""
    d = max(decimals_of(p) for p in percents) if decimals is None else decimals
    unit = 10.0 ** -d
    cands = []
    for p in percents:
        lo, hi = max(0, math.floor((p - 1.5 * unit) * n / 100)), min(n, math.ceil((p + 1.5 * unit) * n / 100))
        ks = [k for k in range(lo, hi + 1) if abs(100 * k / n - p) <= 1.5 * unit + 1e-9]
        if not ks:
            return None
        cands.append(ks)
    best = None
    for counts in itertools.product(*cands):
        if sum(counts) != n:
            continue
        fit = _classify(percents, counts, n, d)
        if fit is not None and (best is None or CONVENTIONS.index(fit.convention) < CONVENTIONS.index(best.convention)):
            best = fit
            if fit.convention == "rounded":
                break
    return best


def describe_fit(fit: RowFit, percents: Sequence[float], labels: Sequence[str] | None = None) -> str:
    """A :class:`RowFit` in words, with the arithmetic of every moved cell."""
    if fit.convention == "rounded":
        return "every cell rounded"
    if fit.convention == "truncated":
        return "every cell truncated, not rounded"
    labels = list(labels) if labels is not None else [f"cell {i + 1}" for i in range(len(percents))]
    cells = "; ".join(f"{labels[i]} {fit.counts[i]}/{fit.n} = {100 * fit.counts[i] / fit.n:.3f} printed {percents[i]}"
                      for i in fit.adjusted)
    return (f"forced to total 100 (rounding every cell totals {fit.rounded_total:g}; {len(fit.adjusted)} cell"
            f"{'s' if len(fit.adjusted) > 1 else ''} moved by one unit: {cells})")


def check_fold_counts(percents: Sequence[float], n: int, what: str, folds: int, decimals: int | None = None,
                      labels: Sequence[str] | None = None) -> tuple[str, str]:
    """Percentages averaged over ``folds`` cross-validation folds of a pooled set with ``n``
    images per cell. They are whole counts of ``n`` only when every fold holds the same number
    of the cell's images; the paper does not give the folds' sizes, so cells that are not whole
    counts are ``cannot check``, never inconsistent."""
    bad = [f"{labels[i] if labels else i + 1} {p}" for i, p in enumerate(percents) if support_fits(p, n, decimals) is None]
    if not bad:
        return "consistent", f"{what}: every cell is a whole count of {n} images"
    return "cannot check", (f"{what}: {len(bad)} of {len(percents)} cells are no whole count of {n} images "
                            f"({', '.join(bad)}); averaged over {folds} folds whose sizes the paper does not give, "
                            "they need not be, so nothing follows")


def _fmt(x: float, d: int = 2) -> str:
    return f"{x:.{d}f}"


def check_equal(stated, other, what: str) -> tuple[str, str]:
    """The same quantity printed in two places of a paper: consistent when equal."""
    if stated == other:
        return "consistent", f"{what}: {stated} in both places"
    return "inconsistent", f"{what}: {stated} here, {other} there"


def check_mean(values: Sequence[float], stated: float, what: str, decimals: int | None = None,
               folds: int | None = None) -> tuple[str, str]:
    """``stated`` against the plain mean of ``values`` (e.g. an overall accuracy of a set
    balanced over its columns). The printed values are rounded, so their mean may be off by
    half their last unit as well as the stated number by half of its own. ``folds``: the
    numbers are averages over that many folds (of unstated sizes), where an overall need not
    be the mean of its parts — a mismatch is then ``cannot check``."""
    mean = sum(values) / len(values)
    d_out = decimals_of(stated) if decimals is None else decimals
    d_in = max(decimals_of(v) for v in values) if decimals is None else decimals
    tol = 10.0 ** -d_out / 2 + 10.0 ** -d_in / 2 + 1e-9
    how = matches(mean, stated, decimals) or ("rounded" if abs(mean - stated) <= tol else None)
    text = f"{what}: mean of {len(values)} printed values = {mean:.4f}, printed {stated}"
    if how:
        return "consistent", text + (f" ({how})" if how == "truncated" else "")
    if folds:
        return "cannot check", (text + f" (off by {abs(mean - stated):.2f}); averaged over {folds} folds of unstated "
                                "sizes, an overall accuracy need not be the mean of its parts")
    return "inconsistent", text + f" (off by {abs(mean - stated):.3g}, beyond the ±{tol:.3g} rounding allows)"


def check_weighted_mean(values: Sequence[float], weights: Sequence[float], stated: float, what: str,
                        decimals: int | None = None) -> tuple[str, str]:
    """``stated`` against the mean of ``values`` weighted by ``weights`` (per-class accuracies
    weighted by the test set's class sizes give the overall accuracy)."""
    total = sum(weights)
    mean = sum(v * w for v, w in zip(values, weights)) / total
    how = matches(mean, stated, decimals)
    return ("consistent" if how else "inconsistent",
            f"{what}: class accuracies weighted by {list(weights)} (n = {total:g}) give {mean:.4f}, printed {stated}")


def check_difference(a: float, b: float, stated: float, what: str, decimals: int | None = None,
                     slack: float = 0.0) -> tuple[str, str]:
    """A stated difference ``a - b`` (points). Each printed operand may be off by half its
    last digit, so the difference of two rounded numbers may be off by one unit; ``slack``
    widens the tolerance further for loosely worded claims ("about 3 %")."""
    diff = a - b
    d = decimals_of(stated) if decimals is None else decimals
    tol = 10.0 ** -max(d, decimals_of(a), decimals_of(b)) + slack + 1e-9
    ok = abs(diff - stated) <= tol
    return ("consistent" if ok else "inconsistent",
            f"{what}: {a} − {b} = {diff:.4g}, stated {stated}" + ("" if ok else f" (off by {abs(diff - stated):.3g})"))


def check_ratio(a: float, b: float, stated: float, what: str, rel: float = 0.05) -> tuple[str, str]:
    """A stated ratio ``a / b`` ("276 times more parameters"), within ``rel`` relative error;
    the evidence gives the ``b`` the stated ratio implies (``a / stated``)."""
    ratio = a / b
    ok = abs(ratio - stated) <= rel * stated
    return ("consistent" if ok else "inconsistent",
            f"{what}: {a:g} / {b:g} = {ratio:.1f}, stated {stated:g}"
            + ("" if ok else f" ({100 * (ratio / stated - 1):+.0f} %; the stated ratio implies {a / stated:.4g} "
                             f"in place of {b:g})"))


def check_f1(precision: float, recall: float, f1: float, what: str) -> tuple[str, str]:
    """A table's F1 against the harmonic mean of its precision and recall. Macro-F1 (the mean
    of per-class F1) is in general *not* the harmonic mean of macro precision and macro
    recall; a table whose every F1 equals it computed F1 from the averages."""
    hm = 2 * precision * recall / (precision + recall)
    how = matches(hm, f1)
    return ("consistent" if how else "inconsistent",
            f"{what}: 2PR/(P+R) = {hm:.3f} for P {precision}, R {recall}; printed F1 {f1}"
            + (" (truncated)" if how == "truncated" else ""))


def check_density(accuracy: float, params_k: float, stated: float, what: str) -> tuple[str, str]:
    """Information density (LANMSFF §IV-B): accuracy in % over parameters in millions."""
    value = accuracy / (params_k / 1000)
    how = matches(value, stated)
    return ("consistent" if how else "inconsistent",
            f"{what}: {accuracy} / {params_k / 1000:g}M = {value:.3f}, printed {stated}"
            + (" (truncated, not rounded)" if how == "truncated" else ""))


def _variance_range(values: Sequence[float], half: float, with_mean: bool) -> tuple[float, float]:
    """The least and greatest population variance of numbers within ``half`` of ``values``
    (the interval each printed number stands for); ``with_mean``: of the numbers together with
    their own mean. The variance is convex, so its maximum over the box is at a corner and its
    minimum is found by pulling each number towards the mean."""
    def var(xs):
        xs = list(xs) + ([sum(xs) / len(xs)] if with_mean else [])
        m = sum(xs) / len(xs)
        return sum((x - m) ** 2 for x in xs) / len(xs)
    corners = (var([v + s * half for v, s in zip(values, signs)])
               for signs in itertools.product((-1, 1), repeat=len(values)))
    high = max(corners)
    xs = list(values)
    for _ in range(50):
        m = sum(xs) / len(xs)
        xs = [min(max(m, v - half), v + half) for v in values]
    return var(xs), high


def check_variance(values: Sequence[float], stated: float, what: str, with_overall: bool = False) -> tuple[str, str]:
    """A printed "Var" against the variance of the numbers it describes, read every way:
    population (÷n), sample (÷(n−1)), and ÷(n+1) — the population variance of the values
    together with their own mean, which is what a variance over a table row that also holds
    the overall accuracy gives. Each reading is an interval, the values being rounded.
    Consistent when the population or sample reading reaches the printed Var — or, with
    ``with_overall`` (the paper computes Var over the poses *and* the whole set, as LANMSFF
    §IV-D says of Table XI), the ÷(n+1) reading; the evidence names the reading."""
    n = len(values)
    mean = sum(values) / n
    ss = sum((v - mean) ** 2 for v in values)
    half = 10.0 ** -max(decimals_of(v) for v in values) / 2
    unit = 10.0 ** -decimals_of(stated) / 2
    ranges = {"population (÷n)": [r * 1.0 for r in _variance_range(values, half, False)],
              "sample (÷(n−1))": [r * n / (n - 1) for r in _variance_range(values, half, False)] if n > 1 else [math.nan] * 2,
              "with the overall as a value (÷(n+1))": list(_variance_range(values, half, True))}
    points = {"population (÷n)": ss / n, "sample (÷(n−1))": ss / (n - 1) if n > 1 else math.nan,
              "with the overall as a value (÷(n+1))": ss / (n + 1)}
    hits = [name for name, (lo, hi) in ranges.items() if lo - unit - 1e-9 <= stated <= hi + unit + 1e-9]
    text = ", ".join(f"{name} {points[name]:.3f}" for name in ranges)
    allowed = [h for h in hits if not h.startswith("with the overall") or with_overall]
    if allowed:
        return "consistent", f"{what}: printed {stated}; {text}: the {allowed[0]} reading gives it"
    extra = f"; only the {hits[0]} reading gives it" if hits else "; no reading gives it, within its inputs' rounding"
    return "inconsistent", f"{what}: printed {stated}; {text}{extra}"


def check_rows(rows: Mapping[str, float], what: str, decimals: int | None = None) -> tuple[str, str]:
    """Rows of a normalised table must add up to 100 (within the rounding of its cells)."""
    total = sum(rows.values())
    d = decimals_of(max(rows.values(), key=decimals_of)) if decimals is None else decimals
    tol = len(rows) * 10.0 ** -d / 2 + 1e-9
    ok = abs(total - 100) <= tol
    return ("consistent" if ok else "inconsistent", f"{what}: the row adds up to {total:.2f}"
            + ("" if ok else f", not 100 (tolerance ±{tol:.3f} for {len(rows)} rounded cells)"))


def check_confusion_row(percents: Sequence[float], what: str, supports: Mapping[str, int],
                        decimals: int | None = None, labels: Sequence[str] | None = None,
                        unknown_split: bool = False) -> tuple[str, str]:
    """Can a row of a row-normalised confusion matrix come from whole counts of the class's
    test images? ``supports``: the class's size in each candidate test split (name → n).
    Consistent when some split's n gives whole counts adding up to n under a printing
    convention (:func:`fit_row`: rounded, truncated, or forced to total 100; the evidence
    names it, with the arithmetic of any cell moved). Otherwise inconsistent — or, with
    ``unknown_split`` (the paper does not say which split it tested on), ``cannot check`` —
    and the evidence gives the smallest n that would fit, for comparison."""
    fits = {name: fit_row(percents, n, decimals) for name, n in supports.items()}
    found = [name for name, f in fits.items() if f is not None]
    if found:
        best = min(found, key=lambda k: CONVENTIONS.index(fits[k].convention))
        return "consistent", (f"{what}: whole counts of {best} ({supports[best]} images) give every cell, "
                              + describe_fit(fits[best], percents, labels))
    smallest = next((n for n in range(1, max(list(supports.values()) + [1]) * 2 + 1)
                     if fit_row(percents, n, decimals) is not None), None)
    sizes = ", ".join(f"{k} n={v}" for k, v in supports.items())
    text = (f"{what}: no whole counts of {sizes} give these cells, rounded, truncated or forced to total 100"
            + (f"; the smallest class size that would is {smallest}" if smallest else ""))
    if unknown_split:
        return "cannot check", text + "; the paper does not say which split it tested on"
    return "inconsistent", text


def check_plausible(stated: float, dataset: str, reference: Mapping[str, Mapping] | None,
                    margin: float = PLAUSIBLE_MARGIN) -> tuple[str, str]:
    """A claimed accuracy (%) against the best published single-model result on ``dataset``
    and human agreement where known (``reference``: :data:`fernb.papers.published.STATE_OF_THE_ART`).
    Plausible up to ``margin`` points above the best published; implausible beyond. Not
    testable for a dataset with no recorded reference."""
    ref = (reference or {}).get(dataset)
    if ref is None:
        return "cannot check", f"no published reference for {dataset} is recorded in fernb.papers.published"
    best = ref["best"]
    human = f"; human agreement ≈ {ref['human']} % ({ref['human_source']})" if ref.get("human") else ""
    gap = stated - best
    verdict = "plausible" if gap <= margin else "implausible"
    return verdict, (f"{stated} % against the best published {best} % on {dataset} ({ref['source']}): "
                     f"{gap:+.1f} pt{human}")

