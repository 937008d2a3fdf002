"""HAFEM, the Table 3 baselines, the factory, checkpoints, model cards and layer-wise LR decay.

Paper-scale models (EfficientNet-B5 + 2048-wide Transformer layers, ViT-Base ...) are built
on PyTorch's ``meta`` device: real shapes and parameter counts, no memory, no compute.
Gradients and numerics are checked on small real configurations of the same classes.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import timm
import torch
from timm.layers.cbam import CbamModule
from torch import nn

from fernb.models import (
    BASELINE_MODELS,
    InputAdapter,
    PretrainedWeightsMissing,
    create_model,
    layer_decay_param_groups,
    list_models,
    load_model,
    model_card,
    save_model,
    transformer_parameters,
)
from fernb.models.card import count_parameters
from fernb.papers.hafem import TABLE3


def meta(name, **knobs):
    with torch.device("meta"):
        return create_model(name, **knobs)


def small_hafem(**knobs):
    """A HAFEM small enough to train on CPU in a test: EfficientNet-B0 at 64 px, 64-wide tokens."""
    args = dict(num_classes=7, in_chans=1, backbone="efficientnet_b0", img_size=64, d_model=64, num_heads=4)
    args.update(knobs)
    return create_model("hafem", **args)


def trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# -- HAFEM: the transformer the paper's "31.2M" is about ------------------------------------------

def test_transformer_formula_matches_pytorch_layer():
    """4d² + 2·d·d_ff + 9d + d_ff per layer, checked against PyTorch's own layer for odd sizes."""
    for d, ff in ((2048, 4096), (96, 200), (64, 128)):
        layer = nn.TransformerEncoderLayer(d, 8, ff, batch_first=True, norm_first=True, device="meta")
        assert trainable(layer) == 4 * d * d + 2 * d * ff + 9 * d + ff


@pytest.mark.parametrize("layers", [1, 6])
def test_hafem_transformer_parameters_equal_the_closed_form(layers):
    model = meta("hafem", num_layers=layers)
    counted = trainable(model.encoder) + model.pos_embed.numel()
    assert counted == transformer_parameters(2048, 4096, layers, tokens=49)
    assert model.grid == (7, 7) and model.backbone.num_features == 2048  # the paper's F'' ∈ R^{7×7×2048}


def test_one_encoder_layer_is_33_6M_and_six_are_201_5M():
    """The spec's audit numbers: one layer ≈ 33.6M, six ≈ 201.5M — so "6 layers … 31.2M" cannot both hold."""
    per_layer = transformer_parameters(2048, 4096, 1, tokens=0) - 2 * 2048  # minus the stack's final norm
    assert round(per_layer / 1e6, 1) == 33.6
    assert round(6 * per_layer / 1e6, 1) == 201.5
    one, six = model_card("hafem", num_layers=1), model_card("hafem", num_layers=6)
    assert six.trainable - one.trainable == 5 * per_layer
    assert six.components.loc["transformer", "trainable"] == transformer_parameters(2048, 4096, 6)


def test_hafem_projection_and_cls_token_are_counted():
    model = meta("hafem", d_model=256, d_ff=512, num_layers=2, pool="cls")
    counted = trainable(model.encoder) + trainable(model.proj) + model.pos_embed.numel() + model.cls_token.numel()
    assert counted == transformer_parameters(256, 512, 2, tokens=49, in_channels=2048, cls_token=True)
    assert model.embed_dim == 256 and model.head.in_features == 256


