"""Notebook 04's training: fine-tune a finished run on a target dataset, or train it afresh on another source.

HAFEM (§4's text) fine-tunes its FER2013 model "for 20 epochs on the training data from the
RAF-DB" and reports 95.1 % (:data:`fernb.papers.hafem.CLAIMS`). Here "N epochs on the
target's training split" is one configuration: the source run's own
:class:`~fernb.train.TrainConfig` (its ``result.json``) with ``epochs = N`` and
``init_from`` = the source run (:func:`fernb.train.loop.initialise_from`: the source weights,
the head re-initialised when the class set differs), plus the stated ``overrides`` (e.g. a
lower rate). :func:`finetune` runs it for each N; :func:`curve_frame` reads the target's test
accuracy against N, with N = 0 the zero-shot score, and the per-epoch validation curve of the
longest run (its epoch 0 is the source weights, before any step). :func:`finetune_all` does it
for every seed of every source row notebook 04 names and averages the curves over seeds
(:class:`FinetuneCurves`).

:func:`retrain_on` trains the same network and configuration on another dataset (the matrix's
other rows: a FERPlus-trained model beside the FER2013-trained one of stage 01). Every run is a
cached :func:`fernb.train.train_run` under ``runs/04_cross_dataset/``: an interrupted stage
resumes, a finished one is read back.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fernb.data.core import FERData
from fernb.data.protocols import check_protocol
from fernb.paths import RUNS, project_root
from fernb.runs import RESULT, Run, RunResult
from fernb.train.config import TrainConfig
from fernb.train.loop import train_run
from fernb.train.recipes import TRAIN_KEYS

__all__ = ["FINETUNE_STAGE", "run_config", "finetune", "retrain_on", "retrain_all", "as_run", "curve_frame",
           "epoch_curve", "FinetuneCurves", "finetune_all"]

FINETUNE_STAGE = "04_cross_dataset"


def run_config(run: Run, train: dict | None = None, **overrides) -> TrainConfig:
    """``run``'s own training configuration (its ``result.json``), with the hardware keys of
    ``params.yaml``'s ``train`` section (:data:`fernb.train.recipes.TRAIN_KEYS`) and ``overrides``
    (TrainConfig fields) applied. An unknown override is refused with the fields there are."""
    config = TrainConfig(**run.info()["config"])
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise KeyError(f"fine-tuning overrides {unknown} are not training settings; TrainConfig has {sorted(names)}")
    hardware = {k: v for k, v in (train or {}).items() if k in TRAIN_KEYS}
    return dataclasses.replace(config, **hardware, **overrides)


def _folder(*parts: str, root: str | os.PathLike | None) -> Path:
    root = Path(root) if root is not None else project_root()
    return root.joinpath(RUNS, FINETUNE_STAGE, *[p.replace("/", "_") for p in parts])


def finetune(run: Run, target: FERData, epochs: Sequence[int], *, overrides: dict | None = None,
             train: dict | None = None, root: str | os.PathLike | None = None) -> dict[int, RunResult]:
    """Fine-tune ``run`` on ``target``'s training split for each N in ``epochs`` (one run per N,
    from the source weights each time), selecting on the target's validation split and
    reporting its test split. Runs land in
    ``runs/04_cross_dataset/finetune/<target>/<stage>_<model>/epochs<N>/seed<k>``. A target
    without a training split (a test-only dataset) is refused (:func:`fernb.data.protocols.check_protocol`)."""
    if not epochs or any(int(n) < 1 for n in epochs):
        raise ValueError(f"fine-tuning epochs must be positive integers, got {list(epochs)}")
    check_protocol(target)
    results = {}
    for n in sorted({int(n) for n in epochs}):
        config = run_config(run, train, **{**(overrides or {}), "epochs": n, "init_from": str(run.dir)})
        if config.scheduler == "cosine" and config.warmup_epochs >= n:
            config = dataclasses.replace(config, warmup_epochs=0)
        folder = _folder("finetune", target.name, f"{run.stage}_{run.model}", f"epochs{n}", f"seed{run.seed}", root=root)
        results[n] = train_run(run.model, run.model_kwargs, target, config, folder)
    return results


def retrain_on(run: Run, data: FERData, *, train: dict | None = None,
               root: str | os.PathLike | None = None) -> RunResult:
    """Train ``run``'s network with ``run``'s configuration (same seed) on ``data`` from scratch:
    ``runs/04_cross_dataset/sources/<dataset>/<stage>_<model>/seed<k>``."""
    folder = _folder("sources", data.name, f"{run.stage}_{run.model}", f"seed{run.seed}", root=root)
    return train_run(run.model, run.model_kwargs, data, run_config(run, train), folder)


def retrain_all(sources: Mapping[str, Sequence[Run]], datasets: Mapping[str, FERData | Exception],
                names: Sequence[str], *, train: dict | None = None,
                root: str | os.PathLike | None = None) -> tuple[dict[tuple[str, str], list[Run]], dict[tuple[str, str], str]]:
    """Every source model (``sources``: a label -> its runs, one per seed) trained afresh on each
    dataset in ``names`` (:func:`retrain_on`, same network, configuration and seeds), skipping the
    dataset a model was trained on. Returns {(label, dataset): runs} and, for a pair that cannot
    be trained, the reason: a dataset not prepared (its loading error in ``datasets``) or one
    without a training split."""
    trained, skipped = {}, {}
    for label, runs in sources.items():
        for name in names:
            if any(r.dataset == name for r in runs):
                continue
            data = datasets.get(name, FileNotFoundError(f"{name} was not loaded"))
            if isinstance(data, Exception) or not (data.split == "train").any():
                skipped[(label, name)] = str(data) if isinstance(data, Exception) else f"{name} has no training split"
                continue
            trained[(label, name)] = [as_run(retrain_on(run, data, train=train, root=root)) for run in runs]
    return trained, skipped


def as_run(result: RunResult, stage: str = FINETUNE_STAGE) -> Run:
    """A finished :class:`~fernb.runs.RunResult` as the :class:`~fernb.runs.Run` that
    :mod:`fernb.evaluate.transfer` scores."""
    info = result.info
    if not (Path(result.dir) / RESULT).is_file():
        raise FileNotFoundError(f"{result.dir} is not a finished run")
    return Run(stage=stage, dir=Path(result.dir), model=info["model"], model_kwargs=dict(info["model_kwargs"]),
               dataset=info["dataset"], seed=int(info["seed"]), classes=tuple(info["classes"]))


def curve_frame(results: dict[int, RunResult], zero_shot: dict[str, float]) -> pd.DataFrame:
    """Target test metrics against fine-tuning epochs: N = 0 is ``zero_shot`` (the source
    model scored on the target's test split, from the transfer matrix), then one row per
    fine-tuning run (N epochs from the source weights)."""
    rows = [{"epochs": 0, **{m: zero_shot.get(m) for m in ("accuracy", "balanced_accuracy", "macro_f1")}}]
    for n, r in sorted(results.items()):
        rows.append({"epochs": n, "accuracy": r.test.accuracy, "balanced_accuracy": r.test.balanced_accuracy,
                     "macro_f1": r.test.f1})
    return pd.DataFrame(rows).set_index("epochs")


def epoch_curve(result: RunResult) -> pd.DataFrame:
    """A fine-tuning run's validation accuracy and macro-F1 by epoch, epoch 0 being the source
    weights before any step (``result.json``'s ``init``)."""
    init = result.info.get("init") or {}
    rows = [{"epoch": 0, "val_accuracy": init.get("val_accuracy"), "val_f1": init.get("val_f1"),
             "val_loss": init.get("val_loss")}]
    hist = result.history
    rows += hist[["epoch", "val_accuracy", "val_f1", "val_loss"]].assign(epoch=hist["epoch"] + 1).to_dict("records") \
        if hist["epoch"].min() == 0 else hist[["epoch", "val_accuracy", "val_f1", "val_loss"]].to_dict("records")
    return pd.DataFrame(rows).set_index("epoch")


@dataclass
class FinetuneCurves:
    """One source row fine-tuned on a target (:func:`finetune_all`)."""

    label: str
    stage: str                      # the source runs' stage (names the row's figure and table in notebook 04)
    dataset: str                    # the source (training) dataset
    seeds: int
    curve: pd.DataFrame             # :func:`curve_frame`, averaged over seeds
    by_epoch: pd.DataFrame          # :func:`epoch_curve` of the last seed's longest run


def finetune_all(sources: Mapping[str, Sequence[Run]], target: FERData, epochs: Sequence[int],
                 zero_shot: Mapping[str, Mapping[str, float]] | None = None, *, overrides: dict | None = None,
                 train: dict | None = None, root: str | os.PathLike | None = None) -> dict[str, FinetuneCurves]:
    """Every source row (``sources``: a label -> its runs, one per seed) fine-tuned on ``target``
    for each N in ``epochs`` (:func:`finetune`, seed by seed), its test metrics against N averaged
    over seeds, N = 0 being the row's ``zero_shot`` scores ({label: {metric: value}}, the transfer
    matrix's cell on ``target``). Finished runs are read back, so a re-run trains nothing."""
    out = {}
    for label, runs in sources.items():
        per_seed = []
        for run in runs:
            results = finetune(run, target, epochs, overrides=overrides, train=train, root=root)
            per_seed.append(curve_frame(results, dict((zero_shot or {}).get(label) or {})))
            by_epoch = epoch_curve(results[max(results)])
        out[label] = FinetuneCurves(label=label, stage=runs[0].stage, dataset=runs[0].dataset, seeds=len(runs),
                                    curve=pd.concat(per_seed).groupby(level=0).mean(), by_epoch=by_epoch)
    return out
