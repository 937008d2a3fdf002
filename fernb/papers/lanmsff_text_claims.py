"""The claims ledger's claims on LANMSFF's text: its sentences, Table I and the model's description.

:mod:`fernb.papers.lanmsff_claims` reads the paper's numeric tables (II–XII) as claims; this
module reads what the text states around them (:data:`fernb.papers.lanmsff.TEXT`, Table I's
:data:`~fernb.papers.lanmsff.RELATED_WORK` with the reference list's years, the official code's
parameter totals) and checks each statement against the tables of the same paper. Each
function is one part of the paper; :func:`fernb.papers.lanmsff_claims.lanmsff_claims` puts
them in the paper's order:

- :func:`abstract_text_claims`: the abstract's and §V's "comparable ... using fewer parameters";
- :func:`section1_claims`, :func:`table1_claims`: §I's dataset names, Table I's years and
  "Lightweight" marks;
- :func:`section3_claims`: §III's PWFS and MassAtt (parameters the widths and Eq. 3 imply);
- :func:`section4a_claims`, :func:`section4b_claims`: FERPlus' classes, the training recipe and
  KDEF's protocol;
- :func:`kdef_text_claims`: §IV-C1 on Tables II, III and X;
- :func:`class_text_claims`: §IV-C2/C3 on Tables IV, V, VII, VIII and XI;
- :func:`density_text_claims`: §IV-C2/C3 on Tables VI and IX;
- :func:`robustness_text_claims`: §IV-C4 on Tables X and XI, every method–reference pair of
  §IV-C, the methods two tables share;
- :func:`section4d_claims`: §IV-D's citation of Grad-CAM.

Pure data and pure functions: nothing here imports the rest of :mod:`fernb`.
"""
from __future__ import annotations

from . import checks as ck
from . import datasets as ds
from . import lanmsff
from .claim import ABBREVIATIONS, Claim, consistency, slug

__all__ = ["abstract_text_claims", "section1_claims", "table1_claims", "section3_claims", "section4a_claims",
           "section4b_claims", "kdef_text_claims", "class_text_claims", "density_text_claims",
           "robustness_text_claims", "section4d_claims"]

_PAPER = "LANMSFF"
_ABBR = ABBREVIATIONS
_TABLES = lanmsff.TABLES
_TEXT = lanmsff.TEXT


def _rows(table: str) -> dict:
    """A table's rows by their printed label."""
    return dict(zip(_TABLES[table]["index"], _TABLES[table]["values"]))


def _refs(table: str) -> dict[str, str]:
    """A comparison table's reference number by method (methods printed without one left out)."""
    return {m: r for m, r in zip(_TABLES[table]["index"], _TABLES[table]["refs"]) if r is not None}


def _overall(table: str) -> dict:
    """The ``overall`` row of Table II, IV or VII, by column."""
    t = _TABLES[table]
    return dict(zip(t["columns"], t["values"][t["index"].index("overall")]))


def _whole(table: str) -> dict:
    """The "whole" column of Table II, IV or VII, by pose row."""
    t = _TABLES[table]
    return {label: row[0] for label, row in zip(t["index"], t["values"])}


def _names(classes) -> str:
    return ", ".join(_ABBR.get(c, c) for c in classes)


def _verdict(ok: bool, evidence: str) -> tuple[str, str]:
    return ("consistent" if ok else "inconsistent"), evidence


