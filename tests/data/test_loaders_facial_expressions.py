"""The facial_expressions loader (muxspace/facial_expressions), on a small set written in the published layout.

Fixture (``facial_expressions/``, as a folder and as zips with and without that top folder)::

    facial_expressions/LICENSE
    facial_expressions/data/legend.csv     "user.id,image,emotion", LF, the emotion in mixed case
                                           ("HAPPINESS", "happiness", "SADNESS", "sadness" ...)
    facial_expressions/images/<Name>_0001.jpg

The photos are SynthFER faces on a background (:func:`fernb.data.synthphotos.synthetic_photo`),
grayscale or colour JPEGs like the published ones, that OpenCV's Haar cascade finds, so loading
goes through real detection; plus a blank photo (no face), a truncated JPEG (unreadable), a
listed photo that is not there (missing), a row with an unknown label, a photo of two faces
and a photo nobody lists. The publisher's label names are written out by hand below, not
taken from :mod:`fernb.labels`.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_loaders import _zip_folder

import fernb.data
from fernb.data import DatasetFormatError, load_store, write_store
from fernb.data.archive import Source
from fernb.data.facialexpressions import load_facial_expressions, read_facial_expressions
from fernb.data.protocols import apply_protocol, check_protocol, describe_protocol
from fernb.data.synthphotos import synthetic_photo
from fernb.faces.backends import OpenCVBackend
from fernb.faces.pipeline import FacePipeline, decode_rgb

from conftest import real_data_dir

CANON = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
# legend.csv's emotion names (any case) -> the canonical class, by hand
MEANING = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad", "anger": "anger",
           "disgust": "disgust", "fear": "fear", "contempt": "contempt"}
SIZE = 48
TOP = "facial_expressions/"
IMG = TOP + "images/"

# (user.id, image, emotion as written, what the file is)
GOOD = [
    ("302", "Aaron_Eckhart_0001.jpg", "neutral", "gray"),
    ("dwdii", "Abdullah_Gul_0001.jpg", "HAPPINESS", "gray"),
    ("jhamski", "Dwarakish_72.jpg", "happiness", "colour"),
    ("302", "Al_Gore_0002.jpg", "SADNESS", "gray"),
    ("JN721", "Anna_Kournikova_0001.jpg", "sadness", "colour"),
    ("dwdii", "Ben_Affleck_0001.jpg", "surprise", "gray"),
    ("302", "Colin_Powell_0001.jpg", "ANGER", "gray"),
    ("dwdii", "Halle_Berry_0001.jpg", "DISGUST", "gray"),
    ("628", "Jennifer_Aniston_0001.jpg", "fear", "colour"),
    ("dwdii", "John_Kerry_0001.jpg", "contempt", "gray"),
]
BLANK = ("302", "Blank_Wall_0001.jpg", "neutral", "blank")
BROKEN = ("dwdii", "Corrupt_File_0001.jpg", "anger", "broken")
MISSING = ("302", "Missing_Person_0001.jpg", "happiness", "missing")
UNKNOWN = ("jhamski", "Odd_Label_0001.jpg", "joy", "gray")
TWO = ("dwdii", "Two_People_0001.jpg", "surprise", "two")
ROWS = GOOD + [BLANK, BROKEN, MISSING, UNKNOWN, TWO]
UNLISTED = "Not_Listed_0001.jpg"
UNKNOWN_LINE = 2 + ROWS.index(UNKNOWN)          # the header is line 1


def _jpeg(image: np.ndarray) -> bytes:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buf.tobytes()


@functools.lru_cache(maxsize=1)
def _haar() -> OpenCVBackend:
    return OpenCVBackend()


@functools.lru_cache(maxsize=1)
def _faces() -> tuple[np.ndarray, ...]:
    """Frontal SynthFER photos (RGB) in which OpenCV's Haar cascade finds exactly one face."""
    out = []
    for i in range(200):
        image = synthetic_photo(5, i, yaw=0.0, roll=0.0, canvas=(200, 200), face=110).image
        if len(_haar().detect(decode_rgb(_jpeg(image)))) == 1:
            out.append(image)
            if len(out) == len(GOOD) + 4:
                return tuple(out)
    raise AssertionError(f"Haar found only {len(out)} SynthFER faces in 200")


