"""The claims ledger: every number both papers state, each with the checks it gets and their verdicts.

A claim (:class:`fernb.papers.claim.Claim`) is one statement of a paper — a table row, or a
number in its abstract, text or conclusion — with where it stands, what it states, and its
checks (:class:`fernb.papers.claim.Check`). Each paper's claims are built in their own file,
:mod:`fernb.papers.hafem_claims` and :mod:`fernb.papers.lanmsff_claims`; this module gathers
them and gives the verdicts. The kinds of check:

- ``consistency``: recomputed from the paper's own numbers (:mod:`fernb.papers.checks`):
  a table's overall accuracy against its per-class or per-pose values, confusion rows against
  whole counts of the test set's class sizes (:data:`fernb.papers.datasets.SPLIT_COUNTS`),
  "Var" against the variance of its own numbers, information density, F1 against precision
  and recall, parameter arithmetic, the same number printed in two places, classes a dataset
  does not have, split sizes that match no split;
- ``plausibility``: a claimed accuracy against the best published single model and human
  agreement (:data:`fernb.papers.published.STATE_OF_THE_ART`);
- ``measurement``: what the pipeline measured — named by a key that notebook 06 fills from
  the runs and reports (:mod:`fernb.evaluate.measured`); a key with nothing measured yet
  gives ``not testable here`` and says what would measure it. A claim on FER2013 or FERPlus
  (:data:`fernb.papers.datasets.LEAKY_DATASETS`) gets its accuracy measured twice: on the
  standard test split and on its leak-free subset (``accuracy_leakfree:<model>``, the test
  images with no exact or near copy in the training split); committed real-data results
  arrive as ``<key>@<dataset>`` (:func:`measurement_for`).

:func:`claims` builds every claim (verdicts of the internal checks are computed there, from
the data in :mod:`fernb.papers`) and marks the :data:`HEADLINE_CLAIMS`; :func:`ledger` joins
them with the measurements into one row per claim and check (:func:`measurement_verdict`).
Which sections are covered: both abstracts, every results table (HAFEM Tables 1–3, LANMSFF
Tables II–XII), the numbers of both results sections' text and of HAFEM's conclusion
(LANMSFF's conclusion states none), and the methods' checkable numbers (HAFEM §3's parameter
counts and its device claims; LANMSFF §III's feature width, §IV-A's dataset sizes, the 358K
parameters); :func:`printed_numbers` counts what the tables print.

Pure data and pure functions: nothing here imports the rest of :mod:`fernb`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import pandas as pd

from . import checks as ck  # noqa: F401  (notebook 06 reads the verdict vocabulary as ld.ck.VERDICT_MEANINGS)
from . import hafem, lanmsff
from .claim import Claim, measurement
from .datasets import LEAKY_DATASETS
from .findings import FINDINGS, SEVERITIES
from .hafem_claims import hafem_claims
from .lanmsff_claims import lanmsff_claims

__all__ = ["claims", "ledger", "measurement_verdict", "measurement_for", "LEDGER_COLUMNS", "MEASUREMENT_NEEDS",
           "LEAKY_DATASETS", "HEADLINE_CLAIMS", "printed_numbers", "findings_table", "FINDING_COLUMNS"]

LEDGER_COLUMNS = ("check_id", "id", "paper", "where", "section", "claim", "stated", "dataset", "kind", "verdict",
                  "evidence", "finding", "severity", "ours", "ours_low", "ours_high", "seeds", "scale", "headline")
FINDING_COLUMNS = ("finding", "paper", "severity", "title", "summary", "verdicts", "checks", "claims", "check_ids")

# What a measurement key needs before it can be filled (shown while it is not measured).
MEASUREMENT_NEEDS = {
    "accuracy": "HAFEM / LANMSFF trained on this dataset (notebooks 01 / 02 with data.dataset set to it)",
    "fps": "notebook 07 on the paper's GPU",
    "zero_shot": "notebook 04 with a model trained on FER2013 and the target prepared",
    "ablation": "notebook 03's ladder at a scale where its variants learn",
    "interpretability": "notebook 05",
    "params": "notebook 06 (builds the network and counts)",
    "statistics": "notebook 06 (its comparisons; the stated effect re-enacted with fernb.evaluate.stats)",
    "pose": "notebook 02 with per-face yaw (SynthFER's, or FER2013/FERPlus with face-alignment's estimate; KDEF's camera)",
    "accuracy_leakfree": ("HAFEM / LANMSFF trained on this dataset, scored on the test images with no exact or "
                          "near duplicate in the training split (fernb.evaluate.leakage)"),
}

# The claims whose flags the front page shows first: each paper's central numbers and its findings
# with the widest reach (a table built from other datasets' numbers, a test set that matches no split).
HEADLINE_CLAIMS = frozenset({
    "hafem-abstract-fer2013", "hafem-abstract-rafdb", "hafem-abstract-affectnet", "hafem-s4-cohen",
    "hafem-table3-dualpath-cnn", "hafem-s4-contempt", "hafem-s5-rafdb", "hafem-s3-transformer",
    "lanmsff-table5-diagonal", "lanmsff-s4a-ferplus", "lanmsff-table12-whole", "lanmsff-s4e-contribute",
    "lanmsff-table7-overall", "lanmsff-s4c-ampnet"})


def _with_leakfree(claim: Claim) -> Claim:
    """``claim`` with a leak-free measurement after each ``accuracy:<model>`` check when its
    dataset is one of :data:`LEAKY_DATASETS` (neither paper mentions the leak)."""
    if claim.dataset not in LEAKY_DATASETS:
        return claim
    checks = []
    for check in claim.checks:
        checks.append(check)
        if check.key is not None and check.key.startswith("accuracy:"):
            checks.append(measurement("accuracy_leakfree:" + check.key.split(":", 1)[1]))
    return replace(claim, checks=tuple(checks))


def claims() -> list[Claim]:
    """Every claim of both papers, with its checks (internal verdicts computed), HAFEM's first;
    the :data:`HEADLINE_CLAIMS` marked ``headline``."""
    out = [_with_leakfree(replace(c, headline=True) if c.id in HEADLINE_CLAIMS else c)
           for c in hafem_claims() + lanmsff_claims()]
    ids = [c.id for c in out]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"claim ids must be unique, repeated: {repeated}")
    return out


def printed_numbers() -> int:
    """How many numbers the papers' tables print (LANMSFF Tables II–XII, HAFEM Tables 1–3):
    the ledger covers each through its table-row claims."""
    n = sum(sum(v is not None for v in row) for t in lanmsff.TABLES.values() for row in t["values"])
    n += len(hafem.TABLE1) + 3 * len(hafem.TABLE2) + sum(len(r) for r in hafem.TABLE3.values())
    return n


def _refutes(entry: Mapping) -> bool:
    """Whether a measurement was made where it could refute a claim: at the paper's scale (its
    epochs, :func:`fernb.evaluate.measured.scale_label`), or of a quantity that does not depend
    on scale (the entry says ``refutes``: a parameter count, FPS on the paper's GPU)."""
    return bool(entry.get("refutes")) or str(entry.get("scale") or "").startswith("paper scale")


def measurement_verdict(claim: Claim, entry: Mapping) -> tuple[str, str]:
    """The verdict of one measurement (:data:`fernb.papers.checks.VERDICT_MEANINGS`). An entry
    that carries its own ``verdict`` keeps it (a direction or a count measured by notebooks
    03–07), except that ``not reproduced`` where the measurement could not refute the claim
    (:func:`_refutes`) reads ``not testable at this scale``, and one measured on another dataset
    than the claim's reads ``not testable here``. An accuracy (``ours``, ``low``,
    ``high`` in %) on the claim's dataset: ``reproduced`` when the stated value lies inside our
    interval; outside it, ``not reproduced`` at the paper's scale and ``not testable at this
    scale`` below it; on another dataset, ``not testable here``."""
    elsewhere = claim.dataset is not None and entry.get("dataset") not in (None, claim.dataset)
    if entry.get("verdict"):
        verdict = entry["verdict"]
        if elsewhere:
            return "not testable here", entry.get("evidence", "")
        if verdict == "not reproduced" and not _refutes(entry):
            verdict = "not testable at this scale"
        return verdict, entry.get("evidence", "")
    ours, low, high = entry.get("ours"), entry.get("low"), entry.get("high")
    what = (f"ours {ours:.1f} % [{low:.1f}, {high:.1f}] on {entry.get('dataset')}, {entry.get('seeds')} seed(s), "
            f"{entry.get('scale')}" if ours is not None and low is not None else entry.get("evidence", ""))
    if entry.get("note") and what:
        what = f"{what}; {entry['note']}"
    if claim.value is None or ours is None or low is None or high is None or claim.dataset is None or elsewhere \
            or entry.get("dataset") is None:
        return "not testable here", what
    inside = low <= claim.value <= high
    if inside:
        return "reproduced", f"{what}; stated {claim.value} % is inside the interval"
    if _refutes(entry):
        return "not reproduced", f"{what}; stated {claim.value} % is outside the interval"
    return ("not testable at this scale", f"{what}; stated {claim.value} % is outside the interval, at a smaller scale "
                                          "than the paper's, which cannot refute it")


def _not_here(claim: Claim, key: str, entry: Mapping | None) -> str:
    """The evidence of a ``not testable here`` row: what is missing and what would measure it —
    no number, so that nothing measured on another dataset or device reads as this claim's."""
    needs = MEASUREMENT_NEEDS.get(key.split(":")[0], "a run")
    where = f"on {claim.dataset}" if claim.dataset else "in the claim's setting"
    other = entry.get("dataset") if entry else None
    elsewhere = (f"; what notebook 06 has is measured on {other}, not {claim.dataset}" if other and claim.dataset
                 and other != claim.dataset else "; what notebook 06 has is not in the claim's setting" if entry else "")
    return f"not measured {where} here ({key}): needs {needs}{elsewhere}"


def measurement_for(measured: Mapping[str, Mapping], key: str, dataset: str | None) -> Mapping | None:
    """The entry a claim on ``dataset`` gets for ``key``: the pipeline's own (``key``) when it was
    measured on that dataset, else a committed real-data result's (``key@dataset``, from
    ``results/<dataset>/measurements.json``), else the pipeline's own on another dataset (which
    :func:`measurement_verdict` calls not testable here), else None."""
    own = measured.get(key)
    if own is not None and (dataset is None or own.get("dataset") == dataset):
        return own
    return measured.get(f"{key}@{dataset}") if dataset is not None and f"{key}@{dataset}" in measured else own


def ledger(measured: Mapping[str, Mapping] | None = None, claim_list: Sequence[Claim] | None = None) -> pd.DataFrame:
    """One row per claim and check, columns :data:`LEDGER_COLUMNS`. ``measured``: measurement
    key → entry (``ours``, ``low``, ``high``, ``seeds``, ``scale``, ``dataset``, ``evidence``,
    optionally ``verdict``), as :func:`fernb.evaluate.measured.measurements` builds it; a
    claim's key with no entry gives ``not testable here`` and what would measure it."""
    measured = measured or {}
    rows = []
    for claim in claim_list if claim_list is not None else claims():
        base = {"id": claim.id, "paper": claim.paper, "where": claim.where, "section": claim.section,
                "claim": claim.claim, "stated": claim.stated, "dataset": claim.dataset, "headline": claim.headline}
        for check in claim.checks:
            found = FINDINGS[check.finding] if check.finding else None
            row = {**base, "check_id": f"{claim.id}--{check.name}", "kind": check.kind, "verdict": check.verdict,
                   "evidence": check.evidence, "finding": check.finding, "severity": found.severity if found else None,
                   "ours": None, "ours_low": None, "ours_high": None, "seeds": None, "scale": None}
            if check.key is not None:
                entry = measurement_for(measured, check.key, claim.dataset)
                verdict, evidence = measurement_verdict(claim, entry) if entry is not None else ("not testable here", "")
                if verdict == "not testable here":
                    row.update(verdict=verdict, evidence=_not_here(claim, check.key, entry))
                else:
                    row.update(verdict=verdict, evidence=evidence, ours=entry.get("ours"), ours_low=entry.get("low"),
                               ours_high=entry.get("high"), seeds=entry.get("seeds"), scale=entry.get("scale"))
            rows.append(row)
    return pd.DataFrame(rows, columns=list(LEDGER_COLUMNS))


def findings_table(ledger_frame: pd.DataFrame) -> pd.DataFrame:
    """One row per finding the ledger shows (:data:`FINDING_COLUMNS`), most severe first
    (:data:`fernb.papers.findings.SEVERITIES`), then by paper and by how many checks show it:
    its title, severity and summary, its verdicts counted (``inconsistent 3, implausible 2``),
    the checks and claims that show it, and their check ids."""
    flagged = ledger_frame[ledger_frame["finding"].notna()]
    rows = []
    for finding_id, group in flagged.groupby("finding", sort=False):
        f = FINDINGS[finding_id]
        rows.append({"finding": finding_id, "paper": f.paper, "severity": f.severity, "title": f.title,
                     "summary": f.summary,
                     "verdicts": ", ".join(f"{v} {n}" for v, n in group["verdict"].value_counts().items()),
                     "checks": len(group), "claims": group["id"].nunique(), "check_ids": " ".join(group["check_id"])})
    table = pd.DataFrame(rows, columns=list(FINDING_COLUMNS))
    if table.empty:
        return table
    table["_s"] = table["severity"].map(SEVERITIES.index)
    return (table.sort_values(["_s", "paper", "checks"], ascending=[True, True, False], kind="stable")
            .drop(columns="_s").reset_index(drop=True))
