"""Data augmentation: HAFEM's online augmentation (batched, on the training device) and
LANMSFF's offline ×4 training set.

HAFEM (§ augmentation; spec item 6)
-----------------------------------
The paper lists seven operations, "each with its probability": horizontal flip (0.5);
random crop with 10-px padding (0.8); colour jitter (0.5) with brightness ±0.3, contrast
±0.3, saturation ±0.2, hue ±0.05; rotation ±15° (0.3); Gaussian noise σ ∈ [0.01, 0.05]
(0.2); Cutout 32×32 (0.3); Mixup α = 0.4 (0.4). No code was published, so this is a
reading of that list:

- :class:`HAFEMAugment` applies the first six to a whole batch ``(N, C, H, W)`` in ``[0, 1]``
  on whatever device it lives on, each op firing independently **per sample** with its
  probability, in the paper's order. At paper scale (224 px, EfficientNet-B5) a GPU must
  not wait for per-image PIL augmentation on a few CPU cores, so there is no Python loop
  over samples: the firing samples are gathered, transformed together and written back.
- Mixup changes the targets, so it is a separate step, :meth:`HAFEMAugment.mix` (or the
  free function :func:`mixup`), applied after the six ops; it returns soft targets
  ``(N, K)``, the format :mod:`fernb.train.losses` accepts.

Reproducibility. Which samples fire and every random parameter (offsets, factors, angles,
σ, Cutout centres, Mixup λ) are drawn on the CPU from the object's seeded
``torch.Generator`` and then moved to the data's device, so they are identical on CPU and
GPU for the same seed and cost nothing to draw. Every op draws its parameters for all N
samples whether or not they fire, and even when its probability is 0, so changing one
probability never changes another op's parameters. Only the pixel noise is drawn on the
device (from a generator seeded from the CPU one): it is reproducible per device, but CUDA
and CPU noise differ. :meth:`HAFEMAugment.state_dict` holds the generator state so that a
resumed run continues the same sequence.

Readings where the paper is silent (each a parameter):

- **Colour jitter order.** torchvision's ``ColorJitter`` applies brightness, contrast,
  saturation and hue in a random order per call; we apply them in that fixed order, each
  with torchvision's formula (``adjust_brightness`` etc.), so one sample's result equals the
  four ``torchvision.transforms.v2.functional`` calls with the factors in
  :attr:`HAFEMAugment.last_params`. On 1-channel images only brightness and contrast act
  (torchvision's saturation and hue leave 1-channel images unchanged). A magnitude of 0
  switches that adjustment off, as ``ColorJitter(hue=0)`` does.
- **Crop** = zero-pad ``crop_padding`` px and crop back at a uniform integer offset
  (torchvision ``RandomCrop(size, padding=10)``): an integer shift by −10…+10 px, black fill.
- **Rotation** about the image centre, bilinear, black fill; a positive angle turns the
  picture counter-clockwise, as torchvision's ``rotate`` and OpenCV's
  ``getRotationMatrix2D`` do.
- **Cutout** (DeVries & Taylor 2017): one ``cutout_size`` square of zeros centred at a
  uniform random pixel, clipped at the borders. DeVries zeroes after normalisation (the
  dataset mean); we zero the ``[0, 1]`` image (black), which is what a trainer that
  normalises afterwards gets.
- **Resolution.** The paper's 32-px Cutout (and, arguably, its 10-px padding) are at its
  224-px input. A trainer at another resolution should scale them,
  ``HAFEMAugment(cutout_size=scale_pixels(32, 48))``; the defaults are the paper's numbers.

LANMSFF (the official code's offline augmentation)
--------------------------------------------
:func:`lanmsff_offline_augment` builds the ×4 training set exactly as the authors'
official notebook does, with OpenCV on ``uint8``: each image (resized to 64×64 first)
becomes original, horizontal flip, rotation by a random integer angle in [−15, 15]° then
resize to 72 and centre 64-crop, and resize to 72 then random 64-crop.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from fernb.train.losses import soft_targets

__all__ = [
    "HAFEMAugment", "mixup", "scale_pixels", "HAFEM_OPS", "PAPER_INPUT_SIZE",
    "OfflineAugmented", "lanmsff_offline_augment", "OFFLINE_KINDS",
]

HAFEM_OPS: tuple[str, ...] = ("flip", "crop", "jitter", "rotate", "noise", "cutout")
PAPER_INPUT_SIZE = 224          # HAFEM's input side, at which its pixel sizes are stated
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)   # torchvision's rgb_to_grayscale (ITU-R 601-2 luma)
OFFLINE_KINDS: tuple[str, ...] = ("original", "flip", "rotate", "crop")


def scale_pixels(pixels: int, image_size: int, paper_size: int = PAPER_INPUT_SIZE) -> int:
    """A pixel size stated at HAFEM's 224-px input, at ``image_size`` (at least 1 px).

    ``scale_pixels(32, 48)`` = 7: the Cutout square that covers the same fraction of a
    48-px FER2013 face as the paper's 32 px does of a 224-px one.
    """
    if pixels < 0 or image_size < 1 or paper_size < 1:
        raise ValueError(f"need pixels >= 0 and positive sizes, got {pixels}, {image_size}, {paper_size}")
    return 0 if pixels == 0 else max(1, round(pixels * image_size / paper_size))


# ------------------------------------------------------------------- random draws (CPU)
def _seed_from(generator: torch.Generator | None) -> int:
    """A 63-bit seed drawn from a torch generator (for numpy and device generators)."""
    return int(torch.randint(0, 2**63 - 1, (1,), generator=generator))


def _fires(n: int, p: float, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=generator) < p


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _check_probability(name: str, p: float) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
    return p


# ------------------------------------------------------------------ batched pixel ops
def _crop_batch(x: torch.Tensor, offsets: torch.Tensor, padding: int) -> torch.Tensor:
    """Zero-pad by ``padding`` and crop ``H×W`` at per-sample ``offsets`` (top, left), ``(k, 2)``."""
    k, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding)).permute(0, 2, 3, 1)   # (k, H+2p, W+2p, C)
    rows = offsets[:, 0, None] + torch.arange(h, device=x.device)                 # (k, H)
    cols = offsets[:, 1, None] + torch.arange(w, device=x.device)                 # (k, W)
    batch = torch.arange(k, device=x.device)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    """torchvision's ``rgb_to_grayscale`` of a batch, ``(k, 1, H, W)``; 1-channel passes through."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(dim=1)
    return r.mul(GRAY_WEIGHTS[0]).add_(g, alpha=GRAY_WEIGHTS[1]).add_(b, alpha=GRAY_WEIGHTS[2]).unsqueeze(1)


