"""fernb.train.search: the Optuna study — checked inputs, storage, workers, pruning, no test split."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
import pytest
import yaml
from sqlalchemy.exc import IntegrityError, ProgrammingError

from fernb.train import search as srch
from fernb.workbook import stages

from conftest import REPO, tiny_faces

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
SECTIONS = {"hafem": PARAMS["hafem"], "lanmsff": PARAMS["lanmsff"]}
TRAIN = {**PARAMS["train"], "progress": False}
BASE = {**PARAMS["search"], "trials": 4, "startup_trials": 1, "scale": {"epochs": 3}}


def scripted(seen: list, curve=lambda values: [0.5, 0.5, 0.5]):
    """A stand-in for train_run: records the data each trial got, creates its run folder,
    feeds the pruner the per-epoch validation macro-F1 ``curve(knob values)`` gives, and
    returns the last one as the run's validation macro-F1."""

    def train_fn(model, kwargs, data, config, directory, callbacks=()):
        seen.append({"splits": set(np.unique(data.split)), "lr": config.lr, "dir": Path(directory),
                     "dropout": kwargs.get("head_dropout")})
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "checkpoint.pt").write_bytes(b"x")
        values = curve({"lr": config.lr, "head_dropout": kwargs.get("head_dropout")})
        for epoch, value in enumerate(values, 1):
            for callback in callbacks:
                callback({"epoch": epoch, "val_macro_f1": value})
        return SimpleNamespace(val=SimpleNamespace(f1=values[-1]))

    return train_fn


def test_the_search_never_sees_the_test_split(tmp_path):
    seen = []
    study = srch.run_search(BASE, SECTIONS, TRAIN, tiny_faces(), root=tmp_path, train_fn=scripted(seen), progress=False)
    assert len(study.trials) == 4 and len(seen) == 4
    assert all(s["splits"] == {"train", "val"} for s in seen)
    folds = []
    srch.run_search({**BASE, "cv_folds": 3, "study": "cv"}, SECTIONS, TRAIN, tiny_faces(), root=tmp_path,
                    train_fn=scripted(folds), progress=False)
    assert len(folds) == 4 * 3 and all(s["splits"] == {"train", "val"} for s in folds)
    data = tiny_faces()
    pool = data.subset(data.split != "test")
    for fold in srch.cv_folds_data(data, 3):
        assert len(fold) == len(pool) and not (fold.split == "test").any()
    val_sets = [set(np.flatnonzero(f.split == "val")) for f in srch.cv_folds_data(data, 3)]
    assert set().union(*val_sets) == set(range(len(pool))) and sum(map(len, val_sets)) == len(pool)   # a partition


def test_a_trial_that_falls_behind_is_pruned_and_its_run_folder_removed(tmp_path):
    seen = []
    # Trials with a large head dropout fall behind after the first epoch; the median pruner stops them.
    curve = lambda v: [0.5, 0.55, 0.6] if v["head_dropout"] < 0.25 else [0.5, 0.1, 0.1]   # noqa: E731
    space = {"head_dropout": [0.0, 0.5]}
    study = srch.run_search({**BASE, "trials": 12, "space": space}, SECTIONS, TRAIN, tiny_faces(), root=tmp_path,
                            train_fn=scripted(seen, curve), progress=False)
    states = {t.number: t.state for t in study.trials}
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "no trial was pruned"
    assert all(t.params["head_dropout"] >= 0.25 for t in pruned)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials if t.params["head_dropout"] < 0.25)
    for t in study.trials:
        folder = tmp_path / "runs" / "03_ablations" / "search" / study.study_name / f"trial{t.number:04d}"
        assert folder.exists() == (states[t.number] == optuna.trial.TrialState.COMPLETE)
    frame = srch.trials_frame(study)
    assert frame.loc[frame["state"] == "PRUNED", "last_value"].eq(0.1).all()
    # Resuming the study runs only what is missing.
    again = srch.run_search({**BASE, "trials": 12, "space": space}, SECTIONS, TRAIN, tiny_faces(), root=tmp_path,
                            train_fn=scripted(seen, curve), progress=False)
    assert len(again.trials) == 12 and len(seen) == 12


