"""facial_expressions (muxspace/facial_expressions): web photographs with one expression label each.

Layout read (the ``facial_expressions/`` folder, ``facial_expressions_dev.zip``, GitHub's
``facial_expressions-master.zip``, or any folder/archive holding the layout at any depth; it
is located by its label file ``data/legend.csv``, with ``images/`` next to ``data/``)::

    facial_expressions/
      data/legend.csv                 header "user.id,image,emotion", one row per photo:
                                      "302,Al_Gore_0002.jpg,anger", "jhamski,Dwarakish_72.jpg,ANGER"
      images/Al_Gore_0002.jpg         JPEG photographs (mostly ~350x350, many grayscale), one face
                                      each, roughly centred, not aligned

``user.id`` is the contributor who labelled the row, not the person photographed (kept as
``extras["user_id"]``, never used as a subject).

Labels (:data:`fernb.labels.FACIAL_EXPRESSIONS_LABELS`): the ``emotion`` column mixes case
(``sadness``, ``SADNESS``), so names are matched case-insensitively: neutral, happiness ->
happy, surprise, sadness -> sad, anger, disgust, fear, contempt. ``num_classes=7`` drops
contempt (counted in ``meta["dropped"]["test"]["contempt"]``; the ``wild.wild_classes``
convention of AffectNet and CK+). A name outside those eight raises
:class:`~fernb.data.core.DatasetFormatError` naming the file, the line, the image and the
label, or with ``on_unknown_label="skip"`` is counted in ``meta["rejected"]["unknown_label"]``.

Split: none ships. This is a **test-only** dataset: every sample is in split ``"test"``
(``meta["test_only"]``); :mod:`fernb.data.protocols` refuses to train on it and lets it be
scored as a cross-dataset target.

Faces: no box or landmarks ship, so every photo goes through detection
(:func:`fernb.data.photos.build_dataset`, as RAF-DB's and KDEF's original photographs do).

Counted, never silently lost, each with its file name (``meta["rejected"][reason]``, so that
``listed == kept + sum(n_rejected)``): a listed photo not under ``images/`` (``missing_file``),
one that does not decode (``unreadable``), no face found (``no_face``), several faces with
``faces.multiple_faces: reject`` (``multiple_faces``; with ``largest`` the largest is kept
and the file listed in ``meta["multiple_faces_kept_largest"]``), an unknown label
(``unknown_label``, with ``on_unknown_label="skip"``), a second row for the same image
(``repeated_row``: the first row is kept when the labels agree; when they do not, every row of
that image is ``conflicting_labels``). Files under ``images/`` that ``legend.csv`` does not
list give no sample and are listed in ``meta["unlisted"]``; other files next to ``data/`` and
``images/`` (LICENSE, README) are counted in ``meta["ignored_outside_images"]``.
"""
from __future__ import annotations

import csv
import os
from collections import Counter
from typing import Any

import numpy as np

from fernb.data.archive import Source, open_source
from fernb.data.core import DatasetFormatError, FERData
from fernb.data.folds import layout_error, split_counts
from fernb.data.photos import FaceRecord, attach_extras, build_dataset
from fernb.faces.pipeline import decode_rgb
from fernb.labels import FACIAL_EXPRESSIONS_LABELS, canonical_index, class_names

__all__ = ["read_facial_expressions", "load_facial_expressions", "LEGEND", "IMAGES_FOLDER", "LEGEND_HEADER",
           "ON_UNKNOWN_LABEL", "FACIAL_EXPRESSIONS_TREE"]

_NAME = "facial_expressions"
LEGEND = "data/legend.csv"
IMAGES_FOLDER = "images/"
LEGEND_HEADER = ("user.id", "image", "emotion")
ON_UNKNOWN_LABEL = ("raise", "skip")
_EXPECTED = "facial_expressions/ or facial_expressions_dev.zip or a folder/archive holding data/legend.csv and images/"

