"""fernb.metrics against scikit-learn computed independently, and against a hand-worked case."""
from __future__ import annotations

import json
import warnings
from collections import Counter
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from fernb.labels import SEVEN
from fernb.metrics import HEADLINE, Metrics, classification_metrics, metrics_from_frame, predictions_frame

K = len(SEVEN)

# Hand-worked case: 6 samples, classes a, b, c.
ABC = ("a", "b", "c")
TINY_Y = np.array([0, 0, 1, 1, 2, 2])
TINY_P = np.array([
    [0.7, 0.2, 0.1],  # a → a
    [0.3, 0.6, 0.1],  # a → b
    [0.2, 0.5, 0.3],  # b → b
    [0.1, 0.8, 0.1],  # b → b
    [0.1, 0.2, 0.7],  # c → c
    [0.5, 0.1, 0.4],  # c → a
])
# Confusion (rows actual, columns predicted):
#   a: a 1, b 1        b: b 2        c: a 1, c 1
TINY_CONFUSION = [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
TINY_ACCURACY = 4 / 6
# precision = diagonal / column sum: a 1/2, b 2/3, c 1/1   → macro (1/2 + 2/3 + 1)/3 = 13/18
TINY_PRECISION = [1 / 2, 2 / 3, 1.0]
# recall = diagonal / row sum: a 1/2, b 2/2, c 1/2         → macro 2/3 (= balanced accuracy)
TINY_RECALL = [1 / 2, 1.0, 1 / 2]
# F1 = 2PR/(P+R): a 1/2, b (4/3)/(5/3) = 4/5, c 1/(3/2) = 2/3 → macro (1/2 + 4/5 + 2/3)/3 = 59/90
TINY_F1 = [1 / 2, 4 / 5, 2 / 3]
# AUC = share of (positive, negative) pairs ranked right:
#   a: positives 0.7, 0.3 vs negatives 0.2, 0.1, 0.1, 0.5 → (4 + 3)/8
#   b: positives 0.5, 0.8 vs negatives 0.2, 0.6, 0.2, 0.1 → (3 + 4)/8
#   c: positives 0.7, 0.4 vs negatives 0.1, 0.1, 0.3, 0.1 → (4 + 4)/8   → macro 11/12
TINY_AUC = [7 / 8, 7 / 8, 1.0]


def biased_predictions(n=500, k=K, seed=0, hit=0.55, present=None):
    """Imbalanced labels and Dirichlet probabilities pushed towards the true class for a share
    ``hit`` of the rows, so that accuracy is neither chance nor perfect."""
    rng = np.random.default_rng(seed)
    present = np.arange(k) if present is None else np.asarray(present)
    weights = rng.uniform(0.5, 2.0, size=present.size)
    y = rng.choice(present, size=n, p=weights / weights.sum())
    probs = rng.dirichlet(np.ones(k), size=n)
    boost = rng.random(n) < hit
    probs[boost, y[boost]] += rng.uniform(0.3, 1.0, size=boost.sum())
    return y, probs / probs.sum(axis=1, keepdims=True)


@contextmanager
def no_warnings():
    """A block in which any warning (RuntimeWarning, sklearn's UndefinedMetricWarning…) fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.fixture(scope="module")
def random_case():
    y, probs = biased_predictions()
    return y, probs, classification_metrics(y, probs, SEVEN)


# ------------------------------------------------------------------ against scikit-learn
def test_headline_matches_sklearn(random_case):
    y, probs, m = random_case
    pred = probs.argmax(1)
    labels = list(range(K))
    assert 0.3 < m.accuracy < 0.9  # the bias makes the numbers non-trivial
    assert m.n == 500 and m.classes == SEVEN and m.auc_undefined == ()
    assert m.accuracy == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert m.balanced_accuracy == pytest.approx(balanced_accuracy_score(y, pred), abs=1e-12)
    assert m.precision == pytest.approx(precision_score(y, pred, labels=labels, average="macro", zero_division=0))
    assert m.recall == pytest.approx(recall_score(y, pred, labels=labels, average="macro", zero_division=0))
    assert m.f1 == pytest.approx(f1_score(y, pred, labels=labels, average="macro", zero_division=0))
    auc = [roc_auc_score(y == k, probs[:, k]) for k in range(K)]
    assert m.auc == pytest.approx(np.mean(auc))
    for name in HEADLINE:
        assert isinstance(getattr(m, name), float) and 0 <= getattr(m, name) <= 1


def test_macro_auc_equals_sklearn_multiclass_ovr(random_case):
    y, probs, m = random_case
    assert m.auc == pytest.approx(roc_auc_score(y, probs, multi_class="ovr", average="macro",
                                                labels=list(range(K))), abs=1e-12)


def test_per_class_matches_sklearn(random_case):
    y, probs, m = random_case
    pred = probs.argmax(1)
    per_class = dict(labels=list(range(K)), average=None, zero_division=0)
    table = m.per_class
    assert list(table.index) == list(SEVEN) and list(table.columns) == ["precision", "recall", "f1", "auc", "support"]
    np.testing.assert_allclose(table["precision"], precision_score(y, pred, **per_class))
    np.testing.assert_allclose(table["recall"], recall_score(y, pred, **per_class))
    np.testing.assert_allclose(table["f1"], f1_score(y, pred, **per_class))
    np.testing.assert_allclose(table["auc"], [roc_auc_score(y == k, probs[:, k]) for k in range(K)])
    np.testing.assert_array_equal(table["support"], np.bincount(y, minlength=K))
    assert table["support"].dtype.kind == "i"


def test_confusion_matches_sklearn(random_case):
    y, probs, m = random_case
    expected = confusion_matrix(y, probs.argmax(1), labels=list(range(K)))
    np.testing.assert_array_equal(m.confusion.to_numpy(), expected)
    assert m.confusion.index.name == "actual" and m.confusion.columns.name == "predicted"
    assert list(m.confusion.index) == list(SEVEN) == list(m.confusion.columns)
    np.testing.assert_allclose(m.confusion_normalized.sum(axis=1), 1.0)
    np.testing.assert_allclose(m.confusion_normalized.to_numpy(), expected / expected.sum(1, keepdims=True))


# --------------------------------------------------------------------- hand-worked case
def test_tiny_case_by_hand():
    m = classification_metrics(TINY_Y, TINY_P, ABC)
    assert m.accuracy == pytest.approx(TINY_ACCURACY)
    assert m.precision == pytest.approx(13 / 18)
    assert m.recall == pytest.approx(2 / 3)
    assert m.balanced_accuracy == pytest.approx(2 / 3)
    assert m.f1 == pytest.approx(59 / 90)
    assert m.auc == pytest.approx(11 / 12)
    assert m.confusion.to_numpy().tolist() == TINY_CONFUSION
    np.testing.assert_allclose(m.per_class["precision"], TINY_PRECISION)
    np.testing.assert_allclose(m.per_class["recall"], TINY_RECALL)
    np.testing.assert_allclose(m.per_class["f1"], TINY_F1)
    np.testing.assert_allclose(m.per_class["auc"], TINY_AUC)
    np.testing.assert_allclose(m.confusion_normalized.to_numpy(), [[0.5, 0.5, 0], [0, 1, 0], [0.5, 0, 0.5]])


# -------------------------------------------------------------- absent / unpredicted classes
def test_class_absent_from_y_true():
    names = ("a", "b", "c", "d")
    y, probs = biased_predictions(n=200, k=4, seed=1, present=[0, 1, 2])
    assert 3 in probs.argmax(1)  # d is predicted, so balanced accuracy's own warning would fire
    with no_warnings():
        m = classification_metrics(y, probs, names)
    assert np.isnan(m.per_class.loc["d", "auc"]) and m.auc_undefined == ("d",)
    assert m.auc == pytest.approx(np.mean([roc_auc_score(y == k, probs[:, k]) for k in range(3)]))
    assert m.confusion_normalized.loc["d"].isna().all()
    assert not m.confusion_normalized.loc[["a", "b", "c"]].isna().any().any()
    assert m.per_class.loc["d", "recall"] == 0 and m.per_class.loc["d", "support"] == 0
    # balanced accuracy averages recall over the 3 present classes, macro recall over all 4
    recall = m.per_class["recall"].to_numpy()
    assert m.balanced_accuracy == pytest.approx(recall[:3].mean())
    assert m.recall == pytest.approx(recall.sum() / 4)


def test_single_class_leaves_auc_undefined_everywhere():
    with no_warnings():
        m = classification_metrics([1, 1, 1], TINY_P[:3], ABC)
    assert np.isnan(m.auc) and m.auc_undefined == ABC


def test_class_never_predicted_scores_zero_precision():
    y = np.array([0, 1, 2, 2, 1, 0])
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4],
                      [0.2, 0.5, 0.3], [0.1, 0.8, 0.1], [0.9, 0.05, 0.05]])
    with no_warnings():
        m = classification_metrics(y, probs, ABC)
    assert 2 not in m.y_pred
    assert m.per_class.loc["c", "precision"] == 0 and m.per_class.loc["c", "f1"] == 0
    # a: 2/3, b: 2/3, c: 0 (never predicted still counts in the macro mean)
    assert m.precision == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)


# ------------------------------------------------------------------------ inputs
def test_torch_input_equals_numpy():
    y, probs = biased_predictions(n=120, seed=2)
    probs32 = probs.astype(np.float32)
    from_numpy = classification_metrics(y, probs32, SEVEN)
    from_torch = classification_metrics(torch.from_numpy(y), torch.from_numpy(probs32), SEVEN)
    assert from_torch.as_dict() == from_numpy.as_dict()
    pd.testing.assert_frame_equal(from_torch.per_class, from_numpy.per_class)
    assert classification_metrics(list(y), probs.tolist(), SEVEN).as_dict() == \
        classification_metrics(y, probs, SEVEN).as_dict()


def test_validation_errors():
    y, probs = biased_predictions(n=50, seed=3)
    logits = np.random.default_rng(0).normal(size=(50, K))
    with pytest.raises(ValueError, match=r"50 of 50 rows.*pass softmax probabilities"):
        classification_metrics(y, logits, SEVEN)
    unnormalised = probs.copy()
    unnormalised[:4] *= 1.1
    with pytest.raises(ValueError, match=r"^4 of 50 rows"):
        classification_metrics(y, unnormalised, SEVEN)
    with pytest.raises(ValueError, match=r"8 columns but there are K = 7"):
        classification_metrics(y, np.full((50, 8), 1 / 8), SEVEN)
    with pytest.raises(ValueError, match=r"\[0, 7\).*max 7"):
        classification_metrics(np.r_[y[:-1], 7], probs, SEVEN)
    with pytest.raises(ValueError, match=r"min -1"):
        classification_metrics(np.r_[y[:-1], -1], probs, SEVEN)
    with pytest.raises(ValueError, match=r"49 rows but y_true has 50"):
        classification_metrics(y, probs[:49], SEVEN)
    with pytest.raises(ValueError, match=r"empty"):
        classification_metrics(np.array([], dtype=int), np.zeros((0, K)), SEVEN)
    with pytest.raises(ValueError, match=r"integer class indices"):
        classification_metrics(y + 0.5, probs, SEVEN)
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        classification_metrics(y, probs[:, 0], SEVEN)
    with pytest.raises(ValueError, match=r"unique"):
        classification_metrics(y, probs, ("a",) * K)
    with pytest.raises(ValueError, match=r"1-d"):
        classification_metrics(y[:, None], probs, SEVEN)


# ------------------------------------------------------------------------ outputs
def test_as_dict_is_json_safe():
    names = ("a", "b", "c", "d")
    y, probs = biased_predictions(n=60, k=4, seed=4, present=[0, 1, 2])
    m = classification_metrics(y, probs, names)
    d = json.loads(json.dumps(m.as_dict(), allow_nan=False))
    assert d["per_class"]["d"]["auc"] is None and d["auc_undefined"] == ["d"]
    assert d["per_class"]["a"]["support"] == int((y == 0).sum()) and isinstance(d["per_class"]["a"]["support"], int)
    assert d["confusion"] == m.confusion.to_numpy().tolist()
    assert d["accuracy"] == m.accuracy and d["n"] == 60 and d["classes"] == list(names)
    assert set(HEADLINE) <= set(d)


def test_confusion_rows_for_dvc_plots():
    m = classification_metrics(TINY_Y, TINY_P, ABC)
    rows = m.confusion_rows()
    assert len(rows) == 6 and rows[1] == {"actual": "a", "predicted": "b"}
    pairs = Counter((r["actual"], r["predicted"]) for r in rows)
    assert [[pairs[(a, p)] for p in ABC] for a in ABC] == TINY_CONFUSION


def test_summary_in_percent():
    m = classification_metrics(TINY_Y, TINY_P, ABC)
    row = m.summary("tiny")
    assert list(row.index) == ["tiny"] and list(row.columns) == [*HEADLINE, "n"]
    assert row.loc["tiny", "accuracy"] == pytest.approx(100 * 4 / 6) and row.loc["tiny", "n"] == 6
    assert len(pd.concat([row, m.summary("again")])) == 2


# ------------------------------------------------------------------ predictions file
def test_predictions_frame_columns():
    frame = predictions_frame(TINY_Y, TINY_P, ABC, split="test", source_id=np.arange(6) + 100)
    assert list(frame.columns) == ["label", "pred", "prob_a", "prob_b", "prob_c", "correct", "split", "source_id"]
    assert frame["pred"].tolist() == [0, 1, 1, 1, 2, 0]
    assert frame["correct"].tolist() == [True, False, True, True, True, False]
    assert (frame["split"] == "test").all() and frame["source_id"].iloc[-1] == 105
    with pytest.raises(ValueError, match=r"'pose' has 5 values but there are 6"):
        predictions_frame(TINY_Y, TINY_P, ABC, pose=np.zeros(5))
    with pytest.raises(ValueError, match=r"clash"):
        predictions_frame(TINY_Y, TINY_P, ABC, correct=np.ones(6))


def assert_same_metrics(a: Metrics, b: Metrics):
    assert a.as_dict() == b.as_dict()
    pd.testing.assert_frame_equal(a.per_class, b.per_class)
    pd.testing.assert_frame_equal(a.confusion_normalized, b.confusion_normalized)


def test_frame_round_trip(random_case, tmp_path):
    y, probs, m = random_case
    split = np.where(np.arange(len(y)) % 3 == 0, "val", "test")
    frame = predictions_frame(y, probs, SEVEN, split=split, dataset="synthfer")
    assert_same_metrics(metrics_from_frame(frame, SEVEN), m)
    frame.to_csv(tmp_path / "predictions.csv", index=False)
    saved = pd.read_csv(tmp_path / "predictions.csv")
    assert_same_metrics(metrics_from_frame(saved, SEVEN), m)
    test = saved[saved["split"] == "test"]
    assert_same_metrics(metrics_from_frame(test, SEVEN),
                        classification_metrics(y[split == "test"], probs[split == "test"], SEVEN))


def test_metrics_from_frame_errors():
    frame = predictions_frame(TINY_Y, TINY_P, ABC)
    with pytest.raises(ValueError, match=r"lacks columns \['prob_c'\]"):
        metrics_from_frame(frame.drop(columns="prob_c"), ABC)
    with pytest.raises(ValueError, match=r"prob_c.*not in"):
        metrics_from_frame(frame, ABC[:2])
    edited = frame.assign(pred=[0, 0, 1, 1, 2, 0])
    with pytest.raises(ValueError, match=r"disagrees .* in 1 of 6 rows"):
        metrics_from_frame(edited, ABC)
