"""The claims ledger's claims on LANMSFF: every number the paper states, each with its checks.

What LANMSFF states is data in :mod:`fernb.papers.lanmsff` (Tables II–XII, ``CLAIMS``); this
file reads those numbers as claims (:class:`fernb.papers.claim.Claim`) and gives each the
checks it gets: recomputed from the paper's own numbers (means, variances, information
density, whole counts of the test sets' class sizes in :mod:`fernb.papers.datasets`), against
the published record (:mod:`fernb.papers.published`), and the measurement key that
notebook 06 fills. One function per part of the paper, in the paper's order:

- the abstract, and the model's size (358K parameters, §III-A's 156-wide feature);
- §IV-A, the datasets' sizes;
- Table II (KDEF per pose and class), Tables III, V, VIII (confusion matrices), Tables IV
  and VII (FER2013 and FERPlus per class and pose) with §IV-C2's lowest classes;
- Tables VI and IX (information density) with §IV-C2/C3's comparisons;
- Table X (KDEF per pose, Var) with §IV-C4; Table XI (Pose-FERPlus);
- Table XII, the ablation on KDEF, with §IV-E's text.

:func:`lanmsff_claims` returns them all, in that order. LANMSFF's conclusion states no
number. Pure data and pure functions: nothing here imports the rest of :mod:`fernb`.
"""
from __future__ import annotations

from . import checks as ck
from . import datasets as ds
from . import lanmsff, published
from .claim import (
    ABBREVIATIONS,
    Check,
    Claim,
    consistency,
    fer2013_supports,
    ferplus_supports,
    measurement,
    plausibility,
    printed_row,
)

__all__ = ["lanmsff_claims"]

_PAPER = "LANMSFF"
_ABBR = ABBREVIATIONS
_TABLES = lanmsff.TABLES

# The dataset of each confusion matrix, and the table whose overall row its diagonal repeats.
_CONFUSION_DATASET = {"III": "kdef", "V": "fer2013", "VIII": "ferplus"}
_CONFUSION_DIAGONAL = {"III": ("II", "KDEF"), "V": ("IV", "FER-2013"), "VIII": ("VII", "FERPlus")}


def _overall(table: str) -> list:
    """The ``overall`` row of a table with pose rows (Tables II, IV, VII)."""
    t = _TABLES[table]
    return t["values"][t["index"].index("overall")]


def _abstract() -> list[Claim]:
    """The abstract: accuracy on KDEF, FER-2013 and FERPlus, against Tables II, IV and VII."""
    c, out = lanmsff.CLAIMS, []
    for name, table, label in (("kdef", "II", "KDEF"), ("fer2013", "IV", "FER-2013"), ("ferplus", "VII", "FERPlus")):
        value = c[name]["accuracy"]
        cks = [consistency(ck.check_equal(value, _overall(table)[0], f"abstract vs Table {table}"))]
        if name != "kdef":
            cks.append(plausibility(value, name))
        cks.append(measurement("accuracy:lanmsff"))
        out.append(Claim(f"lanmsff-abstract-{name}", _PAPER, "abstract", "abstract", f"accuracy on {label}",
                         f"{value} %", name, tuple(cks), value))
    return out


def _model_size() -> list[Claim]:
    """The model's size: 358K parameters (Tables VI, IX) and §III-A's 156-node fused feature."""
    return [Claim("lanmsff-params", _PAPER, "Tables VI, IX", "results", "358K parameters", "358K", None,
                  (measurement("params:lanmsff"),)),
            Claim("lanmsff-s3-width", _PAPER, "§III-A", "methods", "the fused feature vector has 156 nodes", "156",
                  None, (measurement("params:lanmsff_width"),))]