def abstract_text_claims() -> list[Claim]:
    """The abstract's "comparable to state-of-the-art methods in terms of parameter count and
    robustness to pose variation" and §V's "comparable ... using fewer parameters", against the
    parameter counts of Tables VI and IX and the Var of Tables X and XI."""
    fewest = []
    for table in ("VI", "IX"):
        others = {m: v[1] for m, v in _rows(table).items() if m != "LANMSFF"}
        nearest = min(others, key=others.get)
        fewest.append((_rows(table)["LANMSFF"][1] < others[nearest],
                       f"Table {table}: {_rows(table)['LANMSFF'][1]}K against at least {others[nearest]}K ({nearest})"))
    x_var = {m: v[5] for m, v in _rows("X").items()}
    xi_var = {m: v[3] for m, v in _rows("XI").items() if v[3] is not None}
    lower = [f"{m} {v}" for m, v in xi_var.items() if v < xi_var["LANMSFF"]]
    return [Claim("lanmsff-abstract-comparable", _PAPER, "abstract, §V", "abstract",
                  "results comparable to the state of the art in parameter count and robustness to pose, with fewer "
                  "parameters", "358K", None,
                  (consistency("fewest-parameters", _verdict(all(ok for ok, _ in fewest),
                                                             "; ".join(text for _, text in fewest))),
                   consistency("robustness", _verdict(
                       x_var["LANMSFF"] == min(x_var.values()),
                       f"Table X (KDEF): LANMSFF's Var {x_var['LANMSFF']} is the lowest of "
                       f"{', '.join(str(v) for v in sorted(x_var.values()))}; Table XI (Pose-FERPlus): "
                       f"{xi_var['LANMSFF']} among {min(xi_var.values())}–{max(xi_var.values())}"
                       + (f", with {', '.join(lower)} lower" if lower else "")
                       + "; 'comparable' does not claim the lowest"))))]


def section1_claims() -> list[Claim]:
    """§I, contribution 4: the datasets it names, against reference [17]'s title and §IV."""
    name = next(n for n, ref in _TEXT["s1_datasets"].items() if ref == "17")
    return [Claim("lanmsff-s1-kdep", _PAPER, "§I", "introduction", "experiments on KDEP [17], FER-2013 and FERPlus",
                  "KDEP [17]", "kdef",
                  (consistency("dataset-name", ck.check_equal(
                      name, _TEXT["reference_17_dataset"],
                      "§I's name for reference [17] vs the title of [17] and every other section"),
                      finding="lanmsff-kdep-typo"),))]


def table1_claims() -> list[Claim]:
    """Table I: each work's year against the reference list, and its "Lightweight" mark against
    the parameter counts Tables VI and IX print for the same reference."""
    years = lanmsff.REFERENCE_YEARS
    rows = lanmsff.RELATED_WORK
    differ = [f"{r['author']} [{r['ref']}] {r['method']}: {r['year']} in Table I, {years[r['ref']]} in the reference "
              "list" for r in rows if r["year"] != years[r["ref"]]]
    params = {}
    for table in ("VI", "IX"):
        for method, ref in _refs(table).items():
            params.setdefault(ref, (method, _rows(table)[method][1]))
    marked = {r["ref"]: params[r["ref"]] for r in rows if r["lightweight"] and r["ref"] in params}
    unmarked = {r["ref"]: params[r["ref"]] for r in rows if not r["lightweight"] and r["ref"] in params}
    largest = max(v[1] for v in marked.values())
    smallest = min(v[1] for v in unmarked.values())

    def listed(group):
        return ", ".join(f"{m} [{ref}] {k}K" for ref, (m, k) in group.items())

    return [
        Claim("lanmsff-table1-years", _PAPER, "Table I", "related work", "each compared work's publication year",
              ", ".join(f"[{r['ref']}] {r['year']}" for r in rows), None,
              (consistency("years-vs-references", (
                  "cannot check" if differ else "consistent",
                  f"{len(rows) - len(differ)} of {len(rows)} years agree with the reference list"
                  + (f"; {'; '.join(differ)}: a work may be dated by its early-access year in one place and its "
                     "volume's in the other, which the reference list does not give (Table I applies it unevenly: "
                     "[29], from the same journal volume, is dated 2023)" if differ else ""))),)),
        Claim("lanmsff-table1-lightweight", _PAPER, "Table I", "related work",
              "which compared works are lightweight", ", ".join(f"[{r['ref']}] {'✓' if r['lightweight'] else '✗'}"
                                                                 for r in rows), None,
              (consistency("marks-vs-parameters", _verdict(
                  largest < smallest, f"marked lightweight: {listed(marked)}; not marked: {listed(unmarked)} (Tables "
                                      f"VI, IX): the largest marked ({largest}K) is below the smallest unmarked "
                                      f"({smallest}K)")),)),
    ]


