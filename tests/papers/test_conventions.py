"""The conventions a paper may use, and the ledger that must not accuse it of using them (issue 33).

Hand-made tables for each convention, built to pass and built to fail, with the arithmetic in
comments: rows of a confusion matrix printed rounded, truncated or forced to total 100
(:func:`fernb.papers.checks.fit_row`), percentages averaged over folds
(:func:`fernb.papers.checks.check_fold_counts`, ``check_mean(folds=)``), a "Var" over the poses
and the overall (``check_variance(with_overall=)``); then the records' refusals
(:mod:`fernb.papers.claim`), the ledger's structure and measurement verdicts
(:mod:`fernb.papers.ledger`), its report (:mod:`fernb.evaluate.ledger_report`) and the
FERPlus protocol answer on LANMSFF's own numbers.
"""
from __future__ import annotations

import re
from decimal import Decimal

import pandas as pd
import pytest

from fernb.evaluate import ledger_report as lr
from fernb.papers import checks as ck
from fernb.papers import datasets as ds
from fernb.papers import lanmsff
from fernb.papers import ledger as ld
from fernb.papers.claim import Check, Claim, consistency, measurement, slug
from fernb.papers.findings import FINDINGS, SEVERITIES

CHECK_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*--[a-z0-9]+(-[a-z0-9]+)*$")


def _half_up(x: float) -> float:
    """``x`` rounded to 2 decimals, half up (as a paper prints it)."""
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP"))


def _printed(counts, n):
    return [_half_up(100 * k / n) for k in counts]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


# --------------------------------------------------------------------------------------- fit_row
# 74 images of one class: 61/74 = 82.432, 5/74 = 6.757, 3/74 = 4.054, 0, 2/74 = 2.703, 1/74 = 1.351, 2/74 = 2.703
COUNTS_74 = (61, 5, 3, 0, 2, 1, 2)


def test_fit_row_plain_rounding_gives_the_counts_back():
    row = _printed(COUNTS_74, 74)
    assert row == [82.43, 6.76, 4.05, 0.0, 2.70, 1.35, 2.70]     # rounding totals 99.99: still plain rounding
    fit = ck.fit_row(row, 74)
    assert fit == ck.RowFit("rounded", COUNTS_74, 74)
    assert fit.adjusted == () and fit.rounded_total is None


def test_fit_row_truncation_is_named_truncated():
    # floor to 2 decimals: 82.432 -> 82.43, 6.757 -> 6.75 (rounding gives 6.76), 4.054 -> 4.05, 2.703 -> 2.70, ...
    row = [82.43, 6.75, 4.05, 0, 2.70, 1.35, 2.70]
    fit = ck.fit_row(row, 74)
    assert fit is not None and fit.convention == "truncated" and fit.counts == COUNTS_74 and fit.n == 74
    # 6.75 is no rounded count of 74 (5/74 = 6.757 -> 6.76, 4/74 = 5.405): plain rounding alone cannot give this row
    assert ck.support_fits(6.75, 74, 2) is None


# 70 images: 57/70 = 81.4286 -> 81.43, 5/70 = 7.1429 -> 7.14, 3/70 = 4.2857 -> 4.29, 0, 2/70 = 2.8571 -> 2.86,
# 1/70 = 1.4286 -> 1.43, 2/70 -> 2.86; total 81.43 + 7.14 + 4.29 + 2.86 + 1.43 + 2.86 = 100.01
COUNTS_70 = (57, 5, 3, 0, 2, 1, 2)


