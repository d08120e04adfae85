"""Reply -> Adaptive Card (schema 1.5) with a `Why?` action that expands the rationale in place.

Cards are plain dicts (the Adaptive Card format is JSON; no builder library is needed for a handful
of TextBlocks). Teams renders a markdown subset in TextBlocks (bold, italic, links, lists) that is
close to ours; code spans and quote lines are the only constructs we translate. Every card is kept
under `MAX_CARD_BYTES`, a conservative budget below Teams' ~28 KB message limit, by trimming detail
in stages rather than failing to post.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from bot.citing import numbered
from bot.markup import clean_tokens, to_teams
from bot.models import Citation, Reply
from bot.naming import channel_label, person_label
from bot.render import admin_lines, notification_text, why_lines

CARD_VERSION = "1.5"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"
MAX_CARD_BYTES = 28 * 1024 - 1024  # leave room for the activity envelope around the card
WHY_TITLE = "Why?"
HIDE_TITLE = "Hide why"
ADMIN_TITLE = "Details for admins"
HELPFUL_TITLE = "👍"
UNHELPFUL_TITLE = "👎"
# Teams stretches a row of buttons to equal widths: in a 418 px bubble four get about 90 px each, enough for
# "Hide why" but not for a follow-up such as "Summarize this channel". So a row holds Why?/Hide why, 👍 and 👎;
# follow-ups and the admin toggle sit in the overflow menu (`mode: secondary`, shown as "…"), where titles
# are never cut. tests/adapters/teams/test_card_rendering.py renders every card to check this.
MAX_FOLLOW_UPS = 3
ADMIN_ID = "admin-details"

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
    """Our markdown subset as Teams TextBlock markdown (see bot.markup.to_teams)."""
    return to_teams(md)


def card_summary(reply: Reply) -> str:
    """The activity summary Teams shows in notifications: the first line of the answer."""
    return notification_text(reply)


def _clip(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


def _text(text: str, *, limit: int | None = None, suffix: str = "", **style: Any) -> Card:
    """A wrapped TextBlock of our markdown, clipped before conversion (so no link or entity is cut);
    `suffix` is Teams markdown we made ourselves (a permalink), appended after the clip."""
    return {"type": "TextBlock", "text": to_teams_markdown(_clip(text, limit)) + suffix, "wrap": True, **style}


def walk(elements: list[Card]) -> Iterator[Card]:
    """Every element of a card body, depth first (through Containers and ColumnSets)."""
    for element in elements:
        yield element
        yield from walk(element.get("items", []))
        yield from walk(element.get("columns", []))


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


def reply_card(reply: Reply, *, expanded: bool = False, note: str | None = None, feedback_buttons: bool = True,
               budget: int = MAX_CARD_BYTES) -> Card:
    """The card for `reply`; with `expanded`, the rationale is shown under the answer (and the details
    for admins behind a toggle that needs no round trip). Citations are numbered 1..n as shown.
    `feedback_buttons=False` where Teams' own feedback loop takes 👍/👎 for the whole reply (per-item 👍/👎
    of a digest stay: the loop rates a message, not an item). `budget` leaves room for what the activity
    carries besides the card (its citation entity)."""
    reply = numbered(reply)
    for detail in _STAGES:
        card = _build(reply, expanded, note, detail, feedback_buttons)
        if card_bytes(card) <= budget:
            return card
    # Pathological input (thousands of huge lines): the answer's head and the actions still fit.
    return _build(reply.model_copy(update={"sections": [], "citations": []}), expanded, note,
                  _Detail(80, 0, 0, False, False), feedback_buttons)


def _build(reply: Reply, expanded: bool, note: str | None, d: _Detail, feedback_buttons: bool) -> Card:
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
            cites = "".join(f" [{n}]" for n in item.citation_numbers if f"[{n}]" not in item.text)
            link = f" · [open thread]({item.link})" if item.link else ""
            lines = [_text(f"{item.text}{cites}", limit=d.text_limit, suffix=link)]
            if expanded and d.why_lines:
                why = _text(", ".join(item.why), limit=d.text_limit, isSubtle=True, size="Small",
                            spacing="None") if item.why else None
                feedback = (_item_feedback(reply.decision_id, item.item_id, expanded)
                            if item.item_id and reply.decision_id and len(items) <= 10 else None)
                if why and feedback:
                    lines.append(_columns([why], [feedback], spacing="None"))
                else:
                    lines.extend(e for e in (why, feedback) if e)
            body.append(_columns([_text(f"**{number}.**", isSubtle=True)], lines, first_width="auto"))
        if d.items is not None and len(section.items) > d.items:
            body.append(_text(f"+{len(section.items) - d.items} more not shown", isSubtle=True, size="Small"))
    citations = reply.citations if d.citations is None else reply.citations[: d.citations]
    if citations:
        body.append(_text("**Sources**", spacing="Medium"))
        shown = " ".join(" ".join([reply.body, *(i.text for s in reply.sections for i in s.items)]).split())
        for c in citations:
            snippet = c.snippet if c.snippet and d.snippets and " ".join(c.snippet.split()[:8]) not in shown else ""
            body.append(_text(f"[{c.number}] {_source_label(c)}" + (f" — _{snippet}_" if snippet else ""),
                              limit=d.text_limit and min(d.text_limit, 400), size="Small", spacing="None",
                              suffix=f" · [view message]({c.permalink})" if c.permalink and c.channel else ""))
    if expanded:
        body.append({"type": "Container", "id": "rationale", "style": "emphasis", "spacing": "Medium",
                     "items": [_text("**Why this answer**"),
                               *[_text(line, limit=d.text_limit and 400, size="Small", spacing="Small")
                                 for line in why_lines(reply)]]})
        body.append({"type": "Container", "id": ADMIN_ID, "isVisible": False, "spacing": "Small",
                     "items": [_text(line, limit=d.text_limit and 400, size="Small", isSubtle=True, spacing="None")
                               for line in admin_lines(reply)]})
    if note:
        body.append(_text(note, isSubtle=True, size="Small", spacing="Medium"))
    return {"type": "AdaptiveCard", "$schema": SCHEMA_URL, "version": CARD_VERSION, "body": body,
            "actions": _actions(reply, expanded, feedback_buttons)}


def _source_label(c: Citation) -> str:
    """Who said it and where, by name; a document by its title (linked: the link is ours, not a quote's)."""
    if c.channel or c.channel_name:
        who = person_label(c.author) if c.author else ""
        where = channel_label(c.channel_name)
        return f"{who} in {where}" if who else where
    title = clean_tokens(c.title or "a document").replace("[", "(").replace("]", ")")
    return f"[{title}]({c.permalink})" if c.permalink else title


def _columns(first: list[Card], second: list[Card], *, first_width: str = "stretch",
             spacing: str = "Small") -> Card:
    """Two columns; the other one takes what the first leaves. Numbered items use this for a hanging
    indent instead of markdown's "1. " lists, which renderers indent differently (the official JS renderer
    pushes them past the bubble's edge)."""
    second_width = "stretch" if first_width == "auto" else "auto"
    return {"type": "ColumnSet", "spacing": spacing, "columns": [
        {"type": "Column", "width": first_width, "items": first},
        {"type": "Column", "width": second_width, "verticalContentAlignment": "Center", "items": second}]}


def _item_feedback(decision: str, item: str, expanded: bool) -> Card:
    """Compact 👍/👎 for one ranked item (a digest thread), beside its reasons, so channel refits learn per
    item without a row of buttons under every item."""
    return {"type": "ActionSet", "spacing": "None", "actions": [
        _action(title, CardAction(whybot="feedback", decision=decision, helpful=helpful, item=item,
                                  expanded=expanded))
        for title, helpful in ((HELPFUL_TITLE, True), (UNHELPFUL_TITLE, False))]}


def _actions(reply: Reply, expanded: bool, feedback_buttons: bool = True) -> list[Card]:
    """Why? (or Hide why) and compact 👍/👎 (help carries Why? only; none where Teams' feedback loop shows
    its own); follow-ups, or expanded the "Details for admins" toggle (no round trip), in the overflow menu."""
    decision = reply.decision_id
    actions: list[Card] = []
    if decision:
        if expanded:
            actions.append(_action(HIDE_TITLE, CardAction(whybot="hide", decision=decision)))
        else:
            actions.append(_action(WHY_TITLE, CardAction(whybot="why", decision=decision)))
        if feedback_buttons and reply.rationale.skill != "help":
            actions.append(_action(HELPFUL_TITLE, CardAction(whybot="feedback", decision=decision, helpful=True,
                                                             expanded=expanded)))
            actions.append(_action(UNHELPFUL_TITLE, CardAction(whybot="feedback", decision=decision,
                                                               helpful=False, expanded=expanded)))
    if expanded:
        actions.append({"type": "Action.ToggleVisibility", "title": ADMIN_TITLE, "mode": "secondary",
                        "targetElements": [ADMIN_ID]})
        return actions
    for follow in reply.follow_ups[:MAX_FOLLOW_UPS]:
        data = CardAction(whybot="command", command=follow.command).model_dump(exclude_defaults=True)
        data["whybot"] = "command"
        actions.append({"type": "Action.Submit", "title": follow.label, "mode": "secondary", "data": data})
    return actions


def notice_card(text: str) -> Card:
    """A small card for things that are not answers (e.g. an explanation that is not available)."""
    return {"type": "AdaptiveCard", "$schema": SCHEMA_URL, "version": CARD_VERSION,
            "body": [_text(text)]}
