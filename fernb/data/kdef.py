"""KDEF, the Karolinska Directed Emotional Faces (Lundqvist, Flykt & Öhman 1998).

Layout read (``KDEF_and_AKDEF.zip`` or its extracted folder; the ``KDEF/`` folder is
found at any depth, or the path may be the ``KDEF`` folder itself)::

    KDEF_and_AKDEF/KDEF/AF01/AF01ANS.JPG
                        <session><gender><id>/<session><gender><id><expression><pose>.JPG

with session ``A``/``B`` (two photo sessions of the same people), gender ``F``/``M``, id
``01``..``35`` (two digits), expression ``AF`` afraid, ``AN`` angry, ``DI`` disgusted,
``HA`` happy, ``NE`` neutral, ``SA`` sad, ``SU`` surprised, and pose (camera angle)
``FL`` full left, ``HL`` half left, ``S`` straight, ``HR`` half right, ``FR`` full right.
The extension is ``.JPG`` as shipped (``.jpg`` is accepted too). The ``AKDEF/`` folder
(averaged faces, no individual subjects) and the documentation next to ``KDEF/`` are
ignored (their file count is ``meta["ignored_outside_kdef"]``).

Labels: :data:`fernb.labels.KDEF_CODES` onto the canonical 7 classes
(:data:`fernb.labels.SEVEN`; KDEF has no contempt): AF -> fear, AN -> anger, DI ->
disgust, HA -> happy, NE -> neutral, SA -> sad, SU -> surprise.

Pose: the publisher's camera angle is the true yaw (:data:`fernb.labels.KDEF_POSES`, fernb's
convention, positive = nose toward the image right): FL -90, HL -45, S 0, HR +45, FR +90.
It is stored as ``FERData.pose`` with ``extras["pose_source"] == "publisher"``;
``extras["pose_code"]`` and ``extras["session"]`` keep the codes.

Split: KDEF ships none. Subject = gender + id (``F01``): the same person in sessions A and B
is one subject. Subjects are assigned to ``k`` subject-disjoint folds
(:func:`fernb.data.folds.subject_folds`, seeded by ``fold_seed``); fold ``test_fold`` is
test, the next fold val, the rest train. Folds are computed over *every* parsed image
before the ``poses``/``sessions`` filters, so a person sits in the same fold whatever
subset is kept (frontal-only and all-pose models are tested on the same people).

Not samples, counted: files under ``KDEF/`` whose name does not parse, that sit in a folder
other than their own subject folder, that are not ``.JPG``, or that repeat an image
already listed (``meta["bad_names"]``: file and reason); images outside ``poses`` /
``sessions`` (``meta["filtered"]``). No landmarks ship, so the face pipeline detects;
images it rejects (unreadable, no face...) are counted by reason in ``meta["rejected"]``
(:func:`fernb.data.photos.build_dataset`).
"""
from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

import numpy as np

from fernb.data.archive import Source
from fernb.data.core import FERData
from fernb.data.folds import fold_splits, layout_error, subject_folds
from fernb.data.photos import FaceRecord, attach_extras, build_dataset
from fernb.labels import KDEF_CODES, KDEF_POSES, SEVEN, canonical_index

__all__ = ["read_kdef", "load_kdef", "parse_kdef_name", "KDEF_LAYOUT", "SESSIONS"]

SESSIONS: tuple[str, ...] = ("A", "B")
_CODE = r"([AB])([FM])(\d{2})"
# Codes upper case as KDEF writes them; the extension in any case (.JPG as shipped).
_STRICT_RE = re.compile(r"^" + _CODE + r"(AF|AN|DI|HA|NE|SA|SU)(FL|HL|S|HR|FR)\.(?i:jpg)$")
_LOWER_RE = re.compile(r"^" + _CODE + r"(AF|AN|DI|HA|NE|SA|SU)(FL|HL|S|HR|FR)\.jpg$", re.IGNORECASE)
_FOLDER_RE = re.compile(r"^" + _CODE + r"$")

KDEF_LAYOUT = """\
KDEF_and_AKDEF/                 (KDEF_and_AKDEF.zip, extracted or not; any prefix folder)
  KDEF/
    AF01/
      AF01AFFL.JPG  AF01AFHL.JPG  AF01AFS.JPG  AF01AFHR.JPG  AF01AFFR.JPG
      AF01ANS.JPG ...
    <session><gender><id>/<session><gender><id><expression><pose>.JPG
      session A|B, gender F|M, id 01..35,
      expression AF|AN|DI|HA|NE|SA|SU, pose FL|HL|S|HR|FR
  AKDEF/ ...                    (averaged faces: ignored)"""


