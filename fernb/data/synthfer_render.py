"""Rendering one SynthFER sample: its draws, its face, the drawing, an occluder, the camera image.

:func:`render_face` is the renderer behind :func:`fernb.data.synthfer.render_sample` and
:func:`fernb.data.synthfer.generate` (which check the options and build the
:class:`RenderSettings`). It reads top to bottom like the face it makes: the sample's uniform
draws (:class:`fernb.data.synthfer_draw.SampleDraws`), its label and pose, the subject's
identity, the expression, the camera and light, the AU record, the parts drawn back to
front (:mod:`fernb.data.synthfer_draw`), an occluder, then the imaging chain (blur, INTER_AREA
downsampling, illumination gradient, gain, sensor noise, an optional low-resolution camera)
and the outputs. The random draws are made in the same order as ever (``u``, the AU draws, the
identity from its own stream, the sensor noise last), so a sample is the same bytes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from fernb.data.synthfer_draw import (
    FaceCamera,
    Light,
    PosedFace,
    SampleDraws,
    draw_background,
    draw_brows,
    draw_eyes,
    draw_head,
    draw_mouth,
    draw_neck_and_ears,
    draw_nose_and_profile,
    draw_texture,
)
from fernb.data.synthfer_face import (
    AU_INDEX,
    AU_MOVES,
    AUS,
    ONE,
    SHIFT,
    FaceIdentity,
    colour,
    draw_identity,
    expression,
    fast_clip,
    ipts,
    landmarks3d,
    lerp,
    rotation,
)
from fernb.data.synthfer_masks import AUTrace, au_region_masks
from fernb.labels import CANONICAL

__all__ = ["SPLIT_CODES", "OCCLUDERS", "LIGHTINGS", "FRESH_SUBJECT_BASE", "SynthSample", "RenderSettings", "render_face"]

SPLIT_CODES: dict[str, int] = {"train": 0, "val": 1, "test": 2}
_SUBJECT_STREAM = 3                  # rng stream tag for shared identities (not a split code)
FRESH_SUBJECT_BASE = 10 ** 9         # fresh identity: subject = code(split) * 1e9 + index
OCCLUDERS: tuple[str, ...] = ("", "sunglasses", "hand", "bar")
LIGHTINGS: tuple[str, ...] = ("normal", "harsh")
_LENS = np.linspace(0, 2 * np.pi, 14, endpoint=False)    # a sunglasses lens outline


@dataclass
class SynthSample:
    """One rendered face (see :mod:`fernb.data.synthfer` for conventions)."""

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


@dataclass(frozen=True)
class RenderSettings:
    """What every sample of one SynthFER dataset is rendered with (checked by :mod:`fernb.data.synthfer`)."""

    seed: int
    image_size: int
    rgb: bool
    n_classes: int
    poses: np.ndarray                   # yaw angles (degrees)
    pose_probs: np.ndarray              # one probability per pose, summing to 1
    yaw_jitter: float
    occlusion_prob: float
    label_weights: np.ndarray           # sampling weight per class (fernb.data.synthfer.class_weights)
    masks: bool = True                  # make the AU masks and the silhouette
    identity_range: tuple[float, float] = (0.0, 1.0)
    lighting: str = "normal"
    resolution: int | None = None


def render_face(settings: RenderSettings, split: str, index: int, *, label: int | None = None,
                yaw: float | None = None, subject: int | None = None, au_off=()) -> SynthSample:
    """Render sample ``index`` of ``split``: ``label``, ``yaw`` and ``subject`` override their
    draws without changing any other; ``au_off`` AUs are zeroed after every draw is made."""
    code = SPLIT_CODES[split]
    rng = np.random.default_rng([settings.seed, code, index, 0])
    draws = SampleDraws.from_rng(rng)
    label, yaw, pitch, roll = _label_and_pose(settings, draws, label, yaw)
    identity, subject = _subject(settings, code, index, subject)
    face = _pose_face(settings, draws, identity, CANONICAL[label], yaw, pitch, roll, au_off)
    img = draw_background(draws, face.camera.canvas)
    draw_neck_and_ears(img, face)
    head_hull = draw_head(img, face)
    nose_hull, mouth_hull = draw_nose_and_profile(img, face)
    draw_brows(img, face)
    draw_eyes(img, face)
    draw_mouth(img, face)
    img = draw_texture(img, face, nose_hull)
    occluder = _draw_occluder(img, face) if draws.occluded < settings.occlusion_prob else ""
    image, sigma_blur = _camera_image(img, draws, settings, rng)
    landmarks, au_masks, silhouette = _annotations(face, settings.image_size, sigma_blur,
                                                   (head_hull, nose_hull, mouth_hull))
    return SynthSample(image=image, label=label, yaw=yaw, pitch=pitch, roll=roll, landmarks=landmarks,
                       visible=face.facing > 0.0, au_intensity=face.expression.intensity.astype(np.float32),
                       au_masks=au_masks, subject=int(subject), silhouette=silhouette, occluder=occluder,
                       identity_quantiles=identity.quantiles)


# --------------------------------------------------------------------------------------
# Deciding the sample: label, pose, subject, expression, camera, light
# --------------------------------------------------------------------------------------
def _label_and_pose(settings: RenderSettings, draws: SampleDraws, label, yaw) -> tuple[int, float, float, float]:
    """(label, yaw, pitch, roll): the class by the class weights and the yaw from the poses
    plus jitter, unless given; pitch within +-7 and roll within +-6 degrees."""
    cw = settings.label_weights
    drawn_label = int(np.searchsorted(np.cumsum(cw) / cw.sum(), draws.label, side="right"))
    label = min(drawn_label, settings.n_classes - 1) if label is None else int(label)
    pidx = min(int(np.searchsorted(np.cumsum(settings.pose_probs), draws.pose, side="right")), len(settings.poses) - 1)
    drawn_yaw = float(settings.poses[pidx] + (2 * draws.yaw_jitter - 1) * settings.yaw_jitter)
    yaw = drawn_yaw if yaw is None else float(yaw)
    return label, yaw, float((2 * draws.pitch - 1) * 7.0), float((2 * draws.roll - 1) * 6.0)


def _subject(settings: RenderSettings, code: int, index: int, subject) -> tuple[FaceIdentity, int]:
    """The sample's identity and subject id: a fresh face from the sample's own stream, or
    subject ``subject``'s face from the shared-identity stream."""
    if subject is None:
        id_rng = np.random.default_rng([settings.seed, code, index, 1])
        subject = code * FRESH_SUBJECT_BASE + index
    else:
        id_rng = np.random.default_rng([settings.seed, _SUBJECT_STREAM, int(subject)])
    return draw_identity(id_rng, settings.identity_range), subject


