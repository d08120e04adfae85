"""Reply -> HTML for the playground. Everything user-provided is escaped by bot.markup.to_html.

Like the chat platforms: collapsed, a reply shows its answer, numbered sources and Why?, 👍/👎 and at most
one follow-up; the items' reasons and per-item feedback show only once Why? is open (the page toggles
`.expanded` on the reply), and the details for admins sit in a closed <details>.
"""

from __future__ import annotations

import html

from bot.citing import numbered
from bot.markup import to_html
from bot.models import Citation, Reply
from bot.naming import channel_label, person_label
from bot.render import admin_lines, why_lines


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def _quoted(reply: Reply, c: Citation) -> bool:
    shown = " ".join(" ".join([reply.body, *(i.text for s in reply.sections for i in s.items)]).split())
    head = " ".join(c.snippet.split()[:8])
    return bool(head) and head in shown


def _citation(reply: Reply, c: Citation) -> str:
    if c.channel or c.channel_name:
        who = person_label(c.author) if c.author else ""
        where = channel_label(c.channel_name)
        label = html.escape(f"{who} in {where}" if who else where)
        linked = label + (f' · <a href="{_attr(c.permalink)}">view message</a>' if c.permalink else "")
    else:
        title = html.escape(c.title or "a document")
        linked = f'<a href="{_attr(c.permalink)}">{title}</a>' if c.permalink else title
    snippet = "" if _quoted(reply, c) or not c.snippet else f'<div class="snippet">{html.escape(c.snippet)}</div>'
    return f'<div class="citation"><span class="cite-num">[{c.number}]</span> {linked}{snippet}</div>'


def reply_html(reply: Reply) -> str:
    """The reply card: title, body, sections, citations, then Why? / 👍 / 👎 / one follow-up."""
    reply = numbered(reply)
    decision = _attr(reply.decision_id)
    parts = [f'<div class="reply" data-decision="{decision}">']
    if reply.title:
        parts.append(f'<div class="reply-title">{to_html(reply.title)}</div>')
    if reply.body:
        parts.append(f'<div class="reply-body">{to_html(reply.body)}</div>')
    for section in reply.sections:
        parts.append('<div class="reply-section">')
        if section.title:
            parts.append(f'<div class="section-title">{to_html(section.title)}</div>')
        if section.text:
            parts.append(f'<div class="section-text">{to_html(section.text)}</div>')
        if section.items:
            parts.append("<ol>")
            for item in section.items:
                cites = "".join(f'<sup class="cite-ref">[{n}]</sup>' for n in item.citation_numbers
                                if f"[{n}]" not in item.text)
                link = (f' <a class="item-link" href="{_attr(item.link)}">open thread</a>' if item.link else "")
                why = (f'<div class="item-why">{html.escape(", ".join(item.why))}</div>' if item.why else "")
                feedback = ""
                if item.item_id:
                    feedback = (f'<span class="item-feedback"><button class="fb" data-helpful="1" '
                                f'data-item="{_attr(item.item_id)}" title="Useful">👍</button>'
                                f'<button class="fb" data-helpful="0" data-item="{_attr(item.item_id)}" '
                                f'title="Not useful">👎</button></span>')
                parts.append(f"<li>{to_html(item.text)}{cites}{link}{feedback}{why}</li>")
            parts.append("</ol>")
        parts.append("</div>")
    if reply.citations:
        parts.append('<div class="citations"><div class="section-title">Sources</div>')
        parts += [_citation(reply, c) for c in reply.citations]
        parts.append("</div>")
    parts.append('<div class="actions"><button class="why" aria-expanded="false">Why?</button>')
    if reply.rationale.skill != "help":
        parts.append('<button class="fb" data-helpful="1" data-item="" title="Helpful" aria-label="Helpful">👍'
                     '</button><button class="fb" data-helpful="0" data-item="" title="Not helpful" '
                     'aria-label="Not helpful">👎</button>')
    for follow in reply.follow_ups[:1]:
        parts.append(f'<button class="follow" data-command="{_attr(follow.command)}">{html.escape(follow.label)}'
                     "</button>")
    parts.append('</div><div class="rationale" hidden></div></div>')
    return "".join(parts)


def rationale_html(reply: Reply) -> str:
    """The Why? panel: the people's lines, then the details for admins, closed."""
    lines = "".join(f"<li>{to_html(line)}</li>" for line in why_lines(reply))
    admin = "".join(f"<li>{to_html(line)}</li>" for line in admin_lines(reply))
    return (f'<ul class="rationale-lines">{lines}</ul>'
            f'<details class="admin"><summary>Details for admins</summary><ul class="admin-lines">{admin}</ul>'
            "</details>")
