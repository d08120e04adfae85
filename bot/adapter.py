"""What the core expects of a platform adapter. Adapters are found through the `whybot.adapters`
entry-point group, so the core never imports one and a new platform is a new package."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from pydantic import BaseModel, Field

from bot.models import Platform, Reply

if TYPE_CHECKING:
    from bot.services import Services


class DeliveryTarget(BaseModel):
    """Where a proactive message goes: a channel, plus whatever the platform stored to reach it."""

    platform: Platform
    tenant: str
    channel: str
    reference: dict[str, object] = Field(default_factory=dict)


class Delivery(Protocol):
    """Posting without a request to answer (digests). `key` makes a retried post detectable."""

    platform: Platform

    async def post(self, target: DeliveryTarget, reply: Reply, *, key: str) -> str:
        """Post and return the platform's message id."""
        ...

    async def find_posted(self, target: DeliveryTarget, key: str) -> str | None:
        """The id of a message already posted under `key`, if the platform can tell."""
        ...


class Adapter(Protocol):
    name: str

    def mount(self, app: web.Application) -> None:
        """Add this adapter's routes to the one aiohttp server."""
        ...

    async def start(self) -> None:
        """Begin background work (e.g. Socket Mode); called once the server is up."""
        ...

    async def stop(self) -> None: ...

    @property
    def delivery(self) -> Delivery | None: ...


class AdapterFactory(Protocol):
    def __call__(self, services: Services) -> Adapter | None:
        """An adapter, or None when the platform is not configured."""
        ...
