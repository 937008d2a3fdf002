"""Head pose (yaw, pitch, roll) from 68 landmarks, yaw from five points, and the pose subsets of LANMSFF.

``cv2.solvePnP`` fits a *generic* 3-D face — the six-point model widely used with OpenCV
(nose tip, chin, outer eye corners, mouth corners; S. Mallick, "Head Pose Estimation using
OpenCV and Dlib", LearnOpenCV 2016) — to six of the 68 iBUG landmarks, with a pinhole
camera whose focal length is the image width and whose principal point is the face's centre
(so a face's pose does not change with where it sits in the photo). It is
deliberately *not* SynthFER's own face geometry, so that measuring it on SynthFER (whose
true pose is known) is a fair test of the estimator. A rigid generic model cannot tell a
narrow face from a turned one, so some frontal faces read as turned by more than 22.5°;
notebook 00 measures how many, and the bias near the 45° subset edge.

Angles follow SynthFER's convention (:mod:`fernb.data.synthfer`): **positive yaw = the face
turned toward the image right** (the subject's left), positive pitch = chin down, positive
roll = clockwise in the image; the camera-from-face rotation is ``Rz(roll) Rx(pitch) Ry(yaw)``
in a face frame with x to the image right, y down and z toward the camera. KDEF's pose
codes map onto the same convention (:data:`fernb.labels.KDEF_POSES`).

LANMSFF (Table IV/VII) reports accuracy on *Pose-FER2013* and *Pose-FERPlus*: the test
images with |yaw| > 30° and > 45°. Their index lists are not published, so
:func:`fernb.data.explore.pose_subset` builds them from whatever yaw a dataset carries — the publisher's
(KDEF), the renderer's (SynthFER) or this estimate (FER2013, FERPlus, RAF-DB, ...), which
``data.extras["pose_source"]`` records.

**Yaw from five points** (:func:`yaw_from_five`): detectors without 68 landmarks (MTCNN) give
the eye centres, nose tip and mouth corners only. Their yaw is read off the nose's sideways
offset from the face's midline (the line through the eye midpoint and the mouth midpoint),
over the eye distance. For a rigid face seen in weak perspective that ratio is
``tan(yaw) · D / E``, where ``E`` is the eye-centre distance and ``D`` the depth of the midline
behind the nose tip, so ``yaw = atan(gain · ratio)`` with ``gain = E / D``. Both come from the
same generic model :func:`head_pose` fits (:data:`FIVE_POINT_MODEL`: its nose tip and mouth
corners, and eye centres placed between its outer eye corners and the inner ones), not from
SynthFER, so SynthFER measures it as fairly as the 68-point estimate. Rotating the face in the
image plane moves the midline with it, so roll does not change the ratio, and nodding moves
the nose along the midline rather than across it, so pitch changes it little; pitch and roll
themselves are not estimated. :func:`fernb.data.synthphotos.five_point_check` measures it beside
:func:`head_pose` and beside a PnP fit of the same five model points
(:func:`yaw_from_five_pnp`), which ``tests/faces/test_pose.py`` also checks. Datasets posed this
way carry ``pose_source == "five_point"`` (:data:`FIVE_POINT_SOURCE`), not ``"estimated"``.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import pandas as pd

__all__ = ["MODEL_POINTS", "MODEL_LANDMARKS", "POSE_THRESHOLDS", "START_YAWS", "head_pose", "euler_from_rotation",
           "rotation_from_euler", "estimate_poses", "pose_error_table", "check_summary", "KDEF_BINS",
           "FIVE_POINT_MODEL", "FIVE_POINT_GAIN", "FIVE_POINT_SOURCE", "yaw_from_five", "yaws_from_five",
           "yaw_from_five_pnp"]

# The generic model in the OpenCV-style face frame (x image right, y down, z away from the
# camera), arbitrary units: the widely used values with y and z negated from their y-up,
# z-toward-camera original.
MODEL_POINTS = np.array([
    [0.0, 0.0, 0.0],            # nose tip
    [0.0, 330.0, 65.0],         # chin
    [-225.0, -170.0, 135.0],    # outer corner of the image-left eye
    [225.0, -170.0, 135.0],     # outer corner of the image-right eye
    [-150.0, 150.0, 125.0],     # image-left mouth corner
    [150.0, 150.0, 125.0],      # image-right mouth corner
], dtype=np.float64)
MODEL_LANDMARKS = (30, 8, 36, 45, 48, 54)   # the iBUG 68-point indices of those six points

POSE_THRESHOLDS = (30.0, 45.0)                               # LANMSFF's Pose >30° and >45° subsets
START_YAWS = (-90.0, -60.0, -30.0, 0.0, 30.0, 60.0, 90.0)   # multi-start of the iterative PnP fit

_FLIP = np.diag([1.0, 1.0, -1.0])            # OpenCV face frame <-> SynthFER's (z toward camera)


def rotation_from_euler(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """SynthFER's camera-from-face rotation ``Rz(roll) Rx(pitch) Ry(yaw)``, angles in degrees."""
    y, p, r = (math.radians(a) for a in (yaw, pitch, roll))
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def euler_from_rotation(rot: np.ndarray) -> tuple[float, float, float]:
    """``(yaw, pitch, roll)`` in degrees of a rotation written as ``Rz(roll) Rx(pitch) Ry(yaw)``.

    The last row of that product is ``(-cos p sin y, -sin p, cos p cos y)``, and its first
    two entries of column 1 are ``(-sin r cos p, cos r cos p)``.
    """
    m = np.asarray(rot, dtype=np.float64)
    pitch = math.asin(float(np.clip(-m[2, 1], -1.0, 1.0)))
    yaw = math.atan2(-m[2, 0], m[2, 2])
    roll = math.atan2(-m[0, 1], m[1, 1])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def head_pose(landmarks: np.ndarray, image_shape: tuple[int, ...], *, centre_on_face: bool = True) -> tuple[float, float, float]:
    """``(yaw, pitch, roll)`` in degrees of a face from its 68 iBUG landmarks.

    Args:
        landmarks: ``(68, 2)`` pixel coordinates in the image the face was found in.
        image_shape: that image's ``(height, width[, channels])``, for the camera model.

    Six points leave the fit with local minima (a frontal face can fit as a slightly turned
    mirror image, a profile as a collapsed frontal one), so ``solvePnP``'s iterative solver
    starts from every yaw in :data:`START_YAWS` and the fit with the smallest mean
    reprojection error wins. Returns NaNs when the landmarks are not finite or no fit
    converges.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"landmarks must have shape (68, 2), got {lm.shape}")
    points = lm[list(MODEL_LANDMARKS)]
    if not np.isfinite(points).all():
        return (math.nan, math.nan, math.nan)
    h, w = image_shape[:2]
    # principal point on the face: the pose must not depend on where the face sits in the frame
    cx, cy = points.mean(axis=0) if centre_on_face else ((w - 1) / 2, (h - 1) / 2)
    camera = np.array([[w, 0, cx], [0, w, cy], [0, 0, 1]], dtype=np.float64)
    return _fit(MODEL_POINTS, points, camera, _initial_translation(points, camera))


def _fit(model: np.ndarray, points: np.ndarray, camera: np.ndarray, t0: np.ndarray) -> tuple[float, float, float]:
    """``(yaw, pitch, roll)`` of the multi-start iterative ``solvePnP`` fit of ``model`` to
    ``points``: the start of :data:`START_YAWS` whose fit has the smallest mean reprojection
    error wins; NaNs when no fit converges in front of the camera."""
    best_error, best = math.inf, None
    for start in START_YAWS:
        r0, _ = cv2.Rodrigues(_FLIP @ rotation_from_euler(start, 0.0, 0.0) @ _FLIP)
        ok, rvec, tvec = cv2.solvePnP(model, points, camera, np.zeros(4), rvec=r0, tvec=t0.copy(),
                                      useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
        if not ok or tvec[2, 0] <= 0:
            continue
        projected, _ = cv2.projectPoints(model, rvec, tvec, camera, np.zeros(4))
        error = float(np.linalg.norm(projected[:, 0] - points, axis=1).mean())
        if error < best_error - 1e-9:
            best_error, best = error, rvec
    if best is None:
        return (math.nan, math.nan, math.nan)
    rot_cv, _ = cv2.Rodrigues(best)
    return euler_from_rotation(_FLIP @ rot_cv @ _FLIP)


def _initial_translation(points: np.ndarray, camera: np.ndarray) -> np.ndarray:
    """A translation that puts the model's nose tip on the landmark at the model's scale.

    The scale comes from the eye-corners-to-chin height (500 model units), which, unlike the
    eye distance, does not collapse as the face turns to profile.
    """
    height = np.linalg.norm(points[2:4].mean(axis=0) - points[1]) or 1.0
    z = camera[0, 0] * 500.0 / height
    x, y = points[0]
    return np.array([[(x - camera[0, 2]) * z / camera[0, 0]], [(y - camera[1, 2]) * z / camera[1, 1]], [z]])


def estimate_poses(landmarks: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """``(N, 3)`` yaw, pitch, roll for ``(N, 68, 2)`` landmarks of images of one shape (NaN rows stay NaN)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return np.array([head_pose(x, image_shape) for x in lm], dtype=np.float64).reshape(len(lm), 3)


