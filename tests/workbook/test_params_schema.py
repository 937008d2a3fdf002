"""The parameter schema: params.yaml passes it, and every kind of bad value is one line naming the key,
the value and what is allowed, raised before any work starts (the CLI and the stage runner)."""
from __future__ import annotations

import copy
import os
import subprocess

import pytest
import yaml

from fernb.workbook import params_schema as ps
from fernb.workbook import stages

from conftest import BIN, REPO

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())



def _env(root) -> dict:
    """The environment of a `fernb` subprocess run in ``root``: a stage run earlier in this process set
    FERNB_ROOT (fernb.workbook.stages.run_stage), which would point the command at that other project."""
    return {**os.environ, "FERNB_ROOT": str(root)}


def _with(key: str, value):
    tree = copy.deepcopy(PARAMS)
    *path, leaf = key.split(".")
    node = tree
    for part in path:
        node = node[part]
    node[leaf] = value
    return tree


def _problem(key: str, value) -> str:
    with pytest.raises(ps.ParamsError) as err:
        ps.validate_params(_with(key, value))
    return str(err.value)


def test_the_projects_params_yaml_passes():
    ps.validate_params(PARAMS)


@pytest.mark.parametrize("key, value, expected", [
    ("hafem.lr", "abc", "params.yaml: hafem.lr = 'abc': expected a number"),
    ("hafem.lr", "1e-3", "hafem.lr = '1e-3': expected a number; YAML reads 1e-3 without a dot as text, write 1.0e-3"),
    ("hafem.lr", -0.1, "hafem.lr = -0.1: expected a value > 0"),
    ("hafem.epochs", 2.5, "hafem.epochs = 2.5: expected a whole number"),
    ("hafem.epochs", True, "hafem.epochs = True: expected a whole number"),
    ("hafem.use_cbam", "yes", "hafem.use_cbam = 'yes': expected true or false"),
    ("train.channels_last", True, "train.channels_last = True: expected one of 'auto', 'on' or 'off'"),
    ("data.dataset", "facial_expressions", "data.dataset = 'facial_expressions': expected one of 'synthfer'"),
    ("hafem.loss_weights", [0.6, 0.4], "hafem.loss_weights = [0.6, 0.4]: expected at least 3 items"),
    ("hafem.pretrained", 3, "hafem.pretrained = 3: expected true or false, or text"),
    ("faces.estimate_pose", ["tset"], "faces.estimate_pose = ['tset']: expected true or false, or a list"),
    ("wild.val_fraction", 1.0, "wild.val_fraction = 1.0: expected a value < 1"),
    ("ablations.ladders", ["hafem_loss", "nope"], "ablations.ladders.1 = 'nope': expected one of 'hafem_components'"),
    ("hafem.augment_options", {"p_crop": 1.5}, "hafem.augment_options.p_crop = 1.5: expected a value <= 1"),
    ("synthfer", None, "synthfer = None: expected a section"),
])
def test_a_bad_value_is_one_line_naming_key_value_and_what_is_allowed(key, value, expected):
    message = _problem(key, value)
    assert len(message.splitlines()) == 1, message
    assert expected in message, message


def test_an_unknown_key_is_named_and_a_missing_one_too():
    typo = _with("hafem.epochz", 3)
    with pytest.raises(ps.ParamsError, match=r"hafem.epochz = 3: unknown key"):
        ps.validate_params(typo)
    missing = copy.deepcopy(PARAMS)
    del missing["lanmsff"]["eps"]
    with pytest.raises(ps.ParamsError, match=r"^params.yaml: lanmsff.eps: missing key$"):
        ps.validate_params(missing)


def test_checks_across_keys_name_their_section():
    assert _problem("hafem.warmup_epochs", 12) == "params.yaml: hafem: warmup_epochs (12) must be below epochs (12)"
    assert "wild: test_fold (5) must be one of the k_folds (5) folds" in _problem("wild.test_fold", 5)