def test_fit_row_a_row_forced_down_to_100():
    rounded = _printed(COUNTS_70, 70)
    assert rounded == [81.43, 7.14, 4.29, 0.0, 2.86, 1.43, 2.86]
    assert round(sum(rounded), 2) == 100.01                          # the precondition: rounding totals 100.01
    forced = list(rounded)
    forced[2] = 4.28                                                 # 4.2857 rounded up most: the author moves it down
    assert round(sum(forced), 2) == 100.00
    fit = ck.fit_row(forced, 70)
    assert fit is not None and fit.convention == "forced to 100"
    assert fit.counts == COUNTS_70 and fit.n == 70
    assert fit.adjusted == (2,) and fit.rounded_total == pytest.approx(100.01)
    # a tiny hand-made one: 7 images, counts 1, 3, 3 -> 14.29 + 42.86 + 42.86 = 100.01; 42.86 moved to 42.85
    small = ck.fit_row([14.29, 42.85, 42.86], 7)
    assert (small.convention, small.counts, small.adjusted, small.rounded_total) == (
        "forced to 100", (1, 3, 3), (1,), pytest.approx(100.01))
    # two cells moved the same way: counts 1, 1, 1, 1, 3 of 7 round to 4 × 14.29 + 42.86 = 100.02; two cells -> 14.28
    two = ck.fit_row([14.28, 14.28, 14.29, 14.29, 42.86], 7)
    assert two.convention == "forced to 100" and len(two.adjusted) == 2 and two.rounded_total == pytest.approx(100.02)


def test_fit_row_a_row_forced_up_to_100():
    rounded = _printed(COUNTS_74, 74)
    assert round(sum(rounded), 2) == 99.99                           # 82.43 + 6.76 + 4.05 + 2.70 + 1.35 + 2.70
    forced = list(rounded)
    forced[2] = 4.06                                                 # 3/74 = 4.0541: the largest remainder rounded down
    fit = ck.fit_row(forced, 74)
    assert fit is not None and fit.convention == "forced to 100"
    assert fit.counts == COUNTS_74 and fit.adjusted == (2,) and fit.rounded_total == pytest.approx(99.99)
    # 9 images, counts 2, 3, 4: 22.22 + 33.33 + 44.44 = 99.99; 44.44 moved up to 44.45
    small = ck.fit_row([22.22, 33.33, 44.45], 9)
    assert (small.convention, small.counts, small.adjusted, small.rounded_total) == (
        "forced to 100", (2, 3, 4), (2,), pytest.approx(99.99))


@pytest.mark.parametrize("row, n, why", [
    # 4 × 14.29 + 42.86 = 100.02 (counts 1, 1, 1, 1, 3 of 7); one cell moved by two units to total 100
    ([14.29, 14.29, 14.29, 14.29, 42.84], 7, "a cell moved by 2 units"),
    # same row, three cells down and one up: 3 × 14.28 + 14.30 + 42.86 = 100.00, moves in opposite directions
    ([14.28, 14.28, 14.28, 14.30, 42.86], 7, "cells moved in opposite directions"),
    # counts 1, 1, 2 of 4 print 25, 25, 50 exactly: one up, one down keeps 100 but nothing needed moving
    ([25.01, 25, 49.99], 4, "cells moved in opposite directions on a row that totals 100"),
    # counts 1, 3, 3 of 7: 100.01 rounded; both 42.86 moved down gives 99.99, not 100
    ([14.29, 42.85, 42.85], 7, "a moved row that does not total 100"),
    # 25.01 is no count of 4 and the row totals 100.01
    ([25.01, 25, 50], 4, "a moved cell on a row that does not total 100"),
    # 40.00 % of 7 images is 2.8 images; 45.71 = 3.2 images
    ([14.29, 40.0, 45.71], 7, "a cell that is no count of n"),
    # 82.93 % of 74 is 61.37 images: no count, however printed
    ([82.93, 6.76, 4.05, 0, 2.70, 1.35, 2.70], 74, "a cell that is no count of n (74)"),
])
def test_fit_row_refuses_what_no_convention_explains(row, n, why):
    assert ck.fit_row(row, n) is None, why


