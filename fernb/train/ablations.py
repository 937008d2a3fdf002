"""Both papers' ablation ladders as data, expanded into cached runs: every variant × every seed.

A **ladder** is an ordered list of **variants** of one recipe (``fernb/train/recipes.py``);
a variant is a name and a set of overrides of that recipe's ``params.yaml`` section, so adding
a row is one line of :data:`LADDERS`. The ladders:

- ``hafem_components``: HAFEM Figure 3 (FER2013): ResNet-50 71.4 → EfficientNet-B5 84.2 →
  + Transformer 88.6 → + CBAM 91.8 → + compound loss 94.7 (:data:`fernb.papers.hafem.CLAIMS`,
  ``ablation_fer2013``). The first row's backbone is the ``resnet_backbone`` parameter of the
  ``ablations`` section (ResNet-50 at the paper's scale, a small ResNet on a CPU); the second
  is the recipe's own backbone, without Transformer, CBAM or compound loss; the last row is
  the recipe itself (stage 01's configuration, at the ablation scale).
- ``hafem_loss``: the loss rows behind HAFEM §4's "Disgust F1 +4.1 pp, Contempt +5.7 pp
  over cross-entropy only": CE, CE + DLS, CE + centre, and the compound loss, each with the
  paper's weights λ = (0.60, 0.25, 0.15) for the terms it keeps (§3, Eq. of the compound loss).
- ``lanmsff_modules``: LANMSFF Table XII (KDEF): whole, without PWFS, without MassAtt,
  without both (:data:`fernb.papers.lanmsff.CLAIMS`, ``ablation_kdef``).

Each (variant, seed) is one run of the one trainer (:func:`fernb.train.train_run`) in
``runs/03_ablations/<recipe>/<key>/seed<k>``, where ``key`` is a digest of the variant's
resolved settings: two variants that resolve to the same settings share their runs
(``hafem_components``' "+CBAM" row is ``hafem_loss``' "CE" row), a changed variant gets a new
key and only its runs train, and an interrupted stage resumes each run from its checkpoint.
A run that stage 01 or 02 already trained with the same identity (model, knobs, data,
configuration fingerprint and seed; :func:`fernb.train.loop.run_identity`) is read back from
there instead of being trained again (this happens when the ablation scale equals the
training stage's, as with ``make paper``).

>>> cells = expand(["hafem_components"], {"hafem": hafem, "lanmsff": lanmsff}, train, ablations)
>>> table = run_cells("03_ablations", cells, data)      # one row per (ladder, variant, seed)
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fernb.jsonio import json_safe, write_json
from fernb.papers import hafem as hafem_paper
from fernb.papers import lanmsff as lanmsff_paper
from fernb.paths import RUNS, project_root
from fernb.runs import MANIFEST, RESULT, RunResult, load_result, stage_runs
from fernb.train.loop import run_identity, train_run
from fernb.train.recipes import RECIPES, TRAINING_STAGES, Recipe

__all__ = ["Ref", "Rung", "Ladder", "LADDERS", "Cell", "select", "expand", "ladder_cells", "ladder_frame", "cells_frame", "stage_scale_estimate", "validate_ablations", "apply_overrides",
           "find_trained", "run_cells", "ABLATION_KEYS", "search_scale", "search_best_ladder"]

ABLATION_KEYS = ("ladders", "seeds", "resnet_backbone", "hafem", "lanmsff")
PAPER_WEIGHTS = tuple(hafem_paper.RECIPE["loss_weights"])   # λ = (0.60, 0.25, 0.15), §3


@dataclass(frozen=True)
class Ref:
    """An override value read from the ``ablations`` section (e.g. ``Ref("resnet_backbone")``),
    so one ladder serves the CPU default and the paper's scale."""

    key: str


@dataclass(frozen=True)
class Rung:
    """One row (rung) of a ladder, a *variant* of the recipe: its name, the recipe overrides
    that make it, and the paper's name for the row (the key of the paper's numbers), if any."""

    name: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    paper: str | None = None


