"""How a run computes: memory format and autocast, chosen by measurement where asked.

``channels_last: auto`` and ``amp: auto`` (``params.yaml``'s ``train`` section) resolve here,
once per run, into a :class:`Numerics`:

- **On a GPU, by rule**: channels-last on, autocast in bf16 where the GPU has it, else fp16
  with a ``GradScaler`` (HAFEM §3: "mixed precision with gradient scaling").
- **On the CPU, by a timed probe** (:func:`probe`): a few training steps of the model at hand,
  at the run's batch size and input size, for each candidate — float32 in the default memory
  format, channels-last, bf16 autocast (only where the CPU has bf16 instructions,
  :func:`cpu_has_bf16`), and both. The fastest wins if it beats plain float32 by
  :data:`MARGIN`; otherwise the run stays in plain float32, whose numbers need no caveat.
  Which variant helps is model-dependent (the table in ``benchmarks/bench_train.py`` shows
  LANMSFF's many small convolutions gaining from bf16 where the EfficientNet backbone loses),
  so a rule by device alone would be wrong for one of the two papers' networks.
- ``deterministic: true`` asks for bit-identical runs; a timing decides differently from run
  to run, so there ``auto`` means plain float32 on the CPU (the rule is stated in the record).

The choice is recorded in ``result.json`` (``numerics``), saved in the checkpoint (a resumed run
keeps the numerics it started with) and cached per model configuration for the life of the
process (the seeds of one recipe probe once). Evaluation always runs as :func:`fernb.models.inputs.predict_proba` decides from the ``amp`` setting
(float32 on the CPU under ``auto``), so the reported metrics never depend on the probe.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from fernb.machine import amp_plan

__all__ = ["Numerics", "choose_numerics", "probe", "cpu_has_bf16", "MARGIN"]

MARGIN = 1.10            # a variant must train this much faster than plain float32 to be chosen
_CACHE: dict[tuple, Numerics] = {}


@dataclass(frozen=True)
class Numerics:
    """The numerics one run trains with, and how they were chosen."""

    channels_last: bool
    amp: str                        # "off" | "bf16" | "fp16"
    chosen_by: str                  # "setting" | "rule" | "probe"
    reason: str = ""
    probe: dict[str, float] = field(default_factory=dict)   # variant -> training images/s

    @property
    def label(self) -> str:
        parts = (["channels_last"] if self.channels_last else []) + ([self.amp] if self.amp != "off" else [])
        return "+".join(parts) or "fp32"

    def autocast(self, device: torch.device) -> tuple[bool, torch.dtype | None, bool]:
        """``(autocast on, its dtype, GradScaler on)`` on ``device``."""
        return amp_plan(device, self.amp)

    def as_dict(self) -> dict:
        return {**asdict(self), "label": self.label}

    @classmethod
    def from_dict(cls, values: dict) -> Numerics:
        return cls(**{k: values[k] for k in ("channels_last", "amp", "chosen_by", "reason", "probe") if k in values})


def cpu_has_bf16() -> bool:
    """Whether oneDNN reports bf16 support on this CPU (AVX512-BF16 or AMX); without it bf16
    autocast on the CPU is emulated and slower than float32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _candidates(channels_last: str, amp: str, device: torch.device) -> list[tuple[bool, str]]:
    layouts = [False, True] if channels_last == "auto" else [channels_last == "on"]
    if amp == "auto":
        dtypes = ["off", "bf16"] if cpu_has_bf16() else ["off"]
    else:
        dtypes = [amp]
    return [(cl, dt) for cl in layouts for dt in dtypes]


def _variant_name(channels_last: bool, amp: str) -> str:
    return Numerics(channels_last, amp, "probe").label


def probe(model: nn.Module, input_shape: tuple[int, ...], candidates: list[tuple[bool, str]],
          device: torch.device, *, steps: int = 3, warmup: int = 1, max_seconds: float = 2.0) -> dict[str, float]:
    """Training images/s of ``model`` for each ``(channels_last, amp)`` candidate: ``warmup``
    untimed then ``steps`` timed steps (fewer when ``max_seconds`` runs out) of forward,
    cross-entropy, backward and an Adam step on random inputs of ``input_shape`` (batch
    first). Runs on a copy of the model; the caller's weights and random state are untouched."""
    rng = torch.random.get_rng_state()
    batch = input_shape[0]
    rates = {}
    try:
        for channels_last, amp in candidates:
            net = copy.deepcopy(model).to(device).train()
            x = torch.rand(*input_shape, device=device)
            y = torch.randint(0, 2, (batch,), device=device)
            if channels_last:
                net = net.to(memory_format=torch.channels_last)
                x = x.contiguous(memory_format=torch.channels_last)
            optimizer = torch.optim.Adam(net.parameters(), lr=1e-6)
            on, dtype, _ = amp_plan(device, amp)
            done, started = 0, None
            for i in range(warmup + steps):
                if i == warmup:
                    _sync(device)
                    started = time.perf_counter()
                with torch.autocast(device.type, dtype=dtype, enabled=on):
                    out = net(x)
                    logits = out.logits if hasattr(out, "logits") else out
                    loss = F.cross_entropy(logits.float(), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if i >= warmup:
                    done += 1
                    _sync(device)
                    if time.perf_counter() - started > max_seconds:
                        break
            rates[_variant_name(channels_last, amp)] = batch * done / (time.perf_counter() - started)
            del net, optimizer
    finally:
        torch.random.set_rng_state(rng)
    return rates


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def choose_numerics(model: nn.Module, input_shape: tuple[int, ...], device: torch.device, channels_last: str,
                    amp: str, *, deterministic: bool = False, cache_key: tuple | None = None) -> Numerics:
    """The run's :class:`Numerics` from the ``channels_last`` and ``amp`` settings (see the
    module docstring). ``input_shape`` is one training batch as the network receives it."""
    fixed = channels_last != "auto" and amp != "auto"
    if fixed:
        return Numerics(channels_last == "on", "off" if amp == "off" else amp, "setting")
    if device.type != "cpu":
        use_amp, dtype, _ = amp_plan(device, amp)
        amp_name = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "off") if use_amp else "off"
        layout = device.type == "cuda" if channels_last == "auto" else channels_last == "on"
        return Numerics(layout, amp_name, "rule", f"on {device.type}: channels-last and autocast by rule")
    if deterministic:
        return Numerics(channels_last == "on", "off" if amp == "auto" else amp, "rule",
                        "deterministic run: no timed choice on the CPU (float32 unless set)")
    key = (cache_key, tuple(input_shape), channels_last, amp, torch.get_num_threads()) if cache_key else None
    if key is not None and key in _CACHE:
        return _CACHE[key]
    candidates = _candidates(channels_last, amp, device)
    rates = probe(model, input_shape, candidates, device)
    baseline = _variant_name(*candidates[0])
    best = max(rates, key=rates.get)
    pick = best if rates[best] >= MARGIN * rates[baseline] else baseline
    cl, dt = next(c for c in candidates if _variant_name(*c) == pick)
    reason = (f"{pick} trained {rates[pick] / rates[baseline]:.2f}x as fast as {baseline} in a timed probe"
              if pick != baseline else f"no variant beat {baseline} by {MARGIN:.2f}x in a timed probe")
    numerics = Numerics(cl, dt, "probe", reason, {k: round(v, 1) for k, v in rates.items()})
    if key is not None:
        _CACHE[key] = numerics
    return numerics
