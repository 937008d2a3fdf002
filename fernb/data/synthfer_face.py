"""SynthFER's face model: Action Units, the 68 landmarks, an identity's head, the camera's rotation.

Everything here lives in the canonical 3-D face frame of :mod:`fernb.data.synthfer` (x to the
image right of a frontal face, y down, z toward the camera; unit = half the face width; origin
= head centre at eye level): the FACS Action Units and the displacement field each one applies
to the iBUG 68 landmarks (:class:`Expression`), the head ellipsoid and features one subject is
drawn with (:class:`FaceIdentity`), the head surface, the landmarks placed on it
(:func:`landmarks3d`) and the head mesh whose projection is the silhouette. The renderer
(:mod:`fernb.data.synthfer_render`) poses, lights and draws them; the fixed-point helpers at the
end are how every SynthFER module hands points to OpenCV.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "AUS", "AU_INDEX", "CLASS_AUS", "COMPANION_AUS", "N_IDENTITY_DRAWS", "MIRROR", "RIGHT_SIDE", "LEFT_SIDE", "CENTER",
    "AU_MOVES", "FaceIdentity", "Expression", "draw_identity", "expression", "head_frame", "surface_z", "jaw_weight",
    "landmarks3d", "rotation", "head_mesh", "ear_points", "lerp", "fast_clip", "smoothstep", "SHIFT", "ONE", "ipts",
    "colour",
]

AUS: tuple[str, ...] = (
    "AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU12", "AU14", "AU15", "AU16", "AU20",
    "AU23", "AU25", "AU26",
)
AU_INDEX: dict[str, int] = {name: i for i, name in enumerate(AUS)}

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


N_IDENTITY_DRAWS = 34               # the uniform draws u[0..33] an identity is made from
_SUBTLE_PROB, _SUBTLE_SCALE = 0.15, 0.4
_LEAK_PROB, _LEAK_RANGE = 0.10, (0.05, 0.35)


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
    "AU26": {},  # jaw drop: handled by jaw_weight (moves lips, chin, jaw and the head mesh)
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
# AU a moves landmark i (any displacement row is non-zero there); AU26's jaw drop is added per
# face (it depends on the identity's jaw weights), see synthfer_render.
AU_MOVES = (np.abs(_D_RIGHT).sum(2) + np.abs(_D_LEFT).sum(2) + np.abs(_D_MID).sum(2)) > 0
# Jaw-drop (AU26) weights of the mouth landmarks; jaw/chin landmarks follow jaw_weight.
_JAW_LM = np.zeros(68)
_JAW_LM[[55, 56, 57, 58, 59, 65, 66, 67]] = 1.0
_JAW_LM[[48, 54, 60, 64]] = 0.4
_JAW_LM[[61, 62, 63]] = -0.05
_JAW_DROP = 0.32                      # canonical units at AU26 intensity 1


# --------------------------------------------------------------------------------------
# Small numeric helpers (the renderer's hot path)
# --------------------------------------------------------------------------------------
def fast_clip(x, lo, hi):
    """np.clip without its per-call overhead (hot path)."""
    return np.minimum(np.maximum(x, lo), hi)


def smoothstep(e0: float, e1: float, x):
    """0 below ``e0``, 1 above ``e1``, a cubic ease between."""
    t = fast_clip((np.asarray(x, dtype=float) - e0) * (1.0 / (e1 - e0)), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def lerp(lo: float, hi: float, t: float) -> float:
    """``lo`` at t=0, ``hi`` at t=1: how a uniform draw becomes a value in a range."""
    return lo + (hi - lo) * t


# --------------------------------------------------------------------------------------
# Identity: one subject's head and features
# --------------------------------------------------------------------------------------
_SKIN = np.array([[242, 208, 184], [222, 178, 146], [190, 140, 105], [150, 102, 72], [98, 66, 48]], float)
_HAIR = np.array([[28, 24, 22], [60, 42, 30], [105, 72, 45], [190, 160, 110], [150, 148, 145], [130, 62, 34]], float)
_HAIR_P = np.cumsum([0.34, 0.26, 0.17, 0.1, 0.07, 0.06])


@dataclass
class FaceIdentity:
    """One subject's face, canonical units (see the module docstring); every field but
    ``quantiles`` comes from one uniform draw (:func:`draw_identity`)."""

    quantiles: np.ndarray       # float32 (N_IDENTITY_DRAWS,) the draws, after identity_range
    half_width: float           # face half-width (cheekbones): the head ellipsoid's x semi-axis
    half_depth: float           # head depth (half): its z semi-axis
    height_up: float            # eye level to crown: its y semi-axis above the eyes
    taper: float                # jaw taper (0 = round jaw)
    chin_fwd: float             # lower face pushed forward (chin projection)
    eye_sep: float
    eye_w: float
    eye_h: float
    brow_gap: float
    brow_th: float
    brow_arch: float
    brow_density: float
    nose_len: float
    nose_w: float
    nose_proj: float
    mouth_y: float
    mouth_w: float
    lip_up: float
    lip_lo: float
    rest_corner: float          # resting mouth-corner height (+ = lower)
    rest_brow: float            # resting inner-brow height (+ = lower)
    chin_y: float
    height_down: float          # eye level to below the chin: the y semi-axis below the eyes
    skin: np.ndarray            # RGB
    hair: np.ndarray            # RGB
    theta_front: float          # hairline polar angle at the front and the back (radians)
    theta_back: float
    iris: float                 # iris grey level
    lip: np.ndarray             # RGB
    fold: float                 # resting nasolabial fold depth (age)
    asym: float                 # mouth slightly off-centre
    ear_y: float


def draw_identity(rng: np.random.Generator, identity_range: tuple[float, float] = (0.0, 1.0)) -> FaceIdentity:
    """The face of one subject from 40 uniform draws (34 used), each mapped into ``identity_range``
    first: a sub-range of every draw is a sub-population of faces (see :func:`fernb.data.synthfer.generate`)."""
    u = rng.random(40)
    lo, hi = identity_range
    if (lo, hi) != (0.0, 1.0):      # the default keeps the draws bit for bit
        u = lo + (hi - lo) * u
    nose_len = lerp(0.55, 0.72, u[12])
    mouth_y = nose_len + lerp(0.3, 0.42, u[15])
    chin_y = mouth_y + lerp(0.42, 0.58, u[21])
    t = u[22] * (len(_SKIN) - 1)
    k = min(int(t), len(_SKIN) - 2)
    skin = (_SKIN[k] * (1 - (t - k)) + _SKIN[k + 1] * (t - k)) * lerp(0.95, 1.05, u[23])
    bald = u[26] < 0.06
    return FaceIdentity(
        quantiles=u[:N_IDENTITY_DRAWS].astype(np.float32),
        half_width=lerp(0.9, 1.08, u[0]), half_depth=lerp(1.15, 1.35, u[1]), height_up=lerp(1.5, 1.7, u[2]),
        taper=lerp(0.1, 0.35, u[3]), chin_fwd=lerp(0.25, 0.45, u[4]),
        eye_sep=lerp(0.4, 0.48, u[5]), eye_w=lerp(0.16, 0.21, u[6]), eye_h=lerp(0.05, 0.075, u[7]),
        brow_gap=lerp(0.2, 0.3, u[8]), brow_th=lerp(0.035, 0.075, u[9]), brow_arch=lerp(0.0, 0.06, u[10]),
        brow_density=lerp(0.45, 0.95, u[11]),
        nose_len=nose_len, nose_w=lerp(0.19, 0.27, u[13]), nose_proj=lerp(0.28, 0.42, u[14]),
        mouth_y=mouth_y, mouth_w=lerp(0.29, 0.38, u[16]), lip_up=lerp(0.055, 0.1, u[17]), lip_lo=lerp(0.065, 0.12, u[18]),
        rest_corner=lerp(-0.025, 0.025, u[19]), rest_brow=lerp(-0.03, 0.03, u[20]),
        chin_y=chin_y, height_down=chin_y / 0.94,
        skin=skin,
        hair=_HAIR[int(np.searchsorted(_HAIR_P, u[24] * _HAIR_P[-1]))] * lerp(0.8, 1.2, u[25]),
        theta_front=math.radians(lerp(10, 20, u[27]) if bald else lerp(36, 56, u[27])),
        theta_back=math.radians(lerp(60, 80, u[28]) if bald else lerp(100, 128, u[28])),
        iris=lerp(30, 110, u[29]),
        lip=fast_clip(skin * np.array([0.86, 0.6, 0.6]) * lerp(0.85, 1.05, u[30]), 0, 255),
        fold=lerp(0.0, 0.25, u[31]), asym=lerp(-0.02, 0.02, u[32]), ear_y=lerp(0.15, 0.3, u[33]),
    )


# --------------------------------------------------------------------------------------
# Expression: Action Unit intensities and the landmark displacement they make
# --------------------------------------------------------------------------------------
@dataclass
class Expression:
    """A face's Action Units: their intensities and the displacement of the 68 landmarks.

    ``right`` and ``left`` are the per-side weights (equal but for contempt, which keeps one
    side neutral); ``displacement`` (68,3) is the table's field at those weights and ``jaw``
    the AU26 jaw drop (canonical units).
    """

    intensity: np.ndarray       # (len(AUS),) in [0, 1]
    right: np.ndarray           # (len(AUS),) weights on the subject's right side
    left: np.ndarray
    displacement: np.ndarray    # (68, 3) canonical units
    jaw: float

    def without(self, a: int) -> np.ndarray:
        """The displacement with AU index ``a``'s own share removed (for the AU masks)."""
        wr, wl = self.right[a], self.left[a]
        return self.displacement - (wr * _D_RIGHT[a] + wl * _D_LEFT[a] + 0.5 * (wr + wl) * _D_MID[a])


