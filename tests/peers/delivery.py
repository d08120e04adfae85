"""A chat platform's posting side, as a Delivery: it keeps what was posted and can be told to fail
or to stall after the post went through (a replica killed between posting and recording)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.adapter import DeliveryTarget
from bot.models import Platform, Reply


@dataclass
class Posted:
    message_id: str
    target: DeliveryTarget
    reply: Reply
    key: str


@dataclass
class RecordingDelivery:
    """Implements bot.adapter.Delivery; one instance can be shared by several schedulers, like the
    one real workspace several replicas post into."""

    platform: Platform = Platform.SLACK
    posts: list[Posted] = field(default_factory=list)
    fail_next: int = 0
    stall_after_post: bool = False
    posted_event: asyncio.Event = field(default_factory=asyncio.Event)
    lookups: int = 0

    async def post(self, target: DeliveryTarget, reply: Reply, *, key: str) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("platform unavailable")
        message_id = f"m{len(self.posts) + 1}"
        self.posts.append(Posted(message_id, target, reply, key))
        self.posted_event.set()
        if self.stall_after_post:
            await asyncio.Event().wait()  # the process dies here: the caller never learns the id
        return message_id

    async def find_posted(self, target: DeliveryTarget, key: str) -> str | None:
        self.lookups += 1
        return next((p.message_id for p in self.posts if p.key == key and p.target.channel == target.channel), None)

    def keys(self) -> list[str]:
        return [p.key for p in self.posts]
