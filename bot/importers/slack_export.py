"""`whybot import slack-export PATH`: a standard Slack workspace export into storage and the index.

The export (a zip, or the folder it unpacks to) holds `users.json`, `channels.json` (public),
`groups.json` (private channels, with their members), optionally `mpims.json` / `dms.json`, and one
folder per conversation of daily `YYYY-MM-DD.json` files. Threads are linked by `thread_ts`.

Membership of private channels, group DMs and DMs is stored, so the visibility rules hold for
imported history exactly as for live messages. Running the import again adds only what is new:
users, channels and memberships are upserted and known messages are skipped.
"""

from __future__ import annotations

import json
import logging
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from bot.importers.progress import Progress, Silent
from bot.ingest import Ingestor
from storage import NewMessage

log = logging.getLogger(__name__)

PLATFORM = "slack"
BATCH = 2000
_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")

# Membership and housekeeping events: noise for search, summaries and digests.
SKIPPED_SUBTYPES = frozenset({
    "channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name", "channel_archive",
    "channel_unarchive", "group_join", "group_leave", "group_topic", "group_purpose", "group_name",
    "group_archive", "group_unarchive", "pinned_item", "unpinned_item", "tombstone", "joiner_notification",
    "bot_add", "bot_remove", "channel_convert_to_private", "channel_convert_to_public",
})


class ExportError(Exception):
    """The path is not a Slack export (the message says what is missing)."""


class ExportReader:
    """Reads files from an export folder or zip, wherever its `channels.json` sits inside."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._names: list[str] = []
        if path.is_dir():
            self._names = [p.relative_to(path).as_posix() for p in path.rglob("*.json")]
        elif zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            self._names = [n for n in self._zip.namelist() if n.endswith(".json")]
        else:
            raise ExportError(f"{path} is neither a folder nor a zip file")
        roots = sorted((n for n in self._names if PurePosixPath(n).name in ("channels.json", "users.json")),
                       key=lambda n: n.count("/"))
        if not roots:
            raise ExportError(f"{path} has no users.json or channels.json: not a Slack workspace export")
        parent = str(PurePosixPath(roots[0]).parent)
        self.root = "" if parent == "." else parent + "/"

    def json(self, name: str) -> Any:
        full = self.root + name
        if full not in self._names:
            return None
        if self._zip is not None:
            return json.loads(self._zip.read(full).decode("utf-8"))
        return json.loads((self.path / full).read_text(encoding="utf-8"))

    def day_files(self, folder: str) -> list[str]:
        prefix = f"{self.root}{folder}/"
        return sorted(n[len(self.root):] for n in self._names
                      if n.startswith(prefix) and "/" not in n[len(prefix):] and _DAY_FILE.match(n[len(prefix):]))

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


@dataclass
class Conversation:
    external_id: str
    name: str
    folder: str
    kind: str
    is_private: bool
    members: list[str]
    topic: str = ""


@dataclass
class ImportReport:
    tenant_id: str
    users: int = 0
    channels: int = 0
    private_channels: int = 0
    messages_read: int = 0
    messages_added: int = 0
    threads: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        skipped = ", ".join(f"{n} {why}" for why, n in self.skipped.most_common()) or "none"
        return [f"tenant {self.tenant_id}: {self.users} users, {self.channels} conversations "
                f"({self.private_channels} private)",
                f"messages: {self.messages_read:,} read, {self.messages_added:,} new, {self.threads:,} threads",
                f"skipped: {skipped}"]


def _ts_time(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), UTC)


def permalink(domain: str | None, channel: str, ts: str, thread_ts: str | None = None) -> str | None:
    """Slack's own permalink shape; None when the workspace domain is unknown."""
    if not domain:
        return None
    link = f"https://{domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link


def normalize_domain(domain: str | None) -> str | None:
    if not domain:
        return None
    domain = re.sub(r"^https?://", "", domain.strip()).split("/")[0]
    return domain.removesuffix(".slack.com") or None


