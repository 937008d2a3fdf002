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

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

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
Split = Literal["train", "val", "test"]


def _distinct(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError(f"expected distinct seeds, got {values!r}")
    return values


# A list of distinct seeds (fernb/train/recipes.py `_seeds`, fernb/train/ablations.py `validate_ablations`);
# a recipe section also takes one seed as a bare integer (`_seeds` wraps it).
Seeds = Annotated[list[NonNegInt], Field(min_length=1), AfterValidator(_distinct)]
RecipeSeeds = NonNegInt | Seeds
# Stages whose runs.json lists trained runs (fernb.runs.write_manifest: 01, 02; 03's ladders; 04's train_on
# rows): notebook 04 fine-tunes the matrix's rows trained by the stages transfer.finetune.models names.
RUN_STAGES = ("01_hafem", "02_lanmsff", "03_ablations", "04_cross_dataset")
# fernb.faces.backends.BACKENDS, fernb.faces.align.FITS
FACE_BACKENDS = ("auto", "fan", "mtcnn", "opencv")


class Section(BaseModel):
    """A ``params.yaml`` section: exactly its keys (a typo is an unknown key, not a silent default),
    types checked strictly (``"0.1"`` is no number, ``true`` no count; an int is a valid float)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Data(Section):
    dataset: Literal[TRAINABLE]
    data_root: str | None


def _increasing(pair: list) -> list:
    if not pair[0] < pair[1]:
        raise ValueError(f"expected [lo, hi] with lo < hi, got {pair!r}")
    return pair


class SynthFER(Section):
    """fernb.data.synthfer.generate's checks: counts >= 0 (a split may be empty; notebook 00 says so),
    16 <= image_size <= 1024, imbalance a name or {class: weight}, 0 <= lo < hi <= 1."""

    n_train: NonNegInt
    n_val: NonNegInt
    n_test: NonNegInt
    image_size: Annotated[int, Field(ge=16, le=1024)]
    synth_seed: NonNegInt
    contempt: bool
    imbalance: Literal["fer2013", "balanced"] | dict[str, NonNegFloat]
    occlusion_prob: Probability
    identity_range: Annotated[list[Probability], Field(min_length=2, max_length=2), AfterValidator(_increasing)]


# fernb.data.shifts.FACTORS: each shift's name and the generate() options it may change (its values are
# checked there, against the synthfer section, before anything renders).
SHIFT_OPTIONS = {"identity": ("identity_range",), "pose": ("pose_probs", "poses", "yaw_jitter"),
                 "lighting": ("lighting",), "occlusion": ("occlusion_prob",), "resolution": ("resolution",),
                 "prior": ("imbalance",)}


class Shifts(Section):
    n_train: NonNegInt   # fernb.data.shifts.shift_options: a shift may have no train or val split
    n_val: NonNegInt
    datasets: dict[Literal[tuple(SHIFT_OPTIONS)], dict[str, Any]]

    @model_validator(mode="after")
    def _one_factor_each(self):
        for name, options in self.datasets.items():
            allowed = SHIFT_OPTIONS[name]
            if not options or set(options) - set(allowed):
                raise ValueError(f"datasets.{name} = {options!r}: a shift sets some of its own factor's options "
                                 f"{list(allowed)}, at least one")
        return self


class FERPlus(Section):
    vote_rule: Literal["majority", "ferplus"]
    vote_ties: Literal["drop", "first"]
    ferplus_classes: Literal[7, 8]


class Wild(Section):
    wild_classes: Literal[7, 8]
    val_fraction: Annotated[float, Field(ge=0, lt=1)]   # fernb/data/folds.py carve_val: [0, 1)
    rafdb_variant: Literal["aligned", "original"]
    affectnet_max_per_class: PositiveInt | None
    k_folds: Annotated[int, Field(ge=3)]   # fernb/data/folds.py fold_splits: a test, a val and a train fold
    test_fold: NonNegInt
    fold_seed: NonNegInt
    ckplus_peak_frames: PositiveInt

    @model_validator(mode="after")
    def _fold_exists(self):
        if self.test_fold >= self.k_folds:
            raise ValueError(f"test_fold ({self.test_fold}) must be one of the k_folds ({self.k_folds}) folds, 0-{self.k_folds - 1}")
        return self


class Faces(Section):
    face_backend: Literal[FACE_BACKENDS]
    face_size: PositiveInt
    enlarge: PositiveFloat   # fernb/faces/align.py template_points: any positive factor
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
    device: Annotated[str, Field(pattern=r"^(auto|cpu|mps(:\d+)?|cuda(:\d+)?)$")]
    amp: Literal["auto", "bf16", "fp16", "off"]
    deterministic: bool
    grad_clip: PositiveFloat | None
    channels_last: Literal["auto", "on", "off"]   # quoted in YAML: a bare on/off reads as true/false
    compile: bool
    device_cache_gb: NonNegFloat
    progress: bool


def _ordered(pair: list) -> list:
    if not pair[0] <= pair[1]:
        raise ValueError(f"expected [low, high] with low <= high, got {pair!r}")
    return pair


class AugmentOptions(Section):
    """``hafem.augment_options``: arguments of :class:`fernb.train.augment.HAFEMAugment`, each optional
    (absent = the paper's value, §3.3)."""

    p_flip: Probability = None
    p_crop: Probability = None
    crop_padding: NonNegInt = None
    p_jitter: Probability = None
    brightness: Probability = None   # factor 1 ± brightness, in [0, 1] (HAFEMAugment.__init__)
    contrast: Probability = None
    saturation: Probability = None
    hue: Annotated[float, Field(ge=0, le=0.5)] = None
    p_rotate: Probability = None
    max_angle: Annotated[float, Field(ge=0, le=180)] = None
    p_noise: Probability = None
    noise_sigma: Annotated[list[NonNegFloat], Field(min_length=2, max_length=2), AfterValidator(_ordered)] = None
    p_cutout: Probability = None
    cutout_size: NonNegInt = None
    p_mixup: Probability = None
    mixup_alpha: PositiveFloat = None


class Hafem(Section):
    seeds: RecipeSeeds
    backbone: str
    pretrained: bool | str | None   # a shipped name (fernb/models/imagenet.py) or a weight file; null = false
    img_size: PositiveInt           # any size the backbone takes (the adapter resizes)
    use_cbam: bool
    cbam_placement: Literal["final", "stages"]
    use_transformer: bool
    num_layers: NonNegInt           # at least 1 with the Transformer (fernb/models/hafem.py HAFEM.__init__)
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
    patience: PositiveInt | None   # null = no early stopping (fernb/train/state.py EarlyStopping)
    loss: Literal["compound", "ce"]
    loss_weights: Annotated[list[NonNegFloat], Field(min_length=3, max_length=3)]
    dls_eps: Probability   # fernb/train/losses.py distribution_aware_smoothing: [0, 1]
    center_mixed: Literal["dominant", "skip", "weighted"]
    augment: Literal["hafem", "none"]
    augment_options: AugmentOptions
    max_train: PositiveInt | None
    init_from: str | None
    scratch_twin: dict | None = None   # hafem overrides of the from-scratch twin (fernb/train/recipes.py scratch_twin)

    @model_validator(mode="after")
    def _twin_is_a_hafem(self):
        """The twin's overrides name hafem keys only, and the section with them applied is valid too."""
        if not self.scratch_twin:
            return self
        unknown = sorted(set(self.scratch_twin) - (set(type(self).model_fields) - {"scratch_twin"}))
        if unknown:
            raise ValueError(f"scratch_twin: unknown hafem keys {unknown}")
        type(self).model_validate({**self.model_dump(exclude_unset=True), **self.scratch_twin, "scratch_twin": None})
        return self

    @model_validator(mode="after")
    def _warmup_within_training(self):
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must be below epochs ({self.epochs})")
        return self

    @model_validator(mode="after")
    def _buildable(self):
        """fernb/models/hafem.py HAFEM.__init__ and fernb/train/losses.py CompoundLoss refuse these."""
        if self.use_transformer and self.num_layers < 1:
            raise ValueError(f"num_layers ({self.num_layers}) must be at least 1 with use_transformer")
        if self.pool == "cls" and not self.use_transformer:
            raise ValueError("pool cls needs the Transformer (use_transformer: true)")
        if self.use_transformer and self.d_model is not None and self.d_model % self.num_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads})")
        if self.loss == "compound" and not any(self.loss_weights):
            raise ValueError("loss_weights are all zero: the compound loss would train nothing")
        return self


