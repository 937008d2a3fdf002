"""The claims ledger's claims on HAFEM's related work and references: §1, §2 and the reference list.

:mod:`fernb.papers.hafem_claims` reads HAFEM's results (abstract, Tables 1–3, §3–§5) as claims;
this module reads what the paper says about other work (:data:`fernb.papers.hafem.SECTION2`, its
reference list :data:`~fernb.papers.hafem.REFERENCES`) and the introduction's numbers, and checks
them against Tables 1 and 3 of the same paper, the reference list and the published record
(:mod:`fernb.papers.published`). :func:`fernb.papers.hafem_claims.hafem_claims` puts them in the
paper's order:

- :func:`introduction_claims`: §1's headline and its seven augmentations;
- :func:`related_work_claims`: §2's cited results, VGGFace2's size, the class imbalance, Table 1's span;
- :func:`references_claims`: the reference list's duplicate entries;
- :func:`year_check`, :func:`method_check`, :func:`dataset_year_check`, :func:`ref_number`: a year
  or method name Tables 1–2 give a cited work, against the reference list.

Pure data and pure functions: nothing here imports the rest of :mod:`fernb`.
"""
from __future__ import annotations

from . import checks as ck
from . import datasets as ds
from . import hafem, published
from .claim import Check, Claim, consistency

__all__ = ["introduction_claims", "related_work_claims", "references_claims", "year_check", "method_check",
           "dataset_year_check", "ref_number"]

_PAPER = "HAFEM"

# §2's cited results (hafem.SECTION2): the claim id each gets, by reference number.
_SECTION2_IDS = {11: "ckplus-aam", 13: "svm", 6: "island-loss", 7: "ran", 17: "center-loss", 9: "vit", 20: "clip",
                 21: "swin"}
# Another work's accuracy whose setting (one model or an ensemble, which split) the paper does not give is flagged
# only this many points above the recorded single-model best; closer, an ensemble or another protocol could reach it.
_CITED_SLACK = 5.0
# Table 2's datasets -> the reference that introduced each: the works fernb.papers.published.DATASET_FACTS names
# for RAF-DB, AffectNet and CK+, and [13], the report of FER2013's challenge; FERPlus is not in the list.
_DATASET_REFS = {"fer2013": 13, "rafdb": 6, "affectnet": 14, "ckplus": 11}
# Works the reference list holds under their own number, by the name Table 1 gives them.
_NAMED_WORKS = {"Swin Transformer": 19}
def ref_number(ref: str | None) -> int | None:
    """A citation as printed (``"[14]"``) as its number; None for no reference or "Proposed"."""
    return int(ref.strip("[]")) if ref and ref.startswith("[") else None


def _reference(n: int) -> str:
    """Reference ``n`` as the evidence names it: number, what it is, year (and its DOI's year where earlier)."""
    r = hafem.REFERENCES[n]
    return f"[{n}] ({r['work']}, {r['year']}" + (f"; DOI of {r['doi_year']}" if "doi_year" in r else "") + ")"


def _reference_years(n: int) -> set[int]:
    """The years reference ``n`` may fairly be dated: the year printed and, where earlier, its DOI's."""
    r = hafem.REFERENCES[n]
    return {r["year"], r.get("doi_year", r["year"])}


def year_check(year: int, n: int | None, what: str) -> Check:
    """A year Table 1 gives a cited work against the reference list's year for it (its printed
    year and its DOI's). One year off is *cannot check*: a preprint, an online-first and a volume
    year may each be a work's year."""
    if n is None:
        return consistency("reference-year", ("cannot check", f"{what} ({year}) cites no reference"))
    years = _reference_years(n)
    off = min(abs(year - y) for y in years)
    verdict = "consistent" if off == 0 else "cannot check" if off == 1 else "inconsistent"
    return consistency("reference-year", (verdict, f"{what} is dated {year}; the reference list's {_reference(n)}"
                                          + {"consistent": "", "cannot check": ": one year off, which a preprint or "
                                             "online-first year explains", "inconsistent": f": {year} is {off} years "
                                             "from it"}[verdict]),
                       finding="hafem-citations-vs-references")


def method_check(method: str, n: int, what: str) -> Check | None:
    """A method name against its reference, only where the reference list itself decides: the cited
    work is not about facial expressions by its title, or the list holds the named work under
    another number. None where it does not decide (a FER paper may carry any baseline)."""
    r, other = hafem.REFERENCES[n], _NAMED_WORKS.get(method)
    reasons = ([f"{_reference(n)} is not a facial-expression work"] if not r["fer"] else []) + (
        [f"the list's {method} is {_reference(other)}"] if other not in (None, n) else [])
    if not reasons:
        return None
    return consistency("reference-method", ("inconsistent", f"{what} names {method} [{n}]; " + "; ".join(reasons)),
                       finding="hafem-citations-vs-references")


