"""KDEF and CK+ loaders on small datasets written in the publishers' exact layouts.

Fixtures:

- KDEF (``KDEF_and_AKDEF.zip``): ``KDEF_and_AKDEF/KDEF/AF01/AF01ANS.JPG`` ...
  (``<session><gender><id>/<session><gender><id><expression><pose>.JPG``), an ``AKDEF/``
  folder of averaged faces and a readme next to ``KDEF/``, and a few oddly named files.
  Frontal images are SynthFER photos that OpenCV's Haar cascade finds, so loading goes
  through real detection.
- CK+: ``cohn-kanade-images/Sxxx/nnn/Sxxx_nnn_NNNNNNNN.png`` (640x490, gray; one subject
  in colour), ``Emotion/Sxxx/nnn/Sxxx_nnn_NNNNNNNN_emotion.txt`` (``"   3.0000000e+00"``)
  and ``Landmarks/.../Sxxx_nnn_NNNNNNNN_landmarks.txt`` (68 lines ``"   x   y"``) written
  from each photo's true landmarks; as one folder, one zip, and the publisher's three
  zips side by side.

Publisher meanings are written out by hand below, not taken from :mod:`fernb.labels`.
"""
from __future__ import annotations

import functools
import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_loaders import _zip_folder

import fernb.data
from fernb.data.archive import Source
from fernb.data.ckplus import load_ckplus, read_ckplus
from fernb.data.core import DatasetFormatError
from fernb.data.kdef import load_kdef, read_kdef
from fernb.data.synthphotos import synthetic_photo
from fernb.faces.align import five_points, template_points
from fernb.faces.backends import Face, OpenCVBackend
from fernb.faces.pipeline import FacePipeline, decode_rgb

from conftest import NoDetection, real_data_dir

CANON = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
# KDEF readme: AF afraid, AN angry, DI disgusted, HA happy, NE neutral, SA sad, SU surprised.
KDEF_EXPRESSION = {"AF": "fear", "AN": "anger", "DI": "disgust", "HA": "happy", "NE": "neutral", "SA": "sad", "SU": "surprise"}
# FL full left, HL half left, S straight, HR half right, FR full right; fernb yaw: + = nose to image right.
KDEF_YAW = {"FL": -90.0, "HL": -45.0, "S": 0.0, "HR": 45.0, "FR": 90.0}
# CK+ README: 0=neutral, 1=anger, 2=contempt, 3=disgust, 4=fear, 5=happy, 6=sadness, 7=surprise.
CK_EMOTION = {0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy", 6: "sad", 7: "surprise"}
SIZE = 64



def _encode(image: np.ndarray, ext: str) -> bytes:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(ext, image)
    assert ok
    return buf.tobytes()


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, newline="")
    else:
        path.write_bytes(data)


def _zip(folder: Path, dest: Path, prefix: str = "") -> Path:
    """Zip ``folder``'s contents with directory entries, deflated, as the published archives are built."""
    return _zip_folder(folder, dest, prefix, compression=zipfile.ZIP_DEFLATED)


class BoxBackend:
    """A detector that finds one centred face box in any image (so every file becomes a sample)."""

    name = "box"
    has_landmarks = False

    def config(self) -> dict:
        return {"backend": self.name}

    def detect(self, image: np.ndarray) -> list[Face]:
        h, w = image.shape[:2]
        return [Face(box=np.array([0.2 * w, 0.2 * h, 0.6 * w, 0.6 * h]))]



def _haar_found(data: bytes) -> bool:
    return len(_haar().detect(decode_rgb(data))) == 1


@functools.lru_cache(maxsize=1)
def _haar() -> OpenCVBackend:
    return OpenCVBackend()


# =============================================================================== KDEF
SUBJECT_FOLDERS = [s + g + i for s in "AB" for g in "FM" for i in ("01", "02", "03")]  # 6 people x 2 sessions
KDEF_BAD = {
    "KDEF_and_AKDEF/KDEF/AF01/AF01XXS.JPG": "does not parse",
    "KDEF_and_AKDEF/KDEF/AF02/AF01HAS.JPG": "not in its subject folder AF01/",
    "KDEF_and_AKDEF/KDEF/AM01/am01nes.jpg": "upper case",
    "KDEF_and_AKDEF/KDEF/BF02/notes.txt": "not a .JPG",
    "KDEF_and_AKDEF/KDEF/AF03ANS.JPG": "the KDEF folder itself",
}


@functools.lru_cache(maxsize=1)
def _tiny_jpeg() -> bytes:
    return _encode(np.random.default_rng(0).integers(0, 256, (24, 20, 3), dtype=np.uint8), ".JPG")