def test_cbam_placement_final_and_stages():
    final = meta("hafem")
    assert isinstance(final.cbam, CbamModule) and final.cbam.channel.fc1.in_channels == 2048
    assert final.cbam.channel.fc1.out_channels == 2048 // 16
    stages = meta("hafem", cbam_placement="stages")
    inserted = [m for m in stages.backbone.modules() if isinstance(m, CbamModule)]
    assert stages.cbam is None
    assert [m.channel.fc1.in_channels for m in inserted] == [i["num_chs"] for i in stages.backbone.feature_info]
    resnet = meta("hafem", backbone="resnet50", cbam_placement="stages")
    # ResNet's feature_info starts with the stem activation, which has no parameters and gets no CBAM
    assert [m.channel.fc1.in_channels for m in resnet.backbone.modules() if isinstance(m, CbamModule)] == [256, 512, 1024, 2048]
    none = meta("hafem", use_cbam=False)
    assert not any(isinstance(m, CbamModule) for m in none.modules())
    assert trainable(final) - trainable(none) == trainable(final.cbam)


def test_ablation_ladder_switches():
    resnet = meta("hafem", backbone="resnet50", use_cbam=False, use_transformer=False)
    assert resnet.encoder is None and resnet.embed_dim == 2048
    assert trainable(resnet) == trainable(meta("resnet50"))  # the bare ladder rung is the Table 3 baseline
    with pytest.raises(ValueError, match="cls"):
        meta("hafem", use_transformer=False, pool="cls")
    with pytest.raises(ValueError, match="divisible"):
        meta("hafem", d_model=100, num_heads=8)
    with pytest.raises(ValueError, match="cbam_placement"):
        meta("hafem", cbam_placement="everywhere")


# -- every model's output at its input sizes -------------------------------------------------------

@pytest.mark.parametrize("name,knobs,embed", [
    ("hafem", {}, 2048),
    ("hafem", dict(num_layers=6, cbam_placement="stages"), 2048),
    ("hafem", dict(backbone="resnet50"), 2048),
    ("hafem", dict(d_model=512, num_layers=2, pool="cls"), 512),
    ("resnet50", {}, 2048),
    ("efficientnet_b4", {}, 1792),
    ("vit_base_16", {}, 768),
    ("swin_tiny", {}, 768),
])
@pytest.mark.parametrize("in_chans,side", [(1, 48), (3, 224), (3, 100)])
def test_output_shapes_at_paper_scale(name, knobs, embed, in_chans, side):
    model = meta(name, num_classes=8, in_chans=in_chans, **knobs)
    out = model(torch.zeros(5, in_chans, side, side, device="meta"))
    assert out.logits.shape == (5, 8) and out.embedding.shape == (5, embed)


def test_table3_rows_with_an_architecture_are_in_the_factory():
    buildable = {row: model for row, model in BASELINE_MODELS.items() if model}
    assert set(buildable) == {"ResNet-50", "ViT-Base", "EfficientNet-B4", "Swin-T", "HAFEM"}
    assert set(buildable.values()) <= set(list_models())
    assert set(BASELINE_MODELS) == set(TABLE3)                         # every row of the paper's Table 3
    assert meta("vit_base_16").backbone.patch_embed.patch_size == (16, 16)


def test_factory_errors_and_timm_passthrough():
    with pytest.raises(ValueError, match="unknown model 'resnet18'.*lanmsff"):
        create_model("resnet18")
    with pytest.raises(ValueError, match="timm has no architecture"):
        create_model("timm/not_a_net")
    model = create_model("timm/resnet18", num_classes=3, in_chans=1, img_size=64)
    assert model(torch.rand(2, 1, 48, 48)).logits.shape == (2, 3)
    assert create_model("lanmsff").in_chans == 1 and create_model("lanmsff").input_size == (64, 64)


# -- training signal ------------------------------------------------------------------------------

@pytest.mark.parametrize("knobs", [dict(), dict(cbam_placement="stages", pool="cls", num_layers=2)])
def test_backward_reaches_every_hafem_parameter(knobs):
    torch.manual_seed(0)
    model = small_hafem(**knobs).train()
    out = model(torch.rand(4, 1, 48, 48))
    (out.logits.logsumexp(1).sum() + out.embedding.pow(2).mean()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
               or p.grad.abs().sum() == 0]
    assert not missing, missing