class Lanmsff(Section):
    seeds: RecipeSeeds
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
    patience: PositiveInt | None
    offline_x4: bool
    scaling: Literal["range", "image"]
    max_train: PositiveInt | None
    init_from: str | None


LADDER_NAMES = ("hafem_components", "hafem_loss", "lanmsff_modules", "table3_baselines")


# {ladder: [row, ...]}: one ladder, at least two of its rows (fernb/train/ablations.py select)
LadderRows = Annotated[dict[Literal[LADDER_NAMES], Annotated[list[str], Field(min_length=2)]],
                       Field(min_length=1, max_length=1)]


class Ablations(Section):
    ladders: list[Literal[LADDER_NAMES] | LadderRows]
    seeds: Seeds
    resnet_backbone: str
    hafem: dict[str, Any] | None     # overrides of the hafem section: checked as that section (validate_params);
    lanmsff: dict[str, Any] | None   # null or {} = the stage's own recipe


def _space(space: dict) -> dict:
    """Each knob's range as fernb/train/search.py ``_knob`` reads it: ``[low, high]``, ``[low, high, log]``,
    ``[low, high, int]`` or ``{choices: [...]}``."""
    if not space:
        raise ValueError("expected a non-empty mapping of knob: range, or null for the recipe's default space")
    for name, spec in space.items():
        if isinstance(spec, Mapping):
            if set(spec) != {"choices"} or not isinstance(spec["choices"], list) or not spec["choices"]:
                raise ValueError(f"{name} = {spec!r}: expected {{choices: [a, b, ...]}} with at least one value")
            continue
        number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)  # noqa: E731
        if not isinstance(spec, list) or len(spec) not in (2, 3) or not (number(spec[0]) and number(spec[1])) \
                or (len(spec) == 3 and spec[2] not in ("log", "int")):
            raise ValueError(f"{name} = {spec!r}: expected [low, high], [low, high, log], [low, high, int] or "
                             "{choices: [...]}")
        if not spec[0] < spec[1] or (spec[2:] == ["log"] and spec[0] <= 0):
            raise ValueError(f"{name} = {spec!r}: expected low < high (and low > 0 on a log scale)")
    return space


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
    space: Annotated[dict[str, Any], AfterValidator(_space)] | None   # knob names: checked in validate_params


