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
from fernb.faces.pose import head_pose
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
    publisher's yaw when given, else estimated from the 68 landmarks (solvePnP), else NaN.
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
            results[i] = (res, image.shape[:2])
    keep = sorted(results)
    if not keep:
        counts = {k: len(v) for k, v in rejected.items()}
        raise DatasetFormatError(f"{src.where()}: no image of {len(records) + pre_rejected} listed became a face sample; "
                                 f"rejected {counts}")
    images = np.empty((len(keep), size, size, 3) if rgb else (len(keep), size, size), dtype=np.uint8)
    landmarks = np.full((len(keep), 68, 2), np.nan, dtype=np.float32)
    angles = np.full((len(keep), 3), np.nan, dtype=np.float32)
    pose_source = np.full(len(keep), "none", dtype="<U9")
    for j, i in enumerate(keep):
        res, shape = results[i]
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


def annotate_pose(data, pipeline, *, upscale: int = 4, progress: bool = True) -> dict:
    """Fit 68 landmarks on a pre-cropped dataset (FER2013, FERPlus) and estimate head pose.

    Each image is taken as one face filling the frame: it is enlarged ``upscale``× (bicubic;
    FAN is trained on faces far larger than 48 px) and the backend fits landmarks inside the
    whole frame. ``data.landmarks`` and ``data.pose`` (yaw), ``extras["pitch"/"roll"]`` and
    ``extras["pose_source"]`` are filled in place; implausible fits stay NaN and are counted.
    A backend without landmarks (the OpenCV fallback) changes nothing, and says so.

    Returns a summary: backend, fitted, bad fits (with the first files), reason if skipped.
    """
    detector = pipeline.detector
    summary = {"backend": detector.config(), "images": len(data), "fitted": 0, "bad_fit": 0, "bad_fit_files": []}
    if not getattr(detector, "has_landmarks", False):
        summary["skipped"] = (f"the {detector.config()['backend']} backend gives no landmarks"
                              + (f" ({pipeline.config().get('fallback_reason')})" if pipeline.config().get("fallback_reason") else "")
                              + "; pose stays unknown")
        return summary
    n = len(data)
    landmarks = np.full((n, 68, 2), np.nan, dtype=np.float32) if data.landmarks is None else data.landmarks.astype(np.float32)
    angles = np.full((n, 3), np.nan, dtype=np.float32)
    cache = LandmarkCache(pipeline.cache_dir, {**detector.config(), "whole_frame_upscale": upscale}) if pipeline.cache_dir else None
    for i in progress_bar(range(n), desc=f"{data.name}: landmarks", disable=not progress, mininterval=1.0):
        image = data.images[i]
        h, w = image.shape[:2]
        big = cv2.resize(image, (w * upscale, h * upscale), interpolation=cv2.INTER_CUBIC)
        key = LandmarkCache.key(big) if cache is not None else None
        faces = cache.get(key) if cache is not None else None
        if faces is None:
            faces = detector.detect(big, boxes=np.array([[0.0, 0.0, w * upscale, h * upscale]]))
            if cache is not None:
                cache.put(key, faces)
        lm = None if not faces or faces[0].landmarks is None else (faces[0].landmarks + 0.5) / upscale - 0.5
        why = "no landmarks" if lm is None else check_fit(lm, np.array([0.0, 0, w, h]), image.shape,
                                                          landmark_score=faces[0].landmark_score, min_score=pipeline.min_score)
        if why:
            summary["bad_fit"] += 1
            if len(summary["bad_fit_files"]) < 20:
                summary["bad_fit_files"].append({"file": str(data.source_ids[i]), "detail": why})
            continue
        landmarks[i] = lm
        angles[i] = head_pose(lm, (h, w))
        summary["fitted"] += 1
    data.landmarks = landmarks
    data.pose = angles[:, 0]
    data.extras.update({"pitch": angles[:, 1], "roll": angles[:, 2],
                        "pose_source": np.where(np.isfinite(angles[:, 0]), "estimated", "none").astype("<U9")})
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
