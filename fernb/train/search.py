"""Bayesian hyper-parameter search with Optuna over a recipe's knobs, on validation data only.

HAFEM says its settings came from "Bayesian search" and its loss weights λ = (0.60, 0.25,
0.15) from 5-fold cross-validation (§3), and reports nothing about either. This module makes
that search a thing one can run and read:

- a **space** over a recipe's ``params.yaml`` knobs (:data:`SPACES`: HAFEM's λ weights, lr,
  weight decay, layer decay, head dropout, DLS ε; LANMSFF's lr, drop rate, batch size), or
  one given in ``params.yaml`` (``search.space``), checked before anything trains;
- a **TPE sampler** with a fixed seed and a **median pruner** fed by the trainer's
  per-epoch validation macro-F1 (the ``callbacks`` of :func:`fernb.train.train_run`); a
  pruned trial is recorded as pruned and its run folder is deleted, so it never serves as
  a cached run;
- an **objective on validation data only**: each trial trains on the training split and
  is scored on the validation split of a copy of the data with the test split removed
  (:func:`search_data`), so the search cannot read the test split. With ``cv_folds: k``
  (HAFEM's "5-fold cross-validation") each trial trains k times on stratified folds of
  train + validation and scores their mean;
- **storage**: an embedded journal file under ``runs/03_ablations/search/`` that needs no
  server (Optuna's ``JournalFileBackend``, safe for several processes on one machine), or
  any database URL (``postgresql://user:password@host/db`` for a study shared by many GPU
  boxes; ``sqlite:///path.db``). Several workers (``fernb search`` in several shells, or on
  several machines against one database) join one study; each stops once the study holds
  ``trials`` trials. A study whose stored space differs from this one is refused, never
  silently mixed.

The best trial's knobs are written as ``best.yaml`` (overrides of the recipe's section),
which ``fernb train STAGE --params-file best.yaml`` and ``fernb run STAGE --params-file
best.yaml`` read; its test accuracy is measured afterwards, once, by training it over the
ablation seeds (notebook 03).
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import yaml
from optuna.storages.journal import JournalFileBackend, JournalStorage
from sqlalchemy.exc import IntegrityError, ProgrammingError

from fernb.paths import RUNS, project_root
from fernb.train.loop import train_run
from fernb.train.recipes import RECIPES, TRAINING_STAGES

__all__ = ["SPACES", "SEARCH_KEYS", "Knob", "parse_space", "validate_search", "search_data", "cv_folds_data",
           "open_study", "storage_label", "run_search", "best_overrides", "write_best", "read_params_file",
           "trials_frame", "param_importances", "STAGE"]

STAGE = "03_ablations"
SEARCH_KEYS = ("recipe", "trials", "sampler_seed", "storage", "study", "pruner", "startup_trials", "scale",
               "cv_folds", "space", "seed")
# The objective, and the per-epoch value the pruner sees: validation macro-F1 (HAFEM's own
# selection metric, §3), the same for both recipes so that studies read alike.
OBJECTIVE = "val_macro_f1"

# λ weights are entries of the recipe's loss_weights list: (CE, centre, DLS).
LAMBDAS = {"lambda_ce": 0, "lambda_centre": 1, "lambda_dls": 2}

# Default spaces: [low, high] (uniform), [low, high, "log"], {"choices": [...]}, [low, high, "int"].
SPACES: dict[str, dict[str, Any]] = {
    "hafem": {"lambda_ce": [0.2, 1.0], "lambda_centre": [0.0, 0.5], "lambda_dls": [0.0, 0.5],
              "lr": [1e-4, 3e-3, "log"], "weight_decay": [1e-5, 1e-2, "log"], "layer_decay": [0.6, 1.0],
              "head_dropout": [0.0, 0.5], "dls_eps": [0.01, 0.3]},
    "lanmsff": {"lr": [1e-4, 1e-2, "log"], "drop_rate": [0.0, 0.5], "batch_size": {"choices": [16, 32, 64]}},
}


@dataclass(frozen=True)
class Knob:
    """One searched knob: a float (optionally log-scaled) or int range, or a list of choices."""

    name: str
    kind: str                     # float | int | categorical
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple | None = None

    def suggest(self, trial) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.log)

    def as_dict(self) -> dict:
        if self.kind == "categorical":
            return {"name": self.name, "choices": list(self.choices)}
        return {"name": self.name, "kind": self.kind, "low": self.low, "high": self.high, "log": self.log}


def _knob(name: str, spec: Any) -> Knob:
    where = f"search.space.{name}"
    if isinstance(spec, Mapping):
        choices = spec.get("choices")
        if set(spec) != {"choices"} or not isinstance(choices, (list, tuple)):
            raise ValueError(f"{where}: expected {{choices: [a, b, ...]}}, got {spec!r}")
        if not choices:
            raise ValueError(f"{where}: empty list of choices (expected at least one value)")
        return Knob(name, "categorical", choices=tuple(choices))
    if not isinstance(spec, (list, tuple)) or len(spec) not in (2, 3):
        raise ValueError(f"{where}: expected [low, high], [low, high, 'log'], [low, high, 'int'] or "
                         f"{{choices: [...]}}, got {spec!r}")
    low, high = spec[0], spec[1]
    flag = spec[2] if len(spec) == 3 else None
    if flag not in (None, "log", "int"):
        raise ValueError(f"{where}: the third entry must be 'log' or 'int', got {flag!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (low, high)):
        raise ValueError(f"{where}: low and high must be finite numbers, got {spec!r}")
    if not low < high:
        raise ValueError(f"{where}: empty range [{low}, {high}] (expected low < high)")
    if flag == "log" and low <= 0:
        raise ValueError(f"{where}: a log range needs low > 0, got {low}")
    return Knob(name, "int" if flag == "int" else "float", float(low), float(high), log=flag == "log")


def parse_space(recipe: str, space: Mapping | None, section: Mapping) -> list[Knob]:
    """The knobs of a study: ``space`` (``None`` = :data:`SPACES[recipe] <SPACES>`), each
    name a key of the recipe's ``params.yaml`` section (or a λ weight, ``lambda_ce`` /
    ``lambda_centre`` / ``lambda_dls``, for HAFEM); refused with the keys it could be."""
    if recipe not in RECIPES:
        raise KeyError(f"search.recipe: unknown recipe {recipe!r}; expected one of {sorted(RECIPES)}")
    space = SPACES[recipe] if space is None else space
    if not isinstance(space, Mapping) or not space:
        raise ValueError(f"search.space must be a non-empty mapping of knob: range, got {space!r}")
    allowed = {k for k in section if k != "seeds"} | (set(LAMBDAS) if "loss_weights" in section else set())
    unknown = sorted(set(space) - allowed)
    if unknown:
        raise KeyError(f"search.space: {unknown} {'is' if len(unknown) == 1 else 'are'} not a knob of the "
                       f"{recipe} recipe; it has {sorted(allowed)}")
    return [_knob(name, spec) for name, spec in space.items()]


def validate_search(search: Mapping, sections: Mapping[str, Mapping]) -> list[Knob]:
    """Refuse a bad ``search`` section before any training: unknown keys, recipe, knobs,
    empty ranges, a non-positive trial count, a pruner we do not have, bad folds."""
    unknown = sorted(set(search) - set(SEARCH_KEYS))
    if unknown:
        raise KeyError(f"search: unknown keys {unknown}; it takes {list(SEARCH_KEYS)}")
    recipe = search.get("recipe")
    if recipe not in sections:
        raise KeyError(f"search.recipe: {recipe!r} is not a recipe section here (expected one of {sorted(sections)})")
    trials = search.get("trials")
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise ValueError(f"search.trials must be a positive integer, got {trials!r}")
    if search.get("pruner", "median") not in ("median", "none"):
        raise ValueError(f"search.pruner must be 'median' or 'none', got {search.get('pruner')!r}")
    folds = search.get("cv_folds")
    if folds is not None and (not isinstance(folds, int) or folds < 2):
        raise ValueError(f"search.cv_folds must be null or an integer >= 2, got {folds!r}")
    scale = search.get("scale") or {}
    missing = sorted(k for k in scale if k not in sections[recipe])
    if missing:
        raise KeyError(f"search.scale: {missing} not a key of the {recipe} recipe (it has {sorted(sections[recipe])})")
    return parse_space(recipe, search.get("space"), sections[recipe])


def apply_values(section: Mapping, values: Mapping[str, Any]) -> dict:
    """A recipe section with a trial's values set (λ weights into ``loss_weights``, which
    switches HAFEM's loss to the compound one)."""
    out = copy.deepcopy(dict(section))
    for name, value in values.items():
        if name in LAMBDAS:
            weights = list(out["loss_weights"])
            weights[LAMBDAS[name]] = float(value)
            out["loss_weights"], out["loss"] = weights, "compound"
        else:
            out[name] = value
    return out


