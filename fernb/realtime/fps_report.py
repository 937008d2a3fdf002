"""Notebook 07's report: what the real-time harness measured, as tables, sentences and ``metrics.json``.

>>> device, settings = sweep_plan(fps)                 # params.yaml's ``fps`` section
>>> result = bench.run_benchmark(models, device=device, **settings)
>>> table = models_table(result, trained_models())     # parameters, FLOPs, best batch-1 FPS, density
>>> fps_versus_paper(result), versus_paper_text(paper, result.environment)
>>> metrics, headline = fps_metrics(result, table, onnx, e2e, run.fps, targets, sweep)

:mod:`fernb.realtime.bench` measures and returns numbers; this module reads them the way
notebook 07 does: beside HAFEM's Table 3 (FPS on the GPU the paper names, §4) and LANMSFF's
information density (accuracy ÷ parameters in millions, its Keras-style count), against the
workbook's own GPU targets (:data:`GPU_TARGETS`), end to end per face backend, and for
``fernb predict``'s video demo. Every sentence the notebook shows is built here, from the
numbers it states.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fernb.faces.pipeline import decode_rgb
from fernb.machine import select_device
from fernb.models import create_model
from fernb.models.baselines import BASELINE_MODELS
from fernb.papers import hafem as hafem_paper
from fernb.papers import lanmsff as lanmsff_paper
from fernb.papers import versus_paper
from fernb.papers.lanmsff import density_claims, information_density
from fernb.realtime.bench import E2E_STAGES, MODELS, Benchmark, BenchModel, build_model, op_profile, sweep_settings
from fernb.realtime.export import ONNX_BOUND
from fernb.realtime.media import open_sources, read_frames
from fernb.realtime.predict import PredictionRun
from fernb.runs import stage_runs

__all__ = ["sweep_plan", "paper_claims", "TRAINED_STAGES", "trained_models", "models_to_measure", "one_column_table",
           "LATENCY_COLUMNS", "latency_batch1", "failed_variants", "compile_note", "models_table", "fastest_sentence",
           "throughput_points", "throughput_table", "onnx_table", "onnx_findings", "fps_versus_paper",
           "paper_findings", "versus_paper_text", "accuracy_points", "accuracy_text", "GPU_TARGETS_HARDWARE",
           "GPU_TARGETS", "target_check", "miss_profiles", "targets_text", "target_profiles", "E2E_MODELS",
           "e2e_models", "frames_line", "e2e_summary", "e2e_findings", "e2e_stage_ms", "skipped_notes",
           "annotated_shots", "predict_text", "fps_metrics"]


# ------------------------------------------------------------------ the machine and the models
def sweep_plan(fps: Mapping) -> tuple[torch.device, dict]:
    """Notebook 07's ``fps`` parameters as ``(device, settings)``: the device ``fps["device"]``
    names (:func:`fernb.machine.select_device`) and the preset ``fps["sweep"]`` with the
    parameters that override it (:func:`fernb.realtime.bench.sweep_settings`), ready for
    ``run_benchmark(models, device=device, **settings)``. ``fps["threads"]``, when set, is
    torch's thread count from here on (timings depend on it; the environment records it)."""
    if fps["threads"]:
        torch.set_num_threads(fps["threads"])
    device = select_device(fps["device"])
    settings = sweep_settings(fps["sweep"], max_seconds=fps["max_seconds"], variants=fps["variants"],
                              batch_sizes=fps["batch_sizes"])
    return device, settings


def paper_claims() -> pd.DataFrame:
    """The two papers' speed and size claims, one row each: HAFEM's FPS on the GPU it names
    (:data:`fernb.papers.hafem.CLAIMS`), LANMSFF's parameter count (Keras-style) and the
    information densities it prints (:func:`fernb.papers.lanmsff.density_claims`)."""
    fps = hafem_paper.CLAIMS["fps"]
    return pd.DataFrame({
        "HAFEM": {"claim": f"{fps['value']} FPS on an {fps['hardware']}"},
        "LANMSFF": {"claim": f"{lanmsff_paper.CLAIMS['params']['keras_total']:,} parameters (Keras count); "
                    "information density " + _densities()},
    }).T


def _densities() -> str:
    """LANMSFF's printed information densities, ``"<ID> on <dataset>"`` joined by commas."""
    return ", ".join(f"{v} on {k}" for k, v in density_claims().items())


