"""SynthFER domain shifts: each changes its one factor and leaves the rest of every sample alone."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from fernb.data import load_prepared, load_store, prepared_dir
from fernb.data import shifts as sh
from fernb.data import synthfer as sf

SYNTHFER = {"n_train": 30, "n_val": 12, "n_test": 40, "image_size": 32, "synth_seed": 0, "contempt": False,
            "imbalance": "fer2013", "occlusion_prob": 0.1, "identity_range": [0.0, 0.8]}
DATASETS = {"identity": {"identity_range": [0.8, 1.0]}, "pose": {"pose_probs": [0.25, 0.25, 0.0, 0.25, 0.25]},
            "lighting": {"lighting": "harsh"}, "occlusion": {"occlusion_prob": 1.0}, "resolution": {"resolution": 12},
            "prior": {"imbalance": "balanced"}}
# train/val sizes other than the source's: the test split pairs all the same
SHIFTS = {"n_train": 20, "n_val": 10, "datasets": DATASETS}

# sha256 of generate(20, 5, 5) (images, labels, landmarks, AU intensities) rendered before the
# shift options existed: the defaults must keep every existing dataset byte for byte.
BEFORE_SHIFT_OPTIONS = "d3ae53e5edfb2df8a51ab5d9691856d69c66fda189916951c0d3d1bf9c672d55"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("project")


@pytest.fixture(scope="module")
def written(root):
    return sh.prepare_shifts(SYNTHFER, SHIFTS, root=root)


@pytest.fixture(scope="module")
def source():
    s = SYNTHFER
    return sf.generate(s["n_train"], s["n_val"], s["n_test"], image_size=s["image_size"], seed=s["synth_seed"],
                       contempt=s["contempt"], imbalance=s["imbalance"], occlusion_prob=s["occlusion_prob"],
                       identity_range=s["identity_range"], progress=False).subset("test")


def _test(written, shift):
    return load_store(written[sh.SHIFT_PREFIX + shift]).subset("test")


def _same(a, b, *fields):
    """The named per-sample arrays of two test splits agree index by index."""
    get = {"labels": lambda d: d.labels, "source_ids": lambda d: d.source_ids, "yaw": lambda d: d.pose,
           "landmarks": lambda d: d.landmarks, "images": lambda d: d.images}
    for f in fields:
        x, y = (get[f](d) if f in get else d.extras[f] for d in (a, b))
        np.testing.assert_array_equal(x, y, err_msg=f)


# ---------------------------------------------------------------- one factor each
def test_pose_shift_has_no_frontal_faces_and_the_same_everything_else(source, written):
    pose = _test(written, "pose")
    assert (np.abs(source.pose) < 30).any() and not (np.abs(pose.pose) < 30).any()
    _same(source, pose, "source_ids", "labels", "au_intensity", "identity_quantiles", "occluder")


def test_identity_shift_draws_disjoint_faces_with_the_same_expressions(source, written):
    ident = _test(written, "identity")
    q_src, q_shift = source.extras["identity_quantiles"], ident.extras["identity_quantiles"]
    assert q_src.shape == (len(source), sf.N_IDENTITY_DRAWS) and q_src.dtype == np.float32
    assert q_src.max() < 0.8 <= q_shift.min()
    _same(source, ident, "source_ids", "labels", "yaw", "au_intensity", "occluder")
    assert not np.array_equal(source.landmarks, ident.landmarks)   # another face shape


@pytest.mark.parametrize("shift", ["lighting", "resolution"])
def test_imaging_shifts_change_the_pixels_only(source, written, shift):
    shifted = _test(written, shift)
    assert (source.images != shifted.images).reshape(len(source), -1).any(1).all()
    _same(source, shifted, "source_ids", "labels", "yaw", "au_intensity", "identity_quantiles", "landmarks", "occluder")
    table = sh.factor_table(source, shifted).set_index("measure")
    if shift == "lighting":   # a low side light and little ambient: darker images with deeper shadows
        assert table.loc["mean intensity (0-255)", "shifted"] < table.loc["mean intensity (0-255)", "source"] - 10
        assert table.loc["contrast (per-image std)", "shifted"] > 1.2 * table.loc["contrast (per-image std)", "source"]
    else:                     # 12 x 12 pixels keep no fine texture
        sharp = table.loc["sharpness (Laplacian variance)"]
        assert sharp["shifted"] < 0.2 * sharp["source"]


def test_occlusion_shift_covers_every_face(source, written):
    occ = _test(written, "occlusion")
    assert (occ.extras["occluder"] != 0).all() and (source.extras["occluder"] != 0).mean() < 0.3
    _same(source, occ, "source_ids", "labels", "yaw", "au_intensity", "identity_quantiles", "landmarks")


def test_prior_shift_balances_the_classes(source, written):
    prior = load_store(written["synthfer-prior"])
    for split in ("train", "val", "test"):
        counts = np.bincount(prior.labels[prior.split == split], minlength=7)
        assert counts.max() - counts.min() <= 1, (split, counts)
    fer = sf.allocate_counts(len(source), sf.class_weights("fer2013", source.classes))
    np.testing.assert_array_equal(np.bincount(source.labels, minlength=7), fer)
    assert not prior.meta["shift"]["paired"]


def test_factor_table_flags_each_shifts_own_factor_and_no_other_metadata(source, written):
    metadata = {"identity", "head pose", "occlusion", "class prior"}   # measures that depend on their factor alone
    for name, path in written.items():
        shifted = load_store(path)
        table = sh.factor_table(source, shifted)
        own = shifted.meta["shift"]["factor"]
        assert table.loc[table.factor == own, "changed"].any(), name
        others = table[table.factor.isin(metadata - {own})]
        assert not others.changed.any(), (name, others)


def test_factor_summary_stars_each_shifts_own_factor(source, written):
    shifted = {name: load_store(path) for name, path in written.items()}
    summary = sh.factor_summary(source, shifted)
    assert list(summary.columns) == ["source", *[n.removeprefix("synthfer-") for n in written]]
    for name, data in shifted.items():
        column = summary[name.removeprefix("synthfer-")]
        own = data.meta["shift"]["factor"]
        assert column.loc[own].str.endswith("*").any(), name
        for factor in {"identity", "head pose", "occlusion", "class prior"} - {own}:
            assert not column.loc[factor].str.endswith("*").any(), (name, factor)
    assert sh.factor_summary(source, {}).empty


# ---------------------------------------------------------------- the renderer's options
def test_defaults_are_byte_identical_to_before():
    d = sf.generate(20, 5, 5, identity_range=(0.0, 1.0), lighting="normal", resolution=None, progress=False)
    digest = hashlib.sha256()
    for arr in (d.images, d.labels, d.landmarks, d.extras["au_intensity"]):
        digest.update(arr.tobytes())
    assert digest.hexdigest() == BEFORE_SHIFT_OPTIONS
    assert d.meta["params"]["identity_range"] == [0.0, 1.0] and d.meta["params"]["resolution"] is None


def test_generate_matches_render_sample_with_the_shift_options():
    options = {"identity_range": (0.8, 1.0), "lighting": "harsh", "resolution": 12}
    d = sf.generate(4, 0, 4, image_size=32, seed=2, occlusion_prob=0.5, progress=False, **options).subset("test")
    assert d.meta["params"]["lighting"] == "harsh"
    for i in range(len(d)):
        s = sf.render_sample(2, "test", i, image_size=32, label=int(d.labels[i]), occlusion_prob=0.5, **options)
        assert s.image.tobytes() == d.images[i].tobytes()
        np.testing.assert_array_equal(s.identity_quantiles, d.extras["identity_quantiles"][i])


@pytest.mark.parametrize("kwargs,match", [
    ({"identity_range": (0.5, 0.5)}, "identity_range must be a pair"),
    ({"identity_range": (-0.1, 0.5)}, "identity_range must be a pair"),
    ({"identity_range": 0.5}, "identity_range must be a pair"),
    ({"lighting": "dim"}, "lighting must be one of"),
    ({"resolution": 32}, r"resolution must be .* < image_size \(32\)"),
    ({"resolution": 4}, "resolution must be"),
    ({"resolution": 12.0}, "resolution must be"),
])
def test_invalid_shift_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sf.generate(2, 0, 0, image_size=32, progress=False, **kwargs)
    with pytest.raises(ValueError, match=match):
        sf.render_sample(0, "train", 0, image_size=32, **kwargs)


# ---------------------------------------------------------------- shift definitions
def _with(**datasets):
    return {**SHIFTS, "datasets": datasets}


@pytest.mark.parametrize("shifts,name,match", [
    (SHIFTS, "synthfer-blur", "unknown shift 'synthfer-blur'"),
    (_with(pose={"occlusion_prob": 1.0}), "synthfer-pose", "synthfer-pose: 'occlusion_prob' is not the head pose"),
    (_with(occlusion={"occlusion_prob": 0.1}), "synthfer-occlusion", "occlusion_prob=0.1 is the source's own value"),
    (_with(pose={"pose_probs": list(sf.DEFAULT_POSE_PROBS)}), "synthfer-pose", "pose_probs=.* source's own value"),
    (_with(lighting={}), "synthfer-lighting", "synthfer-lighting: no option given"),
    (_with(identity={"identity_range": [0.7, 1.0]}), "synthfer-identity", r"overlaps the source's \[0, 0.8\]"),
    (_with(resolution={"resolution": 40}), "synthfer-resolution", "synthfer-resolution: resolution must be"),
    (_with(pose={"pose_probs": [0.5, 0.5]}), "synthfer-pose", "synthfer-pose: pose_probs has 2 entries"),
])
def test_a_shift_that_is_no_single_factor_shift_is_refused(shifts, name, match):
    with pytest.raises(ValueError, match=match):
        sh.shift_options(SYNTHFER, shifts, name)


def test_prepare_shifts_checks_every_shift_before_rendering_any(tmp_path):
    with pytest.raises(ValueError, match="synthfer-occlusion"):
        sh.prepare_shifts(SYNTHFER, _with(pose=DATASETS["pose"], occlusion={"occlusion_prob": 0.1}), root=tmp_path)
    assert not (tmp_path / "data").exists()


def test_no_shift_at_all_is_an_empty_output_folder(tmp_path):
    assert sh.shift_names(_with()) == []
    assert sh.prepare_shifts(SYNTHFER, _with(), root=tmp_path) == {}
    assert (tmp_path / "data" / "prepared" / "shifts").is_dir()   # the stage's output exists, empty


def test_shift_options_are_the_source_with_one_change():
    options = sh.shift_options(SYNTHFER, SHIFTS, "synthfer-lighting")
    assert options == {"n_train": 20, "n_val": 10, "n_test": 40, "image_size": 32, "seed": 0, "contempt": False,
                       "imbalance": "fer2013", "occlusion_prob": 0.1, "identity_range": [0.0, 0.8], "lighting": "harsh"}
    assert sh.shift_names(SHIFTS) == [f"synthfer-{k}" for k in DATASETS]
    table = sh.describe(SHIFTS)
    assert list(table.columns) == ["name", "factor", "changes", "cause", "paired"]
    assert table.set_index("name").paired.to_dict() == {f"synthfer-{k}": k != "prior" for k in DATASETS}


# ---------------------------------------------------------------- stores and the command
def test_prepare_shifts_writes_named_stores_load_prepared_reads(written, root, monkeypatch):
    assert set(written) == {f"synthfer-{k}" for k in DATASETS}
    monkeypatch.setenv("FERNB_ROOT", str(root))
    assert prepared_dir("synthfer-pose") == root / "data" / "prepared" / "shifts" / "synthfer-pose"
    assert prepared_dir("synthfer") == root / "data" / "prepared" / "synthfer"
    for name, path in written.items():
        assert path == prepared_dir(name)
        data = load_prepared(name)
        key = name.removeprefix("synthfer-")
        assert data.name == name and len(data) == 20 + 10 + 40
        assert data.meta["shift"] == {"name": name, "factor": sh.FACTORS[key].factor, "changes": DATASETS[key],
                                      "source": "synthfer", "cause": sh.FACTORS[key].cause,
                                      "paired": key != "prior"}
        assert data.extras["identity_quantiles"].shape == (70, sf.N_IDENTITY_DRAWS)


def test_fernb_shifts_command(tmp_path, monkeypatch, capsys):
    import yaml

    from fernb.cli import main

    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"synthfer": SYNTHFER, "shifts": _with(
        pose=DATASETS["pose"], prior=DATASETS["prior"])}))
    monkeypatch.setenv("FERNB_ROOT", str(tmp_path))
    assert main(["shifts", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("fernb: synthfer-pose: 70 images (train=20, val=10, test=40) -> ")
    assert lines[1].startswith("fernb: synthfer-prior: 70 images") and "2 shifts" in lines[2]
    assert load_store(tmp_path / "data" / "prepared" / "shifts" / "synthfer-prior").name == "synthfer-prior"
    bad = {"synthfer": SYNTHFER, "shifts": _with(pose={"lighting": "harsh"})}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(bad))
    assert main(["shifts", "--quiet"]) == 1
    # the parameter schema refuses it before any rendering, naming the shift and its factor's options
    assert ("params.yaml: shifts: datasets.pose = {'lighting': 'harsh'}: a shift sets some of its own factor's options "
            "['pose_probs', 'poses', 'yaw_jitter']") in capsys.readouterr().err
