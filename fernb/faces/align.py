"""Alignment geometry: 68 landmarks -> 5 points -> similarity onto a template -> crop -> CLAHE.

HAFEM §3: the face box is enlarged ×1.3, an affine transform
from the landmarks frontalises the face, the crop is resized to 224×224 with bicubic
interpolation, and CLAHE (clip limit 2.0) is applied to the L channel in LAB.

Conventions used throughout :mod:`fernb.faces`:

* Points are ``(x, y)`` pixel coordinates with integer values at pixel *centres*
  (OpenCV's convention for ``warpAffine``; landmark files use the same).
* Boxes are ``(x, y, w, h)`` with ``(x, y)`` the top-left *edge* of the box, so a box
  covering pixels 0..W-1 is ``(0, 0, W, H)``.
* "Left"/"right" of the five points are image left/right: point 0 is the eye on the image
  left (the subject's right eye, iBUG 36-41), point 3 the mouth corner on the image left.

The template is the 5-point template of ArcFace/InsightFace (``arcface_dst`` in
``insightface/utils/face_align.py``) for a 112×112 crop, whose frame is read as the tight
face box; the output frame is that box enlarged ``enlarge`` times (1.3 by default), so the
face fills the central 1/1.3 of the crop. The similarity transform (rotation, uniform
scale, translation) is the closed-form least-squares fit of Umeyama (1991), the same
estimate as ``skimage.transform.SimilarityTransform``; it is written out here (a dozen
lines) rather than adding scikit-image as a dependency for it.
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "TEMPLATE_112", "IBUG_FIVE", "FITS", "PROFILE_RATIO", "is_profile", "five_points", "template_points", "enlarge_box", "square_box",
    "similarity_transform", "box_transform", "transform_points", "warp", "align_face", "crop_box",
    "apply_clahe", "clahe_lab",
]

# ArcFace 5-point template in a 112x112 crop: left eye, right eye, nose tip, left and right
# mouth corners (image left/right).
TEMPLATE_112 = np.array([
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
], dtype=np.float64)

# iBUG 68-point indices (0-based) behind each of the five points.
IBUG_FIVE = {
    "left_eye": tuple(range(36, 42)),    # image-left eye contour, averaged to its centre
    "right_eye": tuple(range(42, 48)),
    "nose_tip": (30,),
    "left_mouth": (48,),
    "right_mouth": (54,),
}


def _points(arr, shape: tuple[int, ...], what: str) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"{what} must have shape {shape}, got {a.shape}")
    return a


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """The 5 alignment points (eye centres, nose tip, mouth corners) of 68 iBUG landmarks."""
    lm = _points(landmarks, (68, 2), "landmarks")
    return np.stack([lm[list(idx)].mean(axis=0) for idx in IBUG_FIVE.values()])


def template_points(size: int = 224, enlarge: float = 1.3) -> np.ndarray:
    """Where the five points land in a ``size``×``size`` crop of the face box enlarged ``enlarge``×."""
    if size <= 0 or enlarge <= 0:
        raise ValueError(f"size and enlarge must be positive, got size={size}, enlarge={enlarge}")
    unit = (TEMPLATE_112 + 0.5) / 112.0 - 0.5          # centred on the face box, box = 1
    return (unit / enlarge + 0.5) * size - 0.5


def enlarge_box(box, scale: float = 1.3) -> np.ndarray:
    """``(x, y, w, h)`` scaled ``scale``× in width and height about its centre."""
    x, y, w, h = _points(box, (4,), "box")
    cx, cy = x + w / 2, y + h / 2
    return np.array([cx - w * scale / 2, cy - h * scale / 2, w * scale, h * scale])


def square_box(box) -> np.ndarray:
    """The square box with the same centre whose side is the longer side of ``box``."""
    x, y, w, h = _points(box, (4,), "box")
    side = max(w, h)
    return np.array([x + w / 2 - side / 2, y + h / 2 - side / 2, side, side])


def similarity_transform(src, dst) -> np.ndarray:
    """The 2×3 least-squares similarity (Umeyama) mapping points ``src`` onto ``dst``."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need two equal (K,2) point sets with K >= 2, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s ** 2).sum() / len(src)
    if var_s < 1e-12:
        raise ValueError("source points coincide; no similarity transform")
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / var_s
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def box_transform(box, size: int) -> np.ndarray:
    """The 2×3 scale+shift taking box ``(x, y, w, h)`` onto a ``size``×``size`` image.

    Pixel centres map as ``cv2.resize`` maps them, so warping with it equals cropping the
    box and resizing it (inside the image).
    """
    x, y, w, h = _points(box, (4,), "box")
    sx, sy = size / w, size / h
    return np.array([[sx, 0.0, (0.5 - x) * sx - 0.5], [0.0, sy, (0.5 - y) * sy - 0.5]])


