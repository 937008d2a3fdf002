"""HAFEM's claims in the ledger (:mod:`fernb.papers.hafem_claims`): in the paper's order, each
part of the paper covered, and findings recomputed by hand from the numbers it prints."""
from __future__ import annotations

from fernb.papers import hafem
from fernb.papers.claim import slug
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
    assert firsts == ["abstract", "§1", "§2", "Table 1", "Table 2", "Table 3", "§4", "Figure", "§4", "§5", "§3", "§1",
                      "reference"]
    assert [c.id for c in claims[:4]] == [f"hafem-abstract-{d}" for d in ("fer2013", "rafdb", "affectnet", "ferplus")]
    assert claims[-1].id == "hafem-refs-duplicates"
    # every row of Tables 1–3 is a claim
    ids = {c.id for c in claims}
    assert {f"hafem-table1-{slug(r['method'])}" for r in hafem.TABLE1} <= ids
    assert {f"hafem-table2-{r['dataset']}" for r in hafem.TABLE2} <= ids
    assert {f"hafem-table3-{slug(m)}" for m in hafem.TABLE3} <= ids


def test_findings_recomputed_by_hand():
    claims = _by_id()
    # §4: 94.7 − 91.2 = 3.5, as stated
    assert claims["hafem-s4-lead"].checks[0].verdict == "consistent"
    # Figure 3's ladder: each stated step is the difference of its two rungs
    for step, gain in (("EfficientNet-B5", 12.8), ("+Transformer", 4.4), ("+CBAM", 3.2), ("+compound loss", 2.9)):
        claim = claims[f"hafem-fig3-{slug(step)}"]
        assert claim.stated.endswith(f"(+{gain} pt)")
        assert [k.key for k in claim.checks if k.key] == [f"ablation:hafem_components:{step}"]
    # FER2013's happy images: 7215 + 895 + 879 = 8989 in all, and no split holds 3287 — but the paper never states
    # its split (3287 / 8989 = 36.6 %), so this cannot be checked
    happy = claims["hafem-s4-happy"].checks[0]
    assert happy.verdict == "cannot check" and "FER2013 all 8989" in happy.evidence and "36.6 %" in happy.evidence
    # the abstract names 10 baselines; Table 3 lists len(TABLE3) − 1 besides HAFEM
    ttest = claims["hafem-abstract-ttest"].checks[0]
    assert f"lists {len(hafem.TABLE3) - 1} methods" in ttest.evidence
    # §5's 44 FPS: no competitor in Table 3 runs at 44
    assert 44 not in [r["fps"] for m, r in hafem.TABLE3.items() if m != "HAFEM"]
    # ... but ResNet-50 runs at 45, which a measured 44.5-44.99 would print rounded, and §5 may mean it
    assert claims["hafem-s5-fps"].checks[0].verdict == "cannot check"
    # the zero-shot claims are read against the in-domain record: 87.3 on RAF-DB is within 5 of 92.05
    assert claims["hafem-s4-zeroshot-rafdb"].checks[0].verdict == "cannot check"      # 87.3 < 92.05, in-domain


# ---------------------------------------------------------------------------------------------------------------
# Recall (issue 33): the claims that had no row, with their verdicts recomputed by hand from the paper's text.

def _check(claim_id, name):
    return next(k for k in _by_id()[claim_id].checks if k.name == name)


def test_recall_abstract_and_section1():
    # the abstract's 68-point alignment against §3's 5 RetinaFace landmarks
    marks = _check("hafem-abstract-landmarks", "same-in-section3")
    assert (marks.verdict, marks.finding) == ("inconsistent", "hafem-landmarks-68-vs-5")
    assert "68" in marks.evidence and "5 landmarks" in marks.evidence
    # AffectNet 88.9 and FERPlus 92.4: no result of the body gives them — unsupported, not contradicted
    for name in ("affectnet", "ferplus"):
        assert _check(f"hafem-abstract-{name}", "reported-in-body").verdict == "cannot check"
    # Table 3: HAFEM 94.1 > 90.5, 93.8 > 90.2, 93.9 > 90.3, 0.982 > 0.967 (all DualPath CNN)
    metrics = _check("hafem-abstract-ttest", "every-metric")
    assert metrics.verdict == "consistent" and "precision 94.1 vs 90.5 (DualPath CNN)" in metrics.evidence
    assert _check("hafem-abstract-fps", "over-real-time").verdict == "consistent"     # 52 − 30 = +22 FPS
    assert _check("hafem-s1-fer2013", "same-in-table3").verdict == "consistent"       # 94.7 % at 52 FPS
    assert _check("hafem-s1-augment", "count-in-section3").verdict == "consistent"    # §3 lists (i)–(vii)