# the notebooks whose trained networks notebook 07 times: key -> (stage, model)
TRAINED_STAGES = {"hafem_trained": ("01_hafem", "hafem"), "lanmsff_trained": ("02_lanmsff", "lanmsff")}


def trained_models(root: str | os.PathLike | None = None) -> dict[str, dict]:
    """The models notebooks 01/02 trained, as their finished runs describe them (:func:`fernb.runs.stage_runs`).

    Key (``hafem_trained``, ``lanmsff_trained``) → ``spec`` (a :class:`BenchModel` of the
    trained configuration), ``accuracy`` (test accuracy in %, mean over seeds), ``accuracy_std``
    (sample std; None for one seed), ``seeds``, ``dataset``, ``checkpoint`` (the lowest seed's
    ``model.pt``). A stage that has not trained here is left out.
    """
    out = {}
    for key, (stage, name) in TRAINED_STAGES.items():
        try:
            found = stage_runs(stage, root)
        except FileNotFoundError:
            continue
        if not found:
            continue
        first = found[0]
        kwargs = {k: v for k, v in first.model_kwargs.items() if k != "pretrained"}
        accuracies = np.array([r.info()["test"]["accuracy"] for r in found], dtype=float)
        size = kwargs.get("img_size")
        label = f"{name.upper()} as trained in {stage[:2]} ({size} px, {first.dataset})"
        out[key] = dict(spec=BenchModel(name, kwargs, label), accuracy=100 * float(accuracies.mean()),
                        accuracy_std=100 * float(accuracies.std(ddof=1)) if len(accuracies) > 1 else None,
                        seeds=[r.seed for r in found], dataset=first.dataset, checkpoint=first.checkpoint)
    return out


def models_to_measure(keys: Sequence[str], trained: Mapping[str, dict]) -> dict[str, BenchModel]:
    """The sweep's models: ``keys`` of :data:`fernb.realtime.bench.MODELS` (in that order), then
    the trained ones (:func:`trained_models`, their ``spec``)."""
    models = {key: MODELS[key] for key in keys}
    models.update({key: t["spec"] for key, t in trained.items()})
    return models


def one_column_table(values: Mapping, column: str) -> pd.DataFrame:
    """``values`` (the settings, the environment, the models) as a one-column table of text; a
    :class:`fernb.realtime.bench.BenchModel` shows as its label."""
    return pd.DataFrame({column: {k: v.label if isinstance(v, BenchModel) else str(v) for k, v in values.items()}})


# ------------------------------------------------------------------------------- latency
LATENCY_COLUMNS = ("status", "median_ms", "p90_ms", "p99_ms", "iters", "images_per_s", "first_call_s",
                   "max_abs_diff", "gpu_median_ms", "host_overhead_ms", "peak_memory_mb")


def latency_batch1(latency: pd.DataFrame) -> pd.DataFrame:
    """The batch-1 points by (label, variant): status, latency distribution, images/s, first
    call, difference from eager float32, and on a GPU its own time and the host overhead
    (:data:`LATENCY_COLUMNS`, those the sweep has)."""
    batch1 = latency[latency["batch"] == 1].set_index(["label", "variant"])
    return batch1[[c for c in LATENCY_COLUMNS if c in batch1]]