def transform_points(points, m: np.ndarray) -> np.ndarray:
    """``points`` (K,2) mapped through the 2×3 affine ``m``."""
    p = np.asarray(points, dtype=np.float64)
    return p @ m[:, :2].T + m[:, 2]


def warp(image: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """``image`` warped by ``m`` into ``size``×``size`` with bicubic interpolation (zeros outside)."""
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


FITS = ("eyes", "five")
PROFILE_RATIO = 0.45   # eye distance / eye-to-mouth distance: ~0.87 frontal, ~0.6 at 45°, ~0.4 at 60°


def is_profile(points5: np.ndarray) -> bool:
    """True when the eye centres are too close together to fix the alignment (near profile)."""
    p = _points(points5, (5, 2), "points5")
    eyes = np.linalg.norm(p[1] - p[0])
    eye_mouth = np.linalg.norm(p[:2].mean(0) - p[3:].mean(0))
    return bool(eyes < PROFILE_RATIO * eye_mouth)


def align_face(image: np.ndarray, points5: np.ndarray, size: int = 224, enlarge: float = 1.3,
               fit: str = "eyes") -> tuple[np.ndarray, np.ndarray]:
    """Warp ``image`` so its points sit on the template; returns ``(crop, 2×3 matrix)``.

    ``fit="eyes"`` (default) takes the similarity that puts the two eye centres exactly on
    the template's; ``fit="five"`` is the least-squares similarity over all five points
    (HAFEM's text taken literally). The mouth corners move with the expression, so the
    five-point fit rescales the crop with it: on SynthFER one identity's crop scale varies
    across its expressions far more with ``"five"`` than with ``"eyes"``
    (``tests/faces/test_faces.py`` measures both). Near profile the eye centres nearly coincide
    and fix no scale, so when they are closer than ``PROFILE_RATIO`` × the eye-to-mouth
    distance (|yaw| beyond ~60°) the five-point fit is used instead. Only the eye pair may
    be given (``points5`` of shape (2,2), the OpenCV fallback's eyes).
    """
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    pts = np.asarray(points5, dtype=np.float64)
    dst = template_points(size, enlarge)
    if pts.shape not in ((2, 2), (5, 2)):
        raise ValueError(f"points5 must be (5,2) (eyes, nose tip, mouth corners) or (2,2) (eyes), got {pts.shape}")
    if len(pts) == 2 or (fit == "eyes" and not is_profile(pts)):
        pts, dst = pts[:2], dst[:2]
    m = similarity_transform(pts, dst)
    return warp(image, m, size), m


def crop_box(image: np.ndarray, box, size: int = 224, enlarge: float = 1.3) -> tuple[np.ndarray, np.ndarray]:
    """Crop the square around ``box`` enlarged ``enlarge``× and resize it bicubically to ``size``."""
    m = box_transform(square_box(enlarge_box(box, enlarge)), size)
    return warp(image, m, size), m


def _clahe(clip_limit: float, tile_grid: int | tuple[int, int]):
    if clip_limit <= 0:
        raise ValueError(f"clip_limit must be positive, got {clip_limit}")
    grid = (tile_grid, tile_grid) if np.isscalar(tile_grid) else tuple(tile_grid)
    return cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=tuple(int(g) for g in grid))


def clahe_lab(image_rgb: np.ndarray, clip_limit: float = 2.0, tile_grid: int | tuple[int, int] = 8) -> np.ndarray:
    """The LAB image of ``image_rgb`` with CLAHE applied to L only (a and b untouched)."""
    if image_rgb.dtype != np.uint8 or image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H,W,3) RGB image, got {image_rgb.dtype} {image_rgb.shape}")
    lab = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2LAB)
    lab[..., 0] = _clahe(clip_limit, tile_grid).apply(np.ascontiguousarray(lab[..., 0]))
    return lab


def apply_clahe(image: np.ndarray, clip_limit: float = 2.0, tile_grid: int | tuple[int, int] = 8) -> np.ndarray:
    """CLAHE on the lightness of ``image``: the L channel in LAB for RGB, the image itself for gray."""
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return _clahe(clip_limit, tile_grid).apply(image)
    return cv2.cvtColor(clahe_lab(image, clip_limit, tile_grid), cv2.COLOR_LAB2RGB)
