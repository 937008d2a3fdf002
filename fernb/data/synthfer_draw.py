"""Drawing one posed SynthFER face onto the 2x canvas, part by part, back to front.

:mod:`fernb.data.synthfer_render` decides a sample (its draws, identity, expression, pose,
camera and light: a :class:`PosedFace`) and calls these parts in order: the background,
the neck and ears, the head (silhouette from the shaped mesh, Lambert shading and the
hairline from a per-pixel ray cast), the nose and lower-face profile, brows, eyes, mouth,
and the texture cues (AU wrinkles and folds, nose shading) as one darkening map. Each part
also records, when masks are made, what it drew for the AUs that move, gate or strengthen it
(:class:`fernb.data.synthfer_masks.AUTrace`). Conventions: :mod:`fernb.data.synthfer`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from fernb.data.synthfer_face import (
    AU_INDEX,
    AUS,
    ONE,
    SHIFT,
    Expression,
    FaceIdentity,
    colour,
    ear_points,
    fast_clip,
    head_mesh,
    ipts,
    lerp,
    surface_z,
)
from fernb.data.synthfer_masks import AUTrace

__all__ = ["SampleDraws", "FaceCamera", "Light", "PosedFace", "draw_background", "draw_neck_and_ears", "draw_head",
           "draw_nose_and_profile", "draw_brows", "draw_eyes", "draw_mouth", "draw_texture"]

_HAIR_SCALE = 1.04                    # the hair layer sits just outside the skin
_RAY_STEP = 2                         # shading and the hairline vary smoothly: cast rays every 2nd pixel


@dataclass
class SampleDraws:
    """One sample's uniform draws in [0, 1), each named by what it sets.

    They are drawn in one batch, ``u = rng.random(64)`` then ``aus = rng.random((4, len(AUS)))``
    (:meth:`from_rng`); the comment on each field is its place in ``u`` (u[39] and u[46:] are
    drawn and unused), so a sample is the same bytes whatever else the renderer learns.
    """

    label: float                # u[0]  the class, by the class weights
    pose: float                 # u[1]  which of the poses
    yaw_jitter: float           # u[2]
    pitch: float                # u[3]
    roll: float                 # u[4]
    subtle: float               # u[5]  < 0.15: a subtle expression
    neutral_side: float         # u[6]  contempt's neutral side
    camera_scale: float         # u[7]
    camera_x: float             # u[8]
    camera_y: float             # u[9]
    light_x: float              # u[10]
    light_y: float              # u[11]
    ambient: float              # u[12]
    background_grey: float      # u[13]
    background_tint: np.ndarray  # u[14:17] RGB
    blob_present: np.ndarray    # u[17:19] two background blobs: each drawn when < 0.6
    blob_shade: np.ndarray      # u[19:21]
    blob_x: np.ndarray          # u[21:23]
    blob_y: np.ndarray          # u[23:25]
    blob_width: np.ndarray      # u[25:27]
    blob_height: np.ndarray     # u[27:29]
    blob_angle: np.ndarray      # u[29:31]
    occluded: float             # u[31] < occlusion_prob: an occluder
    occluder_kind: float        # u[32] sunglasses, hand or bar
    glass_shade: float          # u[33]
    occluder_place: float       # u[34] the hand over the mouth or a cheek; the bar's height
    hand_cheek: float           # u[35] which cheek
    occluder_angle: float       # u[36]
    occluder_tone: float        # u[37] the hand's skin, the bar's grey
    bar_width: float            # u[38]
    gradient_angle: float       # u[40] illumination gradient over the image
    gradient_strength: float    # u[41]
    gain: float                 # u[42]
    bias: float                 # u[43]
    blur: float                 # u[44]
    noise: float                # u[45]
    aus: np.ndarray             # (4, len(AUS)): intensity, companion, leak, leak intensity

    @classmethod
    def from_rng(cls, rng: np.random.Generator) -> SampleDraws:
        u = rng.random(64)
        aus = rng.random((4, len(AUS)))
        return cls(*u[0:14], u[14:17], u[17:19], u[19:21], u[21:23], u[23:25], u[25:27], u[27:29], u[29:31],
                   *u[31:39], *u[40:46], aus)


@dataclass
class FaceCamera:
    """Weak-perspective camera on the ``canvas`` x ``canvas`` drawing (twice the output size):
    rotate the face frame by ``rotation``, scale by ``scale`` pixels per canonical unit, shift
    to (``cx``, ``cy``)."""

    canvas: int
    rotation: np.ndarray        # (3,3) camera-from-face
    scale: float
    cx: float
    cy: float

    def __post_init__(self):
        self._matrix = self.scale * self.rotation[:2].T
        self._centre = np.array([self.cx, self.cy])

    def project(self, pts3) -> np.ndarray:
        """Canvas (x, y) of canonical 3-D points."""
        return np.asarray(pts3) @ self._matrix + self._centre

    def facing(self, normals) -> np.ndarray:
        """How much each canonical normal faces the camera (> 0: visible)."""
        return np.asarray(normals) @ self.rotation[2]


@dataclass
class Light:
    """A directional light (camera frame, unit ``direction``) over an ``ambient`` floor."""

    direction: np.ndarray
    ambient: float

    def shade(self, normal_cam):
        """Lambert shade of camera-frame normals: ambient + (1 - ambient) * max(n . l, 0)."""
        return self.ambient + (1 - self.ambient) * fast_clip(normal_cam @ self.direction, 0.0, 1.0)


@dataclass
class PosedFace:
    """One sample's face as it is drawn: its draws, who it is, its expression, how it is turned,
    seen and lit, its landmarks (canonical 3-D and on the canvas), and the AU record (``trace``,
    None when no masks are made)."""

    draws: SampleDraws
    identity: FaceIdentity
    expression: Expression
    yaw: float
    camera: FaceCamera
    light: Light
    landmarks3d: np.ndarray     # (68,3) canonical
    normals3d: np.ndarray       # (68,3)
    landmarks2d: np.ndarray     # (68,2) canvas
    facing: np.ndarray          # (68,) > 0 where the landmark faces the camera
    trace: AUTrace | None = None

    def movers(self, idx) -> tuple[str, ...]:
        """Names of the AUs that move any of landmarks ``idx`` (none when no masks are made)."""
        if self.trace is None:
            return ()
        return tuple(AUS[a] for a in np.flatnonzero(self.trace.moves[:, list(idx)].any(1)))


_PGRIDS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _pixel_grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y) of an n x n canvas, float32."""
    if n not in _PGRIDS:
        g = np.arange(n, dtype=np.float32)
        _PGRIDS[n] = (g[None, :].repeat(n, 0), g[:, None].repeat(n, 1))
    return _PGRIDS[n]


