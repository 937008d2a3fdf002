"""Training losses: LANMSFF's cross-entropy and HAFEM's compound loss.

What the papers say
-------------------
- **LANMSFF** trains with categorical cross-entropy (:class:`CrossEntropy`).
- **HAFEM** (§ loss) trains with ``L = 0.60·CE + 0.25·Center + 0.15·DLS``, the weights
  "found by 5-fold CV". The centre term is "the Euclidean distance of the embedding to a
  learnable centre of its class" (the center loss of Wen et al., ECCV 2016); DLS,
  distribution-aware label smoothing, is cross-entropy against a smoothed target whose
  smoothing mass is "redistributed by inverse class frequency, so rare classes get more".
  No code was published, so everything below the equation is a reading of it.

Workbook defaults (where HAFEM §3 is silent or inconsistent; each one a parameter, see :data:`fernb.papers.hafem.DISPUTED`)
------------------------------------------------------------------------
- DLS target ``(1 − ε)·y + ε·q`` with ``q_k ∝ 1/n_k`` over the training split, ``ε = 0.1``
  (:func:`smoothing_prior`, :func:`distribution_aware_smoothing`).
- Center loss ``½·mean_i ||x_i − c_{y_i}||²`` on the model's embedding (the
  :class:`~fernb.models.common.FEROutput` ``embedding``), centres updated by Wen's rule
  (Eq. 4) with their own learning rate α = 0.5 (:meth:`CenterLoss.param_groups`).
- **Center loss + Mixup** (the paper is silent): a Mixup target is not one class, so
  which centre does a mixed row pull towards? ``center_mixed`` decides: ``"dominant"``
  (the larger share's centre; the default), ``"skip"`` (mixed rows do not enter the centre
  term) or ``"weighted"`` (each centre in proportion to its share).

A finding worth knowing before reading HAFEM's ablation: cross-entropy is linear in its
target, so the CE and DLS terms together are *one* cross-entropy smoothed by
``ε·λ3/(λ1+λ3)`` = 0.02 towards ``q`` (:attr:`CompoundLoss.effective_smoothing`).

Every loss takes what a :class:`~fernb.models.common.FEROutput` holds and the batch's
targets, either class indices ``(N,)`` or Mixup's soft targets ``(N, K)`` (rows summing to
1), and returns :class:`LossOutput` ``(total, parts)``::

    out = loss(logits, embedding, targets)
    out.total.backward()
    logged = {name: value.item() for name, value in out.parts.items()}  # unweighted parts
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fernb.models.inputs import input_size, to_input

__all__ = [
    "LossOutput", "soft_targets", "is_mixed", "smoothing_prior", "distribution_aware_smoothing",
    "CenterLoss", "CrossEntropy", "CompoundLoss", "build_loss", "LOSSES",
    "CENTER_MIXED", "CENTER_UPDATES", "HAFEM_WEIGHTS", "centre_term_diagnosis",
]

HAFEM_WEIGHTS: tuple[float, float, float] = (0.60, 0.25, 0.15)  # λ1 (CE), λ2 (Center), λ3 (DLS)
CENTER_MIXED: tuple[str, ...] = ("dominant", "skip", "weighted")
CENTER_UPDATES: tuple[str, ...] = ("wen", "sgd")
LOSSES: tuple[str, ...] = ("ce", "compound")


class LossOutput(NamedTuple):
    """A loss value to back-propagate and its parts to log.

    ``total`` carries the graph; ``parts`` maps a part's name to its *unweighted* value as a
    detached 0-d tensor (call ``.item()`` when logging, not every step, to avoid a sync).
    """

    total: torch.Tensor
    parts: dict[str, torch.Tensor]


# ------------------------------------------------------------------------------ targets
def _sum_tolerance(dtype: torch.dtype) -> float:
    # Mixup in half precision cannot hit 1 as closely as in float32.
    return {torch.float16: 1e-2, torch.bfloat16: 2e-2}.get(dtype, 1e-4)


def soft_targets(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Targets as probabilities ``(N, K)``: one-hot rows for class indices ``(N,)``, checked
    rows for soft targets (Mixup's ``λ·y_a + (1 − λ)·y_b``).

    Raises ``ValueError`` for indices outside ``[0, K)``, a second dimension other than
    ``K``, negative entries or rows that do not sum to 1.
    """
    if targets.dim() == 1:
        if targets.is_floating_point() or targets.dtype == torch.bool:
            raise ValueError(f"1-d targets must be integer class indices, got dtype {targets.dtype}")
        if targets.numel() and (targets.min() < 0 or targets.max() >= num_classes):
            raise ValueError(f"class indices must lie in [0, {num_classes}), got min {int(targets.min())}, "
                             f"max {int(targets.max())}")
        return F.one_hot(targets.long(), num_classes).to(torch.get_default_dtype())
    if targets.dim() != 2:
        raise ValueError(f"targets must be class indices (N,) or probabilities (N, K), got shape {tuple(targets.shape)}")
    if targets.shape[1] != num_classes:
        raise ValueError(f"soft targets have {targets.shape[1]} classes, expected K = {num_classes} "
                         f"(shape {tuple(targets.shape)})")
    if not targets.is_floating_point():
        raise ValueError(f"soft targets must be floating point probabilities, got dtype {targets.dtype}; "
                         "pass class indices as a 1-d tensor")
    if targets.numel():
        if (targets < 0).any():
            rows = torch.nonzero((targets < 0).any(1)).flatten().tolist()
            raise ValueError(f"soft targets must be non-negative; rows {rows[:10]} have negative entries")
        sums = targets.sum(1)
        bad = (sums - 1).abs() > _sum_tolerance(targets.dtype)
        if bad.any():
            rows = torch.nonzero(bad).flatten().tolist()
            raise ValueError(f"soft target rows must sum to 1; rows {rows[:10]} sum to "
                             f"{[round(float(s), 4) for s in sums[bad][:10]]}")
    return targets


