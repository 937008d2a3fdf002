"""The real-time harness: every model's latency and throughput, measured side by side in one run.

>>> bench = run_benchmark(["lanmsff", "hafem_paper", "resnet50"], variants=["eager", "onnxruntime"],
...                       batch_sizes=[1, 8, 32], sweep_variants=["eager"])
>>> bench.latency      # one row per (model, variant, batch): median / p90 / p99 ms, images/s, status
>>> bench.models       # one row per model: parameters, FLOPs, MACs (from the model card)
>>> bench.environment  # device, GPU, driver, CUDA, torch, timm, onnxruntime, threads, commit, date
>>> bench.save("reports/07_fps/benchmark.json")

How a point is measured (:func:`measure`): ``warmup`` untimed calls (allocator, oneDNN/cuDNN
algorithm choice, ``torch.compile``'s compilation, ONNX Runtime's first run — the first
call's time is kept as ``first_call_s``), then timed calls until ``iters`` are done or,
after at least ``min_iters``, ``max_seconds`` have passed. Each timed call is bracketed by
``torch.cuda.synchronize()`` on a GPU, so its wall time is what a caller waits for; CUDA
events around it give the GPU's own time, and the difference is host overhead (kernel
launches, Python) — the first thing to look at when a small batch misses its target.

Latency is the batch-1 distribution (median, p90, p99; with fewer than 100 timed calls p99
is close to the slowest call). Throughput is ``batch / median`` images per second.

A **variant** is a ``+``-joined set of flags (:func:`parse_variant`): ``eager`` (float32,
NCHW), ``channels_last``, ``bf16`` / ``fp16`` (``torch.autocast``), ``compile``
(``torch.compile``, default mode), ``cudagraphs`` (``torch.compile(mode="reduce-overhead")``,
CUDA graphs; GPU only) and ``onnxruntime`` (the model exported by :mod:`fernb.realtime.export`,
alone). Every variant's logits are compared with eager float32 on the same batch
(``max_abs_diff``), so a fast variant that computes something else shows.

A variant that cannot run here (no C++ compiler for ``compile``, CUDA graphs on a CPU, an
out-of-memory batch) becomes a row whose ``status`` says why; the sweep goes on.

Besides the model-only sweep: :func:`op_profile` (where one forward pass spends its time) and
:func:`end_to_end` (every stage from an encoded frame to emotions, :data:`E2E_STAGES`). This
module measures and returns numbers; what notebook 07 makes of them (tables beside the papers,
targets, sentences, ``metrics.json``) is :mod:`fernb.realtime.fps_report`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch import nn

from fernb import faces
from fernb.data.synthphotos import synthetic_photos
from fernb.faces import FacePipeline
from fernb.faces.backends import mtcnn_status
from fernb.faces.pipeline import decode_rgb
from fernb.labels import class_names
from fernb.machine import environment, select_device
from fernb.models import create_model, model_card
from fernb.progress import progress_bar
from fernb.realtime.export import check_onnx, export_onnx, onnx_session
from fernb.realtime.predict import Predictor, TrainingInputs
from fernb.workbook.report import write_json

__all__ = ["MODELS", "SWEEPS", "BenchModel", "sweep_settings", "Variant", "parse_variant", "measure", "latency_stats",
           "build_model", "Benchmark", "run_benchmark", "op_profile", "E2E_STAGES", "encoded_frames", "bench_predictor",
           "end_to_end", "run_end_to_end"]


@dataclass(frozen=True)
class BenchModel:
    """A model of the benchmark: the factory name, its knobs, a label, and its row in the papers."""

    name: str
    kwargs: dict = field(default_factory=dict)
    label: str = ""
    table3: str | None = None        # HAFEM's Table 3 row (fernb.papers.hafem.TABLE3), when there is one


# Every model gets 1-channel input (FER2013's grayscale; the input adapter gives a 3-channel
# network its channels) at the network's own size, so no resize is timed.
MODELS: dict[str, BenchModel] = {
    "lanmsff": BenchModel("lanmsff", {}, "LANMSFF (64 px, the code)"),
    "hafem_cpu": BenchModel("hafem", dict(backbone="efficientnet_b0", img_size=64, d_model=128),
                            "HAFEM, CPU default (B0, 64 px, d 128)"),
    "hafem_paper": BenchModel("hafem", {}, "HAFEM, paper (B5, 224 px, d 2048)", table3="HAFEM"),
    "resnet50": BenchModel("resnet50", {}, "ResNet-50 (224 px)", table3="ResNet-50"),
    "efficientnet_b4": BenchModel("efficientnet_b4", {}, "EfficientNet-B4 (224 px)", table3="EfficientNet-B4"),
    "vit_base_16": BenchModel("vit_base_16", {}, "ViT-Base/16 (224 px)", table3="ViT-Base"),
    "swin_tiny": BenchModel("swin_tiny", {}, "Swin-T (224 px)", table3="Swin-T"),
}

# The two sweeps notebook 07 offers (``fps.sweep``). ``only`` limits a variant to some models;
# ``sweep_variants`` get the batch-size sweep, the others batch 1. Keys ending ``_trained`` are
# the models notebooks 01/02 trained. The CPU sweep fits the default pipeline's time budget on
# two cores and keeps what notebook 07's findings read: every model's batch-1 latency in eager,
# channels-last and bf16 (each model's best variant: the ranking against HAFEM's Table 3, the
# targets), ONNX Runtime on the two papers' configurations (the export check; the trained
# networks go through the same exporter with ``fernb export``), and a short batch sweep in
# eager (throughput); one warm-up call per point (on a CPU the second call is already warm: no
# algorithm search, no compilation). It leaves out torch.compile: on two cores compiling even
# LANMSFF takes longer than the rest of the sweep, and the compiled LANMSFF did not beat ONNX
# Runtime there. ``fps.variants`` adds it back (``only`` keeps it to LANMSFF: an EfficientNet
# takes minutes); the GPU sweep compiles every model.
SWEEPS: dict[str, dict] = {
    "cpu": dict(variants=["eager", "channels_last", "bf16", "onnxruntime"],
                only={"compile": ["lanmsff"], "onnxruntime": ["lanmsff", "hafem_cpu", "hafem_paper"]},
                batch_sizes=[1, 2], sweep_variants=["eager"],
                warmup=1, iters=50, min_iters=3, max_seconds=0.3),
    "gpu": dict(variants=["eager", "channels_last", "bf16", "fp16", "channels_last+bf16", "compile+channels_last+bf16",
                          "cudagraphs+channels_last+bf16", "cudagraphs+channels_last+fp16", "onnxruntime"],
                only={}, batch_sizes=[1, 8, 32, 128, 256],
                sweep_variants=["eager", "channels_last+bf16", "cudagraphs+channels_last+bf16"],
                warmup=10, iters=300, min_iters=20, max_seconds=3.0),
}


def sweep_settings(sweep: str, **overrides) -> dict:
    """The preset ``sweep`` (``cpu`` or ``gpu``) with ``overrides`` (None values ignored)."""
    if sweep not in SWEEPS:
        raise ValueError(f"unknown sweep {sweep!r}; choose one of {sorted(SWEEPS)}")
    settings = json.loads(json.dumps(SWEEPS[sweep]))
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings


# ------------------------------------------------------------------------------ variants
FLAGS = ("eager", "channels_last", "bf16", "fp16", "compile", "cudagraphs", "onnxruntime")


@dataclass(frozen=True)
class Variant:
    name: str
    channels_last: bool = False
    dtype: torch.dtype | None = None      # autocast dtype
    compile: bool = False
    cudagraphs: bool = False
    onnx: bool = False


def parse_variant(spec: str, device: torch.device | str = "cpu") -> Variant:
    """``"compile+channels_last+bf16"`` → a :class:`Variant`; refuses combinations that cannot run.

    ``eager`` and ``onnxruntime`` stand alone; ``bf16`` and ``fp16`` exclude each other;
    ``cudagraphs`` needs a CUDA ``device`` (it implies ``compile``); ``fp16`` autocast on a
    CPU is refused (PyTorch's CPU kernels are bf16).
    """
    device = torch.device(device)
    flags = [f.strip() for f in spec.split("+") if f.strip()]
    unknown = sorted(set(flags) - set(FLAGS))
    if unknown or not flags:
        raise ValueError(f"variant {spec!r}: unknown flags {unknown}; use {'+'.join(FLAGS[1:6])} or eager / onnxruntime")
    if len(set(flags)) != len(flags):
        raise ValueError(f"variant {spec!r} repeats a flag")
    for alone in ("eager", "onnxruntime"):
        if alone in flags and len(flags) > 1:
            raise ValueError(f"variant {spec!r}: {alone!r} cannot be combined with other flags")
    if "bf16" in flags and "fp16" in flags:
        raise ValueError(f"variant {spec!r}: choose bf16 or fp16, not both")
    if "cudagraphs" in flags and device.type != "cuda":
        raise ValueError(f"variant {spec!r}: CUDA graphs need a CUDA device, not {device}")
    if "fp16" in flags and device.type == "cpu":
        raise ValueError(f"variant {spec!r}: fp16 autocast is a GPU mode; on a CPU use bf16")
    dtype = torch.bfloat16 if "bf16" in flags else torch.float16 if "fp16" in flags else None
    return Variant(spec, channels_last="channels_last" in flags, dtype=dtype,
                   compile="compile" in flags or "cudagraphs" in flags, cudagraphs="cudagraphs" in flags,
                   onnx="onnxruntime" in flags)


# ------------------------------------------------------------------------------- timing
def _sync(device: torch.device) -> Callable[[], None]:
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def measure(fn: Callable[[], object], *, device: torch.device | str = "cpu", warmup: int = 3, iters: int = 50,
            min_iters: int = 5, max_seconds: float | None = None) -> dict:
    """Time ``fn()``: ``warmup`` untimed calls, then up to ``iters`` timed ones (see the module doc).

    Returns ``seconds`` (wall time per timed call, synchronised on a GPU), ``gpu_seconds``
    (CUDA-event time per call, GPU only, else None) and ``first_call_s`` (the first warm-up
    call, None without warm-up).
    """
    device = torch.device(device)
    sync = _sync(device)
    first = None
    for i in range(warmup):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        if i == 0:
            first = time.perf_counter() - start
    cuda = device.type == "cuda"
    wall, events = [], []
    begun = time.perf_counter()
    while len(wall) < max(1, iters):
        if cuda:
            ev0, ev1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        sync()
        start = time.perf_counter()
        if cuda:
            ev0.record()
        fn()
        if cuda:
            ev1.record()
        sync()
        wall.append(time.perf_counter() - start)
        if cuda:
            events.append((ev0, ev1))
        if max_seconds is not None and len(wall) >= min_iters and time.perf_counter() - begun >= max_seconds:
            break
    gpu = np.array([a.elapsed_time(b) / 1e3 for a, b in events]) if cuda else None
    return {"seconds": np.array(wall), "gpu_seconds": gpu, "first_call_s": first}


def latency_stats(seconds: np.ndarray, batch: int = 1) -> dict:
    """Median, p90, p99, mean, std and min in milliseconds, the call count and ``batch/median`` images/s."""
    s = np.asarray(seconds, dtype=np.float64) * 1e3
    median = float(np.median(s))
    return {"median_ms": median, "p90_ms": float(np.percentile(s, 90)), "p99_ms": float(np.percentile(s, 99)),
            "mean_ms": float(s.mean()), "std_ms": float(s.std(ddof=1)) if len(s) > 1 else 0.0,
            "min_ms": float(s.min()), "iters": int(len(s)), "images_per_s": batch / (median / 1e3)}


# ------------------------------------------------------------------------------ runners
class _NoCudaRuntimeNote(logging.Filter):
    """Drops torch's "No CUDA runtime is found, using CUDA_HOME=..." warning, which a CUDA build of torch
    logs while ``torch.compile`` compiles for the CPU of a machine without a GPU: that run uses no CUDA."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No CUDA runtime is found")