def _section4a_datasets() -> list[Claim]:
    """§IV-A: KDEF's, FER-2013's and FERPlus' sizes against the publisher and the datasets' files."""
    kdef = published.DATASET_FACTS["kdef"]
    fer = ds.SPLIT_COUNTS["fer2013"]
    stated = {"anger": 4953, "disgust": 547, "fear": 5121, "happy": 8989, "surprise": 4002, "sad": 6077, "neutral": 6198}
    totals = {k: sum(fer[s][k] for s in fer) for k in stated}
    test = ds.split_total("fer2013", "PublicTest") + ds.split_total("fer2013", "PrivateTest")
    fp = ds.SPLIT_COUNTS["ferplus"]
    splits = ("train", "val", "test")
    sizes = {rule: tuple(sum(fp[rule][s].values()) for s in splits) for rule in ("majority", "ferplus")}
    sizes["images"] = tuple(fp["images"][s] if isinstance(fp["images"][s], int) else sum(fp["images"][s].values())
                            for s in splits)
    hit = [r for r, v in sizes.items() if v == (25371, 3225, 3160)]
    return [
        Claim("lanmsff-s4a-kdef", _PAPER, "§IV-A", "methods", "KDEF: 4900 images, 70 actors, 5 angles", "4900", "kdef",
              (consistency(ck.check_equal(4900, kdef["actors"] * kdef["classes"] * kdef["poses"] * kdef["sessions"],
                                          "70 actors × 7 expressions × 5 angles × 2 sessions")),)),
        Claim("lanmsff-s4a-fer2013", _PAPER, "§IV-A", "methods",
              "FER-2013: 35887 images (per-class counts), 28,709 train, 7,178 test (half validation)",
              "35887; " + ", ".join(f"{k} {v}" for k, v in stated.items()), "fer2013",
              (consistency(ck.check_equal(stated, totals, "class counts vs FER2013's files")),
               consistency(ck.check_equal((28709, 7178), (ds.split_total("fer2013", "Training"), test),
                                          "train / test sizes")))),
        Claim("lanmsff-s4a-ferplus", _PAPER, "§IV-A", "methods",
              "FERPlus (majority label): 25,371 train, 3,225 validation, 3,160 test", "25371 / 3225 / 3160", "ferplus",
              (Check("consistency", "consistent" if hit else "inconsistent",
                     "FERPlus' files give " + "; ".join(f"{r}: {v[0]} / {v[1]} / {v[2]}" for r, v in sizes.items())
                     + ("" if hit else "; no labelling rule gives the stated sizes")),)),
    ]


def _table2() -> list[Claim]:
    """Table II, KDEF per pose and class (140 images per pose and class, 700 per class): each
    row against its classes' mean and whole counts, the overall row against the poses' mean."""
    t = _TABLES["II"]
    classes = t["columns"][1:]
    out = []
    for label, values in zip(t["index"], t["values"]):
        whole, per = values[0], values[1:]
        n = 700 if label == "overall" else 140
        bad = [f"{_ABBR[k]} {v}" for k, v in zip(classes, per) if ck.support_fits(v, n, 2) is None]
        cks = [consistency(ck.check_mean(per, whole, "whole = mean of the 7 balanced classes", 2)),
               Check("consistency", "inconsistent" if bad else "consistent",
                     f"KDEF has {n} images per class {'over all poses' if n == 700 else 'at each pose'} (70 actors × 2 "
                     f"sessions{' × 5 angles' if n == 700 else ''}): " + (f"{len(bad)} of 7 cells are no whole count "
                                                                            f"of them ({', '.join(bad)})" if bad else
                                                                            "every cell is a whole count"))]
        if label == "overall":
            poses = [row[0] for lab, row in zip(t["index"], t["values"]) if lab != "overall"]
            cks.append(consistency(ck.check_mean(poses, whole, "overall = mean of the 5 balanced poses", 2)))
        out.append(Claim(f"lanmsff-table2-{label}", _PAPER, "Table II", "results", f"KDEF accuracy at pose {label}",
                         printed_row(t["columns"], values), "kdef", tuple(cks + [measurement(f"pose:kdef:{label}")]),
                         whole))
    return out


def _diagonal_check(table: str) -> tuple[Check, list]:
    """A confusion matrix's diagonal against the overall row of the table it repeats: equal
    class by class, equal only in that table's column order (misplaced labels), or neither."""
    t = _TABLES[table]
    ref_name, _ = _CONFUSION_DIAGONAL[table]
    ref = _TABLES[ref_name]
    overall = dict(zip(ref["columns"], _overall(ref_name)))
    diag = [row[i] for i, row in enumerate(t["values"])]
    ref_order = [overall[k] for k in t["index"]]
    by_position = [overall[k] for k in ref["columns"][1:]]
    if all(ck.matches(a, b, 2) for a, b in zip(diag, ref_order)):
        return consistency(("consistent", f"the diagonal equals Table {ref_name}'s overall row class by class")), diag
    if all(abs(a - b) < 1e-9 for a, b in zip(diag, by_position)):
        return Check("consistency", "inconsistent",
                     f"the diagonal ({', '.join(map(str, diag))}) is Table {ref_name}'s overall row in Table "
                     f"{ref_name}'s column order ({', '.join(_ABBR[k] for k in ref['columns'][1:])}), but the rows "
                     f"are labelled {', '.join(_ABBR[k] for k in t['index'])}: the labels are misplaced"), diag
    diffs = ", ".join(f"{_ABBR[k]} {a} vs {b}" for k, a, b in zip(t["index"], diag, ref_order) if a != b)
    return Check("consistency", "inconsistent",
                 f"the diagonal differs from Table {ref_name}'s overall row: {diffs}"), diag


