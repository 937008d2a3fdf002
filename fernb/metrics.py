"""Classification metrics: one function, every number from scikit-learn.

What the papers report
----------------------
LANMSFF and HAFEM both report accuracy; HAFEM adds macro precision, recall, F1 and
one-vs-rest AUC, and per-class tables and confusion matrices. :func:`classification_metrics`
returns all of them in one :class:`Metrics`, computed by scikit-learn
(``accuracy_score``, ``balanced_accuracy_score``, ``precision_recall_fscore_support``,
``roc_auc_score``, ``confusion_matrix``) so that no formula is re-derived here.

Choices the papers leave open (each stated where it is made)
------------------------------------------------------------
- **Macro over all K classes.** Precision, recall and F1 are averaged over ``labels=range(K)``
  with ``zero_division=0``: a class never predicted counts as precision 0, and a class absent
  from ``y_true`` as recall 0. Macro F1 is the mean of per-class F1, not the harmonic mean
  of macro precision and recall.
- **Balanced accuracy is not macro recall.** scikit-learn averages recall over the classes
  *present* in ``y_true`` only; macro recall above averages over all K. They agree when
  every class is present.
- **AUC where defined.** One-vs-rest AUC of class k needs positives and negatives of k in
  ``y_true``; where either is missing it is NaN, the class is listed in
  :attr:`Metrics.auc_undefined`, and macro AUC is the mean over the other classes. That is
  the case for a FER2013 test split that lacks a class, and for contempt on FER2013 (which
  has none) when a model is scored in the 8-class space, as HAFEM does.

Predictions are the interface between training and everything after it (:mod:`fernb.runs`):
:func:`predictions_frame` builds the per-sample file (``label, pred, prob_<class>…,
correct`` and columns such as ``split``, ``dataset``, ``pose``, ``source_id``), and
:func:`metrics_from_frame` scores a saved one::

    frame = predictions_frame(labels, probs, SEVEN, split="test", dataset="rafdb")
    m = metrics_from_frame(frame, SEVEN)
    report.metrics(m.as_dict(), headline=["accuracy", "f1"])
    m.confusion_rows()   # {actual, predicted} rows for `dvc plots show` (confusion template)
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from fernb.jsonio import json_safe

__all__ = [
    "Metrics", "classification_metrics", "predictions_frame", "metrics_from_frame", "accuracy_by_pose", "pose_subset_label", "pose_contrast",
    "HEADLINE", "SUM_TOLERANCE", "PROB_PREFIX",
]

HEADLINE: tuple[str, ...] = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "auc")
SUM_TOLERANCE: float = 1e-3  # float32 softmax sums to 1 within ~1e-6; logits miss by far more
PROB_PREFIX: str = "prob_"
PER_CLASS_COLUMNS: tuple[str, ...] = ("precision", "recall", "f1", "auc", "support")
FRAME_COLUMNS: tuple[str, ...] = ("label", "pred", "correct")


# ------------------------------------------------------------------------------ inputs
def _to_numpy(values) -> np.ndarray:
    """NumPy view of a list, array, Series or (any-device) torch tensor."""
    if hasattr(values, "detach") and hasattr(values, "is_floating_point"):  # torch, without importing it
        values = values.detach().cpu()
        if values.is_floating_point():
            values = values.double()  # NumPy has no bfloat16; float64 is what sklearn gets anyway
        values = values.numpy()
    return np.asarray(values)


def _check_classes(classes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(classes, str):
        raise ValueError(f"classes must be a sequence of class names, got the string {classes!r}")
    names = tuple(classes)
    if not names:
        raise ValueError("classes is empty: need at least one class name")
    if not all(isinstance(c, str) for c in names):
        raise ValueError(f"class names must be strings, got {list(names)}")
    if len(set(names)) != len(names):
        duplicates = sorted({c for c in names if names.count(c) > 1})
        raise ValueError(f"class names must be unique; repeated: {duplicates}")
    return names


def _check_labels(y_true, num_classes: int) -> np.ndarray:
    """``y_true`` as int64 class indices ``(N,)`` in ``[0, K)``."""
    y = _to_numpy(y_true)
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-d class indices (N,), got shape {y.shape}")
    if y.size == 0:
        raise ValueError("y_true is empty: metrics of zero samples are undefined")
    if y.dtype.kind == "f":
        # a label column read back from CSV can arrive as float; accept it only if whole
        if not np.isfinite(y).all() or not (y == np.round(y)).all():
            raise ValueError("y_true must be integer class indices; got non-integer or NaN floats")
    elif y.dtype.kind not in "iu":
        raise ValueError(f"y_true must be integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f"class indices must lie in [0, {num_classes}) for {num_classes} classes, "
                         f"got min {y.min()}, max {y.max()}")
    return y


def _check_probs(probs, n: int, num_classes: int) -> np.ndarray:
    """``probs`` as float64 ``(N, K)`` rows on the simplex; logits are refused, not softmaxed.

    Refusing logits keeps one meaning for the saved ``prob_<class>`` columns: they are what
    the model said, and a silent softmax here would hide a model that already applied one.
    """
    p = _to_numpy(probs)
    if p.ndim != 2:
        raise ValueError(f"probs must be (N, K) probabilities, got shape {p.shape}")
    if p.shape[1] != num_classes:
        raise ValueError(f"probs has {p.shape[1]} columns but there are K = {num_classes} classes "
                         f"(shape {p.shape})")
    if p.shape[0] != n:
        raise ValueError(f"probs has {p.shape[0]} rows but y_true has {n} samples")
    if p.dtype.kind not in "fiub":
        raise ValueError(f"probs must be numeric, got dtype {p.dtype}")
    p = p.astype(np.float64)
    finite = np.isfinite(p).all(axis=1)
    bad = ~finite | (p < 0).any(axis=1) | (np.abs(p.sum(axis=1) - 1) > SUM_TOLERANCE)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"{rows.size} of {n} rows of probs are not probabilities (non-negative, finite, "
                         f"summing to 1 within {SUM_TOLERANCE}); first bad rows {rows[:5].tolist()}. "
                         "Logits are not accepted: pass softmax probabilities")
    return p


def _check_inputs(y_true, probs, classes) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    names = _check_classes(classes)
    y = _check_labels(y_true, len(names))
    return y, _check_probs(probs, y.size, len(names)), names


# ------------------------------------------------------------------------ the numbers
def _one_vs_rest_auc(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-class one-vs-rest ROC AUC, ``roc_auc_score(y == k, p[:, k])``; NaN where undefined.

    Undefined means class k has no positives or no negatives in ``y``. scikit-learn would
    warn and return NaN there; testing first keeps the warning out of every notebook.
    """
    auc = np.full(p.shape[1], np.nan)
    for k in range(p.shape[1]):
        positive = y == k
        if positive.any() and not positive.all():
            auc[k] = roc_auc_score(positive, p[:, k])
    return auc