class _TorchRunner:
    """A model prepared for a PyTorch variant: device, memory format, autocast, compilation."""

    def __init__(self, model: nn.Module, variant: Variant, device: torch.device, shape: tuple[int, ...]):
        self.device, self.shape, self.variant = device, shape, variant
        model = model.to(device).eval()
        if variant.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.fn = model
        if variant.compile:
            cpp = logging.getLogger("torch.utils.cpp_extension")
            if device.type != "cuda" and not any(isinstance(f, _NoCudaRuntimeNote) for f in cpp.filters):
                cpp.addFilter(_NoCudaRuntimeNote())
            self.fn = torch.compile(model, mode="reduce-overhead" if variant.cudagraphs else None, dynamic=False)
        self.provider = f"torch ({device.type})"

    def input(self, x: torch.Tensor):
        x = x.to(self.device)
        return x.contiguous(memory_format=torch.channels_last) if self.variant.channels_last else x

    def __call__(self, x) -> torch.Tensor:
        autocast = (torch.autocast(self.device.type, dtype=self.variant.dtype) if self.variant.dtype is not None
                    else contextlib.nullcontext())
        with torch.inference_mode(), autocast:
            return self.fn(x)[0]

    def logits(self, x: torch.Tensor) -> np.ndarray:
        return self(self.input(x)).detach().float().cpu().numpy().copy()   # CUDA graphs reuse output memory


