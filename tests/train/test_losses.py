"""fernb.train.losses against hand-computed values: targets, DLS, center loss (Wen's update), HAFEM's compound loss."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fernb.train.losses import (
    HAFEM_WEIGHTS,
    CenterLoss,
    CompoundLoss,
    CrossEntropy,
    LossOutput,
    build_loss,
    distribution_aware_smoothing,
    is_mixed,
    smoothing_prior,
    soft_targets,
)

COUNTS = [100, 10, 50]
# q ∝ [1/100, 1/10, 1/50] = [0.01, 0.1, 0.02], sum 0.13
Q = torch.tensor([0.01 / 0.13, 0.1 / 0.13, 0.02 / 0.13])  # [0.076923, 0.769231, 0.153846]

# A 2-D toy for the center loss: 5 features, 3 centres, class 2 absent from the batch.
X = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0], [2.0, 1.0], [1.0, 3.0]])
Y = torch.tensor([0, 0, 1, 0, 1])
C = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, -1.0]])
# ½·mean ||x − c_y||²: squared distances 1, 4, 4, 5, 4 → 18 / 5 / 2
TOY_LOSS = 1.8
# Wen's Eq. 4: Δc_0 = (3·c0 − (3, 3)) / (1 + 3); Δc_1 = (2·c1 − (4, 4)) / (1 + 2); Δc_2 = 0
WEN_DC = torch.tensor([[-0.75, -0.75], [-2 / 3, -2 / 3], [0.0, 0.0]])
# autograd of ½·mean: Σ_i (c − x_i) / N
SGD_DC = torch.tensor([[-0.6, -0.6], [-0.4, -0.4], [0.0, 0.0]])
# (x − c_y) / N
FEATURE_GRAD = torch.tensor([[0.2, 0.0], [0.0, 0.4], [0.4, 0.0], [0.4, 0.2], [0.0, 0.4]])


def toy_center(update="wen", mixed="dominant") -> CenterLoss:
    loss = CenterLoss(3, 2, mixed=mixed, update=update)
    loss.centers.data.copy_(C)
    return loss


def mix(a: int, b: int, lam: float, k: int = 3) -> torch.Tensor:
    return lam * F.one_hot(torch.tensor(a), k).float() + (1 - lam) * F.one_hot(torch.tensor(b), k).float()


def numpy_ce(logits: torch.Tensor, soft: torch.Tensor) -> float:
    z = logits.detach().double().numpy()
    log_p = z - z.max(1, keepdims=True) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))
    return float(-(soft.double().numpy() * log_p).sum(1).mean())


# ------------------------------------------------------------------------------ targets
def test_soft_targets_one_hot_from_indices():
    out = soft_targets(torch.tensor([2, 0, 1]), 3)
    assert out.dtype == torch.float32
    assert torch.equal(out, torch.tensor([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]]))


def test_soft_targets_passes_valid_mixup_rows():
    soft = torch.stack([mix(0, 1, 0.7), mix(2, 2, 0.4)])
    assert soft_targets(soft, 3) is soft
    assert is_mixed(soft).tolist() == [True, False]  # same-class Mixup is one-hot again
    assert is_mixed(torch.tensor([0, 1])).tolist() == [False, False]


@pytest.mark.parametrize("bad, message", [
    (torch.tensor([[1.2, -0.2, 0.0]]), "non-negative"),
    (torch.tensor([[0.5, 0.4, 0.0]]), "sum to 1"),
    (torch.tensor([[0.5, 0.5, 0.0, 0.0]]), "expected K = 3"),
    (torch.tensor([0, 3]), r"\[0, 3\)"),
    (torch.tensor([[1, 0, 0]]), "floating point"),
])
def test_soft_targets_rejects_bad_rows(bad, message):
    with pytest.raises(ValueError, match=message):
        soft_targets(bad, 3)


# ------------------------------------------------------------------------------ DLS prior
def test_smoothing_prior_by_hand():
    q = smoothing_prior(COUNTS)
    torch.testing.assert_close(q, Q)
    torch.testing.assert_close(q, torch.tensor([0.0769231, 0.7692308, 0.1538462]))
    assert q.argmax() == 1 and q.argmin() == 0  # rarest class gets the most mass
    assert q.sum().item() == pytest.approx(1.0)


def test_smoothing_prior_zero_count_gets_nothing_and_warns():
    with pytest.warns(UserWarning, match="contempt"):
        q = smoothing_prior([100, 0, 50], classes=["neutral", "contempt", "sad"])
    torch.testing.assert_close(q, torch.tensor([0.01 / 0.03, 0.0, 0.02 / 0.03]))
    with pytest.warns(UserWarning, match="class 1"):
        smoothing_prior([100, 0, 50])


@pytest.mark.parametrize("counts, message", [([0, 0, 0], "all zero"), ([10, -1, 5], "non-negative")])
def test_smoothing_prior_rejects(counts, message):
    with pytest.raises(ValueError, match=message):
        smoothing_prior(counts)


# ------------------------------------------------------------------------------ DLS targets
def test_dls_targets_by_hand_and_rows_sum_to_one():
    t = distribution_aware_smoothing(torch.tensor([0, 2]), COUNTS, eps=0.1)
    expected = torch.tensor([[0.9 + 0.1 * Q[0], 0.1 * Q[1], 0.1 * Q[2]],
                             [0.1 * Q[0], 0.1 * Q[1], 0.9 + 0.1 * Q[2]]])
    torch.testing.assert_close(t, expected)
    torch.testing.assert_close(t.sum(1), torch.ones(2))
    # off-target mass: rare class 1 (n = 10) > class 2 (n = 50) > frequent class 0 (n = 100)
    assert t[0, 1] > t[0, 2] and t[1, 1] > t[1, 0]

    soft = torch.stack([mix(0, 1, 0.7), mix(1, 2, 0.4)])
    torch.testing.assert_close(distribution_aware_smoothing(soft, COUNTS).sum(1), torch.ones(2))


def test_dls_is_linear_in_the_target():
    lam = 0.3
    a, b = torch.tensor([0]), torch.tensor([2])
    mixed = distribution_aware_smoothing(mix(0, 2, lam)[None], COUNTS, eps=0.1)
    of_each = lam * distribution_aware_smoothing(a, COUNTS) + (1 - lam) * distribution_aware_smoothing(b, COUNTS)
    torch.testing.assert_close(mixed, of_each)


def test_dls_accepts_a_precomputed_prior_and_checks_eps():
    torch.testing.assert_close(distribution_aware_smoothing(torch.tensor([1]), prior=Q, eps=0.2),
                               distribution_aware_smoothing(torch.tensor([1]), COUNTS, eps=0.2))
    with pytest.raises(ValueError, match="eps"):
        distribution_aware_smoothing(torch.tensor([1]), COUNTS, eps=1.5)


# ------------------------------------------------------------------------------ cross-entropy
def test_cross_entropy_matches_torch_and_numpy():
    torch.manual_seed(0)
    logits, y = torch.randn(6, 3), torch.tensor([0, 1, 2, 2, 1, 0])
    out = CrossEntropy()(logits, None, y)
    assert isinstance(out, LossOutput) and set(out.parts) == {"ce"}
    torch.testing.assert_close(out.total, F.cross_entropy(logits, y))
    assert out.total.item() == pytest.approx(numpy_ce(logits, soft_targets(y, 3)), rel=1e-6)


def test_cross_entropy_with_soft_targets_is_minus_sum_y_log_p():
    torch.manual_seed(1)
    logits = torch.randn(2, 3, requires_grad=True)
    soft = torch.stack([mix(0, 1, 0.7), mix(2, 1, 0.4)])
    out = CrossEntropy()(logits, None, soft)
    by_hand = -(soft * torch.log_softmax(logits, 1)).sum(1).mean()
    torch.testing.assert_close(out.total, by_hand)
    assert out.total.item() == pytest.approx(numpy_ce(logits, soft), rel=1e-6)
    out.total.backward()
    assert logits.grad is not None and not out.parts["ce"].requires_grad


# ------------------------------------------------------------------------------ center loss
def test_center_loss_is_zero_on_the_centres():
    loss = CenterLoss(3, 4)
    x = torch.randn(3, 4)
    loss.centers.data.copy_(x)
    assert loss(x, torch.tensor([0, 1, 2])).item() == 0.0


@pytest.mark.parametrize("update", ["wen", "sgd"])
def test_center_loss_value_by_hand(update):
    assert toy_center(update)(X, Y).item() == pytest.approx(TOY_LOSS)


def test_wen_update_is_eq4():
    loss = toy_center("wen")
    x = X.clone().requires_grad_(True)
    loss(x, Y).backward()
    torch.testing.assert_close(loss.centers.grad, WEN_DC)  # absent class 2 → 0
    torch.testing.assert_close(x.grad, FEATURE_GRAD)

    opt = torch.optim.SGD(loss.param_groups())
    assert opt.param_groups[0]["lr"] == 0.5
    before = loss.centers.detach().clone()
    opt.step()
    torch.testing.assert_close(loss.centers.detach(), before - 0.5 * WEN_DC)
    for k in (0, 1):
        mean = X[Y == k].mean(0)
        assert (loss.centers[k] - mean).norm() < (before[k] - mean).norm()
    assert torch.equal(loss.centers[2].detach(), before[2])


def test_wen_update_does_not_scale_with_lambda_but_features_do():
    grads = {}
    for lam in (1.0, 0.25):
        loss = toy_center("wen")
        x = X.clone().requires_grad_(True)
        (lam * loss(x, Y)).backward()
        grads[lam] = (loss.centers.grad.clone(), x.grad.clone())
    torch.testing.assert_close(grads[0.25][0], grads[1.0][0])
    torch.testing.assert_close(grads[0.25][1], 0.25 * grads[1.0][1])


def test_sgd_update_is_plain_autograd():
    loss = toy_center("sgd")
    x = X.clone().requires_grad_(True)
    loss(x, Y).backward()
    torch.testing.assert_close(loss.centers.grad, SGD_DC)
    torch.testing.assert_close(x.grad, FEATURE_GRAD)
    before = loss.centers.detach().clone()
    torch.optim.SGD(loss.param_groups()).step()
    for k in (0, 1):
        mean = X[Y == k].mean(0)
        assert (loss.centers[k] - mean).norm() < (before[k] - mean).norm()


def test_param_groups():
    (group,) = CenterLoss(7, 16, center_lr=0.3).param_groups()
    assert group["lr"] == 0.3 and group["weight_decay"] == 0.0 and group["name"] == "center"
    assert group["params"][0].shape == (7, 16)


# ------------------------------------------------------------------------------ center + Mixup
def test_mixed_dominant_uses_the_larger_share():
    loss = toy_center(mixed="dominant")
    x = X[:1]
    assert loss(x, mix(1, 2, 0.7)[None]).item() == pytest.approx(loss(x, torch.tensor([1])).item())


def test_mixed_skip_ignores_mixed_rows():
    loss = toy_center("sgd", mixed="skip")
    soft = torch.stack([mix(0, 0, 1.0), mix(1, 2, 0.7), mix(1, 1, 0.5)])
    x = X[:3].clone().requires_grad_(True)
    value = loss(x, soft)
    # rows 0 (class 0, distance² 1) and 2 (class 1, distance² (2,0) → 4) count: ½·(1 + 4)/2
    assert value.item() == pytest.approx(1.25)
    value.backward()
    assert torch.equal(x.grad[1], torch.zeros(2))
    # nothing counts: zero, and still a graph to back-propagate through
    none = loss(x, mix(1, 2, 0.6)[None].expand(3, 3))
    assert none.item() == 0.0 and none.requires_grad


def test_mixed_skip_wen_leaves_mixed_rows_out_of_the_update():
    loss = toy_center("wen", mixed="skip")
    soft = torch.stack([mix(0, 0, 1.0), mix(1, 2, 0.7)])
    loss(X[:2].clone().requires_grad_(True), soft).backward()
    # only row 0 (class 0) counts: Δc_0 = (c0 − x0) / 2
    torch.testing.assert_close(loss.centers.grad, torch.tensor([[-0.5, 0.0], [0.0, 0.0], [0.0, 0.0]]))


@pytest.mark.parametrize("update", ["wen", "sgd"])
def test_mixed_weighted_by_hand(update):
    loss = toy_center(update, mixed="weighted")
    soft = torch.stack([mix(1, 2, 0.7), mix(0, 0, 1.0)])
    x = X[:2]
    # row 0, x = (1, 0): 0.7·½·||(0, −1)||² + 0.3·½·||(−1, 1)||² = 0.35 + 0.3; row 1: ½·||(0, 2)||² = 2
    assert loss(x, soft).item() == pytest.approx((0.35 + 0.3 + 2.0) / 2)


def test_mixed_weighted_wen_counts_shares():
    loss = toy_center("wen", mixed="weighted")
    soft = torch.stack([mix(1, 2, 0.7), mix(0, 0, 1.0)])
    loss(X[:2].clone(), soft).backward()
    # Δc_k = Σ_i y_ik (c_k − x_i) / (1 + Σ_i y_ik)
    expected = torch.tensor([[(0 - 0.0) / 2, (0 - 2.0) / 2],
                             [0.7 * (1 - 1.0) / 1.7, 0.7 * (1 - 0.0) / 1.7],
                             [0.3 * (2 - 1.0) / 1.3, 0.3 * (-1 - 0.0) / 1.3]])
    torch.testing.assert_close(loss.centers.grad, expected)


def test_center_loss_validation():
    with pytest.raises(ValueError, match="mixed"):
        CenterLoss(3, 2, mixed="average")
    with pytest.raises(ValueError, match="update"):
        CenterLoss(3, 2, update="adam")
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        CenterLoss(3, 2)(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))


# ------------------------------------------------------------------------------ compound loss
def compound_case(seed=0, n=8, k=3, d=5):
    torch.manual_seed(seed)
    logits = torch.randn(n, k, requires_grad=True)
    emb = torch.randn(n, d, requires_grad=True)
    y = torch.randint(0, k, (n,))
    return logits, emb, y


def independent_parts(loss: CompoundLoss, logits, emb, y):
    ce = F.cross_entropy(logits, y)
    soft = soft_targets(y, loss.num_classes)
    idx = soft.argmax(1)
    center = 0.5 * ((emb - loss.center.centers[idx]) ** 2).sum(1).mean()
    dls = numpy_ce(logits, distribution_aware_smoothing(y, COUNTS, eps=loss.dls_eps))
    return ce, center, dls


def test_compound_defaults_are_hafems():
    loss = CompoundLoss(3, 5, COUNTS)
    assert loss.weights == HAFEM_WEIGHTS == (0.60, 0.25, 0.15)
    assert loss.dls_eps == 0.1
    assert loss.effective_smoothing == pytest.approx(0.02)


def test_compound_total_is_the_weighted_sum_of_independent_parts():
    logits, emb, y = compound_case()
    loss = CompoundLoss(3, 5, COUNTS)
    out = loss(logits, emb, y)
    ce, center, dls = independent_parts(loss, logits, emb, y)
    assert out.total.item() == pytest.approx(0.60 * ce.item() + 0.25 * center.item() + 0.15 * dls, rel=1e-6)
    assert set(out.parts) == {"ce", "center", "dls"}
    assert out.parts["ce"].item() == pytest.approx(ce.item(), rel=1e-6)
    assert out.parts["center"].item() == pytest.approx(center.item(), rel=1e-6)
    assert out.parts["dls"].item() == pytest.approx(dls, rel=1e-6)
    assert all(p.dim() == 0 and not p.requires_grad for p in out.parts.values())


def test_ce_plus_dls_is_one_ce_smoothed_by_effective_eps():
    logits, _, y = compound_case(seed=3)
    loss = CompoundLoss(3, 5, COUNTS)
    l1, _, l3 = loss.weights
    two_terms = l1 * F.cross_entropy(logits, y) + l3 * F.cross_entropy(logits, distribution_aware_smoothing(y, COUNTS, 0.1))
    one_term = (l1 + l3) * F.cross_entropy(logits, distribution_aware_smoothing(y, COUNTS, loss.effective_smoothing))
    torch.testing.assert_close(two_terms, one_term)


def test_compound_gradient_reaches_logits_embedding_and_centres():
    logits, emb, y = compound_case()
    loss = CompoundLoss(3, 5, COUNTS)
    loss(logits, emb, y).total.backward()
    for grad in (logits.grad, emb.grad, loss.center.centers.grad):
        assert grad is not None and grad.abs().sum() > 0
    assert loss.param_groups()[0]["params"][0] is loss.center.centers


def test_compound_with_mixup_targets():
    logits, emb, _ = compound_case(n=2)
    soft = torch.stack([mix(0, 1, 0.7), mix(2, 1, 0.4)])
    loss = CompoundLoss(3, 5, COUNTS)
    out = loss(logits, emb, soft)
    ce, center, dls = independent_parts(loss, logits, emb, soft)  # dominant centres: 0 and 1
    assert out.total.item() == pytest.approx(0.60 * ce.item() + 0.25 * center.item() + 0.15 * dls, rel=1e-6)
    # CE of a Mixup target = the same mix of the two CEs, per row
    per_row = lambda t: F.cross_entropy(logits, t, reduction="none")  # noqa: E731
    mixed_ce = (0.7 * per_row(torch.tensor([0, 2]))[0] + 0.3 * per_row(torch.tensor([1, 1]))[0]
                + 0.4 * per_row(torch.tensor([0, 2]))[1] + 0.6 * per_row(torch.tensor([1, 1]))[1]) / 2
    assert out.parts["ce"].item() == pytest.approx(mixed_ce.item(), rel=1e-6)
    out.total.backward()
    assert emb.grad is not None and loss.center.centers.grad is not None


def test_compound_zero_weight_part_is_reported_but_inert():
    logits, emb, y = compound_case()
    loss = CompoundLoss(3, 5, COUNTS, weights=(1.0, 0.0, 0.0))
    out = loss(logits, emb, y)
    torch.testing.assert_close(out.total, F.cross_entropy(logits, y))
    assert out.parts["center"].item() > 0
    out.total.backward()
    assert loss.center.centers.grad is None and emb.grad is None


@pytest.mark.parametrize("kwargs, message", [
    (dict(weights=(0.5, 0.5)), "three numbers"),
    (dict(weights=(0.6, -0.25, 0.15)), "non-negative"),
    (dict(weights=(0, 0, 0)), "all zero"),
    (dict(class_counts=[10, 20]), "num_classes = 3"),
    (dict(dls_eps=-0.1), "dls_eps"),
    (dict(center_mixed="soft"), "mixed"),
])
def test_compound_validation(kwargs, message):
    args = dict(num_classes=3, embed_dim=5, class_counts=COUNTS) | kwargs
    with pytest.raises(ValueError, match=message):
        CompoundLoss(**args)


# ------------------------------------------------------------------------------ factory
def test_build_loss():
    assert isinstance(build_loss("ce", 7, 16), CrossEntropy)
    assert build_loss("ce", 7, 16, label_smoothing=0.1).label_smoothing == 0.1
    assert build_loss("ce", 7, 16).param_groups() == []
    loss = build_loss("compound", 3, 16, class_counts=COUNTS, weights=[0.5, 0.3, 0.2], center_update="sgd")
    assert isinstance(loss, CompoundLoss) and loss.weights == (0.5, 0.3, 0.2) and loss.center.update == "sgd"
    with pytest.raises(ValueError, match="class_counts"):
        build_loss("compound", 3, 16)
    with pytest.raises(ValueError, match=r"'ce', 'compound'"):
        build_loss("focal", 3, 16)


def test_no_warning_for_ordinary_counts():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CompoundLoss(3, 5, COUNTS)


@pytest.mark.parametrize("mixed", ["dominant", "skip", "weighted"])
def test_wen_feature_gradient_is_the_autograd_one(mixed):
    torch.manual_seed(5)
    x = torch.randn(6, 4)
    soft = torch.softmax(torch.randn(6, 3) * 3, 1)
    soft[:2] = F.one_hot(torch.tensor([0, 2]), 3).float()
    grads = {}
    for update in ("wen", "sgd"):
        loss = CenterLoss(3, 4, mixed=mixed, update=update)
        torch.manual_seed(6)
        loss.centers.data.normal_()
        xi = x.clone().requires_grad_(True)
        value = loss(xi, soft)
        value.backward()
        grads[update] = (value.detach(), xi.grad, loss.centers.grad)
    torch.testing.assert_close(grads["wen"][0], grads["sgd"][0])
    torch.testing.assert_close(grads["wen"][1], grads["sgd"][1])
    # Wen's step and the gradient point the same way for every centre (only the scale differs)
    cos = F.cosine_similarity(grads["wen"][2], grads["sgd"][2], dim=1)
    moved = grads["sgd"][2].norm(dim=1) > 0
    torch.testing.assert_close(cos[moved], torch.ones(int(moved.sum())))


def test_compound_under_autocast():
    logits, emb, y = compound_case()
    loss = CompoundLoss(3, 5, COUNTS)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = loss(logits.bfloat16(), emb.bfloat16(), y)
    assert out.parts["center"].dtype == torch.float32 and torch.isfinite(out.total)
    out.total.backward()
    assert emb.grad is not None and loss.center.centers.grad.dtype == torch.float32


def test_centre_term_diagnosis_by_hand():
    """The diagnosis against numpy: the within-class scatter, cross-entropy, and both
    gradients at the embedding in closed form (∂½mean‖x−μ_y‖²/∂x_i = (x_i − μ_{y_i})/N with
    the centres held; ∂CE/∂x_i = Wᵀ(p_i − e_{y_i})/N for a linear head)."""
    from fernb.models import create_model
    from fernb.train.losses import centre_term_diagnosis

    torch.manual_seed(0)
    model = create_model("hafem", num_classes=7, in_chans=1, backbone="efficientnet_b0", img_size=32, d_model=32,
                         num_heads=4)
    images = torch.rand(40, 1, 32, 32)
    labels = torch.arange(40) % 7
    out = centre_term_diagnosis(model, images, labels, weights=(0.6, 0.25, 0.15))
    assert model.training                                  # left as it was
    model.eval()
    with torch.no_grad():
        x = model.forward_features(images).double().numpy()
        logits = model.forward_head(torch.from_numpy(x).float()).double().numpy()
    y = labels.numpy()
    mu = np.stack([x[y == k].mean(0) for k in range(7)])
    diff = x - mu[y]
    n = len(y)
    centre = 0.5 * (diff ** 2).sum(1).mean()
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    ce = -np.log(p[np.arange(n), y]).mean()
    w = model.head.weight.detach().double().numpy()
    onehot = np.eye(7)[y]
    g_ce = 0.6 * (p - onehot) @ w / n
    g_centre = 0.25 * diff / n
    assert out["d"] == 32 and out["sqrt_d"] == pytest.approx(np.sqrt(32))
    assert out["embedding_norm"] == pytest.approx(np.linalg.norm(x, axis=1).mean(), rel=1e-4)
    assert out["centre"] == pytest.approx(centre, rel=1e-4)
    assert out["ce"] == pytest.approx(ce, rel=1e-4)
    assert out["term_ratio"] == pytest.approx(0.25 * centre / (0.6 * ce), rel=1e-4)
    assert out["gradient_ratio"] == pytest.approx(np.linalg.norm(g_centre) / np.linalg.norm(g_ce), rel=1e-3)
    between = sum((y == k).sum() * ((mu[k] - x.mean(0)) ** 2).sum() for k in range(7))
    assert out["fisher_ratio"] == pytest.approx(between / (diff ** 2).sum(), rel=1e-3)   # float32 sums