@pytest.mark.parametrize("change, error, message", [
    ({"space": {"lr": [1e-3, 1e-3]}}, ValueError, "empty range"),
    ({"space": {"lr": [0.0, 1e-3, "log"]}}, ValueError, "log range needs low > 0"),
    ({"space": {"batch_size": {"choices": []}}}, ValueError, "empty list of choices"),
    ({"space": {"learning_rate": [1e-4, 1e-3]}}, KeyError, "learning_rate"),
    ({"space": {"lambda_dls": [0, 1]}, "recipe": "lanmsff"}, KeyError, "lambda_dls"),
    ({"trials": 0}, ValueError, "trials must be a positive integer"),
    ({"pruner": "hyperband"}, ValueError, "pruner must be"),
    ({"scale": {"epoch": 2}}, KeyError, "epoch"),
    ({"colour": 1}, KeyError, "unknown keys"),
])
def test_bad_search_settings_are_refused_before_any_training(tmp_path, change, error, message):
    seen = []
    with pytest.raises(error, match=message):
        srch.run_search({**BASE, **change}, SECTIONS, TRAIN, tiny_faces(), root=tmp_path, train_fn=scripted(seen))
    assert seen == []


def test_an_unreachable_storage_is_named_and_refused(tmp_path):
    seen = []
    url = "postgresql://fernb:secret@127.0.0.1:9/nowhere"
    with pytest.raises(ConnectionError, match=r"postgresql://fernb:\*\*\*@127.0.0.1:9/nowhere cannot be reached") as err:
        srch.run_search({**BASE, "storage": url}, SECTIONS, TRAIN, tiny_faces(), root=tmp_path, train_fn=scripted(seen))
    assert "secret" not in str(err.value) and seen == []


def test_a_study_with_another_space_is_not_mixed(tmp_path):
    srch.run_search({**BASE, "trials": 1}, SECTIONS, TRAIN, tiny_faces(), root=tmp_path, train_fn=scripted([]),
                    progress=False)
    with pytest.raises(ValueError, match="already holds trials of another space"):
        srch.run_search({**BASE, "trials": 2, "space": {"lr": [1e-4, 1e-2, "log"]}}, SECTIONS, TRAIN, tiny_faces(),
                        root=tmp_path, train_fn=scripted([]), progress=False)
    with pytest.raises(ValueError, match="another context"):
        srch.run_search({**BASE, "trials": 2, "scale": {"epochs": 5}}, SECTIONS, TRAIN, tiny_faces(),
                        root=tmp_path, train_fn=scripted([]), progress=False)


def test_the_best_trial_becomes_a_params_file_a_stage_reads(tmp_path):
    study = srch.run_search({**BASE, "trials": 3}, SECTIONS, TRAIN, tiny_faces(), root=tmp_path, train_fn=scripted([]),
                            progress=False)
    path = srch.write_best(tmp_path / "best.yaml", study, "hafem", SECTIONS["hafem"])
    overrides = srch.read_params_file(path)
    best = study.best_trial.params
    assert overrides["hafem.lr"] == pytest.approx(best["lr"])
    assert overrides["hafem.loss_weights"] == pytest.approx([best["lambda_ce"], best["lambda_centre"], best["lambda_dls"]])
    assert overrides.get("hafem.loss", SECTIONS["hafem"]["loss"]) == "compound"   # only what differs is written
    params = stages.stage_parameters("01_hafem", REPO, overrides)
    assert params["hafem"]["lr"] == pytest.approx(best["lr"])
    with pytest.raises(FileNotFoundError, match="params file"):
        srch.read_params_file(tmp_path / "missing.yaml")


