"""SynthFER: a procedural, FACS-driven face renderer, the workbook's embedded default dataset.

Nothing is downloaded: every image is drawn by this module from a seed, so every notebook
runs offline, and later notebooks get ground truth that real data lacks: exact head pose,
the 68 iBUG landmarks, per-AU intensities and the image region where each AU acts.

How a face is made
------------------
1. **Identity** (per subject): head ellipsoid (width, height above/below the eyes, depth,
   jaw taper, chin projection), feature placement and size (eye spacing/size, brow height,
   thickness, arch and density, nose length/width/projection, mouth position/width, lip
   thickness, resting mouth-corner and brow offsets), skin tone, hair colour and hairline,
   each from one uniform draw u (34 in all, kept as ``identity_quantiles``);
   ``identity_range=(lo, hi)`` maps every u to ``lo + (hi - lo) * u``, a sub-population of faces.
2. **Expression**: the class's FACS Action Units (:data:`CLASS_AUS`) get intensities drawn
   uniformly in 0.2-1.0 (15% of samples are "subtle": all class AUs scaled by 0.4); AU25
   (lips part) accompanies jaw-drop classes and most happy faces (:data:`COMPANION_AUS`);
   every other AU leaks in with probability 0.1 at intensity 0.05-0.35, so classes overlap.
   Each AU is a displacement field on the 68 landmarks in a canonical 3-D face frame
   (scaled by its intensity) plus texture cues where FACS describes them: AU1/2 forehead
   wrinkles, AU4 vertical furrows between the brows, AU6 crow's feet and lower-lid bags,
   AU9 nose-bridge wrinkles, AU12 deepened nasolabial folds, AU14 dimples, AU25/26 an open
   dark mouth cavity with teeth. Contempt (``contempt=True``) is AU12+AU14 on one side only.
3. **Pose**: the landmarks, the head surface (a chin-tapered ellipsoid mesh), ears, nose
   and texture curves are rotated in 3-D (yaw about the vertical axis, then pitch, then
   roll) and projected orthographically (weak perspective). A yawed face is therefore
   foreshortened (inter-ocular distance ~ cos(yaw) of the frontal one); features whose
   surface normal turns away from the camera are not drawn (at +-90 degrees the far eye
   and brow vanish) and the nose protrudes from the profile silhouette.
4. **Imaging**: Lambert shading of the head (per-pixel ray cast onto the head ellipsoid,
   inside the projected mesh silhouette; the hairline is tested on the same hit point)
   from a random light, a random illumination
   gradient over the image, background variation, optional occluders (sunglasses, a
   hand-like blob over mouth/cheek, a bar), brightness/contrast, mild blur, drawing at
   2x the output size with anti-aliased cv2 primitives, INTER_AREA downsampling, then
   Gaussian sensor noise. ``lighting="harsh"`` maps the same light, ambient and gradient
   draws outside their normal ranges (a low side light); ``resolution=r`` passes the
   finished image through r x r pixels (a low-resolution camera). Both, like
   ``identity_range``, change nothing else about a sample (:mod:`fernb.data.shifts`).

Conventions
-----------
* Canonical face frame: x to the image right of a frontal face (the subject's left),
  y down, z toward the camera; unit = half the face width; origin = head centre at eye level.
* **Yaw sign: positive yaw = face turned toward the image right (the subject's left)**; the
  nose tip then lies to the image right of the eye midpoint and the subject's *left* eye
  (iBUG 42-47, image right in a frontal view) is the far eye. Pitch positive = chin down
  (face toward the image bottom); roll positive = clockwise in the image.
* Landmarks are (x, y) pixel coordinates of the output image (pixel centres at integers),
  iBUG 68-point order; ``visible`` is True where the landmark's surface faces the camera.
  Landmarks stay where the face is under an occluder (occlusion is not self-occlusion).
* ``au_masks`` holds every AU in :data:`AUS` (active or not): check ``au_intensity`` to
  keep the active ones. Each is the landmark region of :func:`au_region_masks` united with
  the renderer's own record (:class:`~fernb.data.synthfer_masks.AUTrace`) of every drawn primitive the AU moves (through
  the displacement table or the jaw drop, widened by how far it moves them in this face),
  gates or strengthens (texture curves, teeth, mouth cavity), the head outline a jaw drop
  moves, spread by the sample's blur. It is drawn from this sample's geometry, so an
  inactive AU's mask still holds its landmark region and the drawn curves it would
  strengthen; an effect that exists only while the AU is active (e.g. its wrinkles) adds
  nothing then. :func:`au_footprint` gives the pixels an AU actually changes.

Reproducibility: sample ``i`` of split ``s`` is drawn from ``np.random.default_rng([seed,
code(s), i, 0])`` (and its identity from ``[seed, code(s), i, 1]``, or ``[seed, 3,
subject]`` when subjects are shared), so it does not depend on how many samples are
generated; only the label permutation and the subject assignment depend on the counts.
``generate(...)`` sample ``i`` of a split equals ``render_sample(seed, split, i,
label=labels[i], subject=subject[i] if n_identities else None, ...)`` byte for byte.

The parts: :mod:`fernb.data.synthfer_face` (AUs, landmarks, identity, head surface),
:mod:`fernb.data.synthfer_masks` (AU regions and the renderer's record),
:mod:`fernb.data.synthfer_draw` (each part of the face drawn on the canvas) and
:mod:`fernb.data.synthfer_render` (one sample, from its draws to the camera image); this
module checks the options and makes the dataset.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fernb.data.core import SPLITS, FERData
from fernb.data.synthfer_face import AU_INDEX, AUS, CLASS_AUS, COMPANION_AUS, N_IDENTITY_DRAWS
from fernb.data.synthfer_masks import au_region_masks
from fernb.data.synthfer_render import (
    FRESH_SUBJECT_BASE,
    LIGHTINGS,
    OCCLUDERS,
    SPLIT_CODES,
    RenderSettings,
    SynthSample,
    render_face,
)
from fernb.labels import class_names
from fernb.progress import progress_bar

__all__ = [
    "AUS", "CLASS_AUS", "COMPANION_AUS", "FER2013_TRAIN_COUNTS", "KDEF_POSES", "DEFAULT_POSE_PROBS",
    "LIGHTINGS", "N_IDENTITY_DRAWS", "OCCLUDERS", "SPLIT_CODES", "SynthSample", "render_sample", "au_region_masks",
    "au_footprint", "generate", "class_weights", "allocate_counts",
]

# FER2013 training-set folder counts (msambare/fer2013 `train/`), canonical names.
FER2013_TRAIN_COUNTS: dict[str, int] = {
    "anger": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "neutral": 4965, "sad": 4830,
    "surprise": 3171,
}
KDEF_POSES: tuple[float, ...] = (-90.0, -45.0, 0.0, 45.0, 90.0)
DEFAULT_POSE_PROBS: tuple[float, ...] = (0.1, 0.15, 0.5, 0.15, 0.1)


# --------------------------------------------------------------------------------------
# Options: class weights and checks
# --------------------------------------------------------------------------------------
def class_weights(imbalance: str | Mapping[str, float], classes: Sequence[str]) -> np.ndarray:
    """Sampling weight of each class: ``"fer2013"``, ``"balanced"`` or {class: weight}.

    FER2013 has no contempt; when enabled it gets the disgust count. In an explicit dict a
    class left out gets weight 0.
    """
    if isinstance(imbalance, str):
        if imbalance == "fer2013":
            w = [FER2013_TRAIN_COUNTS.get(c, FER2013_TRAIN_COUNTS["disgust"]) for c in classes]
        elif imbalance == "balanced":
            w = [1.0] * len(classes)
        else:
            raise ValueError(f"imbalance must be 'fer2013', 'balanced' or a {{class: weight}} dict, got {imbalance!r}")
    elif isinstance(imbalance, Mapping):
        unknown = sorted(set(imbalance) - set(classes))
        if unknown:
            raise ValueError(f"imbalance names unknown classes {unknown}; the classes are {list(classes)}")
        w = [float(imbalance.get(c, 0.0)) for c in classes]
        if any(not np.isfinite(v) or v < 0 for v in w):
            raise ValueError(f"imbalance weights must be finite and >= 0, got {dict(imbalance)}")
    else:
        raise ValueError(f"imbalance must be 'fer2013', 'balanced' or a {{class: weight}} dict, got {type(imbalance).__name__}")
    w = np.asarray(w, dtype=float)
    if w.sum() <= 0:
        raise ValueError("imbalance weights sum to zero: at least one class needs a positive weight")
    return w


def allocate_counts(n: int, weights: np.ndarray) -> np.ndarray:
    """Split ``n`` into integer counts proportional to ``weights`` (largest remainder)."""
    p = np.asarray(weights, float) / np.sum(weights)
    exact = n * p
    counts = np.floor(exact).astype(np.int64)
    rest = n - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


def _check_pose_args(poses, pose_probs, yaw_jitter):
    try:
        poses_a = np.asarray(poses, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"poses must be a sequence of yaw angles in degrees, got {poses!r}") from None
    if poses_a.size == 0 or not np.all(np.isfinite(poses_a)) or np.any(np.abs(poses_a) > 90):
        raise ValueError(f"poses must be a non-empty sequence of yaw angles within [-90, 90] degrees, got {poses!r}")
    if pose_probs is None:
        if poses_a.size == len(KDEF_POSES) and np.allclose(poses_a, KDEF_POSES):
            probs = np.asarray(DEFAULT_POSE_PROBS)
        else:
            probs = np.full(poses_a.size, 1.0 / poses_a.size)
    else:
        probs = np.asarray(pose_probs, dtype=float).ravel()
        if probs.size != poses_a.size:
            raise ValueError(f"pose_probs has {probs.size} entries but poses has {poses_a.size}; give one probability per pose")
        if np.any(~np.isfinite(probs)) or np.any(probs < 0) or abs(probs.sum() - 1.0) > 1e-3:
            raise ValueError(f"pose_probs must be non-negative and sum to 1, got {list(probs)} (sum {probs.sum():.4g})")
    if not (np.isfinite(yaw_jitter) and 0 <= yaw_jitter <= 45):
        raise ValueError(f"yaw_jitter must be within [0, 45] degrees, got {yaw_jitter!r}")
    return poses_a, probs / probs.sum()


def _check_common(image_size, occlusion_prob, seed):
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 16:
        raise ValueError(f"image_size must be an integer >= 16, got {image_size!r}")
    if image_size > 1024:
        raise ValueError(f"image_size must be <= 1024, got {image_size}")
    if not (0.0 <= float(occlusion_prob) <= 1.0):
        raise ValueError(f"occlusion_prob must be within [0, 1], got {occlusion_prob!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _check_domain_args(identity_range, lighting, resolution, image_size):
    """The options that shift one imaging or population factor (:mod:`fernb.data.shifts`), checked."""
    expected = f"identity_range must be a pair (lo, hi) with 0 <= lo < hi <= 1, got {identity_range!r}"
    try:
        lo, hi = (float(v) for v in identity_range)
    except (TypeError, ValueError):
        raise ValueError(expected) from None
    if not (0.0 <= lo < hi <= 1.0):
        raise ValueError(expected)
    if lighting not in LIGHTINGS:
        raise ValueError(f"lighting must be one of {LIGHTINGS}, got {lighting!r}")
    if resolution is not None:
        if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
                or not (8 <= resolution < image_size):
            raise ValueError(f"resolution must be None or an integer with 8 <= resolution < image_size "
                             f"({image_size}), got {resolution!r}")
        resolution = int(resolution)
    return (lo, hi), str(lighting), resolution


def render_sample(seed: int, split: str, index: int, *, image_size: int = 48, rgb: bool = False,
                  contempt: bool = False, label: int | None = None, yaw: float | None = None,
                  subject: int | None = None, **options) -> SynthSample:
    """Render sample ``index`` of ``split`` for ``seed`` (with its AU and silhouette masks).

    ``label``, ``yaw`` and ``subject`` override the random draws without changing any other
    draw (same identity, intensities, lighting...), so e.g. ``yaw=0`` and ``yaw=45`` show the
    same face turned. Without ``label`` the class is drawn from ``imbalance`` weights.
    ``options``: ``imbalance``, ``poses``, ``pose_probs``, ``yaw_jitter``, ``occlusion_prob``,
    ``identity_range``, ``lighting``, ``resolution`` (as in :func:`generate`), ``masks``
    (default True; False skips the masks) and ``au_off`` (AU names whose intensity is set to
    zero after every draw is made: the same face, light and noise with those AUs switched off;
    an occluder is placed from the landmarks, so it moves with them).
    """
    allowed = {"imbalance", "poses", "pose_probs", "yaw_jitter", "occlusion_prob", "identity_range", "lighting",
               "resolution", "masks", "au_off"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"unknown options {unknown}; expected some of {sorted(allowed)}")
    if split not in SPLIT_CODES:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"index must be a non-negative integer, got {index!r}")
    occlusion_prob = options.get("occlusion_prob", 0.1)
    _check_common(image_size, occlusion_prob, seed)
    classes = class_names(8 if contempt else 7)
    poses, probs = _check_pose_args(options.get("poses", KDEF_POSES), options.get("pose_probs"),
                                    options.get("yaw_jitter", 5.0))
    cw = class_weights(options.get("imbalance", "fer2013"), classes)
    identity_range, lighting, resolution = _check_domain_args(
        options.get("identity_range", (0.0, 1.0)), options.get("lighting", "normal"), options.get("resolution"),
        image_size)
    if label is not None and not (0 <= int(label) < len(classes)):
        raise ValueError(f"label {label} outside the {len(classes)} classes {list(classes)}")
    if yaw is not None and not np.isfinite(yaw):
        raise ValueError(f"yaw must be a finite angle in degrees, got {yaw!r}")
    if subject is not None and (isinstance(subject, bool) or not isinstance(subject, (int, np.integer)) or subject < 0):
        raise ValueError(f"subject must be a non-negative integer, got {subject!r}")
    au_off = options.get("au_off", ())
    au_off = (au_off,) if isinstance(au_off, str) else tuple(au_off)
    unknown_aus = [a for a in au_off if a not in AU_INDEX]
    if unknown_aus:
        raise ValueError(f"au_off: unknown AUs {unknown_aus}; expected names from {AUS}")
    settings = RenderSettings(int(seed), int(image_size), bool(rgb), len(classes), poses, probs,
                              float(options.get("yaw_jitter", 5.0)), float(occlusion_prob), cw,
                              bool(options.get("masks", True)), identity_range, lighting, resolution)
    return render_face(settings, split, int(index), label=label, yaw=yaw, subject=subject, au_off=au_off)


def au_footprint(seed: int, split: str, index: int, au: str, *, threshold: int = 2, **render_options) -> np.ndarray:
    """Bool (S,S): the pixels ``au`` changes in sample ``index`` of ``split``.

    Those whose grey level (any channel, for ``rgb=True``) differs by more than ``threshold``
    between ``render_sample(seed, split, index, **render_options)`` and the same call with
    ``au_off=[au]``: the same face, light and sensor noise with only that AU switched off, so
    the difference is the AU's own effect (empty when the AU is inactive). This is what the
    ``au_masks`` of both renderings must cover (``tests/data/test_synthfer.py``). Pass
    ``occlusion_prob=0.0`` to exclude occluders, which are placed from the landmarks and so
    move with them. ``au_off`` and ``masks`` in ``render_options`` are ignored.
    """
    if au not in AU_INDEX:
        raise ValueError(f"unknown AU {au!r}; expected a name from {AUS}")
    opts = {k: v for k, v in render_options.items() if k not in ("au_off", "masks")}
    on = render_sample(seed, split, index, masks=False, **opts).image.astype(np.int16)
    off = render_sample(seed, split, index, masks=False, au_off=[au], **opts).image.astype(np.int16)
    diff = np.abs(on - off)
    return (diff.max(axis=-1) if diff.ndim == 3 else diff) > threshold


# --------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------
_CHUNK = 256                          # samples rendered, then stacked, at a time
# generate()'s columns: (name, dtype, shape per sample given the image shape)
_COLUMNS = (("image", np.uint8, None), ("label", np.int64, ()), ("split", "<U5", ()), ("source_id", object, ()),
            ("yaw", np.float32, ()), ("pitch", np.float32, ()), ("roll", np.float32, ()),
            ("landmarks", np.float32, (68, 2)), ("visible", bool, (68,)), ("au", np.float32, (len(AUS),)),
            ("subject", np.int64, ()), ("occluder", np.int8, ()), ("quantiles", np.float32, (N_IDENTITY_DRAWS,)))


def _render_chunk(settings: RenderSettings, jobs: list[tuple]) -> dict[str, np.ndarray]:
    """Render ``jobs`` [(split, index, label, subject)] and stack the results."""
    out: dict[str, list] = {name: [] for name, _, _ in _COLUMNS}
    for sp, i, label, subj in jobs:
        smp = render_face(settings, sp, i, label=label, subject=subj)
        for name, value in (("image", smp.image), ("label", smp.label), ("split", sp),
                            ("source_id", f"synthfer/{sp}/{i:06d}"), ("yaw", smp.yaw), ("pitch", smp.pitch),
                            ("roll", smp.roll), ("landmarks", smp.landmarks), ("visible", smp.visible),
                            ("au", smp.au_intensity), ("subject", smp.subject),
                            ("occluder", OCCLUDERS.index(smp.occluder)), ("quantiles", smp.identity_quantiles)):
            out[name].append(value)
    return {k: np.asarray(v) for k, v in out.items()}


def _render_all(settings: RenderSettings, jobs: list[tuple], progress: bool) -> dict[str, np.ndarray]:
    """Every job rendered, chunk by chunk, into preallocated columns (:data:`_COLUMNS`)."""
    N, S = len(jobs), settings.image_size
    image_shape = (S, S, 3) if settings.rgb else (S, S)
    columns = {name: np.empty((N, *(image_shape if shape is None else shape)), dtype)
               for name, dtype, shape in _COLUMNS}
    bar = progress_bar(total=N, desc="SynthFER", unit="img", disable=not progress)
    for row in range(0, N, _CHUNK):
        part = _render_chunk(settings, jobs[row:row + _CHUNK])
        for name, values in part.items():
            columns[name][row:row + len(values)] = values
        bar.update(len(part["label"]))
    bar.close()
    return columns


def _check_count(name, n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    return int(n)


def _subject_ranges(n_identities, counts: dict[str, int]) -> tuple[np.ndarray, np.ndarray] | None:
    """(subjects per split, first subject id per split) for ``n_identities`` shared identities,
    split disjointly in proportion to the split sizes (None: a fresh identity per sample)."""
    if n_identities is None:
        return None
    if isinstance(n_identities, bool) or not isinstance(n_identities, (int, np.integer)):
        raise ValueError(f"n_identities must be None or a positive integer, got {n_identities!r}")
    nonempty = [sp for sp in SPLITS if counts[sp] > 0]
    if n_identities < max(1, len(nonempty)):
        raise ValueError(f"n_identities={n_identities} is too small: each non-empty split ({nonempty}) needs "
                         f"its own subjects, so at least {max(1, len(nonempty))} are required")
    if n_identities > FRESH_SUBJECT_BASE:
        raise ValueError(f"n_identities must be <= {FRESH_SUBJECT_BASE}, got {n_identities}")
    share = np.array([counts[sp] for sp in SPLITS], float)
    id_counts = np.zeros(3, np.int64)
    need = share > 0
    id_counts[need] = 1
    id_counts[need] += allocate_counts(int(n_identities) - int(need.sum()), share[need]) if need.any() else 0
    return id_counts, np.concatenate([[0], np.cumsum(id_counts)[:-1]])


def _jobs(seed: int, counts: dict[str, int], cw: np.ndarray, subject_ranges) -> list[tuple]:
    """(split, index, label, subject) of every sample, in output order: each split's labels are
    its largest-remainder class counts in a seeded permutation, its subjects cycled evenly."""
    jobs = []
    for sp in SPLITS:
        n = counts[sp]
        if n == 0:
            continue
        code = SPLIT_CODES[sp]
        per_class = allocate_counts(n, cw)
        split_labels = np.random.default_rng([seed, code, 0xC1A55]).permutation(np.repeat(np.arange(len(cw)), per_class))
        split_subj = None
        if subject_ranges is not None:
            id_counts, id_start = subject_ranges
            order = np.random.default_rng([seed, code, 0x5B1EC7]).permutation(n)
            split_subj = np.empty(n, np.int64)
            split_subj[order] = id_start[code] + np.arange(n) % int(id_counts[code])
        for i in range(n):
            jobs.append((sp, i, int(split_labels[i]), None if split_subj is None else int(split_subj[i])))
    return jobs


def generate(n_train: int = 6000, n_val: int = 1000, n_test: int = 1000, *, image_size: int = 48,
             rgb: bool = False, seed: int = 0, contempt: bool = False,
             imbalance: str | Mapping[str, float] = "fer2013", poses: Sequence[float] = KDEF_POSES,
             pose_probs: Sequence[float] | None = None, yaw_jitter: float = 5.0, occlusion_prob: float = 0.1,
             n_identities: int | None = None, identity_range: Sequence[float] = (0.0, 1.0),
             lighting: str = "normal", resolution: int | None = None, progress: bool = True) -> FERData:
    """Generate SynthFER as a :class:`FERData` (name ``"synthfer"``).

    Args:
        n_train, n_val, n_test: samples per split.
        image_size: output side in pixels (>= 16); faces are drawn at twice this size.
        rgb: (H,W,3) RGB images instead of grayscale.
        seed: the dataset seed (same seed -> byte-identical data).
        contempt: add the 8th class (unilateral AU12+AU14).
        imbalance: ``"fer2013"`` (FER2013 training proportions; contempt gets disgust's),
            ``"balanced"``, or {class: weight} (unlisted classes get 0). Exact per-split
            counts come from largest-remainder allocation, shuffled by a seeded permutation.
        poses, pose_probs, yaw_jitter: yaw is drawn from ``poses`` with ``pose_probs``
            (default favours frontal for the KDEF poses, uniform for custom poses), plus
            uniform jitter of +-``yaw_jitter`` degrees.
        occlusion_prob: probability of sunglasses, a hand or a bar over the face.
        n_identities: None = a fresh identity per sample (subject = code(split)*1e9 + index);
            an int = that many subjects, split disjointly across train/val/test in
            proportion to the split sizes and cycled evenly within a split.
        identity_range: (lo, hi), 0 <= lo < hi <= 1: each of an identity's uniform draws u
            becomes ``lo + (hi - lo) * u``, so the faces (head shape, features, skin tone,
            hair) come from that slice of every parameter's range; two disjoint ranges give
            two populations that share no face shape or skin tone.
        lighting: ``"normal"``, or ``"harsh"``: the same draws mapped outside the normal
            ranges, a low side light (light x component of magnitude 1.3-2.0 instead of
            within +-0.9, ambient 0.05-0.2 instead of 0.35-0.6, illumination gradient
            strength 0.5-0.8 instead of 0-0.45).
        resolution: None, or r with 8 <= r < image_size: the finished image (after noise) is
            resized to r x r (INTER_AREA) and back (INTER_LINEAR), a low-resolution camera;
            landmarks and masks are unchanged.
        progress: show a progress bar (:func:`fernb.progress.progress_bar`).

    extras: ``au_intensity`` (N, len(AUS)) float32, ``subject`` int64, ``pitch``/``roll``
    float32, ``landmark_visible`` (N,68) bool, ``occluder`` int8 (index into OCCLUDERS),
    ``identity_quantiles`` (N, N_IDENTITY_DRAWS) float32 (the identity's draws, after
    ``identity_range``).
    """
    counts = {"train": _check_count("n_train", n_train), "val": _check_count("n_val", n_val),
              "test": _check_count("n_test", n_test)}
    _check_common(image_size, occlusion_prob, seed)
    poses_a, probs = _check_pose_args(poses, pose_probs, yaw_jitter)
    identity_range, lighting, resolution = _check_domain_args(identity_range, lighting, resolution, image_size)
    classes = class_names(8 if contempt else 7)
    cw = class_weights(imbalance, classes)
    jobs = _jobs(seed, counts, cw, _subject_ranges(n_identities, counts))
    settings = RenderSettings(int(seed), int(image_size), bool(rgb), len(classes), poses_a, probs, float(yaw_jitter),
                              float(occlusion_prob), cw, False, identity_range, lighting, resolution)
    col = _render_all(settings, jobs, progress)
    params = {
        "n_train": counts["train"], "n_val": counts["val"], "n_test": counts["test"], "image_size": int(image_size),
        "rgb": bool(rgb), "seed": int(seed), "contempt": bool(contempt),
        "imbalance": imbalance if isinstance(imbalance, str) else {k: float(v) for k, v in imbalance.items()},
        "poses": [float(v) for v in poses_a], "pose_probs": None if pose_probs is None else [float(v) for v in probs],
        "yaw_jitter": float(yaw_jitter), "occlusion_prob": float(occlusion_prob),
        "n_identities": None if n_identities is None else int(n_identities),
        "identity_range": list(identity_range), "lighting": lighting, "resolution": resolution,
        "progress": bool(progress),
    }
    return FERData(
        name="synthfer", images=col["image"], labels=col["label"], split=col["split"], classes=classes,
        source_ids=col["source_id"].astype(str), pose=col["yaw"], landmarks=col["landmarks"],
        extras={"au_intensity": col["au"], "subject": col["subject"], "pitch": col["pitch"], "roll": col["roll"],
                "landmark_visible": col["visible"], "occluder": col["occluder"], "identity_quantiles": col["quantiles"]},
        meta={"generator": "fernb.data.synthfer", "params": params, "aus": list(AUS),
              "class_aus": {c: list(CLASS_AUS[c]) for c in classes},
              "companion_aus": {c: [[a, p] for a, p in v] for c, v in COMPANION_AUS.items() if c in classes},
              "occluders": list(OCCLUDERS), "yaw_convention": "positive yaw = face turned toward image right (subject's left)"},
    )