def section3_claims() -> list[Claim]:
    """§III: PWFS "reduced the number of parameters" (§I contribution 3, §III-B), and MassAtt's
    shapes (§III-C, Eq. 3) with the parameters they imply."""
    widths, fused = _TEXT["s3_widths"], _TEXT["s3_fused"]
    full = sum(widths)
    heads = {k: ((full + 1) * k, (fused + 1) * k) for k in (7, 8)}
    total = lanmsff.CODE_KERAS_TOTALS[(1, 7)]
    saved = heads[7][0] - heads[7][1]
    r = _TEXT["s3_massatt_ratio"]
    spatial = _TEXT["s3_massatt_spatial"]
    spatial_w = sum(a * b * c * d for a, b, c, d in spatial)
    spatial_b = sum(s[0] for s in spatial)
    massatt = {c: (2 * c * c // r + spatial_w, 2 * c * c // r + spatial_w + c // r + c + spatial_b)
               for c in (widths[1], widths[3])}
    return [
        Claim("lanmsff-s3-pwfs-params", _PAPER, "§I, §III-B", "methods", "the PWFS block reduces the parameters",
              "fewer parameters", None,
              (consistency("head-parameters", _verdict(
                  fused < full, f"without PWFS the head reads {' + '.join(map(str, widths))} = {full} features, with "
                                f"it {fused}; a dense head of 7 classes has ({full} + 1) × 7 = {heads[7][0]:,} against "
                                f"({fused} + 1) × 7 = {heads[7][1]:,} parameters ({saved:,} fewer, "
                                f"{100 * saved / total:.2f} % of {total:,}); of 8, {heads[8][0]:,} against "
                                f"{heads[8][1]:,}; PWFS itself has none (Eq. 2)")),)),
        Claim("lanmsff-s3-massatt-shapes", _PAPER, "§III-C, Eq. 3", "methods",
              f"MassAtt: bottleneck reduced by a factor of {r}; spatial path 2×1×3×3, 4×2×3×3, 4×4×3×3, 1×4×3×3",
              f"r = {r}", None,
              (consistency("whole-bottleneck", _verdict(
                  all(c % r == 0 for c in massatt),
                  f"C/{r} is a whole width for both MassAtt blocks "
                  f"({', '.join(f'{c}/{r} = {c // r}' for c in massatt)}); "
                  "Eq. 3's weights: " + ", ".join(f"C = {c}: 2·{c}²/{r} + {spatial_w} = {w:,} ({b:,} with the biases "
                                                  "the official code adds)" for c, (w, b) in massatt.items()))),)),
    ]


def section4a_claims() -> list[Claim]:
    """§IV-A: FERPlus' eight classes, against the columns of Tables VII and VIII."""
    stated = tuple(_TEXT["s4a_ferplus_classes"])
    seven, eight = tuple(_TABLES["VII"]["columns"][1:]), tuple(_TABLES["VIII"]["index"])
    return [Claim("lanmsff-s4a-ferplus-classes", _PAPER, "§IV-A", "methods", "FERPlus is labelled in eight classes",
                  f"{len(stated)}: {_names(stated)}", "ferplus",
                  (consistency("same-in-tables7-8", _verdict(
                      stated == seven == eight,
                      f"§IV-A lists {len(stated)} classes ({_names(stated)}); Table VII's columns: {_names(seven)}; "
                      f"Table VIII's rows and columns: {_names(eight)}")),))]


def section4b_claims() -> list[Claim]:
    """§IV-B: the ×4 offline augmentation and the decay rule against the official code
    (:data:`fernb.papers.lanmsff.RECIPE`), and KDEF's protocol (5 folds, no test split)."""
    recipe = lanmsff.RECIPE
    return [
        Claim("lanmsff-s4b-recipe", _PAPER, "§IV-B", "methods",
              "three augmentations add three images per image; the learning rate decays after eight epochs without "
              "improvement", "×4; 8 epochs", None,
              (consistency("augmented-copies", _verdict(
                  recipe["offline_x4"], "1 original + 3 augmented = 4 images per training image; the official code "
                                        "writes the same four (original, flip, rotation, crop)")),
               consistency("decay-epochs", (
                   "cannot check", f"the official code decays on the 9th epoch without improvement (Keras patience 9, "
                                   f"PyTorch's patience {recipe['plateau_patience']}); 'after every eight epochs' "
                                   "reads "
                                   "either as eight epochs waited or as the eighth epoch")))),
        Claim("lanmsff-s4b-kdef-protocol", _PAPER, "§IV-B, Table XII", "methods",
              "KDEF: 5-fold cross-validation, the publishers giving no test set", "5 folds", "kdef",
              (consistency("test-split", (
                  "cannot check", "the paper names no validation split for KDEF besides the held-out fold, whose "
                                  "validation loss decays the learning rate, and Table XII calls it a 'test set'; "
                                  "whether the reported accuracies are that fold's the paper does not say (the "
                                  "official code scores the same fold it decays and stops on: "
                                  "fernb.papers.lanmsff.CODE_VS_PAPER)")),)),
    ]


def kdef_text_claims() -> list[Claim]:
    """§IV-C1: the best and worst pose (LANMSFF, Table II; [28] and [36], Table X), the change
    from frontal to profile views, and Table III's best and worst classes."""
    pattern = _TEXT["s4c1_pose_pattern"]
    high, low = pattern["highest"], pattern["lowest"]
    series = {"LANMSFF (Table II)": {p: v for p, v in _whole("II").items() if p != "overall"}}
    x_poses = _TABLES["X"]["columns"][:5]
    for ref, method in pattern["refs"].items():
        series[f"{method} [{ref}] (Table X)"] = dict(zip(x_poses, _rows("X")[method][:5]))
    cks = []
    for name, acc in series.items():
        best, worst = max(acc, key=acc.get), min(acc, key=acc.get)
        ranked = sorted(acc, key=acc.get, reverse=True)
        cks.append(consistency(slug(name.split(" (")[0].replace("[", "ref ")), _verdict(
            (best, worst) == (high, low),
            f"{name}: highest {best}° ({acc[best]}), lowest {worst}° ({acc[worst]})"
            + ("" if worst == low else f"; {low}° ({acc[low]}) ranks {ranked.index(low) + 1} of {len(acc)}")),
            finding="lanmsff-dmlnet-poses"))
    t2 = _TABLES["II"]
    by_class = {c: dict(zip(t2["index"], [row[j + 1] for row in t2["values"]]))
                for j, c in enumerate(t2["columns"][1:])}
    side = [-90, -45, 45, 90]
    change = []
    for cls, way in _TEXT["s4c1_frontal_change"].items():
        cells = [by_class[cls][p] for p in side]
        ok = all(v > by_class[cls][0] for v in cells) if way == "up" else all(v < by_class[cls][0] for v in cells)
        change.append((ok, f"{_ABBR[cls]} 0° {by_class[cls][0]}, non-frontal {', '.join(map(str, cells))}"))
    whole = _whole("II")
    order = whole[0] > max(whole[-45], whole[45]) and min(whole[-45], whole[45]) > max(whole[-90], whole[90])
    t3 = _TABLES["III"]
    diag = {c: t3["values"][i][i] for i, c in enumerate(t3["index"])}
    ranked = sorted(diag, key=diag.get, reverse=True)
    return [
        Claim("lanmsff-s4c-kdef-poses", _PAPER, "§IV-C1 text", "results",
              "0° is the most accurate pose and −90° the least, for LANMSFF as for [28] and [36]", f"{high}°, {low}°",
              "kdef", tuple(cks)),
        Claim("lanmsff-s4c-kdef-views", _PAPER, "§IV-C1 text", "results",
              "from frontal to non-frontal views neutral gains and disgust loses accuracy; accuracy falls as the angle "
              "grows", "Ne up, Di down", "kdef",
              (consistency("frontal-change", _verdict(all(ok for ok, _ in change),
                                                      "Table II: " + "; ".join(text for _, text in change))),
               consistency("angle-order", _verdict(
                   order, f"Table II whole: 0° {whole[0]} > ±45° ({whole[-45]}, {whole[45]}) > ±90° ({whole[-90]}, "
                          f"{whole[90]})")))),
        Claim("lanmsff-s4c-kdef-classes", _PAPER, "§IV-C1 text", "results",
              "Table III: happy and neutral are recognised best, fear worst",
              f"{_names(_TEXT['s4c1_kdef_best'])}; {_ABBR[_TEXT['s4c1_kdef_worst']]}", "kdef",
              (consistency("table3-extremes", _verdict(
                  set(ranked[:2]) == set(_TEXT["s4c1_kdef_best"]) and ranked[-1] == _TEXT["s4c1_kdef_worst"],
                  "Table III's diagonal, highest first: " + ", ".join(f"{_ABBR[c]} {diag[c]}" for c in ranked))),)),
    ]


def _pose_drop(name: str, values: dict) -> tuple[bool, str]:
    """Accuracy falls from the whole set to the >30° and >45° subsets (a missing cell skipped)."""
    seq = [(k, v) for k, v in values.items() if v is not None]
    ok = all(a[1] > b[1] for a, b in zip(seq, seq[1:]))
    return ok, f"{name} " + " > ".join(f"{k} {v}" for k, v in seq)


def _top_pairs(values: list, labels: list, k: int = 2) -> list[tuple[frozenset, float]]:
    """The ``k`` class pairs of a confusion matrix most confused, both directions added."""
    pairs = {frozenset((labels[i], labels[j])): round(values[i][j] + values[j][i], 2)
             for i in range(len(labels)) for j in range(i + 1, len(labels))}
    return sorted(pairs.items(), key=lambda kv: -kv[1])[:k]


def _pairs_text(pairs) -> str:
    return ", ".join(f"{'↔'.join(_ABBR[c] for c in sorted(p))} {v}" for p, v in pairs)


def _spearman(a: dict, b: dict) -> tuple[float, int]:
    """Spearman's rank correlation of two class → value maps (no ties), with Σd²."""
    ra = {c: i for i, c in enumerate(sorted(a, key=a.get, reverse=True))}
    rb = {c: i for i, c in enumerate(sorted(b, key=b.get, reverse=True))}
    d2 = sum((ra[c] - rb[c]) ** 2 for c in a)
    n = len(a)
    return 1 - 6 * d2 / (n * (n * n - 1)), d2


def class_text_claims() -> list[Claim]:
    """§IV-C2 and §IV-C3 on the per-class tables: accuracy falls on the pose subsets (Tables IV,
    VII, XI), FER-2013's most confused pairs (Table V), FERPlus' best and worst classes and what
    the worst are mistaken for (Tables VII, VIII) and their training sizes (FERPlus' files)."""
    t5, t4 = _TABLES["V"], _TABLES["IV"]
    stated = {frozenset(p) for p in _TEXT["s4c2_confused_pairs"]}
    printed = _top_pairs(t5["values"], t5["index"])
    relabelled = _top_pairs(t5["values"], t4["columns"][1:])
    xi = {m: dict(zip(("whole", "≥30°", "≥45°"), (v[2], v[0], v[1]))) for m, v in _rows("XI").items()}
    xi_refs = _refs("XI")
    cited = set(_TEXT["s4c3_pose_refs"])
    drops = [_pose_drop(f"{m} [{ref}]", xi[m]) for m, ref in xi_refs.items()]
    acc = {c: v for c, v in _overall("VII").items() if c != "whole"}
    ranked = sorted(acc, key=acc.get, reverse=True)
    worst = _TEXT["s4c3_confused_as"]
    t8 = _TABLES["VIII"]
    mistaken = {}
    for i, cls in enumerate(t8["index"]):
        j = max((k for k in range(len(t8["columns"])) if k != i), key=lambda k: t8["values"][i][k])
        mistaken[cls] = (t8["columns"][j], t8["values"][i][j])
    train = {rule: ds.SPLIT_COUNTS["ferplus"][rule]["train"] for rule in ("majority", "ferplus")}
    smallest = {rule: sorted(c, key=c.get)[:3] for rule, c in train.items()}
    rho = {rule: _spearman(c, acc) for rule, c in train.items()}
    return [
        Claim("lanmsff-s4c-fer-pose-drop", _PAPER, "§IV-C2 text", "results",
              "FER-2013: accuracy falls on non-frontal views", "accuracy falls", "fer2013",
              (consistency("pose-subsets", _verdict(*_pose_drop("Table IV whole:", {"overall": _whole("IV")["overall"],
                                                                          ">30°": _whole("IV")[">30"],
                                                                          ">45°": _whole("IV")[">45"]}))),)),
        Claim("lanmsff-s4c-fer-confusions", _PAPER, "§IV-C2 text", "results",
              "FER-2013: the most frequent confusions are disgust–neutral and neutral–surprise", "Di↔Ne, Ne↔Su",
              "fer2013",
              (consistency("pairs-as-printed", _verdict(
                  {p for p, _ in printed} == stated,
                  f"Table V as labelled, both directions added: the two largest pairs are {_pairs_text(printed)}")),
               consistency("pairs-in-table4-order", _verdict(
                   {p for p, _ in relabelled} == stated,
                   f"Table V read in Table IV's class order (the order of its diagonal, which whole counts of the "
                   f"PrivateTest classes support): the same cells are {_pairs_text(relabelled)}"),
                   finding="lanmsff-table5-labels"))),
        Claim("lanmsff-s4c-ferplus-pose-drop", _PAPER, "§IV-C3 text", "results",
              "FERPlus: accuracy falls on the >30° and >45° subsets, as for [9], [20], [29], [43], [46]",
              ", ".join(f"[{r}]" for r in _TEXT["s4c3_pose_refs"]), "ferplus",
              (consistency("lanmsff", _verdict(*_pose_drop("Table VII whole:", {"overall": _whole("VII")["overall"],
                                                                      ">30°": _whole("VII")[">30"],
                                                                      ">45°": _whole("VII")[">45"]}))),
               consistency("cited-methods", _verdict(
                   cited == set(xi_refs.values()) and all(ok for ok, _ in drops),
                   "the cited references are Table XI's baselines ("
                   + ", ".join(f"{m} [{r}]" for m, r in xi_refs.items()) + "); each falls: "
                   + "; ".join(text for _, text in drops))))),
        Claim("lanmsff-s4c-ferplus-classes", _PAPER, "§IV-C3 text", "results",
              "FERPlus: neutral and happy best; contempt, disgust and fear worst, for want of samples, mistaken for "
              "neutral, anger and surprise", "Ne, Ha; Co→Ne, Di→An, Fe→Su", "ferplus",
              (consistency("best-and-worst", _verdict(
                  set(ranked[:2]) == set(_TEXT["s4c3_best"]) and set(ranked[-3:]) == set(worst),
                  "Table VII overall, highest first: " + ", ".join(f"{_ABBR[c]} {acc[c]}" for c in ranked))),
               consistency("mistaken-for", _verdict(
                   all(mistaken[c][0] == w for c, w in worst.items()),
                   "Table VIII, each row's largest other cell: " + ", ".join(
                       f"{_ABBR[c]} → {_ABBR[mistaken[c][0]]} {mistaken[c][1]}" for c in worst))),
               consistency("training-sizes", _verdict(
                   all(set(s) == set(worst) for s in smallest.values()) and all(r > 0 for r, _ in rho.values()),
                   "FERPlus' training split (fernb.papers.datasets): the three smallest classes are "
                   + "; ".join(f"{rule} rule {', '.join(f'{_ABBR[c]} {train[rule][c]}' for c in s)}"
                               for rule, s in smallest.items())
                   + "; Spearman's ρ of training size and Table VII accuracy over the 8 classes: "
                   + ", ".join(f"{rule} rule 1 − 6·{d2}/(8·63) = {r:.3f}" for rule, (r, d2) in rho.items()))))),
    ]


def density_text_claims() -> list[Claim]:
    """§IV-C2 and §IV-C3 on Tables VI and IX: the references compared with, and LANMSFF's
    information density, parameters and accuracy against theirs."""
    out = []
    for table, name, short, refs, where in (("VI", "fer2013", "fer", _TEXT["s4c2_refs"], "§IV-C2"),
                                            ("IX", "ferplus", "ferplus", _TEXT["s4c3_sota_refs"], "§IV-C3")):
        rows = _rows(table)
        own = rows["LANMSFF"]
        others = {m: v for m, v in rows.items() if m != "LANMSFF"}
        top_id = max(others, key=lambda m: others[m][2])
        top_params = min(others, key=lambda m: others[m][1])
        better = [f"{m} {v[0]}" for m, v in others.items() if v[0] > own[0]]
        table_refs = set(_refs(table).values())
        same = set(refs) == table_refs if table == "VI" else set(refs) <= table_refs
        out.append(Claim(f"lanmsff-s4c-{short}-id", _PAPER, f"{where} text", "results",
                         f"Table {table}: the highest ID with the fewest parameters, at a slight cost in accuracy",
                         f"ID {own[2]}; " + ", ".join(f"[{r}]" for r in refs), name,
                         (consistency("cited-refs", _verdict(
                             same, f"cited {', '.join(f'[{r}]' for r in refs)}; Table {table} cites "
                                   f"{', '.join(f'[{r}]' for r in sorted(table_refs, key=int))}")),
                          consistency("density", _verdict(
                              own[2] > others[top_id][2] and own[1] < others[top_params][1],
                              f"Table {table}: ID {own[2]} against at most {others[top_id][2]} ({top_id}), {own[1]}K "
                              f"against at least {others[top_params][1]}K ({top_params}); {len(better)} of "
                              f"{len(others)} others more accurate ({', '.join(better)}, at most "
                              f"{max(v[0] for v in others.values()) - own[0]:.2f} pt), as the text concedes")))))
    return out


def _lowest_var_text(xi: dict, lower: dict) -> str:
    """Table XI's Var for LANMSFF against the compared methods with a lower one (and whether
    such a method is also more accurate in every column)."""
    own = xi["LANMSFF"]
    if not lower:
        return f"Table XI: LANMSFF's Var {own[3]} is the lowest"
    refs = _refs("XI")
    parts = []
    for m, v in lower.items():
        text = f"{m} [{refs[m]}] {v}"
        if all(a > b for a, b in zip(xi[m][:3], own[:3])):
            text += " (also more accurate in every column: " + ", ".join(
                f"{a} > {b}" for a, b in zip(xi[m][:3], own[:3])) + ")"
        parts.append(text)
    return (f"Table XI: LANMSFF's Var {own[3]}; {'; '.join(parts)} is lower, and the sentence leaves it out: the "
            "three comparisons it states hold, the general 'more robust than prior studies' does not")


def robustness_text_claims() -> list[Claim]:
    """§IV-C4 on Tables X and XI (accuracy and Var against the compared methods), every method
    and reference §IV-C names against the tables and Table I, and the methods two tables share."""
    x, xi = _rows("X"), _rows("XI")
    own = lanmsff.CLAIMS["kdef"]["accuracy"]
    means = {m: sum(v[:5]) / 5 for m, v in x.items() if m != "LANMSFF"}
    poses = _TABLES["X"]["columns"][:5]
    beaten = [f"{m} at {p}° ({v[j]} > {x['LANMSFF'][j]})" for m, v in x.items() if m != "LANMSFF"
              for j, p in enumerate(poses) if v[j] > x["LANMSFF"][j]]
    kdef_var, pose_var = _TEXT["s4c4_kdef_var"], _TEXT["s4c4_posefer_var"]
    printed_pose = {m: xi[m][3] for m in pose_var}
    lower = {m: v[3] for m, v in xi.items() if v[3] is not None and v[3] < xi["LANMSFF"][3]}
    named = _TEXT["s4c_named_refs"]
    in_tables = {}
    for table in ("VI", "IX", "X", "XI"):
        for m, r in _refs(table).items():
            in_tables.setdefault(slug(m), set()).add(r)
    for row in lanmsff.RELATED_WORK:
        if slug(row["method"]) in in_tables:
            in_tables[slug(row["method"])].add(row["ref"])
    clash = [f"{m} [{r}] vs {sorted(in_tables[slug(m)])}" for m, r in named.items() if in_tables[slug(m)] != {r}]
    six, nine = _rows("VI"), _rows("IX")
    pairs = [(f"{m} accuracy, Tables IX and XI", nine[m][0], xi[m][2]) for m in nine if m in xi and m != "LANMSFF"]
    pairs += [(f"{m} parameters, Tables VI and IX", six[m][1], nine[m][1]) for m in six if m in nine]
    pairs += [("LANMSFF accuracy, Tables VI and IV", six["LANMSFF"][0], _whole("IV")["overall"]),
              ("LANMSFF accuracy, Tables IX and VII", nine["LANMSFF"][0], _whole("VII")["overall"])]
    return [
        Claim("lanmsff-s4c-kdef-sota", _PAPER, "§IV-C4 text", "results",
              "Table X: LANMSFF is more accurate than DML-NET, SSA-Net and OCA-MTL", f"{own} %", "kdef",
              (consistency("mean-of-poses", _verdict(
                  all(own > v for v in means.values()),
                  "Table X prints no overall; the mean of each row's 5 poses: "
                  + ", ".join(f"{m} {v:.2f}" for m, v in means.items()) + f", LANMSFF {own} (Table II)"
                  + (f"; per pose LANMSFF is beaten by {', '.join(beaten)}, which the sentence (overall accuracy) does "
                     "not deny" if beaten else ""))),)),
        Claim("lanmsff-s4c-kdef-var", _PAPER, "§IV-C4 text", "results",
              "KDEF: Var 0.66 against 3.69 (DML-NET), 5.42 (SSA-Net), 2.74 (OCA-MTL), the lowest",
              ", ".join(f"{m} {v}" for m, v in kdef_var.items()), "kdef",
              (consistency("same-in-table10", ck.check_equal(kdef_var, {m: x[m][5] for m in kdef_var},
                                                             "§IV-C4 vs Table X")),
               consistency("lowest", _verdict(kdef_var["LANMSFF"] == min(v[5] for v in x.values()),
                                              f"Table X's Var: {', '.join(f'{m} {v[5]}' for m, v in x.items())}")))),
        Claim("lanmsff-s4c-posefer-var", _PAPER, "§IV-C4 text", "results",
              "Pose-FERPlus: Var 1.13 against 1.88 (CERN), 2.31 (FG-AGR), 14.2 (RAN): more robust than prior studies",
              ", ".join(f"{m} {v}" for m, v in pose_var.items()), "ferplus",
              (consistency("same-in-table11", _verdict(
                  all(ck.matches(printed_pose[m], v) for m, v in pose_var.items()),
                  "§IV-C4 vs Table XI: " + ", ".join(f"{m} {v} vs {printed_pose[m]}" for m, v in pose_var.items()))),
               consistency("lowest", _verdict(not lower, _lowest_var_text(xi, lower)),
                   finding="lanmsff-posefer-var-vtff"))),
        Claim("lanmsff-s4c-citations", _PAPER, "§IV-C text", "results",
              "each compared method named with its reference", ", ".join(f"{m} [{r}]" for m, r in named.items()), None,
              (consistency("names-vs-tables", _verdict(
                  not clash, f"{len(named) - len(clash)} of {len(named)} name–reference pairs of §IV-C's text are the "
                             "ones Tables VI, IX, X, XI and I print" + (f"; differ: {'; '.join(clash)}" if clash else
                                                                        ""))),)),
        Claim("lanmsff-tables-shared-rows", _PAPER, "Tables IV, VI, VII, IX, XI", "results",
              "numbers printed in two tables", f"{len(pairs)} pairs", None,
              (consistency("same-in-both", _verdict(
                  all(a == b for _, a, b in pairs),
                  "; ".join(f"{what}: {a}" + ("" if a == b else f" vs {b}") for what, a, b in pairs))),)),
    ]


def section4d_claims() -> list[Claim]:
    """§IV-D cites Grad-CAM as [47]; the reference list as extracted ends before it."""
    ref, last = _TEXT["s4d_gradcam_ref"], _TEXT["last_reference"]
    return [Claim("lanmsff-s4d-gradcam-ref", _PAPER, "§IV-D", "results", "Grad-CAM is reference [47]", f"[{ref}]", None,
                  (consistency("in-reference-list", (
                      "consistent" if ref <= last else "cannot check",
                      f"the reference list of the text we hold ends at [{last}]" + (
                          "" if ref <= last else f"; [{ref}] may have been lost with the PDF's last lines, so "
                                                 "nothing follows")),),))]
