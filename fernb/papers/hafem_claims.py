"""The claims ledger's claims on HAFEM: every number the paper states, each with its checks.

What HAFEM states is data in :mod:`fernb.papers.hafem` (Tables 1–3, ``CLAIMS``); this file
reads those numbers as claims (:class:`fernb.papers.claim.Claim`) and gives each the checks
it gets: recomputed from the paper's own numbers, against the datasets' real class counts
(:mod:`fernb.papers.datasets`) and the published record (:mod:`fernb.papers.published`), and
the measurement key that notebook 06 fills. One function per part of the paper, in the
paper's order:

- the abstract (accuracies, FPS, the t-test, AUC, the landmarks); §1 (headline, augmentations);
- §2's cited results, class imbalance and years; Table 1 (literature, with its citations
  against the reference list), Table 2 (datasets), Table 3 (FER2013 benchmark);
- §4's text: the lead over the best competitor and the per-class numbers (Figure 2), the
  ablation ladder (Figure 3), the cross-dataset transfer, the statistics (t-tests, Cohen's
  d), the confusions and Grad-CAM;
- §5, the conclusion; §3 and §1, the methods' inputs, tokens, parameter counts and device
  claim; the reference list (entries given twice).

:func:`hafem_claims` returns them all, in that order. Pure data and pure functions: nothing
here imports the rest of :mod:`fernb`.
"""
from __future__ import annotations

import math

from scipy.stats import t as student_t

from . import checks as ck
from . import datasets as ds
from . import hafem, published
from .claim import Check, Claim, consistency, fer2013_supports, measurement, plausibility, slug
from .hafem_related_claims import (
    dataset_year_check,
    introduction_claims,
    method_check,
    ref_number,
    references_claims,
    related_work_claims,
    year_check,
)

__all__ = ["hafem_claims"]

_PAPER = "HAFEM"

# Table 1's method names -> the same method's row in Table 3 (the two tables name them differently).
_TABLE1_TO_TABLE3 = {"ResNet-50+SVM": "ResNet-50", "CNN+LSTM": "CNN+LSTM", "VGGFace2 Transfer": "VGGFace2 TL",
                     "GAN Augmentation": "GAN-Aug", "ViT Transformer": "ViT-Base", "EfficientNet-B4": "EfficientNet-B4",
                     "Swin Transformer": "Swin-T", "Cross-Attention": "Cross-Attn", "DualPath CNN": "DualPath CNN"}

# Figure 3 / §4 text: the gain each step of the ablation ladder is stated to add (points).
_FIGURE3_STEPS = {"EfficientNet-B5": 12.8, "+Transformer": 4.4, "+CBAM": 3.2, "+compound loss": 2.9}

# The metrics Table 3 gives every method; "higher is better" for all of them.
_METRICS = ("accuracy", "precision", "recall", "f1", "auc")


def _copies() -> int:
    """Table 1 rows on another dataset than FER2013 whose accuracy Table 3 prints, to 0.1, as FER2013's."""
    t3 = hafem.TABLE3
    return sum(1 for r in hafem.TABLE1 if r["method"] in _TABLE1_TO_TABLE3 and r["dataset"] not in ("fer2013", "multiple")
               and t3[_TABLE1_TO_TABLE3[r["method"]]]["accuracy"] == r["accuracy"])


def _competitors() -> list[str]:
    """Table 3's methods besides HAFEM."""
    return [k for k in hafem.TABLE3 if k != "HAFEM"]


