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
  the renderer's own record (``_AUTrace``) of every drawn primitive the AU moves (through
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
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace

import cv2
import numpy as np

from fernb.data.core import SPLITS, FERData
from fernb.labels import CANONICAL, class_names
from fernb.progress import progress_bar

__all__ = [
    "AUS", "CLASS_AUS", "COMPANION_AUS", "FER2013_TRAIN_COUNTS", "KDEF_POSES", "DEFAULT_POSE_PROBS",
    "LIGHTINGS", "N_IDENTITY_DRAWS", "SynthSample", "render_sample", "au_region_masks", "au_footprint", "generate", "class_weights",
    "allocate_counts",
]

AUS: tuple[str, ...] = (
    "AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU12", "AU14", "AU15", "AU16", "AU20",
    "AU23", "AU25", "AU26",
)
_AU = {name: i for i, name in enumerate(AUS)}

CLASS_AUS: dict[str, tuple[str, ...]] = {
    "neutral": (),
    "happy": ("AU6", "AU12"),
    "sad": ("AU1", "AU4", "AU15"),
    "surprise": ("AU1", "AU2", "AU5", "AU26"),
    "fear": ("AU1", "AU2", "AU4", "AU5", "AU7", "AU20", "AU26"),
    "disgust": ("AU9", "AU15", "AU16"),
    "anger": ("AU4", "AU5", "AU7", "AU23"),
    "contempt": ("AU12", "AU14"),  # unilateral: one side of the face only
}
# AUs that physically accompany a class without being in its prototype: (AU, probability).
COMPANION_AUS: dict[str, tuple[tuple[str, float], ...]] = {
    "happy": (("AU25", 0.7),),      # lips parted, upper teeth visible
    "surprise": (("AU25", 1.0),),   # a dropped jaw parts the lips
    "fear": (("AU25", 1.0),),
    "disgust": (("AU25", 0.4),),    # AU16 with parted lips shows the lower teeth
}

# FER2013 training-set folder counts (msambare/fer2013 `train/`), canonical names.
FER2013_TRAIN_COUNTS: dict[str, int] = {
    "anger": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "neutral": 4965, "sad": 4830,
    "surprise": 3171,
}
KDEF_POSES: tuple[float, ...] = (-90.0, -45.0, 0.0, 45.0, 90.0)
DEFAULT_POSE_PROBS: tuple[float, ...] = (0.1, 0.15, 0.5, 0.15, 0.1)
SPLIT_CODES: dict[str, int] = {"train": 0, "val": 1, "test": 2}
_SUBJECT_STREAM = 3                  # rng stream tag for shared identities (not a split code)
_FRESH_SUBJECT_BASE = 10 ** 9        # fresh identity: subject = code(split) * 1e9 + index
OCCLUDERS: tuple[str, ...] = ("", "sunglasses", "hand", "bar")

LIGHTINGS: tuple[str, ...] = ("normal", "harsh")
N_IDENTITY_DRAWS = 34               # the uniform draws u[0..33] an identity is made from

_SUBTLE_PROB, _SUBTLE_SCALE = 0.15, 0.4
_LEAK_PROB, _LEAK_RANGE = 0.10, (0.05, 0.35)


@dataclass
class SynthSample:
    """One rendered face (see the module docstring for conventions)."""

    image: np.ndarray                   # uint8 (S,S) or (S,S,3)
    label: int                          # canonical index
    yaw: float
    pitch: float
    roll: float
    landmarks: np.ndarray               # float32 (68,2) output-pixel (x, y)
    visible: np.ndarray                 # bool (68,) landmark faces the camera
    au_intensity: np.ndarray            # float32 (len(AUS),) in [0,1]
    au_masks: dict[str, np.ndarray]     # every AU in AUS -> bool (S,S): landmark region | renderer's record
    subject: int
    silhouette: np.ndarray | None = None  # bool (S,S) projected head (+ nose, lips), when masks are made
    occluder: str = ""                  # "", "sunglasses", "hand" or "bar"
    identity_quantiles: np.ndarray | None = None  # float32 (N_IDENTITY_DRAWS,) draws after identity_range


