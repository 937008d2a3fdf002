"""FER2013 (Goodfellow et al. 2013) from either of the forms it is distributed in.

1. The Kaggle challenge CSV ``fer2013.csv`` (``emotion,pixels,Usage``), given as the CSV
   itself, a folder holding it, or the challenge download ``fer2013.tar.gz``
   (``fer2013/fer2013.csv``) / any zip holding it.
2. The Kaggle image-folder copy (msambare/fer2013, ``archive.zip``):
   ``train/<class>/Training_<id>.jpg`` and ``test/<class>/{PublicTest,PrivateTest}_<id>.jpg``,
   extracted or straight from the zip.

Both are mapped onto the standard protocol (train = Training, val = PublicTest, test =
PrivateTest) and the canonical 7-class label space (:data:`fernb.labels.SEVEN`).
"""
from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from typing import Any

import cv2
import numpy as np

from fernb.data.archive import Source
from fernb.data.core import SPLITS, DatasetFormatError, FERData
from fernb.labels import FER2013_FOLDERS, FER2013_ORDER, SEVEN

__all__ = ["load_fer2013", "read_fer2013_csv", "find_fer2013_csv", "USAGE_TO_SPLIT", "decode_gray", "decode_face"]

SIZE = 48
CSV_HEADER = ("emotion", "pixels", "Usage")
USAGE_TO_SPLIT: dict[str, str] = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
FOLDER_PREFIXES: dict[str, tuple[str, ...]] = {"train": ("Training",), "test": ("PublicTest", "PrivateTest")}
_FILE_RE = re.compile(r"^(Training|PublicTest|PrivateTest)_(\d+)\.jpg$")

FER2013_LAYOUTS = """\
either the Kaggle challenge CSV
    fer2013.csv                 header `emotion,pixels,Usage`; emotion 0..6,
                                pixels = 2304 space-separated ints 0..255 (48x48),
                                Usage in Training / PublicTest / PrivateTest
  (or a folder / .zip / .tar.gz holding it, e.g. fer2013.tar.gz -> fer2013/fer2013.csv)
or the Kaggle image-folder layout (msambare/fer2013 archive.zip), extracted or zipped:
    train/<class>/Training_<id>.jpg
    test/<class>/PublicTest_<id>.jpg, test/<class>/PrivateTest_<id>.jpg
  with <class> in angry, disgust, fear, happy, neutral, sad, surprise (48x48 grayscale)"""

# canonical index of each publisher code / folder
_CODE_TO_LABEL = np.array([SEVEN.index(name) for name in FER2013_ORDER], dtype=np.int64)
_FOLDER_TO_LABEL = {folder: SEVEN.index(name) for folder, name in FER2013_FOLDERS.items()}


def _check_on_unreadable(on_unreadable: str) -> None:
    if on_unreadable not in ("raise", "skip"):
        raise ValueError(f"on_unreadable must be 'raise' or 'skip', got {on_unreadable!r}")


def decode_gray(data: bytes) -> np.ndarray | None:
    """An encoded image (JPEG/PNG) as a uint8 grayscale array, or None if undecodable."""
    if not data:
        return None
    return cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)


def decode_face(src: Source, name: str, data: bytes, on_unreadable: str, skipped: list[dict[str, str]]) -> np.ndarray | None:
    """Decode member ``name`` of ``src`` as a 48x48 grayscale face.

    An undecodable file raises :class:`DatasetFormatError` naming it, or with
    ``on_unreadable="skip"`` is appended to ``skipped`` and gives None. A decodable image
    of another size always raises: it is not a file of this dataset.
    """
    img = decode_gray(data)
    if img is None:
        reason = f"cv2.imdecode could not decode the file (corrupt or not a {name.rsplit('.', 1)[-1].upper()})"
        if on_unreadable == "raise":
            raise DatasetFormatError(f"{src.where(name)}: unreadable image: {reason}; "
                                     "pass on_unreadable='skip' to skip such files")
        skipped.append({"file": name, "reason": reason})
        return None
    if img.shape != (SIZE, SIZE):
        raise DatasetFormatError(f"{src.where(name)}: image is {img.shape[1]}x{img.shape[0]}; expected 48x48 grayscale")
    return img


# ---------------------------------------------------------------------------- the CSV
def _first_line(src: Source) -> str:
    """The first line of a single-file source (at most 200 bytes of it, decoded leniently)."""
    head = src.read(src.names()[0])[:200].decode("utf-8-sig", errors="replace")
    return head.splitlines()[0] if head else ""