def _file(kind: str, k: int) -> bytes:
    """The bytes of a photo of ``kind``; ``k`` picks the face (GOOD's photos are all different)."""
    faces = _faces()
    if kind == "blank":
        return _jpeg(np.full((200, 200), 140, np.uint8))
    if kind == "broken":
        return b"\xff\xd8\xff\xe0 a truncated JPEG"
    if kind == "two":
        pair = np.hstack([faces[-1], faces[-2]])
        data = _jpeg(cv2.cvtColor(pair, cv2.COLOR_RGB2GRAY))
        assert len(_haar().detect(decode_rgb(data))) == 2
        return data
    image = faces[k]
    return _jpeg(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if kind == "gray" else image)


def write_facial_expressions(root: Path, rows=ROWS, unlisted: bool = True) -> Path:
    """``root/facial_expressions/`` in the published layout; returns ``root``."""
    top = root / "facial_expressions"
    (top / "data").mkdir(parents=True, exist_ok=True)
    (top / "images").mkdir(exist_ok=True)
    (top / "LICENSE").write_text("Apache License\nVersion 2.0, January 2004\n")
    lines = ["user.id,image,emotion"] + [f"{user},{image},{emotion}" for user, image, emotion, _ in rows]
    (top / "data" / "legend.csv").write_bytes(("\n".join(lines) + "\n").encode())
    for k, (_, image, _, kind) in enumerate(rows):
        if kind != "missing":
            (top / "images" / image).write_bytes(_file(kind, k if k < len(GOOD) else len(GOOD)))
    if unlisted:
        (top / "images" / UNLISTED).write_bytes(_file("gray", len(GOOD) + 1))
    return root


@pytest.fixture(scope="module")
def fe(tmp_path_factory) -> Path:
    return write_facial_expressions(tmp_path_factory.mktemp("fe"))


def _pipe(**kw) -> FacePipeline:
    return FacePipeline(backend="opencv", size=SIZE, **kw)


# ============================================================================ parsing (no pixels)
def test_labels_map_case_insensitively_by_hand(fe):
    records, meta = read_facial_expressions(fe, on_unknown_label="skip")
    by_id = {r.source_id: r for r in records}
    for user, image, emotion, kind in ROWS:
        if (user, image, emotion, kind) == UNKNOWN:
            assert IMG + image not in by_id
            continue
        rec = by_id[IMG + image]
        assert CANON[rec.label] == MEANING[emotion.lower()], image
        assert rec.split == "test" and rec.subject == "" and rec.fold == -1
    assert [r.source_id for r in records] == [IMG + r[1] for r in ROWS if r != UNKNOWN]   # legend order
    assert meta["labels"] == {"anger": 2, "contempt": 1, "disgust": 1, "fear": 1, "happiness": 3, "joy": 1,
                              "neutral": 2, "sadness": 2, "surprise": 2}
    assert meta["labels_as_written"]["SADNESS"] == 1 and meta["labels_as_written"]["sadness"] == 1
    assert meta["records"] == {"train": 0, "val": 0, "test": len(ROWS) - 1} and meta["test_only"] is True
    assert meta["legend"] == TOP + "data/legend.csv" and meta["images_folder"] == IMG
    assert meta["rows"] == len(ROWS) and meta["users"]["dwdii"] == 6


def test_unknown_label_raises_naming_file_line_image_and_label(fe):
    legend = fe / "facial_expressions" / "data" / "legend.csv"
    with pytest.raises(DatasetFormatError, match=rf"legend\.csv line {UNKNOWN_LINE}: label 'joy' for Odd_Label_0001\.jpg; "
                                                 r"expected one of .*'happiness'.*on_unknown_label='skip'") as err:
        read_facial_expressions(fe)
    assert str(legend) in str(err.value)
    _, meta = read_facial_expressions(fe, on_unknown_label="skip")
    assert list(meta["rejected"]) == ["unknown_label"]
    assert [r["file"] for r in meta["rejected"]["unknown_label"]] == [IMG + "Odd_Label_0001.jpg"]
    assert f"label 'joy' (legend.csv line {UNKNOWN_LINE})" in meta["rejected"]["unknown_label"][0]["detail"]
    with pytest.raises(ValueError, match="on_unknown_label must be 'raise' or 'skip', got 'drop'"):
        read_facial_expressions(fe, on_unknown_label="drop")
    with pytest.raises(ValueError, match="7 or 8"):
        read_facial_expressions(fe, num_classes=6, on_unknown_label="skip")


def test_seven_classes_drop_contempt_and_count_it(fe):
    records, meta = read_facial_expressions(fe, num_classes=7, on_unknown_label="skip")
    assert len(records) == len(ROWS) - 2 and meta["dropped"] == {"test": {"contempt": 1}}
    assert IMG + "John_Kerry_0001.jpg" not in {r.source_id for r in records}
    assert max(r.label for r in records) < 7 and meta["classes"] == list(CANON[:7])
    _, meta8 = read_facial_expressions(fe, on_unknown_label="skip")
    assert meta8["dropped"] == {}


