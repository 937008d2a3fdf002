"""The claims ledger's claims on HAFEM: every number the paper states, each with its checks.

What HAFEM states is data in :mod:`fernb.papers.hafem` (Tables 1–3, ``CLAIMS``); this file
reads those numbers as claims (:class:`fernb.papers.claim.Claim`) and gives each the checks
it gets: recomputed from the paper's own numbers, against the datasets' real class counts
(:mod:`fernb.papers.datasets`) and the published record (:mod:`fernb.papers.published`), and
the measurement key that notebook 06 fills. One function per part of the paper, in the
paper's order:

- the abstract (accuracies, FPS, the t-test, AUC);
- Table 1 (literature), Table 2 (datasets), Table 3 (FER2013 benchmark);
- §4's text: the lead over the best competitor and the per-class numbers (Figure 2), the
  ablation ladder (Figure 3), the cross-dataset transfer, the statistics (t-tests, Cohen's
  d), the confusions and Grad-CAM;
- §5, the conclusion; §3 and §1, the methods' parameter counts and device claim.

:func:`hafem_claims` returns them all, in that order. Pure data and pure functions: nothing
here imports the rest of :mod:`fernb`.
"""
from __future__ import annotations

import math

from . import checks as ck
from . import datasets as ds
from . import hafem, published
from .claim import Check, Claim, consistency, fer2013_supports, measurement, plausibility

__all__ = ["hafem_claims"]

_PAPER = "HAFEM"

# Table 1's method names -> the same method's row in Table 3 (the two tables name them differently).
_TABLE1_TO_TABLE3 = {"ResNet-50+SVM": "ResNet-50", "CNN+LSTM": "CNN+LSTM", "VGGFace2 Transfer": "VGGFace2 TL",
                     "GAN Augmentation": "GAN-Aug", "ViT Transformer": "ViT-Base", "EfficientNet-B4": "EfficientNet-B4",
                     "Swin Transformer": "Swin-T", "Cross-Attention": "Cross-Attn", "DualPath CNN": "DualPath CNN"}

# Figure 3 / §4 text: the gain each step of the ablation ladder is stated to add (points).
_FIGURE3_STEPS = {"EfficientNet-B5": 12.8, "+Transformer": 4.4, "+CBAM": 3.2, "+compound loss": 2.9}


def _competitors() -> list[str]:
    """Table 3's methods besides HAFEM."""
    return [k for k in hafem.TABLE3 if k != "HAFEM"]


def _abstract() -> list[Claim]:
    """The abstract: accuracy on four datasets, 52 FPS, the paired t-test, AUC 0.982."""
    t3, c = hafem.TABLE3, hafem.CLAIMS
    out = []
    for name, key in (("fer2013", "FER2013"), ("rafdb", "RAF-DB"), ("affectnet", "AffectNet"), ("ferplus", "FERPlus")):
        value = c[name]["accuracy"]
        cks = [plausibility(value, name), measurement("accuracy:hafem")]
        if name == "fer2013":
            cks.insert(0, consistency(ck.check_equal(value, t3["HAFEM"]["accuracy"], "abstract vs Table 3")))
        out.append(Claim(f"hafem-abstract-{name}", _PAPER, "abstract", "abstract",
                         f"state-of-the-art accuracy on {key}", f"{value} %", name, tuple(cks), value))
    out.append(Claim("hafem-abstract-fps", _PAPER, "abstract", "abstract", "about 52 FPS on an RTX 3090",
                     f"{c['fps']['value']} FPS", None,
                     (consistency(ck.check_equal(c["fps"]["value"], t3["HAFEM"]["fps"], "abstract vs Table 3 FPS")),
                      measurement("fps:hafem"))))
    others = _competitors()
    st = c["statistics"]
    out.append(Claim("hafem-abstract-ttest", _PAPER, "abstract", "abstract",
                     f"paired t-test p < {st['p_below']:g}: better than all {st['baselines']} competing "
                     "methods (precision, recall, F1, AUC)", f"{st['baselines']} methods", "fer2013",
                     (Check("consistency", "inconsistent" if len(others) != st["baselines"] else "consistent",
                            f"Table 3 lists {len(others)} methods besides HAFEM; the claim names {st['baselines']}"),
                      measurement("statistics:hafem_vs_baselines"))))
    out.append(Claim("hafem-abstract-auc", _PAPER, "abstract", "abstract", "AUC reaching 0.982", "0.982", "fer2013",
                     (consistency(ck.check_equal(0.982, t3["HAFEM"]["auc"], "abstract vs Table 3 AUC")),)))
    return out


