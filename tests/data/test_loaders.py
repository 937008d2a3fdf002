"""Real-dataset loaders: FER2013 (CSV and image folders) and FERPlus (folders and fer2013new.csv).

Fixtures write small files in the exact published byte formats:

- ``fer2013.csv``: ``emotion,pixels,Usage`` header, LF line ends, unquoted fields, e.g.
  ``0,70 80 82 ...,Training`` (Kaggle challenge download ``fer2013.tar.gz`` ->
  ``fer2013/fer2013.csv``).
- msambare ``archive.zip``: ``train/<class>/Training_<id>.jpg``,
  ``test/<class>/{PublicTest,PrivateTest}_<id>.jpg`` with directory entries, stored.
- ``ferplus.zip``: ``data/FER2013{Train,Valid,Test}/ferNNNNNNN.png`` + header-less
  ``label.csv`` rows ``fer0000000.png,"(0, 0, 48, 48)",4,0,0,1,3,2,0,0,0,0`` (LF), and
  ``fer2013new.csv`` with header ``Usage,Image name,neutral,...,NF``.

Real-data tests (marker ``realdata``) read ``$FERNB_DATA`` or ``../shared/data``.
"""
from __future__ import annotations

import hashlib
import tarfile
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from fernb.data.archive import Source
from fernb.data.core import DatasetFormatError
from fernb.data.fer2013 import load_fer2013
from fernb.data.ferplus import load_ferplus, vote_labels
from fernb.labels import CANONICAL, SEVEN

from conftest import real_data_dir

# Publisher meaning written out by hand (not taken from fernb.labels), canonical index of each.
FER2013_CODE = {0: "anger", 1: "disgust", 2: "fear", 3: "happy", 4: "sad", 5: "surprise", 6: "neutral"}
FOLDER_CLASS = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happy",
                "neutral": "neutral", "sad": "sad", "surprise": "surprise"}
VOTE_COLS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF"]
VOTE_CANON = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
              "anger": "anger", "disgust": "disgust", "fear": "fear", "contempt": "contempt"}
CANON_IDX = {name: i for i, name in enumerate(("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt"))}


def _img(seed: int, size=(48, 48)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=size, dtype=np.uint8)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _zip_folder(folder: Path, dest: Path, prefix: str = "", compression=zipfile.ZIP_STORED) -> Path:
    """Zip ``folder`` with directory entries, as the published archives are built."""
    with zipfile.ZipFile(dest, "w", compression) as z:
        if prefix:
            z.writestr(zipfile.ZipInfo(prefix.rstrip("/") + "/"), b"")
        for p in sorted(folder.rglob("*")):
            arc = prefix + p.relative_to(folder).as_posix()
            if p.is_dir():
                z.writestr(zipfile.ZipInfo(arc + "/"), b"")
            else:
                z.write(p, arc)
    return dest