def find_fer2013_csv(src: Source) -> str | None:
    """The member of ``src`` that is the challenge CSV, or None.

    A plain file is taken as the CSV whatever its name if its first line is the
    ``emotion,pixels,Usage`` header; inside folders/archives the name ``fer2013.csv`` is
    looked for at any depth.
    """
    if src.kind == "file":
        first = _first_line(src)
        if src.path.suffix.lower() == ".csv" or first.replace('"', "").strip().startswith("emotion"):
            return src.names()[0]
        return None
    hits = src.find("fer2013.csv")
    return hits[0] if hits else None


def read_fer2013_csv(src: Source, member: str) -> dict[str, Any]:
    """Parse ``fer2013.csv`` (vectorised) into raw arrays, validating every row.

    Returns a dict with ``images`` uint8 (N,48,48), ``emotion`` int64 publisher codes,
    ``usage`` (N,) str, ``where`` (location string). Row numbers in errors and ids are
    0-based data rows (row 0 is the first line after the header), the index FERPlus'
    ``fer2013new.csv`` aligns with; the file line is row + 2.
    """
    where = src.where(member)
    text = src.read(member).decode("utf-8-sig")
    if '"' in text:  # quoted fields: the csv module (slower) handles them
        rows = csv.reader(io.StringIO(text, newline=""))
        line_of = lambda: rows.line_num  # noqa: E731
    else:  # Kaggle's file is unquoted: plain splitting is several times faster
        lines = text.splitlines()
        rows = (line.split(",") if line else [] for line in lines)
        line_of = None
    try:
        header = next(rows)
    except StopIteration:
        raise DatasetFormatError(f"{where} is empty; expected the header `emotion,pixels,Usage`") from None
    if tuple(h.strip() for h in header) != CSV_HEADER:
        raise DatasetFormatError(
            f"{where}: columns {header} but the FER2013 challenge CSV has exactly `emotion,pixels,Usage` "
            "(icml_face_data.csv / train.csv / test.csv variants are not this file)"
        )
    emotions, pixels, usages = [], [], []
    for k, row in enumerate(rows):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line (e.g. a trailing newline pair)
        r = len(emotions)
        if len(row) != 3:
            line = line_of() if line_of else k + 2
            raise DatasetFormatError(f"{where} row {r} (line {line}): {len(row)} fields; expected 3 (emotion,pixels,Usage)")
        emotions.append(row[0])
        pixels.append(row[1])
        usages.append(row[2])
    n = len(emotions)
    if n == 0:
        raise DatasetFormatError(f"{where} has a header but no rows")

    # emotion codes 0..6
    codes = np.full(n, -1, dtype=np.int64)
    for i, e in enumerate(emotions):
        e = e.strip()
        if e.isdigit() and int(e) < len(FER2013_ORDER):
            codes[i] = int(e)
        else:
            raise DatasetFormatError(f"{where} row {i}: emotion {e!r}; expected an integer code 0..6 (0=Angry ... 6=Neutral)")
    # Usage
    usage = np.asarray([u.strip() for u in usages])
    bad = ~np.isin(usage, list(USAGE_TO_SPLIT))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DatasetFormatError(f"{where} row {i}: Usage {usages[i]!r}; expected one of {list(USAGE_TO_SPLIT)}")
    images = _parse_pixels(pixels, where)
    return {"images": images, "emotion": codes, "usage": usage, "where": where}


def _parse_pixels(pixels: list[str], where: str, chunk: int = 2048) -> np.ndarray:
    """2304 space-separated ints per row -> uint8 (N,48,48), without a Python loop per int.

    Rows are parsed in chunks (bounded memory): digit runs are found with NumPy on the
    bytes, their values assembled from the last three digits, and every row's token count
    and every value's range checked.
    """
    n = len(pixels)
    out = np.empty((n, SIZE, SIZE), dtype=np.uint8)
    for lo in range(0, n, chunk):
        part = pixels[lo:lo + chunk]
        fast = _fast_chunk(part)
        out[lo:lo + chunk] = fast if fast is not None else _parse_chunk(part, lo, where)
    return out


def _fast_chunk(pixels: list[str]) -> np.ndarray | None:
    """NumPy's C text reader on well-formed rows; None if anything looks off (then the
    validating parser below finds and names the offending row)."""
    try:
        values = np.loadtxt(io.StringIO("\n".join(pixels)), dtype=np.int32, ndmin=2)
    except ValueError:
        return None
    if values.shape != (len(pixels), SIZE * SIZE) or values.min() < 0 or values.max() > 255:
        return None
    return values.astype(np.uint8).reshape(len(pixels), SIZE, SIZE)