# --------------------------------------------------------------------------------------
# Background, neck and ears
# --------------------------------------------------------------------------------------
def draw_background(draws: SampleDraws, R: int) -> np.ndarray:
    """A tinted grey (R,R,3) canvas with up to two soft blobs."""
    grey = lerp(25, 225, draws.background_grey)
    tint = (2 * draws.background_tint - 1) * 25
    bg = fast_clip(grey + tint, 0, 255)
    img = np.empty((R, R, 3), np.uint8)
    img[:] = np.round(bg).astype(np.uint8)
    for k in range(2):
        if draws.blob_present[k] < 0.6:
            c2 = fast_clip(bg + (2 * draws.blob_shade[k] - 1) * 70, 0, 255)
            center = (int(draws.blob_x[k] * R * ONE), int((0.2 + draws.blob_y[k] * 0.8) * R * ONE))
            axes = (int((0.2 + 0.5 * draws.blob_width[k]) * R * ONE), int((0.1 + 0.4 * draws.blob_height[k]) * R * ONE))
            cv2.ellipse(img, center, axes, float(draws.blob_angle[k] * 180), 0, 360, colour(c2), -1, cv2.LINE_AA, SHIFT)
    return img


def draw_neck_and_ears(img: np.ndarray, face: PosedFace) -> None:
    """The neck (a shaded band below the head) and each ear not turned far away."""
    p, cam = face.identity, face.camera
    neck_top, neck_bot = cam.project([0.0, 0.7, -0.25 * p.half_depth]), cam.project([0.0, 4.0, -0.25 * p.half_depth])
    axis = neck_bot - neck_top
    perp = np.array([-axis[1], axis[0]]) / (np.linalg.norm(axis) + 1e-9) * 0.58 * p.half_width * cam.scale
    cv2.fillConvexPoly(img, ipts([neck_top + perp, neck_top - perp, neck_bot - perp, neck_bot + perp]),
                       colour(p.skin * 0.62), cv2.LINE_AA, SHIFT)
    for sgn in (-1.0, 1.0):
        if sgn * cam.rotation[2, 0] > -0.5:
            cv2.fillConvexPoly(img, cv2.convexHull(ipts(cam.project(ear_points(p, sgn)))), colour(p.skin * 0.8),
                               cv2.LINE_AA, SHIFT)