def expression(class_name: str, au_draws: np.ndarray, subtle_draw: float, neutral_side_draw: float,
               au_off=()) -> Expression:
    """The expression of a face of ``class_name`` from its uniform draws.

    ``au_draws`` (4, len(AUS)): each AU's intensity, companion, leak and leak-intensity draw;
    ``subtle_draw`` < 0.15 scales the class AUs by 0.4; ``neutral_side_draw`` picks contempt's
    neutral side. ``au_off`` AUs are zeroed after every draw, so nothing else changes.
    """
    intensity = np.zeros(len(AUS))
    scale = _SUBTLE_SCALE if subtle_draw < _SUBTLE_PROB else 1.0
    active = {AU_INDEX[a] for a in CLASS_AUS[class_name]}
    for a in active:
        intensity[a] = (0.2 + 0.8 * au_draws[0, a]) * scale
    for au, prob in COMPANION_AUS.get(class_name, ()):
        a = AU_INDEX[au]
        active.add(a)
        if au_draws[1, a] < prob:
            intensity[a] = (0.3 + 0.6 * au_draws[0, a]) * max(scale, 0.6)
    for a in range(len(AUS)):
        if a not in active and au_draws[2, a] < _LEAK_PROB:
            intensity[a] = _LEAK_RANGE[0] + (_LEAK_RANGE[1] - _LEAK_RANGE[0]) * au_draws[3, a]
    for au in au_off:
        intensity[AU_INDEX[au]] = 0.0
    right, left = intensity.copy(), intensity.copy()
    if class_name == "contempt":
        neutral = left if neutral_side_draw < 0.5 else right
        neutral[[AU_INDEX["AU12"], AU_INDEX["AU14"]]] = 0.0
    displacement = (np.concatenate([right, left, 0.5 * (right + left)]) @ _D_ALL).reshape(68, 3)
    return Expression(intensity, right, left, displacement, _JAW_DROP * intensity[AU_INDEX["AU26"]])