def _confusion_row_checks(table: str, cls: str, row: list) -> list[Check]:
    """One confusion row: it adds up to 100, and its cells are whole counts of the class's test
    images (KDEF's 700; FER2013's splits, read both as labelled and as its diagonal says for
    Table V; FERPlus' test set under each label rule)."""
    t = _TABLES[table]
    cks = [consistency(ck.check_rows(dict(zip(t["columns"], row)), f"row {_ABBR[cls]}", 2))]
    if table == "III":
        cks.append(consistency(ck.check_confusion_row(row, f"row {_ABBR[cls]}", {"KDEF": 700}, 2)))
    elif table == "V":
        # the row's true class, read both ways: as printed, and as the diagonal says (Table IV's order)
        true_by_diag = _TABLES["IV"]["columns"][1:][t["index"].index(cls)]
        cks.append(consistency(ck.check_confusion_row(row, f"row labelled {_ABBR[cls]}", fer2013_supports(cls), 2)))
        if true_by_diag != cls:
            read_as = f"row read as {_ABBR[true_by_diag]} (its diagonal's class)"
            cks.append(consistency(ck.check_confusion_row(row, read_as, fer2013_supports(true_by_diag), 2)))
    else:
        cks.append(consistency(ck.check_confusion_row(row, f"row {_ABBR[cls]}", ferplus_supports(cls), 2)))
    return cks


def _confusion_matrices() -> list[Claim]:
    """Tables III, V and VIII, the confusion matrices of KDEF, FER-2013 and FERPlus: the
    diagonal, then each row."""
    out = []
    for table in ("III", "V", "VIII"):
        t = _TABLES[table]
        _, label = _CONFUSION_DIAGONAL[table]
        dataset = _CONFUSION_DATASET[table]
        diagonal, diag = _diagonal_check(table)
        out.append(Claim(f"lanmsff-table{table.lower()}-diagonal", _PAPER, f"Table {table}", "results",
                         f"{label} confusion matrix: per-class accuracy on the diagonal", ", ".join(map(str, diag)),
                         dataset, (diagonal,)))
        for cls, row in zip(t["index"], t["values"]):
            out.append(Claim(f"lanmsff-table{table.lower()}-{cls}", _PAPER, f"Table {table}", "results",
                             f"{label} confusion row {_ABBR[cls]} (normalised %)", printed_row(t["columns"], row),
                             dataset, tuple(_confusion_row_checks(table, cls, row))))
    return out


def _overall_checks(name: str, classes: list, per: list, whole: float) -> list[Check]:
    """Table IV's or VII's overall row read against each candidate test split (FER2013's
    PrivateTest and PublicTest; FERPlus' test set under each rule): the class accuracies
    weighted by its class sizes, and whole counts of them. The split that fits best is named."""
    counts_by = ds.SPLIT_COUNTS
    split_sizes = {"fer2013": {"FER2013 PrivateTest": counts_by["fer2013"]["PrivateTest"],
                               "FER2013 PublicTest": counts_by["fer2013"]["PublicTest"]},
                   "ferplus": {f"FERPlus test ({rule} rule)": counts_by["ferplus"][rule]["test"]
                               for rule in ("majority", "ferplus")}}
    found = None
    for split, counts in split_sizes[name].items():
        weights = [counts[k] for k in classes]
        mean = ck.check_weighted_mean(per, weights, whole, split, 2)
        bad = [f"{_ABBR[k]} {v}" for k, v in zip(classes, per) if ck.support_fits(v, counts[k], 2) is None]
        whole_counts = ("inconsistent" if bad else "consistent",
                        f"{split}: " + ("every class accuracy is a whole count of its test images" if not bad
                                        else f"not whole counts of the class's test images: {', '.join(bad)}"))
        score = (mean[0] == "consistent") + (whole_counts[0] == "consistent")
        if found is None or score > found[2]:
            found = (mean, whole_counts, score)
    return [consistency(found[0]), consistency(found[1])]