def test_check_confusion_row_under_each_convention():
    labels = ["An", "Di", "Fe", "Ha", "Ne", "Sa", "Su"]
    forced = [81.43, 7.14, 4.28, 0, 2.86, 1.43, 2.86]                # COUNTS_70 with Fe forced down (see above)
    verdict, evidence = ck.check_confusion_row(forced, "toy row", {"test": 70}, 2, labels)
    assert verdict == "consistent"
    assert "forced to total 100" in evidence and "100.01" in evidence
    assert "Fe 3/70 = 4.286 printed 4.28" in evidence                 # 100 × 3 / 70 = 4.2857
    rounded = ck.check_confusion_row(_printed(COUNTS_70, 70), "toy row", {"test": 70}, 2, labels)
    assert rounded[0] == "consistent" and "every cell rounded" in rounded[1]
    truncated = ck.check_confusion_row([82.43, 6.75, 4.05, 0, 2.70, 1.35, 2.70], "toy", {"test": 74}, 2)
    assert truncated[0] == "consistent" and "truncated" in truncated[1]
    # a cell moved by two units (see test_fit_row_refuses...) against its own n: inconsistent, or cannot check when
    # the paper does not say which split it tested on
    bad = [14.29, 14.29, 14.29, 14.29, 42.84]
    assert ck.check_confusion_row(bad, "toy", {"test": 7}, 2)[0] == "inconsistent"
    verdict, evidence = ck.check_confusion_row(bad, "toy", {"test": 7}, 2, unknown_split=True)
    assert verdict == "cannot check" and "does not say which split" in evidence
    # the right n among several candidates is found and named
    verdict, evidence = ck.check_confusion_row(forced, "toy", {"other": 71, "right": 70}, 2, labels)
    assert verdict == "consistent" and "right (70 images)" in evidence


# ----------------------------------------------------------------------------------- k-fold averages
def test_fold_counts_whole_counts_are_consistent():
    # 140 images: 70/140 = 50.00, 50/140 = 35.714 -> 35.71, 20/140 = 14.286 -> 14.29
    verdict, evidence = ck.check_fold_counts([50.0, 35.71, 14.29], 140, "pose 0", 5, 2, ["An", "Di", "Fe"])
    assert verdict == "consistent" and "140" in evidence


def test_fold_counts_that_are_not_whole_counts_cannot_be_checked():
    # 35.5 % of 140 = 49.7 images, 14.5 % = 20.3: no counts of 140 (35.00, 35.71; 14.29, 15.00), but averages over
    # folds need not be
    verdict, evidence = ck.check_fold_counts([50.0, 35.5, 14.5], 140, "pose 0", 5, 2, ["An", "Di", "Fe"])
    assert verdict == "cannot check"
    assert "5 folds" in evidence and "Di 35.5" in evidence and "Fe 14.5" in evidence and "An" not in evidence
    assert "2 of 3 cells" in evidence


def test_check_mean_with_and_without_folds():
    # mean(80, 90, 70) = 80, stated 82: 2 points off, beyond ±(0.5 + 0.5) of values and stated printed with 0 decimals
    assert ck.check_mean([80, 90, 70], 82, "toy")[0] == "inconsistent"
    verdict, evidence = ck.check_mean([80, 90, 70], 82, "toy", folds=5)
    assert verdict == "cannot check" and "5 folds" in evidence
    # within the inputs' rounding: mean(10.1, 10.2, 10.2) = 10.1667 printed 10.12 is 0.0467 off, more than the output's
    # half unit (0.005) but within 0.05 (inputs' half unit) + 0.005 = 0.055
    assert ck.matches(10.1667, 10.12) is None
    assert ck.check_mean([10.1, 10.2, 10.2], 10.12, "toy")[0] == "consistent"
    assert ck.check_mean([10.1, 10.2, 10.2], 10.12, "toy", folds=5)[0] == "consistent"
    # 10.25 is 0.0833 off: beyond 0.055
    verdict, evidence = ck.check_mean([10.1, 10.2, 10.2], 10.25, "toy")
    assert verdict == "inconsistent" and "0.055" in evidence
    assert ck.check_mean([10.1, 10.2, 10.2], 10.25, "toy", folds=5)[0] == "cannot check"


