"""`whybot import slack-export PATH`: a standard Slack workspace export into storage and the index.

The export (a zip, or the folder it unpacks to) holds `users.json`, `channels.json` (public),
`groups.json` (private channels, with their members), optionally `mpims.json` / `dms.json`, and one
folder per conversation of daily `YYYY-MM-DD.json` files. Threads are linked by `thread_ts`.

Membership of private channels, group DMs and DMs is stored, so the visibility rules hold for
imported history exactly as for live messages. Running the import again adds only what is new:
users, channels and memberships are upserted and known messages are skipped.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from bot.importers.archive import ExportError, ExportReader, ReadLimits
from bot.importers.export_records import (
    ExportChannel,
    ExportMessage,
    ExportUser,
    FileProblem,
    R,
    records,
    validate,
)
from bot.importers.progress import Progress, Silent
from bot.importers.slack_text import message_text
from bot.ingest import Ingestor
from storage import NewMessage

__all__ = ["ExportError", "ImportReport", "ReadLimits", "SlackExportImporter"]

log = logging.getLogger(__name__)

PLATFORM = "slack"
BATCH = 2000
MAX_PROBLEMS_SHOWN = 5
_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")

# Membership and housekeeping events: noise for search, summaries and digests.
SKIPPED_SUBTYPES = frozenset({
    "channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name", "channel_archive",
    "channel_unarchive", "group_join", "group_leave", "group_topic", "group_purpose", "group_name",
    "group_archive", "group_unarchive", "pinned_item", "unpinned_item", "tombstone", "joiner_notification",
    "bot_add", "bot_remove", "channel_convert_to_private", "channel_convert_to_public",
})


class Export:
    """The export's files, found wherever its `channels.json` sits inside, read through ExportReader."""

    def __init__(self, path: Path, limits: ReadLimits | None = None) -> None:
        self.reader = ExportReader(path, limits)
        names = self.reader.names
        roots = sorted((n for n in names if PurePosixPath(n).name in ("channels.json", "users.json")),
                       key=lambda n: n.count("/"))
        if not roots:
            self.reader.close()
            raise ExportError(f"{path} has no users.json or channels.json: not a Slack workspace export")
        parent = str(PurePosixPath(roots[0]).parent)
        self.root = "" if parent == "." else parent + "/"

    def records(self, name: str) -> list[Any]:
        """The file's list of raw records ([] when the export has no such file); FileProblem if unusable."""
        full = self.root + name
        if full not in self.reader.names:
            return []
        return records(name, self.reader.read(full))

    def day_files(self, folder: str) -> list[str]:
        prefix = f"{self.root}{folder}/"
        return sorted(n[len(self.root):] for n in self.reader.names
                      if n.startswith(prefix) and "/" not in n[len(prefix):] and _DAY_FILE.match(n[len(prefix):]))

    def close(self) -> None:
        self.reader.close()


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
    problems: list[str] = field(default_factory=list)

    def invalid(self, what: str, problem: str) -> None:
        """A record (or day file) that could not be used: counted, and its first few named in the report."""
        self.skipped[what] += 1
        self.problems.append(problem)
        log.warning("skipped %s", problem)

    def lines(self) -> list[str]:
        total = sum(self.skipped.values())
        reasons = ", ".join(f"{n} {why}" for why, n in self.skipped.most_common())
        lines = [f"tenant {self.tenant_id}: {self.users} users, {self.channels} conversations "
                 f"({self.private_channels} private)",
                 f"messages: {self.messages_read:,} read, {self.messages_added:,} new, {self.threads:,} threads",
                 f"skipped {total:,} record(s): {reasons}" if total else "skipped: none"]
        lines += [f"  {problem}" for problem in self.problems[:MAX_PROBLEMS_SHOWN]]
        if len(self.problems) > MAX_PROBLEMS_SHOWN:
            lines.append(f"  … and {len(self.problems) - MAX_PROBLEMS_SHOWN:,} more (logged as warnings)")
        return lines


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
    def __init__(self, ingest: Ingestor, *, progress: Progress | None = None,
                 limits: ReadLimits | None = None) -> None:
        self.ingest = ingest
        self.storage = ingest.storage
        self.progress = progress or Silent()
        self.limits = limits

    async def run(self, path: Path, *, workspace_id: str | None = None, domain: str | None = None,
                  name: str | None = None) -> ImportReport:
        export = Export(path, self.limits)
        try:
            return await self._run(export, workspace_id, normalize_domain(domain), name or path.stem)
        finally:
            export.close()
            self.progress.close()

    @staticmethod
    def _metadata(export: Export, name: str) -> list[Any]:
        """users.json, channels.json, …: without them nothing can be imported, so a bad one stops the import."""
        try:
            return export.records(name)
        except FileProblem as problem:
            raise ExportError(str(problem)) from problem

    async def _run(self, export: Export, workspace_id: str | None, domain: str | None,
                   name: str) -> ImportReport:
        report = ImportReport("")
        users = [u for i, raw in enumerate(self._metadata(export, "users.json"))
                 if (u := self._valid(ExportUser, raw, f"users.json record {i + 1}", "invalid user", report))]
        team = workspace_id or next((u.team_id for u in users if u.team_id), None)
        if not team:
            raise ExportError("the export does not name its workspace; pass --workspace-id T…")
        report.tenant_id = await self.ingest.tenant(PLATFORM, team, domain or name)
        names: dict[str, str] = {}
        for u in users:
            names[u.id] = u.display or u.name or u.id
            await self.storage.workspace.upsert_user(
                report.tenant_id, u.id, name=u.name or u.id, display_name=u.display, tz=u.tz,
                is_bot=u.is_bot or u.id == "USLACKBOT")
        report.users = len(users)
        for conversation in self._conversations(export, names, report):
            await self.storage.workspace.upsert_channel(
                report.tenant_id, conversation.external_id, name=conversation.name, kind=conversation.kind,
                is_private=conversation.is_private, topic=conversation.topic)
            if conversation.members:
                await self.storage.workspace.set_members(report.tenant_id, conversation.external_id,
                                                         conversation.members)
            report.channels += 1
            report.private_channels += conversation.is_private
            await self._messages(export, conversation, report.tenant_id, domain, names, report)
        return report

    @staticmethod
    def _valid(model: type[R], raw: Any, where: str, what: str, report: ImportReport) -> R | None:
        checked = validate(model, raw, where)
        if isinstance(checked, str):
            report.invalid(what, checked)
            return None
        return checked

    def _conversations(self, export: Export, names: dict[str, str],
                       report: ImportReport) -> Iterator[Conversation]:
        kinds = (("channels.json", "channel", False), ("groups.json", "channel", True),
                 ("mpims.json", "group", True), ("dms.json", "dm", True))
        for file, kind, private in kinds:
            for i, raw in enumerate(self._metadata(export, file)):
                c = self._valid(ExportChannel, raw, f"{file} record {i + 1}", "invalid conversation", report)
                if c is None:
                    continue
                if kind == "dm":
                    label = "dm-" + "-".join(names.get(m, m) for m in c.members)
                    yield Conversation(c.id, label, c.id, kind, private, list(c.members))
                else:
                    topic = c.topic.value if c.topic and kind == "channel" else ""
                    yield Conversation(c.id, c.name or c.id, c.name or c.id, kind, private, list(c.members), topic)

    def _day(self, export: Export, day: str, report: ImportReport) -> list[tuple[str, ExportMessage]]:
        try:
            raw = export.records(day)
        except FileProblem as problem:
            report.invalid("unreadable day file", str(problem))
            return []
        found = []
        for i, item in enumerate(raw):
            where = f"{day} record {i + 1}"
            if isinstance(item, dict) and item.get("type", "message") != "message":
                report.skipped["not a message"] += 1
                continue
            if (m := self._valid(ExportMessage, item, where, "invalid message", report)) is not None:
                found.append((where, m))
        return found

    async def _messages(self, export: Export, conversation: Conversation, tenant_id: str,
                        domain: str | None, names: dict[str, str], report: ImportReport) -> None:
        raw_messages: list[tuple[str, ExportMessage]] = []
        for day in export.day_files(conversation.folder):
            raw_messages += self._day(export, day, report)
        replies = Counter(m.thread_ts for _, m in raw_messages if m.thread_ts and m.thread_ts != m.ts)
        bots: dict[str, str] = {}
        batch: list[NewMessage] = []
        for _, m in raw_messages:
            report.messages_read += 1
            item = self._message(m, conversation.external_id, domain, names, replies, report)
            if item is None:
                continue
            if item.is_bot and item.user_external_id and item.user_external_id not in names:
                bots[item.user_external_id] = m.username or (m.bot_profile.name if m.bot_profile else None) or ""
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
    def _message(m: ExportMessage, channel: str, domain: str | None, names: dict[str, str],
                 replies: Counter[str], report: ImportReport) -> NewMessage | None:
        if m.subtype in SKIPPED_SUBTYPES:
            report.skipped[m.subtype] += 1
            return None
        raw = m.model_dump(include={"text", "attachments", "blocks"})
        text = message_text(raw)
        if not text and m.files:
            text = "shared " + ", ".join(f.title or f.name or "a file" for f in m.files)
        if not text:
            report.skipped["empty"] += 1
            return None
        # <@U123> → <@U123|Name>, so quotes and citations read as names, not ids.
        text = _USER_MENTION.sub(lambda mm: f"<@{mm.group(1)}|{names.get(mm.group(1), mm.group(1))}>", text)
        reactions = sum(r.count if r.count is not None else len(r.users) for r in m.reactions)
        return NewMessage(
            channel_external_id=channel, external_id=m.ts, text=text, created_at=_ts_time(m.ts),
            user_external_id=m.user or m.bot_id,
            thread_external_id=m.thread_ts if m.thread_ts and m.thread_ts != m.ts else None,
            reaction_count=min(reactions, 2**31 - 1),
            reply_count=max(m.reply_count, replies.get(m.ts, 0)),
            mention_count=len(_USER_MENTION.findall(m.text or "")),
            file_count=len(m.files), permalink=permalink(domain, channel, m.ts, m.thread_ts),
            is_bot=m.subtype == "bot_message" or (m.bot_id is not None and not m.user),
            edited_at=_ts_time(m.edited.ts) if m.edited and m.edited.ts else None,
        )