_VALID_BYTE = np.zeros(256, dtype=bool)
_VALID_BYTE[[ord(c) for c in "0123456789 \t\r\n"]] = True


def _parse_chunk(pixels: list[str], first_row: int, where: str) -> np.ndarray:
    npix = SIZE * SIZE
    n = len(pixels)
    try:
        blob = ("\n".join(pixels) + "\n").encode("ascii")
    except UnicodeEncodeError:
        i = next(k for k, p in enumerate(pixels) if not p.isascii())
        raise DatasetFormatError(f"{where} row {first_row + i}: pixels hold non-ASCII text; "
                                 f"expected {npix} space-separated integers 0..255") from None
    b = np.frombuffer(blob, dtype=np.uint8)
    newlines = np.flatnonzero(b == 10)  # row r ends at newlines[r]
    odd = ~_VALID_BYTE[b]
    if odd.any():
        k = int(np.flatnonzero(odd)[0])
        r = first_row + int(np.searchsorted(newlines, k))
        raise DatasetFormatError(f"{where} row {r}: pixels contain {chr(b[k])!r}; "
                                 f"expected {npix} space-separated integers 0..255")
    is_digit = ((b >= 48) & (b <= 57)).view(np.int8)
    edge = np.diff(is_digit, prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edge == 1)
    ends = np.flatnonzero(edge == -1)
    per_row = np.diff(np.searchsorted(starts, newlines), prepend=0)
    wrong = np.flatnonzero(per_row != npix)
    if wrong.size:
        r = int(wrong[0])
        raise DatasetFormatError(f"{where} row {first_row + r}: {per_row[r]} pixel values; expected {npix} (48x48)")
    length = ends - starts
    digit = lambda pos: b[pos].astype(np.int32) - 48  # noqa: E731
    value = digit(ends - 1)
    value += np.where(length >= 2, 10 * digit(np.maximum(ends - 2, 0)), 0)
    value += np.where(length >= 3, 100 * digit(np.maximum(ends - 3, 0)), 0)
    for t in np.flatnonzero(length > 3):  # leading zeros ("0255") or a big number
        value[t] = min(int(blob[starts[t]:ends[t]]), 1 << 30)
    over = np.flatnonzero(value > 255)
    if over.size:
        t = int(over[0])
        r = int(np.searchsorted(newlines, starts[t]))
        raise DatasetFormatError(f"{where} row {first_row + r}: pixel {t - r * npix} is {int(value[t])}; "
                                 "expected integers 0..255")
    return value.astype(np.uint8).reshape(n, SIZE, SIZE)


def _from_csv(src: Source, member: str) -> FERData:
    raw = read_fer2013_csv(src, member)
    n = len(raw["emotion"])
    split = np.array([USAGE_TO_SPLIT[u] for u in raw["usage"]])
    base = member.rsplit("/", 1)[-1]
    meta = {
        "format": "fer2013-csv",
        "member": member,
        "read": {s: int((split == s).sum()) for s in SPLITS},
        "usage_counts": {u: int((raw["usage"] == u).sum()) for u in USAGE_TO_SPLIT},
        "skipped": [],
        "n_skipped": 0,
    }
    return FERData(
        name="fer2013", images=raw["images"], labels=_CODE_TO_LABEL[raw["emotion"]], split=split,
        classes=SEVEN, source_ids=np.array([f"{base}:row{i}" for i in range(n)]), meta=meta,
    )


# ------------------------------------------------------------------ the image folders
def _folder_root(src: Source) -> str | None:
    """The prefix (``""``, ``"fer2013/"``...) holding ``train/`` and ``test/`` class folders, or None."""
    roots = Counter()
    for n in src.names():
        parts = n.split("/")
        if len(parts) >= 3 and parts[-3] in FOLDER_PREFIXES and parts[-1].lower().endswith(".jpg"):
            roots["/".join(parts[:-3])] += 1
    if not roots:
        return None
    root = max(roots, key=lambda r: (roots[r], -r.count("/")))
    return root + "/" if root else ""


