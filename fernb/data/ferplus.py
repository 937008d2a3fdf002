"""FERPlus (Barsoum et al. 2016): FER2013 faces re-annotated by 10 crowd workers each.

Two published forms are read:

1. The generated folders ``FER2013Train/``, ``FER2013Valid/``, ``FER2013Test/`` (at any
   depth, e.g. ``data/`` inside ``ferplus.zip``), each with 48x48 PNGs ``ferNNNNNNN.png``
   and a header-less ``label.csv``: ``image name, "(x, y, w, h)", 10 vote counts``.
2. ``fer2013new.csv`` (``Usage,Image name,<10 vote columns>``, one row per row of
   ``fer2013.csv``, same order) together with the FER2013 pixels from ``fer2013.csv``.

Vote columns (file order) are :data:`fernb.labels.FERPLUS_VOTES`: the 8 emotions, then
``unknown`` and ``NF`` (not a face). See :func:`vote_labels` for the label rules.

Known defects of the published data, and what this loader does about them
--------------------------------------------------------------------------
``fer2013new.csv`` has 35,887 rows; 173 have an empty image name (faces FERPlus dropped,
all with NF = 10 votes), leaving 35,714 named rows, but the folders hold only 35,710
images (28,558 + 3,579 + 3,573; "177 dropped"). The other 4 are *name collisions*: four
image names are given to two rows each, so the generator script (which writes
``<name>`` for every named row, in row order) overwrote the first image with the second:

- ``fer0006953.png`` rows 5274 and 6968, ``fer0011785.png`` rows 5348 and 11817,
  ``fer0008403.png`` rows 8423 and 15835 (all Training): identical votes on both rows;
  the FER2013 images are (near-)duplicates (FER2013's known duplicate groups), so the one
  surviving PNG and its label.csv votes agree.
- ``fer0033120.png`` rows 33200 and 34334 (PrivateTest): row 33200 is a face (votes 5
  neutral, 1 sadness, 1 anger, 3 unknown), row 34334 a non-face (NF = 10). The PNG in
  ``FER2013Test/`` holds row 34334's pixels (a warning-sign graphic, not a face) while
  ``label.csv`` carries row 33200's face votes, so under the majority rule it would be
  a "neutral face". In the folder form it is dropped with reason ``"pixels_votes_mismatch"``
  (:data:`KNOWN_MISMATCHED`).

In the ``fer2013new.csv`` form each row has its own pixels, so there is no collision:
every named row is an image (35,714 read); row 34334 is dropped by its NF votes; the
three Training pairs are kept as two samples each (as FER2013 itself keeps its
duplicates), and the names shared are recorded in ``meta["duplicate_names"]``. Empty-name
rows are counted as dropped with reason ``"removed_by_ferplus"``.
"""
from __future__ import annotations

import csv
import os
import re
import warnings
from collections import Counter
from typing import Any

import numpy as np

from fernb.data.archive import Source
from fernb.data.core import SPLITS, DatasetFormatError, FERData
from fernb.data.fer2013 import (
    SIZE,
    USAGE_TO_SPLIT,
    _check_on_unreadable,
    _first_line,
    _folder_root,
    decode_face,
    find_fer2013_csv,
    read_fer2013_csv,
)
from fernb.labels import CANONICAL, FERPLUS_TO_CANONICAL, FERPLUS_VOTES, class_names

__all__ = ["load_ferplus", "vote_labels", "FOLDERS", "KNOWN_MISMATCHED", "RULES", "TIES"]

FOLDERS: dict[str, str] = {"train": "FER2013Train", "val": "FER2013Valid", "test": "FER2013Test"}
RULES = ("majority", "ferplus")
TIES = ("drop", "first")
NEW_CSV = "fer2013new.csv"
NEW_HEADER = ("Usage", "Image name", *FERPLUS_VOTES)
N_VOTES = len(FERPLUS_VOTES)  # 10
N_EMO = 8
UNKNOWN, NF, CONTEMPT = 8, 9, FERPLUS_VOTES.index("contempt")
# Folder-form images whose PNG and label.csv votes come from different fer2013.csv rows
# (see the module docstring): folder -> names.
KNOWN_MISMATCHED: dict[str, frozenset[str]] = {"FER2013Test": frozenset({"fer0033120.png"})}

# vote-column index -> canonical class index
_VOTE_TO_CANONICAL = np.array([CANONICAL.index(FERPLUS_TO_CANONICAL[v]) for v in FERPLUS_VOTES[:N_EMO]], dtype=np.int64)
_BOX_RE = re.compile(r"^\(\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(-?\d+)\s*\)$")