def _row_normalized(counts: np.ndarray) -> np.ndarray:
    """Confusion rows as fractions of each actual class; NaN rows for classes absent from y_true.

    Not ``confusion_matrix(normalize="true")``: that turns an absent class's 0/0 into a row of
    zeros, which reads as "always misclassified" instead of "not in this split".
    """
    totals = counts.sum(axis=1, keepdims=True)
    out = np.full(counts.shape, np.nan)
    np.divide(counts, totals, out=out, where=totals > 0)
    return out


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    """scikit-learn's balanced accuracy: mean recall over the classes *present* in ``y``.

    It warns when ``pred`` holds a class that ``y`` lacks (and then drops that class); that is
    the documented definition rather than a fault, so exactly that warning is silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true", category=UserWarning)
        return float(balanced_accuracy_score(y, pred))


@dataclass(frozen=True, eq=False)
class Metrics:
    """Headline (macro) and per-class metrics of one set of predictions; fractions in [0, 1].

    ``precision``, ``recall`` and ``f1`` are macro averages over all K classes
    (``zero_division=0``); ``balanced_accuracy`` averages recall over the classes present
    in ``y_true`` only; ``auc`` is the mean one-vs-rest AUC over the classes where it is
    defined, the others named in ``auc_undefined``. ``confusion`` is indexed by ``actual``
    with ``predicted`` columns; ``confusion_normalized`` divides each row by its total (NaN
    rows for classes absent from ``y_true``). ``y_true``/``y_pred`` keep the class indices
    for :meth:`confusion_rows`.
    """

    accuracy: float
    balanced_accuracy: float
    precision: float
    recall: float
    f1: float
    auc: float
    n: int
    classes: tuple[str, ...]
    per_class: pd.DataFrame = field(repr=False)
    confusion: pd.DataFrame = field(repr=False)
    confusion_normalized: pd.DataFrame = field(repr=False)
    auc_undefined: tuple[str, ...]
    y_true: np.ndarray = field(repr=False)
    y_pred: np.ndarray = field(repr=False)

    def headline(self) -> dict[str, float]:
        """The macro numbers by name (fractions), in :data:`HEADLINE` order."""
        return {name: getattr(self, name) for name in HEADLINE}

    def as_dict(self) -> dict:
        """Plain JSON-ready values for ``metrics.json``: NaN → None, NumPy → Python.

        Keys: the headline metrics, ``n``, ``classes``, ``auc_undefined``, ``per_class``
        (``{class: {precision, recall, f1, auc, support}}``) and ``confusion`` (counts, a list
        of rows in ``classes`` order, actual × predicted).
        """
        # .at, not iterrows: a row Series would upcast the integer support to float
        per_class = {name: {col: self.per_class.at[name, col] for col in PER_CLASS_COLUMNS}
                     for name in self.classes}
        return json_safe({
            **self.headline(), "n": self.n, "classes": list(self.classes),
            "auc_undefined": list(self.auc_undefined), "per_class": per_class,
            "confusion": self.confusion.to_numpy(),
        })

    def confusion_rows(self) -> list[dict[str, str]]:
        """One ``{"actual": name, "predicted": name}`` row per sample: the table ``dvc plots``
        draws as a confusion matrix (``template: confusion``, as in iterative/example-get-started)."""
        names = np.asarray(self.classes, dtype=object)
        return [{"actual": a, "predicted": p} for a, p in zip(names[self.y_true], names[self.y_pred])]

    def summary(self, name: str | None = None) -> pd.DataFrame:
        """One-row table of the headline metrics in percent, plus ``n``, for notebook tables.

        ``name`` labels the row (a model or dataset), so summaries ``pd.concat`` into a table.
        """
        row = {metric: 100.0 * value for metric, value in self.headline().items()}
        return pd.DataFrame([{**row, "n": self.n}], index=[name] if name is not None else None)


def classification_metrics(y_true, probs, classes: Sequence[str]) -> Metrics:
    """Accuracy, balanced accuracy, macro precision/recall/F1, macro one-vs-rest AUC, per-class
    table and confusion matrices of ``argmax(probs)`` against ``y_true`` (the numbers LANMSFF and
    HAFEM report), all from scikit-learn.

    ``y_true``: class indices ``(N,)`` in ``[0, K)``; ``probs``: ``(N, K)`` probabilities, NumPy
    or torch, rows non-negative and summing to 1 within :data:`SUM_TOLERANCE` (softmax output,
    not logits); ``classes``: the K class names. Macro precision/recall/F1 average over all K
    classes (``labels=range(K)``, ``zero_division=0``), so a class never predicted scores
    precision 0 and a class absent from ``y_true`` recall 0. ``balanced_accuracy`` is
    scikit-learn's: mean recall over the classes present in ``y_true``, hence it differs from
    macro recall exactly when a class is absent. One-vs-rest AUC of a class with no positives or
    no negatives is NaN and left out of the macro AUC (named in ``auc_undefined``).
    Raises ``ValueError`` for empty input, mismatched shapes, out-of-range labels or rows that
    are not probabilities.
    """
    y, p, names = _check_inputs(y_true, probs, classes)
    labels = list(range(len(names)))
    pred = p.argmax(axis=1)  # ties go to the lower class index

    precision, recall, f1, support = precision_recall_fscore_support(
        y, pred, labels=labels, average=None, zero_division=0)
    macro_p, macro_r, macro_f1, _ = precision_recall_fscore_support(
        y, pred, labels=labels, average="macro", zero_division=0)
    auc = _one_vs_rest_auc(y, p)
    defined = ~np.isnan(auc)
    counts = confusion_matrix(y, pred, labels=labels)

    actual = pd.Index(names, name="actual")
    predicted = pd.Index(names, name="predicted")
    per_class = pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "auc": auc,
                              "support": support.astype(np.int64)}, index=pd.Index(names, name="class"))
    return Metrics(
        accuracy=float(accuracy_score(y, pred)),
        balanced_accuracy=_balanced_accuracy(y, pred),
        precision=float(macro_p), recall=float(macro_r), f1=float(macro_f1),
        auc=float(auc[defined].mean()) if defined.any() else float("nan"),
        n=int(y.size), classes=names, per_class=per_class,
        confusion=pd.DataFrame(counts, index=actual, columns=predicted),
        confusion_normalized=pd.DataFrame(_row_normalized(counts), index=actual, columns=predicted),
        auc_undefined=tuple(name for name, ok in zip(names, defined) if not ok),
        y_true=y, y_pred=pred,
    )


# ------------------------------------------------------------ per-sample predictions file
def _extra_column(name: str, values, n: int):
    """An extra column for :func:`predictions_frame`: a scalar (repeated) or ``n`` values."""
    if values is None or np.isscalar(values):
        return values
    array = _to_numpy(values)
    if array.ndim != 1:
        raise ValueError(f"column {name!r} must be 1-d, got shape {array.shape}")
    if array.size != n:
        raise ValueError(f"column {name!r} has {array.size} values but there are {n} samples")
    return array


def predictions_frame(y_true, probs, classes: Sequence[str], **columns) -> pd.DataFrame:
    """The per-sample predictions table: ``label, pred, prob_<class>…, correct`` then ``columns``.

    ``label``/``pred`` are class indices into ``classes``, ``pred = argmax(probs)`` and
    ``correct = label == pred``. Extra keyword columns (``split``, ``dataset``, ``pose``,
    ``source_id``…) must have N values; a scalar is repeated for every row. Inputs are
    checked as in :func:`classification_metrics`.
    """
    y, p, names = _check_inputs(y_true, probs, classes)
    pred = p.argmax(axis=1)
    reserved = set(FRAME_COLUMNS) | {PROB_PREFIX + c for c in names}
    clashes = sorted(set(columns) & reserved)
    if clashes:
        raise ValueError(f"extra columns {clashes} clash with the columns predictions_frame writes")
    frame = pd.DataFrame({"label": y, "pred": pred})
    for k, name in enumerate(names):
        frame[PROB_PREFIX + name] = p[:, k]
    frame["correct"] = y == pred
    for name, values in columns.items():
        frame[name] = _extra_column(name, values, y.size)
    return frame


def metrics_from_frame(frame: pd.DataFrame, classes: Sequence[str]) -> Metrics:
    """:func:`classification_metrics` of a :func:`predictions_frame` table (saved or filtered).

    Reads ``label`` and ``prob_<class>`` for each of ``classes`` in that order. Raises
    ``ValueError`` if a column is missing, if the frame holds probabilities for classes not in
    ``classes`` (an 8-class frame scored as 7 classes: say so rather than fail the row-sum
    check), or if a ``pred`` column disagrees with ``argmax`` of the probabilities (say, after
    rounding created ties).
    """
    names = _check_classes(classes)
    wanted = [PROB_PREFIX + c for c in names]
    missing = [c for c in ["label", *wanted] if c not in frame.columns]
    if missing:
        raise ValueError(f"predictions frame lacks columns {missing}; has {list(frame.columns)}")
    unknown = [c for c in frame.columns if str(c).startswith(PROB_PREFIX) and c not in wanted]
    if unknown:
        raise ValueError(f"predictions frame has probability columns {unknown} for classes not in {list(names)}")
    probs = frame[wanted].to_numpy()
    metrics = classification_metrics(frame["label"].to_numpy(), probs, names)
    if "pred" in frame.columns:
        disagree = int((frame["pred"].to_numpy() != metrics.y_pred).sum())
        if disagree:
            raise ValueError(f"'pred' disagrees with argmax of the probabilities in {disagree} of "
                             f"{metrics.n} rows; were the probabilities rounded or edited?")
    return metrics


def accuracy_by_pose(frame: pd.DataFrame, edges: Sequence[float] = (0, 15, 30, 45, 60, 90),
                     subsets: Sequence[float] = (30, 45)) -> pd.DataFrame:
    """Accuracy per head-yaw bin of a predictions frame (columns ``pose``, ``correct``).

    Rows: one per ``|yaw|`` bin ``[a, b)`` (the last bin closed; a row ``"<last>°+"`` holds the
    samples beyond the last edge when there are any), then LANMSFF's pose subsets
    ``|yaw| > s`` for each ``s`` in ``subsets`` ("Pose >30°", ">45°"), then ``all``.
    Samples with unknown pose (NaN) count only in ``all``. Columns: ``images``,
    ``accuracy`` (NaN for an empty row).
    """
    if "pose" not in frame or "correct" not in frame:
        raise ValueError("accuracy_by_pose needs a predictions frame with 'pose' and 'correct' columns")
    yaw = frame["pose"].abs().to_numpy(dtype=float)
    correct = frame["correct"].to_numpy(dtype=bool)
    rows = []
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        last = i == len(edges) - 2
        mask = (yaw >= a) & ((yaw <= b) if last else (yaw < b))
        rows.append((f"{a:g}–{b:g}°", mask))
    beyond = yaw > edges[-1]
    if beyond.any():   # never drop a sample silently (SynthFER's profiles reach past 90°)
        rows.append((f"{edges[-1]:g}°+", beyond))
    rows += [(pose_subset_label(s), yaw > s) for s in subsets]
    rows.append(("all", np.ones(len(frame), dtype=bool)))
    table = pd.DataFrame({"images": [int(m.sum()) for _, m in rows],
                          "accuracy": [float(correct[m].mean()) if m.any() else np.nan for _, m in rows]},
                         index=pd.Index([name for name, _ in rows], name="|yaw|"))
    return table


def pose_subset_label(threshold: float) -> str:
    """The row of :func:`accuracy_by_pose` that holds the faces turned by more than ``threshold``."""
    return f">{threshold:g}°"


def pose_contrast(by_pose: pd.DataFrame, turned: float = 45.0) -> dict:
    """Frontal faces (the first ``|yaw|`` bin of :func:`accuracy_by_pose`) against faces turned
    by more than ``turned`` degrees: ``frontal`` and ``turned`` (each ``label``, ``images``,
    ``accuracy``; accuracy NaN when there are none), ``drop`` (frontal − turned accuracy, in
    points) and ``text``, one sentence saying it."""
    label = pose_subset_label(turned)
    if label not in by_pose.index:
        raise ValueError(f"no row {label!r} in the pose table (rows: {', '.join(map(str, by_pose.index))}); "
                         f"compute it with accuracy_by_pose(..., subsets=(..., {turned:g}))")
    rows = {"frontal": (by_pose.index[0], by_pose.iloc[0]), "turned": (label, by_pose.loc[label])}
    out = {k: {"label": name, "images": int(r["images"]), "accuracy": float(r["accuracy"])} for k, (name, r) in rows.items()}
    f, t = out["frontal"], out["turned"]
    out["drop"] = 100 * (f["accuracy"] - t["accuracy"]) if f["images"] and t["images"] else float("nan")

    def said(part, what):
        return f"{what}, {part['images']} images): " + (f"accuracy {100 * part['accuracy']:.1f} %" if part["images"]
                                                         else "none in this test split")
    text = said(f, f"Frontal faces ({f['label']}") + "; " + said(t, f"faces turned more than {turned:g}° ({t['label']}")
    if f["images"] and t["images"]:
        text += f" ({-out['drop']:+.1f} points against frontal)"
    out["text"] = text + "."
    return out