@dataclass(frozen=True)
class Ladder:
    """An ordered list of variants of one recipe, and where the paper reports it."""

    name: str
    recipe: str                      # "hafem" | "lanmsff" (fernb.train.recipes.RECIPES)
    title: str
    source: str                      # the paper's table or figure
    variants: tuple[Rung, ...]
    paper: Mapping[str, Mapping[str, float]] = field(default_factory=dict)   # variant.paper -> {metric: value}

    def variant(self, name: str) -> Rung:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"ladder {self.name} has no variant {name!r}; it has {[v.name for v in self.variants]}")

    @property
    def order(self) -> list[str]:
        return [v.name for v in self.variants]


_PLAIN = {"use_transformer": False, "use_cbam": False, "loss": "ce"}
_W_CE, _W_CENTRE, _W_DLS = PAPER_WEIGHTS
_HAFEM_FIG3 = {k: {"accuracy": v} for k, v in hafem_paper.CLAIMS["ablation_fer2013"].items()}
_LANMSFF_XII = lanmsff_paper.CLAIMS["ablation_kdef"]
_TABLE3 = {k: {"accuracy": v["accuracy"]} for k, v in hafem_paper.TABLE3.items()}

LADDERS: dict[str, Ladder] = {
    "hafem_components": Ladder(
        "hafem_components", "hafem", "HAFEM, component by component", "HAFEM Figure 3 (FER2013)", (
            Rung("ResNet", {**_PLAIN, "backbone": Ref("resnet_backbone")}, paper="ResNet-50"),
            Rung("backbone", dict(_PLAIN), paper="EfficientNet-B5"),
            Rung("+Transformer", {"use_cbam": False, "loss": "ce"}, paper="+Transformer"),
            Rung("+CBAM", {"loss": "ce"}, paper="+CBAM"),
            Rung("+recipe loss", {}, paper="+compound loss"),
        ), paper=_HAFEM_FIG3),
    "hafem_loss": Ladder(
        "hafem_loss", "hafem", "HAFEM, loss term by loss term", "HAFEM §4 (per-class F1, FER2013)", (
            Rung("CE", {"loss": "ce"}, paper="CE"),
            Rung("CE+DLS", {"loss": "compound", "loss_weights": [_W_CE, 0.0, _W_DLS]}),
            Rung("CE+centre", {"loss": "compound", "loss_weights": [_W_CE, _W_CENTRE, 0.0]}),
            Rung("compound", {"loss": "compound", "loss_weights": list(PAPER_WEIGHTS)}, paper="compound"),
        ), paper={"compound-CE": {"f1_disgust": 4.1, "f1_contempt": 5.7}}),
    "lanmsff_modules": Ladder(
        "lanmsff_modules", "lanmsff", "LANMSFF, module by module", "LANMSFF Table XII (KDEF)", (
            Rung("whole", {}, paper="whole"),
            Rung("-PWFS", {"use_pwfs": False}, paper="-PWFS"),
            Rung("-MassAtt", {"use_massatt": False}, paper="-MassAtt"),
            Rung("-both", {"use_pwfs": False, "use_massatt": False}, paper="-both"),
        ), paper=_LANMSFF_XII),
    # Off by default (not in params.yaml's ablations.ladders): Table 3's baselines that exist as CNN
    # architectures, each with HAFEM's head and recipe, beside HAFEM itself. Its ResNet-50 and HAFEM rows are
    # the same configurations as hafem_components' ResNet and +recipe loss rows, so they share those runs.
    # ViT-Base and Swin-T (fernb.models.baselines builds them for notebook 07) have no convolutional map for
    # HAFEM's head and are not rows here.
    "table3_baselines": Ladder(
        "table3_baselines", "hafem", "Table 3's CNN baselines with HAFEM's head and recipe", "HAFEM Table 3 (FER2013)", (
            Rung("ResNet-50", {**_PLAIN, "backbone": Ref("resnet_backbone")}, paper="ResNet-50"),
            Rung("EfficientNet-B4", {**_PLAIN, "backbone": "efficientnet_b4"}, paper="EfficientNet-B4"),
            Rung("HAFEM", {}, paper="HAFEM"),
        ), paper=_TABLE3),
}


@dataclass
class Cell:
    """One (ladder, variant, seed) and the recipe that trains it; ``key`` names its settings."""

    ladder: str
    variant: str
    seed: int
    recipe: Recipe
    key: str
    section: dict                    # the recipe's params section after the overrides


