"""Shared fixtures: a small hand-built dataset and a throw-away copy of the project."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fernb.data.core import FERData
from fernb.labels import SEVEN

REPO = Path(__file__).resolve().parents[1]

# Under pytest-xdist (make test runs two workers on a 2-core machine) each worker and every process it starts
# (papermill kernels, dvc, torchrun) computes on one thread: two workers of two threads each made OpenMP's
# spin-waiting cost more than the second worker gains.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
BIN = Path(sys.executable).parent  # the venv's bin: fernb, dvc, papermill live here


def pytest_collection_modifyitems(config, items):
    """The slow end-to-end tests first: under pytest-xdist the longest (the whole pipeline, minutes) then
    runs beside the many short ones instead of alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def real_data_dir() -> Path | None:
    """``$FERNB_DATA`` or, in a developer checkout, ``../shared/data``; None when neither exists."""
    env = os.environ.get("FERNB_DATA")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if candidate.is_dir():
            return candidate
    return None


class NoDetection:
    """A face backend that fails the test if it is ever asked to detect: for datasets that
    ship their faces (aligned crops, boxes or landmarks), detection must never run."""

    name = "no-detection"
    has_landmarks = False

    def config(self) -> dict:
        return {"backend": self.name}

    def detect(self, image, boxes=None):
        raise AssertionError("detection ran, but the dataset ships its faces")


def make_data(n_per_split=(40, 12, 12), size=16, seed=0, **kwargs) -> FERData:
    """Random textured images, a few planted near-blank images and duplicates.

    Planted (indices into the result): 3 and 4 are uniform grey; 10 is a copy of 5 within
    train (same label); the first val image is a copy of 6 with a different label
    (cross-split and label conflict).
    """
    rng = np.random.default_rng(seed)
    n = sum(n_per_split)
    images = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
    labels = np.arange(n) % len(SEVEN)
    split = np.repeat(["train", "val", "test"], n_per_split)
    images[3] = 128
    images[4] = 7
    images[10], labels[10] = images[5], labels[5]
    first_val = n_per_split[0]
    images[first_val] = images[6]
    labels[first_val] = (labels[6] + 1) % len(SEVEN)
    return FERData(name="tiny", images=images, labels=labels, split=split, classes=SEVEN,
                   source_ids=[f"tiny/{i}" for i in range(n)], **kwargs)


