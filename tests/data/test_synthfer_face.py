"""SynthFER's face model (fernb.data.synthfer_face): identity, expression, head surface, mesh, helpers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fernb.data import synthfer_face as sff


def _identity(seed=0, identity_range=(0.0, 1.0)):
    return sff.draw_identity(np.random.default_rng(seed), identity_range)


def test_lerp_smoothstep_and_fast_clip_by_hand():
    assert sff.lerp(2.0, 4.0, 0.25) == 2.5
    assert list(sff.smoothstep(0.0, 1.0, [-1.0, 0.0, 0.5, 1.0, 2.0])) == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert sff.smoothstep(0.0, 2.0, 0.5) == pytest.approx(0.25 ** 2 * (3 - 0.5))
    assert list(sff.fast_clip(np.array([-2.0, 0.3, 9.0]), 0.0, 1.0)) == [0.0, 0.3, 1.0]


def test_identity_maps_each_draw_into_its_range():
    u = np.random.default_rng(0).random(40)
    p = _identity(0)
    assert p.quantiles.dtype == np.float32 and p.quantiles.shape == (sff.N_IDENTITY_DRAWS,)
    assert np.array_equal(p.quantiles, u[:sff.N_IDENTITY_DRAWS].astype(np.float32))
    assert p.half_width == 0.9 + (1.08 - 0.9) * u[0]
    assert p.mouth_y == p.nose_len + (0.3 + (0.42 - 0.3) * u[15])
    assert p.height_down == p.chin_y / 0.94


def test_identity_range_narrows_every_draw():
    u = np.random.default_rng(0).random(40)
    p = _identity(0, (0.8, 1.0))
    assert np.allclose(p.quantiles, (0.8 + 0.2 * u[:sff.N_IDENTITY_DRAWS]).astype(np.float32))
    assert p.half_width >= 0.9 + 0.18 * 0.8 - 1e-12


def test_neutral_expression_without_leaks_displaces_nothing():
    draws = np.ones((4, len(sff.AUS)))            # no companion, no leak
    e = sff.expression("neutral", draws, subtle_draw=0.9, neutral_side_draw=0.0)
    assert not e.intensity.any() and not e.displacement.any() and e.jaw == 0.0


def test_class_aus_get_their_intensity_and_subtle_scales_them():
    draws = np.full((4, len(sff.AUS)), 0.5)
    full = sff.expression("happy", draws, subtle_draw=0.9, neutral_side_draw=0.0)
    subtle = sff.expression("happy", draws, subtle_draw=0.1, neutral_side_draw=0.0)
    a12 = sff.AU_INDEX["AU12"]
    assert full.intensity[a12] == pytest.approx(0.2 + 0.8 * 0.5)
    assert subtle.intensity[a12] == pytest.approx((0.2 + 0.8 * 0.5) * 0.4)
    # AU25 companion (probability 0.7 > 0.5): (0.3 + 0.6 u) * max(scale, 0.6)
    assert subtle.intensity[sff.AU_INDEX["AU25"]] == pytest.approx((0.3 + 0.6 * 0.5) * 0.6)


def test_au_off_zeroes_after_the_draws_and_surprise_drops_the_jaw():
    draws = np.full((4, len(sff.AUS)), 0.5)
    e = sff.expression("surprise", draws, 0.9, 0.0)
    assert e.jaw == pytest.approx(0.32 * (0.2 + 0.8 * 0.5))
    off = sff.expression("surprise", draws, 0.9, 0.0, au_off=("AU26",))
    assert off.jaw == 0.0 and off.intensity[sff.AU_INDEX["AU1"]] == e.intensity[sff.AU_INDEX["AU1"]]


def test_contempt_keeps_one_side_neutral_and_without_removes_an_aus_share():
    draws = np.full((4, len(sff.AUS)), 0.5)
    a12 = sff.AU_INDEX["AU12"]
    left_neutral = sff.expression("contempt", draws, 0.9, neutral_side_draw=0.2)
    right_neutral = sff.expression("contempt", draws, 0.9, neutral_side_draw=0.8)
    assert left_neutral.left[a12] == 0.0 < left_neutral.right[a12]
    assert right_neutral.right[a12] == 0.0 < right_neutral.left[a12]
    # the field is linear in the weights: removing AU12's share = rendering with AU12 off
    happy = sff.expression("happy", draws, 0.9, 0.0)
    off = sff.expression("happy", draws, 0.9, 0.0, au_off=("AU12",))
    assert np.abs(happy.without(a12) - happy.displacement).max() > 0.01
    assert np.allclose(happy.without(a12), off.displacement)


def test_mirror_is_an_involution_and_sides_swap():
    assert np.array_equal(sff.MIRROR[sff.MIRROR], np.arange(68))
    assert set(sff.LEFT_SIDE) == set(sff.MIRROR[sff.RIGHT_SIDE]) and not set(sff.LEFT_SIDE) & set(sff.RIGHT_SIDE)
    assert 8 in sff.CENTER and 30 in sff.CENTER


def test_au_moves_marks_the_displaced_landmarks():
    assert sff.AU_MOVES.shape == (len(sff.AUS), 68)
    assert sff.AU_MOVES[sff.AU_INDEX["AU1"], 21] and sff.AU_MOVES[sff.AU_INDEX["AU1"], 22]   # mirrored
    assert not sff.AU_MOVES[sff.AU_INDEX["AU1"], 48]
    assert not sff.AU_MOVES[sff.AU_INDEX["AU26"]].any()         # the jaw drop is per face


def test_head_surface_is_deepest_at_the_centre_and_normals_are_unit():
    p = _identity(1)
    z, n = sff.surface_z(p, np.array([0.0, 0.5, 0.9]), np.array([0.0, 0.0, 0.0]))
    assert z[0] == pytest.approx(p.half_depth) and z[0] > z[1] > z[2]
    assert np.allclose(np.linalg.norm(n, axis=1), 1.0)
    r, sin_t, half = sff.head_frame(p, 0.0)
    assert r == 0.0 and sin_t == 1.0 and half == pytest.approx(p.half_width)


def test_landmarks_follow_the_jaw_drop():
    p = _identity(2)
    rest, normals = sff.landmarks3d(p, np.zeros((68, 3)), 0.0)
    dropped, _ = sff.landmarks3d(p, np.zeros((68, 3)), 0.2)
    assert rest.shape == (68, 3) and np.allclose(np.linalg.norm(normals, axis=1), 1.0)
    assert dropped[57, 1] - rest[57, 1] == pytest.approx(0.2)    # lower lip: jaw weight 1
    assert np.array_equal(dropped[17:27], rest[17:27])            # brows stay


def test_rotation_is_orthonormal_and_yaw_turns_the_nose_to_image_right():
    r = sff.rotation(30.0, -10.0, 5.0)
    assert np.allclose(r @ r.T, np.eye(3)) and np.linalg.det(r) == pytest.approx(1.0)
    nose = sff.rotation(45.0, 0.0, 0.0) @ np.array([0.0, 0.0, 1.0])
    assert nose[0] == pytest.approx(math.sin(math.radians(45)))


def test_head_mesh_moves_only_the_lower_face_and_marks_hair_on_top():
    p = _identity(3)
    moved, rest, hair = sff.head_mesh(p, 0.3)
    still, rest0, _ = sff.head_mesh(p, 0.0)
    assert np.array_equal(rest, rest0) and np.array_equal(still, rest0)
    changed = np.abs(moved - rest).max(1) > 0
    assert changed.any() and (rest[changed, 1] > p.mouth_y - 0.05).all()
    assert hair.any() and (rest[hair, 1] < 0.5).all()            # hair above the mouth, never the chin


def test_ears_sit_on_their_side():
    p = _identity(4)
    assert (sff.ear_points(p, -1.0)[:, 0] < 0).all() and (sff.ear_points(p, 1.0)[:, 0] > 0).all()
    assert np.allclose(sff.ear_points(p, 1.0)[:, 1:], sff.ear_points(p, -1.0)[:, 1:])


def test_fixed_point_points_and_colours():
    assert sff.ONE == 16
    assert sff.ipts(np.array([[1.5, 2.0]])).tolist() == [[24, 32]] and sff.ipts([[0.5, 0.0]]).dtype == np.int32
    assert sff.colour(np.array([-5.0, 12.5, 300.0])) == (0.0, 12.5, 255.0)