def _abstract() -> list[Claim]:
    """The abstract: accuracy on four datasets, 52 FPS, the paired t-test, AUC 0.982."""
    t3, c = hafem.TABLE3, hafem.CLAIMS
    out = []
    for name, key in (("fer2013", "FER2013"), ("rafdb", "RAF-DB"), ("affectnet", "AffectNet"), ("ferplus", "FERPlus")):
        value = c[name]["accuracy"]
        cks = [plausibility(value, name, finding="hafem-accuracy-beyond-record"), measurement("accuracy:hafem")]
        if name == "fer2013":
            cks.insert(0, consistency("same-in-table3", ck.check_equal(value, t3["HAFEM"]["accuracy"],
                                                                       "abstract vs Table 3")))
        elif name in _UNREPORTED:
            cks.insert(0, consistency("reported-in-body", ("cannot check", _UNREPORTED[name])))
        out.append(Claim(f"hafem-abstract-{name}", _PAPER, "abstract", "abstract",
                         f"state-of-the-art accuracy on {key}", f"{value} %", name, tuple(cks), value))
    fps, threshold = c["fps"]["value"], c["realtime_fps"]
    out.append(Claim("hafem-abstract-fps", _PAPER, "abstract", "abstract", "about 52 FPS on an RTX 3090",
                     f"{fps} FPS", None,
                     (consistency("same-in-table3", ck.check_equal(fps, t3["HAFEM"]["fps"], "abstract vs Table 3 FPS")),
                      consistency("over-real-time", ("consistent" if fps > threshold else "inconsistent",
                                                     f"{fps} FPS against the {threshold} FPS real-time threshold the "
                                                     f"abstract and §1 name: {fps - threshold:+g} FPS")),
                      measurement("fps:hafem"))))
    others = _competitors()
    st = c["statistics"]
    out.append(Claim("hafem-abstract-ttest", _PAPER, "abstract", "abstract",
                     f"paired t-test p < {st['p_below']:g}: better than all {st['baselines']} competing "
                     "methods (precision, recall, F1, AUC)", f"{st['baselines']} methods", "fer2013",
                     (consistency("baselines-in-table3", (
                         "inconsistent" if len(others) != st["baselines"] else "consistent",
                         f"Table 3 lists {len(others)} methods besides HAFEM; the claim names {st['baselines']}"),
                         finding="hafem-ten-baselines"),
                      _every_metric_check("precision, recall, F1 and AUC", _METRICS[1:]),
                      measurement("statistics:hafem_vs_baselines"))))
    out.append(Claim("hafem-abstract-auc", _PAPER, "abstract", "abstract", "AUC reaching 0.982", "0.982", "fer2013",
                     (consistency("same-in-table3", ck.check_equal(0.982, t3["HAFEM"]["auc"], "abstract vs Table 3 AUC")),)))
    marks = c["landmarks"]
    out.append(Claim("hafem-abstract-landmarks", _PAPER, "abstract / §1 (iii) / §3", "abstract",
                     "faces aligned with 68 facial landmarks", f"{marks['abstract']} landmarks", None,
                     (consistency("same-in-section3", (
                         "consistent" if len(set(marks.values())) == 1 else "inconsistent",
                         f"the abstract aligns with {marks['abstract']} landmarks and §1 (iii) detects {marks['§1']}; "
                         f"§3 aligns the face with the {marks['§3']} landmarks RetinaFace extracts and names no "
                         f"{marks['abstract']}-point detector"), finding="hafem-landmarks-68-vs-5"),)))
    return out


# The abstract's accuracies that no result of the body gives (why each cannot be checked against it).
_UNREPORTED = {"affectnet": "the body's only AffectNet accuracy is §4's zero-shot 79.1 %; 88.9 is only in the abstract",
               "ferplus": "§4 and §5 never name FERPlus (Table 1's FERPlus row is Cross-Attention's); 92.4 is only "
                          "in the abstract"}


def _every_metric_check(what: str, metrics) -> Check:
    """HAFEM against the best other method of Table 3 in each of ``metrics``."""
    t3, others = hafem.TABLE3, _competitors()
    best = {m: max(others, key=lambda o: t3[o][m]) for m in metrics}
    ahead = [m for m in metrics if t3["HAFEM"][m] > t3[best[m]][m]]
    return consistency("every-metric", (
        "consistent" if len(ahead) == len(metrics) else "inconsistent",
        f"Table 3, HAFEM against the best other method in {what}: "
        + ", ".join(f"{m} {t3['HAFEM'][m]} vs {t3[best[m]][m]} ({best[m]})" for m in metrics)))


def _table1() -> list[Claim]:
    """Table 1, the literature comparison: each row against the published record and against
    the same method's row in Table 3 (which gives every method on FER2013)."""
    t3, out = hafem.TABLE3, []
    for row in hafem.TABLE1:
        cks = []
        twin = _TABLE1_TO_TABLE3.get(row["method"])
        copied = (twin is not None and row["dataset"] not in ("fer2013", "multiple")
                  and t3[twin]["accuracy"] == row["accuracy"])
        if row["dataset"] != "multiple":
            # Table 1 credits a cited work with the number, whatever Table 3 does with it
            cks.append(plausibility(row["accuracy"], row["dataset"], finding="hafem-cited-beyond-record"))
        if twin is not None:
            if row["dataset"] == "fer2013":
                cks.append(consistency("same-in-table3", ck.check_equal(row["accuracy"], t3[twin]["accuracy"],
                                                                        f"Table 1 vs Table 3 ({twin}, FER2013)")))
            else:
                cks.append(consistency("other-dataset-in-table3", (
                    "inconsistent" if copied else "consistent",
                    f"Table 1 gives {row['accuracy']} on {row['dataset']}; Table 3 gives {twin} "
                    f"{t3[twin]['accuracy']} on FER2013" + (
                        f" — the same number for another dataset, as for {_copies()} of the {len(_TABLE1_TO_TABLE3)} "
                        "methods the two tables share: no one pair is impossible, the pattern is the finding" if copied
                        else "")),
                    finding="hafem-baselines-copied"))
        if row["method"] == "HAFEM (ours)":
            cks.append(consistency("same-in-table3", ck.check_equal(row["accuracy"], t3["HAFEM"]["accuracy"],
                                                                    "Table 1 'Multiple' vs Table 3 FER2013")))
        else:
            n = ref_number(row["ref"])
            cks.append(year_check(row["year"], n, f"Table 1's {row['method']}"))
            named = method_check(row["method"], n, "Table 1") if n is not None else None
            cks += [k for k in (named, _limitation_check(row["method"])) if k is not None]
        out.append(Claim(f"hafem-table1-{slug(row['method'])}", _PAPER, "Table 1", "results",
                         f"{row['method']} {row['ref'] or '(no reference)'} ({row['year']}) on {row['dataset']}",
                         f"{row['accuracy']} %", None if row["dataset"] == "multiple" else row["dataset"], tuple(cks),
                         row["accuracy"]))
    return out


