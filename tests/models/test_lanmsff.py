"""LANMSFF (fernb.models.lanmsff) against the official code's parameter counts and hand computation.

Reference counts are the ones the
official Keras code's ``model.summary()`` prints (paper: 358K); the per-block figures are its
"Per block (Keras counting)" line. Keras counting = trainable parameters + BN moving mean/variance.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fernb.models.card import count_parameters
from fernb.models.common import FEROutput
from fernb.models.lanmsff import LANMSFF, PWFS, ChannelShuffle, MassAtt, SeparableConv2d
from fernb.papers.lanmsff import CLAIMS, CODE_VS_PAPER


def n_trainable(modules) -> int:
    return sum(p.numel() for m in modules for p in m.parameters() if p.requires_grad)


def n_bn_stats(modules) -> int:
    return sum(b.numel() for m in modules for name, b in m.named_buffers() if name.split(".")[-1] in ("running_mean", "running_var"))


def n_keras(modules) -> int:
    """What Keras' summary calls "Total params": weights plus BN moving statistics."""
    return n_trainable(modules) + n_bn_stats(modules)


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tiny maps (conftest)


@pytest.fixture(scope="module")
def model(one_torch_thread) -> LANMSFF:
    torch.manual_seed(0)
    return LANMSFF()


# ---------------------------------------------------------------- parameter counts (spec table)

@pytest.mark.parametrize("num_classes, in_chans, trainable, keras_total", [
    (7, 1, 356_294, 358_406),   # spec table row 1; the paper's "358K"
    (8, 1, 356_451, 358_563),   # row 2 (FERPlus/AffectNet with contempt)
    (7, 3, 357_482, 359_594),   # row 3: a colour input widens only the first conv (+2·66·9)
])
def test_parameter_counts_match_the_official_code(num_classes, in_chans, trainable, keras_total):
    m = LANMSFF(num_classes=num_classes, in_chans=in_chans)
    assert n_trainable([m]) == trainable
    assert n_keras([m]) == keras_total


def test_bn_statistics_explain_the_gap_to_358k(model):
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    # spec: 20 BN layers over 1,056 channels → 2 × 1,056 moving statistics
    assert len(bns) == 20
    assert sum(b.num_features for b in bns) == 1_056
    assert n_bn_stats([model]) == 2_112
    # Keras defaults, not PyTorch's
    assert all(b.eps == 1e-3 and b.momentum == 0.01 for b in bns)


def test_per_block_counts(model):
    blocks = model.components()
    assert list(blocks) == ["block1", "block2", "block3", "block4", "head"]
    # spec "Per block (Keras counting)"
    expected = {"block1": 45_738, "block2": 84_107, "block3": 113_256, "block4": 114_206, "head": 1_099}
    assert {k: n_keras(v) for k, v in blocks.items()} == expected
    assert n_keras([model.block2.massatt]) == 2_963
    assert n_keras([model.block4.massatt]) == 3_914
    assert n_keras(LANMSFF(num_classes=8).components()["head"]) == 1_256
    # the components cover the whole network (adapter and PWFS have no parameters)
    assert sum(expected.values()) == n_keras([model])


def test_massatt_count_by_hand():
    # 72 channels: Dense 72·18+18, 18·72+72; conv 1·2·9+2, 2·4·9+4; convT 4·4·9+4, 4·1·9+1
    assert n_trainable([MassAtt(72)]) == (72 * 18 + 18) + (18 * 72 + 72) + 20 + 76 + 148 + 37 == 2_963


# ---------------------------------------------------------------- PWFS

def test_pwfs_is_half_max_plus_median_on_a_hand_tensor():
    # 6 channels → thirds a = ch 0-1, b = ch 2-3, c = ch 4-5; three positions along W.
    x = torch.tensor([[3.0, 7.0, -4.0],    # a0
                      [-1.0, 2.0, 0.0],    # a1
                      [1.0, 7.0, -6.0],    # b0
                      [5.0, 2.0, -1.0],    # b1
                      [2.0, 0.0, -5.0],    # c0
                      [4.0, 2.0, 10.0]])   # c1
    x = x.view(1, 6, 1, 3)
    # by hand, ½(max + median):
    #   ch0: (3,1,2)→½(3+2)=2.5   (7,7,0)→½(7+7)=7   (-4,-6,-5)→½(-4-5)=-4.5
    #   ch1: (-1,5,4)→½(5+4)=4.5  (2,2,2)→2          (0,-1,10)→½(10+0)=5
    expected = torch.tensor([[2.5, 7.0, -4.5],
                             [4.5, 2.0, 5.0]]).view(1, 2, 1, 3)
    torch.testing.assert_close(PWFS()(x), expected, rtol=0, atol=0)