def test_unlisted_and_other_files_are_counted(fe):
    _, meta = read_facial_expressions(fe, on_unknown_label="skip")
    assert meta["unlisted"] == [{"file": IMG + UNLISTED, "detail": "under images/ but not listed in data/legend.csv"}]
    assert meta["n_unlisted"] == 1 and meta["files_under_images"] == len(ROWS)     # - missing + unlisted
    assert meta["ignored_outside_images"] == 1                                      # LICENSE


def test_repeated_and_conflicting_rows(tmp_path):
    rows = GOOD[:3] + [("628", GOOD[0][1], "NEUTRAL", "gray"), ("302", GOOD[1][1], "sadness", "gray")]
    root = write_facial_expressions(tmp_path, rows=rows, unlisted=False)
    records, meta = read_facial_expressions(root)
    assert [r.source_id for r in records] == [IMG + GOOD[0][1], IMG + GOOD[2][1]]
    assert [r["file"] for r in meta["rejected"]["repeated_row"]] == [IMG + GOOD[0][1]]
    assert "line 5 repeats line 2" in meta["rejected"]["repeated_row"][0]["detail"]
    conflict = meta["rejected"]["conflicting_labels"]
    assert [r["file"] for r in conflict] == [IMG + GOOD[1][1]] * 2
    assert "'HAPPINESS' (line 3), 'sadness' (line 6)" in conflict[0]["detail"]


def test_a_photo_listed_in_another_case_is_missing_with_a_hint(tmp_path):
    root = write_facial_expressions(tmp_path, rows=GOOD[:2], unlisted=False)
    images = root / "facial_expressions" / "images"
    (images / GOOD[1][1]).rename(images / GOOD[1][1].replace(".jpg", ".JPG"))
    records, meta = read_facial_expressions(root)
    assert [r.source_id for r in records] == [IMG + GOOD[0][1]]
    assert meta["rejected"]["missing_file"] == [{"file": IMG + GOOD[1][1], "detail": (
        f"listed by data/legend.csv but not in the source ({IMG}Abdullah_Gul_0001.JPG differs only in case)")}]
    assert [u["file"] for u in meta["unlisted"]] == [IMG + "Abdullah_Gul_0001.JPG"]


def test_wrong_layouts_show_the_expected_tree(tmp_path, fe):
    tree = r"data/legend\.csv\s+header: user\.id,image,emotion"
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "Al_Gore_0002.jpg").write_bytes(_file("gray", 0))
    with pytest.raises(DatasetFormatError, match=rf"(?s)no data/legend\.csv found; found 1 files: Al_Gore_0002\.jpg.*{tree}"):
        read_facial_expressions(flat)
    no_images = tmp_path / "no_images" / "data"
    no_images.mkdir(parents=True)
    (no_images / "legend.csv").write_text("user.id,image,emotion\n302,Al_Gore_0002.jpg,anger\n")
    with pytest.raises(DatasetFormatError, match=rf"(?s)but no photos under images/.*{tree}"):
        read_facial_expressions(tmp_path / "no_images")
    header = tmp_path / "header"
    (header / "images").mkdir(parents=True)
    (header / "images" / "Al_Gore_0002.jpg").write_bytes(_file("gray", 0))
    (header / "data").mkdir()
    (header / "data" / "legend.csv").write_text("image,emotion\nAl_Gore_0002.jpg,anger\n")
    with pytest.raises(DatasetFormatError, match=rf"(?s)header is 'image,emotion'; expected user\.id,image,emotion.*{tree}"):
        read_facial_expressions(header)
    (header / "data" / "legend.csv").write_text("user.id,image,emotion\n302,Al_Gore_0002.jpg\n")
    with pytest.raises(DatasetFormatError, match=r"legend\.csv line 2: 2 columns; expected 3"):
        read_facial_expressions(header)


def test_zips_with_and_without_the_top_folder_read_the_same(fe, tmp_path):
    folder, meta = read_facial_expressions(fe, on_unknown_label="skip")
    want = [(r.source_id, r.label) for r in folder]
    z = _zip_folder(fe, tmp_path / "facial_expressions_dev.zip")
    got, zmeta = read_facial_expressions(z, on_unknown_label="skip")
    assert [(r.source_id, r.label) for r in got] == want and zmeta["source_kind"] == "zip"
    assert zmeta["unlisted"] == meta["unlisted"] and zmeta["rejected"] == meta["rejected"]
    bare = _zip_folder(fe / "facial_expressions", tmp_path / "bare.zip")            # no top folder
    got, bmeta = read_facial_expressions(bare, on_unknown_label="skip")
    assert [(TOP + r.source_id, r.label) for r in got] == want and bmeta["root"] == ""
    inner, _ = read_facial_expressions(fe / "facial_expressions", on_unknown_label="skip")   # the folder itself
    assert [(TOP + r.source_id, r.label) for r in inner] == want


