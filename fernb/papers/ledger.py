"""The claims ledger: every number both papers state, each with the checks it gets and their verdicts.

A :class:`Claim` is one statement of a paper — a table row, or a number in its abstract, text
or conclusion — with where it stands, what it states, and its :class:`Check`\\ s:

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
  gets its accuracy measured twice: on the standard test split and on its leak-free subset
  (``accuracy_leakfree:<model>``, the test images with no exact or near copy in the training
  split); committed real-data results arrive as ``<key>@<dataset>`` (:func:`measurement_for`).

:func:`claims` builds every claim (verdicts of the internal checks are computed here, from
the data in :mod:`fernb.papers`); :func:`ledger` joins them with the measurements into one
row per claim and check. Which sections are covered: both abstracts, every results table
(HAFEM Tables 1–3, LANMSFF Tables II–XII), the numbers of both results sections' text and of
HAFEM's conclusion (LANMSFF's conclusion states none), and the methods' checkable numbers
(HAFEM §3's parameter counts and its device claims; LANMSFF §III's feature width, §IV-A's
dataset sizes, the 358K parameters).

Pure data and pure functions: nothing here imports the rest of :mod:`fernb`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import pandas as pd

from . import checks as ck
from . import datasets as ds
from . import hafem, lanmsff, published

__all__ = ["Check", "Claim", "claims", "ledger", "measurement_verdict", "measurement_for", "LEDGER_COLUMNS",
           "MEASUREMENT_NEEDS", "LEAKY_DATASETS",
           "HEADLINE_CLAIMS", "printed_numbers"]

LEDGER_COLUMNS = ("id", "paper", "where", "section", "claim", "stated", "dataset", "kind", "verdict", "evidence",
                  "ours", "ours_low", "ours_high", "seeds", "scale", "headline")

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

# Datasets whose test split shares images with its training split (byte-identical and near copies,
# notebook 00; fernb.evaluate.leakage): their accuracy claims get a second, leak-free measurement.
LEAKY_DATASETS = ("fer2013", "ferplus")

_HAFEM, _LANMSFF = "HAFEM", "LANMSFF"
_PRINT = {"anger": "An", "disgust": "Di", "fear": "Fe", "happy": "Ha", "sad": "Sa", "surprise": "Su",
          "neutral": "Ne", "contempt": "Co"}


@dataclass(frozen=True)
class Check:
    """One check of a claim: its ``kind`` (:data:`fernb.papers.checks.KINDS`), and either a
    ``verdict`` with its ``evidence`` (internal checks) or a measurement ``key`` (filled by
    :func:`ledger` from what the pipeline measured)."""

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


def _c(verdict_evidence: tuple[str, str]) -> Check:
    return Check("consistency", *verdict_evidence)


def _p(stated: float, dataset: str) -> Check:
    return Check("plausibility", *ck.check_plausible(stated, dataset, published.STATE_OF_THE_ART))


def _m(key: str) -> Check:
    return Check("measurement", key=key)


def _fmt_row(columns, values) -> str:
    return ", ".join(f"{_PRINT.get(c, c)} {v}" for c, v in zip(columns, values) if v is not None)


def _fer2013_supports(cls: str) -> dict[str, int]:
    counts = ds.SPLIT_COUNTS["fer2013"]
    return {f"FER2013 {split}": counts[split][cls] for split in ("PrivateTest", "PublicTest")}


def _ferplus_supports(cls: str) -> dict[str, int]:
    rules = ds.SPLIT_COUNTS["ferplus"]
    return {f"FERPlus test ({rule} rule)": rules[rule]["test"][cls] for rule in ("majority", "ferplus")}


# --------------------------------------------------------------------------- HAFEM
def _hafem_claims() -> list[Claim]:
    out: list[Claim] = []
    t3, t1 = hafem.TABLE3, hafem.TABLE1
    c = hafem.CLAIMS
    add = out.append
    # abstract
    for name, key in (("fer2013", "FER2013"), ("rafdb", "RAF-DB"), ("affectnet", "AffectNet"), ("ferplus", "FERPlus")):
        value = c[name]["accuracy"]
        cks = [_p(value, name), _m("accuracy:hafem")]
        if name == "fer2013":
            cks.insert(0, _c(ck.check_equal(value, t3["HAFEM"]["accuracy"], "abstract vs Table 3")))
        add(Claim(f"hafem-abstract-{name}", _HAFEM, "abstract", "abstract", f"state-of-the-art accuracy on {key}",
                  f"{value} %", name, tuple(cks), value))
    add(Claim("hafem-abstract-fps", _HAFEM, "abstract", "abstract", "about 52 FPS on an RTX 3090",
              f"{c['fps']['value']} FPS", None,
              (_c(ck.check_equal(c["fps"]["value"], t3["HAFEM"]["fps"], "abstract vs Table 3 FPS")), _m("fps:hafem"))))
    others = [k for k in t3 if k != "HAFEM"]
    add(Claim("hafem-abstract-ttest", _HAFEM, "abstract", "abstract",
              f"paired t-test p < {c['statistics']['p_below']:g}: better than all {c['statistics']['baselines']} competing "
              "methods (precision, recall, F1, AUC)", f"{c['statistics']['baselines']} methods",
              "fer2013", (Check("consistency", "inconsistent" if len(others) != c["statistics"]["baselines"] else "consistent",
                                f"Table 3 lists {len(others)} methods besides HAFEM; the claim names "
                                f"{c['statistics']['baselines']}"),
                          _m("statistics:hafem_vs_baselines"))))
    add(Claim("hafem-abstract-auc", _HAFEM, "abstract", "abstract", "AUC reaching 0.982", "0.982", "fer2013",
              (_c(ck.check_equal(0.982, t3["HAFEM"]["auc"], "abstract vs Table 3 AUC")),)))
    # Table 1
    t3_by_method = {"ResNet-50+SVM": "ResNet-50", "CNN+LSTM": "CNN+LSTM", "VGGFace2 Transfer": "VGGFace2 TL",
                    "GAN Augmentation": "GAN-Aug", "ViT Transformer": "ViT-Base", "EfficientNet-B4": "EfficientNet-B4",
                    "Swin Transformer": "Swin-T", "Cross-Attention": "Cross-Attn", "DualPath CNN": "DualPath CNN"}
    for row in t1:
        cks = []
        if row["dataset"] != "multiple":
            cks.append(_p(row["accuracy"], row["dataset"]))
        twin = t3_by_method.get(row["method"])
        if twin is not None:
            same = t3[twin]["accuracy"] == row["accuracy"]
            if row["dataset"] == "fer2013":
                cks.append(_c(ck.check_equal(row["accuracy"], t3[twin]["accuracy"], f"Table 1 vs Table 3 ({twin}, FER2013)")))
            else:
                cks.append(Check("consistency", "inconsistent" if same else "consistent",
                                 f"Table 1 gives {row['accuracy']} on {row['dataset']}; Table 3 gives {twin} "
                                 f"{t3[twin]['accuracy']} on FER2013" + (" — the same number for another dataset"
                                                                         if same else "")))
        if row["method"] == "HAFEM (ours)":
            cks.append(_c(ck.check_equal(row["accuracy"], t3["HAFEM"]["accuracy"], "Table 1 'Multiple' vs Table 3 FER2013")))
        add(Claim(f"hafem-table1-{row['method']}", _HAFEM, "Table 1", "results",
                  f"{row['method']} {row['ref'] or '(no reference)'} ({row['year']}) on {row['dataset']}",
                  f"{row['accuracy']} %", None if row["dataset"] == "multiple" else row["dataset"], tuple(cks),
                  row["accuracy"]))
    # Table 2
    fer_total = sum(ds.split_total("fer2013", s) for s in ("Training", "PublicTest", "PrivateTest"))
    for row in hafem.TABLE2:
        name, cks = row["dataset"], []
        if name in ("fer2013", "ferplus"):
            cks.append(_c(ck.check_equal(row["count"], fer_total, f"{name} images vs FER2013's three splits")))
            classes = 7 if name == "fer2013" else 8
            cks.append(_c(ck.check_equal(row["classes"], classes, f"{name} classes")))
        else:
            facts = published.DATASET_FACTS[name]
            count_key = "sequences" if row["unit"] == "sequences" else "images"
            cks.append(Check("consistency", "consistent" if facts.get(count_key) == row["count"] and
                             facts["classes"] == row["classes"] else "inconsistent",
                             f"publisher: {facts.get(count_key)} {count_key}, {facts['classes']} classes; "
                             f"{facts['subset']} ({facts['source']})"))
        add(Claim(f"hafem-table2-{name}", _HAFEM, "Table 2", "results", f"{name}: size and classes",
                  f"{row['count']} {row['unit']}, {row['classes']} classes"
                  + (f", {row['subjects']} subjects" if row["subjects"] else ""), name, tuple(cks)))
    # Table 3
    t1_twins = {v: k for k, v in t3_by_method.items()}
    for method, row in t3.items():
        cks = [_c(ck.check_f1(row["precision"], row["recall"], row["f1"], f"{method} F1")), _p(row["accuracy"], "fer2013")]
        t1_row = next((r for r in t1 if r["method"] == t1_twins.get(method)), None)
        if t1_row is not None and t1_row["dataset"] != "fer2013" and t1_row["accuracy"] == row["accuracy"]:
            cks.append(Check("consistency", "inconsistent",
                             f"{row['accuracy']} is Table 1's figure for {t1_row['method']} on {t1_row['dataset']}, "
                             "printed here as FER2013"))
        cks.append(_m("accuracy:hafem" if method == "HAFEM" else f"accuracy:{method}"))
        add(Claim(f"hafem-table3-{method}", _HAFEM, "Table 3", "results", f"{method} on FER2013",
                  f"acc {row['accuracy']}, P {row['precision']}, R {row['recall']}, F1 {row['f1']}, AUC {row['auc']}, "
                  f"{row['fps']} FPS", "fer2013", tuple(cks), row["accuracy"]))
    # §4 text
    add(Claim("hafem-s4-lead", _HAFEM, "§4 text", "results", "3.5 % above the best competitor (DualPath CNN, 91.2 %)",
              "3.5 pt", "fer2013",
              (_c(ck.check_difference(t3["HAFEM"]["accuracy"], t3["DualPath CNN"]["accuracy"], 3.5, "Table 3")),)))
    happy_all = {f"FER2013 {s}": ds.SPLIT_COUNTS["fer2013"][s]["happy"] for s in ("Training", "PublicTest", "PrivateTest")}
    happy_all["FER2013 all"] = sum(happy_all.values())
    add(Claim("hafem-s4-happy", _HAFEM, "§4 text (Figure 2)", "results", "Happy: F1 97.9 %, AUC 0.996, 3287 samples",
              "F1 97.9, AUC 0.996, n 3287", "fer2013",
              (Check("consistency", "inconsistent" if 3287 not in happy_all.values() else "consistent",
                     "FER2013's happy images per split: " + ", ".join(f"{k} {v}" for k, v in happy_all.items())
                     + "; none is 3287"),)))
    add(Claim("hafem-s4-contempt", _HAFEM, "§4 text (Figure 2)", "results",
              "Contempt: F1 89.2 %, AUC 0.963, 312 instances (on FER2013)", "F1 89.2, AUC 0.963, n 312", "fer2013",
              (Check("consistency", "inconsistent", "FER2013 has no contempt class (7 classes; "
                     "fernb/papers/datasets.py counts every split); F1 89.2 and AUC 0.963 are Table 3's Cross-Attn "
                     f"figures ({t3['Cross-Attn']['f1']}, {t3['Cross-Attn']['auc']})"),)))
    add(Claim("hafem-s4-dls", _HAFEM, "§4 text", "results",
              "DLS raises F1 over CE only: disgust +4.1 pt, contempt +5.7 pt", "+4.1, +5.7 pt", "fer2013",
              (Check("consistency", "inconsistent", "contempt is not a FER2013 class, so its +5.7 pt has no test images"),
               _m("ablation:loss_gain:disgust"))))
    ab = c["ablation_fer2013"]
    names = list(ab)
    steps = {"EfficientNet-B5": 12.8, "+Transformer": 4.4, "+CBAM": 3.2, "+compound loss": 2.9}
    for prev, step in zip(names[:-1], names[1:]):
        add(Claim(f"hafem-fig3-{step}", _HAFEM, "Figure 3 / §4 text", "results",
                  f"ablation step {prev} → {step}: +{steps[step]} pt", f"{ab[prev]} → {ab[step]} (+{steps[step]} pt)",
                  "fer2013", (_c(ck.check_difference(ab[step], ab[prev], steps[step], "Figure 3")),
                              _m(f"ablation:hafem_components:{step}"))))
    add(Claim("hafem-fig3-ends", _HAFEM, "Figure 3", "results", "the ladder starts at ResNet-50 71.4 and ends at 94.7",
              f"{ab['ResNet-50']} … {ab['+compound loss']}", "fer2013",
              (_c(ck.check_equal((ab["ResNet-50"], ab["+compound loss"]),
                                 (t3["ResNet-50"]["accuracy"], t3["HAFEM"]["accuracy"]), "Figure 3 vs Table 3")),)))
    zs = c["zero_shot_from_fer2013"]
    cross = published.CROSS_DATASET[0]
    for target, value in zs.items():
        ref = published.STATE_OF_THE_ART[target]
        verdict = "implausible" if value > ref["best"] - 5 else "plausible"
        add(Claim(f"hafem-s4-zeroshot-{target}", _HAFEM, "§4 text", "results",
                  f"zero-shot FER2013 → {target}: {value} %", f"{value} %", target,
                  (Check("plausibility", verdict,
                         f"{value} % zero-shot against the best in-domain (trained on {target}) {ref['best']} % "
                         f"({ref['source']}); published cross-dataset FER with adaptation reaches "
                         f"{cross['low']:g}–{cross['high']:g} % ({cross['source']} → {cross['target']})"),
                   _m(f"zero_shot:{target}")), value))
    ft = c["finetune_from_fer2013"]["rafdb"]
    add(Claim("hafem-s4-finetune", _HAFEM, "§4 text", "results", "fine-tuned 20 epochs on RAF-DB: 95.1 %",
              f"{ft['accuracy']} %", "rafdb",
              (_c(ck.check_equal(ft["accuracy"], c["rafdb"]["accuracy"], "§4 fine-tuned vs abstract RAF-DB")),
               _p(ft["accuracy"], "rafdb"), _m("zero_shot:rafdb_finetuned")), ft["accuracy"]))
    st = c["statistics"]
    d_text = f"{min(st['cohen_d']):g}–{max(st['cohen_d']):g}"
    add(Claim("hafem-s4-cohen", _HAFEM, "§4 text", "results",
              f"paired t-tests vs all ten baselines p < {st['p_below']:g}, Cohen's d {d_text}",
              f"p < {st['p_below']:g}, d {d_text}", "fer2013",
              (Check("plausibility", "implausible" if _cohen_ceiling(t3) < min(st["cohen_d"]) else "plausible",
                     _cohen_evidence(t3, min(st["cohen_d"]))),
               _m("statistics:stated_effect"), _m("statistics:hafem_vs_baselines"))))
    for (true, pred), value in c["confusions"].items():
        supports = _fer2013_supports(true)
        fits = {name: ck.support_fits(value, n) for name, n in supports.items()}
        ok = [name for name, k in fits.items() if k is not None]
        add(Claim(f"hafem-s4-confusion-{true}-{pred}", _HAFEM, "§4 text", "results",
                  f"{value} % of {true} classified as {pred}", f"{value} %", "fer2013",
                  (Check("consistency", "consistent" if ok else "inconsistent",
                         "; ".join(f"{name} ({supports[name]} {true} images): "
                                   + (f"{fits[name]}/{supports[name]} = {100 * fits[name] / supports[name]:.2f} %"
                                      if fits[name] is not None else f"no whole count gives {value} %")
                                   for name in supports)), _m(f"confusion:{true}:{pred}")), value))
    add(Claim("hafem-s4-interp-anger", _HAFEM, "§4 text", "results", "Grad-CAM: anger on the brow (AU4) and AU24",
              "AU4, AU24", None, (_m("interpretability:anger"),)))
    add(Claim("hafem-s4-interp-happy", _HAFEM, "§4 text", "results", "Grad-CAM: happy on AU6 and AU12 (Duchenne)",
              "AU6, AU12", None, (_m("interpretability:happy"),)))
    # §5 conclusion
    add(Claim("hafem-s5-fps", _HAFEM, "§5", "conclusion", "52 FPS against 44 FPS for the second-best method",
              "52 vs 44 FPS", None,
              (Check("consistency", "inconsistent" if 44 not in [t3[m]["fps"] for m in others] else "consistent",
                     f"Table 3: the second-best accuracy (DualPath CNN) runs at {t3['DualPath CNN']['fps']} FPS, the "
                     f"fastest competitor (ResNet-50) at {max(t3[m]['fps'] for m in others)}; no method has 44"),)))
    add(Claim("hafem-s5-loss", _HAFEM, "§5", "conclusion", "the compound loss adds 2.9 pt over cross-entropy",
              "+2.9 pt", "fer2013",
              (_c(ck.check_difference(ab["+compound loss"], ab["+CBAM"], 2.9, "Figure 3 last step")),
               _m("ablation:hafem_components:+compound loss"))))
    add(Claim("hafem-s5-margins", _HAFEM, "§5", "conclusion", "minority-class margins of 3.8–5.7 %", "3.8–5.7 %",
              "fer2013", (Check("consistency", "inconsistent", "§4 states +4.1 (disgust) and +5.7 (contempt): the lower "
                                "end 3.8 is stated nowhere else"),)))
    add(Claim("hafem-s5-rafdb", _HAFEM, "§5", "conclusion", "95.1 % on RAF-DB without fine-tuning",
              f"{c['conclusion_rafdb_without_finetuning']} %", "rafdb",
              (Check("consistency", "inconsistent", f"§4: 95.1 % is RAF-DB *after* 20 epochs of fine-tuning; "
                     f"zero-shot it states {zs['rafdb']} %"), _m("zero_shot:rafdb")), 95.1))
    # §3 methods: parameter arithmetic and devices
    add(Claim("hafem-s3-transformer", _HAFEM, "§3", "methods",
              "6 Transformer layers (d 2048, 8 heads, d_ff 4096): 31.2M parameter overhead", "31.2M", None,
              (_m("params:transformer_layer"),)))
    add(Claim("hafem-s3-backbone", _HAFEM, "§3", "methods", "EfficientNet-B5 has 30.4M parameters", "30.4M", None,
              (_m("params:efficientnet_b5"),)))
    add(Claim("hafem-s1-jetson", _HAFEM, "§1 contribution (v)", "methods",
              "52 FPS on edge devices such as the Jetson Xavier NX", "52 FPS", None,
              (Check("consistency", "inconsistent", "the abstract and Table 3 give the same 52 FPS for an RTX 3090 "
                     "(35.6 TFLOPS FP32); a Jetson Xavier NX has a small fraction of its compute"),)))
    return _mark(out, HEADLINE_CLAIMS)


def _cohen_ceiling(t3) -> float:
    """The largest per-image Cohen's d_z Table 3's widest accuracy gap allows: √(Δ/(1−Δ))
    (the pairs being test images scored correct or wrong; :func:`fernb.evaluate.stats.max_dz_per_image`)."""
    gap = max(t3["HAFEM"]["accuracy"] - r["accuracy"] for m, r in t3.items() if m != "HAFEM") / 100
    return math.sqrt(gap / (1 - gap))


def _cohen_evidence(t3, d_low: float) -> str:
    gaps = {m: t3["HAFEM"]["accuracy"] - r["accuracy"] for m, r in t3.items() if m != "HAFEM"}
    widest = max(gaps, key=gaps.get)
    return (f"if the pairs were test images (correct/wrong), d_z ≤ √(Δ/(1−Δ)): at most {_cohen_ceiling(t3):.2f} for "
            f"the widest gap ({widest}, {gaps[widest]:.1f} pt), and d {d_low:g} needs a "
            f"{100 * d_low ** 2 / (1 + d_low ** 2):.0f}-point gap; the runs the other reading needs are the "
            "measurement row; the paper never says what was paired")


# --------------------------------------------------------------------------- LANMSFF
def _lanmsff_claims() -> list[Claim]:
    out: list[Claim] = []
    add = out.append
    T = lanmsff.TABLES
    c = lanmsff.CLAIMS
    # abstract
    for name, table, label in (("kdef", "II", "KDEF"), ("fer2013", "IV", "FER-2013"), ("ferplus", "VII", "FERPlus")):
        value = c[name]["accuracy"]
        t = T[table]
        overall = t["values"][t["index"].index("overall")][0]
        cks = [_c(ck.check_equal(value, overall, f"abstract vs Table {table}"))]
        if name != "kdef":
            cks.append(_p(value, name))
        cks.append(_m("accuracy:lanmsff"))
        add(Claim(f"lanmsff-abstract-{name}", _LANMSFF, "abstract", "abstract", f"accuracy on {label}", f"{value} %",
                  name, tuple(cks), value))
    add(Claim("lanmsff-params", _LANMSFF, "Tables VI, IX", "results", "358K parameters", "358K", None,
              (_m("params:lanmsff"),)))
    add(Claim("lanmsff-s3-width", _LANMSFF, "§III-A", "methods", "the fused feature vector has 156 nodes", "156", None,
              (_m("params:lanmsff_width"),)))
    # §IV-A datasets
    kdef = published.DATASET_FACTS["kdef"]
    add(Claim("lanmsff-s4a-kdef", _LANMSFF, "§IV-A", "methods", "KDEF: 4900 images, 70 actors, 5 angles", "4900", "kdef",
              (_c(ck.check_equal(4900, kdef["actors"] * kdef["classes"] * kdef["poses"] * kdef["sessions"],
                                 "70 actors × 7 expressions × 5 angles × 2 sessions")),)))
    fer = ds.SPLIT_COUNTS["fer2013"]
    stated = {"anger": 4953, "disgust": 547, "fear": 5121, "happy": 8989, "surprise": 4002, "sad": 6077, "neutral": 6198}
    totals = {k: sum(fer[s][k] for s in fer) for k in stated}
    add(Claim("lanmsff-s4a-fer2013", _LANMSFF, "§IV-A", "methods",
              "FER-2013: 35887 images (per-class counts), 28,709 train, 7,178 test (half validation)",
              "35887; " + ", ".join(f"{k} {v}" for k, v in stated.items()), "fer2013",
              (_c(ck.check_equal(stated, totals, "class counts vs FER2013's files")),
               _c(ck.check_equal((28709, 7178), (ds.split_total("fer2013", "Training"),
                                                 ds.split_total("fer2013", "PublicTest") + ds.split_total("fer2013", "PrivateTest")),
                                 "train / test sizes")))))
    fp = ds.SPLIT_COUNTS["ferplus"]
    sizes = {rule: tuple(sum(fp[rule][s].values()) for s in ("train", "val", "test")) for rule in ("majority", "ferplus")}
    sizes["images"] = tuple(fp["images"][s] if isinstance(fp["images"][s], int) else sum(fp["images"][s].values())
                            for s in ("train", "val", "test"))
    hit = [r for r, v in sizes.items() if v == (25371, 3225, 3160)]
    add(Claim("lanmsff-s4a-ferplus", _LANMSFF, "§IV-A", "methods",
              "FERPlus (majority label): 25,371 train, 3,225 validation, 3,160 test", "25371 / 3225 / 3160", "ferplus",
              (Check("consistency", "consistent" if hit else "inconsistent",
                     "FERPlus' files give " + "; ".join(f"{r}: {v[0]} / {v[1]} / {v[2]}" for r, v in sizes.items())
                     + ("" if hit else "; no labelling rule gives the stated sizes")),)))
    # Table II: per pose and class on KDEF (140 images per pose and class, 700 per class)
    t = T["II"]
    classes = t["columns"][1:]
    for label, values in zip(t["index"], t["values"]):
        whole, per = values[0], values[1:]
        n = 700 if label == "overall" else 140
        bad = [f"{_PRINT[k]} {v}" for k, v in zip(classes, per) if ck.support_fits(v, n, 2) is None]
        cks = [_c(ck.check_mean(per, whole, "whole = mean of the 7 balanced classes", 2)),
               Check("consistency", "inconsistent" if bad else "consistent",
                     f"KDEF has {n} images per class {'over all poses' if n == 700 else 'at each pose'} (70 actors × 2 "
                     f"sessions{' × 5 angles' if n == 700 else ''}): " + (f"{len(bad)} of 7 cells are no whole count "
                                                                            f"of them ({', '.join(bad)})" if bad else
                                                                            "every cell is a whole count"))]
        if label == "overall":
            poses = [row[0] for lab, row in zip(t["index"], t["values"]) if lab != "overall"]
            cks.append(_c(ck.check_mean(poses, whole, "overall = mean of the 5 balanced poses", 2)))
        add(Claim(f"lanmsff-table2-{label}", _LANMSFF, "Table II", "results", f"KDEF accuracy at pose {label}",
                  _fmt_row(t["columns"], values), "kdef", tuple(cks + [_m(f"pose:kdef:{label}")]), whole))
    # Tables III, V, VIII: confusion matrices
    diag_ref = {"III": ("II", "KDEF"), "V": ("IV", "FER-2013"), "VIII": ("VII", "FERPlus")}
    for table in ("III", "V", "VIII"):
        t = T[table]
        ref_name, label = diag_ref[table]
        ref = T[ref_name]
        overall = dict(zip(ref["columns"], ref["values"][ref["index"].index("overall")]))
        diag = [row[i] for i, row in enumerate(t["values"])]
        ref_order = [overall[k] for k in t["index"]]
        by_position = [overall[k] for k in ref["columns"][1:]]
        if all(ck.matches(a, b, 2) for a, b in zip(diag, ref_order)):
            dv = _c(("consistent", f"the diagonal equals Table {ref_name}'s overall row class by class"))
        elif all(abs(a - b) < 1e-9 for a, b in zip(diag, by_position)):
            dv = Check("consistency", "inconsistent",
                       f"the diagonal ({', '.join(map(str, diag))}) is Table {ref_name}'s overall row in Table "
                       f"{ref_name}'s column order ({', '.join(_PRINT[k] for k in ref['columns'][1:])}), but the rows "
                       f"are labelled {', '.join(_PRINT[k] for k in t['index'])}: the labels are misplaced")
        else:
            diffs = ", ".join(f"{_PRINT[k]} {a} vs {b}" for k, a, b in zip(t["index"], diag, ref_order) if a != b)
            dv = Check("consistency", "inconsistent", f"the diagonal differs from Table {ref_name}'s overall row: {diffs}")
        add(Claim(f"lanmsff-table{table.lower()}-diagonal", _LANMSFF, f"Table {table}", "results",
                  f"{label} confusion matrix: per-class accuracy on the diagonal", ", ".join(map(str, diag)),
                  {"III": "kdef", "V": "fer2013", "VIII": "ferplus"}[table], (dv,)))
        for cls, row in zip(t["index"], t["values"]):
            cells = dict(zip(t["columns"], row))
            cks = [_c(ck.check_rows(cells, f"row {_PRINT[cls]}", 2))]
            if table == "III":
                cks.append(_c(ck.check_confusion_row(row, f"row {_PRINT[cls]}", {"KDEF": 700}, 2)))
            elif table == "V":
                # the row's true class, read both ways: as printed, and as the diagonal says (Table IV's order)
                true_by_diag = ref["columns"][1:][t["index"].index(cls)]
                cks.append(_c(ck.check_confusion_row(row, f"row labelled {_PRINT[cls]}", _fer2013_supports(cls), 2)))
                if true_by_diag != cls:
                    cks.append(_c(ck.check_confusion_row(row, f"row read as {_PRINT[true_by_diag]} (its diagonal's class)",
                                                         _fer2013_supports(true_by_diag), 2)))
            else:
                cks.append(_c(ck.check_confusion_row(row, f"row {_PRINT[cls]}", _ferplus_supports(cls), 2)))
            add(Claim(f"lanmsff-table{table.lower()}-{cls}", _LANMSFF, f"Table {table}", "results",
                      f"{label} confusion row {_PRINT[cls]} (normalised %)", _fmt_row(t["columns"], row),
                      {"III": "kdef", "V": "fer2013", "VIII": "ferplus"}[table], tuple(cks)))
    # Tables IV and VII: per class, with pose subsets
    split_sizes = {"fer2013": {"FER2013 PrivateTest": ds.SPLIT_COUNTS["fer2013"]["PrivateTest"],
                               "FER2013 PublicTest": ds.SPLIT_COUNTS["fer2013"]["PublicTest"]},
                   "ferplus": {f"FERPlus test ({rule} rule)": ds.SPLIT_COUNTS["ferplus"][rule]["test"]
                               for rule in ("majority", "ferplus")}}
    for table, name in (("IV", "fer2013"), ("VII", "ferplus")):
        t = T[table]
        classes = t["columns"][1:]
        for label, values in zip(t["index"], t["values"]):
            whole, per = values[0], values[1:]
            cks = []
            if label == "overall":
                # read against each candidate test split; the first that fits is named
                found = None
                for split, counts in split_sizes[name].items():
                    weights = [counts[k] for k in classes]
                    mean = ck.check_weighted_mean(per, weights, whole, split, 2)
                    bad = [f"{_PRINT[k]} {v}" for k, v in zip(classes, per) if ck.support_fits(v, counts[k], 2) is None]
                    whole_counts = ("inconsistent" if bad else "consistent",
                                    f"{split}: " + ("every class accuracy is a whole count of its test images" if not bad
                                                    else f"not whole counts of the class's test images: {', '.join(bad)}"))
                    score = (mean[0] == "consistent") + (whole_counts[0] == "consistent")
                    if found is None or score > found[2]:
                        found = (mean, whole_counts, score)
                cks += [_c(found[0]), _c(found[1])]
                cks.append(_m("accuracy:lanmsff"))
            else:
                smallest = {k: ck.smallest_support([v], 2, max_n=2000) for k, v in zip(classes, per)}
                cks.append(Check("consistency", "not testable here",
                                 f"the pose subsets' class sizes are not published; the smallest class sizes these "
                                 f"cells allow: {', '.join(f'{_PRINT[k]} {v}' for k, v in smallest.items())}"))
                cks.append(_m(f"pose:lanmsff:{label}"))
            add(Claim(f"lanmsff-table{table.lower()}-{label}", _LANMSFF, f"Table {table}", "results",
                      f"{name} accuracy, pose {label}", _fmt_row(t["columns"], values), name, tuple(cks), whole))
    text_low = {"disgust", "neutral"}
    t4 = dict(zip(T["IV"]["columns"][1:], T["IV"]["values"][T["IV"]["index"].index("overall")][1:]))
    lowest = sorted(t4, key=t4.get)[:2]
    add(Claim("lanmsff-s4c-fer-low", _LANMSFF, "§IV-C2 text", "results",
              "FER-2013: low recognition rates for Disgust and Neutral", "Di, Ne", "fer2013",
              (Check("consistency", "consistent" if set(lowest) == text_low else "inconsistent",
                     f"Table IV's two lowest are {', '.join(f'{_PRINT[k]} {t4[k]}' for k in lowest)}; Di is "
                     f"{t4['disgust']}, Ne {t4['neutral']} (Table V's misplaced labels put Di and Ne on these "
                     "diagonal cells)"),)))
    # Tables VI, IX: information density
    for table, name in (("VI", "fer2013"), ("IX", "ferplus")):
        t = T[table]
        for method, (acc, params_k, density) in zip(t["index"], t["values"]):
            cks = [_c(ck.check_density(acc, params_k, density, method))]
            if method != "LANMSFF":
                cks.append(_p(acc, name))
            add(Claim(f"lanmsff-table{table.lower()}-{method}", _LANMSFF, f"Table {table}", "results",
                      f"{method} on {name}: accuracy, parameters, ID", f"{acc} %, {params_k}K, ID {density}", name,
                      tuple(cks), acc))
    t6 = dict(zip(T["VI"]["index"], T["VI"]["values"]))
    add(Claim("lanmsff-s4c-ampnet", _LANMSFF, "§IV-C2 text", "results",
              "AMP_NET: 4 % more accurate with 276 times more parameters", "4 pt, 276×", "fer2013",
              (_c(ck.check_difference(t6["AMP_NET"][0], t6["LANMSFF"][0], 4, "Table VI accuracy", slack=0.5)),
               _c(ck.check_ratio(t6["AMP_NET"][1], t6["LANMSFF"][1], 276, "Table VI parameters")))))
    t9 = dict(zip(T["IX"]["index"], T["IX"]["values"]))
    for method, times in (("FENN", 30), ("PACVT", 74)):
        add(Claim(f"lanmsff-s4c-{method}", _LANMSFF, "§IV-C3 text", "results",
                  f"{method}: about 3 % more accurate with {times} times more parameters", f"3 pt, {times}×", "ferplus",
                  (_c(ck.check_difference(t9[method][0], t9["LANMSFF"][0], 3, "Table IX accuracy", slack=0.5)),
                   _c(ck.check_ratio(t9[method][1], t9["LANMSFF"][1], times, "Table IX parameters")))))
    # Table X: KDEF per pose and Var
    t = T["X"]
    for method, values in zip(t["index"], t["values"]):
        poses, var = values[:5], values[5]
        cks = [_c(ck.check_variance(poses, var, f"{method} Var over the 5 poses"))]
        if method == "LANMSFF":
            t2 = [r[0] for lab, r in zip(T["II"]["index"], T["II"]["values"]) if lab != "overall"]
            cks.append(_c(ck.check_equal(tuple(poses), tuple(t2), "Table X vs Table II")))
            cks.append(_m("pose:kdef:variance"))
        add(Claim(f"lanmsff-tablex-{method}", _LANMSFF, "Table X", "results", f"{method} on KDEF per pose, Var",
                  _fmt_row(t["columns"], values), "kdef", tuple(cks)))
    tx = dict(zip(t["index"], t["values"]))
    oca = tx["OCA-MTL"]
    add(Claim("lanmsff-s4c-ocamtl", _LANMSFF, "§IV-C4 text", "results",
              "OCA-MTL 89.04 %, 1.73 % below LANMSFF", "89.04 %, 1.73 pt", "kdef",
              (_c(ck.check_mean(oca[:5], 89.04, "OCA-MTL's 5 poses", 2)),
               _c(ck.check_difference(c["kdef"]["accuracy"], 89.04, 1.73, "90.77 − 89.04")))))
    # Table XI: Pose-FERPlus
    t = T["XI"]
    for method, values in zip(t["index"], t["values"]):
        numbers, var = [v for v in values[:3] if v is not None], values[3]
        cks = ([_c(ck.check_variance(numbers, var, f"{method} Var over ≥30°, ≥45°, overall"))] if var is not None else
               [Check("consistency", "not testable here", "Var not printed")])
        if method != "LANMSFF" and values[2] is not None:
            cks.append(_p(values[2], "ferplus"))
        if method == "LANMSFF":
            t7 = [r[0] for r in T["VII"]["values"]]
            cks.append(_c(ck.check_equal(tuple(values[:3]), tuple(t7), "Table XI vs Table VII")))
        add(Claim(f"lanmsff-tablexi-{method}", _LANMSFF, "Table XI", "results", f"{method} on Pose-FERPlus, Var",
                  _fmt_row(t["columns"], values), "ferplus", tuple(cks)))
    # Table XII: ablation on KDEF
    t = T["XII"]
    rows = dict(zip(t["index"], t["values"]))
    for variant, values in rows.items():
        poses, overall, var = values[:5], values[5], values[6]
        cks = [_c(ck.check_mean(poses, overall, "overall = mean of the 5 poses", 2)),
               _c(ck.check_variance(poses, var, f"{variant} Var over the 5 poses")),
               _m(f"ablation:lanmsff_modules:{variant}")]
        add(Claim(f"lanmsff-tablexii-{variant}", _LANMSFF, "Table XII", "results", f"ablation {variant} on KDEF",
                  _fmt_row(t["columns"], values), "kdef", tuple(cks), overall))
    w = rows["whole"]
    for variant, stated, text in (("-PWFS", 0.4, "removing PWFS raises Var by 0.4"),
                                  ("-MassAtt", 1.94, "removing MassAtt raises Var by 1.94"),
                                  ("-both", 1.0, "removing both raises Var by 1 point")):
        add(Claim(f"lanmsff-s4e-var{variant}", _LANMSFF, "§IV-E text", "results", text, f"+{stated}", "kdef",
                  (_c(ck.check_difference(rows[variant][6], w[6], stated, "Table XII Var",
                                          slack=0.05 if stated in (0.4, 1.0) else 0.0)),
                   _m(f"ablation:lanmsff_modules:{variant}"))))
    better = [v for v in ("-PWFS", "-MassAtt") if rows[v][5] > w[5]]
    add(Claim("lanmsff-s4e-contribute", _LANMSFF, "§IV-E text", "results",
              "both modules improve LANMSFF's performance on multi-view poses (removing both lowers accuracy)",
              f"whole {w[5]} vs -both {rows['-both'][5]}", "kdef",
              (Check("consistency", "inconsistent" if better else "consistent",
                     f"Table XII: removing both lowers the overall accuracy ({w[5]} → {rows['-both'][5]}), but "
                     + ", ".join(f"{v} is more accurate than the whole model ({rows[v][5]} > {w[5]})" for v in better)),
               _m("ablation:lanmsff_modules:-both"))))
    return _mark(out, HEADLINE_CLAIMS)


# The claims whose flags the front page shows first: each paper's central numbers and its findings
# with the widest reach (a table built from other datasets' numbers, a test set that matches no split).
HEADLINE_CLAIMS = frozenset({
    "hafem-abstract-fer2013", "hafem-abstract-rafdb", "hafem-abstract-affectnet", "hafem-s4-cohen",
    "hafem-table3-DualPath CNN", "hafem-s4-contempt", "hafem-s5-rafdb", "hafem-s3-transformer",
    "lanmsff-tablev-diagonal", "lanmsff-s4a-ferplus", "lanmsff-tablexii-whole", "lanmsff-s4e-contribute",
    "lanmsff-tablevii-overall", "lanmsff-s4c-ampnet"})


def _mark(found: list[Claim], names: frozenset) -> list[Claim]:
    return [replace(c, headline=True) if c.id in names else c for c in found]


def _with_leakfree(claim: Claim) -> Claim:
    """``claim`` with a leak-free measurement after each ``accuracy:<model>`` check when its
    dataset is one of :data:`LEAKY_DATASETS` (neither paper mentions the leak)."""
    if claim.dataset not in LEAKY_DATASETS:
        return claim
    checks = []
    for check in claim.checks:
        checks.append(check)
        if check.key is not None and check.key.startswith("accuracy:"):
            checks.append(_m("accuracy_leakfree:" + check.key.split(":", 1)[1]))
    return replace(claim, checks=tuple(checks))


def claims() -> list[Claim]:
    """Every claim of both papers, with its checks (internal verdicts computed)."""
    out = [_with_leakfree(c) for c in _hafem_claims() + _lanmsff_claims()]
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


def measurement_verdict(claim: Claim, entry: Mapping) -> tuple[str, str]:
    """The verdict of one measurement. An entry that carries its own ``verdict`` keeps it
    (a direction or a count measured by notebooks 03–07). An accuracy (``ours``, ``low``,
    ``high`` in %) on the claim's dataset: ``reproduced`` when the stated value lies inside
    our interval, ``not reproduced`` otherwise; on another dataset, ``not testable here``."""
    if entry.get("verdict"):
        return entry["verdict"], entry.get("evidence", "")
    ours, low, high = entry.get("ours"), entry.get("low"), entry.get("high")
    what = (f"ours {ours:.1f} % [{low:.1f}, {high:.1f}] on {entry.get('dataset')}, {entry.get('seeds')} seed(s), "
            f"{entry.get('scale')}" if ours is not None and low is not None else entry.get("evidence", ""))
    if entry.get("note") and what:
        what = f"{what}; {entry['note']}"
    if claim.value is None or ours is None or claim.dataset is None:
        return "not testable here", what
    if entry.get("dataset") != claim.dataset:
        return "not testable here", f"{what}: the claim is on {claim.dataset}"
    inside = low <= claim.value <= high
    return ("reproduced" if inside else "not reproduced",
            f"{what}; stated {claim.value} % is {'inside' if inside else 'outside'} the interval")


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
            row = {**base, "kind": check.kind, "verdict": check.verdict, "evidence": check.evidence, "ours": None,
                   "ours_low": None, "ours_high": None, "seeds": None, "scale": None}
            if check.key is not None:
                entry = measurement_for(measured, check.key, claim.dataset)
                if entry is None:
                    family = check.key.split(":")[0]
                    row.update(verdict="not testable here",
                               evidence=f"not measured here ({check.key}): needs {MEASUREMENT_NEEDS.get(family, 'a run')}")
                else:
                    verdict, evidence = measurement_verdict(claim, entry)
                    row.update(verdict=verdict, evidence=evidence, ours=entry.get("ours"), ours_low=entry.get("low"),
                               ours_high=entry.get("high"), seeds=entry.get("seeds"), scale=entry.get("scale"))
            rows.append(row)
    return pd.DataFrame(rows, columns=list(LEDGER_COLUMNS))
