"""Head pose from landmarks (fernb.faces.pose) and the pose subsets of LANMSFF."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fernb.data.core import FERData
from fernb.data.explore import pose_subset, pose_subsets_table
from fernb.data.synthfer import render_sample
from fernb.data.synthfer_face import rotation
from fernb.faces.pose import euler_from_rotation, head_pose, rotation_from_euler
from fernb.labels import SEVEN


def yaw_bin(yaw: float) -> int:
    """-2..2 for the KDEF poses -90, -45, 0, 45, 90 (bin edges halfway between them)."""
    return int(np.digitize(yaw, [-67.5, -22.5, 22.5, 67.5])) - 2


@pytest.mark.parametrize("angles", [(0, 0, 0), (30, 5, -4), (-80, -7, 6), (89, 3, 3), (-45, 10, -10)])
def test_euler_angles_match_synthfers_rotation(angles):
    """Our decomposition inverts the renderer's own rotation (written independently there)."""
    rot = rotation(*angles)
    np.testing.assert_allclose(rotation_from_euler(*angles), rot, atol=1e-12)
    np.testing.assert_allclose(euler_from_rotation(rot), angles, atol=1e-9)


@pytest.mark.parametrize("pose", [-90, -45, 0, 45, 90])
def test_synthfer_yaw_sign_and_bin_are_recovered(pose):
    """True yaw = a KDEF pose ± 7°, random identity, pitch/roll and expression."""
    rng = np.random.default_rng(pose + 100)
    for i in range(15):
        yaw = pose + rng.uniform(-7, 7)
        s = render_sample(11, "test", i, image_size=160, yaw=yaw, masks=False)
        est, pitch, roll = head_pose(s.landmarks, s.image.shape)
        assert yaw_bin(est) == yaw_bin(s.yaw), (s.yaw, est)
        if abs(s.yaw) > 10:
            assert np.sign(est) == np.sign(s.yaw)
        assert abs(pitch - s.pitch) < 25 and abs(roll - s.roll) < 25


def test_yaw_grows_with_the_true_yaw():
    yaws = np.linspace(-80, 80, 17)
    est = [head_pose(render_sample(2, "test", 3, image_size=160, yaw=y, masks=False).landmarks, (160, 160))[0] for y in yaws]
    assert np.all(np.diff(est) > 0)


def test_in_plane_tilt_reads_as_roll():
    s = render_sample(2, "test", 4, image_size=200, yaw=0.0, masks=False)
    base = head_pose(s.landmarks, (200, 200))
    centre = np.array([99.5, 99.5])
    a = np.radians(15)                                # clockwise on screen (y down)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    tilted = head_pose((s.landmarks - centre) @ rot.T + centre, (200, 200))
    assert tilted[2] - base[2] == pytest.approx(15, abs=2)
    assert tilted[0] == pytest.approx(base[0], abs=3)


def test_unusable_landmarks_give_nan_or_an_error():
    lm = render_sample(2, "test", 0, image_size=100, yaw=0.0, masks=False).landmarks.copy()
    lm[30] = np.nan                                   # the nose tip is one of the six points
    assert all(math.isnan(a) for a in head_pose(lm, (100, 100)))
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        head_pose(lm[:5], (100, 100))


def _posed(yaws, splits) -> FERData:
    n = len(yaws)
    return FERData(name="posed", images=np.zeros((n, 4, 4), np.uint8), labels=np.arange(n) % 7,
                   split=splits, classes=SEVEN, source_ids=[str(i) for i in range(n)], pose=np.array(yaws, np.float32),
                   extras={"pose_source": np.array(["estimated"] * (n - 1) + ["none"])})


def test_pose_subsets_are_strictly_beyond_the_threshold_and_skip_unknown_pose():
    data = _posed([0, 31, -31, 45, -46, 60, 30, np.nan], ["test"] * 6 + ["train", "test"])
    assert sorted(pose_subset(data, 30).source_ids.tolist()) == ["1", "2", "3", "4", "5"]
    assert sorted(pose_subset(data, 45).source_ids.tolist()) == ["4", "5"]
    assert len(pose_subset(data, 20, split=None)) == 6  # the train image (30) counts without a split filter
    table = pose_subsets_table(data).set_index("split")
    assert table.loc["test", "images"] == 7 and table.loc["test", "known_yaw"] == 6
    assert table.loc["test", "yaw_gt_30"] == 5 and table.loc["test", "yaw_gt_45"] == 2
    assert table.loc["train", "yaw_gt_30"] == 0
    assert table.loc["test", "pose_source"] == "estimated 6, none 1"


def test_the_pose_check_reports_truth_beside_the_estimate():
    from fernb.data.synthphotos import synthfer_pose_check
    from fernb.faces.pose import pose_error_table

    true_yaw, est, true_pr = synthfer_pose_check(25, seed=1)
    assert true_yaw.shape == (25,) and est.shape == (25, 3) and true_pr.shape == (25, 2)
    # the truth includes the photo's tilt with SynthFER's (clockwise) sign: roll errors stay small
    assert np.median(np.abs(est[:, 2] - true_pr[:, 1])) < 10
    table = pose_error_table(true_yaw, est[:, 0])
    assert table.loc["all", "images"] == 25 and table.loc["all", "same_sign"] == 1.0
    assert table.loc["all", "same_bin"] >= 0.8