def test_override_sections_are_checked_as_the_section_they_override():
    """ablations.hafem and search.scale hold overrides of the hafem section: a wrong value there names its
    own path, and the recipe's keys it does not override are not blamed on it."""
    assert _problem("ablations.hafem", {"epochs": "x"}) == "params.yaml: ablations.hafem.epochs = 'x': expected a whole number"
    assert "ablations.lanmsff.drop_rat = 0.1: unknown key" in _problem("ablations.lanmsff", {"drop_rat": 0.1})
    assert _problem("search.scale", {"lr": "fast"}) == "params.yaml: search.scale.lr = 'fast': expected a number"
    ps.validate_params(_with("ablations.hafem", {}))


def test_several_problems_are_one_line_each():
    tree = _with("hafem.lr", "abc")
    tree["lanmsff"]["epochs"] = 0
    lines = pytest.raises(ps.ParamsError, ps.validate_params, tree).value.args[0].splitlines()
    assert lines == ["params.yaml: hafem.lr = 'abc': expected a number",
                     "params.yaml: lanmsff.epochs = 0: expected a value > 0"]


def test_the_schemas_choices_are_the_packages():
    """Choices repeated in the schema (so that checking needs only pydantic) equal the registries they copy."""
    import dataclasses
    import typing

    from fernb.data import LOADERS
    from fernb.data.ferplus import RULES, TIES
    from fernb.data.rafdb import VARIANTS
    from fernb.data.shifts import FACTORS
    from fernb.evaluate.comparisons import ANCHORS
    from fernb.evaluate.explain import CAM_LAYERS, METHODS
    from fernb.evaluate.transfer import LABEL_RULES
    from fernb.faces.align import FITS
    from fernb.faces.backends import BACKENDS
    from fernb.realtime.bench import FLAGS, MODELS, SWEEPS
    from fernb.train.ablations import LADDERS
    from fernb.train.config import TrainConfig
    from fernb.train.losses import CENTER_MIXED
    from fernb.train.search import LAMBDAS, SPACES

    def choices(model, field):
        return set(typing.get_args(model.model_fields[field].annotation))

    assert set(ps.PREPARABLE) == set(LOADERS) | {"synthfer"}
    assert set(ps.LADDER_NAMES) == set(LADDERS)
    assert set(ps.Hafem.model_fields) == set(PARAMS["hafem"])   # every key params.yaml has, and no other
    assert set(ps.Lanmsff.model_fields) == set(PARAMS["lanmsff"])
    assert ps.SHIFT_OPTIONS == {name: shift.option_keys for name, shift in FACTORS.items()}
    assert set(ps.FACE_BACKENDS) == set(BACKENDS) and choices(ps.Faces, "align_fit") == set(FITS)
    assert choices(ps.FERPlus, "vote_rule") == set(RULES) and choices(ps.FERPlus, "vote_ties") == set(TIES)
    assert choices(ps.Wild, "rafdb_variant") == set(VARIANTS)
    assert choices(ps.Hafem, "center_mixed") == set(CENTER_MIXED)
    assert set(ps.FPS_MODELS) == set(MODELS) and set(ps.FPS_SWEEPS) == set(SWEEPS) and ps.FPS_FLAGS == FLAGS
    assert set(ps.LAMBDA_KNOBS) == set(LAMBDAS)
    assert choices(ps.Transfer, "label_rule") == set(LABEL_RULES)
    assert set(typing.get_args(typing.get_args(ps.Explain.model_fields["methods"].annotation)[0])) == set(METHODS)
    assert choices(ps.Explain, "cam_which") == {which for layers in CAM_LAYERS.values() for which in layers}
    assert set(typing.get_args(typing.get_args(ps.Statistics.model_fields["families"].annotation)[0])) == set(ANCHORS)
    # TrainConfig.__post_init__'s choices for the keys the recipes pass through unchanged
    config = TrainConfig()
    for section, key in (("train", "amp"), ("train", "channels_last"), ("hafem", "loss"), ("hafem", "augment"),
                         ("lanmsff", "scaling")):
        model = {"train": ps.Train, "hafem": ps.Hafem, "lanmsff": ps.Lanmsff}[section]
        for value in choices(model, key):
            dataclasses.replace(config, **{key: value})   # raises on a choice TrainConfig does not have
    for recipe, space in SPACES.items():   # the default spaces pass as search.space
        ps.validate_params(_with("search", {**PARAMS["search"], "recipe": recipe, "space": space}))


