"""Notebook 04's report: the tables, sentences and metrics it shows about the transfer matrix.

:mod:`fernb.evaluate.transfer` measures (labels by name, input conversion, saved predictions,
bootstrap scores, cell floors); this module reads its long table
(:func:`fernb.evaluate.transfer.transfer_table`) and says what it shows, one function per table
or sentence of the notebook, section by section:

1. the targets (:func:`target_table`, :func:`shift_checks`);
2. the rows (:func:`missing_rows_text`, :func:`model_rows`, :func:`conversion_table`);
3. labels (:func:`label_table`);
4. the matrix (:func:`matrix`, :func:`annotations`, :func:`interval_table`, :func:`floor_table`,
   :func:`drop_table`, :func:`unscored_cells`, :func:`drops_text`, :func:`pose_text`);
5. the largest drop (:func:`largest_drop`, :func:`largest_drop_text`, :func:`collapse_text`);
6. fine-tuning (:func:`zero_shot_cells`, :func:`finetune_skip_text`, :func:`finetune_outputs`,
   :func:`finetune_text`; the runs themselves are :func:`fernb.train.finetune.finetune_all`'s);
7. the papers' claims (:func:`finetuned_cells`, :func:`claims_versus_ours`, :func:`published_beside`);
8. ``metrics.json`` (:func:`transfer_metrics`).

Every number in a sentence is read from the table it describes, never typed.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fernb.data import shifts as shf
from fernb.data.core import FERData
from fernb.evaluate.training_report import chance
from fernb.evaluate.transfer import CellError, TransferModel, image_channels, label_map
from fernb.papers import hafem as hafem_paper
from fernb.papers import published
from fernb.workbook import plots
from fernb.workbook.report import Report

__all__ = ["target_table", "shift_checks", "missing_rows_text", "model_rows", "conversion_table", "label_table",
           "matrix", "annotations", "interval_table", "floor_table", "drop_table", "unscored_cells",
           "drops_text", "pose_text", "largest_drop", "largest_drop_text", "percent_labels", "collapse_text",
           "zero_shot_cells", "finetune_skip_text", "finetune_outputs", "finetune_text", "finetuned_cells",
           "claims_versus_ours", "published_beside", "matrix_cells", "transfer_metrics"]

_METRICS = ("accuracy", "balanced_accuracy", "macro_f1")


# ------------------------------------------------------------------------ 1 · the targets
def target_table(targets: Mapping[str, FERData | Exception]) -> pd.DataFrame:
    """One row per target column: what it is (the shift it renders and why it may hurt, from
    its store's ``meta["shift"]``), its classes, test images and image layout, or why it is missing;
    and its floor: the test split's most frequent class and the accuracy (%) of always answering it
    (``majority class`` / ``majority %``, :func:`fernb.evaluate.training_report.chance`), the score a model
    that learnt nothing transferable can reach on that column."""
    rows = []
    for name, data in targets.items():
        if isinstance(data, Exception):
            rows.append({"target": name, "status": str(data)})
            continue
        shift = data.meta.get("shift") or {}
        test = data.split == "test"
        floor = chance(data.labels[test], len(data.classes)) if test.any() else None
        counts = np.bincount(data.labels[test], minlength=len(data.classes)) if test.any() else None
        rows.append({"target": name, "kind": f"shift of {shift['source']}: {shift['factor']}" if shift else "dataset",
                     "changes": json.dumps(shift.get("changes")) if shift else "", "classes": len(data.classes),
                     "test images": int(test.sum()), "train images": int((data.split == "train").sum()),
                     "images": "×".join(map(str, data.images.shape[1:])) + ("" if data.images.ndim == 4 else " (grey)"),
                     "majority class": data.classes[int(counts.argmax())] if counts is not None else "",
                     "majority %": 100 * floor["majority_share"] if floor is not None else np.nan,
                     "cause": shift.get("cause", ""), "status": "ok"})
    return pd.DataFrame(rows).set_index("target")


def shift_checks(targets: Mapping[str, FERData | Exception], shift_names: Sequence[str], source: str = "synthfer",
                 n_faces: int = 8) -> tuple[pd.DataFrame, dict[str, np.ndarray]] | None:
    """What each prepared SynthFER shift changes: the factor table of every shift against
    ``source`` (:func:`fernb.data.shifts.factor_summary`) and, for :func:`fernb.workbook.plots.paired_grid`,
    the first ``n_faces`` test faces of the source (row ``default``) and of each shift (its name
    without the prefix), the same samples in the same order. None when the source or every
    shift is missing here."""
    data = targets.get(source)
    ready = [n for n in shift_names if isinstance(targets.get(n), FERData)]
    if not isinstance(data, FERData) or not ready:
        return None
    factors = shf.factor_summary(data, {n: targets[n] for n in ready})
    faces = {"default": data.images[np.flatnonzero(data.split == "test")[:n_faces]]}
    for n in ready:
        shifted = targets[n]
        faces[n.removeprefix(shf.SHIFT_PREFIX)] = shifted.images[np.flatnonzero(shifted.split == "test")[:n_faces]]
    return factors, faces


# --------------------------------------------------------------------------- 2 · the rows
def missing_rows_text(missing: Mapping[str, str], not_retrained: Mapping[tuple[str, str], str] | None = None) -> str:
    """One paragraph per row the matrix lacks: a stage or ablation variant that could not be read
    (:func:`fernb.evaluate.transfer.stage_models`'s reasons), and a (row, dataset) pair
    ``transfer.train_on`` could not train (:func:`fernb.train.finetune.retrain_all`'s). "" when none."""
    lines = [f"**{name}** is not in the matrix: {reason}" for name, reason in missing.items()]
    lines += [f"**{label}** cannot be trained on {name}: {reason}"
              for (label, name), reason in (not_retrained or {}).items()]
    return "\n\n".join(lines)


def model_rows(models: Sequence[TransferModel]) -> pd.DataFrame:
    """One line per row of the matrix: its label, the stage and network that trained it, the
    dataset it was trained on, its seeds and its number of classes."""
    return pd.DataFrame([{"row": m.label, "stage": m.stage, "model": m.model, "trained on": m.dataset,
                          "seeds": [r.seed for r in m.runs], "classes": len(m.classes)} for m in models])


def conversion_table(conventions: Mapping[str, dict], targets: Mapping[str, FERData]) -> pd.DataFrame:
    """One row per (model, target): the target's stored layout, the model's convention and
    the conversion applied (channels here; size and scaling by the network's adapter)."""
    rows = []
    for model, conv in conventions.items():
        for name, data in targets.items():
            if not isinstance(data, FERData):
                continue
            h, w = data.images.shape[1:3]
            chans = image_channels(data.images)
            size = conv["img_size"] or (conv["image_shape"] or [h])[0]
            if chans is None:
                channels = "cannot be converted"
            elif chans == conv["in_chans"]:
                channels = "none"
            else:
                channels = "grey → RGB (replicated)" if conv["in_chans"] == 3 else "RGB → grey (BT.601 luma)"
            rows.append({"model": model, "target": name, "target images": f"{h}×{w}×{chans or '?'}",
                         "model input": f"{size}×{size}×{conv['in_chans']}", "channels": channels,
                         "resize": "none" if size == h else f"{h} → {size} px (bilinear{', antialiased' if size < h else ''})",
                         "scaling": "x / 255" if conv["scaling"] == "range" else "per-image min-max"})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ 3 · labels
def label_table(models: Sequence[TransferModel], targets: Mapping[str, FERData | Exception],
                rule: str = "drop") -> pd.DataFrame:
    """How each model's classes meet each target's (:func:`fernb.evaluate.transfer.label_map`), one row per distinct
    pair of class sets: the shared classes, the target-only ones (and what ``rule`` does to
    their images), the model-only ones, or why the pair cannot be scored."""
    rows, seen = [], set()
    for m in models:
        for name, data in targets.items():
            if isinstance(data, Exception):
                continue
            key = (m.classes, tuple(data.classes))
            if key in seen:
                continue
            seen.add(key)
            row = {"model classes": len(m.classes), "target classes": len(data.classes), "example": f"{m.label} → {name}"}
            try:
                lm = label_map(m.classes, data.classes, rule, model=m.label, target=name)
                row.update({"shared": ", ".join(lm.shared), "target-only": ", ".join(lm.target_only) or "—",
                            "model-only": ", ".join(lm.model_only) or "—", "rule": rule, "what happens": lm.describe()})
            except CellError as err:
                row["what happens"] = str(err)
            rows.append(row)
    return pd.DataFrame(rows)


# -------------------------------------------------------------------------- 4 · the matrix
def matrix(table: pd.DataFrame, metric: str = "accuracy", value: str = "value") -> pd.DataFrame:
    """One metric of :func:`fernb.evaluate.transfer.transfer_table` as a matrix: rows = model (with its source
    dataset), columns = target in the table's order; NaN where the cell could not be scored."""
    part = table[table["metric"] == metric]
    targets = list(dict.fromkeys(part["target"]))
    return part.pivot_table(index="model", columns="target", values=value, sort=False, dropna=False).reindex(columns=targets)


def annotations(table: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """The text of every cell of :func:`matrix`: the value, and under it the drop from the
    in-domain score (paired intervals marked ``p``), or a short reason for a cell not scored;
    for accuracy, a last line with the cell's floor (:func:`fernb.evaluate.transfer.cell_floor`)."""
    part = table[table["metric"] == metric]
    text = {}
    for _, r in part.iterrows():
        if pd.isna(r["value"]):
            reason = str(r["status"])
            text[(r["model"], r["target"])] = "not scored:\n" + ("no store" if "prepared store" in reason else
                                                               "no shared class" if "no class in common" in reason else
                                                               reason[:18])
        elif r["status"] == "in-domain":
            text[(r["model"], r["target"])] = f"{r['value']:.2f}\nin-domain"
        elif pd.notna(r.get("drop")):
            text[(r["model"], r["target"])] = f"{r['value']:.2f}\n{-r['drop']:+.2f}{' p' if r['paired'] else ''}"
        else:
            text[(r["model"], r["target"])] = f"{r['value']:.2f}"
        if pd.notna(r["value"]) and pd.notna(r.get("floor", np.nan)):
            text[(r["model"], r["target"])] += f"\nfloor {r['floor']:.2f}"
    grid = matrix(table, metric)
    return pd.DataFrame([[text.get((m, t), "") for t in grid.columns] for m in grid.index],
                        index=grid.index, columns=grid.columns)


def interval_table(table: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """One metric of :func:`fernb.evaluate.transfer.transfer_table` as a matrix of strings, ``"74.7 [71.9, 77.5]"``
    (%, with the bootstrap interval); ``"—"`` for a cell not scored."""
    part = table[table["metric"] == metric]
    cells = part.apply(lambda r: f"{100 * r['value']:.1f} [{100 * r['low']:.1f}, {100 * r['high']:.1f}]"
                       if pd.notna(r["value"]) else "—", axis=1)
    return part.assign(cell=cells).pivot(index="model", columns="target", values="cell").reindex(
        index=list(dict.fromkeys(part["model"])), columns=list(dict.fromkeys(part["target"])))


def floor_table(table: pd.DataFrame) -> pd.DataFrame:
    """Every accuracy cell's floor (:func:`fernb.evaluate.transfer.cell_floor`) as a matrix shaped like
    :func:`interval_table`'s: ``"34.4 (neutral)"``, the accuracy (%) of always giving that answer
    on the cell's images; ``"—"`` for a cell not scored. A cell of the accuracy matrix is only
    worth what it clears this by."""
    part = table[table["metric"] == "accuracy"]
    cells = part.apply(lambda r: f"{100 * r['floor']:.1f} ({r['floor_class']})" if pd.notna(r.get("floor", np.nan))
                       else "—", axis=1)
    return part.assign(cell=cells).pivot(index="model", columns="target", values="cell").reindex(
        index=list(dict.fromkeys(part["model"])), columns=list(dict.fromkeys(part["target"])))


def drop_table(table: pd.DataFrame, causes: Mapping[str, str] | None = None, metric: str = "accuracy") -> pd.DataFrame:
    """Every scored off-diagonal cell, largest drop first: in-domain and target value, the drop
    in points with its interval, whether it was paired, for accuracy the cell's floor
    (:func:`fernb.evaluate.transfer.cell_floor`) and how far the target value clears it (``above floor (pt)``), and the
    target's known cause (a shift's, from :func:`target_table`)."""
    part = table[(table["metric"] == metric) & (table["status"] == "ok")].dropna(subset=["drop"])
    floor = part["floor"] if "floor" in part else pd.Series(np.nan, index=part.index)
    out = part.assign(**{"drop (pt)": 100 * part["drop"], "low (pt)": 100 * part["drop_low"],
                         "high (pt)": 100 * part["drop_high"], "floor": floor, "floor (%)": 100 * floor,
                         "above floor (pt)": 100 * (part["value"] - floor),
                         "cause": part["target"].map({} if causes is None else dict(causes)).fillna("")})
    return out.sort_values("drop", ascending=False)[["model", "target", "in_domain", "value", "drop", "drop_low",
                                                     "drop_high", "floor", "drop (pt)", "low (pt)", "high (pt)", "paired",
                                                     "floor (%)", "above floor (pt)", "cause"]].reset_index(drop=True)


def unscored_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The (model, target) cells that could not be scored, with the reason (their ``status``)."""
    return table[table["value"].isna()].drop_duplicates(["model", "target"])[["model", "target", "status"]]


def _drop_sentence(r: pd.Series) -> str:
    excluded = r["drop_low"] > 0 or r["drop_high"] < 0
    verdict = "its 95 % interval excludes zero" if excluded else "its 95 % interval includes zero: no change shown"
    return (f"*{r['model']}* on **{r['target']}**: {100 * r['in_domain']:.1f} % → {100 * r['value']:.1f} % "
            f"({-100 * r['drop']:+.1f} pt, {100 * r['drop_low']:.1f} to {100 * r['drop_high']:.1f} pt; {verdict}; "
            f"{r['above floor (pt)']:+.1f} pt from its floor of {r['floor (%)']:.1f} %)")


def drops_text(drops: pd.DataFrame, largest: int = 3, smallest: int = 2) -> str:
    """The ``largest`` and ``smallest`` accuracy changes of :func:`drop_table` (sorted, largest
    first), one line each: in-domain → target, the change with its 95 % interval and whether
    that excludes zero, and how far the cell stands from its floor. "" when no cell was scored."""
    if not len(drops):
        return ""
    shown = pd.concat([drops.head(largest), drops.tail(smallest)]).drop_duplicates(["model", "target"])
    return ("Largest and smallest accuracy changes, each against the model's in-domain test split:\n\n"
            + "\n".join(f"- {_drop_sentence(r)}" for _, r in shown.iterrows()))


def pose_text(drops: pd.DataFrame, pose_target: str = shf.SHIFT_PREFIX + "pose") -> str:
    """LANMSFF's multi-view claim read on the pose shift (no frontal face): every model's
    accuracy drop there with its interval, and whether the intervals overlap (then this run
    cannot tell the models' pose robustness apart). "" with fewer than two models scored on it."""
    pose = drops[drops["target"] == pose_target]
    if len(pose) < 2:
        return ""
    losses = "; ".join(f"*{r['model']}* {100 * r['drop']:.1f} pt ({100 * r['drop_low']:.1f} to "
                       f"{100 * r['drop_high']:.1f})" for _, r in pose.iterrows())
    if pose["drop_low"].max() <= pose["drop_high"].min():
        return ("**LANMSFF is built for multi-view (head-pose) robustness.** Under the pose shift (no frontal face), "
                f"each model loses: {losses}. Overlapping intervals mean this run cannot tell the two models' pose "
                "robustness apart.")
    return ("**LANMSFF is built for multi-view (head-pose) robustness.** Under the pose shift the drops differ beyond "
            f"their intervals: {losses}.")


# ------------------------------------------------------------------------ 5 · the largest drop
def largest_drop(table: pd.DataFrame, metric: str = "accuracy") -> pd.Series | None:
    """The scored off-diagonal cell whose ``metric`` falls furthest below its in-domain value."""
    part = table[(table["metric"] == metric) & (table["status"] == "ok")].dropna(subset=["drop"])
    return None if part.empty else part.loc[part["drop"].idxmax()]


def largest_drop_text(worst: pd.Series) -> str:
    """The largest drop's cell (:func:`largest_drop`) in one line: in-domain and target accuracy."""
    return (f"**{worst['model']} → {worst['target']}**: accuracy {100 * worst['in_domain']:.1f} % in-domain, "
            f"{100 * worst['value']:.1f} % on the target.")


def percent_labels(shares: pd.DataFrame) -> pd.DataFrame:
    """A frame of shares as whole percentages (``"37%"``), "" where a share is missing: the
    annotations of the largest drop's confusion heat map."""
    return shares.map(lambda v: "" if pd.isna(v) else f"{100 * v:.0f}%")


def collapse_text(collapse: pd.DataFrame) -> str:
    """The class whose recall falls furthest (:func:`fernb.evaluate.transfer.collapse_table`),
    and what the model answers instead on the target."""
    fallen = collapse.sort_values("change").iloc[0]
    return (f"The class that falls furthest is **{fallen.name}** (recall {100 * fallen['recall in-domain']:.0f} % → "
            f"{100 * fallen['recall on target']:.0f} %); on the target it is most often answered as "
            f"**{fallen['most often answered instead']}** ({100 * fallen['share']:.0f} % of its images).")


# ---------------------------------------------------------------------------- 6 · fine-tuning
def zero_shot_cells(table: pd.DataFrame, target: str) -> dict[str, dict[str, float | None]]:
    """Every row's score on ``target`` before any fine-tuning, {row label: {metric: value}}
    (None for a metric the table lacks): the N = 0 point of each fine-tuning curve
    (:func:`fernb.train.finetune.curve_frame`)."""
    out = {}
    for label in dict.fromkeys(table["model"]):
        cell = table[(table["model"] == label) & (table["target"] == target)].set_index("metric")["value"]
        out[label] = {k: cell.get(k) for k in _METRICS}
    return out


def finetune_skip_text(tune: Mapping, target: FERData | Exception | None) -> str | None:
    """Why fine-tuning does not run here (``transfer.finetune`` names no model, or its target
    has no training split or is not prepared), as a sentence; None when it runs."""
    if not tune.get("models"):
        return "*Fine-tuning is off (`transfer.finetune.models` is empty).*"
    if not isinstance(target, FERData) or not (target.split == "train").any():
        return f"*{tune['target']} has no training split here, so it cannot be fine-tuned on.*"
    return None


def finetune_outputs(tuned: Mapping[str, object], target: str, report: Report) -> list[pd.DataFrame]:
    """Each fine-tuned row's figure (:func:`fernb.workbook.plots.finetune_curves`: the target's
    test scores against N beside the claim HAFEM makes for that target, if any, and the longest
    run's validation curve) and its curve table, saved through ``report`` as
    ``finetune_<stage>``. ``tuned``: :func:`fernb.train.finetune.finetune_all`'s {label: curves}.
    Returns the tables; the figures stay open for the notebook's ``plt.show()``, which draws
    nothing under ``make``'s ``MPLBACKEND=Agg`` (where displaying a figure object would print
    its repr instead)."""
    paper = hafem_paper.CLAIMS["finetune_from_fer2013"].get(target, {}).get("accuracy")
    tables = []
    for label, t in tuned.items():
        report.figure(plots.finetune_curves(t.curve, t.by_epoch, None if paper is None else paper / 100,
                                            f"{label} fine-tuned on {target} ({t.seeds} seed(s))"), f"finetune_{t.stage}")
        tables.append(report.table(t.curve.round(4), f"finetune_{t.stage}"))
    return tables


def finetune_text(tuned: Mapping[str, object], target: str) -> str:
    """One line per fine-tuned row: its zero-shot accuracy on ``target``, after the most epochs,
    and the best N with its accuracy."""
    lines = []
    for label, t in tuned.items():
        curve = t.curve
        best = int(curve["accuracy"].idxmax())
        lines.append(f"*{label}*: zero-shot **{100 * curve['accuracy'].iloc[0]:.1f} %** on {target}, "
                     f"**{100 * curve['accuracy'].iloc[-1]:.1f} %** after {curve.index[-1]} epochs "
                     f"(best {100 * curve['accuracy'].max():.1f} % at N = {best}).")
    return "\n\n".join(lines)


# ---------------------------------------------------------------------- 7 · the papers' claims
def finetuned_cells(tuned: Mapping[str, object], target: str | None) -> dict[tuple[str, str], dict]:
    """The HAFEM rows' fine-tuning as :func:`claims_versus_ours` takes it: {(source dataset,
    target): {"accuracy" after the most epochs, "epochs", "seeds"}}."""
    return {(t.dataset, target): {"accuracy": float(t.curve["accuracy"].iloc[-1]), "epochs": int(t.curve.index[-1]),
                                  "seeds": t.seeds}
            for label, t in tuned.items() if label.startswith("HAFEM")}


def claims_versus_ours(table: pd.DataFrame, finetuned: Mapping[tuple[str, str], dict] | None = None) -> pd.DataFrame:
    """HAFEM's cross-dataset claims (§4, §5; :data:`fernb.papers.hafem.CLAIMS`) beside what this
    stage measured for the same (source, target) pair, in %: the zero-shot cells of HAFEM rows
    trained on FER2013 (``table``, :func:`fernb.evaluate.transfer.transfer_table`), and ``finetuned``: {(source, target):
    {"accuracy", "epochs", "seeds"}} from the fine-tuning runs. "not measured here" with the
    reason when the pair is not there."""
    claims = hafem_paper.CLAIMS
    stated = [("zero-shot", "fer2013", t, v, None) for t, v in claims["zero_shot_from_fer2013"].items()]
    stated += [(f"fine-tuned {c['epochs']} epochs", "fer2013", t, c["accuracy"], c["epochs"])
               for t, c in claims["finetune_from_fer2013"].items()]
    stated.append(("'without fine-tuning' (§5)", "fer2013", "rafdb", claims["conclusion_rafdb_without_finetuning"], None))
    acc = table[(table["metric"] == "accuracy") & table["model"].str.startswith("HAFEM")]
    finetuned = dict(finetuned or {})
    rows = []
    for kind, source, target, value, epochs in stated:
        row = {"claim": f"HAFEM {kind}: {source} → {target}", "paper %": value}
        hit = acc[(acc["source"] == source) & (acc["target"] == target) & acc["value"].notna()]
        if epochs is not None and (source, target) in finetuned:
            ours = finetuned[(source, target)]
            row.update({"ours %": 100 * ours["accuracy"], "seeds": ours.get("seeds"),
                        "gap (points)": 100 * ours["accuracy"] - value,
                        "ours": f"after {ours['epochs']} epochs of fine-tuning"})
        elif epochs is None and len(hit):
            r = hit.iloc[0]
            row.update({"ours %": 100 * r["value"], "95 % interval": f"{100 * r['low']:.1f}–{100 * r['high']:.1f}",
                        "seeds": int(r["seeds"]), "gap (points)": 100 * r["value"] - value, "ours": "zero-shot"})
        else:
            why = [f"no HAFEM trained on {source}"] if source not in set(acc["source"]) else []
            why += [f"{target} not prepared"] if target not in set(table["target"]) else []
            if epochs is not None and not why:
                why = [f"not fine-tuned on {target} (transfer.finetune.target)"]
            row["ours"] = "not measured here: " + ", ".join(why or ["cell not scored"])
        same = [f"Table 1 {r['ref'] or ''} {r['method']} ({r['dataset']})".replace("  ", " ")
                for r in hafem_paper.TABLE1 if r["accuracy"] == value and r["method"] != "HAFEM (ours)"]
        same += [f"Table 3 {name} (fer2013)" for name, r in hafem_paper.TABLE3.items()
                 if r["accuracy"] == value and name != "HAFEM"]
        row["the same number elsewhere in the paper"] = "; ".join(same) or "—"
        rows.append(row)
    return pd.DataFrame(rows).set_index("claim")


def published_beside(table: pd.DataFrame) -> pd.DataFrame:
    """The published cross-dataset record (:data:`fernb.papers.published.CROSS_DATASET`) with our
    best accuracy on the same (source, target) pair where the matrix has it."""
    acc = table[(table["metric"] == "accuracy") & table["value"].notna()]
    rows = []
    for entry in published.CROSS_DATASET:
        hit = acc[(acc["source"] == entry["source"]) & (acc["target"] == entry["target"])]
        rows.append({"source → target": f"{entry['source']} → {entry['target']}", "backbone": entry["backbone"],
                     "published %": f"{entry['low']:.0f}–{entry['high']:.0f}" if entry["low"] != entry["high"] else entry["low"],
                     "setting": entry["setting"], "reference": entry["reference"],
                     "ours % (zero-shot)": 100 * hit["value"].max() if len(hit) else "not measured here"})
    return pd.DataFrame(rows).set_index("source → target")


# ----------------------------------------------------------------------------- 8 · metrics
def matrix_cells(table: pd.DataFrame, metric: str) -> dict[str, dict[str, dict]]:
    """One metric of the matrix for ``metrics.json``: {model: {target: {value, low, high, drop,
    drop_low, drop_high, paired, floor}}} (None for what a cell lacks), or {"status": why} for a
    cell not scored."""
    part = table[table["metric"] == metric]
    return {m: {t: ({k: (None if pd.isna(r[k]) else (bool(r[k]) if k == "paired" else float(r[k])))
                     for k in ("value", "low", "high", "drop", "drop_low", "drop_high", "paired", "floor") if k in r}
                    if pd.notna(r["value"]) else {"status": r["status"]})
                for t, r in g.set_index("target").iterrows()} for m, g in part.groupby("model", sort=False)}


def transfer_metrics(table: pd.DataFrame, models: Sequence[TransferModel], tuned: Mapping[str, object],
                     worst: pd.Series | None, *, transfer: Mapping, targets: Sequence[str],
                     seconds: Mapping[str, float]) -> dict:
    """Notebook 04's ``metrics.json``: the settings (``transfer``: label rule, bootstrap count,
    fine-tuning target), the columns (``targets``) and rows with their seeds, every metric of the
    matrix (:func:`matrix_cells`), the largest drop (:func:`largest_drop`; also in points, the
    headline), each fine-tuning curve and the stage's ``seconds``."""
    tune = transfer["finetune"] or {}
    metrics = {
        "label_rule": transfer["label_rule"], "n_boot": transfer["n_boot"],
        "targets": list(targets), "models": [m.label for m in models],
        "seeds": {m.label: [r.seed for r in m.runs] for m in models},
        "matrix": {metric: matrix_cells(table, metric) for metric in _METRICS},
        "largest_drop": None if worst is None else {"model": worst["model"], "target": worst["target"],
                                                    "in_domain": float(worst["in_domain"]), "value": float(worst["value"]),
                                                    "drop": float(worst["drop"])},
        "finetune": {label: t.curve.reset_index().to_dict(orient="records") for label, t in tuned.items()},
        "finetune_target": tune.get("target"),
        "seconds": dict(seconds),
    }
    if worst is not None:
        metrics["largest_drop_pt"] = 100 * float(worst["drop"])
    return metrics
