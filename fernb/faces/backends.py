"""Face detectors/landmarkers behind one interface: ``backend.detect(rgb) -> list[Face]``.

* ``"fan"`` — the ``face-alignment`` package (Bulat & Tzimiropoulos): S3FD detector +
  2D-FAN, 68 iBUG landmarks, on the GPU when there is one. Its weights are downloaded
  by torch.hub into ``<torch hub dir>/checkpoints`` on first use; we use them from there.
* ``"mtcnn"`` — the offline default when FAN cannot run: MTCNN (Zhang et al., the P/R/O-Net
  cascade) from the ``facenet-pytorch`` package, whose three weight files ship inside its wheel
  (nothing is downloaded). Boxes, a score and five points per face (eye centres, nose tip,
  mouth corners: the five HAFEM §3 aligns on, as RetinaFace gives them); no 68 landmarks.
* ``"opencv"`` — the last resort: the Haar cascades that ship inside OpenCV (frontal face,
  eyes, profile face). It finds boxes and eye centres, no landmarks.
* ``"auto"`` (default) — ``"fan"`` when the package and its weights can be had, else
  ``"mtcnn"``, else ``"opencv"``, with a warning that names the backend that runs, why the
  better one could not, and what is lost.

Datasets that ship their own landmarks or boxes (AffectNet, RAF-DB, CK+) skip detection
altogether (:mod:`fernb.data.photos`).
"""
from __future__ import annotations

import inspect
import os
import socket
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["Face", "OpenCVBackend", "MTCNNBackend", "FANBackend", "fan_status", "mtcnn_status", "get_backend",
           "compare_backends", "available_backends", "BACKENDS", "FALLBACK_LOSSES", "MTCNN_LOSSES"]

BACKENDS = ("auto", "fan", "mtcnn", "opencv")

# What MTCNN (five points, no 68 landmarks) lacks against FAN.
MTCNN_LOSSES = (
    "no 68-point landmarks: head pose comes from the five points (a coarser yaw estimate) and no landmark figures",
)

FALLBACK_LOSSES = (
    "no 68-point landmarks: no head-pose estimate (pose subsets stay empty) and no landmark figures",
    "alignment uses the two eye centres only, or the face box alone when no eyes are found",
    "profile faces (|yaw| beyond ~45 degrees) are often missed or only boxed",
)


@dataclass
class Face:
    """One detected face, in the source image's pixel coordinates.

    Attributes:
        box: ``(x, y, w, h)``.
        score: detector confidence (backend-specific scale).
        landmarks: ``(68, 2)`` iBUG landmarks, or None (OpenCV and MTCNN backends).
        landmark_score: mean per-landmark confidence (FAN heat-map peaks), or NaN.
        eyes: ``(2, 2)`` eye centres, image-left first, or None.
        points5: ``(5, 2)`` eye centres, nose tip and mouth corners, image-left first (the
            order of :data:`fernb.faces.align.IBUG_FIVE`), or None (MTCNN gives them).
    """

    box: np.ndarray
    score: float = float("nan")
    landmarks: np.ndarray | None = None
    landmark_score: float = float("nan")
    eyes: np.ndarray | None = None
    points5: np.ndarray | None = None

    @property
    def area(self) -> float:
        return float(self.box[2] * self.box[3])

    def to_json(self) -> dict:
        out = {"box": np.round(self.box, 2).tolist(), "score": _num(self.score),
               "landmark_score": _num(self.landmark_score)}
        if self.landmarks is not None:
            out["landmarks"] = np.round(self.landmarks, 2).tolist()
        if self.eyes is not None:
            out["eyes"] = np.round(self.eyes, 2).tolist()
        if self.points5 is not None:
            out["points5"] = np.round(self.points5, 2).tolist()
        return out

    @classmethod
    def from_json(cls, d: dict) -> Face:
        arr = lambda k, shape: None if d.get(k) is None else np.asarray(d[k], dtype=np.float64).reshape(shape)  # noqa: E731
        return cls(box=np.asarray(d["box"], dtype=np.float64), score=_nan(d.get("score")),
                   landmarks=arr("landmarks", (68, 2)), landmark_score=_nan(d.get("landmark_score")),
                   eyes=arr("eyes", (2, 2)), points5=arr("points5", (5, 2)))


