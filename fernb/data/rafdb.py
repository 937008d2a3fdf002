"""RAF-DB basic (Li, Deng & Du 2017): in-the-wild faces with one of 7 basic expressions.

Layout read (``basic/`` as extracted, ``basic.zip``, or any folder/archive holding it at any
depth; it is located by its label file ``EmoLabel/list_patition_label.txt``, the
publisher's spelling)::

    basic/
      EmoLabel/list_patition_label.txt          "train_00001.jpg 5" / "test_0001.jpg 1" per line
      Image/aligned/train_00001_aligned.jpg     100x100 aligned faces      (variant="aligned")
      Image/original/train_00001.jpg            the original photographs   (variant="original")
      Annotation/manual/train_00001_manu_attri.txt        5 lines "x y" (tab or space): left eye,
                                                          right eye, nose tip, left and right mouth
                                                          corner; then gender, race, age lines
      Annotation/boundingbox/train_00001_boundingbox.txt  one line "x1 y1 x2 y2"

Labels (:data:`fernb.labels.RAFDB_CODES`): 1 Surprise, 2 Fear, 3 Disgust, 4 Happiness,
5 Sadness, 6 Anger, 7 Neutral, mapped onto the canonical 7 classes
(:data:`fernb.labels.SEVEN`). A label line that is not ``<name> <code>``, names a file
other than ``train_<n>.jpg`` / ``test_<n>.jpg``, repeats a name, or gives a code outside
1..7 is a :class:`DatasetFormatError` naming the file and the line number.

Split protocol: train/test from the file-name prefix. RAF-DB ships no validation split and
no subject ids, so val is a stratified ``val_fraction`` of train drawn with ``val_seed``
(:func:`fernb.data.folds.carve_val`); ``meta["val"]`` records that it comes from train (and that the same
person may therefore appear in train and val).

Variants: ``"aligned"`` reads ``Image/aligned/*_aligned.jpg``, which are only resized and
CLAHE'd (no detection). ``"original"`` reads ``Image/original/`` and aligns on the
publisher's manual 5 points when its ``_manu_attri.txt`` parses (each pair put in image
left-right order; files that needed it are counted in ``meta["points5_reordered"]``), else
crops the publisher's bounding box, else detects; which one each image got is counted in
``meta["annotation_used"]``, and annotation files that do not parse are listed in
``meta["unparsed_annotations"]``.

Counted, never silently lost: a listed image that is not in the source is
``meta["rejected"]["missing_file"]``; an undecodable one ``meta["rejected"]["unreadable"]``
(both by :func:`fernb.data.photos.build_dataset`, with the file name).
"""
from __future__ import annotations

import os
import re
from collections import Counter

import numpy as np

from fernb.data.archive import Source, open_source
from fernb.data.core import DatasetFormatError, FERData
from fernb.data.folds import carve_val, layout_error, split_counts
from fernb.data.photos import FaceRecord, build_dataset
from fernb.labels import RAFDB_CODES, SEVEN, canonical_index

__all__ = ["read_rafdb", "load_rafdb", "LABEL_FILE", "VARIANTS", "RAFDB_TREE"]

LABEL_FILE = "EmoLabel/list_patition_label.txt"   # sic: the publisher's spelling
VARIANTS = ("aligned", "original")
_NAME_RE = re.compile(r"^(train|test)_(\d+)\.jpg$")

RAFDB_TREE = """\
basic/          (the folder, basic.zip, or any folder/archive holding it)
  EmoLabel/list_patition_label.txt       one line per image: "train_00001.jpg 5", "test_0001.jpg 1"
                                         (label 1 Surprise, 2 Fear, 3 Disgust, 4 Happiness,
                                         5 Sadness, 6 Anger, 7 Neutral)
  Image/aligned/train_00001_aligned.jpg  100x100 aligned faces   (variant="aligned")
  Image/original/train_00001.jpg         original photographs    (variant="original")
  Annotation/manual/train_00001_manu_attri.txt        5 lines "x y" then gender, race, age
  Annotation/boundingbox/train_00001_boundingbox.txt  one line: x1 y1 x2 y2"""


def _numbers(text: str, count: int) -> np.ndarray | None:
    """``count`` finite floats from whitespace-separated ``text``, else None."""
    parts = text.split()
    if len(parts) != count:
        return None
    try:
        values = np.array([float(p) for p in parts], dtype=np.float64)
    except ValueError:
        return None
    return values if np.isfinite(values).all() else None


