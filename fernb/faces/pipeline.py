"""The face pipeline: detect -> 68 landmarks -> 5 points -> template -> 224 bicubic -> CLAHE.

>>> pipe = FacePipeline()                        # backend "auto": FAN, else OpenCV (loudly)
>>> res = pipe.process(rgb_image)                # detect and align one photo
>>> res.status, res.image.shape, res.alignment   # ('ok', (224, 224, 3), 'landmarks')
>>> pipe.process(rgb_image, landmarks=lm68)      # a dataset's own landmarks: no detection

Every image ends as a :class:`FaceResult` whose ``status`` is ``"ok"`` or the reason it is
not a face sample (:data:`REJECT_REASONS`); callers count those, nothing is dropped
silently. Detections are cached on disk by image content and backend, so a second run over
the same files does not detect again.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fernb.faces.align import FITS, align_face, apply_clahe, crop_box, five_points, transform_points
from fernb.faces.backends import Face, get_backend

__all__ = ["FacePipeline", "FaceResult", "LandmarkCache", "REJECT_REASONS", "check_fit", "decode_rgb"]

REJECT_REASONS = {
    "unreadable": "the file does not decode as an image",
    "no_face": "the detector found no face",
    "multiple_faces": "several faces and multiple='reject'",
    "bad_fit": "the landmark fit is implausible for the face box (far off)",
}


@dataclass
class FaceResult:
    """What the pipeline made of one image.

    Attributes:
        status: ``"ok"`` or a key of :data:`REJECT_REASONS`.
        image: the aligned uint8 crop, or None when rejected.
        alignment: how it was aligned: ``"landmarks"`` (68 points -> 5), ``"points5"``
            (given 5 points), ``"eyes"`` (eye centres only), ``"box"`` (box crop only),
            ``"aligned"`` (already aligned: resized only).
        landmarks: ``(68, 2)`` landmarks in the crop's pixels, or None.
        source_landmarks: the same in the source image's pixels, or None.
        matrix: the 2×3 source -> crop transform.
        n_faces: faces the detector found (1 for given landmarks/boxes).
        detail: why it was rejected, in words.
    """

    status: str
    image: np.ndarray | None = None
    alignment: str = ""
    landmarks: np.ndarray | None = None
    source_landmarks: np.ndarray | None = None
    matrix: np.ndarray | None = None
    n_faces: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def decode_rgb(data: bytes) -> np.ndarray | None:
    """Encoded image bytes as uint8 RGB (gray files replicated), or None if undecodable."""
    if not data:
        return None
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def check_fit(landmarks: np.ndarray, box: np.ndarray | None, image_shape: tuple[int, ...], *,
              landmark_score: float = float("nan"), min_score: float = 0.2) -> str:
    """"" when 68 landmarks are a plausible face, else why not.

    Checks: all finite; at least 90% inside the image (and inside the box enlarged ×1.5 when
    a box is known); the eye-to-mouth distance 15-90% of the box height (or of the landmark
    extent); the mean landmark confidence at least ``min_score`` when the backend gives one.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2) or not np.isfinite(lm).all():
        return "landmarks missing or not finite"
    h, w = image_shape[:2]
    inside = ((lm[:, 0] >= -0.5) & (lm[:, 0] <= w - 0.5) & (lm[:, 1] >= -0.5) & (lm[:, 1] <= h - 0.5)).mean()
    if inside < 0.9:
        return f"only {inside:.0%} of the landmarks inside the image"
    p5 = five_points(lm)
    eye_mouth = float(np.linalg.norm(p5[:2].mean(0) - p5[3:].mean(0)))
    if box is not None:
        x, y, bw, bh = box
        cx, cy = x + bw / 2, y + bh / 2
        in_box = ((np.abs(lm[:, 0] - cx) <= 0.75 * bw) & (np.abs(lm[:, 1] - cy) <= 0.75 * bh)).mean()
        if in_box < 0.9:
            return f"only {in_box:.0%} of the landmarks inside the face box enlarged x1.5"
        ref = float(bh)
    else:
        ref = float(lm[:, 1].max() - lm[:, 1].min())
    if ref <= 0 or not (0.15 <= eye_mouth / ref <= 0.9):
        return f"eye-to-mouth distance is {eye_mouth / max(ref, 1e-9):.0%} of the face height (expected 15-90%)"
    if np.isfinite(landmark_score) and landmark_score < min_score:
        return f"mean landmark confidence {landmark_score:.2f} < {min_score}"
    return ""