def select(entries: Sequence) -> dict[str, Ladder]:
    """The ladders ``ablations.ladders`` names, in order: each entry a ladder name (every row)
    or ``{name: [row, ...]}`` (those rows, kept in the ladder's order, at least two so that
    there is a step). An unknown ladder or row is refused with the names there are."""
    chosen: dict[str, Ladder] = {}
    for entry in entries:
        name, rows = (entry, None) if isinstance(entry, str) else (next(iter(entry)), list(next(iter(entry.values()))))
        if not isinstance(entry, str) and len(entry) != 1:
            raise ValueError(f"ablations.ladders: an entry is a ladder name or {{name: [rows]}}, got {entry!r}")
        if name not in LADDERS:
            raise KeyError(f"ablations.ladders: unknown ladder {name!r}; fernb.train.ablations.LADDERS has {sorted(LADDERS)}")
        ladder = LADDERS[name]
        if rows is not None:
            unknown = [r for r in rows if r not in ladder.order]
            if unknown:
                raise KeyError(f"ablations.ladders: ladder {name} has no variant(s) {unknown}; its variants: {ladder.order}")
            if len(set(rows)) < 2:
                raise ValueError(f"ablations.ladders: {name} needs at least two variants for a step, got {rows}")
            ladder = dataclasses.replace(ladder, variants=tuple(v for v in ladder.variants if v.name in rows))
        if name in chosen:
            raise ValueError(f"ablations.ladders names {name} twice")
        chosen[name] = ladder
    return chosen


def validate_ablations(ablations: Mapping, sections: Mapping[str, Mapping]) -> None:
    """Refuse, before anything trains, an ``ablations`` section with unknown keys or ladders,
    bad seeds, or a scale override of a key the recipe does not have."""
    unknown = sorted(set(ablations) - set(ABLATION_KEYS))
    if unknown:
        raise KeyError(f"ablations: unknown keys {unknown}; it takes {list(ABLATION_KEYS)}")
    select(ablations.get("ladders") or [])
    seeds = ablations.get("seeds")
    if not isinstance(seeds, (list, tuple)) or not seeds or len(set(seeds)) != len(seeds) \
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"ablations.seeds must be a non-empty list of distinct integers, got {seeds!r}")
    for recipe in RECIPES:
        scale = ablations.get(recipe) or {}
        if not isinstance(scale, Mapping):
            raise TypeError(f"ablations.{recipe} must be a mapping of {recipe} keys, got {scale!r}")
        if recipe in sections:
            _check_keys(scale, sections[recipe], f"ablations.{recipe}")


def _check_keys(overrides: Mapping, section: Mapping, where: str) -> None:
    missing = sorted(k for k in overrides if k not in section or k == "seeds")
    if missing:
        raise KeyError(f"{where}: {missing} {'is' if len(missing) == 1 else 'are'} not a key of the recipe "
                       f"(it has {sorted(k for k in section if k != 'seeds')})")


def apply_overrides(section: Mapping, overrides: Mapping, refs: Mapping, where: str) -> dict:
    """``section`` (a recipe's ``params.yaml`` section) with ``overrides`` applied; a
    :class:`Ref` value is read from ``refs`` (the ``ablations`` section). A key the section
    lacks is refused with the keys it has."""
    _check_keys(overrides, section, where)
    out = copy.deepcopy(dict(section))
    for key, value in overrides.items():
        if isinstance(value, Ref):
            if value.key not in refs:
                raise KeyError(f"{where}: {key} refers to ablations.{value.key}, which is not set")
            value = refs[value.key]
        out[key] = copy.deepcopy(value)
    return out


