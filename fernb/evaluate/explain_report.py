"""What notebook 05 reports: every model explained on the same faces, each check run over the
models, and the frames, figures and sentences the notebook shows.

The measurements come from :mod:`fernb.evaluate.explain` (maps and their scores against the
Action-Unit regions) and :mod:`fernb.evaluate.faithfulness` (causal check, sanity checks,
deletion and insertion); this module runs them over the models of ``params.yaml``'s
``explain`` section and summarises their long tables, so that every number the notebook prints
and writes is computed here, where a test holds it, and the notebook's cells only call and
display.

- :func:`faces_to_explain` opens an :class:`ExplainStudy`: the store's test faces
  (``explain.per_class`` per class), their ground truth (SynthFER's renderer, else the 68
  landmarks, else none), and the training faces SHAP takes as its background;
  :func:`explain_models` loads each stage's seed-0 run and maps it on those faces;
- the checks, one function each, every model in turn: :func:`map_scores` (against the AU
  regions), :func:`paper_pairs` (HAFEM §4's stated pairs), :func:`shap_channels` (HAFEM's
  "AU-corresponding channels"), :func:`causal_check` (one AU switched off in the renderer),
  :func:`sanity_checks` (Adebayo et al., NeurIPS 2018: cascading randomisation and an
  untrained network), :func:`deletion_insertion_table` (Petsiuk et al., RISE, BMVC 2018) and
  :func:`turn_faces` (LANMSFF's multi-view maps: the same face through the yaws);
- their summaries (:func:`region_shares`, :func:`score_tables`, :func:`causal_summary`,
  :func:`au_use`, :func:`pose_summary`, ...), the figures of the maps (:func:`map_figures`,
  :func:`pose_figure`), the claims ledger (:func:`claims_ledger`) and ``metrics.json``
  (:func:`interpretability_metrics`), and each sentence the notebook prints (the ``*_text``
  functions).

What a check cannot do here (no ground truth, no renderer, a stage without runs) is not an
error: it adds a line to :attr:`ExplainStudy.skipped`, which the notebook shows at the end and
``metrics.json`` carries.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from fernb.data import load_store
from fernb.data.core import FERData
from fernb.data.synthfer import CLASS_AUS
from fernb.evaluate import explain as ex
from fernb.evaluate import faithfulness as fa
from fernb.evaluate.explain import PAPER_PAIRS, GroundTruth, class_region
from fernb.evaluate.faithfulness import curve_areas, sanity_flags
from fernb.models import load_model
from fernb.paths import prepared_dir
from fernb.runs import Run, stage_runs
from fernb.workbook import plots

__all__ = ["ExplainStudy", "ExplainedModel", "faces_to_explain", "ground_truth", "faces_text", "explain_models",
           "maps_text", "cam_grids", "map_figures", "region_shares", "map_scores", "score_tables", "au_scores_text",
           "paper_pairs", "pairs_text", "shap_channels", "channel_summary", "causal_check", "causal_summary", "au_use",
           "sanity_checks", "sanity_flags_by_model", "trained_vs_untrained", "untrained_text",
           "deletion_insertion_table", "curve_areas_by_model", "turn_faces", "pose_summary", "pose_figure",
           "claims_ledger", "skipped_text", "stage_metrics", "interpretability_metrics", "interpretability_headline"]


# --------------------------------------------------------------------------------------
# The faces and the models
# --------------------------------------------------------------------------------------
@dataclass
class ExplainedModel:
    """One model of ``explain.models``: the network (in eval mode, in-place activations off),
    its run, the input scaling it was trained with, and the Grad-CAM layer it is explained on
    (:data:`fernb.evaluate.explain.CAM_LAYERS`)."""

    model: nn.Module
    run: Run
    scaling: str
    which: str


@dataclass
class ExplainStudy:
    """What notebook 05 explains, and what it has done so far.

    ``explain``: the stage's ``explain`` parameters; ``rows``: the store rows of the faces
    (:func:`fernb.evaluate.explain.pick_indices`); ``truth``: their ground truth, or None;
    ``background``: the training faces SHAP integrates from; ``models`` and ``maps``: label
    (``"HAFEM (01_hafem)"``) -> :class:`ExplainedModel` and method -> maps ``(N, H, W)``;
    ``skipped``: what could not be done here, and why; ``seconds``: each timed step's wall time;
    ``started``: when the study opened (``time.perf_counter``)."""

    dataset: str
    explain: dict
    root: Path
    data: FERData
    rows: np.ndarray
    truth: GroundTruth | None
    background: np.ndarray
    skipped: list[str] = field(default_factory=list)
    models: dict[str, ExplainedModel] = field(default_factory=dict)
    maps: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @property
    def one_per_class(self) -> list[int]:
        """Positions (in ``rows``) of the first face of each class present: the figures' faces."""
        labels = self.data.labels[self.rows]
        return [int(np.flatnonzero(labels == k)[0]) for k in range(len(self.data.classes)) if (labels == k).any()]

    @property
    def check_rows(self) -> np.ndarray:
        """The first ``explain.curve_faces`` positions: the untrained network and the curves use these."""
        return np.arange(len(self.rows))[:self.explain["curve_faces"]]

    @property
    def sanity_rows(self) -> np.ndarray:
        """``explain.sanity_faces`` positions for cascading randomisation: one face per class first."""
        one = self.one_per_class
        return np.asarray(one + [i for i in range(len(self.rows)) if i not in one])[:self.explain["sanity_faces"]]


