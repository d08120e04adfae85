"""Reply -> Adaptive Card (schema 1.5) with a `Why?` action that expands the rationale in place.

Cards are plain dicts (the Adaptive Card format is JSON; no builder library is needed for a handful
of TextBlocks). Teams renders a markdown subset in TextBlocks (bold, italic, links, lists) that is
close to ours; code spans and quote lines are the only constructs we translate. Every card is kept
under `MAX_CARD_BYTES`, a conservative budget below Teams' ~28 KB message limit, by trimming detail
in stages rather than failing to post.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from bot.models import Reply
from bot.render import compact_lines

CARD_VERSION = "1.5"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"
MAX_CARD_BYTES = 28 * 1024 - 1024  # leave room for the activity envelope around the card
WHY_TITLE = "Why?"
HIDE_TITLE = "Hide why"
MAX_FOLLOW_UPS = 3

_CODE = re.compile(r"`([^`\n]+)`")

Card = dict[str, Any]


class CardAction(BaseModel):
    """The `data` our card actions carry (Action.Execute and its Action.Submit fallback alike)."""

    whybot: Literal["why", "hide", "feedback", "command"]
    decision: str = ""
    helpful: bool | None = None
    command: str = ""
    expanded: bool = False
    item: str = ""


def parse_action(data: object) -> CardAction | None:
    """Our action payload, or None when the data is not ours or malformed."""
    if not isinstance(data, dict) or "whybot" not in data:
        return None
    try:
        return CardAction.model_validate(data)
    except ValidationError:
        return None


def to_teams_markdown(md: str) -> str:
    """Our markdown subset as Teams TextBlock markdown: code spans become plain, quotes italic."""
    lines = []
    for line in md.split("\n"):
        line = _CODE.sub(r"\1", line)
        if line.startswith("> ") and line[2:].strip():
            line = f"_{line[2:].strip()}_"
        lines.append(line)
    return "\n\n".join(lines)  # a single newline is not a line break in Teams markdown


def _clip(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


def _text(text: str, *, limit: int | None = None, **style: Any) -> Card:
    return {"type": "TextBlock", "text": _clip(to_teams_markdown(text), limit), "wrap": True, **style}


def _action(title: str, data: CardAction) -> Card:
    """Action.Execute (Universal Actions: Teams answers in place) falling back to Action.Submit
    on hosts that predate it (older Emulators), so the click still reaches the bot."""
    payload = data.model_dump(exclude_defaults=True)
    payload["whybot"] = data.whybot
    return {"type": "Action.Execute", "title": title, "verb": f"whybot.{data.whybot}", "data": payload,
            "fallback": {"type": "Action.Submit", "title": title, "data": payload}}


@dataclass(frozen=True)
class _Detail:
    """How much of a reply fits: each stage of trimming is a smaller one of these."""

    text_limit: int | None
    items: int | None
    citations: int | None
    snippets: bool
    why_lines: bool


_STAGES = (
    _Detail(None, None, None, True, True),
    _Detail(1500, 10, 10, True, True),
    _Detail(600, 8, 6, False, True),
    _Detail(300, 5, 3, False, False),
    _Detail(160, 3, 0, False, False),
)


def card_bytes(card: Card) -> int:
    return len(json.dumps(card, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def reply_card(reply: Reply, *, expanded: bool = False, note: str | None = None) -> Card:
    """The card for `reply`; with `expanded`, the rationale is shown under the answer."""
    for detail in _STAGES:
        card = _build(reply, expanded, note, detail)
        if card_bytes(card) <= MAX_CARD_BYTES:
            return card
    # Pathological input (thousands of huge lines): the answer's head and the actions still fit.
    return _build(reply.model_copy(update={"sections": [], "citations": []}), expanded, note,
                  _Detail(80, 0, 0, False, False))


def _build(reply: Reply, expanded: bool, note: str | None, d: _Detail) -> Card:
    body: list[Card] = []
    if reply.title:
        body.append(_text(reply.title, limit=d.text_limit and 200, weight="Bolder", size="Medium"))
    if reply.body:
        body.append(_text(reply.body, limit=d.text_limit and d.text_limit * 4))
    for section in reply.sections:
        if section.title:
            body.append(_text(section.title, limit=200, weight="Bolder", spacing="Medium"))
        if section.text:
            body.append(_text(section.text, limit=d.text_limit))
        items = section.items if d.items is None else section.items[: d.items]
        for number, item in enumerate(items, start=1):
            link = f" [open]({item.link})" if item.link else ""
            body.append(_text(f"{number}. {item.text}{link}", limit=d.text_limit, spacing="Small"))
            if item.why and d.why_lines:
                body.append(_text(" · ".join(item.why), limit=d.text_limit, isSubtle=True, size="Small",
                                  spacing="None"))
            if item.item_id and reply.decision_id and d.why_lines and len(items) <= 10:
                body.append(_item_feedback(reply.decision_id, item.item_id, expanded))
        if d.items is not None and len(section.items) > d.items:
            body.append(_text(f"+{len(section.items) - d.items} more not shown", isSubtle=True, size="Small"))
    citations = reply.citations if d.citations is None else reply.citations[: d.citations]
    if citations:
        body.append(_text("**Sources**", spacing="Medium"))
        for c in citations:
            label = c.title or c.source_id
            head = f"[{c.number}] " + (f"[{label}]({c.permalink})" if c.permalink else label)
            snippet = f" — {c.snippet}" if c.snippet and d.snippets else ""
            body.append(_text(head + snippet, limit=d.text_limit and min(d.text_limit, 400), size="Small",
                              spacing="None"))
    if expanded:
        lines = compact_lines(reply.rationale)
        body.append({"type": "Container", "id": "rationale", "style": "emphasis", "spacing": "Medium",
                     "items": [_text("**Why this answer**"),
                               *[_text(line, limit=d.text_limit and 400, size="Small", spacing="Small")
                                 for line in lines]]})
    if note:
        body.append(_text(note, isSubtle=True, size="Small", spacing="Medium"))
    return {"type": "AdaptiveCard", "$schema": SCHEMA_URL, "version": CARD_VERSION, "body": body,
            "actions": _actions(reply, expanded)}


def _item_feedback(decision: str, item: str, expanded: bool) -> Card:
    """Useful / Not useful for one ranked item (a digest thread), so channel refits learn per item."""
    return {"type": "ActionSet", "spacing": "None", "actions": [
        _action(title, CardAction(whybot="feedback", decision=decision, helpful=helpful, item=item,
                                  expanded=expanded))
        for title, helpful in (("Useful", True), ("Not useful", False))]}


def _actions(reply: Reply, expanded: bool) -> list[Card]:
    decision = reply.decision_id
    actions: list[Card] = []
    if decision:
        if expanded:
            actions.append(_action(HIDE_TITLE, CardAction(whybot="hide", decision=decision)))
        else:
            actions.append(_action(WHY_TITLE, CardAction(whybot="why", decision=decision)))
        actions.append(_action("Helpful", CardAction(whybot="feedback", decision=decision, helpful=True,
                                                     expanded=expanded)))
        actions.append(_action("Not helpful", CardAction(whybot="feedback", decision=decision, helpful=False,
                                                         expanded=expanded)))
    for follow in reply.follow_ups[:MAX_FOLLOW_UPS]:
        data = CardAction(whybot="command", command=follow.command).model_dump(exclude_defaults=True)
        data["whybot"] = "command"
        actions.append({"type": "Action.Submit", "title": _clip(follow.label, 40), "data": data})
    return actions


def notice_card(text: str) -> Card:
    """A small card for things that are not answers (e.g. an explanation that is not available)."""
    return {"type": "AdaptiveCard", "$schema": SCHEMA_URL, "version": CARD_VERSION,
            "body": [_text(text)]}
