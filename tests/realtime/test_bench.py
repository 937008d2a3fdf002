"""The real-time harness (fernb.realtime.bench), ONNX export (fernb.realtime.export) and the environment record.
Notebook 07's tables and sentences over its results: tests/realtime/test_fps_report.py."""
from __future__ import annotations

import json
import re
import time

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from fernb.machine import environment
from fernb.models import create_model
from fernb.realtime import bench
from fernb.realtime.export import ONNX_BOUND, check_onnx, export_onnx, onnx_metadata, onnx_session

SLEEP_S = 0.02


class Sleepy(nn.Module):
    """A 'network' whose every call takes a known time: the harness must report it."""

    in_chans, input_size = 1, (8, 8)

    def __init__(self, sleep: float = SLEEP_S, refuse_autocast: bool = False):
        super().__init__()
        self.sleep, self.refuse = sleep, refuse_autocast
        self.head = nn.Linear(64, 7)
        self.calls = 0

    def forward(self, x):
        if self.refuse and torch.is_autocast_enabled("cpu"):
            raise RuntimeError("this model refuses autocast")
        self.calls += 1
        time.sleep(self.sleep)
        e = x.flatten(1)
        return self.head(e), e


# ---------------------------------------------------------------------------- timing
def test_measure_reports_a_known_sleep():
    timed = bench.measure(lambda: time.sleep(SLEEP_S), warmup=1, iters=15, min_iters=15)
    stats = bench.latency_stats(timed["seconds"])
    # sleep never returns early; scheduling on a loaded 2-core machine adds a little
    assert SLEEP_S * 1e3 <= stats["median_ms"] <= SLEEP_S * 1e3 + 8
    assert stats["iters"] == 15 and stats["min_ms"] >= SLEEP_S * 1e3
    assert stats["median_ms"] <= stats["p90_ms"] <= stats["p99_ms"]
    assert stats["images_per_s"] == pytest.approx(1e3 / stats["median_ms"])
    assert timed["gpu_seconds"] is None and timed["first_call_s"] >= SLEEP_S


def test_measure_counts_warmup_and_stops_at_its_budget():
    calls = []
    timed = bench.measure(lambda: calls.append(1), warmup=4, iters=7, min_iters=1)
    assert len(calls) == 4 + 7 and len(timed["seconds"]) == 7
    timed = bench.measure(lambda: time.sleep(0.01), warmup=0, iters=10_000, min_iters=3, max_seconds=0.1)
    assert 3 <= len(timed["seconds"]) <= 12          # ~10 calls of 10 ms in a 0.1 s budget
    assert timed["first_call_s"] is None
    timed = bench.measure(lambda: time.sleep(0.01), warmup=0, iters=100, min_iters=5, max_seconds=0.0)
    assert len(timed["seconds"]) == 5                # the minimum holds even when the budget is spent


def test_latency_stats_against_numpy():
    seconds = np.arange(1, 11) / 1e3                  # 1..10 ms
    stats = bench.latency_stats(seconds, batch=4)
    assert stats["median_ms"] == pytest.approx(5.5)
    assert stats["p90_ms"] == pytest.approx(9.1)      # linear interpolation: 1 + 0.9 * 9
    assert stats["p99_ms"] == pytest.approx(9.91)
    assert stats["mean_ms"] == pytest.approx(5.5) and stats["std_ms"] == pytest.approx(np.std(np.arange(1, 11), ddof=1))
    assert stats["images_per_s"] == pytest.approx(4 / 5.5e-3)


# --------------------------------------------------------------------------- variants
@pytest.mark.parametrize("spec, flags", [
    ("eager", dict(channels_last=False, dtype=None, compile=False, onnx=False)),
    ("channels_last+bf16", dict(channels_last=True, dtype=torch.bfloat16, compile=False)),
    ("compile", dict(compile=True, cudagraphs=False)),
    ("onnxruntime", dict(onnx=True)),
])
def test_parse_variant(spec, flags):
    variant = bench.parse_variant(spec, "cpu")
    assert variant.name == spec
    for key, value in flags.items():
        assert getattr(variant, key) == value


def test_parse_variant_cudagraphs_implies_compile_on_cuda():
    variant = bench.parse_variant("cudagraphs+fp16", torch.device("cuda"))   # parsing needs no GPU
    assert variant.compile and variant.cudagraphs and variant.dtype == torch.float16


