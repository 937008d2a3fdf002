"""One SynthFER sample, part by part (fernb.data.synthfer_draw, fernb.data.synthfer_render)."""
from __future__ import annotations

import numpy as np
import pytest

from fernb.data import synthfer as sf
from fernb.data import synthfer_render as sfr
from fernb.data.synthfer_draw import (
    FaceCamera,
    Light,
    SampleDraws,
    draw_background,
    draw_brows,
    draw_eyes,
    draw_head,
    draw_mouth,
    draw_neck_and_ears,
    draw_nose_and_profile,
    draw_texture,
)


def _settings(**kw):
    base = dict(seed=0, image_size=48, rgb=False, n_classes=7, poses=np.array(sf.KDEF_POSES),
                pose_probs=np.array(sf.DEFAULT_POSE_PROBS), yaw_jitter=5.0, occlusion_prob=0.1,
                label_weights=sf.class_weights("fer2013", ["neutral", "happy", "sad", "surprise", "fear", "disgust",
                                                           "anger"]))
    return sfr.RenderSettings(**{**base, **kw})


def test_sample_draws_name_the_uniforms_in_their_order():
    rng = np.random.default_rng(5)
    u, aus = rng.random(64), rng.random((4, len(sf.AUS)))
    d = SampleDraws.from_rng(np.random.default_rng(5))
    assert (d.label, d.pose, d.ambient, d.background_grey) == (u[0], u[1], u[12], u[13])
    assert np.array_equal(d.background_tint, u[14:17]) and np.array_equal(d.blob_angle, u[29:31])
    assert (d.occluded, d.bar_width, d.gradient_angle, d.noise) == (u[31], u[38], u[40], u[45])
    assert np.array_equal(d.aus, aus)


def test_camera_projects_and_light_shades_by_hand():
    cam = FaceCamera(canvas=64, rotation=np.eye(3), scale=2.0, cx=10.0, cy=20.0)
    assert cam.project([[1.0, 2.0, 3.0]]).tolist() == [[12.0, 24.0]]
    assert cam.facing([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]).tolist() == [1.0, -1.0]
    light = Light(np.array([0.0, 0.0, 1.0]), 0.4)
    assert light.shade(np.array([0.0, 0.0, 1.0])) == pytest.approx(1.0)
    assert light.shade(np.array([0.0, 0.0, -1.0])) == pytest.approx(0.4)
    assert light.shade(np.array([0.0, 0.6, 0.8])) == pytest.approx(0.4 + 0.6 * 0.8)


def test_render_face_is_render_sample():
    s = sf.render_sample(0, "val", 3, contempt=False)
    r = sfr.render_face(_settings(), "val", 3)
    assert np.array_equal(s.image, r.image) and s.label == r.label and s.yaw == r.yaw
    assert all(np.array_equal(s.au_masks[a], r.au_masks[a]) for a in sf.AUS)


def test_without_masks_there_is_no_record_and_the_same_image():
    with_masks = sfr.render_face(_settings(), "train", 7)
    without = sfr.render_face(_settings(masks=False), "train", 7)
    assert without.au_masks == {} and without.silhouette is None
    assert np.array_equal(with_masks.image, without.image)


def test_harsh_lighting_and_low_resolution_change_only_the_image():
    base = sfr.render_face(_settings(), "test", 2)
    for kw in ({"lighting": "harsh"}, {"resolution": 12}):
        shifted = sfr.render_face(_settings(**kw), "test", 2)
        assert not np.array_equal(shifted.image, base.image)
        assert np.array_equal(shifted.landmarks, base.landmarks) and shifted.label == base.label


def test_occlusion_prob_one_always_occludes():
    kinds = {sfr.render_face(_settings(occlusion_prob=1.0, masks=False), "train", i).occluder for i in range(30)}
    assert "" not in kinds and kinds <= set(sfr.OCCLUDERS[1:]) and len(kinds) >= 2


def _face(index=4, yaw=0.0, label=3):
    settings = _settings()
    draws = SampleDraws.from_rng(np.random.default_rng([0, 0, index, 0]))
    identity, _ = sfr._subject(settings, 0, index, None)
    return sfr._pose_face(settings, draws, identity, "surprise" if label == 3 else "neutral", yaw, 0.0, 0.0, ())


def test_background_without_blobs_is_one_tinted_grey():
    d = SampleDraws.from_rng(np.random.default_rng(0))
    d.blob_present = np.array([0.9, 0.9])
    img = draw_background(d, 32)
    expected = np.round(np.clip(25 + 200 * d.background_grey + (2 * d.background_tint - 1) * 25, 0, 255))
    assert img.shape == (32, 32, 3) and (img == expected.astype(np.uint8)).all()


def test_each_part_draws_where_the_face_is():
    face = _face()
    R = face.camera.canvas
    img = np.zeros((R, R, 3), np.uint8)
    head_hull = draw_head(img, face)
    assert img.any() and head_hull.ndim == 3
    for part in (draw_neck_and_ears, draw_brows, draw_eyes, draw_mouth):
        drawn = img.copy()
        part(drawn, face)
        changed = np.argwhere((drawn != img).any(2))
        assert len(changed), part.__name__
        if part is not draw_neck_and_ears:       # the features lie inside the canvas
            assert (changed.min(0) > 0).all() and (changed.max(0) < R - 1).all()
    nose_hull, mouth_hull = draw_nose_and_profile(img.copy(), face)
    assert nose_hull.shape[-1] == 2 and mouth_hull.shape[-1] == 2


def test_texture_only_darkens():
    face = _face()
    img = np.full((face.camera.canvas,) * 2 + (3,), 200, np.uint8)
    nose_hull, _ = draw_nose_and_profile(img, face)
    out = draw_texture(img, face, nose_hull)
    assert out.shape == img.shape and (out <= img).all() and (out < img).any()


def test_movers_names_the_aus_that_move_landmarks():
    face = _face()
    assert "AU1" in face.movers([21]) and "AU26" in face.movers([57])
    face.trace = None
    assert face.movers([21]) == ()