def test_recall_section2_cited_results():
    # 88.8 − 73.28 = +15.5 points on FER2013: beyond the record
    dacl = _check("hafem-s2-center-loss", "plausible")
    assert (dacl.verdict, dacl.finding) == ("implausible", "hafem-cited-beyond-record") and "+15.5 pt" in dacl.evidence
    # 76.5 − 73.28 = +3.2: within the 5-point slack for a number whose setting §2 does not give
    assert _check("hafem-s2-island-loss", "plausible").verdict == "cannot check"
    assert _check("hafem-s2-svm", "plausible").verdict == "plausible"          # 71.2 − 73.28 = −2.1
    assert _check("hafem-s2-ran", "plausible").verdict == "plausible"          # 86.9 − 92.05 = −5.2
    assert _check("hafem-s2-clip", "plausible").verdict == "plausible"         # 91.5 − 92.05 = −0.6
    assert _check("hafem-s2-ckplus-aam", "plausible").verdict == "cannot check"  # no CK+ record
    # "test error … of 73.6%" against Tables 1 and 3's accuracy 73.6: an error of 73.6 is an accuracy of 26.4
    vit = _check("hafem-s2-vit", "accuracy-or-error")
    assert (vit.verdict, vit.finding) == ("inconsistent", "hafem-vit-error-vs-accuracy") and "26.4" in vit.evidence
    # Swin: 88.7 on AffectNet as in Table 1, but cited as [21] while the list's Swin Transformer is [19]
    assert _check("hafem-s2-swin", "same-in-table1").verdict == "consistent"
    swin = _check("hafem-s2-swin", "reference-method")
    assert swin.verdict == "inconsistent" and "[19]" in swin.evidence


def test_recall_section2_imbalance_and_span():
    # happy/disgust: FER2013 PrivateTest 879/55 = 16.0 … FERPlus train (official rule) 7284/116 = 62.8;
    # every ratio lies in [10, 1000)
    imb = _check("hafem-s2-imbalance", "class-counts")
    assert imb.verdict == "consistent" and "16.0" in imb.evidence and "62.8" in imb.evidence
    # "2021–2025": [6] 2017, [7] 2020 (DOI 2019), [10] 2018, [14] 2019 (DOI 2017) fall outside
    span = _check("hafem-s2-span", "reference-years")
    assert span.verdict == "inconsistent" and "4 of Table 1's 8" in span.evidence
    assert all(f"[{n}]" in span.evidence for n in (6, 7, 10, 14)) and "[9]" not in span.evidence