@pytest.mark.parametrize("key, value", [
    ("hafem.seeds", 3),                            # fernb/train/recipes.py _seeds: one seed as an integer
    ("hafem.patience", None),                      # fernb/train/state.py EarlyStopping: None = no early stopping
    ("lanmsff.patience", None),
    ("hafem.pretrained", None),                    # fernb/models/backbones.py resolve_pretrained: None = False
    ("hafem.pretrained", "/weights/efficientnet_b5.safetensors"),
    ("hafem.img_size", 12),                        # HAFEM takes any size its backbone does
    ("hafem.dls_eps", 1.0),                        # fernb/train/losses.py: eps in [0, 1]
    ("synthfer.n_val", 0),                         # generate(): counts >= 0
    ("synthfer.imbalance", {"happy": 1.0, "sad": 2}),   # generate(): {class: weight}
    ("shifts.n_train", 0),                         # fernb/data/shifts.py shift_options: counts >= 0
    ("wild.val_fraction", 0.0),                    # fernb/data/folds.py carve_val: [0, 1)
    ("faces.enlarge", 0.9),                        # fernb/faces/align.py template_points: > 0
    ("faces.face_size", 8),
    ("faces.estimate_pose", ["test"]),
    ("train.device", "mps:0"),                     # fernb.machine.select_device: torch.device(name)
    ("fps.device", "mps"),
    ("fps.e2e_backends", ["auto", "opencv"]),      # bench_predictor: any FacePipeline backend
    ("ablations.hafem", None),                     # fernb/train/ablations.py: `ablations.get(recipe) or {}`
    ("transfer.finetune", None),                   # notebook 04: `transfer["finetune"] or {}`
    ("transfer.finetune.models", ["01_hafem", "03_ablations", "04_cross_dataset"]),   # rows by their stage
    ("search.space", {"lr": [1.0e-4, 1.0e-2, "log"], "batch_size": {"choices": [16, 32]}, "lambda_ce": [0.1, 1.0]}),
    ("fps.variants", ["eager", "compile+channels_last+bf16", "onnxruntime"]),
])
def test_a_value_the_code_takes_passes(key, value):
    ps.validate_params(_with(key, value))


@pytest.mark.parametrize("key, value, expected", [
    ("ablations.seeds", [1, 1], "ablations.seeds: expected distinct seeds, got [1, 1]"),
    ("hafem.num_layers", 0, "hafem: num_layers (0) must be at least 1 with use_transformer"),
    ("hafem.d_model", 100, "hafem: d_model (100) must be divisible by num_heads (8)"),
    ("hafem.loss_weights", [0, 0, 0], "hafem: loss_weights are all zero"),
    ("synthfer.image_size", 2048, "synthfer.image_size = 2048: expected a value <= 1024"),
    ("synthfer.identity_range", [0.8, 0.2], "synthfer.identity_range: expected [lo, hi] with lo < hi"),
    ("shifts.datasets", {"pose": {"lighting": "harsh"}}, "shifts: datasets.pose = {'lighting': 'harsh'}: a shift sets"),
    ("shifts.datasets", {"synthfer-pose": {"yaw_jitter": 0}}, "shifts.datasets.synthfer-pose = {'yaw_jitter': 0}: "
                                                               "expected one of 'identity'"),
    ("wild.k_folds", 2, "wild.k_folds = 2: expected a value >= 3"),
    ("hafem.augment_options", {"brightness": 1.5}, "hafem.augment_options.brightness = 1.5: expected a value <= 1"),
    ("hafem.augment_options", {"max_angle": 200}, "hafem.augment_options.max_angle = 200: expected a value <= 180"),
    ("ablations.hafem", {"seeds": [0]}, "ablations.hafem.seeds = [0]: every variant runs ablations.seeds"),
    ("ablations.ladders", [{"hafem_loss": ["CE", "+DLS"], "hafem_components": ["a", "b"]}], "expected one of"),
    ("search.space", {"lr": [0.01, 0.001]}, "search.space: lr = [0.01, 0.001]: expected low < high"),
    ("search.space", {"lr": [0, 0.1, "log"]}, "(and low > 0 on a log scale)"),
    ("search.space", {"epochz": [1, 5, "int"]}, "search.space.epochz: not a knob of the hafem recipe"),
    ("transfer.n_boot", 50, "transfer.n_boot = 50: expected a value >= 100"),
    ("fps.models", ["lanmsff", "resnet"], "fps.models.1 = 'resnet': expected one of 'lanmsff'"),
    ("fps.variants", ["eager+bf16"], "fps.variants.0: variant 'eager+bf16': expected eager, onnxruntime, or"),
])
def test_a_value_the_code_refuses_is_refused_before_any_work(key, value, expected):
    message = _problem(key, value)
    assert len(message.splitlines()) == 1, message
    assert expected in message, message