class _OnnxRunner:
    """The model exported to ONNX and run by ONNX Runtime (float32, numpy in and out)."""

    def __init__(self, model: nn.Module, device: torch.device, shape: tuple[int, ...], workdir: Path, key: str):
        start = time.perf_counter()
        path = export_onnx(model, workdir / f"{key}.onnx", input_shape=shape)
        self.export_s = time.perf_counter() - start
        self.session = onnx_session(path, device)
        self.provider = self.session.get_providers()[0]
        self.check = check_onnx(model, self.session, input_shape=shape)
        self.name = self.session.get_inputs()[0].name
        self.size_mb = path.stat().st_size / 1e6

    def input(self, x: torch.Tensor):
        return {self.name: x.cpu().numpy()}

    def __call__(self, feed):
        return self.session.run(None, feed)[0]

    def logits(self, x: torch.Tensor) -> np.ndarray:
        return self(self.input(x))


def build_model(key: str, spec: BenchModel | None = None, seed: int = 0) -> nn.Module:
    """The benchmark's model ``key`` (from :data:`MODELS` unless ``spec`` is given), 1-channel
    input, eval mode, random weights (speed does not depend on their values)."""
    spec = spec or MODELS[key]
    torch.manual_seed(seed)
    return create_model(spec.name, num_classes=7, in_chans=1, **spec.kwargs).eval()