def is_mixed(soft: torch.Tensor) -> torch.Tensor:
    """Boolean mask ``(N,)`` of rows that are not one-hot (a Mixup of two different classes).

    A Mixup of two images of the same class is one-hot again, so it counts as unmixed.
    Class indices ``(N,)`` are never mixed.
    """
    if soft.dim() == 1:
        return torch.zeros_like(soft, dtype=torch.bool)
    return soft.max(dim=1).values < 1 - 1e-6


# -------------------------------------------------------------------- DLS (HAFEM § loss)
def _as_counts(class_counts) -> np.ndarray:
    if isinstance(class_counts, torch.Tensor):
        class_counts = class_counts.detach().cpu().numpy()
    counts = np.asarray(class_counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f"class_counts must be a non-empty 1-d sequence, got shape {counts.shape}")
    if not np.isfinite(counts).all():
        raise ValueError(f"class_counts must be finite, got {counts.tolist()}")
    if (counts < 0).any():
        raise ValueError(f"class_counts must be non-negative, got {counts.tolist()}")
    if not (counts > 0).any():
        raise ValueError(f"class_counts are all zero ({counts.tolist()}): no class to smooth towards")
    return counts


def smoothing_prior(class_counts, classes: Sequence[str] | None = None) -> torch.Tensor:
    """DLS's smoothing distribution ``q_k = (1/n_k) / Σ_j (1/n_j)`` (HAFEM § loss: smoothing mass
    "redistributed by inverse class frequency, so rare classes get more").

    ``class_counts`` are the training split's per-class counts ``n_k``. A class with
    ``n_k = 0`` gets ``q_k = 0``, not infinite mass: a class absent from training should not
    soak up the whole smoothing budget; a warning names it (``classes`` gives the names).
    Returns a float32 tensor ``(K,)`` summing to 1.
    """
    counts = _as_counts(class_counts)
    if classes is not None and len(classes) != counts.size:
        raise ValueError(f"{len(classes)} class names for {counts.size} class counts")
    absent = np.flatnonzero(counts == 0)
    if absent.size:
        names = [classes[i] if classes is not None else f"class {i}" for i in absent]
        warnings.warn(f"no training samples for {', '.join(names)}: smoothing prior q = 0 there",
                      UserWarning, stacklevel=2)
    inverse = np.zeros_like(counts)
    inverse[counts > 0] = 1.0 / counts[counts > 0]
    return torch.as_tensor(inverse / inverse.sum(), dtype=torch.float32)