def failed_variants(latency: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, variant) that did not run, with the first status that says why."""
    failed = latency[latency["status"] != "ok"][["label", "variant", "batch", "status"]]
    return failed.drop_duplicates(["label", "variant"])


def compile_note(variants: Sequence[str], sweep: str) -> str | None:
    """Why ``torch.compile`` is missing from a sweep whose ``variants`` leave it out, and how to
    add it; None when a variant compiles."""
    if any({"compile", "cudagraphs"} & set(v.split("+")) for v in variants):
        return None
    return (f"`torch.compile` is not in this sweep (`{sweep}`): on a few CPU cores compiling even LANMSFF takes "
            "longer than the rest of the sweep. `fps.variants` adds it, e.g. "
            "`-S 'fps.variants=[eager,compile,onnxruntime]'` (LANMSFF only, in the `cpu` sweep); the `gpu` sweep "
            "compiles every model, with CUDA graphs.")


def models_table(bench: Benchmark, trained: Mapping[str, dict] | None = None) -> pd.DataFrame:
    """One row per model: parameters, FLOPs, its fastest batch-1 variant and FPS, and for the
    trained models their test accuracy and LANMSFF's *information density* (accuracy in % ÷
    parameters in millions, with the Keras-style count the LANMSFF paper's 358K uses)."""
    trained = trained or {}
    best = bench.best(1)
    table = bench.models.set_index("model")[["label", "trainable", "keras_total", "gflops", "gmacs"]].copy()
    table["best variant (batch 1)"] = [best.at[m, "variant"] if m in best.index else None for m in table.index]
    table["fps (batch 1)"] = [1e3 / best.at[m, "median_ms"] if m in best.index else np.nan for m in table.index]
    eager = bench.latency[(bench.latency["variant"] == "eager") & (bench.latency["batch"] == 1)
                          & (bench.latency["status"] == "ok")].set_index("model")
    table["eager fps (batch 1)"] = [1e3 / eager.at[m, "median_ms"] if m in eager.index else np.nan for m in table.index]
    table["test accuracy %"] = [trained[m]["accuracy"] if m in trained else np.nan for m in table.index]
    table["dataset"] = [trained[m]["dataset"] if m in trained else None for m in table.index]
    table["information density"] = information_density(table["test accuracy %"], table["keras_total"])
    return table


def fastest_sentence(table: pd.DataFrame) -> str:
    """The fastest model at batch 1 in :func:`models_table`, with its variant and frame rate, and
    how to read ``max_abs_diff``."""
    fastest = table["fps (batch 1)"].idxmax()
    return (f"Fastest at batch 1: **{table.at[fastest, 'label']}** with `{table.at[fastest, 'best variant (batch 1)']}` "
            f"at **{table.at[fastest, 'fps (batch 1)']:.0f} frames/s**. The column `max_abs_diff` in the latency table "
            "is each variant's largest logit difference from eager float32 on the same batch: reduced-precision "
            "variants (bf16/fp16) differ by design, the others should differ only by rounding.")


# ---------------------------------------------------------------------------- throughput
def throughput_points(latency: pd.DataFrame, sweep_variants: Sequence[str]) -> pd.DataFrame:
    """The batch sweep's points that ran (variants in ``sweep_variants``): label, variant, batch,
    images/s and median ms (``reports/07_fps/plots/throughput.csv``)."""
    swept = latency[(latency["status"] == "ok") & latency["variant"].isin(sweep_variants)]
    return swept[["label", "variant", "batch", "images_per_s", "median_ms"]]


def throughput_table(points: pd.DataFrame) -> pd.DataFrame:
    """Images/s by batch size (rows) and (label, variant) (columns)."""
    return points.pivot_table(index="batch", columns=["label", "variant"], values="images_per_s")


# ---------------------------------------------------------------------------------- ONNX
def onnx_table(bench: Benchmark) -> pd.DataFrame:
    """Per exported model: export time, file size, |ONNX − PyTorch| logits against the bound,
    and ONNX Runtime's batch-1 speed against eager PyTorch's."""
    lat = bench.latency
    onnx = lat[(lat["variant"] == "onnxruntime") & (lat["batch"] == 1)].set_index("model")
    eager = lat[(lat["variant"] == "eager") & (lat["batch"] == 1) & (lat["status"] == "ok")].set_index("model")
    rows = []
    for model, r in onnx.iterrows():
        ok = r["status"] == "ok"
        rows.append({"model": r["label"], "status": r["status"], "provider": r.get("provider"),
                     "export s": r.get("export_s"), "file MB": r.get("onnx_mb"),
                     "max |ONNX − PyTorch| logit": r.get("onnx_max_abs_diff"), "bound": ONNX_BOUND,
                     "within bound": bool(ok and r.get("onnx_max_abs_diff", np.inf) <= ONNX_BOUND),
                     "ORT median ms": r.get("median_ms") if ok else np.nan,
                     "eager median ms": eager.at[model, "median_ms"] if model in eager.index else np.nan})
    out = pd.DataFrame(rows)
    if len(out):
        out["ORT speed-up"] = out["eager median ms"] / out["ORT median ms"]
    return out


