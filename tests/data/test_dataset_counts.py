"""fernb.papers.datasets: the recorded split sizes add up, and equal what the real archives hold.

The real-data tests recount every number from ``fer2013_msambare.zip`` and ``ferplus.zip``
through fernb's loaders (each archive loaded once per module, a few seconds) and skip when
the archives are absent ($FERNB_DATA or ../shared/data, as tests/conftest.py finds them).
"""
from __future__ import annotations

import ast
import csv
import io
import time
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from fernb.labels import CANONICAL, FER2013_FOLDERS, SEVEN
from fernb.papers import datasets
from fernb.papers.datasets import FER2013_USAGE, FERPLUS_DROPPED, FERPLUS_RULES, SOURCES, SPLIT_COUNTS, split_total

from conftest import real_data_dir

USAGES = ("Training", "PublicTest", "PrivateTest")
SPLITS = ("train", "val", "test")

# The image-folder copy's listing as its publisher gives it (/work/shared/data/README.md):
# per folder class, train/ (Training) and test/ (PublicTest + PrivateTest).
MSAMBARE_TRAIN = {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "neutral": 4965, "sad": 4830, "surprise": 3171}
MSAMBARE_TEST = {"angry": 958, "disgust": 111, "fear": 1024, "happy": 1774, "neutral": 1233, "sad": 1247, "surprise": 831}


# ===================================================================== always run
def test_fer2013_totals_add_up():
    fer = SPLIT_COUNTS["fer2013"]
    assert tuple(fer) == USAGES
    sizes = {u: sum(fer[u].values()) for u in USAGES}
    assert sizes == {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}
    assert sum(sizes.values()) == 35887
    per_class = Counter()
    for u in USAGES:
        per_class.update(fer[u])
    assert sum(per_class.values()) == 35887
    for folder, canon in FER2013_FOLDERS.items():
        assert fer["Training"][canon] == MSAMBARE_TRAIN[folder], folder
        assert fer["PublicTest"][canon] + fer["PrivateTest"][canon] == MSAMBARE_TEST[folder], folder


def test_ferplus_kept_plus_dropped_is_images():
    images = SPLIT_COUNTS["ferplus"]["images"]
    assert set(SPLIT_COUNTS["ferplus"]) == {*FERPLUS_RULES, "images"}
    assert tuple(images) == SPLITS and sum(images.values()) == 35710  # 35,887 less FERPlus' 177
    for rule in FERPLUS_RULES:
        assert tuple(SPLIT_COUNTS["ferplus"][rule]) == SPLITS
        for s in SPLITS:
            kept = sum(SPLIT_COUNTS["ferplus"][rule][s].values())
            assert kept + sum(FERPLUS_DROPPED[rule][s].values()) == images[s], (rule, s)
            assert 0 < kept < images[s]
    # FERPlus splits are FER2013's, less the images FERPlus dropped as non-faces
    for s, usage in FER2013_USAGE.items():
        assert images[s] < split_total("fer2013", usage)


def test_class_names_are_canonical():
    for usage in USAGES:
        assert list(SPLIT_COUNTS["fer2013"][usage]) == list(SEVEN), usage  # FER2013 has no contempt
    for rule in FERPLUS_RULES:
        for s in SPLITS:
            assert list(SPLIT_COUNTS["ferplus"][rule][s]) == list(CANONICAL), (rule, s)
    for dataset in SPLIT_COUNTS.values():
        for per_split in dataset.values():
            for counts in per_split.values():
                if isinstance(counts, dict):
                    assert set(counts) <= set(CANONICAL)
                    assert all(isinstance(n, int) and n > 0 for n in counts.values())
    assert set(SOURCES) == set(SPLIT_COUNTS) and all(SOURCES.values())


def test_module_is_pure_data():
    tree = ast.parse(Path(datasets.__file__).read_text())
    imported = [n.module if isinstance(n, ast.ImportFrom) else a.name
                for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in (n.names if isinstance(n, ast.Import) else [None])]
    assert imported == ["__future__"]
    assert "http" not in ast.get_docstring(tree) and not any("http" in text for text in SOURCES.values())


def test_split_total():
    assert split_total("fer2013", "Training") == 28709
    assert split_total("fer2013", "PrivateTest") == split_total("fer2013", "test") == 3589
    assert split_total("fer2013", "val") == split_total("fer2013", "PublicTest")
    assert split_total("ferplus", "test", rule="images") == 3573
    for rule in FERPLUS_RULES:
        for s in SPLITS:
            assert split_total("ferplus", s, rule) == sum(SPLIT_COUNTS["ferplus"][rule][s].values())
    assert split_total("ferplus", "test", "majority") == 3370


@pytest.mark.parametrize("args, match", [
    (("affectnet", "test"), r"unknown dataset 'affectnet'.*'fer2013', 'ferplus'"),
    (("fer2013", "Validation"), r"unknown fer2013 split 'Validation'.*'Training', 'PublicTest', 'PrivateTest'"),
    (("fer2013", "test", "majority"), r"fer2013 has no label rules; got rule='majority'"),
    (("ferplus", "test"), r"ferplus needs rule= one of \['majority', 'ferplus', 'images'\].*got None"),
    (("ferplus", "test", "plurality"), r"ferplus needs rule= .*got 'plurality'"),
    (("ferplus", "PrivateTest", "majority"), r"unknown ferplus split 'PrivateTest'.*'train', 'val', 'test'"),
])
def test_split_total_rejects_unknown(args, match):
    with pytest.raises(ValueError, match=match):
        split_total(*args)


