"""How a worker answers in the playground: replies are bot messages stored in the channel, which the page
reads back; progress (status lines, the answer as written) goes on the turn's inbox row, which the page
polls; Why? is answered by the page's own request, so there is nothing to update in place."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.playground.progress import PlaygroundProgress
from bot.adapter import DeliveryTarget
from bot.demo import BOT_USER, playground_permalink
from bot.markup import to_plain
from bot.models import ChatEvent, Platform, Reply
from bot.progress import Progress
from bot.rules import Authority
from bot.services import Services
from bot.suggestions import Opening
from bot.turns import OpenedTurn
from storage import NewMessage, tenant_key


def message_ts(now: datetime) -> str:
    return f"{now.timestamp():.6f}"


class PlaygroundSurface:
    platform = Platform.PLAYGROUND

    def __init__(self, services: Services) -> None:
        self.services = services

    async def learn(self, tenant_id: str, event: ChatEvent) -> ChatEvent:
        return event  # the playground's channels and people are all in the database already

    async def opened(self, turn: OpenedTurn, opening: Opening) -> None:
        return None  # the playground has no assistant view

    async def learn_channel(self, tenant_id: str, tenant: str, channel: str, user: str | None,
                            hint: str | None) -> None:
        return None

    async def with_links(self, tenant: str, reply: Reply) -> Reply:
        return reply

    async def _store(self, tenant: str, channel: str, reply: Reply, thread: str | None) -> dict[str, Any]:
        now = self.services.clock()
        ts = message_ts(now)
        await self.services.ingest.message(tenant_key(Platform.PLAYGROUND.value, tenant), NewMessage(
            channel_external_id=channel, external_id=ts,
            text=to_plain("\n".join(x for x in (reply.title, reply.body) if x)), created_at=now,
            user_external_id=BOT_USER, thread_external_id=thread, is_bot=True, decision_id=reply.decision_id,
            permalink=playground_permalink(channel, ts)))
        return {"channel": channel, "ts": ts}

    async def progress(self, event: ChatEvent, key: str) -> Progress:
        """Status lines and the answer as written, on the turn's inbox row for the page to poll."""
        return PlaygroundProgress(self.services.storage.inbox, key)

    async def send(self, event: ChatEvent, reply: Reply, *, key: str) -> dict[str, Any]:
        return await self._store(event.tenant, event.channel, reply, reply.thread_id)

    async def find_sent(self, event: ChatEvent, key: str, decision_id: str) -> dict[str, Any] | None:
        """The page reads the database, so the database is the platform here: look for the bot's message."""
        messages = await self.services.storage.messages.channel_messages(
            tenant_key(Platform.PLAYGROUND.value, event.tenant), event.channel, limit=500)
        for m in messages:
            if m.decision_id == decision_id:
                return {"channel": event.channel, "ts": m.external_id}
        return None

    async def update(self, reference: dict[str, Any], reader_private: bool, reply: Reply, *, expanded: bool,
                     admin: bool = False, note: str | None = None) -> None:
        return None

    async def notify(self, reference: dict[str, Any], user: str, text: str) -> None:
        """The page shows notes from the turn it waits on (the pipeline records them there)."""
        return None

    async def rules_authority(self, tenant_id: str, event: ChatEvent) -> Authority:
        """The playground is one person trying whybot out: everyone may change everything."""
        return Authority(may_change=True, who="anyone in the playground", because="everyone may, in the playground")

    async def joined(self, tenant_id: str, tenant: str, channel: str, reference: dict[str, Any]) -> None:
        return None

    async def forget(self, tenant: str, detail: dict[str, Any]) -> None:
        return None

    async def post(self, target: DeliveryTarget, reply: Reply, *, key: str) -> str:
        ref = await self._store(target.tenant, target.channel, reply, None)
        return str(ref["ts"])

    async def find_posted(self, target: DeliveryTarget, key: str) -> str | None:
        """Posting and recording happen in one database, so there is never an unknown post to find."""
        return None