def onnx_findings(onnx: pd.DataFrame) -> str:
    """:func:`onnx_table` in one paragraph: whether every export is within the bound (naming
    those that are not or failed), the largest logit difference, and ONNX Runtime's speed-up."""
    bad = onnx[~onnx["within bound"]]
    speedups = [f"{r['model']} ×{r['ORT speed-up']:.2f}" for _, r in onnx.iterrows() if pd.notna(r["ORT speed-up"])]
    return (f"{'Not every' if len(bad) else 'Every'} exported model agrees with PyTorch within {onnx['bound'].iloc[0]:g} "
            f"on the logits (largest difference {onnx['max |ONNX − PyTorch| logit'].max():.2g})"
            + (f"; out of bound or failed: {', '.join(bad['model'])}." if len(bad) else ".")
            + (" ONNX Runtime against eager PyTorch at batch 1: " + ", ".join(speedups) + "." if speedups else ""))


# ---------------------------------------------------------------------------- the papers
def fps_versus_paper(bench: Benchmark) -> pd.DataFrame:
    """HAFEM's Table 3 FPS (on the paper's :data:`fernb.papers.hafem.HARDWARE`) beside ours: our
    best batch-1 variant per measured model that has a Table 3 row (:func:`fernb.papers.versus_paper`);
    one row per model, its label in the ``model`` column."""
    best = bench.best(1)
    where = bench.environment.get("gpu") or bench.environment.get("cpu", "")
    cards = [card for _, card in bench.models.iterrows() if card["table3"] and card["table3"] in hafem_paper.TABLE3]
    measured = [card for card in cards if card["model"] in best.index]
    table = versus_paper(
        {card["label"]: hafem_paper.TABLE3[card["table3"]]["fps"] for card in cards},
        {card["label"]: 1e3 / best.at[card["model"], "median_ms"] for card in measured},
        key="model", compare="ratio", columns=("paper FPS", "our FPS (batch 1)"),
        extra={"paper hardware": {card["label"]: hafem_paper.HARDWARE for card in cards},
               "our variant": {card["label"]: best.at[card["model"], "variant"] for card in measured},
               "our hardware": {card["label"]: where for card in cards}})
    return table.reset_index()[["model", "paper FPS", "paper hardware", "our FPS (batch 1)", "our variant",
                                "our hardware", "ours / paper"]]


def paper_findings(paper: pd.DataFrame, environment: dict) -> dict:
    """What :func:`fps_versus_paper`'s table says: ``claimed_order`` and ``measured_order``
    (model labels, fastest first, by the paper's FPS and by ours) and ``faster_than_claim``:
    the rows where a run **on a CPU** (no ``gpu`` in ``environment``) already beats the FPS the
    paper gives for its GPU — which model-only GPU timings of those architectures could not do."""
    claimed = paper.sort_values("paper FPS", ascending=False)["model"].tolist()
    measured = paper.dropna(subset=["our FPS (batch 1)"]).sort_values("our FPS (batch 1)", ascending=False)
    beaten = paper.iloc[0:0] if environment.get("gpu") else paper[paper["ours / paper"] > 1]
    found = {"claimed_order": claimed, "measured_order": measured["model"].tolist(), "faster_than_claim": beaten}
    found["text"] = _findings_text(found, measured, environment)
    return found


def _findings_text(found: dict, measured: pd.DataFrame, environment: dict) -> list[str]:
    """:func:`paper_findings` in words: the two rankings, HAFEM's FPS against its claim, and
    which models a CPU run already puts above the paper's GPU figure (or that none does)."""
    hafem = MODELS["hafem_paper"].label
    ranking = ("**Ranking.** The paper's FPS column orders these models as " + " > ".join(found["claimed_order"])
               + "; measured here: " + (" > ".join(found["measured_order"]) or "none") + ".")
    if hafem in found["measured_order"]:
        fps = float(measured.set_index("model").at[hafem, "our FPS (batch 1)"])
        ranking += (f" HAFEM in the paper's configuration runs at **{fps:.1f} frames/s** here against the paper's "
                    f"{hafem_paper.CLAIMS['fps']['value']} on an {hafem_paper.CLAIMS['fps']['hardware']}.")
    text = [ranking]
    beaten = found["faster_than_claim"]
    if len(beaten):
        text.append(
            f"**A finding.** On this CPU ({environment.get('threads')} threads) "
            + ", ".join(f"{r['model']} ({r['ours / paper']:.2f}×)" for _, r in beaten.iterrows())
            + (" already runs" if len(beaten) == 1 else " already run")
            + " faster than the FPS the paper gives for its GPU. A GPU of that class runs these architectures many "
            "times faster than a few CPU cores, so the paper's FPS column cannot be model-only batch-1 timings; "
            "it does not say what else its numbers include.")
    elif not environment.get("gpu"):
        text.append("In this run no model on this CPU reaches the FPS the paper gives for its GPU (the ratios are in "
                    "the `ours / paper` column). CPU timings on a shared machine vary by tens of percent from run to "
                    "run, so read this column over several runs before drawing a conclusion from it.")
    return text