# ====================================================================== real data
def _real(name: str) -> Path:
    folder = real_data_dir()
    if folder is None or not (folder / name).is_file():
        where = folder if folder is not None else "$FERNB_DATA (unset) or ../shared/data (absent)"
        pytest.skip(f"real-data file {name} not found in {where}; set FERNB_DATA to the folder holding it")
    return folder / name


def _sha_in_sources(data, dataset: str) -> None:
    assert data.meta["sha256"] in SOURCES[dataset], (
        f"{data.meta['source']} (sha256 {data.meta['sha256']}) is not the archive SOURCES[{dataset!r}] was counted "
        "from; recount SPLIT_COUNTS from it")


def _per_class(data, split: str) -> dict[str, int]:
    counts = data.counts()
    return {name: int(counts.loc[name, split]) for name in data.classes}


@pytest.fixture(scope="module")
def fer2013_real():
    from fernb.data.fer2013 import load_fer2013

    path = _real("fer2013_msambare.zip")
    t0 = time.perf_counter()
    data = load_fer2013(path)
    print(f"\nload_fer2013({path.name}): {time.perf_counter() - t0:.1f} s")
    return data


@pytest.fixture(scope="module")
def ferplus_real():
    from fernb.data.ferplus import load_ferplus

    path = _real("ferplus.zip")
    loaded = {}
    for rule in FERPLUS_RULES:
        t0 = time.perf_counter()
        loaded[rule] = load_ferplus(path, rule=rule, ties="drop", num_classes=8)
        print(f"\nload_ferplus({path.name}, rule={rule!r}): {time.perf_counter() - t0:.1f} s")
    return path, loaded


@pytest.mark.realdata
def test_real_fer2013_counts(fer2013_real):
    data = fer2013_real
    _sha_in_sources(data, "fer2013")
    assert data.meta["n_skipped"] == 0 and data.classes == SEVEN
    for split, usage in FER2013_USAGE.items():
        assert _per_class(data, split) == SPLIT_COUNTS["fer2013"][usage], usage
        assert data.meta["read"][split] == split_total("fer2013", usage)


@pytest.mark.realdata
def test_real_fer2013_listing_agrees(fer2013_real):
    """The archive's file listing alone (class folder, Usage prefix) gives the same counts, and the
    two ids SOURCES names are the only ones used twice."""
    with zipfile.ZipFile(fer2013_real.meta["source"]) as z:
        names = [i.filename for i in z.infolist() if not i.is_dir()]
    counted = {u: Counter() for u in USAGES}
    for name in names:
        _, folder, base = name.split("/")
        counted[base.split("_")[0]][FER2013_FOLDERS[folder]] += 1
    for usage in USAGES:
        assert dict(counted[usage]) == SPLIT_COUNTS["fer2013"][usage], usage
    twice = sorted(b for b, n in Counter(n.rsplit("/", 1)[1] for n in names).items() if n > 1)
    assert twice == ["Training_52789098.jpg", "Training_8475486.jpg"]
    assert all(b in SOURCES["fer2013"] for b in twice)


@pytest.mark.realdata
def test_real_ferplus_counts(ferplus_real):
    _, loaded = ferplus_real
    for rule, data in loaded.items():
        _sha_in_sources(data, "ferplus")
        assert data.classes == CANONICAL and data.meta["n_skipped"] == 0
        assert not data.meta["unlisted_png"]  # every PNG is a label.csv row
        assert data.meta["read"] == SPLIT_COUNTS["ferplus"]["images"]
        assert data.meta["dropped"] == FERPLUS_DROPPED[rule]
        for s in SPLITS:
            assert _per_class(data, s) == SPLIT_COUNTS["ferplus"][rule][s], (rule, s)
            assert data.meta["kept"][s] == split_total("ferplus", s, rule)


@pytest.mark.realdata
def test_real_ferplus_label_csv_agrees(ferplus_real):
    """Counted without the loader's image decoding: label.csv rows, fernb's vote_labels, less the
    known mismatched image; and fer2013new.csv's Usage column matches FER2013's split sizes."""
    from fernb.data.ferplus import _VOTE_TO_CANONICAL, FOLDERS, KNOWN_MISMATCHED, vote_labels

    path, _ = ferplus_real
    with zipfile.ZipFile(path) as z:
        for s, folder in FOLDERS.items():
            rows = [r for r in csv.reader(io.TextIOWrapper(z.open(f"data/{folder}/label.csv"), encoding="utf-8")) if r]
            assert len(rows) == SPLIT_COUNTS["ferplus"]["images"][s], folder
            votes = np.array([[int(c) for c in r[2:]] for r in rows])
            mismatched = np.array([r[0] in KNOWN_MISMATCHED.get(folder, ()) for r in rows])
            for rule in FERPLUS_RULES:
                label, _ = vote_labels(votes, rule, "drop")
                kept = _VOTE_TO_CANONICAL[label[(label >= 0) & ~mismatched]]
                got = Counter(CANONICAL[i] for i in kept)
                assert dict(got) == {k: v for k, v in SPLIT_COUNTS["ferplus"][rule][s].items() if v}, (rule, s)
        new = list(csv.reader(io.TextIOWrapper(z.open("fer2013new.csv"), encoding="utf-8")))
    usage = Counter(r[0] for r in new[1:] if r)
    assert usage == {u: split_total("fer2013", u) for u in USAGES}
