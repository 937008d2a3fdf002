# %% [markdown]
# # 07 · Real time — speed measured side by side, and a model pointed at a video
#
# HAFEM's title promises **real-time** recognition (a frame rate on a named GPU, and "edge
# devices such as Jetson Xavier NX"); LANMSFF's promise is **smallness** and a high
# *information density* (accuracy ÷ parameters in millions). The claims, as the papers state
# them, are printed below the parameters. Speed claims are only
# comparable when every model runs **in the same process, on the same machine, at the same
# moment**, so this notebook measures them all in one sweep with one harness
# (`fernb.realtime.bench`; its tables and sentences are `fernb.realtime.fps_report`):
#
# 1. **model-only latency** at batch 1 (median, p90, p99) for every model and execution variant
#    — eager PyTorch, channels-last memory, bf16/fp16 autocast, `torch.compile` (with CUDA graphs
#    on a GPU), ONNX Runtime — each checked against eager float32 so a fast variant that computes
#    something else shows;
# 2. **throughput** over a batch-size sweep;
# 3. the **ONNX export** of both papers' models, its numerical agreement with PyTorch, and its speed;
# 4. our numbers **beside the papers'** (hardware named), accuracy against speed;
# 5. **end to end**: JPEG decode → face detection → landmarks → alignment → CLAHE → model, per
#    face backend, with the share of each stage;
# 6. `fernb predict` reading emotions from a video with the model notebook 02 trained.
#
# **Scale.** `sweep: cpu` (the default) fits a two-core CI machine: the batch sweep is short,
# ONNX Runtime runs on the two papers' configurations only, and `torch.compile` is left out (on a
# few CPU cores compiling even LANMSFF takes longer than the rest of the sweep; `fps.variants`
# adds it). `sweep: gpu` (`fernb.realtime.bench.SWEEPS`) runs every variant on every model with
# bigger batches, `torch.compile` and CUDA graphs included, on a CUDA box:
# `dvc exp run -S fps.sweep=gpu -S fps.device=cuda`.

# %% tags=["parameters"]
# Parameters: injected by papermill from params.yaml (its `fps` section, as one dict).
# sweep: cpu | gpu (fernb.realtime.bench.SWEEPS).
fps = {
    'sweep': 'cpu',
    'device': 'auto',
    'models': ['lanmsff', 'hafem_paper', 'resnet50', 'efficientnet_b4', 'vit_base_16', 'swin_tiny'],
    'variants': None,
    'batch_sizes': None,
    'threads': None,
    'max_seconds': None,
    'e2e_frames': 12,
    'e2e_backends': ['opencv', 'mtcnn', 'fan'],
    'demo_frames': 12,
}

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from fernb.data.synthphotos import synthetic_video
from fernb.realtime import bench
from fernb.realtime import fps_report as fr
from fernb.realtime.predict import Predictor, predict_sources
from fernb.workbook import plots
from fernb.workbook.report import Report

STAGE = "07_fps"
report = Report(STAGE)

# %%
target, settings = fr.sweep_plan(fps)     # the device, and the sweep's preset with fps's overrides
display(fr.paper_claims())

# %% [markdown]
# ## 1 · The machine and the models
#
# Every result below carries this environment (it is saved with every point in
# `reports/07_fps/benchmark.json`). The models are the papers' configurations, the Table 3
# baselines HAFEM compares itself with, and the two networks notebooks 01 and 02 trained (their
# configuration and test accuracy are read from those notebooks' metrics). Every model receives
# a 1-channel face (FER2013's format) at its own input size, so no resize is timed; weights are
# random for the untrained ones, which does not change their speed.

# %%
trained = fr.trained_models()
models = fr.models_to_measure(fps["models"], trained)
display(report.table(fr.one_column_table(settings, "setting"), "settings"))
display(report.table(fr.one_column_table(models, "model"), "models_measured"))

# %% [markdown]
# ## 2 · Model-only latency, every model and variant
#
# One sweep, all models; a progress bar follows it. Each point is warmed up first (the first
# call, which includes `torch.compile`'s compilation or ONNX Runtime's graph optimisation, is
# kept apart as `first_call_s`), then timed call by call — synchronised on a GPU — until the
# sweep's iteration count or time budget is reached.

# %%
result = bench.run_benchmark(models, device=target, **settings)
result.save(report.dir / "benchmark.json")
env, latency = result.environment, result.latency
display(report.table(fr.one_column_table(env, "value"), "environment"))
display(report.table(fr.latency_batch1(latency).round(4), "latency_batch1"))
report.figure(plots.latency_by_variant(latency, f"Batch-1 latency on {env.get('gpu') or env['cpu']} "
                                                f"({env['threads']} threads)"), "latency_by_variant")
plt.show()

# %%
failed = fr.failed_variants(latency)
if len(failed):
    display(Markdown("**Variants that did not run here**, and why (the sweep went on without them):"), failed)
if note := fr.compile_note(settings["variants"], fps["sweep"]):
    display(Markdown(note))
table = fr.models_table(result, trained)
display(report.table(table.round(3), "models"))
display(Markdown(fr.fastest_sentence(table)))

# %% [markdown]
# ## 3 · Throughput against batch size
#
# Batch 1 is the latency of one camera; larger batches are what a server scoring many faces
# gets. Throughput is the batch size divided by the median call time.