class LandmarkCache:
    """Detections per image content and backend, in an append-only JSON-lines file.

    One line per image: ``{"key": sha1(bytes), "faces": [...]}``. Appending is cheap and an
    interrupted run loses at most its last line (a torn line is ignored on reading).
    """

    def __init__(self, folder: str | os.PathLike, backend_config: dict) -> None:
        tag = hashlib.sha1(json.dumps(backend_config, sort_keys=True).encode()).hexdigest()[:12]
        self.path = Path(folder) / f"{backend_config.get('backend', 'faces')}-{tag}.jsonl"
        self._faces: dict[str, list[Face]] = {}
        if self.path.is_file():
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        row = json.loads(line)
                        self._faces[row["key"]] = [Face.from_json(f) for f in row["faces"]]
                    except (json.JSONDecodeError, KeyError, ValueError):
                        continue
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._faces)

    @staticmethod
    def key(image: np.ndarray) -> str:
        h = hashlib.sha1(np.ascontiguousarray(image).tobytes())
        h.update(str(image.shape).encode())
        return h.hexdigest()

    def get(self, key: str) -> list[Face] | None:
        faces = self._faces.get(key)
        if faces is None:
            self.misses += 1
        else:
            self.hits += 1
        return faces

    def put(self, key: str, faces: list[Face]) -> None:
        self._faces[key] = faces
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"key": key, "faces": [f.to_json() for f in faces]}) + "\n")


