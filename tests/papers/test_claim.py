"""The claims ledger's records and their constructors (:mod:`fernb.papers.claim`), by hand."""
from __future__ import annotations

import pytest

from fernb.papers import published
from fernb.papers.claim import (
    ABBREVIATIONS,
    Check,
    Claim,
    consistency,
    fer2013_supports,
    ferplus_supports,
    measurement,
    plausibility,
    printed_row,
)


def test_each_constructor_gives_one_check_of_its_kind():
    assert consistency("sum", ("consistent", "1 + 1 = 2")) == Check("consistency", "consistent", "1 + 1 = 2", name="sum")
    flagged = consistency("sum", ("inconsistent", "1 + 1 = 3"), finding="hafem-ten-baselines")
    assert (flagged.verdict, flagged.finding, flagged.name) == ("inconsistent", "hafem-ten-baselines", "sum")
    assert consistency("sum", ("consistent", "1 + 1 = 2"), finding="hafem-ten-baselines").finding is None   # only flags
    with pytest.raises(ValueError, match="names no finding"):
        consistency("sum", ("inconsistent", "1 + 1 = 3"))
    check = measurement("accuracy:hafem")
    assert (check.kind, check.verdict, check.key, check.evidence) == ("measurement", None, "accuracy:hafem", "")
    best = published.STATE_OF_THE_ART["fer2013"]["best"]     # 73.28: plausible up to 2 points above it
    assert plausibility(round(best + 1.9, 2), "fer2013").verdict == "plausible"
    high = plausibility(94.7, "fer2013", finding="hafem-accuracy-beyond-record")
    assert high.kind == "plausibility" and high.verdict == "implausible" and "+21.4 pt" in high.evidence
    assert check.name == "measured-accuracy-hafem"
    assert plausibility(90.0, "kdef").verdict == "cannot check"           # no published reference recorded
    with pytest.raises(ValueError, match="verdict must be one of"):
        consistency("x", ("fine", "looks right"))


def test_a_claim_carries_its_checks_and_is_frozen():
    claim = Claim("x-1", "HAFEM", "Table 3", "results", "toy", "1 %", "fer2013", (measurement("accuracy:hafem"),), 1.0)
    assert claim.headline is False and claim.checks[0].key == "accuracy:hafem" and claim.value == 1.0
    with pytest.raises(AttributeError):
        claim.headline = True


def test_a_row_prints_the_way_the_papers_print_it():
    assert printed_row(["whole", "anger", "contempt", "neutral"], [90.5, 80.0, None, 7]) == "whole 90.5, An 80.0, Ne 7"
    assert set(ABBREVIATIONS) == {"anger", "disgust", "fear", "happy", "sad", "surprise", "neutral", "contempt"}


def test_a_class_size_in_each_candidate_test_split():
    # fernb/papers/datasets.py: FER2013 happy 879 (PrivateTest), 895 (PublicTest); FERPlus contempt 27 / 15
    assert fer2013_supports("happy") == {"FER2013 PrivateTest": 879, "FER2013 PublicTest": 895}
    # FERPlus contempt: 27 (majority rule), 15 (official rule); the mismatched test image is neutral, so contempt is
    # the same with and without it
    assert sorted(ferplus_supports("contempt").values()) == [15, 15, 27, 27]
    neutral = ferplus_supports("neutral")
    assert neutral["FERPlus test, official FERPlus repository's 'majority' mode on the published label.csv, 3,137 images"] == 1083
    assert neutral["FERPlus test, official FERPlus repository's 'majority' mode, 3,136 images"] == 1082
    with pytest.raises(KeyError):
        fer2013_supports("contempt")            # FER2013 has no contempt class