def versus_paper_text(paper: pd.DataFrame, environment: dict) -> list[str]:
    """The paragraphs under :func:`fps_versus_paper`'s table: :func:`paper_findings`' text, or
    why there is no table."""
    if not len(paper):
        return ["None of the measured models is in HAFEM's Table 3 (`fps.models` leaves them out)."]
    return paper_findings(paper, environment)["text"]


def accuracy_points(table: pd.DataFrame, environment: dict) -> pd.DataFrame:
    """Rows for :func:`fernb.workbook.plots.accuracy_vs_fps`: our models (accuracy where a run measured
    it) and HAFEM's Table 3 (the paper's accuracy and FPS on its stated hardware), as two panels."""
    where = environment.get("gpu") or f"{environment.get('cpu', 'CPU')}, {environment.get('threads')} threads"
    datasets = sorted(set(table["dataset"].dropna()))
    ours = pd.DataFrame({"panel": f"ours: {where}; accuracy on {', '.join(datasets) or '—'} test",
                         "label": table["label"], "fps": table["fps (batch 1)"],
                         "accuracy": table["test accuracy %"], "params_m": table["trainable"] / 1e6})
    paper = []
    for row, claim in hafem_paper.TABLE3.items():
        if BASELINE_MODELS.get(row) is None:
            continue
        with torch.device("meta"):
            params = sum(p.numel() for p in create_model(BASELINE_MODELS[row], num_classes=7, in_chans=3).parameters())
        paper.append({"panel": f"HAFEM's Table 3 as printed: FER2013 accuracy, FPS on an {hafem_paper.HARDWARE}",
                      "label": row,
                      "fps": claim["fps"], "accuracy": claim["accuracy"], "params_m": params / 1e6})
    return pd.concat([ours.dropna(subset=["fps"]), pd.DataFrame(paper)], ignore_index=True)


def accuracy_text(table: pd.DataFrame) -> list[str]:
    """The paragraphs under the accuracy-against-FPS figure: LANMSFF's information density as
    trained here beside the paper's (when notebook 02 trained it), and how to read the panels."""
    text = []
    if "lanmsff_trained" in table.index:
        row = table.loc["lanmsff_trained"]
        text.append(
            f"**Information density.** LANMSFF as trained here: {row['test accuracy %']:.1f} % on {row['dataset']} "
            f"test over {row['keras_total'] / 1e6:.3f} M parameters (Keras-style count, as the paper's "
            f"{lanmsff_paper.CLAIMS['params']['keras_total']:,}) = **{row['information density']:.0f}**. "
            f"The paper reports {_densities()}. Different data and training scale: the accuracy, not the parameter "
            "count, is what differs.")
    text.append("The left panel holds only models with a measured accuracy (the ones this pipeline trained); the "
                "others are marked at their speed. The right panel is the paper's Table 3 as printed — its "
                "accuracies are claims this workbook has not reproduced (notebook 01).")
    return text


# ------------------------------------------------------------------------------- targets
# The workbook's own targets (not the paper's) for an H100-class GPU, batch 1, model-only: HAFEM in the paper's
# configuration at 10x the FPS the paper claims on its GPU, LANMSFF at 3,000.
GPU_TARGETS_HARDWARE = "H100-class GPU"
GPU_TARGETS = {"hafem_paper": 10.0 * hafem_paper.CLAIMS["fps"]["value"], "lanmsff": 3000.0}


def target_check(bench: Benchmark, targets: Mapping[str, float] = GPU_TARGETS) -> pd.DataFrame:
    """Per target model: the target FPS, our best batch-1 FPS and variant, met or not, and
    where a GPU call's time went (GPU-side median vs host overhead) when it ran on one."""
    best = bench.best(1)
    rows = []
    for model, target in targets.items():
        if model not in best.index:
            continue
        r = best.loc[model]
        fps = 1e3 / r["median_ms"]
        rows.append({"model": r["label"], "target fps": target, "best fps": fps, "variant": r["variant"],
                     "met": bool(fps >= target), "median ms": r["median_ms"],
                     "GPU ms": r.get("gpu_median_ms", np.nan), "host overhead ms": r.get("host_overhead_ms", np.nan)})
    return pd.DataFrame(rows)


