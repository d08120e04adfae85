"""Reading an export (a folder or a zip) as untrusted input.

An export comes from outside, so nothing in it is taken on trust: the listing refuses symbolic
links, absolute names and `..` parts (so no name can point outside the export), and each file is
read in chunks against a per-file and a total byte cap that are counted as the bytes arrive, not
taken from the zip header (a 200 KB zip can claim anything and expand to gigabytes).
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

CHUNK = 1 << 20
MB = 1 << 20
# A real day file is kilobytes and a large users.json tens of megabytes.
DEFAULT_MAX_FILE_MB = 64
DEFAULT_MAX_TOTAL_MB = 8 * 1024


class ExportError(Exception):
    """The export cannot be imported; the message is one line that names the file (and record) at fault."""


class ExportTooLarge(ExportError):
    """A file or the whole export unpacks past a cap: hostile or not, the import stops."""


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Caps on uncompressed bytes, per file and for the whole export."""

    max_file_bytes: int = DEFAULT_MAX_FILE_MB * MB
    max_total_bytes: int = DEFAULT_MAX_TOTAL_MB * MB


def unsafe_name(name: str) -> str | None:
    """Why a member name may not be read (absolute, `..`, drive letters, backslashes), or None."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return "an absolute or non-portable name"
    if ".." in PurePosixPath(name).parts:
        return "a name with '..'"
    if "\x00" in name:
        return "a name with a NUL character"
    return None


def read_capped(stream: IO[bytes], label: str, max_bytes: int,
                counted: Callable[[int], None] = lambda n: None) -> bytearray:
    """Up to `max_bytes` from the stream, counted as they arrive; ExportTooLarge past it."""
    data = bytearray()
    while chunk := stream.read(CHUNK):
        data += chunk
        counted(len(chunk))
        if len(data) > max_bytes:
            raise ExportTooLarge(f"{label}: unpacks to more than {max_bytes // MB:,} MB, "
                                 "the most one file may hold")
    return data  # not bytes(data): a second copy of a large file for nothing


def read_regular_file(path: Path, label: str, max_bytes: int,
                      counted: Callable[[int], None] = lambda n: None) -> bytearray:
    """A file's bytes, never through a symbolic link (O_NOFOLLOW: not even one swapped in after a listing)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as stream:
            return read_capped(stream, label, max_bytes, counted)
    except OSError as exc:
        raise ExportError(f"{label}: could not be read ({exc.strerror or exc})") from exc


def _zip_is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


class ExportReader:
    """Lists the JSON files of a folder or zip and reads them within `limits`."""

    def __init__(self, path: Path, limits: ReadLimits | None = None) -> None:
        self.path = path
        self.limits = limits or ReadLimits()
        self.read_bytes = 0
        self._zip: zipfile.ZipFile | None = None
        if path.is_dir():
            self._names = self._folder_names(path)
        elif zipfile.is_zipfile(path):
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise ExportError(f"{path}: not a readable zip file ({exc})") from exc
            self._names = self._zip_names(self._zip)
        else:
            raise ExportError(f"{path} is neither a folder nor a zip file")

    @staticmethod
    def _folder_names(root: Path) -> set[str]:
        names: set[str] = set()
        for folder, dirs, files in os.walk(root, followlinks=False):
            here = Path(folder)
            for entry in [*dirs, *files]:
                if (here / entry).is_symlink():
                    relative = (here / entry).relative_to(root).as_posix()
                    raise ExportError(f"{relative}: is a symbolic link; an export holds only regular files, "
                                      "so the import is refused")
            names.update((here / f).relative_to(root).as_posix() for f in files if f.endswith(".json"))
        return names

    @staticmethod
    def _zip_names(archive: zipfile.ZipFile) -> set[str]:
        names: set[str] = set()
        for info in archive.infolist():
            if (why := unsafe_name(info.filename)) is not None:
                raise ExportError(f"{info.filename!r}: the zip holds {why}, so the import is refused")
            if _zip_is_symlink(info):
                raise ExportError(f"{info.filename}: the zip holds a symbolic link, so the import is refused")
            if not info.is_dir() and info.filename.endswith(".json"):
                names.add(info.filename)
        return names

    @property
    def names(self) -> set[str]:
        return self._names

    def read(self, name: str) -> bytearray:
        """The file's bytes, or ExportError when it is not listed, unreadable or over a cap."""
        if name not in self._names:
            raise ExportError(f"{name}: not in the export")
        if self._zip is not None:
            info = self._zip.getinfo(name)
            if info.file_size > self.limits.max_file_bytes:  # a cheap early refusal; the count below decides
                raise self._too_big(name)
            try:
                with self._zip.open(info) as stream:
                    return read_capped(stream, name, self.limits.max_file_bytes, self._count(name))
            except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
                raise ExportError(f"{name}: could not be unpacked ({exc})") from exc
        return read_regular_file(self.path / name, name, self.limits.max_file_bytes, self._count(name))

    def _count(self, name: str) -> Callable[[int], None]:
        def count(n: int) -> None:
            self.read_bytes += n
            if self.read_bytes > self.limits.max_total_bytes:
                raise ExportTooLarge(f"{name}: the export unpacks to more than "
                                     f"{self.limits.max_total_bytes // MB:,} MB in all, so the import stops here")
        return count

    def _too_big(self, name: str) -> ExportTooLarge:
        return ExportTooLarge(f"{name}: unpacks to more than {self.limits.max_file_bytes // MB:,} MB, "
                              "the most one file may hold")

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