# --------------------------------------------------------------------------------------
# The head: silhouette from the shaped mesh, shading and hair from a per-pixel ray cast
# --------------------------------------------------------------------------------------
def draw_head(img: np.ndarray, face: PosedFace) -> np.ndarray:
    """Draw the head (skin and hair) and return its silhouette hull (fixed point)."""
    p, cam, trace, R = face.identity, face.camera, face.trace, face.camera.canvas
    V, V_rest, hair_v = head_mesh(p, face.expression.jaw)
    V_nojaw = V_rest if (trace is not None and face.expression.jaw != 0.0) else None
    head_hull = cv2.convexHull(ipts(cam.project(V)))
    hair_hull = cv2.convexHull(ipts(cam.project(V[hair_v] * _HAIR_SCALE))) if hair_v.sum() >= 3 else None
    alpha = np.zeros((R, R), np.uint8)
    cv2.fillConvexPoly(alpha, head_hull, 255, cv2.LINE_AA, SHIFT)
    rest_rect = None
    if V_nojaw is not None:       # AU26: where the head silhouette (alpha > 127, as drawn) moves
        alpha0 = np.zeros((R, R), np.uint8)
        cv2.fillConvexPoly(alpha0, cv2.convexHull(ipts(cam.project(V_nojaw))), 255, cv2.LINE_AA, SHIFT)
        trace.area("AU26", (alpha > 127) != (alpha0 > 127))
        rest_rect = cv2.boundingRect(alpha0)
    head_rect = cv2.boundingRect(alpha)
    x0, y0, w0, h0 = head_rect
    alpha_h = hair_rect = None
    if hair_hull is not None:
        alpha_h = np.zeros((R, R), np.uint8)
        cv2.fillConvexPoly(alpha_h, hair_hull, 255, cv2.LINE_AA, SHIFT)
        hair_rect = cv2.boundingRect(alpha_h)
        xh, yh, wh, hh = hair_rect
        x1, y1 = max(x0 + w0, xh + wh), max(y0 + h0, yh + hh)
        x0, y0 = min(x0, xh), min(y0, yh)
        w0, h0 = x1 - x0, y1 - y0
    if w0 > 0 and h0 > 0:
        box = (x0, y0, w0, h0)
        fine = _skin_and_hair(face, box, alpha_h is not None)
        where = alpha[y0:y0 + h0, x0:x0 + w0] > 127
        if rest_rect is not None and alpha_h is not None and rest_rect != head_rect:
            _record_hairline_shift(trace, fine, box, rest_rect, hair_rect, R)
        if alpha_h is not None:
            where |= (alpha_h[y0:y0 + h0, x0:x0 + w0] > 127) & (fine[..., 3] > 0.5)
        np.copyto(img[y0:y0 + h0, x0:x0 + w0], fine[..., :3].astype(np.uint8), where=where[..., None])
    return head_hull


