"""Notebook 07's report (fernb.realtime.fps_report): the harness's results as tables beside the papers,
targets, sentences and metrics.json, checked against hand-computed values on made-up benchmarks."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from fernb.models.baselines import BASELINE_MODELS
from fernb.papers.hafem import CLAIMS as hafem_claims
from fernb.papers.hafem import HARDWARE as hafem_hardware
from fernb.papers.hafem import TABLE3
from fernb.papers.lanmsff import CLAIMS as lanmsff_targets
from fernb.papers.lanmsff import density_claims, information_density
from fernb.realtime import bench
from fernb.realtime import fps_report as fr
from fernb.realtime.export import ONNX_BOUND


def _fake_benchmark(fps: dict[str, float], environment: dict | None = None) -> bench.Benchmark:
    rows, cards = [], []
    for model, value in fps.items():
        label = bench.MODELS[model].label
        rows += [dict(model=model, label=label, variant="eager", batch=1, status="ok", median_ms=1e3 / value),
                 dict(model=model, label=label, variant="bf16", batch=1, status="ok", median_ms=2e3 / value),
                 dict(model=model, label=label, variant="compile", batch=1, status="failed: no compiler")]
        cards.append(dict(model=model, label=label, trainable=1_000_000, keras_total=2_000_000, gflops=1.0, gmacs=0.5,
                          table3=bench.MODELS[model].table3))
    return bench.Benchmark(pd.DataFrame(rows), pd.DataFrame(cards), environment or {"cpu": "test CPU", "threads": 2}, {})


def test_tables_against_hand_computed_values():
    result = _fake_benchmark({"resnet50": 90.0, "lanmsff": 4000.0, "hafem_paper": 100.0})
    paper = fr.fps_versus_paper(result).set_index("model")
    resnet = bench.MODELS["resnet50"].label
    assert paper.at[resnet, "paper FPS"] == TABLE3["ResNet-50"]["fps"]
    assert paper.at[resnet, "our FPS (batch 1)"] == pytest.approx(90.0)
    assert paper.at[resnet, "ours / paper"] == pytest.approx(90.0 / TABLE3["ResNet-50"]["fps"])
    assert paper.at[resnet, "paper hardware"] == hafem_hardware == hafem_claims["fps"]["hardware"]
    assert bench.MODELS["lanmsff"].label not in paper.index          # not in HAFEM's Table 3
    trained = {"lanmsff": {"accuracy": 50.0, "dataset": "synthfer"}}
    table = fr.models_table(result, trained)
    assert table.at["lanmsff", "best variant (batch 1)"] == "eager"   # the failed variant is never "best"
    assert table.at["lanmsff", "information density"] == pytest.approx(50.0 / 2.0)   # % over Keras-style millions
    # the paper's accuracies over its Keras count give the densities it prints (truncated to an integer)
    for name, claimed in density_claims().items():
        accuracy = lanmsff_targets[name]["accuracy"]
        assert int(information_density(accuracy, lanmsff_targets["params"]["keras_total"])) == claimed
    assert density_claims() == {k: v["ID"] for k, v in lanmsff_targets.items() if isinstance(v, dict) and "ID" in v}
    assert np.isnan(table.at["resnet50", "information density"])
    checks = fr.target_check(result).set_index("model")
    assert bool(checks.at[bench.MODELS["lanmsff"].label, "met"]) is True         # 4000 >= 3000
    assert bool(checks.at[bench.MODELS["hafem_paper"].label, "met"]) is False    # 100 < 520
    points = fr.accuracy_points(table, result.environment)
    assert set(points.loc[points["accuracy"].notna() & points["panel"].str.startswith("ours"), "label"]) == {
        bench.MODELS["lanmsff"].label}
    paper_rows = points[points["panel"].str.startswith("HAFEM")]
    assert len(paper_rows) == sum(1 for row in TABLE3 if BASELINE_MODELS[row])


def _finished_run(root, stage, model, seed, accuracy, kwargs):
    """A run folder as the trainer leaves it (result.json only: what trained_models reads)."""
    from fernb.runs import RESULT, run_dir

    folder = run_dir(stage, model, seed, root)
    folder.mkdir(parents=True)
    (folder / RESULT).write_text(json.dumps({"model": model, "model_kwargs": kwargs, "dataset": "synthfer", "seed": seed,
                                             "classes": ["a", "b"], "test": {"accuracy": accuracy}}))
    return SimpleNamespace(dir=folder, info=json.loads((folder / RESULT).read_text()))


def test_trained_models_read_the_finished_runs(tmp_path):
    from fernb.runs import write_manifest

    kwargs = {"img_size": 48, "pretrained": False}
    runs = [_finished_run(tmp_path, "02_lanmsff", "lanmsff", s, acc, kwargs) for s, acc in ((0, 0.40), (1, 0.44))]
    _finished_run(tmp_path, "02_lanmsff", "lanmsff", 7, 0.99, kwargs)   # on disk, but not what the stage trained
    write_manifest("02_lanmsff", runs, tmp_path)
    found = fr.trained_models(tmp_path)
    assert list(found) == ["lanmsff_trained"]                     # 01 trained nothing here: left out
    entry = found["lanmsff_trained"]
    assert entry["spec"].name == "lanmsff" and entry["spec"].kwargs == {"img_size": 48}
    assert entry["accuracy"] == pytest.approx(42.0) and entry["seeds"] == [0, 1]
    assert entry["accuracy_std"] == pytest.approx(100 * np.std([0.40, 0.44], ddof=1))
    assert "48 px" in entry["spec"].label and entry["dataset"] == "synthfer"
    assert entry["checkpoint"] == runs[0].dir / "model.pt"


def test_e2e_findings_name_the_slowest_pipeline_and_its_largest_stage():
    ms = {"fast": dict(decode=1, detect=8, landmarks=0, align=0, clahe=0, preprocess=0, model=1),
          "slow": dict(decode=1, detect=8, landmarks=0, align=0, clahe=0, preprocess=0, model=31)}
    tables = {name: pd.DataFrame([row, row]).assign(faces=1) for name, row in ms.items()}
    text = fr.e2e_findings(fr.e2e_summary(tables))
    # fast: 10 ms a frame = 100 FPS; slow: 40 ms = 25 FPS, 31/40 of it in the model
    assert "**100.0 frames/s**" in text and "slowest 25.0 (slow)" in text and "**model** takes 78 %" in text


def test_paper_findings_order_and_what_a_cpu_beats():
    result = _fake_benchmark({"resnet50": 90.0, "swin_tiny": 10.0, "hafem_paper": 30.0})
    paper = fr.fps_versus_paper(result)
    found = fr.paper_findings(paper, {"cpu": "test CPU"})
    labels = {k: bench.MODELS[k].label for k in ("resnet50", "swin_tiny", "hafem_paper")}
    claimed = sorted(labels, key=lambda k: -TABLE3[bench.MODELS[k].table3]["fps"])
    assert found["claimed_order"] == [labels[k] for k in claimed]
    assert found["measured_order"] == [labels["resnet50"], labels["hafem_paper"], labels["swin_tiny"]]
    # 90 > ResNet-50's claimed FPS: a CPU beating a GPU claim is the finding; 10 and 30 are below theirs
    assert found["faster_than_claim"]["model"].tolist() == [labels["resnet50"]]
    on_gpu = fr.paper_findings(paper, {"gpu": "some GPU"})
    assert on_gpu["faster_than_claim"].empty                  # on a GPU, beating the claim proves nothing
    # the same in words: both rankings, HAFEM's FPS against its claim, the finding for one model
    ranking, finding = found["text"]
    assert " > ".join(found["measured_order"]) in ranking and "**30.0 frames/s**" in ranking
    assert f"{hafem_claims['fps']['value']} on an {hafem_hardware}" in ranking
    ratio = 90.0 / TABLE3["ResNet-50"]["fps"]
    assert f"{labels['resnet50']} ({ratio:.2f}×) already runs faster" in finding
    assert len(on_gpu["text"]) == 1                           # no CPU claim on a GPU
    slow = fr.paper_findings(fr.fps_versus_paper(_fake_benchmark({"swin_tiny": 10.0})), {"cpu": "c"})
    assert slow["faster_than_claim"].empty and "no model on this CPU reaches" in slow["text"][1]
    assert "HAFEM in the paper's configuration" not in slow["text"][0]     # not measured: not claimed


def test_onnx_table_and_fps_metrics():
    result = _fake_benchmark({"lanmsff": 100.0})
    lat = result.latency
    onnx_row = dict(model="lanmsff", label=bench.MODELS["lanmsff"].label, variant="onnxruntime", batch=1, status="ok",
                    median_ms=2.5, export_s=1.0, onnx_mb=1.6, onnx_max_abs_diff=3e-5, provider="CPUExecutionProvider")
    result.latency = pd.concat([lat, pd.DataFrame([onnx_row])], ignore_index=True)
    onnx = fr.onnx_table(result)
    assert onnx.loc[0, "within bound"] and onnx.loc[0, "ORT speed-up"] == pytest.approx(10.0 / 2.5)
    assert fr.onnx_findings(onnx).startswith(f"Every exported model agrees with PyTorch within {ONNX_BOUND:g}")
    assert f"×{10.0 / 2.5:.2f}" in fr.onnx_findings(onnx)
    result.latency.loc[result.latency["variant"] == "onnxruntime", "onnx_max_abs_diff"] = 2 * ONNX_BOUND
    assert not fr.onnx_table(result).loc[0, "within bound"]
    bad = fr.onnx_findings(fr.onnx_table(result))
    assert bad.startswith("Not every") and f"out of bound or failed: {bench.MODELS['lanmsff'].label}" in bad
    result.latency.loc[result.latency["variant"] == "onnxruntime", "onnx_max_abs_diff"] = 3e-5
    table = fr.models_table(result, {"lanmsff": {"accuracy": 40.0, "dataset": "synthfer"}})
    e2e = pd.DataFrame({"fps": [20.0]}, index=["opencv · x"])
    metrics, headline = fr.fps_metrics(result, table, onnx, e2e, 25.0, fr.target_check(result), "cpu")
    assert metrics["batch1_fps"] == {"lanmsff": pytest.approx(400.0)} and metrics["batch1_best_variant"] == {
        "lanmsff": "onnxruntime"}
    assert metrics["eager_batch1_fps"] == {"lanmsff": pytest.approx(100.0)}
    assert metrics["information_density"] == {"lanmsff": pytest.approx(20.0)}
    assert metrics["end_to_end_fps"] == {"opencv · x": 20.0} and metrics["predict_fps"] == 25.0
    assert metrics["onnx_max_abs_diff"] == {bench.MODELS["lanmsff"].label: pytest.approx(3e-5)}
    assert [t["model"] for t in metrics["gpu_targets"]] == [bench.MODELS["lanmsff"].label]
    assert headline == ["environment.device", "batch1_fps.lanmsff", "predict_fps"]


def test_miss_profiles_profile_only_the_misses():
    result = _fake_benchmark({"lanmsff": 10.0})               # 10 FPS: far below LANMSFF's target
    models = {"lanmsff": bench.BenchModel("lanmsff", dict(img_size=32), bench.MODELS["lanmsff"].label)}
    profiles = fr.miss_profiles(result, models, "cpu")
    assert list(profiles) == ["lanmsff"]
    profile = profiles["lanmsff"]
    assert any("conv" in op for op in profile["operator"]) and (profile["share %"] > 0).all()
    assert profile["share %"].sum() <= 100.0 + 1e-9
    met = _fake_benchmark({"lanmsff": 10 * fr.GPU_TARGETS["lanmsff"]})
    assert fr.miss_profiles(met, models, "cpu") == {}


# --------------------------------------------------------------- the machine and the models
def test_sweep_plan_sets_threads_and_overrides_the_preset(monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    fps = dict(sweep="cpu", device="cpu", threads=3, max_seconds=0.1, variants=None, batch_sizes=[1, 4])
    device, settings = fr.sweep_plan(fps)
    assert device == torch.device("cpu") and calls == [3]
    assert settings["max_seconds"] == 0.1 and settings["batch_sizes"] == [1, 4]
    assert settings["variants"] == bench.SWEEPS["cpu"]["variants"]            # None: the preset's
    assert set(settings) == set(bench.SWEEPS["cpu"])                           # exactly run_benchmark's knobs
    fr.sweep_plan(dict(fps, threads=None))
    assert calls == [3]                                                        # no thread count: left alone


def test_paper_claims_state_both_papers():
    claims = fr.paper_claims()["claim"]
    assert claims["HAFEM"] == f"{hafem_claims['fps']['value']} FPS on an {hafem_hardware}"
    lanmsff = claims["LANMSFF"]
    assert lanmsff.startswith(f"{lanmsff_targets['params']['keras_total']:,} parameters (Keras count); information density ")
    assert all(f"{v} on {k}" in lanmsff for k, v in density_claims().items())


def test_models_to_measure_and_one_column_tables():
    trained = {"lanmsff_trained": {"spec": bench.BenchModel("lanmsff", {"img_size": 48}, "LANMSFF as trained")}}
    models = fr.models_to_measure(["resnet50", "lanmsff"], trained)
    assert list(models) == ["resnet50", "lanmsff", "lanmsff_trained"]
    assert models["resnet50"] is bench.MODELS["resnet50"]
    labels = fr.one_column_table(models, "model")
    assert labels.loc["lanmsff_trained", "model"] == "LANMSFF as trained" and list(labels.columns) == ["model"]
    settings = fr.one_column_table({"batch_sizes": [1, 2], "max_seconds": None}, "setting")
    assert settings["setting"].tolist() == ["[1, 2]", "None"]


# ------------------------------------------------------------------------------- latency
def _latency() -> pd.DataFrame:
    return pd.DataFrame([
        dict(model="m", label="M", variant="eager", batch=1, status="ok", median_ms=2.0, images_per_s=500.0, p90_ms=3.0),
        dict(model="m", label="M", variant="eager", batch=4, status="ok", median_ms=4.0, images_per_s=1000.0, p90_ms=5.0),
        dict(model="m", label="M", variant="bf16", batch=1, status="ok", median_ms=1.0, images_per_s=1000.0, p90_ms=1.5),
        dict(model="m", label="M", variant="compile", batch=1, status="failed: no compiler"),
        dict(model="m", label="M", variant="compile", batch=4, status="failed: again"),
        dict(model="n", label="N", variant="eager", batch=4, status="out of memory"),
    ])


def test_latency_batch1_keeps_the_batch1_points_and_known_columns_in_order():
    table = fr.latency_batch1(_latency())
    assert list(table.index) == [("M", "eager"), ("M", "bf16"), ("M", "compile")]
    assert list(table.columns) == ["status", "median_ms", "p90_ms", "images_per_s"]   # LATENCY_COLUMNS' order


def test_failed_variants_one_row_each_with_the_first_reason():
    failed = fr.failed_variants(_latency())
    assert failed[["label", "variant", "batch", "status"]].values.tolist() == [
        ["M", "compile", 1, "failed: no compiler"], ["N", "eager", 4, "out of memory"]]


def test_compile_note_only_when_nothing_compiles():
    assert fr.compile_note(["eager", "compile+channels_last"], "cpu") is None
    assert fr.compile_note(["cudagraphs+bf16"], "gpu") is None
    note = fr.compile_note(["eager", "bf16"], "cpu")
    assert note.startswith("`torch.compile` is not in this sweep (`cpu`)") and "fps.variants" in note


def test_fastest_sentence_names_the_fastest_model():
    table = pd.DataFrame({"label": ["A", "B"], "best variant (batch 1)": ["eager", "bf16"],
                          "fps (batch 1)": [120.0, 399.6]}, index=["a", "b"])
    text = fr.fastest_sentence(table)
    assert text.startswith("Fastest at batch 1: **B** with `bf16` at **400 frames/s**.")


def test_throughput_points_and_table():
    points = fr.throughput_points(_latency(), ["eager"])
    assert list(points.columns) == ["label", "variant", "batch", "images_per_s", "median_ms"]
    assert points["batch"].tolist() == [1, 4]                  # bf16 is not swept; the OOM point did not run
    table = fr.throughput_table(points)
    assert table.loc[4, ("M", "eager")] == 1000.0 and list(table.index) == [1, 4]


# ---------------------------------------------------------------------------- the papers
def test_versus_paper_text_without_and_with_table3_models():
    empty = fr.fps_versus_paper(_fake_benchmark({"lanmsff": 100.0}))
    assert empty.empty
    assert fr.versus_paper_text(empty, {"cpu": "c"}) == [
        "None of the measured models is in HAFEM's Table 3 (`fps.models` leaves them out)."]
    paper = fr.fps_versus_paper(_fake_benchmark({"resnet50": 90.0}))
    assert fr.versus_paper_text(paper, {"cpu": "c"}) == fr.paper_findings(paper, {"cpu": "c"})["text"]


def test_accuracy_text_states_the_density_only_when_lanmsff_was_trained():
    row = {"test accuracy %": 50.0, "dataset": "synthfer", "keras_total": 400_000, "information density": 125.0}
    table = pd.DataFrame([row], index=["lanmsff_trained"])
    density, panels = fr.accuracy_text(table)
    assert "50.0 % on synthfer test over 0.400 M parameters" in density and "= **125**." in density
    assert f"as the paper's {lanmsff_targets['params']['keras_total']:,})" in density
    assert all(f"{v} on {k}" in density for k, v in density_claims().items())
    assert panels.startswith("The left panel holds only models with a measured accuracy")
    assert fr.accuracy_text(table.rename(index={"lanmsff_trained": "lanmsff"})) == [panels]


# ------------------------------------------------------------------------------- targets
def test_targets_text_on_a_cpu_and_on_a_gpu():
    result = _fake_benchmark({"lanmsff": 4000.0, "hafem_paper": 100.0})
    targets = fr.target_check(result)
    models = {k: bench.MODELS[k] for k in ("lanmsff", "hafem_paper")}
    cpu = fr.targets_text(targets, {"cpu": "c"}, models, "cpu")
    assert f"for an **{fr.GPU_TARGETS_HARDWARE}**" in cpu and f"Where the time of {models['hafem_paper'].label} goes" in cpu
    assert f"Where the time of {models['lanmsff'].label}" in fr.targets_text(targets, {}, {"lanmsff": models["lanmsff"]}, "cpu")
    gpu = fr.targets_text(targets, {"gpu": "Test GPU"}, models, torch.device("cuda"))
    target = fr.GPU_TARGETS["hafem_paper"]
    assert gpu.startswith("On **Test GPU**: ") and gpu.endswith(".")
    assert f"{models['lanmsff'].label} 4000 frames/s with `eager` against a target of 3000 (met)" in gpu
    assert f"{models['hafem_paper'].label} 100 frames/s with `eager` against a target of {target:.0f} (missed)" in gpu


def test_target_profiles_profile_one_model_on_a_cpu_and_the_misses_on_a_gpu(monkeypatch):
    tiny = {"tiny": bench.BenchModel("lanmsff", dict(img_size=32), "tiny LANMSFF")}
    profiles = fr.target_profiles(_fake_benchmark({"lanmsff": 10.0}), tiny, "cpu")
    (key, (note, profile)), = profiles.items()
    assert key == "tiny" and note is None and (profile["share %"] > 0).all()
    monkeypatch.setattr(fr, "miss_profiles", lambda bench_, models, device: {"tiny": "a profile"})
    (note, profile), = fr.target_profiles(None, tiny, "cuda").values()
    assert note.startswith("Where a batch-1 pass of tiny LANMSFF spends its time") and profile == "a profile"


# ---------------------------------------------------------------------------- end to end
def test_e2e_models_and_frames_line():
    import cv2

    models = {k: bench.MODELS[k] for k in ("hafem_paper", "resnet50")}
    models["lanmsff_trained"] = bench.BenchModel("lanmsff", {}, "trained")
    assert list(fr.e2e_models(models)) == ["lanmsff_trained", "hafem_paper"]       # E2E_MODELS' order
    frames = bench.encoded_frames(2)
    height, width = cv2.imdecode(np.frombuffer(frames[0], np.uint8), cv2.IMREAD_COLOR).shape[:2]
    assert fr.frames_line(frames) == f"2 JPEG frames of {width}×{height} pixels"


def test_e2e_summary_against_hand_computed_values():
    ms = dict(decode=1, detect=3, landmarks=0, align=0, clahe=0, preprocess=0, model=6)
    table = pd.DataFrame([ms, {**ms, "model": 16}]).assign(faces=[1, 0])
    summary = fr.e2e_summary({"opencv · m": table})
    row = summary.loc["opencv · m"]
    # mean per stage: decode 1, detect 3, model 11: 15 ms a frame
    assert row["total ms"] == pytest.approx(15.0) and row["fps"] == pytest.approx(1e3 / 15)
    assert row["model %"] == pytest.approx(100 * 11 / 15) and row["faces found %"] == pytest.approx(50.0)
    assert row["frames"] == 2
    stage_ms = fr.e2e_stage_ms(summary)
    assert list(stage_ms.columns) == list(bench.E2E_STAGES) and stage_ms.loc["opencv · m", "detect"] == 3


def test_skipped_notes():
    assert fr.skipped_notes({"fan": "no weights here", "mtcnn": "not installed"}) == [
        "**fan skipped:** no weights here", "**mtcnn skipped:** not installed"]


# ---------------------------------------------------------------------- fernb predict
def test_annotated_shots_are_the_first_frames(tmp_path):
    from fernb.faces.video import write_video

    frames = [np.full((16, 24, 3), 40 * i, np.uint8) for i in range(6)]
    path = write_video(tmp_path / "a.avi", frames)
    shots, titles = fr.annotated_shots(path, 4)
    assert titles == ["frame 0", "frame 1", "frame 2", "frame 3"] and shots[0].shape == (16, 24, 3)
    assert [int(round(s.mean())) for s in shots] == pytest.approx([0, 40, 80, 120], abs=3)   # MJPG is lossy
    assert len(fr.annotated_shots(path, 10)[0]) == 6


def test_predict_text_counts_rows_and_states_the_frame_rate():
    rows = pd.DataFrame({"status": ["ok", "ok", "no_face", "bad_fit"]})
    run = SimpleNamespace(frames=3, fps=12.345)
    assert fr.predict_text(run, rows, torch.device("cpu")) == (
        "3 frames → 4 rows: 2 faces scored, 1 frame(s) without a face (a row with no prediction). "
        "End to end, including writing, **12.3 frames/s** on `cpu`.")
