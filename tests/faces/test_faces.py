"""The face pipeline: geometry, CLAHE, backends, cache (fernb.faces)."""
from __future__ import annotations

import sys
import types
import warnings

import cv2
import numpy as np
import pytest

from fernb.data.synthfer import render_sample
from fernb.faces import align, backends
from fernb.faces.align import (
    TEMPLATE_112,
    apply_clahe,
    clahe_lab,
    crop_box,
    enlarge_box,
    five_points,
    similarity_transform,
    template_points,
    transform_points,
)
from fernb.faces.backends import Face, MTCNNBackend, OpenCVBackend, fan_status, get_backend, mtcnn_status
from fernb.faces.pipeline import FacePipeline, LandmarkCache, check_fit, decode_rgb


def synth(i: int, size: int = 224, yaw: float = 0.0, label: int | None = None, seed: int = 5):
    return render_sample(seed, "test", i, image_size=size, rgb=True, yaw=yaw, label=label)


def on_canvas(face: np.ndarray, canvas: int = 320, at: tuple[int, int] = (80, 80)) -> np.ndarray:
    out = np.full((canvas, canvas, 3), 90, np.uint8)
    y, x = at
    out[y:y + face.shape[0], x:x + face.shape[1]] = face
    return out


# ------------------------------------------------------------------------ geometry
def test_template_is_arcface_at_112_and_shrinks_by_the_enlargement():
    np.testing.assert_allclose(template_points(112, 1.0), TEMPLATE_112, atol=1e-9)
    t1, t13 = template_points(224, 1.0), template_points(224, 1.3)
    centre = 223 / 2
    np.testing.assert_allclose(t13 - centre, (t1 - centre) / 1.3, atol=1e-9)
    assert np.linalg.norm(t13[1] - t13[0]) == pytest.approx(np.linalg.norm(t1[1] - t1[0]) / 1.3)


def test_enlarge_box_scales_width_and_height_about_the_centre():
    box = enlarge_box((10, 20, 100, 60), 1.3)
    np.testing.assert_allclose(box, [10 + 50 - 65, 20 + 30 - 39, 130, 78])
    np.testing.assert_allclose(align.square_box((0, 0, 100, 60)), [0, -20, 100, 100])


def test_crop_box_puts_the_original_box_in_the_central_1_over_1_3():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    crop, m = crop_box(image, (100, 90, 80, 80), size=224, enlarge=1.3)
    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    corners = transform_points([[100 - 0.5, 90 - 0.5], [180 - 0.5, 170 - 0.5]], m) + 0.5  # box edges
    margin = 224 * (1 - 1 / 1.3) / 2
    np.testing.assert_allclose(corners, [[margin, margin], [224 - margin, 224 - margin]], atol=1e-6)


def test_box_crop_is_a_bicubic_resize_of_the_box():
    rng = np.random.default_rng(1)
    image = cv2.GaussianBlur(rng.integers(0, 256, (200, 200), dtype=np.uint8), (0, 0), 2)
    box = (40, 50, 100, 100)                       # square, enlarge 1 -> exactly this box
    crop, _ = crop_box(image, box, size=150, enlarge=1.0)
    reference = cv2.resize(image[50:150, 40:140], (150, 150), interpolation=cv2.INTER_CUBIC)
    inner = (slice(4, -4), slice(4, -4))            # away from the border handling
    assert np.abs(crop[inner].astype(int) - reference[inner]).max() <= 1
    linear = cv2.resize(image[50:150, 40:140], (150, 150), interpolation=cv2.INTER_LINEAR)
    assert np.abs(crop[inner].astype(int) - linear[inner]).max() > 1  # it is not bilinear


def test_similarity_transform_recovers_a_known_similarity():
    rng = np.random.default_rng(2)
    src = rng.uniform(0, 100, (5, 2))
    a, s, t = np.radians(23), 1.7, np.array([12.0, -4.0])
    rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    m = similarity_transform(src, src @ rot.T + t)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)
    cv_m, _ = cv2.estimateAffinePartial2D(src, src @ rot.T + t)
    np.testing.assert_allclose(m, cv_m, atol=1e-6)
    with pytest.raises(ValueError, match="coincide"):
        similarity_transform(np.zeros((5, 2)), src)