def search_data(data):
    """``data`` without its test split: what every trial sees (the search cannot read test)."""
    return data.subset(data.split != "test")


def cv_folds_data(data, k: int, seed: int = 0) -> list:
    """``k`` copies of train + validation (the test split removed), each with one stratified
    fold as its validation split and the rest as training (HAFEM §3's "5-fold cross-validation"
    for λ; scikit-learn's ``StratifiedKFold`` with shuffling)."""
    from sklearn.model_selection import StratifiedKFold

    pool = search_data(data)
    folds = []
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for _, val in splitter.split(np.zeros(len(pool)), pool.labels):
        split = np.full(len(pool), "train", dtype=pool.split.dtype)
        split[val] = "val"
        fold = pool.subset(np.arange(len(pool)))
        fold.split = split
        folds.append(fold)
    return folds


def storage_label(storage: str | None) -> str:
    """A storage URL with its password hidden (for messages and the notebook)."""
    if storage is None:
        return "embedded journal file"
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", storage)


def _storage(storage: str | None, directory: Path):
    if storage is None or storage.startswith("journal:"):
        path = Path(storage[len("journal:"):]) if storage else directory / "optuna.journal"
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    for attempt in range(5):
        try:
            with warnings.catch_warnings():   # the heartbeat (stale trials of a dead worker fail) is "experimental"
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(storage, heartbeat_interval=60, grace_period=180)
        except (IntegrityError, ProgrammingError) as err:
            # Workers that open a new database at the same moment all create Optuna's tables; all but one
            # lose the race. PostgreSQL reports it as a duplicate key in pg_type (IntegrityError) or as
            # 'relation "studies" already exists' (ProgrammingError, DuplicateTable), both seen in CI.
            # Once the winner is done the tables exist. Any other ProgrammingError is a real fault.
            racing = isinstance(err, IntegrityError) or "already exists" in str(err)
            if attempt == 4 or not racing:
                raise ConnectionError(f"search.storage {storage_label(storage)} cannot be opened "
                                      f"({type(err).__name__}: {str(err).splitlines()[0]})") from None
            time.sleep(0.5 * (attempt + 1))
        except Exception as err:   # SQLAlchemy's OperationalError, a missing driver, a malformed URL
            raise ConnectionError(f"search.storage {storage_label(storage)} cannot be reached or opened "
                                  f"({type(err).__name__}: {str(err).splitlines()[0]}); expected a database URL "
                                  "such as postgresql://user:password@host:5432/db or sqlite:///path.db, or null "
                                  "for the embedded journal file") from None