def _limitation_check(method: str) -> Check | None:
    """Table 1's "Limitation" where it speaks of speed, against Table 3's FPS and the 30 FPS threshold."""
    limitation, twin = hafem.TABLE1_LIMITATION.get(method, ""), _TABLE1_TO_TABLE3.get(method)
    if twin is None or limitation not in ("No real-time", "High latency"):
        return None
    fps, threshold = hafem.TABLE3[twin]["fps"], hafem.CLAIMS["realtime_fps"]
    slow = fps < threshold
    return consistency("real-time", (
        "consistent" if slow else "cannot check",
        f"Table 1 gives {method} the limitation '{limitation}'; Table 3 runs {twin} at {fps} FPS, "
        f"{'below' if slow else 'above'} the {threshold} FPS real-time threshold of the abstract and §1"
        + ("" if slow else "; the column may describe the cited work's own hardware or setting")))


def _table2() -> list[Claim]:
    """Table 2, "Dataset Summary Statistics": each row's size and classes against the
    datasets' files (FER2013, FERPlus) or what their publishers describe."""
    fer_total = sum(ds.split_total("fer2013", s) for s in ("Training", "PublicTest", "PrivateTest"))
    out = []
    for row in hafem.TABLE2:
        name, cks = row["dataset"], []
        if name in ("fer2013", "ferplus"):
            cks.append(consistency("size", ck.check_equal(row["count"], fer_total,
                                                          f"{name} images vs FER2013's three splits")))
            classes = 7 if name == "fer2013" else 8
            cks.append(consistency("classes", ck.check_equal(row["classes"], classes, f"{name} classes")))
        else:
            facts = published.DATASET_FACTS[name]
            count_key = "sequences" if row["unit"] == "sequences" else "images"
            cks.append(consistency("size-and-classes", (
                "consistent" if facts.get(count_key) == row["count"] and facts["classes"] == row["classes"]
                else "inconsistent", f"publisher: {facts.get(count_key)} {count_key}, {facts['classes']} classes; "
                                     f"{facts['subset']} ({facts['source']})")))
        cks.append(dataset_year_check(row))
        out.append(Claim(f"hafem-table2-{name}", _PAPER, "Table 2", "results", f"{name}: size and classes",
                         f"{row['count']} {row['unit']}, {row['classes']} classes"
                         + (f", {row['subjects']} subjects" if row["subjects"] else ""), name, tuple(cks)))
    return out


def _table3() -> list[Claim]:
    """Table 3, "Comparative Performance Evaluation on FER2013 Benchmark": each row's F1
    against its precision and recall, its accuracy against the published record and, where
    Table 1 prints the same number for another dataset, that."""
    t1_twins = {v: k for k, v in _TABLE1_TO_TABLE3.items()}
    out = []
    for method, row in hafem.TABLE3.items():
        t1_row = next((r for r in hafem.TABLE1 if r["method"] == t1_twins.get(method)), None)
        copied = t1_row is not None and t1_row["dataset"] != "fer2013" and t1_row["accuracy"] == row["accuracy"]
        beyond = ("hafem-accuracy-beyond-record" if method == "HAFEM" else
                  "hafem-baselines-copied" if copied else "hafem-baseline-beyond-record")
        cks = [consistency("f1", ck.check_f1(row["precision"], row["recall"], row["f1"], f"{method} F1")),
               plausibility(row["accuracy"], "fer2013", finding=beyond)]
        if copied:
            cks.append(consistency("same-as-table1", (
                "inconsistent", f"{row['accuracy']} is Table 1's figure for {t1_row['method']} on {t1_row['dataset']}, "
                                "printed here as FER2013"), finding="hafem-baselines-copied"))
        cks.append(measurement("accuracy:hafem" if method == "HAFEM" else f"accuracy:{method}"))
        out.append(Claim(f"hafem-table3-{slug(method)}", _PAPER, "Table 3", "results", f"{method} on FER2013",
                         f"acc {row['accuracy']}, P {row['precision']}, R {row['recall']}, F1 {row['f1']}, "
                         f"AUC {row['auc']}, {row['fps']} FPS", "fer2013", tuple(cks), row["accuracy"]))
    return out