# ---------------------------------------------------------------- yaw from five points
FIVE_POINT_SOURCE = "five_point"   # ``pose_source`` of a yaw from five points (coarser than "estimated")

# The five points of fernb.faces.align.IBUG_FIVE in the frame of MODEL_POINTS. The nose tip and
# mouth corners are the model's own. The model has the outer eye corners only; an eye centre
# lies halfway between its outer and inner corner, with the inner corners a 32/90 part of the
# outer corners' distance apart (intercanthal over biocular width, ~32 mm and ~90 mm in adults:
# L. G. Farkas, "Anthropometry of the Head and Face", 1994), at the outer corners' height and
# depth. That puts the eye centres 305 model units (~61 mm at the model's 5 units per mm) apart.
_EYE_CENTRE_X = float(MODEL_POINTS[3, 0]) * (1.0 + 32.0 / 90.0) / 2.0
FIVE_POINT_MODEL = np.array([
    [-_EYE_CENTRE_X, MODEL_POINTS[2, 1], MODEL_POINTS[2, 2]],   # centre of the image-left eye
    [_EYE_CENTRE_X, MODEL_POINTS[3, 1], MODEL_POINTS[3, 2]],    # centre of the image-right eye
    MODEL_POINTS[0],                                            # nose tip
    MODEL_POINTS[4],                                            # image-left mouth corner
    MODEL_POINTS[5],                                            # image-right mouth corner
], dtype=np.float64)


