"""The schema of ``params.yaml``: every key, its type, its range and its choices, checked before any work starts.

A stage (``fernb run``, hence ``dvc repro`` and ``dvc exp run -S``), ``fernb train``, ``fernb search``
and ``fernb params`` validate ``params.yaml`` with their ``-p`` / ``--params-file`` / profile
overrides applied (:func:`validate_params`). A wrong type, an out-of-range value, an unknown choice or
an unknown key ends as one line per problem naming the key path, the value and what is allowed::

    params.yaml: hafem.lr = 'abc': expected a number (e.g. 0.001; YAML reads 1e-3 without a dot as text, write 1.0e-3)

instead of a ``TypeError`` deep in the trainer after the data has loaded. The models mirror the
sections of ``params.yaml`` one to one; each field's comment there says what it means. Choices
that a registry of the package also holds (datasets, ladders, FPS sweeps) are repeated here so that
validation needs nothing heavier than pydantic; ``tests/workbook/test_params_schema.py`` checks
that each list still equals its registry.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Mapping, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["Params", "ParamsError", "validate_params", "TRAINABLE", "PREPARABLE", "problems"]


class ParamsError(ValueError):
    """Parameters that do not fit the schema: ``str(err)`` is one line per problem."""


# Datasets notebook 00 can prepare (fernb.data's loaders) and the ones 01/02 may train on
# (facial_expressions is test-only, fernb/data/facialexpressions.py).
PREPARABLE = ("synthfer", "fer2013", "ferplus", "rafdb", "affectnet", "kdef", "ckplus", "facial_expressions")
TRAINABLE = PREPARABLE[:-1]

PositiveInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
Fraction = Annotated[float, Field(gt=0, lt=1)]
Seeds = Annotated[list[NonNegInt], Field(min_length=1)]
Split = Literal["train", "val", "test"]


class Section(BaseModel):
    """A ``params.yaml`` section: exactly its keys (a typo is an unknown key, not a silent default),
    types checked strictly (``"0.1"`` is no number, ``true`` no count; an int is a valid float)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Data(Section):
    dataset: Literal[TRAINABLE]
    data_root: str | None


class SynthFER(Section):
    n_train: PositiveInt
    n_val: PositiveInt
    n_test: PositiveInt
    image_size: Annotated[int, Field(ge=16)]
    synth_seed: NonNegInt
    contempt: bool
    imbalance: Literal["fer2013", "balanced"]
    occlusion_prob: Probability
    identity_range: Annotated[list[Probability], Field(min_length=2, max_length=2)]


class Shifts(Section):
    n_train: PositiveInt
    n_val: PositiveInt
    datasets: dict[str, dict[str, Any]]   # generate() options; fernb.data.shifts checks each name


class FERPlus(Section):
    vote_rule: Literal["majority", "ferplus"]
    vote_ties: Literal["drop", "first"]
    ferplus_classes: Literal[7, 8]


class Wild(Section):
    wild_classes: Literal[7, 8]
    val_fraction: Fraction
    rafdb_variant: Literal["aligned", "original"]
    affectnet_max_per_class: PositiveInt | None
    k_folds: Annotated[int, Field(ge=2)]
    test_fold: NonNegInt
    fold_seed: NonNegInt
    ckplus_peak_frames: PositiveInt

    @model_validator(mode="after")
    def _fold_exists(self):
        if self.test_fold >= self.k_folds:
            raise ValueError(f"test_fold ({self.test_fold}) must be one of the k_folds ({self.k_folds}) folds, 0-{self.k_folds - 1}")
        return self


class Faces(Section):
    face_backend: Literal["auto", "fan", "mtcnn", "opencv"]
    face_size: Annotated[int, Field(ge=16)]
    enlarge: Annotated[float, Field(ge=1)]
    align_fit: Literal["eyes", "five"]
    clahe: bool
    clip_limit: PositiveFloat
    tile_grid: PositiveInt
    multiple_faces: Literal["largest", "reject"]
    estimate_pose: bool | list[Split]
    demo_photos: NonNegInt
    pose_check_photos: NonNegInt