def open_study(name: str, knobs: list[Knob], *, storage: str | None = None, directory: str | os.PathLike | None = None,
               sampler_seed: int = 0, pruner: str = "median", startup_trials: int = 3, context: Mapping | None = None):
    """Create or join the study ``name``: TPE with ``sampler_seed``, a median pruner (or none),
    maximising validation macro-F1. A study that exists with another space, or another
    ``context`` (recipe, dataset, scale), is refused with what differs."""
    directory = Path(directory) if directory is not None else project_root() / RUNS / STAGE / "search"
    optuna.logging.set_verbosity(optuna.logging.WARNING)   # trials are reported by run_search, on stdout
    store = _storage(storage, directory)
    sampler = optuna.samplers.TPESampler(seed=sampler_seed, n_startup_trials=startup_trials)
    chosen = (optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=1)
              if pruner == "median" else optuna.pruners.NopPruner())
    study = optuna.create_study(storage=store, study_name=name, sampler=sampler, pruner=chosen,
                                direction="maximize", load_if_exists=True)
    signature = {"space": [k.as_dict() for k in knobs], "context": json.loads(json.dumps(dict(context or {}),
                                                                                       default=str))}
    stored = study.user_attrs.get("fernb")
    if stored is None:
        study.set_user_attr("fernb", signature)
    elif stored != signature:
        differs = [part for part in ("space", "context") if stored.get(part) != signature[part]]
        raise ValueError(f"study {name!r} in {storage_label(storage)} already holds trials of another {' and '.join(differs)} "
                         f"(stored: {json.dumps({p: stored.get(p) for p in differs})}); name a new study "
                         "(search.study) instead of mixing them")
    return study


