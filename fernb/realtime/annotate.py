"""What ``fernb predict`` writes: one row per face (CSV and/or JSON Lines) and annotated images and videos.

>>> rows = frame_rows(frame, faces, probs, classes)      # one row per face, or one no_face / unreadable row
>>> RowWriter(columns, "rows.csv", "rows.jsonl").write(rows)
>>> Annotator("annotated.mp4", single=source).write(frame, rows)   # box, landmarks, top class

A row holds :data:`COLUMNS` and then one ``prob_<class>`` column per class; a face that was
not scored (status ``bad_fit``, …) keeps its box and landmarks and has no probabilities.
Annotated videos use :data:`fernb.faces.video.VIDEO_CODECS`, the codecs every OpenCV build
writes; what is read lives in :mod:`fernb.realtime.media`.
"""
from __future__ import annotations

import csv as csvlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from fernb.faces.backends import Face
from fernb.faces.pipeline import FaceResult
from fernb.faces.video import VIDEO_CODECS
from fernb.realtime.media import IMAGE_EXTENSIONS, Frame, MediaSource

__all__ = ["COLUMNS", "DEFAULT_FPS", "frame_rows", "draw", "RowWriter", "Annotator"]

DEFAULT_FPS = 30.0      # an annotated webcam (or rate-less video) when the capture reports no frame rate
COLUMNS = ("source", "frame", "time_s", "face", "x", "y", "w", "h", "alignment", "landmarks", "status", "prediction")

def frame_rows(frame: Frame, faces: list[tuple[Face, FaceResult]], probs: np.ndarray,
               classes: Sequence[str]) -> list[dict]:
    """The rows of one frame: one per face (``probs`` holds the ok faces' rows, in order), or
    one ``no_face`` / ``unreadable`` row."""
    base = {"source": frame.source.name, "frame": frame.index,
            "time_s": None if frame.time is None else round(frame.time, 4)}
    empty = dict.fromkeys((*COLUMNS, *(f"prob_{c}" for c in classes)))   # the keys in column order
    if not faces:
        return [{**empty, **base, "status": "no_face" if frame.image is not None else "unreadable"}]
    rows, k = [], 0
    for i, (face, res) in enumerate(faces):
        points = face.landmarks if face.landmarks is not None else face.points5 if face.points5 is not None else face.eyes
        row = {**empty, **base, "face": i, **dict(zip("xywh", (round(float(v), 1) for v in face.box))),
               "alignment": res.alignment or None, "status": res.status,
               "landmarks": None if points is None else np.round(points, 1).tolist()}
        if res.ok:
            p = probs[k]
            k += 1
            row["prediction"] = classes[int(np.argmax(p))]
            row.update({f"prob_{c}": float(v) for c, v in zip(classes, p)})
        rows.append(row)
    return rows


def draw(image: np.ndarray, rows: list[dict]) -> np.ndarray:
    """A BGR copy of the RGB ``image`` with each row's face box, landmarks (or eyes) and top
    class with its probability (or the status when the face was not scored)."""
    out = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    scale = max(out.shape[:2]) / 640
    thick = max(1, round(2 * scale))
    for row in rows:
        if row["x"] is None:
            continue
        x, y, w, h = (int(round(row[k])) for k in "xywh")
        ok = row["status"] == "ok"
        colour = (60, 200, 60) if ok else (40, 40, 230)
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thick)
        for px, py in row["landmarks"] or ():
            cv2.circle(out, (int(round(px)), int(round(py))), thick, (0, 220, 255), -1, cv2.LINE_AA)
        text = f"{row['prediction']} {row['prob_' + row['prediction']]:.2f}" if ok else row["status"]
        size = max(0.4, 0.6 * scale)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, thick)
        top = max(y - th - base - 2, 0)
        cv2.rectangle(out, (x, top), (x + tw + 4, top + th + base + 2), colour, -1)
        cv2.putText(out, text, (x + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, size, (255, 255, 255), thick, cv2.LINE_AA)
    return out


class RowWriter:
    """Rows to CSV (landmarks as a JSON string) and/or JSON Lines, flushed on request."""

    def __init__(self, columns: Sequence[str], csv_path: str | os.PathLike | None, json_path: str | os.PathLike | None):
        self.paths = [Path(p) for p in (csv_path, json_path) if p]
        for path in self.paths:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._csv_file = open(csv_path, "w", newline="", encoding="utf-8") if csv_path else None
        self._json_file = open(json_path, "w", encoding="utf-8") if json_path else None
        self._csv = csvlib.DictWriter(self._csv_file, fieldnames=list(columns)) if self._csv_file else None
        if self._csv:
            self._csv.writeheader()

    def write(self, rows: list[dict]) -> None:
        for row in rows:
            if self._csv:
                self._csv.writerow({k: "" if v is None else json.dumps(v) if k == "landmarks" else v
                                    for k, v in row.items()})
            if self._json_file:
                self._json_file.write(json.dumps(row) + "\n")

    def flush(self) -> None:
        for fh in (self._csv_file, self._json_file):
            if fh:
                fh.flush()

    def close(self) -> None:
        for fh in (self._csv_file, self._json_file):
            if fh:
                fh.close()


class Annotator:
    """Annotated frames: ``path`` itself for a single image, video or webcam input (``single``),
    else a folder of annotated images and videos (``.mp4``) named after their sources."""

    def __init__(self, path: str | os.PathLike, single: MediaSource | None):
        self.path, self.single = Path(path), single
        if single is not None:
            allowed = IMAGE_EXTENSIONS if single.kind == "image" else tuple(VIDEO_CODECS)
            if self.path.suffix.lower() not in allowed:
                what = "an image" if single.kind == "image" else "a video"
                raise ValueError(f"--annotate {self.path}: for {what} input, expected a file ending {', '.join(allowed)}")
        elif self.path.exists() and not self.path.is_dir():
            raise ValueError(f"--annotate {self.path}: several inputs are annotated into a folder, but this is a file")
        self.written: list[Path] = []
        self._video: cv2.VideoWriter | None = None

    def _target(self, source: MediaSource) -> Path:
        if self.single is not None:
            return self.path
        name = Path(source.path).name if source.kind == "image" else (
            f"{Path(source.path).stem}.mp4" if source.kind == "video" else f"webcam{source.path}.mp4")
        target, n = self.path / name, 1
        while target in self.written:
            target, n = self.path / f"{Path(name).stem}-{n}{Path(name).suffix}", n + 1
        return target

    def write(self, frame: Frame, rows: list[dict]) -> None:
        if frame.image is None:
            return
        image = draw(frame.image, rows)
        if frame.source.kind == "image":
            target = self._target(frame.source)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(target), image):
                raise OSError(f"could not write the annotated image {target}")
            self.written.append(target)
            return
        if self._video is None:
            target = self._target(frame.source)
            target.parent.mkdir(parents=True, exist_ok=True)
            h, w = image.shape[:2]
            codec = VIDEO_CODECS[target.suffix.lower()]
            self._video = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*codec), frame.source.fps or DEFAULT_FPS,
                                          (w, h))
            if not self._video.isOpened():
                self._video = None
                raise OSError(f"could not open a {codec} video writer for {target}")
            self.written.append(target)
        self._video.write(image)

    def close(self) -> None:
        """Finish the video being written (after each video source, and after an interruption)."""
        if self._video is not None:
            self._video.release()
            self._video = None

