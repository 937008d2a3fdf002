"""One claim of a paper and its checks: the records the claims ledger is built from.

A :class:`Claim` is one statement of a paper — a table row, or a number in its abstract,
text or conclusion — with where it stands, what it states, and its :class:`Check`\\ s. Each
paper's claims are built in their own file (:mod:`fernb.papers.hafem_claims`,
:mod:`fernb.papers.lanmsff_claims`) from the small constructors here; the ledger
(:mod:`fernb.papers.ledger`) gathers them and fills the measurements.

- :class:`Check`, :class:`Claim`: the records;
- :func:`consistency`, :func:`plausibility`, :func:`measurement`: one check of each kind
  (:data:`fernb.papers.checks.KINDS`);
- :data:`ABBREVIATIONS` and :func:`printed_row`: a table row the way the papers print it
  (``An 79.8, Di 51.06, …``);
- :func:`fer2013_supports`, :func:`ferplus_supports`: one class's size in each candidate test
  split (:data:`fernb.papers.datasets.SPLIT_COUNTS`), what a confusion cell is read against.

Pure data and pure functions: nothing here imports the rest of :mod:`fernb`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import checks as ck
from . import datasets as ds
from . import published

__all__ = ["Check", "Claim", "consistency", "plausibility", "measurement", "ABBREVIATIONS", "printed_row",
           "fer2013_supports", "ferplus_supports"]

# The papers' two-letter class names (LANMSFF's tables), as the ledger prints a row.
ABBREVIATIONS = {"anger": "An", "disgust": "Di", "fear": "Fe", "happy": "Ha", "sad": "Sa", "surprise": "Su",
                 "neutral": "Ne", "contempt": "Co"}


@dataclass(frozen=True)
class Check:
    """One check of a claim: its ``kind`` (:data:`fernb.papers.checks.KINDS`), and either a
    ``verdict`` with its ``evidence`` (internal checks) or a measurement ``key`` (filled by
    :func:`fernb.papers.ledger.ledger` from what the pipeline measured)."""

    kind: str
    verdict: str | None = None
    evidence: str = ""
    key: str | None = None

    def __post_init__(self):
        if self.kind not in ck.KINDS:
            raise ValueError(f"check kind must be one of {ck.KINDS}, got {self.kind!r}")
        if (self.verdict is None) == (self.key is None):
            raise ValueError("a check has either a verdict (computed from the paper) or a measurement key, not both")
        if self.verdict is not None and self.verdict not in ck.VERDICTS:
            raise ValueError(f"verdict must be one of {ck.VERDICTS}, got {self.verdict!r}")


@dataclass(frozen=True)
class Claim:
    """One statement of a paper: ``id``, ``paper``, ``where`` (table, section), ``section``
    (abstract | results | conclusion | methods), what it says, the ``stated`` numbers as
    printed, the ``dataset`` it is about (None: none), and its checks. ``value``: the one
    number a measurement is compared with (an accuracy in %), where there is one. ``headline``:
    a claim the front page lists first when its checks flag it (the papers' central numbers)."""

    id: str
    paper: str
    where: str
    section: str
    claim: str
    stated: str
    dataset: str | None
    checks: tuple[Check, ...] = field(default_factory=tuple)
    value: float | None = None
    headline: bool = False


def consistency(verdict_evidence: tuple[str, str]) -> Check:
    """A consistency check from a recomputation's ``(verdict, evidence)`` (:mod:`fernb.papers.checks`)."""
    return Check("consistency", *verdict_evidence)


def plausibility(stated: float, dataset: str) -> Check:
    """A claimed accuracy (%) on ``dataset`` against the best published result
    (:func:`fernb.papers.checks.check_plausible`, :data:`fernb.papers.published.STATE_OF_THE_ART`)."""
    return Check("plausibility", *ck.check_plausible(stated, dataset, published.STATE_OF_THE_ART))


def measurement(key: str) -> Check:
    """A check the pipeline's measurement ``key`` fills (``accuracy:hafem``, ``pose:kdef:0°``, …)."""
    return Check("measurement", key=key)


def printed_row(columns, values) -> str:
    """A table row as ``label value`` pairs, classes abbreviated as printed, missing cells left out."""
    return ", ".join(f"{ABBREVIATIONS.get(c, c)} {v}" for c, v in zip(columns, values) if v is not None)


def fer2013_supports(cls: str) -> dict[str, int]:
    """FER2013's images of class ``cls`` in each split a paper may call its test set."""
    counts = ds.SPLIT_COUNTS["fer2013"]
    return {f"FER2013 {split}": counts[split][cls] for split in ("PrivateTest", "PublicTest")}


def ferplus_supports(cls: str) -> dict[str, int]:
    """FERPlus' test images of class ``cls`` under each label rule."""
    rules = ds.SPLIT_COUNTS["ferplus"]
    return {f"FERPlus test ({rule} rule)": rules[rule]["test"][cls] for rule in ("majority", "ferplus")}
