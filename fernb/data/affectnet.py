"""AffectNet (Mollahosseini, Hasani & Mahoor 2017), the manually annotated part.

Layout read (``AffectNet/`` as extracted, ``AffectNet.zip``, or any folder/archive holding
it; the file lists and the image folder are located at any depth)::

    Manually_Annotated_file_lists/training.csv     the training split
    Manually_Annotated_file_lists/validation.csv   the published validation set = our test split
    Manually_Annotated_Images/<subDirectory_filePath>
        e.g. 689/737db2483489148d783ef278f43f486c0a97e140fc4b6b61b84363ca.jpg

Both lists have the header :data:`HEADER`
(``subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal``);
``face_*`` is the publisher's face box and ``facial_landmarks`` 68 iBUG points as 136
numbers ``x1;y1;x2;y2;...``, both in the original image's pixels.

Labels (:data:`fernb.labels.AFFECTNET_CODES`): 0 Neutral, 1 Happy, 2 Sad, 3 Surprise,
4 Fear, 5 Disgust, 6 Anger, 7 Contempt onto the canonical classes; ``num_classes=7``
drops contempt (:data:`fernb.labels.SEVEN`). 8 None, 9 Uncertain and 10 Non-Face are not
expressions and are always dropped.

Split protocol: ``training.csv`` is train, ``validation.csv`` is test (the publisher's
test set is not public); val is a stratified ``val_fraction`` of training drawn with
``val_seed`` (:func:`fernb.data.folds.carve_val`), recorded in ``meta["val"]``. There are
no subject ids, so val is not subject-disjoint from train.

Size: the full manually annotated set is ~290k expression images, ~44 GB as 224x224x3
uint8 in memory. ``max_per_class`` caps the training images per class (a seeded random
choice, ``seed``) before val is carved, so train + val hold at most that many per class.

Faces are aligned on the shipped landmarks (nothing is detected); a row whose landmarks are
missing or do not parse falls back to the shipped box (``meta["annotation_used"]``,
``meta["unparsed_landmarks"]``); a row with neither is rejected
(``meta["rejected"]["no_annotation"]``).

Counted, never silently lost: label drops per file-list split and reason in
``meta["dropped"]`` (``{"train": {"none": n, "uncertain": n, "non_face": n, ...}, "test":
{...}}``, with ``contempt`` for 7 classes and ``max_per_class`` when capped); rejected images
(missing file, undecodable, implausible landmarks, no annotation) by reason with their file
names in ``meta["rejected"]``.
"""
from __future__ import annotations

import csv
import os
from collections import Counter

import numpy as np

from fernb.data.archive import Source, open_source
from fernb.data.core import DatasetFormatError, FERData
from fernb.data.folds import carve_val, layout_error, split_counts
from fernb.data.photos import FaceRecord, build_dataset
from fernb.labels import AFFECTNET_CODES, AFFECTNET_NOT_EXPRESSIONS, canonical_index, class_names

__all__ = ["read_affectnet", "load_affectnet", "HEADER", "LISTS", "IMAGES", "AFFECTNET_TREE"]

HEADER = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
          "expression", "valence", "arousal")
LIST_DIR = "Manually_Annotated_file_lists/"
LISTS: dict[str, str] = {"train": LIST_DIR + "training.csv", "test": LIST_DIR + "validation.csv"}
IMAGES = "Manually_Annotated_Images/"
_MAX_EXAMPLES = 20

AFFECTNET_TREE = f"""\
AffectNet/      (the folder, AffectNet.zip, or any folder/archive holding it)
  Manually_Annotated_file_lists/training.csv     (train)
  Manually_Annotated_file_lists/validation.csv   (test)
      header: {','.join(HEADER)}
      facial_landmarks: 136 numbers x1;y1;x2;y2;... (68 points, original image pixels)
      expression: 0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Anger, 7 Contempt,
                  8 None, 9 Uncertain, 10 Non-Face
  Manually_Annotated_Images/<subDirectory_filePath>   e.g. 689/737db2483489148d783ef278f43f486c0a97e140fc4b6b61b84363ca.jpg"""


def _parent(path: str) -> str:
    """The folder holding ``path`` (a member or a folder prefix ending in ``/``), with a trailing ``/``."""
    head = path.rstrip("/").rpartition("/")[0]
    return head + "/" if head else ""


def _locate(src: Source) -> tuple[dict[str, str], str]:
    """``({"train": training.csv, "test": validation.csv}, images folder prefix)``."""
    found = {s: src.find(m) for s, m in LISTS.items()}
    if not found["train"] and not found["test"]:
        raise layout_error("AffectNet", src.where(), f"no {LISTS['train']} or {LISTS['test']} found", AFFECTNET_TREE)
    lists = {}
    for s, hits in found.items():
        if not hits:
            other = "train" if s == "test" else "test"
            raise layout_error("AffectNet", src.where(), f"{LISTS[s]} missing (found {found[other][0]})", AFFECTNET_TREE)
        lists[s] = hits[0]
    if _parent(lists["train"]) != _parent(lists["test"]):
        same = [h for h in found["test"] if _parent(h) == _parent(lists["train"])]
        if not same:
            raise layout_error("AffectNet", src.where(), f"{lists['train']} and {lists['test']} are in different folders",
                               AFFECTNET_TREE)
        lists["test"] = same[0]
    folders = src.find(IMAGES)
    if not folders:
        raise layout_error("AffectNet", src.where(), f"no {IMAGES} folder found", AFFECTNET_TREE)
    base = _parent(_parent(lists["train"]))   # the folder holding Manually_Annotated_file_lists/
    siblings = [f for f in folders if f == base + IMAGES]
    return lists, (siblings or folders)[0]