def parse_kdef_name(name: str) -> dict[str, str] | None:
    """The codes in a KDEF file name (``"AF01ANS.JPG"``), or None when it does not parse.

    Returns ``{"session", "gender", "id", "expression", "pose", "folder", "subject"}``;
    ``folder`` is the subject folder the file belongs in (``"AF01"``), ``subject`` the
    person across sessions (``"F01"``).
    """
    m = _STRICT_RE.match(name)
    if m is None:
        return None
    session, gender, ident, expression, pose = m.groups()
    return {"session": session, "gender": gender, "id": ident, "expression": expression, "pose": pose,
            "folder": session + gender + ident, "subject": gender + ident}


def _find_root(src: Source) -> str:
    """The ``KDEF/`` folder prefix (``"KDEF_and_AKDEF/KDEF/"``), ``""`` when the source is that folder."""
    def has_subjects(prefix: str) -> bool:
        for n in src.under(prefix):
            parts = n[len(prefix):].split("/")
            if len(parts) == 2 and _FOLDER_RE.match(parts[0]):
                return True
        return False

    for prefix in src.find("KDEF/"):
        if has_subjects(prefix):
            return prefix
    if src.kind != "file" and has_subjects(""):
        return ""
    shown = ", ".join(src.names()[:5]) + (" ..." if len(src) > 5 else "")
    problem = ("no KDEF/ folder of subject folders (AF01/, AM01/, BF01/ ...) found"
               + (f"; found {len(src)} files: {shown}" if len(src) else "; it holds no files"))
    raise layout_error("KDEF", src.where(), problem, KDEF_LAYOUT)


def _check_filters(poses, sessions) -> tuple[tuple[str, ...], tuple[str, ...]]:
    poses = (poses,) if isinstance(poses, str) else tuple(poses)
    sessions = (sessions,) if isinstance(sessions, str) else tuple(sessions)
    bad = [p for p in poses if p not in KDEF_POSES]
    if bad or not poses:
        raise ValueError(f"KDEF poses {bad or poses}; expected a non-empty subset of {tuple(KDEF_POSES)}")
    bad = [s for s in sessions if s not in SESSIONS]
    if bad or not sessions:
        raise ValueError(f"KDEF sessions {bad or sessions}; expected a non-empty subset of {SESSIONS}")
    return poses, sessions


def _read(src: Source, poses, sessions, k: int, test_fold: int, fold_seed: int) -> tuple[list[FaceRecord], dict, dict]:
    poses, sessions = _check_filters(poses, sessions)
    root = _find_root(src)
    members = src.under(root)
    bad: list[dict[str, str]] = []
    parsed: list[tuple[str, dict[str, str]]] = []
    seen: dict[tuple[str, str, str, str], str] = {}
    for member in members:
        rel = member[len(root):]
        folder, _, base = rel.rpartition("/")
        codes = parse_kdef_name(base)
        if codes is None:
            if not base.lower().endswith((".jpg", ".jpeg")):
                why = "not a .JPG image"
            elif _LOWER_RE.match(base):
                why = "codes not in upper case as KDEF names its files"
            else:
                why = ("name does not parse as <session A|B><gender F|M><id 01..35>"
                       "<expression AF|AN|DI|HA|NE|SA|SU><pose FL|HL|S|HR|FR>.JPG")
            bad.append({"file": member, "reason": why})
            continue
        if folder != codes["folder"]:
            where = f"folder {folder!r}" if folder else "the KDEF folder itself"
            bad.append({"file": member, "reason": f"sits in {where}, not in its subject folder {codes['folder']}/"})
            continue
        key = (codes["session"], codes["subject"], codes["expression"], codes["pose"])
        if key in seen:
            bad.append({"file": member, "reason": f"a second file for the image {seen[key]}"})
            continue
        seen[key] = member
        parsed.append((member, codes))
    if not parsed:
        raise layout_error("KDEF", src.where(root), f"{len(members)} files but none named like a KDEF image", KDEF_LAYOUT)

    # Folds over every parsed image, so the filters below never move a person between folds.
    subjects = [c["subject"] for _, c in parsed]
    try:
        folds = subject_folds(subjects, k=k, seed=fold_seed)
    except ValueError as exc:
        raise ValueError(f"KDEF at {src.where(root)}: {exc}") from None
    splits = fold_splits(folds, test_fold)
    records, info = [], {"session": [], "pose_code": [], "expression_code": []}
    filtered = Counter()
    for (member, c), fold, split in zip(parsed, folds, splits):
        if c["session"] not in sessions:
            filtered["session"] += 1
            continue
        if c["pose"] not in poses:
            filtered["pose"] += 1
            continue
        records.append(FaceRecord(
            source_id=member, label=canonical_index(c["expression"], KDEF_CODES, len(SEVEN), dataset="KDEF"),
            split=str(split), subject=c["subject"], yaw=float(KDEF_POSES[c["pose"]]), fold=int(fold)))
        info["session"].append(c["session"])
        info["pose_code"].append(c["pose"])
        info["expression_code"].append(c["expression"])
    if not records:
        raise ValueError(f"KDEF at {src.where(root)}: no image left with poses={poses} and sessions={sessions} "
                         f"({len(parsed)} parsed)")
    fold_subjects = {str(f): sorted(set(np.asarray(subjects)[folds == f].tolist())) for f in range(k)}
    meta: dict[str, Any] = {
        "source": str(src.path), "source_kind": src.kind, "format": "kdef", "kdef_folder": root,
        "files": len(members), "parsed": len(parsed), "listed": len(records),
        "ignored_outside_kdef": len(src) - len(members),
        "bad_names": bad, "n_bad_names": len(bad),
        "filtered": {"session": filtered["session"], "pose": filtered["pose"]},
        "poses": list(poses), "sessions": list(sessions),
        "label_map": {code: name for code, name in KDEF_CODES.items()},
        "pose_yaw": {code: KDEF_POSES[code] for code in KDEF_POSES},
        "subjects": len(set(subjects)),
        "folds": {"k": k, "test_fold": test_fold, "val_fold": (test_fold + 1) % k, "seed": fold_seed,
                  "protocol": "subject-disjoint (subject = gender+id, sessions A and B together)",
                  "subjects": fold_subjects},
    }
    return records, meta, info