@dataclass
class FacePipeline:
    """Detection, alignment and CLAHE with HAFEM's settings as defaults.

    Args:
        backend: ``"auto"``, ``"fan"``, ``"opencv"`` or a backend object.
        size: output side in pixels (224 in HAFEM).
        enlarge: face-box enlargement (1.3 in HAFEM).
        fit: ``"eyes"`` (eye centres exactly on the template) or ``"five"`` (least squares
            over the five points); see :func:`fernb.faces.align.align_face`.
        clahe: apply CLAHE to the crop's lightness.
        clip_limit, tile_grid: CLAHE settings (2.0 and 8×8).
        multiple: with several faces, ``"largest"`` keeps the largest (and the count shows
            it) or ``"reject"`` rejects the image.
        cache_dir: where detections are cached (None: no cache).
        min_score: lowest mean FAN landmark confidence accepted.
        device: torch device for FAN (default: cuda when available).
        warn_fallback: warn (RuntimeWarning) when ``"auto"`` falls back to OpenCV; False for a
            caller that shows ``config()["fallback_reason"]`` itself.
    """

    backend: object = "auto"
    size: int = 224
    enlarge: float = 1.3
    fit: str = "eyes"
    clahe: bool = True
    clip_limit: float = 2.0
    tile_grid: int = 8
    multiple: str = "largest"
    cache_dir: str | os.PathLike | None = None
    min_score: float = 0.2
    device: str | None = None
    warn_fallback: bool = True
    _backend: object = field(default=None, init=False, repr=False)
    _cache: LandmarkCache | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.fit not in FITS:
            raise ValueError(f"fit must be one of {FITS}, got {self.fit!r}")
        if self.multiple not in ("largest", "reject"):
            raise ValueError(f"multiple must be 'largest' or 'reject', got {self.multiple!r}")
        if not isinstance(self.backend, str):
            self._backend = self.backend

    @property
    def detector(self):
        """The backend object, created on first use (so given-landmark datasets never load FAN)."""
        if self._backend is None:
            self._backend = get_backend(self.backend, device=self.device, warn=self.warn_fallback)
        return self._backend

    @property
    def cache(self) -> LandmarkCache | None:
        if self.cache_dir is not None and self._cache is None:
            self._cache = LandmarkCache(self.cache_dir, self.detector.config())
        return self._cache

    def config(self) -> dict:
        """The settings, for a dataset's metadata."""
        out = {"size": self.size, "enlarge": self.enlarge, "clahe": self.clahe, "clip_limit": self.clip_limit,
               "tile_grid": self.tile_grid, "multiple": self.multiple, "interpolation": "bicubic",
               "template": "ArcFace 5-point", "fit": self.fit}
        if self._backend is not None:
            out["backend"] = self._backend.config()
            if getattr(self._backend, "fallback_reason", ""):
                out["fallback_reason"] = self._backend.fallback_reason
        return out

    # -------------------------------------------------------------------- stages
    def finish(self, crop: np.ndarray) -> np.ndarray:
        """CLAHE (when on) of an aligned crop."""
        return apply_clahe(crop, self.clip_limit, self.tile_grid) if self.clahe else crop

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in ``image`` via the backend, through the cache when there is one."""
        cache = self.cache
        key = LandmarkCache.key(image) if cache is not None else None
        faces = cache.get(key) if cache is not None else None
        if faces is None:
            faces = self.detector.detect(image)
            if cache is not None:
                cache.put(key, faces)
        return faces

    def process(self, image: np.ndarray | None, *, landmarks: np.ndarray | None = None,
                points5: np.ndarray | None = None, box=None, aligned: bool = False) -> FaceResult:
        """One image (uint8 RGB or gray) to a :class:`FaceResult`.

        Given ``landmarks`` (68×2), ``points5`` (5×2) or a ``box``, those are used instead of
        detecting (a box alone gets landmarks from FAN when it is the backend, else a box
        crop); ``aligned=True`` only resizes.
        """
        if image is None:
            return FaceResult("unreadable", detail=REJECT_REASONS["unreadable"])
        if aligned:
            crop = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_CUBIC)
            h, w = image.shape[:2]
            m = np.array([[self.size / w, 0, 0.5 * self.size / w - 0.5], [0, self.size / h, 0.5 * self.size / h - 0.5]])
            return FaceResult("ok", self.finish(crop), "aligned", matrix=m, n_faces=1)
        if landmarks is not None:
            return self._from_landmarks(image, np.asarray(landmarks, dtype=np.float64), None, 1)
        if points5 is not None:
            crop, m = align_face(image, points5, self.size, self.enlarge, self.fit)
            return FaceResult("ok", self.finish(crop), "points5", matrix=m, n_faces=1)
        if box is not None:
            box = np.asarray(box, dtype=np.float64)
            if getattr(self.detector, "has_landmarks", False):
                faces = self.detector.detect(image, boxes=box[None])
                if faces:
                    return self._from_face(image, faces[0], 1)
            crop, m = crop_box(image, box, self.size, self.enlarge)
            return FaceResult("ok", self.finish(crop), "box", matrix=m, n_faces=1)
        faces = self.detect(image)
        if not faces:
            return FaceResult("no_face", detail=REJECT_REASONS["no_face"])
        if len(faces) > 1 and self.multiple == "reject":
            return FaceResult("multiple_faces", n_faces=len(faces), detail=f"{len(faces)} faces found")
        return self._from_face(image, max(faces, key=lambda f: f.area), len(faces))

    def process_all(self, image: np.ndarray, faces: list[Face] | None = None) -> list[tuple[Face, FaceResult]]:
        """Every face in ``image`` (uint8 RGB or gray), largest first, each aligned and CLAHE'd.

        ``faces`` are detections already made by :meth:`detect` (so a caller can time the
        two stages apart); None detects here. No face gives an empty list; a face whose
        landmark fit is implausible keeps its ``"bad_fit"`` result, nothing is dropped.
        """
        faces = self.detect(image) if faces is None else faces
        ordered = sorted(faces, key=lambda f: f.area, reverse=True)
        return [(face, self._from_face(image, face, len(faces))) for face in ordered]

    def _from_face(self, image: np.ndarray, face: Face, n_faces: int) -> FaceResult:
        if face.landmarks is not None:
            return self._from_landmarks(image, face.landmarks, face, n_faces)
        if face.points5 is not None:
            crop, m = align_face(image, face.points5, self.size, self.enlarge, self.fit)
            return FaceResult("ok", self.finish(crop), "points5", matrix=m, n_faces=n_faces)
        if face.eyes is not None:
            crop, m = align_face(image, face.eyes, self.size, self.enlarge, self.fit)
            return FaceResult("ok", self.finish(crop), "eyes", matrix=m, n_faces=n_faces)
        crop, m = crop_box(image, face.box, self.size, self.enlarge)
        return FaceResult("ok", self.finish(crop), "box", matrix=m, n_faces=n_faces)

    def _from_landmarks(self, image: np.ndarray, lm: np.ndarray, face: Face | None, n_faces: int) -> FaceResult:
        why = check_fit(lm, None if face is None else face.box, image.shape,
                        landmark_score=float("nan") if face is None else face.landmark_score, min_score=self.min_score)
        if why:
            return FaceResult("bad_fit", n_faces=n_faces, source_landmarks=lm, detail=why)
        crop, m = align_face(image, five_points(lm), self.size, self.enlarge, self.fit)
        return FaceResult("ok", self.finish(crop), "landmarks", landmarks=transform_points(lm, m),
                          source_landmarks=lm, matrix=m, n_faces=n_faces)