class Finetune(Section):
    models: list[Literal[RUN_STAGES]]
    target: str
    epochs: list[PositiveInt]
    overrides: dict[str, Any]


class Transfer(Section):
    models: list[str]
    ablation_variants: list[str]
    train_on: list[Literal[TRAINABLE]]
    label_rule: Literal["drop", "error"]
    n_boot: Annotated[int, Field(ge=100)]   # fernb/evaluate/transfer.py check_transfer
    finetune: Finetune | None               # null: no fine-tuning (notebook 04 reads it as {})


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


# fernb.realtime.bench: MODELS (fps.models), SWEEPS (fps.sweep), FLAGS (a variant's +-joined flags)
FPS_MODELS = ("lanmsff", "hafem_cpu", "hafem_paper", "resnet50", "efficientnet_b4", "vit_base_16", "swin_tiny")
FPS_SWEEPS = ("cpu", "gpu")
FPS_FLAGS = ("eager", "channels_last", "bf16", "fp16", "compile", "cudagraphs", "onnxruntime")


def _variant(spec: str) -> str:
    """fernb/realtime/bench.py parse_variant's checks that do not depend on the device."""
    flags = [f.strip() for f in spec.split("+") if f.strip()]
    if not flags or set(flags) - set(FPS_FLAGS) or len(set(flags)) != len(flags) \
            or (len(flags) > 1 and {"eager", "onnxruntime"} & set(flags)) or {"bf16", "fp16"} <= set(flags):
        raise ValueError(f"variant {spec!r}: expected eager, onnxruntime, or distinct flags of "
                         f"{list(FPS_FLAGS[1:6])} joined by + (not both bf16 and fp16)")
    return spec