def _key(recipe: Recipe, seedless: dict) -> str:
    """A short digest of what a variant trains (model, knobs, configuration without the seed)."""
    text = json.dumps(json_safe({"model": recipe.model, "kwargs": recipe.model_kwargs, "config": seedless}),
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def ladder_cells(ladder: Ladder, section: Mapping, train: Mapping, ablations: Mapping,
                 scale: Mapping | None = None) -> list[Cell]:
    """The cells of one ladder: ``section`` (the recipe's ``params.yaml`` section), then
    ``scale`` (default: ``ablations[recipe]``, the ablation scale), then each variant's
    overrides, once per seed of ``ablations.seeds``."""
    scale = ablations.get(ladder.recipe) or {} if scale is None else scale
    scaled = apply_overrides(section, scale, ablations, f"ablations.{ladder.recipe}")
    cells = []
    for variant in ladder.variants:
        values = apply_overrides(scaled, variant.overrides, ablations, f"{ladder.name}/{variant.name}")
        values["seeds"] = list(ablations["seeds"])
        recipe = RECIPES[ladder.recipe](values, dict(train))
        key = _key(recipe, {k: v for k, v in recipe.config.as_dict().items() if k != "seed"})
        cells += [Cell(ladder.name, variant.name, int(seed), recipe, key, values) for seed in recipe.seeds]
    return cells


def expand(ladders: Sequence, sections: Mapping[str, Mapping], train: Mapping, ablations: Mapping) -> list[Cell]:
    """Every (ladder, variant, seed) of ``ladders`` (entries as :func:`select` reads them) as a
    :class:`Cell` (:func:`ladder_cells`), after checking the ``ablations`` section."""
    validate_ablations({**ablations, "ladders": list(ladders)}, sections)
    cells = []
    for name, ladder in select(ladders).items():
        if ladder.recipe not in sections:
            raise KeyError(f"ladder {name} needs the {ladder.recipe} section of params.yaml")
        cells += ladder_cells(ladder, sections[ladder.recipe], train, ablations)
    return cells


def find_trained(stages: Sequence[str], identity: dict, seed: int, root: str | os.PathLike | None = None) -> Path | None:
    """The folder of a finished run of one of ``stages`` (e.g. ``01_hafem``) whose identity
    and seed equal these, else None (a stage that has not run is skipped)."""
    for stage in stages:
        try:
            runs = stage_runs(stage, root)
        except FileNotFoundError:
            continue
        for run in runs:
            info = json.loads((run.dir / RESULT).read_text())
            if info.get("identity") == identity and int(info.get("seed", -1)) == seed:
                return run.dir
    return None


def _finished(directory: Path, identity: dict) -> bool:
    result = directory / RESULT
    return result.is_file() and json.loads(result.read_text()).get("identity") == identity


def run_cells(stage: str, cells: Sequence[Cell], data, *, root: str | os.PathLike | None = None,
              reuse: Sequence[str] | None = None, progress: bool = True) -> pd.DataFrame:
    """Train (or resume, or read back) every cell on ``data``; one row per cell with its run
    folder, where it came from (``trained`` here, or the stage it was read back from) and its
    validation and test headline metrics. ``runs/<stage>/runs.json`` lists the runs with their
    ladder and variant (:func:`fernb.runs.stage_runs` reads it)."""
    root = Path(root) if root is not None else project_root()
    reuse = list(TRAINING_STAGES) if reuse is None else list(reuse)
    done: dict[tuple[str, int], tuple[Path, str]] = {}
    rows, entries = [], []
    todo = sorted({(c.key, c.seed) for c in cells})
    for cell in cells:
        slot = (cell.key, cell.seed)
        if slot not in done:
            config = cell.recipe.config_for(cell.seed)
            identity = run_identity(cell.recipe.model, cell.recipe.model_kwargs, data, config)
            found = find_trained(reuse, identity, cell.seed, root)
            directory = root / RUNS / stage / cell.recipe.model / cell.key / f"seed{cell.seed}"
            if found is not None:
                done[slot] = (found, f"read back from {found.relative_to(root).parts[1]}")
            elif _finished(directory, identity):
                done[slot] = (directory, "trained")          # by an earlier execution of this stage
            else:
                if progress:
                    print(f"[{len(done) + 1}/{len(todo)}] {cell.ladder} / {cell.variant} / seed {cell.seed} -> "
                          f"{directory.relative_to(root)}", flush=True)
                train_run(cell.recipe.model, cell.recipe.model_kwargs, data, config, directory)
                done[slot] = (directory, "trained")
        directory, origin = done[slot]
        result: RunResult = load_result(directory, data.classes)
        row = {"ladder": cell.ladder, "variant": cell.variant, "seed": cell.seed, "key": cell.key,
               "dir": directory.relative_to(root).as_posix(), "origin": origin,
               "epochs_run": result.info["epochs_run"], "train_seconds": result.info.get("train_seconds_this_call")}
        row.update({f"val_{k}": v for k, v in result.val.headline().items()})
        row.update({f"test_{k}": v for k, v in result.test.headline().items()})
        rows.append(row)
        entries.append({"dir": row["dir"], "model": result.info["model"], "model_kwargs": result.info["model_kwargs"],
                        "dataset": result.info["dataset"], "seed": cell.seed, "classes": result.info["classes"],
                        "ladder": cell.ladder, "variant": cell.variant, "key": cell.key, "origin": origin})
    write_json(root / RUNS / stage / MANIFEST, {"stage": stage, "runs": entries})
    return pd.DataFrame(rows)


def _show(value: Any, refs: Mapping) -> Any:
    return refs.get(value.key, f"ablations.{value.key}") if isinstance(value, Ref) else value


def ladder_frame(ladders: Sequence, ablations: Mapping) -> pd.DataFrame:
    """The ladders as declared: one row per variant with the paper's row name, its overrides
    of the recipe (``Ref`` values read from ``ablations``) and where the paper reports it."""
    rows = []
    for name, ladder in select(ladders).items():
        for variant in ladder.variants:
            overrides = {k: _show(v, ablations) for k, v in variant.overrides.items()}
            rows.append({"ladder": name, "variant": variant.name, "recipe": ladder.recipe,
                         "paper row": variant.paper or "—", "overrides of the recipe": overrides or "(the recipe)",
                         "source": ladder.source})
    return pd.DataFrame(rows).set_index(["ladder", "variant"])


def cells_frame(cells: Sequence[Cell]) -> pd.DataFrame:
    """One row per distinct run (settings key and seed): the variants that share it."""
    rows: dict[tuple[str, int], dict] = {}
    for cell in cells:
        row = rows.setdefault((cell.key, cell.seed), {"key": cell.key, "seed": cell.seed, "recipe": cell.recipe.name,
                                                     "variants": []})
        row["variants"].append(f"{cell.ladder}/{cell.variant}")
    frame = pd.DataFrame(list(rows.values()))
    frame["variants"] = frame["variants"].map(", ".join)
    return frame


def stage_scale_estimate(ladders: Sequence, sections: Mapping[str, Mapping], train: Mapping, ablations: Mapping,
                         data, root: str | os.PathLike | None = None) -> pd.DataFrame:
    """What the ladders would cost at stages 01 / 02's own scale (``ablations.<recipe>: {}``):
    per recipe, the distinct runs to train (a run equal to a finished stage-01/02 run would be
    read back, not trained) and the measured training seconds of one stage-01/02 run here,
    times that count. Empty when neither stage has run here."""
    cells = expand(ladders, sections, train, {**ablations, **{name: {} for name in RECIPES}})
    rows = []
    for stage, recipe in TRAINING_STAGES.items():
        try:
            runs = stage_runs(stage, root)
        except FileNotFoundError:
            continue
        seconds = [float(r.info().get("train_seconds_this_call") or 0.0) for r in runs]
        distinct = {(c.key, c.seed): c for c in cells if c.recipe.name == recipe}
        read_back = sum(find_trained([stage], run_identity(c.recipe.model, c.recipe.model_kwargs, data,
                                                           c.recipe.config_for(c.seed)), c.seed, root) is not None
                        for c in distinct.values())
        per_run = sum(seconds) / len(seconds)
        rows.append({"recipe": recipe, "runs to train": len(distinct) - read_back, "read back": read_back,
                     "training s per run (measured)": per_run,
                     "estimated minutes": (len(distinct) - read_back) * per_run / 60})
    return pd.DataFrame(rows).set_index("recipe") if rows else pd.DataFrame()


def search_scale(search: Mapping, ablations: Mapping) -> dict:
    """The scale the search trains at: ``search.scale`` where it is set, else the ablation
    scale of the searched recipe (``ablations.<recipe>``, empty for the stage's own scale)."""
    return search["scale"] if search["scale"] is not None else ablations.get(search["recipe"]) or {}


def search_best_ladder(recipe: str, best: Mapping) -> Ladder:
    """A two-row ladder, ``recipe`` (the recipe as stage 01/02 sets it) → ``best trial`` (the
    search's best overrides, :func:`fernb.train.search.best_overrides`), so the best
    configuration is trained over the ablation seeds and compared with the recipe step by step."""
    return Ladder("search_best", recipe, "the search's best configuration against the recipe", "search",
                  (Rung("recipe", {}), Rung("best trial", dict(best))))