# -------------------------------------------------------------------------------------------- Var
# 70.12, 80.34, 90.56: mean 80.34, deviations ±10.22, sum of squares 2 × 104.4484 = 208.8968;
# ÷3 = 69.632, ÷2 = 104.448, ÷4 (with the overall 80.34 as a fourth value) = 52.224
POSES = [70.12, 80.34, 90.56]


def test_variance_with_the_overall_only_where_the_paper_says_so():
    verdict, evidence = ck.check_variance(POSES, 52.22, "toy Var")
    assert verdict == "inconsistent" and "only the with the overall as a value" in evidence
    verdict, evidence = ck.check_variance(POSES, 52.22, "toy Var", with_overall=True)
    assert verdict == "consistent" and "(÷(n+1))" in evidence
    assert ck.check_variance(POSES, 69.63, "toy Var")[0] == "consistent"        # population
    assert ck.check_variance(POSES, 104.45, "toy Var")[0] == "consistent"       # sample
    assert ck.check_variance(POSES, 87.65, "toy Var")[0] == "inconsistent"      # far from every reading
    assert ck.check_variance(POSES, 87.65, "toy Var", with_overall=True)[0] == "inconsistent"


def test_variance_carries_its_inputs_rounding():
    exact = [1.114, 3.886]                   # population variance (2.772 / 2)² = 1.386² = 1.920996 -> printed 1.92
    printed = [round(v, 2) for v in exact]   # 1.11, 3.89: (2.78 / 2)² = 1.39² = 1.9321 -> 1.93
    assert printed == [1.11, 3.89]
    assert _half_up(1.386 ** 2) == 1.92 and _half_up(1.39 ** 2) == 1.93
    # the printed inputs stand for [1.105, 1.115] and [3.885, 3.895]: half-ranges 1.385..1.395, variance 1.918..1.946
    assert ck.check_variance(printed, 1.92, "toy Var")[0] == "consistent"
    assert ck.check_variance(printed, 1.93, "toy Var")[0] == "consistent"
    assert ck.check_variance(printed, 1.94, "toy Var")[0] == "consistent"
    # 1.89 < 1.918 - 0.005; 2.47 is far off every reading (÷2 3.86, ÷3 1.29)
    assert ck.check_variance(printed, 1.89, "toy Var")[0] == "inconsistent"
    assert ck.check_variance(printed, 2.47, "toy Var")[0] == "inconsistent"


# ------------------------------------------------------------------------------------------ records
@pytest.mark.parametrize("text, expected", [
    ("DualPath CNN", "dualpath-cnn"), ("-90", "m90"), (">30", "gt-30"), ("+compound loss", "plus-compound-loss"),
    ("pose 0°", "pose-0"), ("CNN+LSTM", "cnn-plus-lstm"), ("ResNet-50", "resnet-50"),
])
def test_slug(text, expected):
    assert slug(text) == expected and re.match(r"^[a-z0-9]+(-[a-z0-9]+)*$", slug(text))


def test_slug_refuses_text_with_nothing_to_keep():
    with pytest.raises(ValueError):
        slug(" — ")


