"""The plain text of a Slack message, wherever Slack put it.

App notifications and forwarded messages often carry an empty `text` and say everything in
`attachments` (pretext, title, text, fields, fallback) or in `blocks` (rich_text, section, header,
context). Live events (adapters/slack/normalize.py) and exports (slack_export.py) both store this
rendering, so a message reads the same however it arrived. Untrusted shapes are skipped, not trusted:
anything that is not the expected dict/list/str is ignored, and nesting is walked to a fixed depth.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 12
MAX_CHARS = 40_000


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def attachment_text(attachment: Any) -> str:
    """Author, pretext, title, text, fields and footer of one attachment. When it has no content of its own
    (a forwarded message), its `fallback`, else the blocks of the message it shares."""
    if not isinstance(attachment, dict):
        return ""
    content = [_str(attachment.get(key)) for key in ("pretext", "title", "text")]
    for field in _list(attachment.get("fields")):
        if isinstance(field, dict) and (value := _str(field.get("value"))):
            title = _str(field.get("title"))
            content.append(f"{title}: {value}" if title else value)
    if not any(content):
        content = [_str(attachment.get("fallback"))]
    if not any(content):
        for shared in _list(attachment.get("message_blocks")):
            inner = shared.get("message") if isinstance(shared, dict) else None
            if isinstance(inner, dict):
                content.append(blocks_text(_list(inner.get("blocks"))))
    if not any(content):
        return ""
    parts = [_str(attachment.get("author_name")), *content, _str(attachment.get("footer"))]
    return "\n".join(dict.fromkeys(p for p in parts if p))


def _rich(element: Any, depth: int) -> Iterator[str]:
    """Text of a rich_text element tree: text, links, mentions, emoji, dates; lists become lines."""
    if depth > MAX_DEPTH or not isinstance(element, dict):
        return
    kind = element.get("type")
    if kind == "text":
        text = element.get("text")
        yield text if isinstance(text, str) else ""
    elif kind == "link":
        yield _str(element.get("text")) or _str(element.get("url"))
    elif kind == "user" and (user := _str(element.get("user_id"))):
        yield f"<@{user}>"
    elif kind == "channel" and (channel := _str(element.get("channel_id"))):
        yield f"<#{channel}>"
    elif kind == "emoji" and (name := _str(element.get("name"))):
        yield f":{name}:"
    elif kind == "date":
        yield _str(element.get("fallback"))
    elif kind == "broadcast" and (scope := _str(element.get("range"))):
        yield f"@{scope}"
    else:
        for child in _list(element.get("elements")):
            yield from _rich(child, depth + 1)
            if isinstance(child, dict) and str(child.get("type", "")).startswith("rich_text_"):
                yield "\n"  # sections, list items, quotes and code are lines of their own


def _block(block: Any) -> str:
    if not isinstance(block, dict):
        return ""
    kind = block.get("type")
    if kind == "rich_text":
        return "".join(_rich(block, 0))
    if kind in ("section", "header"):
        text = block.get("text")
        parts = [_str(text.get("text")) if isinstance(text, dict) else ""]
        parts += [_str(f.get("text")) for f in _list(block.get("fields")) if isinstance(f, dict)]
        return "\n".join(p for p in parts if p)
    if kind == "context":
        return " ".join(_str(e.get("text")) for e in _list(block.get("elements")) if isinstance(e, dict)
                        and _str(e.get("text")))
    return ""


def blocks_text(blocks: list[Any]) -> str:
    lines = [line.strip() for b in blocks for line in _block(b).split("\n")]
    return "\n".join(line for line in lines if line)


def message_text(message: dict[str, Any]) -> str:
    """`text`, else the blocks' text; plus any attachment text the message itself does not already say."""
    text = _str(message.get("text")) or blocks_text(_list(message.get("blocks")))
    extra = [t for a in _list(message.get("attachments")) if (t := attachment_text(a)) and t not in text]
    combined = "\n".join(p for p in (text, *extra) if p)
    return combined.replace("\x00", "")[:MAX_CHARS]
