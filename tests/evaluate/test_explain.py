"""fernb.evaluate.explain: Grad-CAM through captum on known evidence, scores against hand-computed toys."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from fernb.evaluate.explain import cam_layer, grad_cam, mass_accuracy, pointing_game, rank_accuracy, safe_for_hooks
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
    # block 4 follows four 2x2 pools: 64 px (the adapter's size) -> 4 x 4, whatever the stored size
    assert ex.cam_grid(model, torch.rand(1, 1, 48, 48)) == (4, 4)
    assert model(torch.rand(1, 1, 48, 48)).logits.shape == (1, 7)     # the hook left the forward alone


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


# --- SHAP, ground truth, scores, causal and sanity checks (notebook 05) ------------------------
import pandas as pd  # noqa: E402
from captum.attr import IntegratedGradients  # noqa: E402

from fernb.data.synthfer import AUS, generate  # noqa: E402
from fernb.evaluate import explain as ex  # noqa: E402
from fernb.evaluate import faithfulness as fa  # noqa: E402
from fernb.labels import SEVEN  # noqa: E402


class SmallNet(nn.Module):
    """A two-conv network with the fernb contract and ``components()`` (what randomisation reads)."""

    def __init__(self, classes=2):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.head = nn.Linear(8, classes)

    def components(self):
        return {"conv1": [self.conv1], "conv2": [self.conv2], "head": [self.head]}

    def forward_head(self, e):
        return self.head(e)

    def forward(self, x):
        f = torch.tanh(self.conv2(torch.tanh(self.conv1(x))))
        e = f.mean((2, 3))
        return FEROutput(self.head(e), e)


def test_shap_expected_gradients_agree_with_captum_integrated_gradients_for_one_baseline():
    # With a background of one face, expected gradients average grad(x' + t(x - x')) * (x - x') over
    # t ~ U(0, 1): the integral Integrated Gradients computes on the same straight path. Both
    # libraries must give the same attribution, up to shap's Monte-Carlo error in t.
    torch.manual_seed(0)
    model = SmallNet().eval()
    x = torch.rand(2, 1, 8, 8)
    baseline = torch.rand(1, 1, 8, 8) * 0.2
    ours = ex.shap_pixels(model, x, [1, 0], baseline, nsamples=3000, seed=0, batch_size=500).numpy()
    ig = IntegratedGradients(lambda inp: model(inp).logits)
    ref = ig.attribute(x, baselines=baseline.expand_as(x), target=torch.tensor([1, 0]), n_steps=300).sum(1).detach().numpy()
    for a, b in zip(ours, ref):
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99
        assert np.abs(a - b).max() < 0.05 * np.abs(b).max()
    # completeness: the attributions add up to the logit's change from the baseline
    with torch.no_grad():
        change = model(x).logits[[0, 1], [1, 0]] - model(baseline).logits[0, [1, 0]]
    assert ours.sum((1, 2)) == pytest.approx(change.numpy(), rel=0.05, abs=1e-3)


def test_shap_on_a_linear_head_is_the_weights_times_the_distance_from_the_background():
    torch.manual_seed(1)
    model = SmallNet(classes=3).eval()
    emb = torch.randn(5, 8)
    background = torch.randn(1, 8)
    values = ex.shap_features(model, emb, background, nsamples=20)
    assert values.shape == (5, 8, 3)
    expected = (emb - background).numpy()[:, :, None] * model.head.weight.detach().numpy().T[None]
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-6)


def test_attribution_maps_refuse_an_unknown_method_and_a_mismatched_background():
    model = SmallNet()
    with pytest.raises(ValueError, match="unknown attribution methods \\['lime'\\]"):
        ex.attribution_maps(model, torch.rand(1, 1, 8, 8), 0, background=torch.rand(2, 1, 8, 8), methods=["lime"])
    with pytest.raises(ValueError, match="background must be faces shaped like the inputs"):
        ex.shap_pixels(model, torch.rand(1, 1, 8, 8), 0, torch.rand(2, 1, 9, 9))


def _toy_truth():
    """Two 4x4 'happy' faces: AU6 the top row, AU12 the bottom row; face 1 has AU12 inactive."""
    masks = {a: np.zeros((2, 4, 4), bool) for a in AUS}
    masks["AU6"][:, 0, :] = True
    masks["AU12"][:, 3, :] = True
    intensity = np.zeros((2, len(AUS)), np.float32)
    intensity[:, AUS.index("AU6")] = 0.5
    intensity[0, AUS.index("AU12")] = 0.8
    return ex.GroundTruth(index=np.array([10, 11]), images=np.zeros((2, 4, 4), np.uint8),
                          labels=np.array([SEVEN.index("happy")] * 2), classes=SEVEN, masks=masks,
                          intensity=intensity, yaw=np.zeros(2, np.float32), occluder=np.array(["", ""], dtype=object),
                          source="toy")


def test_scores_against_a_class_region_and_each_au_with_chance_by_hand():
    truth = _toy_truth()
    rel = np.zeros((2, 4, 4))
    rel[0, 0, 0], rel[0, 1, 1], rel[0, 3, 2] = 3.0, 1.0, 2.0        # 5 of 6 units on AU6 + AU12 rows
    # face 1 is left constant: a map that locates nothing
    scores = ex.score_maps({"m": rel}, truth, min_intensity=0.2)
    face0 = scores[scores["face"] == 10].set_index("region")
    # class region of face 0 = rows 0 and 3 (8 of 16 pixels): the top 8 pixels by relevance are the 3 positive
    # ones then the first 5 zeros in pixel order, (0,1),(0,2),(0,3),(1,0),(1,2): 2 + 3 = 5 inside
    assert face0.loc["class", "aus"] == "AU6+AU12" and face0.loc["class", "chance"] == 0.5
    assert face0.loc["class", "rank"] == pytest.approx(5 / 8)
    assert face0.loc["class", "mass"] == pytest.approx(5 / 6)
    assert face0.loc["class", "pointing"] == 1.0
    assert face0.loc["AU12", "mass"] == pytest.approx(2 / 6) and face0.loc["AU12", "chance"] == 0.25
    face1 = scores[scores["face"] == 11].set_index("region")
    assert face1.loc["class", "aus"] == "AU6"                       # AU12 is inactive in face 1
    assert face1["empty_map"].all() and face1["mass"].isna().all()
    summary = ex.score_summary(scores[scores["region"] == "class"], ["method"])
    assert summary.loc["m", "faces"] == 2 and summary.loc["m", "empty_maps"] == 1
    assert summary.loc["m", "mass_lift"] == pytest.approx((5 / 6) / ((0.5 + 0.25) / 2))


def test_channel_table_finds_a_channel_that_carries_an_au():
    rng = np.random.default_rng(0)
    n = 60
    intensity = np.zeros((n, len(AUS)), np.float32)
    intensity[:, AUS.index("AU12")] = rng.random(n)
    intensity[:, AUS.index("AU4")] = rng.random(n)
    emb = rng.normal(size=(n, 4))
    emb[:, 2] = intensity[:, AUS.index("AU12")]                    # channel 2 is AU12
    labels = np.full(n, SEVEN.index("happy"))
    values = np.zeros((n, 4, 7))
    values[:, 2, SEVEN.index("happy")] = 1.0                        # and the happy logit leans on it
    table = ex.channel_au_table(values, emb, intensity, labels, SEVEN, top=1)
    row = table.iloc[0]
    assert row["channel"] == 2 and row["best AU"] == "AU12" and row["spearman"] == pytest.approx(1.0)
    assert row["defining"] and row["chance"] == pytest.approx(1 / 2)   # AU12 of the 2 varying AUs


@pytest.fixture(scope="module")
def synth():
    return generate(14, 7, 21, progress=False, identity_range=(0.0, 0.8))


def test_ground_truth_is_rendered_again_byte_for_byte_and_a_foreign_store_is_refused(synth):
    rows = ex.pick_indices(synth, 2)
    truth = ex.synthfer_ground_truth(synth, rows)
    assert (synth.split[rows] == "test").all() and len(truth) == len(rows)
    np.testing.assert_array_equal(truth.images, synth.images[rows])
    np.testing.assert_allclose(truth.intensity, synth.extras["au_intensity"][rows])
    happy = [i for i in range(len(truth)) if truth.classes[truth.labels[i]] == "happy"]
    region, aus = ex.class_region(truth, happy[0])
    assert set(aus) <= {"AU6", "AU12"} and region.sum() > 0
    assert ex.class_region(truth, int(np.flatnonzero(truth.labels == SEVEN.index("neutral"))[0]))[0] is None
    changed = type(synth)(**{**synth.__dict__, "meta": {**synth.meta, "params": {**synth.meta["params"], "seed": 5}}})
    with pytest.raises(ValueError, match="renders differently from the stored image"):
        ex.synthfer_ground_truth(changed, rows[:1])
    with pytest.raises(ValueError, match="not a SynthFER store"):
        ex.synthfer_ground_truth(type(synth)(**{**synth.__dict__, "meta": {}}), rows[:1])
    no_landmarks = type(synth)(**{**synth.__dict__, "landmarks": None})
    with pytest.raises(ValueError, match="has no landmarks"):
        ex.landmark_ground_truth(no_landmarks, rows)
    part = ex.subset(truth, [1, 0])
    np.testing.assert_array_equal(part.images, truth.images[[1, 0]])
    np.testing.assert_array_equal(ex.rerender(part, [0]).images[0], truth.images[1])   # the renderer record follows
    approx = ex.landmark_ground_truth(synth, rows)
    assert approx.masks["AU12"].shape == truth.masks["AU12"].shape and not approx.intensity.any()


class MeanBrightness(nn.Module):
    """Every class logit is the image's mean brightness: switching an AU off changes it by exactly
    the mean change of the pixels, a drop the test can compute from the two images."""

    def forward(self, x):
        z = x.mean((1, 2, 3))[:, None].expand(-1, 7)
        return FEROutput(z, z)


def test_the_au_off_drop_is_the_true_logit_on_the_face_minus_on_the_face_without_the_au(synth):
    truth = ex.synthfer_ground_truth(synth, ex.pick_indices(synth, 2))
    effects = fa.au_off_effects(MeanBrightness(), truth)
    assert len(effects) == int((truth.intensity > 0).sum())           # one row per active AU
    for _, row in effects.sample(6, random_state=0).iterrows():
        off = ex.rerender(truth, [row["i"]], au_off=[row["au"]], masks=False).images[0]
        expected = truth.images[row["i"]].mean() / 255 - off.mean() / 255
        assert row["drop"] == pytest.approx(expected, abs=1e-6)
    assert (effects["drop"] != 0).any()
    # a model that ignores its input drops nothing, and no correlation is defined then
    zero = effects.assign(drop=0.0)
    table = fa.causal_table(zero, {"m": np.random.default_rng(0).random((len(truth), 48, 48))}, truth)
    assert table["rho"].isna().all() and set(table["reason"]) <= {
        "constant drop or mass", *(f"{k} active AUs with a region (< 3)" for k in range(3))}


def test_the_causal_correlation_ranks_the_aus_as_the_drops_do():
    truth = _toy_truth()
    truth.masks["AU1"][:, 1, :] = True                                  # AU1 on row 1 of face 0
    truth.intensity[0, AUS.index("AU1")] = 0.4
    effects = pd.DataFrame({"face": 10, "i": 0, "class": "happy", "au": ["AU6", "AU12", "AU1"], "drop": [0.3, 0.2, 0.1]})
    rel = np.zeros((2, 4, 4))
    rel[0, 0, :], rel[0, 3, :], rel[0, 1, :] = 3.0, 2.0, 1.0           # mass ranks AU6 > AU12 > AU1, as the drops
    rev = np.zeros((2, 4, 4))
    rev[0, 0, :], rev[0, 3, :], rev[0, 1, :] = 1.0, 2.0, 3.0           # AU1 > AU12 > AU6: the drops' order reversed
    table = fa.causal_table(effects, {"same": rel, "reversed": rev}, truth).set_index("method")
    assert table.loc["same", "rho"] == pytest.approx(1.0) and table.loc["same", "aus"] == 3
    assert table.loc["reversed", "rho"] == pytest.approx(-1.0)


def test_an_untrained_model_has_the_checkpoint_s_configuration_and_fresh_weights(tmp_path):
    from fernb.models import create_model, save_model
    torch.manual_seed(3)
    trained = create_model("lanmsff", num_classes=7, img_size=32)
    with torch.no_grad():
        trained.head.weight.fill_(0.5)
    path = save_model(trained, tmp_path / "model.pt")
    fresh = fa.untrained_model(path, seed=0)
    assert type(fresh) is type(trained) and fresh.input_size == (32, 32) and not fresh.training
    assert not torch.equal(fresh.head.weight, trained.head.weight)
    assert torch.equal(fa.untrained_model(path, seed=0).head.weight, fresh.head.weight)   # seeded


def _square_data(n=96, size=16, seed=0):
    """Class 1: a bright square in the top-left quadrant; class 0: in the bottom-right; on noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, size, size, generator=g) * 0.3
    y = torch.arange(n) % 2
    for i in range(n):
        r = 2 if y[i] == 1 else size - 6
        x[i, 0, r:r + 4, r:r + 4] += 0.7
    return x, y