WORKER = textwrap.dedent("""
    import sys, time, yaml
    from types import SimpleNamespace
    sys.path.insert(0, {tests!r})
    from conftest import tiny_faces
    from fernb.train import search as srch

    params = yaml.safe_load(open({params!r}))
    sections = {{"hafem": params["hafem"], "lanmsff": params["lanmsff"]}}

    def train_fn(model, kwargs, data, config, directory, callbacks=()):
        for epoch in (1, 2):
            time.sleep(0.05)
            for cb in callbacks:
                cb({{"epoch": epoch, "val_macro_f1": config.lr * 100}})
        return SimpleNamespace(val=SimpleNamespace(f1=config.lr * 100))

    search = {{**params["search"], "trials": {trials}, "startup_trials": 2, "storage": sys.argv[1] or None,
               "study": sys.argv[2], "scale": {{"epochs": 2}}, "pruner": "none"}}
    srch.run_search(search, sections, {{**params["train"], "progress": False}}, tiny_faces(), root=sys.argv[3],
                    train_fn=train_fn, progress=False)
""")


def _two_workers(tmp_path, storage: str, study: str, trials: int = 10):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests=str(REPO / "tests"), params=str(REPO / "params.yaml"), trials=trials))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen([sys.executable, str(script), storage, study, str(tmp_path)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for w in workers:
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    return optuna.load_study(study_name=study, storage=srch._storage(storage or None, tmp_path / "runs" / "03_ablations" / "search"))


def test_two_workers_share_one_embedded_study(tmp_path):
    study = _two_workers(tmp_path, "", "shared")
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers)), "duplicate trial numbers"
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert 10 <= len(finished) <= 11                      # each worker stops once the study holds 10 (one may overlap)
    assert (tmp_path / "runs" / "03_ablations" / "search" / "optuna.journal").is_file()


def test_two_workers_share_one_postgresql_study(tmp_path):
    url = os.environ.get("FERNB_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set FERNB_TEST_POSTGRES_URL (.ci/run starts Debian's postgresql and sets it)")
    name = f"pg-{os.getpid()}-{tmp_path.name}"
    study = _two_workers(tmp_path, url, name)
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    assert 10 <= len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]) <= 11
    optuna.delete_study(study_name=name, storage=url)


RACE_ERRORS = {
    "pg_type duplicate key": (IntegrityError, "CREATE TYPE", "duplicate key value violates unique constraint"),
    "DuplicateTable": (ProgrammingError, "CREATE TABLE studies", 'relation "studies" already exists'),
}


@pytest.mark.parametrize("race", sorted(RACE_ERRORS))
def test_workers_racing_to_create_a_new_databases_tables_retry(tmp_path, monkeypatch, race):
    """Two workers opening a fresh database both create Optuna's tables; the loser's error
    (PostgreSQL reports either, both seen in CI) is retried, not fatal."""
    kind, statement, message = RACE_ERRORS[race]
    calls = []
    real = optuna.storages.RDBStorage

    def racing(url, **kwargs):
        calls.append(url)
        if len(calls) == 1:
            raise kind(statement, {}, Exception(message))
        return real(url, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    storage = srch._storage(f"sqlite:///{tmp_path / 'race.db'}", tmp_path)
    assert len(calls) == 2 and isinstance(storage, real)


def test_a_programming_error_that_is_no_race_is_not_retried(tmp_path, monkeypatch):
    calls = []

    def denied(url, **kwargs):
        calls.append(url)
        raise ProgrammingError("CREATE TABLE studies", {}, Exception("permission denied for schema public"))

    monkeypatch.setattr(optuna.storages, "RDBStorage", denied)
    with pytest.raises(ConnectionError, match="permission denied"):
        srch._storage(f"sqlite:///{tmp_path / 'denied.db'}", tmp_path)
    assert len(calls) == 1


def test_importances_need_two_complete_trials_that_differ():
    import optuna

    from fernb.train.search import param_importances

    def study_of(values):
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        for v in values:
            study.enqueue_trial({"lr": 0.01 * (len(study.trials) + 1)})
            study.optimize(lambda t, v=v: (t.suggest_float("lr", 1e-3, 1.0), v)[1], n_trials=1)
        return study

    assert param_importances(study_of([0.5]))[0] is None
    none, why = param_importances(study_of([0.4, 0.4]))
    assert none is None and "no variance" in why              # fANOVA itself would raise here
    found, what = param_importances(study_of([0.1, 0.4, 0.3]))
    assert set(found) == {"lr"} and "FanovaImportanceEvaluator" in what