FERPLUS_LAYOUTS = """\
either the generated FERPlus folders (at any depth, e.g. data/ in ferplus.zip)
    FER2013Train/label.csv, FER2013Train/ferNNNNNNN.png ...
    FER2013Valid/label.csv, FER2013Valid/ferNNNNNNN.png ...
    FER2013Test/label.csv,  FER2013Test/ferNNNNNNN.png ...
  label.csv without header; each row: image name,"(x, y, w, h)",<10 vote counts>
or fer2013new.csv (header Usage,Image name,neutral,...,NF) together with
  fer2013=<path to fer2013.csv or an archive holding it> for the pixels"""


# ------------------------------------------------------------------------- label rules
def vote_labels(votes: np.ndarray, rule: str = "majority", ties: str = "drop") -> tuple[np.ndarray, np.ndarray]:
    """Labels from FERPlus vote counts.

    Args:
        votes: int ``(N, 10)`` in file order (:data:`FERPLUS_VOTES`).
        rule: ``"majority"``: the emotion (of the 8) with the most votes; the image is
            dropped (reason ``"nf"`` or ``"unknown"``, whichever of the two has more
            votes, ``"nf"`` when equal) if NF or unknown got at least as many votes as
            that emotion (so an image with no emotion votes is dropped too). Then a tie
            between emotions for the top count is dropped (``ties="drop"``, reason
            ``"tie"``) or resolved to the first in file order (``ties="first"``).
            ``"ferplus"``: the official FERPlus repository's ``majority`` mode
            (``FERPlusReader._process_data``): every count of 1 is zeroed as an outlier
            (unknown and NF included); the top category (first in file order) must hold
            strictly more than half of the remaining votes, else the image is
            ``"unknown"`` (reason ``"no_majority"``); a top category of unknown or NF is
            dropped (reason ``"unknown"`` / ``"nf"``). ``ties`` is irrelevant there (a
            strict majority is unique).
        ties: ``"drop"`` or ``"first"``; used by ``rule="majority"``.

    Returns:
        ``(label, reason)``: ``label`` int64 ``(N,)`` = vote-column index 0..7 of the
        label, -1 where dropped; ``reason`` ``(N,)`` str, ``""`` where kept.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    v = np.asarray(votes, dtype=np.int64)
    if v.ndim != 2 or v.shape[1] != N_VOTES:
        raise ValueError(f"votes must be (N, {N_VOTES}), got {v.shape}")
    n = len(v)
    reason = np.full(n, "", dtype="<U20")
    if rule == "majority":
        emo = v[:, :N_EMO]
        top = emo.max(axis=1)
        label = emo.argmax(axis=1)  # first in file order among the tied
        n_top = (emo == top[:, None]).sum(axis=1)
        nf_bad = v[:, NF] >= top
        unk_bad = v[:, UNKNOWN] >= top
        reason[unk_bad] = "unknown"
        reason[nf_bad & (~unk_bad | (v[:, NF] >= v[:, UNKNOWN]))] = "nf"
        if ties == "drop":
            reason[(reason == "") & (n_top > 1)] = "tie"
    else:
        w = np.where(v <= 1, 0, v)  # outlier removal: a single vote does not count
        total = w.sum(axis=1)
        top = w.max(axis=1)
        label = w.argmax(axis=1)
        majority = 2 * top > total  # strictly more than half (False when total == 0)
        reason[~majority] = "no_majority"
        reason[majority & (label == UNKNOWN)] = "unknown"
        reason[majority & (label == NF)] = "nf"
    label = np.where(reason == "", label, -1).astype(np.int64)
    return label, reason


# ----------------------------------------------------------------------- the folders
def _find_folders(src: Source) -> dict[str, str] | None:
    """split -> folder prefix (``data/FER2013Train/``), or None if none of the three exist."""
    found = {s: src.find(f + "/") for s, f in FOLDERS.items()}
    if not any(found.values()):
        return None
    missing = [FOLDERS[s] for s, hits in found.items() if not hits]
    if missing:
        present = {FOLDERS[s]: hits[0] for s, hits in found.items() if hits}
        raise DatasetFormatError(
            f"{src.where()}: FERPlus split folder(s) {missing} missing (found {present}); expected\n{FERPLUS_LAYOUTS}"
        )
    # prefer the three folders that share a parent
    parents = Counter(h.rstrip("/").rsplit("/", 1)[0] if "/" in h.rstrip("/") else "" for hits in found.values() for h in hits)
    best = max(parents, key=lambda p: (parents[p], -p.count("/")))
    out = {}
    for s, hits in found.items():
        same = [h for h in hits if (h.rstrip("/").rsplit("/", 1)[0] if "/" in h.rstrip("/") else "") == best]
        out[s] = (same or hits)[0]
    return out


def _read_label_csv(src: Source, member: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Names, face boxes int16 (N,4) and votes int16 (N,10) of a header-less label.csv."""
    where = src.where(member)
    names, boxes, votes = [], [], []
    seen: dict[str, int] = {}
    reader = csv.reader(src.open_text(member))
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        r = len(names)
        if len(row) != 2 + N_VOTES:
            raise DatasetFormatError(
                f"{where} row {r} (line {reader.line_num}): {len(row)} columns; expected {2 + N_VOTES}: "
                f'image name,"(x, y, w, h)",{",".join(FERPLUS_VOTES)}'
            )
        name = row[0].strip()
        if not name.lower().endswith(".png") or "/" in name:
            if r == 0 and name.lower().startswith(("image", "usage", "name")):
                raise DatasetFormatError(f"{where} row 0: a header row {row[:3]}...; label.csv has no header")
            raise DatasetFormatError(f"{where} row {r}: image name {name!r}; expected a file name like fer0000000.png")
        if name in seen:
            raise DatasetFormatError(f"{where} row {r}: {name} already listed at row {seen[name]}; expected one row per image")
        seen[name] = r
        m = _BOX_RE.match(row[1].strip())
        if m is None:
            raise DatasetFormatError(f"{where} row {r} ({name}): face box {row[1]!r}; expected \"(x, y, w, h)\" integers")
        counts = []
        for k, cell in enumerate(row[2:]):
            cell = cell.strip()
            if not cell.isdigit():
                raise DatasetFormatError(
                    f"{where} row {r} ({name}): {FERPLUS_VOTES[k]} vote count {cell!r}; expected a non-negative integer"
                )
            counts.append(int(cell))
        names.append(name)
        boxes.append([int(g) for g in m.groups()])
        votes.append(counts)
    if not names:
        raise DatasetFormatError(f"{where} has no rows; expected one row per PNG in its folder")
    return names, np.asarray(boxes, dtype=np.int16), np.asarray(votes, dtype=np.int16)