@pytest.mark.parametrize("spec, message", [
    ("eager+bf16", "cannot be combined"), ("onnxruntime+compile", "cannot be combined"),
    ("bf16+fp16", "bf16 or fp16"), ("cudagraphs", "CUDA graphs need a CUDA device"),
    ("fp16", "fp16 autocast is a GPU mode"), ("fast", "unknown flags"), ("bf16+bf16", "repeats"),
])
def test_parse_variant_refuses(spec, message):
    with pytest.raises(ValueError, match=message):
        bench.parse_variant(spec, "cpu")


def test_run_benchmark_reports_the_sleep_per_call_and_goes_on_after_a_failure():
    model = Sleepy(refuse_autocast=True)
    result = bench.run_benchmark({"sleepy": model}, variants=["eager", "channels_last", "bf16"], batch_sizes=[1, 2],
                                 sweep_variants=["eager"], device="cpu", warmup=1, iters=8, min_iters=8,
                                 max_seconds=None, progress=False)
    lat = result.latency.set_index(["variant", "batch"])
    assert sorted(lat.index) == [("bf16", 1), ("channels_last", 1), ("eager", 1), ("eager", 2)]
    eager = lat.loc[("eager", 1)]
    assert eager["status"] == "ok" and SLEEP_S * 1e3 <= eager["median_ms"] <= SLEEP_S * 1e3 + 8
    assert lat.loc[("eager", 2), "images_per_s"] == pytest.approx(2e3 / lat.loc[("eager", 2), "median_ms"])
    # autocast is refused by this model: a row that says why, and the sweep went on
    assert lat.loc[("bf16", 1), "status"] == "failed: RuntimeError: this model refuses autocast"
    assert lat.loc[("channels_last", 1), "status"] == "ok"
    assert lat.loc[("eager", 1), "max_abs_diff"] == 0.0
    # every model gets a card row, and the environment is recorded
    assert result.models.loc[0, "trainable"] == 64 * 7 + 7
    assert {"device", "torch", "timm", "threads", "date", "commit", "cpu"} <= set(result.environment)
    assert result.best(1).loc["sleepy", "variant"] in ("eager", "channels_last")