def test_check_refuses_what_the_ledger_forbids():
    known = next(iter(FINDINGS))
    with pytest.raises(ValueError, match="names no finding"):
        Check("consistency", "inconsistent", "1 + 1 = 3", name="sum")
    with pytest.raises(ValueError, match="names no finding"):
        Check("plausibility", "implausible", "99 %", name="plausible")
    with pytest.raises(ValueError, match="only"):
        Check("consistency", "consistent", "1 + 1 = 2", name="sum", finding=known)
    with pytest.raises(ValueError, match="only"):
        Check("consistency", "cannot check", "no folds", name="sum", finding=known)
    with pytest.raises(ValueError, match="unknown finding"):
        Check("consistency", "inconsistent", "1 + 1 = 3", name="sum", finding="no-such-finding")
    for bad in ("Same In Table3", "same_in_table3", "pose->30", "a--b", "-lead", ""):
        with pytest.raises(ValueError):
            Check("consistency", "consistent", "ok", name=bad)
    with pytest.raises(ValueError, match="verdict must be one of"):
        Check("consistency", "reproduced", "ours 70 %", name="sum")
    with pytest.raises(ValueError, match="verdict must be one of"):
        Check("measurement", "consistent", "ok", name="sum")
    with pytest.raises(ValueError, match="verdict must be one of"):
        Check("plausibility", "inconsistent", "ok", name="sum", finding=known)
    # what passes: a flagged check with its finding; a consistent check without; consistency() drops the finding
    assert Check("consistency", "inconsistent", "1 + 1 = 3", name="sum", finding=known).finding == known
    assert consistency("sum", ("consistent", "1 + 1 = 2"), finding=known).finding is None


def test_claim_refuses_a_non_slug_id_and_repeated_check_names():
    ok = Check("consistency", "consistent", "ok", name="same-in-table3")
    for bad in ("hafem table3", "HAFEM-table3", "lanmsff-table4-pose->30", "hafem_table3"):
        with pytest.raises(ValueError, match="not a slug"):
            Claim(bad, "HAFEM", "Table 3", "results", "toy", "1", None, (ok,))
    with pytest.raises(ValueError, match="repeated"):
        Claim("toy-claim", "HAFEM", "Table 3", "results", "toy", "1", None, (ok, ok))
    with pytest.raises(ValueError, match="repeated"):
        Claim("toy-claim", "HAFEM", "Table 3", "results", "toy", "1", None,
              (measurement("accuracy:hafem"), measurement("accuracy:hafem")))
    assert Claim("toy-claim", "HAFEM", "Table 3", "results", "toy", "1", None, (ok,)).id == "toy-claim"


# ------------------------------------------------------------------------------------------- ledger
@pytest.fixture(scope="module")
def ledger_frame() -> pd.DataFrame:
    return ld.ledger()


# what the pipeline measures on SynthFER: not the FER2013 claim's number
SYNTH = {"accuracy:hafem": {"ours": 61.8, "low": 60.2, "high": 63.4, "dataset": "synthfer", "seeds": 1,
                            "scale": "SynthFER default (3 epochs)"}}


def test_ledger_check_ids_are_unique_slugs(ledger_frame):
    ids = ledger_frame["check_id"]
    assert ids.is_unique
    bad = [i for i in ids if not CHECK_ID.match(i)]
    assert not bad
    assert (ids == ledger_frame["id"] + "--" + ids.str.split("--").str[1]).all()


def test_flagged_rows_and_only_they_carry_a_finding_and_severity(ledger_frame):
    flagged = ledger_frame["verdict"].isin(["inconsistent", "implausible"])
    assert ledger_frame.loc[flagged, "finding"].notna().all()
    assert ledger_frame.loc[flagged, "severity"].isin(SEVERITIES).all()
    assert ledger_frame.loc[~flagged, "finding"].isna().all()
    assert ledger_frame.loc[~flagged, "severity"].isna().all()
    # a finding's severity is the finding's own
    for r in ledger_frame[flagged].itertuples():
        assert r.severity == FINDINGS[r.finding].severity


def test_every_finding_is_shown_by_some_check(ledger_frame):
    orphans = sorted(set(FINDINGS) - set(ledger_frame["finding"].dropna()))
    assert not orphans, f"findings no check shows: {orphans}"


