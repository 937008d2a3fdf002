"""RAF-DB basic and AffectNet (manually annotated) loaders, on fixtures in the published layouts.

Fixtures write the publishers' byte formats:

- RAF-DB ``basic/``: ``EmoLabel/list_patition_label.txt`` (sic) lines ``train_00001.jpg 5``
  (LF; CRLF tested too), ``Image/aligned/train_00001_aligned.jpg`` (100x100 SynthFER face
  crops), ``Image/original/train_00001.jpg`` (SynthFER faces pasted and tilted on a
  background), ``Annotation/manual/train_00001_manu_attri.txt`` (5 tab-separated ``x y``
  lines, then gender, race, age), ``Annotation/boundingbox/train_00001_boundingbox.txt``
  (``x1 y1 x2 y2``).
- AffectNet: ``Manually_Annotated_file_lists/{training,validation}.csv`` with the published
  header and 136 ``;``-separated landmark numbers, ``Manually_Annotated_Images/<dir>/<sha224>.jpg``.

Each as a folder, a zip, and a zip with a prefix folder. The publishers' label meanings are
written out here by hand, not imported from :mod:`fernb.labels`.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_loaders import _zip_folder

from fernb.data import DatasetFormatError, load, load_store, write_store
from fernb.data.affectnet import load_affectnet, read_affectnet
from fernb.data.folds import carve_val
from fernb.data.photos import FaceRecord
from fernb.data.rafdb import load_rafdb, read_rafdb
from fernb.data.synthfer import render_sample
from fernb.data.synthphotos import synthetic_photo
from fernb.faces.align import five_points, similarity_transform, template_points, transform_points
from fernb.faces.backends import Face
from fernb.faces.pipeline import FacePipeline, decode_rgb

from conftest import NoDetection

CANON = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
# RAF-DB basic, EmoLabel/list_patition_label.txt, as the publisher's README states it
RAF_MEANING = {1: "surprise", 2: "fear", 3: "disgust", 4: "happy", 5: "sad", 6: "anger", 7: "neutral"}
# AffectNet training.csv / validation.csv `expression`, as the publisher's README states it
AFFECT_MEANING = {0: "neutral", 1: "happy", 2: "sad", 3: "surprise", 4: "fear", 5: "disgust", 6: "anger",
                  7: "contempt", 8: "none", 9: "uncertain", 10: "non-face"}
AFFECT_HEADER = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"
SIZE = 48


class FixedFace:
    """A backend that 'finds' one face with eyes and counts its calls."""

    has_landmarks = False

    def __init__(self):
        self.calls = 0

    def config(self):
        return {"backend": "fixed"}

    def detect(self, image, boxes=None):
        self.calls += 1
        return [Face(box=np.array([40.0, 30, 90, 90]), eyes=np.array([[70.0, 65], [100.0, 65]]))]


def _pipe(backend=None, **kw):
    return FacePipeline(backend=backend or NoDetection(), size=SIZE, **kw)


def _jpg(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buf.tobytes()


def _photo(seed: int, i: int):
    return synthetic_photo(seed, i, canvas=(160, 200), face=90, yaw=0.0)


def _eye_error(true_landmarks: np.ndarray, crop_landmarks: np.ndarray) -> tuple[float, float]:
    """(largest residual of the similarity from the true landmarks to the crop's, largest
    distance of the true eye centres mapped into the crop from the template's eyes)."""
    m = similarity_transform(true_landmarks, crop_landmarks)
    residual = np.linalg.norm(transform_points(true_landmarks, m) - crop_landmarks, axis=1).max()
    eyes = transform_points(five_points(true_landmarks)[:2], m)
    return float(residual), float(np.linalg.norm(eyes - template_points(SIZE)[:2], axis=1).max())


def _assert_round_trip(data, back):
    assert back.name == data.name and back.classes == data.classes
    for key in ("images", "labels", "split", "source_ids", "pose"):
        np.testing.assert_array_equal(getattr(back, key), getattr(data, key))
    assert (back.landmarks is None) == (data.landmarks is None)
    if data.landmarks is not None:
        np.testing.assert_array_equal(back.landmarks, data.landmarks)
    assert set(back.extras) == set(data.extras)
    for key in data.extras:
        np.testing.assert_array_equal(back.extras[key], data.extras[key])
    for key in ("rejected", "n_rejected", "val", "rows", "records", "alignment", "sha256"):
        assert back.meta[key] == data.meta[key], key


# =================================================================================== RAF-DB
RAF_TRAIN, RAF_TEST = 28, 7          # 4 train and 1 test image per code
NO_MANUAL, BAD_MANUAL, NO_ANNOTATION, SWAPPED = "train_00005", "train_00006", "train_00007", "train_00008"


def write_rafdb(root: Path, *, newline: str = "\n") -> dict[str, dict]:
    """A RAF-DB ``basic/`` folder; returns file name -> {code, photo}."""
    for d in ("EmoLabel", "Image/aligned", "Image/original", "Annotation/manual", "Annotation/boundingbox"):
        (root / d).mkdir(parents=True, exist_ok=True)
    truth, lines = {}, []
    names = [f"train_{i + 1:05d}.jpg" for i in range(RAF_TRAIN)] + [f"test_{j + 1:04d}.jpg" for j in range(RAF_TEST)]
    for k, name in enumerate(names):
        code = k % 7 + 1
        stem = name[:-4]
        face = render_sample(3, "test", k, image_size=100, rgb=True, masks=False).image
        photo = _photo(3, k)
        (root / "Image/aligned" / f"{stem}_aligned.jpg").write_bytes(_jpg(face))
        (root / "Image/original" / name).write_bytes(_jpg(photo.image))
        if stem not in (NO_MANUAL, NO_ANNOTATION):
            p5 = five_points(photo.landmarks)[[1, 0, 2, 4, 3] if stem == SWAPPED else slice(None)]   # eyes right-left
            text = "".join(f"{x:.2f}\t{y:.2f}\n" for x, y in p5) + "1\n2\n2\n"     # then gender, race, age
            (root / "Annotation/manual" / f"{stem}_manu_attri.txt").write_text("x\ty\n" * 2 if stem == BAD_MANUAL else text)
        if stem != NO_ANNOTATION:
            x, y, w, h = photo.box
            (root / "Annotation/boundingbox" / f"{stem}_boundingbox.txt").write_text(f"{x:.1f} {y:.1f} {x + w:.1f} {y + h:.1f}\n")
        lines.append(f"{name} {code}")
        truth[name] = {"code": code, "photo": photo}
    (root / "EmoLabel/list_patition_label.txt").write_bytes((newline.join(lines) + newline).encode("ascii"))
    return truth


@pytest.fixture(scope="module")
def rafdb(tmp_path_factory):
    base = tmp_path_factory.mktemp("rafdb")
    truth = write_rafdb(base / "basic")
    _zip_folder(base / "basic", base / "basic.zip", prefix="basic/")
    _zip_folder(base / "basic", base / "RAF-DB.zip", prefix="datasets/RAF-DB/basic/")
    return base, truth


def _raf_name(source_id: str) -> str:
    """``.../Image/aligned/train_00001_aligned.jpg`` -> ``train_00001.jpg``."""
    return source_id.rsplit("/", 1)[-1].replace("_aligned", "")


def _check_rafdb(data, truth, variant="aligned"):
    assert data.name == "rafdb" and data.classes == CANON[:7]
    assert len(data) == len(truth) and data.images.shape == (len(truth), SIZE, SIZE, 3)
    for sid, label, split in zip(data.source_ids, data.labels, data.split):
        name = _raf_name(sid)
        assert sid.endswith(f"Image/aligned/{name[:-4]}_aligned.jpg" if variant == "aligned" else f"Image/original/{name}")
        assert data.classes[label] == RAF_MEANING[truth[name]["code"]], name
        assert label == CANON.index(RAF_MEANING[truth[name]["code"]])
        assert split in (("test",) if name.startswith("test_") else ("train", "val")), name
    assert data.meta["rows"] == {"train": RAF_TRAIN, "test": RAF_TEST}
    assert data.meta["val"]["from"] == "train" and data.meta["n_rejected"] == {}


def test_rafdb_aligned_labels_and_splits_from_folder_zip_and_prefixed_zip(rafdb):
    base, truth = rafdb
    for path, root in ((base / "basic", ""), (base / "basic.zip", "basic/"), (base / "RAF-DB.zip", "datasets/RAF-DB/basic/")):
        data = load_rafdb(path, pipeline=_pipe(), progress=False)     # NoDetection: aligned faces are never detected
        _check_rafdb(data, truth)
        assert data.meta["root"] == root and data.meta["variant"] == "aligned"
        assert set(data.extras["alignment"]) == {"aligned"}
        # the whole 100x100 aligned face, only resized and CLAHE'd (not cropped again)
        i = list(data.source_ids).index(f"{root}Image/aligned/test_0003_aligned.jpg")
        face = cv2.resize(render_sample(3, "test", RAF_TRAIN + 2, image_size=100, rgb=True, masks=False).image,
                          (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        assert np.corrcoef(data.images[i].astype(float).ravel(), face.astype(float).ravel())[0, 1] > 0.8
    assert data.meta["source_kind"] == "zip" and len(data.meta["sha256"]) == 64


def test_rafdb_val_is_a_stratified_seeded_part_of_train(rafdb):
    base, truth = rafdb
    records, meta = read_rafdb(base / "basic.zip", val_fraction=0.25, val_seed=0)
    assert len(records) == RAF_TRAIN + RAF_TEST and all(r.aligned for r in records)
    val = {r.source_id for r in records if r.split == "val"}
    train = {r.source_id for r in records if r.split == "train"}
    assert not val & train and all(_raf_name(s).startswith("train_") for s in val | train)
    assert len(val | train) == RAF_TRAIN
    # 4 train images per class, a quarter each -> exactly one per class in val
    assert sorted(r.label for r in records if r.split == "val") == list(range(7))
    assert meta["val"]["size"] == 7 and meta["records"] == {"train": 21, "val": 7, "test": 7}
    assert meta["val"]["per_class"] == {c: 1 for c in CANON[:7]}
    again, _ = read_rafdb(base / "basic", val_fraction=0.25, val_seed=0)   # same seed, folder: same val
    assert {_raf_name(r.source_id) for r in again if r.split == "val"} == {_raf_name(s) for s in val}
    other, _ = read_rafdb(base / "basic", val_fraction=0.25, val_seed=1)
    assert {_raf_name(r.source_id) for r in other if r.split == "val"} != {_raf_name(s) for s in val}
    _, meta = read_rafdb(base / "basic", val_fraction=0.0)
    assert meta["records"]["val"] == 0 and meta["records"]["train"] == RAF_TRAIN
    with pytest.raises(ValueError, match="val_fraction"):
        read_rafdb(base / "basic", val_fraction=1.0)


def test_carve_val_rounds_per_class_keeps_one_in_train_and_ignores_listing_order():
    def make():
        return ([FaceRecord(f"a{i:02d}", 0, "train") for i in range(20)] + [FaceRecord(f"b{i}", 1, "train") for i in range(5)]
                + [FaceRecord("c0", 2, "train")] + [FaceRecord(f"t{i}", 0, "test") for i in range(5)])
    recs = make()
    info = carve_val(recs, 0.3, seed=4)
    assert info["per_class"] == {"0": 6, "1": 2, "2": 0} and info["from"] == "train"
    assert all(r.split == "test" for r in recs if r.source_id.startswith("t"))   # test is never touched
    shuffled = make()[::-1]
    carve_val(shuffled, 0.3, seed=4)
    assert {r.source_id for r in shuffled if r.split == "val"} == {r.source_id for r in recs if r.split == "val"}
    few = [FaceRecord("x", 0, "train"), FaceRecord("y", 0, "train")]
    carve_val(few, 0.9, seed=0)
    assert sorted(r.split for r in few) == ["train", "val"]                      # a class keeps one train image


def test_rafdb_original_uses_manual_points_then_box_then_detection(rafdb):
    base, truth = rafdb
    backend = FixedFace()
    data = load_rafdb(base / "RAF-DB.zip", variant="original", pipeline=_pipe(backend, clahe=False), progress=False)
    _check_rafdb(data, truth, variant="original")
    assert data.meta["annotation_used"] == {"points5": RAF_TRAIN + RAF_TEST - 3, "box": 2, "detection": 1}
    assert [u["file"] for u in data.meta["unparsed_annotations"]] == [
        f"datasets/RAF-DB/basic/Annotation/manual/{BAD_MANUAL}_manu_attri.txt"]
    assert backend.calls == 1                                  # only the image with neither annotation
    assert data.meta["points5_reordered"] == 1                 # SWAPPED's pairs put back in image-left order
    how = {_raf_name(s): a for s, a in zip(data.source_ids, data.extras["alignment"])}
    assert how.pop(f"{NO_MANUAL}.jpg") == how.pop(f"{BAD_MANUAL}.jpg") == "box"
    assert how.pop(f"{NO_ANNOTATION}.jpg") == "eyes"
    assert set(how.values()) == {"points5"}
    # the crops are the photos aligned on their true 5 points / cropped on their true box
    reference = _pipe(NoDetection(), clahe=False)
    names = [_raf_name(s) for s in data.source_ids]
    for name, kind in (("train_00001.jpg", "points5"), ("test_0004.jpg", "points5"), (f"{SWAPPED}.jpg", "points5"),
                       (f"{NO_MANUAL}.jpg", "box")):
        photo = truth[name]["photo"]
        image = decode_rgb((base / "basic/Image/original" / name).read_bytes())
        expected = reference.process(image, points5=five_points(photo.landmarks)) if kind == "points5" \
            else reference.process(image, box=photo.box)
        got = data.images[names.index(name)]
        assert np.abs(got.astype(int) - expected.image.astype(int)).mean() < 1.0, name
        if kind == "points5":   # and there the true eye centres sit on the template
            eyes = transform_points(five_points(photo.landmarks)[:2], expected.matrix)
            assert np.abs(eyes - template_points(SIZE)[:2]).max() < 1.0
    # a wrong alignment would not pass that comparison: the box crop differs from the 5-point one
    name = "train_00001.jpg"
    boxed = reference.process(decode_rgb((base / "basic/Image/original" / name).read_bytes()), box=truth[name]["photo"].box)
    assert np.abs(data.images[names.index(name)].astype(int) - boxed.image.astype(int)).mean() > 5


def test_rafdb_crlf_label_file_reads_the_same(tmp_path, rafdb):
    base, _ = rafdb
    shutil.copytree(base / "basic", tmp_path / "basic")
    label = tmp_path / "basic/EmoLabel/list_patition_label.txt"
    label.write_bytes(label.read_bytes().replace(b"\n", b"\r\n"))
    lf, _ = read_rafdb(base / "basic")
    crlf, _ = read_rafdb(tmp_path / "basic")
    assert [(r.source_id, r.label, r.split) for r in lf] == [(r.source_id, r.label, r.split) for r in crlf]


def test_rafdb_undecodable_and_missing_images_are_counted_never_samples(tmp_path, rafdb):
    base, truth = rafdb
    root = tmp_path / "basic"
    shutil.copytree(base / "basic", root)
    (root / "Image/aligned/train_00002_aligned.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (root / "Image/aligned/test_0002_aligned.jpg").unlink()
    label = root / "EmoLabel/list_patition_label.txt"
    label.write_text(label.read_text() + "train_00099.jpg 4\n")            # listed, never shipped
    data = load_rafdb(_zip_folder(root, tmp_path / "basic.zip"), pipeline=_pipe(), progress=False)
    assert data.meta["n_rejected"] == {"unreadable": 1, "missing_file": 2}
    assert [r["file"] for r in data.meta["rejected"]["unreadable"]] == ["Image/aligned/train_00002_aligned.jpg"]
    assert sorted(r["file"] for r in data.meta["rejected"]["missing_file"]) == [
        "Image/aligned/test_0002_aligned.jpg", "Image/aligned/train_00099_aligned.jpg"]
    assert len(data) == len(truth) - 2 and data.meta["listed"] == len(truth) + 1
    bad = {f"Image/aligned/{n}_aligned.jpg" for n in ("train_00002", "test_0002", "train_00099")}
    assert not bad & set(data.source_ids)


@pytest.mark.parametrize("line, match", [
    ("train_00003.jpg", r"list_patition_label\.txt line 3: 'train_00003\.jpg'; expected"),
    ("train_00003.jpg 8", r"list_patition_label\.txt line 3: label '8' for train_00003\.jpg; expected 1\.\.7"),
    ("train_00003.jpg 0", r"list_patition_label\.txt line 3: label '0'"),
    ("train_00003.jpg sad", r"list_patition_label\.txt line 3: label 'sad'"),
    ("train_00003.png 3", r"list_patition_label\.txt line 3: 'train_00003\.png 3'"),
    ("val_00003.jpg 3", r"list_patition_label\.txt line 3: 'val_00003\.jpg 3'"),
    ("train_00001.jpg 3", r"list_patition_label\.txt line 3: train_00001\.jpg already listed on line 1"),
])
def test_rafdb_malformed_label_line_names_file_and_line(tmp_path, line, match):
    root = tmp_path / "basic"
    (root / "EmoLabel").mkdir(parents=True)
    (root / "Image/aligned").mkdir(parents=True)
    (root / "Image/aligned/train_00001_aligned.jpg").write_bytes(b"x")
    (root / "EmoLabel/list_patition_label.txt").write_text(f"train_00001.jpg 5\ntest_0001.jpg 1\n{line}\ntest_0002.jpg 7\n")
    with pytest.raises(DatasetFormatError, match=match):
        read_rafdb(root)


def test_rafdb_wrong_layout_shows_the_expected_tree(tmp_path, rafdb):
    base, _ = rafdb
    root = tmp_path / "basic"
    shutil.copytree(base / "basic", root)
    tree = (r"(?s)RAF-DB basic is expected in its published layout:.*EmoLabel/list_patition_label\.txt"
            r".*Image/aligned/train_00001_aligned\.jpg")
    (root / "EmoLabel/list_patition_label.txt").rename(root / "EmoLabel/list_partition_label.txt")
    with pytest.raises(DatasetFormatError, match=r"no EmoLabel/list_patition_label\.txt found \(a list_partition_label\.txt"):
        read_rafdb(root)
    with pytest.raises(DatasetFormatError, match=tree):
        read_rafdb(root)
    (root / "EmoLabel/list_partition_label.txt").rename(root / "EmoLabel/list_patition_label.txt")
    shutil.rmtree(root / "Image/aligned")
    with pytest.raises(DatasetFormatError, match=r"no images under Image/aligned/ \(variant='aligned'\)"):
        read_rafdb(root)
    assert len(read_rafdb(root, variant="original")[0]) == RAF_TRAIN + RAF_TEST
    with pytest.raises(ValueError, match="variant"):
        read_rafdb(root, variant="crop")


def test_rafdb_entry_point_and_store_round_trip(tmp_path, rafdb):
    base, truth = rafdb
    data_root = tmp_path / "data"
    data_root.mkdir()
    shutil.copy(base / "basic.zip", data_root / "basic.zip")
    (data_root / "unrelated.txt").write_text("x")
    data = load("rafdb", data_root=data_root, pipeline=_pipe(), progress=False, val_fraction=0.25)
    _check_rafdb(data, truth)
    assert data.meta["source"] == str(data_root / "basic.zip") and data.meta["records"]["val"] == 7
    _assert_round_trip(data, load_store(write_store(data, tmp_path / "store")))


# ================================================================================ AffectNet
# training.csv: 5 rows per expression 0..7 and one each of 8, 9, 10; validation.csv: one per code 0..10
TRAIN_CODES = [c for c in range(8) for _ in range(5)] + [8, 9, 10]
TEST_CODES = list(range(11))


def _affect_row(member: str, photo, code: int, k: int) -> str:
    x, y, w, h = (int(round(v)) for v in photo.box)
    lm = ";".join(f"{v:.2f}" for v in photo.landmarks.ravel())
    return f"{member},{x},{y},{w},{h},{lm},{code},{(k % 9 - 4) / 4:.6f},{(k % 7 - 3) / 3:.6f}"


def write_affectnet(root: Path) -> dict[str, dict]:
    """An AffectNet manually annotated tree; returns image member (under
    Manually_Annotated_Images/) -> {code, list, photo}."""
    (root / "Manually_Annotated_file_lists").mkdir(parents=True)
    truth, k = {}, 0
    for lst, codes in (("training.csv", TRAIN_CODES), ("validation.csv", TEST_CODES)):
        lines = [AFFECT_HEADER]
        for code in codes:
            photo = _photo(5, k)
            member = f"{100 + k % 3}/{hashlib.sha224(f'affect{k}'.encode()).hexdigest()}.jpg"
            path = root / "Manually_Annotated_Images" / member
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_jpg(photo.image))
            lines.append(_affect_row(member, photo, code, k))
            truth[member] = {"code": code, "list": lst, "photo": photo}
            k += 1
        (root / "Manually_Annotated_file_lists" / lst).write_text("\n".join(lines) + "\n", newline="")
    return truth


@pytest.fixture(scope="module")
def affectnet(tmp_path_factory):
    base = tmp_path_factory.mktemp("affectnet")
    truth = write_affectnet(base / "AffectNet")
    _zip_folder(base / "AffectNet", base / "AffectNet.zip")
    _zip_folder(base / "AffectNet", base / "nested.zip", prefix="downloads/AffectNet/")
    return base, truth


def _check_affectnet(data, truth, prefix="", num_classes=8):
    assert data.name == "affectnet" and data.classes == CANON[:num_classes]
    dropped_codes = {8, 9, 10} | ({7} if num_classes == 7 else set())
    expected = {prefix + "Manually_Annotated_Images/" + m for m, t in truth.items() if t["code"] not in dropped_codes}
    assert set(data.source_ids) == expected and len(data) == len(expected)
    for i, sid in enumerate(data.source_ids):
        t = truth[sid.split("Manually_Annotated_Images/", 1)[1]]
        assert data.classes[data.labels[i]] == AFFECT_MEANING[t["code"]], sid
        assert data.split[i] in (("test",) if t["list"] == "validation.csv" else ("train", "val")), sid
    drops = {"none": 1, "uncertain": 1, "non_face": 1}
    if num_classes == 7:
        assert data.meta["dropped"] == {"train": {**drops, "contempt": 5}, "test": {**drops, "contempt": 1}}
    else:
        assert data.meta["dropped"] == {"train": drops, "test": drops}
    assert data.meta["rows"] == {"train": len(TRAIN_CODES), "test": len(TEST_CODES)}


def test_affectnet_labels_splits_and_shipped_landmarks_from_folder_and_zips(affectnet):
    base, truth = affectnet
    for path, prefix in ((base / "AffectNet", ""), (base / "AffectNet.zip", ""), (base / "nested.zip", "downloads/AffectNet/")):
        data = load_affectnet(path, pipeline=_pipe(), progress=False)   # NoDetection: shipped landmarks only
        _check_affectnet(data, truth, prefix)
        assert set(data.extras["alignment"]) == {"landmarks"} and data.meta["n_rejected"] == {}
        assert data.meta["annotation_used"] == {"landmarks": len(data), "box": 0}
        assert data.meta["images"] == prefix + "Manually_Annotated_Images/"
    # every crop is its own photo aligned on its *true* landmarks, which puts the true eye
    # centres on the template; the crop's landmarks are those true landmarks, moved with it
    reference = _pipe()
    for i, sid in enumerate(data.source_ids):
        member = sid.split("Manually_Annotated_Images/", 1)[1]
        true = truth[member]["photo"].landmarks
        image = decode_rgb((base / "AffectNet/Manually_Annotated_Images" / member).read_bytes())
        expected = reference.process(image, landmarks=np.round(true, 2))     # as written in the csv
        assert np.abs(data.images[i].astype(int) - expected.image.astype(int)).mean() < 0.2, sid
        assert np.abs(transform_points(five_points(true)[:2], expected.matrix) - template_points(SIZE)[:2]).max() < 1.0
        residual, eye_error = _eye_error(true, data.landmarks[i])
        assert residual < 0.05 and eye_error < 1.0, sid
    assert np.isfinite(data.pose).all() and set(data.extras["pose_source"]) == {"estimated"}
    assert np.median(np.abs(data.pose)) < 10                   # frontal faces (yaw 0): estimated near frontal


def test_affectnet_seven_classes_drops_contempt_and_counts_it(affectnet):
    base, truth = affectnet
    data = load_affectnet(base / "AffectNet.zip", num_classes=7, pipeline=_pipe(), progress=False)
    _check_affectnet(data, truth, num_classes=7)
    assert "contempt" not in data.classes and data.labels.max() == 6
    with pytest.raises(ValueError, match="num_classes"):
        read_affectnet(base / "AffectNet", num_classes=6)


def test_affectnet_val_carve_and_max_per_class(affectnet):
    base, truth = affectnet
    records, meta = read_affectnet(base / "AffectNet", val_fraction=0.2, val_seed=0)
    by = lambda split: {r.source_id for r in records if r.split == split}  # noqa: E731
    assert not by("val") & by("train") and not by("val") & by("test")
    assert all(truth[s.split("Images/", 1)[1]]["list"] == "training.csv" for s in by("val") | by("train"))
    assert sorted(r.label for r in records if r.split == "val") == list(range(8))   # 5 per class x 0.2 = 1 each
    assert meta["records"] == {"train": 32, "val": 8, "test": 8}
    assert all(r.landmarks is not None and r.landmarks.shape == (68, 2) and r.box is not None for r in records)
    again, _ = read_affectnet(base / "AffectNet.zip", val_fraction=0.2, val_seed=0)
    assert {r.source_id for r in again if r.split == "val"} == by("val")
    other, _ = read_affectnet(base / "AffectNet", val_fraction=0.2, val_seed=3)
    assert {r.source_id for r in other if r.split == "val"} != by("val")
    # the cap: at most 3 training.csv images per class (train + val), a seeded choice; test untouched
    capped, meta = read_affectnet(base / "AffectNet", max_per_class=3, val_fraction=0.34, seed=1)
    assert np.bincount([r.label for r in capped if r.split in ("train", "val")]).tolist() == [3] * 8
    assert meta["dropped"]["train"]["max_per_class"] == 16 and meta["records"]["test"] == 8
    assert meta["records"]["val"] == 8                                                # 0.34 x 3 -> 1 per class
    same, _ = read_affectnet(base / "AffectNet", max_per_class=3, val_fraction=0.34, seed=1)
    assert [(r.source_id, r.split) for r in same] == [(r.source_id, r.split) for r in capped]
    changed, _ = read_affectnet(base / "AffectNet", max_per_class=3, val_fraction=0.34, seed=2)
    assert {r.source_id for r in changed} != {r.source_id for r in capped}
    with pytest.raises(ValueError, match="max_per_class"):
        read_affectnet(base / "AffectNet", max_per_class=0)


def test_affectnet_bad_annotations_fall_back_or_are_rejected_and_bad_images_counted(tmp_path, affectnet):
    base, _ = affectnet
    root = tmp_path / "AffectNet"
    shutil.copytree(base / "AffectNet", root)
    csv_path = root / "Manually_Annotated_file_lists/training.csv"
    lines = csv_path.read_text().splitlines()
    members = [ln.split(",", 1)[0] for ln in lines[1:]]          # members[k] is on lines[k + 1]
    columns = AFFECT_HEADER.split(",")

    def edit(k, **cells):
        row = lines[k + 1].split(",")
        for col, value in cells.items():
            row[columns.index(col)] = value(row) if callable(value) else value
        lines[k + 1] = ",".join(row)
        return row

    edit(1, facial_landmarks="")                                                  # no landmarks -> box
    edit(2, facial_landmarks=lambda r: ";".join(r[5].split(";")[:135]))         # 135 numbers -> box
    neither = edit(3, facial_landmarks="NULL", face_width="0")                    # neither -> rejected
    csv_path.write_text("\n".join(lines) + "\n")
    (root / "Manually_Annotated_Images" / members[4]).write_bytes(b"GIF89a broken")  # undecodable
    (root / "Manually_Annotated_Images" / members[5]).unlink()                       # listed, missing
    data = load_affectnet(_zip_folder(root, tmp_path / "AffectNet.zip"), pipeline=_pipe(), progress=False)
    image = lambda k: "Manually_Annotated_Images/" + members[k]  # noqa: E731
    how = dict(zip(data.source_ids, data.extras["alignment"]))
    assert how[image(0)] == "landmarks" and how[image(1)] == how[image(2)] == "box"
    assert data.meta["annotation_used"] == {"landmarks": 48 - 3, "box": 2}      # 48 expression rows, 1 unannotated
    assert data.meta["unparsed_landmarks"]["count"] == 3
    assert [u["file"] for u in data.meta["unparsed_landmarks"]["examples"]] == [image(1), image(2), image(3)]
    assert data.meta["rejected"]["no_annotation"] == [{
        "file": image(3), "detail": f"facial_landmarks has 1 numbers; expected 136; face box {neither[1:5]} is not a box"}]
    assert [r["file"] for r in data.meta["rejected"]["unreadable"]] == [image(4)]
    assert [r["file"] for r in data.meta["rejected"]["missing_file"]] == [image(5)]
    assert not {image(3), image(4), image(5)} & set(data.source_ids)
    assert data.meta["listed"] == len(data) + sum(data.meta["n_rejected"].values())
    assert len(data) == 40 + 8 - 3 and data.meta["records"]["train"] + data.meta["records"]["val"] == 40 - 1
    # val is carved before annotations and images are checked: the intact lists' val, less the rejected
    pristine, _ = read_affectnet(base / "AffectNet")
    val = {r.source_id for r in pristine if r.split == "val"} - {image(3), image(4), image(5)}
    assert {s for s, sp in zip(data.source_ids, data.split) if sp == "val"} == val


def test_affectnet_wrong_layouts_and_rows_name_the_file(tmp_path, affectnet):
    base, _ = affectnet
    root = tmp_path / "AffectNet"
    shutil.copytree(base / "AffectNet", root)
    lists = root / "Manually_Annotated_file_lists"
    tree = (r"(?s)AffectNet is expected in its published layout:.*Manually_Annotated_file_lists/validation\.csv"
            r".*Manually_Annotated_Images/<subDirectory_filePath>")
    (lists / "validation.csv").rename(tmp_path / "validation.csv")
    with pytest.raises(DatasetFormatError, match=r"Manually_Annotated_file_lists/validation\.csv missing"):
        read_affectnet(root)
    with pytest.raises(DatasetFormatError, match=tree):
        read_affectnet(root)
    good = (tmp_path / "validation.csv").read_text()
    (lists / "validation.csv").write_text(good.replace("face_width", "face_w", 1))
    with pytest.raises(DatasetFormatError,
                       match=r"validation\.csv: header is .*face_w,.*; expected subDirectory_filePath,face_x,face_y,face_width"):
        read_affectnet(root)
    rows = good.splitlines()
    for bad, match in (
        (rows[3].rsplit(",", 3)[0] + ",12,0.1,0.2", r"validation\.csv line 4: expression '12'; expected an integer 0\.\.10"),
        (rows[3].rsplit(",", 3)[0] + ",happy,0.1,0.2", r"validation\.csv line 4: expression 'happy'"),
        (rows[3].rsplit(",", 1)[0], r"validation\.csv line 4: 8 columns; expected 9"),
    ):
        (lists / "validation.csv").write_text("\n".join(rows[:3] + [bad] + rows[4:]) + "\n")
        with pytest.raises(DatasetFormatError, match=match):
            read_affectnet(root)
    (lists / "validation.csv").write_text(good)
    shutil.rmtree(root / "Manually_Annotated_Images")
    with pytest.raises(DatasetFormatError, match=r"no Manually_Annotated_Images/ folder found"):
        read_affectnet(root)
    shutil.rmtree(lists)
    with pytest.raises(DatasetFormatError, match=r"no Manually_Annotated_file_lists/training\.csv or .*validation\.csv found"):
        read_affectnet(root)


def test_affectnet_entry_point_and_store_round_trip(tmp_path, affectnet):
    base, truth = affectnet
    data_root = tmp_path / "data"
    data_root.mkdir()
    shutil.copy(base / "nested.zip", data_root / "AffectNet.zip")
    data = load("affectnet", data_root=data_root, pipeline=_pipe(), progress=False, num_classes=7)
    _check_affectnet(data, truth, prefix="downloads/AffectNet/", num_classes=7)
    back = load_store(write_store(data, tmp_path / "store"))
    _assert_round_trip(data, back)
    assert back.meta["dropped"] == data.meta["dropped"] and back.landmarks.shape == (len(data), 68, 2)
