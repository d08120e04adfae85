"""Reply -> Block Kit. Every message carries a `Why?` button; expanded, it shows the compact rationale.

Slack rejects a message that breaks a Block Kit limit, so everything here is cut to fit: text is
split at line or word boundaries (never inside a `<link|label>`), and what does not fit in one
message is returned as `overflow` for the caller to post as continuation messages, linked from a
short note at the end of the first one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.markup import slack_escape, to_plain, to_slack
from bot.models import Citation, Reply, ReplyItem
from bot.render import compact_lines

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID = 255
MAX_ACTIONS = 25
MAX_FALLBACK_TEXT = 3000

WHY = "whybot_why"
HIDE = "whybot_hide"
HELPFUL = "whybot_helpful"
UNHELPFUL = "whybot_unhelpful"
FOLLOW_UP = "whybot_follow_up"
ITEM_FEEDBACK = "whybot_item_feedback"
MAX_OPTION_VALUE = 150
ACTION_PREFIX = "whybot_"
ACTION_IDS = frozenset({WHY, HIDE, HELPFUL, UNHELPFUL, FOLLOW_UP, ITEM_FEEDBACK})

WHY_TEXT = "Why?"
HIDE_TEXT = "Hide why"
NOT_AVAILABLE = ("That explanation is not available: it may have expired, belong to another workspace, "
                 "or be about something you cannot see.")


@dataclass
class Rendered:
    blocks: list[dict[str, Any]]
    text: str
    overflow: list[str] = field(default_factory=list)


def clip(text: str, limit: int, ellipsis: str = "…") -> str:
    return text if len(text) <= limit else text[: max(0, limit - len(ellipsis))] + ellipsis


def _safe_cut(text: str, limit: int) -> int:
    """The largest cut point <= limit that is not inside a `<...>` link or an `&amp;` entity."""
    cut = limit
    opened = text.rfind("<", 0, cut)
    if opened != -1 and text.rfind(">", 0, cut) < opened and opened > 0:
        cut = opened
    amp = text.rfind("&", max(0, cut - 6), cut)
    if amp != -1 and ";" not in text[amp:cut]:
        cut = amp if amp > 0 else cut
    return cut


def split_mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Chunks of at most `limit` characters, cut at a newline, else a space, else anywhere safe."""
    chunks: list[str] = []
    rest = text.strip("\n")
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = window.rfind("\n")
        if cut < limit // 3:
            cut = window.rfind(" ")
        if cut < limit // 3:
            cut = limit
        cut = _safe_cut(rest, cut)
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": clip(text, MAX_BUTTON_TEXT),
                                                     "emoji": True},
                         "action_id": clip(action_id, MAX_ID, ""), "value": clip(value, MAX_BUTTON_VALUE, "")}
    if style:
        b["style"] = style
    return b


def section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(mrkdwn, MAX_SECTION_TEXT)}}