def _tables4_and_7() -> list[Claim]:
    """Tables IV and VII, FER2013's and FERPlus' accuracy per class, overall and on the pose
    subsets (>30°, >45°), then §IV-C2's text on FER-2013's lowest classes."""
    out = []
    for table, name in (("IV", "fer2013"), ("VII", "ferplus")):
        t = _TABLES[table]
        classes = t["columns"][1:]
        for label, values in zip(t["index"], t["values"]):
            whole, per = values[0], values[1:]
            if label == "overall":
                cks = _overall_checks(name, classes, per, whole) + [measurement("accuracy:lanmsff")]
            else:
                smallest = {k: ck.smallest_support([v], 2, max_n=2000) for k, v in zip(classes, per)}
                cks = [Check("consistency", "not testable here",
                             f"the pose subsets' class sizes are not published; the smallest class sizes these "
                             f"cells allow: {', '.join(f'{_ABBR[k]} {v}' for k, v in smallest.items())}"),
                       measurement(f"pose:lanmsff:{label}")]
            out.append(Claim(f"lanmsff-table{table.lower()}-{label}", _PAPER, f"Table {table}", "results",
                             f"{name} accuracy, pose {label}", printed_row(t["columns"], values), name, tuple(cks),
                             whole))
    text_low = {"disgust", "neutral"}
    t4 = dict(zip(_TABLES["IV"]["columns"][1:], _overall("IV")[1:]))
    lowest = sorted(t4, key=t4.get)[:2]
    out.append(Claim("lanmsff-s4c-fer-low", _PAPER, "§IV-C2 text", "results",
                     "FER-2013: low recognition rates for Disgust and Neutral", "Di, Ne", "fer2013",
                     (Check("consistency", "consistent" if set(lowest) == text_low else "inconsistent",
                            f"Table IV's two lowest are {', '.join(f'{_ABBR[k]} {t4[k]}' for k in lowest)}; Di is "
                            f"{t4['disgust']}, Ne {t4['neutral']} (Table V's misplaced labels put Di and Ne on these "
                            "diagonal cells)"),)))
    return out


def _density_tables() -> list[Claim]:
    """Tables VI and IX, accuracy, parameters and information density (§IV-B) on FER2013 and
    FERPlus, then §IV-C2/C3's text comparing LANMSFF with AMP_NET, FENN and PACVT."""
    out = []
    for table, name in (("VI", "fer2013"), ("IX", "ferplus")):
        t = _TABLES[table]
        for method, (acc, params_k, density) in zip(t["index"], t["values"]):
            cks = [consistency(ck.check_density(acc, params_k, density, method))]
            if method != "LANMSFF":
                cks.append(plausibility(acc, name))
            out.append(Claim(f"lanmsff-table{table.lower()}-{method}", _PAPER, f"Table {table}", "results",
                             f"{method} on {name}: accuracy, parameters, ID", f"{acc} %, {params_k}K, ID {density}",
                             name, tuple(cks), acc))
    t6 = dict(zip(_TABLES["VI"]["index"], _TABLES["VI"]["values"]))
    out.append(Claim("lanmsff-s4c-ampnet", _PAPER, "§IV-C2 text", "results",
                     "AMP_NET: 4 % more accurate with 276 times more parameters", "4 pt, 276×", "fer2013",
                     (consistency(ck.check_difference(t6["AMP_NET"][0], t6["LANMSFF"][0], 4, "Table VI accuracy",
                                                      slack=0.5)),
                      consistency(ck.check_ratio(t6["AMP_NET"][1], t6["LANMSFF"][1], 276, "Table VI parameters")))))
    t9 = dict(zip(_TABLES["IX"]["index"], _TABLES["IX"]["values"]))
    for method, times in (("FENN", 30), ("PACVT", 74)):
        out.append(Claim(f"lanmsff-s4c-{method}", _PAPER, "§IV-C3 text", "results",
                         f"{method}: about 3 % more accurate with {times} times more parameters", f"3 pt, {times}×",
                         "ferplus",
                         (consistency(ck.check_difference(t9[method][0], t9["LANMSFF"][0], 3, "Table IX accuracy",
                                                          slack=0.5)),
                          consistency(ck.check_ratio(t9[method][1], t9["LANMSFF"][1], times, "Table IX parameters")))))
    return out


def _table10() -> list[Claim]:
    """Table X, KDEF per pose and "Var" for each method, then §IV-C4's text on OCA-MTL."""
    t, out = _TABLES["X"], []
    for method, values in zip(t["index"], t["values"]):
        poses, var = values[:5], values[5]
        cks = [consistency(ck.check_variance(poses, var, f"{method} Var over the 5 poses"))]
        if method == "LANMSFF":
            t2 = [r[0] for lab, r in zip(_TABLES["II"]["index"], _TABLES["II"]["values"]) if lab != "overall"]
            cks.append(consistency(ck.check_equal(tuple(poses), tuple(t2), "Table X vs Table II")))
            cks.append(measurement("pose:kdef:variance"))
        out.append(Claim(f"lanmsff-tablex-{method}", _PAPER, "Table X", "results", f"{method} on KDEF per pose, Var",
                         printed_row(t["columns"], values), "kdef", tuple(cks)))
    oca = dict(zip(t["index"], t["values"]))["OCA-MTL"]
    out.append(Claim("lanmsff-s4c-ocamtl", _PAPER, "§IV-C4 text", "results",
                     "OCA-MTL 89.04 %, 1.73 % below LANMSFF", "89.04 %, 1.73 pt", "kdef",
                     (consistency(ck.check_mean(oca[:5], 89.04, "OCA-MTL's 5 poses", 2)),
                      consistency(ck.check_difference(lanmsff.CLAIMS["kdef"]["accuracy"], 89.04, 1.73,
                                                      "90.77 − 89.04")))))
    return out


