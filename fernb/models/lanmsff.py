"""LANMSFF — a lightweight attention-based network via multi-scale feature fusion.

Ezati et al., "A Lightweight Attention-based Deep Network via Multi-Scale Feature Fusion for
Multi-View Facial Expression Recognition" (arXiv 2403.14318), ported to PyTorch from the
authors' official Keras notebooks (AE-1129/LANMSFF). Where paper and code disagree we follow
the code, because the published parameter count (358K) is the code's ``model.summary()``;
:data:`fernb.papers.lanmsff.CODE_VS_PAPER` lists every disagreement for the notebooks to print
(and :mod:`fernb.papers.lanmsff` holds the paper's claims).

The network (input 64×64×1; the paper's architecture figure, as the code builds it)::

    block1  ConvBlock     1→66   Conv · Sep · Conv                       → b1 66×32×32
    block2  TwoPathBlock 66→72   shuffle+split, H | L (dilated), MassAtt  → b2 72×16×16
    block3  ConvBlock    72→78                                           → b3 78×8×8
    block4  TwoPathBlock 78→84                                           → b4 84×4×4
    head    GAP(PWFS(b1)) ‖ GAP(PWFS(b2)) ‖ GAP(PWFS(b3)) ‖ GAP(b4) = 22+24+26+84 = 156 → Dense K

Every block ends BN → MaxPool 2×2 → ReLU → Dropout(0.4), in that order, as the code does.
Trainable parameters: 356,294 (7 classes); Keras' "Total params" adds the BN moving
statistics (2,112) and gives the paper's 358K.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from timm.layers import Conv2dSame
from torch import nn

from fernb.models.common import FERModel, InputAdapter, _pair, keras_init_

__all__ = ["BN", "SeparableConv2d", "ChannelShuffle", "MassAtt", "PWFS", "ConvBlock", "TwoPathBlock",
           "LANMSFF"]

BLOCK_WIDTHS = (66, 72, 78, 84)
N_POOLS = 4   # every block halves the map once


def BN(c: int) -> nn.BatchNorm2d:
    """Keras ``BatchNormalization()`` defaults: epsilon 1e-3, moving-average momentum 0.99
    (PyTorch counts momentum the other way: 1 − 0.99 = 0.01)."""
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


def _conv(cin: int, cout: int, dilation: int = 1) -> nn.Conv2d:
    """The code's plain Conv2D: 3×3, stride 1, "same" padding, with bias even before BN."""
    return nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=True)


class SeparableConv2d(nn.Module):
    """Keras ``SeparableConv2D``: depthwise 3×3 (multiplier 1, no bias, the dilation lives here)
    followed by a pointwise 1×1 with bias."""

    # Keras' SeparableConv2D ignores ``kernel_initializer='he_uniform'`` and initialises its
    # depthwise and pointwise kernels Glorot-uniform; keras_init_ reads this flag.
    keras_glorot = True

    def __init__(self, cin: int, cout: int, dilation: int = 1):
        super().__init__()
        self.cin, self.cout, self.dilation = cin, cout, dilation
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=dilation, dilation=dilation, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))

    def extra_repr(self) -> str:
        dil = f" dil {self.dilation}" if self.dilation > 1 else ""
        return f"{self.cin}→{self.cout}, depthwise 3×3{dil} + pointwise 1×1"