FACIAL_EXPRESSIONS_TREE = """\
facial_expressions/    (the folder, facial_expressions_dev.zip, or any folder/archive holding it)
  data/legend.csv      header: user.id,image,emotion
                       one row per photo, e.g. "302,Al_Gore_0002.jpg,anger" or "jhamski,Dwarakish_72.jpg,ANGER"
                       emotion (any case): neutral, happiness, surprise, sadness, anger, disgust, fear, contempt
  images/Al_Gore_0002.jpg   the photographs named in the image column"""


def _check_options(num_classes: int, on_unknown_label: str) -> tuple[str, ...]:
    if on_unknown_label not in ON_UNKNOWN_LABEL:
        raise ValueError(f"on_unknown_label must be 'raise' or 'skip', got {on_unknown_label!r}")
    return class_names(num_classes)


def _locate(src: Source) -> tuple[str, str]:
    """``(legend.csv member, images folder prefix)``; a layout error shows the expected tree."""
    hits = src.find(LEGEND)
    if not hits:
        shown = ", ".join(src.names()[:5]) + (" ..." if len(src) > 5 else "")
        problem = f"no {LEGEND} found" + (f"; found {len(src)} files: {shown}" if len(src) else "; it holds no files")
        raise layout_error(_NAME, src.where(), problem, FACIAL_EXPRESSIONS_TREE)
    for legend in hits:                 # shallowest first; the one with images/ beside data/
        images = legend[: -len(LEGEND)] + IMAGES_FOLDER
        if src.under(images):
            return legend, images
    raise layout_error(_NAME, src.where(), f"{hits[0]} found but no photos under {hits[0][: -len(LEGEND)] + IMAGES_FOLDER}",
                       FACIAL_EXPRESSIONS_TREE)


def _legend_rows(src: Source, member: str) -> list[tuple[int, str, str, str]]:
    """``(line number, user.id, image, emotion)`` per data row of ``legend.csv``; header and columns checked."""
    where = src.where(member)
    try:
        reader = csv.reader(src.open_text(member))
        header = next(reader, None)
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(f"{where}: not a text file ({exc})") from None
    if header is None or tuple(h.strip() for h in header) != LEGEND_HEADER:
        shown = ",".join(header) if header else "nothing"
        raise layout_error(_NAME, where, f"header is {shown[:200]!r}; expected {','.join(LEGEND_HEADER)}",
                           FACIAL_EXPRESSIONS_TREE)
    rows = []
    for row in reader:
        if not row or all(not cell.strip() for cell in row):
            continue
        line = reader.line_num
        if len(row) != len(LEGEND_HEADER):
            raise DatasetFormatError(f"{where} line {line}: {len(row)} columns; "
                                     f"expected {len(LEGEND_HEADER)} ({','.join(LEGEND_HEADER)})")
        user, image, emotion = (cell.strip() for cell in row)
        if not image:
            raise DatasetFormatError(f"{where} line {line}: empty image name")
        rows.append((line, user, image, emotion))
    if not rows:
        raise DatasetFormatError(f"{where}: no rows after the header; expected one row per photo, e.g. "
                                 "'302,Al_Gore_0002.jpg,anger'")
    return rows


