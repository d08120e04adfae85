"""What a person can ask here: the prompts offered when they open a conversation with the bot.

Generic prompts ("What can you do?") teach nothing about a workspace. These name the channel the
person is looking at and the channels they are in, so one click gives a useful answer. They are built
for their one reader (the person, in private) and pass the visibility rules like any reply: a channel
they may not see is never named, not even in a prompt.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.models import Reader
from bot.visibility import Visibility
from storage import ChannelRecord, Storage

MAX_PROMPTS = 4  # Slack shows at most four
GREETING = ("Hi! I answer from what has been said in the channels you can see, and every answer has a "
            "*Why?* that shows how I chose it.")


class Suggestion(BaseModel):
    """One prompt: a short title on the button, and the message sent when it is clicked."""

    model_config = ConfigDict(frozen=True)

    title: str = Field(max_length=75)
    message: str


class Opening(BaseModel):
    """What to show when a conversation opens: the prompts, their heading and the greeting."""

    model_config = ConfigDict(frozen=True)

    title: str
    suggestions: list[Suggestion]
    greeting: str | None = None
    viewing_channel: str | None = Field(default=None, description="the channel in view, if the person may see it")


def _theirs(reader: Reader, channels: list[ChannelRecord], tenant_id: str, but: str | None) -> list[ChannelRecord]:
    """Channels the person is in and may read, other than `but`, by name (stable, so prompts do not shuffle)."""
    visibility = Visibility(reader, tenant_id, channels)
    return sorted((c for c in channels if c.kind != "dm" and c.external_id != but and reader.user in c.member_ids
                   and visibility.may_see_channel(c.external_id)), key=lambda c: c.name)


async def opening(storage: Storage, tenant_id: str, reader: Reader, viewing: str | None, *,
                  greet: bool) -> Opening:
    """The prompts for `reader` (who reads them alone), around the channel they are viewing when they may."""
    channels = await storage.workspace.channels(tenant_id)
    here = Visibility(reader, tenant_id, channels).in_view(viewing)
    prompts: list[Suggestion] = []
    if here is not None:
        prompts += [Suggestion(title=f"Summarize #{here.name}", message=f"summarize #{here.name} last 24h"),
                    Suggestion(title=f"Digest of #{here.name}", message="digest now"),
                    Suggestion(title=f"What was decided in #{here.name}?",
                               message=f"what was decided in #{here.name} this week?")]
    for channel in _theirs(reader, channels, tenant_id, here.external_id if here else None)[:1]:
        prompts.append(Suggestion(title=f"What did I miss in #{channel.name}?",
                                  message=f"summarize #{channel.name} last 7d"))
    prompts.append(Suggestion(title="What can you do?", message="help"))
    title = f"Ask about #{here.name}, or anything you can see:" if here else "Try one of these:"
    return Opening(title=title, suggestions=list(dict.fromkeys(prompts))[:MAX_PROMPTS],
                   greeting=GREETING if greet else None, viewing_channel=here.external_id if here else None)
