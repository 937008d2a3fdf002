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
    assert [c.id for c in claims[:5]] == ["lanmsff-abstract-kdef", "lanmsff-abstract-fer2013",
                                          "lanmsff-abstract-ferplus", "lanmsff-params", "lanmsff-s3-width"]
    assert claims[-1].id == "lanmsff-s4e-contribute"
    tables = [c.where for c in claims if c.where.startswith("Table ") and c.id != "lanmsff-params"]
    order = list(dict.fromkeys(tables))
    assert order == [f"Table {t}" for t in ("II", "III", "V", "VIII", "IV", "VII", "VI", "IX", "X", "XI", "XII")]
    for roman, table in lanmsff.TABLES.items():
        rows = [c for c in claims if c.where == f"Table {roman}" and not c.id.endswith("-diagonal")]
        assert len(rows) == len(table["index"]), roman


def test_findings_recomputed_by_hand():
    claims = _by_id()
    # Table XII: a module whose removal makes the model more accurate contradicts 'both modules improve it'
    rows = dict(zip(lanmsff.TABLES["XII"]["index"], lanmsff.TABLES["XII"]["values"]))
    better = [v for v in ("-PWFS", "-MassAtt") if rows[v][5] > rows["whole"][5]]
    assert claims["lanmsff-s4e-contribute"].checks[0].verdict == ("inconsistent" if better else "consistent")
    # KDEF: 70 actors × 7 expressions × 5 angles × 2 sessions = 4900
    assert claims["lanmsff-s4a-kdef"].checks[0].verdict == "consistent"
    # FER-2013: 28,709 train and 3,589 + 3,589 test, as fernb/papers/datasets.py counts them
    assert [k.verdict for k in claims["lanmsff-s4a-fer2013"].checks][1] == "consistent"
    # Table V's diagonal repeats Table IV's overall row in Table IV's column order, under other labels
    diagonal = claims["lanmsff-tablev-diagonal"].checks[0]
    assert diagonal.verdict == "inconsistent" and "misplaced" in diagonal.evidence
    # Table II's overall row: the value a measurement is compared with is its 'whole' cell, measured per pose
    first = claims["lanmsff-table2-overall"]
    assert first.value == lanmsff.TABLES["II"]["values"][lanmsff.TABLES["II"]["index"].index("overall")][0]
    assert [k.key for k in first.checks if k.key] == ["pose:kdef:overall"]
