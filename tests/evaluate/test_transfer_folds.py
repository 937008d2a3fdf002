"""Notebook 04 on fold datasets: CK+ (here its CK+48 folder variant, read as
``ckplus``) and KDEF are scored whole as zero-shot targets and on their held-out fold only on
the diagonal, while fine-tuning on them keeps the fold protocol.

Fixtures: the CK+48 folder of ``tests/data/test_ckplus48.py`` (36 frames of 10 subjects, 8
classes with contempt) read with 3 subject-disjoint folds, and a KDEF-like set (tiny faces of 9
subjects, 7 classes, 3 folds), both written as prepared stores; one tiny LANMSFF trained on each
one's folds (held-out fold 0). Every count below is computed from the fixtures."""
from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from fernb.data.ckplus48 import load_ckplus48
from fernb.data.core import FERData
from fernb.data.folds import subject_folds
from fernb.data.protocols import apply_protocol, check_protocol, describe_protocol, every_fold_as_test
from fernb.data.store import write_store
from fernb.evaluate import transfer as tr
from fernb.paths import prepared_dir
from fernb.train import TrainConfig, train_run
from fernb.train import finetune as ft

from conftest import tiny_faces

TEST_FOLD = 0


def _ckplus48_writer():
    """``write_ckplus48`` of tests/data/test_ckplus48.py (the exact CK+48 layout), loaded from its file
    so that this module runs on its own as well as in the whole suite."""
    path = Path(__file__).resolve().parents[1] / "data" / "test_ckplus48.py"
    spec = importlib.util.spec_from_file_location("_ckplus48_fixture", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_ckplus48


def _kdef_like() -> FERData:
    """Tiny faces named ``kdef``, 7 per subject for 9 subjects, with subject-disjoint folds as
    :func:`fernb.data.kdef.load_kdef` stores them (``extras`` ``subject`` and ``fold``)."""
    faces = tiny_faces((63, 0, 0), size=32, seed=5)
    subjects = np.repeat([f"F{i:02d}" for i in range(9)], 7)
    return dataclasses.replace(faces, name="kdef", source_ids=[f"KDEF/{s}/{i}" for i, s in enumerate(subjects)],
                               extras={"subject": subjects, "fold": subject_folds(subjects, k=3, seed=0)})


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project with prepared ``ckplus`` (CK+48) and ``kdef`` stores and one tiny run trained on each
    one's folds, as the matrix's rows."""
    tmp = tmp_path_factory.mktemp("folds")
    root = tmp / "project"
    (root / "fernb").mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    ck = load_ckplus48(_ckplus48_writer()(tmp / "CK+48"), k=3)
    kdef = _kdef_like()
    config = TrainConfig(epochs=1, batch_size=8, optimizer="adam", loss="ce", progress=False, amp="off",
                         channels_last="off")
    models = {}
    for data in (ck, kdef):
        write_store(data, prepared_dir(data.name, root))
        result = train_run("lanmsff", {"img_size": 32}, apply_protocol(data, TEST_FOLD), config,
                           root / "runs" / "02_lanmsff" / data.name / "seed0")
        models[data.name] = tr.TransferModel.from_runs(f"LANMSFF · {data.name}", [ft.as_run(result, "02_lanmsff")])
    return root, models


@pytest.fixture
def targets(project, monkeypatch):
    root, _ = project
    monkeypatch.setenv("FERNB_ROOT", str(root))
    return tr.load_targets(["ckplus", "kdef"], TEST_FOLD)


def test_load_targets_keeps_the_fold_protocol_and_the_rule_picks_whole_or_held_out(targets):
    for name, data in targets.items():
        assert isinstance(data, FERData) and set(data.split) == {"train", "val", "test"}   # what fine-tuning needs
        check_protocol(data)
        other = "kdef" if name == "ckplus" else "ckplus"
        assert tr.scored_split(name, data, name) is data                       # the diagonal: held-out fold only
        whole = tr.scored_split(name, data, other)                              # a zero-shot target: every fold
        assert (whole.split == "test").all() and len(whole) == len(data)
        assert describe_protocol(whole)["splits"]["test"] == f"all {len(data)} images (zero-shot: every fold)"
        with pytest.raises(ValueError, match="every fold"):
            check_protocol(whole)                                              # never trained on
        again = apply_protocol(whole, TEST_FOLD)                               # the folds come back
        np.testing.assert_array_equal(again.split, data.split)
    fer = dataclasses.replace(tiny_faces((8, 4, 4)), name="fer2013")
    assert tr.scored_split("fer2013", fer, "ckplus") is fer                     # not a fold dataset: its test split


def test_a_fold_dataset_is_scored_whole_as_a_zero_shot_target_and_on_its_held_out_fold_on_the_diagonal(project, targets):
    root, models = project
    ck, kdef = targets["ckplus"], targets["kdef"]
    held = {name: int((data.split == "test").sum()) for name, data in targets.items()}
    assert all(0 < held[name] < len(targets[name]) for name in held)
    contempt = int((ck.labels == ck.classes.index("contempt")).sum())
    assert 0 < contempt < len(ck) and "contempt" not in kdef.classes
    rows = [models["ckplus"], models["kdef"]]
    for rule, dropped in (("drop", contempt), ("error", 0)):
        table = tr.transfer_table(rows, targets, rule=rule, n_boot=200, root=root)
        acc = table[table["metric"] == "accuracy"].set_index(["source", "target"])
        assert acc.loc[("ckplus", "ckplus"), "status"] == "in-domain"
        for name in ("ckplus", "kdef"):                                        # diagonal: the held-out fold
            assert acc.loc[(name, name), "images"] == held[name] and acc.loc[(name, name), "dropped"] == 0
            assert acc.loc[(name, name), "scored"] == f"fold [{TEST_FOLD}]"
        # zero-shot: every image (the 7-class KDEF model loses CK+'s contempt under drop only)
        assert acc.loc[("ckplus", "kdef"), "images"] == len(kdef) and acc.loc[("ckplus", "kdef"), "dropped"] == 0
        assert acc.loc[("kdef", "ckplus"), "images"] == len(ck) - dropped
        assert acc.loc[("kdef", "ckplus"), "dropped"] == dropped
        for source, target in (("ckplus", "kdef"), ("kdef", "ckplus")):
            assert acc.loc[(source, target), "scored"] == f"all {len(targets[target])} images (zero-shot: every fold)"
    # the saved predictions are those images, in the dataset's order
    for source, target, mask in (("ckplus", "ckplus", ck.split == "test"), ("kdef", "ckplus", np.ones(len(ck), bool)),
                                 ("ckplus", "kdef", np.ones(len(kdef), bool))):
        view = tr.scored_split(target, targets[target], source)
        frame = tr.cell_predictions(models[source].runs[0], target, view, root=root)
        assert list(frame["source_id"]) == list(targets[target].source_ids[mask])


def test_the_largest_drop_breakdown_reads_the_same_whole_target_without_running_a_model(project, targets, monkeypatch):
    root, models = project
    rows = [models["ckplus"], models["kdef"]]
    tr.transfer_table(rows, targets, rule="error", n_boot=100, root=root)
    monkeypatch.setattr(tr, "load_model", lambda *a, **k: pytest.fail("a saved cell ran the model"))
    per_class, _ = tr.collapse_cell(rows, models["kdef"].label, "ckplus", targets, "error", root=root)
    ck = targets["ckplus"]
    assert per_class["images per seed"].sum() == len(ck)
    absent = [c for k, c in enumerate(ck.classes) if not (ck.labels == k).any()]     # CK+48 has no neutral frame
    assert absent and not set(absent) & set(per_class.index)


def test_fine_tuning_on_a_fold_dataset_trains_on_its_folds_and_starts_from_the_held_out_zero_shot(project, targets):
    root, models = project
    ck = targets["ckplus"]
    rows = [models["ckplus"], models["kdef"]]
    held = ck.split == "test"
    zero = tr.held_out_zero_shot(rows, "ckplus", targets, "drop", root=root)
    assert list(zero) == [models["kdef"].label]                         # the CK+ row's own cell is the fold already
    # by hand: the KDEF model's saved whole-target predictions, restricted to the held-out fold, contempt dropped
    frame = tr.cell_predictions(models["kdef"].runs[0], "ckplus", every_fold_as_test(ck), root=root)
    classes = models["kdef"].classes
    answer = np.asarray(classes)[frame[[f"prob_{c}" for c in classes]].to_numpy().argmax(axis=1)]
    keep = held[frame["index"].to_numpy()] & (frame["target_label"] != "contempt").to_numpy()
    assert keep.sum() < len(frame)
    assert zero[models["kdef"].label]["accuracy"] == pytest.approx(
        np.mean(answer[keep] == frame["target_label"].to_numpy()[keep]))
    assert tr.held_out_zero_shot(rows, "fer2013", targets, root=root) == {}      # not a fold dataset
    tuned = ft.finetune_all({models["kdef"].label: models["kdef"].runs}, ck, [1], zero, root=root)
    curve = tuned[models["kdef"].label].curve
    assert curve.loc[0, "accuracy"] == pytest.approx(zero[models["kdef"].label]["accuracy"])
    run = ft.finetune(models["kdef"].runs[0], ck, [1], root=root)[1]              # read back, not trained again
    tested = run.predictions[run.predictions["split"] == "test"]
    assert sorted(tested["source_id"]) == sorted(ck.source_ids[held])            # tested on the held-out fold
    assert not set(tested["source_id"]) & set(ck.source_ids[ck.split == "train"])  # no training image is scored
    with pytest.raises(ValueError, match="every fold"):
        ft.finetune(models["kdef"].runs[0], every_fold_as_test(ck), [1], root=root)