@pytest.fixture
def tiny() -> FERData:
    return make_data()


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """The pipeline files of this repo copied to a temp folder (the installed fernb runs them)."""
    dest = tmp_path / "project"
    dest.mkdir()
    for name in ("dvc.yaml", "params.yaml", ".dvcignore"):
        shutil.copy2(REPO / name, dest / name)
    for folder in ("notebooks", "fernb", "results", "docs"):   # results/: the committed real-data results notebook 06 reads
        shutil.copytree(REPO / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints"))
    return dest


def notebook_noise(notebook: str | os.PathLike) -> list[str]:
    """What an executed notebook should not show, one ``"cell N: text"`` each: every stderr stream
    output (a warning box in Jupyter and in the HTML export) and every output whose text says
    "Warning" (a warning printed, displayed or raised). Progress bars belong on stdout, and a
    warning that carries information becomes a displayed note."""
    import nbformat

    found = []
    cells = nbformat.read(str(notebook), as_version=4).cells
    for index, cell in enumerate(c for c in cells if c.cell_type == "code"):
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "stream":
                texts = [output["text"]]
                if output.get("name") == "stderr":
                    found.append(f"code cell {index}: stderr: {output['text'].strip()[:300]!r}")
            elif kind in ("display_data", "execute_result"):
                texts = [v if isinstance(v, str) else "".join(v) for k, v in output.get("data", {}).items()
                         if k.startswith("text/")]
            else:
                texts = [f"{output.get('ename', '')}: {output.get('evalue', '')}"]
            for text in texts:
                at = text.find("Warning")
                if at >= 0:
                    found.append(f"code cell {index}: {text[max(0, at - 120):at + 200].strip()!r}")
    return [f"{Path(notebook).name}, {line}" for line in found]


def tiny_faces(n_per_split=(64, 24, 24), size=32, seed=0, classes=SEVEN) -> FERData:
    """A small learnable dataset: each class is a bright square at its own position on noise,
    with a random head yaw per sample (for pose breakdowns)."""
    rng = np.random.default_rng(seed)
    n = sum(n_per_split)
    labels = np.arange(n) % len(classes)
    rng.shuffle(labels)
    images = rng.integers(0, 80, size=(n, size, size), dtype=np.uint8)
    cell = size // 4
    for i, label in enumerate(labels):
        r, c = divmod(int(label), 4)
        images[i, r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] = 230
    split = np.repeat(["train", "val", "test"], n_per_split)
    return FERData(name="tiny", images=images, labels=labels, split=split, classes=classes,
                   source_ids=[f"tiny/{i}" for i in range(n)], pose=rng.uniform(-90, 90, n).astype(np.float32))


# Stage 01/02 parameters small enough for a test: seconds, not minutes.
# Notebook 07 on tiny settings: one model, two variants, two batch sizes, a few frames.
TINY_FPS = {"models": ["lanmsff"], "variants": ["eager", "onnxruntime"], "batch_sizes": [1, 2], "max_seconds": 0.05,
            "e2e_frames": 2, "e2e_backends": ["opencv", "fan"], "demo_frames": 3}

TINY_TRAINING = {
    "hafem": {"backbone": "efficientnet_b0", "img_size": 32, "d_model": 32, "num_heads": 4, "epochs": 1,
              "warmup_epochs": 0, "batch_size": 16, "max_train": None},
    "lanmsff": {"img_size": 32, "epochs": 1, "batch_size": 16, "max_train": None},
}


# Notebook 03 on tiny settings: two seeds, the training stages' tiny recipes as the ablation scale
# (so the ladder's top rows with seed 0 are read back from stages 01 and 02), a two-trial search.
TINY_ABLATIONS = {"seeds": [0, 1], "hafem": {}, "lanmsff": {}}
TINY_SEARCH = {"trials": 2, "startup_trials": 1}
# Stage 00_shifts and notebook 04 on tiny settings: small shift splits, two fine-tuning lengths.
TINY_SHIFTS = {"n_train": 42, "n_val": 14}
# Notebook 05 on tiny settings: two faces per class, few SHAP samples, short curves.
TINY_EXPLAIN = {"per_class": 2, "shap_nsamples": 4, "background": 8, "sanity_faces": 3, "curve_faces": 6,
                "curve_steps": 4, "pose_faces": 1, "pose_yaws": [0, 45]}
# Notebook 06 on tiny settings: fewer bootstrap resamples.
TINY_STATISTICS = {"n_boot": 200}
TINY_TRANSFER = {"n_boot": 200, "finetune": {"models": ["01_hafem"], "target": "synthfer-identity", "epochs": [1, 2],
                                             "overrides": {"lr": 1.0e-4, "warmup_epochs": 0}}}


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module of tiny tensors: a second one buys nothing there, and on a
    busy 2-core machine OpenMP's spin-waiting made such modules several times slower. Restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# One tiny trained stage for every test that reads finished runs (fernb.runs, notebook 04's matrix, the
# results export): two seeds of a small LANMSFF on tiny_faces, trained once per session and listed as stage
# 02's runs. A test that changes the project copies it first (copy_project).
TINY_RUNS_DATA = {"n_per_split": (70, 28, 56), "size": 32}


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """``(root, data, results)``: a project folder (dvc.yaml, fernb/) holding two 3-epoch LANMSFF runs,
    seeds 0 and 1, of ``tiny_faces(**TINY_RUNS_DATA)``, with stage 02's manifest. Read-only: copy it."""
    import dataclasses

    from fernb.runs import write_manifest
    from fernb.train import TrainConfig, train_run

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny_runs")
    (root / "dvc.yaml").write_text("stages: {}\n")
    (root / "fernb").mkdir()
    data = tiny_faces(**TINY_RUNS_DATA)
    config = TrainConfig(epochs=3, batch_size=16, optimizer="adam", loss="ce", progress=False, amp="off",
                         channels_last="off", lr=3e-3, deterministic=True)
    results = [train_run("lanmsff", {"img_size": 32}, data, dataclasses.replace(config, seed=seed),
                         root / "runs" / "02_lanmsff" / "lanmsff" / f"seed{seed}") for seed in (0, 1)]
    write_manifest("02_lanmsff", results, root)
    torch.set_num_threads(before)
    return root, data, results


def copy_project(source: Path, dest: Path) -> Path:
    """A copy of a (tiny) project folder, for a test that writes into it."""
    shutil.copytree(source, dest, dirs_exist_ok=True)
    return dest
