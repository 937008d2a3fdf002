"""CK+48, the widely shared 48×48 folder variant of CK+ (Lucey et al. 2010).

Layout read (the ``CK+48`` folder, found at any depth in a folder or archive; when no
folder of that name exists, the folder whose emotion sub-folders hold the most frames)::

    CK+48/anger/S010_004_00000017.png ... S010_004_00000019.png
    CK+48/contempt/S138_008_00000007.png
    CK+48/disgust/  fear/  happy/  sadness/  surprise/

Each image is a 48×48 grey face crop of one of the last frames of a labelled CK+ sequence,
named as the original frame, ``S<subject>_<sequence>_<frame>.png``. The commonly shared copy
holds the last three frames of each of CK+'s 327 labelled sequences (Lucey et al. 2010's
per-emotion sequence counts 45, 18, 59, 25, 69, 28, 83, times three: 981 images), no
neutral class. The crops are the publisher's faces: no detection, alignment or CLAHE runs
(:meth:`~fernb.data.core.FERData.framing` says ``"pre-cropped"``, as for FER2013), and the
images are stored as shipped, ``(N, 48, 48)`` uint8 grey.

Labels: the folder name, matched case-insensitively against the canonical names and the
spellings already used by other publishers (:data:`CKPLUS48_FOLDERS`: ``anger``/``angry``,
``sadness``/``sad``, ``happy``/``happiness``...). A ``neutral`` folder, which the common
copy lacks, is read as neutral frames (``frame_role`` ``"neutral"``).

Split: subject-disjoint folds by the ``S###`` prefix, with :func:`~fernb.data.ckplus.load_ckplus`'s
fold function and defaults (:func:`fernb.data.folds.subject_folds`, ``k=10``,
``fold_seed=0``): fold ``test_fold`` is test, the next fold val, the rest train. The folds
are computed over one entry per sequence, so a subject weighs its number of sequences;
:func:`~fernb.data.ckplus.load_ckplus` weighs it by its frames, ``peak_frames`` (+1 neutral)
per labelled sequence, a constant multiple, and ``subject_folds``' greedy balance then takes
the same decisions: **a subject is in the same fold whichever layout is read** (same ``k``
and ``fold_seed``; the exception would be a CK+ sequence shorter than ``peak_frames + 1``
frames). Folds are computed before contempt is dropped, so the 7- and 8-class views share them.

Dropped and counted: contempt with ``num_classes=7`` (``meta["dropped"]["contempt"]``,
sequences and frames, as :func:`~fernb.data.ckplus.load_ckplus` counts it); files not named
``S###_###_########.png`` directly inside an emotion folder (``meta["bad_names"]``, file and
reason, as CK+'s misnamed frames are); files outside the CK+48 folder
(``meta["ignored_outside"]``). An unknown emotion folder, an unreadable image, an image that
is not 48×48, one frame in two folders or one sequence under two emotions raise
:class:`~fernb.data.core.DatasetFormatError` naming the file and what was expected.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

import numpy as np

from fernb.data.archive import Source, open_source
from fernb.data.core import DatasetFormatError, FERData
from fernb.data.fer2013 import decode_gray
from fernb.data.folds import fold_splits, layout_error, subject_folds
from fernb.labels import CANONICAL, CKPLUS_CODES, FER2013_FOLDERS, FERPLUS_TO_CANONICAL, class_names, index_of

__all__ = ["load_ckplus48", "ckplus48_root", "CKPLUS48_FOLDERS", "CKPLUS48_LAYOUT"]

_SIZE = 48
_ROOT_NAME = "CK+48"
# Emotion folder (lower case) -> canonical class: the canonical names and the spellings of the
# Kaggle FER2013 folders and FERPlus' columns (anger/angry, sadness/sad, happiness/happy...).
CKPLUS48_FOLDERS: dict[str, str] = {**{name: name for name in CANONICAL}, **FER2013_FOLDERS, **FERPLUS_TO_CANONICAL}
_FRAME_RE = re.compile(r"^(S\d{3})_(\d{3})_(\d{8})\.png$")
_CODE_OF = {name: code for code, name in CKPLUS_CODES.items()}
_EXPECTED = "expected CK+48/<emotion>/S###_###_########.png (e.g. CK+48/anger/S010_004_00000017.png)"

CKPLUS48_LAYOUT = """\
CK+48/                             (any prefix folder; a folder or a .zip)
  anger/S010_004_00000017.png      48x48 grey crops, named as the CK+ frame S<subject>_<sequence>_<frame>
  contempt/  disgust/  fear/  happy/  sadness/  surprise/"""


def ckplus48_root(src: Source) -> str | None:
    """The folder prefix of ``src`` holding the CK+48 emotion folders (``""``, ``"CK+48/"``,
    ``"data/CK+48/"``...), or None when no file sits in the CK+48 layout.

    A folder named ``CK+48`` wins; otherwise the folder whose emotion sub-folders hold the
    most frame-named PNGs, the shallowest on a tie.
    """
    roots: Counter = Counter()
    for name in src.names():
        parts = name.split("/")
        if len(parts) >= 2 and parts[-2].lower() in CKPLUS48_FOLDERS and _FRAME_RE.match(parts[-1]):
            roots["/".join(parts[:-2])] += 1
    if not roots:
        return None
    named = [r for r in roots if r.rsplit("/", 1)[-1].upper() == _ROOT_NAME]
    root = max(named or roots, key=lambda r: (roots[r], -r.count("/")))
    return root + "/" if root else ""


def _parse(src: Source, root: str) -> tuple[list[dict[str, Any]], list[dict[str, str]], dict[str, str]]:
    """One row per frame (member, subject, sequence, frame, canonical class), the bad names,
    and the emotion folders met (as shipped -> canonical)."""
    rows: list[dict[str, Any]] = []
    bad: list[dict[str, str]] = []
    folders: dict[str, str] = {}
    seen: dict[tuple[str, str, int], str] = {}
    emotion_of: dict[tuple[str, str], tuple[str, str]] = {}
    for member in src.under(root):
        pieces = member[len(root):].split("/")
        if len(pieces) == 1:
            bad.append({"file": member, "reason": "not inside an emotion folder"})
            continue
        folder = pieces[0]
        if folder.lower() not in CKPLUS48_FOLDERS:
            raise DatasetFormatError(f"{src.where(member)}: unknown emotion folder {folder!r}; expected one of "
                                     f"{sorted(CKPLUS48_FOLDERS)} (any case), {_EXPECTED}")
        if len(pieces) > 2:
            bad.append({"file": member, "reason": f"inside a sub-folder of {folder}/, not directly in it"})
            continue
        m = _FRAME_RE.match(pieces[1])
        if m is None:
            bad.append({"file": member, "reason": "name does not match S###_###_########.png"})
            continue
        subject, sequence, frame = m.group(1), m.group(2), int(m.group(3))
        name = CKPLUS48_FOLDERS[folder.lower()]
        folders[folder] = name
        key = (subject, sequence, frame)
        if key in seen:
            raise DatasetFormatError(f"{src.where(member)}: frame {pieces[1]} is also {src.where(seen[key])}; "
                                     "expected each frame in one emotion folder")
        seen[key] = member
        if name != "neutral":
            other = emotion_of.setdefault((subject, sequence), (name, member))
            if other[0] != name:
                raise DatasetFormatError(f"{src.where(member)}: sequence {subject}_{sequence} is {name} here but "
                                         f"{other[0]} in {src.where(other[1])}; expected one emotion per sequence")
        rows.append({"member": member, "subject": subject, "sequence": f"{subject}/{sequence}", "frame": frame,
                     "name": name})
    return rows, bad, folders


def _read_images(src: Source, members: list[str]) -> np.ndarray:
    """The 48×48 grey images of ``members`` (in that order); a file that is not one raises."""
    images = np.empty((len(members), _SIZE, _SIZE), dtype=np.uint8)
    index = {m: i for i, m in enumerate(members)}
    for member, data in src.read_many(members):
        img = decode_gray(data)
        if img is None:
            raise DatasetFormatError(f"{src.where(member)}: unreadable image (cv2.imdecode could not decode it: corrupt "
                                     f"or not a PNG); expected a {_SIZE}x{_SIZE} grey PNG")
        if img.shape != (_SIZE, _SIZE):
            raise DatasetFormatError(f"{src.where(member)}: image is {img.shape[1]}x{img.shape[0]}; expected "
                                     f"{_SIZE}x{_SIZE} (a CK+48 crop)")
        images[index[member]] = img
    return images


def _folds(rows: list[dict[str, Any]], k: int, test_fold: int, fold_seed: int, where: str):
    """Per-row fold and split, and the subjects of each fold: subject_folds over one entry per sequence."""
    sequences = sorted({r["sequence"] for r in rows})
    seq_subjects = [s.split("/")[0] for s in sequences]
    try:
        seq_folds = subject_folds(seq_subjects, k=k, seed=fold_seed)
    except ValueError as exc:
        raise ValueError(f"CK+48 at {where}: {exc}") from None
    fold_of = dict(zip(seq_subjects, seq_folds.tolist()))
    folds = np.array([fold_of[r["subject"]] for r in rows], dtype=np.int64)
    by_fold = {str(f): sorted({s for s, g in fold_of.items() if g == f}) for f in range(k)}
    return folds, fold_splits(folds, test_fold), by_fold


def load_ckplus48(path: str | os.PathLike | Source, *, num_classes: int = 8, k: int = 10, test_fold: int = 0,
                  fold_seed: int = 0) -> FERData:
    """CK+48 as shipped: 48×48 grey crops, canonical labels, subject-disjoint folds.

    Args:
        path: the ``CK+48`` folder, a folder or ``.zip`` holding it at any depth, or an
            open :class:`~fernb.data.archive.Source`.
        num_classes: 8 (:data:`~fernb.labels.CANONICAL`, contempt kept) or 7 (contempt
            dropped and counted), as :func:`~fernb.data.ckplus.load_ckplus`.
        k, test_fold, fold_seed: the subject-disjoint folds, with load_ckplus' defaults, so
            that a subject lands in the same fold as when the original CK+ layout is read
            (module docstring).

    Returns:
        :class:`FERData` named ``"ckplus"`` (the same subjects and sequences as CK+, another
        packaging, as FER2013's CSV and folders are both ``"fer2013"``), images ``(N, 48, 48)``
        uint8, extras ``subject``, ``fold``, ``sequence`` (``"S005/001"``, as load_ckplus),
        ``frame``, ``frame_role`` (``"peak"``, or ``"neutral"`` from a neutral folder) and
        ``emotion_code`` (the CK+ code of the folder's emotion). ``meta``: ``source``,
        ``source_kind``, ``format`` (``"ckplus48-folders"``), ``root``, ``sha256`` (of the
        folder or archive, :meth:`Source.sha256`), ``folders`` (as shipped -> canonical),
        ``class_counts`` (images per class read, contempt included), ``subjects``,
        ``sequences`` (counts) and ``sequence_ids``, ``sequence_labels``, ``frames``,
        ``dropped``, ``bad_names``, ``n_bad_names``, ``ignored_outside``, ``folds``, and
        ``listed``/``kept``/``rejected``/``alignment`` as the photo loaders write them
        (nothing is rejected: no face pipeline runs).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        DatasetFormatError: no CK+48 layout (the message shows the tree expected), or a bad
            file (the message names it and what was expected).
    """
    classes = class_names(num_classes)
    src, owned = open_source(path, expected="the CK+48 folder or a zip holding CK+48/<emotion>/S###_###_########.png")
    try:
        root = ckplus48_root(src)
        if root is None:
            shown = ", ".join(src.names()[:5]) + (" ..." if len(src) > 5 else "")
            raise layout_error("CK+48", src.where(), f"no <emotion>/S###_###_########.png file found (found {len(src)} "
                               f"files: {shown})", CKPLUS48_LAYOUT)
        rows, bad, folders = _parse(src, root)
        where = src.where(root or None)
        if not rows:
            raise layout_error("CK+48", where, "no image named <emotion>/S###_###_########.png", CKPLUS48_LAYOUT)
        rows.sort(key=lambda r: (r["sequence"], r["frame"], r["name"]))
        folds, splits, by_fold = _folds(rows, k, test_fold, fold_seed, where)
        keep = np.array([index_of(r["name"]) < num_classes for r in rows], dtype=bool)
        kept = [r for r, ok in zip(rows, keep) if ok]
        images = _read_images(src, [r["member"] for r in kept])
        meta = _meta(src, root, rows, kept, bad, folders, classes, k, test_fold, fold_seed, by_fold)
        meta["sha256"] = src.sha256()
    finally:
        if owned:
            src.close()
    return FERData(
        name="ckplus", images=images, labels=np.array([index_of(r["name"]) for r in kept], dtype=np.int64),
        split=splits[keep], classes=classes, source_ids=np.array([r["member"] for r in kept], dtype=str),
        extras={"subject": np.array([r["subject"] for r in kept], dtype=str), "fold": folds[keep],
                "sequence": np.array([r["sequence"] for r in kept], dtype=str),
                "frame": np.array([r["frame"] for r in kept], dtype=np.int64),
                "frame_role": np.array(["neutral" if r["name"] == "neutral" else "peak" for r in kept], dtype=str),
                "emotion_code": np.array([_CODE_OF[r["name"]] for r in kept], dtype=np.int64)},
        meta=meta,
    )


def _meta(src: Source, root: str, rows: list[dict], kept: list[dict], bad: list[dict], folders: dict[str, str],
          classes: tuple[str, ...], k: int, test_fold: int, fold_seed: int, by_fold: dict[str, list[str]]) -> dict:
    dropped = [r for r in rows if r["name"] not in classes]
    sequence_label = {r["sequence"]: r["name"] for r in rows if r["name"] != "neutral"}
    neutral = sum(r["name"] == "neutral" for r in kept)
    return {
        "source": str(src.path), "source_kind": src.kind, "format": "ckplus48-folders", "root": root,
        "folders": dict(sorted(folders.items())), "num_classes": len(classes), "classes": list(classes),
        "class_counts": {name: n for name in CANONICAL if (n := sum(r["name"] == name for r in rows))},
        "subjects": len({r["subject"] for r in rows}), "sequences": len({r["sequence"] for r in rows}),
        "sequence_ids": sorted({r["sequence"] for r in rows}),
        "sequence_labels": dict(sorted(Counter(sequence_label.values()).items())),
        "frames": {"neutral": neutral, "peak": len(kept) - neutral},
        "dropped": ({"contempt": {"sequences": len({r["sequence"] for r in dropped}), "frames": len(dropped)}}
                    if len(classes) == 7 else {}),
        "bad_names": bad, "n_bad_names": len(bad), "ignored_outside": len(src) - len(src.under(root)),
        "listed": len(kept), "kept": len(kept), "rejected": {}, "n_rejected": {},
        "alignment": {"pre-cropped (publisher's 48x48 crops)": len(kept)},
        "folds": {"k": k, "test_fold": test_fold, "val_fold": (test_fold + 1) % k, "seed": fold_seed,
                  "protocol": "subject-disjoint (subject = Sxxx), balanced by sequences", "subjects": by_fold},
    }
