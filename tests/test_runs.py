"""fernb.runs: what a stage trained, read back without the trainer."""
from __future__ import annotations

import pytest

from fernb import runs
from fernb.runs import stage_runs

from conftest import copy_project


@pytest.fixture(scope="module")
def trained(tiny_runs):
    return tiny_runs      # the session's two tiny LANMSFF runs (tests/conftest.py); read only here


def test_stage_runs_lists_what_the_stage_trained(trained):
    root, data, results = trained
    found = stage_runs("02_lanmsff", root)
    assert [r.seed for r in found] == [0, 1]
    first = found[0]
    assert first.dir == root / "runs" / "02_lanmsff" / "lanmsff" / "seed0"
    assert first.checkpoint.is_file() and first.model == "lanmsff" and first.model_kwargs == {"img_size": 32}
    assert first.dataset == data.name and first.classes == tuple(data.classes)
    frame = first.predictions()
    assert set(frame["split"]) == {"val", "test"} and len(frame) == int((data.split != "train").sum())
    loaded = first.load()
    assert loaded.test.accuracy == pytest.approx(results[0].test.accuracy)
    assert first.info()["seed"] == 0
    assert runs.find_checkpoint(root / "runs" / "02_lanmsff") == first.checkpoint


def test_a_missing_manifest_or_run_is_named(trained, tmp_path):
    with pytest.raises(FileNotFoundError, match="stage 01_hafem has not trained anything"):
        stage_runs("01_hafem", tmp_path)
    root = copy_project(trained[0], tmp_path / "project")
    (root / "runs" / "02_lanmsff" / "lanmsff" / "seed1" / runs.RESULT).unlink()
    with pytest.raises(FileNotFoundError, match="seed1, which holds no result.json"):
        stage_runs("02_lanmsff", root)
