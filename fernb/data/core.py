"""The one dataset interface: images, labels, split and per-sample metadata.

Every loader (SynthFER, FER2013, FERPlus, and later RAF-DB, AffectNet, KDEF, CK+) returns
a :class:`FERData`; the prepared store writes and reads exactly this object. Arrays are
plain NumPy so that notebooks, statistics and the trainer share one representation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

SPLITS: tuple[str, ...] = ("train", "val", "test")


class DatasetFormatError(ValueError):
    """A file or folder does not have the layout its publisher ships."""


@dataclass
class FERData:
    """A facial-expression dataset held in memory.

    Attributes:
        name: dataset name (``"synthfer"``, ``"fer2013"``, ``"ferplus"``...).
        images: uint8, ``(N, H, W)`` grayscale or ``(N, H, W, 3)`` RGB.
        labels: int64 ``(N,)``, index into ``classes`` (the canonical label space,
            :mod:`fernb.labels`).
        split: ``(N,)`` strings from :data:`SPLITS`.
        classes: class names, canonical order.
        source_ids: ``(N,)`` strings naming where each sample came from (file name,
            CSV row), so any sample can be traced back to the publisher's file.
        pose: float32 ``(N,)`` head yaw in degrees, NaN where unknown.
        landmarks: float32 ``(N, 68, 2)`` iBUG-order (x, y) pixel coordinates, or None.
        votes: int ``(N, 10)`` FERPlus annotator votes (file order), or None.
        extras: other per-sample arrays (e.g. SynthFER's AU intensities, subject ids).
        meta: JSON-serialisable facts about the source (path, checksum, skipped files,
            label rule, generator parameters).
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    classes: tuple[str, ...]
    source_ids: np.ndarray
    pose: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    votes: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.classes = tuple(self.classes)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.split = np.asarray(self.split, dtype="<U5")
        self.source_ids = np.asarray(self.source_ids, dtype=str)
        if self.pose is None:
            self.pose = np.full(len(self.labels), np.nan, dtype=np.float32)
        self.pose = np.asarray(self.pose, dtype=np.float32)
        self.validate()

    def framing(self) -> dict[str, Any]:
        """How the images were framed, for inference to frame a detected face the same way
        (``fernb predict``; the training run records it in its checkpoint): ``"face pipeline"``
        with its box enlargement, CLAHE and fit when photographs went through
        :mod:`fernb.faces` (``meta["faces"]``), else ``"pre-cropped"`` — the publisher's crops
        (FER2013, FERPlus) or SynthFER's renders, whose face fills the frame (box ×1.0) and
        which never saw CLAHE."""
        faces = self.meta.get("faces") if isinstance(self.meta, dict) else None
        if faces:
            return {"source": "face pipeline", "enlarge": float(faces.get("enlarge", 1.3)),
                    "clahe": bool(faces.get("clahe", True)), "clip_limit": float(faces.get("clip_limit", 2.0)),
                    "tile_grid": int(faces.get("tile_grid", 8)), "fit": faces.get("fit", "eyes")}
        return {"source": "pre-cropped", "enlarge": 1.0, "clahe": False}

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.images.shape[1:]))
        per_split = ", ".join(f"{s}={int((self.split == s).sum())}" for s in SPLITS)
        return f"FERData({self.name!r}, {len(self)} images of {shape}, {per_split}, classes={list(self.classes)})"

    def validate(self) -> None:
        """Check that every array agrees with the others; raise ValueError naming what is wrong."""
        n = len(self.labels)
        if self.images.dtype != np.uint8:
            raise ValueError(f"{self.name}: images must be uint8, got {self.images.dtype}")
        if self.images.ndim not in (3, 4) or (self.images.ndim == 4 and self.images.shape[-1] != 3):
            raise ValueError(f"{self.name}: images must be (N,H,W) or (N,H,W,3), got {self.images.shape}")
        arrays = {"images": self.images, "split": self.split, "source_ids": self.source_ids, "pose": self.pose}
        arrays.update({k: v for k, v in (("landmarks", self.landmarks), ("votes", self.votes)) if v is not None})
        arrays.update(self.extras)
        for key, arr in arrays.items():
            if len(arr) != n:
                raise ValueError(f"{self.name}: {key} has {len(arr)} rows but labels has {n}")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            bad = self.labels[(self.labels < 0) | (self.labels >= len(self.classes))][0]
            raise ValueError(f"{self.name}: label {bad} outside the class list {list(self.classes)}")
        unknown = set(np.unique(self.split)) - set(SPLITS)
        if unknown:
            raise ValueError(f"{self.name}: unknown split names {sorted(unknown)}; expected {SPLITS}")
        if self.landmarks is not None and self.landmarks.shape[1:] != (68, 2):
            raise ValueError(f"{self.name}: landmarks must be (N,68,2), got {self.landmarks.shape}")

    def subset(self, which: str | np.ndarray) -> FERData:
        """The samples of one split (``"train"``...) or of a boolean/index mask."""
        if isinstance(which, str):
            if which not in SPLITS:
                raise ValueError(f"unknown split {which!r}; expected one of {SPLITS}")
            which = self.split == which
        take = lambda a: None if a is None else a[which]  # noqa: E731
        return FERData(
            name=self.name, images=self.images[which], labels=self.labels[which],
            split=self.split[which], classes=self.classes, source_ids=self.source_ids[which],
            pose=take(self.pose), landmarks=take(self.landmarks), votes=take(self.votes),
            extras={k: v[which] for k, v in self.extras.items()}, meta=dict(self.meta),
        )

    def counts(self):
        """Samples per class (rows, canonical order) and split (columns), as a DataFrame."""

        table = pd.DataFrame(0, index=list(self.classes), columns=list(SPLITS), dtype=int)
        for s in SPLITS:
            mask = self.split == s
            table[s] = np.bincount(self.labels[mask], minlength=len(self.classes))
        table.index.name = "class"
        return table