def _section4_results() -> list[Claim]:
    """§4's text on Table 3 and Figure 2: the lead over the best competitor, the happy and
    contempt classes' numbers, the distribution-aware smoothing's per-class gains."""
    t3 = hafem.TABLE3
    fer = ds.SPLIT_COUNTS["fer2013"]
    happy_all = {f"FER2013 {s}": fer[s]["happy"] for s in ("Training", "PublicTest", "PrivateTest")}
    happy_all["FER2013 all"] = sum(happy_all.values())
    t2, s4 = {r["dataset"]: r for r in hafem.TABLE2}, hafem.CLAIMS["section4_datasets"]
    others = _competitors()
    fastest = max(others, key=lambda m: t3[m]["fps"])
    return [
        Claim("hafem-s4-datasets", _PAPER, "§4 text (Table 2)", "results",
              "FER2013: 35,887 images in 7 classes; AffectNet the largest, 450,000 images in 8",
              "35,887 / 7; 450,000 / 8", None,
              (consistency("same-in-table2", ck.check_equal(
                  (s4["fer2013"], s4["affectnet"], s4["largest"]),
                  ((t2["fer2013"]["count"], t2["fer2013"]["classes"]),
                   (t2["affectnet"]["count"], t2["affectnet"]["classes"]), max(t2, key=lambda d: t2[d]["count"])),
                  "§4 vs Table 2 ((FER2013 images, classes), (AffectNet images, classes), the largest)")),)),
        Claim("hafem-s4-lead", _PAPER, "§4 text", "results", "3.5 % above the best competitor (DualPath CNN, 91.2 %)",
              "3.5 pt", "fer2013",
              (consistency("lead", ck.check_difference(t3["HAFEM"]["accuracy"], t3["DualPath CNN"]["accuracy"], 3.5,
                                                       "Table 3")),)),
        Claim("hafem-s4-fastest", _PAPER, "§4 text", "results",
              "B5's parameter efficiency outweighs the Transformer and CBAM: 52 FPS, faster than every other method",
              f"{t3['HAFEM']['fps']} FPS", None,
              (consistency("fastest-in-table3", (
                  "consistent" if t3["HAFEM"]["fps"] > t3[fastest]["fps"] else "inconsistent",
                  f"Table 3: HAFEM {t3['HAFEM']['fps']} FPS, the fastest other method {fastest} {t3[fastest]['fps']}")),
               consistency("against-model-size", (
                   "cannot check", f"Table 3 puts HAFEM (EfficientNet-B5, 30.4M parameters, plus six Transformer "
                   f"layers and CBAM) ahead of EfficientNet-B4 ({t3['EfficientNet-B4']['fps']} FPS) and ResNet-50 "
                   f"({t3['ResNet-50']['fps']} FPS) on one GPU; the paper gives no FLOPs, batch size or precision for "
                   "any row, so its own numbers cannot order them")),
               measurement("fps:hafem_vs_baselines"))),
        Claim("hafem-s4-happy", _PAPER, "§4 text (Figure 2)", "results", "Happy: F1 97.9 %, AUC 0.996, 3287 samples",
              "F1 97.9, AUC 0.996, n 3287", "fer2013",
              (consistency("support", (
                  "consistent" if 3287 in happy_all.values() else "cannot check",
                  "FER2013's happy images per split: " + ", ".join(f"{k} {v}" for k, v in happy_all.items())
                  + f"; none is 3287 ({100 * 3287 / happy_all['FER2013 all']:.1f} % of all of them), but the paper "
                    "never states its split, nor whether 3287 counts training or test images")),)),
        Claim("hafem-s4-contempt", _PAPER, "§4 text (Figure 2)", "results",
              "Contempt: F1 89.2 %, AUC 0.963, 312 instances (on FER2013)", "F1 89.2, AUC 0.963, n 312", "fer2013",
              (consistency("class-exists", (
                  "inconsistent", "Figure 2 is captioned FER2013, which has no contempt class (7 classes; "
                  "fernb/papers/datasets.py counts every split); F1 89.2 and AUC 0.963 are Table 3's Cross-Attn "
                  f"figures ({t3['Cross-Attn']['f1']}, {t3['Cross-Attn']['auc']})"), finding="hafem-contempt-on-fer2013"),)),
        Claim("hafem-s4-dls", _PAPER, "§4 text", "results",
              "DLS raises F1 over CE only: disgust +4.1 pt, contempt +5.7 pt", "+4.1, +5.7 pt", "fer2013",
              (consistency("class-exists", (
                  "cannot check", "the sentence names no dataset and compares HAFEM with a cross-entropy-only model "
                  "that Figure 2 does not show; on FER2013, the paragraph's dataset, contempt does not exist (the "
                  "contempt F1 claim shows that), while AffectNet and FERPlus, which the paper also uses, have it")),
               measurement("ablation:loss_gain:disgust"))),
    ]


