"""The claims ledger's findings: one root cause each, with the checks that show it.

A check of the ledger (:class:`fernb.papers.claim.Check`) that finds something wrong — an
``inconsistent`` or ``implausible`` verdict — names the :class:`Finding` it belongs to. One
mistake of a paper often shows in many places (the same copied table, the same mislabelled
matrix, the same implied parameter count): the ledger still checks every place, but the
front page and notebook 06 count and list findings, so a reader sees how many problems there
are, not how many rows show them.

- :class:`Finding`: ``id`` (a slug, e.g. ``hafem-baselines-copied``), ``paper``, a short
  ``title``, its ``severity`` (:data:`SEVERITIES`) and a ``summary`` that says what the
  checks show and what it changes;
- :data:`FINDINGS`: every finding, by id; :func:`finding` looks one up and names the known
  ones when the id is unknown.

Pure data: nothing here imports the rest of :mod:`fernb`.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding", "FINDINGS", "SEVERITIES", "finding"]

# How much a finding matters, most first: it changes a number the abstract or the conclusion
# states; a number conflicts with the published record (others' results, the datasets); two parts
# of the paper contradict each other; a slip that changes no result.
SEVERITIES = ("changes a headline result", "beyond the published record", "internal inconsistency", "presentation")


@dataclass(frozen=True)
class Finding:
    """One root cause of flagged checks: ``id``, ``paper``, ``title``, ``severity``, ``summary``."""

    id: str
    paper: str
    title: str
    severity: str
    summary: str

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"finding {self.id}: severity must be one of {SEVERITIES}, got {self.severity!r}")


_ALL = (
    # ------------------------------------------------------------------------------------------ HAFEM
    Finding("hafem-accuracy-beyond-record", "HAFEM", "HAFEM's accuracies sit far above the published record",
            "changes a headline result",
            "The accuracies the abstract and Table 3 state (FER2013 94.7, RAF-DB 95.1, AffectNet 88.9) exceed the best "
            "published single-model result on each dataset (the checks give each gap), and FER2013's exceeds human "
            "agreement on it."),
    Finding("hafem-baselines-copied", "HAFEM", "Table 3's FER2013 baselines are Table 1's numbers for other datasets",
            "changes a headline result",
            "Six baselines carry the same accuracy in Table 1 (on RAF-DB, AffectNet or FERPlus) and in Table 3 (as "
            "FER2013); neither dataset's published record supports them. HAFEM's stated lead over the best competitor "
            "(§4) is measured against these rows."),
    Finding("hafem-baseline-beyond-record", "HAFEM", "a Table 3 baseline sits far above the published FER2013 record",
            "beyond the published record",
            "GAN-Aug's 88.3 % on FER2013 is 15 points above the best published FER2013 result; it is not one of the "
            "numbers Table 1 gives for another dataset."),
    Finding("hafem-ten-baselines", "HAFEM", "'all ten baselines' against nine in Table 3", "internal inconsistency",
            "The abstract and §4 test HAFEM against ten competing methods; Table 3, the only table of them, lists nine."),
    Finding("hafem-contempt-on-fer2013", "HAFEM", "per-class results for a contempt class FER2013 does not have",
            "internal inconsistency",
            "§4's discussion of Figure 2 (captioned FER2013) gives contempt's F1, AUC and support; FER2013 has seven "
            "classes and no contempt. The contempt F1 and AUC equal Table 3's Cross-Attn row."),
    Finding("hafem-rafdb-finetuning", "HAFEM", "RAF-DB's 95.1 % is 'after fine-tuning' in §4, 'without' in §5",
            "changes a headline result",
            "§4 reaches 95.1 % on RAF-DB after 20 epochs of fine-tuning (87.3 % zero-shot); the conclusion states 95.1 % "
            "without fine-tuning."),
    Finding("hafem-zero-shot-beyond-record", "HAFEM", "zero-shot transfer above published in-domain results",
            "beyond the published record",
            "Trained on FER2013 only, HAFEM is stated to reach 79.1 % on AffectNet zero-shot: above the best model trained "
            "on AffectNet itself, and far above published cross-dataset results. (Its RAF-DB zero-shot figure is below "
            "RAF-DB's in-domain record, which cannot decide it.)"),
    Finding("hafem-transformer-parameters", "HAFEM", "six Transformer layers of width 2048 cannot have 31.2M parameters",
            "internal inconsistency",
            "§3 gives six encoder layers with d 2048, 8 heads and d_ff 4096 a 31.2M-parameter overhead; one such layer "
            "has 33.6M, six 201.5M — more than six times EfficientNet-B5 itself."),
    Finding("hafem-landmarks-68-vs-5", "HAFEM",
            "68-point landmark alignment (abstract, §1) against RetinaFace's 5 (§3)", "internal inconsistency",
            "The abstract and contribution (iii) align faces with 68 facial landmarks; §3's pipeline aligns them "
            "with the 5 landmarks RetinaFace extracts and names no 68-point detector."),
    Finding("hafem-citations-vs-references", "HAFEM", "Table 1's years and methods contradict the reference list",
            "internal inconsistency",
            "Four of Table 1's eight cited rows give a year two or more years from their reference's (DualPath CNN "
            "[14], 2025: [14] is the AffectNet paper, 2019); ResNet-50+SVM cites a semantic-segmentation paper and Swin "
            "Transformer cites [21], a meta-learning paper, while Swin is [19], so rows Table 3 reuses as baselines "
            "have no traceable source; §2 dates Table 1's works 2021–2025, and the list dates four of them earlier."),
    Finding("hafem-duplicate-references", "HAFEM", "the reference list holds two papers twice", "presentation",
            "[9] = [22] and [18] = [24] by their DOIs."),
    Finding("hafem-cited-beyond-record", "HAFEM",
            "§2 and Table 1 credit cited works with accuracies far above the record", "beyond the published record",
            "§2 gives deep attentive center loss [17] 88.8 % on FER2013, far above the best published "
            "FER2013 result; Table 1 gives two cited works 83.1 and 88.7 % on AffectNet, far above "
            "AffectNet's."),
    Finding("hafem-vit-error-vs-accuracy", "HAFEM",
            "§2 calls ViT's 73.6 % a test error; Tables 1 and 3 an accuracy", "presentation",
            "§2 states ViT's 'test error on FER2013 of 73.6%'; Tables 1 and 3 print 73.6 as its FER2013 accuracy "
            "(an error of 73.6 % would be an accuracy of 26.4 %)."),
    # ---------------------------------------------------------------------------------------- LANMSFF
    Finding("lanmsff-ferplus-protocol", "LANMSFF",
            "FERPlus: the tables fit 3,137 test images, not the stated 25,371 / 3,225 / 3,160",
            "internal inconsistency",
            "§IV-A states the majority label and 25,371 / 3,225 / 3,160 images; no label rule gives those sizes on "
            "FERPlus' published files. Tables VII and VIII fit, cell by cell, the official FERPlus repository's "
            "'majority' mode (single votes dropped, a strict majority required; what FERPlus' authors call majority "
            "voting, so the label rule agrees with §IV-A) on the published label files: 3,137 test images, whose "
            "train and validation splits hold 25,045 and 3,191. Not the plurality rule: 0 of 8 rows fit it."),
    Finding("lanmsff-table5-labels", "LANMSFF", "Table V's row labels are misplaced, and §IV-C2 reads the wrong classes",
            "internal inconsistency",
            "Table V's diagonal is Table IV's per-class row in Table IV's column order, under other row labels; read "
            "with the classes the diagonal says, every row is whole counts of FER2013's PrivateTest. §IV-C2 names "
            "disgust and neutral as the lowest classes, which is what the misplaced labels show; Table IV's lowest are "
            "fear and sad."),
    Finding("lanmsff-ran-density", "LANMSFF", "RAN's information density misprinted", "presentation",
            "Table IX prints 7.94 for RAN; its own accuracy and parameters give 7.975."),
    Finding("lanmsff-parameter-ratios", "LANMSFF", "the text's parameter ratios imply a larger model than 358K",
            "presentation",
            "'276 times' (AMP_NET) and '74 times' (PACVT) divide the tables' parameter counts by 382.9K and 383.8K, "
            "not the 358K the tables give LANMSFF (FENN's round ratio fits either)."),
    Finding("lanmsff-kdep-typo", "LANMSFF", "§I names the first dataset 'KDEP'", "presentation",
            "§I's list of contributions cites 'KDEP [17]'; reference [17]'s title and every other section say KDEF."),
    Finding("lanmsff-dmlnet-poses", "LANMSFF", "§IV-C1 says [28] is least accurate at −90°; Table X says otherwise",
            "presentation",
            "§IV-C1 cites [28] and [36] for 0° being the most accurate pose and −90° the least. Table X's DML-NET [28] "
            "row is least accurate at +45° (85.60) and second best at −90° (89.20); OCA-MTL [36] and LANMSFF fit."),
    Finding("lanmsff-posefer-var-vtff", "LANMSFF", "a lower Pose-FERPlus Var than LANMSFF's is left out of §IV-C4",
            "internal inconsistency",
            "§IV-C4 quotes Table XI's Var for CERN, FG-AGR and RAN and concludes that LANMSFF's 1.13 shows greater "
            "robustness than prior studies; Table XI's VTFF [29] has 0.45 and is more accurate in all three columns."),
)

FINDINGS: dict[str, Finding] = {f.id: f for f in _ALL}


def finding(finding_id: str) -> Finding:
    """The finding ``finding_id``; an unknown id raises ``KeyError`` naming the known ones."""
    try:
        return FINDINGS[finding_id]
    except KeyError:
        raise KeyError(f"unknown finding {finding_id!r}; known: {sorted(FINDINGS)}") from None