def _from_folders(src: Source, folders: dict[str, str], on_unreadable: str) -> dict[str, Any]:
    members, splits, boxes, votes, pre_reason = [], [], [], [], []
    unlisted: dict[str, list[str]] = {}
    for s in SPLITS:
        prefix = folders[s]
        label_csv = prefix + "label.csv"
        if label_csv not in src:
            raise DatasetFormatError(
                f"{src.where(prefix)}: no label.csv; expected {prefix}label.csv (image name, face box, 10 votes per row)"
            )
        names, b, v = _read_label_csv(src, label_csv)
        pngs = {n[len(prefix):] for n in src.under(prefix) if n.lower().endswith(".png") and "/" not in n[len(prefix):]}
        for r, name in enumerate(names):
            if name not in pngs:
                raise DatasetFormatError(
                    f"{src.where(label_csv)} row {r} lists {name} but {src.where(prefix + name)} does not exist"
                )
        extra = sorted(pngs - set(names))
        if extra:
            unlisted[FOLDERS[s]] = extra
        folder = FOLDERS[s]
        members += [prefix + n for n in names]
        splits += [s] * len(names)
        boxes.append(b)
        votes.append(v)
        pre_reason += ["pixels_votes_mismatch" if n in KNOWN_MISMATCHED.get(folder, ()) else "" for n in names]
    if unlisted:
        total = sum(map(len, unlisted.values()))
        warnings.warn(
            f"{src.where()}: {total} PNG(s) not listed in their label.csv were ignored: "
            + "; ".join(f"{f}: {len(v)} (e.g. {v[0]})" for f, v in unlisted.items()),
            stacklevel=3,
        )
    images = np.zeros((len(members), SIZE, SIZE), dtype=np.uint8)
    index = {n: i for i, n in enumerate(members)}
    reason = np.array(pre_reason, dtype="<U24")
    skipped = []
    for n, data in src.read_many(members):
        img = decode_face(src, n, data, on_unreadable, skipped)
        if img is None:
            reason[index[n]] = "unreadable"
        else:
            images[index[n]] = img
    return {
        "images": images, "split": np.array(splits), "votes": np.concatenate(votes), "boxes": np.concatenate(boxes),
        "source_ids": np.array(members), "reason": reason, "skipped": skipped,
        "meta": {"format": "ferplus-folders", "folders": folders,
                 "unlisted_png": {f: len(v) for f, v in unlisted.items()},
                 "unlisted_png_examples": {f: v[:10] for f, v in unlisted.items()},
                 "known_mismatched": {f: sorted(v) for f, v in KNOWN_MISMATCHED.items()}},
    }


