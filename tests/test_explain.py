"""fernb.evaluate.explain: Grad-CAM through captum on known evidence, scores against hand-computed toys."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from fernb.evaluate.explain import (cam_layer, grad_cam, mass_accuracy, pointing_game, rank_accuracy,
                                    safe_for_hooks)
from fernb.models.common import FEROutput


class Quadrant(nn.Module):
    """A network that looks only at the top-left quadrant of its input: its features are a
    convolution of the image with everything else blanked, and both logits read their mean."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=True))
        with torch.no_grad():
            self.features[0].weight.fill_(0.0)
            self.features[0].weight[:, 0, 1, 1] = 1.0
            self.features[0].bias.fill_(0.0)

    def forward(self, x):
        h, w = x.shape[-2:]
        q = torch.zeros(h, w)
        q[: h // 2, : w // 2] = 1
        m = self.features(x * q).mean((1, 2, 3))
        logits = torch.stack([-m, m], 1)
        return FEROutput(logits, logits)


def test_grad_cam_puts_the_mass_where_the_evidence_is():
    model = safe_for_hooks(Quadrant())
    assert model.features[1].inplace is False
    x = torch.rand(3, 1, 16, 16) + 0.1
    cams = grad_cam(model, x, 1, layer=model.features).numpy()
    assert cams.shape == (3, 16, 16) and (cams >= 0).all()
    region = np.zeros((16, 16), bool)
    region[:8, :8] = True
    for cam in cams:
        score, chance = mass_accuracy(cam, region)
        assert chance == 0.25 and score > 0.9
        assert rank_accuracy(cam, region)[0] > 0.8
        assert pointing_game(cam, region, tolerance=0)[0]


def test_scores_on_hand_computed_toys():
    rel = np.zeros((4, 4))
    rel[0, 0], rel[0, 1], rel[3, 3], rel[2, 2] = 4.0, 3.0, 2.0, -5.0
    region = np.zeros((4, 4), bool)
    region[0, 0] = region[3, 3] = True          # 2 pixels of 16
    # the top 2 pixels are (0,0) and (0,1): one of two inside
    assert rank_accuracy(rel, region) == (0.5, 0.125)
    # positive mass 4 + 3 + 2 = 9, inside 4 + 2 = 6 (the -5 is not counted)
    assert mass_accuracy(rel, region) == pytest.approx((6 / 9, 0.125))
    assert pointing_game(rel, region, tolerance=0) == (True, 0.125)
    off = region.copy()
    off[0, 0] = False
    off[1, 3] = True
    # peak (0,0) is not in {(1,3),(3,3)}; with a 1-px tolerance (0.25 * 4) the disc around
    # (1,3) adds (0,3),(2,3),(1,2) and around (3,3) adds (3,2) ((2,3) again): 6 pixels, (0,0) not among them
    assert pointing_game(rel, off, tolerance=0) == (False, 0.125)
    hit, chance = pointing_game(rel, off, tolerance=0.25)
    assert hit is False and chance == 6 / 16


def test_a_map_without_positive_relevance_has_no_mass_score_and_an_empty_region_is_refused():
    region = np.eye(3, dtype=bool)
    score, chance = mass_accuracy(-np.ones((3, 3)), region)
    assert np.isnan(score) and chance == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="region is empty"):
        rank_accuracy(np.ones((3, 3)), np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="one shape"):
        mass_accuracy(np.ones((3, 3)), np.ones((4, 4), bool))


def test_cam_layer_is_named_per_network_and_a_missing_one_is_named():
    from fernb.models.lanmsff import LANMSFF
    model = LANMSFF(num_classes=7)
    assert cam_layer(model) is model.block4
    with pytest.raises(ValueError, match="no Grad-CAM layer is named for a Quadrant"):
        cam_layer(Quadrant())
    with pytest.raises(ValueError, match="LANMSFF names no Grad-CAM layer 'cbam'"):
        cam_layer(model, "cbam")
    cams = grad_cam(model, torch.rand(2, 1, 48, 48), torch.tensor([0, 3]))
    assert cams.shape == (2, 48, 48)


def test_grad_cam_runs_through_hafem_with_timm_in_place_activations_and_its_cbam_switch():
    from fernb.models.factory import create_model
    model = create_model("hafem", num_classes=7, in_chans=1, backbone="efficientnet_b0", img_size=64, num_layers=1)
    safe_for_hooks(model)
    assert not any(getattr(m, "inplace", False) is True for m in model.modules())
    x = torch.rand(2, 1, 48, 48)
    for which in ("features", "cbam"):
        cams = grad_cam(model, x, 2, which=which)
        assert cams.shape == (2, 48, 48) and torch.isfinite(cams).all()
    assert cam_layer(model) is model.backbone and cam_layer(model, "cbam") is model.cbam