def test_pose_error_table_by_hand():
    from fernb.faces.pose import pose_error_table

    table = pose_error_table([0, 0, 44, 46, -90, np.nan], [10, 25, 50, 40, -80, 3])
    assert list(table.index) == [-90, 0, 45, "all"]
    assert table.loc[0, "bias"] == pytest.approx(17.5) and table.loc[0, "same_bin"] == 0.5
    assert table.loc[45, "mae"] == pytest.approx(6.0) and table.loc[45, "gt45_agree"] == 0.0
    assert table.loc["all", "images"] == 5 and table.loc[-90, "same_sign"] == 1.0


def test_pose_does_not_depend_on_where_the_face_sits():
    s = render_sample(2, "test", 6, image_size=120, yaw=30.0, masks=False)
    here = head_pose(s.landmarks, (480, 640))
    there = head_pose(s.landmarks + [400, 300], (480, 640))
    np.testing.assert_allclose(here, there, atol=1e-3)


def test_check_summary_by_hand():
    from fernb.faces.pose import check_summary, pose_error_table

    true = np.array([0, 0, 0, 0, -45, 45, 90])
    est = np.array([[2, 5, 0], [30, 5, 0], [-1, 5, 0], [0, 5, 0], [-55, 5, 0], [51, 5, 0], [88, 5, 0]], float)
    pitch_roll = np.array([[1, 0]] * 7, float)
    out = check_summary(pose_error_table(true, est[:, 0]), est, pitch_roll)
    assert out["frontal_misread"] == pytest.approx(0.25)          # 30 of 0 leaves the frontal bin
    assert out["half_turned_outward_bias"] == pytest.approx(8.0)  # -55 vs -45 and 51 vs 45: (10 + 6) / 2, outward
    assert out["pitch_bias"] == pytest.approx(4.0)
    less = check_summary(pose_error_table([-45, 45], [-40, 41]), np.zeros((2, 3)), np.zeros((2, 2)))
    assert less["half_turned_outward_bias"] == pytest.approx(-4.5)  # reads less turned: negative


# ------------------------------------------------------------------ yaw from five points
def _five(yaw, seed=11, index=0, size=160):
    from fernb.faces.align import five_points

    s = render_sample(seed, "test", index, image_size=size, yaw=yaw, masks=False)
    return s, five_points(s.landmarks)


@pytest.mark.parametrize("pose", [-90, -45, 0, 45, 90])
def test_five_point_yaw_sign_and_bin_are_recovered(pose):
    """SynthFER faces at a KDEF pose ± 7° (random identity, pitch, roll, expression), from the
    five points of their true landmarks: the same pose bin, the right turn direction."""
    from fernb.faces.pose import yaw_from_five

    rng = np.random.default_rng(pose + 200)
    for i in range(15):
        s, five = _five(pose + rng.uniform(-7, 7), index=i)
        est = yaw_from_five(five)
        assert yaw_bin(est) == yaw_bin(s.yaw), (s.yaw, est)
        if abs(s.yaw) > 10:
            assert np.sign(est) == np.sign(s.yaw)


def test_five_point_yaw_grows_with_the_true_yaw():
    from fernb.faces.pose import yaws_from_five

    for index in (3, 8):
        yaws = np.linspace(-85, 85, 18)
        est = yaws_from_five(np.stack([_five(y, seed=2, index=index)[1] for y in yaws]))
        assert np.all(np.diff(est) > 0), est
        assert abs(est[np.argmin(np.abs(yaws))]) < 10


def test_five_point_yaw_error_on_synthfer_is_bounded():
    """Mean absolute error for |yaw| <= 45° (uniform), true five points of SynthFER's test split.

    Measured: 6.4° (seed 11) and 6.6° (seed 5) over 100 faces, worst 15-19°; the generic model
    reads half-turned SynthFER faces ~9° further turned than they are (its nose protrudes less
    than SynthFER's; a gain calibrated on SynthFER's training split, 1.70 instead of 2.35, would
    remove that, but would under-read real faces). The 68-point estimate: ~9° on the same range.
    """
    from fernb.faces.align import five_points
    from fernb.faces.pose import yaws_from_five

    rng = np.random.default_rng(11)
    samples = [render_sample(11, "test", i, image_size=160, yaw=rng.uniform(-45, 45), masks=False) for i in range(100)]
    true = np.array([s.yaw for s in samples])
    est = yaws_from_five(np.stack([five_points(s.landmarks) for s in samples]))
    assert np.isfinite(est).all()
    err = np.abs(est - true)
    assert err.mean() < 10 and err.max() < 25
    frontal = np.abs(true) < 10
    assert err[frontal].mean() < 3                     # near frontal: ~1° measured