def ground_truth(data: FERData, rows: Sequence[int]) -> tuple[GroundTruth | None, list[str]]:
    """The faces' AU regions and what could not be had: SynthFER's renderer
    (:func:`~fernb.evaluate.explain.synthfer_ground_truth`), else the 68 landmarks
    (:func:`~fernb.evaluate.explain.landmark_ground_truth`), else None with the reason."""
    try:
        return ex.synthfer_ground_truth(data, rows), []
    except ValueError:
        try:
            return ex.landmark_ground_truth(data, rows), []
        except ValueError as err:
            return None, [f"scores against AU regions: {err}"]


def faces_to_explain(dataset: str, explain: Mapping, root: str | os.PathLike) -> ExplainStudy:
    """Open notebook 05's study: seed torch's generator with ``explain["seed"]`` (first, as
    every draw after it follows from it), load ``dataset``'s prepared store, pick
    ``explain["per_class"]`` test faces per class, find their ground truth (:func:`ground_truth`;
    a class with no face is noted) and draw ``explain["background"]`` training faces for SHAP."""
    started = time.perf_counter()
    torch.manual_seed(explain["seed"])
    data = load_store(prepared_dir(dataset, root))
    rows = ex.pick_indices(data, explain["per_class"], seed=explain["seed"])
    truth, skipped = ground_truth(data, rows)
    if truth is not None:
        empty = [cname for k, cname in enumerate(truth.classes) if not (truth.labels == k).any()]
        if empty:
            skipped.append(f"classes with no test face here: {empty}")
    background = data.images[np.flatnonzero(data.split == "train")]
    pick = np.random.default_rng(explain["seed"]).choice(len(background), min(explain["background"], len(background)),
                                                          replace=False)
    return ExplainStudy(dataset=dataset, explain=dict(explain), root=Path(root), data=data, rows=rows, truth=truth,
                        background=background[pick], skipped=skipped, started=started)


def faces_text(study: ExplainStudy) -> str:
    """The faces explained, how they were drawn, and where the ground truth comes from."""
    e = study.explain
    return (f"**{study.dataset}**: {len(study.rows)} test faces ({e['per_class']} per class at most, seed "
            f"{e['seed']}); ground truth: " + (study.truth.source if study.truth is not None else
                                              "**none** — qualitative maps only"))


def _load(study: ExplainStudy, stage: str) -> tuple[str | None, ExplainedModel | None]:
    """Seed 0's run of ``stage``, ready to explain, and its label; (None, None) without runs.
    A Grad-CAM layer the network does not name falls back to its last feature map, noted."""
    try:
        run = stage_runs(stage, root=study.root)[0]
    except FileNotFoundError as err:
        study.skipped.append(f"{stage}: {err}")
        return None, None
    model = ex.safe_for_hooks(load_model(run.checkpoint)).eval()
    scaling = getattr(model, "fernb_extra", {}).get("scaling", "range")
    label = f"{type(model).__name__} ({stage})"
    which = study.explain["cam_which"]
    if which not in ex.CAM_LAYERS.get(type(model).__name__, {"features": None}):
        study.skipped.append(f"{label}: has no Grad-CAM layer {which!r}; its last feature map is used")
        which = "features"
    return label, ExplainedModel(model=model, run=run, scaling=scaling, which=which)