# ------------------------------------------------------------------------------- sweep
@dataclass
class Benchmark:
    """What :func:`run_benchmark` measured: ``latency`` (one row per point), ``models`` (one per
    model, from its card), ``environment`` and the ``settings`` it ran with."""

    latency: pd.DataFrame
    models: pd.DataFrame
    environment: dict
    settings: dict

    def save(self, path: str | os.PathLike) -> Path:
        return write_json(path, {"environment": self.environment, "settings": self.settings,
                                 "models": self.models.to_dict(orient="records"),
                                 "latency": self.latency.to_dict(orient="records")})

    @classmethod
    def load(cls, path: str | os.PathLike) -> Benchmark:
        data = json.loads(Path(path).read_text())
        return cls(pd.DataFrame(data["latency"]), pd.DataFrame(data["models"]), data["environment"], data["settings"])

    def best(self, batch: int = 1) -> pd.DataFrame:
        """Per model, its fastest variant that ran at ``batch`` (lowest median)."""
        ok = self.latency[(self.latency["status"] == "ok") & (self.latency["batch"] == batch)]
        return ok.loc[ok.groupby("model")["median_ms"].idxmin()].set_index("model")


def _points(keys, variants, batch_sizes, sweep_variants, only) -> list[tuple[str, str, list[int]]]:
    out = []
    for key in keys:
        for v in variants:
            if v in only and key not in only[v]:
                continue
            out.append((key, v, list(batch_sizes) if v in sweep_variants else [1]))
    return out