def test_five_point_yaw_ignores_shift_scale_and_in_plane_rotation():
    from fernb.faces.pose import yaw_from_five

    _, five = _five(30.0, seed=2, index=4)
    a = np.radians(25)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = 2.7 * (five - five.mean(0)) @ rot.T + [300.0, -40.0]
    assert yaw_from_five(moved) == pytest.approx(yaw_from_five(five), abs=1e-9)
    assert 20 < yaw_from_five(five) < 50


def test_five_point_yaw_is_nan_for_degenerate_points():
    from fernb.faces.pose import yaw_from_five, yaws_from_five

    _, five = _five(0.0, seed=2, index=1)
    bad = five.copy()
    bad[2] = np.nan
    line = np.column_stack([np.full(5, 10.0), np.arange(5.0)])       # all on the midline: no width, no offset
    swapped = five[[1, 0, 2, 4, 3]]                                  # not image-left first
    far = five.copy()
    far[2, 0] += 10 * np.linalg.norm(five[:2].mean(0) - five[3:].mean(0))   # the nose far off the face
    rows = np.stack([five, bad, np.zeros((5, 2)), line, swapped, far])
    est = yaws_from_five(rows)
    assert np.isfinite(est[0]) and np.isnan(est[1:]).all()
    assert math.isnan(yaw_from_five(np.full((5, 2), 7.0)))
    assert yaws_from_five(np.empty((0, 5, 2))).shape == (0,)
    with pytest.raises(ValueError, match=r"\(5, 2\)"):
        yaw_from_five(five[:4])
    with pytest.raises(ValueError, match=r"\(N, 5, 2\)"):
        yaws_from_five(five)


def test_five_point_model_comes_from_the_generic_face():
    """The nose and mouth corners are MODEL_POINTS'; the eye centres sit between its outer eye
    corners and the inner ones, level with them; the gain is eye distance over nose depth."""
    from fernb.faces.pose import FIVE_POINT_GAIN, FIVE_POINT_MODEL, MODEL_POINTS

    np.testing.assert_array_equal(FIVE_POINT_MODEL[2:], MODEL_POINTS[[0, 4, 5]])
    assert (np.abs(FIVE_POINT_MODEL[:2, 0]) < MODEL_POINTS[3, 0]).all() and FIVE_POINT_MODEL[0, 0] == -FIVE_POINT_MODEL[1, 0]
    np.testing.assert_array_equal(FIVE_POINT_MODEL[:2, 1:], MODEL_POINTS[2:4, 1:])
    assert FIVE_POINT_GAIN == pytest.approx(305 / (135 - 10 * 170 / 320))


def test_five_point_pnp_variant_gets_the_turn_direction():
    from fernb.faces.pose import yaw_from_five_pnp

    for yaw in (-45.0, 45.0):
        s, five = _five(yaw, seed=2, index=5)
        assert np.sign(yaw_from_five_pnp(five, s.image.shape)) == np.sign(yaw)
    assert math.isnan(yaw_from_five_pnp(np.full((5, 2), np.nan), (160, 160)))


class _NoisyFivePoints:
    """A stand-in detector: each photo's true five points plus 1 px noise; none for every 4th photo."""

    name = "noisy"

    def __init__(self, photos):
        from fernb.faces.align import five_points

        self.truth = {p.image.tobytes(): five_points(p.landmarks) for p in photos}
        self.rng = np.random.default_rng(0)

    def config(self):
        return {"backend": self.name}

    def detect(self, image):
        from fernb.faces.backends import Face

        order = list(self.truth).index(image.tobytes())
        if order % 4 == 3:
            return []
        five = self.truth[image.tobytes()] + self.rng.normal(0, 1, (5, 2))
        box = np.r_[five.min(0) - 20, five.max(0) - five.min(0) + 40]
        return [Face(box=box, points5=five, eyes=five[:2])]


def test_five_point_check_sets_the_five_point_yaw_beside_the_68_point_one():
    from fernb.data.synthphotos import five_point_check, synthetic_photos, synthfer_pose_check

    n = 24
    table = five_point_check(n, seed=1, detector=_NoisyFivePoints(synthetic_photos(8, seed=1)), n_detected=8)
    assert list(table.columns.get_level_values(0).unique()) == [
        "68-point", "five-point", "five-point PnP", "five-point, noisy points", "five-point, true points (same photos)"]
    assert table.index[-1] == "all" and table[("68-point", "images")]["all"] == n
    # the 68-point block is synthfer_pose_check's, measured the same way
    true_yaw, est, _ = synthfer_pose_check(n, seed=1)
    assert table[("68-point", "mae")]["all"] == pytest.approx(np.mean(np.abs(est[:, 0] - true_yaw)))
    assert table[("five-point", "same_sign")]["all"] == 1.0
    assert table[("five-point", "mae")]["all"] < 8
    # the detector block: 8 photos measured, 6 found (every 4th missed), the same 6 with true points
    assert table[("five-point, noisy points", "photos")]["all"] == 8
    assert table[("five-point, noisy points", "images")]["all"] == 6
    assert table[("five-point, true points (same photos)", "images")]["all"] == 6
    assert table[("five-point, noisy points", "mae")]["all"] < 12