# --------------------------------------------------------------------------------------
# Landmark topology: mirror map and sides
# --------------------------------------------------------------------------------------
def _mirror_index() -> np.ndarray:
    m = np.arange(68)
    pairs = [(i, 16 - i) for i in range(8)]
    pairs += [(17 + k, 26 - k) for k in range(5)]
    pairs += [(31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
    for a, b in pairs:
        m[a], m[b] = b, a
    return m


MIRROR = _mirror_index()
RIGHT_SIDE = np.array([*range(0, 8), *range(17, 22), 31, 32, *range(36, 42), 48, 49, 50, 58, 59, 60, 61, 67])
LEFT_SIDE = MIRROR[RIGHT_SIDE]
CENTER = np.array([i for i in range(68) if MIRROR[i] == i])

# AU displacement fields at intensity 1, canonical units (half face width), written for the
# subject's right side (image left in a frontal view) as (outward, down, toward camera)
# and for midline points as (0, down, toward camera); the left side is mirrored.
_AU_DISPLACEMENTS: dict[str, dict[int, tuple[float, float, float]]] = {
    "AU1": {21: (0.0, -0.11, 0), 20: (0.0, -0.09, 0), 19: (0, -0.055, 0), 18: (0, -0.02, 0)},
    "AU2": {17: (0.01, -0.11, 0), 18: (0.0, -0.09, 0), 19: (0, -0.055, 0), 20: (0, -0.02, 0),
            37: (0, -0.012, 0), 38: (0, -0.012, 0)},
    "AU4": {21: (-0.05, 0.08, 0.01), 20: (-0.035, 0.075, 0), 19: (-0.015, 0.06, 0), 18: (0, 0.045, 0),
            17: (0, 0.03, 0), 37: (0, 0.015, 0), 38: (0, 0.015, 0)},
    "AU5": {37: (0, -0.045, 0.005), 38: (0, -0.045, 0.005), 36: (0, -0.006, 0), 39: (0, -0.006, 0)},
    "AU6": {40: (0, -0.03, 0.01), 41: (0, -0.03, 0.01), 36: (0, -0.012, 0), 37: (0, 0.008, 0),
            38: (0, 0.008, 0)},
    "AU7": {40: (0, -0.035, 0), 41: (0, -0.035, 0), 37: (0, 0.018, 0), 38: (0, 0.018, 0),
            36: (-0.005, -0.005, 0)},
    "AU9": {31: (0.01, -0.055, 0), 32: (0, -0.05, 0), 33: (0, -0.045, 0), 30: (0, -0.025, 0),
            29: (0, -0.012, 0), 49: (0, -0.04, 0), 50: (0, -0.045, 0), 51: (0, -0.045, 0),
            61: (0, -0.02, 0), 62: (0, -0.02, 0), 48: (0, -0.015, 0), 21: (-0.02, 0.045, 0),
            20: (-0.01, 0.035, 0), 40: (0, -0.015, 0), 41: (0, -0.015, 0)},
    "AU12": {48: (0.09, -0.13, -0.03), 60: (0.075, -0.11, -0.02), 49: (0.04, -0.05, 0),
             59: (0.05, -0.07, 0), 67: (0.03, -0.045, 0), 61: (0.025, -0.03, 0), 50: (0.01, -0.015, 0),
             58: (0.015, -0.02, 0), 57: (0, 0.0, 0), 66: (0, 0.0, 0)},
    "AU14": {48: (-0.02, -0.025, -0.05), 60: (-0.015, -0.02, -0.03), 49: (-0.005, -0.01, 0),
             59: (-0.005, -0.01, 0)},
    "AU15": {48: (0.0, 0.085, 0), 60: (0, 0.07, 0), 59: (0, 0.04, 0), 49: (0, 0.025, 0),
             67: (0, 0.035, 0), 61: (0, 0.02, 0), 58: (0, 0.012, 0)},
    "AU16": {57: (0, 0.07, 0.01), 58: (0, 0.065, 0.01), 59: (0, 0.035, 0), 66: (0, 0.07, 0),
             67: (0, 0.055, 0)},
    "AU20": {48: (0.09, 0.02, -0.02), 60: (0.085, 0.02, -0.02), 49: (0.045, 0.01, 0), 59: (0.045, 0.01, 0),
             61: (0.035, 0, 0), 67: (0.035, 0, 0), 50: (0.015, 0.01, 0), 58: (0.015, -0.01, 0),
             51: (0, 0.012, 0), 57: (0, -0.012, 0)},
    "AU23": {48: (-0.035, 0, 0), 60: (-0.03, 0, 0), 49: (-0.015, 0.025, 0), 50: (-0.005, 0.03, 0),
             51: (0, 0.03, 0), 59: (-0.015, -0.03, 0), 58: (-0.005, -0.035, 0), 57: (0, -0.035, 0)},
    "AU25": {61: (0, -0.018, 0), 62: (0, -0.02, 0), 67: (0, 0.05, 0), 66: (0, 0.06, 0),
             58: (0, 0.05, 0), 57: (0, 0.055, 0), 59: (0, 0.03, 0), 48: (0, 0.005, 0)},
    "AU26": {},  # jaw drop: handled by _jaw_weight (moves lips, chin, jaw and the head mesh)
}


def _displacement_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-AU (68,3) displacement split into right-side, left-side and midline parts."""
    n = len(AUS)
    right, left, mid = np.zeros((n, 68, 3)), np.zeros((n, 68, 3)), np.zeros((n, 68, 3))
    right_set = set(RIGHT_SIDE.tolist())
    for a, au in enumerate(AUS):
        for idx, (out, down, fwd) in _AU_DISPLACEMENTS[au].items():
            if idx in right_set:
                right[a, idx] = (-out, down, fwd)
                left[a, MIRROR[idx]] = (out, down, fwd)
            else:
                mid[a, idx] = (0.0, down, fwd)
    return right, left, mid


_D_RIGHT, _D_LEFT, _D_MID = _displacement_tables()
_D_ALL = np.concatenate([_D_RIGHT, _D_LEFT, _D_MID]).reshape(3 * len(AUS), 68 * 3)
# Jaw-drop (AU26) weights of the mouth landmarks; jaw/chin landmarks follow _jaw_weight.
_JAW_LM = np.zeros(68)
_JAW_LM[[55, 56, 57, 58, 59, 65, 66, 67]] = 1.0
_JAW_LM[[48, 54, 60, 64]] = 0.4
_JAW_LM[[61, 62, 63]] = -0.05
_JAW_DROP = 0.32                      # canonical units at AU26 intensity 1

# --------------------------------------------------------------------------------------
# Head mesh (unit sphere grid, shaped per identity)
# --------------------------------------------------------------------------------------
_NT, _NP = 12, 24
_THETA = np.linspace(0.0, math.pi, _NT + 1)
_PHI = np.arange(_NP) * (2 * math.pi / _NP)
_TH, _PH = np.meshgrid(_THETA, _PHI, indexing="ij")
_SIN_T, _COS_T = np.sin(_TH).ravel(), np.cos(_TH).ravel()
_SIN_P, _COS_P = np.sin(_PH).ravel(), np.cos(_PH).ravel()
_THETA_V = _TH.ravel()
_RING = np.linspace(0, 2 * np.pi, 14, endpoint=False)
_EAR = np.stack([0.09 * (0.55 + 0.45 * np.sin(_RING)), 0.24 * np.cos(_RING), 0.15 * np.sin(_RING)], 1)
_HAIR_SCALE = 1.04


def _clip(x, lo, hi):
    """np.clip without its per-call overhead (hot path)."""
    return np.minimum(np.maximum(x, lo), hi)


def _smoothstep(e0: float, e1: float, x):
    t = _clip((np.asarray(x, dtype=float) - e0) * (1.0 / (e1 - e0)), 0.0, 1.0)
    return t * t * (3 - 2 * t)


# --------------------------------------------------------------------------------------
# Identity
# --------------------------------------------------------------------------------------
_SKIN = np.array([[242, 208, 184], [222, 178, 146], [190, 140, 105], [150, 102, 72], [98, 66, 48]], float)
_HAIR = np.array([[28, 24, 22], [60, 42, 30], [105, 72, 45], [190, 160, 110], [150, 148, 145], [130, 62, 34]], float)
_HAIR_P = np.cumsum([0.34, 0.26, 0.17, 0.1, 0.07, 0.06])


def _lerp(lo: float, hi: float, t: float) -> float:
    return lo + (hi - lo) * t


def _identity(rng: np.random.Generator, identity_range: tuple[float, float] = (0.0, 1.0)) -> SimpleNamespace:
    """The face of one subject from 40 uniform draws (34 used), each mapped into ``identity_range``
    first: a sub-range of every draw is a sub-population of faces (see :func:`generate`)."""
    u = rng.random(40)
    lo, hi = identity_range
    if (lo, hi) != (0.0, 1.0):      # the default keeps the draws bit for bit
        u = lo + (hi - lo) * u
    p = SimpleNamespace()
    p.quantiles = u[:N_IDENTITY_DRAWS].astype(np.float32)
    p.a = _lerp(0.9, 1.08, u[0])            # face half-width (cheekbones)
    p.c = _lerp(1.15, 1.35, u[1])           # head depth (half)
    p.b_up = _lerp(1.5, 1.7, u[2])          # eye level to crown
    p.taper = _lerp(0.1, 0.35, u[3])         # jaw taper (0 = round jaw)
    p.chin_fwd = _lerp(0.25, 0.45, u[4])    # lower face pushed forward (chin projection)
    p.eye_sep = _lerp(0.4, 0.48, u[5])
    p.eye_w = _lerp(0.16, 0.21, u[6])
    p.eye_h = _lerp(0.05, 0.075, u[7])
    p.brow_gap = _lerp(0.2, 0.3, u[8])
    p.brow_th = _lerp(0.035, 0.075, u[9])
    p.brow_arch = _lerp(0.0, 0.06, u[10])
    p.brow_density = _lerp(0.45, 0.95, u[11])
    p.nose_len = _lerp(0.55, 0.72, u[12])
    p.nose_w = _lerp(0.19, 0.27, u[13])
    p.nose_proj = _lerp(0.28, 0.42, u[14])
    p.mouth_y = p.nose_len + _lerp(0.3, 0.42, u[15])
    p.mouth_w = _lerp(0.29, 0.38, u[16])
    p.lip_up = _lerp(0.055, 0.1, u[17])
    p.lip_lo = _lerp(0.065, 0.12, u[18])
    p.rest_corner = _lerp(-0.025, 0.025, u[19])  # resting mouth-corner height (+ = lower)
    p.rest_brow = _lerp(-0.03, 0.03, u[20])      # resting inner-brow height (+ = lower)
    p.chin_y = p.mouth_y + _lerp(0.42, 0.58, u[21])
    p.b_low = p.chin_y / 0.94
    t = u[22] * (len(_SKIN) - 1)
    k = min(int(t), len(_SKIN) - 2)
    p.skin = (_SKIN[k] * (1 - (t - k)) + _SKIN[k + 1] * (t - k)) * _lerp(0.95, 1.05, u[23])
    p.hair = _HAIR[int(np.searchsorted(_HAIR_P, u[24] * _HAIR_P[-1]))] * _lerp(0.8, 1.2, u[25])
    bald = u[26] < 0.06
    p.theta_front = math.radians(_lerp(10, 20, u[27]) if bald else _lerp(36, 56, u[27]))
    p.theta_back = math.radians(_lerp(60, 80, u[28]) if bald else _lerp(100, 128, u[28]))
    p.iris = _lerp(30, 110, u[29])
    p.lip = _clip(p.skin * np.array([0.86, 0.6, 0.6]) * _lerp(0.85, 1.05, u[30]), 0, 255)
    p.fold = _lerp(0.0, 0.25, u[31])           # resting nasolabial fold depth (age)
    p.asym = _lerp(-0.02, 0.02, u[32])         # mouth slightly off-centre
    p.ear_y = _lerp(0.15, 0.3, u[33])
    return p


def _frame(p: SimpleNamespace, y, x_over=None):
    """Head-surface helpers at canonical height ``y``: (r, sin_theta, half-width)."""
    y = np.asarray(y, dtype=float)
    b = np.where(y < 0, p.b_up, p.b_low)
    r = _clip(y / b, -1.0, 1.0)
    sin_t = np.sqrt(_clip(1.0 - r * r, 0.0, 1.0))
    taper = 1.0 - p.taper * _clip(r, 0.0, 1.0) ** 2
    return r, sin_t, p.a * taper * sin_t


def _surface_z(p, x, y):
    """z of the (front) head surface at canonical (x, y), and the surface normal."""
    r, sin_t, half = _frame(p, y)
    half = np.maximum(half, 1e-6)
    s_phi = _clip(np.asarray(x, float) / half, -1.0, 1.0)
    c_phi = np.sqrt(1.0 - s_phi * s_phi)
    z = p.c * sin_t * c_phi + p.chin_fwd * _smoothstep(0.25, 1.0, r) * c_phi ** 2
    b = np.where(np.asarray(y) < 0, p.b_up, p.b_low)
    n = np.stack([s_phi * sin_t / (half / np.maximum(sin_t, 1e-6)), r / b, sin_t * c_phi / p.c], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True) + 1e-9
    return z, n


def _jaw_weight(p, y, c_phi):
    return _smoothstep(p.mouth_y - 0.05, p.mouth_y + 0.45, y) * _clip(2.0 * c_phi, 0.0, 1.0)


# --------------------------------------------------------------------------------------
# Landmarks in the canonical frame
# --------------------------------------------------------------------------------------
def _landmarks3d(p: SimpleNamespace, disp: np.ndarray, jaw: float) -> tuple[np.ndarray, np.ndarray]:
    """(68,3) canonical landmarks and (68,3) unit normals for identity ``p``."""
    xy = np.zeros((68, 2))
    fwd = np.zeros(68)                          # protrusion above the head surface
    # eyes
    w, h = p.eye_w, p.eye_h
    for base, cx in ((36, -p.eye_sep), (42, p.eye_sep)):
        xy[base:base + 6] = [(cx - w, 0), (cx - w / 3, -h), (cx + w / 3, -h), (cx + w, 0),
                             (cx + w / 3, 0.85 * h), (cx - w / 3, 0.85 * h)]
    xy[36, 1] -= 0.01                            # outer corners slightly higher
    xy[45, 1] -= 0.01
    fwd[36:48] = -0.02
    # brows (17-21 right, outer -> inner)
    by = -p.brow_gap
    bx = np.array([-0.25, -0.13, -0.01, 0.1, 0.2])
    bys = by + np.array([0.07, -0.01, -0.04, -0.03, 0.0]) - p.brow_arch * np.array([0, 1, 1.2, 0.8, 0.2])
    bys[3:] += p.rest_brow * np.array([0.6, 1.0])
    xy[17:22] = np.stack([-p.eye_sep + bx, bys], 1)
    xy[22:27] = np.stack([p.eye_sep - bx[::-1], bys[::-1]], 1)
    fwd[17:27] = 0.03
    # nose
    tip = p.nose_len
    xy[27:31] = [(0, -0.02), (0, tip * 0.33), (0, tip * 0.66), (0, tip)]
    fwd[27:31] = np.array([0.06, 0.13, 0.22, 1.0]) * np.array([1, 1, 1, p.nose_proj])
    base = tip + 0.08
    nw = p.nose_w
    xy[31:36] = [(-nw, base - 0.03), (-nw * 0.5, base + 0.01), (0, base + 0.02), (nw * 0.5, base + 0.01),
                 (nw, base - 0.03)]
    fwd[31:36] = [0.06, 0.11, 0.15, 0.11, 0.06]
    # mouth
    my, mw, ut, lt = p.mouth_y, p.mouth_w, p.lip_up, p.lip_lo
    my_c = my + p.rest_corner
    xy[48:60] = [(-mw, my_c), (-mw * 0.6, my - ut * 0.8), (-mw * 0.22, my - ut), (0, my - ut * 0.82),
                 (mw * 0.22, my - ut), (mw * 0.6, my - ut * 0.8), (mw, my_c), (mw * 0.6, my + lt * 0.85),
                 (mw * 0.22, my + lt), (0, my + lt), (-mw * 0.22, my + lt), (-mw * 0.6, my + lt * 0.85)]
    xy[60:68] = [(-mw * 0.86, my_c), (-mw * 0.35, my), (0, my), (mw * 0.35, my), (mw * 0.86, my_c),
                 (mw * 0.35, my), (0, my), (-mw * 0.35, my)]
    xy[48:68, 0] += p.asym
    fwd[48:60] = [0.02, 0.05, 0.06, 0.07, 0.06, 0.05, 0.02, 0.05, 0.07, 0.08, 0.07, 0.05]
    fwd[60:68] = 0.05
    pts = np.zeros((68, 3))
    pts[:, :2] = xy
    pts += disp
    # jaw contour: points on the head surface from ear level to the chin
    t = np.arange(17) / 16.0
    side = np.sign(t - 0.5)
    phi = side * np.radians(84.0) * (1.0 - (1.0 - np.abs(2 * t - 1)) ** 2.2)
    y_ear = 0.22
    jy = y_ear + (p.chin_y - y_ear) * np.sin(np.pi * t) ** 0.7
    _, sin_t, half = _frame(p, jy)
    jx = half * np.sin(phi) * 0.985
    pts[:17, 0], pts[:17, 1] = jx, jy
    # jaw drop moves the lower lip, chin and jaw; then z comes from the surface
    c_phi_jaw = np.cos(phi)
    drop = np.zeros(68)
    drop[:17] = _jaw_weight(p, jy, c_phi_jaw)
    drop[17:] = _JAW_LM[17:]
    z_surf, normals = _surface_z(p, pts[:, 0], pts[:, 1])
    pts[:, 1] += jaw * drop
    pts[:, 2] = z_surf + fwd + disp[:, 2] - 0.25 * jaw * drop
    # the nose points face forward more than the cheek below them (the nose protrudes)
    nose = slice(27, 36)
    normals[nose] = normals[nose] + np.array([0, 0, 0.8])
    normals[nose] /= np.linalg.norm(normals[nose], axis=1, keepdims=True)
    return pts, normals


# --------------------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------------------
def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Camera-from-face rotation: yaw about y (positive turns the nose to image right),
    then pitch about x (positive = chin down), then roll about z (positive = clockwise)."""
    cy, sy = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
    cp, sp = math.cos(math.radians(pitch)), math.sin(math.radians(pitch))
    cr, sr = math.cos(math.radians(roll)), math.sin(math.radians(roll))
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


_SHIFT = 4
_ONE = 1 << _SHIFT


def _ipts(xy: np.ndarray) -> np.ndarray:
    return (np.asarray(xy) * _ONE).round().astype(np.int32)


def _col(c) -> tuple[float, ...]:
    return tuple([min(255.0, max(0.0, v)) for v in np.asarray(c, dtype=float).ravel().tolist()])


_GRIDS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


_PGRIDS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _pixel_grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y) of an n x n canvas, float32."""
    if n not in _PGRIDS:
        g = np.arange(n, dtype=np.float32)
        _PGRIDS[n] = (g[None, :].repeat(n, 0), g[:, None].repeat(n, 1))
    return _PGRIDS[n]


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    if n not in _GRIDS:
        g = (np.arange(n, dtype=np.float32) + 0.5) / n * 2 - 1
        _GRIDS[n] = (g[None, :].repeat(n, 0), g[:, None].repeat(n, 1))
    return _GRIDS[n]


# --------------------------------------------------------------------------------------
# AU region masks
# --------------------------------------------------------------------------------------
def au_region_masks(landmarks: np.ndarray, image_size: int, aus: Sequence[str] = AUS,
                    visible: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Boolean (S,S) region where each AU acts, derived from 68 iBUG landmarks.

    Brows/forehead for AU1 (inner) and AU2 (outer), brows and glabella for AU4, upper
    eyelids for AU5, eyes for AU7, cheeks and eye corners for AU6, nose for AU9, mouth-corner
    neighbourhoods for AU12 (up toward the nose), AU14, AU15 (down toward the chin) and AU20
    (outward), lips for AU16 (lower), AU23 and AU25, lower lip, chin and jaw for AU26.
    ``visible`` (bool (68,), optional) drops the face side whose key landmarks are hidden.
    Works for any stored landmarks (e.g. ``FERData.landmarks[i]``).
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"landmarks must be (68,2), got {lm.shape}")
    unknown = [a for a in aus if a not in _AU]
    if unknown:
        raise ValueError(f"unknown AUs {unknown}; expected names from {AUS}")
    vis = np.ones(68, bool) if visible is None else np.asarray(visible, bool)
    iod = max(float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0))), 1e-3)
    unit = max(iod, float(np.linalg.norm(lm[27] - lm[8])) * 0.45, 1.0)   # survives profile foreshortening
    up = lm[27] - lm[8]
    up = up / (np.linalg.norm(up) + 1e-9)                                 # face "up" direction in the image
    mouth_w = max(float(np.linalg.norm(lm[48] - lm[54])), 0.5 * unit)
    out = {}

    def hull(canvas, pts):
        pts = np.asarray(pts, dtype=np.float64)
        if len(pts) >= 3:
            cv2.fillConvexPoly(canvas, cv2.convexHull(_ipts(pts)), 1, cv2.LINE_8, _SHIFT)
        elif len(pts):
            for q in pts:
                cv2.circle(canvas, tuple(_ipts(q)), int(0.1 * unit * _ONE), 1, -1, cv2.LINE_8, _SHIFT)

    def disc(canvas, center, radius):
        cv2.circle(canvas, tuple(_ipts(center)), max(int(radius * _ONE), _ONE), 1, -1, cv2.LINE_8, _SHIFT)

    def sides(idx_right):
        idx_right = np.asarray(idx_right)
        res = []
        for idx in (idx_right, MIRROR[idx_right]):
            if vis[idx].mean() >= 0.5:
                res.append(idx)
        return res

    for au in aus:
        m = np.zeros((image_size, image_size), np.uint8)
        if au == "AU1":
            for idx in sides([19, 20, 21]):
                hull(m, np.concatenate([lm[idx], lm[idx] + up * 0.45 * unit]))
        elif au == "AU2":
            for idx in sides([17, 18, 19]):
                hull(m, np.concatenate([lm[idx], lm[idx] + up * 0.45 * unit]))
        elif au == "AU4":
            idx = [i for i in (19, 20, 21, 22, 23, 24) if vis[i]] or [21, 22]
            hull(m, np.concatenate([lm[idx], lm[idx] + up * 0.2 * unit, lm[[27]], lm[idx] - up * 0.12 * unit]))
        elif au == "AU5":
            for idx in sides([36, 37, 38, 39]):
                hull(m, np.concatenate([lm[idx], lm[idx] + up * 0.15 * unit]))
        elif au == "AU7":
            for idx in sides([36, 37, 38, 39, 40, 41]):
                c = lm[idx].mean(0)
                hull(m, c + (lm[idx] - c) * 1.35)
        elif au == "AU6":
            for idx in sides([36, 41, 40, 1, 2, 31]):
                eye_out = lm[idx[0]] + (lm[idx[0]] - lm[idx[2]]) * 0.6
                hull(m, np.concatenate([lm[idx], [eye_out]]))
        elif au == "AU9":
            idx = [i for i in range(27, 36) if vis[i]] or [30]
            hull(m, np.concatenate([lm[idx], lm[[21, 22]] * 0.3 + lm[[27, 27]] * 0.7]))
        elif au in ("AU12", "AU14", "AU15", "AU20"):
            for idx in sides([48, 31]):
                corner, ala = lm[idx[0]], lm[idx[1]]
                if au == "AU12":
                    hull(m, [corner, ala, corner + (corner - lm[62]) * 0.25 + up * 0.15 * mouth_w,
                             corner - up * 0.15 * mouth_w])
                    disc(m, corner, 0.22 * mouth_w)
                elif au == "AU14":
                    disc(m, corner, 0.2 * mouth_w)
                elif au == "AU15":
                    disc(m, corner - up * 0.1 * mouth_w, 0.22 * mouth_w)
                    hull(m, [corner, corner - up * 0.5 * mouth_w, corner + (lm[8] - corner) * 0.4])
                else:
                    out_dir = corner - lm[51] * 0.5 - lm[57] * 0.5
                    hull(m, [corner + out_dir * 0.35 + up * 0.12 * mouth_w, corner + out_dir * 0.35 - up * 0.15 * mouth_w,
                             corner - out_dir * 0.25 + up * 0.08 * mouth_w, corner - out_dir * 0.25 - up * 0.1 * mouth_w])
        elif au == "AU16":
            hull(m, lm[[48, 54, 55, 56, 57, 58, 59, 64, 65, 66, 67, 60]])
        elif au == "AU23":
            c = lm[48:60].mean(0)
            hull(m, c + (lm[48:60] - c) * 1.1)
        elif au == "AU25":
            c = lm[60:68].mean(0)
            hull(m, np.concatenate([c + (lm[60:68] - c) * 1.25, lm[[50, 52, 56, 58]]]))
        elif au == "AU26":
            idx = [i for i in range(4, 13) if vis[i]] or [8]
            hull(m, np.concatenate([lm[idx], lm[[48, 54, 57]]]))
        out[au] = m.astype(bool)
    return out


# --------------------------------------------------------------------------------------
# The renderer's own record of where each AU changes the pixels
# --------------------------------------------------------------------------------------
# AU a moves landmark i (any displacement row of _D_ALL is non-zero there); AU26's jaw drop
# is added per face (it depends on the identity's jaw weights), see _render.
_TRACE_LEVEL = 1                     # blurred record >= 1 grey level: any pixel the drawing can reach
_MOVES = (np.abs(_D_RIGHT).sum(2) + np.abs(_D_LEFT).sum(2) + np.abs(_D_MID).sum(2)) > 0


class _AUTrace:
    """Per-AU masks, at the 2x render canvas, of every drawn primitive an AU moves, gates or strengthens.

    A primitive is recorded for AU ``a`` when ``a`` moves one of the landmarks it is anchored
    to (``moves``, from the displacement table and the jaw drop) or sets its existence,
    strength or colour (``gates``). A *gated* primitive is recorded as drawn (filled, with its
    thickness): switching the AU off can remove or re-colour all of it. A primitive that ``a``
    only *moves* is recorded as its outline band, widened by ``delta[a]``, how far ``a`` moves
    those landmarks in this face (2x-canvas pixels; 0 when ``a`` is inactive): a uniformly
    coloured shape whose vertices move by at most d changes only within d of its outline.
    Each primitive carries ``value``, the most it can change a pixel it covers (grey levels:
    255 for a shape, the darkening of a texture curve); ``finish`` blurs the record with the
    sample's own blur kernel (the renderer blurs the 2x canvas before INTER_AREA) and keeps
    the pixels where that blurred bound reaches ``_TRACE_LEVEL``.
    """

    def __init__(self, R: int, moves: np.ndarray, delta: np.ndarray):
        self.R, self.moves, self.delta = R, moves, delta
        self.ops: dict[int, list] = {}        # AU index -> [(value, draw(canvas, value))]
        self.regions: dict[int, np.ndarray] = {}

    def targets(self, idx, gates=(), geo=None):
        """[(AU index, gated, grow px)] for a primitive anchored to landmarks ``idx``."""
        idx = np.asarray(idx, int).ravel()
        gated = {_AU[g] for g in gates}
        movers = set(np.flatnonzero(self.moves[:, idx].any(1)).tolist()) if idx.size else set()
        out = []
        for a in sorted(gated | movers):
            grow = float(self.delta[a, idx].max()) if idx.size else 0.0
            grow += float((geo or {}).get(AUS[a], 0.0))
            out.append((a, a in gated, int(math.ceil(grow - 1e-6)) if grow > 1e-6 else 0))
        return out

    def _add(self, a, value, draw):
        self.ops.setdefault(a, []).append((int(value), draw))

    def lines(self, runs, thickness, idx, gates=(), geo=None, value=255):
        """Open polylines ``runs`` (shifted int points, as drawn) of width ``thickness``."""
        for a, _, grow in self.targets(idx, gates, geo):
            t = thickness + 2 * grow + 2
            self._add(a, value, lambda c, v, t=t: cv2.polylines(c, runs, False, v, t, cv2.LINE_8, _SHIFT))

    def shape(self, pts, idx, gates=(), geo=None, outline=1, value=255):
        """A filled polygon (shifted int points, as drawn) with an outline of width ``outline``."""
        for a, gated, grow in self.targets(idx, gates, geo):
            t = outline + 2 * grow + 2
            if gated:
                self._add(a, value, lambda c, v: cv2.fillPoly(c, [pts], v, cv2.LINE_8, _SHIFT))
            self._add(a, value, lambda c, v, t=t: cv2.polylines(c, [pts], True, v, t, cv2.LINE_8, _SHIFT))

    def ellipse(self, centre, axes, angle, idx, gates=(), geo=None, value=255):
        """A filled ellipse (shifted int centre and axes, as drawn)."""
        for a, _, grow in self.targets(idx, gates, geo):
            ax = (axes[0] + (grow + 1) * _ONE, axes[1] + (grow + 1) * _ONE)
            self._add(a, value, lambda c, v, ax=ax: cv2.ellipse(c, centre, ax, angle, 0, 360, v, -1, cv2.LINE_8,
                                                                 _SHIFT))

    def area(self, au: str, region: np.ndarray):
        """A bool (R,R) region (e.g. where the head silhouette moves) for ``au``, value 255."""
        a = _AU[au]
        self.regions[a] = region if a not in self.regions else self.regions[a] | region

    def finish(self, S: int, sigma: float) -> dict[str, np.ndarray]:
        """Output-resolution bool masks: the sample's blur spread, then any 2x2 block."""
        out = {}
        for au in AUS:
            a = _AU[au]
            if a not in self.ops and a not in self.regions:
                out[au] = np.zeros((S, S), bool)
                continue
            canvas = np.zeros((self.R, self.R), np.uint8)
            for value, draw in sorted(self.ops.get(a, []), key=lambda op: op[0]):   # ascending: the max wins
                draw(canvas, value)
            if a in self.regions:
                canvas[self.regions[a]] = 255
            spread = cv2.GaussianBlur(canvas, (0, 0), sigma) >= _TRACE_LEVEL
            out[au] = spread.reshape(S, 2, S, 2).any(axis=(1, 3))
        return out


# --------------------------------------------------------------------------------------
# The renderer
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
    unknown_aus = [a for a in au_off if a not in _AU]
    if unknown_aus:
        raise ValueError(f"au_off: unknown AUs {unknown_aus}; expected names from {AUS}")
    return _render(int(seed), split, int(index), int(image_size), bool(rgb), len(classes), label, yaw, subject,
                   poses, probs, float(options.get("yaw_jitter", 5.0)), float(occlusion_prob), cw,
                   bool(options.get("masks", True)), identity_range, lighting, resolution, au_off)


def au_footprint(seed: int, split: str, index: int, au: str, *, threshold: int = 2, **render_options) -> np.ndarray:
    """Bool (S,S): the pixels ``au`` changes in sample ``index`` of ``split``.

    Those whose grey level (any channel, for ``rgb=True``) differs by more than ``threshold``
    between ``render_sample(seed, split, index, **render_options)`` and the same call with
    ``au_off=[au]``: the same face, light and sensor noise with only that AU switched off, so
    the difference is the AU's own effect (empty when the AU is inactive). This is what the
    ``au_masks`` of both renderings must cover (``tests/test_synthfer.py``). Pass
    ``occlusion_prob=0.0`` to exclude occluders, which are placed from the landmarks and so
    move with them. ``au_off`` and ``masks`` in ``render_options`` are ignored.
    """
    if au not in _AU:
        raise ValueError(f"unknown AU {au!r}; expected a name from {AUS}")
    opts = {k: v for k, v in render_options.items() if k not in ("au_off", "masks")}
    on = render_sample(seed, split, index, masks=False, **opts).image.astype(np.int16)
    off = render_sample(seed, split, index, masks=False, au_off=[au], **opts).image.astype(np.int16)
    diff = np.abs(on - off)
    return (diff.max(axis=-1) if diff.ndim == 3 else diff) > threshold


def _render(seed, split, index, S, rgb, n_classes, label, yaw, subject, poses, probs, yaw_jitter,
            occlusion_prob, cw, masks, identity_range=(0.0, 1.0), lighting="normal", resolution=None,
            au_off=()) -> SynthSample:
    code = SPLIT_CODES[split]
    rng = np.random.default_rng([seed, code, index, 0])
    u = rng.random(64)
    au_u = rng.random((4, len(AUS)))

    # ---- label, pose, identity -------------------------------------------------------
    drawn_label = int(np.searchsorted(np.cumsum(cw) / cw.sum(), u[0], side="right"))
    label = min(drawn_label, n_classes - 1) if label is None else int(label)
    pidx = min(int(np.searchsorted(np.cumsum(probs), u[1], side="right")), len(poses) - 1)
    drawn_yaw = float(poses[pidx] + (2 * u[2] - 1) * yaw_jitter)
    yaw = drawn_yaw if yaw is None else float(yaw)
    pitch = float((2 * u[3] - 1) * 7.0)
    roll = float((2 * u[4] - 1) * 6.0)
    if subject is None:
        id_rng = np.random.default_rng([seed, code, index, 1])
        subject = code * _FRESH_SUBJECT_BASE + index
    else:
        id_rng = np.random.default_rng([seed, _SUBJECT_STREAM, int(subject)])
    p = _identity(id_rng, identity_range)

    # ---- action units ------------------------------------------------------------------
    cname = CANONICAL[label]
    intensity = np.zeros(len(AUS))
    scale = _SUBTLE_SCALE if u[5] < _SUBTLE_PROB else 1.0
    active = {_AU[a] for a in CLASS_AUS[cname]}
    for a in active:
        intensity[a] = (0.2 + 0.8 * au_u[0, a]) * scale
    for au, prob in COMPANION_AUS.get(cname, ()):
        a = _AU[au]
        active.add(a)
        if au_u[1, a] < prob:
            intensity[a] = (0.3 + 0.6 * au_u[0, a]) * max(scale, 0.6)
    for a in range(len(AUS)):
        if a not in active and au_u[2, a] < _LEAK_PROB:
            intensity[a] = _LEAK_RANGE[0] + (_LEAK_RANGE[1] - _LEAK_RANGE[0]) * au_u[3, a]
    for au in au_off:                 # after every draw: nothing else about the sample changes
        intensity[_AU[au]] = 0.0
    w_right = intensity.copy()
    w_left = intensity.copy()
    if cname == "contempt":
        off = w_left if u[6] < 0.5 else w_right       # which side stays neutral
        off[[_AU["AU12"], _AU["AU14"]]] = 0.0
    disp = (np.concatenate([w_right, w_left, 0.5 * (w_right + w_left)]) @ _D_ALL).reshape(68, 3)
    jaw = _JAW_DROP * intensity[_AU["AU26"]]
    L3, N3 = _landmarks3d(p, disp, jaw)

    # ---- camera --------------------------------------------------------------------------
    R = 2 * S
    rot = _rotation(yaw, pitch, roll)
    s = R * 0.33 * (1 + (2 * u[7] - 1) * 0.07)
    anchor = rot @ np.array([0.0, 0.55, 0.9 * p.c])
    cx = R / 2 + (2 * u[8] - 1) * 0.035 * R - s * anchor[0]
    cy = R * 0.5 + (2 * u[9] - 1) * 0.035 * R - s * anchor[1]

    proj_m = s * rot[:2].T
    proj_c = np.array([cx, cy])

    def proj(pts3):
        return np.asarray(pts3) @ proj_m + proj_c

    def facing(normals):
        return np.asarray(normals) @ rot[2]

    if lighting == "harsh":     # the same draws mapped outside the normal ranges: a low side light
        side_u = 2 * u[10] - 1
        light_x = math.copysign(_lerp(1.3, 2.0, abs(side_u)), side_u)
        ambient = _lerp(0.05, 0.2, u[12])
    else:
        light_x = (2 * u[10] - 1) * 0.9
        ambient = _lerp(0.35, 0.6, u[12])
    light = np.array([light_x, (2 * u[11] - 1) * 0.6 - 0.2, 1.0])
    light /= np.linalg.norm(light)

    def shade_of(normal_cam):
        return ambient + (1 - ambient) * _clip(normal_cam @ light, 0.0, 1.0)

    lm2 = proj(L3)
    lm_face = facing(N3)
    visible = lm_face > 0.0
    trace = None
    if masks:
        # how far each AU moves each landmark in this face (2x-canvas px): the landmarks
        # re-made without that AU's displacement (or jaw drop), projected
        moves = _MOVES.copy()
        L3_nojaw = _landmarks3d(p, disp, 0.0)[0]
        moves[_AU["AU26"]] = np.abs(_landmarks3d(p, disp, 1.0)[0] - L3_nojaw).max(1) > 1e-9
        delta = np.zeros((len(AUS), 68))
        for a in np.flatnonzero(np.maximum(w_right, w_left) > 0):
            if AUS[a] == "AU26":
                L3_wo = L3_nojaw
            else:
                d_a = (w_right[a] * _D_RIGHT[a] + w_left[a] * _D_LEFT[a] + 0.5 * (w_right[a] + w_left[a]) * _D_MID[a])
                L3_wo = _landmarks3d(p, disp - d_a, jaw)[0]
            delta[a] = np.linalg.norm(proj(L3_wo) - lm2, axis=1)
        trace = _AUTrace(2 * S, moves, delta)

    def _movers(idx):
        """Names of the AUs that move any of landmarks ``idx`` (none when no masks are made)."""
        return tuple(AUS[a] for a in np.flatnonzero(trace.moves[:, list(idx)].any(1))) if trace is not None else ()

    # ---- background ----------------------------------------------------------------------
    grey = _lerp(25, 225, u[13])
    tint = np.array([(2 * u[14] - 1), (2 * u[15] - 1), (2 * u[16] - 1)]) * 25
    bg = _clip(grey + tint, 0, 255)
    img = np.empty((R, R, 3), np.uint8)
    img[:] = np.round(bg).astype(np.uint8)
    for k in range(2):
        if u[17 + k] < 0.6:
            c2 = _clip(bg + (2 * u[19 + k] - 1) * 70, 0, 255)
            center = (int(u[21 + k] * R * _ONE), int((0.2 + u[23 + k] * 0.8) * R * _ONE))
            axes = (int((0.2 + 0.5 * u[25 + k]) * R * _ONE), int((0.1 + 0.4 * u[27 + k]) * R * _ONE))
            cv2.ellipse(img, center, axes, float(u[29 + k] * 180), 0, 360, _col(c2), -1, cv2.LINE_AA, _SHIFT)
    skin = p.skin

    # ---- neck --------------------------------------------------------------------------------
    neck_top, neck_bot = proj([0.0, 0.7, -0.25 * p.c]), proj([0.0, 4.0, -0.25 * p.c])
    axis = neck_bot - neck_top
    perp = np.array([-axis[1], axis[0]]) / (np.linalg.norm(axis) + 1e-9) * 0.58 * p.a * s
    cv2.fillConvexPoly(img, _ipts([neck_top + perp, neck_top - perp, neck_bot - perp, neck_bot + perp]),
                       _col(skin * 0.62), cv2.LINE_AA, _SHIFT)

    # ---- ears ----------------------------------------------------------------------------
    ears = []
    half_ear = float(_frame(p, p.ear_y)[2])
    for sgn in (-1.0, 1.0):
        pts = _EAR * np.array([sgn, 1.0, 1.0]) + np.array([sgn * half_ear * 0.97, p.ear_y, -0.12 * p.c])
        face_e = sgn * rot[2, 0]
        ears.append((pts, face_e, sgn))
        if face_e > -0.5:
            cv2.fillConvexPoly(img, cv2.convexHull(_ipts(proj(pts))), _col(skin * 0.8), cv2.LINE_AA, _SHIFT)

    # ---- head: silhouette from the shaped mesh, shading/hair from a per-pixel ray cast -----
    r = -_COS_T
    b = np.where(r < 0, p.b_up, p.b_low)
    taper = 1.0 - p.taper * _clip(r, 0, 1) ** 2
    V = np.empty((_SIN_T.size, 3))
    V[:, 0] = p.a * taper * _SIN_T * _SIN_P
    V[:, 1] = b * r
    V[:, 2] = p.c * _SIN_T * _COS_P + p.chin_fwd * _smoothstep(0.25, 1.0, r) * _clip(_COS_P, 0, 1) ** 2
    jw = _jaw_weight(p, V[:, 1], _COS_P)
    V_nojaw = V.copy() if (trace is not None and jaw != 0.0) else None
    V[:, 1] += jaw * jw
    V[:, 2] -= 0.25 * jaw * jw
    theta_h = p.theta_front + (p.theta_back - p.theta_front) * (1 - _COS_P) / 2
    hair_v = _THETA_V < theta_h
    P2 = proj(V)
    head_hull = cv2.convexHull(_ipts(P2))
    hair_hull = cv2.convexHull(_ipts(proj(V[hair_v] * _HAIR_SCALE))) if hair_v.sum() >= 3 else None
    alpha = np.zeros((R, R), np.uint8)
    cv2.fillConvexPoly(alpha, head_hull, 255, cv2.LINE_AA, _SHIFT)
    if V_nojaw is not None:       # AU26: where the head silhouette (alpha > 127, as drawn) moves
        alpha0 = np.zeros((R, R), np.uint8)
        cv2.fillConvexPoly(alpha0, cv2.convexHull(_ipts(proj(V_nojaw))), 255, cv2.LINE_AA, _SHIFT)
        trace.area("AU26", (alpha > 127) != (alpha0 > 127))
        rect0 = cv2.boundingRect(alpha0)
    x0, y0, w0, h0 = cv2.boundingRect(alpha)
    if hair_hull is not None:
        alpha_h = np.zeros((R, R), np.uint8)
        cv2.fillConvexPoly(alpha_h, hair_hull, 255, cv2.LINE_AA, _SHIFT)
        xh, yh, wh, hh = cv2.boundingRect(alpha_h)
        x1, y1 = max(x0 + w0, xh + wh), max(y0 + h0, yh + hh)
        x0, y0 = min(x0, xh), min(y0, yh)
        w0, h0 = x1 - x0, y1 - y0
    if w0 > 0 and h0 > 0:
        # shading and the hair test vary smoothly: cast rays on a 2-pixel grid, then upsample
        step = 2
        gx, gy = _pixel_grid(R)
        X = (gx[y0:y0 + h0:step, x0:x0 + w0:step] + np.float32(0.5 * (step - 1) - cx)) * np.float32(1 / s)
        Y = (gy[y0:y0 + h0:step, x0:x0 + w0:step] + np.float32(0.5 * (step - 1) - cy)) * np.float32(1 / s)
        b_mid = 0.5 * (p.b_up + p.b_low)
        rt = rot.astype(np.float32)
        ux = rt[0, 0] * X + rt[1, 0] * Y            # head coords of the ray at z=0
        uy = rt[0, 1] * X + rt[1, 1] * Y
        uz = rt[0, 2] * X + rt[1, 2] * Y
        m = rt[2]                                   # head-frame ray direction
        rl = (rot.T @ light).astype(np.float32)

        def cast(scale):
            """Front hit of the camera ray with the (untapered) head ellipsoid: head coords, shade."""
            e0, e1, e2 = (float(v) for v in (np.array([p.a, b_mid, p.c]) * scale) ** -2)
            A = float(m[0] * m[0] * e0 + m[1] * m[1] * e1 + m[2] * m[2] * e2)
            B = ux * float(m[0] * e0) + uy * float(m[1] * e1) + uz * float(m[2] * e2)
            C = ux * ux * e0 + uy * uy * e1 + uz * uz * e2 - 1.0
            t = (np.sqrt(np.maximum(B * B - A * C, 0.0)) - B) * (1.0 / A)
            hx, hy, hz = ux + m[0] * t, uy + m[1] * t, uz + m[2] * t
            nx, ny, nz = hx * e0, hy * e1, hz * e2    # head-frame normal (unnormalised)
            lam = (nx * rl[0] + ny * rl[1] + nz * rl[2]) / (np.sqrt(nx * nx + ny * ny + nz * nz) + 1e-6)
            return hx, hy, hz, ambient + (1 - ambient) * np.maximum(lam, 0.0)

        def up(a):
            return cv2.resize(a, (w0, h0), interpolation=cv2.INTER_LINEAR)

        hx, hy, hz, sh = cast(1.0)
        region = img[y0:y0 + h0, x0:x0 + w0]            # a view: written in place
        coarse = np.empty(sh.shape + (4,), np.float32)   # colour + hair flag on the coarse grid
        coarse[..., :3] = np.multiply.outer(sh.astype(np.float32), skin.astype(np.float32))
        coarse[..., 3] = 0.0
        if hair_hull is not None:
            # the hair layer sits just outside the skin: test the hairline on the same ray hit
            cos_t = _clip(-hy * (1.0 / b_mid), -1.0, 1.0)
            xn, zn = hx * (1.0 / p.a), hz * (1.0 / p.c)
            cos_p = zn / (np.sqrt(xn * xn + zn * zn) + 1e-6)
            th_lim = p.theta_front + (p.theta_back - p.theta_front) * 0.5 * (1 - cos_p)
            hair = np.arccos(cos_t) < th_lim
            coarse[hair, :3] = np.multiply.outer((0.35 + 0.65 * sh[hair]).astype(np.float32), p.hair.astype(np.float32))
            coarse[..., 3] = hair
        fine = up(coarse)
        where = alpha[y0:y0 + h0, x0:x0 + w0] > 127
        if V_nojaw is not None and hair_hull is not None and rect0 != cv2.boundingRect(alpha):
            # AU26 moved the chin, so the ray-cast box and its upsampling: the hairline, the one
            # sharp edge of the upsampled layer, shifts where the two boxes sample it differently
            x0b, y0b = min(rect0[0], xh), min(rect0[1], yh)
            w0b, h0b = max(rect0[0] + rect0[2], xh + wh) - x0b, max(rect0[1] + rect0[3], yh + hh) - y0b

            def sampled(o, n, o_b, n_b):
                """Canvas position each pixel's upsampled value comes from, in the box (o, n) and (o_b, n_b)."""
                q = np.arange(o, o + n, dtype=float)
                at = lambda o_, n_: o_ + step * ((q - o_ + 0.5) * (-(-n_ // step)) / n_ - 0.5) + 0.5 * (step - 1)  # noqa: E731
                return np.abs(at(o, n) - at(o_b, n_b)) if n_b > 0 else np.full(n, np.inf)

            moved = (sampled(y0, h0, y0b, h0b)[:, None] > 0.1) | (sampled(x0, w0, x0b, w0b)[None, :] > 0.1)
            edge = (fine[..., 3] > 0.0) & (fine[..., 3] < 1.0) & moved
            box = np.zeros((R, R), bool)
            box[y0:y0 + h0, x0:x0 + w0] = cv2.dilate(edge.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            trace.area("AU26", box)
        if hair_hull is not None:
            where |= (alpha_h[y0:y0 + h0, x0:x0 + w0] > 127) & (fine[..., 3] > 0.5)
        np.copyto(region, fine[..., :3].astype(np.uint8), where=where[..., None])

    # ---- nose (filled, so that it protrudes from a profile) ---------------------------------
    ala = L3[[31, 35]] + np.array([[-0.05, -0.08, -0.06], [0.05, -0.08, -0.06]])
    nose_pts = np.concatenate([lm2[27:36], proj(ala)])
    nose_hull = cv2.convexHull(_ipts(nose_pts))
    nose_col = skin * shade_of(rot @ np.array([0.0, 0.15, 1.0]) / np.linalg.norm([0, 0.15, 1.0]))
    # lips and chin protrude from a profile too: fill the lower-face profile with skin
    mouth_hull = cv2.convexHull(_ipts(lm2[[33, 31, 35, *range(48, 60), 7, 8, 9]]))
    if abs(yaw) > 50:
        cv2.fillConvexPoly(img, mouth_hull, _col(nose_col * 0.97), cv2.LINE_AA, _SHIFT)
        if trace is not None:
            trace.shape(mouth_hull, [33, 31, 35, *range(48, 60), 7, 8, 9])
    if abs(yaw) > 12:
        cv2.fillConvexPoly(img, nose_hull, _col(nose_col), cv2.LINE_AA, _SHIFT)
        if trace is not None:
            trace.shape(nose_hull, range(27, 36))

    # ---- brows -----------------------------------------------------------------------------
    brow_col = skin * (1 - p.brow_density) + p.hair * 0.6 * p.brow_density
    th = p.brow_th * np.array([0.55, 0.8, 1.0, 1.0, 0.95])
    for idx in (np.arange(17, 22), np.arange(26, 21, -1)):
        if lm_face[idx].mean() <= 0.05:
            continue
        top = L3[idx] - np.stack([0 * th, th * 0.6, 0 * th], 1)
        bot = L3[idx] + np.stack([0 * th, th * 0.6, 0 * th], 1)
        cv2.fillPoly(img, [_ipts(proj(np.concatenate([top, bot[::-1]])))], _col(brow_col), cv2.LINE_AA, _SHIFT)
        if trace is not None:     # small and shown only when facing the camera: recorded whole
            trace.shape(_ipts(proj(np.concatenate([top, bot[::-1]]))), idx, gates=_movers(idx))

    # ---- eyes ------------------------------------------------------------------------------
    lid_th = max(1, int(round(0.025 * s)))
    for base in (36, 42):
        idx = np.arange(base, base + 6)
        f = lm_face[idx].mean()
        if f <= 0.08:
            continue
        e2 = lm2[idx]
        cv2.fillPoly(img, [_ipts(e2)], _col(np.array([222.0, 218, 212]) * (0.75 + 0.25 * min(1.0, shade_of(rot[:, 2])))),
                     cv2.LINE_AA, _SHIFT)
        corner_mid = (e2[0] + e2[3]) / 2
        centre3 = (L3[base] + L3[base + 3]) / 2 + np.array([0, 0, 0.03])
        ic = proj(centre3)
        up_gap = np.linalg.norm((e2[1] + e2[2]) / 2 - corner_mid)
        lo_gap = np.linalg.norm((e2[4] + e2[5]) / 2 - corner_mid)
        rad = 0.085 * s
        ry = max(min(rad, up_gap, lo_gap * 1.1), 0.3)
        rx = max(rad * min(1.0, f * 1.1), 0.3)
        angle = math.degrees(math.atan2(e2[3][1] - e2[0][1], e2[3][0] - e2[0][0]))
        cv2.ellipse(img, tuple(_ipts(ic)), (int(rx * _ONE), int(ry * _ONE)), angle, 0, 360,
                    _col([p.iris] * 3), -1, cv2.LINE_AA, _SHIFT)
        cv2.polylines(img, [_ipts(e2[[0, 1, 2, 3]])], False, _col([28, 22, 20]), lid_th, cv2.LINE_AA, _SHIFT)
        cv2.polylines(img, [_ipts(e2[[3, 4, 5, 0]])], False, _col(skin * 0.55), 1, cv2.LINE_AA, _SHIFT)
        if trace is not None:     # the eye, recorded whole: its iris size and angle follow the lids
            trace.shape(_ipts(e2), idx, gates=_movers(idx), outline=lid_th)
            trace.ellipse(tuple(_ipts(ic)), (int(rx * _ONE), int(ry * _ONE)), angle, idx,
                          geo={AUS[a]: trace.delta[a, idx].max() for a in range(len(AUS))})

    # ---- mouth -----------------------------------------------------------------------------
    cv2.fillPoly(img, [_ipts(lm2[48:60])], _col(p.lip * (0.6 + 0.4 * shade_of(rot[:, 2]))), cv2.LINE_AA, _SHIFT)
    if trace is not None:
        trace.shape(_ipts(lm2[48:60]), range(48, 60))
    gap = L3[66, 1] - L3[62, 1]
    if gap > 0.012:
        # the cavity and teeth exist while the inner lips part (62, 66): whole for the AUs moving those
        gap_aus = _movers([62, 66])
        cv2.fillPoly(img, [_ipts(lm2[60:68])], _col([45, 22, 22]), cv2.LINE_AA, _SHIFT)
        t_up = min(0.06, 0.45 * gap)
        upper = L3[[60, 61, 62, 63, 64]]
        teeth = np.concatenate([upper, (upper + np.array([0, t_up, -0.02]))[::-1]])
        cv2.fillPoly(img, [_ipts(proj(teeth))], _col([215, 210, 196]), cv2.LINE_AA, _SHIFT)
        if trace is not None:
            trace.shape(_ipts(lm2[60:68]), range(60, 68), gates=gap_aus)
            trace.shape(_ipts(proj(teeth)), [60, 61, 62, 63, 64, 66], gates=gap_aus)
        if intensity[_AU["AU16"]] > 0.3 or intensity[_AU["AU20"]] > 0.4:
            lower = L3[[64, 65, 66, 67, 60]]
            t_lo = min(0.045, 0.3 * gap)
            teeth = np.concatenate([lower, (lower - np.array([0, t_lo, 0.02]))[::-1]])
            cv2.fillPoly(img, [_ipts(proj(teeth))], _col([200, 195, 182]), cv2.LINE_AA, _SHIFT)
            if trace is not None:  # the lower teeth show when AU16 or AU20 is strong
                trace.shape(_ipts(proj(teeth)), [60, 62, 64, 65, 66, 67], gates=("AU16", "AU20", *gap_aus))
    cv2.polylines(img, [_ipts(lm2[[60, 61, 62, 63, 64]])], False, _col(p.lip * 0.45), 1, cv2.LINE_AA, _SHIFT)
    if trace is not None:
        trace.lines([_ipts(lm2[[60, 61, 62, 63, 64]])], 1, range(60, 65))

    # ---- texture cues: a darkening map -----------------------------------------------------
    dark = np.zeros((R, R), np.uint8)

    curves: list[tuple[np.ndarray, float, int, float]] = []
    curve_deps: list[tuple] = []      # per queued curve: (anchor landmarks, gating AUs, extra grow per AU)

    def curve(pts_xy, strength, thickness=1, lift=0.0, *, anchors=(), gates=(), geo=None):
        """Queue a surface curve given canonical (x, y) points (drawn in one batch below).

        ``anchors``: the landmarks its points are placed from; ``gates``: the AUs that set its
        existence or strength; ``geo``: {AU: canonical units} it moves the curve by beyond its
        anchors (for the AU masks only)."""
        strength = float(min(strength, 0.9))
        if strength > 0.02:
            curves.append((np.asarray(pts_xy, float), strength, thickness, lift))
            curve_deps.append((anchors, gates, {k: v * s for k, v in (geo or {}).items()}))

    I = intensity
    thick = lambda v: 2 if (v > 0.55 and s > 20) else 1  # noqa: E731
    # AU1/AU2 forehead wrinkles
    fw = max(I[_AU["AU1"]], I[_AU["AU2"]])
    if fw > 0.1:
        ext = 0.28 + 0.3 * I[_AU["AU2"]] / (I[_AU["AU1"]] + I[_AU["AU2"]] + 1e-6)
        brow_top = min(L3[19, 1], L3[24, 1])
        xs = np.linspace(-ext, ext, 9)
        for k, dy in enumerate((0.16, 0.27, 0.38)):
            ys = brow_top - dy - 0.04 * (1 - (xs / ext) ** 2)
            curve(np.column_stack([xs, ys]), 0.45 * fw * (1 - 0.2 * k), 1, anchors=(19, 24), gates=("AU1", "AU2"))
    # AU4 vertical furrows between the brows
    v4 = I[_AU["AU4"]]
    if v4 > 0.05:
        ytop = min(L3[21, 1], L3[22, 1]) - 0.06
        for x in (-0.06, 0.06):
            curve(np.array([[x, ytop], [x * 0.8, ytop + 0.09], [x * 0.7, ytop + 0.18]]), 0.6 * v4, thick(v4),
                  anchors=(21, 22), gates=("AU4",))
    # AU9 nose-bridge wrinkles
    v9 = I[_AU["AU9"]]
    if v9 > 0.05:
        for y in np.linspace(L3[27, 1] + 0.04, L3[28, 1] + 0.08, 3):
            xs = np.linspace(-0.13, 0.13, 5)
            curve(np.column_stack([xs, y + 0.02 * np.abs(xs) / 0.13]), 0.55 * v9, 1, lift=0.1, anchors=(27, 28),
                  gates=("AU9",))
    # per side: crow's feet + lower-lid bags (AU6), nasolabial fold (AU12/AU9), dimple (AU14), AU15 crease
    for sgn, w in ((-1.0, w_right), (1.0, w_left)):
        outer, lower_a, lower_b, corner, ala_i = (36, 41, 40, 48, 31) if sgn < 0 else (45, 46, 47, 54, 35)
        v6 = w[_AU["AU6"]]
        if v6 > 0.05:
            o = L3[outer, :2] + np.array([sgn * 0.05, 0])
            for dy in (-0.05, 0.0, 0.06):
                curve(np.array([o, o + np.array([sgn * 0.07, dy * 0.6]), o + np.array([sgn * 0.14, dy])]),
                      0.5 * v6, 1, anchors=(outer,), gates=("AU6",))
            la, lb = L3[lower_a, :2], L3[lower_b, :2]
            curve(np.array([la + [0, 0.07], (la + lb) / 2 + [0, 0.09], lb + [0, 0.07]]), 0.4 * v6, 1,
                  anchors=(lower_a, lower_b), gates=("AU6",))
        fold = p.fold + 0.5 * w[_AU["AU12"]] + 0.3 * I[_AU["AU9"]] + 0.1 * w[_AU["AU6"]]
        a0 = L3[ala_i, :2] + np.array([sgn * 0.06, -0.06])
        c0 = L3[corner, :2] + np.array([sgn * (0.07 + 0.03 * w[_AU["AU12"]]), 0.1])
        mid = (a0 + c0) / 2 + np.array([sgn * (0.05 + 0.04 * w[_AU["AU12"]]), 0])
        tt = np.linspace(0, 1, 7)[:, None]
        curve((1 - tt) ** 2 * a0 + 2 * tt * (1 - tt) * mid + tt ** 2 * c0, fold, thick(fold),
              anchors=(ala_i, corner), gates=("AU12", "AU9", "AU6"), geo={"AU12": 0.05 * w[_AU["AU12"]]})
        v14 = w[_AU["AU14"]]
        if v14 > 0.05:
            d0 = L3[corner, :2] + np.array([sgn * 0.05, 0])
            curve(np.array([d0 + [0, -0.05], d0 + [sgn * 0.015, 0], d0 + [0, 0.05]]), 0.7 * v14, thick(v14),
                  anchors=(corner,), gates=("AU14",))
        v15 = I[_AU["AU15"]]
        if v15 > 0.1:
            c1 = L3[corner, :2]
            curve(np.array([c1 + [sgn * 0.03, 0.04], c1 + [sgn * 0.04, 0.12], c1 + [sgn * 0.03, 0.2]]), 0.35 * v15, 1,
                  anchors=(corner,), gates=("AU15",))
    if curves:
        allxy = np.concatenate([c[0] for c in curves])
        z, n = _surface_z(p, allxy[:, 0], allxy[:, 1])
        lifts = np.concatenate([np.full(len(c[0]), c[3]) for c in curves])
        allp = proj(np.column_stack([allxy, z + lifts]))
        allv = facing(n) > 0.1
        pos = 0
        for (pts_xy, strength, thickness, _), deps in zip(curves, curve_deps):
            k1 = pos + len(pts_xy)
            p2, vis = allp[pos:k1], allv[pos:k1]
            pos = k1
            val = int(255 * strength)
            runs = []
            if vis.all():
                runs.append(_ipts(p2))
                cv2.polylines(dark, runs, False, val, thickness, cv2.LINE_AA, _SHIFT)
            else:
                start = None
                for k in range(len(p2) + 1):
                    if k < len(p2) and vis[k]:
                        start = k if start is None else start
                        continue
                    if start is not None and k - start >= 2:
                        runs.append(_ipts(p2[start:k]))
                        cv2.polylines(dark, [runs[-1]], False, val, thickness, cv2.LINE_AA, _SHIFT)
                    start = None
            if trace is not None and runs:
                trace.lines(runs, thickness, deps[0], gates=deps[1], geo=deps[2], value=val)
    # nose shading: nostrils, base, a bridge side-shadow
    for i0, i1 in ((31, 32), (35, 34)):
        if lm_face[i0] > 0.0:
            c = proj((L3[i0] + L3[i1]) / 2 + np.array([0, -0.005, 0]))
            f = max(0.2, abs(rot[2, 2]))
            cv2.ellipse(dark, tuple(_ipts(c)), (int(0.045 * s * f * _ONE) + 1, int(0.022 * s * _ONE) + 1),
                        0, 0, 360, 150, -1, cv2.LINE_AA, _SHIFT)
            if trace is not None:
                trace.ellipse(tuple(_ipts(c)), (int(0.045 * s * f * _ONE) + 1, int(0.022 * s * _ONE) + 1), 0,
                              [i0, i1], gates=_movers([i0]), value=150)
    cv2.polylines(dark, [_ipts(lm2[31:36])], False, 60, 1, cv2.LINE_AA, _SHIFT)
    side = 1.0 if light[0] < 0 else -1.0
    bridge = L3[27:31] + np.array([side * 0.09, 0, -0.06])
    cv2.polylines(dark, [_ipts(proj(bridge))], False, 45, max(1, int(0.03 * s)), cv2.LINE_AA, _SHIFT)
    if abs(yaw) > 12:
        cv2.polylines(dark, [nose_hull], True, 40, 1, cv2.LINE_AA, _SHIFT)
    if trace is not None:
        trace.lines([_ipts(lm2[31:36])], 1, range(31, 36), value=60)
        trace.lines([_ipts(proj(bridge))], max(1, int(0.03 * s)), range(27, 31), value=45)
    img = cv2.multiply(img, cv2.cvtColor(255 - dark, cv2.COLOR_GRAY2RGB), scale=1.0 / 255.0)

    # ---- occluder --------------------------------------------------------------------------
    occluder = ""
    if u[31] < occlusion_prob:
        occluder = OCCLUDERS[1 + min(int(u[32] * 3), 2)]
        if occluder == "sunglasses":
            glass = _col(np.full(3, _lerp(10, 60, u[33])))
            centres = []
            for base in (36, 42):
                idx = np.arange(base, base + 6)
                if lm_face[idx].mean() > 0.0:
                    c3 = L3[idx].mean(0) + np.array([0, 0.02, 0.08])
                    ring = c3 + np.stack([0.26 * np.cos(_RING), 0.17 * np.sin(_RING), 0 * _RING], 1)
                    cv2.fillConvexPoly(img, cv2.convexHull(_ipts(proj(ring))), glass, cv2.LINE_AA, _SHIFT)
                    centres.append(proj(c3))
            if len(centres) == 2:
                cv2.line(img, tuple(_ipts(centres[0])), tuple(_ipts(centres[1])), glass, max(1, int(0.04 * s)),
                         cv2.LINE_AA, _SHIFT)
        elif occluder == "hand":
            target = lm2[[48, 54, 57, 62]].mean(0) if u[34] < 0.5 else lm2[[2, 3, 31, 48] if u[35] < 0.5 else [14, 13, 35, 54]].mean(0)
            ang = u[36] * math.pi * 2
            hc = _col(skin * _lerp(0.75, 1.0, u[37]))
            palm = (int(0.42 * s * _ONE), int(0.33 * s * _ONE))
            cv2.ellipse(img, tuple(_ipts(target)), palm, math.degrees(ang), 0, 360, hc, -1, cv2.LINE_AA, _SHIFT)
            d = np.array([math.cos(ang), math.sin(ang)])
            nrm2 = np.array([-d[1], d[0]])
            for k in range(4):
                base_pt = target + d * 0.3 * s + nrm2 * (k - 1.5) * 0.15 * s
                tip_pt = base_pt + d * (0.35 + 0.1 * (k in (1, 2))) * s
                cv2.line(img, tuple(_ipts(base_pt)), tuple(_ipts(tip_pt)), hc, max(1, int(0.13 * s)), cv2.LINE_AA, _SHIFT)
                cv2.line(img, tuple(_ipts(base_pt + nrm2 * 0.07 * s)), tuple(_ipts(tip_pt + nrm2 * 0.07 * s)),
                         _col(np.array(hc) * 0.7), 1, cv2.LINE_AA, _SHIFT)
        else:
            yb = lm2[[19, 24, 30, 51, 8]][min(int(u[34] * 5), 4)]
            ang = (2 * u[36] - 1) * 0.6
            d = np.array([math.cos(ang), math.sin(ang)]) * R
            cv2.line(img, tuple(_ipts(yb - d)), tuple(_ipts(yb + d)), _col(np.full(3, _lerp(20, 235, u[37]))),
                     max(1, int(_lerp(0.12, 0.3, u[38]) * s)), cv2.LINE_AA, _SHIFT)

    # ---- imaging ---------------------------------------------------------------------------
    sigma_blur = _lerp(0.3, 1.1, u[44]) * R / 96
    small = cv2.resize(cv2.GaussianBlur(img, (0, 0), sigma_blur), (S, S), interpolation=cv2.INTER_AREA)
    if not rgb:
        small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    gx, gy = _grid(S)
    ang = u[40] * 2 * math.pi
    strength = _lerp(0.5, 0.8, u[41]) if lighting == "harsh" else _lerp(0.0, 0.45, u[41])
    gain = _lerp(0.75, 1.2, u[42])
    bias = _lerp(-25, 25, u[43])
    ramp = (gx * np.float32(gain * strength * math.cos(ang)) + gy * np.float32(gain * strength * math.sin(ang))
            + np.float32(gain))
    f = small.astype(np.float32) * (ramp if not rgb else ramp[..., None]) + np.float32(bias)
    noise_sigma = 9.0 * u[45] ** 2
    f = f + rng.standard_normal(f.shape, dtype=np.float32) * np.float32(noise_sigma)
    image = _clip(np.rint(f), 0, 255).astype(np.uint8)
    if resolution is not None:  # a low-resolution camera: the finished image through r x r pixels
        image = cv2.resize(cv2.resize(image, (resolution, resolution), interpolation=cv2.INTER_AREA), (S, S),
                           interpolation=cv2.INTER_LINEAR)

    # ---- outputs --------------------------------------------------------------------------
    k = R / S
    landmarks = ((lm2 + 0.5) / k - 0.5).astype(np.float32)
    au_masks: dict[str, np.ndarray] = {}
    silhouette = None
    if masks:
        # the landmark regions (as for any 68-landmark data set) and the renderer's own record
        drawn = trace.finish(S, sigma_blur)
        au_masks = {au: m | drawn[au] for au, m in au_region_masks(landmarks, S, AUS, visible=visible).items()}
        sil = np.zeros((S, S), np.uint8)
        for hull_px in (head_hull, nose_hull, mouth_hull):
            pts = (hull_px.reshape(-1, 2) / _ONE + 0.5) / k - 0.5
            cv2.fillConvexPoly(sil, _ipts(pts), 1, cv2.LINE_8, _SHIFT)
        silhouette = sil.astype(bool)
    return SynthSample(image=image, label=label, yaw=yaw, pitch=pitch, roll=roll, landmarks=landmarks,
                       visible=visible, au_intensity=intensity.astype(np.float32), au_masks=au_masks,
                       subject=int(subject), silhouette=silhouette, occluder=occluder,
                       identity_quantiles=p.quantiles)


# --------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------
_CHUNK = 256                          # samples rendered, then stacked, at a time


def _render_chunk(common: tuple, jobs: list[tuple]) -> dict[str, np.ndarray]:
    """Render ``jobs`` [(split, index, label, subject)] and stack the results."""
    seed, S, rgb, n_classes, poses, probs, yaw_jitter, occlusion_prob, cw, identity_range, lighting, resolution = common
    out: dict[str, list] = {k: [] for k in ("image", "label", "split", "source_id", "yaw", "pitch", "roll",
                                             "landmarks", "visible", "au", "subject", "occluder", "quantiles")}
    for sp, i, label, subj in jobs:
        smp = _render(seed, sp, i, S, rgb, n_classes, label, None, subj, poses, probs, yaw_jitter,
                      occlusion_prob, cw, False, identity_range, lighting, resolution)
        out["image"].append(smp.image)
        out["label"].append(smp.label)
        out["split"].append(sp)
        out["source_id"].append(f"synthfer/{sp}/{i:06d}")
        out["yaw"].append(smp.yaw)
        out["pitch"].append(smp.pitch)
        out["roll"].append(smp.roll)
        out["landmarks"].append(smp.landmarks)
        out["visible"].append(smp.visible)
        out["au"].append(smp.au_intensity)
        out["subject"].append(smp.subject)
        out["occluder"].append(OCCLUDERS.index(smp.occluder))
        out["quantiles"].append(smp.identity_quantiles)
    return {k: np.asarray(v) for k, v in out.items()}


def _check_count(name, n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    return int(n)


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
    if n_identities is not None:
        if isinstance(n_identities, bool) or not isinstance(n_identities, (int, np.integer)):
            raise ValueError(f"n_identities must be None or a positive integer, got {n_identities!r}")
        nonempty = [sp for sp in SPLITS if counts[sp] > 0]
        if n_identities < max(1, len(nonempty)):
            raise ValueError(f"n_identities={n_identities} is too small: each non-empty split ({nonempty}) needs "
                             f"its own subjects, so at least {max(1, len(nonempty))} are required")
        if n_identities > _FRESH_SUBJECT_BASE:
            raise ValueError(f"n_identities must be <= {_FRESH_SUBJECT_BASE}, got {n_identities}")
        n_ids = int(n_identities)
        share = np.array([counts[sp] for sp in SPLITS], float)
        id_counts = np.zeros(3, np.int64)
        need = share > 0
        id_counts[need] = 1
        id_counts[need] += allocate_counts(n_ids - int(need.sum()), share[need]) if need.any() else 0
        id_start = np.concatenate([[0], np.cumsum(id_counts)[:-1]])

    N = sum(counts.values())
    S = int(image_size)
    images = np.empty((N, S, S, 3) if rgb else (N, S, S), np.uint8)
    labels = np.empty(N, np.int64)
    split_arr = np.empty(N, "<U5")
    source_ids = np.empty(N, dtype=object)
    pose = np.empty(N, np.float32)
    pitch = np.empty(N, np.float32)
    roll = np.empty(N, np.float32)
    landmarks = np.empty((N, 68, 2), np.float32)
    visible = np.empty((N, 68), bool)
    au = np.empty((N, len(AUS)), np.float32)
    subjects = np.empty(N, np.int64)
    occl = np.empty(N, np.int8)
    quantiles = np.empty((N, N_IDENTITY_DRAWS), np.float32)

    jobs = []  # (split, index, label, subject) for every sample, in output order
    for sp in SPLITS:
        n = counts[sp]
        if n == 0:
            continue
        code = SPLIT_CODES[sp]
        per_class = allocate_counts(n, cw)
        split_labels = np.random.default_rng([seed, code, 0xC1A55]).permutation(
            np.repeat(np.arange(len(classes)), per_class))
        if n_identities is not None:
            k = int(id_counts[code])
            order = np.random.default_rng([seed, code, 0x5B1EC7]).permutation(n)
            split_subj = np.empty(n, np.int64)
            split_subj[order] = id_start[code] + np.arange(n) % k
        for i in range(n):
            subj = int(split_subj[i]) if n_identities is not None else None
            jobs.append((sp, i, int(split_labels[i]), subj))
    common = (int(seed), S, bool(rgb), len(classes), poses_a, probs, float(yaw_jitter), float(occlusion_prob), cw,
              identity_range, lighting, resolution)
    chunks = [jobs[start:start + _CHUNK] for start in range(0, len(jobs), _CHUNK)]
    bar = progress_bar(total=N, desc="SynthFER", unit="img", disable=not progress)
    row = 0

    def _store(part):
        nonlocal row
        k = len(part["label"])
        sl = slice(row, row + k)
        images[sl], labels[sl], split_arr[sl], source_ids[sl] = part["image"], part["label"], part["split"], part["source_id"]
        pose[sl], pitch[sl], roll[sl] = part["yaw"], part["pitch"], part["roll"]
        landmarks[sl], visible[sl], au[sl] = part["landmarks"], part["visible"], part["au"]
        subjects[sl], occl[sl] = part["subject"], part["occluder"]
        quantiles[sl] = part["quantiles"]
        row += k
        bar.update(k)

    for chunk in chunks:
        _store(_render_chunk(common, chunk))
    bar.close()
    params = {
        "n_train": counts["train"], "n_val": counts["val"], "n_test": counts["test"], "image_size": S,
        "rgb": bool(rgb), "seed": int(seed), "contempt": bool(contempt),
        "imbalance": imbalance if isinstance(imbalance, str) else {k: float(v) for k, v in imbalance.items()},
        "poses": [float(v) for v in poses_a], "pose_probs": None if pose_probs is None else [float(v) for v in probs],
        "yaw_jitter": float(yaw_jitter), "occlusion_prob": float(occlusion_prob),
        "n_identities": None if n_identities is None else int(n_identities),
        "identity_range": list(identity_range), "lighting": lighting, "resolution": resolution,
        "progress": bool(progress),
    }
    return FERData(
        name="synthfer", images=images, labels=labels, split=split_arr, classes=classes,
        source_ids=source_ids.astype(str), pose=pose, landmarks=landmarks,
        extras={"au_intensity": au, "subject": subjects, "pitch": pitch, "roll": roll,
                "landmark_visible": visible, "occluder": occl, "identity_quantiles": quantiles},
        meta={"generator": "fernb.data.synthfer", "params": params, "aus": list(AUS),
              "class_aus": {c: list(CLASS_AUS[c]) for c in classes},
              "companion_aus": {c: [[a, p] for a, p in v] for c, v in COMPANION_AUS.items() if c in classes},
              "occluders": list(OCCLUDERS), "yaw_convention": "positive yaw = face turned toward image right (subject's left)"},
    )
