"""What the core expects of a platform adapter. Adapters are found through the `whybot.adapters`
entry-point group, so the core never imports one and a new platform is a new package.

An adapter has two halves. Its HTTP side (mounted on the one aiohttp server) verifies, parses and
normalizes a delivery into a `bot.turns` turn and puts it in the inbox before acknowledging. Its
`Surface` is what a worker uses to carry a turn out on that platform: learn who and where, send,
update in place, show progress. The core owns the turn in between (bot/pipeline.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aiohttp import web
from pydantic import BaseModel, Field

from bot.models import ChatEvent, Platform, Reply
from bot.progress import Progress
from bot.rules import Authority
from bot.suggestions import Opening
from bot.turns import OpenedTurn

if TYPE_CHECKING:
    from bot.home import Home
    from bot.services import Services


class DeliveryTarget(BaseModel):
    """Where a proactive message goes: a channel, plus whatever the platform stored to reach it."""

    platform: Platform
    tenant: str
    channel: str
    reference: dict[str, object] = Field(default_factory=dict)


class PlatformUnsure(RuntimeError):
    """The platform could not say whether something happened (rate limited, down): not a "no", so the
    turn is retried later instead of acting on a guess (e.g. posting a second copy)."""


class Delivery(Protocol):
    """Posting without a request to answer (digests). `key` makes a retried post detectable."""

    platform: Platform

    async def post(self, target: DeliveryTarget, reply: Reply, *, key: str) -> str:
        """Post and return the platform's message id."""
        ...

    async def find_posted(self, target: DeliveryTarget, key: str) -> str | None:
        """The id of a message already posted under `key`; None if there is none or the platform cannot
        tell. Raises PlatformUnsure when the platform could tell but did not answer."""
        ...


class Surface(Delivery, Protocol):
    """One platform's way of carrying out a turn. Every method may raise PlatformUnsure."""

    async def learn(self, tenant_id: str, event: ChatEvent) -> ChatEvent:
        """Make sure the channel (kind, privacy, members) and the person are known before answering;
        returns the event as the platform knows it: its conversation kind, and the channel the person
        is looking at where the platform remembers it (Slack's assistant threads)."""
        ...

    async def learn_channel(self, tenant_id: str, tenant: str, channel: str, user: str | None,
                            hint: str | None) -> None:
        """The same for a history message: enough to apply the visibility rules to it later."""
        ...

    async def with_links(self, tenant: str, reply: Reply) -> Reply:
        """Fill in links the platform knows (message permalinks) before the decision is stored."""
        ...

    async def progress(self, event: ChatEvent, key: str) -> Progress:
        """How this turn's progress is shown while it is answered (status line, streamed text); a
        `bot.progress.NoProgress` where the platform shows none for this kind of conversation."""
        ...

    async def opened(self, turn: OpenedTurn, opening: Opening) -> None:
        """A conversation with the bot opened, or the channel in view changed: show `opening` there
        (suggested prompts, a greeting) and remember the channel in view, where the platform has a place
        for it. Surfaces without such a view do nothing."""
        ...

    async def send(self, event: ChatEvent, reply: Reply, *, key: str) -> dict[str, Any]:
        """Answer `event` where it was asked; returns where the reply went (stored for Why? updates)."""
        ...

    async def find_sent(self, event: ChatEvent, key: str, decision_id: str) -> dict[str, Any] | None:
        """Where a reply to `event` was already sent under `key`, if the platform can tell; None if not sent
        or the platform cannot tell. Raises PlatformUnsure when it could tell but did not answer."""
        ...

    async def update(self, reference: dict[str, Any], reader_private: bool, reply: Reply, *, expanded: bool,
                     admin: bool = False, note: str | None = None) -> None:
        """Redraw a reply in place (Why? opened or folded, feedback noted)."""
        ...

    async def notify(self, reference: dict[str, Any], user: str, text: str) -> None:
        """A short note only `user` sees (not available, thanks, why a request was not answered)."""
        ...

    async def rules_authority(self, tenant_id: str, event: ChatEvent) -> Authority:
        """Whether `event.user` may change the rules of `event.channel` (they change whybot for everyone
        there), and who may, in words. People in WHYBOT_ADMINS may everywhere (`bot.rules.admins`)."""
        ...

    async def joined(self, tenant_id: str, tenant: str, channel: str, reference: dict[str, Any]) -> None:
        """The bot was added to a channel: read what it may (history, roster)."""
        ...

    async def forget(self, tenant: str, detail: dict[str, Any]) -> None:
        """Platform-side clean-up after an uninstall (stored tokens)."""
        ...


@runtime_checkable
class HomeSurface(Protocol):
    """A platform with a per-person home (Slack's App Home). Optional: the pipeline checks for it, so a
    platform without one (Teams, the playground) implements nothing."""

    async def is_admin(self, tenant: str, user: str) -> bool:
        """Whether `user` administers the workspace (they see knowledge gaps and engagement at home)."""
        ...

    async def learn_person(self, tenant_id: str, tenant: str, user: str) -> None:
        """Make sure the person is known (their name and time zone, for the digests they set up at home)."""
        ...

    async def publish_home(self, tenant: str, user: str, home: Home) -> None:
        """Draw `home` for `user`, replacing what they saw there."""
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
    def surface(self) -> Surface: ...


class AdapterFactory(Protocol):
    def __call__(self, services: Services) -> Adapter | None:
        """An adapter, or None when the platform is not configured."""
        ...