def _read_points5(src: Source, member: str) -> tuple[np.ndarray | None, str]:
    """The 5 manual points of a ``_manu_attri.txt`` (first five lines), or ``(None, why)``."""
    try:
        lines = [ln for ln in src.read(member).decode("utf-8-sig").splitlines() if ln.strip()]
    except UnicodeDecodeError:
        return None, "not text"
    if len(lines) < 5:
        return None, f"{len(lines)} non-empty lines; expected 5 point lines (then gender, race, age)"
    points = []
    for k, line in enumerate(lines[:5]):
        xy = _numbers(line, 2)
        if xy is None:
            return None, f"line {k + 1} is {line.strip()!r}; expected 'x y'"
        points.append(xy)
    return np.stack(points), ""


def _image_left_first(points5: np.ndarray) -> tuple[np.ndarray, bool]:
    """The 5 points with each pair (eyes, mouth corners) in image-left, image-right order, as
    :class:`FaceRecord` expects, and whether a pair had to be swapped (a swapped eye pair
    would otherwise turn the aligned face upside down)."""
    order = [0, 1, 2, 3, 4]
    if points5[0, 0] > points5[1, 0]:
        order[0], order[1] = 1, 0
    if points5[3, 0] > points5[4, 0]:
        order[3], order[4] = 4, 3
    return points5[order], order != [0, 1, 2, 3, 4]


def _read_box(src: Source, member: str) -> tuple[tuple[float, float, float, float] | None, str]:
    """``(x, y, w, h)`` from a ``_boundingbox.txt`` line ``x1 y1 x2 y2``, or ``(None, why)``."""
    try:
        lines = [ln for ln in src.read(member).decode("utf-8-sig").splitlines() if ln.strip()]
    except UnicodeDecodeError:
        return None, "not text"
    xyxy = _numbers(lines[0], 4) if lines else None
    if xyxy is None or xyxy[2] <= xyxy[0] or xyxy[3] <= xyxy[1]:
        return None, f"{(lines[0].strip() if lines else '')!r}; expected 'x1 y1 x2 y2' with x2 > x1, y2 > y1"
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return (x1, y1, x2 - x1, y2 - y1), ""


# --------------------------------------------------------------------------- parsing
def _label_lines(src: Source, member: str) -> list[tuple[str, int]]:
    """``(file name, canonical label)`` per line of the label file, strictly checked."""
    where = src.where(member)
    try:
        text = src.read(member).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(f"{where}: not a text file ({exc})") from None
    out: list[tuple[str, int]] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not _NAME_RE.match(parts[0]):
            raise DatasetFormatError(
                f"{where} line {number}: {line.strip()!r}; expected '<train_NNNNN.jpg|test_NNNN.jpg> <label 1..7>'")
        name, code = parts
        if not code.isdigit() or int(code) not in RAFDB_CODES:
            raise DatasetFormatError(
                f"{where} line {number}: label {code!r} for {name}; expected 1..7 (1 Surprise, 2 Fear, 3 Disgust, "
                "4 Happiness, 5 Sadness, 6 Anger, 7 Neutral)")
        if name in seen:
            raise DatasetFormatError(f"{where} line {number}: {name} already listed on line {seen[name]}")
        seen[name] = number
        out.append((name, canonical_index(int(code), RAFDB_CODES, len(SEVEN), dataset="RAF-DB")))
    if not out:
        raise DatasetFormatError(f"{where}: no label lines; expected one line per image, e.g. 'train_00001.jpg 5'")
    return out


