"""Writing video with a codec every OpenCV build has (annotated ``fernb predict`` output, test clips)."""
from __future__ import annotations

from pathlib import Path

import cv2

__all__ = ["VIDEO_CODECS", "write_video"]

# video container -> a FourCC that opencv-python(-headless) writes without extra codecs
# (annotated videos of fernb predict, synthetic test videos)
VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}


def write_video(path, frames, fps: float = 10.0) -> Path:
    """Write uint8 RGB ``frames`` (all one size) as a video with a codec every OpenCV build
    writes (:data:`VIDEO_CODECS`)."""
    path = Path(path)
    codec = VIDEO_CODECS.get(path.suffix.lower())
    if codec is None:
        raise ValueError(f"{path}: write one of {', '.join(VIDEO_CODECS)}, not {path.suffix or 'no extension'}")
    h, w = frames[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV {cv2.__version__} cannot write {path} ({codec})")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path
