"""Every model the pipeline trained, compared with every other on the same test images (notebook 06).

A comparison pairs two models on one test set, image by image, and over seeds where both
have runs with the same seed:

- :func:`pipeline_models`: the models the pipeline trained — HAFEM (stage 01), LANMSFF
  (stage 02) and every distinct variant of notebook 03's ablation ladders (variants that are
  the same configuration share one entry) — each with its runs' test predictions;
- :func:`check_same_images`: refuses a comparison of runs scored on different test images
  (another dataset, split or label rule), naming both;
- :func:`compare`: one pair: the accuracy and macro-F1 differences with paired bootstrap
  intervals over the test images (each model's seeds averaged on every resample), McNemar
  exact and mid-p on the per-image correct/wrong vectors pooled over the shared seeds, the
  per-image effect d_z, and — with two or more shared seeds — the paired t-test, Wilcoxon,
  d_z and d_av over seeds (:mod:`fernb.evaluate.stats`); with fewer, the reason instead of
  a number;
- :func:`comparison_table`: a family of pairs, Holm-adjusted within the family, with a
  plain verdict per row (:func:`comparison_verdict`);
- :func:`stated_effect_table`: HAFEM §4's "paired t-tests (p < 0.001) against all ten
  baselines, Cohen's d 0.95–2.84" re-enacted: what that d and p need (runs per baseline if
  the pairs were runs; the accuracy gap if they were test images) against the gaps Table 3
  states (:data:`fernb.papers.hafem.TABLE3`).

Around them, what notebook 06 shows so that its cells only call and display: the catalogue of
models (:func:`model_catalogue`), the floor of the Wilcoxon test and the seeds an effect needs
(:func:`wilcoxon_floor_table`, :func:`seeds_for_effects`), and each sentence it prints about the
comparisons (the ``*_text`` functions), every number in them computed.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fernb.evaluate.stats import (
    ALPHA,
    bootstrap_index,
    bootstrap_metric,
    gap_for_dz,
    holm,
    max_dz_per_image,
    mcnemar_test,
    paired_seed_test,
    paired_t_p,
    per_image_effect,
    percentile_interval,
    runs_for_p,
    seeds_needed,
)
from fernb.paths import project_root
from fernb.runs import read_predictions, stage_runs

__all__ = ["TrainedModel", "pipeline_models", "run_test_predictions", "check_same_images", "compare", "comparison_table",
           "comparison_verdict", "stated_effect_table", "families_of", "effect_ceiling", "ANCHORS", "COMPARISON_COLUMNS", "ABLATION_RUNS",
           "model_catalogue", "catalogue_text", "verdict_summary_text", "wilcoxon_floor_table", "seeds_for_effects",
           "stated_effect_text", "ours_effect_text"]

# notebook 03's table of its runs: one row per ladder, variant and seed, with the run folder
ABLATION_RUNS = Path("reports") / "03_ablations" / "tables" / "runs.csv"

COMPARISON_COLUMNS = ("family", "a", "b", "images", "seeds a", "seeds b", "shared seeds", "accuracy a %", "accuracy b %",
                      "Δ accuracy (pt)", "Δ low", "Δ high", "Δ macro-F1 (pt)", "Δ F1 low", "Δ F1 high",
                      "p McNemar (exact)", "p McNemar (mid-p)", "d_z (images)", "p t (seeds)", "p Wilcoxon (seeds)",
                      "Wilcoxon floor", "d_z (seeds)", "d_av (seeds)", "seed test", "p_holm (McNemar)",
                      "p_holm (t, seeds)", "verdict")


@dataclass
class TrainedModel:
    """One trained model: a display ``name``, where it comes from, its scale, and its runs'
    test predictions by seed (each sorted by the store's image index)."""

    name: str
    stage: str
    dataset: str
    scale: str
    runs: dict[int, pd.DataFrame] = field(repr=False)
    aliases: tuple[str, ...] = ()

    @property
    def seeds(self) -> list[int]:
        return sorted(self.runs)


def run_test_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """The test rows of one run's ``predictions.csv``, sorted by image index; refuses a file
    without test rows, naming it."""
    frame = read_predictions(path)
    missing = [c for c in ("label", "pred", "correct", "split", "dataset", "index") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not a predictions file (no column(s) {missing})")
    test = frame[frame["split"] == "test"].sort_values("index").reset_index(drop=True)
    if test.empty:
        raise ValueError(f"{path} holds no test predictions (splits: {sorted(frame['split'].unique())})")
    return test


def _scale(info: dict) -> str:
    kwargs = info.get("model_kwargs") or {}
    size = kwargs.get("img_size")
    return (f"{info.get('epochs_run')} epoch(s), {info.get('train_images')} training images"
            + (f", {size} px" if size else ""))


def pipeline_models(root: str | os.PathLike | None = None, stages: Sequence[str] = ("01_hafem", "02_lanmsff"),
                    ablations: bool = True) -> list[TrainedModel]:
    """HAFEM and LANMSFF as stages 01 and 02 trained them (all their seeds), then every distinct
    configuration notebook 03 trained (its ``tables/runs.csv``; variants that share a run
    folder, i.e. the same configuration, become one model whose ``aliases`` list them). A stage
    that has not run is left out; notebook 03's table is read only when present."""
    root = Path(root) if root is not None else project_root()
    labels = {"01_hafem": "HAFEM (01)", "02_lanmsff": "LANMSFF (02)"}
    models = []
    stage_dirs: dict[Path, TrainedModel] = {}      # run folder -> the stage model it belongs to
    for stage in stages:
        try:
            runs = stage_runs(stage, root)
        except FileNotFoundError:
            continue
        if not runs:
            continue
        info = runs[0].info()
        models.append(TrainedModel(name=labels.get(stage, stage), stage=stage, dataset=runs[0].dataset,
                                   scale=_scale(info), runs={r.seed: run_test_predictions(r.predictions_path) for r in runs}))
        stage_dirs.update({r.dir.resolve(): models[-1] for r in runs})
    table_path = root / ABLATION_RUNS
    if ablations and table_path.is_file():
        table = pd.read_csv(table_path, index_col=0)
        missing = [c for c in ("ladder", "variant", "seed", "key", "dir") if c not in table.columns]
        if missing:
            raise ValueError(f"{table_path}: expected notebook 03's runs table, it lacks column(s) {missing}")
        for _key, rows in table.groupby("key", sort=False):
            names = list(dict.fromkeys(f"{r.ladder}/{r.variant}" for r in rows.itertuples()))
            owner = next((stage_dirs[d] for d in ((root / x).resolve() for x in rows["dir"]) if d in stage_dirs), None)
            if owner is not None:
                # notebook 03 read this configuration back from stage 01 / 02: the same model, maybe more seeds
                for r in rows.drop_duplicates("seed").itertuples():
                    if int(r.seed) not in owner.runs:
                        owner.runs[int(r.seed)] = run_test_predictions(root / r.dir / "predictions.csv")
                owner.aliases = owner.aliases + tuple(n for n in names if n not in owner.aliases)
                continue
            first = rows.iloc[0]
            folder = root / first["dir"]
            info = json.loads((folder / "result.json").read_text())
            runs = {}
            for r in rows.drop_duplicates("seed").itertuples():
                runs[int(r.seed)] = run_test_predictions(root / r.dir / "predictions.csv")
            models.append(TrainedModel(name=f"{names[0]} (03)", stage="03_ablations", dataset=str(info.get("dataset")),
                                       scale=_scale(info), runs=runs, aliases=tuple(names[1:])))
    return models


def check_same_images(a: pd.DataFrame, b: pd.DataFrame, name_a: str, name_b: str) -> None:
    """Refuse two prediction frames that were not scored on the same test images with the
    same labels: another dataset, another split or subset, or another label rule. The error
    names both and what differs."""
    def _what(frame):
        return sorted(map(str, frame["dataset"].unique())), len(frame)

    (data_a, n_a), (data_b, n_b) = _what(a), _what(b)
    if data_a != data_b:
        raise ValueError(f"{name_a} was scored on {data_a} and {name_b} on {data_b}: a paired comparison needs "
                         "the same test images")
    if n_a != n_b:
        raise ValueError(f"{name_a} has {n_a} test images and {name_b} {n_b} (dataset {data_a[0]}): not the same "
                         "test split")
    ids = "source_id" if "source_id" in a.columns and "source_id" in b.columns else "index"
    if not np.array_equal(a[ids].astype(str).to_numpy(), b[ids].astype(str).to_numpy()):
        raise ValueError(f"{name_a} and {name_b} were scored on different test images of {data_a[0]} "
                         f"(their {ids} columns differ)")
    if not np.array_equal(a["label"].to_numpy(), b["label"].to_numpy()):
        differ = int(np.sum(a["label"].to_numpy() != b["label"].to_numpy()))
        raise ValueError(f"{name_a} and {name_b} give {differ} of the same test images of {data_a[0]} different "
                         "labels (another label rule or class order): not comparable image by image")


def _stack(model: TrainedModel, seeds: Sequence[int], column: str) -> np.ndarray:
    return np.stack([model.runs[s][column].to_numpy() for s in seeds])


def compare(a: TrainedModel, b: TrainedModel, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """``b`` against ``a`` on their shared test images (differences are b − a, in points).

    Accuracy and macro-F1: each model's seeds averaged, with a percentile interval from one
    paired bootstrap over the images (:func:`fernb.evaluate.stats.bootstrap_metric` with the
    same index matrix for both). McNemar and the per-image d_z: the correct/wrong vectors of
    the shared seeds, concatenated (pairs matched by seed and image); with no shared seed,
    each model's first seed, which the ``seed test`` column says. Over seeds
    (:func:`fernb.evaluate.stats.paired_seed_test`): only with at least two shared seeds,
    else NaN and the reason."""
    for seed_a in a.seeds:
        for seed_b in b.seeds:
            check_same_images(a.runs[seed_a], b.runs[seed_b], a.name, b.name)
    y = a.runs[a.seeds[0]]["label"].to_numpy()
    index = bootstrap_index(len(y), n_boot, seed)
    row: dict = {"a": a.name, "b": b.name, "images": len(y), "seeds a": len(a.seeds), "seeds b": len(b.seeds)}
    for metric, label in (("accuracy", ""), ("macro_f1", " F1")):
        ma = bootstrap_metric(y, _stack(a, a.seeds, "pred"), metric=metric, index=index)
        mb = bootstrap_metric(y, _stack(b, b.seeds, "pred"), metric=metric, index=index)
        low, high = percentile_interval(mb["resamples"] - ma["resamples"])
        name = "Δ accuracy (pt)" if metric == "accuracy" else "Δ macro-F1 (pt)"
        row[name] = 100 * (mb["value"] - ma["value"])
        row[f"Δ{label} low"], row[f"Δ{label} high"] = 100 * low, 100 * high
        if metric == "accuracy":
            row["accuracy a %"], row["accuracy b %"] = 100 * ma["value"], 100 * mb["value"]
    shared = sorted(set(a.seeds) & set(b.seeds))
    row["shared seeds"] = len(shared)
    pairs = [(s, s) for s in shared] or [(a.seeds[0], b.seeds[0])]
    ca = np.concatenate([a.runs[sa]["correct"].to_numpy(dtype=bool) for sa, _ in pairs])
    cb = np.concatenate([b.runs[sb]["correct"].to_numpy(dtype=bool) for _, sb in pairs])
    test = mcnemar_test(ca, cb)
    row["p McNemar (exact)"], row["p McNemar (mid-p)"] = test["p_exact"], test["p_midp"]
    row["d_z (images)"] = per_image_effect(ca, cb)["d_z"]
    nan_seed = {"p t (seeds)": math.nan, "p Wilcoxon (seeds)": math.nan, "Wilcoxon floor": math.nan,
                "d_z (seeds)": math.nan, "d_av (seeds)": math.nan}
    if len(shared) >= 2:
        acc_a = [a.runs[s]["correct"].mean() for s in shared]
        acc_b = [b.runs[s]["correct"].mean() for s in shared]
        res = paired_seed_test(acc_a, acc_b)
        row.update({"p t (seeds)": res["p_t"], "p Wilcoxon (seeds)": res["p_wilcoxon"],
                    "Wilcoxon floor": res["wilcoxon_floor"], "d_z (seeds)": res["d_z"], "d_av (seeds)": res["d_av"]})
        row["seed test"] = (f"{len(shared)} paired seeds" + ("" if res["wilcoxon_can_reach_05"] else
                            f"; Wilcoxon cannot reach 0.05 with {len(shared)} pairs (floor {res['wilcoxon_floor']:.3g})"))
    else:
        row.update(nan_seed)
        row["seed test"] = (f"not computed: {len(shared)} shared seed(s), a paired test over seeds needs 2"
                            + ("" if shared else f"; McNemar pairs seed {pairs[0][0]} of a with seed {pairs[0][1]} of b"))
    return row


def comparison_verdict(row: Mapping, alpha: float = ALPHA) -> str:
    """A plain word for one comparison: ``"<b> better"`` / ``"<a> better"`` when the
    Holm-adjusted McNemar p is below ``alpha`` and the bootstrap interval of the accuracy
    difference excludes 0 on the same side; ``"no resolved difference"`` otherwise (the
    tests disagree, or neither resolves one at this number of images)."""
    p, low, high = row.get("p_holm (McNemar)"), row["Δ low"], row["Δ high"]
    if p is None or not np.isfinite(p) or p >= alpha:
        return "no resolved difference"
    if low > 0:
        return f"{row['b']} better"
    if high < 0:
        return f"{row['a']} better"
    return "no resolved difference"


def comparison_table(models: Sequence[TrainedModel], families: Mapping[str, Sequence[tuple[str, str]]], *,
                     n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per pair ``(a, b)`` of each family (model names as :func:`pipeline_models`
    gives them), columns :data:`COMPARISON_COLUMNS`. Holm (``method="holm"``, via
    :func:`fernb.evaluate.stats.holm`) adjusts the McNemar and the seed t-test p-values within
    each family; :func:`comparison_verdict` reads the adjusted McNemar p and the interval."""
    by_name = {m.name: m for m in models}
    rows = []
    for family, pairs in families.items():
        block = []
        for name_a, name_b in pairs:
            unknown = [n for n in (name_a, name_b) if n not in by_name]
            if unknown:
                raise ValueError(f"family {family!r}: no trained model named {unknown} (models: {sorted(by_name)})")
            block.append({"family": family, **compare(by_name[name_a], by_name[name_b], n_boot=n_boot, seed=seed)})
        if not block:
            continue
        frame = pd.DataFrame(block)
        frame["p_holm (McNemar)"] = holm(frame["p McNemar (exact)"].to_numpy(dtype=float))
        frame["p_holm (t, seeds)"] = holm(frame["p t (seeds)"].to_numpy(dtype=float))
        frame["verdict"] = [comparison_verdict(r) for r in frame.to_dict("records")]
        rows.append(frame)
    if not rows:
        return pd.DataFrame(columns=list(COMPARISON_COLUMNS))
    return pd.concat(rows, ignore_index=True)[list(COMPARISON_COLUMNS)]


# params.yaml statistics.families -> the model each family sets against every other
ANCHORS = {"hafem": "HAFEM (01)", "lanmsff": "LANMSFF (02)"}


def families_of(models: Sequence[TrainedModel], keys: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """``{family: [(other, anchor), ...]}``: for each key of :data:`ANCHORS` whose model is
    present, that model (as ``b``) against every other model (``a``). An unknown key is refused."""
    unknown = [k for k in keys if k not in ANCHORS]
    if unknown:
        raise ValueError(f"statistics.families: unknown {unknown}; expected some of {sorted(ANCHORS)}")
    names = [m.name for m in models]
    return {f"{ANCHORS[k].split(' ')[0]} vs every other model": [(n, ANCHORS[k]) for n in names if n != ANCHORS[k]]
            for k in keys if ANCHORS[k] in names}


def effect_ceiling(table: pd.DataFrame) -> pd.DataFrame:
    """Each comparison's per-image d_z beside the largest its accuracy gap allows
    (:func:`fernb.evaluate.stats.max_dz_per_image` of |Δ|, up to the ddof-1 correction) and
    whether it stays under it, indexed by ``(a, b)``."""
    out = table[["a", "b", "Δ accuracy (pt)", "d_z (images)", "p McNemar (exact)"]].copy()
    out["max d_z for this gap"] = [max_dz_per_image(min(abs(g) / 100, 1.0)) for g in out["Δ accuracy (pt)"]]
    n = table["images"] * table["shared seeds"].clip(lower=1)
    bound = out["max d_z for this gap"] * np.sqrt(n / (n - 1))
    out["under the ceiling"] = (out["d_z (images)"].abs() <= bound + 1e-12) | out["d_z (images)"].isna()
    return out.set_index(["a", "b"])


def stated_effect_table(table3: Mapping[str, Mapping], d_range: Sequence[float], p: float = 0.001,
                        model: str = "HAFEM") -> pd.DataFrame:
    """HAFEM's statistical claim (§4: every baseline of Table 3 beaten with p < ``p`` and
    Cohen's d in ``d_range``) read two ways, one row per baseline of ``table3``:

    - pairs = runs: the runs per baseline a paired t-test needs before d reaches p <
      ``p`` (:func:`fernb.evaluate.stats.runs_for_p`) and for 80 % power at ``p``
      (:func:`fernb.evaluate.stats.seeds_needed`), at the smallest and largest stated d;
    - pairs = test images (correct/wrong): the largest d_z the accuracy gap Table 3 states
      allows (:func:`fernb.evaluate.stats.max_dz_per_image`) and the gap the smallest
      stated d would need (:func:`fernb.evaluate.stats.gap_for_dz`); ``possible on images``
      says whether the stated d range can be reached at all.
    """
    if model not in table3:
        raise ValueError(f"{model!r} is not a row of the table (rows: {list(table3)})")
    d_low, d_high = min(d_range), max(d_range)
    ours = table3[model]["accuracy"]
    rows = []
    for name, values in table3.items():
        if name == model:
            continue
        gap = (ours - values["accuracy"]) / 100
        ceiling = max_dz_per_image(gap) if 0 <= gap <= 1 else math.nan
        rows.append({"baseline": name, "stated gap (pt)": 100 * gap, "max d_z on images": ceiling,
                     "possible on images": bool(ceiling >= d_low) if np.isfinite(ceiling) else False,
                     f"gap for d {d_low:g} (pt)": 100 * gap_for_dz(d_low),
                     f"runs for p<{p:g} at d {d_low:g}": runs_for_p(d_low, p), f"runs for p<{p:g} at d {d_high:g}":
                     runs_for_p(d_high, p), f"runs for 80% power at d {d_low:g}": seeds_needed(d_low, alpha=p)})
    return pd.DataFrame(rows).set_index("baseline")


# --- What notebook 06 shows around the comparisons: the catalogue, the power tables and the sentences ------------

def model_catalogue(models: Sequence[TrainedModel]) -> pd.DataFrame:
    """One row per model of :func:`pipeline_models`: its stage, test set, seed count, scale and
    the other names it goes by (notebook 03's variants that are the same configuration)."""
    return pd.DataFrame([{"model": m.name, "stage": m.stage, "dataset": m.dataset, "seeds": len(m.seeds),
                          "scale": m.scale, "also named": ", ".join(m.aliases) or "—"} for m in models]).set_index("model")


def catalogue_text(catalogue: pd.DataFrame) -> str:
    """How many models on which test sets, which of HAFEM Table 3's baselines were trained here
    (notebook 03's ``table3_baselines`` rows, under their own name or another), and why the
    rest of Table 3 is not."""
    table3 = [n for n in catalogue.index if n.startswith("table3_baselines/")] + [
        a for n in catalogue.index for a in catalogue.at[n, "also named"].split(", ") if a.startswith("table3_baselines/")]
    return (f"{len(catalogue)} models, test set(s): {', '.join(sorted(set(catalogue['dataset'])))}. " + (
        f"Table 3's baselines trained here: {', '.join(sorted(table3))}. " if table3 else
        "Table 3's CNN baselines are not trained at these settings (notebook 03's `table3_baselines` ladder trains "
        "ResNet-50 and EfficientNet-B4 with HAFEM's head when `ablations.ladders` names it; `make paper` does); "
        "Figure 3's ResNet row stands for Table 3's ResNet-50. ") +
        "ViT-Base and Swin-T, which the factory builds for notebook 07, have no convolutional map for HAFEM's head and "
        "no training recipe here; Table 3's five method rows (VGGFace2 TL, CNN+LSTM, GAN-Aug, Cross-Attn, DualPath CNN) "
        "have no published architecture to rebuild.")


def verdict_summary_text(table: pd.DataFrame) -> str:
    """:func:`comparison_table`'s verdicts counted per family, one bullet each, with the note on
    the seed tests and a caution on reading an 01/02 model against an 03 variant."""
    verdicts = table.groupby("family", sort=False)["verdict"].value_counts()
    lines = [f"- **{family}**: " + "; ".join(f"{v}: {n}" for v, n in verdicts[family].items()) + "."
             for family in verdicts.index.get_level_values(0).unique()]
    seed_note = table["seed test"].iloc[0] if len(table) else ""
    return ("\n".join(lines) + "\n\n" + ("Over seeds: " + seed_note + ". " if seed_note else "") +
            "Where the tests resolve a difference between a 01/02 model and a notebook 03 variant, read it as "
            "*this training budget against that one* as much as one architecture against another (section 1's scale).")


def wilcoxon_floor_table(pairs: Sequence[int] = range(2, 9), alpha: float = ALPHA) -> pd.DataFrame:
    """The smallest p the exact two-sided Wilcoxon signed-rank test can give with n pairs, 2/2ⁿ,
    and whether it can fall below ``alpha``, indexed by n."""
    floors = pd.DataFrame({"pairs n": list(pairs), "smallest Wilcoxon p (2/2^n)": [2 / 2 ** n for n in pairs]})
    floors[f"can reach {alpha:g}"] = floors["smallest Wilcoxon p (2/2^n)"] < alpha
    return floors.set_index("pairs n")


def seeds_for_effects(effects: Sequence[float], alpha: float = ALPHA, p_below: float = 0.001) -> pd.DataFrame:
    """Per effect d_z, the seeds a two-sided paired t-test needs for 80 % power at ``alpha``
    (:func:`fernb.evaluate.stats.seeds_needed`) and before p < ``p_below``
    (:func:`fernb.evaluate.stats.runs_for_p`), indexed by d_z."""
    return pd.DataFrame([{"d_z": d, f"seeds for 80 % power (α {alpha:g})": seeds_needed(d, alpha=alpha),
                          f"seeds before p < {p_below:g}": runs_for_p(d, p_below)} for d in effects]).set_index("d_z")


def stated_effect_text(stated: pd.DataFrame, d_range: Sequence[float], p: float) -> str:
    """:func:`stated_effect_table` in words: for how many baselines the stated d is reachable on
    test images, the widest stated gap's ceiling, the gap the smallest d needs, and the runs per
    model p < ``p`` needs at that d (with the p one run fewer gives)."""
    d_low = min(d_range)
    runs = runs_for_p(d_low, p)
    return (f"On test images the stated d is reachable for **{int(stated['possible on images'].sum())} of {len(stated)}** "
            f"baselines: the widest gap Table 3 states ({stated['stated gap (pt)'].max():.1f} pt) allows at most d_z "
            f"{stated['max d_z on images'].max():.2f}, and d {d_low:g} needs a {100 * gap_for_dz(d_low):.0f}-point "
            f"gap. Over runs, p < {p:g} at d {d_low:g} needs {runs} runs of every model (p with {runs - 1}: "
            f"{paired_t_p(d_low, runs - 1)['p']:.4f}); the paper reports one run per model and no seed count.")


def ours_effect_text(ceiling: pd.DataFrame) -> str:
    """How many of HAFEM's comparisons (:func:`effect_ceiling`) keep their per-image d_z under
    the ceiling their accuracy gap allows."""
    return (f"**Ours**: HAFEM (01) against each other model on the same test images — the per-image d_z "
            f"stays under its ceiling in {int(ceiling['under the ceiling'].sum())} of {len(ceiling)} pairs.")