def _num(x: float):
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def _nan(x) -> float:
    return float("nan") if x is None else float(x)


# ----------------------------------------------------------------------------- OpenCV
def haar_dir() -> Path:
    """The folder of OpenCV's bundled Haar cascades (pip wheels or a conda install)."""
    candidates = []
    data = getattr(cv2, "data", None)
    if data is not None and getattr(data, "haarcascades", None):
        candidates.append(Path(data.haarcascades))
    candidates += [Path(sys.prefix) / "share" / sub / "haarcascades" for sub in ("opencv4", "OpenCV", "opencv")]
    for folder in candidates:
        if (folder / "haarcascade_frontalface_default.xml").is_file():
            return folder
    raise RuntimeError(
        "OpenCV's Haar cascades were not found (looked in " + ", ".join(map(str, candidates)) + "). "
        "They ship with opencv-python(-headless) 4.x; OpenCV 5 dropped them (pip install 'opencv-python-headless<5')."
    )


class OpenCVBackend:
    """Haar-cascade face and eye detection from the cascades bundled with OpenCV.

    Frontal faces are searched first; when none is found, the profile cascade is run on the
    image and its mirror (profiles get a box, no eyes). Eyes are searched in the upper part
    of each frontal box; a pair (one in each half) gives the eye centres.
    """

    name = "opencv"
    label = "OpenCV Haar cascades"
    has_landmarks = False
    has_points5 = False
    losses = FALLBACK_LOSSES          # what is missing against FAN

    def __init__(self, min_face: int = 24, scale_factor: float = 1.1, min_neighbors: int = 5) -> None:
        if not hasattr(cv2, "CascadeClassifier"):
            raise RuntimeError(f"OpenCV {cv2.__version__} has no CascadeClassifier; install opencv-python-headless<5")
        folder = haar_dir()
        load = lambda f: cv2.CascadeClassifier(str(folder / f))  # noqa: E731
        self.face, self.eye, self.profile = (
            load("haarcascade_frontalface_default.xml"), load("haarcascade_eye.xml"), load("haarcascade_profileface.xml"))
        self.min_face, self.scale_factor, self.min_neighbors = int(min_face), float(scale_factor), int(min_neighbors)
        self.device = "cpu"

    def config(self) -> dict:
        return {"backend": self.name, "opencv": cv2.__version__, "min_face": self.min_face,
                "scale_factor": self.scale_factor, "min_neighbors": self.min_neighbors}

    def _find(self, cascade, gray: np.ndarray, min_size: int, neighbors: int) -> tuple[np.ndarray, np.ndarray]:
        rects, _, weights = cascade.detectMultiScale3(
            gray, scaleFactor=self.scale_factor, minNeighbors=neighbors, minSize=(min_size, min_size), outputRejectLevels=True)
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
        return rects, np.asarray(weights, dtype=np.float64).reshape(-1)

    def detect(self, image: np.ndarray, timings: dict[str, float] | None = None) -> list[Face]:
        """Faces in an RGB (or gray) image. ``timings``, when given, gets the seconds spent in
        ``"detect"`` (face cascades) and ``"landmarks"`` (the eye cascade) added to it."""
        clock = _Clock(timings)
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        gray = cv2.equalizeHist(gray)
        min_size = max(self.min_face, min(gray.shape) // 8)
        rects, weights = self._find(self.face, gray, min_size, self.min_neighbors)
        clock.lap("detect")
        faces = [Face(box=r, score=float(w), eyes=self._eyes(gray, r)) for r, w in zip(rects, weights)]
        clock.lap("landmarks")
        if faces:
            return faces
        for mirrored in (False, True):
            g = gray[:, ::-1] if mirrored else gray
            rects, weights = self._find(self.profile, np.ascontiguousarray(g), min_size, self.min_neighbors)
            for r, w in zip(rects, weights):
                if mirrored:
                    r = r.copy()
                    r[0] = gray.shape[1] - r[0] - r[2]
                faces.append(Face(box=r, score=float(w)))
        clock.lap("detect")
        return faces

    def _eyes(self, gray: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        x, y, w, h = (int(round(v)) for v in box)
        roi = gray[max(y, 0): y + int(h * 0.6), max(x, 0): x + w]
        if roi.size == 0:
            return None
        rects, _ = self._find(self.eye, roi, max(6, w // 10), 3)
        if len(rects) < 2:
            return None
        centres = rects[:, :2] + rects[:, 2:] / 2 + [max(x, 0), max(y, 0)]
        sizes = rects[:, 2] * rects[:, 3]
        mid = x + w / 2
        left = [i for i in range(len(rects)) if centres[i, 0] < mid]
        right = [i for i in range(len(rects)) if centres[i, 0] >= mid]
        if not left or not right:
            return None
        li, ri = max(left, key=lambda i: sizes[i]), max(right, key=lambda i: sizes[i])
        eyes = centres[[li, ri]]
        dist = np.linalg.norm(eyes[1] - eyes[0])
        if not (0.2 * w <= dist <= 0.7 * w):
            return None
        return eyes


# ------------------------------------------------------------------------------ MTCNN
def mtcnn_status() -> dict:
    """Whether the MTCNN backend can run: ``facenet-pytorch`` importable with its weight files."""
    try:   # installed by `make` without its (stale) version pins; see docs/setup.md
        import facenet_pytorch
    except Exception as exc:  # ImportError, or an install broken by its pins
        return {"installed": False, "ready": False,
                "reason": f"the facenet-pytorch package is not importable ({type(exc).__name__}: {exc}); "
                          "`make test` / `make repro` install it (requirements-nodeps.lock)"}
    folder = Path(facenet_pytorch.__file__).parent / "data"
    missing = [f for f in ("pnet.pt", "rnet.pt", "onet.pt") if not (folder / f).is_file()]
    return {"installed": True, "ready": not missing, "weights": str(folder),
            "reason": f"facenet-pytorch's weight files {missing} are missing from {folder}" if missing else ""}


class MTCNNBackend:
    """MTCNN from ``facenet-pytorch``: boxes, a score and five points per face.

    The weights ship inside the package's wheel, so it runs offline. ``min_face`` (pixels),
    ``thresholds`` (P/R/O-Net) and ``factor`` (the pyramid's step) are MTCNN's own knobs, at
    facenet-pytorch's defaults. ``pad``: each image gets a mid-grey border of this share of its
    longer side before detection (boxes and points are shifted back), because the cascade
    misses faces that fill the frame. ``detect_batch`` runs several images of one size
    together (the P-Net pyramid is batched).
    """

    name = "mtcnn"
    label = "MTCNN (facenet-pytorch)"
    has_landmarks = False
    has_points5 = True                # eye centres, nose tip, mouth corners (Face.points5)
    losses = MTCNN_LOSSES             # what is missing against FAN

    def __init__(self, device: str | None = None, min_face: int = 20, thresholds=(0.6, 0.7, 0.7),
                 factor: float = 0.709, pad: float = 0.25) -> None:
        status = mtcnn_status()
        if not status["ready"]:
            raise RuntimeError(f"MTCNN backend unavailable: {status['reason']}")
        import torch  # deferred: the OpenCV path of the face pipeline never loads torch
        from facenet_pytorch import MTCNN

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.min_face, self.thresholds, self.factor = int(min_face), tuple(float(t) for t in thresholds), float(factor)
        self.pad = float(pad)
        self._models: dict[int, object] = {}
        self._MTCNN = MTCNN
        import facenet_pytorch

        self.version = getattr(facenet_pytorch, "__version__", "2.6.0")

    def config(self) -> dict:
        return {"backend": self.name, "facenet_pytorch": self.version, "device": self.device,
                "min_face": self.min_face, "thresholds": list(self.thresholds), "factor": self.factor, "pad": self.pad}

    def _model(self, min_size: int):
        if min_size not in self._models:
            self._models[min_size] = self._MTCNN(min_face_size=min_size, thresholds=list(self.thresholds),
                                                 factor=self.factor, keep_all=True, device=self.device)
        return self._models[min_size]

    @staticmethod
    def _rgb(image: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.stack([image] * 3, axis=-1) if image.ndim == 2 else image[..., :3])

    def _faces(self, boxes, probs, points, shift: int) -> list[Face]:
        if boxes is None:
            return []
        faces = []
        for b, p, pts in zip(boxes, probs, points):
            x0, y0, x1, y1 = (float(v) - shift for v in b)
            five = np.asarray(pts, dtype=np.float64).reshape(5, 2) - shift
            faces.append(Face(box=np.array([x0, y0, x1 - x0, y1 - y0]), score=float(p), points5=five, eyes=five[:2]))
        return faces

    def detect(self, image: np.ndarray, timings: dict[str, float] | None = None) -> list[Face]:
        """Faces in an RGB (or gray) uint8 image; ``timings`` gets the seconds in ``"detect"``
        (the cascade finds boxes and points together, so ``"landmarks"`` stays 0)."""
        return self.detect_batch([image], timings)[0]

    def detect_batch(self, images: list[np.ndarray], timings: dict[str, float] | None = None) -> list[list[Face]]:
        """:meth:`detect` for several images; images of one size run as one batch."""
        clock = _Clock(timings)
        out: list[list[Face]] = [[] for _ in images]
        groups: dict[tuple, list[int]] = {}
        for i, img in enumerate(images):
            groups.setdefault(img.shape[:2], []).append(i)
        for shape, idx in groups.items():
            min_size = self.min_face
            # A mid-grey border: MTCNN's cascade misses a face that fills the whole frame (a tight
            # crop, as many web photos are); a quarter of the side on each edge lets it see one.
            shift = int(round(self.pad * max(shape)))
            batch = np.stack([cv2.copyMakeBorder(self._rgb(images[i]), shift, shift, shift, shift,
                                                 cv2.BORDER_CONSTANT, value=(127, 127, 127)) for i in idx])
            try:
                boxes, probs, points = self._model(min_size).detect(batch, landmarks=True)
            except ValueError as exc:   # facenet-pytorch's P-Net stage found no candidate in any image:
                if "non-empty" not in str(exc):   # torch.cat of an empty list (no face anywhere)
                    raise
                continue
            for j, i in enumerate(idx):
                out[i] = self._faces(boxes[j], probs[j], points[j], shift)
        clock.lap("detect")
        return out


# -------------------------------------------------------------------------------- FAN
def fan_status() -> dict:
    """Whether the face-alignment backend can run offline: package, weight files, reason."""
    try:   # optional: face-alignment is installed by `make fan`, and may be absent
        import face_alignment  # noqa: F401
        import torch.hub
        from face_alignment.api import models_urls
        from face_alignment.detection.sfd.sfd_detector import models_urls as sfd_urls
    except Exception as exc:  # ImportError, or a broken install
        return {"installed": False, "weights": {}, "ready": False,
                "reason": f"the face-alignment package is not importable ({type(exc).__name__}: {exc}); "
                          "install it with `make fan` (see docs/data.md)"}
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    urls = {"s3fd": sfd_urls["s3fd"], "2DFAN-4": models_urls["2DFAN-4"]}
    weights = {k: str(folder / os.path.basename(u)) for k, u in urls.items()}
    missing = [k for k, p in weights.items() if not Path(p).is_file()]
    reason = "" if not missing else (
        f"face-alignment weights {missing} are not in {folder} (they are downloaded from "
        f"{', '.join(urls[k] for k in missing)} on first use)")
    return {"installed": True, "weights": weights, "ready": not missing, "reason": reason, "urls": urls}


class FANBackend:
    """face-alignment's S3FD detector + 2D-FAN: boxes and 68 iBUG landmarks per face."""

    name = "fan"
    label = "face-alignment (FAN)"
    has_landmarks = True
    has_points5 = False               # its 68 landmarks give them (fernb.faces.align.five_points)
    losses = ()

    def __init__(self, device: str | None = None, detector: str = "sfd", download: bool = False,
                 download_timeout: float = 20.0) -> None:
        status = fan_status()
        if not status["installed"] or (not status["ready"] and not download):
            raise RuntimeError(f"face-alignment backend unavailable: {status['reason']}")
        import face_alignment  # optional, as in fan_status

        if device is None:
            import torch  # deferred: the OpenCV path of the face pipeline never loads torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        kwargs = {"device": self.device, "face_detector": detector, "flip_input": False}
        params = inspect.signature(face_alignment.FaceAlignment).parameters
        if "compile" in params:
            kwargs["compile"] = False
        landmarks_type = getattr(face_alignment.LandmarksType, "TWO_D", None) or face_alignment.LandmarksType._2D
        old_timeout = socket.getdefaulttimeout()
        socket.setdefaulttimeout(download_timeout)
        try:
            self.model = face_alignment.FaceAlignment(landmarks_type, **kwargs)
        except Exception as exc:
            raise RuntimeError(f"face-alignment backend unavailable: could not load its weights ({type(exc).__name__}: {exc})") from exc
        finally:
            socket.setdefaulttimeout(old_timeout)
        self.detector = detector
        self.version = getattr(face_alignment, "__version__", "?")

    def config(self) -> dict:
        return {"backend": self.name, "face_alignment": self.version, "detector": self.detector, "device": self.device}

    def detect(self, image: np.ndarray, boxes: np.ndarray | None = None,
               timings: dict[str, float] | None = None) -> list[Face]:
        """Faces in an RGB (or gray) image; with ``boxes`` (K×4 x,y,w,h), landmarks in those boxes.

        ``timings``, when given, gets the seconds spent in ``"detect"`` (S3FD) and
        ``"landmarks"`` (2D-FAN) added to it: the detector then runs as its own call, exactly
        as ``get_landmarks_from_image`` runs it when it is given no boxes.
        """
        rgb = np.stack([image] * 3, axis=-1) if image.ndim == 2 else image
        given = None
        if boxes is not None:
            b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            given = [np.array([x, y, x + w, y + h, 1.0]) for x, y, w, h in b]
        clock = _Clock(timings)
        if given is None and timings is not None:
            given = list(self.model.face_detector.detect_from_image(rgb.copy()))
            clock.lap("detect")
            if not given:
                return []
        out = self.model.get_landmarks_from_image(rgb, detected_faces=given, return_bboxes=True, return_landmark_score=True)
        clock.lap("landmarks")
        landmarks, scores, bboxes = out
        if landmarks is None:
            return []
        faces = []
        for lm, sc, bb in zip(landmarks, scores, bboxes):
            bb = np.asarray(bb, dtype=np.float64)
            box = np.array([bb[0], bb[1], bb[2] - bb[0], bb[3] - bb[1]])
            score = float(bb[4]) if len(bb) > 4 else float("nan")
            faces.append(Face(box=box, score=score, landmarks=np.asarray(lm, dtype=np.float64)[:, :2],
                              landmark_score=float(np.mean(sc)) if sc is not None else float("nan")))
        return faces


class _Clock:
    """Adds the seconds since the last lap to ``timings[stage]`` (does nothing without ``timings``)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings, self.last = timings, time.perf_counter()

    def lap(self, stage: str) -> None:
        if self.timings is not None:
            now = time.perf_counter()
            self.timings[stage] = self.timings.get(stage, 0.0) + now - self.last
            self.last = now


# ---------------------------------------------------------------------------- choose
def get_backend(name: str = "auto", device: str | None = None, *, download: bool = True, warn: bool = True,
                **options):
    """A backend by name; ``"auto"`` tries FAN, then MTCNN, then OpenCV's Haar cascades, loudly.

    With ``download=True`` an installed face-alignment whose weights are missing tries to
    fetch them (torch.hub), giving up after a short timeout on an offline machine. A
    fallback backend carries the reason as ``fallback_reason``: why each better backend could
    not run, and what is lost (:data:`MTCNN_LOSSES`, :data:`FALLBACK_LOSSES`). ``warn=False``
    leaves the RuntimeWarning out, for a caller that shows both itself (notebook 00 does, as
    a note, so that it is not a warning box).
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown face backend {name!r}; expected one of {BACKENDS}")
    if name == "opencv":
        return OpenCVBackend(**options)
    if name == "fan":
        return FANBackend(device=device, download=download, **options)
    if name == "mtcnn":
        return MTCNNBackend(device=device, **options)
    status = fan_status()
    reason = status["reason"]
    if status["installed"] and (status["ready"] or download):
        try:
            return FANBackend(device=device, download=download)
        except RuntimeError as exc:
            reason = str(exc)
    try:
        backend = MTCNNBackend(device=device)
    except RuntimeError as exc:
        reason = f"{reason}; and {exc}"
        backend = OpenCVBackend()
    backend.fallback_reason = reason
    message = (f"FACE BACKEND FALLBACK: using {backend.label} instead of face-alignment (FAN) because "
               f"{reason}. Lost: " + "; ".join(backend.losses) + ".")
    if warn:
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    return backend


# ------------------------------------------------------------------------- measure
def compare_backends(images, backends: dict) -> list[dict]:
    """Each backend (``{name: backend}``) run over the same ``images`` (uint8 RGB arrays; None
    for a file that did not decode): one row per backend with the photos, those where at least
    one face was found (and the rate), those with several, the faces per photo and the
    milliseconds per photo (wall clock, after one warm-up call). For ``make bench`` and
    notebook 00 on a real-photo set (``facial_expressions``); it prints and asserts nothing."""
    decoded = [im for im in images if im is not None]
    if not decoded:
        raise ValueError("compare_backends needs at least one decoded image")
    rows = []
    for name, backend in backends.items():
        backend.detect(decoded[0])                         # warm-up: model load, first call
        start = time.perf_counter()
        counts = [len(backend.detect(im)) for im in decoded]
        seconds = time.perf_counter() - start
        found = sum(c > 0 for c in counts)
        rows.append({"backend": name, "photos": len(images), "undecodable": len(images) - len(decoded),
                     "found": found, "found_rate": found / len(images), "several": sum(c > 1 for c in counts),
                     "faces_per_photo": sum(counts) / len(decoded), "ms_per_photo": 1e3 * seconds / len(decoded)})
    return rows


def available_backends(device: str | None = "cpu") -> dict:
    """Every backend that can run here without downloading anything, by name: ``opencv``,
    ``mtcnn`` when facenet-pytorch is installed, ``fan`` when face-alignment and its weights
    are. What :func:`compare_backends` is given by ``make bench`` and notebook 00."""
    found = {"opencv": OpenCVBackend()}
    if mtcnn_status()["ready"]:
        found["mtcnn"] = MTCNNBackend(device=device)
    if fan_status()["ready"]:
        found["fan"] = FANBackend(device=device, download=False)
    return found
