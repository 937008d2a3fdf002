"""The claims ledger (:mod:`fernb.papers.checks`, :mod:`fernb.papers.ledger`): each check on toy
numbers built to pass and built to fail, hand-computed; then the ledger's structure and the
findings it must make on the papers' own numbers."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fernb.papers import checks as ck
from fernb.papers import datasets as ds
from fernb.papers import hafem, lanmsff
from fernb.papers import ledger as ld
from fernb.papers.claim import Check, slug


# --------------------------------------------------------------------------- checks on toy numbers
def test_decimals_and_matching_by_rounding_or_truncation():
    assert [ck.decimals_of(x) for x in (36.37, 7.9, 196, 0.982, 90.0)] == [2, 1, 0, 3, 0]
    assert ck.matches(36.374, 36.37) == "rounded"
    assert ck.matches(196.76, 196) == "truncated"          # LANMSFF's ID: 70.44 / 0.358 printed as 196
    assert ck.matches(196.76, 197) == "rounded"
    assert ck.matches(7.975, 7.94) is None
    assert ck.matches(math.nan, 1.0) is None


def _row_from_counts(counts, n):
    return [round(100 * k / n, 2) for k in counts]


def test_a_confusion_row_from_74_images_passes_and_one_that_cannot_fails():
    counts = [61, 5, 3, 0, 2, 1, 2]                         # 74 images of one class
    row = _row_from_counts(counts, 74)
    verdict, evidence = ck.check_confusion_row(row, "toy", {"test": 74}, 2)
    assert verdict == "consistent" and "74 images" in evidence
    assert ck.smallest_support(row, 2, whole_row=True) == 74
    bad = list(row)
    bad[0] += 0.50                                         # 82.93 % of 74 is no whole count
    bad[1] -= 0.50
    verdict, evidence = ck.check_confusion_row(bad, "toy", {"test": 74}, 2)
    assert verdict == "inconsistent" and "n=74" in evidence
    assert ck.support_fits(bad[0], 74, 2) is None and ck.support_fits(row[0], 74, 2) == 61


def test_support_fits_hand_computed():
    assert ck.support_fits(43.75, 16) == 7 and ck.support_fits(13.33, 15) == 2
    assert ck.smallest_support([43.75, 6.25, 12.5, 31.25]) == 16
    assert ck.smallest_support([46.67, 6.67, 20, 13.33, 13.33], whole_row=True) == 15
    # HAFEM §4: "3.8 % of disgust classified as anger": no count of FER2013's 55 or 56 test disgust images gives it
    assert ck.support_fits(3.8, 55) is None and ck.support_fits(3.8, 56) is None
    assert ck.support_fits(4.2, 528) == 22


def test_variance_readings_against_numpy():
    values = [89.44, 91.18, 92.04, 91.00, 90.17]           # LANMSFF Table X / XII, whole model
    verdict, evidence = ck.check_variance(values, 0.66, "whole")
    assert verdict == "inconsistent" and "(n+1)" in evidence
    pop, sample = np.var(values), np.var(values, ddof=1)
    assert f"{pop:.3f}" in evidence and f"{sample:.3f}" in evidence
    with_mean = np.var(values + [np.mean(values)])          # the n+1 reading is the variance with the mean added
    assert round(with_mean, 2) == 0.66
    assert ck.check_variance([82.23, 80.40, 89.16], 14.23, "RAN")[0] == "consistent"      # Table XI: population
    assert ck.check_variance([1.0, 2.0, 3.0], 1.0, "toy")[0] == "consistent"               # sample variance


def test_f1_density_means_differences_ratios():
    assert ck.check_f1(94.1, 93.8, 93.9, "HAFEM")[0] == "consistent"
    assert ck.check_f1(94.1, 93.8, 95.0, "toy")[0] == "inconsistent"
    assert ck.check_density(70.44, 358, 196, "LANMSFF") == ("consistent", ck.check_density(70.44, 358, 196, "LANMSFF")[1])
    assert "truncated" in ck.check_density(70.44, 358, 196, "LANMSFF")[1]
    assert ck.check_density(89.16, 11180, 7.94, "RAN")[0] == "inconsistent"                # 7.975
    assert ck.check_mean([1, 2, 3, 4], 2.5, "toy")[0] == "consistent"
    assert ck.check_mean([1, 2, 3, 4], 2.7, "toy", decimals=1)[0] == "inconsistent"   # 2.5 ± 0.05 ± 0.05
    # LANMSFF Table IV: the class accuracies weighted by FER2013's PrivateTest class sizes give 70.44
    table = lanmsff.TABLES["IV"]
    per = table["values"][table["index"].index("overall")][1:]
    weights = [ds.SPLIT_COUNTS["fer2013"]["PrivateTest"][c] for c in table["columns"][1:]]
    assert ck.check_weighted_mean(per, weights, 70.44, "IV", 2)[0] == "consistent"
    assert ck.check_difference(94.7, 91.2, 3.5, "toy")[0] == "consistent"
    assert ck.check_difference(88.72, 86.96, 3, "toy", slack=0.5)[0] == "inconsistent"
    verdict, evidence = ck.check_ratio(105670, 358, 276, "AMP_NET")
    assert verdict == "inconsistent" and "382.9" in evidence           # the ratio implies 383K parameters
    assert ck.check_ratio(100, 10, 10.3, "toy")[0] == "consistent"


def test_rows_and_plausibility():
    assert ck.check_rows({"a": 50.0, "b": 50.0}, "toy")[0] == "consistent"
    assert ck.check_rows({"a": 50.5, "b": 48.5}, "toy")[0] == "inconsistent"
    assert ck.check_rows({"a": 50.0, "b": 49.0}, "toy")[0] == "consistent"     # whole numbers: ±1 for two cells
    ref = {"toyset": {"best": 70.0, "source": "a paper"}}
    assert ck.check_plausible(71.9, "toyset", ref)[0] == "plausible"
    assert ck.check_plausible(72.1, "toyset", ref)[0] == "implausible"
    assert ck.check_plausible(90, "other", ref)[0] == "cannot check"


# --------------------------------------------------------------------------- the ledger
def test_every_claim_has_a_source_and_checks_from_the_vocabulary():
    claims = ld.claims()
    assert len({c.id for c in claims}) == len(claims)
    for claim in claims:
        assert claim.paper in ("HAFEM", "LANMSFF") and claim.where and claim.claim and claim.stated, claim.id
        assert claim.section in ("abstract", "introduction", "related work", "methods", "results", "conclusion"), claim.id
        assert claim.checks, f"{claim.id} has no check"
        for check in claim.checks:
            assert check.kind in ck.KINDS
            assert (check.verdict in ck.VERDICTS) or check.key, claim.id
    table = ld.ledger()
    assert set(table["verdict"]) <= set(ck.VERDICTS)
    assert table["evidence"].str.len().min() > 0


def test_a_check_without_a_verdict_or_key_or_with_a_bad_word_is_refused():
    with pytest.raises(ValueError, match="either a verdict"):
        Check("consistency")
    with pytest.raises(ValueError, match="either a verdict"):
        Check("measurement", verdict="reproduced", key="x")
    with pytest.raises(ValueError, match="kind"):
        Check("vibes", verdict="consistent")
    with pytest.raises(ValueError, match="verdict must be one of"):
        Check("consistency", verdict="probably fine")


def test_the_ledger_covers_every_abstract_number_and_every_table_row():
    claims = ld.claims()
    stated = " ".join(c.stated for c in claims)
    for number in ("94.7", "95.1", "88.9", "92.4", "52 FPS", "0.982", "90.77", "70.44", "86.96", "358K"):
        assert number in stated, number
    abstract = [c for c in claims if c.section == "abstract"]
    assert {c.paper for c in abstract} == {"HAFEM", "LANMSFF"}
    ids = {c.id for c in claims}
    arabic = {"II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10, "XI": 11, "XII": 12}
    for roman, table in lanmsff.TABLES.items():
        rows = [c for c in claims if c.where == f"Table {roman}"]
        assert all(c.id.startswith(f"lanmsff-table{arabic[roman]}-") for c in rows), roman   # one numbering style
        assert len(rows) >= len(table["index"]), f"Table {roman} has rows without a claim"
    for method in hafem.TABLE3:
        assert f"hafem-table3-{slug(method)}" in ids
    for row in hafem.TABLE1:
        assert f"hafem-table1-{slug(row['method'])}" in ids
    assert ld.printed_numbers() > 400


def _verdicts(claim_id):
    return [c.verdict for c in next(c for c in ld.claims() if c.id == claim_id).checks if c.verdict]


def test_findings_on_the_papers_own_numbers():
    # Table 3 prints, as FER2013 accuracies, Table 1's figures for six methods on other datasets
    copied = [m for m in hafem.TABLE3 if any("Table 1's figure" in c.evidence for c in
                                              next(x for x in ld.claims() if x.id == f"hafem-table3-{slug(m)}").checks)]
    assert sorted(copied) == sorted(["VGGFace2 TL", "CNN+LSTM", "EfficientNet-B4", "Swin-T", "Cross-Attn", "DualPath CNN"])
    assert "inconsistent" in _verdicts("lanmsff-table5-diagonal")                 # Table V's labels are misplaced
    assert _verdicts("lanmsff-table4-overall") == ["consistent", "consistent"]    # Table IV fits PrivateTest exactly
    # HAFEM never states its split: 3.8 % of 55 or 56 disgust images is no whole count, but 2/53 would be
    assert _verdicts("hafem-s4-confusion-disgust-anger") == ["cannot check"]
    assert _verdicts("hafem-s4-contempt") == ["inconsistent"]                    # FER2013 has no contempt
    # no FERPlus rule gives 25,371 / 3,225 / 3,160, and the tables fit the official rule's 3,137 test images
    assert _verdicts("lanmsff-s4a-ferplus") == ["inconsistent", "inconsistent"]
    assert _verdicts("lanmsff-table11-ran")[0] == "consistent"
    # DML-NET's poses 89.2, 88.8, 91.3, 85.6, 86.1: population variance of the five with their mean (§IV-D's reading)
    # = 22.14 / 6 = 3.69, printed 3.69
    assert _verdicts("lanmsff-table10-dml-net") == ["consistent"]
    assert "cannot check" in _verdicts("hafem-s4-cohen")                        # the paper never says what was paired
    assert _verdicts("hafem-abstract-fer2013") == ["consistent", "implausible"]


def test_measurements_fill_the_ledger_and_missing_ones_say_what_would_fill_them():
    claim = next(c for c in ld.claims() if c.id == "lanmsff-abstract-fer2013")
    inside = {"ours": 70.0, "low": 68.5, "high": 71.5, "seeds": 3, "dataset": "fer2013", "scale": "CPU scale (5 epochs)"}
    assert ld.measurement_verdict(claim, inside)[0] == "reproduced"
    assert ld.measurement_verdict(claim, {**inside, "high": 70.2})[0] == "not testable at this scale"
    assert ld.measurement_verdict(claim, {**inside, "high": 70.2, "scale": "paper scale (100 epochs)"})[0] == \
        "not reproduced"
    assert ld.measurement_verdict(claim, {**inside, "dataset": "synthfer"})[0] == "not testable here"
    assert ld.measurement_verdict(claim, {"verdict": "reproduced", "evidence": "e"}) == ("reproduced", "e")
    table = ld.ledger({"accuracy:lanmsff": inside}, [claim])
    row = table[table["kind"] == "measurement"].iloc[0]
    assert row["verdict"] == "reproduced" and row["ours"] == 70.0 and row["seeds"] == 3 and "CPU" in row["scale"]
    empty = ld.ledger({}, [claim])
    row = empty[empty["kind"] == "measurement"].iloc[0]
    assert row["verdict"] == "not testable here" and "needs HAFEM / LANMSFF trained on this dataset" in row["evidence"]
    elsewhere = ld.ledger({"accuracy:lanmsff": {**inside, "dataset": "synthfer"}}, [claim])
    row = elsewhere[elsewhere["kind"] == "measurement"].iloc[0]
    assert row["verdict"] == "not testable here" and row["ours"] is None and "70.0" not in row["evidence"]
    assert list(empty.columns) == list(ld.LEDGER_COLUMNS)
    assert isinstance(empty, pd.DataFrame)


def test_committed_real_results_reach_the_claims_on_their_dataset_and_each_gets_a_leak_free_twin(tmp_path):
    import json

    from fernb.evaluate.measured import committed_measurements

    claims = {c.id: c for c in ld.claims()}
    fer, raf = claims["lanmsff-abstract-fer2013"], claims["hafem-abstract-rafdb"]
    keys = [k.key for k in fer.checks if k.key]
    assert keys == ["accuracy:lanmsff", "accuracy_leakfree:lanmsff"]          # the twin follows its accuracy check
    assert [k.key for k in raf.checks if k.key] == ["accuracy:hafem"]         # RAF-DB's splits share no images
    n_accuracy = sum(k.key.startswith("accuracy:") for c in claims.values() for k in c.checks
                     if k.key and c.dataset in ds.LEAKY_DATASETS)
    assert sum(k.key.startswith("accuracy_leakfree:") for c in claims.values() for k in c.checks if k.key) == n_accuracy > 0

    # two committed folders measure the same key on FER2013: the paper-scale one wins
    cpu = {"accuracy:lanmsff": {"ours": 60.0, "low": 58.4, "high": 61.6, "seeds": 1, "dataset": "fer2013",
                                "scale": "CPU scale (5 epochs)", "evidence": "stage 02_lanmsff"},
           "accuracy_leakfree:lanmsff": {"ours": 59.0, "low": 57.3, "high": 60.7, "seeds": 1, "dataset": "fer2013",
                                         "scale": "CPU scale (5 epochs)", "note": "leak-free − standard -1.00 points"}}
    paper = {"accuracy:lanmsff": {**cpu["accuracy:lanmsff"], "ours": 69.9, "low": 68.4, "high": 71.4,
                                  "scale": "paper scale (100 epochs)"}}
    for name, entries in (("fer2013", cpu), ("fer2013-paper", paper)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "measurements.json").write_text(json.dumps(entries))
    committed = committed_measurements(tmp_path)
    assert set(committed) == {"accuracy:lanmsff@fer2013", "accuracy_leakfree:lanmsff@fer2013"}
    assert committed["accuracy:lanmsff@fer2013"]["ours"] == 69.9 and "fer2013-paper/" in committed[
        "accuracy:lanmsff@fer2013"]["evidence"]

    live_synthfer = {"accuracy:lanmsff": {**cpu["accuracy:lanmsff"], "dataset": "synthfer", "ours": 90.0}}
    rows = ld.ledger({**live_synthfer, **committed}, [fer])
    measured = rows[rows["kind"] == "measurement"]
    assert list(measured["ours"]) == [69.9, 59.0]                     # the committed FER2013 numbers, not SynthFER's
    # 70.44 inside [68.4, 71.4]; outside the CPU-scale leak-free [57.3, 60.7], which cannot refute it
    assert list(measured["verdict"]) == ["reproduced", "not testable at this scale"]
    assert "leak-free − standard -1.00 points" in measured.iloc[1]["evidence"]
    # the pipeline's own measurement on the claim's dataset wins over a committed one
    live_fer = {"accuracy:lanmsff": {**cpu["accuracy:lanmsff"], "ours": 65.0, "low": 63.0, "high": 67.0}}
    assert ld.measurement_for({**live_fer, **committed}, "accuracy:lanmsff", "fer2013")["ours"] == 65.0
    assert ld.measurement_for(live_synthfer, "accuracy:lanmsff", "ferplus")["dataset"] == "synthfer"
    assert ld.measurement_for({}, "accuracy:lanmsff", "ferplus") is None


def test_claims_gathers_each_papers_file_in_order_and_marks_the_headline_claims():
    from fernb.papers.hafem_claims import hafem_claims
    from fernb.papers.lanmsff_claims import lanmsff_claims

    claims = ld.claims()
    ids = [c.id for c in claims]
    assert ids == [c.id for c in hafem_claims()] + [c.id for c in lanmsff_claims()]   # HAFEM's first, each in order
    assert {c.id for c in claims if c.headline} == ld.HEADLINE_CLAIMS                 # every headline id exists
    assert not any(c.headline for c in hafem_claims() + lanmsff_claims())             # marking is the ledger's job
    # the leak-free twin is added here, after the claims files: only on FER2013 / FERPlus claims
    own = {c.id: c for c in hafem_claims()}
    fer = next(c for c in claims if c.id == "hafem-abstract-fer2013")
    assert [k.key for k in own["hafem-abstract-fer2013"].checks if k.key] == ["accuracy:hafem"]
    assert [k.key for k in fer.checks if k.key] == ["accuracy:hafem", "accuracy_leakfree:hafem"]
    assert ds.LEAKY_DATASETS == ("fer2013", "ferplus")
