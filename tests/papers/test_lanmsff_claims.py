"""LANMSFF's claims in the ledger (:mod:`fernb.papers.lanmsff_claims`): in the paper's order,
every table row covered, and findings recomputed by hand from the numbers it prints."""
from __future__ import annotations

from fernb.papers import lanmsff
from fernb.papers.lanmsff_claims import lanmsff_claims


def _by_id():
    return {c.id: c for c in lanmsff_claims()}


def test_claims_follow_the_paper_and_cover_every_table_row():
    claims = lanmsff_claims()
    assert {c.paper for c in claims} == {"LANMSFF"} and all(c.id.startswith("lanmsff-") for c in claims)
    assert len({c.id for c in claims}) == len(claims)
    assert [c.id for c in claims[:4]] == ["lanmsff-abstract-kdef", "lanmsff-abstract-fer2013",
                                          "lanmsff-abstract-ferplus", "lanmsff-abstract-comparable"]
    ids = [c.id for c in claims]
    assert ids.index("lanmsff-s1-kdep") < ids.index("lanmsff-table1-years") < ids.index("lanmsff-params") \
        < ids.index("lanmsff-s3-width") < ids.index("lanmsff-s4a-kdef")
    assert claims[-1].id == "lanmsff-s4e-contribute"
    tables = [c.where for c in claims if c.where.startswith("Table ") and c.id != "lanmsff-params"]
    order = list(dict.fromkeys(tables))
    assert order[0] == "Table I"
    assert [t for t in order if t in {f"Table {r}" for r in lanmsff.TABLES}] == [
        f"Table {t}" for t in ("II", "III", "V", "VIII", "IV", "VII", "VI", "IX", "X", "XI", "XII")]
    for roman, table in lanmsff.TABLES.items():
        rows = [c for c in claims if c.where == f"Table {roman}" and not c.id.endswith("-diagonal")]
        assert len(rows) == len(table["index"]), roman


def test_findings_recomputed_by_hand():
    claims = _by_id()
    # Table XII / §IV-E: 'both modules improve performance on multi-view poses' rests on Var (each removal raises it:
    # 0.66 -> 1.05, 2.59, 1.65) and on removing both lowering accuracy (90.77 -> 90.58): consistent, though removing
    # one module alone raises accuracy (91.24, 90.83 > 90.77), which the evidence notes and the text does not claim
    contribute = claims["lanmsff-s4e-contribute"].checks[0]
    assert contribute.verdict == "consistent" and "91.24" in contribute.evidence and "90.83" in contribute.evidence
    # KDEF: 70 actors × 7 expressions × 5 angles × 2 sessions = 4900
    assert claims["lanmsff-s4a-kdef"].checks[0].verdict == "consistent"
    # FER-2013: 28,709 train and 3,589 + 3,589 test, as fernb/papers/datasets.py counts them
    assert [k.verdict for k in claims["lanmsff-s4a-fer2013"].checks][1] == "consistent"
    # Table V's diagonal repeats Table IV's overall row in Table IV's column order, under other labels
    diagonal = claims["lanmsff-table5-diagonal"].checks[0]
    assert diagonal.verdict == "inconsistent" and "misplaced" in diagonal.evidence
    # Table II's overall row: the value a measurement is compared with is its 'whole' cell, measured per pose
    first = claims["lanmsff-table2-overall"]
    assert first.value == lanmsff.TABLES["II"]["values"][lanmsff.TABLES["II"]["index"].index("overall")][0]
    assert [k.key for k in first.checks if k.key] == ["pose:kdef:overall"]


# ---- the text's claims (fernb.papers.lanmsff_text_claims) and the checks added to §III, §IV-A, Tables II, XII


def _checks(claim):
    return {k.name: k for k in claim.checks}


def test_text_claims_sit_in_the_papers_order():
    ids = [c.id for c in lanmsff_claims()]
    # abstract (and §V), §I, Table I, §III, then §IV in order; the text's claims beside the tables they discuss
    order = ["lanmsff-abstract-comparable", "lanmsff-s1-kdep", "lanmsff-table1-years", "lanmsff-params",
             "lanmsff-s3-pwfs-params", "lanmsff-s4a-ferplus-classes", "lanmsff-s4b-recipe", "lanmsff-table2-overall",
             "lanmsff-s4c-kdef-poses", "lanmsff-table3-diagonal", "lanmsff-s4c-fer-confusions", "lanmsff-table6-lanmsff",
             "lanmsff-s4c-fer-id", "lanmsff-table11-lanmsff", "lanmsff-s4c-posefer-var", "lanmsff-s4d-gradcam-ref",
             "lanmsff-table12-whole", "lanmsff-s4e-contribute"]
    assert [ids.index(i) for i in order] == sorted(ids.index(i) for i in order)