def _skin_and_hair(face: PosedFace, box: tuple, hair: bool) -> np.ndarray:
    """(h0, w0, 4) float32 over ``box``: the shaded skin or hair colour, and the hair flag.

    Each camera ray (every ``_RAY_STEP``-th pixel, then upsampled) meets the (untapered)
    head ellipsoid; the hit's Lambert shade colours the skin, and the hairline is tested
    on the same hit point, so the hair layer follows the head's surface.
    """
    p, cam = face.identity, face.camera
    x0, y0, w0, h0 = box
    step = _RAY_STEP
    gx, gy = _pixel_grid(cam.canvas)
    X = (gx[y0:y0 + h0:step, x0:x0 + w0:step] + np.float32(0.5 * (step - 1) - cam.cx)) * np.float32(1 / cam.scale)
    Y = (gy[y0:y0 + h0:step, x0:x0 + w0:step] + np.float32(0.5 * (step - 1) - cam.cy)) * np.float32(1 / cam.scale)
    b_mid = 0.5 * (p.height_up + p.height_down)
    rt = cam.rotation.astype(np.float32)
    ux = rt[0, 0] * X + rt[1, 0] * Y            # head coords of the ray at z=0
    uy = rt[0, 1] * X + rt[1, 1] * Y
    uz = rt[0, 2] * X + rt[1, 2] * Y
    m = rt[2]                                   # head-frame ray direction
    rl = (cam.rotation.T @ face.light.direction).astype(np.float32)
    # front hit of the camera ray with the head ellipsoid: head coords, shade
    e0, e1, e2 = (float(v) for v in np.array([p.half_width, b_mid, p.half_depth]) ** -2)
    A = float(m[0] * m[0] * e0 + m[1] * m[1] * e1 + m[2] * m[2] * e2)
    B = ux * float(m[0] * e0) + uy * float(m[1] * e1) + uz * float(m[2] * e2)
    C = ux * ux * e0 + uy * uy * e1 + uz * uz * e2 - 1.0
    t = (np.sqrt(np.maximum(B * B - A * C, 0.0)) - B) * (1.0 / A)
    hx, hy, hz = ux + m[0] * t, uy + m[1] * t, uz + m[2] * t
    nx, ny, nz = hx * e0, hy * e1, hz * e2    # head-frame normal (unnormalised)
    lam = (nx * rl[0] + ny * rl[1] + nz * rl[2]) / (np.sqrt(nx * nx + ny * ny + nz * nz) + 1e-6)
    ambient = face.light.ambient
    sh = ambient + (1 - ambient) * np.maximum(lam, 0.0)
    coarse = np.empty(sh.shape + (4,), np.float32)   # colour + hair flag on the coarse grid
    coarse[..., :3] = np.multiply.outer(sh.astype(np.float32), p.skin.astype(np.float32))
    coarse[..., 3] = 0.0
    if hair:
        cos_t = fast_clip(-hy * (1.0 / b_mid), -1.0, 1.0)
        xn, zn = hx * (1.0 / p.half_width), hz * (1.0 / p.half_depth)
        cos_p = zn / (np.sqrt(xn * xn + zn * zn) + 1e-6)
        th_lim = p.theta_front + (p.theta_back - p.theta_front) * 0.5 * (1 - cos_p)
        on_hair = np.arccos(cos_t) < th_lim
        coarse[on_hair, :3] = np.multiply.outer((0.35 + 0.65 * sh[on_hair]).astype(np.float32), p.hair.astype(np.float32))
        coarse[..., 3] = on_hair
    return cv2.resize(coarse, (w0, h0), interpolation=cv2.INTER_LINEAR)