def _figure3() -> list[Claim]:
    """Figure 3 and §4's text: each step of the ablation ladder, and its two ends against Table 3."""
    t3, ab = hafem.TABLE3, hafem.CLAIMS["ablation_fer2013"]
    names = list(ab)
    out = []
    for prev, step in zip(names[:-1], names[1:]):
        gain = _FIGURE3_STEPS[step]
        out.append(Claim(f"hafem-fig3-{slug(step)}", _PAPER, "Figure 3 / §4 text", "results",
                         f"ablation step {prev} → {step}: +{gain} pt", f"{ab[prev]} → {ab[step]} (+{gain} pt)",
                         "fer2013", (consistency("step", ck.check_difference(ab[step], ab[prev], gain, "Figure 3")),
                                     measurement(f"ablation:hafem_components:{step}"))))
    out.append(Claim("hafem-fig3-ends", _PAPER, "Figure 3", "results",
                     "the ladder starts at ResNet-50 71.4 and ends at 94.7",
                     f"{ab['ResNet-50']} … {ab['+compound loss']}",
                     "fer2013", (consistency("same-in-table3", ck.check_equal((ab["ResNet-50"], ab["+compound loss"]),
                                                            (t3["ResNet-50"]["accuracy"], t3["HAFEM"]["accuracy"]),
                                                            "Figure 3 vs Table 3")),)))
    out.append(_ladder_vs_table3())
    return out


def _ladder_vs_table3() -> Claim:
    """Figure 3's rungs against Table 3's baselines on the same benchmark: the baselines that beat a
    rung of HAFEM's own ablation, the plain EfficientNet-B4 against the EfficientNet-B5 rung first."""
    t3, ab = hafem.TABLE3, hafem.CLAIMS["ablation_fer2013"]
    rungs = ("EfficientNet-B5", "+Transformer", "+CBAM")
    beats = {r: [m for m in _competitors() if t3[m]["accuracy"] > ab[r]] for r in rungs}
    b4, b5, tr = t3["EfficientNet-B4"]["accuracy"], ab["EfficientNet-B5"], ab["+Transformer"]
    return Claim("hafem-fig3-vs-table3", _PAPER, "Figure 3 / Table 3", "results",
                 "Table 3's baselines against the ablation's rungs (both FER2013)",
                 f"B5 {b5}, +Transformer {tr}; EfficientNet-B4 {b4}", "fer2013",
                 (consistency("baselines-above-rungs", ("cannot check", "; ".join(
                     f"above the {r} rung ({ab[r]}): " + (", ".join(f"{m} {t3[m]['accuracy']}" for m in beats[r])
                                                          or "none") for r in rungs)
                     + f". A plain EfficientNet-B4 scores {b4} − {b5} = {b4 - b5:+.1f} pt above HAFEM's B5 "
                     f"rung, {b4 - tr:+.1f} above B5 + Transformer: more than the Transformer's stated "
                     f"+{_FIGURE3_STEPS['+Transformer']}; the ladder's first rung ({ab['ResNet-50']}) is Table 1's "
                     "ResNet-50+SVM [5]. The paper does not say Table 3's baselines were trained with the ablation's "
                     "recipe (six of them are Table 1's numbers for other datasets), so the gap may be protocol")),))