def _attribute(study: ExplainStudy, model: nn.Module, entry: ExplainedModel, images: np.ndarray,
               targets) -> dict[str, np.ndarray]:
    """Every method's maps of ``targets`` for stored ``images``, with the study's settings
    (methods, SHAP's samples, seed and background) and ``entry``'s scaling and Grad-CAM layer."""
    e = study.explain
    return ex.attribution_maps(model, ex.model_inputs(images, entry.scaling), targets,
                               background=ex.model_inputs(study.background, entry.scaling), methods=e["methods"],
                               nsamples=e["shap_nsamples"], seed=e["seed"], which=entry.which)


def explain_models(study: ExplainStudy) -> None:
    """Load every stage of ``explain.models`` (seed 0) and map each on the study's faces for
    their true class, filling ``study.models`` and ``study.maps`` in order (timed as
    ``seconds["maps"]``). A stage without runs, or a network the maps refuse (one that names
    no Grad-CAM layer), is skipped and said so."""
    started = time.perf_counter()
    images, targets = study.data.images[study.rows], study.data.labels[study.rows]
    for stage in study.explain["models"]:
        label, entry = _load(study, stage)
        if entry is None:
            continue
        try:
            study.maps[label] = _attribute(study, entry.model, entry, images, targets)
        except ValueError as err:
            study.skipped.append(f"{label}: {err}")
            continue
        study.models[label] = entry
    study.seconds["maps"] = time.perf_counter() - started


def maps_text(study: ExplainStudy) -> str:
    """How many maps were made, and how long they took."""
    return (f"Maps of {len(study.models)} model(s) × {len(study.explain['methods'])} method(s) × {len(study.rows)} "
            f"faces in {study.seconds['maps']:.0f} s.")


def cam_grids(study: ExplainStudy) -> pd.DataFrame:
    """Per model: the stored face's size, the network's input size, the Grad-CAM layer and the
    grid it reads (:func:`~fernb.evaluate.explain.cam_grid`): how sharp a Grad-CAM map can be."""
    first = study.data.images[study.rows[:1]]
    return pd.DataFrame([{"model": label, "input (stored face)": "×".join(map(str, study.data.images.shape[1:3])),
                          "network input": "×".join(map(str, entry.model.adapter.size)),
                          "Grad-CAM layer": ex.CAM_LAYERS.get(type(entry.model).__name__, {}).get(entry.which),
                          "Grad-CAM layer grid": "×".join(map(str, ex.cam_grid(
                              entry.model, ex.model_inputs(first, entry.scaling), entry.which)))}
                         for label, entry in study.models.items()])


# The names the figure generators here yield, as patterns: a notebook that saves what they yield is checked
# against the export's lists of face-free and face figures through these (tests/workbook/test_results.py).
FIGURE_NAMES = {"map_figures": "maps_*"}


def map_figures(study: ExplainStudy) -> Iterator[tuple[str, plt.Figure]]:
    """Per model, its figure's name (``maps_<network>``) and the figure: one face per class,
    its defining AUs' region, and every method's map (:func:`fernb.workbook.plots.attribution_grid`).
    Drawn one at a time, so that a notebook shows each as it comes."""
    truth, data, rows, one = study.truth, study.data, study.rows, study.one_per_class
    for label, per_method in study.maps.items():
        regions = np.stack([(class_region(truth, i)[0] if truth is not None and class_region(truth, i)[0] is not None
                             else np.zeros(data.images.shape[1:3], bool)) for i in one])
        titles = [f"{data.classes[data.labels[rows[i]]]}\n"
                  + ("+".join(class_region(truth, i)[1]) if truth is not None else "") for i in one]
        fig = plots.attribution_grid(data.images[rows[one]], regions, {m: v[one] for m, v in per_method.items()},
                                     titles, f"{label}: true-class maps beside the defining AUs' region")
        yield f"maps_{label.split(' ')[0].lower()}", fig


# --------------------------------------------------------------------------------------
# Scores against the AU regions, HAFEM's pairs, SHAP's channels
# --------------------------------------------------------------------------------------
def region_shares(truth: GroundTruth) -> pd.DataFrame:
    """Per class: its defining AUs, its faces, and the mean share of the image its region
    covers (the chance level of rank and mass accuracy; NaN for a class with no defining AU or
    no face)."""
    rows = []
    for k, cname in enumerate(truth.classes):
        faces = np.flatnonzero(truth.labels == k)
        regions = [r for i in faces for r in [class_region(truth, int(i))[0]] if r is not None]
        rows.append({"class": cname, "defining AUs": "+".join(CLASS_AUS.get(cname, ())) or "(none)",
                     "faces": int(len(faces)),
                     "region share of the image": float(np.mean([r.mean() for r in regions])) if regions else np.nan})
    return pd.DataFrame(rows)