def _finished(study) -> int:
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)))


def run_search(search: Mapping, sections: Mapping[str, Mapping], train: Mapping, data, *,
               default_scale: Mapping | None = None, root: str | os.PathLike | None = None,
               train_fn: Callable | None = None, progress: bool = True):
    """Run (or join, or resume) the study of the ``search`` section until it holds
    ``search.trials`` trials (complete or pruned; trials other workers are running count),
    and return the study. Every trial trains at ``search.scale`` (overrides of the recipe
    section), or at ``default_scale`` when that is null (notebook 03: the ablation scale).
    ``train_fn`` replaces :func:`fernb.train.train_run` (tests)."""
    train_fn = train_fn or train_run
    search = dict(search)
    if search.get("scale") is None:
        search["scale"] = dict(default_scale or {})
    knobs = validate_search(search, sections)
    root = Path(root) if root is not None else project_root()
    name = search["recipe"]
    base = {**sections[name], **(search.get("scale") or {})}
    study_name = search.get("study") or f"{name}-{data.name}"
    directory = root / RUNS / STAGE / "search"
    folds = search.get("cv_folds")
    datasets = cv_folds_data(data, folds, search.get("seed", 0)) if folds else [search_data(data)]
    context = {"recipe": name, "dataset": data.name, "scale": search.get("scale") or {}, "cv_folds": folds,
               "objective": OBJECTIVE}
    study = open_study(study_name, knobs, storage=search.get("storage"), directory=directory,
                       sampler_seed=search.get("sampler_seed", 0), pruner=search.get("pruner", "median"),
                       startup_trials=search.get("startup_trials", 3), context=context)
    trial_root = directory / study_name

    def objective(trial) -> float:
        values = {k.name: k.suggest(trial) for k in knobs}
        section = apply_values(base, values)
        section["seeds"] = [int(search.get("seed", 0))]
        recipe = RECIPES[name](section, dict(train))
        config = recipe.config_for(int(search.get("seed", 0)))
        folder = trial_root / f"trial{trial.number:04d}"
        scores: list[float] = []

        def report(record: dict, fold: int) -> None:
            step = fold * config.epochs + int(record["epoch"])
            running = (sum(scores) + record[OBJECTIVE]) / (len(scores) + 1)
            trial.report(running, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"epoch {record['epoch']}: {OBJECTIVE} {record[OBJECTIVE]:.4f}")

        try:
            for i, fold_data in enumerate(datasets):
                where = folder / f"fold{i}" if folds else folder
                result = train_fn(recipe.model, recipe.model_kwargs, fold_data, config, where,
                                  callbacks=[lambda record, i=i: report(record, i)])
                scores.append(float(result.val.f1))
        except optuna.TrialPruned:
            shutil.rmtree(folder, ignore_errors=True)    # a pruned run is never a cached run
            raise
        trial.set_user_attr("run_dir", folder.relative_to(root).as_posix())
        trial.set_user_attr("fold_scores", scores)
        return float(np.mean(scores))

    remaining = search["trials"] - _finished(study)
    if remaining > 0:
        callbacks = [optuna.study.MaxTrialsCallback(search["trials"], states=None)]
        if progress:
            callbacks.append(lambda s, t: print(f"trial {t.number}: {t.state.name.lower()}"
                                                + (f", value {t.value:.4f}" if t.value is not None else "")
                                                + f", {t.params}", flush=True))
        study.optimize(objective, n_trials=remaining, callbacks=callbacks, catch=())
    return study