# ---------------------------------------------------------------- fer2013new.csv form
def _is_new_csv(src: Source, member: str) -> bool:
    """A single file is taken as fer2013new.csv when it has that name, a .csv suffix or its header."""
    if member == NEW_CSV or member.lower().endswith(".csv"):
        return True
    return _first_line(src).replace('"', "").startswith(",".join(NEW_HEADER[:2]))


def _read_new_csv(src: Source, member: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    where = src.where(member)
    reader = csv.reader(src.open_text(member))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != NEW_HEADER:
        raise DatasetFormatError(f"{where}: header {header}; expected {','.join(NEW_HEADER)}")
    usage, names, votes = [], [], []
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        r = len(usage)
        if len(row) != len(NEW_HEADER):
            raise DatasetFormatError(f"{where} row {r} (line {reader.line_num}): {len(row)} columns; expected {len(NEW_HEADER)}")
        u = row[0].strip()
        if u not in USAGE_TO_SPLIT:
            raise DatasetFormatError(f"{where} row {r}: Usage {u!r}; expected one of {list(USAGE_TO_SPLIT)}")
        counts = []
        for k, cell in enumerate(row[2:]):
            cell = cell.strip()
            if not cell.isdigit():
                raise DatasetFormatError(f"{where} row {r}: {FERPLUS_VOTES[k]} vote count {cell!r}; expected a non-negative integer")
            counts.append(int(cell))
        usage.append(u)
        names.append(row[1].strip())
        votes.append(counts)
    return np.array(usage), names, np.asarray(votes, dtype=np.int16).reshape(-1, N_VOTES)


def _from_new_csv(src: Source, member: str, fer2013: str | os.PathLike) -> dict[str, Any]:
    usage, names, votes = _read_new_csv(src, member)
    fsrc = Source(fer2013, expected="fer2013.csv or a folder/archive holding it (the pixels fer2013new.csv indexes)")
    with fsrc:
        csv_member = find_fer2013_csv(fsrc)
        if csv_member is None:
            hint = (" (that is the image-folder copy, whose file names do not give the fer2013.csv row, "
                    "so it cannot be aligned with fer2013new.csv; use the FERPlus folders instead)") \
                if _folder_root(fsrc) is not None else ""
            raise DatasetFormatError(f"{fsrc.where()}: no fer2013.csv found{hint}; fer2013new.csv needs fer2013.csv's pixels")
        raw = read_fer2013_csv(fsrc, csv_member)
        fer_sha = fsrc.sha256()
    if len(raw["usage"]) != len(usage):
        raise DatasetFormatError(
            f"{src.where(member)} has {len(usage)} rows but {raw['where']} has {len(raw['usage'])}; "
            "fer2013new.csv must have one row per fer2013.csv row, in the same order"
        )
    off = np.flatnonzero(raw["usage"] != usage)
    if off.size:
        r = int(off[0])
        raise DatasetFormatError(
            f"{src.where(member)} row {r}: Usage {usage[r]} but {raw['where']} row {r} says {raw['usage'][r]}; "
            "the two files are not row-aligned"
        )
    named = np.array([bool(n) for n in names])
    counts = Counter(n for n in names if n)
    dup = {n: [i for i, m in enumerate(names) if m == n] for n, c in counts.items() if c > 1}
    reason = np.where(named, "", "removed_by_ferplus").astype("<U24")
    base = member.rsplit("/", 1)[-1]
    ids = np.array([f"{base}:row{i}:{n}" if n else f"{base}:row{i}" for i, n in enumerate(names)])
    return {
        "images": raw["images"], "split": np.array([USAGE_TO_SPLIT[u] for u in usage]), "votes": votes,
        "boxes": None, "source_ids": ids, "reason": reason, "skipped": [],
        "meta": {"format": "ferplus-fer2013new", "member": member, "fer2013": str(fsrc.path),
                 "fer2013_sha256": fer_sha, "duplicate_names": dup},
    }


# ------------------------------------------------------------------------- entry point
def load_ferplus(
    path: str | os.PathLike,
    *,
    fer2013: str | os.PathLike | None = None,
    rule: str = "majority",
    ties: str = "drop",
    num_classes: int = 8,
    on_unreadable: str = "raise",
) -> FERData:
    """Load FERPlus with labels from its 10 annotator votes.

    Args:
        path: ``ferplus.zip``, a folder holding the ``FER2013Train/Valid/Test`` folders
            (at any depth), or ``fer2013new.csv`` / a folder or archive holding it.
        fer2013: path to ``fer2013.csv`` or an archive/folder holding it. When given, the
            ``fer2013new.csv`` form is used (votes from fer2013new.csv, pixels from
            fer2013.csv, aligned by row); otherwise the generated folders.
        rule: ``"majority"`` or ``"ferplus"`` (see :func:`vote_labels`).
        ties: ``"drop"`` or ``"first"`` (``rule="majority"`` only).
        num_classes: 8 (:data:`~fernb.labels.CANONICAL`) or 7 (contempt-labelled images
            dropped, reason ``"contempt"``; classes :data:`~fernb.labels.SEVEN`).
        on_unreadable: ``"raise"`` or ``"skip"`` (reason ``"unreadable"``, listed in
            ``meta["skipped"]``).

    Returns:
        :class:`FERData` of the kept images, with ``votes`` int16 ``(N, 10)`` (file
        order) and, in the folder form, ``extras["face_box"]`` int16 ``(N, 4)``.
        ``meta``: ``source``, ``format``, ``sha256``, ``rule``, ``ties``, ``num_classes``,
        ``read`` (images per split read), ``kept``, ``dropped`` (split -> reason ->
        count; ``kept + sum(dropped) == read`` per split), ``skipped``, ``n_skipped``.
    """
    _check_on_unreadable(on_unreadable)
    classes = class_names(num_classes)
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    src = Source(path, expected="ferplus.zip, a folder holding FER2013Train/Valid/Test, or fer2013new.csv")
    with src:
        folders = None if src.kind == "file" else _find_folders(src)
        new_csv = src.find(NEW_CSV) if src.kind != "file" else [n for n in src.names() if _is_new_csv(src, n)]
        if src.kind == "file" and not new_csv:
            raise DatasetFormatError(
                f"{src.where()} is a single file whose first line {_first_line(src)[:60]!r} is not {NEW_CSV}'s header "
                f"{','.join(NEW_HEADER)}, and not a folder or a readable .zip/.tar.gz; expected\n{FERPLUS_LAYOUTS}"
            )
        if fer2013 is not None:
            if not new_csv:
                raise DatasetFormatError(f"{src.where()}: fer2013= was given but there is no {NEW_CSV} here; expected\n{FERPLUS_LAYOUTS}")
            got = _from_new_csv(src, new_csv[0], fer2013)
        elif folders is not None:
            got = _from_folders(src, folders, on_unreadable)
        elif new_csv:
            raise DatasetFormatError(
                f"{src.where()}: only {NEW_CSV} found (no FER2013Train/Valid/Test folders); it holds votes but no "
                "pixels: pass fer2013=<path to fer2013.csv or its archive>"
            )
        else:
            shown = ", ".join(src.names()[:5]) + (" ..." if len(src) > 5 else "")
            raise DatasetFormatError(f"{src.where()} holds no FERPlus layout (found {len(src)} files: {shown or 'none'}); expected\n{FERPLUS_LAYOUTS}")
        sha = src.sha256()

    votes = got["votes"]
    split = got["split"]
    label, why = vote_labels(votes, rule, ties)
    reason = got["reason"].copy()
    todo = reason == ""
    reason[todo] = why[todo]
    if num_classes == 7:
        reason[(reason == "") & (label == CONTEMPT)] = "contempt"
    keep = reason == ""
    read = {s: int((split == s).sum()) for s in SPLITS}
    kept = {s: int((keep & (split == s)).sum()) for s in SPLITS}
    dropped = {s: {str(k): int(c) for k, c in sorted(Counter(reason[(~keep) & (split == s)]).items())} for s in SPLITS}
    meta = {
        "source": str(src.path), "source_kind": src.kind, "sha256": sha, **got["meta"],
        "rule": rule, "ties": ties if rule == "majority" else None, "num_classes": num_classes,
        "read": read, "kept": kept, "dropped": dropped,
        "skipped": got["skipped"], "n_skipped": len(got["skipped"]),
        "vote_columns": list(FERPLUS_VOTES),
    }
    extras = {} if got["boxes"] is None else {"face_box": got["boxes"][keep]}
    return FERData(
        name="ferplus", images=got["images"][keep], labels=_VOTE_TO_CANONICAL[label[keep]], split=split[keep],
        classes=classes, source_ids=got["source_ids"][keep], votes=votes[keep].astype(np.int16),
        extras=extras, meta=meta,
    )