@pytest.fixture(scope="module")
def trained_small():
    torch.manual_seed(0)
    model = SmallNet()
    x, y = _square_data()
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x).logits, y).backward()
        opt.step()
    assert (model(x).logits.argmax(1) == y).float().mean() > 0.95
    return model.eval()


def test_cascading_randomisation_changes_the_maps_of_a_trained_model(trained_small):
    x, y = _square_data(n=8, seed=1)
    before = {k: v.clone() for k, v in trained_small.state_dict().items()}

    def explain(m):
        return {"grad_cam": grad_cam(m, x, y, layer=m.conv2).double().numpy()}

    trained = explain(trained_small)
    region = np.zeros((16, 16), bool)
    region[2:6, 2:6] = True
    # on its square: well above the square's share of the image (the maps also mark the other class's square, absent here)
    assert np.mean([mass_accuracy(c, region)[0] for c in trained["grad_cam"][y.numpy() == 1]]) > 2 * region.mean()
    cascade = fa.cascading_randomisation(trained_small, explain, seed=0, trained=trained)
    assert list(cascade["randomised"]) == ["(none: trained)", "head", "conv2", "conv1"]
    assert cascade["similarity"].iloc[-1] < 0.5 and cascade["similarity"].iloc[1:].max() < 0.95
    flags = fa.sanity_flags(cascade)
    assert not flags["survives_randomisation"].iloc[0]
    # the model itself is untouched (randomisation works on a copy)
    for k, v in trained_small.state_dict().items():
        assert torch.equal(v, before[k]), k
    # an 'explanation' that is the input itself survives randomisation and is flagged
    edges = fa.cascading_randomisation(trained_small, lambda m: {"input": x[:, 0].double().numpy()}, seed=0)
    assert fa.sanity_flags(edges)["survives_randomisation"].iloc[0]