def _section4_transfer() -> list[Claim]:
    """§4's text on transfer from FER2013: zero-shot to RAF-DB and AffectNet against the
    published record, and 20 epochs of fine-tuning on RAF-DB against the abstract."""
    c = hafem.CLAIMS
    cross = published.CROSS_DATASET[0]
    out = []
    for target, value in c["zero_shot_from_fer2013"].items():
        ref = published.STATE_OF_THE_ART[target]
        # above the best model trained on the target itself is implausible; below it, no zero-shot record kept here
        # (the cross-dataset range below is for the other direction) can decide
        verdict = "implausible" if value > ref["best"] else "cannot check"
        out.append(Claim(f"hafem-s4-zeroshot-{target}", _PAPER, "§4 text", "results",
                         f"zero-shot FER2013 → {target}: {value} %", f"{value} %", target,
                         (Check("plausibility", verdict,
                                f"{value} % zero-shot against the best in-domain (trained on {target}) {ref['best']} % "
                                f"({ref['source']}); published cross-dataset FER with adaptation reaches "
                                f"{cross['low']:g}–{cross['high']:g} % ({cross['source']} → {cross['target']})",
                                name="plausible",
                                finding="hafem-zero-shot-beyond-record" if verdict == "implausible" else None),
                          measurement(f"zero_shot:{target}")), value))
    ft = c["finetune_from_fer2013"]["rafdb"]
    out.append(Claim("hafem-s4-finetune", _PAPER, "§4 text", "results", "fine-tuned 20 epochs on RAF-DB: 95.1 %",
                     f"{ft['accuracy']} %", "rafdb",
                     (consistency("same-in-abstract", ck.check_equal(ft["accuracy"], c["rafdb"]["accuracy"],
                                                                     "§4 fine-tuned vs abstract RAF-DB")),
                      plausibility(ft["accuracy"], "rafdb", finding="hafem-accuracy-beyond-record"),
                      measurement("zero_shot:rafdb_finetuned")),
                     ft["accuracy"]))
    return out


def _cohen_ceiling(t3) -> float:
    """The largest per-image Cohen's d_z Table 3's widest accuracy gap allows: √(Δ/(1−Δ))
    (the pairs being test images scored correct or wrong; :func:`fernb.evaluate.stats.max_dz_per_image`)."""
    gap = max(t3["HAFEM"]["accuracy"] - r["accuracy"] for m, r in t3.items() if m != "HAFEM") / 100
    return math.sqrt(gap / (1 - gap))


def _runs_for_p(d: float, p: float) -> int:
    """Runs of every model a paired t-test needs before effect ``d`` gives a two-sided p below
    ``p`` (t = d·√n on n − 1 degrees of freedom; :func:`fernb.evaluate.stats.runs_for_p` documents it)."""
    return next(n for n in range(2, 10_000) if 2 * student_t.sf(d * math.sqrt(n), n - 1) < p)


def _cohen_evidence(t3, d_low: float, d_high: float, p: float) -> str:
    gaps = {m: t3["HAFEM"]["accuracy"] - r["accuracy"] for m, r in t3.items() if m != "HAFEM"}
    widest = max(gaps, key=gaps.get)
    return (f"the paper never says what was paired. If the pairs were test images (correct/wrong), d_z ≤ "
            f"√(Δ/(1−Δ)): at most {_cohen_ceiling(t3):.2f} for the widest gap ({widest}, {gaps[widest]:.1f} pt), and "
            f"d {d_low:g} needs a {100 * d_low ** 2 / (1 + d_low ** 2):.0f}-point gap, so that reading cannot give "
            f"it; if they were runs of every model, p < {p:g} needs {_runs_for_p(d_low, p)} runs of each at d "
            f"{d_low:g} ({_runs_for_p(d_high, p)} at d {d_high:g}), where the paper reports one result per model "
            "— which the text neither states nor rules out")


def _section4_statistics() -> list[Claim]:
    """§4's text on the statistics: paired t-tests against all ten baselines and the Cohen's d
    range, read against the largest effect Table 3's accuracy gaps allow."""
    t3, st = hafem.TABLE3, hafem.CLAIMS["statistics"]
    d_text = f"{min(st['cohen_d']):g}–{max(st['cohen_d']):g}"
    return [Claim("hafem-s4-cohen", _PAPER, "§4 text", "results",
                  f"paired t-tests vs all ten baselines p < {st['p_below']:g}, Cohen's d {d_text}",
                  f"p < {st['p_below']:g}, d {d_text}", "fer2013",
                  (consistency("baselines-in-table3", (
                      "inconsistent" if len(_competitors()) != st["baselines"] else "consistent",
                      f"§4 tests 'all ten baselines'; Table 3 lists {len(_competitors())} methods besides HAFEM, and "
                      "no other table gives a competitor's precision, recall, F1 or AUC"),
                      finding="hafem-ten-baselines"),
                   consistency("effect-size", ("cannot check", _cohen_evidence(t3, min(st["cohen_d"]),
                                                                               max(st["cohen_d"]), st["p_below"]))),
                   measurement("statistics:hafem_vs_baselines")))]