@pytest.mark.parametrize("name,knobs", [
    ("hafem", {}), ("hafem", dict(num_layers=6, cbam_placement="stages", pool="cls")),
    ("hafem", dict(backbone="resnet50", d_model=512)),
    ("resnet50", {}), ("efficientnet_b4", {}), ("vit_base_16", {}), ("swin_tiny", {}),
])
def test_backward_reaches_every_parameter_at_paper_scale(name, knobs):
    """On the meta device autograd still builds every gradient (shapes, no values): a parameter
    the loss cannot reach is left with ``grad is None``."""
    model = meta(name, in_chans=1, **knobs).train()
    out = model(torch.zeros(2, 1, 48, 48, device="meta"))
    (out.logits.sum() + out.embedding.sum()).backward()
    unreached = [n for n, p in model.named_parameters() if p.grad is None]
    assert not unreached, unreached
    assert all(p.grad.shape == p.shape for p in model.parameters())


@pytest.mark.parametrize("arch,side", [("timm/resnet18", 64), ("timm/vit_tiny_patch16_224", 224)])
def test_backward_reaches_every_baseline_parameter(arch, side):
    torch.manual_seed(0)
    model = create_model(arch, num_classes=7, in_chans=1, img_size=side).train()
    for m in model.modules():  # timm zero-initialises each residual branch's last BN, which blocks its gradient at step 0
        if isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
    model(torch.rand(2, 1, 48, 48)).logits.logsumexp(1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing, missing


def test_layer_decay_groups_follow_the_documented_rule():
    model = meta("hafem")
    lr = 1e-3
    groups = layer_decay_param_groups(model, lr, decay=0.9, weight_decay=5e-4)
    names = [n for n, _ in model.layer_groups()]
    # EfficientNet-B5's stem and 7 stages (timm puts the final 1×1 conv with the last stage), then CBAM,
    # tokens, 1 layer, head
    assert names == [f"backbone.{i}" for i in range(8)] + ["cbam", "tokens", "encoder.0", "head"]
    by_name = {g["name"]: g for g in groups}
    depth = len(names) - 1
    for i, name in enumerate(names):
        expected = lr * 0.9 ** (depth - i)
        for g in (by_name.get(name), by_name.get(name + ".no_decay")):
            if g is not None:
                assert g["lr"] == pytest.approx(expected) and g["lr_scale"] == pytest.approx(0.9 ** (depth - i))
    assert by_name["head"]["lr"] == lr and by_name["backbone.0"]["lr"] == pytest.approx(lr * 0.9 ** 11)
    # every trainable parameter exactly once; biases, norms and positions get no weight decay
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert all(g["weight_decay"] == 0 for g in groups if g["name"].endswith(".no_decay"))
    assert any(p is model.pos_embed for p in by_name["tokens.no_decay"]["params"])
    assert all(p.ndim > 1 for g in groups if g["weight_decay"] > 0 for p in g["params"])
    # the baselines group the same way: stem → stages → head
    resnet = layer_decay_param_groups(meta("resnet50"), lr)
    assert [g["name"] for g in resnet if not g["name"].endswith("no_decay")][-1] == "head"
    assert min(g["lr"] for g in resnet) == pytest.approx(lr * 0.9 ** 5)  # stem, layer1-4, head
    with pytest.raises(ValueError, match="layer_groups"):
        layer_decay_param_groups(nn.Linear(2, 2), lr)


# -- input handling, decided in one place ---------------------------------------------------------

def test_input_adapter_matches_opencv_and_imagenet_statistics():
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    rgb = torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1)[None]
    to_gray = InputAdapter(3, 1, 20)
    expected = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255
    assert np.abs(to_gray(rgb)[0, 0].numpy() - expected).max() < 1 / 255 + 1e-6  # OpenCV rounds to uint8

    gray = torch.randint(0, 256, (2, 1, 48, 48), dtype=torch.uint8)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    out = InputAdapter(1, 3, 224, mean, std)(gray)
    assert out.shape == (2, 3, 224, 224)
    resized = torch.nn.functional.interpolate(gray.float() / 255, size=(224, 224), mode="bilinear", align_corners=False)
    for c in range(3):
        assert torch.allclose(out[:, c], (resized[:, 0] - mean[c]) / std[c], atol=1e-5)
    same = InputAdapter(1, 1, 48)
    x = torch.rand(2, 1, 48, 48)
    assert torch.equal(same(x), x) and not list(same.state_dict())
    with pytest.raises(ValueError, match="built for 1-channel input, got 3"):
        same(torch.rand(2, 3, 48, 48))


