"""Synthetic "photos": SynthFER faces placed, scaled and tilted on a larger background.

The face pipeline's job is to undo exactly this (find the face, straighten and scale it);
because every photo keeps its true landmarks and pose, notebook 00 and the benchmark can
measure what each backend finds and how far its alignment lands from the truth — without
any real photograph in the repository.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd

from fernb.data.synthfer import render_sample
from fernb.faces.align import apply_clahe, five_points, template_points, transform_points
from fernb.faces.pose import KDEF_BINS, head_pose, pose_error_table, yaw_from_five_pnp, yaws_from_five
from fernb.faces.video import write_video

__all__ = ["Photo", "synthetic_photo", "synthetic_photos", "synthetic_video", "synthfer_pose_check", "five_point_check",
           "detect_photos",
           "summarise", "figure_rows", "uncached"]


@dataclass
class Photo:
    image: np.ndarray          # uint8 (H, W, 3) RGB
    landmarks: np.ndarray      # (68, 2) true landmarks in the photo's pixels
    box: np.ndarray            # (x, y, w, h) of the pasted face square
    label: int
    yaw: float
    roll: float                # in-plane tilt added here, degrees (positive = counter-clockwise)
    pitch: float = 0.0         # the rendered face's own pitch (positive = chin down)
    face_roll: float = 0.0     # the rendered face's own roll (positive = clockwise, SynthFER's convention)


def synthetic_photo(seed: int, index: int, *, canvas: tuple[int, int] = (320, 400), face: int | None = None,
                    yaw: float | None = None, roll: float | None = None, label: int | None = None) -> Photo:
    """Photo ``index`` of ``seed``: a SynthFER face of side ``face`` (random 110-170 px),
    tilted by ``roll`` (random ±20°) and pasted at a random place on a textured background."""
    rng = np.random.default_rng([seed, index, 7])
    size = int(face if face is not None else rng.integers(110, 171))
    roll = float(roll if roll is not None else rng.uniform(-20, 20))
    sample = render_sample(seed, "test", index, image_size=size, rgb=True, yaw=yaw, label=label, masks=False)
    h, w = canvas
    if size * 1.5 > min(h, w):
        raise ValueError(f"a {size}px face does not fit a {w}x{h} canvas with margin")
    yy, xx = np.mgrid[0:h, 0:w]
    base = rng.uniform(60, 190, 3)
    tilt = rng.uniform(-0.25, 0.25, 2)
    background = base + (xx[..., None] * tilt[0] + yy[..., None] * tilt[1])
    background = cv2.GaussianBlur(background + rng.normal(0, 18, (h, w, 3)), (0, 0), 3)
    margin = int(np.ceil(size * 0.25))
    x0 = int(rng.integers(margin, w - size - margin + 1))
    y0 = int(rng.integers(margin, h - size - margin + 1))
    centre = (x0 + (size - 1) / 2, y0 + (size - 1) / 2)
    m = cv2.getRotationMatrix2D(centre, roll, 1.0)
    m[:, 2] += [x0, y0] @ m[:, :2].T  # paste at (x0, y0), then rotate about the face centre
    placed = cv2.warpAffine(sample.image, m, (w, h), flags=cv2.INTER_CUBIC)
    mask = cv2.warpAffine(np.ones((size, size), np.float32), m, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    image = np.clip(placed * mask + background * (1 - mask), 0, 255).astype(np.uint8)
    landmarks = sample.landmarks.astype(np.float64) @ m[:, :2].T + m[:, 2]
    return Photo(image=image, landmarks=landmarks, box=np.array([x0, y0, size, size], dtype=np.float64),
                 label=sample.label, yaw=sample.yaw, roll=roll, pitch=sample.pitch, face_roll=sample.roll)


def synthetic_photos(n: int, seed: int = 0, **kwargs) -> list[Photo]:
    """``n`` photos (indices 0..n-1) of ``seed``."""
    return [synthetic_photo(seed, i, **kwargs) for i in range(n)]


def synthetic_video(path, n_frames: int, seed: int = 0, fps: float = 10.0, blank: tuple[int, ...] = (),
                    canvas: tuple[int, int] = (320, 400)) -> list[Photo | None]:
    """Write ``n_frames`` synthetic photos as a video (:func:`write_video`) and return them;
    frames listed in ``blank`` are a plain background with no face (``None`` in the list)."""
    photos = [None if i in blank else synthetic_photo(seed, i, canvas=canvas) for i in range(n_frames)]
    background = np.full((*canvas, 3), 128, np.uint8)
    write_video(path, [background if p is None else p.image for p in photos], fps)
    return photos


def synthfer_pose_check(n: int = 300, seed: int = 0):
    """:func:`head_pose` on ``n`` synthetic photos (:func:`fernb.data.synthphotos.synthetic_photo`:
    SynthFER faces at the KDEF poses ± 5°, random identity, expression, pitch and roll, tilted
    up to ±20°, 110-170 px wide, anywhere in a 320×400 photo), from their true landmarks.

    Returns ``(true_yaw (n,), estimated (n, 3) yaw/pitch/roll, true_pitch_roll (n, 2))``; the
    true roll includes the photo's tilt. This measures the estimator alone; a landmark
    detector's error comes on top of it on real photos.
    """
    true, est, pr = [], [], []
    for i in range(n):
        p = synthetic_photo(seed, i)
        true.append(p.yaw)
        pr.append((p.pitch, p.face_roll - p.roll))   # the tilt is counter-clockwise-positive
        est.append(head_pose(p.landmarks, p.image.shape))
    return np.array(true), np.array(est), np.array(pr)


def five_point_check(n: int = 300, seed: int = 0, *, detector=None, n_detected: int = 60) -> pd.DataFrame:
    """The five-point yaw (:func:`fernb.faces.pose.yaw_from_five`) measured against SynthFER's
    true yaw beside the 68-point :func:`head_pose`, on the photos of :func:`synthfer_pose_check`.

    Estimators (the column blocks, in this order):

    * ``68-point`` — :func:`head_pose` on the true landmarks (what :func:`synthfer_pose_check` measures);
    * ``five-point`` — :func:`~fernb.faces.pose.yaws_from_five` on the true five points
      (:func:`fernb.faces.align.five_points` of the true landmarks);
    * ``five-point PnP`` — :func:`~fernb.faces.pose.yaw_from_five_pnp` on the same points;
    * with a ``detector`` (a backend giving ``Face.points5``, e.g. MTCNN), on photos
      ``0..n_detected-1`` only: ``five-point, <backend> points`` — the yaw of the largest
      face's five points, detector noise included (a photo where it finds nothing counts in
      ``photos``, not in ``images``), and ``five-point, true points (same photos)`` — the true
      points of the photos it found, so that the two differ by the detector alone.

    Returns a DataFrame indexed like :func:`fernb.faces.pose.pose_error_table` (the true KDEF
    pose bin, then ``all``) whose columns are ``(estimator, column)``: ``photos`` (measured)
    and :func:`~fernb.faces.pose.pose_error_table`'s columns (``images`` with an estimate,
    ``bias``, ``mae``, ``same_bin``, ...). ``table.xs("mae", axis=1, level=1)`` is the mean
    absolute error per estimator and bin.
    """
    photos = [synthetic_photo(seed, i) for i in range(n)]
    true = np.array([p.yaw for p in photos])
    five = np.array([five_points(p.landmarks) for p in photos]).reshape(n, 5, 2)
    blocks = {
        "68-point": (true, np.array([head_pose(p.landmarks, p.image.shape)[0] for p in photos])),
        "five-point": (true, yaws_from_five(five)),
        "five-point PnP": (true, np.array([yaw_from_five_pnp(f, p.image.shape) for f, p in zip(five, photos)])),
    }
    if detector is not None:
        sub = photos[:n_detected]
        found = np.full((len(sub), 5, 2), np.nan)
        for i, p in enumerate(sub):
            faces = [f for f in detector.detect(p.image) if getattr(f, "points5", None) is not None]
            if faces:
                found[i] = max(faces, key=lambda f: f.area).points5
        name = detector.config().get("backend", "detector")
        blocks[f"five-point, {name} points"] = (true[:len(sub)], yaws_from_five(found))
        seen = np.isfinite(found).all(axis=(1, 2))
        blocks["five-point, true points (same photos)"] = (true[:len(sub)][seen], yaws_from_five(five[:len(sub)][seen]))
    bins = (np.digitize(true, KDEF_BINS) - 2) * 45
    order = [int(b) for b in np.unique(bins)] + ["all"]
    tables = {}
    for name, (t, e) in blocks.items():
        table = pose_error_table(t, e).reindex(order)     # a bin without an estimate stays as a row
        b = (np.digitize(t, KDEF_BINS) - 2) * 45
        table["images"] = table["images"].fillna(0).astype(int)
        table.insert(0, "photos", [int((b == k).sum()) if k != "all" else len(t) for k in order])
        tables[name] = table
    return pd.concat(tables, axis=1)


def uncached(pipeline, **changes):
    """The same pipeline (same backend object and settings) without a detection cache."""
    return dataclasses.replace(pipeline, backend=pipeline.detector, cache_dir=None, **changes)


def detect_photos(pipeline, photos: list[Photo]):
    """What ``pipeline``'s backend makes of ``photos``, against their true landmarks.

    One row per photo: ``found`` (a face came out), ``alignment`` (landmarks/eyes/box),
    ``n_faces``, ``eye_error_px`` (mean distance between where the true eye centres land in
    the crop and the template's eye points; the crop is ``pipeline.size`` wide) and the
    true ``yaw`` and ``roll``.
    """

    pipeline = uncached(pipeline)  # measure detection itself, not the cache of an earlier run
    target = template_points(pipeline.size, pipeline.enlarge)[:2]
    rows = []
    for i, p in enumerate(photos):
        res = pipeline.process(p.image)
        error = float("nan")
        if res.ok:
            error = float(np.linalg.norm(transform_points(five_points(p.landmarks)[:2], res.matrix) - target, axis=1).mean())
        rows.append({"photo": i, "found": res.ok, "status": res.status, "alignment": res.alignment,
                     "n_faces": res.n_faces, "eye_error_px": error, "yaw": p.yaw, "roll": p.roll})
    return pd.DataFrame(rows)


def figure_rows(pipeline, photos: list[Photo]) -> list[dict]:
    """Rows for :func:`fernb.workbook.plots.face_pipeline`: each photo through the backend (or, when
    it finds nothing, through the photo's true landmarks), before and after CLAHE."""
    raw = uncached(pipeline, clahe=False)
    name = pipeline.detector.config()["backend"]
    rows = []
    for p in photos:
        res = raw.process(p.image)
        how = f"{name}: {res.alignment}" if res.ok else f"{name} found no face; true landmarks used"
        if not res.ok:
            res = raw.process(p.image, landmarks=p.landmarks)
        box = None
        if res.matrix is not None and res.alignment in ("box", "eyes", "landmarks"):
            inv = np.linalg.inv(np.vstack([res.matrix, [0, 0, 1]]))[:2]
            corners = np.array([[0, 0], [pipeline.size - 1, pipeline.size - 1]], float)
            (x0, y0), (x1, y1) = corners @ inv[:, :2].T + inv[:, 2]
            box = (x0, y0, x1 - x0, y1 - y0) if abs(inv[0, 1]) < 1e-6 else None
        crop = res.image
        finished = apply_clahe(crop, pipeline.clip_limit, pipeline.tile_grid) if pipeline.clahe else crop
        rows.append({"photo": p.image, "landmarks": p.landmarks if res.source_landmarks is None else res.source_landmarks,
                     "box": box, "aligned": crop, "clahe": finished,
                     "template": template_points(pipeline.size, pipeline.enlarge),
                     "label": f"yaw {p.yaw:+.0f}°, tilt {p.roll:+.0f}° — {how}"})
    return rows


def summarise(found, seconds: float):
    """What :func:`detect_photos` found, per true pose and overall.

    Returns ``(by_pose, summary)``: a DataFrame indexed by the nearest KDEF pose (−90…90)
    with ``photos``, ``found`` (share detected) and ``eye_error_px`` (median over the found
    ones), and a dict with ``photos``, ``found_rate``, ``eye_error_median_px``, ``alignment``
    (how the found faces were aligned, counted) and ``faces_per_second`` (``seconds`` being
    the time :func:`detect_photos` took).
    """
    pose = (np.digitize(found["yaw"], KDEF_BINS) - 2) * 45
    by_pose = found.assign(yaw_bin=pose).groupby("yaw_bin").agg(
        photos=("found", "size"), found=("found", "mean"), eye_error_px=("eye_error_px", "median"))
    summary = {"photos": int(len(found)), "found_rate": float(found["found"].mean()),
               "eye_error_median_px": float(found["eye_error_px"].median()),
               "alignment": {str(k): int(v) for k, v in found.loc[found["found"], "alignment"].value_counts().items()},
               "faces_per_second": float(len(found) / seconds) if seconds > 0 else float("nan")}
    return by_pose, summary