@pytest.mark.parametrize("c", [5, 7, 64])
def test_pwfs_rejects_channels_not_divisible_by_three(c):
    with pytest.raises(ValueError, match="divisible by 3"):
        PWFS()(torch.zeros(1, c, 2, 2))


def test_pwfs_widths_and_fused_vector(model):
    model.eval()
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        b = model.block_outputs(model.adapter(x))
        parts = model.fused(x)
    # spec block outputs: 66×32², 72×16², 78×8², 84×4²
    assert [tuple(t.shape[1:]) for t in b] == [(66, 32, 32), (72, 16, 16), (78, 8, 8), (84, 4, 4)]
    assert [model.pwfs(t).shape[1] for t in b[:3]] == [22, 24, 26]
    assert [p.shape for p in parts] == [(2, 22), (2, 24), (2, 26), (2, 84)]
    assert model.embed_dim == 156
    # the 156-d vector is GAP(PWFS(b1..b3)) ‖ GAP(b4), in that order
    torch.testing.assert_close(parts[0], PWFS()(b[0]).mean((2, 3)))
    torch.testing.assert_close(parts[3], b[3].mean((2, 3)))
    with torch.no_grad():
        out = model(x)
    torch.testing.assert_close(out.embedding, torch.cat(parts, 1))
    torch.testing.assert_close(out.logits, model.forward_head(out.embedding))

    no_pwfs = LANMSFF(use_pwfs=False, img_size=32).eval()   # width does not depend on size; 32 px is faster
    assert no_pwfs.embed_dim == 66 + 72 + 78 + 84 == 300
    with torch.no_grad():
        parts = no_pwfs.fused(x[..., :32, :32])
    assert [p.shape[1] for p in parts] == [66, 72, 78, 84]


# ---------------------------------------------------------------- MassAtt and the shuffle

@pytest.mark.parametrize("hw", [(32, 32), (8, 8), (6, 6), (14, 14), (7, 7), (6, 14)])
def test_massatt_maps_shapes_and_range(hw):
    torch.manual_seed(1)
    att = MassAtt(12)
    x = torch.randn(3, 12, *hw)
    channel, spatial = att.maps(x)
    assert channel.shape == (3, 12, 1, 1)
    assert spatial.shape == (3, 1, *hw)
    a = att(x)
    assert a.shape == (3, 12, *hw)
    assert (a > 0).all() and (a < 1).all()
    torch.testing.assert_close(a, channel * spatial)   # sigmoid(ch) × sigmoid(sp), the code's form


def tf_same_conv_transpose(g: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, size) -> torch.Tensor:
    """TF's "same" stride-2 Conv2DTranspose, written as what TF defines it to be: the gradient
    of its "same" stride-2 conv, which pads 0 before / 1 after an even map."""
    x = torch.zeros(g.shape[0], weight.shape[1], *size, requires_grad=True)
    y = F.conv2d(F.pad(x, (0, 1, 0, 1)), weight, stride=2)
    (out,) = torch.autograd.grad(y, x, g)
    return out + bias.view(1, -1, 1, 1)


@pytest.mark.parametrize("size", [8, 16, 32])
def test_spatial_map_matches_tf_same_for_even_sizes(size):
    """Our unpadded transposed convs cropped to the first rows/cols must equal TF's "same" ones."""
    torch.manual_seed(2)
    att = MassAtt(8)
    x = torch.randn(2, 8, size, size)
    p = {k: v.detach() for k, v in att.named_parameters()}
    s0 = x.mean(1, keepdim=True)
    s1 = F.relu(F.conv2d(F.pad(s0, (0, 1, 0, 1)), p["down1.weight"], p["down1.bias"], stride=2))
    s2 = F.relu(F.conv2d(F.pad(s1, (0, 1, 0, 1)), p["down2.weight"], p["down2.bias"], stride=2))
    u1 = F.relu(tf_same_conv_transpose(s2, p["up1.weight"], p["up1.bias"], s1.shape[-2:]))
    expected = torch.sigmoid(tf_same_conv_transpose(u1, p["up2.weight"], p["up2.bias"], (size, size)))
    with torch.no_grad():
        torch.testing.assert_close(att.spatial_map(x), expected)


