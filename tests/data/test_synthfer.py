"""SynthFER: determinism, geometry (pose, landmarks, visibility), AUs, imbalance, difficulty."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fernb.data import synthfer as sf
from fernb.labels import CANONICAL, index_of


@pytest.fixture(scope="module")
def small():
    return sf.generate(60, 20, 20, seed=3, progress=False)


def _iod(s: sf.SynthSample) -> float:
    return float(np.linalg.norm(s.landmarks[36:42].mean(0) - s.landmarks[42:48].mean(0)))


# ---------------------------------------------------------------- determinism
def test_same_seed_is_byte_identical_and_other_seed_differs(small):
    again = sf.generate(60, 20, 20, seed=3, progress=False)
    assert small.images.tobytes() == again.images.tobytes()
    np.testing.assert_array_equal(small.labels, again.labels)
    np.testing.assert_array_equal(small.landmarks, again.landmarks)
    for key in small.extras:
        np.testing.assert_array_equal(small.extras[key], again.extras[key])
    other = sf.generate(60, 20, 20, seed=4, progress=False)
    assert small.images.tobytes() != other.images.tobytes()


def test_sample_does_not_depend_on_how_many_are_generated(small):
    bigger = sf.generate(90, 5, 0, seed=3, progress=False)
    # the label permutation depends on the counts, the rendering of sample i does not:
    for i in range(20):
        label = int(bigger.labels[i])
        s = sf.render_sample(3, "train", i, label=label)
        assert s.image.tobytes() == bigger.images[i].tobytes()
    # val sample 2 is the same in both datasets once its label is fixed
    val_small = small.subset("val")
    s = sf.render_sample(3, "val", 2, label=int(val_small.labels[2]))
    assert s.image.tobytes() == val_small.images[2].tobytes()
    np.testing.assert_allclose(s.landmarks, val_small.landmarks[2])


def test_generate_matches_render_sample_with_shared_subjects():
    d = sf.generate(12, 6, 6, seed=1, n_identities=9, progress=False)
    test = d.subset("test")
    for i in range(len(test)):
        s = sf.render_sample(1, "test", i, label=int(test.labels[i]), subject=int(test.extras["subject"][i]))
        assert s.image.tobytes() == test.images[i].tobytes()


# ---------------------------------------------------------------- shapes and metadata
@pytest.mark.parametrize("size,rgb", [(16, False), (48, False), (64, True), (112, False)])
def test_shapes_and_dtypes(size, rgb):
    d = sf.generate(7, 2, 2, image_size=size, rgb=rgb, progress=False)
    shape = (11, size, size, 3) if rgb else (11, size, size)
    assert d.images.shape == shape and d.images.dtype == np.uint8
    assert d.landmarks.shape == (11, 68, 2) and d.landmarks.dtype == np.float32
    assert d.extras["au_intensity"].shape == (11, len(sf.AUS)) and d.extras["au_intensity"].dtype == np.float32
    assert d.extras["subject"].dtype == np.int64 and d.extras["landmark_visible"].dtype == bool
    assert d.pose.dtype == np.float32 and np.isfinite(d.pose).all()
    assert d.images.std() > 10  # not blank
    s = sf.render_sample(0, "train", 0, image_size=size, rgb=rgb)
    assert s.image.shape == shape[1:] and s.landmarks.shape == (68, 2) and s.visible.shape == (68,)
    assert set(s.au_masks) == set(sf.AUS) and all(m.shape == (size, size) and m.dtype == bool for m in s.au_masks.values())


def test_dataset_metadata(small):
    assert small.name == "synthfer" and small.classes == CANONICAL[:7]
    assert list(small.source_ids[:2]) == ["synthfer/train/000000", "synthfer/train/000001"]
    assert small.source_ids[60] == "synthfer/val/000000"
    assert small.meta["generator"] == "fernb.data.synthfer" and small.meta["aus"] == list(sf.AUS)
    assert small.meta["params"]["seed"] == 3 and small.meta["params"]["n_val"] == 20
    assert small.meta["class_aus"]["happy"] == ["AU6", "AU12"]
    # a fresh identity per sample: every subject id is unique
    assert len(np.unique(small.extras["subject"])) == len(small)
    eight = sf.generate(16, 0, 0, contempt=True, imbalance="balanced", progress=False)
    assert eight.classes == CANONICAL and (eight.labels == 7).sum() == 2


def test_subjects_are_disjoint_across_splits():
    d = sf.generate(40, 10, 10, n_identities=12, progress=False)
    subj = {sp: set(d.extras["subject"][d.split == sp].tolist()) for sp in ("train", "val", "test")}
    assert not (subj["train"] & subj["val"]) and not (subj["train"] & subj["test"]) and not (subj["val"] & subj["test"])
    assert set().union(*subj.values()) <= set(range(12)) and len(subj["train"]) >= 6
    # the same subject has the same face shape: with expression and pose fixed, landmarks agree
    a = sf.render_sample(0, "train", 0, subject=5, label=0, yaw=0.0, occlusion_prob=0)
    b = sf.render_sample(0, "train", 1, subject=5, label=0, yaw=0.0, occlusion_prob=0)
    c = sf.render_sample(0, "train", 1, subject=6, label=0, yaw=0.0, occlusion_prob=0)
    shape = lambda s: (s.landmarks - s.landmarks.mean(0)) / _iod(s)  # noqa: E731
    assert np.abs(shape(a) - shape(b)).max() < np.abs(shape(b) - shape(c)).max()


# ---------------------------------------------------------------- pose geometry
@pytest.mark.parametrize("yaw", [-90.0, -45.0, 0.0, 45.0, 90.0])
def test_visible_landmarks_lie_inside_the_head(yaw):
    for i in range(6):
        s = sf.render_sample(5, "train", i, image_size=64, yaw=yaw)
        pts = s.landmarks[s.visible]
        assert len(pts) >= 25
        assert (pts >= -0.5).all() and (pts <= 63.5).all()
        ij = np.clip(np.round(pts).astype(int), 0, 63)
        # allow 1 px of rounding at the silhouette edge
        from scipy.ndimage import binary_dilation

        sil = binary_dilation(s.silhouette, iterations=1)
        assert sil[ij[:, 1], ij[:, 0]].all(), f"yaw {yaw} sample {i}: landmark outside the head"


def test_foreshortening_and_self_occlusion():
    for i in range(5):
        kw = dict(label=0, image_size=112)
        front = sf.render_sample(2, "train", i, yaw=0.0, **kw)
        turned = sf.render_sample(2, "train", i, yaw=45.0, **kw)
        ratio = _iod(turned) / _iod(front)
        # orthographic rotation of eyes on a curved face: cos 45 = 0.707 (eye depth differences
        # and the small pitch/roll jitter move it a little)
        assert abs(ratio - math.cos(math.radians(45))) < 0.08, ratio
        profile = sf.render_sample(2, "train", i, yaw=90.0, **kw)
        assert not profile.visible[42:48].any() and not profile.visible[22:27].any()  # far eye and brow
        assert profile.visible[36:42].all()                                           # near eye
        mirror = sf.render_sample(2, "train", i, yaw=-90.0, **kw)
        assert not mirror.visible[36:42].any() and mirror.visible[42:48].all()
        assert front.visible[36:48].all()


def test_yaw_sign_convention():
    for i in range(4):
        for yaw in (30.0, 45.0, 90.0):
            s = sf.render_sample(1, "val", i, yaw=yaw, image_size=64)
            eye_mid = (s.landmarks[36:42].mean(0) + s.landmarks[42:48].mean(0)) / 2
            assert s.landmarks[30, 0] > eye_mid[0] + 1, "positive yaw: nose tip to the image right"
            m = sf.render_sample(1, "val", i, yaw=-yaw, image_size=64)
            eye_mid = (m.landmarks[36:42].mean(0) + m.landmarks[42:48].mean(0)) / 2
            assert m.landmarks[30, 0] < eye_mid[0] - 1


def test_profile_nose_protrudes_from_the_silhouette():
    s = sf.render_sample(0, "train", 3, yaw=90.0, image_size=64, occlusion_prob=0)
    # the nose tip is the right-most face landmark and the silhouette reaches it
    assert s.landmarks[30, 0] >= s.landmarks[s.visible][:, 0].max() - 0.5
    x, y = np.round(s.landmarks[30]).astype(int)
    assert s.silhouette[y, max(x - 1, 0)]


def test_pose_distribution_follows_probabilities():
    d = sf.generate(800, 0, 0, image_size=16, progress=False)
    bins = np.array(sf.KDEF_POSES)[np.abs(d.pose[:, None] - np.array(sf.KDEF_POSES)[None]).argmin(1)]
    assert np.abs(d.pose - bins).max() <= 5.0 + 1e-4
    frac0 = (bins == 0).mean()
    assert 0.43 < frac0 < 0.57
    d2 = sf.generate(60, 0, 0, image_size=16, poses=(0, 30), pose_probs=(0.0, 1.0), yaw_jitter=0, progress=False)
    np.testing.assert_allclose(d2.pose, 30.0)


# ---------------------------------------------------------------- expressions
@pytest.mark.parametrize("cls", ["happy", "sad", "surprise", "fear", "disgust", "anger", "contempt"])
def test_class_aus_are_active(cls):
    for i in range(5):
        s = sf.render_sample(0, "train", i, label=index_of(cls), contempt=True)
        for au in sf.CLASS_AUS[cls]:
            assert s.au_intensity[sf.AUS.index(au)] > 0, (cls, au)
        assert 0 <= s.au_intensity.min() and s.au_intensity.max() <= 1


def test_neutral_has_only_weak_leaked_aus():
    ints = np.stack([sf.render_sample(0, "test", i, label=0).au_intensity for i in range(40)])
    assert ints.max() <= 0.35 + 1e-6
    assert (ints > 0).any()  # some leakage happens


def _gap(s):  # inner-lip opening (62 = upper inner, 66 = lower inner) relative to face size
    return (s.landmarks[66, 1] - s.landmarks[62, 1]) / _iod(s)


def test_surprise_opens_the_mouth_more_than_neutral():
    surprise = [_gap(sf.render_sample(0, "train", i, label=index_of("surprise"), yaw=0.0)) for i in range(20)]
    neutral = [_gap(sf.render_sample(0, "train", i, label=index_of("neutral"), yaw=0.0)) for i in range(20)]
    assert np.mean(surprise) > np.mean(neutral) + 0.1
    assert np.median(neutral) < 0.02


def test_happy_raises_the_mouth_corners():
    def corner_lift(s):
        mid = (s.landmarks[51, 1] + s.landmarks[57, 1]) / 2
        return (mid - (s.landmarks[48, 1] + s.landmarks[54, 1]) / 2) / _iod(s)

    happy = [corner_lift(sf.render_sample(0, "train", i, label=index_of("happy"), yaw=0.0)) for i in range(20)]
    sad = [corner_lift(sf.render_sample(0, "train", i, label=index_of("sad"), yaw=0.0)) for i in range(20)]
    assert np.mean(happy) > np.mean(sad) + 0.05


def test_contempt_is_unilateral():
    sides = []
    for i in range(12):
        c = sf.render_sample(4, "train", i, label=7, contempt=True, yaw=0.0)
        n = sf.render_sample(4, "train", i, label=0, contempt=True, yaw=0.0)
        # lift of each corner relative to the same face with a neutral expression
        right = (n.landmarks[48, 1] - c.landmarks[48, 1]) / _iod(n)
        left = (n.landmarks[54, 1] - c.landmarks[54, 1]) / _iod(n)
        hi, lo = max(right, left), min(right, left)
        if c.au_intensity[sf.AUS.index("AU12")] > 0.3:
            assert hi > 0.04 and abs(lo) < 0.5 * hi, (right, left)
        sides.append(right > left)
    assert 0 < sum(sides) < len(sides)  # both sides occur


def test_au_masks_are_located_where_the_au_acts():
    s = sf.render_sample(0, "train", 0, label=index_of("happy"), yaw=0.0, image_size=112)
    lm = s.landmarks
    for au, m in s.au_masks.items():
        assert m.any(), au
    for corner in (48, 54):
        x, y = np.round(lm[corner]).astype(int)
        assert s.au_masks["AU12"][y - 2:y + 3, x - 2:x + 3].any()
    assert not s.au_masks["AU12"][: int(lm[27, 1])].any()              # nothing above the nose root
    ys, _ = np.nonzero(s.au_masks["AU1"])
    assert ys.mean() < lm[36:48, 1].mean()                                # brows/forehead: above the eyes
    ys, _ = np.nonzero(s.au_masks["AU26"])
    # jaw: mostly below the nose (the renderer's record adds the hairline, which a jaw drop
    # shifts by resampling the ray-cast box; see _AUTrace in synthfer.py)
    assert (ys > lm[33, 1]).mean() > 0.5
    x, y = np.round(lm[30]).astype(int)
    assert s.au_masks["AU9"][y, x]                                        # nose
    # reusable from stored landmarks
    again = sf.au_region_masks(s.landmarks, 112, ["AU12"])
    assert list(again) == ["AU12"] and again["AU12"].sum() > 0


# ---------------------------------------------------------------- class imbalance
def test_fer2013_proportions_and_balanced_counts():
    d = sf.generate(1400, 100, 0, image_size=16, progress=False)
    counts = np.bincount(d.labels[d.split == "train"], minlength=7)
    names = CANONICAL[:7]
    ref = np.array([sf.FER2013_TRAIN_COUNTS[c] for c in names], float)
    expected = ref / ref.sum() * 1400
    assert np.abs(counts - expected).max() <= 1                           # largest remainder: exact
    assert names[counts.argmax()] == "happy" and names[counts.argmin()] == "disgust"
    b = sf.generate(100, 15, 8, image_size=16, imbalance="balanced", progress=False)
    for sp in ("train", "val", "test"):
        c = np.bincount(b.labels[b.split == sp], minlength=7)
        assert c.max() - c.min() <= 1 and c.sum() == (b.split == sp).sum()
    w = sf.generate(50, 0, 0, image_size=16, imbalance={"happy": 3, "sad": 2}, progress=False)
    assert set(np.bincount(w.labels, minlength=7).tolist()) == {0, 30, 20}
    # labels are shuffled, not sorted
    assert (np.diff(d.labels[:100]) != 0).sum() > 30


# ---------------------------------------------------------------- difficulty
def test_not_trivially_separable():
    """Logistic regression on raw 48x48 pixels: clearly above chance, far from perfect.

    Balanced classes so that chance is exactly 1/7 = 0.14. Measured with seed 0 (1500 train /
    500 test, C=0.1): test accuracy 0.33 (train 0.63); with C=1 it is 0.39. Pose, identity,
    lighting and occlusion swamp the small expression cues for a linear pixel model. Bounds
    keep a wide margin both ways: > 0.22 (it learns the expressions, not noise) and < 0.85
    (the data set is not trivially separable).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    d = sf.generate(1500, 0, 500, seed=0, imbalance="balanced", progress=False)
    x = d.images.reshape(len(d), -1).astype(np.float32) / 255.0
    x -= x.mean(0)
    tr, te = d.split == "train", d.split == "test"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(max_iter=100, C=0.1).fit(x[tr], d.labels[tr])
    acc = clf.score(x[te], d.labels[te])
    assert 0.22 < acc < 0.85, acc


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs,match", [
    (dict(n_train=-1), "n_train must be a non-negative integer"),
    (dict(n_val=2.5), "n_val must be a non-negative integer"),
    (dict(image_size=12), "image_size must be an integer >= 16"),
    (dict(imbalance={"joy": 1}), r"unknown classes \['joy'\]"),
    (dict(imbalance={"contempt": 1}), r"unknown classes \['contempt'\]"),
    (dict(imbalance="kdef"), "imbalance must be 'fer2013', 'balanced'"),
    (dict(imbalance={"happy": 0}), "sum to zero"),
    (dict(pose_probs=(0.5, 0.5)), "pose_probs has 2 entries but poses has 5"),
    (dict(pose_probs=(0.5, 0.5, 0.5, 0.0, 0.0)), "sum to 1"),
    (dict(poses=(0, 120)), r"within \[-90, 90\]"),
    (dict(poses=()), "non-empty"),
    (dict(yaw_jitter=-1), "yaw_jitter"),
    (dict(occlusion_prob=1.5), "occlusion_prob"),
    (dict(seed=-3), "seed must be a non-negative integer"),
    (dict(n_identities=2), "n_identities=2 is too small"),
])
def test_invalid_arguments(kwargs, match):
    args = dict(n_train=5, n_val=2, n_test=2, progress=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sf.generate(**args)


def test_render_sample_validation():
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        sf.render_sample(0, "dev", 0)
    with pytest.raises(ValueError, match="label 7 outside the 7 classes"):
        sf.render_sample(0, "train", 0, label=7)
    with pytest.raises(ValueError, match=r"unknown options \['colour'\]"):
        sf.render_sample(0, "train", 0, colour=True)
    with pytest.raises(ValueError, match=r"landmarks must be \(68,2\)"):
        sf.au_region_masks(np.zeros((5, 2)), 48)


# --- au_off: the same face with Action Units switched off (notebook 05's causal check) -------------
def test_au_off_zeroes_only_that_au_and_keeps_every_other_draw():
    from fernb.data.synthfer import AUS, CLASS_AUS, render_sample
    label = CANONICAL.index("happy")
    on = render_sample(0, "test", 1, label=label, occlusion_prob=0.0)
    off = render_sample(0, "test", 1, label=label, occlusion_prob=0.0, au_off=["AU12"])
    k = AUS.index("AU12")
    assert on.au_intensity[k] > 0 and off.au_intensity[k] == 0
    keep = [i for i in range(len(AUS)) if i != k]
    np.testing.assert_array_equal(on.au_intensity[keep], off.au_intensity[keep])
    assert (on.yaw, on.pitch, on.roll, on.subject, on.label) == (off.yaw, off.pitch, off.roll, off.subject, off.label)
    assert (on.image != off.image).any()
    assert "AU12" in CLASS_AUS["happy"]


def test_au_off_of_an_inactive_au_renders_the_same_bytes():
    from fernb.data.synthfer import AUS, render_sample
    on = render_sample(3, "train", 7, label=CANONICAL.index("sad"))
    inactive = [a for a, v in zip(AUS, on.au_intensity) if v == 0]
    assert inactive
    off = render_sample(3, "train", 7, label=CANONICAL.index("sad"), au_off=inactive)
    np.testing.assert_array_equal(on.image, off.image)
    np.testing.assert_array_equal(on.landmarks, off.landmarks)


def test_au_off_moves_the_landmarks_that_au_displaces_and_not_the_jaw_line_for_brows():
    from fernb.data.synthfer import render_sample
    label = CANONICAL.index("surprise")
    on = render_sample(0, "test", 3, label=label, occlusion_prob=0.0)
    off = render_sample(0, "test", 3, label=label, occlusion_prob=0.0, au_off="AU1")
    moved = np.linalg.norm(on.landmarks - off.landmarks, axis=1) > 1e-4
    assert moved[17:27].any()           # the brows (iBUG 17-26) move
    assert not moved[0:17].any()        # the jaw line does not


def test_au_off_names_an_unknown_au():
    from fernb.data.synthfer import render_sample
    with pytest.raises(ValueError, match="au_off: unknown AUs \\['AU99'\\]"):
        render_sample(0, "test", 0, au_off=["AU99"])


# --- au_masks cover every pixel an AU changes (the ground truth for Grad-CAM / SHAP scoring) -------
def _footprint_faces():
    """Every class (contempt included, for AU14) at yaw 0, 45 and -90, at 48 and 96 px, no occluder."""
    for size in (48, 96):
        for i in range(8):
            for yaw in (0.0, 45.0, -90.0):
                yield dict(seed=2, split="val", index=i, label=i % 8, contempt=True, yaw=yaw, image_size=size,
                           occlusion_prob=0.0)


def test_au_masks_cover_the_au_footprint():
    from scipy.ndimage import binary_dilation

    inside = {au: 0 for au in sf.AUS}
    total = {au: 0 for au in sf.AUS}
    for face in _footprint_faces():
        kw = dict(face)
        seed, split, index = kw.pop("seed"), kw.pop("split"), kw.pop("index")
        on = sf.render_sample(seed, split, index, **kw)
        for au, v in zip(sf.AUS, on.au_intensity):
            if v <= 0:
                continue
            fp = sf.au_footprint(seed, split, index, au, **kw)
            off = sf.render_sample(seed, split, index, au_off=[au], **kw)
            # 3x3: the footprint is measured on the rounded, noisy output, the masks on the 2x canvas
            region = binary_dilation(on.au_masks[au] | off.au_masks[au], np.ones((3, 3), bool))
            total[au] += int(fp.sum())
            inside[au] += int((fp & region).sum())
    assert all(total[au] > 0 for au in sf.AUS), total          # every AU was active and changed pixels
    # <= 1 % outside, pooled per AU: the record bounds every drawn primitive exactly, but rounding
    # at three stages (2x blur, INTER_AREA, final rint) can lift a sub-level difference over the
    # threshold, and AU26 moves the ray-cast box, whose upsampled shading shifts by a fraction of a level
    outside = {au: 1 - inside[au] / total[au] for au in sf.AUS}
    assert max(v for au, v in outside.items() if au != "AU26") <= 0.01, outside
    # KNOWN GAP, not a bound from first principles: AU26 also shifts the upsampled ray-cast layer
    # (the box grows with the chin); _AUTrace records only its hairline, so a residue stays outside
    assert outside["AU26"] <= 0.05, outside


def test_au_masks_stay_tight_and_contain_the_landmark_regions():
    shares = {au: [] for au in sf.AUS}
    for face in _footprint_faces():
        kw = dict(face)
        s = sf.render_sample(kw.pop("seed"), kw.pop("split"), kw.pop("index"), **kw)
        sil = s.silhouette.sum()
        lm_regions = sf.au_region_masks(s.landmarks, s.image.shape[0], sf.AUS, visible=s.visible)
        for au in sf.AUS:
            assert not (lm_regions[au] & ~s.au_masks[au]).any(), au   # the landmark region is kept
            shares[au].append(s.au_masks[au].sum() / sil)
    mean = {au: float(np.mean(v)) for au, v in shares.items()}
    # the silhouette is the whole head (hair and forehead included); the widest record (AU9 moves
    # brows, lower lids, nose and upper lip and deepens both nasolabial folds) spans several facial
    # regions, but a mask over half the head would no longer say where an AU acts
    assert max(mean.values()) < 0.5, mean
    # an AU that only lifts the upper lids (AU5) stays smaller than one that moves the nose, lids, brows and lip (AU9)
    assert np.mean(shares["AU5"]) < np.mean(shares["AU9"])


def test_au_footprint_is_empty_for_an_inactive_au_and_validates():
    s = sf.render_sample(3, "train", 7, label=index_of("sad"), occlusion_prob=0.0)
    inactive = [a for a, v in zip(sf.AUS, s.au_intensity) if v == 0]
    fp = sf.au_footprint(3, "train", 7, inactive[0], label=index_of("sad"), occlusion_prob=0.0)
    assert fp.shape == (48, 48) and fp.dtype == bool and not fp.any()
    active = sf.au_footprint(3, "train", 7, "AU15", label=index_of("sad"), occlusion_prob=0.0, rgb=True)
    assert active.shape == (48, 48) and active.any()
    with pytest.raises(ValueError, match="unknown AU 'AU99'"):
        sf.au_footprint(3, "train", 7, "AU99")
