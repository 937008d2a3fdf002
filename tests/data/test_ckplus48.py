"""CK+48 (the shared 48x48 folder variant of CK+) on small datasets written in its exact layout.

Fixture: ``CK+48/<emotion>/S###_###_########.png``, 48x48 grey PNGs, the last three frames of
each of 12 sequences of 10 subjects, in the seven folders of the common copy (anger,
contempt, disgust, fear, happy, sadness, surprise); as a folder, nested in other folders,
and inside a zip under a prefix. The folder meanings are written out by hand below, not
taken from :mod:`fernb.labels`.
"""
from __future__ import annotations

import inspect
import re
import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

import fernb.data
from fernb.data.archive import Source
from fernb.data.ckplus import load_ckplus, read_ckplus
from fernb.data.ckplus48 import ckplus48_root, load_ckplus48
from fernb.data.core import DatasetFormatError
from fernb.data.folds import subject_folds
from fernb.data.protocols import apply_protocol
from fernb.data.store import load_store, write_store

CANON = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
# CK+48 folder -> class, by hand
MEANING = {"anger": "anger", "contempt": "contempt", "disgust": "disgust", "fear": "fear", "happy": "happy",
           "sadness": "sad", "surprise": "surprise"}
# (subject, sequence, last frame, folder): every folder, a subject with two sequences of two emotions
SEQUENCES = [
    ("S005", "001", 11, "disgust"), ("S010", "004", 19, "anger"), ("S010", "006", 15, "happy"),
    ("S011", "001", 20, "surprise"), ("S014", "002", 21, "sadness"), ("S022", "005", 17, "fear"),
    ("S026", "003", 12, "contempt"), ("S026", "006", 9, "happy"), ("S032", "004", 25, "surprise"),
    ("S037", "001", 14, "contempt"), ("S042", "002", 18, "anger"), ("S050", "001", 10, "sadness"),
]
SUBJECTS = sorted({s for s, *_ in SEQUENCES})


def _pixels(stem: str) -> np.ndarray:
    """A distinct 48x48 grey image per frame (so a pixel mix-up between files shows)."""
    rng = np.random.default_rng(int(stem[1:4]) * 10_000 + int(stem[5:8]) * 100 + int(stem[-2:]))
    return rng.integers(0, 256, (48, 48), dtype=np.uint8)


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_ckplus48(root: Path, rename: dict[str, str] | None = None) -> Path:
    """``root`` = the CK+48 folder, three frames per sequence; ``rename`` maps a folder to another spelling."""
    for subject, seq, last, folder in SEQUENCES:
        for frame in range(last - 2, last + 1):
            stem = f"{subject}_{seq}_{frame:08d}"
            _write(root / (rename or {}).get(folder, folder) / f"{stem}.png", _png(_pixels(stem)))
    return root


EXPECTED = {f"{s}_{q}_{f:08d}": MEANING[folder] for s, q, last, folder in SEQUENCES for f in range(last - 2, last + 1)}


@pytest.fixture(scope="module")
def ck48(tmp_path_factory) -> Path:
    return write_ckplus48(tmp_path_factory.mktemp("ck48") / "CK+48")


def _stem(member: str) -> str:
    return member.rsplit("/", 1)[-1].removesuffix(".png")


def _fold_of(data) -> dict[str, int]:
    pairs = set(zip(data.extras["subject"].tolist(), data.extras["fold"].tolist()))
    assert len(pairs) == len(dict(pairs)), "a subject in two folds"
    return dict(pairs)