def test_massatt_spatial_path_uses_tf_same_conv():
    att = MassAtt(8)
    # TF "same" with stride 2 on an even map pads only after: output h/2, first window at row 0
    x = torch.zeros(1, 1, 8, 8)
    x[..., 0, 0] = 1.0
    with torch.no_grad():
        att.down1.bias.zero_()
        y = att.down1(x)
    assert y.shape[-2:] == (4, 4)
    torch.testing.assert_close(y[0, :, 0, 0], att.down1.weight[:, 0, 0, 0].detach())


@pytest.mark.parametrize("c, perm", [(6, [0, 3, 1, 4, 2, 5]), (4, [0, 2, 1, 3])])
def test_channel_shuffle_permutation(c, perm):
    x = torch.arange(c, dtype=torch.float32).view(1, c, 1, 1).expand(2, c, 3, 3)
    out = ChannelShuffle(2)(x)
    assert out[0, :, 0, 0].tolist() == perm
    assert out.shape == x.shape


# ---------------------------------------------------------------- the whole network

@pytest.mark.parametrize("img_size", [48, 64, 112])
@pytest.mark.parametrize("in_chans", [1, 3])
def test_output_shapes(img_size, in_chans):
    m = LANMSFF(num_classes=8, in_chans=in_chans, img_size=img_size).eval()
    assert m.input_size == (img_size, img_size)
    with torch.no_grad():
        out = m(torch.rand(2, in_chans, img_size, img_size))
    assert isinstance(out, FEROutput)
    assert out.logits.shape == (2, 8) and out.embedding.shape == (2, 156)
    assert torch.isfinite(out.logits).all()


def test_adapter_resizes_fer2013_batches_and_accepts_uint8(model):
    model.eval()
    x8 = torch.randint(0, 256, (2, 1, 48, 48), dtype=torch.uint8)
    assert model.adapter(x8).shape == (2, 1, 64, 64)
    with torch.no_grad():
        from_uint8 = model(x8).logits
        from_float = model(x8.float() / 255).logits
    assert from_uint8.shape == (2, 7)
    torch.testing.assert_close(from_uint8, from_float)


def test_model_softmax_is_left_to_the_loss(model):
    model.eval()
    with torch.no_grad():
        logits = model(torch.rand(3, 1, 64, 64)).logits
    assert not torch.allclose(logits.sum(1), torch.ones(3))


def test_argument_validation():
    with pytest.raises(ValueError, match="in_chans"):
        LANMSFF(in_chans=2)
    with pytest.raises(ValueError, match="num_classes"):
        LANMSFF(num_classes=1)
    with pytest.raises(ValueError, match="too small"):
        LANMSFF(img_size=15)
    with pytest.raises(ValueError, match="init"):
        LANMSFF(init="glorot")
    with torch.no_grad():   # 16 px still survives four pools (b4 is 1×1)
        assert LANMSFF(img_size=16).eval()(torch.rand(1, 1, 16, 16)).logits.shape == (1, 7)


# ---------------------------------------------------------------- ablation switches (Table XII)

def test_without_massatt_drops_exactly_the_two_massatt_modules(model):
    m = LANMSFF(use_massatt=False)
    assert m.block2.massatt is None and m.block4.massatt is None
    # spec: MassAtt 2,963 (block 2) + 3,914 (block 4), no BN inside MassAtt
    assert n_trainable([model]) - n_trainable([m]) == 2_963 + 3_914
    assert n_bn_stats([m]) == n_bn_stats([model])
    with torch.no_grad():
        assert m.eval()(torch.rand(1, 1, 64, 64)).embedding.shape == (1, 156)


@pytest.mark.parametrize("k", [7, 8])
def test_without_pwfs_changes_only_the_head(k):
    full, bare = LANMSFF(num_classes=k), LANMSFF(num_classes=k, use_pwfs=False)
    full_shapes = {n: p.shape for n, p in full.named_parameters()}
    bare_shapes = {n: p.shape for n, p in bare.named_parameters()}
    assert {n for n in full_shapes if full_shapes[n] != bare_shapes[n]} == {"head.weight"}
    assert n_trainable([bare.head]) == 300 * k + k
    assert n_trainable([bare]) - n_trainable([full]) == (300 - 156) * k


# ---------------------------------------------------------------- training behaviour

