"""What ``fernb predict`` reads: image files, folders of images, video files and webcams, as RGB frames.

>>> sources = open_sources(["photos/", "clip.mp4", 0])   # checked and expanded; 0 is the first webcam
>>> for frame in read_frames(sources[1], max_frames=10):
...     frame.index, frame.time, frame.image.shape          # uint8 RGB, seconds into the video

Images are decoded by :func:`fernb.faces.pipeline.decode_rgb` (an image that does not
decode is a frame whose ``image`` is None, so the caller can give it a row rather than
drop it); videos and webcams by OpenCV's ``VideoCapture``. Writing video lives in
:mod:`fernb.faces.video`; what ``fernb predict`` writes, in :mod:`fernb.realtime.annotate`.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fernb.faces.pipeline import decode_rgb

__all__ = ["IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "MediaSource", "Frame", "open_sources", "read_frames"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")

@dataclass(frozen=True)
class MediaSource:
    """One input: an image file, a video file, or a webcam (``path`` is then its index).

    ``frames`` is the frame count when known (1 for an image), ``fps`` the capture's frame
    rate (0 when it reports none).
    """

    kind: str
    path: Path | int
    frames: int | None = 1
    fps: float = 0.0

    @property
    def name(self) -> str:
        return f"webcam:{self.path}" if self.kind == "webcam" else str(self.path)


@dataclass
class Frame:
    """One image or video frame: uint8 RGB, or None when the image does not decode.
    ``time`` is seconds into the video (None for an image)."""

    source: MediaSource
    index: int
    time: float | None
    image: np.ndarray | None


def _probe(where: Path | int) -> MediaSource:
    """A video file or webcam as a :class:`MediaSource`, after checking that OpenCV opens it (and
    that a video yields a first frame)."""
    webcam = isinstance(where, int)
    what = f"webcam {where}" if webcam else str(where)
    cap = cv2.VideoCapture(where if webcam else str(where))
    try:
        if not cap.isOpened():
            why = "this camera" if webcam else "it (a corrupt file, or a format or codec this OpenCV build does not read)"
            raise ValueError(f"{what}: OpenCV cannot open {why}")
        if not webcam and not cap.read()[0]:
            raise ValueError(f"{what}: the video yields no frames (empty or corrupt)")
        count = 0 if webcam else int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        return MediaSource("webcam" if webcam else "video", where, count if count > 0 else None,
                      fps if math.isfinite(fps) and fps > 0 else 0.0)
    finally:
        cap.release()


def open_sources(inputs: Sequence[str | os.PathLike | int]) -> list[MediaSource]:
    """Check and expand ``inputs``: image files, folders (the images directly inside, sorted
    by name), video files, webcam indices (an int, or a string of digits that is no path).

    Raises FileNotFoundError for a missing path and ValueError, naming the file, for an
    unsupported extension, a folder without images, or a video OpenCV cannot open or that
    yields no frame.
    """
    sources: list[MediaSource] = []
    for item in inputs:
        if isinstance(item, int) or (isinstance(item, str) and item.isdigit() and not Path(item).exists()):
            sources.append(_probe(int(item)))
            continue
        path = Path(item)
        suffix = path.suffix.lower()
        if path.is_dir():
            images = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
            if not images:
                raise ValueError(f"{path}: no images in this folder (expected files ending {', '.join(IMAGE_EXTENSIONS)})")
            sources += [MediaSource("image", p) for p in images]
        elif not path.exists():
            raise FileNotFoundError(f"{path} does not exist (expected an image, a folder of images, a video "
                                    "or a webcam index)")
        elif suffix in IMAGE_EXTENSIONS:
            sources.append(MediaSource("image", path))
        elif suffix in VIDEO_EXTENSIONS:
            sources.append(_probe(path))
        else:
            raise ValueError(f"{path}: unsupported file type {suffix or '(no extension)'}; expected an image "
                             f"({', '.join(IMAGE_EXTENSIONS)}) or a video ({', '.join(VIDEO_EXTENSIONS)})")
    if not sources:
        raise ValueError("no input: give image files, folders, videos or a webcam index")
    return sources


def read_frames(source: MediaSource, max_frames: int | None = None) -> Iterator[Frame]:
    """The frames of ``source`` as uint8 RGB: one for an image (None when it does not read or
    decode), each frame of a video or webcam up to ``max_frames``, with its time in seconds
    (video: index / fps, or the container's timestamp without a rate; webcam: since reading began)."""
    if source.kind == "image":
        try:
            data = Path(source.path).read_bytes()
        except OSError:
            data = b""
        yield Frame(source, 0, None, decode_rgb(data))
        return
    cap = cv2.VideoCapture(source.path if source.kind == "webcam" else str(source.path))
    start = time.perf_counter()
    try:
        index = 0
        while max_frames is None or index < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            if source.kind == "webcam":
                seconds = time.perf_counter() - start
            else:
                seconds = index / source.fps if source.fps else cap.get(cv2.CAP_PROP_POS_MSEC) / 1000
            yield Frame(source, index, seconds, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            index += 1
    finally:
        cap.release()