def map_scores(study: ExplainStudy) -> pd.DataFrame:
    """Every model's maps scored against the AU regions (:func:`~fernb.evaluate.explain.score_maps`
    at ``explain.min_intensity``), one long table; empty without ground truth or maps."""
    if study.truth is None or not study.maps:
        return pd.DataFrame()
    return pd.concat([ex.score_maps(per_method, study.truth, model=label, min_intensity=study.explain["min_intensity"])
                      for label, per_method in study.maps.items()], ignore_index=True)


def score_tables(scores: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """:func:`map_scores`' means (:func:`~fernb.evaluate.explain.score_summary`): ``class``
    per (model, method, class) over the class regions, ``overall`` per (model, method), and
    ``au`` per (model, method, AU) over the single-AU regions (the face's class as ``of class``)."""
    classes = scores[scores["region"] == "class"]
    return {"class": ex.score_summary(classes, ["model", "method", "class"]),
            "overall": ex.score_summary(classes, ["model", "method"]),
            "au": ex.score_summary(scores[scores["region"] != "class"].rename(columns={"class": "of class"}),
                                   ["model", "method", "region"])}


def au_scores_text(study: ExplainStudy) -> str:
    """The heading of the per-AU scores: which AUs count."""
    return (f"**Per Action Unit** (every AU active at intensity ≥ {study.explain['min_intensity']} in a face, "
            f"whatever its class):")


def paper_pairs(study: ExplainStudy) -> pd.DataFrame:
    """Every model's :func:`~fernb.evaluate.explain.paper_pairs_table`, one table; empty
    without ground truth or maps."""
    if study.truth is None or not study.maps:
        return pd.DataFrame()
    return pd.concat([ex.paper_pairs_table(per_method, study.truth, model=label)
                      for label, per_method in study.maps.items()], ignore_index=True)


def pairs_text(pairs: pd.DataFrame) -> str:
    """One line per HAFEM pair (:data:`~fernb.evaluate.explain.PAPER_PAIRS`) and model and
    method: the mass against chance, the lift, the Wilcoxon verdict (p < 0.05 is "above
    chance") and the faces above chance, beside HAFEM's *always*."""
    lines = []
    for _, r in pairs[pairs["class"].isin(list(PAPER_PAIRS))].iterrows():
        verdict = (f"above chance, one-sided Wilcoxon p = {r['p_above_chance']:.2g}" if r["p_above_chance"] < 0.05 else
                   f"not shown above chance, p = {r['p_above_chance']:.2g}")
        lines.append(f"- *{r['model']}*, {r['method']}, **{r['class']}** → {r['stated AUs']}: mass "
                     f"{100 * r['mass']:.1f} % against a chance of {100 * r['chance']:.1f} % (lift {r['mass_lift']:.2f}, "
                     f"{verdict}); above chance in {r['faces_above_chance']} of {r['faces']} faces — HAFEM says *always*.")
    return "\n".join(lines)


def shap_channels(study: ExplainStudy) -> pd.DataFrame:
    """Per model, :func:`~fernb.evaluate.explain.channel_au_table` from SHAP on its head
    (:func:`~fernb.evaluate.explain.shap_features`: the scored faces' pooled embeddings, the
    background's as the reference), one table; a model is skipped without AU intensities."""
    tables = []
    truth = study.truth
    for label, entry in study.models.items():
        if truth is None or not truth.intensity.any():
            study.skipped.append(f"{label}: AU channels need AU intensities (SynthFER)")
            continue
        with torch.no_grad():
            emb = entry.model(ex.model_inputs(truth.images, entry.scaling)).embedding
            bg = entry.model(ex.model_inputs(study.background, entry.scaling)).embedding
        values = ex.shap_features(entry.model, emb, bg, seed=study.explain["seed"])
        table = ex.channel_au_table(values, emb.numpy(), truth.intensity, truth.labels, truth.classes)
        table.insert(0, "model", label)
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def channel_summary(channels: pd.DataFrame) -> pd.DataFrame:
    """Per model: the top channels counted, the share whose best AU is a defining one, and its chance."""
    return channels.groupby("model").agg(channels=("channel", "size"), defining=("defining", "mean"),
                                         chance=("chance", "mean"))


# --------------------------------------------------------------------------------------
# Does the map follow the model: causal check, sanity checks, deletion and insertion
# --------------------------------------------------------------------------------------
def causal_check(study: ExplainStudy) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per model, the AU-off logit drops (:func:`~fernb.evaluate.faithfulness.au_off_effects`)
    and their correlation with each map's mass (:func:`~fernb.evaluate.faithfulness.causal_table`),
    each with a ``model`` column: ``(effects, causal)``, empty without the renderer (each model
    skipped and said so). Timed as ``seconds["causal"]``."""
    started = time.perf_counter()
    effects_all, causal = [], []
    truth = study.truth
    for label, entry in study.models.items():
        if truth is None or not truth.render:
            study.skipped.append(f"{label}: the causal check needs the renderer (SynthFER)")
            continue
        effects = fa.au_off_effects(entry.model, truth, scaling=entry.scaling)
        effects.insert(0, "model", label)
        effects_all.append(effects)
        table = fa.causal_table(effects, study.maps[label], truth)
        table.insert(0, "model", label)
        causal.append(table)
    study.seconds["causal"] = time.perf_counter() - started
    return (pd.concat(effects_all) if effects_all else pd.DataFrame(),
            pd.concat(causal, ignore_index=True) if causal else pd.DataFrame())


def causal_summary(causal: pd.DataFrame, by: Sequence[str] = ("model", "method")) -> pd.DataFrame:
    """The causal correlations (:func:`fernb.evaluate.faithfulness.causal_table`, a ``model``
    column added) over the faces that have one: count, mean, median, SD and the share positive."""
    scored = causal.dropna(subset=["rho"])
    return scored.groupby(list(by), sort=False)["rho"].agg(
        faces="size", rho_mean="mean", rho_median="median", rho_sd="std",
        share_positive=lambda r: float((r > 0).mean()))


def au_use(effects: pd.DataFrame) -> pd.DataFrame:
    """What each model uses: per (model, AU), the faces it was active in and the mean drop of
    the true class's logit when it is switched off (:func:`~fernb.evaluate.faithfulness.au_off_effects`)."""
    return effects.groupby(["model", "au"])["drop"].agg(faces="size").join(
        effects.groupby(["model", "au"])["drop"].mean().rename("mean logit drop"))


def _cascade(study: ExplainStudy, label: str, entry: ExplainedModel) -> pd.DataFrame:
    """Cascading randomisation of one model on the study's ``sanity_rows``, against its trained maps."""
    sanity = study.sanity_rows
    images, targets = study.data.images[study.rows[sanity]], study.data.labels[study.rows[sanity]]
    cascade = fa.cascading_randomisation(
        entry.model, lambda m: _attribute(study, ex.safe_for_hooks(m), entry, images, targets),
        seed=study.explain["seed"], trained={m: v[sanity] for m, v in study.maps[label].items()})
    cascade.insert(0, "model", label)
    return cascade


def sanity_checks(study: ExplainStudy) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Adebayo et al.'s two checks per model: ``(cascade, similar, untrained)``.

    ``cascade``: cascading randomisation (:func:`~fernb.evaluate.faithfulness.cascading_randomisation`)
    on ``sanity_rows``; ``similar``: per (model, method), the mean Spearman between the trained
    maps and an untrained network's (:func:`~fernb.evaluate.faithfulness.untrained_model`) on
    ``check_rows``; ``untrained``: the untrained network's maps scored against the AU regions
    (model ``"<label> untrained"``; empty without ground truth). Timed as ``seconds["sanity"]``."""
    started = time.perf_counter()
    e, check = study.explain, study.check_rows
    truth_checked = ex.subset(study.truth, check) if study.truth is not None else None
    images, targets = study.data.images[study.rows[check]], study.data.labels[study.rows[check]]
    cascades, similar, untrained = [], [], []
    for label, entry in study.models.items():
        cascades.append(_cascade(study, label, entry))
        fresh = ex.safe_for_hooks(fa.untrained_model(entry.run.checkpoint, seed=e["seed"]))
        fresh_maps = _attribute(study, fresh, entry, images, targets)
        if truth_checked is not None:
            untrained.append(ex.score_maps(fresh_maps, truth_checked, model=label + " untrained"))
        for method in e["methods"]:
            sim = fa.map_similarity(study.maps[label][method][check], fresh_maps[method])
            similar.append({"model": label, "method": method,
                            "similarity_to_untrained": np.nanmean(sim) if np.isfinite(sim).any() else np.nan})
    study.seconds["sanity"] = time.perf_counter() - started
    untrained = [u for u in untrained if "region" in u]      # a frame without rows has no columns either
    return (pd.concat(cascades, ignore_index=True) if cascades else pd.DataFrame(), pd.DataFrame(similar),
            pd.concat(untrained) if untrained else pd.DataFrame())


def sanity_flags_by_model(cascade: pd.DataFrame) -> pd.DataFrame:
    """:func:`~fernb.evaluate.faithfulness.sanity_flags` per model of ``cascade``, one table."""
    return pd.concat([sanity_flags(g).assign(model=m) for m, g in cascade.groupby("model", sort=False)],
                     ignore_index=True)


def trained_vs_untrained(study: ExplainStudy, scores: pd.DataFrame, untrained: pd.DataFrame) -> pd.DataFrame:
    """The trained maps' class-region scores on ``check_rows`` beside the untrained network's
    (:func:`sanity_checks`) on the same faces, per (model, method); empty when either is."""
    if not len(scores) or not len(untrained):
        return pd.DataFrame()
    checked = scores[(scores["region"] == "class") & scores["face"].isin(study.rows[study.check_rows])]
    both = pd.concat([checked, untrained[untrained["region"] == "class"]])
    return ex.score_summary(both, ["model", "method"])


def untrained_text(study: ExplainStudy) -> str:
    """The lead-in of the trained-against-untrained table."""
    return (f"Trained against untrained, scored against the same AU regions on the same {len(study.check_rows)} "
            f"faces:")


def deletion_insertion_table(study: ExplainStudy) -> pd.DataFrame:
    """Per model, :func:`~fernb.evaluate.faithfulness.deletion_insertion` on ``check_rows``
    (``explain.curve_steps`` steps), one long table with a ``model`` column. Timed as
    ``seconds["curves"]``."""
    started = time.perf_counter()
    check, curves = study.check_rows, []
    for label, entry in study.models.items():
        c = fa.deletion_insertion(entry.model, study.data.images[study.rows[check]], study.data.labels[study.rows[check]],
                                  {m: v[check] for m, v in study.maps[label].items()}, steps=study.explain["curve_steps"],
                                  scaling=entry.scaling, seed=study.explain["seed"])
        c.insert(0, "model", label)
        curves.append(c)
    study.seconds["curves"] = time.perf_counter() - started
    return pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()


def curve_areas_by_model(curves: pd.DataFrame) -> pd.DataFrame:
    """:func:`~fernb.evaluate.faithfulness.curve_areas` per model of ``curves``, one table."""
    return pd.concat([curve_areas(g).assign(model=m) for m, g in curves.groupby("model", sort=False)]).reset_index()


# --------------------------------------------------------------------------------------
# Pose
# --------------------------------------------------------------------------------------
def turn_faces(study: ExplainStudy) -> tuple[pd.DataFrame, dict]:
    """The first ``explain.pose_faces`` figure faces with a class region, rendered again at
    each yaw of ``explain.pose_yaws`` and mapped by every model: ``(by_pose, turned)``, the
    class-region scores per pose (:func:`pose_summary`) and (label, yaw) -> (faces, maps).
    Without the renderer, both are empty and the study says so."""
    truth, e = study.truth, study.explain
    if truth is None or not truth.render:
        study.skipped.append("pose: turning a face needs the renderer (SynthFER)")
        return pd.DataFrame(), {}
    picks = [i for i in study.one_per_class if class_region(truth, i)[0] is not None][:e["pose_faces"]]
    scores, turned = [], {}
    for yaw in e["pose_yaws"]:
        faces = ex.rerender(truth, picks, yaw=float(yaw))
        for label, entry in study.models.items():
            maps = _attribute(study, entry.model, entry, faces.images, faces.labels)
            turned[(label, yaw)] = (faces, maps)
            s = ex.score_maps(maps, faces, model=label)
            scores.append(s[s["region"] == "class"].assign(pose=yaw))
    return (pose_summary(pd.concat(scores, ignore_index=True)) if scores else pd.DataFrame()), turned


def pose_summary(pose_scores: pd.DataFrame) -> pd.DataFrame:
    """Per (model, method, pose): mean mass and rank accuracy of the class region, its chance
    level and the mass lift (the class rows of :func:`~fernb.evaluate.explain.score_maps`, a
    ``pose`` column added)."""
    g = pose_scores.groupby(["model", "method", "pose"])
    out = g.agg(mass=("mass", "mean"), chance=("chance", "mean"), rank=("rank", "mean"))
    out["mass_lift"] = out["mass"] / out["chance"]
    return out


def pose_figure(study: ExplainStudy, turned: Mapping) -> plt.Figure | None:
    """One face through every yaw, its class region and maps, for the first LANMSFF model (the
    network built for multi-view) or the only model (``turned`` from :func:`turn_faces`); None
    when there is neither, or no face was turned."""
    yaws = study.explain["pose_yaws"]
    if not turned:
        return None
    for label in study.models:
        if label.startswith("LANMSFF") or len(study.models) == 1:
            faces = np.concatenate([turned[(label, y)][0].images[:1] for y in yaws])
            regions = np.stack([class_region(turned[(label, y)][0], 0)[0] for y in yaws])
            maps = {meth: np.concatenate([turned[(label, y)][1][meth][:1] for y in yaws])
                    for meth in study.explain["methods"]}
            return plots.attribution_grid(faces, regions, maps, [f"yaw {y}°" for y in yaws], f"{label}: one face turned")
    return None


# --------------------------------------------------------------------------------------
# The claims ledger and metrics.json
# --------------------------------------------------------------------------------------
def _rows(frame: pd.DataFrame, **where) -> pd.DataFrame:
    if not len(frame):
        return frame
    mask = np.ones(len(frame), bool)
    for k, v in where.items():
        mask &= (frame[k] == v).to_numpy()
    return frame[mask]


def claims_ledger(models: Sequence[str], methods: Sequence[str], *, pairs: pd.DataFrame, causal: pd.DataFrame,
                  cascade: pd.DataFrame, channels: pd.DataFrame, pose: pd.DataFrame) -> pd.DataFrame:
    """Every claim both papers make about their explanations, beside what this run measured:
    HAFEM's stated pairs (:data:`~fernb.evaluate.explain.PAPER_PAIRS`: lift, Wilcoxon p, faces
    above chance), that the maps show what the model uses (causal correlation), that they explain
    the trained model (similarity after full randomisation, flagged when it survives), SHAP's
    "AU channels" and LANMSFF's multi-view maps (mass lift per yaw, from :func:`pose_summary`).
    A claim this run could not measure says "not measured here"."""
    rows = []
    for model in models:
        for method in methods:
            for cname, (_, said) in PAPER_PAIRS.items():
                r = _rows(pairs, model=model, method=method, **{"class": cname})
                rows.append({"claim": f"Grad-CAM/SHAP 'always' on {cname}'s AUs ({said})", "model": model, "method": method,
                             "measured": (f"mass lift {r['mass_lift'].iloc[0]:.2f} over chance (Wilcoxon p = "
                                          f"{r['p_above_chance'].iloc[0]:.2g}); above chance in "
                                          f"{r['faces_above_chance'].iloc[0]} of {r['faces'].iloc[0]} faces")
                             if len(r) else "not measured here"})
            c = _rows(causal, model=model, method=method)
            c = c.dropna(subset=["rho"]) if len(c) else c
            rows.append({"claim": "the maps show what the model uses (implied by both papers)", "model": model,
                         "method": method, "measured": f"causal Spearman {c['rho'].mean():.2f} over {len(c)} faces"
                         if len(c) else "not measured here (no face with three active AUs, or no renderer)"})
            g = _rows(cascade, model=model, method=method)
            f = sanity_flags(g) if len(g) else pd.DataFrame()
            rows.append({"claim": "the maps explain the trained model (a sanity check neither paper ran)", "model": model,
                         "method": method, "measured": (f"similarity {f['after_all'].iloc[0]:.2f} after full randomisation"
                                                        + (" — FLAGGED: survives randomisation"
                                                           if f["survives_randomisation"].iloc[0] else ""))
                         if len(f) else "not measured here"})
            p = _rows(pose.reset_index(), model=model, method=method) if len(pose) else pose
            if len(p):
                rows.append({"claim": "maps highlight eyes, mouth and nose even in multi-view (LANMSFF)", "model": model,
                             "method": method, "measured": "mass lift by yaw: " + ", ".join(
                                 f"{int(y)}°: {v:.2f}" for y, v in zip(p["pose"], p["mass_lift"]))})
        ch = _rows(channels, model=model)
        if len(ch):
            rows.append({"claim": "SHAP: the head selects AU-corresponding channels (HAFEM)", "model": model,
                         "method": "shap (head)",
                         "measured": f"{100 * ch['defining'].mean():.0f} % of top channels track a defining AU best "
                                     f"(chance {100 * ch['chance'].mean():.0f} %)"})
    return pd.DataFrame(rows, columns=["claim", "model", "method", "measured"])


def skipped_text(study: ExplainStudy) -> str:
    """What could not be done here, and why, as a list; empty when nothing was skipped."""
    if not study.skipped:
        return ""
    return "**Skipped here, and why:**\n\n" + "\n".join(f"- {s}" for s in study.skipped)


def _finite(value):
    return None if value is None or (isinstance(value, float) and not np.isfinite(value)) else value


def stage_metrics(models: Sequence[str], methods: Sequence[str], *, scores: pd.DataFrame, causal: pd.DataFrame,
                  cascade: pd.DataFrame, curves: pd.DataFrame) -> dict:
    """``metrics.json``'s per-model, per-method block: class-region rank and mass accuracy with
    their chance level and the lift, the pointing-game rate and its chance, constant maps and
    faces; the mean causal correlation and its faces; the randomisation similarity per step and
    whether the maps survive; deletion and insertion areas beside the random order's. A check
    that did not run leaves its keys out."""
    out = {}
    for model in models:
        out[model] = {}
        for method in methods:
            m = {}
            s = _rows(scores, model=model, method=method)
            s = s[s["region"] == "class"] if len(s) else s
            if len(s):
                m.update(rank=s["rank"].mean(), mass=s["mass"].mean(), chance=s["chance"].mean(),
                         pointing=s["pointing"].mean(), pointing_chance=s["pointing_chance"].mean(),
                         empty_maps=int(s["empty_map"].sum()), faces=int(s["face"].nunique()))
                m["mass_lift"] = m["mass"] / m["chance"]
            c = _rows(causal, model=model, method=method)
            if len(c):
                c = c.dropna(subset=["rho"])
                m.update(causal_rho=c["rho"].mean() if len(c) else None, causal_faces=int(len(c)))
            g = _rows(cascade, model=model, method=method)
            if len(g):
                g = g.sort_values("step")
                m["randomisation_similarity"] = dict(zip(g["randomised"], g["similarity"]))
                m["survives_randomisation"] = bool(sanity_flags(g)["survives_randomisation"].iloc[0])
            k = _rows(curves, model=model)
            if len(k):
                a = curve_areas(k)
                m.update(deletion_auc=a.loc[method, "deletion"], insertion_auc=a.loc[method, "insertion"],
                         deletion_auc_random=a.loc["random", "deletion"], insertion_auc_random=a.loc["random", "insertion"])
            out[model][method] = {key: _finite(v) for key, v in m.items()}
    return out


def interpretability_metrics(study: ExplainStudy, *, scores: pd.DataFrame, causal: pd.DataFrame,
                             cascade: pd.DataFrame, curves: pd.DataFrame) -> dict:
    """Notebook 05's ``metrics.json``: the faces and ground truth, the methods, the per-model
    block (:func:`stage_metrics`), what was skipped, each step's seconds and the total since
    the study opened, and one ``<network>_<method>_mass_lift`` key per model and method (the
    headline, :func:`interpretability_headline`)."""
    e = study.explain
    metrics = {
        "dataset": study.dataset, "faces": int(len(study.rows)),
        "ground_truth": None if study.truth is None else study.truth.source,
        "methods": e["methods"], "shap_nsamples": e["shap_nsamples"],
        "models": stage_metrics(list(study.models), e["methods"], scores=scores, causal=causal, cascade=cascade,
                                curves=curves),
        "skipped": study.skipped,
        "seconds": {**study.seconds, "total": time.perf_counter() - study.started},
    }
    for label in study.models:
        key = label.split(" ")[0].lower()
        for method in e["methods"]:
            metrics[f"{key}_{method}_mass_lift"] = metrics["models"][label][method].get("mass_lift")
    return metrics


def interpretability_headline(metrics: Mapping) -> list[str]:
    """The index's headline keys of notebook 05: every mass lift, then the faces."""
    return [k for k in metrics if k.endswith("_mass_lift")] + ["faces"]