def _cited_plausibility(value: float, dataset: str, finding: str) -> Check:
    """A §2-cited accuracy against the published record, flagged only beyond :data:`_CITED_SLACK` points."""
    verdict, evidence = ck.check_plausible(value, dataset, published.STATE_OF_THE_ART)
    if verdict == "implausible" and value - published.STATE_OF_THE_ART[dataset]["best"] <= _CITED_SLACK:
        verdict = "cannot check"
        evidence += (f"; within {_CITED_SLACK:g} points of the single-model record, and §2 does not say whether the "
                     "cited number is one model or an ensemble, nor on which split")
    return Check("plausibility", verdict, evidence, name="plausible",
                 finding=finding if verdict == "implausible" else None)


def introduction_claims() -> list[Claim]:
    """§1: the headline (94.7 % on FER2013 at 52 FPS) and contribution (iii)'s seven augmentations."""
    t3, c = hafem.TABLE3, hafem.CLAIMS
    ops = hafem.AUGMENTATION
    return [
        Claim("hafem-s1-fer2013", _PAPER, "§1", "results", "94.7 % on FER2013 at 52 FPS", "94.7 %, 52 FPS", "fer2013",
              (consistency("same-in-table3", ck.check_equal((c["fer2013"]["accuracy"], c["fps"]["value"]),
                                                            (t3["HAFEM"]["accuracy"], t3["HAFEM"]["fps"]),
                                                            "§1 vs Table 3 (accuracy, FPS)")),)),
        Claim("hafem-s1-augment", _PAPER, "§1 (iii) / §3", "methods", "seven augmentation operations", "7", None,
              (consistency("count-in-section3", ck.check_equal(
                  7, len(ops), "§1's 'seven' vs the operations §3 lists ("
                  + ", ".join(f"{k} {v:g}" for k, v in ops.items()) + ")")),)),
    ]


def _section2_result(row: dict, table1: dict) -> Claim:
    """One result §2 cites: against the Table 1 row of the same reference (where there is one) and,
    where Table 1 does not already give the number, the published record."""
    n, value, dataset = row["ref"], row["accuracy"], row["dataset"]
    twin, cks = table1.get(n), []
    same = twin is not None and twin["accuracy"] == value and twin["dataset"] == dataset
    if row.get("printed_as"):
        cks.append(consistency("accuracy-or-error", (
            "inconsistent" if same else "cannot check",
            f"§2 prints {value} % as ViT's {row['printed_as']} on {dataset}; Table 1 ([{n}] "
            f"{twin['method']}) and Table 3 (ViT-Base) print {twin['accuracy']} as its accuracy there — an error of "
            f"{value} % is an accuracy of {100 - value:.1f} %"), finding="hafem-vit-error-vs-accuracy"))
    elif twin is not None:
        cks.append(consistency("same-in-table1", (
            "consistent" if same else "cannot check",
            f"§2: [{n}] {row['method']}, {value} on {dataset}; Table 1: [{n}] {twin['method']}, {twin['accuracy']} on "
            f"{twin['dataset']}" + ("" if same else " — another method name and number for the same reference, "
                                                   "which one work can report"))))
    if not same:
        cks.append(_cited_plausibility(value, dataset, "hafem-cited-beyond-record"))
    named = method_check("Swin Transformer", n, "§2") if "Swin" in row["method"] else None
    if named is not None:
        cks.append(named)
    return Claim(f"hafem-s2-{_SECTION2_IDS[n]}", _PAPER, "§2 text", "related work",
                 f"[{n}] {row['method']}: {value} % on {dataset}" + (f" (as a {row['printed_as']})"
                                                                       if row.get("printed_as") else ""),
                 f"{value} %", dataset, tuple(cks), value)


