"""From a publisher's file list to a :class:`~fernb.data.core.FERData` of aligned faces.

The in-the-wild loaders (RAF-DB, AffectNet, KDEF, CK+) only parse their publisher's
layout into :class:`FaceRecord` rows (file, label, split, subject, whatever boxes or
landmarks the publisher ships); :func:`build_dataset` then decodes each image, runs the
face pipeline on it (or uses the shipped landmarks/box instead of detecting), and counts
every file that does not become a sample, by reason.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fernb.data.core import DatasetFormatError, FERData
from fernb.faces.pipeline import REJECT_REASONS, FacePipeline, LandmarkCache, check_fit, decode_rgb
from fernb.faces.pose import FIVE_POINT_SOURCE, head_pose, yaw_from_five
from fernb.paths import project_root
from fernb.progress import progress_bar


@dataclass
class FaceRecord:
    """One image as a publisher lists it.

    Attributes:
        source_id: member name of the file inside its :class:`~fernb.data.archive.Source`.
        label: canonical class index (:data:`fernb.labels.CANONICAL`).
        split: ``"train"``, ``"val"`` or ``"test"``.
        subject: subject/identity id ("" when unknown), for subject-disjoint folds.
        yaw: true head yaw in degrees when the publisher gives it (KDEF), else NaN.
        landmarks: ``(68, 2)`` publisher landmarks (x, y) in the original image's pixels.
        points5: ``(5, 2)`` publisher points: left eye, right eye, nose tip, left and right
            mouth corners (image left/right).
        box: ``(x, y, w, h)`` publisher face box in the original image's pixels.
        aligned: the file is already an aligned face crop (RAF-DB ``aligned``): it is only
            resized (and CLAHE'd), never detected.
        fold: subject-disjoint fold index (-1 when the dataset has no folds).
    """

    source_id: str
    label: int
    split: str
    subject: str = ""
    yaw: float = float("nan")
    landmarks: np.ndarray | None = None
    points5: np.ndarray | None = None
    box: tuple[float, float, float, float] | None = None
    aligned: bool = False
    fold: int = -1


def default_cache_dir() -> Path:
    """Where detections are cached between runs: ``<project>/data/cache/faces`` (git-ignored)."""
    return project_root() / "data" / "cache" / "faces"


def build_dataset(name: str, src, records: list[FaceRecord], *, classes: tuple[str, ...], pipeline=None,
                  image_size: int = 224, rgb: bool = True, meta: dict | None = None, progress: bool = True):
    """Decode, align and CLAHE every record's image into a :class:`~fernb.data.core.FERData`.

    Args:
        name: dataset name.
        src: the :class:`~fernb.data.archive.Source` the records' ``source_id`` refer to.
        records: what the loader parsed.
        classes: the class names (canonical order) the labels index.
        pipeline: a :class:`~fernb.faces.pipeline.FacePipeline` (its ``size`` wins), or None for
            the default one at ``image_size`` with detections cached under
            :func:`default_cache_dir`.
        rgb: keep colour; False stores grayscale crops.
        meta: the loader's metadata, extended here.

    A record's own landmarks, 5 points or box are used instead of detecting. Pose is the
    publisher's yaw when given (``pose_source`` ``"publisher"``), else estimated from the 68
    landmarks (solvePnP, ``"estimated"``), else — the face aligned on five points, the
    record's own or a detector's such as MTCNN — the yaw of those five points
    (:func:`~fernb.faces.pose.yaw_from_five`, ``"five_point"``; pitch and roll stay NaN), else
    NaN (``"none"``). A detector's five points are read back through the pipeline's
    detection cache (detected again when it has none).
    Files that do not become samples are listed in ``meta["rejected"][reason]`` with the
    detail (a loader may pass in rows it already rejected, in ``meta["rejected"]``: they are
    kept and counted in ``listed``, so ``listed == kept + sum(n_rejected)``); faces kept from multi-face images in ``meta["multiple_faces_kept_largest"]``.
    """
    if pipeline is None:
        pipeline = FacePipeline(size=image_size, cache_dir=default_cache_dir())
    size = pipeline.size
    by_name: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        by_name.setdefault(rec.source_id, []).append(i)
    # rows the loader already turned down before any pixel was read (e.g. no usable annotation)
    rejected: dict[str, list[dict[str, str]]] = {k: list(v) for k, v in (meta or {}).get("rejected", {}).items()}
    pre_rejected = sum(len(v) for v in rejected.values())
    missing = [n for n in by_name if n not in src]
    for n in missing:
        rejected.setdefault("missing_file", []).append({"file": n, "detail": "listed by the publisher's labels but not in the source"})
    results: dict[int, tuple] = {}
    multiple: list[str] = []
    alignment = Counter()
    present = [n for n in by_name if n in src]
    bar = progress_bar(src.read_many(present), total=len(present), desc=f"{name}: faces", disable=not progress,
                       mininterval=1.0)
    for member, data in bar:
        image = decode_rgb(data)
        for i in by_name[member]:
            rec = records[i]
            res = pipeline.process(image, landmarks=rec.landmarks, points5=rec.points5, box=rec.box, aligned=rec.aligned)
            if not res.ok:
                rejected.setdefault(res.status, []).append({"file": member, "detail": res.detail})
                continue
            if res.n_faces > 1:
                multiple.append(member)
            alignment[res.alignment] += 1
            results[i] = (res, image.shape[:2], _aligned_points5(pipeline, image, rec, res))
    keep = sorted(results)
    if not keep:
        counts = {k: len(v) for k, v in rejected.items()}
        raise DatasetFormatError(f"{src.where()}: no image of {len(records) + pre_rejected} listed became a face sample; "
                                 f"rejected {counts}")
    images = np.empty((len(keep), size, size, 3) if rgb else (len(keep), size, size), dtype=np.uint8)
    landmarks = np.full((len(keep), 68, 2), np.nan, dtype=np.float32)
    angles = np.full((len(keep), 3), np.nan, dtype=np.float32)
    pose_source = np.full(len(keep), "none", dtype="<U10")
    for j, i in enumerate(keep):
        res, shape, points5 = results[i]
        crop = res.image
        if crop.ndim == 2 and rgb:
            crop = np.stack([crop] * 3, axis=-1)
        elif crop.ndim == 3 and not rgb:

            crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        images[j] = crop
        if res.landmarks is not None:
            landmarks[j] = res.landmarks
        if np.isfinite(records[i].yaw):
            angles[j, 0], pose_source[j] = records[i].yaw, "publisher"
        elif res.source_landmarks is not None:
            angles[j] = head_pose(res.source_landmarks, shape)
            pose_source[j] = "estimated"
        elif points5 is not None:
            angles[j, 0] = yaw_from_five(points5)
            pose_source[j] = FIVE_POINT_SOURCE if np.isfinite(angles[j, 0]) else "none"
    meta = dict(meta or {})
    meta.update({
        "faces": pipeline.config(),
        "listed": len(records) + pre_rejected, "kept": len(keep),
        "n_rejected": {k: len(v) for k, v in rejected.items()},
        "rejected": rejected,
        "multiple_faces_kept_largest": multiple,
        "alignment": dict(alignment),
    })
    recs = [records[i] for i in keep]
    return FERData(
        name=name, images=images, labels=np.array([r.label for r in recs]), split=np.array([r.split for r in recs]),
        classes=classes, source_ids=np.array([r.source_id for r in recs]), pose=angles[:, 0],
        landmarks=landmarks if np.isfinite(landmarks).any() else None,
        extras={"subject": np.array([r.subject for r in recs], dtype=str), "fold": np.array([r.fold for r in recs], dtype=np.int64),
                "pitch": angles[:, 1], "roll": angles[:, 2], "pose_source": pose_source,
                "alignment": np.array([results[i][0].alignment for i in keep], dtype="<U9")},
        meta=meta,
    )


def _aligned_points5(pipeline, image: np.ndarray, rec: FaceRecord, res) -> np.ndarray | None:
    """The five points a face was aligned on when it had no 68 landmarks, else None: the
    record's own, or those of the largest face the backend found (through the pipeline's
    cache, so a cached run does not detect twice). None too when the publisher gives the yaw."""
    if res.alignment != "points5" or res.source_landmarks is not None or np.isfinite(rec.yaw):
        return None
    if rec.points5 is not None:
        return np.asarray(rec.points5, dtype=np.float64)
    faces = [f for f in pipeline.detect(image) if getattr(f, "points5", None) is not None]
    return max(faces, key=lambda f: f.area).points5 if faces else None


def _gives_points5(detector) -> bool:
    """Whether a backend gives five points per face (MTCNN); a backend may say so itself."""
    return bool(getattr(detector, "has_points5", getattr(detector, "name", "") == "mtcnn"))


def _check_five(points5: np.ndarray, image_shape: tuple[int, ...]) -> str:
    """"" when five points are a plausible face filling a pre-cropped frame, else why not: all
    finite, all inside the frame, the eye-to-mouth distance 15-90% of its height (the bounds
    :func:`~fernb.faces.pipeline.check_fit` puts on 68 landmarks)."""
    p = np.asarray(points5, dtype=np.float64)
    if p.shape != (5, 2) or not np.isfinite(p).all():
        return "five points missing or not finite"
    h, w = image_shape[:2]
    if not ((p[:, 0] >= -0.5) & (p[:, 0] <= w - 0.5) & (p[:, 1] >= -0.5) & (p[:, 1] <= h - 0.5)).all():
        return "five points outside the image"
    eye_mouth = float(np.linalg.norm(p[:2].mean(0) - p[3:].mean(0)))
    if not 0.15 <= eye_mouth / h <= 0.9:
        return f"eye-to-mouth distance is {eye_mouth / h:.0%} of the face height (expected 15-90%)"
    return ""


def annotate_pose(data, pipeline, *, upscale: int = 4, progress: bool = True, splits=None) -> dict:
    """Estimate head pose on a pre-cropped dataset (FER2013, FERPlus) from the face in each frame.

    Each image is taken as one face filling the frame: it is enlarged ``upscale``× (bicubic;
    FAN and MTCNN are trained on faces far larger than 48 px) and the backend looks at the
    whole frame. With 68 landmarks (FAN, fitted inside the frame) ``data.landmarks``,
    ``data.pose`` (yaw) and ``extras["pitch"/"roll"]`` are filled (solvePnP,
    :func:`~fernb.faces.pose.head_pose`; ``pose_source`` ``"estimated"``). With five points
    only (MTCNN, which finds the face itself; the largest when several) ``data.pose`` gets
    the coarser five-point yaw (:func:`~fernb.faces.pose.yaw_from_five`; ``pose_source``
    ``"five_point"``), pitch and roll stay NaN and ``data.landmarks`` is left as it was. Frames
    where no face is found, and implausible fits, stay NaN (``"none"``) and are counted. A
    backend with neither (the OpenCV fallback) changes nothing, and says so.

    ``splits``: only the images of these splits are fitted (e.g. ``["test"]``, what the papers'
    pose subsets need: MTCNN takes about 0.1 s per frame on a CPU core, an hour and a half for
    all of FER2013); the others keep NaN (``"none"``). None: every image.

    Returns a summary: backend, ``estimator`` (which ran), ``splits``, images (those asked for),
    fitted, ``no_face`` and ``bad_fit`` (each with its first files), reason if skipped.
    """
    detector = pipeline.detector
    asked = np.arange(len(data)) if splits is None else np.flatnonzero(np.isin(data.split, list(splits)))
    summary = {"backend": detector.config(), "estimator": "none", "splits": "all" if splits is None else list(splits),
               "images": int(len(asked)), "fitted": 0,
               "no_face": 0, "no_face_files": [], "bad_fit": 0, "bad_fit_files": []}
    landmarks68 = bool(getattr(detector, "has_landmarks", False))
    if not landmarks68 and not _gives_points5(detector):
        summary["skipped"] = (f"the {detector.config()['backend']} backend gives neither 68 landmarks nor five points"
                              + (f" ({pipeline.config().get('fallback_reason')})" if pipeline.config().get("fallback_reason") else "")
                              + "; pose stays unknown")
        return summary
    summary["estimator"] = ("68-landmark head pose (solvePnP): yaw, pitch, roll" if landmarks68 else
                            "five-point yaw (nose offset from the eye-mouth midline); pitch and roll not estimated")
    n = len(data)
    landmarks = np.full((n, 68, 2), np.nan, dtype=np.float32) if data.landmarks is None else data.landmarks.astype(np.float32)
    angles = np.full((n, 3), np.nan, dtype=np.float32)
    cache = LandmarkCache(pipeline.cache_dir, {**detector.config(), "whole_frame_upscale": upscale}) if pipeline.cache_dir else None

    def miss(kind: str, i: int, detail: str) -> None:
        summary[kind] += 1
        if len(summary[f"{kind}_files"]) < 20:
            summary[f"{kind}_files"].append({"file": str(data.source_ids[i]), "detail": detail})

    for i in progress_bar(asked, desc=f"{data.name}: {'landmarks' if landmarks68 else 'five points'}",
                          disable=not progress, mininterval=1.0):
        image = data.images[i]
        h, w = image.shape[:2]
        big = cv2.resize(image, (w * upscale, h * upscale), interpolation=cv2.INTER_CUBIC)
        key = LandmarkCache.key(big) if cache is not None else None
        faces = cache.get(key) if cache is not None else None
        if faces is None:
            # FAN fits landmarks inside the given box; MTCNN finds the face itself (no boxes=)
            faces = detector.detect(big, boxes=np.array([[0.0, 0.0, w * upscale, h * upscale]])) if landmarks68 \
                else detector.detect(big)
            if cache is not None:
                cache.put(key, faces)
        if landmarks68:
            if not faces:
                miss("no_face", i, "no face in the frame")
                continue
            lm = None if faces[0].landmarks is None else (faces[0].landmarks + 0.5) / upscale - 0.5
            why = "no landmarks" if lm is None else check_fit(lm, np.array([0.0, 0, w, h]), image.shape,
                                                              landmark_score=faces[0].landmark_score, min_score=pipeline.min_score)
            if why:
                miss("bad_fit", i, why)
                continue
            landmarks[i] = lm
            angles[i] = head_pose(lm, (h, w))
        else:
            faces = [f for f in faces if f.points5 is not None]
            if not faces:
                miss("no_face", i, "no face in the frame")
                continue
            points5 = (max(faces, key=lambda f: f.area).points5 + 0.5) / upscale - 0.5
            why = _check_five(points5, image.shape)
            yaw = yaw_from_five(points5) if not why else float("nan")
            if not why and not np.isfinite(yaw):
                why = "no yaw can be read from the five points"
            if why:
                miss("bad_fit", i, why)
                continue
            angles[i, 0] = yaw
        summary["fitted"] += 1
    if landmarks68:
        data.landmarks = landmarks
    data.pose = angles[:, 0]
    source = "estimated" if landmarks68 else FIVE_POINT_SOURCE
    data.extras.update({"pitch": angles[:, 1], "roll": angles[:, 2],
                        "pose_source": np.where(np.isfinite(angles[:, 0]), source, "none").astype("<U10")})
    data.meta["pose_annotation"] = summary
    data.validate()
    return summary


def rejection_table(meta: dict, examples: int = 3):
    """Files that did not become samples, per reason: count, what the reason means, a few files.

    Reads ``meta["rejected"]`` as :func:`build_dataset` writes it; empty when nothing was rejected.
    """

    meaning = {**REJECT_REASONS, "missing_file": "listed by the publisher's labels but not in the source"}
    rows = [{"reason": reason, "files": len(items), "meaning": meaning.get(reason, ""),
             "examples": "; ".join(f"{r['file']} ({r['detail']})" if r.get("detail") and r["detail"] != meaning.get(reason)
                                   else r["file"] for r in items[:examples])}
            for reason, items in sorted(meta.get("rejected", {}).items())]
    return pd.DataFrame(rows, columns=["reason", "files", "meaning", "examples"])


def attach_extras(data: FERData, records, info: dict) -> FERData:
    """Per-record metadata onto the samples :func:`build_dataset` kept: ``info`` maps a key
    to one value per record (in ``records``' order); ``data.extras[key]`` gets the values of
    the kept samples, matched by source id. Validates and returns ``data``."""
    row = {r.source_id: i for i, r in enumerate(records)}
    take = np.array([row[s] for s in data.source_ids], dtype=np.int64)
    for key, values in info.items():
        data.extras[key] = np.asarray(values, dtype=str)[take]
    data.validate()
    return data