def test_counts_labels_pixels_and_meta_by_hand(ck48):
    data = load_ckplus48(ck48, k=3)
    assert data.name == "ckplus" and data.classes == CANON and len(data) == 36
    assert {_stem(s): CANON[y] for s, y in zip(data.source_ids, data.labels)} == EXPECTED
    assert data.images.shape == (36, 48, 48) and data.images.dtype == np.uint8
    for s, img in zip(data.source_ids, data.images):
        np.testing.assert_array_equal(img, _pixels(_stem(s)))
    assert data.framing() == {"source": "pre-cropped", "enlarge": 1.0, "clahe": False}
    assert data.landmarks is None and np.isnan(data.pose).all()
    meta = data.meta
    assert meta["format"] == "ckplus48-folders" and meta["root"] == "" and meta["source_kind"] == "folder"
    assert meta["sha256"] == Source(ck48).sha256()
    assert meta["class_counts"] == {"happy": 6, "sad": 6, "surprise": 6, "fear": 3, "disgust": 3, "anger": 6,
                                    "contempt": 6}
    assert meta["folders"] == {f: MEANING[f] for f in sorted(MEANING)}
    assert meta["subjects"] == 10 and meta["sequences"] == 12
    assert meta["sequence_ids"] == sorted(f"{s}/{q}" for s, q, *_ in SEQUENCES)
    assert meta["sequence_labels"] == {"anger": 2, "contempt": 2, "disgust": 1, "fear": 1, "happy": 2, "sad": 2,
                                       "surprise": 2}
    assert meta["frames"] == {"neutral": 0, "peak": 36} and meta["dropped"] == {}
    assert meta["bad_names"] == [] and meta["n_bad_names"] == 0 and meta["ignored_outside"] == 0
    assert meta["listed"] == meta["kept"] == 36 and meta["rejected"] == {}
    # per-sample extras, as load_ckplus writes them
    i = list(data.source_ids).index("contempt/S026_003_00000011.png")
    assert (data.extras["subject"][i], data.extras["sequence"][i], data.extras["frame"][i]) == ("S026", "S026/003", 11)
    assert data.extras["emotion_code"][i] == 2 and set(data.extras["frame_role"]) == {"peak"}   # CK+ code 2 = contempt


def test_folds_are_subject_disjoint_and_those_load_ckplus_gives_the_same_subjects(ck48, tmp_path):
    assert {n: p.default for n, p in inspect.signature(load_ckplus48).parameters.items() if n in ("k", "fold_seed")} \
        == {n: p.default for n, p in inspect.signature(load_ckplus).parameters.items() if n in ("k", "fold_seed")}
    data = load_ckplus48(ck48)                                                    # the defaults: k=10, 10 subjects
    assert sorted(set(_fold_of(data).values())) == list(range(10))
    k, seed = 4, 3
    folds = _fold_of(load_ckplus48(ck48, k=k, fold_seed=seed))
    # the fold function on CK+'s rows (1 neutral + 3 peak frames per labelled sequence) and on CK+48's images
    for per_sequence in (4, 3):
        subjects = [s for s, *_ in SEQUENCES for _ in range(per_sequence)]
        assert dict(zip(subjects, subject_folds(subjects, k=k, seed=seed).tolist())) == folds
    # and read_ckplus itself on the same sequences in the original layout (it reads no pixels)
    ck = tmp_path / "CK+"
    for subject, seq, last, folder in SEQUENCES:
        for frame in range(1, last + 1):
            _write(ck / "cohn-kanade-images" / subject / seq / f"{subject}_{seq}_{frame:08d}.png", b"")
        code = {"anger": 1, "contempt": 2, "disgust": 3, "fear": 4, "happy": 5, "sadness": 6, "surprise": 7}[folder]
        (ck / "Emotion" / subject / seq).mkdir(parents=True)
        (ck / "Emotion" / subject / seq / f"{subject}_{seq}_{last:08d}_emotion.txt").write_text(f"   {code:.7e}\n")
    records, _ = read_ckplus(ck, k=k, fold_seed=seed)
    assert {r.subject: r.fold for r in records} == folds
    tested = []
    for t in range(k):
        part = load_ckplus48(ck48, k=k, test_fold=t, fold_seed=seed)
        sides = {s: set(part.split[part.extras["subject"] == s].tolist()) for s in SUBJECTS}
        assert all(len(v) == 1 for v in sides.values())                        # no subject on two sides
        assert {s for s, v in sides.items() if v == {"test"}} == {s for s, f in folds.items() if f == t}
        assert {s for s, v in sides.items() if v == {"val"}} == {s for s, f in folds.items() if f == (t + 1) % k}
        assert part.meta["folds"]["subjects"][str(t)] == sorted(s for s, f in folds.items() if f == t)
        tested += part.source_ids[part.split == "test"].tolist()
        apply_protocol(part, t)                                                 # the protocol check passes
    assert sorted(tested) == sorted(data.source_ids)
    with pytest.raises(ValueError, match=r"CK\+48 at .*: 10 subjects cannot fill 11"):
        load_ckplus48(ck48, k=11)


