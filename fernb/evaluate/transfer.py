"""How far a trained model travels: every finished run scored on every prepared test split (notebook 04).

HAFEM (§4's text) claims that a model trained on FER2013 alone reaches 87.3 % on RAF-DB
and 79.1 % on AffectNet zero-shot, and 95.1 % on RAF-DB after 20 epochs of fine-tuning
(:data:`fernb.papers.hafem.CLAIMS`); :data:`fernb.papers.published.CROSS_DATASET` holds what
published cross-dataset work reports. This module measures it for the workbook's own runs;
:mod:`fernb.evaluate.transfer_report` turns the measurements into notebook 04's tables and sentences.

The three decisions a cross-dataset number hides, each made here in the open:

- **Labels by name** (:func:`label_map`). Every dataset's labels are canonical indices
  (:mod:`fernb.labels`), but a 7-class model meets an 8-class target (AffectNet, CK+,
  FERPlus with contempt) and the reverse. A target class the model lacks (contempt) is
  handled by a stated rule, :data:`LABEL_RULES`: ``drop`` its images from the target, or keep
  them as ``error``\\ s the model can never get right. A model class the target lacks is a
  prediction that is always wrong. No model is ever credited for a class it does not have.
- **Input conventions travel with the model** (:func:`input_convention`,
  :func:`convert_images`): each ``model.pt`` records the channels, size and scaling it was
  trained with; a target is converted to them (grey → RGB by replication, RGB → grey as
  BT.601 luma; the network's input adapter then resizes), and
  :func:`fernb.evaluate.transfer_report.conversion_table` says what was done.
- **Predictions are saved** (:func:`cell_predictions`): one CSV per (run, target) under
  ``runs/04_cross_dataset/predictions/``, keyed by the checkpoint's and the test split's
  digests, with the model's probabilities over its own classes, so re-rendering the
  notebook, or switching the label rule, re-runs no model.

Scores (:func:`score_cell`, :func:`transfer_table`): accuracy, balanced accuracy and macro-F1
over the target's classes, each with a percentile bootstrap 95 % interval over test images
(:func:`fernb.evaluate.stats.bootstrap_metric`; several seeds are averaged inside every
resample), and the drop from the model's in-domain score. When the target's test images are
the in-domain ones with one factor changed (a SynthFER shift, :mod:`fernb.data.shifts`: same
source ids and labels, in order), the drop's interval is paired (one resample index for
both); otherwise the two test sets are resampled independently.

Which images a cell scores (:func:`scored_split`): a target's test split,
except for a fold dataset (KDEF, CK+ and CK+48), which is scored whole as a zero-shot target and
on its held-out fold only on the diagonal (the model trained on its other folds); the long
table's ``scored`` column says which (:func:`fernb.data.protocols.describe_protocol`).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from fernb.data import load_prepared
from fernb.data.core import FERData
from fernb.data.protocols import FOLD_DATASETS, apply_protocol, describe_protocol, every_fold_as_test
from fernb.evaluate.stats import BOOTSTRAP_METRICS, bootstrap_index, bootstrap_metric, percentile_interval
from fernb.labels import CANONICAL
from fernb.models import load_model
from fernb.models.inputs import predict_proba
from fernb.paths import RUNS, project_root
from fernb.runs import MANIFEST, Run, read_predictions, stage_runs
from fernb.workbook.report import write_json

__all__ = ["LABEL_RULES", "TRANSFER_STAGE", "OTHER", "CellError", "LabelMap", "label_map", "input_convention",
           "convert_images", "TransferModel", "cell_predictions", "cell_floor", "score_cell", "paired_test_sets",
           "scoring_device", "transfer_table", "collapse_table", "collapse_cell", "STAGE_LABELS", "stage_models",
           "retrained_models", "sources_of", "scored_split", "held_out_zero_shot", "load_targets", "TRANSFER_KEYS",
           "check_transfer"]

LABEL_RULES = ("drop", "error")
TRANSFER_STAGE = "04_cross_dataset"
OTHER = "(not a target class)"


class CellError(ValueError):
    """A (model, target) pair that cannot be scored; the message names both and what was expected."""


# ------------------------------------------------------------------------------- labels
@dataclass(frozen=True)
class LabelMap:
    """How a model's classes meet a target's, by name (:func:`label_map`)."""

    model_classes: tuple[str, ...]
    target_classes: tuple[str, ...]
    rule: str

    @property
    def shared(self) -> tuple[str, ...]:
        return tuple(c for c in self.target_classes if c in self.model_classes)

    @property
    def target_only(self) -> tuple[str, ...]:
        """Target classes the model cannot predict (its images are dropped, or always wrong)."""
        return tuple(c for c in self.target_classes if c not in self.model_classes)

    @property
    def model_only(self) -> tuple[str, ...]:
        """Model classes the target does not have (predicting one is always wrong)."""
        return tuple(c for c in self.model_classes if c not in self.target_classes)

    @property
    def scored_classes(self) -> tuple[str, ...]:
        """The target classes whose images are scored (and that macro-F1 averages over)."""
        return self.shared if self.rule == "drop" else self.target_classes

    def keep(self, target_names: Sequence[str]) -> np.ndarray:
        """Which target images are scored: all under ``error``; under ``drop`` those whose class the model has."""
        names = np.asarray(target_names, dtype=object)
        return np.isin(names, self.scored_classes)

    def predicted(self, model_names: Sequence[str]) -> np.ndarray:
        """The model's predicted class names in the target's space: a class the target lacks
        becomes :data:`OTHER` (wrong for every image)."""
        names = np.asarray(model_names, dtype=object)
        return np.where(np.isin(names, self.target_classes), names, OTHER)

    def describe(self) -> str:
        parts = [f"{len(self.shared)} shared class(es)"]
        if self.target_only:
            verb = "dropped from the target" if self.rule == "drop" else "kept, always wrong"
            parts.append(f"target-only {', '.join(self.target_only)}: {verb}")
        if self.model_only:
            parts.append(f"model-only {', '.join(self.model_only)}: a prediction of it is wrong")
        return "; ".join(parts)


def label_map(model_classes: Sequence[str], target_classes: Sequence[str], rule: str = "drop", *,
              model: str = "the model", target: str = "the target") -> LabelMap:
    """The :class:`LabelMap` of a model's classes onto a target's, both canonical names
    (:data:`fernb.labels.CANONICAL`). ``rule`` (:data:`LABEL_RULES`) says what happens to target
    images of a class the model lacks. Raises :class:`CellError` naming both when they share
    no class, and ValueError for a name that is not canonical or an unknown rule."""
    if rule not in LABEL_RULES:
        raise ValueError(f"label rule must be one of {LABEL_RULES}, got {rule!r}")
    for where, classes in (("model", model_classes), ("target", target_classes)):
        unknown = [c for c in classes if c not in CANONICAL]
        if unknown:
            raise ValueError(f"{where} classes {unknown} are not canonical class names {CANONICAL}")
    mapping = LabelMap(tuple(model_classes), tuple(target_classes), rule)
    if not mapping.shared:
        raise CellError(f"{model} (classes {list(model_classes)}) and {target} (classes {list(target_classes)}) "
                        "have no class in common: nothing to score")
    return mapping


# ------------------------------------------------------------------------ input conventions
def input_convention(checkpoint: str | os.PathLike) -> dict:
    """What a ``model.pt`` expects (:func:`fernb.models.save_model`'s record): ``in_chans``,
    ``img_size`` (None: the stored size), ``scaling``, ``classes``, the ``dataset`` and
    ``image_shape`` it was trained on. Reads the file without building the network."""
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    config, extra = ckpt["fernb_model"], ckpt.get("extra", {})
    return {"model": config["name"], "in_chans": int(config.get("in_chans", 3)), "img_size": config.get("img_size"),
            "scaling": extra.get("scaling", "range"), "classes": tuple(extra.get("classes") or CANONICAL[:config["num_classes"]]),
            "dataset": extra.get("dataset"), "image_shape": extra.get("image_shape")}


def image_channels(images: np.ndarray) -> int | None:
    if images.ndim == 3:
        return 1
    if images.ndim == 4 and images.shape[-1] in (1, 3):
        return int(images.shape[-1])
    return None


def convert_images(images: np.ndarray, in_chans: int, *, model: str = "the model",
                   target: str = "the target") -> tuple[np.ndarray, str]:
    """``images`` (uint8 ``(N, H, W)`` or ``(N, H, W, 3)``) in the channel layout a network
    built for ``in_chans`` takes, and what was done. Grey → 3 channels: replicated (what a
    grey photo is in RGB); RGB → 1 channel: ``cv2.COLOR_RGB2GRAY`` (BT.601 luma, as
    :class:`fernb.models.InputAdapter` computes it). Size and scaling are the network's own
    (its adapter resizes). Raises :class:`CellError` for a layout with another channel count."""
    chans = image_channels(images)
    if chans is None or in_chans not in (1, 3):
        raise CellError(f"{target}: images of shape {images.shape[1:]} cannot be converted for {model}, which takes "
                        f"{in_chans}-channel input; expected (H, W) greyscale or (H, W, 3) RGB")
    if chans == in_chans:
        return (images[..., 0] if images.ndim == 4 and chans == 1 else images), "none"
    if in_chans == 3:
        grey = images if images.ndim == 3 else images[..., 0]
        return np.repeat(grey[..., None], 3, axis=-1), "grey → RGB (channel replicated)"
    return np.stack([cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) for im in images]), "RGB → grey (BT.601 luma)"



# ------------------------------------------------------------------------------ predictions
@dataclass
class TransferModel:
    """One row of the transfer matrix: a model trained on one dataset, one run per seed."""

    label: str                      # e.g. "HAFEM (01) · synthfer"
    stage: str
    model: str
    dataset: str                    # the source (training) dataset
    runs: list[Run] = field(default_factory=list)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.runs[0].classes

    @classmethod
    def from_runs(cls, label: str, runs: Sequence[Run]) -> TransferModel:
        if not runs:
            raise ValueError(f"{label}: no runs")
        datasets = {r.dataset for r in runs}
        if len(datasets) != 1:
            raise ValueError(f"{label}: runs trained on several datasets {sorted(datasets)}")
        return cls(label=label, stage=runs[0].stage, model=runs[0].model, dataset=runs[0].dataset, runs=list(runs))


def _digest_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _test_digest(data: FERData) -> str:
    mask = data.split == "test"
    h = hashlib.sha256()
    h.update(repr((data.name, data.images.shape[1:], data.classes)).encode())
    h.update(np.ascontiguousarray(data.labels[mask]).data)
    h.update("|".join(data.source_ids[mask].tolist()).encode())
    h.update(np.ascontiguousarray(data.images[mask]).data)
    return h.hexdigest()[:16]


def _cache_path(run: Run, target: str, root: Path) -> Path:
    try:
        rel = run.dir.resolve().relative_to((root / RUNS).resolve())
    except ValueError:
        rel = Path(run.stage) / run.model / f"seed{run.seed}"
    return root / RUNS / TRANSFER_STAGE / "predictions" / rel / f"{target}.csv"


def cell_predictions(run: Run, target: str, data: FERData, *, root: str | os.PathLike | None = None,
                     device: str | torch.device = "cpu", batch_size: int = 64) -> pd.DataFrame:
    """``run``'s predictions on ``data``'s test split: one row per image with ``source_id``,
    ``index``, ``target_label`` (the target's class name), ``pose`` and ``prob_<class>`` over
    the model's own classes. Read from its CSV when one with the same checkpoint and test
    split exists (:func:`_cache_path`), else computed (the images converted by
    :func:`convert_images`) and saved. Raises :class:`CellError` for a target without a test
    split or with images that cannot be converted.

    The model runs in float32 (as training's evaluation does on the CPU) with its weights and
    batches in channels-last layout and batches of 64: the same arithmetic in another order
    (probabilities within about 1e-6 of the contiguous layout's), 2-3x faster for LANMSFF's
    separable convolutions on a CPU."""
    root = Path(root) if root is not None else project_root()
    mask = data.split == "test"
    if not mask.any():
        raise CellError(f"{target}: no test split to score {run.model} on (splits: {sorted(set(data.split))})")
    key = {"checkpoint": _digest_file(run.checkpoint), "test": _test_digest(data)}
    path = _cache_path(run, target, root)
    key_path = path.with_suffix(".json")
    if path.is_file() and key_path.is_file() and json.loads(key_path.read_text()).get("key") == key:
        return read_predictions(path)
    convention = input_convention(run.checkpoint)
    images, conversion = convert_images(data.images[mask], convention["in_chans"], model=f"{run.model} ({run.dir})",
                                        target=target)
    model = load_model(run.checkpoint, map_location=device).to(memory_format=torch.channels_last)
    probs, _ = predict_proba(model, images, batch_size=batch_size, device=torch.device(device),
                             scaling=convention["scaling"], channels_last=True)
    frame = pd.DataFrame({"source_id": data.source_ids[mask], "index": np.flatnonzero(mask),
                          "target_label": np.asarray(data.classes, dtype=object)[data.labels[mask]],
                          "pose": data.pose[mask]})
    for k, name in enumerate(convention["classes"]):
        frame[f"prob_{name}"] = probs[:, k]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    write_json(key_path, {"key": key, "run": str(run.dir), "target": target, "conversion": conversion,
                          "convention": {k: (list(v) if isinstance(v, tuple) else v) for k, v in convention.items()}})
    return read_predictions(path)


def _predicted_names(frame: pd.DataFrame, classes: Sequence[str]) -> np.ndarray:
    probs = frame[[f"prob_{c}" for c in classes]].to_numpy()
    return np.asarray(classes, dtype=object)[probs.argmax(axis=1)]


# ------------------------------------------------------------------------------- scoring
def cell_floor(y: Sequence[str], mapping: LabelMap) -> tuple[str, float]:
    """The floor of one cell: the scored target image class a constant answer does best on, and
    that answer's accuracy. The answer must be a class the model can give and the target has
    (``mapping.shared``); under ``error`` the target-only images stay in the denominator, so
    they lower the floor exactly as they lower the model's score. This is the target table's
    ``majority %`` (:func:`fernb.evaluate.transfer_report.target_table`) restricted to the images the cell scores."""
    y = np.asarray(y, dtype=object)
    shares = {c: float(np.mean(y == c)) for c in mapping.shared} if len(y) else {}
    best = max(shares, key=shares.get) if shares else ""
    return best, shares.get(best, float("nan"))


def score_cell(frames: Sequence[pd.DataFrame], model_classes: Sequence[str], target_classes: Sequence[str], *,
               rule: str = "drop", n_boot: int = 2000, seed: int = 0, confidence: float = 0.95,
               index: np.ndarray | None = None, model: str = "the model", target: str = "the target") -> dict:
    """Score one (model, target) cell from its per-seed prediction frames (:func:`cell_predictions`,
    the same test images in the same order for every seed).

    Returns ``images`` (scored), ``dropped`` (target images of a class the model lacks, under
    ``drop``), ``rule``, ``labels`` (the mapping's :meth:`LabelMap.describe`), ``floor`` and
    ``floor_class`` (:func:`cell_floor`: the accuracy of always giving the best constant answer),
    and per metric of :data:`fernb.evaluate.stats.BOOTSTRAP_METRICS` its ``value``/``low``/``high``, with
    ``resamples`` kept for differences. ``index``: a bootstrap index over the *scored* images
    (for a paired comparison); else drawn from ``seed``."""
    mapping = label_map(model_classes, target_classes, rule, model=model, target=target)
    base = frames[0]
    for f in frames[1:]:
        if len(f) != len(base) or not np.array_equal(f["source_id"].to_numpy(), base["source_id"].to_numpy()):
            raise ValueError(f"{model} on {target}: the seeds' predictions are not of the same test images")
    keep = mapping.keep(base["target_label"].to_numpy())
    y = base["target_label"].to_numpy()[keep].astype(str)
    if len(y) == 0:
        raise CellError(f"{target}: no test image of a class {model} can predict ({list(model_classes)})")
    preds = np.stack([mapping.predicted(_predicted_names(f, model_classes))[keep].astype(str) for f in frames])
    if index is None:
        index = bootstrap_index(len(y), n_boot, seed)
    floor_class, floor = cell_floor(y, mapping)
    out = {"images": int(len(y)), "dropped": int((~keep).sum()), "rule": rule, "labels": mapping.describe(),
           "floor": floor, "floor_class": floor_class}
    for metric in BOOTSTRAP_METRICS:
        out[metric] = bootstrap_metric(y, preds, metric=metric, classes=list(mapping.scored_classes), index=index,
                                       confidence=confidence)
    out["_y"], out["_preds"], out["_keep"] = y, preds, keep
    return out


def paired_test_sets(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Are two prediction frames scored on the same images with one factor changed: the same
    source ids and the same labels, in the same order (a SynthFER shift against its source)?"""
    return (len(a) == len(b) and np.array_equal(a["source_id"].to_numpy(), b["source_id"].to_numpy())
            and np.array_equal(a["target_label"].to_numpy(), b["target_label"].to_numpy()))


def scoring_device(setting: str = "auto") -> str:
    """Where the matrix's models run: ``"cuda"`` when ``params.yaml``'s ``train.device`` is ``auto``
    or ``cuda`` and torch sees a GPU, else ``"cpu"`` (never MPS). Predictions are saved per (run,
    target) (:func:`cell_predictions`), so only a stage's first scoring of a cell runs a model."""
    return "cuda" if setting in ("auto", "cuda") and torch.cuda.is_available() else "cpu"


def transfer_table(models: Sequence[TransferModel], targets: Mapping[str, FERData | Exception], *, rule: str = "drop",
                   n_boot: int = 2000, seed: int = 0, confidence: float = 0.95, root: str | os.PathLike | None = None,
                   device: str = "cpu") -> pd.DataFrame:
    """The transfer matrix, long: one row per (model, target, metric) with ``value``, ``low``,
    ``high`` (bootstrap interval over test images), ``in_domain`` (the model on its own
    dataset's test split), ``drop`` = in-domain − target with its interval (``drop_low``,
    ``drop_high``; ``paired`` says whether the two test sets were resampled together),
    ``floor`` and ``floor_class`` on the accuracy rows (:func:`cell_floor`: what always giving one
    answer scores on the cell's images, the level a model that carried nothing across reaches),
    ``images``, ``dropped``, ``scored`` (which of the target's images: its test split, the held-out
    fold, or for a fold dataset as a zero-shot target "all N images (zero-shot: every fold)",
    :func:`scored_split`), ``rule``, ``labels`` and ``status`` (``ok``, ``in-domain``, or the
    reason the cell could not be scored: a missing store, no shared class, an unconvertible
    layout). ``targets`` maps names to loaded data (:func:`load_targets`: fold datasets split by
    ``test_fold``), or to the exception that loading raised (its message becomes the cell's status)."""
    rows = []
    for m in models:
        frames: dict[str, list[pd.DataFrame]] = {}
        errors: dict[str, str] = {}
        scored: dict[str, str] = {}
        for name, data in targets.items():
            try:
                if isinstance(data, Exception):
                    raise CellError(f"{name}: {data}")
                label_map(m.classes, data.classes, rule, model=m.label, target=name)
                view = scored_split(name, data, m.dataset)
                scored[name] = describe_protocol(view)["splits"]["test"]
                frames[name] = [cell_predictions(r, name, view, root=root, device=device) for r in m.runs]
            except CellError as err:
                errors[name] = str(err)
        home = None
        if m.dataset in frames:
            home = score_cell(frames[m.dataset], m.classes, targets[m.dataset].classes, rule=rule, n_boot=n_boot,
                              seed=seed, confidence=confidence, model=m.label, target=m.dataset)
        for name in targets:
            if name not in frames:
                rows.extend({"model": m.label, "source": m.dataset, "target": name, "metric": metric,
                             "status": errors[name], "seeds": len(m.runs)} for metric in BOOTSTRAP_METRICS)
                continue
            paired = False
            if name == m.dataset:
                cell = home
            else:
                keep = label_map(m.classes, targets[name].classes, rule).keep(frames[name][0]["target_label"].to_numpy())
                paired = (home is not None and paired_test_sets(frames[m.dataset][0], frames[name][0])
                          and np.array_equal(home["_keep"], keep))
                # paired: one resample index for both (image i of the shift is image i of the source);
                # otherwise the target is resampled independently
                index = bootstrap_index(home["images"], n_boot, seed) if paired else None
                cell = score_cell(frames[name], m.classes, targets[name].classes, rule=rule, n_boot=n_boot,
                                  seed=seed + 1, index=index, confidence=confidence, model=m.label, target=name)
            for metric in BOOTSTRAP_METRICS:
                res = cell[metric]
                row = {"model": m.label, "source": m.dataset, "target": name, "metric": metric,
                       "value": res["value"], "low": res["low"], "high": res["high"], "images": cell["images"],
                       "dropped": cell["dropped"], "scored": scored[name], "rule": rule, "labels": cell["labels"],
                       "seeds": len(m.runs),
                       "status": "in-domain" if name == m.dataset else "ok"}
                if metric == "accuracy":
                    row["floor"], row["floor_class"] = cell["floor"], cell["floor_class"]
                if home is not None:
                    row["in_domain"] = home[metric]["value"]
                    if name != m.dataset:
                        row["drop"] = home[metric]["value"] - res["value"]
                        row["drop_low"], row["drop_high"] = percentile_interval(
                            home[metric]["resamples"] - res["resamples"], confidence)
                        row["paired"] = bool(paired)
                rows.append(row)
    columns = ["model", "source", "target", "metric", "value", "low", "high", "in_domain", "drop", "drop_low",
               "drop_high", "paired", "floor", "floor_class", "images", "dropped", "scored", "seeds", "rule", "labels",
               "status"]
    return pd.DataFrame(rows).reindex(columns=columns)


def collapse_table(home: Sequence[pd.DataFrame], away: Sequence[pd.DataFrame], model_classes: Sequence[str],
                   target_classes: Sequence[str], rule: str = "drop") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Which classes collapse into which on a target: per target class, its recall in-domain
    (``home`` frames) and on the target (``away``), and the class the model most often
    answers instead on the target; and the target's confusion matrix (rows true, columns the
    model's answer, counts pooled over seeds, row-normalised). A scored class with no image on
    the target (CK+48 has no neutral frame) has no row in the first and a row of NaN in the second."""
    mapping = label_map(model_classes, target_classes, rule)
    answers = list(target_classes) + [OTHER]

    def confusion(frames):
        counts = pd.DataFrame(0, index=list(mapping.scored_classes), columns=answers)
        for f in frames:
            keep = mapping.keep(f["target_label"].to_numpy())
            y = f["target_label"].to_numpy()[keep]
            p = mapping.predicted(_predicted_names(f, model_classes))[keep]
            counts = counts.add(pd.crosstab(pd.Series(y, name="true"), pd.Series(p, name="pred"))
                                .reindex(index=counts.index, columns=answers, fill_value=0), fill_value=0)
        return counts

    c_home, c_away = confusion(home), confusion(away)
    norm = c_away.div(c_away.sum(axis=1).replace(0, np.nan), axis=0)
    rows = []
    for cls in mapping.scored_classes:
        if c_away.loc[cls].sum() == 0:
            continue
        recall_home = c_home.at[cls, cls] / max(c_home.loc[cls].sum(), 1)
        recall_away = c_away.at[cls, cls] / max(c_away.loc[cls].sum(), 1)
        others = norm.loc[cls].drop(cls)
        rows.append({"class": cls, "images per seed": int(round(c_away.loc[cls].sum() / max(len(away), 1))),
                     "recall in-domain": recall_home, "recall on target": recall_away,
                     "change": recall_away - recall_home, "most often answered instead": others.idxmax(),
                     "share": others.max()})
    return pd.DataFrame(rows).set_index("class"), norm


def collapse_cell(models: Sequence[TransferModel], label: str, target: str, targets: Mapping[str, FERData],
                  rule: str = "drop", *, root: str | os.PathLike | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`collapse_table` for one cell of the matrix: the row ``label`` of ``models`` on
    ``target``, from its seeds' saved predictions on its own dataset and on the target
    (:func:`cell_predictions` on the images :func:`scored_split` gives, read back: scoring the
    matrix wrote them)."""
    model = next(m for m in models if m.label == label)
    home = [cell_predictions(r, model.dataset, scored_split(model.dataset, targets[model.dataset], model.dataset),
                             root=root) for r in model.runs]
    away = [cell_predictions(r, target, scored_split(target, targets[target], model.dataset), root=root)
            for r in model.runs]
    return collapse_table(home, away, model.classes, targets[target].classes, rule)


# ------------------------------------------------------------------------------ the rows
STAGE_LABELS = {"01_hafem": "HAFEM (01)", "02_lanmsff": "LANMSFF (02)"}


def stage_models(stages: Sequence[str], variants: Sequence[str] = (), *,
                 root: str | os.PathLike | None = None) -> tuple[list[TransferModel], dict[str, str]]:
    """The matrix's rows from what the pipeline trained: every run of each training stage
    (:func:`fernb.runs.stage_runs`, one row per stage, its seeds together) and each ablation
    variant named ``"ladder/variant"`` (notebook 03's ``runs/03_ablations/runs.json``). Returns
    the rows and, for what could not be read, the reason (a stage not run here, an unknown
    variant), so the rest of the matrix still renders."""
    root = Path(root) if root is not None else project_root()
    models, errors = [], {}
    for stage in stages:
        try:
            runs = stage_runs(stage, root)
            models.append(TransferModel.from_runs(f"{STAGE_LABELS.get(stage, stage)} · {runs[0].dataset}", runs))
        except (FileNotFoundError, ValueError, IndexError) as err:
            errors[stage] = str(err)
    if variants:
        path = root / RUNS / "03_ablations" / MANIFEST
        entries = json.loads(path.read_text())["runs"] if path.is_file() else []
        for name in variants:
            ladder, _, variant = str(name).partition("/")
            runs = [Run(stage="03_ablations", dir=root / e["dir"], model=e["model"], model_kwargs=dict(e["model_kwargs"]),
                        dataset=e["dataset"], seed=int(e["seed"]), classes=tuple(e["classes"]))
                    for e in entries if e.get("ladder") == ladder and e.get("variant") == variant]
            if not runs:
                errors[name] = (f"no run of ablation variant {variant!r} of ladder {ladder!r} in {path}"
                                + ("" if path.is_file() else " (stage 03 has not run here)"))
                continue
            models.append(TransferModel.from_runs(f"{variant} ({ladder}, 03) · {runs[0].dataset}", runs))
    return models, errors


def retrained_models(retrained: Mapping[tuple[str, str], Sequence[Run]]) -> list[TransferModel]:
    """The rows that ``transfer.train_on`` adds (:func:`fernb.train.finetune.retrain_all`'s
    {(source row's label, dataset): runs}): one per pair, labelled by the source row's network
    and the dataset it was trained on afresh, ``"HAFEM (01) · ferplus"``."""
    return [TransferModel.from_runs(f"{label.split(' · ')[0]} · {name}", runs)
            for (label, name), runs in retrained.items()]


def sources_of(models: Sequence[TransferModel], stages: Sequence[str]) -> dict[str, list[Run]]:
    """{row label: its runs} for the rows trained by one of ``stages``, in the matrix's order:
    what :func:`fernb.train.finetune.retrain_all` and :func:`fernb.train.finetune.finetune_all` take."""
    return {m.label: m.runs for m in models if m.stage in stages}


# --------------------------------------------------------------------------- the columns
def scored_split(target: str, data: FERData, source: str) -> FERData:
    """The images of the column ``target`` (``data``, as :func:`load_targets` split it) that a
    model trained on ``source`` is scored on: the rule for the fold datasets
    (:data:`fernb.data.protocols.FOLD_DATASETS`: KDEF, CK+ and its CK+48 folder variant, both read
    as ``ckplus``).

    - A fold dataset as a **zero-shot target** (``source`` is another dataset): every image, all
      folds as test (:func:`fernb.data.protocols.every_fold_as_test`). The model saw none of it,
      so scoring the held-out fold alone (a tenth of CK+) would waste the rest and widen the interval.
    - A fold dataset as the model's **own** dataset (the matrix's diagonal): the held-out fold
      ``test_fold`` only, ``data`` unchanged. The model trained on the other folds and was
      selected on one of them, so scoring them would be a leak; the training stages and notebook
      04 read the same ``test_fold`` (params.yaml).
    - Any other dataset: its test split, whatever the source.

    Training on a target (:func:`fernb.train.finetune.finetune`, :func:`fernb.train.finetune.retrain_all`)
    takes :func:`load_targets`' data, never this view: it trains on the folds and tests on the
    held-out one (:func:`held_out_zero_shot` gives that curve's N = 0 on the same fold)."""
    if (target in FOLD_DATASETS or data.name in FOLD_DATASETS) and source not in (target, data.name):
        return every_fold_as_test(data)
    return data


def held_out_zero_shot(models: Sequence[TransferModel], target: str | None, targets: Mapping[str, FERData | Exception],
                       rule: str = "drop", *, root: str | os.PathLike | None = None,
                       device: str = "cpu") -> dict[str, dict[str, float]]:
    """Each row's zero-shot score on the held-out fold alone of a fold dataset ``target``,
    {row label: {metric: value}}: the N = 0 point of a fine-tuning curve on it
    (:func:`fernb.train.finetune.curve_frame`), whose fine-tuned runs are tested on that fold and
    not on every image as the matrix's zero-shot cell is (:func:`scored_split`). Read from the
    predictions the matrix saved (their rows of the held-out fold). Rows whose own dataset is
    ``target`` (their cell is the held-out fold already), rows that cannot be scored, and a target
    that is not a fold dataset (its cell is its test split) are left out: {} then."""
    data = targets.get(target) if target is not None else None
    if not isinstance(data, FERData) or target not in FOLD_DATASETS:
        return {}
    held_out = data.split == "test"
    out = {}
    for m in models:
        view = scored_split(target, data, m.dataset)
        if view is data:
            continue
        try:
            label_map(m.classes, data.classes, rule, model=m.label, target=target)
            frames = [cell_predictions(r, target, view, root=root, device=device) for r in m.runs]
            frames = [f[held_out[f["index"].to_numpy()]].reset_index(drop=True) for f in frames]
            cell = score_cell(frames, m.classes, data.classes, rule=rule, n_boot=100, model=m.label, target=target)
        except CellError:
            continue
        out[m.label] = {metric: cell[metric]["value"] for metric in BOOTSTRAP_METRICS}
    return out


def load_targets(names: Sequence[str], test_fold: int | None = None) -> dict[str, FERData | Exception]:
    """Every named prepared dataset (:func:`fernb.data.load_prepared`, memory-mapped), with its
    protocol's splits (:func:`fernb.data.protocols.apply_protocol`; ``test_fold`` for KDEF and
    CK+; a test-only dataset such as facial_expressions is accepted, being only scored here), or
    the exception that loading raised (a store not prepared here), so that the matrix marks that
    column and renders the rest. A fold dataset keeps its folds (train, val, held-out test) here,
    as fine-tuning and training afresh need them; the matrix scores it whole as a zero-shot target
    and on the held-out fold on its diagonal (:func:`scored_split`)."""
    out: dict[str, FERData | Exception] = {}
    for name in dict.fromkeys(names):
        try:
            out[name] = apply_protocol(load_prepared(name, mmap=True), test_fold if name in FOLD_DATASETS else None,
                                       training=False)
        except (FileNotFoundError, ValueError, KeyError) as err:
            out[name] = FileNotFoundError(f"no prepared store ({type(err).__name__}: {err}); run `dvc repro` for it")
    return out


TRANSFER_KEYS = ("models", "ablation_variants", "train_on", "label_rule", "n_boot", "finetune")
_FINETUNE_KEYS = ("models", "target", "epochs", "overrides")


def check_transfer(transfer: dict, known_targets: Sequence[str]) -> None:
    """Refuse a ``transfer`` section (params.yaml) that cannot run, before anything is scored:
    unknown keys, an unknown label rule, a bad bootstrap count, fine-tuning epochs that are not
    positive integers, a fine-tuning target or a ``train_on`` dataset that is not prepared."""
    unknown = sorted(set(transfer) - set(TRANSFER_KEYS))
    if unknown:
        raise KeyError(f"transfer: unknown keys {unknown}; it takes {list(TRANSFER_KEYS)}")
    if transfer["label_rule"] not in LABEL_RULES:
        raise ValueError(f"transfer.label_rule must be one of {LABEL_RULES}, got {transfer['label_rule']!r}")
    if isinstance(transfer["n_boot"], bool) or not isinstance(transfer["n_boot"], int) or transfer["n_boot"] < 100:
        raise ValueError(f"transfer.n_boot must be an integer >= 100, got {transfer['n_boot']!r}")
    for name in transfer["train_on"]:
        if name not in known_targets:
            raise ValueError(f"transfer.train_on: {name!r} is not a prepared dataset here; expected one of {list(known_targets)}")
    tune = transfer["finetune"] or {}
    unknown = sorted(set(tune) - set(_FINETUNE_KEYS))
    if unknown:
        raise KeyError(f"transfer.finetune: unknown keys {unknown}; it takes {list(_FINETUNE_KEYS)}")
    if tune.get("models"):
        epochs = tune.get("epochs") or []
        if not epochs or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in epochs):
            raise ValueError(f"transfer.finetune.epochs must be positive integers, got {epochs!r}")
        if tune.get("target") not in known_targets:
            raise ValueError(f"transfer.finetune.target {tune.get('target')!r} is not a dataset this stage scores; "
                             f"expected one of {list(known_targets)}")
