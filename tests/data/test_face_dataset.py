"""From a publisher's file list to aligned faces (fernb.data.photos): counting, pose, cache."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from fernb.data import load_store, write_store
from fernb.data.archive import Source
from fernb.data.core import DatasetFormatError
from fernb.data.photos import FaceRecord, annotate_pose, build_dataset
from fernb.data.synthfer import generate
from fernb.data.synthphotos import synthetic_photo
from fernb.faces import align
from fernb.faces.align import five_points, template_points, transform_points
from fernb.faces.backends import Face
from fernb.faces.pipeline import FacePipeline
from fernb.labels import SEVEN


class TruthBackend:
    """Finds each photo's face at its true landmarks (looked up by pixel content)."""

    name = "truth"
    has_landmarks = True

    def __init__(self, truth: dict[bytes, np.ndarray], box_scale: float = 1.0):
        self.truth, self.calls = truth, 0

    def config(self):
        return {"backend": self.name}

    def detect(self, image, boxes=None):
        self.calls += 1
        lm = self.truth.get(cv2.resize(image, (8, 8), interpolation=cv2.INTER_AREA).tobytes())
        if lm is None:
            return []
        x0, y0 = lm.min(0)
        x1, y1 = lm.max(0)
        return [Face(box=np.array([x0, y0, x1 - x0, y1 - y0]), landmarks=lm, landmark_score=0.9)]


def _jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))[1].tobytes()