def _read_list(src: Source, member: str) -> list[tuple[int, list[str]]]:
    """``(line number, row)`` per data row of a file list; header, columns and codes checked."""
    where = src.where(member)
    reader = csv.reader(src.open_text(member))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != HEADER:
        shown = ",".join(header) if header else "nothing"
        raise layout_error("AffectNet", where, f"header is {shown[:200]!r}; expected {','.join(HEADER)}", AFFECTNET_TREE)
    rows = []
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        line = reader.line_num
        if len(row) != len(HEADER):
            raise DatasetFormatError(f"{where} line {line}: {len(row)} columns; expected {len(HEADER)} ({','.join(HEADER)})")
        if not row[0].strip():
            raise DatasetFormatError(f"{where} line {line}: empty subDirectory_filePath")
        code = row[6].strip()
        if not code.isdigit() or not 0 <= int(code) <= 10:
            raise DatasetFormatError(f"{where} line {line}: expression {code!r}; expected an integer 0..10")
        rows.append((line, row))
    return rows


def _landmarks(field: str) -> tuple[np.ndarray | None, str]:
    parts = [p for p in field.strip().split(";") if p.strip()]
    if not parts:
        return None, "no facial_landmarks"
    if len(parts) != 136:
        return None, f"facial_landmarks has {len(parts)} numbers; expected 136"
    try:
        values = np.array(parts, dtype=np.float64)
    except ValueError:
        return None, "facial_landmarks are not all numbers"
    if not np.isfinite(values).all():
        return None, "facial_landmarks are not all finite"
    return values.reshape(68, 2), ""


def _box(row: list[str]) -> tuple[tuple[float, float, float, float] | None, str]:
    try:
        x, y, w, h = (float(v) for v in row[1:5])
    except ValueError:
        return None, f"face box {row[1:5]} is not numeric"
    if not np.isfinite([x, y, w, h]).all() or w <= 0 or h <= 0:
        return None, f"face box {row[1:5]} is not a box"
    return (x, y, w, h), ""


def _cap(pool: list[tuple[str, int, list[str]]], max_per_class: int, seed: int) -> tuple[list, int]:
    """At most ``max_per_class`` of ``pool`` per label, a seeded random choice (file order kept)."""
    rng = np.random.default_rng(seed)
    by_label: dict[int, list[int]] = {}
    for i, (_, label, _) in enumerate(pool):
        by_label.setdefault(label, []).append(i)
    keep: list[int] = []
    for label in sorted(by_label):
        idx = by_label[label]
        keep += idx if len(idx) <= max_per_class else [idx[j] for j in rng.choice(len(idx), max_per_class, replace=False)]
    keep.sort()
    return [pool[i] for i in keep], len(pool) - len(keep)