def test_five_points_are_eye_centres_nose_tip_and_mouth_corners():
    lm = np.arange(136, dtype=float).reshape(68, 2)
    p = five_points(lm)
    np.testing.assert_allclose(p[0], lm[36:42].mean(0))
    np.testing.assert_allclose(p[1], lm[42:48].mean(0))
    np.testing.assert_allclose(p[2:], lm[[30, 48, 54]])
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        five_points(lm[:10])


@pytest.mark.parametrize("yaw", [0.0, -45.0, 45.0])
def test_synthfer_true_landmarks_put_the_eyes_on_the_template_within_1px(yaw):
    pipe = FacePipeline(backend="opencv", size=224)
    target = template_points(224, 1.3)[:2]
    for i in range(12):
        s = synth(i, size=256, yaw=yaw)
        res = pipe.process(s.image, landmarks=s.landmarks)
        assert res.ok and res.alignment == "landmarks" and res.image.shape == (224, 224, 3)
        assert np.abs(five_points(res.landmarks)[:2] - target).max() < 1.0


def test_profiles_fall_back_to_the_five_point_fit():
    """At ±90° the eye centres nearly coincide; an eye-only fit would zoom into one eye."""
    for yaw in (-90.0, 90.0):
        s = synth(1, size=224, yaw=yaw)
        p = five_points(s.landmarks)
        assert align.is_profile(p)
        res = FacePipeline(backend="opencv").process(s.image, landmarks=s.landmarks)
        scale = np.linalg.norm(res.matrix[0, :2])
        assert 0.5 < scale < 2.0                       # about the size it was rendered at
    assert not align.is_profile(five_points(synth(1, size=224, yaw=45.0).landmarks))


def test_points_and_pixels_move_together():
    s = synth(3, size=200)
    image = np.zeros((200, 200), np.uint8)
    x, y = np.round(s.landmarks[30]).astype(int)
    image[y - 1:y + 2, x - 1:x + 2] = 255            # a dot on the nose tip
    res = FacePipeline(backend="opencv", clahe=False).process(image, landmarks=np.round(s.landmarks))
    peak = np.unravel_index(np.argmax(cv2.GaussianBlur(res.image, (0, 0), 1.5)), res.image.shape)
    assert np.abs(np.array(peak[::-1]) - res.landmarks[30]).max() <= 1.0


def test_the_five_point_fit_rescales_the_crop_with_the_expression_the_eye_fit_does_not():
    """Mouth corners move with the expression; eye centres barely do."""
    t = template_points(224, 1.3)
    spread = {"eyes": [], "five": []}
    for i in range(6):
        scales = {"eyes": [], "five": []}
        for label in range(7):
            p = five_points(synth(i, size=224, label=label).landmarks)
            scales["five"].append(np.linalg.norm(similarity_transform(p, t)[0, :2]))
            scales["eyes"].append(np.linalg.norm(similarity_transform(p[:2], t[:2])[0, :2]))
        for k, v in scales.items():
            spread[k].append(np.std(v) / np.mean(v))
    assert np.mean(spread["eyes"]) * 5 < np.mean(spread["five"])