def distribution_aware_smoothing(targets: torch.Tensor, class_counts=None, eps: float = 0.1, *,
                                 prior: torch.Tensor | None = None) -> torch.Tensor:
    """HAFEM's DLS target ``(1 − ε)·y + ε·q`` with ``q`` from :func:`smoothing_prior`.

    ``y`` is the one-hot (class indices) or soft (Mixup) target. The map is linear in ``y``,
    so smoothing a Mixup target equals mixing the two smoothed targets. Give ``prior`` (a
    precomputed ``q``) instead of ``class_counts`` to skip recomputing it every batch.
    """
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"eps must lie in [0, 1], got {eps}")
    if prior is None:
        if class_counts is None:
            raise ValueError("give class_counts (or a precomputed prior)")
        prior = smoothing_prior(class_counts)
    y = soft_targets(targets, prior.numel())
    return (1.0 - eps) * y + eps * prior.to(device=y.device, dtype=y.dtype)


# ------------------------------------------------------------- center loss (Wen et al.)
def _center_assignments(targets: torch.Tensor, num_classes: int, mixed: str
                        ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Row-to-centre weights ``W`` (N, K) and, when every row uses at most one centre, its index.

    ``W_ik`` is how much row ``i`` pulls towards centre ``k`` (and centre ``k`` towards row
    ``i``): one-hot of the label for clean rows; for Mixup rows the ``mixed`` rule decides.
    """
    if targets.dim() == 1:
        soft = soft_targets(targets, num_classes)
        return soft, targets.long()
    soft = soft_targets(targets, num_classes)
    if mixed == "weighted":
        return soft, None
    index = soft.argmax(dim=1)  # first maximum on a 50/50 tie
    weights = F.one_hot(index, num_classes).to(soft.dtype)
    if mixed == "skip":
        weights = weights * (~is_mixed(soft)).to(soft.dtype)[:, None]
    return weights, index


def _center_loss_value(x: torch.Tensor, centers: torch.Tensor, weights: torch.Tensor,
                       index: torch.Tensor | None) -> torch.Tensor:
    """``½ · Σ_ik W_ik ||x_i − c_k||² / Σ_ik W_ik`` (Wen's Eq. 2 averaged over the rows that count)."""
    if index is not None:
        # One centre per row: gather it (exact, and K times cheaper than all distances).
        sq = ((x - centers[index]) ** 2).sum(dim=1) * weights.sum(dim=1)
    else:
        sq = (weights * ((x[:, None, :] - centers[None]) ** 2).sum(dim=2)).sum(dim=1)
    # clamp: a batch with no row that counts ("skip" on an all-Mixup batch) gives 0, not 0/0.
    return 0.5 * sq.sum() / weights.sum().clamp_min(1.0)


class _WenCenterLoss(torch.autograd.Function):
    """Center loss whose backward gives the centres Wen et al.'s Eq. 4 step, not the gradient.

    Features get the ordinary gradient ``Σ_k W_ik (x_i − c_k) / M · grad_output``. Centres get
    ``Δc_k = Σ_i W_ik (c_k − x_i) / (1 + Σ_i W_ik)`` whatever ``grad_output`` is, so that an
    SGD step with learning rate α is exactly Wen's ``c_k ← c_k − α·Δc_k``, independent of
    the loss weight λ and of the batch size.
    """

    @staticmethod
    def forward(ctx, x, centers, weights, index):
        ctx.save_for_backward(x, centers, weights)
        return _center_loss_value(x, centers, weights, index)

    @staticmethod
    def backward(ctx, grad_output):
        x, centers, weights = ctx.saved_tensors
        grad_x = grad_c = None
        if ctx.needs_input_grad[0]:
            mass = weights.sum().clamp_min(1.0)
            grad_x = (weights.sum(1, keepdim=True) * x - weights @ centers) / mass * grad_output
        if ctx.needs_input_grad[1]:
            count = weights.sum(0)[:, None]  # Σ_i δ(y_i = k); 0 for classes absent from the batch
            grad_c = (count * centers - weights.t() @ x) / (1.0 + count)
        return grad_x, grad_c, None, None


class CenterLoss(nn.Module):
    """Center loss (Wen et al., "A Discriminative Feature Learning Approach for Deep Face
    Recognition", ECCV 2016, Eq. 2 and Eq. 4) with a learnable centre per class.

    Value: ``½ · mean_i ||x_i − c_{y_i}||²``. Wen's Eq. 2 *sums* over the mini-batch; we
    average so that HAFEM's weight λ2 means the same at any batch size (Wen's λ absorbs the
    batch size instead).

    Mixup targets (``mixed``): ``"dominant"`` uses the centre of the row's argmax class (the
    workbook default; a 50/50 tie goes to the lower index); ``"skip"`` lets only one-hot rows
    contribute, averaging over them (an all-Mixup batch gives 0, still in the graph);
    ``"weighted"`` gives ``Σ_k y_ik · ½||x_i − c_k||²`` averaged over the rows.

    Centre update (``update``):

    - ``"wen"``: the centres' ``.grad`` is Wen's Eq. 4,
      ``Δc_j = Σ_i δ(y_i=j)(c_j − x_i) / (1 + Σ_i δ(y_i=j))``, whatever weight the loss is
      multiplied by, so SGD with ``lr = α`` (:meth:`param_groups`, α = 0.5 as in Wen's
      experiments) performs exactly ``c_j ← c_j − α·Δc_j``. The rows and centres that enter
      ``Δc`` are those of the loss: "dominant" counts a mixed row for its argmax class,
      "skip" does not count it, and "weighted" counts it fractionally,
      ``Δc_j = Σ_i y_ij (c_j − x_i) / (1 + Σ_i y_ij)``, which is Eq. 4 for one-hot rows and
      moves each centre in the direction of the weighted loss's own gradient (a dominant-
      only update would pull the features to a mixture of centres while moving one).
    - ``"sgd"``: the plain autograd gradient of the averaged loss (the common PyTorch
      implementation, KaiyangZhou/pytorch-center-loss), which scales with λ and 1/N.

    Two consequences of ``"wen"`` for a trainer: the centres' step is meant for plain SGD
    (Adam would rescale it, and α = 0.5 is a large Adam step); and ``GradScaler.unscale_``
    divides every gradient by the loss scale, Wen's ``Δc`` included, which was never scaled,
    so under mixed precision the centres need their own optimiser stepped outside the
    scaler (or ``update="sgd"``).
    """

    def __init__(self, num_classes: int, embed_dim: int, mixed: str = "dominant", update: str = "wen",
                 center_lr: float = 0.5):
        super().__init__()
        if num_classes < 1 or embed_dim < 1:
            raise ValueError(f"num_classes and embed_dim must be positive, got {num_classes}, {embed_dim}")
        if mixed not in CENTER_MIXED:
            raise ValueError(f"mixed must be one of {CENTER_MIXED}, got {mixed!r}")
        if update not in CENTER_UPDATES:
            raise ValueError(f"update must be one of {CENTER_UPDATES}, got {update!r}")
        if not center_lr > 0:
            raise ValueError(f"center_lr must be positive, got {center_lr}")
        self.num_classes, self.embed_dim = num_classes, embed_dim
        self.mixed, self.update, self.center_lr = mixed, update, float(center_lr)
        self.centers = nn.Parameter(torch.randn(num_classes, embed_dim))

    def forward(self, embedding: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if embedding.dim() != 2 or embedding.shape[1] != self.embed_dim:
            raise ValueError(f"expected embeddings (N, {self.embed_dim}), got shape {tuple(embedding.shape)}")
        if targets.shape[0] != embedding.shape[0]:
            raise ValueError(f"{targets.shape[0]} targets for {embedding.shape[0]} embeddings")
        # Squared distances of 2048-d vectors overflow and cancel in half precision: compute
        # in the centres' dtype with autocast off.
        with torch.autocast(device_type=embedding.device.type, enabled=False):
            x = embedding.to(self.centers.dtype)
            weights, index = _center_assignments(targets, self.num_classes, self.mixed)
            weights = weights.to(x.dtype)
            if self.update == "wen":
                return _WenCenterLoss.apply(x, self.centers, weights, index)
            return _center_loss_value(x, self.centers, weights, index)

    def param_groups(self) -> list[dict]:
        """The centres' own optimiser group: learning rate α (Wen et al. use 0.5), no weight
        decay (decay would drag every centre towards the origin)."""
        return [{"params": [self.centers], "lr": self.center_lr, "weight_decay": 0.0, "name": "center"}]

    def extra_repr(self) -> str:
        return (f"{self.num_classes} centres × {self.embed_dim}, mixed={self.mixed!r}, "
                f"update={self.update!r}, center_lr={self.center_lr}")


# --------------------------------------------------------------------------- the losses
def _ce_target(targets: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Indices go to F.cross_entropy as they are; soft targets checked and in the logits' dtype."""
    if targets.dim() == 1:
        return targets.long()
    return soft_targets(targets, logits.shape[1]).to(logits.dtype)


class CrossEntropy(nn.Module):
    """Categorical cross-entropy (LANMSFF), ``−mean_i Σ_k y_ik log softmax(z_i)_k``.

    Keras' ``categorical_crossentropy`` on softmax outputs clips ``p`` to ``[1e-7, 1 − 1e-7]``;
    from logits no clip is needed, and the two agree unless a probability falls below 1e-7.
    The embedding is ignored; ``label_smoothing`` is PyTorch's (uniform).
    """

    def __init__(self, label_smoothing: float = 0.0):
        super().__init__()
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1], got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: torch.Tensor, embedding: torch.Tensor | None, targets: torch.Tensor) -> LossOutput:
        ce = F.cross_entropy(logits, _ce_target(targets, logits), label_smoothing=self.label_smoothing)
        return LossOutput(ce, {"ce": ce.detach()})

    def param_groups(self) -> list[dict]:
        """No parameters of its own (so the trainer need not ask which loss it has)."""
        return []

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}"


class CompoundLoss(nn.Module):
    """HAFEM's loss (§ loss): ``λ1·CE(z, y) + λ2·Center(x, y) + λ3·CE(z, DLS(y))``.

    ``weights = (λ1, λ2, λ3)`` default to the paper's (0.60, 0.25, 0.15), "found by 5-fold
    CV"; ``dls_eps`` is ε of the DLS target ``(1 − ε)·y + ε·q`` with ``q ∝ 1/n_k`` from
    ``class_counts`` (the training split's); the ``center_*`` arguments go to
    :class:`CenterLoss`; ``classes`` only names classes with no training samples in the
    warning :func:`smoothing_prior` gives. A λ may be 0: its part is still computed and logged but adds
    nothing (a zero centre weight leaves the centres out of the graph, so they get no
    gradient at all).
    """

    def __init__(self, num_classes: int, embed_dim: int, class_counts,
                 weights: Sequence[float] = HAFEM_WEIGHTS, dls_eps: float = 0.1,
                 center_mixed: str = "dominant", center_update: str = "wen", center_lr: float = 0.5,
                 classes: Sequence[str] | None = None):
        super().__init__()
        weights = tuple(float(w) for w in weights)
        if len(weights) != 3:
            raise ValueError(f"weights must be three numbers (λ1 CE, λ2 Center, λ3 DLS), got {weights}")
        if any(not np.isfinite(w) or w < 0 for w in weights):
            raise ValueError(f"weights must be finite and non-negative, got {weights}")
        if sum(weights) == 0:
            raise ValueError("weights are all zero: the loss would train nothing")
        if not 0.0 <= dls_eps <= 1.0:
            raise ValueError(f"dls_eps must lie in [0, 1], got {dls_eps}")
        counts = _as_counts(class_counts)
        if counts.size != num_classes:
            raise ValueError(f"class_counts has {counts.size} entries for num_classes = {num_classes}")
        self.num_classes = num_classes
        self.weights = weights
        self.dls_eps = float(dls_eps)
        # Buffer, so it follows .to(device); not saved, as it is a function of class_counts.
        self.register_buffer("prior", smoothing_prior(counts, classes), persistent=False)
        self.center = CenterLoss(num_classes, embed_dim, mixed=center_mixed, update=center_update,
                                 center_lr=center_lr)

    @property
    def effective_smoothing(self) -> float:
        """The smoothing of the CE and DLS terms taken together: ``ε' = ε·λ3/(λ1+λ3)``.

        Cross-entropy is linear in its target, so
        ``λ1·CE(y) + λ3·CE((1−ε)y + εq) = (λ1+λ3)·CE((1−ε')y + ε'q)``: the two terms are
        one cross-entropy, weighted ``λ1+λ3``, smoothed by ε' towards ``q``. With HAFEM's
        λ and ε = 0.1 that is ε' = 0.1·0.15/0.75 = 0.02, far milder than the ε = 0.1 the DLS
        term suggests (and 0 when λ1 + λ3 = 0).
        """
        l1, _, l3 = self.weights
        return self.dls_eps * l3 / (l1 + l3) if l1 + l3 > 0 else 0.0

    def forward(self, logits: torch.Tensor, embedding: torch.Tensor, targets: torch.Tensor) -> LossOutput:
        l1, l2, l3 = self.weights
        ce = F.cross_entropy(logits, _ce_target(targets, logits))
        smoothed = distribution_aware_smoothing(targets, eps=self.dls_eps, prior=self.prior)
        dls = F.cross_entropy(logits, smoothed.to(logits.dtype))
        if l2 > 0:
            center = self.center(embedding, targets)
        else:
            with torch.no_grad():
                center = self.center(embedding, targets)
        total = l1 * ce + l2 * center + l3 * dls
        return LossOutput(total, {"ce": ce.detach(), "center": center.detach(), "dls": dls.detach()})

    def param_groups(self) -> list[dict]:
        """The centres' optimiser group (:meth:`CenterLoss.param_groups`)."""
        return self.center.param_groups()

    def extra_repr(self) -> str:
        return (f"weights={self.weights}, dls_eps={self.dls_eps}, "
                f"effective_smoothing={self.effective_smoothing:.4g}")


def build_loss(name: str, num_classes: int, embed_dim: int, class_counts=None, **kwargs) -> nn.Module:
    """The loss a config names: ``"ce"`` (:class:`CrossEntropy`, LANMSFF) or ``"compound"``
    (:class:`CompoundLoss`, HAFEM; needs the training split's ``class_counts``). Extra
    keyword arguments go to the loss's constructor."""
    if name == "ce":
        return CrossEntropy(**kwargs)
    if name == "compound":
        if class_counts is None:
            raise ValueError("the compound loss needs class_counts (per-class counts of the training "
                             "split) for its distribution-aware label smoothing")
        return CompoundLoss(num_classes, embed_dim, class_counts, **kwargs)
    raise ValueError(f"unknown loss {name!r}; choose one of {LOSSES}")


def centre_term_diagnosis(model: nn.Module, images, labels, weights: Sequence[float] = HAFEM_WEIGHTS,
                          scaling: str = "range") -> dict[str, float]:
    """What HAFEM's centre term does to ``model``'s features on one batch (stored uint8 faces,
    made the network's input by :func:`fernb.models.inputs.to_input` with ``scaling``, or a
    float batch as the network takes it; integer ``labels``), with the centres where Wen's
    update drives them: the batch's class means of the embedding.

    Returns the embedding width ``d`` and mean norm (HAFEM's encoder ends in a LayerNorm, so
    the norm sits near √d whatever the network learnt); the centre term ``½·mean‖x − c_y‖²``
    (the within-class scatter) and cross-entropy; ``term_ratio`` = λ2·centre / λ1·CE; and
    ``gradient_ratio`` = ‖∂(λ2·centre)/∂x‖ / ‖∂(λ1·CE)/∂x‖ at the embedding, which says
    whether the centre term or the classifier moves the features; ``fisher_ratio``, the
    between-class over the within-class scatter (trace), which a collapse of the feature
    space drives to 0. The network is evaluated in eval mode and left as it was."""
    l1, l2, _ = (float(w) for w in weights)
    images = torch.as_tensor(images)
    if images.dtype == torch.uint8:
        images = to_input(images, input_size(model), scaling)
    labels = torch.as_tensor(labels).long()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            embedding = model.forward_features(images).float()
        x = embedding.clone().requires_grad_(True)
        classes = torch.unique(labels)
        means = torch.zeros(int(labels.max()) + 1, x.shape[1])
        for k in classes:
            means[k] = embedding[labels == k].mean(0)
        centre = 0.5 * ((x - means[labels]) ** 2).sum(1).mean()
        ce = F.cross_entropy(model.forward_head(x).float(), labels)
        (g_centre,) = torch.autograd.grad(l2 * centre, x, retain_graph=True)
        (g_ce,) = torch.autograd.grad(l1 * ce, x)
        overall = embedding.mean(0)
        between = sum(float((labels == k).sum()) * float(((means[k] - overall) ** 2).sum()) for k in classes)
        within = float(((embedding - means[labels]) ** 2).sum())
        centre, ce = centre.item(), ce.item()
    finally:
        model.train(was_training)
    return {"d": float(x.shape[1]), "embedding_norm": float(embedding.norm(dim=1).mean()),
            "sqrt_d": float(np.sqrt(x.shape[1])), "centre": centre, "ce": ce,
            "term_ratio": l2 * centre / (l1 * ce) if l1 > 0 and ce > 0 else float("inf"),
            "gradient_ratio": float(g_centre.norm() / g_ce.norm().clamp_min(1e-12)),
            "fisher_ratio": between / max(within, 1e-12)}