class DataPrep(Section):
    on_unreadable: Literal["raise", "skip"]
    blank_std: NonNegFloat
    grid_per_class: PositiveInt


class Train(Section):
    device: Annotated[str, Field(pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")]
    amp: Literal["auto", "bf16", "fp16", "off"]
    deterministic: bool
    grad_clip: PositiveFloat | None
    channels_last: Literal["auto", "on", "off"]   # quoted in YAML: a bare on/off reads as true/false
    compile: bool
    device_cache_gb: NonNegFloat
    progress: bool


class AugmentOptions(Section):
    """``hafem.augment_options``: arguments of :class:`fernb.train.augment.HAFEMAugment`, each optional
    (absent = the paper's value, §3.3)."""

    p_flip: Probability = None
    p_crop: Probability = None
    crop_padding: NonNegInt = None
    p_jitter: Probability = None
    brightness: NonNegFloat = None
    contrast: NonNegFloat = None
    saturation: NonNegFloat = None
    hue: Annotated[float, Field(ge=0, le=0.5)] = None
    p_rotate: Probability = None
    max_angle: NonNegFloat = None
    p_noise: Probability = None
    noise_sigma: Annotated[list[NonNegFloat], Field(min_length=2, max_length=2)] = None
    p_cutout: Probability = None
    cutout_size: NonNegInt = None
    p_mixup: Probability = None
    mixup_alpha: PositiveFloat = None


class Hafem(Section):
    seeds: Seeds
    backbone: str
    pretrained: bool | str
    img_size: Annotated[int, Field(ge=16)]
    use_cbam: bool
    cbam_placement: Literal["final", "stages"]
    use_transformer: bool
    num_layers: PositiveInt
    d_model: PositiveInt | None
    num_heads: PositiveInt
    d_ff: PositiveInt | None
    pool: Literal["mean", "cls"]
    head_dropout: Annotated[float, Field(ge=0, lt=1)]
    drop_path_rate: Annotated[float, Field(ge=0, lt=1)]
    epochs: PositiveInt
    warmup_epochs: NonNegInt
    batch_size: PositiveInt
    lr: PositiveFloat
    min_lr: NonNegFloat
    layer_decay: Annotated[float, Field(gt=0, le=1)] | None
    weight_decay: NonNegFloat
    patience: PositiveInt
    loss: Literal["compound", "ce"]
    loss_weights: Annotated[list[NonNegFloat], Field(min_length=3, max_length=3)]
    dls_eps: Annotated[float, Field(ge=0, lt=1)]
    center_mixed: Literal["dominant", "skip", "weighted"]
    augment: Literal["hafem", "none"]
    augment_options: AugmentOptions
    max_train: PositiveInt | None
    init_from: str | None

    @model_validator(mode="after")
    def _warmup_within_training(self):
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must be below epochs ({self.epochs})")
        return self


class Lanmsff(Section):
    seeds: Seeds
    img_size: Annotated[int, Field(ge=16)]
    use_massatt: bool
    use_pwfs: bool
    drop_rate: Annotated[float, Field(ge=0, lt=1)]
    bn_momentum: Annotated[float, Field(gt=0, le=1)]
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat
    eps: PositiveFloat
    plateau_patience: NonNegInt
    patience: PositiveInt
    offline_x4: bool
    scaling: Literal["range", "image"]
    max_train: PositiveInt | None
    init_from: str | None


LADDER_NAMES = ("hafem_components", "hafem_loss", "lanmsff_modules", "table3_baselines")


class Ablations(Section):
    ladders: list[Union[Literal[LADDER_NAMES], dict[Literal[LADDER_NAMES], list[str]]]]
    seeds: Seeds
    resnet_backbone: str
    hafem: dict[str, Any]      # overrides of the hafem section: checked as that section (validate_params)
    lanmsff: dict[str, Any]


class Search(Section):
    recipe: Literal["hafem", "lanmsff"]
    trials: PositiveInt
    sampler_seed: NonNegInt
    startup_trials: NonNegInt
    pruner: Literal["median", "none"]
    storage: str | None
    study: str | None
    scale: dict[str, Any] | None   # overrides of the recipe's section: checked as that section
    cv_folds: Annotated[int, Field(ge=2)] | None
    seed: NonNegInt
    space: dict[str, Any] | None


class Finetune(Section):
    models: list[Literal["01_hafem", "02_lanmsff"]]
    target: str
    epochs: list[PositiveInt]
    overrides: dict[str, Any]


class Transfer(Section):
    models: list[str]
    ablation_variants: list[str]
    train_on: list[Literal[TRAINABLE]]
    label_rule: Literal["drop", "error"]
    n_boot: PositiveInt
    finetune: Finetune


class Explain(Section):
    models: list[Literal["01_hafem", "02_lanmsff"]]
    methods: list[Literal["grad_cam", "shap"]]
    per_class: PositiveInt
    shap_nsamples: PositiveInt
    background: PositiveInt
    min_intensity: Probability
    sanity_faces: NonNegInt
    curve_faces: NonNegInt
    curve_steps: PositiveInt
    pose_faces: NonNegInt
    pose_yaws: list[Annotated[float, Field(ge=-90, le=90)]]
    cam_which: Literal["features", "cbam"]
    seed: NonNegInt


class Statistics(Section):
    n_boot: PositiveInt
    seed: NonNegInt
    alpha: Fraction
    families: list[Literal["hafem", "lanmsff"]]


class FPS(Section):
    sweep: Literal["cpu", "gpu"]
    device: Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?)$")]
    models: list[str]
    variants: list[str] | None
    batch_sizes: list[PositiveInt] | None
    threads: PositiveInt | None
    max_seconds: PositiveFloat | None
    e2e_frames: NonNegInt
    e2e_backends: list[Literal["opencv", "mtcnn", "fan"]]
    demo_frames: NonNegInt


class Params(Section):
    """The whole of ``params.yaml``: every section it has is checked whole (a key missing from a section
    is an error); a section it lacks is not (a test's toy project holds only some; a stage that declares
    a missing one says so, :func:`fernb.workbook.stages.declared_keys`), and other top-level entries
    are left alone."""

    model_config = ConfigDict(extra="allow", strict=True)

    datasets: Annotated[list[Literal[PREPARABLE]], Field(min_length=1)] = None
    data: Data = None
    synthfer: SynthFER = None
    shifts: Shifts = None
    ferplus: FERPlus = None
    wild: Wild = None
    faces: Faces = None
    data_prep: DataPrep = None
    train: Train = None
    hafem: Hafem = None
    lanmsff: Lanmsff = None
    ablations: Ablations = None
    search: Search = None
    transfer: Transfer = None
    explain: Explain = None
    statistics: Statistics = None
    fps: FPS = None


# Sections whose value overrides another section's keys: checked as that section with the overrides applied.
RECIPE_SECTIONS = {"hafem": Hafem, "lanmsff": Lanmsff}


def _allowed(error: Mapping) -> str:
    """What a pydantic error says is allowed, in the words of a params.yaml comment."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '')}"
    if kind == "extra_forbidden":
        return "unknown key (a typo? `fernb params STAGE` lists the keys a stage takes)"
    if kind == "missing":
        return "missing key"
    if kind == "value_error":   # a check across keys of one section
        return str(ctx.get("error", error["msg"]))
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        bound = next(iter(ctx.values()), "")
        return f"expected a value {op} {bound}"
    if kind in ("float_type", "float_parsing"):
        hint = "; YAML reads 1e-3 without a dot as text, write 1.0e-3" if _is_number_text(value) else ""
        return f"expected a number{hint}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "expected a whole number"
    if kind == "bool_type":
        return "expected true or false"
    if kind == "string_type":
        return "expected text"
    if kind == "string_pattern_mismatch":
        return f"expected text matching {ctx.get('pattern', '')}"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} items"
    if kind == "too_long":
        return f"expected at most {ctx.get('max_length')} items"
    if kind in ("list_type", "dict_type", "model_type"):
        return {"list_type": "expected a list", "dict_type": "expected a mapping", "model_type": "expected a section"}[kind]
    return error["msg"]


def _is_number_text(value) -> bool:
    try:
        return isinstance(value, str) and bool(float(value) or True)
    except ValueError:
        return False


def problems(err: ValidationError, tree: Any = None, prefix: tuple = ()) -> list[str]:
    """One line per key of a pydantic error: ``key.path = value: what is allowed``.

    A key whose type is a union (``bool | list``) gets one error per alternative from pydantic; they
    are joined into one line that lists every alternative (``expected true or false, or a list of ...``).
    ``tree`` is what was validated (to show the key's value where pydantic gives a failing item's);
    ``prefix`` is where it sits in ``params.yaml``.
    """
    grouped: dict[str, dict] = {}
    for error in err.errors():
        own = list(error["loc"])
        cut = next((i for i, part in enumerate(own) if _union_member(part)), None)
        field = [str(p) for p in (*prefix, *(own if cut is None else own[:cut]))]
        key = ".".join(field)
        entry = grouped.setdefault(key, {"missing": error["type"] in ("missing", "value_error"), "allowed": [],
                                         "value": error.get("input")})
        allowed = _allowed(error)
        if cut is not None:
            entry["value"] = _lookup(tree, own[:cut], error.get("input"))
            if len(own) > cut + 1:   # the alternative's items, not the value itself, were wrong
                allowed = f"a list or mapping whose items are {allowed.removeprefix('expected ')}"
            allowed = allowed.removeprefix("expected ")
        if allowed not in entry["allowed"]:
            entry["allowed"].append(allowed)
    lines = []
    for key, entry in grouped.items():
        shown = "" if entry["missing"] else f" = {entry['value']!r}"
        allowed = entry["allowed"]
        text = allowed[0] if len(allowed) == 1 and (entry["missing"] or allowed[0].startswith(("expected", "unknown"))) \
            else "expected " + ", or ".join(allowed)
        lines.append(f"{key}{shown}: {text}")
    return lines


def _lookup(tree: Any, path: list, default: Any) -> Any:
    """``tree[path[0]][path[1]]...``, or ``default`` where the path does not lead anywhere."""
    for part in path:
        try:
            tree = tree[part]
        except (KeyError, IndexError, TypeError):
            return default
    return tree


def _union_member(part) -> bool:
    """pydantic names a union alternative in the location (``'literal[...]'``, ``'dict[...]'``, ``'bool'``)."""
    return isinstance(part, str) and (part in ("bool", "str", "int", "float", "none", "list")
                                      or "[" in part or part.startswith(("constrained-", "function-")))


def _overridden(line: str, changes: Mapping) -> bool:
    """Whether a problem of an override section (``ablations.hafem.epochs = ...``) is about one of
    its own keys, or about the section as a whole (a check across keys)."""
    path = line.split(":", 1)[0].split(" ", 1)[0].split(".")
    return len(path) < 3 or path[2] in changes


def validate_params(params: Mapping[str, Any], source: str = "params.yaml") -> None:
    """Raise :class:`ParamsError` (one line per problem, each naming ``source``) when ``params`` (the
    whole of ``params.yaml``, overrides applied) does not fit :class:`Params`.

    Override sections (``ablations.hafem``, ``ablations.lanmsff``, ``search.scale``) are checked as the
    recipe section they override, with the overrides applied, so a wrong value there names its own path.
    """
    lines: list[str] = []
    try:
        Params.model_validate(params)
    except ValidationError as err:
        lines += problems(err, params)
    for recipe, model in RECIPE_SECTIONS.items():
        base = params.get(recipe)
        if not isinstance(base, Mapping):
            continue
        overrides = [(("ablations", recipe), (params.get("ablations") or {}).get(recipe))]
        search = params.get("search") or {}
        if isinstance(search, Mapping) and search.get("recipe") == recipe:
            overrides.append((("search", "scale"), search.get("scale")))
        for where, changes in overrides:
            if not isinstance(changes, Mapping) or not changes:
                continue
            merged = {**base, **changes}
            try:
                model.model_validate(merged)
            except ValidationError as err:
                # a problem of the recipe's own keys is the recipe section's, reported above
                lines += [line for line in problems(err, merged, where) if _overridden(line, changes)]
    if lines:
        raise ParamsError("\n".join(f"{source}: {line}" for line in dict.fromkeys(lines)))
