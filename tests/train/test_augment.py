"""fernb.train.augment: HAFEM's batched online augmentation against torchvision and hand-built
references, Mixup, and LANMSFF's offline ×4 set against OpenCV recomputed by hand."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from fernb.train.augment import (
    HAFEM_OPS,
    OFFLINE_KINDS,
    HAFEMAugment,
    OfflineAugmented,
    lanmsff_offline_augment,
    mixup,
    scale_pixels,
)
from fernb.train.losses import soft_targets

PAPER_P = {"flip": 0.5, "crop": 0.8, "jitter": 0.5, "rotate": 0.3, "noise": 0.2, "cutout": 0.3, "mixup": 0.4}
OFF = {f"p_{op}": 0.0 for op in HAFEM_OPS + ("mixup",)}


def only(op: str, **kwargs) -> HAFEMAugment:
    """An augmenter in which only ``op`` can fire (probability 1 unless given)."""
    return HAFEMAugment(**{**OFF, f"p_{op}": 1.0, **kwargs})


def batch(n=8, c=3, h=24, w=24, seed=0, dtype=torch.float32) -> torch.Tensor:
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed)).to(dtype)


def within_4_sd(fraction: float, p: float, n: int) -> bool:
    return abs(fraction - p) <= 4 * math.sqrt(p * (1 - p) / n)


# ------------------------------------------------------------------- firing probabilities
@pytest.mark.parametrize("op", HAFEM_OPS + ("mixup",))
def test_each_op_fires_at_its_probability_per_sample(op):
    n = 4000
    aug = HAFEMAugment(**{**OFF, f"p_{op}": PAPER_P[op]}, seed=1)
    x = batch(n, 3, 8, 8, seed=1)
    if op == "mixup":
        out, _ = aug.mix(x, torch.arange(n) % 7, 7)
    else:
        out = aug(x)
        others = [o for o in HAFEM_OPS if o != op]
        assert not any(aug.last_applied[o].any() for o in others)
    fired = aug.last_applied[op]
    assert fired.dtype == torch.bool and fired.shape == (n,)
    assert within_4_sd(fired.float().mean().item(), PAPER_P[op], n)
    assert torch.equal(out[~fired], x[~fired])      # samples it did not fire on are untouched


def test_firing_masks_of_different_ops_are_independent():
    n = 4000
    aug = HAFEMAugment(seed=2)
    x = batch(n, 3, 8, 8, seed=2)
    aug(x)
    aug.mix(x, torch.zeros(n, dtype=torch.long), 7)
    masks = aug.last_applied
    assert set(masks) == set(HAFEM_OPS) | {"mixup"}
    names = list(masks)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not torch.equal(masks[a], masks[b])
            both = (masks[a] & masks[b]).float().mean().item()
            assert within_4_sd(both, PAPER_P[a] * PAPER_P[b], n), (a, b, both)


# --------------------------------------------------------------- shape, dtype, device, range
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_shape_dtype_device_and_range_are_kept(channels, dtype):
    x = batch(32, channels, 20, 28, dtype=dtype)
    aug = HAFEMAugment(**{f"p_{op}": 0.7 for op in HAFEM_OPS}, cutout_size=8)
    y = aug(x)
    assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
    assert y.min() >= 0 and y.max() <= 1
    assert not torch.equal(y, x)
    assert torch.equal(x, batch(32, channels, 20, 28, dtype=dtype))   # input not modified in place
    xm, ym = aug.mix(y, torch.arange(32) % 5, 5)
    assert xm.shape == x.shape and xm.dtype == dtype and ym.shape == (32, 5)


def test_bad_input_and_arguments_raise():
    aug = HAFEMAugment()
    with pytest.raises(ValueError, match="N, C, H, W"):
        aug(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="1 or 3 channels"):
        aug(torch.rand(2, 2, 8, 8))
    with pytest.raises(TypeError, match="float"):
        aug(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="p_flip"):
        HAFEMAugment(p_flip=1.5)
    with pytest.raises(ValueError, match="hue"):
        HAFEMAugment(hue=0.7)
    with pytest.raises(ValueError, match="noise_sigma"):
        HAFEMAugment(noise_sigma=(0.05, 0.01))
    with pytest.raises(ValueError, match="first dimension"):
        aug.mix(torch.rand(4, 3, 8, 8), torch.zeros(3, dtype=torch.long), 7)


def test_repr_lists_every_op_with_its_probability():
    text = repr(HAFEMAugment(p_rotate=0.25))
    for op in HAFEM_OPS + ("mixup",):
        assert op in text
    assert "p=0.25" in text and "p=0.8" in text and "α=0.4" in text and "32×32" in text


def test_scale_pixels_keeps_the_fraction_of_the_224_px_input():
    assert scale_pixels(32, 224) == 32
    assert scale_pixels(32, 48) == 7
    assert scale_pixels(10, 112) == 5
    assert scale_pixels(0, 48) == 0


# ---------------------------------------------------------------- per-op references
def test_flip_equals_torch_flip():
    x = batch()
    assert torch.equal(only("flip")(x), torch.flip(x, dims=[-1]))


def test_crop_equals_torchvision_pad_then_crop_at_the_recorded_offsets():
    x = batch(200, 3, 16, 20)
    aug = only("crop")
    y = aug(x)
    offsets = aug.last_params["crop_offset"]
    assert offsets.min() == 0 and offsets.max() == 20    # every shift −10…+10 occurs
    for i in range(0, 200, 7):
        top, left = (int(v) for v in offsets[i])
        ref = TF.crop(TF.pad(x[i], [10]), top, left, 16, 20)
        assert torch.equal(y[i], ref)
    centred = ((offsets[:, 0] == 10) & (offsets[:, 1] == 10)).nonzero().flatten()
    assert all(torch.equal(y[i], x[i]) for i in centred)


def tv_jitter(image: torch.Tensor, params: dict, i: int, parts=("brightness", "contrast", "saturation", "hue")):
    fns = {"brightness": TF.adjust_brightness, "contrast": TF.adjust_contrast,
           "saturation": TF.adjust_saturation, "hue": TF.adjust_hue}
    for part in parts:
        image = fns[part](image, float(params[part][i]))
    return image


@pytest.mark.parametrize("part", ["brightness", "contrast", "saturation", "hue"])
def test_each_colour_adjustment_equals_torchvision(part):
    magnitudes = {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "hue": 0.0}
    magnitudes[part] = {"brightness": 0.3, "contrast": 0.3, "saturation": 0.2, "hue": 0.05}[part]
    x = batch(12, 3, 16, 16)
    aug = only("jitter", **magnitudes)
    y = aug(x)
    factors = aug.last_params[part]
    m = magnitudes[part]
    lo, hi = (-m, m) if part == "hue" else (1 - m, 1 + m)
    assert factors.min() >= lo and factors.max() <= hi and factors.std() > 0
    for i in range(12):
        torch.testing.assert_close(y[i], tv_jitter(x[i], aug.last_params, i, [part]), atol=2e-5, rtol=0)


def test_jitter_is_brightness_contrast_saturation_hue_in_that_order():
    x = batch(12, 3, 16, 16)
    aug = only("jitter")
    y = aug(x)
    for i in range(12):
        torch.testing.assert_close(y[i], tv_jitter(x[i], aug.last_params, i), atol=2e-5, rtol=0)


def test_jitter_on_one_channel_is_brightness_and_contrast_only():
    x = batch(12, 1, 16, 16)
    aug = only("jitter")
    y = aug(x)
    for i in range(12):
        ref = tv_jitter(x[i], aug.last_params, i)   # torchvision's saturation and hue pass 1 channel through
        torch.testing.assert_close(y[i], ref, atol=1e-6, rtol=0)
        torch.testing.assert_close(y[i], tv_jitter(x[i], aug.last_params, i, ["brightness", "contrast"]),
                                   atol=1e-6, rtol=0)


@pytest.mark.parametrize("size", [(24, 24), (20, 32)])
def test_rotation_equals_torchvision_rotate_bilinear(size):
    x = batch(10, 3, *size)
    aug = only("rotate")
    y = aug(x)
    angles = aug.last_params["angle"]
    assert angles.abs().max() <= 15 and angles.std() > 1
    for i in range(10):
        ref = TF.rotate(x[i], float(angles[i]), interpolation=InterpolationMode.BILINEAR)
        torch.testing.assert_close(y[i], ref, atol=1e-5, rtol=0)


def test_rotation_turns_a_bright_pixel_counter_clockwise_about_the_centre():
    x = torch.zeros(16, 1, 33, 33)
    x[:, 0, 16, 26] = 1.0            # 10 px right of the centre pixel (16, 16)
    aug = only("rotate", max_angle=15.0)
    y = aug(x)
    rows, cols = torch.meshgrid(torch.arange(33.0), torch.arange(33.0), indexing="ij")
    for i in range(16):
        a = math.radians(float(aug.last_params["angle"][i]))
        mass = y[i, 0]
        centroid = ((mass * rows).sum() / mass.sum(), (mass * cols).sum() / mass.sum())
        expected = (16 - 10 * math.sin(a), 16 + 10 * math.cos(a))   # counter-clockwise, y down
        assert abs(centroid[0] - expected[0]) < 0.25 and abs(centroid[1] - expected[1]) < 0.25


def test_noise_has_the_drawn_sigma():
    x = torch.full((20, 3, 32, 32), 0.5)       # 10σ from either bound: no clamping
    aug = only("noise")
    diff = (aug(x) - x).flatten(1)
    sigma = aug.last_params["sigma"]
    assert sigma.min() >= 0.01 and sigma.max() <= 0.05
    torch.testing.assert_close(diff.std(dim=1), sigma, rtol=0.06, atol=0)
    assert (diff.mean(dim=1).abs() <= 4 * sigma / math.sqrt(diff.shape[1])).all()


def test_cutout_zeroes_exactly_a_clipped_square():
    x = torch.ones(100, 3, 48, 48)
    aug = only("cutout")
    y = aug(x)
    clipped = 0
    for i in range(100):
        cy, cx = (int(v) for v in aug.last_params["cutout_center"][i])
        top, bottom = max(cy - 16, 0), min(cy + 16, 48)
        left, right = max(cx - 16, 0), min(cx + 16, 48)
        expected = torch.ones(3, 48, 48)
        expected[:, top:bottom, left:right] = 0
        assert torch.equal(y[i], expected)
        assert (y[i, 0] == 0).sum() == (bottom - top) * (right - left)
        clipped += (bottom - top) * (right - left) < 32 * 32
    assert 0 < clipped < 100   # both clipped and whole squares were tested


# ----------------------------------------------------------------- seeds and resuming
def test_same_seed_same_output_different_seed_different():
    x = batch(16)
    a, b, c = HAFEMAugment(seed=5), HAFEMAugment(seed=5), HAFEMAugment(seed=6)
    ya, yb, yc = a(x), b(x), c(x)
    assert torch.equal(ya, yb)
    assert not torch.equal(ya, yc)
    assert all(torch.equal(a.last_applied[k], b.last_applied[k]) for k in HAFEM_OPS)


def test_state_dict_round_trip_resumes_the_same_sequence():
    x, targets = batch(16), torch.arange(16) % 7
    first = HAFEMAugment(seed=3)
    first(x)
    state = first.state_dict()
    run_a = [first(x), *first.mix(x, targets, 7), first(x)]
    resumed = HAFEMAugment(seed=99)
    resumed.load_state_dict(state)
    run_b = [resumed(x), *resumed.mix(x, targets, 7), resumed(x)]
    assert all(torch.equal(a, b) for a, b in zip(run_a, run_b))
    assert resumed.seed == 3


# ---------------------------------------------------------------------------- Mixup
def test_mix_blends_each_firing_sample_with_its_reversed_partner():
    n, k = 50, 7
    x, y = batch(n, 1, 6, 6), torch.arange(n) % k
    aug = HAFEMAugment(seed=4)
    xm, soft = aug.mix(x, y, k)
    lam, fired = aug.last_lambda, aug.last_applied["mixup"]
    assert 0 < fired.sum() < n and torch.all(lam[~fired] == 1)
    assert torch.all((lam[fired] > 0) & (lam[fired] < 1))
    partner = torch.arange(n - 1, -1, -1)
    one_hot = F.one_hot(y, k).float()
    torch.testing.assert_close(soft, lam[:, None] * one_hot + (1 - lam[:, None]) * one_hot[partner])
    torch.testing.assert_close(soft.sum(1), torch.ones(n))
    lam4 = lam.view(-1, 1, 1, 1)
    torch.testing.assert_close(xm, lam4 * x + (1 - lam4) * x[partner])
    assert torch.equal(xm[~fired], x[~fired]) and torch.equal(soft[~fired], one_hot[~fired])
    assert soft_targets(soft, k) is soft                 # the format fernb.train.losses accepts


def test_mixup_of_soft_targets():
    n, k = 40, 5
    gen = torch.Generator().manual_seed(0)
    y = torch.distributions.Dirichlet(torch.ones(k)).sample((n,))
    x = batch(n, 3, 4, 4)
    xm, soft = mixup(x, y, k, p=1.0, generator=gen)
    # recover λ from the images (p = 1: every sample mixed) and check the targets with it
    partner = torch.arange(n - 1, -1, -1)
    lam = ((xm - x[partner]).flatten(1) / (x - x[partner]).flatten(1)).median(dim=1).values
    torch.testing.assert_close(soft, lam[:, None] * y + (1 - lam[:, None]) * y[partner], atol=1e-4, rtol=0)
    torch.testing.assert_close(soft.sum(1), torch.ones(n))


def test_mixup_lambda_is_beta_alpha_alpha_and_deterministic():
    n, alpha = 4000, 0.4
    x, y = torch.rand(n, 1), torch.zeros(n, dtype=torch.long)
    out_a = mixup(x, y, 2, alpha=alpha, p=1.0, generator=torch.Generator().manual_seed(7))
    out_b = mixup(x, y, 2, alpha=alpha, p=1.0, generator=torch.Generator().manual_seed(7))
    assert all(torch.equal(a, b) for a, b in zip(out_a, out_b))
    aug = HAFEMAugment(p_mixup=1.0, mixup_alpha=alpha)
    aug.mix(x, y, 2)
    lam = aug.last_lambda.double()
    var = 1 / (4 * (2 * alpha + 1))                    # Beta(α, α): mean ½, variance 1/(4(2α+1))
    assert abs(lam.mean() - 0.5) < 4 * math.sqrt(var / n)
    assert abs(lam.var() / var - 1) < 0.1


def test_mixup_with_p_zero_changes_nothing():
    x, y = batch(10), torch.arange(10) % 3
    xm, soft = mixup(x, y, 3, p=0.0)
    assert torch.equal(xm, x) and torch.equal(soft, F.one_hot(y, 3).float())


# ----------------------------------------------------------------------------- devices
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_draws_the_same_parameters_as_cpu():
    x = batch(64, 3, 32, 32)
    cpu, gpu = HAFEMAugment(seed=11), HAFEMAugment(seed=11)
    y_cpu, y_gpu = cpu(x), gpu(x.cuda())
    assert y_gpu.device.type == "cuda"
    for op in HAFEM_OPS:
        assert torch.equal(cpu.last_applied[op], gpu.last_applied[op])
    clean = ~cpu.last_applied["noise"]      # pixel noise is drawn on the device: it differs
    torch.testing.assert_close(y_gpu.cpu()[clean], y_cpu[clean], atol=1e-4, rtol=0)


# ------------------------------------------------------------------ LANMSFF offline ×4
def uint8_images(n, h=64, w=64, colour=False, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, h, w) + ((3,) if colour else ()), dtype=np.uint8)


def rotate_then_centre_crop(image, angle):
    m = cv2.getRotationMatrix2D((32.0, 32.0), angle, 1.0)
    return cv2.resize(cv2.warpAffine(image, m, (64, 64)), (72, 72), interpolation=cv2.INTER_LINEAR)[4:68, 4:68]


def resize_then_crop(image, r, c):
    return cv2.resize(image, (72, 72), interpolation=cv2.INTER_LINEAR)[r:r + 64, c:c + 64]


def test_offline_gives_four_images_per_source_in_order():
    images, labels = uint8_images(5), np.array([3, 1, 4, 1, 5])
    out = lanmsff_offline_augment(images, labels, seed=0)
    assert isinstance(out, OfflineAugmented)
    assert out.images.shape == (20, 64, 64) and out.images.dtype == np.uint8
    assert out.labels.tolist() == [3] * 4 + [1] * 4 + [4] * 4 + [1] * 4 + [5] * 4
    assert out.origin.tolist() == np.repeat(np.arange(5), 4).tolist()
    assert out.kind.tolist() == list(OFFLINE_KINDS) * 5 == ["original", "flip", "rotate", "crop"] * 5
    assert out.angles.shape == (5,) and out.offsets.shape == (5, 2)
    for i in range(5):
        a, b, c, d = out.images[4 * i:4 * i + 4]
        assert np.array_equal(a, images[i])
        assert np.array_equal(b, images[i][:, ::-1])
        assert np.array_equal(c, rotate_then_centre_crop(images[i], int(out.angles[i])))
        assert np.array_equal(d, resize_then_crop(images[i], *out.offsets[i]))


def test_offline_angles_and_offsets_are_integers_in_range_and_vary():
    out = lanmsff_offline_augment(uint8_images(200, seed=1), np.zeros(200, dtype=int), seed=3)
    assert np.issubdtype(out.angles.dtype, np.integer) and np.issubdtype(out.offsets.dtype, np.integer)
    assert out.angles.min() >= -15 and out.angles.max() <= 15 and len(np.unique(out.angles)) >= 25
    assert out.offsets.min() >= 0 and out.offsets.max() <= 8
    assert set(np.unique(out.offsets[:, 0])) == set(range(9)) == set(np.unique(out.offsets[:, 1]))
    again = lanmsff_offline_augment(uint8_images(200, seed=1), np.zeros(200, dtype=int), seed=3)
    other = lanmsff_offline_augment(uint8_images(200, seed=1), np.zeros(200, dtype=int), seed=4)
    assert np.array_equal(again.images, out.images)
    assert not np.array_equal(other.angles, out.angles)


def test_offline_resizes_48_px_images_to_64_first():
    images = uint8_images(3, 48, 48)
    out = lanmsff_offline_augment(images, [0, 1, 2], seed=0)
    assert out.images.shape == (12, 64, 64)
    for i in range(3):
        resized = cv2.resize(images[i], (64, 64), interpolation=cv2.INTER_LINEAR)
        assert np.array_equal(out.images[4 * i], resized)
        assert np.array_equal(out.images[4 * i + 2], rotate_then_centre_crop(resized, int(out.angles[i])))
        assert np.array_equal(out.images[4 * i + 3], resize_then_crop(resized, *out.offsets[i]))


def test_offline_rgb_and_a_list_of_mixed_sizes():
    images = uint8_images(3, colour=True)
    out = lanmsff_offline_augment(images, [0, 1, 2], seed=2)
    assert out.images.shape == (12, 64, 64, 3)
    for i in range(3):
        assert np.array_equal(out.images[4 * i + 1], cv2.flip(images[i], 1))
        assert np.array_equal(out.images[4 * i + 2], rotate_then_centre_crop(images[i], int(out.angles[i])))
        assert np.array_equal(out.images[4 * i + 3], resize_then_crop(images[i], *out.offsets[i]))
    mixed = [uint8_images(1, 48, 48)[0], uint8_images(1, 64, 64)[0], uint8_images(1, 100, 80)[0]]
    assert lanmsff_offline_augment(mixed, [0, 1, 2]).images.shape == (12, 64, 64)


def test_offline_rejects_bad_input():
    with pytest.raises(TypeError, match="uint8"):
        lanmsff_offline_augment(uint8_images(2).astype(np.float32), [0, 1])
    with pytest.raises(ValueError, match="shape"):
        lanmsff_offline_augment(np.zeros((2, 64, 64, 2), dtype=np.uint8), [0, 1])
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        lanmsff_offline_augment(uint8_images(2), [0, 1, 2])
    with pytest.raises(ValueError, match="mix grayscale"):
        lanmsff_offline_augment([uint8_images(1)[0], uint8_images(1, colour=True)[0]], [0, 1])
    with pytest.raises(ValueError, match="labels must be 1-d"):
        lanmsff_offline_augment(uint8_images(2), np.zeros((2, 1)))