def test_not_testable_here_rows_carry_no_number():
    frame = ld.ledger(SYNTH)
    here = frame[frame["verdict"] == "not testable here"]
    assert len(here) > 0
    for column in ("ours", "ours_low", "ours_high", "seeds", "scale"):
        assert here[column].map(_missing).all(), column
    for evidence in here["evidence"]:
        assert not any(number in evidence for number in ("61.8", "60.2", "63.4", "3 epochs")), evidence
    row = frame[frame["check_id"] == "hafem-abstract-fer2013--measured-accuracy-hafem"].iloc[0]
    assert row["dataset"] == "fer2013" and row["verdict"] == "not testable here" and _missing(row["ours"])
    assert "61.8" not in row["evidence"] and "synthfer" in row["evidence"]
    table3 = frame[frame["check_id"] == "hafem-table3-hafem--measured-accuracy-hafem"].iloc[0]
    assert table3["verdict"] == "not testable here" and _missing(table3["ours"])


def _toy_claim(value: float = 80.0) -> Claim:
    return Claim("toy-accuracy", "HAFEM", "Table 3", "results", "toy accuracy", f"{value} %", "rafdb",
                 (measurement("accuracy:hafem"),), value)


def _measured_row(entry: dict, value: float = 80.0) -> pd.Series:
    frame = ld.ledger({"accuracy:hafem": entry}, claim_list=[_toy_claim(value)])
    assert len(frame) == 1
    return frame.iloc[0]


def test_measurement_verdicts_by_scale():
    shortfall = {"ours": 61.8, "low": 60.2, "high": 63.4, "dataset": "rafdb", "seeds": 1}
    cpu = _measured_row({**shortfall, "scale": "CPU scale (5 epochs)"})
    assert cpu["verdict"] == "not testable at this scale"
    assert cpu["ours"] == 61.8 and cpu["ours_low"] == 60.2 and cpu["ours_high"] == 63.4
    assert cpu["scale"] == "CPU scale (5 epochs)" and "61.8" in cpu["evidence"]
    paper = _measured_row({**shortfall, "scale": "paper scale (140 epochs)"})
    assert paper["verdict"] == "not reproduced" and paper["ours"] == 61.8
    # 79.0 <= 80.0 <= 81.0: inside, at either scale
    inside = {"ours": 80.2, "low": 79.0, "high": 81.0, "dataset": "rafdb", "seeds": 3}
    assert _measured_row({**inside, "scale": "CPU scale (5 epochs)"})["verdict"] == "reproduced"
    assert _measured_row({**inside, "scale": "paper scale (140 epochs)"})["verdict"] == "reproduced"
    # another dataset: not testable here, no number
    other = _measured_row({**shortfall, "dataset": "synthfer", "scale": "SynthFER default (3 epochs)"})
    assert other["verdict"] == "not testable here" and _missing(other["ours"]) and "61.8" not in other["evidence"]
    # nothing measured at all
    assert ld.ledger({}, claim_list=[_toy_claim()]).iloc[0]["verdict"] == "not testable here"


def test_an_entry_with_its_own_verdict_refutes_only_where_it_can():
    entry = {"verdict": "not reproduced", "evidence": "direction differs", "dataset": "rafdb"}
    assert _measured_row(entry)["verdict"] == "not testable at this scale"
    assert _measured_row({**entry, "refutes": True})["verdict"] == "not reproduced"
    assert _measured_row({**entry, "scale": "paper scale (140 epochs)"})["verdict"] == "not reproduced"
    assert _measured_row({**entry, "verdict": "reproduced"})["verdict"] == "reproduced"
    claim = _toy_claim()
    assert ld.measurement_verdict(claim, entry) == ("not testable at this scale", "direction differs")


def test_an_entry_with_its_own_verdict_on_another_dataset_is_not_testable_here():
    # notebook 03's loss-gain entry (fernb/evaluate/measured.py) carries its own verdict and the dataset it ran on
    entry = {"ours": 3.2, "seeds": 3, "dataset": "synthfer", "scale": "notebook 03's ablation scale",
             "verdict": "reproduced", "evidence": "CE+DLS over CE, disgust F1: +3.2 pt"}
    row = _measured_row(entry)                                       # the toy claim is on rafdb
    assert row["verdict"] == "not testable here" and _missing(row["ours"]) and "3.2" not in row["evidence"]