class SlackExportImporter:
    def __init__(self, ingest: Ingestor, *, progress: Progress | None = None) -> None:
        self.ingest = ingest
        self.storage = ingest.storage
        self.progress = progress or Silent()

    async def run(self, path: Path, *, workspace_id: str | None = None, domain: str | None = None,
                  name: str | None = None) -> ImportReport:
        reader = ExportReader(path)
        try:
            return await self._run(reader, workspace_id, normalize_domain(domain), name or path.stem)
        finally:
            reader.close()
            self.progress.close()

    async def _run(self, reader: ExportReader, workspace_id: str | None, domain: str | None,
                   name: str) -> ImportReport:
        users: list[dict[str, Any]] = reader.json("users.json") or []
        team = workspace_id or next((u["team_id"] for u in users if u.get("team_id")), None)
        if not team:
            raise ExportError("the export does not name its workspace; pass --workspace-id T…")
        tenant_id = await self.ingest.tenant(PLATFORM, team, domain or name)
        report = ImportReport(tenant_id)
        names: dict[str, str] = {}
        for u in users:
            profile = u.get("profile") or {}
            display = profile.get("display_name") or profile.get("real_name") or u.get("real_name") or ""
            names[u["id"]] = display or u.get("name") or u["id"]
            await self.storage.workspace.upsert_user(
                tenant_id, u["id"], name=u.get("name") or u["id"], display_name=display, tz=u.get("tz"),
                is_bot=bool(u.get("is_bot")) or u["id"] == "USLACKBOT")
        report.users = len(users)
        for conversation in self._conversations(reader, names):
            await self.storage.workspace.upsert_channel(
                tenant_id, conversation.external_id, name=conversation.name, kind=conversation.kind,
                is_private=conversation.is_private, topic=conversation.topic)
            if conversation.members:
                await self.storage.workspace.set_members(tenant_id, conversation.external_id, conversation.members)
            report.channels += 1
            report.private_channels += conversation.is_private
            await self._messages(reader, conversation, tenant_id, domain, names, report)
        return report

    @staticmethod
    def _conversations(reader: ExportReader, names: dict[str, str]) -> Iterator[Conversation]:
        for raw in reader.json("channels.json") or []:
            yield Conversation(raw["id"], raw.get("name") or raw["id"], raw.get("name") or raw["id"], "channel",
                               False, list(raw.get("members") or []), (raw.get("topic") or {}).get("value", ""))
        for raw in reader.json("groups.json") or []:
            yield Conversation(raw["id"], raw.get("name") or raw["id"], raw.get("name") or raw["id"], "channel",
                               True, list(raw.get("members") or []), (raw.get("topic") or {}).get("value", ""))
        for raw in reader.json("mpims.json") or []:
            yield Conversation(raw["id"], raw.get("name") or raw["id"], raw.get("name") or raw["id"], "group",
                               True, list(raw.get("members") or []))
        for raw in reader.json("dms.json") or []:
            members = list(raw.get("members") or [])
            label = "dm-" + "-".join(names.get(m, m) for m in members)
            yield Conversation(raw["id"], label, raw["id"], "dm", True, members)

    async def _messages(self, reader: ExportReader, conversation: Conversation, tenant_id: str,
                        domain: str | None, names: dict[str, str], report: ImportReport) -> None:
        raw_messages: list[dict[str, Any]] = []
        for day in reader.day_files(conversation.folder):
            raw_messages += [m for m in reader.json(day) or [] if isinstance(m, dict)]
        replies = Counter(m["thread_ts"] for m in raw_messages
                          if m.get("thread_ts") and m.get("ts") and m["thread_ts"] != m["ts"])
        bots: dict[str, str] = {}
        batch: list[NewMessage] = []
        for m in raw_messages:
            report.messages_read += 1
            item = self._message(m, conversation.external_id, domain, names, replies, report)
            if item is None:
                continue
            if item.is_bot and item.user_external_id and item.user_external_id not in names:
                bots[item.user_external_id] = m.get("username") or (m.get("bot_profile") or {}).get("name", "")
            batch.append(item)
            if len(batch) >= BATCH:
                report.messages_added += await self._flush(tenant_id, batch, conversation)
        for bot_id, label in bots.items():
            await self.storage.workspace.upsert_user(tenant_id, bot_id, name=label or bot_id, is_bot=True)
        report.messages_added += await self._flush(tenant_id, batch, conversation)
        report.threads += len(replies)

    async def _flush(self, tenant_id: str, batch: list[NewMessage], conversation: Conversation) -> int:
        if not batch:
            return 0
        added = await self.ingest.messages(tenant_id, batch)
        self.progress.update(len(batch), f"#{conversation.name}")
        batch.clear()
        return added

    @staticmethod
    def _message(m: dict[str, Any], channel: str, domain: str | None, names: dict[str, str],
                 replies: Counter[str], report: ImportReport) -> NewMessage | None:
        subtype = m.get("subtype")
        ts = m.get("ts")
        if m.get("type", "message") != "message" or not ts:
            report.skipped["not a message"] += 1
            return None
        if subtype in SKIPPED_SUBTYPES:
            report.skipped[subtype] += 1
            return None
        files = [f for f in m.get("files") or [] if isinstance(f, dict)]
        text = m.get("text") or ""
        if not text.strip() and files:
            text = "shared " + ", ".join(f.get("title") or f.get("name") or "a file" for f in files)
        if not text.strip():
            report.skipped["empty"] += 1
            return None
        # <@U123> → <@U123|Name>, so quotes and citations read as names, not ids.
        text = _USER_MENTION.sub(lambda mm: f"<@{mm.group(1)}|{names.get(mm.group(1), mm.group(1))}>", text)
        thread_ts = m.get("thread_ts")
        edited = (m.get("edited") or {}).get("ts")
        reactions = m.get("reactions") or []
        return NewMessage(
            channel_external_id=channel, external_id=ts, text=text, created_at=_ts_time(ts),
            user_external_id=m.get("user") or m.get("bot_id"),
            thread_external_id=thread_ts if thread_ts and thread_ts != ts else None,
            reaction_count=sum(int(r.get("count") or len(r.get("users") or [])) for r in reactions),
            reply_count=max(int(m.get("reply_count") or 0), replies.get(ts, 0)),
            mention_count=len(_USER_MENTION.findall(m.get("text") or "")),
            file_count=len(files), permalink=permalink(domain, channel, ts, thread_ts),
            is_bot=subtype == "bot_message" or ("bot_id" in m and not m.get("user")),
            edited_at=_ts_time(edited) if edited else None,
        )