# ---------------------------------------------------------------------------- CLAHE
def _opencv_single_tile_lut(gray: np.ndarray, clip_limit: float) -> np.ndarray:
    """CLAHE's look-up table for one tile, written out from OpenCV's clahe.cpp."""
    total, bins = gray.size, 256
    hist = np.bincount(gray.ravel(), minlength=bins).astype(np.int64)
    limit = max(int(clip_limit * total / bins), 1)
    clipped = int(np.clip(hist - limit, 0, None).sum())
    hist = np.minimum(hist, limit)
    batch, residual = clipped // bins, clipped % bins
    hist += batch
    if residual:
        step = max(bins // residual, 1)
        for i in range(0, bins, step):
            if residual == 0:
                break
            hist[i] += 1
            residual -= 1
    return np.clip(np.rint(np.cumsum(hist) * (bins - 1) / total), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("clip", [1.0, 2.0, 4.0])
def test_clahe_clip_limit_is_honoured(clip):
    rng = np.random.default_rng(3)
    gray = np.clip(rng.normal(110, 12, (64, 64)), 0, 255).astype(np.uint8)  # low contrast
    out = apply_clahe(gray, clip_limit=clip, tile_grid=1)
    np.testing.assert_array_equal(out, _opencv_single_tile_lut(gray, clip)[gray])


def test_clahe_more_clip_more_contrast():
    rng = np.random.default_rng(4)
    # 8x8 tiles of 32x32 px: clip limits 1, 2, 8 cap each bin at 4, 8, 32 pixels (OpenCV
    # scales the limit by tile area / 256; tiles smaller than 256 px all clip at 1)
    gray = np.clip(rng.normal(110, 12, (256, 256)), 0, 255).astype(np.uint8)
    stds = [apply_clahe(gray, clip_limit=c).std() for c in (1.0, 2.0, 8.0)]
    assert gray.std() < stds[0] < stds[1] < stds[2]


def test_clahe_changes_lightness_only():
    image = synth(1, size=128).image
    lab_in = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    lab_out = clahe_lab(image, clip_limit=2.0, tile_grid=8)
    np.testing.assert_array_equal(lab_out[..., 1:], lab_in[..., 1:])
    assert np.abs(lab_out[..., 0].astype(int) - lab_in[..., 0]).mean() > 1
    rgb = apply_clahe(image)
    back = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(int)
    assert np.abs(back[..., 1:] - lab_in[..., 1:]).mean() < 1.5   # only 8-bit round-trip error
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    assert apply_clahe(gray).shape == gray.shape
    with pytest.raises(ValueError, match="uint8"):
        apply_clahe(image.astype(np.float32))


# ------------------------------------------------------------------------- pipeline
def test_bad_input_is_reported_not_aligned():
    pipe = FacePipeline(backend="opencv")
    assert pipe.process(decode_rgb(b"not an image")).status == "unreadable"
    assert decode_rgb(b"") is None
    s = synth(0)
    far = s.landmarks.copy()
    far[:, 0] += 400                                  # a fit that left the image
    res = pipe.process(s.image, landmarks=far)
    assert res.status == "bad_fit" and "inside the image" in res.detail
    squashed = s.landmarks.copy()
    squashed[48:, 1] = squashed[36:42, 1].mean()      # mouth on the eye line
    assert pipe.process(s.image, landmarks=squashed).status == "bad_fit"
    assert check_fit(s.landmarks, None, s.image.shape) == ""


def test_aligned_input_is_only_resized_and_given_points_are_used():
    pipe = FacePipeline(backend="opencv", size=112, clahe=False)
    img = synth(2, size=100).image
    res = pipe.process(img, aligned=True)
    assert res.alignment == "aligned" and res.image.shape == (112, 112, 3)
    np.testing.assert_array_equal(res.image, cv2.resize(img, (112, 112), interpolation=cv2.INTER_CUBIC))
    s = synth(2, size=256)
    res = pipe.process(s.image, points5=five_points(s.landmarks))
    assert res.alignment == "points5" and res.image.shape == (112, 112, 3)
    res = pipe.process(s.image, box=(60, 60, 120, 120))
    assert res.alignment == "box"


class CountingBackend:
    """A backend that finds a fixed set of faces and counts its calls."""

    name = "counting"
    has_landmarks = False

    def __init__(self, faces):
        self.faces, self.calls = faces, 0

    def config(self):
        return {"backend": self.name}

    def detect(self, image):
        self.calls += 1
        return list(self.faces)


def test_several_faces_keep_the_largest_or_reject():
    small = Face(box=np.array([10.0, 10, 40, 40]))
    big = Face(box=np.array([100.0, 100, 120, 120]))
    image = np.zeros((300, 300, 3), np.uint8)
    image[100:220, 100:220] = 200
    res = FacePipeline(backend=CountingBackend([small, big]), clahe=False).process(image)
    assert res.ok and res.n_faces == 2 and res.alignment == "box"
    assert res.image.mean() > 100                     # the big face, not the small one
    res = FacePipeline(backend=CountingBackend([small, big]), multiple="reject").process(image)
    assert res.status == "multiple_faces" and res.image is None
    assert FacePipeline(backend=CountingBackend([])).process(image).status == "no_face"


def test_detections_are_cached_so_a_second_run_does_not_detect(tmp_path):
    face = Face(box=np.array([20.0, 20, 60, 60]), eyes=np.array([[35.0, 40], [65.0, 40]]), score=3.0)
    images = [synth(i, size=100).image for i in range(3)]
    first = CountingBackend([face])
    pipe = FacePipeline(backend=first, cache_dir=tmp_path)
    out1 = [pipe.process(im).image for im in images]
    assert first.calls == 3 and len(pipe.cache) == 3
    second = CountingBackend([face])
    pipe2 = FacePipeline(backend=second, cache_dir=tmp_path)
    out2 = [pipe2.process(im).image for im in images]
    assert second.calls == 0 and pipe2.cache.hits == 3
    for a, b in zip(out1, out2):
        np.testing.assert_array_equal(a, b)
    with open(pipe.cache.path, "a") as fh:
        fh.write('{"key": "torn')                      # an interrupted write
    assert len(LandmarkCache(tmp_path, second.config())) == 3


# ------------------------------------------------------------------------- backends
def _no_mtcnn(monkeypatch):
    monkeypatch.setattr(backends, "mtcnn_status", lambda: {
        "installed": False, "ready": False, "reason": "the facenet-pytorch package is not importable"})


def test_offline_fallback_runs_without_face_alignment_weights(monkeypatch):
    """The last resort: neither FAN nor MTCNN can run, so Haar does, and says why both could not."""
    monkeypatch.setattr(backends, "fan_status", lambda: {
        "installed": True, "ready": False, "weights": {}, "reason": "face-alignment weights ['s3fd'] are not in /nowhere"})
    monkeypatch.setattr(backends, "FANBackend", lambda **kw: (_ for _ in ()).throw(RuntimeError("offline: no route to host")))
    _no_mtcnn(monkeypatch)
    with pytest.warns(RuntimeWarning, match="FALLBACK: using OpenCV Haar cascades.*offline: no route to host.*"
                                            "facenet-pytorch.*no 68-point landmarks"):
        backend = get_backend("auto")
    assert isinstance(backend, OpenCVBackend) and "offline" in backend.fallback_reason
    pipe = FacePipeline(backend=backend)
    assert pipe.config()["fallback_reason"] == backend.fallback_reason
    found = []
    for i in range(8):
        res = pipe.process(on_canvas(synth(i, size=160, seed=1).image))
        found.append(res.ok)
        if res.ok:
            assert res.image.shape == (224, 224, 3) and res.alignment in ("eyes", "box") and res.landmarks is None
    assert sum(found) >= 3, found                      # Haar finds most SynthFER faces
    assert pipe.process(np.full((200, 200, 3), 90, np.uint8)).status == "no_face"


def test_a_quiet_fallback_keeps_its_reason_for_the_caller_to_show(monkeypatch):
    """Notebook 00 shows the fallback as a note: FacePipeline(warn_fallback=False) warns nothing,
    and its config still says why FAN could not be had."""
    monkeypatch.setattr(backends, "fan_status", lambda: {
        "installed": False, "ready": False, "weights": {}, "reason": "the face-alignment package is not importable"})
    _no_mtcnn(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # any warning fails the test
        pipe = FacePipeline(warn_fallback=False)
        assert isinstance(pipe.detector, OpenCVBackend)
        assert isinstance(get_backend("auto", warn=False), OpenCVBackend)
    assert pipe.config()["fallback_reason"].startswith("the face-alignment package is not importable; and MTCNN")
    with pytest.warns(RuntimeWarning, match="FACE BACKEND FALLBACK"):   # the default stays loud
        FacePipeline().detector  # noqa: B018 (building the detector is what warns)


def test_auto_tries_fan_then_mtcnn_then_haar_and_says_which_ran(monkeypatch):
    monkeypatch.setattr(backends, "fan_status", lambda: {
        "installed": False, "ready": False, "weights": {}, "reason": "the face-alignment package is not importable"})
    with pytest.warns(RuntimeWarning, match=r"FALLBACK: using MTCNN \(facenet-pytorch\) instead of face-alignment.*"
                                            "not importable.*five points"):
        backend = get_backend("auto")
    assert isinstance(backend, MTCNNBackend) and backend.fallback_reason == "the face-alignment package is not importable"
    assert backend.config()["backend"] == "mtcnn" and backend.losses == backends.MTCNN_LOSSES
    assert isinstance(get_backend("mtcnn"), MTCNNBackend) and isinstance(get_backend("opencv"), OpenCVBackend)
    _no_mtcnn(monkeypatch)
    with pytest.raises(RuntimeError, match="MTCNN backend unavailable: the facenet-pytorch package"):
        MTCNNBackend()


def test_mtcnn_runs_offline_with_the_weights_in_its_wheel():
    status = mtcnn_status()
    assert status["ready"], status["reason"]           # make test installs facenet-pytorch (requirements-nodeps.lock)
    assert all((backends.Path(status["weights"]) / f).stat().st_size > 10_000 for f in ("pnet.pt", "rnet.pt", "onet.pt"))


def test_mtcnn_gives_boxes_and_five_points_in_template_order_on_synthetic_photos():
    """Five points near the true ones (eye centres, nose tip, mouth corners from the renderer's 68
    landmarks), image-left first, in the source image's pixels; the pipeline aligns on them."""
    from fernb.data.synthphotos import synthetic_photo

    mt = MTCNNBackend(device="cpu")
    errors, found = [], 0
    photos = [synthetic_photo(3, i, yaw=0.0, roll=0.0) for i in range(6)]
    for photo, faces in zip(photos, mt.detect_batch([p.image for p in photos])):
        if not faces:
            continue
        found += 1
        face = max(faces, key=lambda f: f.area)
        truth = five_points(photo.landmarks)
        iod = np.linalg.norm(truth[1] - truth[0])
        errors.append(np.linalg.norm(face.points5 - truth, axis=1) / iod)
        assert face.points5[0, 0] < face.points5[1, 0] and face.points5[3, 0] < face.points5[4, 0]
        x, y, w, h = face.box
        assert x <= truth[:, 0].min() and truth[:, 0].max() <= x + w and y <= truth[:, 1].min() <= y + h
    assert found >= 5, found
    errors = np.array(errors)                           # (faces, 5) point errors over the true eye distance
    assert errors[:, :2].max() < 0.25, errors           # eye centres within a quarter of the eye distance
    assert errors.max() < 0.5 and np.median(errors) < 0.2, errors   # nose and mouth (drawn, not photographed) looser
    res = FacePipeline(backend=mt).process(photos[0].image)
    assert res.ok and res.alignment == "points5" and res.image.shape == (224, 224, 3)
    assert mt.detect(np.full((120, 120, 3), 90, np.uint8)) == []      # a blank frame: no face, no crash


def test_five_points_survive_the_detection_cache(tmp_path):
    face = Face(box=np.array([1.0, 2, 30, 40]), score=0.99, points5=np.arange(10, dtype=float).reshape(5, 2),
                eyes=np.arange(4, dtype=float).reshape(2, 2))
    back = Face.from_json(face.to_json())
    np.testing.assert_allclose(back.points5, face.points5)
    np.testing.assert_allclose(back.eyes, face.eyes)


def test_haar_finds_two_faces_in_one_image():
    canvas = np.full((240, 480, 3), 90, np.uint8)
    canvas[40:200, 20:180] = synth(0, size=160, seed=1).image
    canvas[60:180, 300:420] = synth(5, size=120, seed=1).image
    faces = OpenCVBackend().detect(canvas)
    assert len(faces) == 2
    res = FacePipeline(backend=OpenCVBackend()).process(canvas)
    assert res.ok and res.n_faces == 2


def test_fan_status_says_how_to_get_the_backend():
    status = fan_status()
    assert set(status) >= {"installed", "ready", "reason", "weights"}
    if not status["installed"]:
        assert "make fan" in status["reason"]
    elif not status["ready"]:
        assert "checkpoints" in status["reason"] and "https://" in status["reason"]


def test_fan_adapter_converts_face_alignment_output(monkeypatch):
    """Our adapter around face-alignment's API, with a stand-in for its network."""
    calls = {}

    class FakeFA:
        def __init__(self, landmarks_type, **kwargs):
            calls["init"] = kwargs

        def get_landmarks_from_image(self, image, detected_faces=None, return_bboxes=False, return_landmark_score=False):
            calls["given"] = detected_faces
            if image.mean() < 1:
                return None, None, None
            lm = np.tile(np.arange(68.0)[:, None], (1, 2))
            return [lm], [np.full(68, 0.8)], [np.array([10.0, 20, 110, 140, 0.99])]

    fa = types.ModuleType("face_alignment")
    fa.FaceAlignment = FakeFA
    fa.LandmarksType = types.SimpleNamespace(TWO_D=1)
    monkeypatch.setitem(sys.modules, "face_alignment", fa)
    monkeypatch.setattr(backends, "fan_status", lambda: {"installed": True, "ready": True, "weights": {}, "reason": ""})
    backend = backends.FANBackend(device="cpu")
    assert calls["init"]["device"] == "cpu" and calls["init"]["face_detector"] == "sfd"
    faces = backend.detect(np.full((160, 160, 3), 100, np.uint8))
    assert len(faces) == 1 and faces[0].landmarks.shape == (68, 2)
    np.testing.assert_allclose(faces[0].box, [10, 20, 100, 120])
    assert faces[0].score == pytest.approx(0.99) and faces[0].landmark_score == pytest.approx(0.8)
    backend.detect(np.full((160, 160), 100, np.uint8), boxes=np.array([[5.0, 6, 50, 60]]))
    np.testing.assert_allclose(calls["given"][0], [5, 6, 55, 66, 1.0])
    assert backend.detect(np.zeros((50, 50, 3), np.uint8)) == []


def test_fan_backend_on_real_weights():
    status = fan_status()
    if not status["ready"]:
        pytest.skip(f"face-alignment backend not exercised: {status['reason']}")
    pipe = FacePipeline(backend="fan")
    hits = 0
    for i in range(6):
        s = synth(i, size=180)
        res = pipe.process(on_canvas(s.image, canvas=300, at=(60, 60)))
        if res.ok:
            hits += 1
            true = s.landmarks + [60, 60]
            assert np.median(np.linalg.norm(res.source_landmarks - true, axis=1)) < 12
    assert hits >= 4


def test_synthetic_photo_keeps_true_landmarks_through_the_tilt():
    from fernb.data.synthphotos import synthetic_photo

    def eye_angle(landmarks):
        eyes = five_points(landmarks)[:2]
        return np.degrees(np.arctan2(-(eyes[1, 1] - eyes[0, 1]), eyes[1, 0] - eyes[0, 0]))

    p = synthetic_photo(0, 1, yaw=0.0, roll=15.0, face=140)
    assert p.image.shape == (320, 400, 3)
    flat = render_sample(0, "test", 1, image_size=140, rgb=True, yaw=0.0, masks=False)
    # counter-clockwise tilt: the image-right eye rises, on top of the face's own roll
    assert eye_angle(p.landmarks) - eye_angle(flat.landmarks) == pytest.approx(15.0, abs=1e-6)
    res = FacePipeline(backend="opencv").process(p.image, landmarks=p.landmarks)
    assert res.ok and np.abs(five_points(res.landmarks)[:2] - template_points(224)[:2]).max() < 1.0
    with pytest.raises(ValueError, match="does not fit"):
        synthetic_photo(0, 1, face=300)


@pytest.mark.parametrize("fit", ["eyes", "five"])
def test_five_point_alignment_puts_the_points_on_the_template(fit):
    """The five points a detector gives (here a similarity-moved copy of the template itself, and
    SynthFER's true points) land on the ArcFace template: exactly for the eyes with fit="eyes",
    in the least-squares sense over all five with fit="five"."""
    size, enlarge = 224, 1.3
    template = template_points(size, enlarge)
    angle, scale, shift = np.deg2rad(17), 0.7, np.array([40.0, 25.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = template @ rot.T + shift                       # a face the template's shape, turned and shrunk
    pipe = FacePipeline(backend="opencv", size=size, enlarge=enlarge, fit=fit, clahe=False)
    res = pipe.process(np.zeros((300, 300, 3), np.uint8), points5=moved)
    landed = align.transform_points(moved, res.matrix)
    np.testing.assert_allclose(landed, template, atol=1e-6)    # a similarity-consistent set lands exactly
    s = synth(4, size=256)
    pts = five_points(s.landmarks)
    res = pipe.process(s.image, points5=pts)
    landed = align.transform_points(pts, res.matrix)
    if fit == "eyes":
        np.testing.assert_allclose(landed[:2], template[:2], atol=1e-6)
    assert np.abs(landed - template).max() < 0.12 * size      # nose and mouth near theirs on a real face shape


def test_available_backends_are_those_that_run_offline(monkeypatch):
    found = backends.available_backends("cpu")
    assert isinstance(found["opencv"], OpenCVBackend) and isinstance(found["mtcnn"], MTCNNBackend)
    assert ("fan" in found) == fan_status()["ready"]
    _no_mtcnn(monkeypatch)
    assert "mtcnn" not in backends.available_backends("cpu")
    rows = backends.compare_backends([synth(0, size=160, seed=1).image, None], {"opencv": OpenCVBackend()})
    assert rows[0]["photos"] == 2 and rows[0]["undecodable"] == 1 and rows[0]["found"] <= 1