def read_affectnet(path, *, num_classes: int = 8, val_fraction: float = 0.1, val_seed: int = 0,
                   max_per_class: int | None = None, seed: int = 0) -> tuple[list[FaceRecord], dict]:
    """Parse AffectNet's manually annotated file lists; no pixels are decoded.

    Args:
        path: ``AffectNet/``, ``AffectNet.zip``, a folder/archive holding the layout at any
            depth, or an open :class:`~fernb.data.archive.Source`.
        num_classes: 8 (contempt kept) or 7 (contempt dropped, counted as ``"contempt"``).
        val_fraction, val_seed: the stratified val carve from training.csv.
        max_per_class: cap on training.csv images per class (seeded by ``seed``), applied
            before the val carve; None keeps all (~290k images: ~44 GB at 224x224x3).

    Returns:
        ``(records, meta)``: one :class:`FaceRecord` per kept row with the shipped landmarks
        (and box) in original pixels; ``meta``: ``format``, ``lists``, ``images``,
        ``num_classes``, ``rows`` (rows per file list), ``dropped``, ``records`` (per split),
        ``val``, ``annotation_used``, ``unparsed_landmarks`` (count and first examples) and
        ``unannotated`` (rows with neither usable landmarks nor box, not in ``records``).
        Per file list: ``rows = sum(dropped) + records (train: + val) + unannotated``.

    Raises:
        DatasetFormatError: a file list or the image folder is missing, a header differs, or
            a row is malformed (the message names the file and line, or shows the tree).
    """
    classes = class_names(num_classes)
    if max_per_class is not None and (isinstance(max_per_class, bool) or int(max_per_class) < 1):
        raise ValueError(f"max_per_class must be a positive integer or None, got {max_per_class!r}")
    src, owned = open_source(path, "AffectNet/ or AffectNet.zip (manually annotated) or a folder/archive holding it")
    try:
        lists, images = _locate(src)
        rows_read: dict[str, int] = {}
        dropped: dict[str, dict[str, int]] = {}
        pools: dict[str, list[tuple[str, int, list[str]]]] = {}
        for split, member in lists.items():
            reasons = list(AFFECTNET_NOT_EXPRESSIONS.values()) + (["contempt"] if num_classes == 7 else [])
            counts = Counter({r: 0 for r in reasons})
            pool = []
            rows = _read_list(src, member)
            for _, row in rows:
                code = int(row[6])
                if code in AFFECTNET_NOT_EXPRESSIONS:
                    counts[AFFECTNET_NOT_EXPRESSIONS[code]] += 1
                    continue
                label = canonical_index(code, AFFECTNET_CODES, num_classes, dataset="AffectNet")
                if label is None:
                    counts["contempt"] += 1
                    continue
                pool.append((images + row[0].strip().lstrip("/"), label, row))
            if split == "train" and max_per_class is not None:
                pool, n_capped = _cap(pool, int(max_per_class), seed)
                counts["max_per_class"] = n_capped
            rows_read[split] = len(rows)
            dropped[split] = {r: int(c) for r, c in counts.items()}
            pools[split] = pool

        records: list[FaceRecord] = []
        for split, pool in pools.items():
            records += [FaceRecord(member, label, split) for member, label, _ in pool]
        rows_of = [row for pool in pools.values() for _, _, row in pool]
        val = carve_val(records, val_fraction, val_seed, classes)
        val["note"] = "AffectNet's validation.csv is the test split; val is drawn from training.csv, not subject-disjoint"

        kept: list[FaceRecord] = []
        used = Counter({"landmarks": 0, "box": 0})
        unparsed: list[dict[str, str]] = []
        n_unparsed = 0
        unannotated: list[dict[str, str]] = []
        for rec, row in zip(records, rows_of):
            rec.landmarks, why_lm = _landmarks(row[5])
            rec.box, why_box = _box(row)
            if rec.landmarks is None:
                n_unparsed += 1
                if len(unparsed) < _MAX_EXAMPLES:
                    unparsed.append({"file": rec.source_id, "detail": why_lm})
                if rec.box is None:
                    unannotated.append({"file": rec.source_id, "split": rec.split, "detail": f"{why_lm}; {why_box}"})
                    continue
            used["landmarks" if rec.landmarks is not None else "box"] += 1
            kept.append(rec)
        meta = {
            "format": "affectnet-manual", "lists": lists, "images": images, "num_classes": num_classes,
            "protocol": "train=training.csv, test=validation.csv; val carved from train",
            "rows": rows_read, "dropped": dropped, "records": split_counts(kept), "val": val,
            "annotation_used": dict(used), "unparsed_landmarks": {"count": n_unparsed, "examples": unparsed},
            "unannotated": unannotated, "max_per_class": max_per_class, "seed": seed,
        }
        return kept, meta
    finally:
        if owned:
            src.close()


def load_affectnet(path: str | os.PathLike, *, num_classes: int = 8, val_fraction: float = 0.1, val_seed: int = 0,
                   max_per_class: int | None = None, seed: int = 0, pipeline=None, image_size: int = 224,
                   rgb: bool = True, progress: bool = True) -> FERData:
    """Load AffectNet's manually annotated images as aligned, CLAHE'd faces.

    Args: as :func:`read_affectnet`, plus ``pipeline`` (a
    :class:`~fernb.faces.pipeline.FacePipeline`; its ``size`` wins over ``image_size``; its
    detector is never used, the shipped landmarks/box are), ``image_size``, ``rgb`` (False
    stores grayscale) and ``progress``. Mind the memory: without ``max_per_class`` the
    training set is ~290k images (~44 GB at 224x224x3).

    Returns:
        :class:`FERData` named ``"affectnet"``. ``meta``: what :func:`read_affectnet`
        records, ``source``, ``source_kind``, ``sha256``, and what
        :func:`~fernb.data.photos.build_dataset` adds; the rows without usable landmarks
        or box are in ``rejected["no_annotation"]``, and ``listed`` counts them, so that
        ``listed == kept + sum(n_rejected)``.
    """
    src = Source(path, expected="AffectNet/ or AffectNet.zip (manually annotated) or a folder/archive holding it")
    with src:
        records, meta = read_affectnet(src, num_classes=num_classes, val_fraction=val_fraction, val_seed=val_seed,
                                       max_per_class=max_per_class, seed=seed)
        unannotated = meta.pop("unannotated")
        if unannotated:
            meta["rejected"] = {"no_annotation": [{"file": u["file"], "detail": u["detail"]} for u in unannotated]}
        meta.update({"source": str(src.path), "source_kind": src.kind, "sha256": src.sha256()})
        return build_dataset("affectnet", src, records, classes=class_names(num_classes), pipeline=pipeline,
                             image_size=image_size, rgb=rgb, meta=meta, progress=progress)