def best_overrides(study, recipe: str, section: Mapping) -> dict:
    """The best trial's knobs as overrides of the recipe's ``params.yaml`` section."""
    best = apply_values(section, study.best_trial.params)
    return {k: best[k] for k in best if k not in section or best[k] != section[k]}


def write_best(path: str | os.PathLike, study, recipe: str, section: Mapping) -> Path:
    """``best.yaml``: ``{recipe: {knob: value}}``, for ``fernb train/run STAGE --params-file``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    best = best_overrides(study, recipe, section)
    trial = study.best_trial
    header = (f"# The best trial ({trial.number}, validation {OBJECTIVE} {trial.value:.4f}) of Optuna study "
              f"{study.study_name!r}: overrides of params.yaml's {recipe} section.\n"
              f"# Use: fernb train {_stage_of(recipe)} --params-file {path.name}  (or fernb run ... --params-file)\n")
    path.write_text(header + yaml.safe_dump({recipe: _plain(best)}, sort_keys=True))
    return path


def _plain(values: Mapping) -> dict:
    return {k: (v.item() if hasattr(v, "item") else list(v) if isinstance(v, tuple) else v) for k, v in values.items()}


def _stage_of(recipe: str) -> str:
    return next(stage for stage, name in TRAINING_STAGES.items() if name == recipe)


def read_params_file(path: str | os.PathLike) -> dict[str, Any]:
    """A ``best.yaml``-style file (``{section: {key: value}}``) as ``section.key`` overrides."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"params file {path} not found (expected YAML such as {{hafem: {{lr: 0.001}}}})")
    content = yaml.safe_load(path.read_text()) or {}
    if not isinstance(content, Mapping) or not all(isinstance(v, Mapping) for v in content.values()):
        raise ValueError(f"{path}: expected a mapping of params.yaml sections to {{key: value}}, got {content!r}")
    return {f"{section}.{key}": value for section, values in content.items() for key, value in values.items()}


def trials_frame(study):
    """One row per trial: number, state, value, the last value it reported to the pruner and
    after how many epochs, its duration (s) and its knobs."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        steps = t.intermediate_values
        rows.append({"number": t.number, "state": t.state.name, "value": t.value,
                     "last_value": steps[max(steps)] if steps else None, "epochs_reported": len(steps),
                     "seconds": t.duration.total_seconds() if t.duration else None, **t.params})
    return pd.DataFrame(rows)


def best_path(study_name: str, root: str | os.PathLike | None = None) -> Path:
    """Where the study's ``best.yaml`` goes: ``runs/03_ablations/search/<study>/best.yaml``."""
    root = Path(root) if root is not None else project_root()
    return root / RUNS / STAGE / "search" / study_name / "best.yaml"


def param_importances(study: optuna.Study, seed: int = 0) -> tuple[dict | None, str]:
    """Optuna's fANOVA importance of each knob (``FanovaImportanceEvaluator(seed=seed)``, named
    explicitly because Optuna's default evaluator changed between releases), and a sentence
    saying what was computed. None, with the reason, when it cannot be: fewer than two complete
    trials, or complete trials whose values are all equal (fANOVA then has no variance to
    apportion and raises)."""
    values = [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(values) < 2:
        return None, f"{len(values)} complete trial(s): an importance needs at least two"
    if np.ptp(values) == 0:
        return None, f"all {len(values)} complete trials scored {values[0]:.4f}: there is no variance to apportion"
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    return (optuna.importance.get_param_importances(study, evaluator=evaluator),
            f"importance ({type(evaluator).__name__}, seed {seed})")
