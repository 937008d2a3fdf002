"""One claim of a paper and its checks: the records the claims ledger is built from.

A :class:`Claim` is one statement of a paper — a table row, or a number in its abstract,
text or conclusion — with where it stands, what it states, and its :class:`Check`\\ s. Each
paper's claims are built in their own file (:mod:`fernb.papers.hafem_claims`,
:mod:`fernb.papers.lanmsff_claims`) from the small constructors here; the ledger
(:mod:`fernb.papers.ledger`) gathers them and fills the measurements.

- :class:`Check`, :class:`Claim`: the records. A claim's ``id`` and a check's ``name`` are
  slugs (:func:`slug`), so a check's id, ``<claim id>--<check name>``, is stable and safe in a
  file name or a URL; a check that flags something (``inconsistent``, ``implausible``) names
  the finding it belongs to (:mod:`fernb.papers.findings`);
- :func:`consistency`, :func:`plausibility`, :func:`measurement`: one check of each kind
  (:data:`fernb.papers.checks.KINDS`);
- :func:`slug`: a name as a slug (``DualPath CNN`` → ``dualpath-cnn``, ``-90`` → ``m90``);
- :data:`ABBREVIATIONS` and :func:`printed_row`: a table row the way the papers print it
  (``An 79.8, Di 51.06, …``);
- :func:`fer2013_supports`, :func:`ferplus_supports`: one class's size in each candidate test
  split (:data:`fernb.papers.datasets.SPLIT_COUNTS`), what a confusion cell is read against.

Pure data and pure functions: nothing here imports the rest of :mod:`fernb`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import checks as ck
from . import datasets as ds
from . import published
from .findings import FINDINGS

__all__ = ["Check", "Claim", "consistency", "plausibility", "measurement", "ABBREVIATIONS", "printed_row",
           "fer2013_supports", "ferplus_supports", "slug", "SLUG", "FLAG_VERDICTS"]

# A slug: lowercase letters and digits in words joined by single hyphens.
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# The verdicts that find something wrong: each such check names its finding.
FLAG_VERDICTS = ("inconsistent", "implausible")

# The papers' two-letter class names (LANMSFF's tables), as the ledger prints a row.
ABBREVIATIONS = {"anger": "An", "disgust": "Di", "fear": "Fe", "happy": "Ha", "sad": "Sa", "surprise": "Su",
                 "neutral": "Ne", "contempt": "Co"}


def slug(text: str) -> str:
    """``text`` as a slug: lowercase, a leading minus as ``m`` (a pose of −90° is ``m90``), ``>``
    as ``gt``, ``+`` as ``plus``, every other run of non-alphanumerics as one hyphen."""
    text = re.sub(r"(^|[\s(])-(?=\d)", r"\1m", str(text).strip())
    text = text.replace(">", " gt ").replace("+", " plus ").replace("≥", " ge ")
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not out:
        raise ValueError(f"{text!r} has no letter or digit to make a slug of")
    return out


@dataclass(frozen=True)
class Check:
    """One check of a claim: its ``kind`` (:data:`fernb.papers.checks.KINDS`), a ``name`` (a
    slug, unique within the claim), and either a ``verdict`` with its ``evidence`` (internal
    checks) or a measurement ``key`` (filled by :func:`fernb.papers.ledger.ledger` from what
    the pipeline measured). ``finding``: the :data:`fernb.papers.findings.FINDINGS` id of a
    check that flags something (:data:`FLAG_VERDICTS`), required there and refused elsewhere."""

    kind: str
    verdict: str | None = None
    evidence: str = ""
    key: str | None = None
    name: str = ""
    finding: str | None = None

    def __post_init__(self):
        if self.kind not in ck.KINDS:
            raise ValueError(f"check kind must be one of {ck.KINDS}, got {self.kind!r}")
        if (self.verdict is None) == (self.key is None):
            raise ValueError("a check has either a verdict (computed from the paper) or a measurement key, not both")
        if self.verdict is not None and self.verdict not in ck.VERDICTS_BY_KIND[self.kind]:
            raise ValueError(f"a {self.kind} verdict must be one of {ck.VERDICTS_BY_KIND[self.kind]}, "
                             f"got {self.verdict!r}")
        if not self.name:
            if self.key is None:
                raise ValueError(f"a {self.kind} check computed from the paper needs a name ({self.evidence[:60]!r})")
            object.__setattr__(self, "name", "measured-" + slug(self.key))
        if not SLUG.match(self.name):
            raise ValueError(f"check name {self.name!r} is not a slug (lowercase words joined by hyphens)")
        if self.verdict in FLAG_VERDICTS and self.finding is None:
            raise ValueError(f"check {self.name!r} is {self.verdict} but names no finding ({self.evidence[:80]!r})")
        if self.finding is not None:
            if self.verdict not in FLAG_VERDICTS:
                raise ValueError(f"check {self.name!r} names finding {self.finding!r} but its verdict is "
                                 f"{self.verdict!r}: only {FLAG_VERDICTS} checks belong to a finding")
            if self.finding not in FINDINGS:
                raise ValueError(f"check {self.name!r}: unknown finding {self.finding!r}; known: {sorted(FINDINGS)}")


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

    def __post_init__(self):
        if not SLUG.match(self.id):
            raise ValueError(f"claim id {self.id!r} is not a slug (lowercase words joined by hyphens; use claim.slug)")
        names = [c.name for c in self.checks]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"claim {self.id}: check names must be unique, repeated: {repeated}")


def consistency(name: str, verdict_evidence: tuple[str, str], finding: str | None = None) -> Check:
    """A consistency check ``name`` from a recomputation's ``(verdict, evidence)``
    (:mod:`fernb.papers.checks`); ``finding``: the finding it shows when it flags (ignored
    when the verdict does not flag, so a check states its finding once, whatever it finds)."""
    verdict, evidence = verdict_evidence
    return Check("consistency", verdict, evidence, name=name, finding=finding if verdict in FLAG_VERDICTS else None)


def plausibility(stated: float, dataset: str, finding: str | None = None, name: str = "plausible") -> Check:
    """A claimed accuracy (%) on ``dataset`` against the best published result
    (:func:`fernb.papers.checks.check_plausible`, :data:`fernb.papers.published.STATE_OF_THE_ART`);
    ``finding`` as for :func:`consistency`."""
    verdict, evidence = ck.check_plausible(stated, dataset, published.STATE_OF_THE_ART)
    return Check("plausibility", verdict, evidence, name=name, finding=finding if verdict in FLAG_VERDICTS else None)


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
    """FERPlus' test images of class ``cls`` under each label rule, with and without the
    published ``label.csv``'s mismatched image (:func:`fernb.papers.datasets.ferplus_test_sets`)."""
    return {f"FERPlus test, {name}": counts[cls] for name, counts in ds.ferplus_test_sets().items()}