def test_model_description_recomputed_by_hand():
    claims = _by_id()
    # §III-A: PWFS keeps a third of blocks 1-3, block 4 whole: 22 + 24 + 26 + 84 = 156
    width = _checks(claims["lanmsff-s3-width"])["widths"]
    assert width.verdict == "consistent" and "22 + 24 + 26 + 84" in width.evidence
    # Table IX's 8-class model: 358,563 -> 358.563K, 358K only truncated (as the tables truncate ID: 196.76 -> 196)
    eight = _checks(claims["lanmsff-params"])["eight-classes"]
    assert eight.verdict == "consistent" and "358,563" in eight.evidence and "truncated" in eight.evidence
    # PWFS: a 7-class head on 300 features has 301 × 7 = 2,107 parameters, on 156 features 157 × 7 = 1,099
    pwfs = claims["lanmsff-s3-pwfs-params"].checks[0]
    assert pwfs.verdict == "consistent" and "2,107" in pwfs.evidence and "1,099" in pwfs.evidence
    assert "1,008 fewer" in pwfs.evidence
    # Eq. 3, C = 72: 2·72²/4 = 2,592 dense + 18 + 72 + 144 + 36 = 270 conv weights = 2,862; + 101 biases = 2,963
    massatt = claims["lanmsff-s3-massatt-shapes"].checks[0]
    assert massatt.verdict == "consistent" and "2,862" in massatt.evidence and "2,963" in massatt.evidence
    assert "3,914" in massatt.evidence


def test_code_totals_are_the_rebuilt_networks():
    import torch  # noqa: F401  (fernb.models needs it)

    from fernb.models.card import count_parameters
    from fernb.models.lanmsff import LANMSFF

    for (chans, classes), total in lanmsff.CODE_KERAS_TOTALS.items():
        assert count_parameters(LANMSFF(num_classes=classes, in_chans=chans))["keras_total"] == total
    model = LANMSFF()
    # the MassAtt counts Eq. 3's shapes imply (with the code's biases) are the built blocks'
    assert sum(p.numel() for p in model.block2.massatt.parameters()) == 2_963
    assert sum(p.numel() for p in model.block4.massatt.parameters()) == 3_914


def test_front_matter_and_datasets_recomputed_by_hand():
    claims = _by_id()
    kdep = claims["lanmsff-s1-kdep"].checks[0]
    assert (kdep.verdict, kdep.finding) == ("inconsistent", "lanmsff-kdep-typo")
    # Table I: [26] is 2020 there, 2023 in the reference list; the other nine agree
    years = claims["lanmsff-table1-years"].checks[0]
    # [26]: 2020 in Table I, 2023 in the reference list — an early-access year and a volume year may both be right
    assert (years.verdict, years.finding) == ("cannot check", None)
    assert "9 of 10" in years.evidence and "[26]" in years.evidence
    # ✓ marks: 1108K, 1450K, 1820K; ✗ with a count: 11180K, 28400K, 80000K
    light = claims["lanmsff-table1-lightweight"].checks[0]
    assert light.verdict == "consistent" and "(1820K)" in light.evidence and "(11180K)" in light.evidence
    # 4953 + 547 + 5121 + 8989 + 4002 + 6077 + 6198 = 35887 = 28709 + 7178; 7178 / 2 = 3589
    assert _checks(claims["lanmsff-s4a-fer2013"])["stated-sums"].verdict == "consistent"
    assert claims["lanmsff-s4a-ferplus-classes"].checks[0].verdict == "consistent"
    assert [k.verdict for k in claims["lanmsff-s4b-recipe"].checks] == ["consistent", "cannot check"]
    assert claims["lanmsff-s4b-kdef-protocol"].checks[0].verdict == "cannot check"
    assert claims["lanmsff-abstract-comparable"].checks[1].verdict == "consistent"
    assert "VTFF 0.45 lower" in claims["lanmsff-abstract-comparable"].checks[1].evidence