def test_randomisation_units_split_the_backbone_and_keep_hafem_loose_parameters():
    from fernb.models.factory import create_model
    model = create_model("hafem", num_classes=7, in_chans=1, backbone="resnet10t", img_size=48, d_model=32, num_heads=4)
    units = fa.randomisation_units(model)
    names = [u[0] for u in units]
    assert names[:3] == ["head", "transformer", "cbam"] and names[-1].startswith("backbone.")
    assert any(p is model.pos_embed for p in units[1][2])
    before = model.pos_embed.detach().clone()
    fa.randomise(units[1][1], units[1][2], seed=0)
    assert not torch.equal(before, model.pos_embed)
    fresh = fa.randomisation_units(create_model("lanmsff", num_classes=7))
    assert [u[0] for u in fresh] == ["head", "block4", "block3", "block2", "block1"]


def test_deletion_removes_evidence_faster_than_a_random_order():
    # The quadrant network's evidence is the top-left quadrant's brightness: deleting (to black) the
    # pixels its Grad-CAM ranks first must lower p(class 1) faster than a random order, and inserting
    # them into a black image must raise it faster.
    model = safe_for_hooks(Quadrant())
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 1, 16, 16, generator=g) * 0.5 + 0.5
    images = (x[:, 0] * 255).round().to(torch.uint8).numpy()
    targets = np.ones(6, int)
    maps = {"grad_cam": grad_cam(model, x, 1, layer=model.features).double().numpy()}
    curves = fa.deletion_insertion(model, images, targets, maps, steps=8, baseline=0)
    assert set(curves["method"]) == {"grad_cam", "random"} and len(curves) == 2 * 2 * 9
    start = curves[(curves["fraction"] == 0) & (curves["mode"] == "deletion")]["probability"]
    assert np.ptp(start) == 0                                  # every order starts from the same faces
    areas = fa.curve_areas(curves)
    assert areas.loc["grad_cam", "deletion"] < areas.loc["random", "deletion"]
    assert areas.loc["grad_cam", "insertion"] > areas.loc["random", "insertion"]
    assert areas.loc["random", "deletion_vs_random"] == 0
    with pytest.raises(ValueError, match="baseline must be 'blur' or a grey level"):
        fa.deletion_insertion(model, images, targets, maps, baseline="mean")