# ------------------------------------------------------------------------------------------ report
def test_findings_table_is_sorted_by_severity(ledger_frame):
    found = ld.findings_table(ledger_frame)
    assert list(found.columns) == list(ld.FINDING_COLUMNS)
    ranks = [SEVERITIES.index(s) for s in found["severity"]]
    assert ranks == sorted(ranks)
    assert found["finding"].is_unique
    flagged = ledger_frame[ledger_frame["finding"].notna()]
    assert set(found["finding"]) == set(flagged["finding"])
    assert found["checks"].sum() == len(flagged)


def test_write_ledger_files(ledger_frame, tmp_path):
    paths = lr.write_ledger(ledger_frame, tmp_path)
    claims = pd.read_csv(paths["csv"])
    assert tuple(claims.columns) == ld.LEDGER_COLUMNS and len(claims) == len(ledger_frame)
    found = ld.findings_table(ledger_frame)
    findings = pd.read_csv(paths["findings"])
    assert list(findings["finding"]) == list(found["finding"])
    text = paths["html"].read_text(encoding="utf-8")
    assert "<h2>HAFEM</h2>" in text and text.index("Findings") < text.index("<h2>HAFEM</h2>")
    for finding_id in found["finding"]:
        assert text.count(f"id='{finding_id}'") == 1, finding_id


def test_finding_counts_add_up(ledger_frame):
    counts = lr.finding_counts(ledger_frame)
    assert counts["findings"].sum() == len(ld.findings_table(ledger_frame))
    assert list(counts.columns[:len(SEVERITIES)]) == list(SEVERITIES)
    flagged = ledger_frame[ledger_frame["finding"].notna()]
    assert counts["checks flagged"].sum() == len(flagged)
    for verdict in ("inconsistent", "implausible"):
        by_hand = flagged[flagged["verdict"] == verdict].groupby("paper")["finding"].nunique()
        assert counts[f"findings with {verdict} checks"].to_dict() == {p: int(by_hand.get(p, 0)) for p in counts.index}
    # the copied-baselines finding is shown by both kinds of check, so it counts under both verdicts
    copied = flagged[flagged["finding"] == "hafem-baselines-copied"]
    assert set(copied["verdict"]) == {"inconsistent", "implausible"}


def test_vocabulary_defines_each_verdict_once():
    # 'cannot check' is a verdict of two kinds: defined under the first, pointed back to under the second
    text = lr.vocabulary_text()
    for verdict in ck.VERDICTS:
        assert text.count(ck.VERDICT_MEANINGS[verdict]) == 1, verdict
    assert "*cannot check*: as for consistency checks." in text


def test_vocabulary_defines_every_verdict():
    text = lr.vocabulary_text()
    assert all(f"*{verdict}*: {ck.VERDICT_MEANINGS[verdict]}" in text for verdict in ck.VERDICTS)


def test_statistics_metrics_count_findings(ledger_frame):
    metrics = lr.statistics_metrics(models=0, comparisons=pd.DataFrame(columns=["verdict"]), ledger=ledger_frame,
                                    measured={}, printed_numbers=ld.printed_numbers(), seconds=0.0)
    found = ld.findings_table(ledger_frame)
    assert metrics["findings"] == len(found)
    assert [f["finding"] for f in metrics["finding_list"]] == list(found["finding"])
    assert set(metrics["verdicts"]) == set(ck.VERDICTS)
    assert sum(metrics["verdicts"].values()) == len(ledger_frame)