def encode_value(decision_id: str, **extra: str) -> str:
    """Button values carry the decision id (and an item or command); compact JSON within 2,000 chars."""
    payload = {"d": decision_id, **{k: v for k, v in extra.items() if v}}
    raw = json.dumps(payload, separators=(",", ":"))
    if len(raw) <= MAX_BUTTON_VALUE:
        return raw
    budget = MAX_BUTTON_VALUE - len(json.dumps({"d": decision_id}, separators=(",", ":"))) - 20
    trimmed = {k: v[: max(0, budget // max(1, len(extra)))] for k, v in extra.items() if v}
    return json.dumps({"d": decision_id, **trimmed}, separators=(",", ":"))[:MAX_BUTTON_VALUE]


def decode_value(value: str | None) -> dict[str, str]:
    """The fields of a button value; {} for anything that is not ours (never raises)."""
    try:
        data = json.loads(value or "")
    except ValueError:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("d"), str):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}


def _item_line(item: ReplyItem) -> str:
    text = to_slack(item.text)
    if item.link:
        text += f" <{item.link}|open>"
    if item.why:
        text += "\n    _" + slack_escape("; ".join(item.why)) + "_"
    return "• " + text


def _citation_line(c: Citation) -> str:
    label = slack_escape(c.title or c.snippet[:60] or c.source_id)
    where = f"<#{c.channel}>" if c.channel else ""
    body = f"<{c.permalink}|{label}>" if c.permalink else label
    return f"[{c.number}] {body} {where}".rstrip()


def _rateable(reply: Reply) -> bool:
    """Digest-style replies (a few ranked items with ids) get a feedback menu on every item."""
    items = [i for sec in reply.sections for i in sec.items]
    return bool(items) and len(items) <= 10 and all(i.item_id for i in items)


def item_feedback_menu(decision_id: str, item_id: str) -> dict[str, Any] | None:
    """An overflow menu (Useful / Not useful) for one item; None if its ids do not fit an option value."""
    options = []
    for label, helpful in (("Useful", "1"), ("Not useful", "0")):
        value = json.dumps({"d": decision_id, "i": item_id, "h": helpful}, separators=(",", ":"))
        if len(value) > MAX_OPTION_VALUE:
            return None
        options.append({"text": {"type": "plain_text", "text": label}, "value": value})
    return {"type": "overflow", "action_id": ITEM_FEEDBACK, "options": options}


def content_blocks(reply: Reply) -> list[dict[str, Any]]:
    """The reply's text as section blocks, each within Slack's size limit; ranked items with ids get a
    block each with a feedback menu, so people can say which items were worth their time."""
    blocks: list[dict[str, Any]] = []
    if reply.body.strip():
        blocks += [section(c) for c in split_mrkdwn(to_slack(reply.body))]
    rateable = _rateable(reply)
    for sec in reply.sections:
        lines = [f"*{slack_escape(sec.title)}*"] if sec.title else []
        if sec.text.strip():
            lines.append(to_slack(sec.text))
        if not rateable:
            lines += [_item_line(i) for i in sec.items]
        if lines:
            blocks += [section(c) for c in split_mrkdwn("\n".join(lines))]
        if rateable:
            for item in sec.items:
                block = section(_item_line(item))
                menu = item_feedback_menu(reply.decision_id, item.item_id or "")
                if menu is not None:
                    block["accessory"] = menu
                blocks.append(block)
    if reply.citations:
        blocks += [section(c) for c in
                   split_mrkdwn("*Sources*\n" + "\n".join(_citation_line(c) for c in reply.citations))]
    return blocks


def rationale_chunks(reply: Reply) -> list[str]:
    text = "*Why this answer*\n" + "\n".join(to_slack(line) for line in compact_lines(reply.rationale))
    return split_mrkdwn(text)


def actions(reply: Reply, *, expanded: bool) -> dict[str, Any]:
    d = reply.decision_id
    elements = [button(HIDE_TEXT, HIDE, d) if expanded else button(WHY_TEXT, WHY, d),
                button("👍 Helpful", HELPFUL, encode_value(d)),
                button("👎 Not helpful", UNHELPFUL, encode_value(d))]
    for i, f in enumerate(reply.follow_ups[:3]):
        elements.append(button(f.label, f"{FOLLOW_UP}_{i}", encode_value(d, c=f.command)))
    return {"type": "actions", "block_id": clip(f"whybot:{d}", MAX_ID, ""), "elements": elements[:MAX_ACTIONS]}


def fallback_text(reply: Reply) -> str:
    """Notification and screen-reader text: title, else the start of the body."""
    text = reply.title or to_plain(reply.body) or "whybot"
    return clip(text, MAX_FALLBACK_TEXT)


def render_reply(reply: Reply, *, expanded: bool = False, more_url: str | None = None) -> Rendered:
    """The message for `reply`, collapsed (Why?) or expanded (rationale + Hide why), within Block Kit limits."""
    head: list[dict[str, Any]] = []
    if reply.title:
        head.append({"type": "header", "text": {"type": "plain_text", "text": clip(to_plain(reply.title),
                                                                                   MAX_HEADER_TEXT),
                                                "emoji": True}})
    tail: list[dict[str, Any]] = []
    if expanded:
        tail.append({"type": "divider"})
        tail += [section(c) for c in rationale_chunks(reply)[:4]]
    tail.append(actions(reply, expanded=expanded))
    content = content_blocks(reply)
    budget = MAX_BLOCKS - len(head) - len(tail)
    overflow: list[str] = []
    if len(content) > budget:
        keep = budget - 1
        overflow = [b["text"]["text"] for b in content[keep:]]
        content = content[:keep]
    blocks = head + content
    if overflow:
        note = f"_…{len(overflow)} more part(s) did not fit in one Slack message_"
        note += f" <{more_url}|read the rest>" if more_url else ""
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(note, MAX_SECTION_TEXT)}]})
    blocks += tail
    return Rendered(blocks=blocks, text=fallback_text(reply), overflow=overflow)


def continuation(chunks: list[str], part: int) -> Rendered:
    """One continuation message for overflow chunks (no buttons: the first message carries them)."""
    blocks = [section(c) for c in chunks[:MAX_BLOCKS]]
    return Rendered(blocks=blocks, text=f"(continued, part {part})")


def notice(text: str) -> Rendered:
    """A short ephemeral note, e.g. not available, thanks for the feedback."""
    return Rendered(blocks=[section(slack_escape(text))], text=clip(text, MAX_FALLBACK_TEXT))