# --------------------------------------------------------------------------------------
# The head surface and the landmarks on it
# --------------------------------------------------------------------------------------
def head_frame(p: FaceIdentity, y):
    """Head-surface helpers at canonical height ``y``: (r, sin_theta, half-width)."""
    y = np.asarray(y, dtype=float)
    b = np.where(y < 0, p.height_up, p.height_down)
    r = fast_clip(y / b, -1.0, 1.0)
    sin_t = np.sqrt(fast_clip(1.0 - r * r, 0.0, 1.0))
    taper = 1.0 - p.taper * fast_clip(r, 0.0, 1.0) ** 2
    return r, sin_t, p.half_width * taper * sin_t


def surface_z(p: FaceIdentity, x, y):
    """z of the (front) head surface at canonical (x, y), and the surface normal."""
    r, sin_t, half = head_frame(p, y)
    half = np.maximum(half, 1e-6)
    s_phi = fast_clip(np.asarray(x, float) / half, -1.0, 1.0)
    c_phi = np.sqrt(1.0 - s_phi * s_phi)
    z = p.half_depth * sin_t * c_phi + p.chin_fwd * smoothstep(0.25, 1.0, r) * c_phi ** 2
    b = np.where(np.asarray(y) < 0, p.height_up, p.height_down)
    n = np.stack([s_phi * sin_t / (half / np.maximum(sin_t, 1e-6)), r / b, sin_t * c_phi / p.half_depth], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True) + 1e-9
    return z, n


