"""HAFEM's claims in the ledger (:mod:`fernb.papers.hafem_claims`): in the paper's order, each
part of the paper covered, and findings recomputed by hand from the numbers it prints."""
from __future__ import annotations

from fernb.papers import hafem
from fernb.papers.hafem_claims import hafem_claims


def _by_id():
    return {c.id: c for c in hafem_claims()}


def test_claims_follow_the_paper_from_the_abstract_to_the_methods():
    claims = hafem_claims()
    assert {c.paper for c in claims} == {"HAFEM"} and all(c.id.startswith("hafem-") for c in claims)
    assert len({c.id for c in claims}) == len(claims)
    firsts = []
    for c in claims:
        where = c.where.split(" ")[0] + (" " + c.where.split(" ")[1] if c.where.startswith("Table") else "")
        if not firsts or firsts[-1] != where:
            firsts.append(where)
    assert firsts == ["abstract", "Table 1", "Table 2", "Table 3", "§4", "Figure", "§4", "§5", "§3", "§1"]
    assert [c.id for c in claims[:4]] == [f"hafem-abstract-{d}" for d in ("fer2013", "rafdb", "affectnet", "ferplus")]
    assert claims[-1].id == "hafem-s1-jetson"
    # every row of Tables 1–3 is a claim
    ids = {c.id for c in claims}
    assert {f"hafem-table1-{r['method']}" for r in hafem.TABLE1} <= ids
    assert {f"hafem-table2-{r['dataset']}" for r in hafem.TABLE2} <= ids
    assert {f"hafem-table3-{m}" for m in hafem.TABLE3} <= ids


def test_findings_recomputed_by_hand():
    claims = _by_id()
    # §4: 94.7 − 91.2 = 3.5, as stated
    assert claims["hafem-s4-lead"].checks[0].verdict == "consistent"
    # Figure 3's ladder: each stated step is the difference of its two rungs
    for step, gain in (("EfficientNet-B5", 12.8), ("+Transformer", 4.4), ("+CBAM", 3.2), ("+compound loss", 2.9)):
        claim = claims[f"hafem-fig3-{step}"]
        assert claim.stated.endswith(f"(+{gain} pt)")
        assert [k.key for k in claim.checks if k.key] == [f"ablation:hafem_components:{step}"]
    # FER2013's happy images: 7215 + 895 + 879 = 8989 in all, and no split holds 3287
    happy = claims["hafem-s4-happy"].checks[0]
    assert happy.verdict == "inconsistent" and "FER2013 all 8989" in happy.evidence
    # the abstract names 10 baselines; Table 3 lists len(TABLE3) − 1 besides HAFEM
    ttest = claims["hafem-abstract-ttest"].checks[0]
    assert f"lists {len(hafem.TABLE3) - 1} methods" in ttest.evidence
    # §5's 44 FPS: no competitor in Table 3 runs at 44
    assert 44 not in [r["fps"] for m, r in hafem.TABLE3.items() if m != "HAFEM"]
    assert claims["hafem-s5-fps"].checks[0].verdict == "inconsistent"
    # the zero-shot claims are read against the in-domain record: 87.3 on RAF-DB is within 5 of 92.05
    assert claims["hafem-s4-zeroshot-rafdb"].checks[0].verdict == "implausible"