def run_benchmark(models: Sequence[str] | Mapping[str, BenchModel], *, variants: Sequence[str] = ("eager",),
                  batch_sizes: Sequence[int] = (1,), sweep_variants: Sequence[str] = ("eager",),
                  only: Mapping[str, Sequence[str]] | None = None, device: str | torch.device = "auto",
                  warmup: int = 3, iters: int = 50, min_iters: int = 5, max_seconds: float | None = 2.0,
                  workdir: str | os.PathLike | None = None, progress: bool = True, seed: int = 0) -> Benchmark:
    """Measure every model × variant × batch size in one run (see the module doc).

    ``models``: keys of :data:`MODELS`, or a mapping key → :class:`BenchModel` (or → an
    ``nn.Module`` already built). ``only[variant]`` limits a variant to some models;
    variants in ``sweep_variants`` run at every batch size, the others at batch 1.
    ``workdir`` holds the ONNX files (default: a temporary folder, deleted afterwards).
    """
    device = select_device(str(device)) if str(device) == "auto" else torch.device(device)
    specs: dict = dict(models) if isinstance(models, Mapping) else {k: MODELS[k] for k in models}
    unknown = [k for k, v in specs.items() if v is None]
    if unknown:
        raise ValueError(f"unknown benchmark models {unknown}; choose from {sorted(MODELS)}")
    only = {k: list(v) for k, v in (only or {}).items()}
    parsed = {v: parse_variant(v, device) for v in variants}   # refuse a bad spec before anything runs
    settings = dict(models=list(specs), variants=list(variants), batch_sizes=list(batch_sizes),
                    sweep_variants=list(sweep_variants), only=only, warmup=warmup, iters=iters,
                    min_iters=min_iters, max_seconds=max_seconds, seed=seed, device=str(device))
    points = _points(specs, variants, batch_sizes, sweep_variants, only)
    rows, cards = [], []
    temp = tempfile.TemporaryDirectory(prefix="fernb-bench-") if workdir is None else None
    folder = Path(workdir) if workdir is not None else Path(temp.name)
    folder.mkdir(parents=True, exist_ok=True)
    bar = progress_bar(total=sum(len(b) for _, _, b in points), desc="benchmark", disable=not progress)
    try:
        for key, spec in specs.items():
            model = (spec if isinstance(spec, nn.Module) else build_model(key, spec, seed)).eval()
            shape = (int(model.in_chans), *map(int, model.input_size))
            card = model_card(model, input_shape=shape, name=key)
            label = getattr(spec, "label", "") or key
            cards.append(dict(model=key, label=label, trainable=card.trainable, keras_total=card.keras_total,
                              gflops=card.flops / 1e9, gmacs=card.macs / 1e9, input=list(shape),
                              table3=getattr(spec, "table3", None)))
            gen = torch.Generator().manual_seed(seed)
            probe = torch.rand(2, *shape, generator=gen)
            with torch.inference_mode():
                reference = model.cpu()(probe)[0].float().numpy()
            for mkey, vname, sizes in points:
                if mkey != key:
                    continue
                rows.extend(_run_variant(model, key, label, parsed[vname], sizes, device, shape, probe, reference,
                                         folder, dict(warmup=warmup, iters=iters, min_iters=min_iters,
                                                      max_seconds=max_seconds), gen, bar))
            del model
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    finally:
        bar.close()
        if temp is not None:
            temp.cleanup()
    return Benchmark(pd.DataFrame(rows), pd.DataFrame(cards), environment(device), settings)