def test_a_recipe_problem_is_not_blamed_on_the_ablation_scale_too():
    """A check across keys that fails in the hafem section is reported there once; the ablation scale
    (which overrides other keys) is named only for a problem its own overrides make."""
    assert _problem("hafem.d_model", 100) == "params.yaml: hafem: d_model (100) must be divisible by num_heads (8)"
    assert _problem("ablations.hafem", {"num_heads": 7}) == \
        "params.yaml: ablations.hafem: d_model (128) must be divisible by num_heads (7)"


def test_a_section_the_file_lacks_is_not_required():
    """A toy project (tests) holds some sections only; each it has is checked whole."""
    ps.validate_params({"hafem": PARAMS["hafem"], "a": {"x": 1}})
    with pytest.raises(ps.ParamsError, match="lanmsff.eps: missing key"):
        ps.validate_params({"lanmsff": {k: v for k, v in PARAMS["lanmsff"].items() if k != "eps"}})


def test_stage_parameters_refuse_a_bad_override_and_a_bad_params_yaml(project_copy):
    with pytest.raises(stages.StageError, match=r"^stage 01_hafem, with its overrides: hafem.lr = 'abc': expected a number$"):
        stages.stage_parameters("01_hafem", project_copy, {"hafem.lr": "abc"})
    text = (project_copy / "params.yaml").read_text()
    (project_copy / "params.yaml").write_text(text.replace("  lr: 0.001\n", "  lr: fast\n", 1))
    with pytest.raises(stages.StageError, match=r"^params.yaml: hafem.lr = 'fast': expected a number$"):
        stages.stage_parameters("02_lanmsff", project_copy)


def test_fernb_train_with_a_wrong_type_prints_one_line_and_writes_nothing(project_copy):
    before = sorted(p.relative_to(project_copy) for p in project_copy.rglob("*"))
    done = subprocess.run([str(BIN / "fernb"), "train", "01_hafem", "-p", "hafem.lr=abc"], cwd=project_copy, env=_env(project_copy),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == ("fernb: error: stage 01_hafem, with its overrides: hafem.lr = 'abc': "
                                   "expected a number"), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    after = sorted(p.relative_to(project_copy) for p in project_copy.rglob("*") if "__pycache__" not in p.parts)
    assert after == [p for p in before if "__pycache__" not in p.parts]


def test_fernb_run_with_a_bad_params_yaml_stops_before_the_notebook(project_copy):
    text = (project_copy / "params.yaml").read_text()
    (project_copy / "params.yaml").write_text(text.replace("  epochs: 5 ", "  epochs: five ", 1))
    done = subprocess.run([str(BIN / "fernb"), "run", "02_lanmsff"], cwd=project_copy, env=_env(project_copy), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == "fernb: error: params.yaml: lanmsff.epochs = 'five': expected a whole number"
    assert not (project_copy / "reports").exists()