# ============================================================================ through the face pipeline
def _check(data, prefix: str = IMG, *, num_classes: int = 8):
    assert data.name == "facial_expressions" and data.classes == CANON[:num_classes]
    assert set(data.split) == {"test"} and data.images.shape[1:] == (SIZE, SIZE, 3)
    good = [r for r in GOOD if num_classes == 8 or r[2] != "contempt"]
    assert list(data.source_ids) == [prefix + r[1] for r in good] + [prefix + TWO[1]]
    assert data.meta["n_rejected"] == {"unknown_label": 1, "missing_file": 1, "unreadable": 1, "no_face": 1}
    for reason, row in (("unknown_label", UNKNOWN), ("missing_file", MISSING), ("unreadable", BROKEN), ("no_face", BLANK)):
        assert [r["file"] for r in data.meta["rejected"][reason]] == [prefix + row[1]], reason
    assert data.meta["multiple_faces_kept_largest"] == [prefix + TWO[1]]
    assert data.meta["listed"] == data.meta["kept"] + sum(data.meta["n_rejected"].values()) == len(ROWS) - (num_classes == 7)
    assert data.meta["kept"] == len(data) == len(good) + 1
    assert [u["file"] for u in data.meta["unlisted"]] == [prefix + UNLISTED]
    for i, sid in enumerate(data.source_ids):
        row = next(r for r in ROWS if prefix + r[1] == sid)
        assert data.classes[data.labels[i]] == MEANING[row[2].lower()], sid
        assert data.extras["user_id"][i] == row[0] and data.extras["emotion"][i] == row[2]
    assert set(data.extras["alignment"]) <= {"eyes", "box"}                  # detected: nothing ships
    assert "publisher" not in set(data.extras["pose_source"]) and data.meta["test_only"] is True


def test_loads_through_detection_and_counts_every_photo(fe, tmp_path):
    data = load_facial_expressions(fe, on_unknown_label="skip", pipeline=_pipe(), progress=False)
    _check(data)
    assert data.meta["sha256"] == Source(fe).sha256() and data.meta["source_kind"] == "folder"
    z = _zip_folder(fe, tmp_path / "mirror.zip", prefix="mirror/")
    zipped = load_facial_expressions(z, on_unknown_label="skip", pipeline=_pipe(), progress=False)
    _check(zipped, prefix="mirror/" + IMG)
    np.testing.assert_array_equal(zipped.images, data.images)
    with pytest.raises(DatasetFormatError, match="label 'joy' for Odd_Label_0001.jpg"):
        load_facial_expressions(fe, pipeline=_pipe(), progress=False)


def test_seven_classes_and_several_faces_rejected(fe):
    data = load_facial_expressions(fe, num_classes=7, on_unknown_label="skip", pipeline=_pipe(), progress=False)
    _check(data, num_classes=7)
    assert data.meta["dropped"] == {"test": {"contempt": 1}}
    strict = load_facial_expressions(fe, on_unknown_label="skip", pipeline=_pipe(multiple="reject"), progress=False)
    assert strict.meta["n_rejected"]["multiple_faces"] == 1 and strict.meta["multiple_faces_kept_largest"] == []
    assert [r["file"] for r in strict.meta["rejected"]["multiple_faces"]] == [IMG + TWO[1]]
    assert IMG + TWO[1] not in set(strict.source_ids) and len(strict) == len(GOOD)