def test_contempt_is_kept_with_8_classes_and_dropped_and_counted_with_7(ck48):
    eight = load_ckplus48(ck48, k=3, fold_seed=2)
    seven = load_ckplus48(ck48, k=3, num_classes=7, fold_seed=2)
    assert "contempt" in {CANON[y] for y in eight.labels} and eight.meta["dropped"] == {}
    assert seven.classes == CANON[:7] and len(seven) == 30
    assert {_stem(s): CANON[y] for s, y in zip(seven.source_ids, seven.labels)} == {
        k: v for k, v in EXPECTED.items() if v != "contempt"}
    assert seven.meta["dropped"] == {"contempt": {"sequences": 2, "frames": 6}}
    assert seven.meta["class_counts"]["contempt"] == 6 and seven.meta["kept"] == 30
    where = {s: (f, sp) for s, f, sp in zip(eight.source_ids, eight.extras["fold"], eight.split)}
    assert all(where[s] == (f, sp) for s, f, sp in zip(seven.source_ids, seven.extras["fold"], seven.split))


def test_a_zip_a_nested_folder_and_other_spellings_read_the_same(ck48, tmp_path):
    base = load_ckplus48(ck48, k=3)
    nested = tmp_path / "downloads" / "emotions"
    shutil.copytree(ck48, nested / "CK+48")
    (nested / "notes.txt").write_text("not CK+48")
    archive = tmp_path / "CK+48.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(ck48.rglob("*.png")):
            z.write(p, "archive/data/CK+48/" + p.relative_to(ck48).as_posix())
    spelled = write_ckplus48(tmp_path / "spelled", {"anger": "Angry", "sadness": "sad", "happy": "Happiness"})
    for path, root in ((tmp_path / "downloads", "emotions/CK+48/"), (archive, "archive/data/CK+48/"), (spelled, "")):
        data = load_ckplus48(path, k=3)
        assert data.meta["root"] == root
        assert [_stem(s) for s in data.source_ids] == [_stem(s) for s in base.source_ids]
        for key in ("labels", "split", "images"):
            np.testing.assert_array_equal(getattr(data, key), getattr(base, key))
        np.testing.assert_array_equal(data.extras["fold"], base.extras["fold"])
    assert load_ckplus48(tmp_path / "downloads", k=3).meta["ignored_outside"] == 1
    assert load_ckplus48(archive, k=3).meta["sha256"] == Source(archive).sha256()
    assert load_ckplus48(spelled, k=3).meta["folders"]["Angry"] == "anger"
    with Source(archive) as src:                                                 # an open Source is read, not closed
        assert ckplus48_root(src) == "archive/data/CK+48/" and len(load_ckplus48(src, k=3)) == 36
        assert src.read(src.names()[0])


def test_a_neutral_folder_is_read_as_neutral_frames(ck48, tmp_path):
    root = tmp_path / "CK+48"
    shutil.copytree(ck48, root)
    _write(root / "neutral" / "S005_001_00000001.png", _png(_pixels("S005_001_00000001")))
    data = load_ckplus48(root, k=3)
    i = list(data.source_ids).index("neutral/S005_001_00000001.png")
    assert CANON[data.labels[i]] == "neutral" and data.extras["frame_role"][i] == "neutral"
    assert data.extras["emotion_code"][i] == 0 and data.meta["frames"] == {"neutral": 1, "peak": 36}


def test_the_ckplus_dataset_finds_and_reads_ckplus48(ck48, tmp_path):
    """Under $FERNB_DATA (or data_root), a CK+48 folder or CK+48.zip is the dataset ``ckplus``."""
    folder = tmp_path / "data"
    shutil.copytree(ck48, folder / "CK+48")
    assert fernb.data.locate("ckplus", folder) == folder / "CK+48"
    assert "ckplus" in fernb.data.present_datasets(folder)
    params = {"wild_classes": 7, "ckplus_peak_frames": 3, "k_folds": 3, "test_fold": 1, "fold_seed": 0}

    class Pipeline:                                                               # must never be used
        def process(self, *args, **kwargs):
            raise AssertionError("CK+48 is pre-cropped: no face pipeline")

    data = fernb.data.load("ckplus", folder, **fernb.data.loader_options("ckplus", params, Pipeline()))
    assert data.meta["format"] == "ckplus48-folders" and data.classes == CANON[:7] and len(data) == 30
    assert data.meta["folds"]["test_fold"] == 1 and data.meta["options_not_applied"]["pipeline"] == "Pipeline"
    np.testing.assert_array_equal(data.images, load_ckplus48(ck48, k=3, test_fold=1, num_classes=7).images)
    back = load_store(write_store(data, tmp_path / "store"))
    np.testing.assert_array_equal(back.extras["fold"], data.extras["fold"])
    assert back.framing()["source"] == "pre-cropped"
    zipped = tmp_path / "zipped"
    zipped.mkdir()
    with zipfile.ZipFile(zipped / "CK+48.zip", "w") as z:
        for p in sorted(ck48.rglob("*.png")):
            z.write(p, "CK+48/" + p.relative_to(ck48).as_posix())
    assert fernb.data.locate("ckplus", zipped) == zipped / "CK+48.zip"
    assert len(load_ckplus(zipped / "CK+48.zip", k=3)) == 36