def _five_point_gain(model: np.ndarray) -> float:
    """Eye-centre distance over the depth of the eye-mouth midline behind the nose tip, at the
    nose tip's height: the ``E / D`` of :func:`yaw_from_five` for a five-point model."""
    eyes, nose, mouth = model[:2].mean(axis=0), model[2], model[3:].mean(axis=0)
    along = (nose[1] - eyes[1]) / (mouth[1] - eyes[1])
    depth = eyes[2] + along * (mouth[2] - eyes[2]) - nose[2]
    return float(np.linalg.norm(model[1] - model[0]) / depth)


FIVE_POINT_GAIN = _five_point_gain(FIVE_POINT_MODEL)   # 305 / 129.7 = 2.35


def yaws_from_five(points5, *, gain: float = FIVE_POINT_GAIN) -> np.ndarray:
    """``(N,)`` yaw in degrees of ``(N, 5, 2)`` five points; NaN where no yaw can be read.

    Points as :data:`fernb.faces.align.IBUG_FIVE` orders them (eye centres, nose tip, mouth
    corners, image-left first), in pixels; any similarity of the image (shift, scale,
    rotation) leaves the yaw unchanged. The method (module docstring): with ``u`` the unit
    vector from the eye midpoint to the mouth midpoint and ``v`` the unit vector across it
    (toward the image right on an upright face), ``yaw = atan2(gain · offset, width)``, where
    ``offset`` is the nose tip's distance from the eye midpoint along ``v`` and ``width`` the
    eye distance along ``v`` (floored at 0, so eyes that cross at a profile read ±90°).
    Positive yaw is the nose toward the image right, SynthFER's convention (:func:`head_pose`).

    NaN rows: points not finite; eye and mouth midpoints that coincide; no extent across the
    midline (all points on it); eyes clearly out of image-left-first order (``width`` below
    −¼ of the eye-mouth distance) or a nose further from the midline than the eye-mouth
    distance — not a face.
    """
    p = np.asarray(points5, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (5, 2):
        raise ValueError(f"points5 must have shape (N, 5, 2), got {p.shape}")
    if not (np.isfinite(gain) and gain > 0):
        raise ValueError(f"gain must be a positive number, got {gain!r}")
    eyes, mouth = p[:, :2].mean(axis=1), p[:, 3:].mean(axis=1)
    length = np.linalg.norm(mouth - eyes, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = (mouth - eyes) / length[:, None]
        v = np.stack([u[:, 1], -u[:, 0]], axis=1)
        width = np.einsum("ij,ij->i", p[:, 1] - p[:, 0], v)
        offset = np.einsum("ij,ij->i", p[:, 2] - eyes, v)
        yaw = np.degrees(np.arctan2(gain * offset, np.maximum(width, 0.0)))
        ok = np.isfinite(p).all(axis=(1, 2)) & (length > 0) & (np.hypot(width, offset) > 1e-6 * length)
        ok &= (width > -0.25 * length) & (np.abs(offset) < length)
    return np.where(ok, yaw, np.nan)


def yaw_from_five(points5, *, gain: float = FIVE_POINT_GAIN) -> float:
    """Yaw in degrees of one face from its ``(5, 2)`` five points, NaN when it cannot be read.

    The coarser estimate for detectors without 68 landmarks (MTCNN): the nose tip's offset
    from the eye-mouth midline over the eye distance, ``yaw = atan(gain · offset / width)``,
    with ``gain`` (:data:`FIVE_POINT_GAIN`) from the generic face model :func:`head_pose`
    fits; see :func:`yaws_from_five` and the module docstring. Pitch and roll are not
    estimated. ``tests/faces/test_pose.py`` checks its sign, monotonicity and error on SynthFER.
    """
    p = np.asarray(points5, dtype=np.float64)
    if p.shape != (5, 2):
        raise ValueError(f"points5 must have shape (5, 2), got {p.shape}")
    return float(yaws_from_five(p[None], gain=gain)[0])


def yaw_from_five_pnp(points5, image_shape: tuple[int, ...]) -> float:
    """Yaw in degrees from five points by ``solvePnP`` of :data:`FIVE_POINT_MODEL`, for comparison.

    The camera and the multi-start fit are :func:`head_pose`'s (focal length the image width,
    principal point on the face). Five points constrain the rigid fit less than six do: a
    narrow frontal face fits as a turned one more often than with the ratio of
    :func:`yaw_from_five` (``fernb.data.synthphotos.five_point_check`` measures both).
    NaN when the points are not finite or do not fit.
    """
    p = np.asarray(points5, dtype=np.float64)
    if p.shape != (5, 2):
        raise ValueError(f"points5 must have shape (5, 2), got {p.shape}")
    height = float(np.linalg.norm(p[:2].mean(axis=0) - p[3:].mean(axis=0))) if np.isfinite(p).all() else 0.0
    if height <= 0:
        return math.nan
    w = image_shape[1]
    cx, cy = p.mean(axis=0)
    camera = np.array([[w, 0, cx], [0, w, cy], [0, 0, 1]], dtype=np.float64)
    model_height = float(np.linalg.norm(FIVE_POINT_MODEL[:2].mean(axis=0) - FIVE_POINT_MODEL[3:].mean(axis=0)))
    z = w * model_height / height        # the nose tip on its point at the model's scale
    t0 = np.array([[(p[2, 0] - cx) * z / w], [(p[2, 1] - cy) * z / w], [z]])
    try:
        return _fit(FIVE_POINT_MODEL, p, camera, t0)[0]
    except cv2.error:                    # degenerate points (e.g. all on a line)
        return math.nan


KDEF_BINS = (-67.5, -22.5, 22.5, 67.5)   # edges between the KDEF poses -90, -45, 0, 45, 90


def pose_error_table(true_yaw, estimated_yaw):
    """How far estimated yaw lies from the truth, per true KDEF pose bin, as a DataFrame.

    Columns: ``images``, ``bias`` (mean estimated − true), ``mae``, ``same_bin`` (share whose
    estimate falls in the true pose's bin), ``same_sign`` (among |true yaw| > 10°),
    ``gt30_agree``/``gt45_agree`` (share on the same side of the 30°/45° subset edges).
    The last row, ``all``, pools every image.
    """

    t, e = np.asarray(true_yaw, float), np.asarray(estimated_yaw, float)
    ok = np.isfinite(t) & np.isfinite(e)
    t, e = t[ok], e[ok]
    centre = (np.digitize(t, KDEF_BINS) - 2) * 45

    def row(mask):
        tt, ee = t[mask], e[mask]
        sided = np.abs(tt) > 10
        return {"images": int(mask.sum()), "bias": float(np.mean(ee - tt)) if mask.any() else np.nan,
                "mae": float(np.mean(np.abs(ee - tt))) if mask.any() else np.nan,
                "same_bin": float(np.mean(np.digitize(ee, KDEF_BINS) == np.digitize(tt, KDEF_BINS))) if mask.any() else np.nan,
                "same_sign": float(np.mean(np.sign(ee[sided]) == np.sign(tt[sided]))) if sided.any() else np.nan,
                **{f"gt{th:g}_agree": float(np.mean((np.abs(ee) > th) == (np.abs(tt) > th))) if mask.any() else np.nan
                   for th in POSE_THRESHOLDS}}

    rows = [{"true_pose": int(c), **row(centre == c)} for c in sorted(set(centre.tolist()))]
    rows.append({"true_pose": "all", **row(np.ones(len(t), bool))})
    return pd.DataFrame(rows).set_index("true_pose")


def check_summary(table, estimated: np.ndarray, true_pitch_roll: np.ndarray) -> dict:
    """The headline numbers of a pose check (:func:`pose_error_table` of
    :func:`fernb.data.synthphotos.synthfer_pose_check`'s output), for the notebook's prose and metrics.

    ``half_turned_outward_bias`` is how much further turned (positive) or less turned
    (negative) than the truth the ±45° faces read, averaged over both sides;
    ``frontal_misread`` the share of frontal faces estimated outside the frontal bin;
    ``pitch_bias`` the mean estimated − true pitch.
    """
    out = {k: float(table.loc["all", k]) for k in ("same_bin", "same_sign", "mae", "gt30_agree", "gt45_agree")}
    sides = [(sign, float(table.loc[sign * 45, "bias"])) for sign in (-1, 1) if sign * 45 in table.index]
    out["half_turned_outward_bias"] = float(np.mean([sign * bias for sign, bias in sides])) if sides else float("nan")
    out["frontal_misread"] = float(1 - table.loc[0, "same_bin"]) if 0 in table.index else float("nan")
    pitch = np.asarray(estimated, float)[:, 1] - np.asarray(true_pitch_roll, float)[:, 0]
    out["pitch_bias"] = float(np.nanmean(pitch))
    return out