def _read(src: Source, num_classes: int, on_unknown_label: str) -> tuple[list[FaceRecord], dict, dict]:
    classes = _check_options(num_classes, on_unknown_label)
    legend, images = _locate(src)
    where = src.where(legend)
    rows = _legend_rows(src, legend)
    rejected: dict[str, list[dict[str, str]]] = {}
    known = sorted(FACIAL_EXPRESSIONS_LABELS)

    # 1. labels, case-insensitively; unknown names raise or are counted
    labelled: list[tuple[int, str, str, str, int]] = []     # line, user, image, emotion as written, canonical index (8)
    for line, user, image, emotion in rows:
        name = emotion.lower()
        if name not in FACIAL_EXPRESSIONS_LABELS:
            if on_unknown_label == "raise":
                raise DatasetFormatError(
                    f"{where} line {line}: label {emotion!r} for {image}; expected one of {known} (any case); "
                    "pass on_unknown_label='skip' to skip such rows (they are counted)")
            rejected.setdefault("unknown_label", []).append(
                {"file": images + image, "detail": f"label {emotion!r} (legend.csv line {line}) is not one of {known}"})
            continue
        labelled.append((line, user, image, emotion, canonical_index(name, FACIAL_EXPRESSIONS_LABELS, 8, dataset=_NAME)))

    # 2. one sample per image: repeated rows counted; rows that disagree on the label all rejected
    by_image: dict[str, list[tuple[int, str, str, str, int]]] = {}
    for row in labelled:
        by_image.setdefault(row[2], []).append(row)
    first_rows = []
    for image, group in by_image.items():
        first = group[0]
        if len({r[4] for r in group}) > 1:
            said = ", ".join(f"{r[3]!r} (line {r[0]})" for r in group)
            for _row in group:   # one rejection per listing of the image
                rejected.setdefault("conflicting_labels", []).append(
                    {"file": images + image, "detail": f"listed {len(group)} times with different labels: {said}"})
            continue
        for r in group[1:]:
            rejected.setdefault("repeated_row", []).append(
                {"file": images + image, "detail": f"legend.csv line {r[0]} repeats line {first[0]} ({first[3]!r})"})
        first_rows.append(first)
    first_rows.sort(key=lambda r: r[0])

    # 3. the class view: contempt dropped (counted) with 7 classes; a listed photo that is not in
    #    the source but differs only in case from one that is, rejected here with that hint
    on_disk = src.under(images)
    by_lower: dict[str, str] = {}
    for m in on_disk:
        by_lower.setdefault(m.lower(), m)
    records: list[FaceRecord] = []
    info: dict[str, list[str]] = {"user_id": [], "emotion": []}
    contempt = 0
    for _line, user, image, emotion, label8 in first_rows:
        if label8 >= num_classes:
            contempt += 1
            continue
        member = images + image
        if member not in src and member.lower() in by_lower:
            rejected.setdefault("missing_file", []).append(
                {"file": member, "detail": f"listed by {LEGEND} but not in the source ({by_lower[member.lower()]} differs "
                                           "only in case)"})
            continue
        records.append(FaceRecord(source_id=member, label=int(label8), split="test"))
        info["user_id"].append(user)
        info["emotion"].append(emotion)

    # 4. photos nobody lists
    listed = {images + r[2] for r in rows}
    unlisted = [{"file": m, "detail": f"under {IMAGES_FOLDER} but not listed in {LEGEND}"}
                for m in on_disk if m not in listed]

    meta: dict[str, Any] = {
        "source": str(src.path), "source_kind": src.kind, "format": _NAME, "legend": legend, "images_folder": images,
        "root": legend[: -len(LEGEND)],
        "test_only": True,
        "protocol": "test-only: the publisher ships no split, so every photo is in split 'test'",
        "rows": len(rows),
        "labels_as_written": dict(sorted(Counter(r[3] for r in rows).items())),
        "labels": dict(sorted(Counter(r[3].lower() for r in rows).items())),
        "label_map": dict(FACIAL_EXPRESSIONS_LABELS),
        "num_classes": num_classes, "classes": list(classes), "on_unknown_label": on_unknown_label,
        "dropped": {"test": {"contempt": contempt}} if num_classes == 7 else {},
        "users": dict(sorted(Counter(r[1] for r in rows).items())),
        "files_under_images": len(on_disk),
        "unlisted": unlisted, "n_unlisted": len(unlisted),
        "ignored_outside_images": len(src) - len(on_disk) - 1,
        "records": split_counts(records),
        "rejected": rejected,
    }
    return records, meta, info


