"""The dataset entry point: finding real archives, clear errors when they are not there."""
from __future__ import annotations

import numpy as np
import pytest

from fernb import labels
from fernb.data import find_source, load


def test_find_source_in_fernb_data(tmp_path, monkeypatch):
    (tmp_path / "fer2013_msambare.zip").write_bytes(b"")
    (tmp_path / "ferplus.zip").write_bytes(b"")
    monkeypatch.setenv("FERNB_DATA", str(tmp_path))
    assert find_source("fer2013") == tmp_path / "fer2013_msambare.zip"
    assert find_source("ferplus") == tmp_path / "ferplus.zip"


def test_explicit_root_wins_and_may_be_a_folder_holding_the_archive(tmp_path, monkeypatch):
    monkeypatch.delenv("FERNB_DATA", raising=False)
    csv = tmp_path / "fer2013.csv"
    csv.write_text("emotion,pixels,Usage\n")
    assert find_source("fer2013", csv) == csv
    assert find_source("fer2013", tmp_path) == csv


def test_missing_sources_say_what_was_expected(tmp_path, monkeypatch):
    monkeypatch.delenv("FERNB_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="FERNB_DATA is not set"):
        find_source("fer2013")
    with pytest.raises(FileNotFoundError, match=r"nowhere\.zip does not exist"):
        find_source("ferplus", tmp_path / "nowhere.zip")
    monkeypatch.setenv("FERNB_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="fer2013_msambare.zip"):
        find_source("fer2013")
    with pytest.raises(ValueError, match="unknown dataset 'affectnet9'"):
        load("affectnet9")


def test_label_spaces():
    assert labels.SEVEN == labels.CANONICAL[:7] and labels.CANONICAL[7] == "contempt"
    assert labels.class_names(8) == labels.CANONICAL
    # every publisher order maps onto canonical names, one to one
    assert sorted(labels.FER2013_ORDER) == sorted(labels.SEVEN)
    assert sorted(labels.FER2013_FOLDERS.values()) == sorted(labels.SEVEN)
    assert sorted(labels.FERPLUS_TO_CANONICAL.values()) == sorted(labels.CANONICAL)
    assert labels.FER2013_ORDER[0] == "anger" and labels.FER2013_ORDER[6] == "neutral"
    with pytest.raises(ValueError, match="7 or 8"):
        labels.class_names(6)
    with pytest.raises(ValueError, match="'joy' is not a canonical class"):
        labels.index_of("joy")


def test_subset_and_counts(tiny):
    train = tiny.subset("train")
    assert len(train) == 40 and set(train.split) == {"train"}
    np.testing.assert_array_equal(train.images, tiny.images[:40])
    assert tiny.counts().values.sum() == len(tiny)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        tiny.subset("dev")


def test_cli_prepare_writes_a_loadable_store(tmp_path, capsys):
    from fernb.cli import main
    from fernb.data import load_store

    out = tmp_path / "store"
    assert main(["prepare", "synthfer", "-o", str(out), "-p", "n_train=14", "-p", "n_val=7",
                 "-p", "n_test=7", "-p", "progress=false"]) == 0
    data = load_store(out)
    assert len(data) == 28 and data.name == "synthfer"
    assert "stored in" in capsys.readouterr().out


def test_cli_prepare_bad_input_says_what_without_a_traceback(tmp_path):
    """As a new user meets it, in a fresh process: a missing data root and an unknown dataset
    print `fernb: error: <message>` alone, naming what was given, and exit non-zero."""
    import subprocess
    import sys

    from conftest import REPO

    missing = tmp_path / "nonexistent.zip"
    cases = {("prepare", "fer2013", "--data-root", str(missing)): [str(missing), "does not exist"],
             ("prepare", "fer2014", "--data-root", str(missing)): ["unknown dataset 'fer2014'", "fer2013"]}
    for argv, wanted in cases.items():
        run = subprocess.run([sys.executable, "-m", "fernb.cli", *argv], cwd=REPO, capture_output=True, text=True,
                             timeout=300, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
        assert run.returncode != 0, argv
        assert "Traceback" not in run.stderr + run.stdout, run.stderr
        assert run.stderr.startswith("fernb: error: ") and all(w in run.stderr for w in wanted), run.stderr


def test_cli_prepare_damaged_archive_and_bad_options_in_one_line(tmp_path, capsys):
    """A truncated zip, an empty zip, an unknown -p option, a value that is not YAML: each is one
    `fernb: error:` line naming the file or option, exit status 1 (no exception escapes main)."""
    import zipfile

    from fernb.cli import main

    good = tmp_path / "archive.zip"
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(20):
            z.writestr(f"train/happy/Training_{i}.jpg", np.random.default_rng(i).bytes(4000))
    trunc = tmp_path / "trunc.zip"
    trunc.write_bytes(good.read_bytes()[:30_000])
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    out = ["-o", str(tmp_path / "store")]
    cases = [
        (["prepare", "fer2013", "--data-root", str(trunc), *out],
         f"fernb: error: {trunc} is not a readable zip archive (truncated or corrupt: File is not a zip file)"),
        (["prepare", "ferplus", "--data-root", str(trunc), *out], f"fernb: error: {trunc} is not a readable zip archive"),
        (["prepare", "fer2013", "--data-root", str(empty), *out], f"fernb: error: {empty} is an empty zip archive"),
        (["prepare", "fer2013", "--data-root", str(good), "-p", "bogus=1", *out],
         "fernb: error: fer2013: unknown loader option bogus (-p NAME=VALUE); it takes on_unreadable"),
        (["prepare", "fer2013", "--data-root", str(good), "-p", "on_unreadable=ignore", *out],
         "fernb: error: on_unreadable must be 'raise' or 'skip'"),
        (["prepare", "synthfer", "-p", "n_train=[", *out], "fernb: error: parameter override 'n_train=[': the value is not valid YAML"),
    ]
    for argv, wanted in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.startswith(wanted) and err.count("\n") == 1, err
    assert not (tmp_path / "store").exists()


def test_cli_params_lists_the_stage_parameters(capsys, monkeypatch):
    from fernb.cli import main

    from conftest import REPO

    monkeypatch.setenv("FERNB_ROOT", str(REPO))
    assert main(["params", "00_data_prep@synthfer"]) == 0
    printed = capsys.readouterr().out
    assert "synthfer = {'n_train': " in printed and "dataset = 'synthfer'" in printed
    assert main(["params", "no_such_stage"]) == 1


def test_cli_prepare_a_photo_dataset_with_a_chosen_face_backend(tmp_path, capsys):
    """`fernb prepare kdef --face-backend opencv --face-size 48` on a KDEF-layout folder."""
    import cv2

    from fernb.cli import main
    from fernb.data import load_store
    from fernb.data.synthphotos import synthetic_photo

    root = tmp_path / "KDEF"
    codes = ("NE", "HA", "SA", "SU", "AF", "DI", "AN")
    for person in ("F01", "F02", "M01"):
        folder = root / f"A{person}"
        folder.mkdir(parents=True)
        for i, code in enumerate(codes):
            p = synthetic_photo(6, len(list(root.rglob("*.JPG"))), canvas=(200, 180), face=110, yaw=0.0, roll=0.0, label=i)
            cv2.imwrite(str(folder / f"A{person}{code}S.JPG"), cv2.cvtColor(p.image, cv2.COLOR_RGB2BGR))
    out = tmp_path / "store"
    assert main(["prepare", "kdef", "--data-root", str(root), "-o", str(out), "--face-backend", "opencv",
                 "--face-size", "48", "-p", "k=3"]) == 0
    data = load_store(out)
    assert data.images.shape[1:] == (48, 48, 3) and len(data) > 0
    assert data.meta["faces"]["backend"]["backend"] == "opencv" and "fallback_reason" not in data.meta["faces"]
    assert "kdef" in capsys.readouterr().out