def _pose_face(settings: RenderSettings, draws: SampleDraws, identity: FaceIdentity, class_name: str,
               yaw: float, pitch: float, roll: float, au_off) -> PosedFace:
    """The expression's landmarks, seen by a camera placed around the face and lit (the AU record too)."""
    expr = expression(class_name, draws.aus, draws.subtle, draws.neutral_side, au_off)
    L3, N3 = landmarks3d(identity, expr.displacement, expr.jaw)
    R = 2 * settings.image_size
    rot = rotation(yaw, pitch, roll)
    s = R * 0.33 * (1 + (2 * draws.camera_scale - 1) * 0.07)
    anchor = rot @ np.array([0.0, 0.55, 0.9 * identity.half_depth])
    cx = R / 2 + (2 * draws.camera_x - 1) * 0.035 * R - s * anchor[0]
    cy = R * 0.5 + (2 * draws.camera_y - 1) * 0.035 * R - s * anchor[1]
    cam = FaceCamera(R, rot, s, cx, cy)
    face = PosedFace(draws=draws, identity=identity, expression=expr, yaw=yaw, camera=cam,
                     light=_light(draws, settings.lighting), landmarks3d=L3, normals3d=N3,
                     landmarks2d=cam.project(L3), facing=cam.facing(N3))
    if settings.masks:
        face.trace = _au_trace(face)
    return face


def _light(draws: SampleDraws, lighting: str) -> Light:
    """A light from the upper front; ``"harsh"`` maps the same draws outside the normal ranges:
    a low side light over little ambient."""
    if lighting == "harsh":
        side_u = 2 * draws.light_x - 1
        light_x = math.copysign(lerp(1.3, 2.0, abs(side_u)), side_u)
        ambient = lerp(0.05, 0.2, draws.ambient)
    else:
        light_x = (2 * draws.light_x - 1) * 0.9
        ambient = lerp(0.35, 0.6, draws.ambient)
    light = np.array([light_x, (2 * draws.light_y - 1) * 0.6 - 0.2, 1.0])
    light /= np.linalg.norm(light)
    return Light(light, ambient)


