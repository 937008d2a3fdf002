"""One reader over a folder, a ``.zip``, a ``.tar``/``.tar.gz`` or a single file.

Publishers ship datasets as archives that people sometimes extract and sometimes do not;
the loaders read both the same way through :class:`Source`:

>>> src = Source("/data/fer2013_msambare.zip")
>>> src.kind, len(src.names())
('zip', 35887)
>>> src.find("fer2013.csv")          # any depth: 'fer2013.csv', 'fer2013/fer2013.csv', ...
>>> src.find("FER2013Train/")        # a folder at any depth -> ['data/FER2013Train/']
>>> src.read("train/angry/Training_10118481.jpg")   # bytes, no extraction to disk
>>> src.where("train/angry/Training_10118481.jpg")  # '/data/fer2013_msambare.zip:train/angry/...'

Member names are posix paths relative to the folder/archive root, files only. Operating
system droppings (``__MACOSX/`` resource forks, ``._*`` AppleDouble files, ``.DS_Store``,
``Thumbs.db``) are not listed.

A damaged download is reported where it is opened, naming the file and what it should
have been (:class:`~fernb.data.core.DatasetFormatError`): a truncated or corrupt zip or
tar(.gz), an empty archive, a member that fails its CRC or cannot be decompressed, a RAR or
7-Zip archive (not readable here), a path that is neither a folder nor a regular file.
"""
from __future__ import annotations

import hashlib
import io
import lzma
import os
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from fernb.data.core import DatasetFormatError

__all__ = ["Source", "is_junk", "open_source"]

_JUNK_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}


def is_junk(name: str) -> bool:
    """True for files an OS adds to folders/archives that are never dataset content."""
    parts = PurePosixPath(name).parts
    base = parts[-1] if parts else name
    return "__MACOSX" in parts or base in _JUNK_FILES or base.startswith("._")


