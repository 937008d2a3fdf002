"""One model factory, in the timm manner: ``create_model(name, num_classes, in_chans, **knobs)``.

Every model it builds records how it was built (``model.fernb_config``), so a checkpoint
written by :func:`save_model` rebuilds its own network in :func:`load_model` — with
``torch.load(weights_only=True)``, which executes no pickled code — and a checkpoint for
another model or class count is refused with a message that says which.
"""
from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path

import timm
import torch
from torch import nn

from .baselines import TIMM_NAMES, TimmClassifier
from .hafem import HAFEM
from .lanmsff import LANMSFF

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str):
    """Decorator: make ``fn(num_classes, in_chans, **knobs) -> nn.Module`` buildable by name."""
    def wrap(fn):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = fn
        return fn
    return wrap


@register_model("hafem")
def _hafem(num_classes: int = 7, in_chans: int = 3, **knobs) -> HAFEM:
    """HAFEM with the workbook's defaults (EfficientNet-B5, CBAM on the final map, 1 layer)."""
    return HAFEM(num_classes=num_classes, in_chans=in_chans, **knobs)


@register_model("lanmsff")
def _lanmsff(num_classes: int = 7, in_chans: int = 1, **knobs) -> LANMSFF:
    """LANMSFF as its official code builds it (64×64 grayscale)."""
    return LANMSFF(num_classes=num_classes, in_chans=in_chans, **knobs)


def _baseline(architecture: str):
    def build(num_classes: int = 7, in_chans: int = 3, **knobs) -> TimmClassifier:
        return TimmClassifier(architecture, num_classes=num_classes, in_chans=in_chans, **knobs)
    build.__doc__ = f"HAFEM Table 3 baseline: timm {architecture!r} with HAFEM's head."
    return build


for _name, _arch in TIMM_NAMES.items():
    register_model(_name)(_baseline(_arch))


def list_models() -> list[str]:
    """Registered names; any other timm architecture is reachable as ``timm/<name>``."""
    return sorted(_REGISTRY)


def _builder(name: str) -> Callable[..., nn.Module]:
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name.startswith("timm/"):

        arch = name.split("/", 1)[1]
        if not timm.is_model(arch):
            raise ValueError(f"timm has no architecture {arch!r}")
        return _baseline(arch)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(list_models())} or 'timm/<architecture>'")


def create_model(name: str, num_classes: int = 7, in_chans: int | None = None, **knobs) -> nn.Module:
    """Build a fernb model by name. ``in_chans`` is the channel count of the *data* (1 for
    FER2013's grayscale); the model's :class:`~fernb.models.common.InputAdapter` decides how
    it meets the network. ``knobs`` are the model's constructor arguments."""
    build = _builder(name)
    if in_chans is None:
        in_chans = inspect.signature(build).parameters["in_chans"].default
    model = build(num_classes=num_classes, in_chans=in_chans, **knobs)
    config = dict(name=name, num_classes=num_classes, in_chans=in_chans, **knobs)
    config.pop("pretrained", None)  # a saved model carries its weights; rebuilding must not need the file
    model.fernb_config = config
    return model


def save_model(model: nn.Module, path: str | os.PathLike, **extra) -> Path:
    """Write the model's config and weights atomically (a crash never leaves half a file).

    ``extra`` (plain values: numbers, strings, lists, dicts, tensors) travels along, e.g.
    the class names or the epoch.
    """
    config = getattr(model, "fernb_config", None)
    if config is None:
        raise ValueError("save_model needs a model built by fernb.models.create_model (it records how to rebuild it)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"fernb_model": dict(config), "state_dict": model.state_dict(), "extra": extra}, tmp)
    os.replace(tmp, path)
    return path


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu", name: str | None = None,
               num_classes: int | None = None) -> nn.Module:
    """Rebuild and load a model written by :func:`save_model` (``weights_only=True``).

    ``name`` / ``num_classes``, when given, must match the checkpoint: loading a LANMSFF
    checkpoint where a HAFEM is expected, or 8 classes where 7 are, is an error that says so.
    The ``extra`` values saved with it are in ``model.fernb_extra``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for a truncated or foreign file
        raise ValueError(f"{path} is not a readable PyTorch checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(ckpt, dict) or "fernb_model" not in ckpt or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a fernb model checkpoint: expected the dict save_model writes "
                         f"(keys 'fernb_model', 'state_dict'), found {sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__}")
    config = dict(ckpt["fernb_model"])
    if name is not None and config["name"] != name:
        raise ValueError(f"{path} holds a {config['name']!r} model, not {name!r}")
    if num_classes is not None and config["num_classes"] != num_classes:
        raise ValueError(f"{path} was trained for {config['num_classes']} classes, not {num_classes}")
    model_name = config.pop("name")
    model = create_model(model_name, **config)
    model.load_state_dict(ckpt["state_dict"])
    model.fernb_extra = ckpt.get("extra", {})
    return model.to(map_location)