def miss_profiles(bench: Benchmark, models: Mapping[str, BenchModel], device: str | torch.device,
                  targets: Mapping[str, float] = GPU_TARGETS) -> dict[str, pd.DataFrame]:
    """A :func:`fernb.realtime.bench.op_profile` of every target model that missed its frame
    rate, at batch 1, in its fastest PyTorch variant without compilation (the profiler sees
    through eager kernels, not compiled graphs; an ONNX Runtime winner is profiled eager)."""
    checks = target_check(bench, targets)
    if checks.empty:
        return {}
    by_label = {spec.label: key for key, spec in models.items()}
    out = {}
    for _, row in checks[~checks["met"]].iterrows():
        flags = [f for f in row["variant"].split("+") if f not in ("compile", "cudagraphs", "onnxruntime")]
        key = by_label[row["model"]]
        out[key] = op_profile(build_model(key, models[key]), "+".join(flags) or "eager", device)
    return out


def targets_text(targets: pd.DataFrame, environment: dict, models: Mapping[str, BenchModel],
                 device: torch.device | str) -> str:
    """The paragraph under :func:`target_check`'s table: on a GPU, each target model's best
    frame rate against its target, met or missed; on a CPU, that the targets are a GPU's, and
    which model's time :func:`target_profiles` breaks down."""
    if torch.device(device).type == "cuda":
        return f"On **{environment.get('gpu')}**: " + "; ".join(
            f"{r['model']} {r['best fps']:.0f} frames/s with `{r['variant']}` against a target of {r['target fps']:.0f} "
            f"({'met' if r['met'] else 'missed'})" for _, r in targets.iterrows()) + "."
    return (f"The frame-rate targets above are for an **{GPU_TARGETS_HARDWARE}**; this run is on a CPU, so the table "
            f"shows how far a CPU is from them, not whether they are met. Where the time of "
            f"{models[_profiled_on_cpu(models)].label} goes on this machine (eager, batch 1):")


def _profiled_on_cpu(models: Mapping[str, BenchModel]) -> str:
    """The model a CPU run profiles: HAFEM in the paper's configuration, else the first measured."""
    return "hafem_paper" if "hafem_paper" in models else next(iter(models))


def target_profiles(bench: Benchmark, models: Mapping[str, BenchModel],
                    device: torch.device | str) -> dict[str, tuple[str | None, pd.DataFrame]]:
    """Key → (a sentence to show before it, or None; its :func:`fernb.realtime.bench.op_profile`).
    On a GPU, every target model that missed (:func:`miss_profiles`); on a CPU, one model
    (:func:`targets_text` names it), eager at batch 1."""
    device = torch.device(device)
    if device.type == "cuda":
        return {key: (f"Where a batch-1 pass of {models[key].label} spends its time (its fastest variant without "
                      "compilation; `host overhead ms` in the table above is the launch cost):", profile)
                for key, profile in miss_profiles(bench, models, device).items()}
    key = _profiled_on_cpu(models)
    return {key: (None, op_profile(build_model(key, models[key]), "eager", device))}


# ---------------------------------------------------------------------------- end to end
# the trained networks and HAFEM in the paper's configuration, when the sweep has them
E2E_MODELS = ("lanmsff_trained", "hafem_trained", "hafem_paper")


def e2e_models(models: Mapping[str, BenchModel]) -> dict[str, BenchModel]:
    """The models timed end to end: those of :data:`E2E_MODELS` the sweep measured, in that order."""
    return {key: models[key] for key in E2E_MODELS if key in models}


def frames_line(frames: Sequence[bytes]) -> str:
    """How many encoded frames, and their size in pixels (the first frame's)."""
    height, width = decode_rgb(frames[0]).shape[:2]
    return f"{len(frames)} JPEG frames of {width}×{height} pixels"