def _section4_errors() -> list[Claim]:
    """§4's text on the errors and Grad-CAM: each confusion it names against whole counts of
    the class's test images, and the facial action units the heat maps are said to light."""
    out = []
    for (true, pred), value in hafem.CLAIMS["confusions"].items():
        supports = fer2013_supports(true)
        fits = {name: ck.support_fits(value, n) for name, n in supports.items()}
        ok = [name for name, k in fits.items() if k is not None]
        smallest = ck.smallest_support([value], max_n=2000)
        out.append(Claim(f"hafem-s4-confusion-{true}-{pred}", _PAPER, "§4 text", "results",
                         f"{value} % of {true} classified as {pred}", f"{value} %", "fer2013",
                         (consistency("whole-counts", (
                             "consistent" if ok else "cannot check",
                             "; ".join(f"{name} ({supports[name]} {true} images): "
                                       + (f"{fits[name]}/{supports[name]} = {100 * fits[name] / supports[name]:.2f} %"
                                          if fits[name] is not None else f"no whole count gives {value} %")
                                       for name in supports)
                             + ("" if ok else f"; the paper never states its test split, and a class of {smallest} "
                                              "images would give it"))),
                          measurement(f"confusion:{true}:{pred}")), value))
    out.append(Claim("hafem-s4-interp-anger", _PAPER, "§4 text", "results",
                     "Grad-CAM: anger on the brow (AU4) and AU24", "AU4, AU24", None, (measurement("interpretability:anger"),)))
    out.append(Claim("hafem-s4-interp-happy", _PAPER, "§4 text", "results",
                     "Grad-CAM: happy on AU6 and AU12 (Duchenne)", "AU6, AU12", None, (measurement("interpretability:happy"),)))
    return out


def _conclusion() -> list[Claim]:
    """§5, the conclusion: 52 against 44 FPS, the compound loss's gain, the minority-class
    margins, and RAF-DB "without fine-tuning" — each against §4 and Table 3."""
    t3, c = hafem.TABLE3, hafem.CLAIMS
    ab, others = c["ablation_fer2013"], _competitors()
    st = c["statistics"]
    return [
        Claim("hafem-s5-ttest", _PAPER, "§5", "conclusion",
              "significantly higher than ten other methods on all standard measures (FER2013), 94.7 % at 52 FPS",
              f"{st['baselines']} methods; {c['fer2013']['accuracy']} %, {c['fps']['value']} FPS", "fer2013",
              (consistency("baselines-in-table3", (
                  "inconsistent" if len(others) != st["baselines"] else "consistent",
                  f"Table 3 lists {len(others)} methods besides HAFEM; the conclusion names {st['baselines']}"),
                  finding="hafem-ten-baselines"),
               _every_metric_check("every measure of Table 3", _METRICS + ("fps",)),
               consistency("same-in-table3", ck.check_equal((c["fer2013"]["accuracy"], c["fps"]["value"]),
                                                            (t3["HAFEM"]["accuracy"], t3["HAFEM"]["fps"]),
                                                            "§5 vs Table 3 (accuracy, FPS)")))),
        Claim("hafem-s5-fps", _PAPER, "§5", "conclusion", "52 FPS against 44 FPS for the second-best method",
              "52 vs 44 FPS", None,
              (consistency("in-table3", (
                  "consistent" if 44 in [t3[m]["fps"] for m in others] else "cannot check",
                  f"no method of Table 3 has 44 FPS: the second-best by accuracy (DualPath CNN) runs at "
                  f"{t3['DualPath CNN']['fps']}, the second fastest (ResNet-50) at "
                  f"{max(t3[m]['fps'] for m in others)} — which a measured 44.5–44.99 FPS would print, rounded in the "
                  "table and truncated in the text; which 'second best' §5 means, it does not say")),)),
        Claim("hafem-s5-loss", _PAPER, "§5", "conclusion", "the compound loss adds 2.9 pt over cross-entropy",
              "+2.9 pt", "fer2013",
              (consistency("step", ck.check_difference(ab["+compound loss"], ab["+CBAM"], 2.9, "Figure 3 last step")),
               measurement("ablation:hafem_components:+compound loss"))),
        Claim("hafem-s5-margins", _PAPER, "§5", "conclusion", "minority-class margins of 3.8–5.7 %", "3.8–5.7 %",
              "fer2013", (consistency("in-section4", (
                  "cannot check", "§4 states +4.1 (disgust) and +5.7 (contempt); the lower end 3.8 is stated nowhere "
                  "else, and may be another minority class's gain in Figure 2, whose values the text does not give")),)),
        Claim("hafem-s5-rafdb", _PAPER, "§5", "conclusion", "95.1 % on RAF-DB without fine-tuning",
              f"{c['conclusion_rafdb_without_finetuning']} %", "rafdb",
              (consistency("same-in-section4", (
                  "inconsistent", f"§4: 95.1 % is RAF-DB *after* 20 epochs of fine-tuning; zero-shot it states "
                                  f"{c['zero_shot_from_fer2013']['rafdb']} %"), finding="hafem-rafdb-finetuning"),
               measurement("zero_shot:rafdb")),
              95.1),
    ]