def _run_variant(model, key, label, variant: Variant, sizes, device, shape, probe, reference, folder, timing, gen,
                 bar) -> list[dict]:
    base = dict(model=key, label=label, variant=variant.name)
    start = time.perf_counter()
    try:
        runner = (_OnnxRunner(model, device, shape, folder, key) if variant.onnx
                  else _TorchRunner(model, variant, device, shape))
        diff = float(np.abs(runner.logits(probe) - reference).max())
    except Exception as err:  # a variant this machine cannot run (no compiler, no CUDA graphs): say why, go on
        _restore(model, variant)
        bar.update(len(sizes))
        return [dict(base, batch=b, status=_failure(err)) for b in sizes]
    setup = time.perf_counter() - start
    extra = dict(provider=runner.provider, max_abs_diff=diff, setup_s=setup)
    if variant.onnx:
        extra.update(export_s=runner.export_s, onnx_max_abs_diff=runner.check["max_abs_diff"], onnx_mb=runner.size_mb)
    rows, oom = [], False
    for b in sizes:
        bar.set_postfix_str(f"{key} {variant.name} b{b}", refresh=False)   # shown at the next redraw
        row = dict(base, batch=b, **extra)
        if oom:
            row["status"] = "skipped: a smaller batch ran out of memory"
        else:
            try:
                x = runner.input(torch.rand(b, *shape, generator=gen))
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                timed = measure(lambda: runner(x), device=device, **timing)  # noqa: B023 (called within this iteration)
                row.update(status="ok", first_call_s=timed["first_call_s"], **latency_stats(timed["seconds"], b))
                if timed["gpu_seconds"] is not None:
                    row["gpu_median_ms"] = float(np.median(timed["gpu_seconds"]) * 1e3)
                    row["host_overhead_ms"] = row["median_ms"] - row["gpu_median_ms"]
                    row["peak_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
            except torch.cuda.OutOfMemoryError:
                oom = True
                row["status"] = "out of memory"
                torch.cuda.empty_cache()
            except Exception as err:
                row["status"] = _failure(err)
        rows.append(row)
        bar.update(1)
    runner = None
    _restore(model, variant)
    return rows


def _failure(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"failed: {type(err).__name__}" + (f": {text[0][:200]}" if text else "")


def _restore(model: nn.Module, variant: Variant) -> None:
    """Undo what a variant did to the shared model (device, memory format, compiled graphs)."""
    model.to("cpu", memory_format=torch.contiguous_format)
    if variant.compile:
        torch._dynamo.reset()   # drop the compiled graphs (and their CUDA graph memory)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ------------------------------------------------------------------------------ profile
def op_profile(model: nn.Module, variant: str = "eager", device: str | torch.device = "cpu", batch: int = 1,
               iters: int = 5, top: int = 12) -> pd.DataFrame:
    """Where one forward pass spends its time: PyTorch's profiler over ``iters`` calls after a
    warm-up, the ``top`` operators by self time (CPU, and CUDA on a GPU), per call."""
    from torch.profiler import ProfilerActivity, profile  # deferred: the profiler is heavy and only profiles use it

    device = torch.device(device)
    runner = _TorchRunner(model, parse_variant(variant, device), device, (int(model.in_chans), *map(int, model.input_size)))
    x = runner.input(torch.rand(batch, model.in_chans, *model.input_size))
    sync = _sync(device)
    for _ in range(2):
        runner(x)
    sync()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    # The profiler's C++ side (kineto) logs to file descriptor 2, past Python and into a notebook's stderr:
    # a line at every start and stop, and on a CUDA build of torch without a GPU an ERROR from its device
    # probe even when only CPU activity is recorded. Its log level is read once, at its first use in the
    # process; 6 is above its highest level (USDT, 5). A level set in the environment is left alone.
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    with profile(activities=activities) as prof:
        for _ in range(iters):
            runner(x)
        sync()
    rows = []
    for e in prof.key_averages():
        cuda_self = getattr(e, "self_device_time_total", getattr(e, "self_cuda_time_total", 0.0))
        rows.append({"operator": e.key, "calls per pass": e.count / iters,
                     "CPU self ms per pass": e.self_cpu_time_total / 1e3 / iters,
                     "GPU self ms per pass": cuda_self / 1e3 / iters})
    _restore(model, parse_variant(variant, device))
    key = "GPU self ms per pass" if device.type == "cuda" else "CPU self ms per pass"
    table = pd.DataFrame(rows).sort_values(key, ascending=False)
    table["share %"] = 100 * table[key] / table[key].sum()
    return table.head(top).reset_index(drop=True)


# --------------------------------------------------------------------------- end to end
E2E_STAGES = ("decode", "detect", "landmarks", "align", "clahe", "preprocess", "model")


def encoded_frames(n: int, seed: int = 0, quality: int = 90) -> list[bytes]:
    """``n`` synthetic 320×400 face photos (:mod:`fernb.data.synthphotos`) as JPEG bytes, the form a
    file or an MJPEG camera delivers frames in (so decoding is part of the end-to-end time)."""
    return [cv2.imencode(".jpg", cv2.cvtColor(p.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
            for p in synthetic_photos(n, seed=seed)]


def bench_predictor(model: nn.Module, backend: str = "opencv", device: str | torch.device = "cpu"):
    """A :class:`fernb.realtime.predict.Predictor` for a benchmark model: faces aligned at the
    network's input side, grayscale for a 1-channel model, ``range`` scaling, 7 classes."""
    side = tuple(int(v) for v in model.input_size)
    shape = side if model.in_chans == 1 else (*side, 3)
    inputs = TrainingInputs(classes=tuple(class_names(model.num_classes)), image_shape=shape, scaling="range",
                            dataset="", sources=dict.fromkeys(("classes", "image_shape", "scaling", "dataset"), "benchmark"))
    device = torch.device(device)
    pipeline = FacePipeline(backend=backend, size=max(side), device=str(device))
    return Predictor(model.to(device).eval(), inputs, pipeline, device=device, batch_size=64, amp="off")


def end_to_end(predictor, frames: Sequence[bytes], *, warmup: int = 2) -> pd.DataFrame:
    """Time every stage of reading emotions from ``frames`` (encoded images), one frame at a time.

    Stages (milliseconds per frame, one column each, :data:`E2E_STAGES`): ``decode`` (JPEG →
    RGB), ``detect`` (face boxes), ``landmarks`` (68 points with FAN; the eye cascade with
    OpenCV), ``align`` (similarity warp to the template), ``clahe``, ``preprocess`` (the crop
    as the network's training input) and ``model`` (forward pass and softmax of the frame's
    faces, synchronised: :func:`fernb.train.predict` returns host arrays). Plus ``faces`` (how
    many were scored) and ``total``. ``predictor`` is a :class:`fernb.realtime.predict.Predictor`; the
    first ``warmup`` frames run untimed (model and detector warm-up).
    """

    pipeline = predictor.pipeline
    detector = pipeline.detector
    raw = dataclasses.replace(pipeline, backend=detector, cache_dir=None, clahe=False)
    rows = []
    for i, data in enumerate([*frames[:warmup], *frames]):
        t: dict[str, float] = {}
        start = time.perf_counter()
        image = decode_rgb(data)
        t["decode"] = time.perf_counter() - start
        faces = detector.detect(image, timings=t)
        start = time.perf_counter()
        aligned = [res for _, res in raw.process_all(image, faces) if res.ok]
        t["align"] = time.perf_counter() - start
        start = time.perf_counter()
        crops = [pipeline.finish(res.image) for res in aligned]
        t["clahe"] = time.perf_counter() - start
        start = time.perf_counter()
        inputs = [predictor.to_input(c) for c in crops]
        t["preprocess"] = time.perf_counter() - start
        start = time.perf_counter()
        if inputs:
            predictor.score(inputs)
        t["model"] = time.perf_counter() - start
        if i >= warmup:
            rows.append({**{s: 1e3 * t.get(s, 0.0) for s in E2E_STAGES}, "faces": len(inputs)})
    table = pd.DataFrame(rows)
    table["total"] = table[list(E2E_STAGES)].sum(axis=1)
    return table


def run_end_to_end(models: Mapping[str, BenchModel], backends: Sequence[str], frames: Sequence[bytes],
                   device: str | torch.device = "cpu", warmup: int = 2) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """:func:`end_to_end` for every backend × model: ``({"backend · label": table}, {backend: why skipped})``.
    FAN and MTCNN are skipped, with :func:`fernb.faces.fan_status`'s or
    :func:`fernb.faces.backends.mtcnn_status`'s reason, when their package or weights are missing."""
    tables, skipped = {}, {}
    for backend in backends:
        status = faces.fan_status() if backend == "fan" else mtcnn_status() if backend == "mtcnn" else {"ready": True}
        if not status["ready"]:
            skipped[backend] = status["reason"]
            continue
        for key, spec in models.items():
            predictor = bench_predictor(build_model(key, spec), backend, device)
            tables[f"{backend} · {spec.label}"] = end_to_end(predictor, frames, warmup=warmup)
    return tables, skipped
