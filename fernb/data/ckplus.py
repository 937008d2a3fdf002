"""CK+, the Extended Cohn-Kanade dataset (Lucey et al. 2010).

Layout read (the ``CK+`` folder, or the publisher's zips extracted side by side; the
``cohn-kanade-images`` folder is found at any depth, and ``Emotion``/``Landmarks`` next to
it, elsewhere in the same folder/archive, or in ``Emotion_labels.zip`` / ``Landmarks.zip``
lying unextracted next to ``extended-cohn-kanade-images.zip``)::

    cohn-kanade-images/S005/001/S005_001_00000001.png ... S005_001_00000011.png
    Emotion/S005/001/S005_001_00000011_emotion.txt      one line "   3.0000000e+00"
    Landmarks/S005/001/S005_001_00000001_landmarks.txt  68 lines "   2.9403000e+02   2.6747000e+02" (x y)

One folder per subject (``Sxxx``) and posed sequence (``nnn``), frames numbered from
neutral onset to the expression's peak; images 640×490 (some 640×480), gray or colour.
``Landmarks`` is optional.

Labels: the emotion code (:data:`fernb.labels.CKPLUS_CODES`) onto the canonical classes:
0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness -> sad, 7 surprise.
Only sequences with an emotion file are labelled (327 of 593 in the published set); the
others are counted (``meta["unlabelled_sequences"]``) and give no sample.

Frames taken from a labelled sequence of ``n`` frames: the last ``peak_frames`` frames get
the sequence's emotion; with ``neutral_first`` the first frame is a neutral sample. A
sequence shorter than ``peak_frames + 1`` frames gives what it has, and the neutral frame
is never also a peak frame: with ``neutral_first`` the peaks are the last
``min(peak_frames, n - 1)`` frames and a one-frame sequence gives its single frame as a
peak with no neutral (listed in ``meta["short_sequences"]``). The neutral first frame of
a contempt sequence stays a neutral sample in the 7-class view.

Landmarks: when a frame's ``_landmarks.txt`` exists its 68 points are used as shipped
(``(x, y)`` pixel coordinates, iBUG/Multi-PIE order) and the face is not detected
(``extras["alignment"] == "landmarks"``); a frame without one goes through detection.
Head pose is estimated from the landmarks (CK+ ships none).

Split: CK+ ships none. Subjects (``Sxxx``) are assigned to ``k`` subject-disjoint folds
(:func:`fernb.data.folds.subject_folds`, ``fold_seed``; default ``k=10``, the usual CK+
protocol); fold ``test_fold`` is test, the next fold val, the rest train. Folds are
computed before contempt is dropped, so the 7- and 8-class views share them.

Dropped and counted: contempt with ``num_classes=7`` (``meta["dropped"]["contempt"]``,
sequences and frames); image files not named ``Sxxx_nnn_NNNNNNNN.png`` inside their own
``Sxxx/nnn/`` folder (``meta["bad_names"]``); emotion files of sequences without images
(``meta["emotion_without_images"]``); images the face pipeline rejects
(``meta["rejected"]``). A malformed emotion or landmark file raises
:class:`~fernb.data.core.DatasetFormatError` naming the file and what was expected.

CK+48: where no ``cohn-kanade-images/`` folder is found but the shared 48×48 variant
``CK+48/<emotion>/Sxxx_nnn_NNNNNNNN.png`` is, :func:`load_ckplus` reads that instead
(:func:`fernb.data.ckplus48.load_ckplus48`: same folds for the same subjects, no face
pipeline), so that either copy under ``$FERNB_DATA`` is the dataset ``ckplus``.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from fernb.data.archive import Source
from fernb.data.ckplus48 import CKPLUS48_LAYOUT, ckplus48_root, load_ckplus48
from fernb.data.core import DatasetFormatError, FERData
from fernb.data.folds import fold_splits, layout_error, subject_folds
from fernb.data.photos import FaceRecord, build_dataset
from fernb.labels import CKPLUS_CODES, canonical_index, class_names

__all__ = ["read_ckplus", "load_ckplus", "read_emotion", "read_landmarks", "CKPLUS_LAYOUT"]

IMAGES, EMOTION, LANDMARKS = "cohn-kanade-images", "Emotion", "Landmarks"
_IMAGE_RE = re.compile(r"^(S\d{3})_(\d{3})_(\d{8})\.png$")
_EMOTION_RE = re.compile(r"^(S\d{3})_(\d{3})_(\d{8})_emotion\.txt$")
_LANDMARKS_RE = re.compile(r"^(S\d{3})_(\d{3})_(\d{8})_landmarks\.txt$")
_SUBJECT_RE = re.compile(r"^S\d{3}$")
_SEQUENCE_RE = re.compile(r"^\d{3}$")
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")

CKPLUS_LAYOUT = """\
CK+/                               (the zips extracted side by side; any prefix folder)
  cohn-kanade-images/S005/001/S005_001_00000001.png ... S005_001_00000011.png
  Emotion/S005/001/S005_001_00000011_emotion.txt      one number 0..7, e.g. "   3.0000000e+00"
  Landmarks/S005/001/S005_001_00000001_landmarks.txt  68 lines "x y" (optional)
  <folder>/S<subject 3 digits>/<sequence 3 digits>/S<subject>_<sequence>_<frame 8 digits>...