class FPS(Section):
    sweep: Literal[FPS_SWEEPS]
    device: Annotated[str, Field(pattern=r"^(auto|cpu|mps(:\d+)?|cuda(:\d+)?)$")]   # fernb.machine.select_device
    models: list[Literal[FPS_MODELS]]
    variants: list[Annotated[str, AfterValidator(_variant)]] | None
    batch_sizes: list[PositiveInt] | None
    threads: PositiveInt | None
    max_seconds: PositiveFloat | None
    e2e_frames: NonNegInt
    e2e_backends: list[Literal[FACE_BACKENDS]]
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


def _overridden(line: str, changes: Mapping, recipe_lines: list[str], recipe: str) -> bool:
    """Whether a problem of an override section (``ablations.hafem.epochs = ...``) is about one of
    its own keys, or about the section as a whole (a check across keys) that the recipe section
    itself (``recipe_lines``, already reported) does not have."""
    path = line.split(":", 1)[0].split(" ", 1)[0].split(".")
    if len(path) >= 3:
        return path[2] in changes
    return f"{recipe}: {line.split(': ', 1)[-1]}" not in recipe_lines


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
    ablations, search = (params.get(name) if isinstance(params.get(name), Mapping) else {}
                         for name in ("ablations", "search"))
    for recipe, model in RECIPE_SECTIONS.items():
        base = params.get(recipe)
        if not isinstance(base, Mapping):
            continue
        overrides = [(("ablations", recipe), ablations.get(recipe))]
        if search.get("recipe") == recipe:
            overrides.append((("search", "scale"), search.get("scale")))
            lines += _unknown_knobs(search.get("space"), base, recipe)
        for where, changes in overrides:
            if not isinstance(changes, Mapping) or not changes:
                continue
            if where[0] == "ablations" and "seeds" in changes:   # fernb/train/ablations.py _check_keys
                lines.append(f"ablations.{recipe}.seeds = {changes['seeds']!r}: every variant runs ablations.seeds; "
                             "an ablation scale cannot set them")
            merged = {**base, **changes}
            try:
                model.model_validate(merged)
            except ValidationError as err:
                # a problem of the recipe's own keys is the recipe section's, reported above
                lines += [line for line in problems(err, merged, where) if _overridden(line, changes, lines, recipe)]
    if lines:
        raise ParamsError("\n".join(f"{source}: {line}" for line in dict.fromkeys(lines)))


# HAFEM's λ weights, searchable as entries of loss_weights (fernb/train/search.py LAMBDAS)
LAMBDA_KNOBS = ("lambda_ce", "lambda_centre", "lambda_dls")


def _unknown_knobs(space: Any, section: Mapping, recipe: str) -> list[str]:
    """``search.space`` knobs that are no key of the searched recipe's section (fernb/train/search.py
    ``parse_space``: its keys but ``seeds``, and the λ weights where it has ``loss_weights``)."""
    if not isinstance(space, Mapping):
        return []
    allowed = {k for k in section if k != "seeds"} | (set(LAMBDA_KNOBS) if "loss_weights" in section else set())
    return [f"search.space.{name}: not a knob of the {recipe} recipe; expected one of {sorted(allowed)}"
            for name in space if name not in allowed]