class Source:
    """Read-only access to the files of a folder, a zip, a tar(.gz/.bz2/.xz) or one file.

    Args:
        path: the folder, archive or file.
        expected: words for error messages: what this path was supposed to be.

    Attributes:
        path: the path given (expanded).
        kind: ``"folder"``, ``"zip"``, ``"tar"`` or ``"file"`` (a single plain file, whose
            one member is its own base name).
    """

    def __init__(self, path: str | os.PathLike, expected: str = "") -> None:
        self.path = Path(path).expanduser()
        what = expected or "a folder, a .zip, a .tar/.tar.gz or a file"
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path} does not exist; expected {what}")
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        self._tar_members: dict[str, tarfile.TarInfo] = {}
        self._sha256: str | None = None
        if self.path.is_dir():
            self.kind = "folder"
            names = []
            for root, dirs, files in os.walk(self.path):
                dirs.sort()
                rel = Path(root).relative_to(self.path)
                for f in files:
                    names.append((rel / f).as_posix() if rel.parts else f)
            self._names = sorted(n for n in names if not is_junk(n))
        elif not self.path.is_file():
            raise DatasetFormatError(f"{self.path} is neither a folder nor a regular file (a device, pipe or socket); "
                                     f"expected {what}")
        else:
            with open(self.path, "rb") as fh:   # unreadable (permissions): the OSError names the path
                head = fh.read(_HEAD)
            container = _container(self.path, head)
            if container == "zip":
                self.kind = "zip"
                self._open_zip(head, what)
            elif container == "tar":
                self.kind = "tar"
                self._open_tar(head, what)
            elif container is not None:      # RAR, 7-Zip: recognised, not readable
                raise DatasetFormatError(f"{self.path} is a {container} archive, which fernb cannot read: extract it "
                                         f"and pass the folder, or re-pack it as .zip; expected {what}")
            else:
                self.kind = "file"
                self._names = [self.path.name]
        self._name_set = set(self._names)

    def _unreadable(self, container: str, reason: str, what: str) -> DatasetFormatError:
        return DatasetFormatError(f"{self.path} is not a readable {container} archive (truncated or corrupt: {reason}); "
                                  f"expected {what}")

    def _no_files(self, container: str, entries: list[str], what: str) -> DatasetFormatError:
        if not entries:
            return DatasetFormatError(f"{self.path} is an empty {container} archive (it holds no files); expected {what}")
        shown = ", ".join(entries[:3]) + (" ..." if len(entries) > 3 else "")
        return DatasetFormatError(f"{self.path} holds no files, only folder entries and OS metadata ({len(entries)} "
                                  f"entries: {shown}); expected {what}")

    def _open_zip(self, head: bytes, what: str) -> None:
        if not head:
            raise self._unreadable("zip", "the file is empty, 0 bytes", what)
        try:
            self._zip = zipfile.ZipFile(self.path)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, EOFError, ValueError, OSError) as err:
            raise self._unreadable("zip", _reason(err) + _text_hint(head), what) from None
        self._names = sorted(i.filename for i in infos if not i.is_dir() and not is_junk(i.filename))
        if not self._names:
            self._zip.close()
            raise self._no_files("zip", [i.filename for i in infos], what)

    def _open_tar(self, head: bytes, what: str) -> None:
        mode, container = _tar_kind(self.path, head)
        if not head:
            raise self._unreadable(container, "the file is empty, 0 bytes", what)
        try:
            self._tar = tarfile.open(self.path, mode)
            members = self._tar.getmembers()          # reads the whole archive: a truncated one fails here
        except (*_STREAM_ERRORS, ValueError) as err:
            if self._tar is not None:
                self._tar.close()
            raise self._unreadable(container, _reason(err) + _text_hint(head), what) from None
        for m in members:
            name = m.name[2:] if m.name.startswith("./") else m.name
            if m.isfile() and not is_junk(name):
                self._tar_members[name] = m
        self._names = sorted(self._tar_members)
        if not self._names:
            self._tar.close()
            raise self._no_files(container, [m.name + ("/" if m.isdir() else "") for m in members], what)

    # ----------------------------------------------------------------- listing
    def names(self) -> list[str]:
        """All member files, posix paths relative to the root, sorted."""
        return list(self._names)

    def __contains__(self, name: str) -> bool:
        return name in self._name_set

    def __len__(self) -> int:
        return len(self._names)

    def find(self, target: str) -> list[str]:
        """Members whose path is ``target`` or ends with ``/target``, shallowest first.

        ``target`` may hold several components (``"fer2013/fer2013.csv"``). With a
        trailing slash (``"FER2013Train/"``) it names a folder, and the result lists the
        folder prefixes (each ending in ``/``) that hold at least one file.
        """
        target = target.strip()
        if target.endswith("/"):
            want = target.strip("/")
            found = set()
            for n in self._names:
                parts = n.split("/")[:-1]
                for k in range(len(parts)):
                    prefix = "/".join(parts[: k + 1])
                    if prefix == want or prefix.endswith("/" + want):
                        found.add(prefix + "/")
            return sorted(found, key=lambda p: (p.count("/"), p))
        hits = [n for n in self._names if n == target or n.endswith("/" + target)]
        return sorted(hits, key=lambda p: (p.count("/"), p))

    def under(self, prefix: str) -> list[str]:
        """Members inside folder ``prefix`` (``""`` = everything), sorted."""
        if not prefix:
            return list(self._names)
        prefix = prefix.rstrip("/") + "/"
        return [n for n in self._names if n.startswith(prefix)]

    # ----------------------------------------------------------------- reading
    def _check(self, name: str) -> None:
        if name not in self._name_set:
            raise FileNotFoundError(f"{self.where(name)} does not exist")

    def read(self, name: str) -> bytes:
        """The bytes of one member.

        Raises:
            FileNotFoundError: no such member.
            DatasetFormatError: the member is damaged (CRC mismatch, undecodable compressed
                data), encrypted, or compressed with a method Python cannot read.
        """
        self._check(name)
        if self.kind == "folder":
            return (self.path / name).read_bytes()
        if self.kind == "zip":
            return self._read_zip(name)
        if self.kind == "tar":
            try:
                return self._tar.extractfile(self._tar_members[name]).read()
            except _STREAM_ERRORS as err:
                raise self._corrupt(name, err) from None
        return self.path.read_bytes()

    def _read_zip(self, name: str) -> bytes:
        info = self._zip.getinfo(name)
        if info.flag_bits & 0x1:
            raise DatasetFormatError(f"{self.where(name)}: the member is encrypted (password-protected); "
                                     "expected an unencrypted zip: extract it with its password and pass the folder")
        try:
            return self._zip.read(info)
        except NotImplementedError:
            method = _ZIP_METHODS.get(info.compress_type, f"method {info.compress_type}")
            raise DatasetFormatError(f"{self.where(name)}: compressed with {method}, which Python's zipfile cannot "
                                     "read; extract the archive with another tool and pass the folder, or re-zip it "
                                     "with deflate") from None
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError) as err:
            raise self._corrupt(name, err) from None

    def _corrupt(self, name: str, err: BaseException) -> DatasetFormatError:
        return DatasetFormatError(f"{self.where(name)}: the {self.kind} archive is corrupt ({_reason(err)}); "
                                  "download it again")

    def read_many(self, names: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """``(name, bytes)`` for each of ``names``, in the order cheapest for the container.

        Zips and folders yield in the order given; a tar is streamed once front to back
        (random access into a compressed tar re-decompresses), yielding in archive order.
        """
        names = list(names)
        for n in names:
            self._check(n)
        if self.kind != "tar":
            for n in names:
                yield n, self.read(n)
            return
        wanted = set(names)
        with tarfile.open(self.path, "r:*") as stream:
            members = iter(stream)
            name = ""
            while True:
                try:   # the stream, not the caller's work on each yielded member
                    m = next(members, None)
                    if m is None:
                        return
                    name = m.name[2:] if m.name.startswith("./") else m.name
                    data = stream.extractfile(m).read() if name in wanted and m.isfile() else None
                except _STREAM_ERRORS as err:
                    raise self._corrupt(name, err) from None
                if data is not None:
                    yield name, data

    def open_text(self, name: str, encoding: str = "utf-8-sig") -> io.StringIO:
        """One member as text (a leading BOM removed; newlines kept as written)."""
        return io.StringIO(self.read(name).decode(encoding), newline="")

    def where(self, name: str | None = None) -> str:
        """A human-readable location: ``/x/archive.zip:train/a.jpg``, ``/x/folder/train/a.jpg``."""
        if name is None:
            return str(self.path)
        if self.kind == "folder":
            return str(self.path / name)
        if self.kind == "file":
            return str(self.path)
        return f"{self.path}:{name}"

    def sha256(self) -> str:
        """SHA-256 of the archive/file bytes; for a folder, of its listing and contents.

        A folder's digest is the SHA-256 of, for each member in :meth:`names` order (sorted
        posix relative paths, OS junk excluded), the UTF-8 name, a NUL byte and the
        32-byte SHA-256 digest of that file's bytes. It is therefore independent of
        file-system order and timestamps but not equal to the digest of any archive.
        """
        if self._sha256 is None:
            if self.kind == "folder":
                outer = hashlib.sha256()
                for n in self._names:
                    outer.update(n.encode("utf-8") + b"\0" + _file_digest(self.path / n).digest())
                self._sha256 = outer.hexdigest()
            else:
                self._sha256 = _file_digest(self.path).hexdigest()
        return self._sha256

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Source({str(self.path)!r}, kind={self.kind!r}, {len(self._names)} files)"


# Errors a damaged compressed stream or tar raises while it is read (gzip's BadGzipFile and
# bz2's "Invalid data stream" are OSErrors; a truncated gzip/xz/bz2 stream is an EOFError).
_STREAM_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError)
_HEAD = 512 + 8   # the first tar header (its "ustar" magic sits at offset 257) and any magic number
# magic number, tarfile mode, name in messages, file-name suffixes
_COMPRESSED = ((b"\x1f\x8b", "gz", "tar.gz", (".tar.gz", ".tgz")), (b"BZh", "bz2", "tar.bz2", (".tar.bz2", ".tbz", ".tbz2")),
               (b"\xfd7zXZ\x00", "xz", "tar.xz", (".tar.xz", ".txz")))