def related_work_claims() -> list[Claim]:
    """§2 (Related Work): the other works' results it cites (against Table 1 and the published
    record), VGGFace2's size, the class imbalance it describes (against the datasets' counts), and
    the years it says Table 1 spans (against the reference list)."""
    sec = hafem.SECTION2
    table1 = {ref_number(r["ref"]): r for r in hafem.TABLE1 if ref_number(r["ref"]) is not None}
    out = [_section2_result(row, table1) for row in sec["results"]]
    vgg = sec["vggface2"]
    out.append(Claim("hafem-s2-vggface2", _PAPER, "§2 text", "related work",
                     f"VGGFace2: {vgg['images'] / 1e6:g} million images of {vgg['identities']:,} identities",
                     f"{vgg['images'] / 1e6:g}M images, {vgg['identities']:,} identities", None,
                     (Check("plausibility", "cannot check", "fernb.papers.published records nothing on VGGFace2",
                            name="plausible"),)))
    out.append(_imbalance())
    low, high = sec["span"]
    cited = sorted({ref_number(r["ref"]) for r in hafem.TABLE1} - {None})
    outside = [n for n in cited if not any(low <= y <= high for y in _reference_years(n))]
    out.append(Claim("hafem-s2-span", _PAPER, "§2 text / Table 1 caption", "related work",
                     f"Table 1 compares FER methods from {low}–{high}", f"{low}–{high}", None,
                     (consistency("reference-years", (
                         "inconsistent" if outside else "consistent",
                         f"the reference list dates {len(outside)} of Table 1's {len(cited)} cited works outside "
                         f"{low}–{high}: " + "; ".join(_reference(n) for n in outside)),
                         finding="hafem-citations-vs-references"),)))
    return out


def _imbalance() -> Claim:
    """§2: "happy" is one or two orders of magnitude more frequent than "disgust" and "contempt" in the
    common benchmarks — the ratio in every split of FER2013 and FERPlus (both label rules)."""
    fer, plus = ds.SPLIT_COUNTS["fer2013"], ds.SPLIT_COUNTS["ferplus"]
    ratios = {f"FER2013 {s} happy/disgust": fer[s]["happy"] / fer[s]["disgust"] for s in fer}
    for rule, rule_name in (("majority", "majority rule"), ("ferplus", "official rule")):
        for split, counts in plus[rule].items():
            for rare in ("disgust", "contempt"):
                ratios[f"FERPlus {split}, {rule_name}, happy/{rare}"] = counts["happy"] / counts[rare]
    low, high = min(ratios, key=ratios.get), max(ratios, key=ratios.get)
    ok = all(10 <= r < 1000 for r in ratios.values())   # 10¹ ≤ ratio < 10³
    return Claim("hafem-s2-imbalance", _PAPER, "§2 text", "related work",
                 "happy outnumbers disgust and contempt by one or two orders of magnitude",
                 "one or two orders of magnitude",
                 "fer2013", (consistency("class-counts", (
                     "consistent" if ok else "inconsistent",
                     f"{len(ratios)} ratios in FER2013's and FERPlus' splits (fernb/papers/datasets.py) run from "
                     f"{ratios[low]:.1f} ({low}) to {ratios[high]:.1f} ({high}); FER2013 has no contempt class")),))


def dataset_year_check(row: dict) -> Check:
    """Table 2's year for a dataset against the year of the reference that introduced it; a dataset
    may be dated by its release rather than by its paper, so a difference cannot be checked."""
    n = _DATASET_REFS.get(row["dataset"])
    if n is None:
        return consistency("reference-year", ("cannot check", f"Table 2 dates {row['dataset']} {row['year']}; the "
                                                              "reference list has no entry for it"))
    ok = row["year"] in _reference_years(n)
    return consistency("reference-year", (
        "consistent" if ok else "cannot check",
        f"Table 2 dates {row['dataset']} {row['year']}; the reference list's {_reference(n)}"
        + ("" if ok else " — a dataset may be dated by its release rather than by its paper")))


def references_claims() -> list[Claim]:
    """The reference list: entries that are the same work under two numbers (the same DOI)."""
    by_doi: dict[str, list[int]] = {}
    for n, r in hafem.REFERENCES.items():
        by_doi.setdefault(r["doi"].lower(), []).append(n)
    twice = {doi: ns for doi, ns in by_doi.items() if len(ns) > 1}
    return [Claim("hafem-refs-duplicates", _PAPER, "reference list", "related work",
                  f"{len(hafem.REFERENCES)} distinct references", str(len(hafem.REFERENCES)), None,
                  (consistency("distinct-dois", (
                      "inconsistent" if twice else "consistent",
                      "; ".join(" = ".join(f"[{n}]" for n in ns) + f" (DOI {doi}: {hafem.REFERENCES[ns[0]]['work']})"
                                for doi, ns in twice.items()) if twice else "every entry has its own DOI"),
                      finding="hafem-duplicate-references"),))]