# -------------------------------------------------------------------------- LANMSFF's own numbers
def test_the_ferplus_protocol_answer(ledger_frame):
    row = ledger_frame[ledger_frame["check_id"] == "lanmsff-s4a-ferplus--rule-that-fits"].iloc[0]
    assert "3,137" in row["evidence"] and "official" in row["evidence"]
    # by hand: each candidate test set, how many of Table VIII's 8 rows are whole counts of its class sizes
    t8 = lanmsff.TABLES["VIII"]
    fits = {name: sum(ck.fit_row(values, counts[cls], 2) is not None for cls, values in zip(t8["index"], t8["values"]))
            for name, counts in ds.ferplus_test_sets().items()}
    assert len(t8["index"]) == 8
    whole = [name for name, rows in fits.items() if rows == 8]
    assert len(whole) == 1 and "3,137" in whole[0] and "official" in whole[0]
    assert all(rows == 0 for name, rows in fits.items() if name.startswith("majority"))
    # disgust 7/16 = 43.75 exactly; neutral 968/1083 = 89.381 -> 89.38 (the published label.csv's 1,083 neutral)
    assert ds.ferplus_test_sets()[whole[0]]["disgust"] == 16 and ds.ferplus_test_sets()[whole[0]]["neutral"] == 1083
    assert _half_up(100 * 968 / 1083) == 89.38


def test_table5_read_with_its_diagonals_classes_is_whole_counts_of_privatetest(ledger_frame):
    rows = ledger_frame[ledger_frame["check_id"].str.match(r"^lanmsff-table5-[a-z]+--whole-counts$")]
    assert len(rows) == len(lanmsff.TABLES["V"]["index"]) == 7
    assert (rows["verdict"] == "consistent").all()
    assert rows["evidence"].str.contains("PrivateTest").all()
    # the example: the row labelled fear is anger's (491 PrivateTest images), 16/491 = 3.259 printed 3.25,
    # forced down because rounding every cell totals 100.01
    fear = rows[rows["check_id"] == "lanmsff-table5-fear--whole-counts"].iloc[0]
    assert "16/491 = 3.259 printed 3.25" in fear["evidence"] and "100.01" in fear["evidence"]
    fit = ck.fit_row(lanmsff.TABLES["V"]["values"][0], ds.SPLIT_COUNTS["fer2013"]["PrivateTest"]["anger"], 2)
    assert fit.convention == "forced to 100" and fit.counts[3] == 16 and fit.rounded_total == pytest.approx(100.01)


def _numbers(text: str) -> set[float]:
    """The numbers of a sentence, less section, table, figure, equation and reference numbers."""
    text = re.sub(r"§[\dIVX.-]+|\b(?:Tables?|Figures?|Eqs?\.) [\dIVX–-]+(?: and [\dIVX]+)?|\[\d+\]", " ", text)
    # a digit glued to a name is part of it (EfficientNet-B5, FER2013), not a number
    return {float(n.replace(",", "")) for n in re.findall(r"(?<![A-Za-z\d.])\d+(?:,\d{3})*(?:\.\d+)?", text)}


def test_every_number_a_finding_states_is_in_the_checks_that_show_it(ledger_frame):
    # a finding's title and summary are typed by hand: each number in them must be one its checks print
    # (their evidence, or the claim's stated numbers), so a summary cannot drift from the arithmetic
    for finding_id, finding in FINDINGS.items():
        rows = ledger_frame[ledger_frame["finding"] == finding_id]
        printed = _numbers(" ".join(rows["evidence"]) + " " + " ".join(rows["stated"]) + " " + " ".join(rows["claim"]))
        stated = _numbers(f"{finding.title} {finding.summary}")
        assert stated <= printed, f"{finding_id}: {sorted(stated - printed)} are in no check of it"


def test_notebook_06s_lookups(ledger_frame):
    assert "3,137" in lr.check_evidence(ledger_frame, lr.FERPLUS_PROTOCOL_CHECK)
    with pytest.raises(KeyError, match="no-such"):
        lr.check_evidence(ledger_frame, "no-such--check")
    heading, rows = lr.undecided(ledger_frame)
    n = int((ledger_frame["verdict"] == "cannot check").sum())
    assert heading.endswith(f"({n} checks)") and len(rows) == n and rows.index.name == "check_id"
