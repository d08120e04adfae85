"""What Teams shows around an answer besides the card: the "AI generated" label, native citations, the
👍/👎 feedback loop, and the markers of a streamed message.

Wire format (learn.microsoft.com/microsoftteams/platform/bots/how-to/bot-messages-ai-generated-content and
bots/streaming-ux):
- one root entity `{"type": "https://schema.org/Message", "@type": "Message", "@context": "https://schema.org",
  "@id": "", "additionalType": ["AIGeneratedContent"], "citation": [Claim…]}`; a second root entity, more
  than 20 citations or an empty appearance is a 400. A Claim is `{"@type": "Claim", "position": n,
  "appearance": {"@type": "DigitalDocument", "name" (≤ 80), "url", "abstract" (≤ 160)}}`; `position` is the
  `[n]` the text shows, so claims are built from the reply as the card numbers it (`bot.citing.numbered`);
- `channelData.feedbackLoopEnabled: true` turns on Teams' own 👍/👎 (the service refuses it together with the
  newer `feedbackLoop: {"type": …}`, so only the flag is sent); the click arrives as a `message/submitAction`
  invoke (adapters/teams/normalize.py);
- a `streaminfo` entity (`streamId`, `streamType` informative | streaming | final, `streamSequence` from 1,
  absent on the final message) marks each update of a streamed message (adapters/teams/progress.py).

botbuilder serializes activities with msrest, which writes only the attributes a model declares (a plain
`Entity` keeps nothing but `type`), so these are msrest models like botbuilder's own `Mention`.
"""

from __future__ import annotations

from typing import Any, Literal

from botbuilder.schema import Entity
from msrest.serialization import Model

from bot.citing import numbered
from bot.markup import to_plain
from bot.models import Citation, Reply
from bot.naming import channel_label, person_label
from bot.text import shorten

SCHEMA_MESSAGE = "https://schema.org/Message"
AI_GENERATED = "AIGeneratedContent"
STREAM_INFO = "streaminfo"
MAX_CITATIONS = 20  # Teams answers 400 to more
NAME_LIMIT = 80
ABSTRACT_LIMIT = 160
StreamType = Literal["informative", "streaming", "final"]


class DigitalDocument(Model):
    """How a cited source appears in the citation pop-up."""

    _attribute_map = {  # noqa: RUF012  (msrest reads it per class)
        "kind": {"key": "@type", "type": "str"},
        "name": {"key": "name", "type": "str"},
        "url": {"key": "url", "type": "str"},
        "abstract": {"key": "abstract", "type": "str"},
    }

    def __init__(self, *, name: str, abstract: str, url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = "DigitalDocument"
        self.name = name
        self.url = url
        self.abstract = abstract


class Claim(Model):
    """One `[n]` of the text and the source behind it."""

    _attribute_map = {  # noqa: RUF012  (msrest reads it per class)
        "kind": {"key": "@type", "type": "str"},
        "position": {"key": "position", "type": "int"},
        "appearance": {"key": "appearance", "type": "DigitalDocument"},
    }

    def __init__(self, *, position: int, appearance: DigitalDocument, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = "Claim"
        self.position = position
        self.appearance = appearance


class MessageEntity(Entity):
    """The root schema.org Message entity: the AI label and the citations."""

    _attribute_map = {  # noqa: RUF012  (msrest reads it per class)
        "type": {"key": "type", "type": "str"},
        "kind": {"key": "@type", "type": "str"},
        "context": {"key": "@context", "type": "str"},
        "id_": {"key": "@id", "type": "str"},
        "additional_type": {"key": "additionalType", "type": "[str]"},
        "citation": {"key": "citation", "type": "[Claim]"},
    }

    def __init__(self, *, ai_generated: bool, citation: list[Claim] | None = None, **kwargs: Any) -> None:
        super().__init__(type=SCHEMA_MESSAGE, **kwargs)
        self.kind = "Message"
        self.context = "https://schema.org"
        self.id_ = ""  # must be present and empty
        self.additional_type = [AI_GENERATED] if ai_generated else None
        self.citation = citation or None


class StreamInfo(Entity):
    """Marks an activity as one update of a streamed message."""

    _attribute_map = {  # noqa: RUF012  (msrest reads it per class)
        "type": {"key": "type", "type": "str"},
        "stream_id": {"key": "streamId", "type": "str"},
        "stream_type": {"key": "streamType", "type": "str"},
        "stream_sequence": {"key": "streamSequence", "type": "int"},
    }

    def __init__(self, *, stream_type: StreamType, stream_id: str | None = None,
                 stream_sequence: int | None = None, **kwargs: Any) -> None:
        super().__init__(type=STREAM_INFO, **kwargs)
        self.stream_id = stream_id
        self.stream_type = stream_type
        self.stream_sequence = stream_sequence


def stream_channel_data(stream_type: StreamType, stream_id: str | None, sequence: int | None) -> dict[str, Any]:
    """The same markers in channelData, where Teams' own SDKs also put them."""
    data: dict[str, Any] = {"streamType": stream_type}
    if stream_id:
        data["streamId"] = stream_id
    if sequence is not None:
        data["streamSequence"] = sequence
    return data


def ai_generated(reply: Reply) -> bool:
    """Whether the label belongs on this reply. Help is text we wrote, so never. A digest is people's own
    messages picked by a scorer, so only when a model wrote its headlines. Every other answer (ask,
    summarize, people) is whybot speaking: even the extractive generator chooses, cuts and frames what
    it quotes, and Teams' label says what matters here: machine-made, may be wrong."""
    skill = reply.rationale.skill
    if skill == "help":
        return False
    if skill == "digest":
        return reply.rationale.generator.kind == "llm"
    return True


def feedback_loop(reply: Reply) -> bool:
    """Answers and digests take 👍/👎; help does not (as with our own buttons)."""
    return bool(reply.decision_id) and reply.rationale.skill != "help"


def _name(c: Citation) -> str:
    if c.channel or c.channel_name:
        who = person_label(c.author) if c.author else ""
        where = channel_label(c.channel_name)
        name = f"{who} in {where}" if who else where
    else:
        name = c.title or "a document"
    return shorten(to_plain(name), NAME_LIMIT)


def claim(c: Citation) -> Claim:
    name = _name(c)
    abstract = shorten(to_plain(c.snippet), ABSTRACT_LIMIT) if c.snippet.strip() else name
    url = c.permalink if c.permalink and c.permalink.startswith(("https://", "http://")) else None
    return Claim(position=c.number, appearance=DigitalDocument(name=name, url=url, abstract=abstract))


def message_entity(reply: Reply) -> MessageEntity | None:
    """The root entity for `reply` (already trimmed for its readers), or None when it carries neither the
    label nor a citation. Claims use the numbers the card shows."""
    claims = [claim(c) for c in numbered(reply).citations[:MAX_CITATIONS]]
    label = ai_generated(reply)
    if not label and not claims:
        return None
    return MessageEntity(ai_generated=label, citation=claims)


def answer_channel_data(reply: Reply) -> dict[str, Any]:
    return {"feedbackLoopEnabled": True} if feedback_loop(reply) else {}