@pytest.fixture
def photo_folder(tmp_path):
    """Six photos as files, plus an undecodable one; a record list naming a missing one too."""
    photos = {f"img/{i}.png": synthetic_photo(3, i, canvas=(240, 300), face=120, yaw=[0.0, 45.0, -45.0, 0.0, 0.0, 90.0][i])
              for i in range(6)}
    for name, p in photos.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(_jpeg(p.image))
    (tmp_path / "img" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    blank = np.full((240, 300, 3), 120, np.uint8)
    (tmp_path / "img" / "blank.png").write_bytes(_jpeg(blank))
    return tmp_path, photos


def test_build_dataset_aligns_counts_and_poses(photo_folder):
    root, photos = photo_folder
    truth = {}
    for name, p in photos.items():
        decoded = cv2.cvtColor(cv2.imread(str(root / name)), cv2.COLOR_BGR2RGB)
        truth[cv2.resize(decoded, (8, 8), interpolation=cv2.INTER_AREA).tobytes()] = p.landmarks
    backend = TruthBackend(truth)
    records = [
        FaceRecord("img/0.png", 1, "train", subject="a", landmarks=photos["img/0.png"].landmarks),  # shipped landmarks
        FaceRecord("img/1.png", 2, "train", subject="b"),                                          # detected
        FaceRecord("img/2.png", 3, "val", subject="c", yaw=-45.0),                                 # publisher's yaw
        FaceRecord("img/3.png", 4, "test", subject="d", box=(10.0, 10.0, 100.0, 100.0)),           # box -> FAN in box
        FaceRecord("img/5.png", 5, "test", subject="e"),                                          # profile, detected
        FaceRecord("img/broken.png", 0, "train"),
        FaceRecord("img/blank.png", 0, "train"),
        FaceRecord("img/gone.png", 0, "train"),
    ]
    pipe = FacePipeline(backend=backend, size=96)
    data = build_dataset("faces", Source(root), records, classes=SEVEN, pipeline=pipe, progress=False)
    assert len(data) == 5 and data.images.shape == (5, 96, 96, 3)
    assert data.source_ids.tolist() == ["img/0.png", "img/1.png", "img/2.png", "img/3.png", "img/5.png"]
    assert data.labels.tolist() == [1, 2, 3, 4, 5] and data.split.tolist() == ["train", "train", "val", "test", "test"]
    assert data.extras["subject"].tolist() == ["a", "b", "c", "d", "e"]
    assert data.meta["n_rejected"] == {"missing_file": 1, "unreadable": 1, "no_face": 1}
    assert {r["file"] for v in data.meta["rejected"].values() for r in v} == {"img/gone.png", "img/broken.png", "img/blank.png"}
    assert data.meta["listed"] == 8 and data.meta["kept"] == 5
    # the given landmarks were used without detecting; the others went through the backend
    assert backend.calls == 4 + 1  # 1, 2, 3 (box), 5 and the blank image
    assert data.extras["alignment"].tolist() == ["landmarks"] * 5
    target = template_points(96, 1.3)[:2]
    for i, name in enumerate(data.source_ids[:4]):    # the profile (img/5) gets the five-point fit instead
        eyes = five_points(data.landmarks[i])[:2]
        assert np.abs(eyes - target).max() < 1.0, name
    assert align.is_profile(five_points(photos["img/5.png"].landmarks))
    # pose: the publisher's yaw where given, else estimated from the landmarks
    assert data.extras["pose_source"].tolist() == ["estimated", "estimated", "publisher", "estimated", "estimated"]
    assert data.pose[2] == -45.0
    assert abs(data.pose[0]) < 22.5 and 22.5 < data.pose[1] < 67.5 and data.pose[4] > 67.5
    back = load_store(write_store(data, root / "store"))
    np.testing.assert_array_equal(back.images, data.images)
    assert back.extras["pose_source"].tolist() == data.extras["pose_source"].tolist()


def test_build_dataset_with_nothing_usable_says_why(photo_folder):
    root, _ = photo_folder
    records = [FaceRecord("img/broken.png", 0, "train"), FaceRecord("img/gone.png", 0, "train")]
    with pytest.raises(DatasetFormatError, match="no image of 2 listed.*unreadable.*missing_file|missing_file.*unreadable"):
        build_dataset("faces", Source(root), records, classes=SEVEN, pipeline=FacePipeline(backend="opencv"), progress=False)


def _small_synthfer():
    return generate(n_train=14, n_val=4, n_test=4, image_size=48, seed=2, poses=(-90.0, -45.0, 0.0, 45.0, 90.0))


def test_annotate_pose_fits_whole_frame_landmarks_and_caches(tmp_path):
    data = _small_synthfer()
    truth = {}
    for img, lm in zip(data.images, data.landmarks):
        big = cv2.resize(img, (192, 192), interpolation=cv2.INTER_CUBIC)
        truth[cv2.resize(big, (8, 8), interpolation=cv2.INTER_AREA).tobytes()] = (lm + 0.5) * 4 - 0.5
    true_yaw, true_lm = data.pose.copy(), data.landmarks.copy()
    bad = 3
    truth[cv2.resize(cv2.resize(data.images[bad], (192, 192), interpolation=cv2.INTER_CUBIC), (8, 8),
                     interpolation=cv2.INTER_AREA).tobytes()] = np.full((68, 2), 5.0) + np.arange(68)[:, None] * 0.01
    backend = TruthBackend(truth)
    pipe = FacePipeline(backend=backend, cache_dir=tmp_path)
    data.landmarks = None
    summary = annotate_pose(data, pipe, progress=False)
    assert summary["fitted"] == len(data) - 1 and summary["bad_fit"] == 1 and summary["no_face"] == 0
    assert summary["bad_fit_files"][0]["file"] == data.source_ids[bad]
    assert summary["estimator"].startswith("68-landmark head pose")
    ok = np.arange(len(data)) != bad
    np.testing.assert_allclose(data.landmarks[ok], true_lm[ok], atol=1e-3)
    assert np.isnan(data.pose[bad]) and data.extras["pose_source"][bad] == "none"
    bins = lambda y: np.digitize(y, [-67.5, -22.5, 22.5, 67.5])  # noqa: E731
    np.testing.assert_array_equal(bins(data.pose[ok]), bins(true_yaw[ok]))
    assert set(data.extras["pose_source"][ok]) == {"estimated"}
    # a second run reads the cache and detects nothing
    again = _small_synthfer()
    second = TruthBackend({})
    annotate_pose(again, FacePipeline(backend=second, cache_dir=tmp_path), progress=False)
    assert second.calls == 0
    np.testing.assert_allclose(again.pose[ok], data.pose[ok], atol=0.1)  # the cache keeps 0.01 px


def test_annotate_pose_without_landmarks_says_so_and_changes_nothing():
    data = _small_synthfer()
    before = data.pose.copy()
    summary = annotate_pose(data, FacePipeline(backend="opencv"), progress=False)
    assert "gives neither 68 landmarks nor five points" in summary["skipped"] and summary["fitted"] == 0
    assert summary["estimator"] == "none" and "pose_annotation" not in data.meta
    np.testing.assert_array_equal(data.pose, before)


def test_eye_error_of_the_alignment_is_measured_in_crop_pixels():
    """transform_points + template, as fernb.data.synthphotos.detect_photos uses them: zero for the truth."""
    p = synthetic_photo(0, 2, yaw=0.0, face=140)
    res = FacePipeline(backend="opencv", size=224).process(p.image, landmarks=p.landmarks)
    err = np.linalg.norm(transform_points(five_points(p.landmarks)[:2], res.matrix) - template_points(224)[:2], axis=1)
    assert err.max() < 1e-6


def test_rejection_table_lists_reasons_counts_and_files():
    from fernb.data.photos import rejection_table

    meta = {"rejected": {"no_face": [{"file": "a.jpg", "detail": "the detector found no face"}, {"file": "b.jpg", "detail": ""}],
                         "bad_fit": [{"file": "c.jpg", "detail": "only 50% of the landmarks inside the image"}]}}
    table = rejection_table(meta).set_index("reason")
    assert table.loc["no_face", "files"] == 2 and table.loc["no_face", "examples"] == "a.jpg; b.jpg"
    assert table.loc["bad_fit", "examples"] == "c.jpg (only 50% of the landmarks inside the image)"
    assert "implausible" in table.loc["bad_fit", "meaning"]
    assert rejection_table({}).empty


def test_loader_options_pick_each_loaders_parameters():
    from fernb.data import loader_options

    params = {"vote_rule": "majority", "vote_ties": "drop", "ferplus_classes": 8, "on_unreadable": "skip",
              "k_folds": 5, "test_fold": 2, "fold_seed": 0, "wild_classes": 7, "ckplus_peak_frames": 3, "other": 1}
    assert loader_options("ferplus", params) == {"rule": "majority", "ties": "drop", "num_classes": 8, "on_unreadable": "skip"}
    pipe = object()
    assert loader_options("kdef", params, pipe) == {"k": 5, "test_fold": 2, "fold_seed": 0, "pipeline": pipe}
    assert loader_options("ckplus", params, pipe)["peak_frames"] == 3
    with pytest.raises(KeyError, match="rafdb_variant"):
        loader_options("rafdb", params)
    with pytest.raises(ValueError, match="unknown dataset"):
        loader_options("mnist", params)


def test_rows_a_loader_rejected_before_reading_pixels_are_kept_and_counted(photo_folder):
    root, photos = photo_folder
    records = [FaceRecord("img/0.png", 1, "train", landmarks=photos["img/0.png"].landmarks),
               FaceRecord("img/gone.png", 0, "train")]
    pre = {"rejected": {"no_annotation": [{"file": "img/9.png", "detail": "no landmarks and no box"}]}}
    data = build_dataset("faces", Source(root), records, classes=SEVEN, pipeline=FacePipeline(backend="opencv", size=32),
                         meta=pre, progress=False)
    assert data.meta["n_rejected"] == {"no_annotation": 1, "missing_file": 1}
    assert data.meta["listed"] == 3 == data.meta["kept"] + sum(data.meta["n_rejected"].values())
    assert pre["rejected"] == {"no_annotation": [{"file": "img/9.png", "detail": "no landmarks and no box"}]}  # not mutated


def test_demo_summary_per_pose_by_hand():
    import pandas as pd

    from fernb.data.synthphotos import summarise

    found = pd.DataFrame({"found": [True, False, True, True], "alignment": ["box", "", "eyes", "box"],
                          "eye_error_px": [2.0, np.nan, 4.0, 10.0], "yaw": [3.0, -2.0, 44.0, 91.0]})
    by_pose, summary = summarise(found, seconds=2.0)
    assert by_pose.loc[0, "photos"] == 2 and by_pose.loc[0, "found"] == 0.5 and by_pose.loc[0, "eye_error_px"] == 2.0
    assert list(by_pose.index) == [0, 45, 90]
    assert summary == {"photos": 4, "found_rate": 0.75, "eye_error_median_px": 4.0,
                       "alignment": {"box": 2, "eyes": 1}, "faces_per_second": 2.0}


def test_the_demo_measures_detection_not_the_cache(tmp_path):
    from fernb.data.synthphotos import detect_photos, synthetic_photos, uncached

    photos = synthetic_photos(3, seed=0, yaw=0.0)
    truth = {cv2.resize(p.image, (8, 8), interpolation=cv2.INTER_AREA).tobytes(): p.landmarks for p in photos}
    backend = TruthBackend(truth)
    pipe = FacePipeline(backend=backend, cache_dir=tmp_path, size=64)
    for p in photos:
        pipe.process(p.image)                          # fills the cache
    calls = backend.calls
    table = detect_photos(pipe, photos)
    assert backend.calls == calls + 3 and table["found"].all()
    copy = uncached(pipe, clahe=False)
    assert copy.cache is None and copy.detector is backend and not copy.clahe and pipe.clahe and copy.size == 64


class FivePointBackend:
    """MTCNN-like: finds the face itself (``detect`` takes no ``boxes=``) and gives five points
    per face, no landmarks; looks each image up by pixel content. ``extra`` adds a smaller
    second face to the images it names."""

    name = "fivepoints"
    has_landmarks = False
    has_points5 = True

    def __init__(self, truth: dict[bytes, np.ndarray], extra: frozenset = frozenset()):
        self.truth, self.extra, self.calls = truth, extra, 0

    def config(self):
        return {"backend": self.name}

    def detect(self, image, timings=None):
        self.calls += 1
        key = cv2.resize(image, (8, 8), interpolation=cv2.INTER_AREA).tobytes()
        lm = self.truth.get(key)
        if lm is None:
            return []
        five = five_points(lm)
        x0, y0 = lm.min(0)
        x1, y1 = lm.max(0)
        faces = [Face(box=np.array([x0, y0, x1 - x0, y1 - y0]), score=0.99, points5=five, eyes=five[:2])]
        if key in self.extra:   # a small face elsewhere, its points mirrored: the large one must win
            small = five[[1, 0, 2, 4, 3]] * [-1, 1] * 0.3 + [60.0, 10.0]
            faces.insert(0, Face(box=np.array([40.0, 0.0, 30.0, 30.0]), score=0.9, points5=small, eyes=small[:2]))
        return faces


def test_annotate_pose_with_five_points_only_fills_the_coarser_yaw(tmp_path):
    data = _small_synthfer()
    key = lambda img: cv2.resize(cv2.resize(img, (192, 192), interpolation=cv2.INTER_CUBIC), (8, 8),  # noqa: E731
                                 interpolation=cv2.INTER_AREA).tobytes()
    missing, bad, several = 2, 3, 5
    truth = {key(img): (lm + 0.5) * 4 - 0.5 for i, (img, lm) in enumerate(zip(data.images, data.landmarks)) if i != missing}
    truth[key(data.images[bad])] = (data.landmarks[bad] + 0.5) * 4 - 0.5 + [500.0, 0.0]   # a face outside the frame
    true_yaw = data.pose.copy()
    backend = FivePointBackend(truth, extra=frozenset({key(data.images[several])}))
    data.landmarks = None
    summary = annotate_pose(data, FacePipeline(backend=backend, cache_dir=tmp_path), progress=False)
    assert summary["estimator"].startswith("five-point yaw") and "skipped" not in summary
    assert summary["fitted"] == len(data) - 2
    assert summary["no_face"] == 1 and summary["no_face_files"][0]["file"] == data.source_ids[missing]
    assert summary["bad_fit"] == 1 and summary["bad_fit_files"][0]["file"] == data.source_ids[bad]
    ok = ~np.isin(np.arange(len(data)), [missing, bad])
    assert np.isnan(data.pose[[missing, bad]]).all()
    assert data.extras["pose_source"].tolist() == ["five_point" if k else "none" for k in ok]
    bins = lambda y: np.digitize(y, [-67.5, -22.5, 22.5, 67.5])  # noqa: E731
    np.testing.assert_array_equal(bins(data.pose[ok]), bins(true_yaw[ok]))    # the largest face of `several` too
    assert np.isnan(data.extras["pitch"]).all() and np.isnan(data.extras["roll"]).all()
    assert data.landmarks is None                                           # five points give no landmarks
    assert data.meta["pose_annotation"] is summary
    # a second run reads the cache (five points included) and detects nothing
    again = _small_synthfer()
    second = FivePointBackend({})
    annotate_pose(again, FacePipeline(backend=second, cache_dir=tmp_path), progress=False)
    assert second.calls == 0
    np.testing.assert_allclose(again.pose[ok], data.pose[ok], atol=0.1)


def test_annotate_pose_on_the_test_split_only_leaves_the_others_unknown(tmp_path):
    data = _small_synthfer()
    key = lambda img: cv2.resize(cv2.resize(img, (192, 192), interpolation=cv2.INTER_CUBIC), (8, 8),  # noqa: E731
                                 interpolation=cv2.INTER_AREA).tobytes()
    backend = FivePointBackend({key(img): (lm + 0.5) * 4 - 0.5 for img, lm in zip(data.images, data.landmarks)})
    data.landmarks = None
    summary = annotate_pose(data, FacePipeline(backend=backend, cache_dir=None), progress=False, splits=["test"])
    test = data.split == "test"
    assert 0 < test.sum() < len(data) and summary["splits"] == ["test"]
    assert summary["images"] == summary["fitted"] == backend.calls == int(test.sum())   # nothing else was looked at
    assert np.isfinite(data.pose[test]).all() and np.isnan(data.pose[~test]).all()
    assert set(data.extras["pose_source"][~test]) == {"none"} and set(data.extras["pose_source"][test]) == {"five_point"}


def test_build_dataset_poses_five_point_faces_with_the_five_point_label(photo_folder, tmp_path):
    root, photos = photo_folder
    truth = {}
    for name, p in photos.items():
        decoded = cv2.cvtColor(cv2.imread(str(root / name)), cv2.COLOR_BGR2RGB)
        truth[cv2.resize(decoded, (8, 8), interpolation=cv2.INTER_AREA).tobytes()] = p.landmarks
    backend = FivePointBackend(truth)
    records = [
        FaceRecord("img/0.png", 1, "train", landmarks=photos["img/0.png"].landmarks),      # 68 landmarks: "estimated"
        FaceRecord("img/1.png", 2, "train", points5=five_points(photos["img/1.png"].landmarks)),  # publisher's 5 points
        FaceRecord("img/2.png", 3, "val", yaw=-45.0),                                      # publisher's yaw wins
        FaceRecord("img/3.png", 4, "test"),                                                # detected: five points
        FaceRecord("img/4.png", 5, "test", box=(10.0, 10.0, 100.0, 100.0)),                # a box: no points, no pose
    ]
    pipe = FacePipeline(backend=backend, size=64, cache_dir=tmp_path / "cache")
    data = build_dataset("faces", Source(root), records, classes=SEVEN, pipeline=pipe, progress=False)
    assert data.extras["alignment"].tolist() == ["landmarks", "points5", "points5", "points5", "box"]
    assert data.extras["pose_source"].tolist() == ["estimated", "five_point", "publisher", "five_point", "none"]
    assert backend.calls == 2                  # img/2 and img/3, each once: the points come back from the cache
    assert 22.5 < data.pose[1] < 67.5 and abs(data.pose[3]) < 22.5 and data.pose[2] == -45.0 and np.isnan(data.pose[4])
    assert np.isnan(data.extras["pitch"][[1, 3]]).all()
    back = load_store(write_store(data, root / "store"))
    assert back.extras["pose_source"].tolist() == data.extras["pose_source"].tolist()


def test_annotate_pose_with_a_five_point_backend_named_mtcnn():
    """A backend that does not say ``has_points5`` is taken to give five points when it is MTCNN."""
    from fernb.data.photos import _gives_points5

    class Named:
        has_landmarks = False

        def __init__(self, name):
            self.name = name

    assert _gives_points5(Named("mtcnn")) and not _gives_points5(Named("opencv"))


def test_annotate_pose_with_the_real_mtcnn_backend():
    """MTCNN on SynthFER's 48 px frames (enlarged 4x): it finds the face itself in some (drawn
    faces, ~1 in 4 here), and those get the five-point yaw with the right turn direction."""
    from fernb.faces.backends import MTCNNBackend, mtcnn_status

    if not mtcnn_status()["ready"]:
        pytest.skip(mtcnn_status()["reason"])
    data = generate(n_train=30, n_val=4, n_test=4, image_size=48, seed=4, poses=(-45.0, 0.0, 45.0))
    true_yaw = data.pose.copy()
    summary = annotate_pose(data, FacePipeline(backend=MTCNNBackend(device="cpu")), progress=False)
    assert summary["backend"]["backend"] == "mtcnn" and summary["estimator"].startswith("five-point yaw")
    assert summary["fitted"] + summary["no_face"] + summary["bad_fit"] == len(data)
    found = np.isfinite(data.pose)
    assert found.sum() == summary["fitted"] >= 3                         # 9 of 38 measured
    assert set(data.extras["pose_source"][found]) == {"five_point"} and set(data.extras["pose_source"][~found]) == {"none"}
    turned = found & (np.abs(true_yaw) > 20)
    assert turned.any() and (np.sign(data.pose[turned]) == np.sign(true_yaw[turned])).all()
    assert np.abs(data.pose[found] - true_yaw[found]).mean() < 15        # 6.4 degrees measured