def _blend(x: torch.Tensor, other: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """torchvision's ``_blend``: ``ratio·x + (1 − ratio)·other`` clamped to [0, 1]; ``ratio`` per sample."""
    ratio = ratio.view(-1, 1, 1, 1)
    return (x * ratio + other * (1 - ratio)).clamp_(0.0, 1.0)


def _rgb_to_hsv(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RGB ``(k, 3, H, W)`` → H, S, V ``(k, H, W)`` each, with torchvision's (Pillow's) formulas."""
    r, g, _ = x.unbind(dim=1)
    minc, maxc = torch.aminmax(x, dim=1)
    grey = maxc == minc            # H and S are 0 there; the divisions below must not be 0/0
    ones = torch.ones_like(maxc)
    delta = maxc - minc
    s = delta / torch.where(grey, ones, maxc)
    rc, gc, bc = ((maxc.unsqueeze(1) - x) / torch.where(grey, ones, delta).unsqueeze(1)).unbind(dim=1)
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.fmod(h * (1.0 / 6.0) + 1.0, 1.0)
    return h, s, maxc


# Which of (v, p, q, t) is R, G and B in each of the six hue sectors.
_HSV_SECTORS = torch.tensor([[0, 2, 1, 1, 3, 0], [3, 0, 0, 2, 1, 1], [1, 1, 3, 0, 0, 2]])


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """H, S, V ``(k, H, W)`` → RGB ``(k, 3, H, W)`` (torchvision's ``_hsv_to_rgb``)."""
    h6 = h * 6.0
    sector = torch.floor(h6)
    f = h6 - sector
    sector = sector.long().remainder_(6)
    one_minus_s = 1.0 - s
    p = (one_minus_s * v).clamp_(0.0, 1.0)
    q = ((1.0 - s * f) * v).clamp_(0.0, 1.0)
    t = ((s * f + one_minus_s) * v).clamp_(0.0, 1.0)
    vpqt = torch.stack((v, p, q, t), dim=1)                                     # (k, 4, H, W)
    select = _HSV_SECTORS.to(h.device)[:, sector].movedim(0, 1)                 # (k, 3, H, W)
    return vpqt.gather(1, select)


def _adjust_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """torchvision's ``adjust_hue`` with a per-sample ``shift`` in [−0.5, 0.5]."""
    h, s, v = _rgb_to_hsv(x)
    h = torch.remainder(h + shift.view(-1, 1, 1), 1.0)
    return _hsv_to_rgb(h, s, v)


def _rotation_theta(angles_deg: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``affine_grid`` matrices ``(k, 2, 3)`` rotating counter-clockwise by ``angles_deg`` about the centre.

    In pixel units about the centre (y down) the output pixel ``q`` samples the input at
    ``[[cos a, −sin a], [sin a, cos a]]·q`` (torchvision's inverse matrix for ``rotate``);
    ``affine_grid`` works in coordinates normalised by ``W/2`` and ``H/2``, hence the
    ``H/W`` factors on the off-diagonal.
    """
    a = torch.deg2rad(angles_deg.double())
    cos, sin = torch.cos(a), torch.sin(a)
    zero = torch.zeros_like(a)
    theta = torch.stack((torch.stack((cos, -sin * h / w, zero), dim=-1),
                         torch.stack((sin * w / h, cos, zero), dim=-1)), dim=1)
    return theta


def _rotate_batch(x: torch.Tensor, angles_deg: torch.Tensor) -> torch.Tensor:
    k, c, h, w = x.shape
    theta = _rotation_theta(angles_deg, h, w).to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, [k, c, h, w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _cutout_batch(x: torch.Tensor, centres: torch.Tensor, size: int) -> torch.Tensor:
    """Zero a ``size``-square centred at ``centres`` (row, col) ``(k, 2)``, clipped at the borders."""
    _, _, h, w = x.shape
    top, left = centres[:, 0] - size // 2, centres[:, 1] - size // 2
    rows = torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device)
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + size)              # (k, H)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + size)            # (k, W)
    hole = in_rows[:, None, :, None] & in_cols[:, None, None, :]                  # (k, 1, H, W)
    return x.masked_fill(hole, 0.0)


# ------------------------------------------------------------------------------- Mixup
def _mixup(x: torch.Tensor, targets: torch.Tensor, num_classes: int, alpha: float, p: float,
           generator: torch.Generator | None
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mixup and what it drew: ``(x_mixed, soft_targets, fired (N,), λ (N,))`` (λ and fired on CPU)."""
    if not alpha > 0:
        raise ValueError(f"Mixup alpha must be positive, got {alpha}")
    p = _check_probability("Mixup p", p)
    if x.dim() < 1 or targets.dim() < 1 or x.shape[0] != targets.shape[0]:
        raise ValueError(f"x and targets need the same first dimension, got shapes {tuple(x.shape)} "
                         f"and {tuple(targets.shape)}")
    n = x.shape[0]
    fired = _fires(n, p, generator)
    # torch.distributions.Beta takes no generator: draw λ with numpy, seeded from the torch one.
    beta = np.random.default_rng(_seed_from(generator)).beta(alpha, alpha, size=n)
    lam = torch.where(fired, torch.from_numpy(beta).float(), torch.ones(n))
    y = soft_targets(targets, num_classes)
    if n == 0:
        return x, y, fired, lam
    # i mixes with N−1−i (timm's Mixup pairs the batch with its reverse).
    work = torch.promote_types(x.dtype, torch.float32)
    fired_d = fired.to(x.device)
    lam_x = lam.to(device=x.device, dtype=work).view(-1, *([1] * (x.dim() - 1)))
    xw = x.to(work)
    x_mixed = torch.where(fired_d.view_as(lam_x), xw * lam_x + xw.flip(0) * (1 - lam_x), xw).to(x.dtype)
    ywork = torch.promote_types(y.dtype, torch.float32)
    lam_y = lam.to(device=y.device, dtype=ywork)[:, None]
    yw = y.to(ywork)
    y_mixed = torch.where(fired.to(y.device)[:, None], yw * lam_y + yw.flip(0) * (1 - lam_y), yw).to(y.dtype)
    return x_mixed, y_mixed, fired, lam


def mixup(x: torch.Tensor, targets: torch.Tensor, num_classes: int, alpha: float = 0.4, p: float = 0.4,
          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al. 2018; HAFEM § augmentation: α = 0.4, probability 0.4) per sample.

    Sample ``i`` fires with probability ``p`` and is then mixed with its partner ``N−1−i``
    (the batch reversed, as timm's ``Mixup`` pairs samples): ``λ·x_i + (1 − λ)·x_{N−1−i}``
    with ``λ ~ Beta(α, α)`` drawn per sample; the targets (class indices ``(N,)`` or soft
    ``(N, K)``) become ``λ·y_i + (1 − λ)·y_{N−1−i}``. Non-firing samples keep ``λ = 1`` and
    come back unchanged, with one-hot targets. The partner is taken from the *unmixed*
    batch. λ and the firing mask are drawn on the CPU from ``generator`` (the global
    generator when None), so they do not depend on the device.

    Returns ``(x_mixed, soft_targets)``: ``x_mixed`` in ``x``'s dtype and device,
    ``soft_targets`` ``(N, K)`` with rows summing to 1 (float32 for class indices).
    """
    x_mixed, y_mixed, _, _ = _mixup(x, targets, num_classes, alpha, p, generator)
    return x_mixed, y_mixed


# ------------------------------------------------------------------------ HAFEMAugment
class HAFEMAugment:
    """HAFEM's online augmentation (spec item 6), batched on the data's device.

    ``aug(x)`` takes a float batch ``(N, C, H, W)``, ``C`` 1 or 3, values in ``[0, 1]``, on any
    device, and returns a new batch of the same shape, dtype and device, values in
    ``[0, 1]``. Ops, in the paper's order, each firing per sample with its probability:

    1. ``flip`` (``p_flip`` 0.5): horizontal flip.
    2. ``crop`` (``p_crop`` 0.8): zero-pad ``crop_padding`` (10) px, crop back at a uniform
       integer offset in ``[0, 2·padding]`` per axis.
    3. ``jitter`` (``p_jitter`` 0.5): brightness ``U[1 ± 0.3]``, contrast ``U[1 ± 0.3]``,
       saturation ``U[1 ± 0.2]``, hue shift ``U[±0.05]``, in that fixed order (torchvision's
       ``ColorJitter`` randomises the order), each with torchvision's formula.
    4. ``rotate`` (``p_rotate`` 0.3): ``U[±max_angle]`` (15°) about the centre, bilinear,
       black fill.
    5. ``noise`` (``p_noise`` 0.2): ``x + σ·N(0, 1)`` clamped, ``σ ~ U[noise_sigma]``
       (0.01–0.05) per sample.
    6. ``cutout`` (``p_cutout`` 0.3): a zero ``cutout_size`` (32) square centred at a
       uniform pixel, clipped at the borders. 32 px is the paper's at 224 px: scale it
       with :func:`scale_pixels` when training at another size.

    Mixup (``p_mixup`` 0.4, ``mixup_alpha`` 0.4) changes the targets, so it is its own
    step, :meth:`mix`, called after ``aug(x)``.

    After each call, :attr:`last_applied` maps an op's name to a CPU ``BoolTensor (N,)`` of
    the samples it fired on (:meth:`mix` adds ``"mixup"``), and :attr:`last_params` holds
    the parameters drawn for *every* sample (meaningful where the op fired):
    ``crop_offset`` (N, 2) (top, left in the padded image; the shift is ``offset −
    padding``), ``brightness``, ``contrast``, ``saturation``, ``hue``, ``angle`` (degrees,
    counter-clockwise), ``sigma`` (N,), ``noise_seed`` (int), ``cutout_center`` (N, 2) (row,
    col). Parameters are drawn on the CPU from the object's generator (seeded by ``seed``);
    :meth:`state_dict` / :meth:`load_state_dict` save and restore it so a resumed trainer
    continues the same sequence.
    """

    def __init__(self, p_flip: float = 0.5, p_crop: float = 0.8, crop_padding: int = 10,
                 p_jitter: float = 0.5, brightness: float = 0.3, contrast: float = 0.3,
                 saturation: float = 0.2, hue: float = 0.05,
                 p_rotate: float = 0.3, max_angle: float = 15.0,
                 p_noise: float = 0.2, noise_sigma: tuple[float, float] = (0.01, 0.05),
                 p_cutout: float = 0.3, cutout_size: int = 32,
                 p_mixup: float = 0.4, mixup_alpha: float = 0.4, seed: int = 0):
        self.p = {name: _check_probability(f"p_{name}", p) for name, p in zip(
            HAFEM_OPS + ("mixup",), (p_flip, p_crop, p_jitter, p_rotate, p_noise, p_cutout, p_mixup))}
        if int(crop_padding) != crop_padding or crop_padding < 0:
            raise ValueError(f"crop_padding must be a non-negative integer, got {crop_padding}")
        if int(cutout_size) != cutout_size or cutout_size < 0:
            raise ValueError(f"cutout_size must be a non-negative integer, got {cutout_size}")
        for name, value in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1] (factor 1 ± {name}), got {value}")
        if not 0.0 <= hue <= 0.5:
            raise ValueError(f"hue must lie in [0, 0.5], got {hue}")
        if not 0.0 <= max_angle <= 180.0:
            raise ValueError(f"max_angle must lie in [0, 180] degrees, got {max_angle}")
        low, high = (float(s) for s in noise_sigma)
        if not 0.0 <= low <= high:
            raise ValueError(f"noise_sigma must be (low, high) with 0 <= low <= high, got {noise_sigma}")
        if not mixup_alpha > 0:
            raise ValueError(f"mixup_alpha must be positive, got {mixup_alpha}")
        self.crop_padding, self.cutout_size = int(crop_padding), int(cutout_size)
        self.brightness, self.contrast = float(brightness), float(contrast)
        self.saturation, self.hue = float(saturation), float(hue)
        self.max_angle, self.noise_sigma = float(max_angle), (low, high)
        self.mixup_alpha = float(mixup_alpha)
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.last_applied: dict[str, torch.Tensor] = {}
        self.last_params: dict[str, torch.Tensor | int] = {}
        self.last_lambda: torch.Tensor | None = None

    # -------------------------------------------------------------------------- the ops
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise ValueError(f"expected a batch tensor (N, C, H, W), got "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        if x.shape[1] not in (1, 3):
            raise ValueError(f"expected 1 or 3 channels, got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"expected a float batch with values in [0, 1], got dtype {x.dtype}")
        n, _, h, w = x.shape
        g, p = self.generator, self.p
        # Everything random but the pixel noise, drawn for all N samples on the CPU, in op order.
        fired = {}
        params: dict[str, torch.Tensor | int] = {}
        fired["flip"] = _fires(n, p["flip"], g)
        fired["crop"] = _fires(n, p["crop"], g)
        params["crop_offset"] = torch.randint(0, 2 * self.crop_padding + 1, (n, 2), generator=g)
        fired["jitter"] = _fires(n, p["jitter"], g)
        params["brightness"] = _uniform(n, 1 - self.brightness, 1 + self.brightness, g)
        params["contrast"] = _uniform(n, 1 - self.contrast, 1 + self.contrast, g)
        params["saturation"] = _uniform(n, 1 - self.saturation, 1 + self.saturation, g)
        params["hue"] = _uniform(n, -self.hue, self.hue, g)
        fired["rotate"] = _fires(n, p["rotate"], g)
        params["angle"] = _uniform(n, -self.max_angle, self.max_angle, g)
        fired["noise"] = _fires(n, p["noise"], g)
        params["sigma"] = _uniform(n, *self.noise_sigma, g)
        params["noise_seed"] = _seed_from(g)
        fired["cutout"] = _fires(n, p["cutout"], g)
        params["cutout_center"] = torch.stack((torch.randint(0, max(h, 1), (n,), generator=g),
                                               torch.randint(0, max(w, 1), (n,), generator=g)), dim=1)
        self.last_applied, self.last_params, self.last_lambda = fired, params, None

        # Work in float32 (float64 stays float64): grid_sample and HSV want it, and half
        # precision would round the jitter blends.
        out = x.to(torch.promote_types(x.dtype, torch.float32), copy=True)
        for name in HAFEM_OPS:
            index = torch.nonzero(fired[name]).flatten()   # on the CPU: no device sync
            if index.numel() == 0:
                continue
            index_d = index.to(x.device, non_blocking=True)
            out.index_copy_(0, index_d, getattr(self, f"_{name}")(out.index_select(0, index_d), index))
        return out.to(x.dtype)

    def _on(self, key: str, index: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Parameter ``key`` of the firing samples on ``like``'s device (floats in its dtype)."""
        value = self.last_params[key][index]
        dtype = like.dtype if value.is_floating_point() else None
        return value.to(device=like.device, dtype=dtype, non_blocking=True)

    def _flip(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return x.flip(-1)

    def _crop(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return _crop_batch(x, self._on("crop_offset", index, x), self.crop_padding)

    def _jitter(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        # A zero magnitude switches the adjustment off, as in ColorJitter (hue=0 skips the HSV trip).
        if self.brightness > 0:
            x = (x * self._on("brightness", index, x).view(-1, 1, 1, 1)).clamp_(0.0, 1.0)
        if self.contrast > 0:
            mean = _grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
            x = _blend(x, mean, self._on("contrast", index, x))
        if x.shape[1] == 3:   # torchvision leaves 1-channel images unchanged here
            if self.saturation > 0:
                x = _blend(x, _grayscale(x), self._on("saturation", index, x))
            if self.hue > 0:
                x = _adjust_hue(x, self._on("hue", index, x))
        return x

    def _rotate(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return _rotate_batch(x, self.last_params["angle"][index])

    def _noise(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        device_generator = torch.Generator(device=x.device).manual_seed(self.last_params["noise_seed"])
        noise = torch.randn(x.shape, generator=device_generator, device=x.device, dtype=x.dtype)
        return (x + self._on("sigma", index, x).view(-1, 1, 1, 1) * noise).clamp_(0.0, 1.0)

    def _cutout(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        if self.cutout_size == 0:
            return x
        return _cutout_batch(x, self._on("cutout_center", index, x), self.cutout_size)

    # ---------------------------------------------------------------------------- Mixup
    def mix(self, x: torch.Tensor, targets: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Mixup with the object's generator (:func:`mixup`, ``p_mixup``, ``mixup_alpha``).

        Records ``last_applied["mixup"]`` and :attr:`last_lambda` (CPU ``(N,)``, 1 where the
        sample did not fire). Returns ``(x_mixed, soft_targets)``.
        """
        x_mixed, y_mixed, fired, lam = _mixup(x, targets, num_classes, self.mixup_alpha, self.p["mixup"],
                                              self.generator)
        self.last_applied = {**self.last_applied, "mixup": fired}
        self.last_lambda = lam
        return x_mixed, y_mixed

    # -------------------------------------------------------------------------- resume
    def state_dict(self) -> dict:
        """The generator state (a copy) and the seed it started from."""
        return {"seed": self.seed, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Continue the random sequence saved by :meth:`state_dict`."""
        if "generator" not in state:
            raise KeyError("state has no 'generator' entry; pass what HAFEMAugment.state_dict() returned")
        self.generator.set_state(state["generator"].clone())
        self.seed = int(state.get("seed", self.seed))

    def __repr__(self) -> str:
        p = self.p
        rows = [
            f"1. flip    p={p['flip']}",
            f"2. crop    p={p['crop']}  padding={self.crop_padding} px",
            f"3. jitter  p={p['jitter']}  brightness=±{self.brightness} contrast=±{self.contrast} "
            f"saturation=±{self.saturation} hue=±{self.hue} (fixed order)",
            f"4. rotate  p={p['rotate']}  ±{self.max_angle}°",
            f"5. noise   p={p['noise']}  σ∈[{self.noise_sigma[0]}, {self.noise_sigma[1]}]",
            f"6. cutout  p={p['cutout']}  {self.cutout_size}×{self.cutout_size} px",
            f"mix(): mixup  p={p['mixup']}  α={self.mixup_alpha}",
        ]
        return f"HAFEMAugment(seed={self.seed},\n  " + "\n  ".join(rows) + "\n)"


# ---------------------------------------------------------------- LANMSFF offline ×4
class OfflineAugmented(NamedTuple):
    """LANMSFF's ×4 training set. Image ``i`` gives rows ``4i … 4i+3``, in :data:`OFFLINE_KINDS` order."""

    images: np.ndarray    # (4N, size, size) or (4N, size, size, 3), uint8
    labels: np.ndarray    # (4N,), each label repeated 4 times
    origin: np.ndarray    # (4N,) int64, index of the source image
    kind: np.ndarray      # (4N,) str: "original", "flip", "rotate", "crop"
    angles: np.ndarray    # (N,) int64, the rotation angle in degrees (counter-clockwise)
    offsets: np.ndarray   # (N, 2) int64, (row, col) of the random crop in the resized image


def _as_image_list(images) -> list[np.ndarray]:
    if isinstance(images, np.ndarray):
        if images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3):
            return list(images)
        raise ValueError(f"expected images (N, H, W) or (N, H, W, 3), got shape {images.shape}")
    if isinstance(images, (str, bytes)) or not isinstance(images, Sequence):
        raise TypeError(f"images must be a numpy array or a sequence of arrays, got {type(images).__name__}")
    return [np.asarray(im) for im in images]


def _offline_four(image: np.ndarray, angle: int, offset: tuple[int, int], size: int, margin: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four images the LANMSFF notebook makes from one ``size``-square image."""
    h, w = image.shape[:2]
    big = (size + margin, size + margin)
    c = margin // 2
    flipped = cv2.flip(image, 1)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), float(angle), 1.0)
    rotated = cv2.resize(cv2.warpAffine(image, matrix, (w, h)), big, interpolation=cv2.INTER_LINEAR)
    rotated = rotated[c:c + size, c:c + size]
    r, col = offset
    cropped = cv2.resize(image, big, interpolation=cv2.INTER_LINEAR)[r:r + size, col:col + size]
    return image, flipped, rotated, cropped


def lanmsff_offline_augment(images, labels, seed: int = 0, size: int = 64, margin: int = 8,
                            max_angle: int = 15) -> OfflineAugmented:
    """LANMSFF's offline ×4 augmentation, as the authors' official notebook does it.

    ``images``: ``uint8`` grayscale ``(N, H, W)`` or colour ``(N, H, W, 3)``, or a sequence of
    such images (sizes may differ). Each image not ``size × size`` is first resized to it
    (``cv2.INTER_LINEAR``); it then gives four images, in this order:

    a. ``"original"``: the image;
    b. ``"flip"``: ``cv2.flip(image, 1)``;
    c. ``"rotate"``: ``cv2.warpAffine`` with ``cv2.getRotationMatrix2D((W/2, H/2), z, 1.0)``
       (bilinear, black border), ``z`` a random integer in ``[−max_angle, max_angle]``, then
       resized to ``size + margin`` (72) and centre-cropped ``[4:68, 4:68]``;
    d. ``"crop"``: resized to ``size + margin`` (72), cropped ``[r:r+64, c:c+64]`` with ``r, c``
       random integers in ``[0, margin]``.

    Angles and offsets are drawn once per image, all at once, from
    ``np.random.default_rng(seed)`` (angles first). Returns :class:`OfflineAugmented`.
    """
    if int(size) != size or size < 1 or int(margin) != margin or margin < 0:
        raise ValueError(f"size must be a positive and margin a non-negative integer, got {size}, {margin}")
    if int(max_angle) != max_angle or max_angle < 0:
        raise ValueError(f"max_angle must be a non-negative integer, got {max_angle}")
    image_list = _as_image_list(images)
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-d, got shape {labels.shape}")
    if len(labels) != len(image_list):
        raise ValueError(f"{len(image_list)} images but {len(labels)} labels")
    channels = set()
    for i, im in enumerate(image_list):
        if im.dtype != np.uint8:
            raise TypeError(f"images must be uint8, image {i} is {im.dtype}")
        if not (im.ndim == 2 or (im.ndim == 3 and im.shape[2] == 3)) or min(im.shape[:2]) < 1:
            raise ValueError(f"image {i} has shape {im.shape}; expected (H, W) grayscale or (H, W, 3)")
        channels.add(im.ndim)
    if len(channels) > 1:
        raise ValueError("images mix grayscale (H, W) and colour (H, W, 3)")

    n = len(image_list)
    rng = np.random.default_rng(seed)
    angles = rng.integers(-max_angle, max_angle + 1, size=n).astype(np.int64)
    offsets = rng.integers(0, margin + 1, size=(n, 2)).astype(np.int64)
    colour = channels == {3}
    out = np.empty((4 * n, size, size) + ((3,) if colour else ()), dtype=np.uint8)
    for i, im in enumerate(image_list):
        if im.shape[:2] != (size, size):
            im = cv2.resize(im, (size, size), interpolation=cv2.INTER_LINEAR)
        out[4 * i:4 * i + 4] = _offline_four(np.ascontiguousarray(im), int(angles[i]),
                                             (int(offsets[i, 0]), int(offsets[i, 1])), size, margin)
    return OfflineAugmented(images=out, labels=np.repeat(labels, 4), origin=np.repeat(np.arange(n), 4),
                            kind=np.tile(np.array(OFFLINE_KINDS), n), angles=angles, offsets=offsets)
