"""Finding a channel named in a request: Slack's <#C123|name>, Teams' or the playground's #name."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SLACK_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]*))?>")
_HASH_NAME = re.compile(r"(?<![\w&])#([\w][\w\-.]{0,79})")


@dataclass(frozen=True, slots=True)
class ChannelRef:
    external_id: str | None
    name: str | None


def find_channel_ref(text: str) -> tuple[ChannelRef | None, str]:
    """The first channel reference in `text`, and the text without it."""
    match = _SLACK_CHANNEL.search(text)
    if match:
        return ChannelRef(match.group(1), match.group(2) or None), (text[:match.start()] + text[match.end():]).strip()
    match = _HASH_NAME.search(text)
    if match:
        return ChannelRef(None, match.group(1)), (text[:match.start()] + text[match.end():]).strip()
    return None, text