def test_backward_reaches_every_parameter():
    torch.manual_seed(3)
    m = LANMSFF().train()
    out = m(torch.rand(4, 1, 64, 64))
    F.cross_entropy(out.logits, torch.tensor([0, 1, 2, 3])).backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_eval_is_deterministic_and_train_applies_dropout():
    model = LANMSFF(img_size=32)
    x = torch.rand(2, 1, 32, 32)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x).logits, model(x).logits, rtol=0, atol=0)
    model.train()
    torch.manual_seed(4)
    with torch.no_grad():
        a, b = model(x).embedding, model(x).embedding
    assert not torch.allclose(a, b)
    assert all(d.p == 0.4 for d in model.modules() if isinstance(d, nn.Dropout))
    assert sum(isinstance(d, nn.Dropout) for d in model.modules()) == 4   # one per block end


# ---------------------------------------------------------------- Keras initialisation

def test_keras_init_he_uniform_convs_glorot_elsewhere(model):
    conv = model.block3.conv2                     # plain 3×3 conv 78→78, fan_in 78·9
    bound = math.sqrt(6 / (78 * 9))               # Keras he_uniform: U(±sqrt(6 / fan_in))
    w = conv.weight.detach()
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
    assert abs(w.std().item() - bound / math.sqrt(3)) < 0.03 * bound   # uniform, not normal

    att_conv = model.block2.massatt.down2         # the code passes he_uniform here too
    assert att_conv.weight.abs().max() <= math.sqrt(6 / (2 * 9))

    # SeparableConv2D ignores kernel_initializer: Glorot, whose bound is far below he's sqrt(6/9)
    sep = model.block3.sep[0]
    assert isinstance(sep, SeparableConv2d)
    dw_bound = math.sqrt(6 / (9 + 78 * 9))
    assert sep.depthwise.weight.abs().max() <= dw_bound
    assert sep.depthwise.weight.abs().max() > 0.9 * dw_bound
    assert sep.pointwise.weight.abs().max() <= math.sqrt(6 / (78 + 78))

    head_bound = math.sqrt(6 / (156 + 7))         # Dense: Glorot
    assert model.head.weight.abs().max() <= head_bound
    assert model.head.weight.abs().max() > 0.9 * head_bound
    up = model.block4.massatt.up1                 # Conv2DTranspose: Glorot, fans 4·9 and 4·9
    assert up.weight.abs().max() <= math.sqrt(6 / (36 + 36))

    biases = [mod.bias for mod in model.modules()
              if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and mod.bias is not None]
    assert len(biases) > 20 and all((b == 0).all() for b in biases)


def test_torch_init_keeps_pytorch_defaults():
    torch.manual_seed(5)
    m = LANMSFF(init="torch")
    assert m.head.bias.abs().sum() > 0                       # PyTorch draws biases, Keras zeroes them
    bound = 1 / math.sqrt(78 * 9)                           # PyTorch's kaiming_uniform(a=√5) bound
    assert m.block3.conv2.weight.abs().max() <= bound


# ---------------------------------------------------------------- what the notebooks print

def test_code_vs_paper_and_paper_claims():
    assert len(CODE_VS_PAPER) == 6 and all(isinstance(s, str) and s for s in CODE_VS_PAPER)
    per_pose = CLAIMS["kdef"]["per_pose"]
    assert sorted(per_pose) == [-90, -45, 0, 45, 90]
    # a finding the notebooks repeat: the paper's "Var 0.66" is neither the population (0.79) nor
    # the sample (0.99) variance of its own five per-pose accuracies
    stated = CLAIMS["kdef"]["pose_variance"]
    assert all(abs(np.var(list(per_pose.values()), ddof=d) - stated) > 0.1 for d in (0, 1))
    assert set(CLAIMS["ablation_kdef"]) == {"whole", "-PWFS", "-MassAtt", "-both"}
    assert CLAIMS["ablation_kdef"]["whole"]["accuracy"] == CLAIMS["kdef"]["accuracy"]
    # the paper's ID = accuracy ÷ parameters in millions with its 358K count, truncated
    # (86.96 / 0.358 = 242.9 → 242; 70.44 / 0.358 = 196.8 → 196)
    for name in ("fer2013", "ferplus"):
        assert math.floor(CLAIMS[name]["accuracy"] / 0.358) == CLAIMS[name]["ID"]
    # the paper's parameter claim is what our network counts, the Keras way
    counts = count_parameters(LANMSFF())
    assert CLAIMS["params"] == {"keras_total": counts["keras_total"], "trainable": counts["trainable"]}
    assert "66→72" in repr(LANMSFF()) and "MassAtt" in repr(LANMSFF())