def test_recall_table1_citations_against_the_reference_list():
    years = {c.id: k.verdict for c in _by_id().values() if c.id.startswith("hafem-table1-")
             for k in c.checks if k.name == "reference-year"}
    assert years == {
        "hafem-table1-resnet-50-plus-svm": "consistent",        # 2021 = [5] 2021
        "hafem-table1-cnn-plus-lstm": "inconsistent",           # 2021 vs [6] 2017
        "hafem-table1-vggface2-transfer": "inconsistent",       # 2022 vs [7] 2020 (DOI 2019)
        "hafem-table1-gan-augmentation": "cannot check",        # 2022 vs [8] 2021: one year, a preprint's may be
        "hafem-table1-vit-transformer": "cannot check",         # 2022 vs [9] 2023 (DOI 2021): one year off
        "hafem-table1-efficientnet-b4": "inconsistent",         # 2023 vs [10] 2018
        "hafem-table1-swin-transformer": "cannot check",        # 2024 vs [21] 2023: one year off
        "hafem-table1-cross-attention": "cannot check",         # no reference
        "hafem-table1-dualpath-cnn": "inconsistent",            # 2025 vs [14] 2019 (DOI 2017)
    }
    methods = {c.id for c in _by_id().values() for k in c.checks
               if c.id.startswith("hafem-table1-") and k.name == "reference-method"}
    assert methods == {"hafem-table1-resnet-50-plus-svm", "hafem-table1-swin-transformer"}
    # speed limitations: CNN+LSTM "High latency" at 22 FPS (< 30); DualPath CNN "No real-time" at 33 FPS (> 30)
    assert _check("hafem-table1-cnn-plus-lstm", "real-time").verdict == "consistent"
    assert _check("hafem-table1-dualpath-cnn", "real-time").verdict == "cannot check"
    # the reference list: [9] = [22] and [18] = [24] (the same DOIs)
    dup = _check("hafem-refs-duplicates", "distinct-dois")
    assert dup.verdict == "inconsistent" and "[9] = [22]" in dup.evidence and "[18] = [24]" in dup.evidence


def test_recall_table2_years():
    years = {c.id: k.verdict for c in _by_id().values() if c.id.startswith("hafem-table2-")
             for k in c.checks if k.name == "reference-year"}
    # RAF-DB 2017 = [6], AffectNet 2019 = [14], CK+ 2010 = [11]; FER2013 2013 vs [13] 2015 (its challenge's
    # report); FERPlus has no reference
    assert years == {"hafem-table2-fer2013": "cannot check", "hafem-table2-rafdb": "consistent",
                     "hafem-table2-affectnet": "consistent", "hafem-table2-ferplus": "cannot check",
                     "hafem-table2-ckplus": "consistent"}


def test_recall_section4_section5_section3():
    assert _check("hafem-s4-datasets", "same-in-table2").verdict == "consistent"    # 35,887 / 7; 450,000 / 8
    assert _check("hafem-s4-fastest", "fastest-in-table3").verdict == "consistent"  # 52 > 45 (ResNet-50)
    assert _check("hafem-s4-fastest", "against-model-size").verdict == "cannot check"
    assert "fps:hafem_vs_baselines" in [k.key for k in _by_id()["hafem-s4-fastest"].checks]
    # EfficientNet-B4 89.5 − the B5 rung 84.2 = +5.3; 89.5 − 88.6 (B5 + Transformer) = +0.9; nothing beats 91.8
    ladder = _check("hafem-fig3-vs-table3", "baselines-above-rungs")
    assert ladder.verdict == "cannot check"
    assert "+5.3 pt" in ladder.evidence and "+0.9" in ladder.evidence and "(91.8): none" in ladder.evidence
    # "all ten baselines" (§4) and "ten other methods" (§5) against Table 3's nine
    for claim_id in ("hafem-s4-cohen", "hafem-s5-ttest"):
        ten = _check(claim_id, "baselines-in-table3")
        assert (ten.verdict, ten.finding) == ("inconsistent", "hafem-ten-baselines")
    assert _check("hafem-s5-ttest", "every-metric").verdict == "consistent"          # incl. FPS 52 > 45
    # 7 × 7 = 49 tokens, 224 / 32 = 7, 2048 / 8 = 256 per head
    assert _check("hafem-s3-tokens", "token-count").verdict == "consistent"
    assert "256 per head" in _check("hafem-s3-tokens", "head-width").evidence
    assert _check("hafem-s3-grayscale", "colour-input").verdict == "cannot check"


def test_recall_claims_stand_in_the_papers_order():
    ids = [c.id for c in hafem_claims()]
    order = ["hafem-abstract-landmarks", "hafem-s1-fer2013", "hafem-s2-svm", "hafem-s2-span",
             "hafem-table1-resnet-50-plus-svm", "hafem-s4-datasets", "hafem-fig3-vs-table3", "hafem-s5-ttest",
             "hafem-s3-grayscale", "hafem-refs-duplicates"]
    assert [ids.index(i) for i in order] == sorted(ids.index(i) for i in order)
    assert ids[-1] == "hafem-refs-duplicates"
