"""Head pose from landmarks (fernb.faces.pose) and the pose subsets of LANMSFF."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fernb.data.core import FERData
from fernb.data.synthfer import _rotation, render_sample
from fernb.data.explore import pose_subset, pose_subsets_table
from fernb.faces.pose import euler_from_rotation, head_pose, rotation_from_euler
from fernb.labels import SEVEN


def yaw_bin(yaw: float) -> int:
    """-2..2 for the KDEF poses -90, -45, 0, 45, 90 (bin edges halfway between them)."""
    return int(np.digitize(yaw, [-67.5, -22.5, 22.5, 67.5])) - 2


@pytest.mark.parametrize("angles", [(0, 0, 0), (30, 5, -4), (-80, -7, 6), (89, 3, 3), (-45, 10, -10)])
def test_euler_angles_match_synthfers_rotation(angles):
    """Our decomposition inverts the renderer's own rotation (written independently there)."""
    rot = _rotation(*angles)
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