def test_misnamed_files_are_counted_as_bad_names_naming_each(ck48, tmp_path):
    root = tmp_path / "CK+48"
    shutil.copytree(ck48, root)
    png = _png(_pixels("S005_001_00000011"))
    odd = {"readme.txt": b"CK+48", "anger/S010_004_19.png": png, "anger/S010_004_00000019.jpg": png,
           "anger/S010_004_00000019 (1).png": png, "happy/extra/S010_006_00000015.png": png}
    for rel, data in odd.items():
        _write(root / rel, data)
    data = load_ckplus48(root, k=3)
    assert len(data) == 36 and data.meta["n_bad_names"] == len(odd)
    reasons = {b["file"]: b["reason"] for b in data.meta["bad_names"]}
    assert set(reasons) == set(odd)
    assert reasons["readme.txt"] == "not inside an emotion folder"
    assert reasons["anger/S010_004_19.png"] == "name does not match S###_###_########.png"
    assert reasons["happy/extra/S010_006_00000015.png"] == "inside a sub-folder of happy/, not directly in it"


def _broken(ck48: Path, tmp_path: Path, rel: str, data: bytes | None = None, move: str | None = None) -> Path:
    root = tmp_path / "CK+48"
    shutil.copytree(ck48, root)
    if move is not None:
        (root / move).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / rel, root / move)
        return root / move
    _write(root / rel, data)
    return root / rel


@pytest.mark.parametrize("case, expected", [
    ("unknown", r": unknown emotion folder 'angst'; expected one of \[.*'anger'.*\] \(any case\), expected "
                r"CK\+48/<emotion>/S###_###_########\.png"),
    ("size", r": image is 64x48; expected 48x48 \(a CK\+48 crop\)"),
    ("unreadable", r": unreadable image \(cv2\.imdecode could not decode it: corrupt or not a PNG\); expected a 48x48 grey PNG"),
    ("empty", r": unreadable image .*; expected a 48x48 grey PNG"),
    ("two_folders", r": frame S010_004_00000019\.png is also .*anger/S010_004_00000019\.png; expected each frame in one "
                    r"emotion folder"),
    ("two_emotions", r": sequence S010_004 is fear here but anger in .*anger/S010_004_00000017\.png; expected one "
                     r"emotion per sequence"),
])
def test_bad_files_raise_naming_the_file_and_what_was_expected(ck48, tmp_path, case, expected):
    path = {
        "unknown": lambda: _broken(ck48, tmp_path, "angst/S005_001_00000011.png", _png(_pixels("S005_001_00000011"))),
        "size": lambda: _broken(ck48, tmp_path, "surprise/S032_004_00000025.png", _png(np.zeros((48, 64), np.uint8))),
        "unreadable": lambda: _broken(ck48, tmp_path, "fear/S022_005_00000017.png", b"\x89PNG\r\n\x1a\n broken"),
        "empty": lambda: _broken(ck48, tmp_path, "fear/S022_005_00000017.png", b""),
        "two_folders": lambda: _broken(ck48, tmp_path, "anger/S010_004_00000019.png", move="happy/S010_004_00000019.png"),
        "two_emotions": lambda: _broken(ck48, tmp_path, "anger/S010_004_00000019.png",
                                        move="fear/S010_004_00000020.png"),
    }[case]()
    with pytest.raises(DatasetFormatError, match=re.escape(str(path)) + expected):
        load_ckplus48(path.parents[1], k=3)


def test_no_ckplus48_layout_shows_the_expected_tree(tmp_path):
    flat = tmp_path / "flat"
    _write(flat / "S005_001_00000011.png", _png(_pixels("S005_001_00000011")))
    tree = r"CK\+48/ .*\n\s+anger/S010_004_00000017\.png\s+48x48 grey crops"
    with pytest.raises(DatasetFormatError, match=rf"(?s){re.escape(str(flat))}: no <emotion>/S###_###_########\.png "
                                                 rf"file found \(found 1 files: S005_001_00000011\.png\).*{tree}"):
        load_ckplus48(flat)
    with pytest.raises(DatasetFormatError, match=r"(?s)no cohn-kanade-images/ folder found.*" + tree):
        load_ckplus(flat)                                                        # CK+'s error shows both layouts