def _au_trace(face: PosedFace) -> AUTrace:
    """An empty AU record knowing how far each AU moves each landmark in this face (canvas px):
    the landmarks re-made without that AU's displacement (or jaw drop), projected."""
    p, expr, cam, lm2 = face.identity, face.expression, face.camera, face.landmarks2d
    moves = AU_MOVES.copy()
    L3_nojaw = landmarks3d(p, expr.displacement, 0.0)[0]
    moves[AU_INDEX["AU26"]] = np.abs(landmarks3d(p, expr.displacement, 1.0)[0] - L3_nojaw).max(1) > 1e-9
    delta = np.zeros((len(AUS), 68))
    for a in np.flatnonzero(np.maximum(expr.right, expr.left) > 0):
        L3_wo = L3_nojaw if AUS[a] == "AU26" else landmarks3d(p, expr.without(a), expr.jaw)[0]
        delta[a] = np.linalg.norm(cam.project(L3_wo) - lm2, axis=1)
    return AUTrace(cam.canvas, moves, delta)


# --------------------------------------------------------------------------------------
# Occluders: sunglasses, a hand, a bar
# --------------------------------------------------------------------------------------
def _draw_occluder(img: np.ndarray, face: PosedFace) -> str:
    """Draw the sample's occluder, placed from the landmarks (so it moves with them); its name."""
    occluder = OCCLUDERS[1 + min(int(face.draws.occluder_kind * 3), 2)]
    {"sunglasses": _sunglasses, "hand": _hand, "bar": _bar}[occluder](img, face)
    return occluder


def _sunglasses(img: np.ndarray, face: PosedFace) -> None:
    """A dark lens over each eye facing the camera, a bridge between two."""
    cam = face.camera
    glass = colour(np.full(3, lerp(10, 60, face.draws.glass_shade)))
    centres = []
    for base in (36, 42):
        idx = np.arange(base, base + 6)
        if face.facing[idx].mean() > 0.0:
            c3 = face.landmarks3d[idx].mean(0) + np.array([0, 0.02, 0.08])
            ring = c3 + np.stack([0.26 * np.cos(_LENS), 0.17 * np.sin(_LENS), 0 * _LENS], 1)
            cv2.fillConvexPoly(img, cv2.convexHull(ipts(cam.project(ring))), glass, cv2.LINE_AA, SHIFT)
            centres.append(cam.project(c3))
    if len(centres) == 2:
        cv2.line(img, tuple(ipts(centres[0])), tuple(ipts(centres[1])), glass, max(1, int(0.04 * cam.scale)),
                 cv2.LINE_AA, SHIFT)


def _hand(img: np.ndarray, face: PosedFace) -> None:
    """A palm and four fingers over the mouth or one cheek."""
    d, lm2, s = face.draws, face.landmarks2d, face.camera.scale
    if d.occluder_place < 0.5:
        target = lm2[[48, 54, 57, 62]].mean(0)
    else:
        target = lm2[[2, 3, 31, 48] if d.hand_cheek < 0.5 else [14, 13, 35, 54]].mean(0)
    ang = d.occluder_angle * math.pi * 2
    hc = colour(face.identity.skin * lerp(0.75, 1.0, d.occluder_tone))
    palm = (int(0.42 * s * ONE), int(0.33 * s * ONE))
    cv2.ellipse(img, tuple(ipts(target)), palm, math.degrees(ang), 0, 360, hc, -1, cv2.LINE_AA, SHIFT)
    direction = np.array([math.cos(ang), math.sin(ang)])
    nrm2 = np.array([-direction[1], direction[0]])
    for k in range(4):
        base_pt = target + direction * 0.3 * s + nrm2 * (k - 1.5) * 0.15 * s
        tip_pt = base_pt + direction * (0.35 + 0.1 * (k in (1, 2))) * s
        cv2.line(img, tuple(ipts(base_pt)), tuple(ipts(tip_pt)), hc, max(1, int(0.13 * s)), cv2.LINE_AA, SHIFT)
        cv2.line(img, tuple(ipts(base_pt + nrm2 * 0.07 * s)), tuple(ipts(tip_pt + nrm2 * 0.07 * s)),
                 colour(np.array(hc) * 0.7), 1, cv2.LINE_AA, SHIFT)