def jaw_weight(p: FaceIdentity, y, c_phi):
    """How much of the AU26 jaw drop a head point at height ``y`` (azimuth cosine ``c_phi``) follows."""
    return smoothstep(p.mouth_y - 0.05, p.mouth_y + 0.45, y) * fast_clip(2.0 * c_phi, 0.0, 1.0)


# --------------------------------------------------------------------------------------
# Landmarks in the canonical frame
# --------------------------------------------------------------------------------------
def landmarks3d(p: FaceIdentity, disp: np.ndarray, jaw: float) -> tuple[np.ndarray, np.ndarray]:
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
    _, sin_t, half = head_frame(p, jy)
    jx = half * np.sin(phi) * 0.985
    pts[:17, 0], pts[:17, 1] = jx, jy
    # jaw drop moves the lower lip, chin and jaw; then z comes from the surface
    c_phi_jaw = np.cos(phi)
    drop = np.zeros(68)
    drop[:17] = jaw_weight(p, jy, c_phi_jaw)
    drop[17:] = _JAW_LM[17:]
    z_surf, normals = surface_z(p, pts[:, 0], pts[:, 1])
    pts[:, 1] += jaw * drop
    pts[:, 2] = z_surf + fwd + disp[:, 2] - 0.25 * jaw * drop
    # the nose points face forward more than the cheek below them (the nose protrudes)
    nose = slice(27, 36)
    normals[nose] = normals[nose] + np.array([0, 0, 0.8])
    normals[nose] /= np.linalg.norm(normals[nose], axis=1, keepdims=True)
    return pts, normals


# --------------------------------------------------------------------------------------
# The camera's rotation
# --------------------------------------------------------------------------------------
def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Camera-from-face rotation: yaw about y (positive turns the nose to image right),
    then pitch about x (positive = chin down), then roll about z (positive = clockwise)."""
    cy, sy = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
    cp, sp = math.cos(math.radians(pitch)), math.sin(math.radians(pitch))
    cr, sr = math.cos(math.radians(roll)), math.sin(math.radians(roll))
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry



# --------------------------------------------------------------------------------------
# The head mesh (a unit-sphere grid shaped per identity) and the ears
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


def head_mesh(p: FaceIdentity, jaw: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The head surface as mesh vertices: (moved (V,3) with the jaw drop, at rest (V,3), hair (V,) bool).

    A chin-tapered ellipsoid with the lower face pushed forward; ``jaw`` (the AU26 drop) moves
    the chin and jaw down and back. ``hair`` marks the vertices above the hairline.
    """
    r = -_COS_T
    b = np.where(r < 0, p.height_up, p.height_down)
    taper = 1.0 - p.taper * fast_clip(r, 0, 1) ** 2
    V = np.empty((_SIN_T.size, 3))
    V[:, 0] = p.half_width * taper * _SIN_T * _SIN_P
    V[:, 1] = b * r
    V[:, 2] = (p.half_depth * _SIN_T * _COS_P
               + p.chin_fwd * smoothstep(0.25, 1.0, r) * fast_clip(_COS_P, 0, 1) ** 2)
    jw = jaw_weight(p, V[:, 1], _COS_P)
    rest = V.copy()
    V[:, 1] += jaw * jw
    V[:, 2] -= 0.25 * jaw * jw
    theta_h = p.theta_front + (p.theta_back - p.theta_front) * (1 - _COS_P) / 2
    return V, rest, _THETA_V < theta_h


def ear_points(p: FaceIdentity, sgn: float) -> np.ndarray:
    """(14,3) outline of the ear on side ``sgn`` (-1 = the subject's right, image left)."""
    half_ear = float(head_frame(p, p.ear_y)[2])
    return _EAR * np.array([sgn, 1.0, 1.0]) + np.array([sgn * half_ear * 0.97, p.ear_y, -0.12 * p.half_depth])


# --------------------------------------------------------------------------------------
# Fixed-point drawing: OpenCV primitives at 1/16-pixel precision
# --------------------------------------------------------------------------------------
SHIFT = 4                             # cv2's ``shift``: fractional bits of a point
ONE = 1 << SHIFT                      # one pixel in fixed point


def ipts(xy: np.ndarray) -> np.ndarray:
    """Points (x, y) in pixels as cv2's fixed-point int32."""
    return (np.asarray(xy) * ONE).round().astype(np.int32)


def colour(c) -> tuple[float, ...]:
    """A colour (any array) as the clipped float tuple cv2 draws with."""
    return tuple([min(255.0, max(0.0, v)) for v in np.asarray(c, dtype=float).ravel().tolist()])
