"""Profiles: the settings of a scale, one file each (``profiles/real.yaml``, ``profiles/paper.yaml``).

A profile is a YAML file of ``params.yaml`` keys written as DVC's ``-S`` flags write them (dotted, one per
line, each with a comment giving its reason), plus an optional ``per_dataset:`` mapping of dataset name →
more such keys for values that depend on the dataset (notebook 04's fine-tuning target). ``make real`` and
``make paper`` turn a profile into ``dvc exp run -S key=value ...`` with :func:`dvc_flags` (``fernb profile``),
after checking that every key exists in ``params.yaml`` and that ``params.yaml`` with the profile applied
passes the parameter schema (:mod:`fernb.workbook.params_schema`): a profile with a typo stops before any
stage starts. The files are the one place each scale is written down (the README points at them).
"""
from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from fernb.paths import project_root
from fernb.workbook.params_schema import validate_params

__all__ = ["PROFILES_DIR", "profile_path", "read_profile", "profile_settings", "apply_profile", "dvc_flags"]

PROFILES_DIR = Path("profiles")
PER_DATASET = "per_dataset"


def profile_path(name: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """``real`` → ``<root>/profiles/real.yaml``; a path to a file is taken as it is."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return path
    return (Path(root) if root is not None else project_root()) / PROFILES_DIR / f"{name}.yaml"


def read_profile(path: str | os.PathLike) -> dict[str, Any]:
    """The profile file as written: ``{dotted key: value, ..., "per_dataset": {dataset: {dotted key: value}}}``.

    ValueError naming the file when it is missing, not YAML, or not a mapping of dotted keys."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"profile {path} not found (expected a YAML file of params.yaml keys, e.g. profiles/real.yaml)")
    try:
        profile = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"profile {path} is not valid YAML ({' '.join(str(err).split())})") from None
    per_dataset = profile.get(PER_DATASET, {}) if isinstance(profile, dict) else None
    if not isinstance(profile, dict) or not isinstance(per_dataset, dict) or not all(
            isinstance(v, dict) for v in per_dataset.values()):
        raise ValueError(f"profile {path}: expected a mapping of params.yaml keys (hafem.epochs: 30), with an "
                         f"optional {PER_DATASET}: {{dataset: {{key: value}}}}")
    return profile


def profile_settings(profile: Mapping[str, Any], dataset: str | None = None) -> dict[str, Any]:
    """The dotted settings a profile gives for ``dataset``: its own keys, then its ``per_dataset`` entry's."""
    settings = {k: v for k, v in profile.items() if k != PER_DATASET}
    per_dataset = profile.get(PER_DATASET) or {}
    if dataset is not None and dataset in per_dataset:
        settings.update(per_dataset[dataset])
    return settings


def apply_profile(params: Mapping[str, Any], settings: Mapping[str, Any], source: str = "profile") -> dict[str, Any]:
    """A copy of ``params`` (``params.yaml``'s tree) with each dotted setting replacing the key it names.

    ValueError naming the setting when it names no key of ``params.yaml`` (a profile may change values,
    never add keys: a key the pipeline does not read would be a setting that silently does nothing)."""
    tree = copy.deepcopy(dict(params))
    for key, value in settings.items():
        *path, leaf = str(key).split(".")
        node = tree
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            raise ValueError(f"{source}: {key} is not a key of params.yaml")
        node[leaf] = copy.deepcopy(value)
    return tree


def _flag_value(key: str, value: Any, source: str) -> str:
    """A value as DVC's ``-S key=value`` reads it (Hydra's override grammar: JSON lists and scalars, a
    mapping as ``{key:value,...}`` with bare keys), with no blank in it so that the Makefile can pass the
    flags as shell words."""
    if isinstance(value, dict):
        text = "{" + ",".join(f"{k}:{_flag_value(f'{key}.{k}', v, source)}" for k, v in value.items()) + "}"
    else:
        text = json.dumps(value, separators=(",", ":"))
    if isinstance(value, str):
        try:
            if yaml.safe_load(value) == value:
                text = value   # a plain string that reads back as itself needs no quotes
        except yaml.YAMLError:
            pass
    if any(c.isspace() for c in text):
        raise ValueError(f"{source}: {key}'s value {value!r} holds a blank, which make's -S flags cannot carry")
    return text


def _flags(key: str, value: Any, source: str, current: Any = None) -> list[str]:
    """The ``-S`` flags that set ``key`` to ``value``. DVC applies ``key={...}`` by merging into the
    mapping params.yaml already holds (``hafem.augment_options={}`` would leave every probability the
    CPU default sets), so a mapping that replaces a mapping (``current``) is deleted first (``~key``)
    and added whole (``+key={...}``); Hydra cannot delete a null, which plain ``key={...}`` replaces."""
    if isinstance(value, dict) and isinstance(current, dict):
        return ["-S", f"~{key}", "-S", f"+{key}={_flag_value(key, value, source)}"]
    return ["-S", f"{key}={_flag_value(key, value, source)}"]


def dvc_flags(name: str | os.PathLike, dataset: str | None = None, root: str | os.PathLike | None = None,
              params: Mapping[str, Any] | None = None) -> list[str]:
    """``["-S", "hafem.epochs=30", ...]`` for ``dvc exp run``: the profile's settings for ``dataset``,
    checked against ``params.yaml`` (every key exists; the result passes the schema) first."""
    root = Path(root) if root is not None else project_root()
    path = profile_path(name, root)
    settings = profile_settings(read_profile(path), dataset)
    if params is None:
        params = yaml.safe_load((root / "params.yaml").read_text())
    tree = apply_profile(params, settings, source=str(path))
    if dataset is not None and isinstance(tree.get("data"), dict):
        tree["data"]["dataset"] = dataset   # what make real / make paper set beside the profile
    validate_params(tree, f"params.yaml with {path}")
    flags: list[str] = []
    for key, value in settings.items():
        node = params
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        flags += _flags(key, value, str(path), node)
    return flags