def test_results_text_recomputed_by_hand():
    claims = _by_id()
    poses = _checks(claims["lanmsff-s4c-kdef-poses"])
    # Table X: DML-NET's lowest pose is +45° (85.60); -90° (89.20) is its second best
    assert {n: k.verdict for n, k in poses.items()} == {"lanmsff": "consistent", "dml-net-ref-28": "inconsistent",
                                                       "oca-mtl-ref-36": "consistent"}
    assert poses["dml-net-ref-28"].finding == "lanmsff-dmlnet-poses" and "85.6" in poses["dml-net-ref-28"].evidence
    for cid in ("lanmsff-s4c-kdef-views", "lanmsff-s4c-kdef-classes", "lanmsff-s4c-fer-pose-drop",
                "lanmsff-s4c-ferplus-pose-drop", "lanmsff-s4c-ferplus-classes", "lanmsff-s4c-fer-id",
                "lanmsff-s4c-ferplus-id", "lanmsff-s4c-kdef-sota", "lanmsff-s4c-kdef-var", "lanmsff-s4c-citations",
                "lanmsff-tables-shared-rows"):
        assert {k.verdict for k in claims[cid].checks} == {"consistent"}, cid
    # Table II overall, class by class: An (87.02 + 89.97 + 89.84 + 88.53 + 89.28) / 5 = 88.928 -> 88.93;
    # Ha 493.54 / 5 = 98.708, printed 98.70: within the rounding of the five printed cells
    columns = _checks(claims["lanmsff-table2-overall"])["class-means-of-poses"]
    assert columns.verdict == "consistent" and "An 88.928" in columns.evidence and "Ha 98.708" in columns.evidence
    # Table V as labelled: Ne↔Su 21.55 + 9.11 = 30.66, Di↔Ne 17.05 + 8.75 = 25.80; in Table IV's order these cells
    # are Sa↔Ne and Fe↔Sa, the misplaced labels' finding
    pairs = _checks(claims["lanmsff-s4c-fer-confusions"])
    assert pairs["pairs-as-printed"].verdict == "consistent" and "30.66" in pairs["pairs-as-printed"].evidence
    relabelled = pairs["pairs-in-table4-order"]
    assert (relabelled.verdict, relabelled.finding) == ("inconsistent", "lanmsff-table5-labels")
    assert "Ne↔Sa 30.66" in relabelled.evidence and "Fe↔Sa 25.8" in relabelled.evidence
    # Spearman over 8 classes, majority-rule training sizes: Σd² = 8, ρ = 1 − 48/504 = 0.905
    sizes = _checks(claims["lanmsff-s4c-ferplus-classes"])["training-sizes"]
    assert "= 0.905" in sizes.evidence and "= 0.929" in sizes.evidence
    # Table X means: DML-NET 441.0 / 5 = 88.20, SSA-Net 442.7 / 5 = 88.54 < 90.77
    assert "DML-NET 88.20" in claims["lanmsff-s4c-kdef-sota"].checks[0].evidence
    # §IV-C4: 14.2 is Table XI's 14.23 to one decimal; but VTFF's Var 0.45 < 1.13 is left out
    var = _checks(claims["lanmsff-s4c-posefer-var"])
    assert var["same-in-table11"].verdict == "consistent"
    assert (var["lowest"].verdict, var["lowest"].finding) == ("inconsistent", "lanmsff-posefer-var-vtff")
    assert "VTFF [29] 0.45" in var["lowest"].evidence
    assert claims["lanmsff-s4d-gradcam-ref"].checks[0].verdict == "cannot check"
    assert _checks(claims["lanmsff-table12-whole"])["same-in-tables2-10"].verdict == "consistent"


def test_text_helpers_on_hand_made_numbers(monkeypatch):
    from fernb.papers import lanmsff_text_claims as tc

    # ranks reversed: Σd² = 2² + 0 + 2² = 8, ρ = 1 − 6·8/(3·8) = −1
    assert tc._spearman({"a": 3, "b": 2, "c": 1}, {"a": 1, "b": 2, "c": 3}) == (-1.0, 8)
    assert tc._pose_drop("x", {"overall": 70.0, ">30°": 71.0})[0] is False
    assert tc._pose_drop("x", {"overall": 70.0, ">30°": None, ">45°": 69.0})[0] is True
    # a 3-class matrix: pairs a↔b 5 + 1 = 6, a↔c 2 + 7 = 9, b↔c 3 + 0 = 3
    top = tc._top_pairs([[90, 5, 2], [1, 96, 3], [7, 0, 93]], ["a", "b", "c"])
    assert top == [(frozenset("ac"), 9), (frozenset("ab"), 6)]
    # Table I's years all matching the reference list: consistent, no finding
    monkeypatch.setitem(lanmsff.REFERENCE_YEARS, "26", 2020)
    years = tc.table1_claims()[0].checks[0]
    assert (years.verdict, years.finding) == ("consistent", None)