def read_kdef(path: str | os.PathLike | Source, *, poses=tuple(KDEF_POSES), sessions=SESSIONS, k: int = 5,
              test_fold: int = 0, fold_seed: int = 0) -> tuple[list[FaceRecord], dict]:
    """Parse KDEF's file names into :class:`~fernb.data.photos.FaceRecord` rows (no pixels read).

    Args:
        path: ``KDEF_and_AKDEF.zip``, a folder holding ``KDEF/`` at any depth, the ``KDEF``
            folder itself, or an open :class:`~fernb.data.archive.Source`.
        poses: camera codes kept (e.g. ``("S",)`` for frontal only).
        sessions: sessions kept (``"A"``, ``"B"``).
        k, test_fold, fold_seed: the subject-disjoint folds (see the module docstring).

    Returns:
        ``(records, meta)``; records sorted by file name, each with its canonical label,
        split, subject (``F01``), publisher yaw and fold. ``meta`` as in the module docstring.

    Raises:
        DatasetFormatError: no KDEF layout under ``path`` (the message shows the tree expected).
        ValueError: unknown pose/session codes, fewer subjects than folds, nothing left.
    """
    if isinstance(path, Source):
        return _read(path, poses, sessions, k, test_fold, fold_seed)[:2]
    with Source(path, expected="KDEF_and_AKDEF.zip or a folder holding KDEF/") as src:
        return _read(src, poses, sessions, k, test_fold, fold_seed)[:2]


def load_kdef(path: str | os.PathLike, *, poses=tuple(KDEF_POSES), sessions=SESSIONS, k: int = 5, test_fold: int = 0,
              fold_seed: int = 0, pipeline=None, image_size: int = 224, rgb: bool = True, progress: bool = True) -> FERData:
    """KDEF as aligned, CLAHE'd face crops (:func:`read_kdef` + the face pipeline).

    Args:
        path, poses, sessions, k, test_fold, fold_seed: as in :func:`read_kdef`.
        pipeline: a :class:`~fernb.faces.pipeline.FacePipeline` (its ``size`` wins), or None
            for the default one at ``image_size``.
        rgb: keep colour (KDEF is colour); False stores grayscale.
        progress: show a progress bar.

    Returns:
        :class:`FERData` named ``"kdef"``, classes :data:`~fernb.labels.SEVEN`, ``pose`` = the
        publisher's yaw, extras ``subject``, ``fold``, ``session``, ``pose_code``,
        ``expression_code`` (plus those of :func:`~fernb.data.photos.build_dataset`).
    """
    with Source(path, expected="KDEF_and_AKDEF.zip or a folder holding KDEF/") as src:
        records, meta, info = _read(src, poses, sessions, k, test_fold, fold_seed)
        meta["sha256"] = src.sha256()
        data = build_dataset("kdef", src, records, classes=SEVEN, pipeline=pipeline, image_size=image_size, rgb=rgb,
                             meta=meta, progress=progress)
    return attach_extras(data, records, info)
