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

from bot.citing import numbered
from bot.markup import person, place, slack_escape, to_plain, to_slack
from bot.models import Citation, Reply, ReplyItem
from bot.naming import channel_label, person_label
from bot.render import admin_lines, notification_text, why_lines

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
ADMIN = "whybot_admin"  # re-render expanded with the details for admins (value: the decision id)
MAX_OPTION_VALUE = 150
ACTION_PREFIX = "whybot_"
ACTION_IDS = frozenset({WHY, HIDE, ADMIN, HELPFUL, UNHELPFUL, FOLLOW_UP, ITEM_FEEDBACK})

WHY_TEXT = "Why?"
HIDE_TEXT = "Hide why"
ADMIN_TEXT = "Details for admins"
HELPFUL_TEXT = "👍"
UNHELPFUL_TEXT = "👎"
MAX_FOLLOW_UPS = 1
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


def _item_line(number: int, item: ReplyItem, *, expanded: bool) -> str:
    """`1. headline [1] · open` and, expanded, its reasons in words on the next line."""
    text = f"{number}. " + to_slack(item.text)
    if item.citation_numbers and not any(f"[{n}]" in item.text for n in item.citation_numbers):
        text += " " + "".join(f"[{n}]" for n in item.citation_numbers)
    if item.link:
        text += f" · <{item.link}|open thread>"
    if item.why and expanded:
        text += "\n      _" + slack_escape(", ".join(item.why)) + "_"
    return text


def _citation_line(c: Citation, *, quoted: bool) -> str:
    """`[1] <@U…> in <#C…> · view message`; the snippet only when the answer does not quote it already."""
    if c.channel or c.channel_name or c.author_id:
        who = person(person_label(c.author), c.author_id) if c.author else ""
        where = place(channel_label(c.channel_name), c.channel)
        label = to_slack(f"{who} in {where}" if who else where)
        link = f" · <{c.permalink}|view message>" if c.permalink else ""
    else:
        title = slack_escape(c.title or "a document")
        label, link = (f"<{c.permalink}|{title}>", "") if c.permalink else (title, "")
    snippet = "" if quoted or not c.snippet else " — _" + slack_escape(c.snippet) + "_"
    return f"[{c.number}] {label}{link}{snippet}"


def quoted_in(reply: Reply, c: Citation) -> bool:
    """Whether the reply's own text already shows this source's words (so Sources need not repeat them)."""
    shown = " ".join([reply.body, *(i.text for s in reply.sections for i in s.items)])
    head = " ".join(c.snippet.split()[:8])
    return bool(head) and head in " ".join(shown.split())


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


def content_blocks(reply: Reply, *, expanded: bool = False) -> list[dict[str, Any]]:
    """The reply's text as section blocks within Slack's size limit. Ranked items (a digest's threads)
    get their reasons and a feedback menu only in the expanded view, so the collapsed reply stays short."""
    blocks: list[dict[str, Any]] = []
    if reply.body.strip():
        blocks += [section(c) for c in split_mrkdwn(to_slack(reply.body))]
    rateable = expanded and _rateable(reply)
    for sec in reply.sections:
        lines = [f"*{slack_escape(sec.title)}*"] if sec.title else []
        if sec.text.strip():
            lines.append(to_slack(sec.text))
        if not rateable:
            lines += [_item_line(n, i, expanded=expanded) for n, i in enumerate(sec.items, start=1)]
        if lines:
            blocks += [section(c) for c in split_mrkdwn("\n".join(lines))]
        if rateable:
            for n, item in enumerate(sec.items, start=1):
                block = section(_item_line(n, item, expanded=True))
                menu = item_feedback_menu(reply.decision_id, item.item_id or "")
                if menu is not None:
                    block["accessory"] = menu
                blocks.append(block)
    if reply.citations:
        lines = [_citation_line(c, quoted=quoted_in(reply, c)) for c in reply.citations]
        blocks += [section(c) for c in split_mrkdwn("*Sources*\n" + "\n".join(lines))]
    return blocks


def rationale_chunks(reply: Reply) -> list[str]:
    text = "*Why this answer*\n" + "\n".join(to_slack(line) for line in why_lines(reply))
    return split_mrkdwn(text)


def admin_block(reply: Reply) -> dict[str, Any]:
    """Details for admins, in small print (a context block: at most 10 elements)."""
    lines = admin_lines(reply)
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(to_slack(line), MAX_SECTION_TEXT)}
                                            for line in lines[:10]]}


def actions(reply: Reply, *, expanded: bool, admin: bool = False) -> dict[str, Any]:
    """Why? (or Hide why), compact 👍/👎 and at most one follow-up; help carries Why? only."""
    d = reply.decision_id
    elements = [button(HIDE_TEXT, HIDE, d) if expanded else button(WHY_TEXT, WHY, d)]
    if reply.rationale.skill != "help":
        elements += [button(HELPFUL_TEXT, HELPFUL, encode_value(d)),
                     button(UNHELPFUL_TEXT, UNHELPFUL, encode_value(d))]
    if expanded and not admin:
        elements.append(button(ADMIN_TEXT, ADMIN, d))
    for i, f in enumerate(reply.follow_ups[:MAX_FOLLOW_UPS]):
        elements.append(button(f.label, f"{FOLLOW_UP}_{i}", encode_value(d, c=f.command)))
    return {"type": "actions", "block_id": clip(f"whybot:{d}", MAX_ID, ""), "elements": elements[:MAX_ACTIONS]}


def fallback_text(reply: Reply) -> str:
    """Notification and screen-reader text: the first line of the answer (not the echoed question),
    escaped like every other text field, so a question's `<!channel>` never pings anyone."""
    return clip(slack_escape(notification_text(reply)), MAX_FALLBACK_TEXT)


def render_reply(reply: Reply, *, expanded: bool = False, more_url: str | None = None,
                 admin: bool = False) -> Rendered:
    """The message for `reply`, collapsed (Why?) or expanded (rationale + Hide why, and with `admin` the
    details for admins), within Block Kit limits. Citations are numbered 1..n as shown."""
    reply = numbered(reply)
    head: list[dict[str, Any]] = []
    if reply.title:
        head.append({"type": "header", "text": {"type": "plain_text", "text": clip(to_plain(reply.title),
                                                                                   MAX_HEADER_TEXT),
                                                "emoji": True}})
    tail: list[dict[str, Any]] = []
    if expanded:
        tail.append({"type": "divider"})
        tail += [section(c) for c in rationale_chunks(reply)[:4]]
        if admin:
            tail.append(admin_block(reply))
    tail.append(actions(reply, expanded=expanded, admin=admin))
    content = content_blocks(reply, expanded=expanded)
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