@pytest.fixture(scope="module")
def kdef_all(tmp_path_factory) -> Path:
    """Every expression x pose x session of 6 people (420 tiny JPEGs) plus odd files, AKDEF and a readme."""
    root = tmp_path_factory.mktemp("kdef_all")
    base = root / "KDEF_and_AKDEF"
    for folder in SUBJECT_FOLDERS:
        for expression in KDEF_EXPRESSION:
            for pose in KDEF_YAW:
                ext = ".jpg" if folder + expression + pose == "BM03SUFR" else ".JPG"  # one lower-case extension
                _write(base / "KDEF" / folder / f"{folder}{expression}{pose}{ext}", _tiny_jpeg())
    for member in KDEF_BAD:
        _write(root / member, b"odd" if member.endswith(".txt") else _tiny_jpeg())
    _write(base / "KDEF" / "BF02" / "Thumbs.db", b"windows")           # OS junk: not even listed
    for name in ("AFAN.JPG", "AMHA.JPG"):
        _write(base / "AKDEF" / name, _tiny_jpeg())
    _write(base / "ReadThis" / "KDEF_readme.txt", "The Karolinska Directed Emotional Faces\r\n")
    return root


def _kdef_codes(member: str) -> tuple[str, str, str, str]:
    """(session, subject, expression, pose) read off a file name by hand."""
    base = member.rsplit("/", 1)[-1]
    stem = base[: -len(".JPG")]
    return stem[0], stem[1:4], stem[4:6], stem[6:]


def test_kdef_every_expression_and_pose_code_maps_by_hand(kdef_all):
    records, meta = read_kdef(kdef_all, k=3)
    assert len(records) == 420 and meta["parsed"] == 420 and meta["listed"] == 420
    seen = set()
    for r in records:
        session, subject, expression, pose = _kdef_codes(r.source_id)
        assert r.label == CANON.index(KDEF_EXPRESSION[expression]), r.source_id
        assert r.yaw == KDEF_YAW[pose], r.source_id
        assert r.subject == subject and r.source_id.startswith(f"KDEF_and_AKDEF/KDEF/{session}{subject}/")
        seen.add((expression, pose))
    assert len(seen) == 35                                         # all 7 expressions x 5 poses
    assert all(r.yaw < 0 for r in records if _kdef_codes(r.source_id)[3] in ("FL", "HL"))
    assert all(r.yaw > 0 for r in records if _kdef_codes(r.source_id)[3] in ("FR", "HR"))
    assert "KDEF_and_AKDEF/KDEF/BM03/BM03SUFR.jpg" in {r.source_id for r in records}
    assert meta["subjects"] == 6


def test_kdef_odd_files_are_counted_and_akdef_is_ignored(kdef_all):
    records, meta = read_kdef(kdef_all, k=3)
    got = {b["file"]: b["reason"] for b in meta["bad_names"]}
    assert set(got) == set(KDEF_BAD) and meta["n_bad_names"] == len(KDEF_BAD)
    for member, words in KDEF_BAD.items():
        assert words in got[member], (member, got[member])
    ids = {r.source_id for r in records}
    assert not ids & set(KDEF_BAD)
    assert not any("AKDEF/AKDEF" in i or "ReadThis" in i for i in ids)
    assert meta["ignored_outside_kdef"] == 3 and meta["kdef_folder"] == "KDEF_and_AKDEF/KDEF/"


def test_kdef_pose_and_session_filters(kdef_all):
    _, full_meta = read_kdef(kdef_all, k=3)
    full = {r.source_id: r for r in read_kdef(kdef_all, k=3)[0]}
    frontal, meta = read_kdef(kdef_all, poses=("S",), k=3)
    assert len(frontal) == 6 * 2 * 7 and {r.yaw for r in frontal} == {0.0}
    assert all(_kdef_codes(r.source_id)[3] == "S" for r in frontal)
    assert meta["filtered"] == {"session": 0, "pose": 420 - 84}
    only_b, meta = read_kdef(kdef_all, sessions=("B",), poses=("HL", "HR"), k=3)
    assert len(only_b) == 6 * 7 * 2 and meta["filtered"] == {"session": 210, "pose": 210 - 84}
    assert {_kdef_codes(r.source_id)[0] for r in only_b} == {"B"}
    assert sorted({r.yaw for r in only_b}) == [-45.0, 45.0]
    # filtering never moves a person to another fold
    for r in frontal + only_b:
        assert (r.fold, r.split) == (full[r.source_id].fold, full[r.source_id].split)
    assert meta["folds"] == full_meta["folds"]
    with pytest.raises(ValueError, match=r"poses \['X'\]"):
        read_kdef(kdef_all, poses=("S", "X"), k=3)
    with pytest.raises(ValueError, match=r"sessions \['C'\]"):
        read_kdef(kdef_all, sessions=("C",), k=3)


