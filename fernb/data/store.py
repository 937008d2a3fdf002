"""The prepared store: each dataset written once, loaded by later notebooks in seconds.

Layout of ``data/prepared/<name>/`` (a DVC-tracked output of notebook 00)::

    meta.json          name, classes, counts per split and class, shapes, source checksum
    images.npy         uint8 (N,H,W) or (N,H,W,3)
    labels.npy         int64 (N,)  canonical class index
    split.npy          <U5  (N,)  train / val / test
    source_ids.npy     str  (N,)  where each sample came from
    pose.npy           float32 (N,) yaw in degrees, NaN where unknown
    landmarks.npy      float32 (N,68,2)        (when known)
    votes.npy          int16 (N,10)            (FERPlus)
    extra.<key>.npy    any other per-sample array

Plain ``.npy`` files need no pickle, can be memory-mapped and are readable from any
language. The store is written into a temporary sibling folder and renamed into place
only when complete, so an interrupted write never leaves a half store behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from fernb.data.core import SPLITS, FERData

FORMAT_VERSION = 1
_REQUIRED = ("images", "labels", "split", "source_ids", "pose")
_OPTIONAL = ("landmarks", "votes")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_store(data: FERData, path: str | os.PathLike) -> Path:
    """Write ``data`` to the folder ``path`` atomically and return the path.

    An existing store at ``path`` is replaced only after the new one is complete.
    """
    data.validate()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{time.monotonic_ns()}"
    tmp.mkdir()
    try:
        arrays = {key: getattr(data, key) for key in _REQUIRED}
        arrays.update({key: getattr(data, key) for key in _OPTIONAL if getattr(data, key) is not None})
        arrays.update({f"extra.{key}": value for key, value in data.extras.items()})
        files = {}
        for key, arr in arrays.items():
            np.save(tmp / f"{key}.npy", np.ascontiguousarray(arr), allow_pickle=False)
            files[key] = {"dtype": str(arr.dtype), "shape": list(arr.shape)}
        counts = data.counts()
        meta = {
            "format_version": FORMAT_VERSION,
            "name": data.name,
            "classes": list(data.classes),
            "num_samples": len(data),
            "image_shape": list(data.images.shape[1:]),
            "counts": {s: {c: int(counts.loc[c, s]) for c in data.classes} for s in SPLITS},
            "split_sizes": {s: int((data.split == s).sum()) for s in SPLITS},
            "images_sha256": hashlib.sha256(np.ascontiguousarray(data.images).data).hexdigest(),
            "files": files,
            "source": data.meta,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=_json_default) + "\n")
        backup = None
        if path.exists():
            backup = path.parent / f".{path.name}.old-{os.getpid()}-{time.monotonic_ns()}"
            path.rename(backup)
        tmp.rename(path)
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def read_meta(path: str | os.PathLike) -> dict:
    """The store's ``meta.json`` (class names, counts, source checksum) without loading arrays."""
    path = Path(path)
    meta_file = path / "meta.json"
    if not meta_file.is_file():
        raise FileNotFoundError(
            f"{meta_file} not found: {path} is not a prepared store. "
            "Run notebook 00 (`dvc repro 00_data_prep`) for this dataset first."
        )
    meta = json.loads(meta_file.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{meta_file}: store format {meta.get('format_version')} but this fernb reads "
            f"format {FORMAT_VERSION}; re-run notebook 00 to rebuild it"
        )
    return meta


def load_store(path: str | os.PathLike, *, mmap: bool = False) -> FERData:
    """Load a prepared store written by :func:`write_store`.

    ``mmap=True`` memory-maps the images instead of reading them, for stores larger
    than memory.
    """
    path = Path(path)
    meta = read_meta(path)
    arrays = {}
    for key in meta["files"]:
        file = path / f"{key}.npy"
        if not file.is_file():
            raise FileNotFoundError(f"{file} listed in {path / 'meta.json'} but missing: the store is damaged")
        arrays[key] = np.load(file, mmap_mode="r" if (mmap and key == "images") else None, allow_pickle=False)
    extras = {key.removeprefix("extra."): arr for key, arr in arrays.items() if key.startswith("extra.")}
    return FERData(
        name=meta["name"],
        images=arrays["images"],
        labels=arrays["labels"],
        split=arrays["split"],
        classes=tuple(meta["classes"]),
        source_ids=arrays["source_ids"],
        pose=arrays["pose"],
        landmarks=arrays.get("landmarks"),
        votes=arrays.get("votes"),
        extras=extras,
        meta=meta["source"],
    )
