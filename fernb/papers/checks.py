"""Checks a paper's numbers can be given with nothing but the paper: each answers a verdict and its evidence.

The claims ledger runs these on the numbers both papers print (each paper's claims file,
:mod:`fernb.papers.hafem_claims` and :mod:`fernb.papers.lanmsff_claims`, gathered by
:mod:`fernb.papers.ledger`).
Each function returns ``(verdict, evidence)`` with a verdict from :data:`VERDICTS` and a
sentence that shows the arithmetic, so a reader can redo it by hand. Printed numbers are
rounded, so every comparison allows the printed precision: a value "matches" a printed
number when rounding it to the printed decimals gives that number — or, where a paper is
seen to truncate, when truncating does (the evidence says which).

- :func:`matches` / :func:`decimals_of`: one recomputed value against one printed number;
- :func:`support_fits` / :func:`smallest_support`: can a printed percentage (or a whole
  confusion row) come from whole counts of ``n`` images? (A row-normalised confusion matrix
  of a test set with ``n`` images of a class holds multiples of 100/n.)
- :func:`check_mean`, :func:`check_weighted_mean`, :func:`check_difference`,
  :func:`check_ratio`, :func:`check_f1`, :func:`check_density`, :func:`check_variance`,
  :func:`check_rows`, :func:`check_confusion_row`: the recomputations;
- :func:`check_plausible`: a claimed accuracy against the best published result and human
  agreement on the dataset (:data:`fernb.papers.published.STATE_OF_THE_ART`).

Pure functions of numbers: nothing here imports the rest of :mod:`fernb`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal

__all__ = ["VERDICTS", "KINDS", "decimals_of", "matches", "support_fits", "smallest_support", "check_mean",
           "check_weighted_mean", "check_difference", "check_ratio", "check_f1", "check_density", "check_variance",
           "check_rows", "check_confusion_row", "check_plausible", "check_equal", "PLAUSIBLE_MARGIN"]

# The fixed vocabulary of the ledger's verdicts, and the kinds of check that give them.
VERDICTS = ("consistent", "inconsistent", "plausible", "implausible", "reproduced", "not reproduced",
            "not testable here")
KINDS = ("consistency", "plausibility", "measurement")

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


def _fmt(x: float, d: int = 2) -> str:
    return f"{x:.{d}f}"


def check_equal(stated, other, what: str) -> tuple[str, str]:
    """The same quantity printed in two places of a paper: consistent when equal."""
    if stated == other:
        return "consistent", f"{what}: {stated} in both places"
    return "inconsistent", f"{what}: {stated} here, {other} there"


def check_mean(values: Sequence[float], stated: float, what: str, decimals: int | None = None) -> tuple[str, str]:
    """``stated`` against the plain mean of ``values`` (e.g. an overall accuracy of a set
    balanced over its columns)."""
    mean = sum(values) / len(values)
    how = matches(mean, stated, decimals)
    verdict = "consistent" if how else "inconsistent"
    return verdict, f"{what}: mean of {len(values)} printed values = {mean:.4f}, printed {stated}" + (
        f" ({how})" if how == "truncated" else "")


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


def check_variance(values: Sequence[float], stated: float, what: str) -> tuple[str, str]:
    """A printed "Var" against the variance of the numbers it describes, read every way:
    population (÷n), sample (÷(n−1)), and ÷(n+1) — the population variance of the values
    together with their own mean, which is what a variance over a table row that also holds
    the overall accuracy gives. Consistent only when the population or sample variance
    matches; the evidence names the reading that does."""
    n = len(values)
    mean = sum(values) / n
    ss = sum((v - mean) ** 2 for v in values)
    readings = {"population (÷n)": ss / n, "sample (÷(n−1))": ss / (n - 1) if n > 1 else math.nan,
                "with the mean as a value (÷(n+1))": ss / (n + 1)}
    hits = [name for name, v in readings.items() if matches(v, stated)]
    text = ", ".join(f"{name} {v:.3f}" for name, v in readings.items())
    if any(h.startswith(("population", "sample")) for h in hits):
        return "consistent", f"{what}: printed {stated}; {text}: matches the {hits[0]} variance"
    extra = f"; only the {hits[0]} reading gives it" if hits else "; no reading gives it"
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
                        decimals: int | None = None) -> tuple[str, str]:
    """Can a row of a row-normalised confusion matrix come from whole counts of the class's
    test images? ``supports``: the class's size in each candidate test split (name → n).
    Consistent when some split's n makes every cell a whole count adding up to n; the
    evidence gives the smallest n that would, for comparison."""
    fits = [name for name, n in supports.items()
            if all(support_fits(p, n, decimals) is not None for p in percents)
            and sum(support_fits(p, n, decimals) for p in percents) == n]
    smallest = smallest_support(percents, decimals, max_n=max(list(supports.values()) + [1]) * 2, whole_row=True)
    sizes = ", ".join(f"{k} n={v}" for k, v in supports.items())
    if fits:
        return "consistent", f"{what}: whole counts of {fits[0]} ({supports[fits[0]]} images) give every cell"
    return "inconsistent", (f"{what}: no whole counts of {sizes} give these cells"
                            + (f"; the smallest class size that would is {smallest}" if smallest else ""))


def check_plausible(stated: float, dataset: str, reference: Mapping[str, Mapping] | None,
                    margin: float = PLAUSIBLE_MARGIN) -> tuple[str, str]:
    """A claimed accuracy (%) against the best published single-model result on ``dataset``
    and human agreement where known (``reference``: :data:`fernb.papers.published.STATE_OF_THE_ART`).
    Plausible up to ``margin`` points above the best published; implausible beyond. Not
    testable for a dataset with no recorded reference."""
    ref = (reference or {}).get(dataset)
    if ref is None:
        return "not testable here", f"no published reference for {dataset} is recorded in fernb.papers.published"
    best = ref["best"]
    human = f"; human agreement ≈ {ref['human']} % ({ref['human_source']})" if ref.get("human") else ""
    gap = stated - best
    verdict = "plausible" if gap <= margin else "implausible"
    return verdict, (f"{stated} % against the best published {best} % on {dataset} ({ref['source']}): "
                     f"{gap:+.1f} pt{human}")