def test_kdef_folds_are_subject_disjoint_deterministic_and_all_used(kdef_all):
    k = 3
    records, meta = read_kdef(kdef_all, k=k, test_fold=0, fold_seed=7)
    fold_of: dict[str, set[int]] = {}
    split_of: dict[str, set[str]] = {}
    for r in records:
        fold_of.setdefault(r.subject, set()).add(r.fold)
        split_of.setdefault(r.subject, set()).add(r.split)
    # one person (sessions A and B together) sits in one fold and one split
    assert all(len(f) == 1 for f in fold_of.values()) and all(len(s) == 1 for s in split_of.values())
    assert {_kdef_codes(r.source_id)[0] for r in records if r.subject == "F01"} == {"A", "B"}
    assert sorted(f for fs in fold_of.values() for f in fs) == [0, 0, 1, 1, 2, 2]   # balanced: 2 people per fold
    for r in records:
        assert r.split == {0: "test", 1: "val", 2: "train"}[r.fold]
    assert sorted(sum(meta["folds"]["subjects"].values(), [])) == sorted(fold_of)
    again, _ = read_kdef(kdef_all, k=k, test_fold=0, fold_seed=7)
    assert [(r.source_id, r.fold) for r in again] == [(r.source_id, r.fold) for r in records]
    assignments = {tuple(sorted((s, f.pop()) for s, f in _folds(read_kdef(kdef_all, k=k, fold_seed=seed)[0]).items()))
                   for seed in range(8)}
    assert len(assignments) > 1                                    # the seed matters
    tested = []
    for t in range(k):
        recs, _ = read_kdef(kdef_all, k=k, test_fold=t, fold_seed=7)
        tested += [r.source_id for r in recs if r.split == "test"]
        assert {r.fold for r in recs if r.split == "val"} == {(t + 1) % k}
    assert sorted(tested) == sorted(r.source_id for r in records)  # every image is tested exactly once
    with pytest.raises(ValueError, match="6 subjects cannot fill 7"):
        read_kdef(kdef_all, k=7)


def _folds(records) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for r in records:
        out.setdefault(r.subject, set()).add(r.fold)
    return out


def test_kdef_zip_prefix_and_bare_kdef_folder_read_the_same(kdef_all, tmp_path):
    folder, _ = read_kdef(kdef_all, k=3)
    want = [(r.source_id, r.label, r.yaw, r.fold, r.split) for r in folder]
    z = _zip(kdef_all, tmp_path / "KDEF_and_AKDEF.zip")
    got, meta = read_kdef(z, k=3)
    assert [(r.source_id, r.label, r.yaw, r.fold, r.split) for r in got] == want and meta["source_kind"] == "zip"
    z = _zip(kdef_all, tmp_path / "download.zip", prefix="downloads/kdef/")
    got, meta = read_kdef(z, k=3)
    assert [("downloads/kdef/" + s, *rest) for s, *rest in want] == [(r.source_id, r.label, r.yaw, r.fold, r.split) for r in got]
    assert meta["n_bad_names"] == len(KDEF_BAD)
    bare, meta = read_kdef(kdef_all / "KDEF_and_AKDEF" / "KDEF", k=3)   # pointed at KDEF/ itself
    assert meta["kdef_folder"] == "" and [r.source_id for r in bare] == [s.removeprefix("KDEF_and_AKDEF/KDEF/") for s, *_ in want]


def test_kdef_wrong_layout_shows_the_expected_tree(tmp_path):
    flat = tmp_path / "flat"
    for name in ("AF01ANS.JPG", "img_0001.jpg"):
        _write(flat / name, _tiny_jpeg())
    with pytest.raises(DatasetFormatError, match=r"(?s)no KDEF/ folder.*<session><gender><id>/<session><gender><id><expression><pose>\.JPG"):
        read_kdef(flat)
    odd = tmp_path / "odd" / "KDEF" / "AF01"
    _write(odd / "portrait.JPG", _tiny_jpeg())
    with pytest.raises(DatasetFormatError, match=r"(?s)1 files but none named like a KDEF image.*AF01/\s+AF01AFFL\.JPG"):
        read_kdef(tmp_path / "odd")


def test_kdef_publisher_yaw_reaches_the_dataset(kdef_all):
    data = load_kdef(kdef_all, sessions=("A",), k=3, pipeline=FacePipeline(backend=BoxBackend(), size=32), progress=False)
    assert len(data) == 210 and data.classes == CANON[:7]
    for i, sid in enumerate(data.source_ids):
        session, subject, expression, pose = _kdef_codes(sid)
        assert data.pose[i] == KDEF_YAW[pose] and data.extras["pose_code"][i] == pose
        assert data.classes[data.labels[i]] == KDEF_EXPRESSION[expression]
        assert data.extras["session"][i] == session == "A" and data.extras["subject"][i] == subject
    assert set(data.extras["pose_source"]) == {"publisher"}
    assert (data.pose[np.isin(data.extras["pose_code"], ["FL", "HL"])] < 0).all()


# --------------------------------------------------------- KDEF through real detection
LOAD_SUBJECTS = ["AF01", "AF02", "AM01", "AM02", "BF01", "BF02", "BM01", "BM02"]
LOAD_EXPRESSIONS = ["AN", "HA"]