def _bar(img: np.ndarray, face: PosedFace) -> None:
    """A straight bar across the face at brow, nose, mouth or chin height."""
    d, R = face.draws, face.camera.canvas
    yb = face.landmarks2d[[19, 24, 30, 51, 8]][min(int(d.occluder_place * 5), 4)]
    ang = (2 * d.occluder_angle - 1) * 0.6
    span = np.array([math.cos(ang), math.sin(ang)]) * R
    cv2.line(img, tuple(ipts(yb - span)), tuple(ipts(yb + span)), colour(np.full(3, lerp(20, 235, d.occluder_tone))),
             max(1, int(lerp(0.12, 0.3, d.bar_width) * face.camera.scale)), cv2.LINE_AA, SHIFT)


# --------------------------------------------------------------------------------------
# The camera image and the annotations
# --------------------------------------------------------------------------------------
_GRIDS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised image coordinates (x, y) in [-1, 1] of an n x n image's pixel centres, float32."""
    if n not in _GRIDS:
        g = (np.arange(n, dtype=np.float32) + 0.5) / n * 2 - 1
        _GRIDS[n] = (g[None, :].repeat(n, 0), g[:, None].repeat(n, 1))
    return _GRIDS[n]


def _camera_image(img: np.ndarray, draws: SampleDraws, settings: RenderSettings,
                  rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(the output image, the blur sigma on the canvas): blur, INTER_AREA to the output size, an
    illumination gradient, gain and bias, Gaussian sensor noise (the rng's last draw), then the
    optional low-resolution camera."""
    S, R, rgb = settings.image_size, img.shape[0], settings.rgb
    sigma_blur = lerp(0.3, 1.1, draws.blur) * R / 96
    small = cv2.resize(cv2.GaussianBlur(img, (0, 0), sigma_blur), (S, S), interpolation=cv2.INTER_AREA)
    if not rgb:
        small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    gx, gy = _grid(S)
    ang = draws.gradient_angle * 2 * math.pi
    if settings.lighting == "harsh":
        strength = lerp(0.5, 0.8, draws.gradient_strength)
    else:
        strength = lerp(0.0, 0.45, draws.gradient_strength)
    gain = lerp(0.75, 1.2, draws.gain)
    bias = lerp(-25, 25, draws.bias)
    ramp = (gx * np.float32(gain * strength * math.cos(ang)) + gy * np.float32(gain * strength * math.sin(ang))
            + np.float32(gain))
    f = small.astype(np.float32) * (ramp if not rgb else ramp[..., None]) + np.float32(bias)
    noise_sigma = 9.0 * draws.noise ** 2
    f = f + rng.standard_normal(f.shape, dtype=np.float32) * np.float32(noise_sigma)
    image = fast_clip(np.rint(f), 0, 255).astype(np.uint8)
    if settings.resolution is not None:  # a low-resolution camera: the finished image through r x r pixels
        r = settings.resolution
        image = cv2.resize(cv2.resize(image, (r, r), interpolation=cv2.INTER_AREA), (S, S),
                           interpolation=cv2.INTER_LINEAR)
    return image, sigma_blur


def _annotations(face: PosedFace, S: int, sigma_blur: float, hulls: tuple) -> tuple:
    """(landmarks (68,2) in output pixels, AU masks, silhouette): the masks are the landmark
    regions (as for any 68-landmark data set) united with the renderer's own record, and the
    silhouette fills the head, nose and lower-face hulls ({} and None without masks)."""
    k = face.camera.canvas / S
    landmarks = ((face.landmarks2d + 0.5) / k - 0.5).astype(np.float32)
    if face.trace is None:
        return landmarks, {}, None
    drawn = face.trace.finish(S, sigma_blur)
    regions = au_region_masks(landmarks, S, AUS, visible=face.facing > 0.0)
    au_masks = {au: m | drawn[au] for au, m in regions.items()}
    sil = np.zeros((S, S), np.uint8)
    for hull_px in hulls:
        pts = (hull_px.reshape(-1, 2) / ONE + 0.5) / k - 0.5
        cv2.fillConvexPoly(sil, ipts(pts), 1, cv2.LINE_8, SHIFT)
    return landmarks, au_masks, sil.astype(bool)
