"""`whybot import docs PATH`: a folder of Markdown and text documents, searchable and citable by ask.

Each file becomes one document keyed by its path inside the folder, so importing again updates
changed files in place instead of duplicating them. The title is the first Markdown heading, else
the file name.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.importers.archive import MB, ExportError, read_regular_file
from bot.importers.progress import Progress, Silent
from bot.ingest import Ingestor

EXTENSIONS = frozenset({".md", ".markdown", ".txt", ".rst"})
MAX_DOCUMENT_BYTES = 8 * MB  # a handbook page is kilobytes; more is a mistake or an attack, not a document
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass
class DocsReport:
    tenant_id: str
    documents: int = 0
    skipped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"tenant {self.tenant_id}: {self.documents} documents imported"]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}: {', '.join(self.skipped[:5])}"
                         + (" …" if len(self.skipped) > 5 else ""))
        return lines


def title_of(path: Path, text: str) -> str:
    heading = _HEADING.search(text)
    return heading.group(1).strip() if heading else path.stem.replace("-", " ").replace("_", " ").strip()


def _candidates(folder: Path) -> tuple[list[Path], list[str]]:
    """Regular files under `folder` (links are reported, never followed), sorted."""
    if folder.is_file():
        return [folder], []
    files: list[Path] = []
    links: list[str] = []
    for here, dirs, names in os.walk(folder, followlinks=False):
        for entry in sorted([*dirs, *names]):
            path = Path(here) / entry
            if path.is_symlink():
                links.append(f"{path.relative_to(folder).as_posix()} (symbolic link, not followed)")
            elif entry in names:
                files.append(path)
    return sorted(files), links


def read_folder(folder: Path, *,
                max_bytes: int = MAX_DOCUMENT_BYTES) -> tuple[list[tuple[str, Path, str]], list[str]]:
    """(relative path, path, text) of every importable file, and what was skipped and why.

    Symbolic links are skipped, never followed: a link in a docs folder could otherwise publish any
    file the importing user can read (an SSH key, a config with secrets) to the whole workspace.
    """
    base = folder.parent if folder.is_file() else folder
    files, skipped = _candidates(folder)
    found: list[tuple[str, Path, str]] = []
    for path in files:
        relative = path.relative_to(base).as_posix()
        if path.suffix.lower() not in EXTENSIONS or any(part.startswith(".") for part in relative.split("/")):
            continue
        try:
            text = read_regular_file(path, relative, max_bytes).decode("utf-8")
        except UnicodeDecodeError:
            skipped.append(f"{relative} (not UTF-8 text)")
            continue
        except ExportError as exc:
            skipped.append(f"{relative} ({str(exc).removeprefix(relative + ': ')})")
            continue
        text = text.replace("\x00", "")  # PostgreSQL text cannot hold NUL
        if not text.strip():
            skipped.append(f"{relative} (empty)")
            continue
        found.append((relative, path, text))
    return found, skipped


async def import_docs(ingest: Ingestor, tenant_id: str, folder: Path, *, url_prefix: str | None = None,
                      channel: str | None = None, progress: Progress | None = None) -> DocsReport:
    """Documents tied to `channel` are visible only where that channel is; else tenant-wide."""
    progress = progress or Silent()
    found, skipped = await asyncio.to_thread(read_folder, folder)
    report = DocsReport(tenant_id, skipped=skipped)
    try:
        for relative, path, text in found:
            url = f"{url_prefix.rstrip('/')}/{relative}" if url_prefix else None
            await ingest.document(tenant_id, relative, title_of(path, text), text, url=url, channel=channel)
            report.documents += 1
            progress.update(1, relative)
    finally:
        progress.close()
    return report