@functools.lru_cache(maxsize=1)
def _frontal_jpegs() -> tuple[bytes, ...]:
    """Frontal SynthFER photos (JPEG) in which OpenCV's Haar cascade finds exactly one face."""
    out = []
    for i in range(300):
        p = synthetic_photo(21, i, yaw=0.0, roll=0.0, canvas=(192, 144), face=90)
        data = _encode(p.image, ".JPG")
        if _haar_found(data):
            out.append(data)
            if len(out) == len(LOAD_SUBJECTS) * len(LOAD_EXPRESSIONS):
                return tuple(out)
    raise AssertionError(f"Haar found only {len(out)} SynthFER faces in 300")


@pytest.fixture(scope="module")
def kdef_frontal(tmp_path_factory) -> Path:
    """Straight (S) photos of 4 people x 2 sessions x 2 expressions, an undecodable and a blank file."""
    root = tmp_path_factory.mktemp("kdef_frontal")
    kdef = root / "KDEF_and_AKDEF" / "KDEF"
    photos = iter(_frontal_jpegs())
    for folder in LOAD_SUBJECTS:
        for expression in LOAD_EXPRESSIONS:
            _write(kdef / folder / f"{folder}{expression}S.JPG", next(photos))
    _write(kdef / "BM02" / "BM02SAS.JPG", b"\xff\xd8\xff\xe0 truncated, not a JPEG")
    _write(kdef / "BF02" / "BF02SAS.JPG", _encode(np.full((192, 144, 3), 128, np.uint8), ".JPG"))
    _write(kdef / "AF01" / "AF01ANS (2).JPG", _frontal_jpegs()[0])   # a copy with an odd name
    _write(root / "KDEF_and_AKDEF" / "AKDEF" / "AFAN.JPG", _tiny_jpeg())
    return root


def _check_kdef_frontal(data, prefix: str = "KDEF_and_AKDEF/KDEF/"):
    assert data.name == "kdef" and len(data) == 16 and data.images.shape == (16, SIZE, SIZE, 3)
    assert data.meta["n_rejected"] == {"unreadable": 1, "no_face": 1}
    assert [r["file"] for r in data.meta["rejected"]["unreadable"]] == [prefix + "BM02/BM02SAS.JPG"]
    assert [r["file"] for r in data.meta["rejected"]["no_face"]] == [prefix + "BF02/BF02SAS.JPG"]
    assert [b["file"] for b in data.meta["bad_names"]] == [prefix + "AF01/AF01ANS (2).JPG"]
    assert not {prefix + "BM02/BM02SAS.JPG", prefix + "BF02/BF02SAS.JPG", prefix + "AF01/AF01ANS (2).JPG"} & set(data.source_ids)
    for i, sid in enumerate(data.source_ids):
        assert data.classes[data.labels[i]] == KDEF_EXPRESSION[_kdef_codes(sid)[2]]
    assert set(data.extras["alignment"]) <= {"eyes", "box"}                      # detected, not given
    assert (data.pose == 0).all() and set(data.extras["pose_code"]) == {"S"}
    assert data.meta["listed"] == 18 and data.meta["kept"] == 16
    per_split = {s: set(data.extras["subject"][data.split == s]) for s in ("train", "val", "test")}
    assert all(per_split.values())
    assert not (per_split["train"] & per_split["val"] or per_split["train"] & per_split["test"] or per_split["val"] & per_split["test"])


def test_kdef_loads_through_detection_and_counts_rejects(kdef_frontal, tmp_path):
    pipe = FacePipeline(backend="opencv", size=SIZE)
    data = load_kdef(kdef_frontal, k=4, pipeline=pipe, progress=False)
    _check_kdef_frontal(data)
    assert data.meta["sha256"] == Source(kdef_frontal).sha256()
    z = _zip(kdef_frontal, tmp_path / "mirror.zip", prefix="mirror/")
    zipped = load_kdef(z, k=4, pipeline=pipe, progress=False)
    _check_kdef_frontal(zipped, prefix="mirror/KDEF_and_AKDEF/KDEF/")
    np.testing.assert_array_equal(zipped.images, data.images)
    np.testing.assert_array_equal(zipped.split, data.split)