# -- checkpoints ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,knobs", [
    ("lanmsff", dict(num_classes=8)),
    ("hafem", dict(backbone="efficientnet_b0", img_size=64, d_model=64, num_heads=4, cbam_placement="stages")),
    ("timm/resnet18", dict(img_size=64)),
])
def test_saved_model_loads_with_weights_only_and_gives_identical_outputs(tmp_path, name, knobs):
    torch.manual_seed(1)
    model = create_model(name, in_chans=1, **knobs)
    with torch.no_grad():  # make BN statistics non-trivial so they must round-trip too
        model.train()(torch.rand(8, 1, 48, 48))
    model.eval()
    x = torch.rand(3, 1, 48, 48)
    path = save_model(model, tmp_path / "m.pt", classes=["a", "b"], epoch=3)
    assert not list(tmp_path.glob("*.tmp"))
    torch.load(path, weights_only=True)  # loadable without unpickling code
    loaded = load_model(path, name=name).eval()
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.embedding, b.embedding)
    assert loaded.fernb_extra == {"classes": ["a", "b"], "epoch": 3}


def test_load_model_refuses_the_wrong_checkpoint(tmp_path):
    path = save_model(create_model("lanmsff", num_classes=7), tmp_path / "lanmsff.pt")
    with pytest.raises(ValueError, match="holds a 'lanmsff' model, not 'hafem'"):
        load_model(path, name="hafem")
    with pytest.raises(ValueError, match="trained for 7 classes, not 8"):
        load_model(path, num_classes=8)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a fernb model checkpoint"):
        load_model(tmp_path / "foreign.pt")
    (tmp_path / "cut.pt").write_bytes(path.read_bytes()[:500])
    with pytest.raises(ValueError, match="cut.pt is not a readable PyTorch checkpoint"):
        load_model(tmp_path / "cut.pt")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_model(tmp_path / "missing.pt")


# -- pretrained weights: only when the user has them -----------------------------------------------

def test_pretrained_from_a_local_file(tmp_path):
    source = timm.create_model("resnet18", num_classes=1000)
    torch.save(source.state_dict(), tmp_path / "resnet18.pth")
    model = create_model("hafem", backbone="resnet18", img_size=64, d_model=64, num_heads=4,
                         pretrained=tmp_path / "resnet18.pth")
    assert torch.equal(model.backbone.conv1.weight, source.conv1.weight)
    assert "pretrained" in model.weights_source and "pretrained" not in model.fernb_config
    with pytest.raises(PretrainedWeightsMissing, match="nothere.pth does not exist"):
        create_model("resnet50", pretrained=tmp_path / "nothere.pth")