class ChannelShuffle(nn.Module):
    """ShuffleNet's channel shuffle: view channels as (groups, C/groups), transpose, flatten.

    With 2 groups, channel ``i`` of the first half lands next to channel ``i`` of the second, so
    the contiguous split that follows gives each path channels from both halves. (The 2024 code
    used an unseeded random permutation instead: :data:`fernb.papers.lanmsff.CODE_VS_PAPER` item 3.)
    """

    def __init__(self, groups: int = 2):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        if c % self.groups:
            raise ValueError(f"channel shuffle with {self.groups} groups needs C divisible by {self.groups}, got C={c}")
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class MassAtt(nn.Module):
    """The paper's mass attention block (MassAtt, Eq. 3): a channel map times a spatial map.

    - channel: global average pool → Dense C→C/ratio, ReLU → Dense →C, sigmoid → (N, C, 1, 1);
    - spatial: mean over channels → two stride-2 3×3 convs (1→2→4, ReLU, TensorFlow "same"
      padding) → two stride-2 3×3 transposed convs (4→4 ReLU, 4→1 sigmoid) back to H×W → (N, 1, H, W).

    ``forward`` returns the attention ``A`` (N, C, H, W) in (0, 1); the block multiplies it with
    its input. Where the paper and the official code differ we follow the code
    (:data:`fernb.papers.lanmsff.CODE_VS_PAPER` item 1): ``A = sigmoid(channel) × sigmoid(spatial)``,
    not ``sigmoid(channel × spatial)`` as Eq. 3 reads. As Eqs. 3–4 write them, the first transposed
    conv is followed by a ReLU, and the spatial descriptor is the channel mean only (no max-pooled map
    beside it, as CBAM would have).

    Transposed convs run unpadded (output 2h+1) and keep the first rows/columns up to the size
    of the matching encoder level. For even sizes that is exactly TF's "same"
    ``Conv2DTranspose`` (2h, pad 0 before / 1 after), so Keras weights port bit-exactly; for odd
    sizes (the 6×6 and 14×14 maps of 48- and 112-pixel inputs, where the Keras graph would not
    even build) it still returns every level at its encoder's size.
    """

    def __init__(self, channels: int, ratio: int = 4):
        super().__init__()
        if channels < ratio:
            raise ValueError(f"MassAtt needs at least ratio={ratio} channels, got {channels}")
        self.channels, self.ratio = channels, ratio
        self.fc1 = nn.Linear(channels, channels // ratio)
        self.fc2 = nn.Linear(channels // ratio, channels)
        self.down1 = Conv2dSame(1, 2, 3, stride=2)
        self.down2 = Conv2dSame(2, 4, 3, stride=2)
        self.up1 = nn.ConvTranspose2d(4, 4, 3, stride=2, padding=0)
        self.up2 = nn.ConvTranspose2d(4, 1, 3, stride=2, padding=0)
        self.relu = nn.ReLU()

    def channel_map(self, x: torch.Tensor) -> torch.Tensor:
        squeeze = x.mean(dim=(2, 3))
        excite = self.fc2(self.relu(self.fc1(squeeze)))
        return torch.sigmoid(excite)[:, :, None, None]

    def spatial_map(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        s0 = x.mean(dim=1, keepdim=True)
        s1 = self.relu(self.down1(s0))
        s2 = self.relu(self.down2(s1))
        h1, w1 = s1.shape[-2:]
        u1 = self.relu(self.up1(s2)[..., :h1, :w1])
        return torch.sigmoid(self.up2(u1)[..., :h, :w])

    def maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The channel map (N, C, 1, 1) and the spatial map (N, 1, H, W), each in (0, 1)."""
        return self.channel_map(x), self.spatial_map(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channel, spatial = self.maps(x)
        return channel * spatial

    def extra_repr(self) -> str:
        return (f"{self.channels} ch, ratio {self.ratio}: sigmoid(GAP→Dense→Dense) × "
                f"sigmoid(mean→conv s2 ×2→convT s2 ×2)")


class PWFS(nn.Module):
    """The paper's point-wise feature selection block (PWFS): split the channels into three contiguous
    thirds and keep, per position, ½·(max + median) of the three values. No parameters.

    The median of three is ``sum − max − min``, as the official code computes it.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] % 3:
            raise ValueError(f"PWFS splits channels into 3 equal groups; C={x.shape[1]} is not divisible by 3")
        a, b, c = x.chunk(3, dim=1)
        hi = torch.maximum(torch.maximum(a, b), c)
        lo = torch.minimum(torch.minimum(a, b), c)
        median = a + b + c - hi - lo
        return 0.5 * (hi + median)

    def extra_repr(self) -> str:
        return "3 contiguous thirds → ½(max + median)"


class _BlockEnd(nn.Module):
    """What closes every block in the code: BN → MaxPool 2×2 → ReLU → Dropout.

    Max-pooling before the ReLU gives the same values as after (both are monotone), but the
    order is kept so the graph matches the Keras one layer for layer.
    """

    def __init__(self, c: int, drop_rate: float):
        super().__init__()
        self.bn = BN(c)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()
        self.drop = nn.Dropout(drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.relu(self.pool(self.bn(x))))


def _conv_bn_relu(conv: nn.Module, c: int) -> nn.Sequential:
    return nn.Sequential(conv, BN(c), nn.ReLU())


class ConvBlock(nn.Module):
    """Blocks 1 and 3 of the paper: Conv 3×3 · Sep 3×3 · Conv 3×3, each with BN; the first two
    with ReLU, the last closed by BN → MaxPool → ReLU → Dropout."""

    def __init__(self, cin: int, c: int, drop_rate: float = 0.4):
        super().__init__()
        self.cin, self.c = cin, c
        self.conv1 = _conv_bn_relu(_conv(cin, c), c)
        self.sep = _conv_bn_relu(SeparableConv2d(c, c), c)
        self.conv2 = _conv(c, c)
        self.end = _BlockEnd(c, drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.end(self.conv2(self.sep(self.conv1(x))))

    def extra_repr(self) -> str:
        return f"{self.cin}→{self.c}, Conv 3×3 · Sep 3×3 · Conv 3×3, BN → MaxPool 2×2 → ReLU → Dropout"


class TwoPathBlock(nn.Module):
    """Blocks 2 and 4 of the paper: multi-scale two-path (grouped) convolution, then MassAtt.

    Channels are shuffled (2 groups) and split into halves. Path H sees 3×3 kernels, path L the
    same kernels dilated by 2 (a 5×5 field). Stage 1 runs each path on its own half; stages 2
    (depthwise-separable) and 3 run both paths on the concatenation of the previous stage, as
    the code does (:data:`fernb.papers.lanmsff.CODE_VS_PAPER` item 2). The concat ``Y`` is reweighted by MassAtt,
    ``Z = A ⊙ Y`` (no residual), then mixed by a 1×1 conv and closed like every block.
    """

    def __init__(self, cin: int, c: int, use_massatt: bool = True, drop_rate: float = 0.4):
        super().__init__()
        if cin % 2 or c % 2:
            raise ValueError(f"a two-path block splits channels in halves: needs even cin and c, got {cin}, {c}")
        self.cin, self.c, self.use_massatt = cin, c, use_massatt
        half_in, half = cin // 2, c // 2
        self.shuffle = ChannelShuffle(2)
        self.h1 = _conv_bn_relu(_conv(half_in, half), half)
        self.l1 = _conv_bn_relu(_conv(half_in, half, dilation=2), half)
        self.h2 = _conv_bn_relu(SeparableConv2d(c, half), half)
        self.l2 = _conv_bn_relu(SeparableConv2d(c, half, dilation=2), half)
        self.h3 = _conv_bn_relu(_conv(c, half), half)
        self.l3 = _conv_bn_relu(_conv(c, half, dilation=2), half)
        self.massatt = MassAtt(c) if use_massatt else None
        self.fuse = nn.Conv2d(c, c, 1, bias=True)
        self.end = _BlockEnd(c, drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.shuffle(x).chunk(2, dim=1)
        x1 = torch.cat([self.h1(a), self.l1(b)], dim=1)
        x2 = torch.cat([self.h2(x1), self.l2(x1)], dim=1)
        y = torch.cat([self.h3(x2), self.l3(x2)], dim=1)
        z = self.massatt(y) * y if self.massatt is not None else y
        return self.end(self.fuse(z))

    def extra_repr(self) -> str:
        att = "MassAtt" if self.use_massatt else "no MassAtt"
        return (f"{self.cin}→{self.c}, shuffle g=2 + split, H 3×3 | L 3×3 dil 2 "
                f"(stage 2 separable), {att}, Conv 1×1, BN → MaxPool 2×2 → ReLU → Dropout")


class LANMSFF(FERModel):
    """LANMSFF as the official Keras code builds it (trainable 356,294 for 7 classes).

    Args:
        num_classes: K, the size of the Dense head (7, or 8 with contempt).
        in_chans: channels of the batches it is fed (1 or 3); the network itself is as wide as
            its input (the code is grayscale; a colour input widens only the first conv).
        img_size: side (or (H, W)) the adapter resizes to; 64 in the paper. Any size that
            survives four 2×2 pools works (48, 64, 112, odd sizes).
        use_massatt: False drops MassAtt from blocks 2 and 4 (Table XII "−MassAtt").
        use_pwfs: False fuses the full GAP of b1–b4 (300-d) instead of PWFS-reduced b1–b3
            (Table XII "−PWFS"). The official code has no such variant; concatenating the
            un-selected maps is our reading of "without PWFS".
        drop_rate: Dropout at the end of every block (0.4 in the code).
        init: "keras" initialises as the code (he_uniform convs, Glorot separable/transposed/
            Dense, zero biases); "torch" keeps PyTorch's defaults.
        bn_momentum: PyTorch momentum of every BatchNorm's running statistics. 0.01 is the
            code's Keras default (moving average 0.99, :func:`BN`), right for its 100 epochs;
            after a few CPU epochs those statistics still remember the untrained network, and
            the evaluated model lags the trained one (notebook 02 shows it), so the CPU
            default uses PyTorch's 0.1.

    ``forward`` returns :class:`~fernb.models.common.FEROutput` with logits (the code's softmax is left to the loss)
    and the fused embedding (156-d, or 300-d without PWFS).
    """

    def __init__(self, num_classes: int = 7, in_chans: int = 1, img_size: int | Sequence[int] = 64,
                 use_massatt: bool = True, use_pwfs: bool = True, drop_rate: float = 0.4, init: str = "keras",
                 bn_momentum: float = 0.01):
        super().__init__()
        if in_chans not in (1, 3):
            raise ValueError(f"in_chans must be 1 or 3, got {in_chans}")
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer ≥ 2, got {num_classes!r}")
        size = _pair(img_size)
        min_side = 2 ** N_POOLS
        if min(size) < min_side:
            raise ValueError(f"img_size {size} is too small: four 2×2 max-pools need at least "
                             f"{min_side}×{min_side} pixels (the paper uses 64)")
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
        if init not in ("keras", "torch"):
            raise ValueError(f"init must be 'keras' or 'torch', got {init!r}")
        if not 0.0 < bn_momentum <= 1.0:
            raise ValueError(f"bn_momentum must be in (0, 1], got {bn_momentum}")
        self.num_classes, self.in_chans, self.input_size = num_classes, in_chans, size
        self.use_massatt, self.use_pwfs = use_massatt, use_pwfs

        c1, c2, c3, c4 = BLOCK_WIDTHS
        self.adapter = InputAdapter(in_chans, in_chans, size)   # [0, 1], no mean/std: the code has none
        self.block1 = ConvBlock(in_chans, c1, drop_rate)
        self.block2 = TwoPathBlock(c1, c2, use_massatt, drop_rate)
        self.block3 = ConvBlock(c2, c3, drop_rate)
        self.block4 = TwoPathBlock(c3, c4, use_massatt, drop_rate)
        # b4 is fused whole; PWFS only thins the three earlier scales.
        self.pwfs = PWFS() if use_pwfs else nn.Identity()
        self.embed_dim = (sum(c // 3 for c in (c1, c2, c3)) if use_pwfs else c1 + c2 + c3) + c4
        self.head_drop = nn.Identity()  # the code's Dense reads the fused vector directly
        self.head = nn.Linear(self.embed_dim, num_classes)
        if init == "keras":
            keras_init_(self)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = bn_momentum

    def block_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """b1–b4, the post-dropout outputs of the four blocks (x already adapted)."""
        b1 = self.block1(x)
        b2 = self.block2(b1)
        b3 = self.block3(b2)
        b4 = self.block4(b3)
        return [b1, b2, b3, b4]

    def fused(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The four pooled parts of the multi-scale fusion: GAP(PWFS(b1)), GAP(PWFS(b2)), GAP(PWFS(b3)), GAP(b4)."""
        b1, b2, b3, b4 = self.block_outputs(self.adapter(x))
        return [self.pwfs(b).mean(dim=(2, 3)) for b in (b1, b2, b3)] + [b4.mean(dim=(2, 3))]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.fused(x), dim=1)

    def components(self) -> dict[str, list[nn.Module]]:
        """The parts a model card breaks parameters and FLOPs down by, in network order."""
        return {"block1": [self.block1], "block2": [self.block2], "block3": [self.block3],
                "block4": [self.block4], "head": [self.head]}

    def extra_repr(self) -> str:
        fusion = "PWFS(b1..b3) ‖ b4" if self.use_pwfs else "b1..b4 (no PWFS)"
        return (f"{self.in_chans}×{self.input_size[0]}×{self.input_size[1]} → {self.num_classes} classes, "
                f"fusion GAP[{fusion}] = {self.embed_dim}-d")