def test_grad_cam_relus_negative_evidence_away():
    # For class 0 the quadrant network's logit is minus the quadrant's activation: its Grad-CAM weights
    # are negative, so before the ReLU the map is negative where the evidence is. captum does not ReLU
    # unless asked (relu_attributions=True); grad_cam must, leaving nothing to point at.
    from captum.attr import LayerGradCam
    model = safe_for_hooks(Quadrant())
    x = torch.rand(2, 1, 16, 16) + 0.1
    raw = LayerGradCam(lambda inp: model(inp).logits, model.features).attribute(x, target=0)
    assert (raw < 0).any()
    assert (grad_cam(model, x, 0, layer=model.features) == 0).all()


def test_paper_pairs_count_the_faces_above_chance():
    truth = _toy_truth()
    rel = np.zeros((2, 4, 4))
    rel[0, 0, :] = 1.0                     # face 0: all mass on AU6's row (inside AU6+AU12, chance 0.5)
    rel[1, 1, :] = 1.0                     # face 1: all mass on row 1 (outside AU6, chance 0.25)
    table = ex.paper_pairs_table({"m": rel}, truth).set_index("class")
    assert table.loc["happy", "stated AUs"] == "AU6+AU12" and table.loc["happy", "faces"] == 2
    assert table.loc["happy", "faces_above_chance"] == 1
    assert table.loc["happy", "mass"] == pytest.approx(0.5) and table.loc["happy", "chance"] == pytest.approx(0.375)
    from scipy.stats import wilcoxon
    assert table.loc["happy", "p_above_chance"] == pytest.approx(wilcoxon([1 - 0.5, 0 - 0.25], alternative="greater").pvalue)
