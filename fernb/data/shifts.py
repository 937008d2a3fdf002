"""Controlled domain shifts: SynthFER rendered again with exactly one factor changed (notebook 04).

A drop in a cross-dataset table between two real datasets has many causes at once (faces,
pose, lighting, cameras, annotators, class proportions). A SynthFER shift has one: it is the
default SynthFER data (the *source*, ``params.yaml``'s ``synthfer`` section) rendered with one
:func:`fernb.data.synthfer.generate` option changed, named by ``params.yaml``'s
``shifts.datasets``. Every other draw of a sample (expression, identity, pose, lighting,
camera) comes from the same per-sample seed, so test image ``i`` of a shift is test image
``i`` of the source with that factor changed (:attr:`Shift.paired`): same source id, label,
Action Units, and everything but the changed factor. The exception is ``prior``: changing
the class proportions changes which label each test index gets.

The six factors (:data:`FACTORS`), each a separate dataset ``synthfer-<shift>`` stored under
``data/prepared/shifts/`` (:func:`fernb.paths.prepared_dir`), so that
``fernb.data.load_prepared("synthfer-pose")`` reads it like any other dataset:

- ``identity``: ``identity_range``, every identity draw taken from a slice of its range the
  source never uses (disjoint face shapes, feature sizes, skin tones, hair);
- ``pose``: ``pose_probs`` (also ``poses``, ``yaw_jitter``), e.g. no frontal faces;
- ``lighting``: ``lighting: harsh``, a low side light with little ambient light;
- ``occlusion``: ``occlusion_prob``, e.g. every face partly covered;
- ``resolution``: ``resolution``, a low-resolution camera;
- ``prior``: ``imbalance``, the class proportions.

:func:`shift_options` checks, before anything is rendered, that a shift changes its own
factor and only that one, and changes it for real; :func:`factor_table` measures on the
rendered images that it did.
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fernb.data.core import FERData
from fernb.data.store import write_store
from fernb.data.synthfer import DEFAULT_POSE_PROBS, KDEF_POSES, generate
from fernb.paths import SHIFT_PREFIX, prepared_dir

__all__ = ["SHIFT_PREFIX", "Shift", "FACTORS", "shift_names", "shift_options", "prepare_shifts", "factor_table",
           "factor_summary", "describe"]

# generate() options that decide the labels: a shift changing one re-draws the test labels.
_LABEL_OPTIONS = ("imbalance", "contempt")


@dataclass(frozen=True)
class Shift:
    """One factor a SynthFER shift may change: its name, the ``generate()`` options that set
    it, and why a model trained on the source should (or should not) suffer from it."""

    factor: str
    option_keys: tuple[str, ...]
    cause: str

    @property
    def paired(self) -> bool:
        """True when the shift's test image ``i`` is the source's test image ``i`` with only
        this factor changed (same label): every shift but one that changes the class prior."""
        return not set(self.option_keys) & set(_LABEL_OPTIONS)


FACTORS: dict[str, Shift] = {
    "identity": Shift(
        "identity", ("identity_range",),
        "The test faces come from a slice of every identity parameter (face shape, feature sizes, skin tone, "
        "hair) that the training faces never use, while expressions, pose and lighting are drawn as before, so "
        "a model that learnt expressions as changes of the face should hold up and one that leaned on the "
        "particular faces or skin tones it saw should drop."),
    "pose": Shift(
        "head pose", ("pose_probs", "poses", "yaw_jitter"),
        "No test face is frontal: every one is turned to a half or full profile, where the far eye and brow are "
        "foreshortened or hidden, so a model trained mostly on frontal faces should lose accuracy, most on the "
        "expressions read from one side of the face."),
    "lighting": Shift(
        "lighting", ("lighting",),
        "The same faces are lit by a low side light with little ambient light and a strong gradient across the "
        "image, so part of each face falls into deep shadow: a model that relies on fine texture (wrinkles, "
        "furrows) or on absolute brightness should suffer, one that learnt the shape of the features less so."),
    "occlusion": Shift(
        "occlusion", ("occlusion_prob",),
        "Every test face is partly covered by sunglasses, a hand or a bar, where only a few training faces were, "
        "hiding the brows, eyes or mouth some expressions are read from, so accuracy should drop most for the "
        "classes whose Action Units are covered."),
    "resolution": Shift(
        "resolution", ("resolution",),
        "The same images are taken by a low-resolution camera (shrunk and blown back up), which erases fine "
        "texture cues (wrinkles, furrows, teeth) but keeps the coarse shape of the face, so a model that relies "
        "on high-frequency detail should suffer most."),
    "prior": Shift(
        "class prior", ("imbalance",),
        "The faces are drawn as before but the classes come in other proportions (e.g. every class equally often "
        "instead of FER2013's skew, where disgust is rare), so a model whose decisions lean on the training prior "
        "loses accuracy on the newly common classes while its per-class scores, and so macro-F1, should barely move."),
}

# The source's generate() options and the params.yaml synthfer keys they come from.
_SOURCE_KEYS = {"n_test": "n_test", "image_size": "image_size", "seed": "synth_seed", "contempt": "contempt",
                "imbalance": "imbalance", "occlusion_prob": "occlusion_prob", "identity_range": "identity_range"}
_OPTIONAL_SOURCE_KEYS = ("identity_range",)   # older synthfer sections lack it: generate's default (0, 1)
_GENERATE_DEFAULTS = {name: p.default for name, p in inspect.signature(generate).parameters.items()}


def _shift_key(name: str) -> str:
    """``"synthfer-pose"`` (or ``"pose"``) -> ``"pose"``; an unknown shift is refused."""
    key = name[len(SHIFT_PREFIX):] if name.startswith(SHIFT_PREFIX) else name
    if key not in FACTORS:
        raise ValueError(f"unknown shift {name!r}; expected one of {[SHIFT_PREFIX + k for k in FACTORS]}")
    return key


def _datasets(shifts: Mapping) -> Mapping:
    datasets = shifts.get("datasets")
    if not isinstance(datasets, Mapping):   # {} is allowed: no shift (a run on real data may want none)
        raise ValueError(f"the shifts section needs datasets: {{shift: {{option: value}}}}, got {datasets!r}")
    return datasets


def shift_names(shifts: Mapping) -> list[str]:
    """The dataset name of each shift in ``shifts["datasets"]``, in its order (``"synthfer-identity"``...)."""
    return [SHIFT_PREFIX + _shift_key(str(key)) for key in _datasets(shifts)]


def _comparable(key: str, value):
    """An option's value in the form two settings of it can be compared in (``None`` pose_probs
    = the default pose distribution; sequences as float tuples)."""
    if key == "pose_probs" and value is None:
        value = DEFAULT_POSE_PROBS
    if key == "poses" and value is None:
        value = KDEF_POSES
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(round(float(v), 9) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return round(float(value), 9)
    return value


def shift_options(synthfer: Mapping, shifts: Mapping, name: str) -> dict:
    """The :func:`fernb.data.synthfer.generate` keyword arguments of shift ``name``
    (``"synthfer-pose"`` or ``"pose"``): the source's options (``synthfer`` section), the
    shift's own split sizes (``shifts.n_train``, ``shifts.n_val``; the test split keeps the
    source's ``n_test`` so that it pairs), then the shift's overrides.

    Refused (ValueError naming the shift and the key) before anything is rendered: an unknown
    shift, an override of another factor's option, an override equal to the source's value,
    an identity range overlapping the source's, and any value ``generate`` itself refuses.
    """
    key = _shift_key(name)
    label = SHIFT_PREFIX + key
    datasets = _datasets(shifts)
    if key not in datasets:
        raise ValueError(f"shift {label}: not in the shifts section's datasets {list(datasets)}")
    missing = [p for o, p in _SOURCE_KEYS.items() if p not in synthfer and o not in _OPTIONAL_SOURCE_KEYS]
    missing += [p for p in ("n_train", "n_val") if p not in shifts]
    if missing:
        raise KeyError(f"shift {label}: the synthfer and shifts sections need {missing}")
    options = {o: synthfer[p] for o, p in _SOURCE_KEYS.items() if p in synthfer}
    options.update(n_train=shifts["n_train"], n_val=shifts["n_val"])
    overrides = dict(datasets[key] or {})
    shift = FACTORS[key]
    if not overrides:
        raise ValueError(f"shift {label}: no option given, so it would be the source itself; give one of "
                         f"{list(shift.option_keys)}")
    for option, value in overrides.items():
        if option not in shift.option_keys:
            raise ValueError(f"shift {label}: {option!r} is not the {shift.factor} factor's option; a shift changes "
                             f"one factor, here only {list(shift.option_keys)}")
        source_value = options.get(option, _GENERATE_DEFAULTS.get(option))
        if _comparable(option, value) == _comparable(option, source_value):
            raise ValueError(f"shift {label}: {option}={value!r} is the source's own value, so nothing shifts")
    if "identity_range" in overrides:
        lo, hi = (float(v) for v in overrides["identity_range"])
        src_lo, src_hi = (float(v) for v in options.get("identity_range", _GENERATE_DEFAULTS["identity_range"]))
        if lo < src_hi and src_lo < hi:
            raise ValueError(f"shift {label}: identity_range [{lo:g}, {hi:g}] overlaps the source's "
                             f"[{src_lo:g}, {src_hi:g}]; the shifted faces must come from a disjoint range")
    options.update(overrides)
    for count in ("n_train", "n_val", "n_test"):
        n = options[count]
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            where = "synthfer" if count == "n_test" else "shifts"
            raise ValueError(f"shift {label}: {where}.{count} must be a non-negative integer, got {n!r}")
    try:   # generate's own checks of every other option, on zero samples: nothing is rendered
        generate(**{**options, "n_train": 0, "n_val": 0, "n_test": 0}, progress=False)
    except ValueError as err:
        raise ValueError(f"shift {label}: {err}") from None
    return options


def prepare_shifts(synthfer: Mapping, shifts: Mapping, *, root=None, progress: bool = False) -> dict[str, Path]:
    """Render every shift of ``shifts["datasets"]`` and write its prepared store to
    ``data/prepared/shifts/synthfer-<shift>/`` under ``root`` (default: the project root).

    Every shift's options are checked (:func:`shift_options`) before the first is rendered.
    The store's ``meta["shift"]`` says what changed: ``name``, ``factor``, ``changes`` (the
    overrides), ``source`` (``"synthfer"``), ``cause`` and ``paired``. Returns {name: store}.
    """
    plan = {name: shift_options(synthfer, shifts, name) for name in shift_names(shifts)}
    prepared_dir(SHIFT_PREFIX, root).parent.mkdir(parents=True, exist_ok=True)   # the stage's output, even when empty
    written = {}
    for name, options in plan.items():
        key = _shift_key(name)
        data = generate(**options, progress=progress)
        data.name = name
        data.meta["shift"] = {"name": name, "factor": FACTORS[key].factor, "changes": dict(_datasets(shifts)[key]),
                              "source": "synthfer", "cause": FACTORS[key].cause, "paired": FACTORS[key].paired}
        written[name] = write_store(data, prepared_dir(name, root))
    return written


# ---------------------------------------------------------------------------------------------
# What changed, measured
# ---------------------------------------------------------------------------------------------
def _gray(images: np.ndarray) -> np.ndarray:
    if images.ndim == 4:
        return np.stack([cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY) for im in images])
    return np.asarray(images)


def _identity_draw(d: FERData, m: np.ndarray) -> float:
    q = d.extras.get("identity_quantiles")
    return float(np.asarray(q)[m].mean()) if q is not None else float("nan")


def _occluded(d: FERData, m: np.ndarray) -> float:
    occ = d.extras.get("occluder")
    return float((np.asarray(occ)[m] != 0).mean()) if occ is not None else float("nan")


def _contrast(d: FERData, m: np.ndarray) -> float:
    g = _gray(d.images[m]).astype(np.float64)
    return float(g.reshape(len(g), -1).std(axis=1).mean())


def _sharpness(d: FERData, m: np.ndarray) -> float:
    return float(np.mean([cv2.Laplacian(im, cv2.CV_64F).var() for im in _gray(d.images[m])]))


def _largest_class(d: FERData, m: np.ndarray) -> float:
    return float(np.bincount(d.labels[m], minlength=len(d.classes)).max() / m.sum())


# (shift, measure, value of a split, tolerance, "abs" = |difference| > tol, "ratio" = ratio outside 1/tol..tol)
_MEASURES = (
    ("identity", "mean identity draw (0-1)", _identity_draw, 0.05, "abs"),
    ("pose", "share near-frontal (|yaw| <= 30 deg)", lambda d, m: float((np.abs(d.pose[m]) <= 30).mean()), 0.05, "abs"),
    ("pose", "mean |yaw| (deg)", lambda d, m: float(np.abs(d.pose[m]).mean()), 5.0, "abs"),
    ("lighting", "mean intensity (0-255)", lambda d, m: float(_gray(d.images[m]).mean()), 10.0, "abs"),
    ("lighting", "contrast (per-image std)", _contrast, 1.2, "ratio"),
    ("occlusion", "share occluded", _occluded, 0.05, "abs"),
    ("resolution", "sharpness (Laplacian variance)", _sharpness, 2.0, "ratio"),
    ("prior", "largest class share", _largest_class, 0.03, "abs"),
)


def factor_table(source: FERData, shifted: FERData, split: str = "test") -> pd.DataFrame:
    """One row per measure of each factor on ``split`` of both datasets: ``factor``,
    ``measure``, ``source``, ``shifted``, ``changed`` (the difference exceeds ``changed_if``).

    Identity: the mean identity draw (extras ``identity_quantiles``). Pose: the share of
    |yaw| <= 30 degrees and the mean |yaw|. Lighting: mean intensity and contrast (the mean
    per-image standard deviation). Occlusion: the share with an occluder. Resolution:
    sharpness, the mean variance of the Laplacian (``cv2.Laplacian``). Prior: the share of
    the largest class. The metadata measures depend on their factor alone; the image
    measures also move with what a face looks like, which is a real effect, not noise: the
    identity shift's darker skin tones lower the mean intensity, so the lighting row reads
    "changed" there. A measure whose extra is missing (a store from before it existed) is NaN.
    """
    rows = []
    ms, mt = source.split == split, shifted.split == split
    if not ms.any() or not mt.any():
        raise ValueError(f"split {split!r} is empty in {source.name if not ms.any() else shifted.name}")
    for key, measure, value, tol, kind in _MEASURES:
        a, b = value(source, ms), value(shifted, mt)
        if kind == "abs":
            changed, rule = abs(b - a) > tol, f"|difference| > {tol:g}"
        else:
            ratio = b / a if a else float("inf")
            changed, rule = not (1 / tol <= ratio <= tol), f"ratio outside {1 / tol:.2g}-{tol:g}"
        rows.append({"factor": FACTORS[key].factor, "measure": measure, "source": a, "shifted": b,
                     "changed": bool(changed) if np.isfinite(a) and np.isfinite(b) else False, "changed_if": rule})
    return pd.DataFrame(rows)


def factor_summary(source: FERData, shifted: Mapping[str, FERData], split: str = "test") -> pd.DataFrame:
    """:func:`factor_table` for several shifts at once, compact: one row per (factor, measure),
    the source's value, then each shift's value with ``*`` where it moved beyond the measure's
    tolerance, so the table reads as a diagonal of stars when every shift changed its own factor only."""
    columns = {}
    base = None
    for name, data in shifted.items():
        table = factor_table(source, data, split)
        if base is None:
            base = table[["factor", "measure", "source"]].copy()
        columns[name.removeprefix(SHIFT_PREFIX)] = [f"{v:.3g}{' *' if c else ''}" for v, c in
                                                    zip(table["shifted"], table["changed"])]
    if base is None:
        return pd.DataFrame()
    base["source"] = [f"{v:.3g}" for v in base["source"]]
    return base.assign(**columns).set_index(["factor", "measure"])


def describe(shifts: Mapping) -> pd.DataFrame:
    """One row per shift of ``shifts["datasets"]``: ``name``, ``factor``, ``changes``
    (``option=value``), ``cause`` and ``paired``."""
    rows = []
    for name in shift_names(shifts):
        key = _shift_key(name)
        changes = ", ".join(f"{k}={v}" for k, v in (_datasets(shifts)[key] or {}).items())
        rows.append({"name": name, "factor": FACTORS[key].factor, "changes": changes, "cause": FACTORS[key].cause,
                     "paired": FACTORS[key].paired})
    return pd.DataFrame(rows, columns=["name", "factor", "changes", "cause", "paired"])
