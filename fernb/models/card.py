"""Model cards: the parameter and FLOP numbers a claims audit quotes, counted the same way for every model.

- **trainable**: ``requires_grad`` parameters (what PyTorch papers report);
- **BN statistics**: running mean and variance of every batch-norm layer — Keras lists
  them as "non-trainable params", so a Keras ``model.summary()`` total is
  trainable + frozen + BN statistics (**keras_total**: LANMSFF's "358K");
- **FLOPs** from PyTorch's own counter (``torch.utils.flop_counter``), one multiply-add
  = 2 FLOPs, matrix multiplications and convolutions only (no activations or norms);
  papers that say "FLOPs" often mean multiply-adds, so **MACs** = FLOPs / 2 is given too;
- the **breakdown by component** (``model.components()``: backbone / CBAM / Transformer /
  head for HAFEM, blocks for LANMSFF): each parameter and FLOP is charged to the most
  specific component that contains it (CBAM inside a backbone stage counts as CBAM).

A card for a configuration too large to allocate (HAFEM with six 2048-wide layers is
~230M parameters) is built on PyTorch's ``meta`` device: shapes and counts, no memory.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from fernb.models.factory import create_model


@dataclass
class ModelCard:
    name: str
    input_shape: tuple[int, ...]            # one sample as the data stage gives it (C, H, W)
    network_input: tuple[int, ...]          # what the network sees after the input adapter
    trainable: int
    frozen: int
    bn_stats: int
    buffers: int
    keras_total: int
    flops: int                              # per sample
    components: pd.DataFrame = field(repr=False)
    output_shapes: dict = field(default_factory=dict, repr=False)  # per sample, of each component's last module

    @property
    def macs(self) -> int:
        return self.flops // 2

    def as_dict(self) -> dict:
        """Plain values for a metrics JSON."""
        out = {k: getattr(self, k) for k in ("name", "trainable", "frozen", "bn_stats", "buffers", "keras_total", "flops")}
        out.update(macs=self.macs, input_shape=list(self.input_shape), network_input=list(self.network_input),
                   components=self.components.reset_index().to_dict(orient="records"))
        return out

    def __str__(self) -> str:
        lines = [f"{self.name}: input {'×'.join(map(str, self.input_shape))} → network "
                 f"{'×'.join(map(str, self.network_input))}",
                 f"  trainable {self.trainable:,} · frozen {self.frozen:,} · BN statistics {self.bn_stats:,} · "
                 f"Keras-style total {self.keras_total:,}",
                 f"  {self.flops / 1e9:.3f} GFLOPs ({self.macs / 1e9:.3f} GMACs) per sample",
                 self.components.to_string(formatters={c: "{:,}".format for c in ("trainable", "bn_stats", "keras_total", "flops")})]
        return "\n".join(lines)


def count_parameters(module: nn.Module) -> dict[str, int]:
    """trainable, frozen, BN running statistics, all buffers and the Keras-style total of ``module``."""
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    bn_stats = sum(m.running_mean.numel() + m.running_var.numel() for m in module.modules()
                   if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None)
    buffers = sum(b.numel() for b in module.buffers())
    return dict(trainable=trainable, frozen=frozen, bn_stats=bn_stats, buffers=buffers,
                keras_total=trainable + frozen + bn_stats)


def _owner(names: dict[str, str], qualname: str) -> str | None:
    """The component whose module is the longest prefix of ``qualname``."""
    best, best_len = None, -1
    for prefix, comp in names.items():
        if (prefix == "" or qualname == prefix or qualname.startswith(prefix + ".")) and len(prefix) > best_len:
            best, best_len = comp, len(prefix)
    return best


def model_card(model: nn.Module | str, input_shape: tuple[int, ...] | None = None, name: str | None = None,
               **knobs) -> ModelCard:
    """Count ``model`` (a module, or a factory name built on the ``meta`` device with ``knobs``).

    ``input_shape`` is one sample as the data gives it (C, H, W); by default the network's
    own input (``model.in_chans`` × ``model.input_size``). FLOPs are counted in eval mode on
    a batch of one, on the model's device, without gradients; the model is not changed.
    """
    if isinstance(model, str):
        name = name or model
        with torch.device("meta"):
            model = create_model(model, **knobs)
    name = name or getattr(model, "fernb_config", {}).get("name", type(model).__name__)
    if input_shape is None:
        input_shape = (model.in_chans, *model.input_size)
    device = next(model.parameters()).device

    modules = {m: n for n, m in model.named_modules()}
    components = model.components() if hasattr(model, "components") else {"model": [model]}
    comp_of_module = {modules[m]: comp for comp, ms in components.items() for m in ms}
    loose = getattr(model, "component_parameters", lambda: {})()
    loose_ids = {id(p): comp for comp, ps in loose.items() for p in ps}

    rows = {comp: dict(trainable=0, bn_stats=0, flops=0) for comp in components}
    rows["other"] = dict(trainable=0, bn_stats=0, flops=0)
    for pname, p in model.named_parameters():
        if p.requires_grad:
            comp = loose_ids.get(id(p)) or _owner(comp_of_module, pname.rsplit(".", 1)[0]) or "other"
            rows[comp]["trainable"] += p.numel()
    for mname, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
            comp = _owner(comp_of_module, mname) or "other"
            rows[comp]["bn_stats"] += m.running_mean.numel() + m.running_var.numel()

    # FLOPs: PyTorch's counter keys modules as "<RootClass>.<qualified name>".
    shapes: dict[str, tuple] = {}
    def remember(comp):
        return lambda mod, inputs, output: shapes.__setitem__(comp, tuple(output.shape[1:]) if torch.is_tensor(output) else None)

    hooks = [m.register_forward_hook(remember(comp)) for comp, ms in components.items() for m in ms]
    adapter = getattr(model, "adapter", None)
    net_in: list = []
    if adapter is not None:
        hooks.append(adapter.register_forward_hook(lambda mod, i, o: net_in.append(tuple(o.shape[1:]))))
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False, depth=None)
    try:
        with torch.no_grad(), counter, _no_mha_fastpath():
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    root = type(model).__name__
    per_module = {k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    total = per_module.get("Global", 0)
    for mname, comp in comp_of_module.items():
        nested = [s for s in comp_of_module if s != mname and (mname == "" or s.startswith(mname + "."))]
        # subtract only the outermost nested components (their counts include their own nested ones)
        outer = [s for s in nested if not any(t != s and s.startswith(t + ".") for t in nested)]
        own = per_module.get(f"{root}.{mname}" if mname else root, 0)
        rows[comp]["flops"] += own - sum(per_module.get(f"{root}.{s}", 0) for s in outer)
    claimed = sum(r["flops"] for r in rows.values())
    rows["other"]["flops"] += total - claimed

    table = pd.DataFrame.from_dict(rows, orient="index")
    table["keras_total"] = table["trainable"] + table["bn_stats"]
    if not table.loc["other"].any():
        table = table.drop(index="other")
    table.index.name = "component"
    counts = count_parameters(model)
    return ModelCard(name=name, input_shape=tuple(input_shape), network_input=net_in[0] if net_in else tuple(input_shape),
                     flops=int(total), components=table[["trainable", "bn_stats", "keras_total", "flops"]],
                     output_shapes=shapes, **counts)


class _no_mha_fastpath:
    """PyTorch's fused inference path for attention is invisible to the FLOP counter."""

    def __enter__(self):
        self.before = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)

    def __exit__(self, *exc):
        torch.backends.mha.set_fastpath_enabled(self.before)