or the shared 48x48 variant (load_ckplus only; fernb.data.ckplus48):
""" + CKPLUS48_LAYOUT
_EXPECTED = "the CK+ folder or a zip holding cohn-kanade-images/ (or CK+48/)"


# ----------------------------------------------------------------------- file readers
def read_emotion(text: str, where: str) -> int:
    """The emotion code 0..7 in the text of an ``_emotion.txt`` file (``"   3.0000000e+00"``)."""
    tokens = text.split()
    code = None
    if len(tokens) == 1:
        try:
            value = float(tokens[0])
        except ValueError:
            value = float("nan")
        if np.isfinite(value) and value == int(value) and int(value) in CKPLUS_CODES:
            code = int(value)
    if code is None:
        shown = text if len(text) <= 60 else text[:60] + "..."
        raise DatasetFormatError(f"{where}: content {shown!r}; expected one number 0..7 "
                                 "(CK+ emotion code, e.g. '   3.0000000e+00')")
    return code


def read_landmarks(text: str, where: str) -> np.ndarray:
    """The ``(68, 2)`` (x, y) points of a ``_landmarks.txt`` file (68 lines of two numbers)."""
    lines = [line for line in text.splitlines() if line.strip()]
    problem = "" if len(lines) == 68 else f"{len(lines)} non-empty lines"
    points = []
    for i, line in enumerate(lines if not problem else ()):
        tokens = line.split()
        try:
            xy = [float(t) for t in tokens]
        except ValueError:
            xy = []
        if len(xy) != 2 or not np.isfinite(xy).all():
            problem = f"line {i + 1} is {line.strip()!r}"
            break
        points.append(xy)
    if problem:
        raise DatasetFormatError(f"{where}: {problem}; expected 68 lines of two numbers 'x y' "
                                 "(e.g. '   2.9403000e+02   2.6747000e+02')")
    return np.asarray(points, dtype=np.float64)


# ---------------------------------------------------------------------- finding parts
@dataclass
class _Parts:
    """Where the three CK+ folders are: each a (Source, folder prefix) or None."""

    images: tuple[Source, str]
    emotion: tuple[Source, str]
    landmarks: tuple[Source, str] | None
    opened: list[Source] = field(default_factory=list)

    def close(self) -> None:
        for s in self.opened:
            s.close()


def _parent(prefix: str) -> str:
    parent = str(PurePosixPath(prefix.rstrip("/")).parent)
    return "" if parent == "." else parent + "/"


def _folder_in(src: Source, name: str, near: str | None = None) -> str | None:
    hits = src.find(name + "/")
    if near is not None and near + name + "/" in hits:
        return near + name + "/"
    return hits[0] if hits else None


def _side_archives(main: Source) -> list[Path]:
    """Unextracted Emotion/Landmarks archives next to (or, for a folder, inside) ``main``."""
    if main.kind == "folder":
        paths = [main.path / n for n in main.names()]
    else:
        paths = [p for p in sorted(main.path.parent.iterdir()) if p.is_file() and p != main.path]
    return [p for p in paths if p.name.lower().endswith(_ARCHIVE_SUFFIXES)
            and ("emotion" in p.name.lower() or "landmark" in p.name.lower())]


def _open_parts(main: Source) -> _Parts:
    images = _folder_in(main, IMAGES)
    if images is None:
        shown = ", ".join(main.names()[:5]) + (" ..." if len(main) > 5 else "")
        raise layout_error("CK+", main.where(), f"no {IMAGES}/ folder found"
                           + (f" (found {len(main)} files: {shown})" if len(main) else " (no files)"), CKPLUS_LAYOUT)
    near = _parent(images)
    parts = {EMOTION: None, LANDMARKS: None}
    for name in parts:
        prefix = _folder_in(main, name, near)
        if prefix is not None:
            parts[name] = (main, prefix)
    opened: list[Source] = []
    if parts[EMOTION] is None or parts[LANDMARKS] is None:
        for path in _side_archives(main):
            side = Source(path)
            used = False
            for name in parts:
                prefix = _folder_in(side, name) if parts[name] is None else None
                if prefix is not None:
                    parts[name], used = (side, prefix), True
            if used:
                opened.append(side)
            else:
                side.close()
    if parts[EMOTION] is None:
        for s in opened:
            s.close()
        raise layout_error("CK+", main.where(), f"{IMAGES}/ found at {main.where(images)} but no {EMOTION}/ folder "
                           "(Emotion_labels.zip extracted next to it) holding the labels", CKPLUS_LAYOUT)
    return _Parts((main, images), parts[EMOTION], parts[LANDMARKS], opened)


def _split_rel(rel: str, name_re: re.Pattern) -> tuple[str, str, int] | str:
    """``(subject, sequence, frame)`` of ``Sxxx/nnn/<name>``, or why it is not such a file."""
    pieces = rel.split("/")
    m = name_re.match(pieces[-1])
    if m is None:
        return "name does not match " + name_re.pattern.strip("^$").replace("\\", "")
    subject, sequence, frame = m.groups()
    if len(pieces) != 3 or pieces[0] != subject or pieces[1] != sequence:
        return f"not in its own folder {subject}/{sequence}/"
    return subject, sequence, int(frame)


# ----------------------------------------------------------------------------- parsing
def _read(parts: _Parts, peak_frames: int, neutral_first: bool, num_classes: int, k: int, test_fold: int,
          fold_seed: int) -> tuple[list[FaceRecord], dict, dict]:
    if int(peak_frames) != peak_frames or peak_frames < 1:
        raise ValueError(f"peak_frames must be a positive integer, got {peak_frames!r}")
    classes = class_names(num_classes)
    src, images = parts.images
    bad: list[dict[str, str]] = []
    frames: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for member in src.under(images):
        got = _split_rel(member[len(images):], _IMAGE_RE)
        if isinstance(got, str):
            bad.append({"file": member, "reason": got})
            continue
        subject, sequence, frame = got
        frames.setdefault((subject, sequence), []).append((frame, member))
    if not frames:
        raise layout_error("CK+", src.where(images), "no image named Sxxx/nnn/Sxxx_nnn_NNNNNNNN.png", CKPLUS_LAYOUT)
    for seq in frames.values():
        seq.sort()

    esrc, eprefix = parts.emotion
    emotions: dict[tuple[str, str], tuple[int, int, str]] = {}
    for member in esrc.under(eprefix):
        got = _split_rel(member[len(eprefix):], _EMOTION_RE)
        if isinstance(got, str):
            raise DatasetFormatError(f"{esrc.where(member)}: {got}; expected {EMOTION}/Sxxx/nnn/Sxxx_nnn_NNNNNNNN_emotion.txt")
        subject, sequence, frame = got
        if (subject, sequence) in emotions:
            raise DatasetFormatError(f"{esrc.where(member)}: a second emotion file for {subject}/{sequence} "
                                     f"(first {esrc.where(emotions[subject, sequence][2])}); expected one per sequence")
        code = read_emotion(esrc.read(member).decode("utf-8", errors="replace"), esrc.where(member))
        emotions[subject, sequence] = (code, frame, member)

    landmark_files: dict[tuple[str, str, int], str] = {}
    if parts.landmarks is not None:
        lsrc, lprefix = parts.landmarks
        for member in lsrc.under(lprefix):
            got = _split_rel(member[len(lprefix):], _LANDMARKS_RE)
            if isinstance(got, str):
                bad.append({"file": member, "reason": got})
            else:
                landmark_files[got] = member

    no_images = sorted(f"{s}/{q}" for s, q in emotions if (s, q) not in frames)
    unlabelled = sorted(f"{s}/{q}" for s, q in frames if (s, q) not in emotions)
    short, not_last = [], []
    rows: list[dict[str, Any]] = []
    for (subject, sequence), seq in sorted(frames.items()):
        if (subject, sequence) not in emotions:
            continue
        code, emotion_frame, _ = emotions[subject, sequence]
        n = len(seq)
        if emotion_frame != seq[-1][0]:
            not_last.append({"sequence": f"{subject}/{sequence}", "emotion_frame": emotion_frame, "last_frame": seq[-1][0]})
        neutral = neutral_first and n >= 2
        peaks = seq[max(1 if neutral else 0, n - peak_frames):]
        if n < peak_frames + (1 if neutral_first else 0):
            short.append({"sequence": f"{subject}/{sequence}", "frames": n, "peaks": len(peaks), "neutral": neutral})
        chosen = ([(seq[0], 0, "neutral")] if neutral else []) + [(f, code, "peak") for f in peaks]
        for (frame, member), c, role in chosen:
            rows.append({"member": member, "subject": subject, "sequence": f"{subject}/{sequence}", "frame": frame,
                         "code": c, "role": role, "label8": canonical_index(c, CKPLUS_CODES, 8, dataset="CK+")})

    # Folds before the 7-class drop, so that both views put every subject in the same fold.
    subjects = np.array([r["subject"] for r in rows], dtype=str)
    if not rows:
        raise DatasetFormatError(f"{src.where(images)}: no labelled sequence (no emotion file matches an image sequence)")
    try:
        folds = subject_folds(subjects, k=k, seed=fold_seed)
    except ValueError as exc:
        raise ValueError(f"CK+ at {src.where(images)}: {exc}") from None
    splits = fold_splits(folds, test_fold)

    records: list[FaceRecord] = []
    info: dict[str, list] = {"sequence": [], "frame": [], "frame_role": [], "emotion_code": []}
    dropped = {"sequences": set(), "frames": 0}
    used_landmarks = 0
    for r, fold, split in zip(rows, folds, splits):
        label = r["label8"] if r["label8"] < num_classes else None
        if label is None:
            dropped["sequences"].add(r["sequence"])
            dropped["frames"] += 1
            continue
        landmarks = None
        key = (r["subject"], r["sequence"][-3:], r["frame"])
        if key in landmark_files:
            lsrc, _ = parts.landmarks
            member = landmark_files[key]
            landmarks = read_landmarks(lsrc.read(member).decode("utf-8", errors="replace"), lsrc.where(member))
            used_landmarks += 1
        records.append(FaceRecord(source_id=r["member"], label=int(label), split=str(split), subject=r["subject"],
                                  landmarks=landmarks, fold=int(fold)))
        info["sequence"].append(r["sequence"])
        info["frame"].append(r["frame"])
        info["frame_role"].append(r["role"])
        info["emotion_code"].append(r["code"])

    fold_subjects = {str(f): sorted(set(subjects[folds == f].tolist())) for f in range(k)}
    lsrc_where = None if parts.landmarks is None else parts.landmarks[0].where(parts.landmarks[1])
    meta: dict[str, Any] = {
        "source": str(src.path), "source_kind": src.kind, "format": "ckplus",
        "images_folder": src.where(images), "emotion_folder": esrc.where(eprefix), "landmarks_folder": lsrc_where,
        "sequences": len(frames), "labelled_sequences": len(frames) - len(unlabelled),
        "n_unlabelled_sequences": len(unlabelled), "unlabelled_sequences": unlabelled,
        "emotion_without_images": no_images, "emotion_frame_not_last": not_last,
        "sequence_labels": {CKPLUS_CODES[c]: n for c, n in sorted(Counter(
            emotions[key][0] for key in frames if key in emotions).items())},
        "peak_frames": int(peak_frames), "neutral_first": bool(neutral_first), "short_sequences": short,
        "frames": {role: info["frame_role"].count(role) for role in ("neutral", "peak")},
        "num_classes": num_classes, "classes": list(classes),
        "dropped": {"contempt": {"sequences": len(dropped["sequences"]), "frames": dropped["frames"]}} if num_classes == 7 else {},
        "landmarks": {"used": used_landmarks, "missing": len(records) - used_landmarks},
        "bad_names": bad, "n_bad_names": len(bad), "listed": len(records),
        "label_map": {str(c): name for c, name in CKPLUS_CODES.items()},
        "subjects": len(set(subjects.tolist())),
        "folds": {"k": k, "test_fold": test_fold, "val_fold": (test_fold + 1) % k, "seed": fold_seed,
                  "protocol": "subject-disjoint (subject = Sxxx)", "subjects": fold_subjects},
    }
    return records, meta, info


def read_ckplus(path: str | os.PathLike | Source, *, peak_frames: int = 3, neutral_first: bool = True,
                num_classes: int = 8, k: int = 10, test_fold: int = 0, fold_seed: int = 0) -> tuple[list[FaceRecord], dict]:
    """Parse CK+ into :class:`~fernb.data.photos.FaceRecord` rows (labels, landmarks; no pixels).

    Args:
        path: the ``CK+`` folder (the zips extracted side by side, at any depth), a zip
            holding it, ``extended-cohn-kanade-images.zip`` with ``Emotion_labels.zip``
            (and optionally ``Landmarks.zip``) next to it, or an open
            :class:`~fernb.data.archive.Source`.
        peak_frames: frames at the end of each labelled sequence that get its emotion.
        neutral_first: the first frame of each labelled sequence is a neutral sample.
        num_classes: 8 (:data:`~fernb.labels.CANONICAL`) or 7 (contempt dropped, counted).
        k, test_fold, fold_seed: the subject-disjoint folds (see the module docstring).

    Returns:
        ``(records, meta)``: records in subject/sequence/frame order, ``source_id`` the image
        member; ``meta`` as in the module docstring.

    Raises:
        DatasetFormatError: no CK+ layout (the message shows the tree expected), or a
            malformed emotion/landmark file (the message names it).
    """
    main = path if isinstance(path, Source) else Source(path, expected=_EXPECTED)
    try:
        parts = _open_parts(main)
        try:
            return _read(parts, peak_frames, neutral_first, num_classes, k, test_fold, fold_seed)[:2]
        finally:
            parts.close()
    finally:
        if main is not path:
            main.close()


def load_ckplus(path: str | os.PathLike, *, peak_frames: int = 3, neutral_first: bool = True, num_classes: int = 8,
                k: int = 10, test_fold: int = 0, fold_seed: int = 0, pipeline=None, image_size: int = 224,
                rgb: bool = True, progress: bool = True) -> FERData:
    """CK+ as aligned, CLAHE'd face crops (:func:`read_ckplus` + the face pipeline).

    Args:
        path, peak_frames, neutral_first, num_classes, k, test_fold, fold_seed: as in
            :func:`read_ckplus`; ``path`` may instead hold CK+48 (module docstring), read by
            :func:`~fernb.data.ckplus48.load_ckplus48` with ``num_classes``, ``k``,
            ``test_fold`` and ``fold_seed``; the options that shape photographs
            (``peak_frames``, ``neutral_first``, ``pipeline``, ``image_size``, ``rgb``) do not
            apply to its 48×48 grey crops and are listed in ``meta["options_not_applied"]``.
        pipeline: a :class:`~fernb.faces.pipeline.FacePipeline` (its ``size`` wins), or None
            for the default one at ``image_size``. Frames with shipped landmarks never
            reach its detector.
        rgb: store 3 channels (gray frames replicated); False stores grayscale.
        progress: show a progress bar.

    Returns:
        :class:`FERData` named ``"ckplus"`` with ``landmarks`` (in crop pixels), extras
        ``subject``, ``fold``, ``sequence`` (``"S005/001"``), ``frame``, ``frame_role``
        (``"neutral"``/``"peak"``), ``emotion_code`` (the sequence's code) plus those of
        :func:`~fernb.data.photos.build_dataset`.
    """
    with Source(path, expected=_EXPECTED) as main:
        if not main.find(IMAGES + "/") and ckplus48_root(main) is not None:
            data = load_ckplus48(main, num_classes=num_classes, k=k, test_fold=test_fold, fold_seed=fold_seed)
            data.meta["options_not_applied"] = {"peak_frames": peak_frames, "neutral_first": neutral_first,
                                                "pipeline": None if pipeline is None else type(pipeline).__name__,
                                                "image_size": image_size, "rgb": rgb}
            return data
        parts = _open_parts(main)
        try:
            records, meta, info = _read(parts, peak_frames, neutral_first, num_classes, k, test_fold, fold_seed)
            src = parts.images[0]
            meta["sha256"] = {"images": src.sha256(), "emotion": parts.emotion[0].sha256(),
                              "landmarks": None if parts.landmarks is None else parts.landmarks[0].sha256()}
            data = build_dataset("ckplus", src, records, classes=class_names(num_classes), pipeline=pipeline,
                                 image_size=image_size, rgb=rgb, meta=meta, progress=progress)
        finally:
            parts.close()
    row = {r.source_id: i for i, r in enumerate(records)}
    take = np.array([row[s] for s in data.source_ids], dtype=np.int64)
    data.extras["sequence"] = np.asarray(info["sequence"], dtype=str)[take]
    data.extras["frame"] = np.asarray(info["frame"], dtype=np.int64)[take]
    data.extras["frame_role"] = np.asarray(info["frame_role"], dtype=str)[take]
    data.extras["emotion_code"] = np.asarray(info["emotion_code"], dtype=np.int64)[take]
    data.validate()
    return data