def read_facial_expressions(path: str | os.PathLike | Source, *, num_classes: int = 8,
                            on_unknown_label: str = "raise") -> tuple[list[FaceRecord], dict]:
    """Parse ``data/legend.csv`` into :class:`~fernb.data.photos.FaceRecord` rows (no pixels read).

    Args:
        path: ``facial_expressions/``, ``facial_expressions_dev.zip``, a folder/archive holding
            the layout at any depth, or an open :class:`~fernb.data.archive.Source`.
        num_classes: 8 (:data:`~fernb.labels.CANONICAL`) or 7 (contempt dropped, counted).
        on_unknown_label: ``"raise"`` (default) on an ``emotion`` outside the eight known
            names, or ``"skip"`` (the row is counted in ``meta["rejected"]["unknown_label"]``).

    Returns:
        ``(records, meta)``: one record per image kept, in ``legend.csv`` order, ``source_id``
        the photo's member (``facial_expressions/images/Al_Gore_0002.jpg``), split ``"test"``;
        ``meta`` as in the module docstring (``rejected`` holds the rows turned down before any
        pixel is read; :func:`load_facial_expressions` adds the face pipeline's).

    Raises:
        DatasetFormatError: no ``data/legend.csv`` with ``images/`` beside it (the message
            shows the expected tree), a wrong header, a malformed row, or an unknown label
            with ``on_unknown_label="raise"`` (the message names the file, line, image and label).
        ValueError: ``num_classes`` not 7 or 8, or an unknown ``on_unknown_label``.
    """
    src, owned = open_source(path, _EXPECTED)
    try:
        return _read(src, num_classes, on_unknown_label)[:2]
    finally:
        if owned:
            src.close()


def load_facial_expressions(path: str | os.PathLike, *, num_classes: int = 8, on_unknown_label: str = "raise",
                            pipeline=None, image_size: int = 224, rgb: bool = True, progress: bool = True) -> FERData:
    """facial_expressions as aligned, CLAHE'd face crops (:func:`read_facial_expressions` + the face pipeline).

    Args:
        path, num_classes, on_unknown_label: as in :func:`read_facial_expressions`.
        pipeline: a :class:`~fernb.faces.pipeline.FacePipeline` (its ``size`` wins over
            ``image_size``; its ``multiple`` decides photos with several faces), or None for
            the default one.
        rgb: store 3 channels (grayscale photos replicated); False stores grayscale.
        progress: show a progress bar.

    Returns:
        :class:`FERData` named ``"facial_expressions"``, every sample in split ``"test"``,
        classes :data:`~fernb.labels.CANONICAL` (or :data:`~fernb.labels.SEVEN`), extras
        ``user_id`` (legend.csv's contributor) and ``emotion`` (the label as written) plus
        those of :func:`~fernb.data.photos.build_dataset`. ``meta``: what
        :func:`read_facial_expressions` records, ``sha256``, and what build_dataset adds
        (``rejected`` by reason with file names, ``listed``, ``kept``, ``alignment``, the face
        pipeline's settings).
    """
    with Source(path, expected=_EXPECTED) as src:
        records, meta, info = _read(src, num_classes, on_unknown_label)
        meta["sha256"] = src.sha256()
        data = build_dataset(_NAME, src, records, classes=class_names(num_classes), pipeline=pipeline,
                             image_size=image_size, rgb=rgb, meta=meta, progress=progress)
    return attach_extras(data, records, info)


def raw_photos(path: str | os.PathLike, limit: int | None = None) -> tuple[list[str], list[np.ndarray | None]]:
    """The listed photos themselves, decoded as uint8 RGB (None for a file that does not
    decode), with their member names, in ``legend.csv`` order — for measuring face detectors on
    real photographs (:func:`fernb.faces.backends.compare_backends`; notebook 00, ``make bench``).
    ``limit``: the first photos only."""
    src, owned = open_source(path, _EXPECTED)
    try:
        records, _ = _read(src, 8, "skip")[:2]
        names = [r.source_id for r in records][:limit]
        return names, [decode_rgb(src.read(n)) if n in src else None for n in names]
    finally:
        if owned:
            src.close()