def test_entry_point_store_and_test_only_protocol(fe, tmp_path, monkeypatch):
    root = tmp_path / "downloads"
    root.mkdir()
    _zip_folder(fe, root / "facial_expressions_dev.zip")
    assert fernb.data.find_source("facial_expressions", root) == root / "facial_expressions_dev.zip"
    assert "facial_expressions" in fernb.data.DATASETS and "facial_expressions" in fernb.data.WILD
    pipe = _pipe()
    options = fernb.data.loader_options("facial_expressions", {"wild_classes": 8, "k_folds": 5}, pipe)
    assert options == {"num_classes": 8, "pipeline": pipe}
    data = fernb.data.load("facial_expressions", data_root=root, on_unknown_label="skip", progress=False, **options)
    _check(data, prefix=IMG)
    assert data.meta["source"] == str(root / "facial_expressions_dev.zip")
    back = load_store(write_store(data, tmp_path / "project" / "data" / "prepared" / "facial_expressions"))
    for key in ("images", "labels", "split", "source_ids"):
        np.testing.assert_array_equal(getattr(back, key), getattr(data, key))
    for key in ("user_id", "emotion", "alignment"):
        np.testing.assert_array_equal(back.extras[key], data.extras[key])
    assert back.meta["rejected"] == data.meta["rejected"] and back.meta["unlisted"] == data.meta["unlisted"]

    # test-only: training on it is refused with a clear message; scoring it is fine
    for refuse in (lambda d: apply_protocol(d), lambda d: check_protocol(d)):
        with pytest.raises(ValueError, match=r"facial_expressions is a test-only dataset .*cannot be trained on"):
            refuse(back)
    with pytest.raises(ValueError, match="test-only"):
        apply_protocol(back, 0, training=False)
    assert apply_protocol(back, training=False) is back
    info = describe_protocol(back)
    assert info["kind"].startswith("test-only") and info["sizes"] == {"train": 0, "val": 0, "test": len(back)}
    renamed = dataclasses.replace(back, name="fe-copy", meta={**back.meta})
    with pytest.raises(ValueError, match="test-only"):         # meta["test_only"] alone is enough
        check_protocol(renamed)

    from fernb.evaluate import transfer as tr
    from fernb.evaluate import transfer_report as trr
    monkeypatch.setenv("FERNB_ROOT", str(tmp_path / "project"))
    targets = tr.load_targets(["facial_expressions", "rafdb"])
    assert isinstance(targets["facial_expressions"], fernb.data.FERData) and len(targets["facial_expressions"]) == len(data)
    assert isinstance(targets["rafdb"], FileNotFoundError)
    assert trr.target_table(targets).loc["facial_expressions", "train images"] == 0


# ============================================================================ real data
# /work/shared/data/README.md: 1,162 photos, per label after case-folding
REAL_COUNTS = {"neutral": 300, "happiness": 300, "surprise": 184, "sadness": 134, "anger": 126, "disgust": 104,
               "fear": 10, "contempt": 4}
REAL_SHA256 = "bc398aee2f298b3db8791d8c5b6f373eedc4d28b97fc71b7cddf238df6dbd67b"


def _real() -> Path:
    folder = real_data_dir()
    path = None if folder is None else fernb.data.find_source("facial_expressions", folder)
    if path is None or path == folder:
        pytest.skip(f"real facial_expressions (facial_expressions_dev.zip) not found in "
                    f"{folder or '$FERNB_DATA / ../shared/data'}; set FERNB_DATA to the folder holding it")
    return path


@pytest.mark.realdata
def test_real_legend_counts_match_the_readme():
    path = _real()
    records, meta = read_facial_expressions(path)
    assert meta["rows"] == len(records) == 1162 and meta["labels"] == REAL_COUNTS
    assert {"SADNESS", "sadness", "HAPPINESS", "happiness"} <= set(meta["labels_as_written"])
    assert meta["n_unlisted"] == 0 and meta["rejected"] == {} and len(meta["users"]) == 5
    assert {CANON[r.label] for r in records} == set(CANON) and {r.split for r in records} == {"test"}
    if path.name == "facial_expressions_dev.zip":
        assert Source(path).sha256() == REAL_SHA256


@pytest.mark.realdata
def test_real_archive_loads_through_opencv_and_counts_no_face_photos():
    path = _real()
    t0 = time.perf_counter()
    data = load_facial_expressions(path, pipeline=_pipe(), progress=False)
    seconds = time.perf_counter() - t0
    n = data.meta["n_rejected"]
    print(f"\nfacial_expressions (OpenCV Haar): {len(data)} of {data.meta['listed']} photos gave a face in {seconds:.1f} s; "
          f"rejected {n}; several faces (largest kept) {len(data.meta['multiple_faces_kept_largest'])}; "
          f"per class {dict(zip(data.classes, np.bincount(data.labels, minlength=len(data.classes)).tolist()))}")
    assert data.meta["listed"] == 1162 and data.meta["kept"] == len(data) > 0
    assert data.meta["kept"] + sum(n.values()) == 1162
    assert set(n) <= {"no_face", "unreadable", "bad_fit"} and set(data.split) == {"test"}
    assert len(data.meta["rejected"].get("no_face", [])) == n.get("no_face", 0)