def test_variants_leave_the_model_as_they_found_it():
    torch.manual_seed(0)
    model = create_model("lanmsff", in_chans=1, img_size=32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = bench.run_benchmark({"lanmsff": model}, variants=["channels_last", "eager", "bf16"], device="cpu",
                                 warmup=1, iters=2, min_iters=2, max_seconds=None, progress=False)
    lat = result.latency.set_index("variant")
    assert (lat["status"] == "ok").all()
    assert lat.at["channels_last", "max_abs_diff"] < 1e-4          # same numbers in another memory layout
    assert lat.at["eager", "max_abs_diff"] == 0.0                 # eager after channels-last: the layout was undone
    assert 0 < lat.at["bf16", "max_abs_diff"] < 0.5                # reduced precision differs, a little
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous() and next(model.parameters()).device.type == "cpu"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_benchmark_round_trips_through_json(tmp_path):
    result = bench.run_benchmark({"sleepy": Sleepy(sleep=0.001)}, device="cpu", warmup=0, iters=3, min_iters=3,
                                 progress=False)
    path = result.save(tmp_path / "benchmark.json")
    again = bench.Benchmark.load(path)
    pd.testing.assert_frame_equal(again.latency, result.latency, check_dtype=False)
    assert again.environment == json.loads(json.dumps(result.environment))
    assert again.settings["iters"] == 3


# ---------------------------------------------------------------------------- results
def test_best_takes_the_fastest_ok_variant_at_that_batch():
    point = dict(model="lanmsff", label="LANMSFF", batch=1, status="ok")
    result = bench.Benchmark(pd.DataFrame([
        dict(point, variant="eager", median_ms=10.0), dict(point, variant="bf16", median_ms=20.0),
        dict(point, variant="compile", status="failed: no compiler"),
        dict(point, variant="fp16", status="failed: wrong", median_ms=0.1),
        dict(point, variant="channels_last", batch=8, median_ms=0.2)]), pd.DataFrame(), {}, {})
    assert result.best(1).at["lanmsff", "variant"] == "eager"         # not the failed row, not batch 8
    assert result.best(8).at["lanmsff", "variant"] == "channels_last"


def test_sweep_settings_presets_and_overrides():
    cpu = bench.sweep_settings("cpu", max_seconds=0.5, iters=None)
    assert cpu["max_seconds"] == 0.5 and cpu["iters"] == bench.SWEEPS["cpu"]["iters"]
    assert "cudagraphs" not in " ".join(cpu["variants"])
    assert any("cudagraphs" in v for v in bench.SWEEPS["gpu"]["variants"])
    for preset in bench.SWEEPS.values():
        for v in preset["variants"]:
            bench.parse_variant(v, "cuda")                          # every preset variant parses
    with pytest.raises(ValueError, match="unknown sweep"):
        bench.sweep_settings("tpu")


# -------------------------------------------------------------------------- end to end
def test_end_to_end_times_every_stage():
    model = create_model("lanmsff", in_chans=1, img_size=32).eval()
    predictor = bench.bench_predictor(model, "opencv")
    frames = bench.encoded_frames(4)
    table = bench.end_to_end(predictor, frames, warmup=1)
    assert len(table) == 4 and list(table.columns[:7]) == list(bench.E2E_STAGES)
    assert (table[list(bench.E2E_STAGES)] >= 0).all().all()
    assert table["total"].to_numpy() == pytest.approx(table[list(bench.E2E_STAGES)].sum(axis=1).to_numpy())
    assert (table["detect"] > 0).all() and table["faces"].sum() >= 1
    scored = table[table["faces"] > 0]
    assert (scored["model"] > 0).all()
    assert (table.loc[table["faces"] == 0, "model"] < 0.5).all()   # no face: the network is not called


# ------------------------------------------------------------------------------- ONNX
@pytest.mark.parametrize("name, kwargs", [
    ("lanmsff", dict(in_chans=1)),                                                           # the code's 64 px
    ("hafem", dict(in_chans=1, backbone="efficientnet_b0", img_size=64, d_model=128)),       # the CPU default
])
def test_onnx_matches_pytorch_within_the_bound(tmp_path, name, kwargs):
    torch.manual_seed(0)
    model = create_model(name, **kwargs).train()          # export must not depend on the mode it is found in
    path = export_onnx(model, tmp_path / f"{name}.onnx", classes=["a", "b", "c", "d", "e", "f", "g"])
    assert model.training                                 # the caller's mode is restored
    check = check_onnx(model, path, batch_sizes=(1, 5))  # dynamic batch: two sizes through one graph
    assert check["ok"] and check["max_abs_diff"] <= ONNX_BOUND and check["same_argmax"] == 1.0
    meta = onnx_metadata(path)
    assert meta["classes"] == list("abcdefg") and meta["fernb_config"]["name"] == name
    session = onnx_session(path)
    assert session.get_inputs()[0].name == "image" and session.get_outputs()[0].name == "logits"
    x = np.random.default_rng(1).random((3, 1, *model.input_size), dtype=np.float32)
    out = session.run(None, {"image": x})[0]
    assert out.shape == (3, 7)
    with torch.inference_mode():                             # the eval-mode network itself, not check_onnx
        ref = model.eval()(torch.from_numpy(x))
    np.testing.assert_allclose(out, (ref[0] if isinstance(ref, tuple) else ref).numpy(), atol=ONNX_BOUND)
    assert not list(tmp_path.glob("*.tmp"))                  # the atomic write leaves nothing behind


def test_onnx_check_catches_a_different_network(tmp_path):
    torch.manual_seed(0)
    exported = create_model("lanmsff", in_chans=1, img_size=32)
    path = export_onnx(exported, tmp_path / "a.onnx")
    torch.manual_seed(1)
    other = create_model("lanmsff", in_chans=1, img_size=32)
    assert not check_onnx(other, path)["ok"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        onnx_session(tmp_path / "missing.onnx")


def test_environment_records_versions_and_commit():
    env = environment("cpu")
    assert env["device"] == "cpu" and env["torch"] == torch.__version__ and env["threads"] == torch.get_num_threads()
    assert env["date"].endswith("+00:00") and "gpu" not in env


def test_fernb_export_cli(tmp_path, capsys):
    from fernb.cli import main
    from fernb.models import save_model

    torch.manual_seed(0)
    path = save_model(create_model("lanmsff", in_chans=1, img_size=32), tmp_path / "run" / "model.pt",
                      classes=list("abcdefg"), image_shape=[32, 32], scaling="range")
    assert main(["export", str(path.parent), "-o", str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "-> ok" in out and "a, b, c, d, e, f, g" in out and "(N, 1, 32, 32)" in out
    assert onnx_metadata(tmp_path / "m.onnx")["classes"] == list("abcdefg")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert main(["export", str(tmp_path / "junk.pt")]) == 1
    assert "not a readable PyTorch checkpoint" in capsys.readouterr().err


def test_git_commit_marks_changed_code_only(tmp_path):
    import subprocess

    from fernb.machine import git_commit

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "fernb").mkdir()
    (tmp_path / "fernb" / "a.py").write_text("x = 1\n")
    (tmp_path / "dvc.lock").write_text("a\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c")
    clean = git_commit(tmp_path)
    assert clean and not clean.endswith("+dirty")
    (tmp_path / "dvc.lock").write_text("b\n")            # a pipeline output changed by dvc repro: still clean
    assert git_commit(tmp_path) == clean
    (tmp_path / "fernb" / "a.py").write_text("x = 2\n")    # the code changed: dirty
    assert git_commit(tmp_path) == clean + "+dirty"
    assert git_commit(tmp_path / "nowhere") is None


def test_run_end_to_end_skips_fan_with_its_reason(monkeypatch):
    monkeypatch.setattr("fernb.faces.fan_status", lambda: {"ready": False, "reason": "no weights here"})
    spec = bench.BenchModel("lanmsff", dict(img_size=32), "tiny LANMSFF")
    tables, skipped = bench.run_end_to_end({"tiny": spec}, ["opencv", "fan"], bench.encoded_frames(2), warmup=0)
    assert list(tables) == ["opencv · tiny LANMSFF"] and len(tables["opencv · tiny LANMSFF"]) == 2
    assert skipped == {"fan": "no weights here"}


def test_op_profile_writes_nothing_to_stderr():
    """The profiler's C++ logger writes to file descriptor 2 (start/stop lines, and on a CUDA build
    without a GPU an ERROR from its device probe), which a notebook shows as a warning box. It is
    read once per process, so the profile runs in a fresh one, as in a notebook's kernel."""
    import os
    import subprocess
    import sys

    code = ("from fernb.realtime import bench\n"
            "from fernb.models import create_model\n"
            "model = create_model('lanmsff', num_classes=7, in_chans=1, img_size=32).eval()\n"
            "table = bench.op_profile(model, 'eager', 'cpu', iters=2)\n"
            "print(len(table))\n")
    env = {k: v for k, v in os.environ.items() if k != "KINETO_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 0
    kineto = [line for line in done.stderr.splitlines() if re.match(r"(USDT|ERROR|STAGE|WARNING|INFO):\d{4}-", line)]
    assert kineto == [], kineto


def test_compiling_for_a_cpu_drops_the_cuda_toolkit_note(caplog):
    import logging

    bench._TorchRunner(nn.Linear(4, 2), bench.parse_variant("compile"), torch.device("cpu"), (4,))  # compiles lazily
    logger = logging.getLogger("torch.utils.cpp_extension")
    with caplog.at_level(logging.WARNING, logger="torch.utils.cpp_extension"):
        logger.warning("No CUDA runtime is found, using CUDA_HOME='%s'", "/usr/local")
        logger.warning("another warning of that module")
    assert [r.getMessage() for r in caplog.records] == ["another warning of that module"]


def test_write_video_reads_back_and_refuses_unknown_containers(tmp_path):
    import cv2

    from fernb.data.synthphotos import synthetic_video
    from fernb.faces.video import write_video

    photos = synthetic_video(tmp_path / "v.avi", 4, blank=(2,))
    cap, n = cv2.VideoCapture(str(tmp_path / "v.avi")), 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 4 and [p is None for p in photos] == [False, False, True, False]
    with pytest.raises(ValueError, match="not .gif"):
        write_video(tmp_path / "v.gif", [np.zeros((8, 8, 3), np.uint8)])
