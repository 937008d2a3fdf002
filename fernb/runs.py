"""The one interface to finished runs: what a stage trained, with which configuration, and where.

Training (:func:`fernb.train.train_run`) leaves one folder per run,
``runs/<stage>/<model>/seed<k>/``, holding

    checkpoint.pt     everything needed to resume (written every epoch)
    model.pt          the reported weights (:func:`fernb.models.load_model`)
    history.csv       one row per epoch
    predictions.csv   one row per validation and test sample: probabilities, label, split,
                      dataset, pose, source id (what every later notebook reads)
    result.json       configuration, metrics, timings, environment

and each training stage writes ``runs/<stage>/runs.json`` (:func:`write_manifest`): the runs
its last execution produced, in seed order. Everything after training — the benchmark of
notebook 07, and the cross-dataset, interpretability and statistics notebooks — asks this
module (:func:`stage_runs`, :func:`find_checkpoint`) and never imports the trainer.

>>> [run.seed for run in stage_runs("02_lanmsff")]
>>> run = stage_runs("02_lanmsff")[0]
>>> run.checkpoint, run.model_kwargs, run.dataset
>>> run.predictions().query("split == 'test'")
>>> run.load().test.accuracy
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fernb.jsonio import write_json
from fernb.metrics import Metrics, metrics_from_frame
from fernb.paths import RUNS, project_root

__all__ = ["CHECKPOINT", "MODEL", "BEST", "HISTORY", "PREDICTIONS", "RESULT", "MANIFEST", "run_dir", "RunResult",
           "load_result", "Run", "write_manifest", "stage_runs", "find_checkpoint"]

CHECKPOINT, MODEL, BEST, HISTORY, PREDICTIONS, RESULT = (
    "checkpoint.pt", "model.pt", "best.pt", "history.csv", "predictions.csv", "result.json")
MANIFEST = "runs.json"


def run_dir(stage: str, model: str, seed: int, root: str | os.PathLike | None = None) -> Path:
    """``runs/<stage>/<model>/seed<seed>`` under the project root: one predictable folder per run."""
    root = Path(root) if root is not None else project_root()
    return root / RUNS / stage / model.replace("/", "_") / f"seed{seed}"


@dataclass
class RunResult:
    """A finished run in memory: its folder, per-epoch history, validation and test metrics
    (``test`` is None for a run whose data had no test split: a search trial), per-sample
    predictions and ``result.json`` (``info``)."""

    dir: Path
    history: pd.DataFrame
    val: Metrics
    test: Metrics | None
    predictions: pd.DataFrame
    info: dict

    @property
    def best_epoch(self) -> int | None:
        return self.info.get("best_epoch")


def load_result(directory: str | os.PathLike, classes: Sequence[str] | None = None) -> RunResult:
    """A finished run's :class:`RunResult`, read from its folder (no model is run)."""
    directory = Path(directory)
    missing = [f for f in (RESULT, HISTORY, PREDICTIONS) if not (directory / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{directory} is not a finished run: {missing} missing")
    info = json.loads((directory / RESULT).read_text())
    classes = tuple(classes or info["classes"])
    frame = read_predictions(directory / PREDICTIONS)
    test = frame[frame["split"] == "test"]
    return RunResult(dir=directory, history=pd.read_csv(directory / HISTORY),
                     val=metrics_from_frame(frame[frame["split"] == "val"], classes),
                     test=metrics_from_frame(test, classes) if len(test) else None,
                     predictions=frame, info=info)


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """A ``predictions.csv`` as written (an empty ``pose`` cell is NaN, a ``source_id`` such as
    "NA" stays a string)."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


@dataclass(frozen=True)
class Run:
    """One finished run as a stage's manifest lists it (nothing is loaded until asked)."""

    stage: str
    dir: Path
    model: str
    model_kwargs: dict
    dataset: str
    seed: int
    classes: tuple[str, ...]

    @property
    def checkpoint(self) -> Path:
        return self.dir / MODEL

    @property
    def predictions_path(self) -> Path:
        return self.dir / PREDICTIONS

    def info(self) -> dict:
        """Its ``result.json``: configuration, metrics, timings, environment."""
        return json.loads((self.dir / RESULT).read_text())

    def predictions(self) -> pd.DataFrame:
        """Its per-sample validation and test predictions."""
        return read_predictions(self.predictions_path)

    def load(self) -> RunResult:
        return load_result(self.dir, self.classes)


def write_manifest(stage: str, results: Sequence[RunResult], root: str | os.PathLike | None = None) -> Path:
    """Record ``results`` (one per seed) as what ``stage`` trained: ``runs/<stage>/runs.json``."""
    root = Path(root) if root is not None else project_root()
    entries = []
    for r in results:
        info = r.info
        entries.append({"dir": Path(r.dir).resolve().relative_to(root.resolve()).as_posix(), "model": info["model"],
                        "model_kwargs": info["model_kwargs"], "dataset": info["dataset"], "seed": info["seed"],
                        "classes": info["classes"]})
    return write_json(root / RUNS / stage / MANIFEST, {"stage": stage, "runs": entries})


def stage_runs(stage: str, root: str | os.PathLike | None = None) -> list[Run]:
    """The runs ``stage``'s last execution trained (or read back), in seed order.

    Raises FileNotFoundError naming the manifest when the stage has not run here, and when a
    listed run's folder is no longer a finished run.
    """
    root = Path(root) if root is not None else project_root()
    path = root / RUNS / stage / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: stage {stage} has not trained anything here yet "
                                f"(run `dvc repro {stage}` or `fernb train {stage}`)")
    runs = []
    for entry in json.loads(path.read_text())["runs"]:
        run = Run(stage=stage, dir=root / entry["dir"], model=entry["model"], model_kwargs=dict(entry["model_kwargs"]),
                  dataset=entry["dataset"], seed=int(entry["seed"]), classes=tuple(entry["classes"]))
        if not (run.dir / RESULT).is_file():
            raise FileNotFoundError(f"{path} lists {run.dir}, which holds no {RESULT}: the run was removed or "
                                    f"did not finish; run stage {stage} again")
        runs.append(run)
    return runs


def find_checkpoint(path: str | os.PathLike) -> Path:
    """The ``model.pt`` that ``path`` names: the file itself, a run folder holding it, a model
    folder (``<model>/seed<k>/``) or a stage folder (``<stage>/<model>/seed<k>/``) with one
    model, whose lowest seed (seed0) is taken. A stage folder with several models is refused
    with their list."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoint {path} does not exist (expected a {MODEL} written by training, "
                                "or its runs/ folder)")
    if (path / MODEL).is_file():
        return path / MODEL
    found = sorted(path.glob(f"seed*/{MODEL}")) or sorted(path.glob(f"*/seed*/{MODEL}"))
    if not found:
        raise FileNotFoundError(f"{path} holds no {MODEL} (looked in it, in seed*/ and in */seed*/)")
    models = sorted({p.parent.parent for p in found})
    if len(models) > 1:
        raise ValueError(f"{path} holds {len(models)} models ({', '.join(m.name for m in models)}); "
                         f"name one, e.g. {models[0]}")
    seed = lambda p: int(p.parent.name[4:]) if p.parent.name[4:].isdigit() else math.inf  # noqa: E731
    return min(found, key=seed)