def e2e_summary(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per run (``"backend · model"`` → :func:`fernb.realtime.bench.end_to_end` table): mean ms per stage, each
    stage's share of the frame, frames/s and the share of frames where a face was scored."""
    rows = {}
    for name, table in tables.items():
        mean = table[list(E2E_STAGES)].mean()
        total = float(mean.sum())
        row = {f"{s} ms": mean[s] for s in E2E_STAGES}
        row.update({f"{s} %": 100 * mean[s] / total for s in E2E_STAGES})
        row.update({"total ms": total, "fps": 1e3 / total, "frames": len(table),
                    "faces found %": 100 * float((table["faces"] > 0).mean())})
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def e2e_findings(e2e: pd.DataFrame) -> str:
    """:func:`e2e_summary` in one paragraph: the fastest and slowest pipeline, and the stage
    that takes the largest share of the slowest one's frame."""
    slowest = e2e["total ms"].idxmax()
    top = max(E2E_STAGES, key=lambda s: e2e.at[slowest, f"{s} %"])
    return (f"End to end, the fastest pipeline reaches **{e2e['fps'].max():.1f} frames/s** and the slowest "
            f"{e2e['fps'].min():.1f} ({slowest}), where **{top}** takes {e2e.at[slowest, f'{top} %']:.0f} % of the "
            "frame. Model-only frame rates overstate what a camera application gets whenever detection dominates.")


def e2e_stage_ms(e2e: pd.DataFrame) -> pd.DataFrame:
    """The mean milliseconds per stage of :func:`e2e_summary`, one column per stage (for
    :func:`fernb.workbook.plots.stage_shares`)."""
    return e2e[[f"{s} ms" for s in E2E_STAGES]].rename(columns=lambda c: c[: -len(" ms")])


def skipped_notes(skipped: Mapping[str, str]) -> list[str]:
    """One line per face backend that could not run end to end, with the reason."""
    return [f"**{backend} skipped:** {reason}" for backend, reason in skipped.items()]


# ---------------------------------------------------------------------- fernb predict
def annotated_shots(video: str | os.PathLike, n: int = 4) -> tuple[list[np.ndarray], list[str]]:
    """The first ``n`` frames of an annotated video (RGB) and their titles (``frame i``)."""
    shots = [frame.image for frame in read_frames(open_sources([Path(video)])[0], max_frames=n)]
    return shots, [f"frame {i}" for i in range(len(shots))]


def predict_text(run: PredictionRun, rows: pd.DataFrame, device: torch.device | str) -> str:
    """What ``fernb predict`` did with the demo video: frames, rows, faces scored, frames without
    a face, and the frame rate end to end (writing included) on ``device``."""
    scored, empty = int((rows["status"] == "ok").sum()), int((rows["status"] == "no_face").sum())
    return (f"{run.frames} frames → {len(rows)} rows: {scored} faces scored, {empty} frame(s) without a face (a row "
            f"with no prediction). End to end, including writing, **{run.fps:.1f} frames/s** on `{device}`.")


# ------------------------------------------------------------------------------- metrics
def fps_metrics(bench: Benchmark, table: pd.DataFrame, onnx: pd.DataFrame, e2e: pd.DataFrame,
                  predict_fps: float, targets: pd.DataFrame, sweep: str) -> tuple[dict, list[str]]:
    """Notebook 07's ``metrics.json`` and its headline keys: best batch-1 FPS and variant per
    model, eager FPS, ONNX differences, end-to-end FPS, ``fernb predict``'s FPS, information
    density, the GPU targets, with the environment."""
    best = bench.best(1)
    metrics = {
        "environment": bench.environment, "sweep": sweep,
        "batch1_fps": {m: 1e3 / best.at[m, "median_ms"] for m in best.index},
        "batch1_best_variant": {m: best.at[m, "variant"] for m in best.index},
        "eager_batch1_fps": table["eager fps (batch 1)"].dropna().to_dict(),
        "onnx_max_abs_diff": dict(zip(onnx["model"], onnx["max |ONNX − PyTorch| logit"])) if len(onnx) else {},
        "end_to_end_fps": e2e["fps"].to_dict() if len(e2e) else {},
        "predict_fps": predict_fps,
        "information_density": table["information density"].dropna().to_dict(),
        "gpu_targets": targets.to_dict(orient="records"),
    }
    measured = [f"batch1_fps.{k}" for k in ("hafem_paper", "lanmsff", "hafem_trained", "lanmsff_trained") if k in best.index]
    return metrics, ["environment.device", *measured[:2], "predict_fps"]
