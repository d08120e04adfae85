"""Names for people, never ids: what a reply calls a person or a channel when only an id is stored.

Slack and Teams hand us ids first and names later (or never, for people known only from backfilled
history); "UCAROL" or "#19:d441…@thread.tacv2" in a reply reads as a bug, so anything that looks like a
platform id is replaced by a neutral word.
"""

from __future__ import annotations

import re

# Slack users/channels (U…, W…, C…, G…, D…), Teams conversations and users (19:…, 29:…, a:…, 8:orgid:…),
# Bot Framework personal chats, and bare GUIDs.
_ID = re.compile(
    r"^(?:[UWCGDB][A-Z0-9]{3,}|\d{1,2}:.+|a:.+|8:[a-z]+:.+|"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")

THIS_CHAT = "this chat"
SOMEONE = "someone"


def looks_like_id(value: str) -> bool:
    value = value.strip().lstrip("#@")
    return bool(_ID.match(value)) or "@thread" in value or ";messageid=" in value


def channel_label(name: str | None, fallback: str = THIS_CHAT) -> str:
    """'#engineering', or the neutral word when the stored name is missing or an id."""
    name = (name or "").strip().lstrip("#")
    return f"#{name}" if name and not looks_like_id(name) else fallback


def person_label(name: str | None, fallback: str = SOMEONE) -> str:
    name = (name or "").strip().lstrip("@")
    return name if name and not looks_like_id(name) else fallback