def test_kdef_entry_point_and_store_round_trip(kdef_frontal, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    _zip(kdef_frontal, root / "KDEF_and_AKDEF.zip")
    (root / "unrelated.zip").write_bytes(b"")
    data = fernb.data.load("kdef", data_root=root, k=4, pipeline=FacePipeline(backend="opencv", size=SIZE), progress=False)
    _check_kdef_frontal(data)
    assert data.meta["source"] == str(root / "KDEF_and_AKDEF.zip")
    back = fernb.data.load_store(fernb.data.write_store(data, tmp_path / "store"))
    _same(back, data)


def _same(back, data):
    for key in ("images", "labels", "split", "source_ids"):
        np.testing.assert_array_equal(getattr(back, key), getattr(data, key))
    np.testing.assert_array_equal(back.pose, data.pose)          # NaN == NaN here
    assert (back.landmarks is None) == (data.landmarks is None)
    if data.landmarks is not None:
        np.testing.assert_array_equal(back.landmarks, data.landmarks)
    assert back.classes == data.classes and set(back.extras) == set(data.extras)
    for key, value in data.extras.items():
        np.testing.assert_array_equal(back.extras[key], value)
    assert back.meta["rejected"] == data.meta["rejected"] and back.meta["folds"] == data.meta["folds"]
    assert back.meta["bad_names"] == data.meta["bad_names"]


# ================================================================================ CK+
# (subject, sequence, frames, emotion code or None = no emotion file)
CK_SEQUENCES = [
    ("S005", "001", 6, 3), ("S005", "002", 4, None), ("S010", "001", 3, 7), ("S011", "001", 1, 5),
    ("S014", "001", 5, 2), ("S022", "001", 5, 1), ("S026", "001", 4, 4), ("S032", "001", 4, 6),
    ("S034", "001", 4, 0), ("S037", "001", 4, 5), ("S037", "002", 2, None),
]
# Default protocol (peak_frames=3, neutral_first): written out by hand.
CK_EXPECTED = {
    "S005_001_00000001": "neutral", "S005_001_00000004": "disgust", "S005_001_00000005": "disgust", "S005_001_00000006": "disgust",
    "S010_001_00000001": "neutral", "S010_001_00000002": "surprise", "S010_001_00000003": "surprise",   # short: 3 frames
    "S011_001_00000001": "happy",                                                                     # one frame: a peak, no neutral
    "S014_001_00000001": "neutral", "S014_001_00000003": "contempt", "S014_001_00000004": "contempt", "S014_001_00000005": "contempt",
    "S022_001_00000001": "neutral", "S022_001_00000003": "anger", "S022_001_00000004": "anger", "S022_001_00000005": "anger",
    "S026_001_00000001": "neutral", "S026_001_00000002": "fear", "S026_001_00000003": "fear", "S026_001_00000004": "fear",
    "S032_001_00000001": "neutral", "S032_001_00000002": "sad", "S032_001_00000003": "sad", "S032_001_00000004": "sad",
    "S034_001_00000001": "neutral", "S034_001_00000002": "neutral", "S034_001_00000003": "neutral", "S034_001_00000004": "neutral",
    "S037_001_00000001": "neutral", "S037_001_00000002": "happy", "S037_001_00000003": "happy", "S037_001_00000004": "happy",
}
DETECTED = "S022_001_00000001"      # no landmarks file: a Haar-detectable photo goes through detection
BLANK = "S026_001_00000004"         # no landmarks file, a blank frame: no_face
BROKEN = "S032_001_00000004"        # landmarks file, but the PNG does not decode: unreadable
CANVAS = (490, 640)


@functools.lru_cache(maxsize=1)
def _ck_detectable() -> bytes:
    for i in range(100):
        p = synthetic_photo(41, i, yaw=0.0, roll=0.0, canvas=CANVAS, face=200)
        data = _encode(cv2.cvtColor(p.image, cv2.COLOR_RGB2GRAY), ".png")
        if _haar_found(data):
            return data
    raise AssertionError("Haar found no face in 100 SynthFER photos")


@functools.cache
def _ck_frame(stem: str) -> tuple[bytes, np.ndarray | None]:
    """PNG bytes of one frame and its true landmarks (None: no landmarks file is written)."""
    if stem == DETECTED:
        return _ck_detectable(), None
    if stem == BLANK:
        return _encode(np.full(CANVAS, 118, np.uint8), ".png"), None
    p = synthetic_photo(31, sum(map(ord, stem)) * 7 + int(stem[-2:]), canvas=CANVAS if stem[:4] != "S037" else (480, 640),
                        face=180, yaw=float(int(stem[-1]) * 4 - 10))
    if stem == BROKEN:
        return b"\x89PNG\r\n\x1a\n broken", p.landmarks
    image = p.image if stem.startswith("S037") else cv2.cvtColor(p.image, cv2.COLOR_RGB2GRAY)   # S037 in colour
    return _encode(image, ".png"), p.landmarks


def write_ckplus(root: Path, landmarks: bool = True, all_landmarks: bool = False) -> Path:
    """The three CK+ folders under ``root``; returns ``root``."""
    for subject, seq, n, code in CK_SEQUENCES:
        (root / "Emotion" / subject / seq).mkdir(parents=True, exist_ok=True)   # empty for unlabelled sequences
        for f in range(1, n + 1):
            stem = f"{subject}_{seq}_{f:08d}"
            data, lm = _ck_frame(stem)
            if all_landmarks and lm is None:
                data, lm = _ck_frame(f"{subject}_{seq}_{0:08d}")      # a frame with landmarks in its place
            _write(root / "cohn-kanade-images" / subject / seq / f"{stem}.png", data)
            if landmarks and lm is not None:
                _write(root / "Landmarks" / subject / seq / f"{stem}_landmarks.txt",
                       "".join(f"   {x:.7e}   {y:.7e}\n" for x, y in lm))
        if code is not None:
            _write(root / "Emotion" / subject / seq / f"{subject}_{seq}_{n:08d}_emotion.txt", f"   {float(code):.7e}\n")
    return root


@pytest.fixture(scope="module")
def ck(tmp_path_factory) -> Path:
    """``<tmp>/CK+/{cohn-kanade-images,Emotion,Landmarks}``; returns the CK+ folder."""
    return write_ckplus(tmp_path_factory.mktemp("ck") / "CK+")


def _stem(member: str) -> str:
    return member.rsplit("/", 1)[-1].removesuffix(".png")


def test_ckplus_peak_and_neutral_frames_and_every_code_by_hand(ck):
    records, meta = read_ckplus(ck, k=3)
    got = {_stem(r.source_id): CANON[r.label] for r in records}
    assert got == CK_EXPECTED
    assert {CK_EMOTION[c] for *_, c in CK_SEQUENCES if c is not None} == set(CANON)   # all 8 codes present
    assert meta["sequences"] == 11 and meta["labelled_sequences"] == 9
    assert meta["n_unlabelled_sequences"] == 2 and meta["unlabelled_sequences"] == ["S005/002", "S037/002"]
    assert {s["sequence"]: (s["frames"], s["peaks"], s["neutral"]) for s in meta["short_sequences"]} == {
        "S010/001": (3, 2, True), "S011/001": (1, 1, False)}
    assert meta["frames"] == {"neutral": 8, "peak": 24}
    assert meta["emotion_frame_not_last"] == [] and meta["emotion_without_images"] == []
    for r in records:
        assert r.subject == _stem(r.source_id)[:4] and r.source_id.startswith(f"cohn-kanade-images/{r.subject}/")
        assert (r.landmarks is None) == (_stem(r.source_id) in (DETECTED, BLANK))
        assert np.isnan(r.yaw)
    one = next(r for r in records if _stem(r.source_id) == "S005_001_00000006")
    np.testing.assert_allclose(one.landmarks, _ck_frame("S005_001_00000006")[1], rtol=1e-7)   # (x, y), not swapped


def test_ckplus_peak_frames_and_neutral_first_options(ck):
    records, meta = read_ckplus(ck, peak_frames=1, neutral_first=False, k=3)
    got = {_stem(r.source_id): CANON[r.label] for r in records}
    assert got == {"S005_001_00000006": "disgust", "S010_001_00000003": "surprise", "S011_001_00000001": "happy",
                   "S014_001_00000005": "contempt", "S022_001_00000005": "anger", "S026_001_00000004": "fear",
                   "S032_001_00000004": "sad", "S034_001_00000004": "neutral", "S037_001_00000004": "happy"}
    assert meta["short_sequences"] == []
    records, meta = read_ckplus(ck, peak_frames=5, k=3)
    s005 = sorted(_stem(r.source_id) for r in records if r.source_id.startswith("cohn-kanade-images/S005/"))
    assert s005 == [f"S005_001_{f:08d}" for f in (1, 2, 3, 4, 5, 6)]           # 1 neutral + 5 peaks, no overlap
    assert len({r.source_id for r in records}) == len(records)
    with pytest.raises(ValueError, match="peak_frames"):
        read_ckplus(ck, peak_frames=0, k=3)


def test_ckplus_seven_classes_drop_contempt_and_keep_the_folds(ck):
    eight, _ = read_ckplus(ck, k=3, fold_seed=3)
    seven, meta = read_ckplus(ck, num_classes=7, k=3, fold_seed=3)
    assert meta["dropped"] == {"contempt": {"sequences": 1, "frames": 3}} and meta["classes"] == list(CANON[:7])
    want = {k: v for k, v in CK_EXPECTED.items() if v != "contempt"}
    assert {_stem(r.source_id): CANON[r.label] for r in seven} == want
    assert "S014_001_00000001" in want                                          # its neutral frame stays
    fold8 = {r.source_id: (r.fold, r.split) for r in eight}
    assert all(fold8[r.source_id] == (r.fold, r.split) for r in seven)


def test_ckplus_folds_are_subject_disjoint_deterministic_and_all_used(ck):
    k = 3
    records, meta = read_ckplus(ck, k=k, fold_seed=1)
    folds = _folds(records)
    assert all(len(f) == 1 for f in folds.values()) and len(folds) == 9
    assert {f for fs in folds.values() for f in fs} == set(range(k))
    assert sorted(sum(meta["folds"]["subjects"].values(), [])) == sorted(folds)
    assert [(r.source_id, r.fold) for r in read_ckplus(ck, k=k, fold_seed=1)[0]] == [(r.source_id, r.fold) for r in records]
    tested = []
    for t in range(k):
        recs, _ = read_ckplus(ck, k=k, test_fold=t, fold_seed=1)
        split = {r.subject: set() for r in recs}
        for r in recs:
            split[r.subject].add(r.split)
        assert all(len(s) == 1 for s in split.values())
        tested += [r.source_id for r in recs if r.split == "test"]
    assert sorted(tested) == sorted(r.source_id for r in records)
    with pytest.raises(ValueError, match="9 subjects cannot fill 10"):
        read_ckplus(ck)                                                          # default k=10


def _check_ck_loaded(data, prefix: str = "cohn-kanade-images/"):
    stems = [_stem(s) for s in data.source_ids]
    assert sorted(stems) == sorted(set(CK_EXPECTED) - {BLANK, BROKEN}) and data.images.shape[1:] == (SIZE, SIZE, 3)
    assert {CANON[k] for k in data.labels} == set(CANON)
    assert data.meta["n_rejected"] == {"unreadable": 1, "no_face": 1}
    assert [r["file"] for r in data.meta["rejected"]["unreadable"]] == [prefix + "S032/001/" + BROKEN + ".png"]
    assert [r["file"] for r in data.meta["rejected"]["no_face"]] == [prefix + "S026/001/" + BLANK + ".png"]
    for i, stem in enumerate(stems):
        assert data.classes[data.labels[i]] == CK_EXPECTED[stem]
        if stem != DETECTED:
            assert data.extras["alignment"][i] == "landmarks", stem
        assert data.extras["sequence"][i] == stem[:4] + "/" + stem[5:8] and data.extras["frame"][i] == int(stem[-8:])
    assert data.extras["alignment"][stems.index(DETECTED)] in ("eyes", "box")
    assert data.meta["landmarks"] == {"used": 30, "missing": 2}
    by_role = dict(zip(stems, data.extras["frame_role"]))
    assert by_role["S005_001_00000001"] == "neutral" and by_role["S005_001_00000006"] == "peak"


def test_ckplus_loads_with_shipped_landmarks_onto_the_template(ck):
    pipe = FacePipeline(backend="opencv", size=SIZE)
    data = load_ckplus(ck, k=3, pipeline=pipe, progress=False)
    _check_ck_loaded(data)
    target = template_points(SIZE, pipe.enlarge)[:2]
    given = data.extras["alignment"] == "landmarks"
    assert given.sum() == len(data) - 1
    for i in np.flatnonzero(given):
        assert np.abs(five_points(data.landmarks[i])[:2] - target).max() < 1.0
        # the crop is the one the shipped landmarks give for this very file (right file, x and y in order)
        stem = _stem(data.source_ids[i])
        folder = ck / "cohn-kanade-images" / stem[:4] / stem[5:8]
        lm = np.loadtxt(ck / "Landmarks" / stem[:4] / stem[5:8] / f"{stem}_landmarks.txt")
        ref = pipe.process(decode_rgb((folder / f"{stem}.png").read_bytes()), landmarks=lm)
        np.testing.assert_array_equal(data.images[i], ref.image)
    assert np.isfinite(data.pose[given]).all() and set(data.extras["pose_source"][given]) == {"estimated"}


def test_ckplus_shipped_landmarks_mean_no_detection(tmp_path):
    root = write_ckplus(tmp_path / "CK+", all_landmarks=True)
    data = load_ckplus(root, k=3, pipeline=FacePipeline(backend=NoDetection(), size=SIZE), progress=False)
    assert set(data.extras["alignment"]) == {"landmarks"} and data.meta["landmarks"]["missing"] == 0
    assert data.meta["n_rejected"] == {"unreadable": 1}
    no_landmarks = write_ckplus(tmp_path / "bare", landmarks=False)
    records, meta = read_ckplus(no_landmarks, k=3)
    assert meta["landmarks_folder"] is None and all(r.landmarks is None for r in records)


def test_ckplus_from_zips_and_entry_point(ck, tmp_path):
    pipe = FacePipeline(backend="opencv", size=SIZE)
    reference = load_ckplus(ck, k=3, pipeline=pipe, progress=False)
    # 1. the CK+ folder zipped under a prefix folder
    z = _zip(ck, tmp_path / "ck.zip", prefix="CK+/")
    data = load_ckplus(z, k=3, pipeline=pipe, progress=False)
    _check_ck_loaded(data, prefix="CK+/cohn-kanade-images/")
    np.testing.assert_array_equal(data.images, reference.images)
    np.testing.assert_array_equal(data.split, reference.split)
    # 2. the publisher's zips, not extracted, side by side; found by fernb.data.load
    side = tmp_path / "downloads"
    side.mkdir()
    _zip(ck / "cohn-kanade-images", side / "extended-cohn-kanade-images.zip", prefix="cohn-kanade-images/")
    _zip(ck / "Emotion", side / "Emotion_labels.zip", prefix="Emotion/")
    _zip(ck / "Landmarks", side / "Landmarks.zip", prefix="Landmarks/")
    data = fernb.data.load("ckplus", data_root=side, k=3, pipeline=pipe, progress=False)
    _check_ck_loaded(data)
    assert data.meta["emotion_folder"] == f"{side / 'Emotion_labels.zip'}:Emotion/"
    np.testing.assert_array_equal(data.images, reference.images)
    # 3. the extracted CK+ folder inside a data folder
    data = fernb.data.load("ckplus", data_root=ck.parent, k=3, pipeline=pipe, progress=False)
    _check_ck_loaded(data)
    back = fernb.data.load_store(fernb.data.write_store(data, tmp_path / "store"))
    _same(back, data)
    assert back.landmarks.shape == (len(data), 68, 2) and back.meta["landmarks"] == data.meta["landmarks"]


@pytest.mark.parametrize("content", ["   9.0000000e+00\n", "   3.5000000e+00\n", "disgust\n", "", "   3.0000000e+00   1.0000000e+00\n"])
def test_ckplus_malformed_emotion_file_names_the_file(ck, tmp_path, content):
    root = tmp_path / "CK+"
    shutil.copytree(ck, root)
    bad = root / "Emotion" / "S010" / "001" / "S010_001_00000003_emotion.txt"
    bad.write_text(content)
    with pytest.raises(DatasetFormatError, match=r"S010_001_00000003_emotion\.txt: content .*expected one number 0\.\.7"):
        read_ckplus(root, k=3)


def test_ckplus_malformed_landmarks_and_misplaced_emotion_files(ck, tmp_path):
    root = tmp_path / "CK+"
    shutil.copytree(ck, root)
    lm = root / "Landmarks" / "S005" / "001" / "S005_001_00000004_landmarks.txt"
    text = lm.read_text()
    lm.write_text("".join(text.splitlines(keepends=True)[:67]))
    with pytest.raises(DatasetFormatError, match=r"S005_001_00000004_landmarks\.txt: 67 non-empty lines; expected 68 lines"):
        read_ckplus(root, k=3)
    lm.write_text(text.replace("e+0", "e+0;", 1))
    with pytest.raises(DatasetFormatError, match=r"S005_001_00000004_landmarks\.txt: line 1 is .*expected 68 lines of two numbers"):
        read_ckplus(root, k=3)
    lm.write_text(text)
    moved = root / "Emotion" / "S010" / "002" / "S010_001_00000003_emotion.txt"
    moved.parent.mkdir()
    (root / "Emotion" / "S010" / "001" / "S010_001_00000003_emotion.txt").rename(moved)
    with pytest.raises(DatasetFormatError, match=r"S010/002/S010_001_00000003_emotion\.txt: not in its own folder S010/001/"):
        read_ckplus(root, k=3)


def test_ckplus_wrong_layout_shows_the_expected_tree(ck, tmp_path):
    flat = tmp_path / "flat"
    _write(flat / "S005_001_00000001.png", _ck_frame("S005_001_00000001")[0])
    tree = r"cohn-kanade-images/S005/001/S005_001_00000001\.png \.\.\. S005_001_00000011\.png"
    with pytest.raises(DatasetFormatError, match=r"(?s)no cohn-kanade-images/ folder found.*" + tree):
        read_ckplus(flat)
    no_labels = tmp_path / "no_labels"
    shutil.copytree(ck / "cohn-kanade-images", no_labels / "cohn-kanade-images")
    with pytest.raises(DatasetFormatError, match=r"(?s)no Emotion/ folder.*Emotion/S005/001/S005_001_00000011_emotion\.txt"):
        read_ckplus(no_labels)


# ============================================================================ real data
def _real(dataset: str) -> Path:
    folder = real_data_dir()
    path = None if folder is None else fernb.data.find_source(dataset, folder)
    if path is None or path == folder:
        pytest.skip(f"real {dataset} not found in {folder or '$FERNB_DATA / ../shared/data'}")
    return path


@pytest.mark.realdata
def test_real_kdef_parses_70_people_in_two_sessions():
    records, meta = read_kdef(_real("kdef"))
    print(f"\nKDEF: {len(records)} images, bad names {meta['bad_names'][:10]}")
    assert meta["subjects"] == 70
    assert len({r.source_id.rsplit("/", 2)[-2][0] for r in records}) == 2
    assert meta["parsed"] + meta["n_bad_names"] == meta["files"]


@pytest.mark.realdata
def test_real_ckplus_has_327_labelled_of_593_sequences():
    records, meta = read_ckplus(_real("ckplus"))
    print(f"\nCK+: {len(records)} frames, {meta['sequence_labels']}, bad names {meta['bad_names'][:10]}")
    assert meta["sequences"] == 593 and meta["labelled_sequences"] == 327
    assert meta["n_unlabelled_sequences"] == 593 - 327