def _table11() -> list[Claim]:
    """Table XI, Pose-FERPlus (≥30°, ≥45°, overall) and "Var" for each method."""
    t, out = _TABLES["XI"], []
    for method, values in zip(t["index"], t["values"]):
        numbers, var = [v for v in values[:3] if v is not None], values[3]
        cks = ([consistency(ck.check_variance(numbers, var, f"{method} Var over ≥30°, ≥45°, overall"))]
               if var is not None else [Check("consistency", "not testable here", "Var not printed")])
        if method != "LANMSFF" and values[2] is not None:
            cks.append(plausibility(values[2], "ferplus"))
        if method == "LANMSFF":
            t7 = [r[0] for r in _TABLES["VII"]["values"]]
            cks.append(consistency(ck.check_equal(tuple(values[:3]), tuple(t7), "Table XI vs Table VII")))
        out.append(Claim(f"lanmsff-tablexi-{method}", _PAPER, "Table XI", "results", f"{method} on Pose-FERPlus, Var",
                         printed_row(t["columns"], values), "ferplus", tuple(cks)))
    return out


def _table12() -> list[Claim]:
    """Table XII, the ablation on KDEF (whole, -PWFS, -MassAtt, -both), then §IV-E's text: the
    Var each removal adds, and whether both modules improve the model."""
    t = _TABLES["XII"]
    rows = dict(zip(t["index"], t["values"]))
    out = []
    for variant, values in rows.items():
        poses, overall, var = values[:5], values[5], values[6]
        cks = [consistency(ck.check_mean(poses, overall, "overall = mean of the 5 poses", 2)),
               consistency(ck.check_variance(poses, var, f"{variant} Var over the 5 poses")),
               measurement(f"ablation:lanmsff_modules:{variant}")]
        out.append(Claim(f"lanmsff-tablexii-{variant}", _PAPER, "Table XII", "results", f"ablation {variant} on KDEF",
                         printed_row(t["columns"], values), "kdef", tuple(cks), overall))
    w = rows["whole"]
    for variant, stated, text in (("-PWFS", 0.4, "removing PWFS raises Var by 0.4"),
                                  ("-MassAtt", 1.94, "removing MassAtt raises Var by 1.94"),
                                  ("-both", 1.0, "removing both raises Var by 1 point")):
        out.append(Claim(f"lanmsff-s4e-var{variant}", _PAPER, "§IV-E text", "results", text, f"+{stated}", "kdef",
                         (consistency(ck.check_difference(rows[variant][6], w[6], stated, "Table XII Var",
                                                          slack=0.05 if stated in (0.4, 1.0) else 0.0)),
                          measurement(f"ablation:lanmsff_modules:{variant}"))))
    better = [v for v in ("-PWFS", "-MassAtt") if rows[v][5] > w[5]]
    out.append(Claim("lanmsff-s4e-contribute", _PAPER, "§IV-E text", "results",
                     "both modules improve LANMSFF's performance on multi-view poses (removing both lowers accuracy)",
                     f"whole {w[5]} vs -both {rows['-both'][5]}", "kdef",
                     (Check("consistency", "inconsistent" if better else "consistent",
                            f"Table XII: removing both lowers the overall accuracy ({w[5]} → {rows['-both'][5]}), but "
                            + ", ".join(f"{v} is more accurate than the whole model ({rows[v][5]} > {w[5]})"
                                        for v in better)),
                      measurement("ablation:lanmsff_modules:-both"))))
    return out


def lanmsff_claims() -> list[Claim]:
    """Every claim of LANMSFF with its checks, in the paper's order (abstract, model size, §IV-A,
    Tables II–XII with the text that discusses each)."""
    parts = (_abstract, _model_size, _section4a_datasets, _table2, _confusion_matrices, _tables4_and_7,
             _density_tables, _table10, _table11, _table12)
    return [claim for part in parts for claim in part()]