def test_pretrained_true_uses_timm_cache_or_explains(tmp_path, monkeypatch):
    import huggingface_hub.constants
    from safetensors.torch import save_file

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(PretrainedWeightsMissing, match=r"not on this machine[\s\S]*models--timm--resnet18[\s\S]*pretrained=False"):
        create_model("timm/resnet18", pretrained=True)
    # lay a file out the way huggingface_hub caches it: refs/main names the snapshot
    repo = tmp_path / "hf" / ("models--" + timm.models.get_pretrained_cfg("resnet18").hf_hub_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    source = timm.create_model("resnet18", num_classes=1000)
    save_file(source.state_dict(), repo / "snapshots" / "abc123" / "model.safetensors")
    model = create_model("timm/resnet18", pretrained=True, img_size=64)
    assert torch.equal(model.backbone.conv1.weight, source.conv1.weight)


# -- model cards ----------------------------------------------------------------------------------

def test_card_counts_flops_like_a_hand_computation():
    class Tiny(nn.Module):
        in_chans, input_size = 1, (8, 8)

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.fc = nn.Linear(4, 3)

        def components(self):
            return {"features": [self.conv, self.bn], "head": [self.fc]}

        def forward(self, x):
            return self.fc(self.bn(self.conv(x)).mean((2, 3)))

    card = model_card(Tiny())
    conv, fc = 2 * 4 * 9 * 64, 2 * 4 * 3  # 2 FLOPs per multiply-add, 64 output positions
    assert card.flops == conv + fc and card.macs == (conv + fc) // 2
    assert card.components.loc["features", "flops"] == conv and card.components.loc["head", "flops"] == fc
    assert card.trainable == 4 * 9 + 4 + 8 + 4 * 3 + 3 and card.bn_stats == 8 and card.keras_total == card.trainable + 8


def test_card_breakdown_adds_up_and_charges_cbam_inside_stages_to_cbam():
    for knobs in ({}, dict(cbam_placement="stages")):
        card = model_card("hafem", **knobs)
        table = card.components
        assert table["trainable"].sum() == card.trainable and table["bn_stats"].sum() == card.bn_stats
        assert table["flops"].sum() == card.flops and (table["flops"] >= 0).all()
        model = meta("hafem", **knobs)
        cbam = sum(trainable(m) for m in model.modules() if isinstance(m, CbamModule))
        assert table.loc["cbam", "trainable"] == cbam > 0
    # the Transformer's FLOPs: 49 tokens through 2·(4d² + 2·d·d_ff) plus attention 2·2·49²·d
    d, ff, n = 2048, 4096, 49
    assert model_card("hafem").components.loc["transformer", "flops"] == n * 2 * (4 * d * d + 2 * d * ff) + 4 * n * n * d


def test_card_of_a_real_model_leaves_it_unchanged():
    model = small_hafem().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    card = model_card(model, input_shape=(1, 48, 48))
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert card.network_input == (3, 64, 64) and card.input_shape == (1, 48, 48)
    assert card.trainable == count_parameters(model)["trainable"]
    assert card.output_shapes["head"] == (7,)
    assert card.as_dict()["components"][0]["component"] == "backbone"


def test_card_command_prints_lanmsff_counts_and_rejects_bad_knobs(capsys):
    import json

    from fernb.cli import main

    assert main(["card", "lanmsff", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["trainable"] == 356_294 and card["keras_total"] == 358_406
    assert [row["component"] for row in card["components"]] == ["block1", "block2", "block3", "block4", "head"]
    assert main(["card", "hafem", "-p", "num_layers=6", "--input", "1,48,48"]) == 0
    assert f"{transformer_parameters(2048, 4096, 6):,}" in capsys.readouterr().out  # the six-layer transformer
    assert main(["card", "hafem", "-p", "layers=6"]) == 1
    assert "unexpected keyword argument 'layers'" in capsys.readouterr().err
    for argv, wanted in ((["lanmsff", "--input", "1,x"], "--input '1,x': expected C,H,W"),
                         (["lanmsff", "--input", "1,48"], "--input '1,48': expected C,H,W"),
                         (["no/such/model.pt"], "checkpoint no/such/model.pt does not exist; expected a model name")):
        assert main(["card", *argv]) == 1
        assert capsys.readouterr().err.startswith(f"fernb: error: {wanted}")