def _transformer_count(layers: int, d: int, d_ff: int, stated_m: float) -> tuple[str, str]:
    """§3's Transformer overhead against the standard encoder layer's parameters (Vaswani et al.'s
    layer, as §3 describes it: attention with 4 d×d projections and biases, a d→d_ff→d feed-forward,
    two layer norms): per layer 4d² + 4d + 2·d·d_ff + d_ff + d + 4d."""
    per_layer = 4 * d * d + 4 * d + 2 * d * d_ff + d_ff + d + 4 * d
    total = layers * per_layer / 1e6
    ok = ck.matches(total, stated_m) is not None
    return ("consistent" if ok else "inconsistent",
            f"{layers} layers × (4·{d}² + 2·{d}·{d_ff} + biases and norms = {per_layer / 1e6:.1f}M) = {total:.1f}M, "
            f"stated {stated_m}M" + ("" if ok else f"; {stated_m}M is less than one such layer"
                                     if stated_m < per_layer / 1e6 else ""))


def _methods() -> list[Claim]:
    """§3's parameter counts (the Transformer's overhead, the backbone) and §1's contribution (v),
    52 FPS on a Jetson."""
    tok = hafem.CLAIMS["tokens"]
    t2 = {r["dataset"]: r for r in hafem.TABLE2}
    rows, cols = tok["grid"]
    return [
        Claim("hafem-s3-grayscale", _PAPER, "§3 vs Table 2 / §4", "methods",
              "CLAHE on the L channel of LAB 'maintaining the chromatic information'; colour jitter of saturation "
              "and hue", "LAB, saturation ±0.2, hue ±0.05", "fer2013",
              (consistency("colour-input", (
                  "cannot check", f"Table 2 ('{t2['fer2013']['characteristics']}') and §4 call FER2013 grayscale, and "
                  "every result of Table 3 and Figure 3 is on FER2013, where these colour steps change nothing; the "
                  "pipeline also serves the colour datasets the abstract names")),)),
        Claim("hafem-s3-transformer", _PAPER, "§3", "methods",
              "6 Transformer layers (d 2048, 8 heads, d_ff 4096): 31.2M parameter overhead", "31.2M", None,
              (consistency("parameter-count", _transformer_count(6, 2048, 4096, 31.2),
                           finding="hafem-transformer-parameters"),
               measurement("params:transformer_layer"))),
        Claim("hafem-s3-tokens", _PAPER, "§3", "methods",
              f"the {rows}×{cols}×{tok['channels']} Stage-7 map as {tok['count']} tokens, {tok['heads']} heads",
              f"{rows}×{cols} = {tok['count']} tokens; {tok['heads']} heads", None,
              (consistency("token-count", ck.check_equal(
                  (rows * cols, tok["img_size"] // 32), (tok["count"], rows),
                  f"§3: ({rows}×{cols} grid cells, the {tok['img_size']}-pixel input at stride 32) vs (tokens, grid)")),
               consistency("head-width", (
                   "consistent" if tok["channels"] % tok["heads"] == 0 else "inconsistent",
                   f"d_model {tok['channels']} over {tok['heads']} heads: "
                   f"{tok['channels'] / tok['heads']:g} per head")))),
        Claim("hafem-s3-backbone", _PAPER, "§3", "methods", "EfficientNet-B5 has 30.4M parameters", "30.4M", None,
              (measurement("params:efficientnet_b5"),)),
        Claim("hafem-s1-jetson", _PAPER, "§1 contribution (v)", "methods",
              "52 FPS on edge devices such as the Jetson Xavier NX", "52 FPS", None,
              (consistency("device", (
                  "cannot check", "the abstract and Table 3 give the same 52 FPS for an RTX 3090; no measurement on a "
                  "Jetson is reported, so whether the model reaches 52 FPS there (at what input size and precision) "
                  "cannot be told from the paper")),)),
    ]


def hafem_claims() -> list[Claim]:
    """Every claim of HAFEM with its checks, in the paper's order (abstract, Tables 1–3, §4's
    text and figures, §5, the methods)."""
    parts = (_abstract, introduction_claims, related_work_claims, _table1, _table2, _table3, _section4_results, _figure3,
             _section4_transfer, _section4_statistics, _section4_errors, _conclusion, _methods, references_claims)
    return [claim for part in parts for claim in part()]