def _from_folders(src: Source, root: str, on_unreadable: str) -> FERData:
    members: list[str] = []
    labels: list[int] = []
    splits: list[str] = []
    read = Counter()
    for part in FOLDER_PREFIXES:
        for n in src.under(root + part):
            rel = n[len(root) + len(part) + 1:]
            pieces = rel.split("/")
            if len(pieces) != 2:
                raise DatasetFormatError(
                    f"{src.where(n)}: expected {part}/<class>/<{'|'.join(FOLDER_PREFIXES[part])}>_<id>.jpg "
                    f"with <class> in {sorted(FER2013_FOLDERS)}"
                )
            cls, fname = pieces
            if cls not in _FOLDER_TO_LABEL:
                raise DatasetFormatError(
                    f"{src.where(n)}: unknown class folder {part}/{cls}/; expected one of {sorted(FER2013_FOLDERS)}"
                )
            m = _FILE_RE.match(fname)
            if m is None:
                raise DatasetFormatError(
                    f"{src.where(n)}: file name {fname!r}; expected <{'|'.join(FOLDER_PREFIXES[part])}>_<id>.jpg"
                )
            usage = m.group(1)
            if usage not in FOLDER_PREFIXES[part]:
                raise DatasetFormatError(
                    f"{src.where(n)}: a {usage}_ file under {part}/; {part}/ holds only "
                    f"{' / '.join(p + '_*.jpg' for p in FOLDER_PREFIXES[part])}"
                )
            members.append(n)
            labels.append(_FOLDER_TO_LABEL[cls])
            splits.append(USAGE_TO_SPLIT[usage])
            read[USAGE_TO_SPLIT[usage]] += 1
    if not members:
        raise DatasetFormatError(f"{src.where(root or None)}: no images under train/ or test/; expected\n{FER2013_LAYOUTS}")

    images = np.empty((len(members), SIZE, SIZE), dtype=np.uint8)
    keep = np.ones(len(members), dtype=bool)
    skipped: list[dict[str, str]] = []
    index = {n: i for i, n in enumerate(members)}
    for n, data in src.read_many(members):
        img = decode_face(src, n, data, on_unreadable, skipped)
        if img is None:
            keep[index[n]] = False
        else:
            images[index[n]] = img
    split = np.array(splits)
    meta = {
        "format": "fer2013-folders",
        "root": root,
        "read": {s: int(read[s]) for s in SPLITS},
        "skipped": skipped,
        "n_skipped": len(skipped),
    }
    return FERData(
        name="fer2013", images=images[keep], labels=np.array(labels)[keep], split=split[keep],
        classes=SEVEN, source_ids=np.array(members)[keep], meta=meta,
    )


# ------------------------------------------------------------------------- entry point
def load_fer2013(path: str | os.PathLike, *, on_unreadable: str = "raise") -> FERData:
    """Load FER2013 from ``fer2013.csv`` (or an archive/folder holding it) or the image folders.

    Args:
        path: the CSV, a folder, a ``.zip`` or a ``.tar(.gz)``.
        on_unreadable: ``"raise"`` (default) on an image cv2 cannot decode, or ``"skip"``
            it and list it in ``meta["skipped"]`` (``{"file", "reason"}``) and
            ``meta["n_skipped"]``.

    Returns:
        :class:`FERData` with ``classes = SEVEN``, splits train/val/test = Training /
        PublicTest / PrivateTest. ``meta`` holds ``source``, ``format``
        (``"fer2013-csv"`` or ``"fer2013-folders"``), ``sha256`` of the file/archive
        (folder: see :meth:`Source.sha256`), ``read`` (images per split found),
        ``skipped`` and ``n_skipped``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        DatasetFormatError: the content deviates from the published layout; the message
            names the file (and row or member) and what was expected.
    """
    _check_on_unreadable(on_unreadable)
    src = Source(path, expected="fer2013.csv, a folder/.zip/.tar.gz holding it, or the Kaggle image-folder archive")
    with src:
        member = find_fer2013_csv(src)
        if member is not None:
            data = _from_csv(src, member)
        else:
            root = _folder_root(src)
            if root is None and src.kind == "file":
                raise DatasetFormatError(
                    f"{src.where()} is a single file whose first line {_first_line(src)[:60]!r} is not fer2013.csv's header "
                    f"emotion,pixels,Usage, and not a folder or a readable .zip/.tar.gz; expected\n{FER2013_LAYOUTS}"
                )
            if root is None:
                shown = ", ".join(src.names()[:5]) + (" ..." if len(src) > 5 else "")
                raise DatasetFormatError(
                    f"{src.where()} holds neither FER2013 layout (found {len(src)} files: {shown or 'none'}); expected\n"
                    f"{FER2013_LAYOUTS}"
                )
            data = _from_folders(src, root, on_unreadable)
        data.meta.update({"source": str(src.path), "source_kind": src.kind, "sha256": src.sha256(),
                          "protocol": "train=Training, val=PublicTest, test=PrivateTest"})
    return data