def _record_hairline_shift(trace: AUTrace, fine: np.ndarray, box: tuple, rest_rect: tuple, hair_rect: tuple,
                           R: int) -> None:
    """AU26 moved the chin, so the ray-cast box and its upsampling: the hairline, the one sharp
    edge of the upsampled layer, shifts where the two boxes sample it differently."""
    x0, y0, w0, h0 = box
    xh, yh, wh, hh = hair_rect
    x0b, y0b = min(rest_rect[0], xh), min(rest_rect[1], yh)
    w0b, h0b = max(rest_rect[0] + rest_rect[2], xh + wh) - x0b, max(rest_rect[1] + rest_rect[3], yh + hh) - y0b
    step = _RAY_STEP

    def sampled(o, n, o_b, n_b):
        """Canvas position each pixel's upsampled value comes from, in the box (o, n) and (o_b, n_b)."""
        q = np.arange(o, o + n, dtype=float)
        at = lambda o_, n_: o_ + step * ((q - o_ + 0.5) * (-(-n_ // step)) / n_ - 0.5) + 0.5 * (step - 1)  # noqa: E731
        return np.abs(at(o, n) - at(o_b, n_b)) if n_b > 0 else np.full(n, np.inf)

    moved = (sampled(y0, h0, y0b, h0b)[:, None] > 0.1) | (sampled(x0, w0, x0b, w0b)[None, :] > 0.1)
    edge = (fine[..., 3] > 0.0) & (fine[..., 3] < 1.0) & moved
    area = np.zeros((R, R), bool)
    area[y0:y0 + h0, x0:x0 + w0] = cv2.dilate(edge.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    trace.area("AU26", area)


# --------------------------------------------------------------------------------------
# Features: nose and lower-face profile, brows, eyes, mouth
# --------------------------------------------------------------------------------------
_PROFILE = [33, 31, 35, *range(48, 60), 7, 8, 9]     # the lower-face landmarks a profile shows


def draw_nose_and_profile(img: np.ndarray, face: PosedFace) -> tuple[np.ndarray, np.ndarray]:
    """The nose (filled, so that it protrudes from a profile) and, beyond 50 degrees of yaw,
    the lips and chin; returns (nose hull, lower-face hull), fixed point."""
    L3, lm2, cam, trace = face.landmarks3d, face.landmarks2d, face.camera, face.trace
    ala = L3[[31, 35]] + np.array([[-0.05, -0.08, -0.06], [0.05, -0.08, -0.06]])
    nose_hull = cv2.convexHull(ipts(np.concatenate([lm2[27:36], cam.project(ala)])))
    nose_col = face.identity.skin * face.light.shade(cam.rotation @ np.array([0.0, 0.15, 1.0])
                                                     / np.linalg.norm([0, 0.15, 1.0]))
    mouth_hull = cv2.convexHull(ipts(lm2[_PROFILE]))
    if abs(face.yaw) > 50:
        cv2.fillConvexPoly(img, mouth_hull, colour(nose_col * 0.97), cv2.LINE_AA, SHIFT)
        if trace is not None:
            trace.shape(mouth_hull, _PROFILE)
    if abs(face.yaw) > 12:
        cv2.fillConvexPoly(img, nose_hull, colour(nose_col), cv2.LINE_AA, SHIFT)
        if trace is not None:
            trace.shape(nose_hull, range(27, 36))
    return nose_hull, mouth_hull


def draw_brows(img: np.ndarray, face: PosedFace) -> None:
    """Each brow facing the camera: a band of the brow's thickness, hair blended into skin by density."""
    p, L3, cam = face.identity, face.landmarks3d, face.camera
    brow_col = p.skin * (1 - p.brow_density) + p.hair * 0.6 * p.brow_density
    th = p.brow_th * np.array([0.55, 0.8, 1.0, 1.0, 0.95])
    for idx in (np.arange(17, 22), np.arange(26, 21, -1)):
        if face.facing[idx].mean() <= 0.05:
            continue
        top = L3[idx] - np.stack([0 * th, th * 0.6, 0 * th], 1)
        bot = L3[idx] + np.stack([0 * th, th * 0.6, 0 * th], 1)
        cv2.fillPoly(img, [ipts(cam.project(np.concatenate([top, bot[::-1]])))], colour(brow_col), cv2.LINE_AA, SHIFT)
        if face.trace is not None:     # small and shown only when facing the camera: recorded whole
            face.trace.shape(ipts(cam.project(np.concatenate([top, bot[::-1]]))), idx, gates=face.movers(idx))


def draw_eyes(img: np.ndarray, face: PosedFace) -> None:
    """Each eye facing the camera: the white, the iris (sized by the lid opening), the lids."""
    p, L3, lm2, cam, trace = face.identity, face.landmarks3d, face.landmarks2d, face.camera, face.trace
    s = cam.scale
    lid_th = max(1, int(round(0.025 * s)))
    for base in (36, 42):
        idx = np.arange(base, base + 6)
        f = face.facing[idx].mean()
        if f <= 0.08:
            continue
        e2 = lm2[idx]
        white = np.array([222.0, 218, 212]) * (0.75 + 0.25 * min(1.0, face.light.shade(cam.rotation[:, 2])))
        cv2.fillPoly(img, [ipts(e2)], colour(white), cv2.LINE_AA, SHIFT)
        corner_mid = (e2[0] + e2[3]) / 2
        ic = cam.project((L3[base] + L3[base + 3]) / 2 + np.array([0, 0, 0.03]))
        up_gap = np.linalg.norm((e2[1] + e2[2]) / 2 - corner_mid)
        lo_gap = np.linalg.norm((e2[4] + e2[5]) / 2 - corner_mid)
        rad = 0.085 * s
        ry = max(min(rad, up_gap, lo_gap * 1.1), 0.3)
        rx = max(rad * min(1.0, f * 1.1), 0.3)
        angle = math.degrees(math.atan2(e2[3][1] - e2[0][1], e2[3][0] - e2[0][0]))
        cv2.ellipse(img, tuple(ipts(ic)), (int(rx * ONE), int(ry * ONE)), angle, 0, 360,
                    colour([p.iris] * 3), -1, cv2.LINE_AA, SHIFT)
        cv2.polylines(img, [ipts(e2[[0, 1, 2, 3]])], False, colour([28, 22, 20]), lid_th, cv2.LINE_AA, SHIFT)
        cv2.polylines(img, [ipts(e2[[3, 4, 5, 0]])], False, colour(p.skin * 0.55), 1, cv2.LINE_AA, SHIFT)
        if trace is not None:     # the eye, recorded whole: its iris size and angle follow the lids
            trace.shape(ipts(e2), idx, gates=face.movers(idx), outline=lid_th)
            trace.ellipse(tuple(ipts(ic)), (int(rx * ONE), int(ry * ONE)), angle, idx,
                          geo={AUS[a]: trace.delta[a, idx].max() for a in range(len(AUS))})


def draw_mouth(img: np.ndarray, face: PosedFace) -> None:
    """The lips; while the inner lips part, the dark cavity and the upper (and, with strong
    AU16 or AU20, lower) teeth; the lip line."""
    p, L3, lm2, cam, trace = face.identity, face.landmarks3d, face.landmarks2d, face.camera, face.trace
    intensity = face.expression.intensity
    cv2.fillPoly(img, [ipts(lm2[48:60])], colour(p.lip * (0.6 + 0.4 * face.light.shade(cam.rotation[:, 2]))),
                 cv2.LINE_AA, SHIFT)
    if trace is not None:
        trace.shape(ipts(lm2[48:60]), range(48, 60))
    gap = L3[66, 1] - L3[62, 1]
    if gap > 0.012:
        # the cavity and teeth exist while the inner lips part (62, 66): whole for the AUs moving those
        gap_aus = face.movers([62, 66])
        cv2.fillPoly(img, [ipts(lm2[60:68])], colour([45, 22, 22]), cv2.LINE_AA, SHIFT)
        t_up = min(0.06, 0.45 * gap)
        upper = L3[[60, 61, 62, 63, 64]]
        teeth = np.concatenate([upper, (upper + np.array([0, t_up, -0.02]))[::-1]])
        cv2.fillPoly(img, [ipts(cam.project(teeth))], colour([215, 210, 196]), cv2.LINE_AA, SHIFT)
        if trace is not None:
            trace.shape(ipts(lm2[60:68]), range(60, 68), gates=gap_aus)
            trace.shape(ipts(cam.project(teeth)), [60, 61, 62, 63, 64, 66], gates=gap_aus)
        if intensity[AU_INDEX["AU16"]] > 0.3 or intensity[AU_INDEX["AU20"]] > 0.4:
            lower = L3[[64, 65, 66, 67, 60]]
            t_lo = min(0.045, 0.3 * gap)
            teeth = np.concatenate([lower, (lower - np.array([0, t_lo, 0.02]))[::-1]])
            cv2.fillPoly(img, [ipts(cam.project(teeth))], colour([200, 195, 182]), cv2.LINE_AA, SHIFT)
            if trace is not None:  # the lower teeth show when AU16 or AU20 is strong
                trace.shape(ipts(cam.project(teeth)), [60, 62, 64, 65, 66, 67], gates=("AU16", "AU20", *gap_aus))
    cv2.polylines(img, [ipts(lm2[[60, 61, 62, 63, 64]])], False, colour(p.lip * 0.45), 1, cv2.LINE_AA, SHIFT)
    if trace is not None:
        trace.lines([ipts(lm2[[60, 61, 62, 63, 64]])], 1, range(60, 65))


# --------------------------------------------------------------------------------------
# Texture cues: AU wrinkles and folds, nose shading, as one darkening map
# --------------------------------------------------------------------------------------
class _Curves:
    """Surface curves queued in canonical (x, y), projected and drawn in one batch (:func:`_draw_curves`)."""

    def __init__(self, scale: float):
        self.scale = scale
        self.items: list[tuple[np.ndarray, float, int, float]] = []
        self.deps: list[tuple] = []      # per curve: (anchor landmarks, gating AUs, extra grow per AU)

    def add(self, pts_xy, strength, thickness=1, lift=0.0, *, anchors=(), gates=(), geo=None):
        """Queue a curve; ``anchors``: the landmarks its points are placed from; ``gates``: the AUs
        that set its existence or strength; ``geo``: {AU: canonical units} it moves the curve by
        beyond its anchors (for the AU masks only)."""
        strength = float(min(strength, 0.9))
        if strength > 0.02:
            self.items.append((np.asarray(pts_xy, float), strength, thickness, lift))
            self.deps.append((anchors, gates, {k: v * self.scale for k, v in (geo or {}).items()}))

    def thick(self, v) -> int:
        """A strong cue on a large enough face is drawn 2 px wide."""
        return 2 if (v > 0.55 and self.scale > 20) else 1


def _brow_and_nose_wrinkles(curves: _Curves, face: PosedFace) -> None:
    """AU1/AU2 forehead wrinkles, AU4 vertical furrows between the brows, AU9 nose-bridge wrinkles."""
    L3, I = face.landmarks3d, face.expression.intensity
    fw = max(I[AU_INDEX["AU1"]], I[AU_INDEX["AU2"]])
    if fw > 0.1:
        ext = 0.28 + 0.3 * I[AU_INDEX["AU2"]] / (I[AU_INDEX["AU1"]] + I[AU_INDEX["AU2"]] + 1e-6)
        brow_top = min(L3[19, 1], L3[24, 1])
        xs = np.linspace(-ext, ext, 9)
        for k, dy in enumerate((0.16, 0.27, 0.38)):
            ys = brow_top - dy - 0.04 * (1 - (xs / ext) ** 2)
            curves.add(np.column_stack([xs, ys]), 0.45 * fw * (1 - 0.2 * k), 1, anchors=(19, 24), gates=("AU1", "AU2"))
    v4 = I[AU_INDEX["AU4"]]
    if v4 > 0.05:
        ytop = min(L3[21, 1], L3[22, 1]) - 0.06
        for x in (-0.06, 0.06):
            curves.add(np.array([[x, ytop], [x * 0.8, ytop + 0.09], [x * 0.7, ytop + 0.18]]), 0.6 * v4, curves.thick(v4),
                       anchors=(21, 22), gates=("AU4",))
    v9 = I[AU_INDEX["AU9"]]
    if v9 > 0.05:
        for y in np.linspace(L3[27, 1] + 0.04, L3[28, 1] + 0.08, 3):
            xs = np.linspace(-0.13, 0.13, 5)
            curves.add(np.column_stack([xs, y + 0.02 * np.abs(xs) / 0.13]), 0.55 * v9, 1, lift=0.1, anchors=(27, 28),
                       gates=("AU9",))


def _cheek_and_mouth_creases(curves: _Curves, face: PosedFace) -> None:
    """Per side: crow's feet and lower-lid bags (AU6), the nasolabial fold (AU12/AU9, deepened
    from the identity's resting fold), the dimple (AU14), the AU15 crease."""
    L3, I, fold0 = face.landmarks3d, face.expression.intensity, face.identity.fold
    for sgn, w in ((-1.0, face.expression.right), (1.0, face.expression.left)):
        outer, lower_a, lower_b, corner, ala_i = (36, 41, 40, 48, 31) if sgn < 0 else (45, 46, 47, 54, 35)
        v6 = w[AU_INDEX["AU6"]]
        if v6 > 0.05:
            o = L3[outer, :2] + np.array([sgn * 0.05, 0])
            for dy in (-0.05, 0.0, 0.06):
                curves.add(np.array([o, o + np.array([sgn * 0.07, dy * 0.6]), o + np.array([sgn * 0.14, dy])]),
                           0.5 * v6, 1, anchors=(outer,), gates=("AU6",))
            la, lb = L3[lower_a, :2], L3[lower_b, :2]
            curves.add(np.array([la + [0, 0.07], (la + lb) / 2 + [0, 0.09], lb + [0, 0.07]]), 0.4 * v6, 1,
                       anchors=(lower_a, lower_b), gates=("AU6",))
        fold = fold0 + 0.5 * w[AU_INDEX["AU12"]] + 0.3 * I[AU_INDEX["AU9"]] + 0.1 * w[AU_INDEX["AU6"]]
        a0 = L3[ala_i, :2] + np.array([sgn * 0.06, -0.06])
        c0 = L3[corner, :2] + np.array([sgn * (0.07 + 0.03 * w[AU_INDEX["AU12"]]), 0.1])
        mid = (a0 + c0) / 2 + np.array([sgn * (0.05 + 0.04 * w[AU_INDEX["AU12"]]), 0])
        tt = np.linspace(0, 1, 7)[:, None]
        curves.add((1 - tt) ** 2 * a0 + 2 * tt * (1 - tt) * mid + tt ** 2 * c0, fold, curves.thick(fold),
                   anchors=(ala_i, corner), gates=("AU12", "AU9", "AU6"), geo={"AU12": 0.05 * w[AU_INDEX["AU12"]]})
        v14 = w[AU_INDEX["AU14"]]
        if v14 > 0.05:
            d0 = L3[corner, :2] + np.array([sgn * 0.05, 0])
            curves.add(np.array([d0 + [0, -0.05], d0 + [sgn * 0.015, 0], d0 + [0, 0.05]]), 0.7 * v14, curves.thick(v14),
                       anchors=(corner,), gates=("AU14",))
        v15 = I[AU_INDEX["AU15"]]
        if v15 > 0.1:
            c1 = L3[corner, :2]
            curves.add(np.array([c1 + [sgn * 0.03, 0.04], c1 + [sgn * 0.04, 0.12], c1 + [sgn * 0.03, 0.2]]),
                       0.35 * v15, 1, anchors=(corner,), gates=("AU15",))


def _draw_curves(dark: np.ndarray, curves: _Curves, face: PosedFace) -> None:
    """Lift the queued curves onto the head surface, project them, and draw the runs that face the camera."""
    if not curves.items:
        return
    cam, trace = face.camera, face.trace
    allxy = np.concatenate([c[0] for c in curves.items])
    z, n = surface_z(face.identity, allxy[:, 0], allxy[:, 1])
    lifts = np.concatenate([np.full(len(c[0]), c[3]) for c in curves.items])
    allp = cam.project(np.column_stack([allxy, z + lifts]))
    allv = cam.facing(n) > 0.1
    pos = 0
    for (pts_xy, strength, thickness, _), deps in zip(curves.items, curves.deps):
        k1 = pos + len(pts_xy)
        p2, vis = allp[pos:k1], allv[pos:k1]
        pos = k1
        val = int(255 * strength)
        runs = []
        if vis.all():
            runs.append(ipts(p2))
            cv2.polylines(dark, runs, False, val, thickness, cv2.LINE_AA, SHIFT)
        else:
            start = None
            for k in range(len(p2) + 1):
                if k < len(p2) and vis[k]:
                    start = k if start is None else start
                    continue
                if start is not None and k - start >= 2:
                    runs.append(ipts(p2[start:k]))
                    cv2.polylines(dark, [runs[-1]], False, val, thickness, cv2.LINE_AA, SHIFT)
                start = None
        if trace is not None and runs:
            trace.lines(runs, thickness, deps[0], gates=deps[1], geo=deps[2], value=val)


def _draw_nose_shading(dark: np.ndarray, face: PosedFace, nose_hull: np.ndarray) -> None:
    """Nostrils, the nose base, a bridge side-shadow away from the light, a turned nose's outline."""
    L3, lm2, cam, trace = face.landmarks3d, face.landmarks2d, face.camera, face.trace
    s, rot = cam.scale, cam.rotation
    for i0, i1 in ((31, 32), (35, 34)):
        if face.facing[i0] > 0.0:
            c = cam.project((L3[i0] + L3[i1]) / 2 + np.array([0, -0.005, 0]))
            f = max(0.2, abs(rot[2, 2]))
            cv2.ellipse(dark, tuple(ipts(c)), (int(0.045 * s * f * ONE) + 1, int(0.022 * s * ONE) + 1),
                        0, 0, 360, 150, -1, cv2.LINE_AA, SHIFT)
            if trace is not None:
                trace.ellipse(tuple(ipts(c)), (int(0.045 * s * f * ONE) + 1, int(0.022 * s * ONE) + 1), 0,
                              [i0, i1], gates=face.movers([i0]), value=150)
    cv2.polylines(dark, [ipts(lm2[31:36])], False, 60, 1, cv2.LINE_AA, SHIFT)
    side = 1.0 if face.light.direction[0] < 0 else -1.0
    bridge = L3[27:31] + np.array([side * 0.09, 0, -0.06])
    cv2.polylines(dark, [ipts(cam.project(bridge))], False, 45, max(1, int(0.03 * s)), cv2.LINE_AA, SHIFT)
    if abs(face.yaw) > 12:
        cv2.polylines(dark, [nose_hull], True, 40, 1, cv2.LINE_AA, SHIFT)
    if trace is not None:
        trace.lines([ipts(lm2[31:36])], 1, range(31, 36), value=60)
        trace.lines([ipts(cam.project(bridge))], max(1, int(0.03 * s)), range(27, 31), value=45)


def draw_texture(img: np.ndarray, face: PosedFace, nose_hull: np.ndarray) -> np.ndarray:
    """The canvas darkened by the texture cues: AU wrinkles and folds, then the nose shading."""
    dark = np.zeros((face.camera.canvas,) * 2, np.uint8)
    curves = _Curves(face.camera.scale)
    _brow_and_nose_wrinkles(curves, face)
    _cheek_and_mouth_creases(curves, face)
    _draw_curves(dark, curves, face)
    _draw_nose_shading(dark, face, nose_hull)
    return cv2.multiply(img, cv2.cvtColor(255 - dark, cv2.COLOR_GRAY2RGB), scale=1.0 / 255.0)