_TAR_SUFFIXES = (".tar", *(suffix for *_, suffixes in _COMPRESSED for suffix in suffixes))
_OTHER_ARCHIVES = ((b"Rar!\x1a\x07", ".rar", "RAR"), (b"7z\xbc\xaf\x27\x1c", ".7z", "7-Zip"))
_ZIP_METHODS = {9: "Deflate64 (method 9, which Windows writes for large archives)", 12: "bzip2", 14: "LZMA",
                93: "Zstandard (method 93)", 95: "XZ (method 95)", 98: "PPMd (method 98)", 99: "AES encryption (method 99)"}


def _container(path: Path, head: bytes) -> str | None:
    """What a regular file is: ``"zip"``, ``"tar"``, another archive's name, or None (a plain file).

    Decided by content first (a zip's end record or local-header magic, a tar's ``ustar``
    magic or a gzip/bzip2/xz stream), then by name, so that a truncated ``x.zip`` or
    ``x.tar.gz`` is reported as a damaged archive rather than read as one plain file.
    """
    name = path.name.lower()
    if zipfile.is_zipfile(path) or head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "zip"
    if head[257:262] == b"ustar" or any(head.startswith(magic) for magic, *_ in _COMPRESSED):
        return "tar"
    for magic, suffix, label in _OTHER_ARCHIVES:
        if head.startswith(magic) or name.endswith(suffix):
            return label
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(_TAR_SUFFIXES) or _is_tar(path):   # is_tarfile: old (v7) tars have no "ustar" magic
        return "tar"
    return None


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except (*_STREAM_ERRORS, ValueError):
        return False


def _tar_kind(path: Path, head: bytes) -> tuple[str, str]:
    """``(tarfile mode, name in messages)`` of a tar: by its compression's magic number, else by
    its file name (a damaged ``x.tar.gz`` may have lost its magic), else uncompressed."""
    name = path.name.lower()
    for magic, mode, label, _suffixes in _COMPRESSED:
        if head.startswith(magic):
            return f"r:{mode}", label
    for _magic, mode, label, suffixes in _COMPRESSED:
        if name.endswith(suffixes):
            return f"r:{mode}", label
    return "r:", "tar"


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split()) or "no details"
    return text if isinstance(err, (zipfile.BadZipFile, tarfile.TarError)) else f"{type(err).__name__}: {text}"


def _text_hint(head: bytes) -> str:
    """For a file that begins with text (a web page or error message saved in place of the download)."""
    start = head[:64]
    if not start or any(b < 9 or 13 < b < 32 or b > 126 for b in start):
        return ""
    text = " ".join(start.decode("ascii").split())
    return f"; it begins with text, {text[:40]!r}: not an archive, perhaps a web page saved in place of the download"


def _file_digest(path: Path) -> hashlib._Hash:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h


def open_source(path, expected: str) -> tuple[Source, bool]:
    """``(source, owned)``: ``path`` itself when it is already a :class:`Source`, else a new
    one that the caller must close (``owned`` True)."""
    if isinstance(path, Source):
        return path, False
    return Source(path, expected=expected), True