# %%
points = fr.throughput_points(latency, settings["sweep_variants"])
display(report.table(fr.throughput_table(points).round(1), "throughput"))
report.plot_data(points, "throughput")
report.figure(plots.throughput_curves(latency, "Throughput vs batch size (model only)"), "throughput")
plt.show()

# %% [markdown]
# ## 4 · ONNX export, checked against PyTorch
#
# `fernb.realtime.export.export_onnx` writes the model (input adapter to logits, dynamic batch) with
# PyTorch's current exporter; `check_onnx` runs ONNX Runtime and PyTorch on the same random
# batches of several sizes and reports the largest logit difference against a stated bound
# (`fernb.realtime.export.ONNX_BOUND`). The `cpu` sweep exports the two papers' configurations;
# `fernb export CHECKPOINT` does the same for a trained model (the `gpu` sweep exports those too).

# %%
onnx = fr.onnx_table(result)
display(report.table(onnx.round(8), "onnx"))
if len(onnx):
    display(Markdown(fr.onnx_findings(onnx)))

# %% [markdown]
# ## 5 · Against the papers
#
# HAFEM's Table 3 gives an FPS for every model on the GPU it names (the table's `paper hardware`
# column). Our column is the fastest variant at batch 1 on **this** machine. Ratios between models measured here are comparable;
# absolute numbers are comparable only with the same hardware, which the table names.

# %%
paper = fr.fps_versus_paper(result)
if len(paper):
    display(report.table(paper.round(2), "versus_paper"))
for paragraph in fr.versus_paper_text(paper, env):
    display(Markdown(paragraph))

# %%
accuracy = fr.accuracy_points(table, env)
report.figure(plots.accuracy_vs_fps(accuracy, "Accuracy against frames per second (bubble area: parameters)"),
              "accuracy_vs_fps")
plt.show()
for paragraph in fr.accuracy_text(table):
    display(Markdown(paragraph))

# %%
targets = fr.target_check(result)
display(report.table(targets.round(3), "gpu_targets"))
display(Markdown(fr.targets_text(targets, env, models, target)))
for key, (note, profile) in fr.target_profiles(result, models, target).items():
    if note:
        display(Markdown(note))
    display(report.table(profile.round(4), f"profile_{key}"))

# %% [markdown]
# ## 6 · End to end: from an encoded frame to emotions
#
# A camera does not hand a network an aligned face crop. Each frame below is a JPEG-encoded
# synthetic photo (`fernb.data.synthphotos`, its size printed below) and goes through every stage of
# `fernb predict`, one frame at a time, as a webcam would: **decode**, face **detection**,
# **landmarks** (68 points with face-alignment's FAN; the eye cascade with the OpenCV
# fallback), **alignment**, **CLAHE**, **preprocessing** into the training format, and the
# **model**. Backends that cannot run here are listed with the reason.

# %%
frames = bench.encoded_frames(fps["e2e_frames"])
print(fr.frames_line(frames))
tables, skipped = bench.run_end_to_end(fr.e2e_models(models), fps["e2e_backends"], frames, target)
e2e = fr.e2e_summary(tables)
display(report.table(e2e.round(2), "end_to_end"))
report.figure(plots.stage_shares(fr.e2e_stage_ms(e2e), f"Where a frame's time goes ({len(frames)} frames, batch 1)"),
              "end_to_end")
plt.show()
for paragraph in [*fr.skipped_notes(skipped), fr.e2e_findings(e2e)]:
    display(Markdown(paragraph))

# %% [markdown]
# ## 7 · `fernb predict` on a video
#
# The console command reads images, folders, video files or a webcam with any checkpoint the
# training notebooks wrote. Here it reads a short synthetic video (one frame has no face) with
# the LANMSFF notebook 02 trained, exactly as
# `fernb predict runs/02_lanmsff VIDEO --csv rows.csv --annotate out.avi` would.

# %%
# the video, the rows and the annotated copy live in a temporary folder that is removed with the cell
with tempfile.TemporaryDirectory(prefix="fernb-07-") as tmp:
    video, annotated = Path(tmp) / "synthetic.avi", Path(tmp) / "annotated.avi"
    synthetic_video(video, fps["demo_frames"], seed=1, blank=(fps["demo_frames"] // 2,))   # the middle frame: no face
    checkpoint = trained["lanmsff_trained"]["checkpoint"]      # notebook 02's LANMSFF, its first seed
    predictor = Predictor.from_checkpoint(checkpoint, device=str(target), face_backend="opencv")
    print(predictor.describe())
    run = predict_sources(predictor, [video], csv=Path(tmp) / "rows.csv", annotate=annotated)
    print(run.report())
    rows = pd.DataFrame(run.rows)
    display(report.table(rows.drop(columns=["landmarks", "source"]).round(3), "predict_rows"))
    shots, titles = fr.annotated_shots(annotated, 4)
    report.figure(plots.image_row(shots, titles, "Annotated frames (fernb predict)"), "predict_frames")
    plt.show()
display(Markdown(fr.predict_text(run, rows, predictor.device)))

# %%
metrics, headline = fr.fps_metrics(result, table, onnx, e2e, run.fps, targets, fps["sweep"])
report.metrics(metrics, headline=headline, title="07 · Real time (FPS)")
print(f"wrote {report.dir / 'metrics.json'}")