def _table1() -> list[Claim]:
    """Table 1, the literature comparison: each row against the published record and against
    the same method's row in Table 3 (which gives every method on FER2013)."""
    t3, out = hafem.TABLE3, []
    for row in hafem.TABLE1:
        cks = []
        if row["dataset"] != "multiple":
            cks.append(plausibility(row["accuracy"], row["dataset"]))
        twin = _TABLE1_TO_TABLE3.get(row["method"])
        if twin is not None:
            same = t3[twin]["accuracy"] == row["accuracy"]
            if row["dataset"] == "fer2013":
                cks.append(consistency(ck.check_equal(row["accuracy"], t3[twin]["accuracy"],
                                                      f"Table 1 vs Table 3 ({twin}, FER2013)")))
            else:
                cks.append(Check("consistency", "inconsistent" if same else "consistent",
                                 f"Table 1 gives {row['accuracy']} on {row['dataset']}; Table 3 gives {twin} "
                                 f"{t3[twin]['accuracy']} on FER2013" + (" — the same number for another dataset"
                                                                         if same else "")))
        if row["method"] == "HAFEM (ours)":
            cks.append(consistency(ck.check_equal(row["accuracy"], t3["HAFEM"]["accuracy"],
                                                  "Table 1 'Multiple' vs Table 3 FER2013")))
        out.append(Claim(f"hafem-table1-{row['method']}", _PAPER, "Table 1", "results",
                         f"{row['method']} {row['ref'] or '(no reference)'} ({row['year']}) on {row['dataset']}",
                         f"{row['accuracy']} %", None if row["dataset"] == "multiple" else row["dataset"], tuple(cks),
                         row["accuracy"]))
    return out


