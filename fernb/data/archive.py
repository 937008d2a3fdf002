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
"""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator

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
        elif zipfile.is_zipfile(self.path):
            self.kind = "zip"
            self._zip = zipfile.ZipFile(self.path)
            self._names = sorted(i.filename for i in self._zip.infolist() if not i.is_dir() and not is_junk(i.filename))
        elif _is_tar(self.path):
            self.kind = "tar"
            self._tar = tarfile.open(self.path, "r:*")
            for m in self._tar.getmembers():
                name = m.name[2:] if m.name.startswith("./") else m.name
                if m.isfile() and not is_junk(name):
                    self._tar_members[name] = m
            self._names = sorted(self._tar_members)
        else:
            self.kind = "file"
            self._names = [self.path.name]
        self._name_set = set(self._names)

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
        """The bytes of one member."""
        self._check(name)
        if self.kind == "folder":
            return (self.path / name).read_bytes()
        if self.kind == "zip":
            return self._zip.read(name)
        if self.kind == "tar":
            handle = self._tar.extractfile(self._tar_members[name])
            return handle.read()
        return self.path.read_bytes()

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
            for m in stream:
                name = m.name[2:] if m.name.startswith("./") else m.name
                if name in wanted and m.isfile():
                    yield name, stream.extractfile(m).read()

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

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Source({str(self.path)!r}, kind={self.kind!r}, {len(self._names)} files)"


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except (OSError, tarfile.TarError):
        return False


def _file_digest(path: Path) -> "hashlib._Hash":
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