# ============================================================================ FER2013 CSV
def write_fer2013_csv(path: Path, rows, *, newline="\n", quote=False) -> Path:
    """rows: (emotion, 48x48 uint8 | pixel string, usage) -> Kaggle's fer2013.csv bytes."""
    lines = ["emotion,pixels,Usage"]
    for emotion, pixels, usage in rows:
        text = pixels if isinstance(pixels, str) else " ".join(map(str, np.asarray(pixels).ravel()))
        lines.append(f'{emotion},"{text}",{usage}' if quote else f"{emotion},{text},{usage}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + newline).encode("ascii"))
    return path


USAGES = ["Training", "PublicTest", "PrivateTest"]


def _csv_rows(n=14):
    # every code in every usage at least once over 14 rows... codes 0..6 twice, usages cycling
    return [(i % 7, _img(i), USAGES[i % 3]) for i in range(n)]


@pytest.fixture
def fer_csv(tmp_path):
    rows = _csv_rows()
    path = write_fer2013_csv(tmp_path / "fer2013.csv", rows)
    return path, rows


def _check_csv_data(data, rows):
    assert data.name == "fer2013" and data.classes == SEVEN
    assert len(data) == len(rows)
    for i, (code, img, usage) in enumerate(rows):
        assert data.labels[i] == CANON_IDX[FER2013_CODE[code]], f"code {code}"
        assert data.split[i] == {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}[usage]
        np.testing.assert_array_equal(data.images[i], img)  # exact pixel round trip
        assert data.source_ids[i] == f"fer2013.csv:row{i}"
    assert data.images.dtype == np.uint8 and data.images.shape[1:] == (48, 48)
    assert data.meta["format"] == "fer2013-csv"


def test_fer2013_csv_labels_splits_pixels(fer_csv):
    path, rows = fer_csv
    data = load_fer2013(path)
    _check_csv_data(data, rows)
    assert data.meta["sha256"] == _sha(path)
    assert data.meta["read"] == {"train": 5, "val": 5, "test": 4}
    assert data.meta["skipped"] == [] and data.meta["n_skipped"] == 0


def test_fer2013_csv_every_code_maps_to_its_canonical_class(tmp_path):
    rows = [(code, _img(code), "Training") for code in range(7)]
    data = load_fer2013(write_fer2013_csv(tmp_path / "fer2013.csv", rows))
    assert [data.classes[k] for k in data.labels] == ["anger", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def test_fer2013_csv_from_folder_zip_and_kaggle_tar_gz(fer_csv, tmp_path):
    path, rows = fer_csv
    # a folder holding it (Kaggle's tarball extracted: fer2013/fer2013.csv)
    folder = tmp_path / "extracted"
    (folder / "fer2013").mkdir(parents=True)
    (folder / "fer2013" / "fer2013.csv").write_bytes(path.read_bytes())
    (folder / "fer2013" / "README").write_text("readme")
    _check_csv_data(load_fer2013(folder), rows)
    # fer2013.tar.gz as the challenge ships it
    tgz = tmp_path / "fer2013.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        t.add(folder / "fer2013", arcname="fer2013")
    data = load_fer2013(tgz)
    _check_csv_data(data, rows)
    assert data.meta["sha256"] == _sha(tgz) and data.meta["source_kind"] == "tar"
    # a zip with a top-level folder
    z = _zip_folder(folder, tmp_path / "fer2013.zip", prefix="data/", compression=zipfile.ZIP_DEFLATED)
    data = load_fer2013(z)
    _check_csv_data(data, rows)
    assert data.meta["member"] == "data/fer2013/fer2013.csv" and data.meta["sha256"] == _sha(z)


def test_fer2013_csv_tolerates_crlf_quotes_and_bom(tmp_path):
    rows = _csv_rows(7)
    path = write_fer2013_csv(tmp_path / "fer2013.csv", rows, newline="\r\n", quote=True)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    _check_csv_data(load_fer2013(path), rows)


@pytest.mark.parametrize("mutate, match", [
    (lambda rows: rows, None),
    (lambda rows: rows[:3] + [(1, " ".join(["7"] * 2303), "Training")] + rows[4:], r"fer2013\.csv row 3: 2303 pixel values; expected 2304"),
    (lambda rows: rows[:5] + [(1, " ".join(["7"] * 2305), "Training")] + rows[6:], r"fer2013\.csv row 5: 2305 pixel values"),
    (lambda rows: rows[:2] + [(1, " ".join(["7"] * 2303 + ["256"]), "Training")] + rows[3:], r"fer2013\.csv row 2: pixel 2303 is 256; expected integers 0\.\.255"),
    (lambda rows: rows[:2] + [(1, " ".join(["7"] * 2303 + ["-1"]), "Training")] + rows[3:], r"fer2013\.csv row 2: pixels contain '-'"),
    (lambda rows: rows[:4] + [(7, rows[4][1], "Training")] + rows[5:], r"fer2013\.csv row 4: emotion '7'; expected an integer code 0\.\.6"),
    (lambda rows: rows[:4] + [("x", rows[4][1], "Training")] + rows[5:], r"fer2013\.csv row 4: emotion 'x'"),
    (lambda rows: rows[:6] + [(3, rows[6][1], "Validation")] + rows[7:], r"fer2013\.csv row 6: Usage 'Validation'; expected one of"),
])
def test_fer2013_csv_bad_rows_name_file_and_row(tmp_path, mutate, match):
    path = write_fer2013_csv(tmp_path / "fer2013.csv", mutate(_csv_rows()))
    if match is None:
        assert len(load_fer2013(path)) == 14
        return
    with pytest.raises(DatasetFormatError, match=match):
        load_fer2013(path)


def test_fer2013_csv_other_columns_rejected(tmp_path):
    # the later Kaggle file icml_face_data.csv: `emotion, Usage, pixels`
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion, Usage, pixels\n0,Training," + " ".join(["1"] * 2304) + "\n")
    with pytest.raises(DatasetFormatError, match=r"fer2013\.csv: columns .* exactly `emotion,pixels,Usage`"):
        load_fer2013(path)
    path.write_text("emotion,pixels\n0," + " ".join(["1"] * 2304) + "\n")  # train.csv
    with pytest.raises(DatasetFormatError, match=r"fer2013\.csv: columns"):
        load_fer2013(path)
    path.write_text("emotion,pixels,Usage\n0," + " ".join(["1"] * 2304) + ",Training,extra\n")
    with pytest.raises(DatasetFormatError, match=r"fer2013\.csv row 0 \(line 2\): 4 fields; expected 3"):
        load_fer2013(path)


# ===================================================================== FER2013 image folders
def _jpeg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def write_msambare(root: Path) -> dict[str, tuple[str, str, int]]:
    """One uniform-grey JPEG per class per usage; returns member -> (class folder, usage, grey)."""
    made = {}
    k = 0
    for part, usages in (("train", ["Training"]), ("test", ["PublicTest", "PrivateTest"])):
        for cls in sorted(FOLDER_CLASS):
            (root / part / cls).mkdir(parents=True, exist_ok=True)
            for usage in usages:
                k += 1
                grey = 8 * k
                name = f"{part}/{cls}/{usage}_{1000 + k}.jpg"
                (root / name).write_bytes(_jpeg(np.full((48, 48), grey, np.uint8)))
                made[name] = (cls, usage, grey)
    return made


def _check_folder_data(data, made, prefix=""):
    assert data.meta["format"] == "fer2013-folders" and data.classes == SEVEN
    assert len(data) == len(made) == 21
    ids = list(data.source_ids)
    for name, (cls, usage, grey) in made.items():
        i = ids.index(prefix + name)
        assert data.classes[data.labels[i]] == FOLDER_CLASS[cls]
        assert data.labels[i] == CANON_IDX[FOLDER_CLASS[cls]]
        assert data.split[i] == {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}[usage]
        assert np.abs(data.images[i].astype(int) - grey).max() <= 1  # JPEG of a flat image
    assert data.meta["read"] == {"train": 7, "val": 7, "test": 7}


def test_fer2013_folders_extracted_and_zipped(tmp_path):
    made = write_msambare(tmp_path / "archive")
    _check_folder_data(load_fer2013(tmp_path / "archive"), made)
    z = _zip_folder(tmp_path / "archive", tmp_path / "archive.zip")
    data = load_fer2013(z)
    _check_folder_data(data, made)
    assert data.meta["sha256"] == _sha(z) and data.meta["source_kind"] == "zip"
    z2 = _zip_folder(tmp_path / "archive", tmp_path / "nested.zip", prefix="fer2013/", compression=zipfile.ZIP_DEFLATED)
    _check_folder_data(load_fer2013(z2), made, prefix="fer2013/")
    # a folder holding the extracted tree one level down
    _check_folder_data(load_fer2013(tmp_path), made, prefix="archive/")


def test_fer2013_folders_ignore_os_junk(tmp_path):
    made = write_msambare(tmp_path / "a")
    (tmp_path / "a" / "train" / "angry" / ".DS_Store").write_bytes(b"junk")
    (tmp_path / "a" / "train" / "Thumbs.db").write_bytes(b"junk")
    _check_folder_data(load_fer2013(tmp_path / "a"), made)


def test_fer2013_bad_layouts_name_the_file(tmp_path):
    root = tmp_path / "a"
    write_msambare(root)
    bad = root / "train" / "contempt" / "Training_1.jpg"
    bad.parent.mkdir()
    bad.write_bytes(_jpeg(np.zeros((48, 48), np.uint8)))
    with pytest.raises(DatasetFormatError, match=r"Training_1\.jpg: unknown class folder train/contempt/"):
        load_fer2013(root)
    bad.unlink()
    bad.parent.rmdir()
    bad = root / "train" / "happy" / "PublicTest_77.jpg"
    bad.write_bytes(_jpeg(np.zeros((48, 48), np.uint8)))
    with pytest.raises(DatasetFormatError, match=r"happy/PublicTest_77\.jpg: a PublicTest_ file under train/"):
        load_fer2013(root)
    bad.rename(root / "test" / "happy" / "Training_77.jpg")
    with pytest.raises(DatasetFormatError, match=r"Training_77\.jpg: a Training_ file under test/"):
        load_fer2013(root)
    (root / "test" / "happy" / "Training_77.jpg").unlink()
    big = root / "test" / "sad" / "PrivateTest_5.jpg"
    big.write_bytes(_jpeg(np.zeros((64, 48), np.uint8)))
    with pytest.raises(DatasetFormatError, match=r"PrivateTest_5\.jpg: image is 48x64; expected 48x48"):
        load_fer2013(root)
    big.unlink()
    odd = root / "test" / "sad" / "img_5.png"
    odd.write_bytes(b"x")
    with pytest.raises(DatasetFormatError, match=r"img_5\.png: file name 'img_5\.png'; expected"):
        load_fer2013(root)


def test_fer2013_unreadable_raise_or_skip(tmp_path):
    root = tmp_path / "a"
    made = write_msambare(root)
    (root / "train" / "fear" / "Training_9999.jpg").write_bytes(b"not a jpeg at all")
    (root / "test" / "fear" / "PublicTest_9998.jpg").write_bytes(b"")
    z = _zip_folder(root, tmp_path / "archive.zip")
    with pytest.raises(DatasetFormatError, match=r"archive\.zip:train/fear/Training_9999\.jpg: unreadable image"):
        load_fer2013(z)
    data = load_fer2013(z, on_unreadable="skip")
    assert len(data) == len(made) == 21
    assert data.meta["n_skipped"] == 2
    assert sorted(s["file"] for s in data.meta["skipped"]) == ["test/fear/PublicTest_9998.jpg", "train/fear/Training_9999.jpg"]
    assert all("decode" in s["reason"] for s in data.meta["skipped"])
    assert data.meta["read"] == {"train": 8, "val": 8, "test": 7}
    with pytest.raises(ValueError, match="on_unreadable"):
        load_fer2013(z, on_unreadable="ignore")


def test_fer2013_neither_layout_and_missing_path(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("hi")
    with pytest.raises(DatasetFormatError, match=r"(?s)x holds neither FER2013 layout.*emotion,pixels,Usage.*train/<class>/Training_<id>\.jpg"):
        load_fer2013(tmp_path / "x")
    with pytest.raises(FileNotFoundError, match=r"nowhere\.zip does not exist; expected fer2013\.csv"):
        load_fer2013(tmp_path / "nowhere.zip")


# =============================================================================== Source
def test_source_over_folder_zip_tar(tmp_path):
    root = tmp_path / "r"
    (root / "data" / "FER2013Train").mkdir(parents=True)
    (root / "data" / "FER2013Train" / "label.csv").write_bytes(b"a,b\n")
    (root / "fer2013.csv").write_bytes(b"x")
    z = _zip_folder(root, tmp_path / "r.zip", prefix="top/")
    t = tmp_path / "r.tar.gz"
    with tarfile.open(t, "w:gz") as tf:
        tf.add(root, arcname="top")
    for path, pre, kind in ((root, "", "folder"), (z, "top/", "zip"), (t, "top/", "tar")):
        with Source(path) as src:
            assert src.kind == kind
            assert src.names() == [pre + "data/FER2013Train/label.csv", pre + "fer2013.csv"]
            assert src.find("fer2013.csv") == [pre + "fer2013.csv"]
            assert src.find("FER2013Train/") == [pre + "data/FER2013Train/"]
            assert src.find("label.csv") == [pre + "data/FER2013Train/label.csv"]
            assert src.read(pre + "fer2013.csv") == b"x"
            assert src.open_text(pre + "data/FER2013Train/label.csv").read() == "a,b\n"
            assert dict(src.read_many([pre + "fer2013.csv"])) == {pre + "fer2013.csv": b"x"}
            assert src.where(pre + "fer2013.csv").endswith(("r/fer2013.csv", ":top/fer2013.csv"))
            assert len(src.sha256()) == 64
            with pytest.raises(FileNotFoundError, match="nope.csv does not exist"):
                src.read(pre + "nope.csv")
    assert Source(z).sha256() == _sha(z)
    assert Source(z).where("top/fer2013.csv") == f"{z}:top/fer2013.csv"
    with pytest.raises(FileNotFoundError, match=r"missing\.zip does not exist; expected a ferplus archive"):
        Source(tmp_path / "missing.zip", expected="a ferplus archive")


# ======================================================== damaged archives and odd paths
def _patch_zip(path: Path, member: str, *, method: int | None = None, flags: int | None = None) -> None:
    """Rewrite ``member``'s compression method / flag bits in its local and central headers."""
    import struct

    b = bytearray(path.read_bytes())
    name = member.encode()
    for sig, at_flags in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = b.find(sig)
        while i >= 0:
            name_at = i + (30 if sig == b"PK\x03\x04" else 46)
            if b[name_at:name_at + len(name)] == name:
                if flags is not None:
                    struct.pack_into("<H", b, i + at_flags, flags)
                if method is not None:
                    struct.pack_into("<H", b, i + at_flags + 2, method)
            i = b.find(sig, i + 4)
    path.write_bytes(bytes(b))


@pytest.fixture
def fer_zip(tmp_path):
    """A small, valid msambare-layout archive.zip (deflated) built here."""
    write_msambare(tmp_path / "a")
    return _zip_folder(tmp_path / "a", tmp_path / "archive.zip", compression=zipfile.ZIP_DEFLATED)


@pytest.mark.parametrize("keep", [0.5, 0.1, 100])
def test_truncated_zip_is_named_corrupt_by_every_loader(fer_zip, tmp_path, keep):
    """A partial download (the head of the zip, its central directory missing) is not read as
    one plain file named trunc.zip: the archive is named, said to be truncated or corrupt,
    with zipfile's reason."""
    from fernb.data.affectnet import load_affectnet
    from fernb.data.ckplus import load_ckplus
    from fernb.data.kdef import load_kdef
    from fernb.data.rafdb import load_rafdb

    data = fer_zip.read_bytes()
    trunc = tmp_path / "trunc.zip"
    trunc.write_bytes(data[: int(len(data) * keep) if keep < 1 else keep])
    want = r"trunc\.zip is not a readable zip archive \(truncated or corrupt: File is not a zip file\); expected "
    with pytest.raises(DatasetFormatError, match=want + r"fer2013\.csv"):
        load_fer2013(trunc)
    with pytest.raises(DatasetFormatError, match=want + r"ferplus\.zip"):
        load_ferplus(trunc)
    for loader in (load_rafdb, load_affectnet, load_kdef, load_ckplus):
        with pytest.raises(DatasetFormatError, match=want):
            loader(trunc)
    with pytest.raises(DatasetFormatError, match=want + "a folder, a .zip"):
        Source(trunc)


def test_truncated_tar_gz_and_tar_are_named_corrupt(tmp_path):
    root = tmp_path / "fer2013"
    write_fer2013_csv(root / "fer2013.csv", _csv_rows(200))
    for mode, suffix, label in (("w:gz", "tar.gz", "tar.gz"), ("w", "tar", "tar"), ("w:xz", "tar.xz", "tar.xz")):
        whole = tmp_path / f"fer2013.{suffix}"
        with tarfile.open(whole, mode) as tf:
            tf.add(root, arcname="fer2013")
        assert load_fer2013(whole).meta["source_kind"] == "tar"
        trunc = tmp_path / f"trunc.{suffix}"
        trunc.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        with pytest.raises(DatasetFormatError, match=rf"trunc\.{suffix} is not a readable {label} archive \(truncated or "
                           r"corrupt: .+\); expected fer2013\.csv"):
            load_fer2013(trunc)


def test_empty_and_content_free_zips_say_so(tmp_path):
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(DatasetFormatError, match=r"empty\.zip is an empty zip archive \(it holds no files\); expected fer2013\.csv"):
        load_fer2013(empty)
    with pytest.raises(DatasetFormatError, match=r"empty\.zip is an empty zip archive .*; expected ferplus\.zip"):
        load_ferplus(empty)
    junk = tmp_path / "junk.zip"
    with zipfile.ZipFile(junk, "w") as z:
        z.writestr(zipfile.ZipInfo("train/"), b"")
        z.writestr("__MACOSX/._train", b"x")
    with pytest.raises(DatasetFormatError, match=r"junk\.zip holds no files, only folder entries and OS metadata "
                       r"\(2 entries: train/, __MACOSX/\._train\)"):
        load_fer2013(junk)
    zero = tmp_path / "zero.zip"
    zero.write_bytes(b"")
    with pytest.raises(DatasetFormatError, match=r"zero\.zip is not a readable zip archive \(truncated or corrupt: "
                       r"the file is empty, 0 bytes\)"):
        load_fer2013(zero)
    tar = tmp_path / "empty.tar.gz"
    tarfile.open(tar, "w:gz").close()
    with pytest.raises(DatasetFormatError, match=r"empty\.tar\.gz is an empty tar\.gz archive"):
        load_fer2013(tar)


def test_crc_corrupted_member_names_archive_and_member(tmp_path):
    write_msambare(tmp_path / "a")
    z = _zip_folder(tmp_path / "a", tmp_path / "archive.zip")       # stored: the JPEG bytes are in the file as is
    member = "train/happy/Training_1004.jpg"
    raw = bytearray(z.read_bytes())
    payload = (tmp_path / "a" / member).read_bytes()
    at = raw.index(payload) + len(payload) // 2
    raw[at] ^= 0xFF
    z.write_bytes(bytes(raw))
    with pytest.raises(DatasetFormatError, match=rf"archive\.zip:{member}: the zip archive is corrupt \(Bad CRC-32 for "
                       rf"file '{member}'\); download it again"):
        load_fer2013(z)
    with pytest.raises(DatasetFormatError, match="Bad CRC-32"):   # not an unreadable image to skip: the download is damaged
        load_fer2013(z, on_unreadable="skip")
    with Source(z) as src:
        assert src.read("train/angry/Training_1001.jpg")            # the other members still read
        with pytest.raises(DatasetFormatError, match=rf"{member}: the zip archive is corrupt"):
            src.read(member)
    # deflated data that no longer inflates
    d = _zip_folder(tmp_path / "a", tmp_path / "deflated.zip", compression=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(d) as zf:
        info = zf.getinfo(member)
    raw = bytearray(d.read_bytes())
    start = info.header_offset + 30 + len(member.encode())
    raw[start:start + 8] = b"\xff" * 8
    d.write_bytes(bytes(raw))
    with Source(d) as src, pytest.raises(DatasetFormatError, match=rf"deflated\.zip:{member}: the zip archive is corrupt \(.+\)"):
        src.read(member)


def test_unsupported_compression_and_encryption_are_named(tmp_path):
    z = tmp_path / "win.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("fer2013.csv", b"emotion,pixels,Usage\n")
        zf.writestr("secret.csv", b"x")
    _patch_zip(z, "fer2013.csv", method=9)          # Deflate64, as Windows writes large archives
    _patch_zip(z, "secret.csv", flags=0x1)
    with Source(z) as src:
        with pytest.raises(DatasetFormatError, match=r"win\.zip:fer2013\.csv: compressed with Deflate64 .*cannot read"):
            src.read("fer2013.csv")
        with pytest.raises(DatasetFormatError, match=r"win\.zip:secret\.csv: the member is encrypted"):
            src.read("secret.csv")


def test_paths_that_are_no_folder_and_no_readable_archive(tmp_path):
    import os

    page = tmp_path / "fer2013.zip"                 # what a download without login saves
    page.write_bytes(b"<!DOCTYPE html>\n<html><body>Please sign in</body></html>\n")
    with pytest.raises(DatasetFormatError, match=r"fer2013\.zip is not a readable zip archive \(truncated or corrupt: File is "
                       r"not a zip file; it begins with text, '<!DOCTYPE html> <html><body>Please sign.*expected fer2013\.csv"):
        load_fer2013(page)
    rar = tmp_path / "ferplus.rar"
    rar.write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(64))
    with pytest.raises(DatasetFormatError, match=r"ferplus\.rar is a RAR archive, which fernb cannot read: extract it .*; "
                       r"expected ferplus\.zip"):
        load_ferplus(rar)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    with pytest.raises(DatasetFormatError, match=r"(?s)notes\.txt is a single file whose first line 'my notes' is not "
                       r"fer2013\.csv's header emotion,pixels,Usage, and not a folder or a readable \.zip/\.tar\.gz; expected\n"):
        load_fer2013(notes)
    with pytest.raises(DatasetFormatError, match=r"notes\.txt is a single file whose first line 'my notes' is not "
                       r"fer2013new\.csv's header Usage,Image name,"):
        load_ferplus(notes)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        with pytest.raises(DatasetFormatError, match=r"pipe is neither a folder nor a regular file .*; expected fer2013\.csv"):
            load_fer2013(fifo)


# ========================================================================= FERPlus rules
# (votes in file order: neutral happiness surprise sadness anger disgust fear contempt unknown NF)
MAJORITY_CASES = [
    # votes,                               ties="drop",          ties="first"
    ([6, 1, 0, 0, 3, 0, 0, 0, 0, 0], ("neutral", ""), ("neutral", "")),
    ([0, 0, 0, 0, 0, 0, 0, 10, 0, 0], ("contempt", ""), ("contempt", "")),
    ([4, 4, 0, 0, 0, 0, 0, 0, 2, 0], (None, "tie"), ("neutral", "")),       # tie -> first in file order
    ([0, 0, 3, 3, 0, 0, 0, 0, 4, 0], (None, "unknown"), (None, "unknown")),  # unknown beats the emotions
    ([0, 0, 3, 4, 0, 0, 0, 0, 3, 0], ("sadness", ""), ("sadness", "")),     # unknown below top: kept
    ([0, 4, 0, 0, 0, 0, 0, 0, 2, 4], (None, "nf"), (None, "nf")),           # NF equal to top -> dropped
    ([0, 4, 0, 0, 0, 0, 0, 0, 4, 2], (None, "unknown"), (None, "unknown")),  # unknown equal to top
    ([0, 0, 0, 0, 0, 0, 0, 0, 5, 5], (None, "nf"), (None, "nf")),           # no emotion votes at all
    ([0, 0, 0, 0, 2, 2, 2, 0, 1, 1], (None, "tie"), ("anger", "")),         # three-way tie
    ([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], (None, "nf"), (None, "nf")),           # 8-way tie, NF ties top
    ([0, 0, 0, 0, 0, 0, 5, 0, 0, 5], (None, "nf"), (None, "nf")),
    ([0, 0, 0, 0, 0, 7, 0, 3, 0, 0], ("disgust", ""), ("disgust", "")),
]
FERPLUS_CASES = [
    # votes,                              label/None, reason  -- after zeroing 1s, strict > half of the rest
    ([6, 1, 0, 0, 3, 0, 0, 0, 0, 0], "neutral", ""),       # [6,0,..,3]: 6 > 4.5
    ([5, 1, 1, 1, 1, 1, 0, 0, 0, 0], "neutral", ""),       # [5]: 5 > 2.5 (ones are outliers)
    ([4, 3, 0, 0, 0, 0, 0, 0, 3, 0], None, "no_majority"),  # 4 > 5? no  (majority rule keeps neutral)
    ([4, 4, 1, 1, 0, 0, 0, 0, 0, 0], None, "no_majority"),  # [4,4]: 4 > 4? no
    ([3, 2, 1, 1, 1, 1, 1, 0, 0, 0], "neutral", ""),       # [3,2]: 3 > 2.5
    ([2, 0, 0, 0, 0, 0, 0, 0, 6, 2], None, "unknown"),     # unknown 6 > 5
    ([0, 2, 0, 0, 0, 0, 0, 0, 0, 8], None, "nf"),          # NF 8 > 5
    ([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], None, "no_majority"),  # everything zeroed
    ([0, 0, 0, 0, 0, 0, 0, 6, 2, 2], "contempt", ""),      # 6 > 5
    ([0, 0, 2, 0, 0, 0, 3, 0, 0, 5], None, "no_majority"),  # NF 5 > 5? no
    ([0, 0, 0, 2, 0, 0, 0, 0, 0, 0], "sadness", ""),      # 2 > 1
]


@pytest.mark.parametrize("ties", ["drop", "first"])
def test_majority_rule_by_hand(ties):
    votes = np.array([c[0] for c in MAJORITY_CASES])
    label, reason = vote_labels(votes, "majority", ties)
    for k, case in enumerate(MAJORITY_CASES):
        want_name, want_reason = case[1] if ties == "drop" else case[2]
        assert reason[k] == want_reason, (case[0], ties)
        assert label[k] == (-1 if want_name is None else VOTE_COLS.index(want_name)), (case[0], ties)


def test_ferplus_rule_by_hand():
    votes = np.array([c[0] for c in FERPLUS_CASES])
    label, reason = vote_labels(votes, "ferplus")
    for k, (v, want_name, want_reason) in enumerate(FERPLUS_CASES):
        assert reason[k] == want_reason, v
        assert label[k] == (-1 if want_name is None else VOTE_COLS.index(want_name)), v


def test_vote_rule_arguments_checked():
    with pytest.raises(ValueError, match="rule must be one of"):
        vote_labels(np.zeros((1, 10)), "plurality")
    with pytest.raises(ValueError, match="ties must be one of"):
        vote_labels(np.zeros((1, 10)), "majority", "random")
    with pytest.raises(ValueError, match=r"votes must be \(N, 10\)"):
        vote_labels(np.zeros((1, 9)))


# ======================================================================= FERPlus folders
def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def _label_line(name: str, votes) -> str:
    return f'{name},"(0, 0, 48, 48)",' + ",".join(map(str, votes)) + "\n"


def _clear(emotion: int) -> list[int]:
    v = [0] * 10
    v[emotion] = 8
    v[(emotion + 1) % 8] = 2
    return v


# per split: (row index in fer2013.csv, votes) -- every emotion in train, plus drops
FERPLUS_ROWS = {
    "FER2013Train": [(i, _clear(i)) for i in range(8)] + [
        (8, [4, 4, 0, 0, 0, 0, 0, 0, 2, 0]),   # tie (ferplus rule: no_majority)
        (9, [0, 0, 0, 0, 0, 0, 0, 0, 3, 7]),   # NF
        (10, [2, 0, 3, 0, 0, 0, 0, 0, 5, 0]),  # unknown
    ],
    "FER2013Valid": [(12, _clear(1)), (13, _clear(7)), (14, [0, 0, 0, 3, 0, 0, 0, 0, 3, 4])],
    "FER2013Test": [(16, _clear(2)), (17, _clear(6)), (18, [4, 3, 0, 0, 0, 0, 0, 0, 3, 0])],
}
SPLIT_OF = {"FER2013Train": "train", "FER2013Valid": "val", "FER2013Test": "test"}


def write_ferplus_folders(root: Path, rows=FERPLUS_ROWS) -> dict[str, tuple[str, np.ndarray, list[int]]]:
    made = {}
    for folder, entries in rows.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        lines = []
        for r, votes in entries:
            name = f"fer{r:07d}.png"
            img = _img(100 + r)
            (root / folder / name).write_bytes(_png(img))
            lines.append(_label_line(name, votes))
            made[f"{folder}/{name}"] = (SPLIT_OF[folder], img, votes)
        (root / folder / "label.csv").write_text("".join(lines), newline="")
    return made


def _check_ferplus(data, made, prefix=""):
    assert data.name == "ferplus" and data.classes == CANONICAL
    ids = list(data.source_ids)
    # the 8 clear images of train land on their canonical index, pixels exact, votes kept
    for e in range(8):
        i = ids.index(f"{prefix}FER2013Train/fer{e:07d}.png")
        assert data.labels[i] == CANON_IDX[VOTE_CANON[VOTE_COLS[e]]]
        assert data.split[i] == "train"
        np.testing.assert_array_equal(data.images[i], made[f"FER2013Train/fer{e:07d}.png"][1])
        np.testing.assert_array_equal(data.votes[i], _clear(e))
    assert data.votes.dtype == np.int16 and data.votes.shape == (len(data), 10)
    np.testing.assert_array_equal(data.extras["face_box"], np.tile([0, 0, 48, 48], (len(data), 1)))
    assert data.meta["read"] == {"train": 11, "val": 3, "test": 3}
    for s in ("train", "val", "test"):
        assert data.meta["kept"][s] + sum(data.meta["dropped"][s].values()) == data.meta["read"][s]
        assert data.meta["kept"][s] == int((data.split == s).sum())


def test_ferplus_folders_majority(tmp_path):
    made = write_ferplus_folders(tmp_path / "data")
    data = load_ferplus(tmp_path)  # the folders sit one level down, in data/
    _check_ferplus(data, made, prefix="data/")
    assert data.meta["rule"] == "majority" and data.meta["ties"] == "drop"
    assert data.meta["dropped"] == {"train": {"nf": 1, "tie": 1, "unknown": 1}, "val": {"nf": 1}, "test": {}}
    assert data.meta["kept"] == {"train": 8, "val": 2, "test": 3}
    got = {sid.split("/")[-1]: (data.classes[k], s) for sid, k, s in zip(data.source_ids, data.labels, data.split)}
    assert got["fer0000012.png"] == ("happy", "val") and got["fer0000013.png"] == ("contempt", "val")
    assert got["fer0000016.png"] == ("surprise", "test") and got["fer0000017.png"] == ("fear", "test")
    assert got["fer0000018.png"] == ("neutral", "test")  # 4 neutral > 3 unknown
    assert data.meta["format"] == "ferplus-folders"


def test_ferplus_zip_with_top_folder_rules_and_classes(tmp_path):
    made = write_ferplus_folders(tmp_path / "src")
    (tmp_path / "src" / "LICENSE.md").write_text("MIT")
    z = _zip_folder(tmp_path / "src", tmp_path / "ferplus.zip", prefix="data/")
    data = load_ferplus(z)
    _check_ferplus(data, made, prefix="data/")
    assert data.meta["sha256"] == _sha(z)
    first = load_ferplus(z, ties="first")
    assert first.meta["dropped"]["train"] == {"nf": 1, "unknown": 1}
    tie = list(first.source_ids).index("data/FER2013Train/fer0000008.png")
    assert first.classes[first.labels[tie]] == "neutral"
    official = load_ferplus(z, rule="ferplus")
    # train row 10 [2,0,3,0,0,0,0,0,5,0]: unknown holds 5 of 10, not strictly more than half -> no majority
    assert official.meta["dropped"] == {"train": {"nf": 1, "no_majority": 2}, "val": {"no_majority": 1},
                                        "test": {"no_majority": 1}}
    assert official.meta["ties"] is None
    seven = load_ferplus(z, num_classes=7)
    assert seven.classes == SEVEN
    assert seven.meta["dropped"]["train"]["contempt"] == 1 and seven.meta["dropped"]["val"] == {"contempt": 1, "nf": 1}
    assert "data/FER2013Train/fer0000007.png" not in list(seven.source_ids)
    assert len(seven) == len(data) - 2 and seven.labels.max() <= 6
    with pytest.raises(ValueError, match="7 or 8"):
        load_ferplus(z, num_classes=6)


def test_ferplus_known_name_collision_dropped(tmp_path):
    rows = {k: list(v) for k, v in FERPLUS_ROWS.items()}
    rows["FER2013Test"] = rows["FER2013Test"] + [(33120, _clear(0))]
    write_ferplus_folders(tmp_path, rows)
    data = load_ferplus(tmp_path)
    assert data.meta["dropped"]["test"] == {"pixels_votes_mismatch": 1}
    assert data.meta["read"]["test"] == 4 and data.meta["kept"]["test"] == 3


def _rewrite(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new, 1), newline="")


def test_ferplus_bad_folders_name_file_and_row(tmp_path):
    root = tmp_path / "data"
    write_ferplus_folders(root)
    label = root / "FER2013Valid" / "label.csv"
    good = label.read_text()
    _rewrite(label, ",0,0,0,0,0\n", ",0,0,0,0\n")
    with pytest.raises(DatasetFormatError, match=r"FER2013Valid/label\.csv row 0 \(line 1\): 11 columns; expected 12"):
        load_ferplus(tmp_path)
    label.write_text(good.replace('",0,8,', '",0,-8,', 1), newline="")
    with pytest.raises(DatasetFormatError, match=r"FER2013Valid/label\.csv row 0 \(fer0000012\.png\): happiness vote count '-8'; expected a non-negative integer"):
        load_ferplus(tmp_path)
    label.write_text(good.replace('",0,8,', '",0,8.5,', 1), newline="")
    with pytest.raises(DatasetFormatError, match=r"label\.csv row 0 \(fer0000012\.png\): happiness vote count '8\.5'"):
        load_ferplus(tmp_path)
    label.write_text(good.replace('"(0, 0, 48, 48)"', '"0 0 48 48"', 1), newline="")
    with pytest.raises(DatasetFormatError, match=r"label\.csv row 0 \(fer0000012\.png\): face box"):
        load_ferplus(tmp_path)
    label.write_text("Image name,Face,n,h,s,s,a,d,f,c,u,NF\n" + good, newline="")
    with pytest.raises(DatasetFormatError, match=r"FER2013Valid/label\.csv row 0: a header row"):
        load_ferplus(tmp_path)
    label.write_text(good + _label_line("fer0000099.png", _clear(0)), newline="")
    with pytest.raises(DatasetFormatError, match=r"FER2013Valid/label\.csv row 3 lists fer0000099\.png but .*FER2013Valid/fer0000099\.png does not exist"):
        load_ferplus(tmp_path)
    label.write_text(good, newline="")
    (root / "FER2013Valid" / "fer0000098.png").write_bytes(_png(_img(1)))
    (root / "FER2013Test" / "fer0000097.png").write_bytes(_png(_img(1)))
    with pytest.warns(UserWarning, match=r"2 PNG\(s\) not listed .*FER2013Valid: 1 \(e\.g\. fer0000098\.png\)"):
        data = load_ferplus(tmp_path)
    assert data.meta["unlisted_png"] == {"FER2013Valid": 1, "FER2013Test": 1}
    assert data.meta["read"] == {"train": 11, "val": 3, "test": 3}
    (root / "FER2013Valid" / "fer0000098.png").unlink()
    (root / "FER2013Test" / "fer0000097.png").unlink()
    (root / "FER2013Test" / "fer0000016.png").write_bytes(_png(_img(1, size=(40, 48))))
    with pytest.raises(DatasetFormatError, match=r"FER2013Test/fer0000016\.png: image is 48x40; expected 48x48"):
        load_ferplus(tmp_path)
    (root / "FER2013Test" / "fer0000016.png").write_bytes(_png(_img(1)))
    (root / "FER2013Test" / "label.csv").unlink()
    with pytest.raises(DatasetFormatError, match=r"FER2013Test: no label\.csv; expected data/FER2013Test/label\.csv"):
        load_ferplus(tmp_path)
    for p in (root / "FER2013Test").iterdir():
        p.unlink()
    (root / "FER2013Test").rmdir()
    with pytest.raises(DatasetFormatError, match=r"FERPlus split folder\(s\) \['FER2013Test'\] missing"):
        load_ferplus(tmp_path)


def test_ferplus_unreadable_raise_or_skip(tmp_path):
    write_ferplus_folders(tmp_path / "data")
    (tmp_path / "data" / "FER2013Train" / "fer0000003.png").write_bytes(b"\x89PNG garbage")
    z = _zip_folder(tmp_path / "data", tmp_path / "ferplus.zip", prefix="data/")
    with pytest.raises(DatasetFormatError, match=r"ferplus\.zip:data/FER2013Train/fer0000003\.png: unreadable image"):
        load_ferplus(z)
    data = load_ferplus(z, on_unreadable="skip")
    assert data.meta["n_skipped"] == 1 and data.meta["skipped"][0]["file"] == "data/FER2013Train/fer0000003.png"
    assert data.meta["dropped"]["train"] == {"nf": 1, "tie": 1, "unknown": 1, "unreadable": 1}
    assert data.meta["kept"]["train"] + 4 == data.meta["read"]["train"] == 11


def test_ferplus_no_layout(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "readme.txt").write_text("hi")
    with pytest.raises(DatasetFormatError, match=r"(?s)x holds no FERPlus layout.*FER2013Train/label\.csv.*fer2013new\.csv"):
        load_ferplus(tmp_path / "x")
    with pytest.raises(FileNotFoundError, match=r"nope\.zip does not exist"):
        load_ferplus(tmp_path / "nope.zip")


# ================================================================ FERPlus fer2013new.csv
NEW_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"


def _new_rows():
    """fer2013.csv rows 0..19 and their fer2013new.csv rows, from FERPLUS_ROWS, with
    empty names for the rows FERPlus removed and one duplicated name (rows 15, 19)."""
    by_row = {r: (folder, v) for folder, entries in FERPLUS_ROWS.items() for r, v in entries}
    usage_of = {"FER2013Train": "Training", "FER2013Valid": "PublicTest", "FER2013Test": "PrivateTest"}
    fer_rows, new_lines = [], []
    for r in range(20):
        usage = "Training" if r < 12 else "PublicTest" if r < 16 else "PrivateTest"
        if r in by_row:
            folder, votes = by_row[r]
            assert usage_of[folder] == usage
            name = f"fer{r:07d}.png"
        elif r == 19:
            votes, name = [0, 0, 0, 0, 0, 0, 0, 0, 0, 10], "fer0000015.png"  # a name collision, as in the real file
        elif r == 15:
            votes, name = _clear(3), "fer0000015.png"
        else:
            votes, name = [0, 0, 0, 0, 0, 0, 0, 0, 0, 10], ""
        fer_rows.append((r % 7, _img(100 + r), usage))
        new_lines.append(f"{usage},{name}," + ",".join(map(str, votes)) + "\n")
    return fer_rows, new_lines


def test_ferplus_from_fer2013new_and_fer2013_csv(tmp_path):
    fer_rows, new_lines = _new_rows()
    fer = write_fer2013_csv(tmp_path / "fer" / "fer2013.csv", fer_rows)
    tgz = tmp_path / "fer2013.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        t.add(fer, arcname="fer2013/fer2013.csv")
    new = tmp_path / "ferplus" / "fer2013new.csv"
    new.parent.mkdir()
    new.write_text(NEW_HEADER + "".join(new_lines), newline="")
    for fer_path, new_path in ((fer, new), (tgz, new.parent)):
        data = load_ferplus(new_path, fer2013=fer_path)
        assert data.meta["format"] == "ferplus-fer2013new"
        assert data.meta["read"] == {"train": 12, "val": 4, "test": 4}
        # train: rows 8 tie, 9 NF, 10 unknown, 11 empty name; val: row 14 NF; test: row 19 NF
        assert data.meta["dropped"] == {
            "train": {"nf": 1, "removed_by_ferplus": 1, "tie": 1, "unknown": 1},
            "val": {"nf": 1},
            "test": {"nf": 1},
        }
        assert data.meta["duplicate_names"] == {"fer0000015.png": [15, 19]}
        ids = list(data.source_ids)
        for e in range(8):
            i = ids.index(f"fer2013new.csv:row{e}:fer{e:07d}.png")
            assert data.labels[i] == CANON_IDX[VOTE_CANON[VOTE_COLS[e]]]
            np.testing.assert_array_equal(data.images[i], _img(100 + e))  # pixels from the aligned fer2013.csv row
        i = ids.index("fer2013new.csv:row15:fer0000015.png")
        assert data.classes[data.labels[i]] == "sad" and data.split[i] == "val"
        assert data.meta["fer2013_sha256"] == _sha(fer_path)
    # the same images and labels as the folder form of the same data
    write_ferplus_folders(tmp_path / "folders")
    folders = load_ferplus(tmp_path / "folders")
    by_name = {s.split(":")[-1]: (k, sp) for s, k, sp in zip(data.source_ids, data.labels, data.split)}
    for s, k, sp in zip(folders.source_ids, folders.labels, folders.split):
        assert by_name[s.split("/")[-1]] == (k, sp)


def test_ferplus_fer2013new_errors(tmp_path):
    fer_rows, new_lines = _new_rows()
    fer = write_fer2013_csv(tmp_path / "fer2013.csv", fer_rows)
    new = tmp_path / "fp" / "fer2013new.csv"
    new.parent.mkdir()
    new.write_text(NEW_HEADER + "".join(new_lines), newline="")
    with pytest.raises(DatasetFormatError, match=r"only fer2013new\.csv found .* pass fer2013="):
        load_ferplus(new.parent)
    new.write_text(NEW_HEADER + "".join(new_lines[:-1]), newline="")
    with pytest.raises(DatasetFormatError, match=r"fer2013new\.csv has 19 rows but .*fer2013\.csv has 20"):
        load_ferplus(new, fer2013=fer)
    swapped = new_lines[:12] + [new_lines[12].replace("PublicTest", "Training")] + new_lines[13:]
    new.write_text(NEW_HEADER + "".join(swapped), newline="")
    with pytest.raises(DatasetFormatError, match=r"fer2013new\.csv row 12: Usage Training but .*fer2013\.csv row 12 says PublicTest"):
        load_ferplus(new, fer2013=fer)
    new.write_text(NEW_HEADER + "".join(new_lines[:3] + [new_lines[3].replace(",0,", ",x,", 1)] + new_lines[4:]), newline="")
    with pytest.raises(DatasetFormatError, match=r"fer2013new\.csv row 3: .* vote count 'x'"):
        load_ferplus(new, fer2013=fer)
    new.write_text(NEW_HEADER.replace("NF", "nonface") + "".join(new_lines), newline="")
    with pytest.raises(DatasetFormatError, match=r"fer2013new\.csv: header"):
        load_ferplus(new, fer2013=fer)
    new.write_text(NEW_HEADER + "".join(new_lines), newline="")
    write_msambare(tmp_path / "msambare")
    with pytest.raises(DatasetFormatError, match=r"msambare: no fer2013\.csv found \(that is the image-folder copy"):
        load_ferplus(new, fer2013=tmp_path / "msambare")


# ============================================================================ real data
def _real(name: str) -> Path:
    folder = real_data_dir()
    if folder is None or not (folder / name).is_file():
        where = folder if folder is not None else "$FERNB_DATA (unset) or ../shared/data (absent)"
        pytest.skip(f"real-data file {name} not found in {where}; set FERNB_DATA to the folder holding it")
    return folder / name


FER2013_TRAIN = {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "neutral": 4965, "sad": 4830, "surprise": 3171}
FER2013_TEST = {"angry": 958, "disgust": 111, "fear": 1024, "happy": 1774, "neutral": 1233, "sad": 1247, "surprise": 831}


@pytest.mark.realdata
def test_real_fer2013_zip():
    path = _real("fer2013_msambare.zip")
    t0 = time.perf_counter()
    data = load_fer2013(path)
    print(f"\nload_fer2013({path.name}): {time.perf_counter() - t0:.2f} s, {data}")
    assert data.meta["sha256"] == "5ee324b72688a55fc2fc11412565c5a3e6156fdfa1c3c8312d37939f29c4aa76"
    assert data.meta["format"] == "fer2013-folders" and data.meta["n_skipped"] == 0
    counts = data.counts()
    assert {s: int(counts[s].sum()) for s in ("train", "val", "test")} == {"train": 28709, "val": 3589, "test": 3589}
    for folder, canon in FOLDER_CLASS.items():
        assert counts.loc[canon, "train"] == FER2013_TRAIN[folder], folder
        assert counts.loc[canon, "val"] + counts.loc[canon, "test"] == FER2013_TEST[folder], folder
    assert data.images.shape == (35887, 48, 48)


@pytest.mark.realdata
def test_real_ferplus_zip():
    path = _real("ferplus.zip")
    read = {"train": 28558, "val": 3579, "test": 3573}
    for kwargs in ({}, {"rule": "ferplus"}):
        t0 = time.perf_counter()
        data = load_ferplus(path, **kwargs)
        print(f"\nload_ferplus({path.name}, {kwargs}): {time.perf_counter() - t0:.2f} s, {data}")
        print("  kept", data.meta["kept"], "dropped", data.meta["dropped"])
        assert data.meta["sha256"] == "fab60155f3bb3c131f4700ebc8b8c5ec269db9ccbe3445e896ecce3151756695"
        assert data.meta["read"] == read
        for s in read:
            assert data.meta["kept"][s] + sum(data.meta["dropped"][s].values()) == read[s]
            assert int((data.split == s).sum()) == data.meta["kept"][s]
        assert data.meta["dropped"]["test"]["pixels_votes_mismatch"] == 1
        assert data.votes.shape == (len(data), 10) and data.votes.sum(axis=1).max() == 10