def read_rafdb(path, *, variant: str = "aligned", val_fraction: float = 0.1,
               val_seed: int = 0) -> tuple[list[FaceRecord], dict]:
    """Parse RAF-DB basic's label file (and, for ``variant="original"``, its annotations).

    No pixels are decoded. ``path`` is ``basic/``, ``basic.zip``, a folder or archive holding
    either at any depth, or an open :class:`~fernb.data.archive.Source`.

    Returns ``(records, meta)``: one :class:`FaceRecord` per label line (``source_id`` = the
    member of the variant's image; split train/val/test, see :func:`fernb.data.folds.carve_val`), and
    ``meta`` with ``format``, ``variant``, ``label_file``, ``root``, ``rows`` (label lines
    per prefix), ``records`` (per split after the val carve), ``val`` and, for
    ``"original"``, ``annotation_used``, ``unparsed_annotations`` and ``points5_reordered``.

    Raises:
        DatasetFormatError: no label file, no image folder for ``variant``, or a bad label
            line (the message names the file and the line, or shows the expected tree).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    src, owned = open_source(path, "basic/ or basic.zip (RAF-DB basic) or a folder/archive holding it")
    try:
        hits = src.find(LABEL_FILE)
        if not hits:
            hint = " (a list_partition_label.txt was found: the publisher's file is spelled 'patition')" \
                if src.find("EmoLabel/list_partition_label.txt") else ""
            raise layout_error("RAF-DB basic", src.where(), f"no {LABEL_FILE} found{hint}", RAFDB_TREE)
        member = hits[0]
        root = member[: -len(LABEL_FILE)]
        image_dir = f"{root}Image/{variant}/"
        if not src.under(image_dir):
            raise layout_error("RAF-DB basic", src.where(), f"no images under {image_dir} (variant={variant!r})",
                               RAFDB_TREE)
        lines = _label_lines(src, member)
        records: list[FaceRecord] = []
        used: Counter = Counter()
        unparsed: list[dict[str, str]] = []
        reordered = 0
        for name, label in lines:
            stem = name[: -len(".jpg")]
            split = "train" if name.startswith("train_") else "test"
            if variant == "aligned":
                records.append(FaceRecord(f"{image_dir}{stem}_aligned.jpg", label, split, aligned=True))
                continue
            points5 = box = None
            manual = f"{root}Annotation/manual/{stem}_manu_attri.txt"
            if manual in src:
                points5, why = _read_points5(src, manual)
                if why:
                    unparsed.append({"file": manual, "detail": why})
                else:
                    points5, swapped = _image_left_first(points5)
                    reordered += swapped
            if points5 is None:
                bbox = f"{root}Annotation/boundingbox/{stem}_boundingbox.txt"
                if bbox in src:
                    box, why = _read_box(src, bbox)
                    if why:
                        unparsed.append({"file": bbox, "detail": why})
            used["points5" if points5 is not None else "box" if box is not None else "detection"] += 1
            records.append(FaceRecord(f"{image_dir}{name}", label, split, points5=points5, box=box))
        rows = split_counts(records)
        val = carve_val(records, val_fraction, val_seed, SEVEN)
        val["note"] = "RAF-DB ships no validation split and no subject ids: val is drawn from train, not subject-disjoint"
        meta = {
            "format": "rafdb-basic", "variant": variant, "label_file": member, "root": root,
            "protocol": "train/test from the file-name prefix; val carved from train",
            "rows": {"train": rows["train"], "test": rows["test"]}, "records": split_counts(records), "val": val,
        }
        if variant == "original":
            meta["annotation_used"] = {k: int(used.get(k, 0)) for k in ("points5", "box", "detection")}
            meta["unparsed_annotations"] = unparsed
            meta["points5_reordered"] = int(reordered)
        return records, meta
    finally:
        if owned:
            src.close()


def load_rafdb(path: str | os.PathLike, *, variant: str = "aligned", val_fraction: float = 0.1, val_seed: int = 0,
               pipeline=None, image_size: int = 224, rgb: bool = True, progress: bool = True) -> FERData:
    """Load RAF-DB basic as aligned, CLAHE'd faces (see the module docstring for the protocol).

    Args:
        path: ``basic/``, ``basic.zip`` or a folder/archive holding either.
        variant: ``"aligned"`` (the publisher's 100x100 aligned faces, only resized) or
            ``"original"`` (the photographs, aligned on the manual 5 points / box / detection).
        val_fraction, val_seed: the stratified val carve from train (:func:`fernb.data.folds.carve_val`).
        pipeline: a :class:`~fernb.faces.pipeline.FacePipeline` (its ``size`` wins over
            ``image_size``), or None for the default one.
        rgb: keep colour; False stores grayscale.

    Returns:
        :class:`FERData` named ``"rafdb"`` with ``classes = SEVEN``. ``meta``: everything
        :func:`read_rafdb` records, plus ``source``, ``source_kind``, ``sha256`` and what
        :func:`~fernb.data.photos.build_dataset` adds (``rejected`` by reason with file
        names, ``alignment`` counts, the face pipeline's settings).
    """
    src = Source(path, expected="basic/ or basic.zip (RAF-DB basic) or a folder/archive holding it")
    with src:
        records, meta = read_rafdb(src, variant=variant, val_fraction=val_fraction, val_seed=val_seed)
        meta.update({"source": str(src.path), "source_kind": src.kind, "sha256": src.sha256()})
        return build_dataset("rafdb", src, records, classes=SEVEN, pipeline=pipeline, image_size=image_size,
                             rgb=rgb, meta=meta, progress=progress)
