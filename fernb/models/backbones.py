"""timm backbones, built offline: pretrained weights are used only when they are already here.

``timm.create_model(name, pretrained=True)`` downloads from the Hugging Face Hub or a
release URL. fernb never does: :func:`create_backbone` takes ``pretrained`` as

- ``False`` — random initialisation (the default; the source says so);
- a path — that file (``.safetensors``, ``.pth``, ``.bin``; a full timm checkpoint with a
  ``state_dict`` entry works too), loaded by timm, which also drops the ImageNet classifier
  and adapts the stem when channel counts differ;
- ``True`` — the file timm would download, if it is already in timm's caches (the
  Hugging Face cache, then torch.hub's ``checkpoints`` folder); otherwise
  :class:`PretrainedWeightsMissing`, which says where it looked and how to fill the cache
  on a machine that has the internet.
"""
from __future__ import annotations

import os
from pathlib import Path

import timm
import torch
from timm.models import group_parameters
from torch import nn

HF_FILENAMES = ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")


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


def resolve_pretrained(name: str, pretrained: bool | str | os.PathLike) -> Path | None:
    """The weight file to load for ``pretrained`` (see the module docstring), or None."""
    if pretrained is False or pretrained is None:
        return None
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
    ``img_size=`` for fixed-size ViT/Swin models, ``drop_path_rate=`` ...).
    """
    path = resolve_pretrained(name, pretrained)
    kwargs.setdefault("num_classes", 0)
    if path is None:
        return timm.create_model(name, pretrained=False, **kwargs), "random initialisation"
    try:
        model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **kwargs)
    except (RuntimeError, KeyError, ValueError) as err:
        raise ValueError(f"could not load weight file {path} into timm model {name!r}: {err}") from err
    return model, f"pretrained: {path}"


def data_config(name: str) -> dict:
    """The input statistics a timm model was trained with (mean, std, size); ImageNet's when unknown."""
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
