"""fernb.runs: what a stage trained, read back without the trainer."""
from __future__ import annotations

import pytest
import torch

from fernb import runs
from fernb.runs import stage_runs, write_manifest
from fernb.train import TrainConfig, train_run

from conftest import tiny_faces


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("project")
    data = tiny_faces()
    results = [train_run("lanmsff", {"img_size": 32}, data,
                         TrainConfig(epochs=1, batch_size=16, optimizer="adam", seed=seed, progress=False),
                         runs.run_dir("02_lanmsff", "lanmsff", seed, root)) for seed in (0, 1)]
    write_manifest("02_lanmsff", results, root)
    return root, data, results


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
    root, _, _ = trained
    (root / "runs" / "02_lanmsff" / "lanmsff" / "seed1" / runs.RESULT).rename(root / "result.json.bak")
    try:
        with pytest.raises(FileNotFoundError, match="seed1, which holds no result.json"):
            stage_runs("02_lanmsff", root)
    finally:
        (root / "result.json.bak").rename(root / "runs" / "02_lanmsff" / "lanmsff" / "seed1" / runs.RESULT)