def _table2() -> list[Claim]:
    """Table 2, "Dataset Summary Statistics": each row's size and classes against the
    datasets' files (FER2013, FERPlus) or what their publishers describe."""
    fer_total = sum(ds.split_total("fer2013", s) for s in ("Training", "PublicTest", "PrivateTest"))
    out = []
    for row in hafem.TABLE2:
        name, cks = row["dataset"], []
        if name in ("fer2013", "ferplus"):
            cks.append(consistency(ck.check_equal(row["count"], fer_total, f"{name} images vs FER2013's three splits")))
            classes = 7 if name == "fer2013" else 8
            cks.append(consistency(ck.check_equal(row["classes"], classes, f"{name} classes")))
        else:
            facts = published.DATASET_FACTS[name]
            count_key = "sequences" if row["unit"] == "sequences" else "images"
            cks.append(Check("consistency", "consistent" if facts.get(count_key) == row["count"] and
                             facts["classes"] == row["classes"] else "inconsistent",
                             f"publisher: {facts.get(count_key)} {count_key}, {facts['classes']} classes; "
                             f"{facts['subset']} ({facts['source']})"))
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
        cks = [consistency(ck.check_f1(row["precision"], row["recall"], row["f1"], f"{method} F1")),
               plausibility(row["accuracy"], "fer2013")]
        t1_row = next((r for r in hafem.TABLE1 if r["method"] == t1_twins.get(method)), None)
        if t1_row is not None and t1_row["dataset"] != "fer2013" and t1_row["accuracy"] == row["accuracy"]:
            cks.append(Check("consistency", "inconsistent",
                             f"{row['accuracy']} is Table 1's figure for {t1_row['method']} on {t1_row['dataset']}, "
                             "printed here as FER2013"))
        cks.append(measurement("accuracy:hafem" if method == "HAFEM" else f"accuracy:{method}"))
        out.append(Claim(f"hafem-table3-{method}", _PAPER, "Table 3", "results", f"{method} on FER2013",
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
    return [
        Claim("hafem-s4-lead", _PAPER, "§4 text", "results", "3.5 % above the best competitor (DualPath CNN, 91.2 %)",
              "3.5 pt", "fer2013",
              (consistency(ck.check_difference(t3["HAFEM"]["accuracy"], t3["DualPath CNN"]["accuracy"], 3.5,
                                               "Table 3")),)),
        Claim("hafem-s4-happy", _PAPER, "§4 text (Figure 2)", "results", "Happy: F1 97.9 %, AUC 0.996, 3287 samples",
              "F1 97.9, AUC 0.996, n 3287", "fer2013",
              (Check("consistency", "inconsistent" if 3287 not in happy_all.values() else "consistent",
                     "FER2013's happy images per split: " + ", ".join(f"{k} {v}" for k, v in happy_all.items())
                     + "; none is 3287"),)),
        Claim("hafem-s4-contempt", _PAPER, "§4 text (Figure 2)", "results",
              "Contempt: F1 89.2 %, AUC 0.963, 312 instances (on FER2013)", "F1 89.2, AUC 0.963, n 312", "fer2013",
              (Check("consistency", "inconsistent", "FER2013 has no contempt class (7 classes; "
                     "fernb/papers/datasets.py counts every split); F1 89.2 and AUC 0.963 are Table 3's Cross-Attn "
                     f"figures ({t3['Cross-Attn']['f1']}, {t3['Cross-Attn']['auc']})"),)),
        Claim("hafem-s4-dls", _PAPER, "§4 text", "results",
              "DLS raises F1 over CE only: disgust +4.1 pt, contempt +5.7 pt", "+4.1, +5.7 pt", "fer2013",
              (Check("consistency", "inconsistent",
                     "contempt is not a FER2013 class, so its +5.7 pt has no test images"),
               measurement("ablation:loss_gain:disgust"))),
    ]


def _figure3() -> list[Claim]:
    """Figure 3 and §4's text: each step of the ablation ladder, and its two ends against Table 3."""
    t3, ab = hafem.TABLE3, hafem.CLAIMS["ablation_fer2013"]
    names = list(ab)
    out = []
    for prev, step in zip(names[:-1], names[1:]):
        gain = _FIGURE3_STEPS[step]
        out.append(Claim(f"hafem-fig3-{step}", _PAPER, "Figure 3 / §4 text", "results",
                         f"ablation step {prev} → {step}: +{gain} pt", f"{ab[prev]} → {ab[step]} (+{gain} pt)",
                         "fer2013", (consistency(ck.check_difference(ab[step], ab[prev], gain, "Figure 3")),
                                     measurement(f"ablation:hafem_components:{step}"))))
    out.append(Claim("hafem-fig3-ends", _PAPER, "Figure 3", "results",
                     "the ladder starts at ResNet-50 71.4 and ends at 94.7",
                     f"{ab['ResNet-50']} … {ab['+compound loss']}",
                     "fer2013", (consistency(ck.check_equal((ab["ResNet-50"], ab["+compound loss"]),
                                                            (t3["ResNet-50"]["accuracy"], t3["HAFEM"]["accuracy"]),
                                                            "Figure 3 vs Table 3")),)))
    return out


def _section4_transfer() -> list[Claim]:
    """§4's text on transfer from FER2013: zero-shot to RAF-DB and AffectNet against the
    published record, and 20 epochs of fine-tuning on RAF-DB against the abstract."""
    c = hafem.CLAIMS
    cross = published.CROSS_DATASET[0]
    out = []
    for target, value in c["zero_shot_from_fer2013"].items():
        ref = published.STATE_OF_THE_ART[target]
        verdict = "implausible" if value > ref["best"] - 5 else "plausible"
        out.append(Claim(f"hafem-s4-zeroshot-{target}", _PAPER, "§4 text", "results",
                         f"zero-shot FER2013 → {target}: {value} %", f"{value} %", target,
                         (Check("plausibility", verdict,
                                f"{value} % zero-shot against the best in-domain (trained on {target}) {ref['best']} % "
                                f"({ref['source']}); published cross-dataset FER with adaptation reaches "
                                f"{cross['low']:g}–{cross['high']:g} % ({cross['source']} → {cross['target']})"),
                          measurement(f"zero_shot:{target}")), value))
    ft = c["finetune_from_fer2013"]["rafdb"]
    out.append(Claim("hafem-s4-finetune", _PAPER, "§4 text", "results", "fine-tuned 20 epochs on RAF-DB: 95.1 %",
                     f"{ft['accuracy']} %", "rafdb",
                     (consistency(ck.check_equal(ft["accuracy"], c["rafdb"]["accuracy"],
                                                 "§4 fine-tuned vs abstract RAF-DB")),
                      plausibility(ft["accuracy"], "rafdb"), measurement("zero_shot:rafdb_finetuned")),
                     ft["accuracy"]))
    return out


def _cohen_ceiling(t3) -> float:
    """The largest per-image Cohen's d_z Table 3's widest accuracy gap allows: √(Δ/(1−Δ))
    (the pairs being test images scored correct or wrong; :func:`fernb.evaluate.stats.max_dz_per_image`)."""
    gap = max(t3["HAFEM"]["accuracy"] - r["accuracy"] for m, r in t3.items() if m != "HAFEM") / 100
    return math.sqrt(gap / (1 - gap))


def _cohen_evidence(t3, d_low: float) -> str:
    gaps = {m: t3["HAFEM"]["accuracy"] - r["accuracy"] for m, r in t3.items() if m != "HAFEM"}
    widest = max(gaps, key=gaps.get)
    return (f"if the pairs were test images (correct/wrong), d_z ≤ √(Δ/(1−Δ)): at most {_cohen_ceiling(t3):.2f} "
            f"for the widest gap ({widest}, {gaps[widest]:.1f} pt), and d {d_low:g} needs a "
            f"{100 * d_low ** 2 / (1 + d_low ** 2):.0f}-point gap; the runs the other reading needs are the "
            "measurement row; the paper never says what was paired")


def _section4_statistics() -> list[Claim]:
    """§4's text on the statistics: paired t-tests against all ten baselines and the Cohen's d
    range, read against the largest effect Table 3's accuracy gaps allow."""
    t3, st = hafem.TABLE3, hafem.CLAIMS["statistics"]
    d_text = f"{min(st['cohen_d']):g}–{max(st['cohen_d']):g}"
    return [Claim("hafem-s4-cohen", _PAPER, "§4 text", "results",
                  f"paired t-tests vs all ten baselines p < {st['p_below']:g}, Cohen's d {d_text}",
                  f"p < {st['p_below']:g}, d {d_text}", "fer2013",
                  (Check("plausibility", "implausible" if _cohen_ceiling(t3) < min(st["cohen_d"]) else "plausible",
                         _cohen_evidence(t3, min(st["cohen_d"]))),
                   measurement("statistics:stated_effect"), measurement("statistics:hafem_vs_baselines")))]


def _section4_errors() -> list[Claim]:
    """§4's text on the errors and Grad-CAM: each confusion it names against whole counts of
    the class's test images, and the facial action units the heat maps are said to light."""
    out = []
    for (true, pred), value in hafem.CLAIMS["confusions"].items():
        supports = fer2013_supports(true)
        fits = {name: ck.support_fits(value, n) for name, n in supports.items()}
        ok = [name for name, k in fits.items() if k is not None]
        out.append(Claim(f"hafem-s4-confusion-{true}-{pred}", _PAPER, "§4 text", "results",
                         f"{value} % of {true} classified as {pred}", f"{value} %", "fer2013",
                         (Check("consistency", "consistent" if ok else "inconsistent",
                                "; ".join(f"{name} ({supports[name]} {true} images): "
                                          + (f"{fits[name]}/{supports[name]} = {100 * fits[name] / supports[name]:.2f} %"
                                             if fits[name] is not None else f"no whole count gives {value} %")
                                          for name in supports)), measurement(f"confusion:{true}:{pred}")), value))
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
    return [
        Claim("hafem-s5-fps", _PAPER, "§5", "conclusion", "52 FPS against 44 FPS for the second-best method",
              "52 vs 44 FPS", None,
              (Check("consistency", "inconsistent" if 44 not in [t3[m]["fps"] for m in others] else "consistent",
                     f"Table 3: the second-best accuracy (DualPath CNN) runs at {t3['DualPath CNN']['fps']} FPS, the "
                     f"fastest competitor (ResNet-50) at {max(t3[m]['fps'] for m in others)}; no method has 44"),)),
        Claim("hafem-s5-loss", _PAPER, "§5", "conclusion", "the compound loss adds 2.9 pt over cross-entropy",
              "+2.9 pt", "fer2013",
              (consistency(ck.check_difference(ab["+compound loss"], ab["+CBAM"], 2.9, "Figure 3 last step")),
               measurement("ablation:hafem_components:+compound loss"))),
        Claim("hafem-s5-margins", _PAPER, "§5", "conclusion", "minority-class margins of 3.8–5.7 %", "3.8–5.7 %",
              "fer2013", (Check("consistency", "inconsistent", "§4 states +4.1 (disgust) and +5.7 (contempt): the "
                                "lower end 3.8 is stated nowhere else"),)),
        Claim("hafem-s5-rafdb", _PAPER, "§5", "conclusion", "95.1 % on RAF-DB without fine-tuning",
              f"{c['conclusion_rafdb_without_finetuning']} %", "rafdb",
              (Check("consistency", "inconsistent", f"§4: 95.1 % is RAF-DB *after* 20 epochs of fine-tuning; "
                     f"zero-shot it states {c['zero_shot_from_fer2013']['rafdb']} %"), measurement("zero_shot:rafdb")),
              95.1),
    ]


def _methods() -> list[Claim]:
    """§3's parameter counts (the Transformer's overhead, the backbone) and §1's contribution (v),
    52 FPS on a Jetson."""
    return [
        Claim("hafem-s3-transformer", _PAPER, "§3", "methods",
              "6 Transformer layers (d 2048, 8 heads, d_ff 4096): 31.2M parameter overhead", "31.2M", None,
              (measurement("params:transformer_layer"),)),
        Claim("hafem-s3-backbone", _PAPER, "§3", "methods", "EfficientNet-B5 has 30.4M parameters", "30.4M", None,
              (measurement("params:efficientnet_b5"),)),
        Claim("hafem-s1-jetson", _PAPER, "§1 contribution (v)", "methods",
              "52 FPS on edge devices such as the Jetson Xavier NX", "52 FPS", None,
              (Check("consistency", "inconsistent", "the abstract and Table 3 give the same 52 FPS for an RTX 3090 "
                     "(35.6 TFLOPS FP32); a Jetson Xavier NX has a small fraction of its compute"),)),
    ]


def hafem_claims() -> list[Claim]:
    """Every claim of HAFEM with its checks, in the paper's order (abstract, Tables 1–3, §4's
    text and figures, §5, the methods)."""
    parts = (_abstract, _table1, _table2, _table3, _section4_results, _figure3, _section4_transfer,
             _section4_statistics, _section4_errors, _conclusion, _methods)
    return [claim for part in parts for claim in part()]
